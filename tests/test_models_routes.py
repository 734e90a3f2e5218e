"""The model picker's API (gmcnn.web.models_routes): list, switch between fills, download a release from a local
stand-in for the authors' links (no network)."""

from __future__ import annotations

import io
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import tiny_generator
from helpers.release_server import (
    PTH_NAME,
    TF_FOLDER,
    TF_ID,
    TF_NAME,
    ReleaseServer,
    copy_release,
    register_fakes,
    tf_release_zip,
)
from helpers.web import Gate, assert_error, encode, hole, local, post, wait_until
from PIL import Image

from gmcnn import Inpainter
from gmcnn.web import create_app
from gmcnn.weights.format import export_generator


@pytest.fixture()
def folder(tmp_path: Path, tiny_export: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A models folder: two exports (different weights) and the fake TF release; the fake .pth release is absent."""
    register_fakes(monkeypatch)
    copy_release(tmp_path)
    shutil.copytree(tiny_export, tmp_path / "exp_a")
    export_generator(tiny_generator(seed=7), tmp_path / "exp_b", training={"image_size": 64})
    export_generator(tiny_generator(seed=8), tmp_path / "modèle 100%", training={"image_size": 64})
    return tmp_path


def _fill(client: Any, picture: np.ndarray, model: str | None = None) -> np.ndarray:
    # detail 0: the network's own fill, so the two models' fills differ (full detail copies from the photo)
    response = post(client, encode(picture), encode(hole()), detail="0")
    assert response.status_code == 200, response.text
    if model is not None:
        assert response.headers["x-gmcnn-model"] == model
    return np.asarray(Image.open(io.BytesIO(response.content)))


def _direct(path: Path, picture: np.ndarray) -> np.ndarray:
    return np.asarray(Inpainter.from_pretrained(path, device="cpu")(picture, hole(), detail=0))


def _by_name(client: Any) -> dict[str, dict[str, Any]]:
    body = client.get("/api/v1/models").json()
    return {m["name"]: m for m in body["models"]}


def test_lists_without_a_folder(inpainter: Inpainter) -> None:
    with local(create_app(inpainter)) as c:
        body = c.get("/api/v1/models").json()
    names = [m["name"] for m in body["models"]]
    assert names[0] == "default" and body["current"] == inpainter.name
    served = body["models"][-1]
    assert served["name"] == inpainter.name and served["loaded"] and served["available"]
    releases = [m for m in body["models"] if m["kind"] == "release"]
    assert len(releases) == 6 and not any(m["available"] or m["downloadable"] or m["loaded"] for m in releases)
    assert set(body["models"][0]) == {"name", "description", "kind", "loaded", "available", "downloadable", "size",
                                      "download"}  # fmt: skip


def test_select_switches_the_model_the_fills_use(folder: Path, picture: np.ndarray) -> None:
    with local(create_app(Inpainter.from_pretrained(folder / "exp_a", device="cpu"), models_dir=folder)) as c:
        models = _by_name(c)
        assert models[TF_NAME]["available"] and not models[PTH_NAME]["available"] and models[PTH_NAME]["downloadable"]
        assert models["exp_b"]["available"] and models["exp_b"]["kind"] == "export"
        before = _fill(c, picture)
        answer = c.post("/api/v1/models/select", json={"name": "exp_b"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["current"] == "exp_b" and answer.json()["changed"]
        assert answer.json()["model"]["name"] == "exp_b"
        assert c.get("/api/v1/health").json()["model"]["name"] == "exp_b"
        assert _by_name(c)["exp_b"]["loaded"] and not _by_name(c)["exp_a"]["loaded"]
        after = _fill(c, picture, model="exp_b")
        assert np.array_equal(before, _direct(folder / "exp_a", picture))
        assert np.array_equal(after, _direct(folder / "exp_b", picture)) and not np.array_equal(before, after)
        assert c.post("/api/v1/models/select", json={"name": "exp_b"}).json()["changed"] is False
        tf = c.post("/api/v1/models/select", json={"name": TF_FOLDER})  # a release, by its folder name
        assert tf.status_code == 200 and tf.json()["current"] == TF_NAME
        assert tf.json()["model"]["contract"]["channel_order"] == "BGR"
        assert c.post("/api/v1/models/select", json={"name": "modèle 100%"}).status_code == 200
        _fill(c, picture, model="mod%C3%A8le 100%25")  # percent-encoded: headers carry ASCII only
        assert c.post("/api/v1/models/select", json={"name": "default"}).json()["current"] == "default"
        assert_error(c.get("/api/v1/models?verbose=1"), 422, "unknown query parameter 'verbose'")


def test_select_refuses_clearly(folder: Path) -> None:
    app = create_app(Inpainter.from_pretrained(folder / "exp_a", device="cpu"), models_dir=folder, memory_budget=2**20)
    with local(app) as c:
        assert_error(c.post("/api/v1/models/select", json={"name": "nope"}), 404, "no model 'nope'", "exp_b")
        assert_error(c.post("/api/v1/models/select", json={"name": PTH_NAME}), 409, "not downloaded", "download")
        assert_error(c.post("/api/v1/models/select", json={}), 422, "name")
        # loading needs ~4x the weights beside the old model: more than this 1 MiB budget can ever hold
        body = assert_error(c.post("/api/v1/models/select", json={"name": "exp_b"}), 413, "loading exp_b", "budget")
        assert body["detail"]["budget_bytes"] == 2**20
        assert c.get("/api/v1/models").json()["current"] == "exp_a" and app.state.gmcnn.budget.used == 0
        (folder / "exp_b" / "generator.safetensors").write_bytes(b"damaged")
    with local(create_app(Inpainter.from_pretrained(folder / "exp_a", device="cpu"), models_dir=folder)) as c:
        assert_error(c.post("/api/v1/models/select", json={"name": "exp_b"}), 422, "cannot load exp_b")
        assert c.get("/api/v1/models").json()["current"] == "exp_a"


def test_the_switch_waits_for_the_fill_before_it_and_serves_the_ones_after(folder: Path, picture: np.ndarray) -> None:
    gate = Gate(Inpainter.from_pretrained(folder / "exp_a", device="cpu"))
    results: dict[str, Any] = {}
    with local(create_app(gate, models_dir=folder, queue_size=4)) as c:  # type: ignore[arg-type]
        queue = c.app.state.queue
        first = threading.Thread(target=lambda: results.setdefault("first", _fill(c, picture)))
        first.start()
        assert gate.entered.wait(30), "the first fill never reached the model"
        switch = threading.Thread(
            target=lambda: results.setdefault("switch", c.post("/api/v1/models/select", json={"name": "exp_b"}))
        )
        switch.start()
        wait_until(lambda: queue.admitted == 2, "the switch to queue behind the fill")
        third = threading.Thread(target=lambda: results.setdefault("third", _fill(c, picture)))
        third.start()  # sent while exp_a is still served: it must run with the model served when it runs
        wait_until(lambda: queue.admitted == 3, "the next fill to queue behind the switch")
        assert "switch" not in results  # no model change while a fill runs
        gate.opened.set()
        for t in (first, switch, third):
            t.join(60)
    assert results["switch"].status_code == 200, results["switch"].text
    assert np.array_equal(results["first"], _direct(folder / "exp_a", picture))
    assert np.array_equal(results["third"], _direct(folder / "exp_b", picture))


def _wait_download(c: Any, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        state = c.get(f"/api/v1/models/download/{name}").json()
        if state["state"] in ("done", "failed") or time.monotonic() > deadline:
            return state  # type: ignore[no-any-return]
        time.sleep(0.05)


def test_download_a_release_then_serve_it(folder: Path) -> None:
    shutil.rmtree(folder / TF_FOLDER, ignore_errors=True)
    data = tf_release_zip()
    with ReleaseServer({TF_ID: ("tiny.zip", data)}) as server:
        app = create_app(
            Inpainter.from_pretrained(folder / "exp_a", device="cpu"), models_dir=folder, download_url=server.template
        )
        with local(app) as c:
            assert _by_name(c)[TF_NAME]["downloadable"] and not _by_name(c)[TF_NAME]["available"]
            assert_error(c.get(f"/api/v1/models/download/{TF_NAME}"), 404, "no download")
            started = c.post("/api/v1/models/download", json={"name": TF_NAME})
            assert started.status_code == 202 and started.json()["state"] in ("downloading", "verifying", "done")
            done = _wait_download(c, TF_NAME)
            assert done == {"name": TF_NAME, "state": "done", "done": len(data), "total": len(data), "error": None}
            listed = _by_name(c)[TF_NAME]
            assert listed["available"] and not listed["downloadable"] and listed["download"]["state"] == "done"
            assert c.post("/api/v1/models/download", json={"name": TF_NAME}).status_code == 200  # there already
            assert c.post("/api/v1/models/select", json={"name": TF_NAME}).json()["current"] == TF_NAME
            assert_error(c.post("/api/v1/models/download", json={"name": "exp_b"}), 409, "not an official release")
    assert (folder / TF_FOLDER / "snap-0.index").is_file()


def test_a_damaged_or_missing_download_fails_visibly(folder: Path, inpainter: Inpainter) -> None:
    shutil.rmtree(folder / TF_FOLDER, ignore_errors=True)
    with (
        ReleaseServer({TF_ID: ("tiny.zip", tf_release_zip(damage=True))}) as server,
        local(create_app(inpainter, models_dir=folder, download_url=server.template)) as c,
    ):
        c.post("/api/v1/models/download", json={"name": TF_NAME})
        failed = _wait_download(c, TF_NAME)
        assert failed["state"] == "failed" and "CRC32C" in failed["error"]
        assert not _by_name(c)[TF_NAME]["available"]
    assert not (folder / TF_FOLDER).exists()
    with local(create_app(inpainter)) as c:  # no models folder: nothing is downloaded
        assert_error(c.post("/api/v1/models/download", json={"name": TF_NAME}), 409, "--models DIR")
