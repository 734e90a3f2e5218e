"""The "how it was filled" API (gmcnn.web.explain_routes): explain=true keeps the fill's own pictures under its
job id, GET describes them and serves each as PNG, and the store stays bounded."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from helpers.web import assert_error, encode, hole, local, post
from PIL import Image

from gmcnn import Inpainter
from gmcnn.inpainting.explain import ABOUT
from gmcnn.web import create_app
from gmcnn.web.errors import ApiError
from gmcnn.web.explain_routes import Explanations


def png_at(client: TestClient, url: str) -> np.ndarray:
    r = client.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text
    return np.asarray(Image.open(io.BytesIO(r.content)))


def test_explain_keeps_the_same_fill_pictures(client: TestClient, picture: np.ndarray) -> None:
    r = post(client, encode(picture), encode(hole()), explain="true", job="explained-1", detail=0.6)
    assert r.status_code == 200, r.text
    assert r.headers["x-gmcnn-job"] == "explained-1" and r.headers["x-gmcnn-explained"] == "true"
    shown = client.get("/api/v1/jobs/explained-1/explain").json()
    assert shown["model"] == r.headers["x-gmcnn-model"] and (shown["width"], shown["height"]) == (128, 96)
    assert [s["name"] for s in shown["stages"]] == ["prefill", "network", "completion", "composite"]
    assert all(s["seconds"] >= 0 and s["about"] == ABOUT[s["name"]] for s in shown["stages"])
    assert set(shown["layers"]) == {"sources", "confidence"}
    for entry in [*shown["stages"], *shown["layers"].values()]:
        assert png_at(client, entry["url"]).shape == (96, 128, 3)
    # The composite picture is the answer itself: one fill, explained, not a second run.
    result = np.asarray(Image.open(io.BytesIO(r.content)))
    assert np.array_equal(png_at(client, shown["stages"][-1]["url"]), result)
    # Outside the hole every stage shows the photo; the stages differ inside it.
    inside = hole() > 0
    network = png_at(client, shown["stages"][1]["url"])
    assert np.array_equal(network[~inside], picture[~inside])
    assert not np.array_equal(network[inside], png_at(client, shown["stages"][0]["url"])[inside])


def test_server_makes_a_job_id_and_forgets_old_explanations(inpainter: Inpainter, picture: np.ndarray) -> None:
    app = create_app(inpainter)
    app.state.gmcnn.explanations = Explanations(max_items=2)
    with local(app) as c:
        jobs = []
        for _ in range(3):
            r = post(c, encode(picture), encode(hole()), explain="true")
            assert r.status_code == 200, r.text
            jobs.append(r.headers["x-gmcnn-job"])
        assert len(set(jobs)) == 3
        assert_error(c.get(f"/api/v1/jobs/{jobs[0]}/explain"), 404, "last 2")  # the oldest went first
        assert c.get(f"/api/v1/jobs/{jobs[2]}/explain").status_code == 200
        assert_error(c.get(f"/api/v1/jobs/{jobs[2]}/explain/nothing.png"), 404, "no picture 'nothing'")
        plain = post(c, encode(picture), encode(hole()), job="not-explained")
        assert "x-gmcnn-job" not in plain.headers
        assert_error(c.get("/api/v1/jobs/not-explained/explain"), 404, "explain=true")


def test_the_store_is_bounded_in_bytes(picture: np.ndarray) -> None:
    assert not Explanations(max_items=4, max_bytes=100).put("big", {}, {"sources": picture})  # alone too large
    store = Explanations(max_items=4, max_bytes=3 * picture.nbytes)
    for name in ("a", "b", "c", "d"):
        assert store.put(name, {}, {"sources": picture})
    with pytest.raises(ApiError) as gone:  # four fit the count, three the bytes: the oldest went
        store.get("a")
    assert gone.value.status == 404
    assert all(store.get(name).pictures["sources"] is picture for name in ("b", "c", "d"))
