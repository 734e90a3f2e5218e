"""The assembled app (gmcnn.web.app.create_app): the page and docs served from the package, and fuzzed uploads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from helpers.web import encode

from gmcnn import Inpainter
from gmcnn.web import create_app


def test_page_and_assets_come_from_the_package(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may be read relative to the working directory
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("/static/js/painter.js", "/static/painter.css"):
        assert asset in page.text
        r = client.get(asset)
        assert r.status_code == 200 and len(r.content) > 1000
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    entry = client.get("/static/js/painter.js")
    assert entry.headers["content-type"].startswith("text/javascript")  # served as an ES module may be
    for module in ("state", "mask", "history", "view", "api", "panel"):  # no build step: the browser imports them
        assert f'"./{module}.js"' in entry.text
        source = client.get(f"/static/js/{module}.js")
        assert source.status_code == 200 and "https://" not in source.text


def test_docs_work_offline(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text
    assert "http://" not in docs.text and "https://" not in docs.text
    assert "https://" not in client.get("/static/docs.js").text
    assert client.get("/redoc").status_code == 404  # FastAPI's CDN pages are off


def test_fuzzed_uploads_never_get_a_5xx_and_the_connection_survives(inpainter: Inpainter, picture: np.ndarray) -> None:
    """A few hundred of benchmarks/web_fuzz.py's cases (it runs >= 1,000 against `gmcnn serve`)."""
    from helpers.server import BackgroundServer

    from benchmarks.web_fuzz import Case, fuzz_cases, send_cases

    rgb = np.ascontiguousarray(picture[:40, :48])
    mask = np.zeros((40, 48), np.uint8)
    mask[12:24, 16:32] = 255
    cases = fuzz_cases(rgb, mask, np.random.default_rng(5), count=300)
    assert len(cases) >= 300 and sum(c.name.startswith("bomb") for c in cases) >= 6
    with BackgroundServer(create_app(inpainter)) as live:
        result = send_cases("127.0.0.1", live.port, cases, Case("valid", encode(rgb), encode(mask)))
        assert live.thread.is_alive()
    assert result["server_errors"] == 0, result["server_error_cases"]
    assert result["final_valid_fill_status"] == 200 and result["one_connection"]
    assert sum(v for k, v in result["statuses"].items() if k.startswith("4")) > 250  # mostly refused, clearly
