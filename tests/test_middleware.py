"""The middleware in front of every route (gmcnn.web.middleware): body size, Host, Origin, security headers."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from fastapi.testclient import TestClient
from helpers.web import assert_error, encode, hole, local, post

from gmcnn import Inpainter
from gmcnn.web import create_app


def test_too_large_upload_by_content_length(inpainter: Inpainter, picture: np.ndarray) -> None:
    with local(create_app(inpainter, max_upload_bytes=5000)) as c:
        assert_error(post(c, encode(picture), encode(hole())), 413, "limit of 5,000")


def test_too_large_upload_streamed_without_length(inpainter: Inpainter, picture: np.ndarray) -> None:
    """A chunked body has no Content-Length: the limit is enforced while it is read."""
    boundary = "gmcnnboundary"
    parts = []
    for name, data in (("image", encode(picture)), ("mask", encode(hole()))):
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}.png"\r\n'
        parts.append(head.encode() + b"Content-Type: image/png\r\n\r\n" + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 1024):
            yield body[i : i + 1024]

    with local(create_app(inpainter, max_upload_bytes=5000)) as c:
        r = c.post(
            "/api/v1/inpaint", content=chunks(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
        )
        assert "content-length" not in r.request.headers
        assert_error(r, 413, "limit of 5,000")
        # The same body under a larger limit goes through: the check counts bytes, it does not refuse chunking.
    with local(create_app(inpainter)) as c:
        r = c.post(
            "/api/v1/inpaint", content=chunks(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
        )
        assert r.status_code == 200, r.text


def test_cross_origin_post_is_refused(client: TestClient, picture: np.ndarray) -> None:
    files = {"image": ("a.png", encode(picture), "image/png"), "mask": ("m.png", encode(hole()), "image/png")}
    r = client.post("/api/v1/inpaint", files=files, headers={"origin": "https://evil.example"})
    assert_error(r, 403, "cross-origin")
    assert "access-control-allow-origin" not in r.headers
    ok = client.post("/api/v1/inpaint", files=files, headers={"origin": "http://127.0.0.1"})
    assert ok.status_code == 200, ok.text
    health = client.get("/api/v1/health", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in health.headers  # no CORS: other sites cannot read answers


def test_dns_rebinding_host_is_refused(inpainter: Inpainter) -> None:
    app = create_app(inpainter, allowed_hosts=["painter.lan"])
    with TestClient(app, base_url="http://evil.example:8765") as c:
        r = c.get("/api/v1/health", headers={"origin": "http://evil.example:8765"})
        assert_error(r, 400, "evil.example")
    for base in (
        "http://127.0.0.1:8765",
        "http://[::1]:8000",
        "http://192.168.1.20:8000",
        "http://localhost",
        "http://painter.lan:80",
    ):
        with TestClient(app, base_url=base) as c:
            assert c.get("/api/v1/health").status_code == 200, base


def test_security_headers_on_every_answer(client: TestClient, picture: np.ndarray) -> None:
    answers = [
        client.get("/"),
        client.get("/static/index.html"),
        client.get("/static/js/painter.js"),
        client.get("/api/v1/health"),
        client.get("/static/nope.js"),
        post(client, b"junk", encode(hole())),
    ]
    for r in answers:
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], r.url
        assert r.headers["x-content-type-options"] == "nosniff", r.url
