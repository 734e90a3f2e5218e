"""The fill options as an HTTP form (gmcnn.web.form): one dependency made from FillOptions' fields, so nothing
restates an option, and a field added to FillOptions reaches the CLI, the OpenAPI form, /api/v1/health and the
page's controls with no other edit."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from helpers.web import assert_error, encode, hole, post

from gmcnn.inpainting.options import FillOptions

HELPER = Path(__file__).parent / "helpers" / "extended_options.py"
SRC = Path(__file__).parents[1] / "src"


def form_fields(spec: dict[str, Any], path: str) -> dict[str, Any]:
    ref = spec["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    return spec["components"]["schemas"][ref.split("/")[-1]]["properties"]  # type: ignore[no-any-return]


def declared(field: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of an optional field (``anyOf: [{type: integer, ...}, {type: null}]``)."""
    return next((a for a in field.get("anyOf", [field]) if a.get("type") != "null"), field)


@pytest.mark.parametrize("path", ["/api/v1/inpaint", "/api/v1/plan"])
def test_routes_take_every_option_with_its_bounds_and_help(client: TestClient, path: str) -> None:
    fields = form_fields(client.get("/openapi.json").json(), path)
    for name, option in FillOptions.schema().items():
        field = fields[name]
        assert field["description"] == option["help"]
        typed = declared(field)
        assert typed["type"] == option["type"]
        assert (typed.get("minimum"), typed.get("maximum")) == (option.get("minimum"), option.get("maximum"))
        assert field.get("enum") == option.get("choices")
        assert field.get("default") == option["default"]


def test_the_form_becomes_fill_options(client: TestClient, picture: np.ndarray) -> None:
    files = {"mask": ("m.png", encode(hole()), "image/png")}
    plan = client.post("/api/v1/plan", files=files, data={"process_size": "", "strategy": "crop", "detail": "0.5"})
    assert plan.status_code == 200, plan.text
    assert plan.json()["strategy"] == "crop"  # an empty nullable field is the model's own size
    assert_error(client.post("/api/v1/plan", files=files, data={"detail": "1.5"}), 422, "detail")
    assert_error(client.post("/api/v1/plan", files=files, data={"strategy": "tiles"}), 422, "unknown strategy")
    assert_error(post(client, encode(picture), encode(hole()), margin="-1"), 422, "margin")


def test_misspelt_or_misplaced_options_are_refused(client: TestClient, picture: np.ndarray) -> None:
    body = assert_error(post(client, encode(picture), encode(hole()), detial="0.5"), 422, "'detial'")
    assert "detail" in body["error"]  # the refusal lists the fields the route takes, the options among them
    files = {"mask": ("m.png", encode(hole()), "image/png")}
    assert_error(client.post("/api/v1/plan?grow=5", files=files), 422, "query parameter 'grow'")


# ------------------------------------------------------------------------------------------------ a new field
def run_helper(*args: str, **kwargs: Any) -> Any:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen([sys.executable, str(HELPER), *args], env=env, text=True, **kwargs)


@pytest.fixture(scope="module")
def extended_server(tiny_export: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``gmcnn serve`` (a real process) on a FillOptions with one more field, ``sharpness``; its URL."""
    log = tmp_path_factory.mktemp("serve") / "stderr.txt"
    with log.open("w") as stderr:
        proc = run_helper("serve", "--model", str(tiny_export), "--port", "0", stderr=stderr)
    try:
        deadline = time.monotonic() + 120
        while not (found := re.search(r"Uvicorn running on (http://\S+)", log.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield found.group(1).rstrip("/") + "/"
    finally:
        proc.terminate()
        proc.wait(30)


def fetch(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers or {}), timeout=60) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def multipart(fields: dict[str, str], files: dict[str, bytes]) -> tuple[bytes, dict[str, str]]:
    boundary = "gmcnn-test-boundary"
    head = f"--{boundary}\r\nContent-Disposition: form-data; "
    parts = [f'{head}name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    for name, data in files.items():
        file_head = f'{head}name="{name}"; filename="{name}.png"\r\nContent-Type: image/png\r\n\r\n'
        parts.append(file_head.encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def test_a_new_option_reaches_the_cli_flags() -> None:
    proc = run_helper("inpaint", "--help", stdout=subprocess.PIPE)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    flag = re.search(r"--sharpness SHARPNESS\s+(.*?)\(default: 0.25, 0.0-1.0\)", out, re.S)
    assert flag and "how sharp the fill is" in " ".join(flag.group(1).split())


def test_a_new_option_reaches_openapi_and_health(extended_server: str) -> None:
    _, spec = fetch(extended_server + "openapi.json")
    for path in ("/api/v1/inpaint", "/api/v1/plan"):
        field = form_fields(spec, path)["sharpness"]
        assert (field["minimum"], field["maximum"], field["default"]) == (0.0, 1.0, 0.25)
    _, health = fetch(extended_server + "api/v1/health")
    assert health["options"]["sharpness"]["label"] == "Sharpness"
    body, headers = multipart({"sharpness": "2"}, {"mask": encode(hole())})
    status, answer = fetch(extended_server + "api/v1/plan", body, headers)
    assert status == 422 and "sharpness" in answer["error"]  # the form checks its bounds
    body, headers = multipart({"sharpness": "0.5"}, {"mask": encode(hole())})
    assert fetch(extended_server + "api/v1/plan", body, headers)[0] == 200


def test_a_new_option_gets_a_control_in_the_page(extended_server: str, browser: Any, photo_file: Path) -> None:
    from helpers.browser import DESKTOP, drag, expect, open_page, open_photo, sent, set_range

    context, page, errors = open_page(browser, extended_server, DESKTOP)
    control = page.locator("#opt-sharpness")
    expect(control).to_be_visible()
    assert (control.get_attribute("min"), control.get_attribute("max"), control.input_value()) == ("0", "1", "0.25")
    expect(page.locator("label[for=opt-sharpness]")).to_contain_text("Sharpness")
    open_photo(page, photo_file)
    drag(page, [(40, 40), (80, 60)])
    set_range(page, "#opt-sharpness", 0.7)  # the page asks the server's plan with it, and the server takes it
    expect(page.locator("#strategy-hint")).to_contain_text("window")
    assert sent(page, "/api/v1/plan")[-1]["sharpness"] == "0.7"
    context.close()
    assert not errors
