"""The judging page: its API (TestClient) and the page in a real browser, desktop and a 390x844 touch phone.

Each test gets its own study (judgements are state). The browser tests record every answer the page receives
and check that none of them could tell a judge which method is which.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers.chromium import CHROMIUM, LAUNCH_ARGS
from helpers.server import BackgroundServer
from helpers.study import METHODS, tiny_study
from helpers.web import local
from playwright import sync_api

from gmcnn.evaluation.study import Study, read_judgements
from gmcnn.web.study_app import create_study_app

expect = sync_api.expect


@pytest.fixture()
def study(tmp_path: Path) -> Study:
    return tiny_study(tmp_path, num=4, cases=4)


@pytest.fixture()
def client(study: Study) -> Iterator[TestClient]:
    with local(create_study_app(study.root)) as c:
        yield c


def _lines(study: Study, judge: str) -> list[dict[str, Any]]:
    path = study.root / "judgements" / f"{judge}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_api_records_undoes_and_resumes(client: TestClient, study: Study) -> None:
    info = client.get("/api/v1/study").json()
    assert info["pairs"] == ["0000", "0001", "0002", "0003"]
    assert info["layout"]["panel_width"] == 64 and info["layout"]["panel_height"] == 64
    assert info["confidence"] == {"1": "slight", "2": "clear", "3": "obvious"}
    assert client.get("/api/v1/judges/ana").json() == {"judged": [], "next": "0000", "done": 0, "total": 4}
    r = client.post("/api/v1/judges/ana/judgements", json={"pair": "0000", "choice": "right", "confidence": 3,
                                                           "seconds": 2.5})  # fmt: skip
    assert r.status_code == 200 and r.json()["next"] == "0001" and r.json()["done"] == 1
    line = _lines(study, "ana")[0]
    assert (line["pair"], line["choice"], line["confidence"], line["seconds"]) == ("0000", "right", 3, 2.5)
    again = client.post("/api/v1/judges/ana/judgements", json={"pair": "0000", "choice": "left", "confidence": 1})
    assert again.status_code == 409 and "judged already" in again.json()["error"]
    # A second server on the same folder continues where the first stopped.
    with local(create_study_app(study.root)) as other:
        assert other.get("/api/v1/judges/ana").json()["next"] == "0001"
        undone = other.post("/api/v1/judges/ana/undo").json()
    assert undone["undone"] == "0000" and undone["next"] == "0000" and undone["done"] == 0
    assert (study.root / "judgements" / "ana.jsonl").read_text() == ""
    assert client.post("/api/v1/judges/ana/undo").json()["undone"] is None


@pytest.mark.parametrize(
    ("body", "status", "word"),
    [
        ({"pair": "0009", "choice": "left", "confidence": 1}, 422, "unknown pair"),
        ({"pair": "0000", "choice": "up", "confidence": 1}, 422, "choice"),
        ({"pair": "0000", "choice": "left", "confidence": 5}, 422, "confidence"),
        ({"pair": "0000", "choice": "left"}, 422, "missing"),
        ("not an object", 422, "JSON object"),
    ],
)
def test_api_refuses_bad_judgements(client: TestClient, study: Study, body: Any, status: int, word: str) -> None:
    r = client.post("/api/v1/judges/ana/judgements", json=body)
    assert r.status_code == status and word in r.json()["error"]
    assert not (study.root / "judgements" / "ana.jsonl").exists()


def test_the_app_serves_pictures_but_never_the_key(client: TestClient, study: Study) -> None:
    assert client.get("/pairs/0002.png").content == (study.root / "pairs" / "0002.png").read_bytes()
    for path in ("/key.json", "/pairs/key.json", "/pairs/..%2Fkey.json", "/static/../key.json", "/fills/A/0000.png",
                 "/pairs/0009.png", "/openapi.json", "/docs"):  # fmt: skip
        r = client.get(path)
        assert r.status_code == 404, path
        assert b"telea" not in r.content and b'"left": "A"' not in r.content
    assert client.get("/api/v1/judges/..%2Fkey").status_code in (404, 422)
    bad = client.post("/api/v1/judges/a%20b/judgements", json={"pair": "0000", "choice": "left", "confidence": 1})
    assert bad.status_code == 422 and "judge name" in bad.json()["error"]
    cross = client.post("/api/v1/judges/ana/undo", headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403


def test_a_hand_edited_broken_file_is_reported_not_overwritten(client: TestClient, study: Study) -> None:
    path = study.root / "judgements" / "ana.jsonl"
    path.parent.mkdir(exist_ok=True)
    path.write_text("{broken\n")
    r = client.post("/api/v1/judges/ana/judgements", json={"pair": "0000", "choice": "left", "confidence": 1})
    assert r.status_code == 409 and "not JSON" in r.json()["error"]
    assert path.read_text() == "{broken\n"


# ------------------------------------------------------------------------------------------------ browser
browser_only = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); CI installs it")

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield b
        b.close()


class Watched:
    """A page whose every answer body is kept (to check that none reveals the key) and whose errors fail."""

    def __init__(self, browser: Any, url: str, **context: Any) -> None:
        self.context = browser.new_context(**context)
        self.page = self.context.new_page()
        self.bodies: list[tuple[str, bytes]] = []
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("response", self._keep)
        self.url = url

    def _keep(self, response: Any) -> None:
        with contextlib.suppress(Exception):  # a redirect or an aborted request has no body
            self.bodies.append((response.url, response.body()))

    def close(self, study: Study) -> None:
        self.context.close()
        assert not self.errors, self.errors
        assert self.bodies
        key = (study.root / "key.json").read_bytes()
        for url, body in self.bodies:
            for name in (*METHODS, "key.json", '"left": "A"', '"left": "B"', "fills/"):
                assert name.encode() not in body, (url, name)
            assert key not in body


@pytest.mark.slow
def test_page_on_a_desktop_keys_record_reload_resumes_undo(browser: Any, study: Study) -> None:
    with BackgroundServer(create_study_app(study.root)) as server:
        w = Watched(browser, server.url, viewport={"width": 1280, "height": 800})
        page = w.page
        page.goto(server.url)
        page.fill("#judge", "desk")
        page.click("#begin")
        page.wait_for_selector("#judge-view:not([hidden])")
        assert page.locator("#progress-text").inner_text() == "0 / 4 judged"
        page.keyboard.press("2")  # no side chosen yet: nothing happens
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowLeft")  # change of mind
        page.keyboard.press("2")
        expect(page.locator("#progress-text")).to_have_text("1 / 4 judged")
        judged = read_judgements(study.root / "judgements" / "desk.jsonl", [p.pair for p in study.pairs])
        assert [(j.pair, j.choice, j.confidence) for j in judged] == [("0000", "left", 2)]
        page.keyboard.press("ArrowRight")
        page.keyboard.press("3")
        expect(page.locator("#progress-text")).to_have_text("2 / 4 judged")
        page.reload()  # the name is in the address: the page continues at once, at the first unjudged pair
        expect(page.locator("#progress-text")).to_have_text("2 / 4 judged")
        assert page.locator("#judge-view").get_attribute("data-pair") == "0002"
        page.keyboard.press("u")
        expect(page.locator("#progress-text")).to_have_text("1 / 4 judged")
        assert page.locator("#judge-view").get_attribute("data-pair") == "0001"
        assert [line["pair"] for line in _lines(study, "desk")] == ["0000"]
        w.close(study)


@pytest.mark.slow
def test_page_on_a_phone_taps_record_with_confidence_until_done(browser: Any, study: Study) -> None:
    with BackgroundServer(create_study_app(study.root)) as server:
        w = Watched(browser, server.url, viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
        page = w.page
        page.goto(server.url)
        page.fill("#judge", "phone")
        page.tap("#begin")
        page.wait_for_selector("#judge-view:not([hidden])")
        for box in ("#panel-left", "#panel-right", "[data-level='1']"):  # all on screen, no scrolling
            rect = page.locator(box).bounding_box()
            assert rect is not None and rect["y"] + rect["height"] <= 844 and rect["x"] + rect["width"] <= 390
        left, right = page.locator("#panel-left").bounding_box(), page.locator("#panel-right").bounding_box()
        assert left["width"] > 150 and abs(left["width"] - right["width"]) < 1 and left["x"] < right["x"]
        for n, (side, level) in enumerate([("right", "3"), ("left", "1"), ("right", "2"), ("left", "2")], 1):
            page.tap(f"#panel-{side}")
            page.tap(f"[data-level='{level}']")
            expect(page.locator("#progress-text")).to_have_text(f"{n} / 4 judged")
        page.wait_for_selector("#done:not([hidden])")
        lines = _lines(study, "phone")
        assert [(x["pair"], x["choice"], x["confidence"]) for x in lines] == [
            ("0000", "right", 3), ("0001", "left", 1), ("0002", "right", 2), ("0003", "left", 2)]  # fmt: skip
        assert all(x["seconds"] >= 0 for x in lines)
        w.close(study)


@pytest.mark.slow
def test_a_name_typed_before_the_study_arrives_is_kept_and_start_works(browser: Any, study: Study) -> None:
    """The study's description is held back while the judge types (a slow server or network); CI once lost the
    typed name when it arrived, and Start then did nothing. Both orders of Start and arrival must work."""
    held: list[Any] = []  # the held request for the study's description
    with BackgroundServer(create_study_app(study.root)) as server:
        for judge, press_before_arrival in (("late", False), ("quick", True)):
            w = Watched(browser, server.url, viewport={"width": 1280, "height": 800})
            page = w.page
            held.clear()
            page.route("**/api/v1/study", lambda route: held.append(route))
            page.goto(server.url)
            page.fill("#judge", judge)
            if press_before_arrival:
                page.click("#begin")
            while not held:
                page.wait_for_timeout(20)
            held[0].continue_()
            if not press_before_arrival:
                expect(page.locator("#panel-left")).to_have_attribute("style", re.compile("aspect-ratio"))  # arrived
                expect(page.locator("#judge")).to_have_value(judge)
                page.click("#begin")
            page.wait_for_selector("#judge-view:not([hidden])")
            assert page.locator("#judge-view").get_attribute("data-pair") == "0000"
            assert f"judge={judge}" in page.url
            w.close(study)
