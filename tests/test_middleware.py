"""The middleware in front of every route (gmcnn.web.middleware): body size and stalls, Host, Origin, HEAD,
security headers, and the refusal of undeclared fields."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, Form
from fastapi.testclient import TestClient
from helpers.web import assert_error, encode, hole, local, post, wait_until
from pydantic import BaseModel

from gmcnn import Inpainter
from gmcnn.web import create_app
from gmcnn.web.errors import install_error_handlers
from gmcnn.web.middleware import refuse_unknown_fields, same_origin


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


def test_an_origin_is_scheme_host_and_port(client: TestClient, picture: np.ndarray) -> None:
    assert same_origin("http://127.0.0.1:8000", "http", "127.0.0.1:8000")
    assert same_origin("http://LOCALHOST", "http", "localhost:80")
    assert same_origin("http://[::1]:8000", "http", "[::1]:8000")
    assert not same_origin("https://127.0.0.1:8000", "http", "127.0.0.1:8000")  # another scheme
    assert not same_origin("http://127.0.0.1:8001", "http", "127.0.0.1:8000")  # another port
    assert not same_origin("http://127.0.0.1", "http", "127.0.0.1:8000")  # port 80
    assert not same_origin("http://127.0.0.1:x", "http", "127.0.0.1:8000")
    assert not same_origin("null", "http", "127.0.0.1:8000")
    files = {"image": ("a.png", encode(picture), "image/png"), "mask": ("m.png", encode(hole()), "image/png")}
    r = client.post("/api/v1/inpaint", files=files, headers={"origin": "https://127.0.0.1"})
    assert_error(r, 403, "cross-origin")


def test_head_is_answered_wherever_get_is(client: TestClient) -> None:
    for path in ("/", "/api/v1/health", "/docs", "/openapi.json", "/static/js/painter.js"):
        get, head = client.get(path), client.head(path)
        assert head.status_code == 200 == get.status_code, path
        assert head.content == b"" and head.headers["content-length"] == get.headers["content-length"], path
        assert head.headers["content-type"] == get.headers["content-type"], path
    assert client.head("/api/v1/inpaint").status_code == 405  # POST only
    assert client.head("/static/nope.js").status_code == 404


def test_unknown_form_fields_and_query_parameters_are_refused_by_name(client: TestClient, picture: np.ndarray) -> None:
    body = assert_error(post(client, encode(picture), encode(hole()), strenght=3), 422, "form field 'strenght'")
    assert "grow" in body["error"] and body["detail"]["unknown"] == ["form field 'strenght'"]
    files = {"image": ("a.png", encode(picture), "image/png"), "mask": ("m.png", encode(hole()), "image/png")}
    assert_error(client.post("/api/v1/inpaint?grow=4", files=files), 422, "query parameter 'grow'")
    assert_error(
        client.post("/api/v1/check", files={"image": files["image"]}, data={"strategy": "crop"}),
        422,
        "form field 'strategy'",
        "this route takes image",
    )
    assert_error(client.get("/api/v1/health?verbose=1"), 422, "query parameter 'verbose'")
    assert post(client, encode(picture), encode(hole()), grow=2, texture="off").status_code == 200


def test_a_stalled_body_gets_408_and_its_connection_closed(inpainter: Inpainter) -> None:
    """A real server: headers promise 10,000 bytes, 100 arrive, then nothing."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(create_app(inpainter, body_timeout=1.0), host="127.0.0.1", port=0,
                                           log_level="error"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, "the server to start")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            head = (
                "POST /api/v1/inpaint HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10000\r\n"
                "Content-Type: multipart/form-data; boundary=b\r\n\r\n"
            )
            sock.sendall(head.encode() + b"--b\r\n" + b"x" * 95)
            start = time.monotonic()
            answer = b""
            while chunk := sock.recv(65536):  # until the server closes the connection
                answer += chunk
            waited = time.monotonic() - start
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"no part of the request body arrived for 1 s" in answer
        assert 0.9 < waited < 10, waited
    finally:
        server.should_exit = True
        thread.join(30)


class _Options(BaseModel):
    grow: int = 0
    feather: int = 0


def _strategy(strategy: Annotated[str, Form()] = "auto") -> str:
    return strategy


_declared = APIRouter(dependencies=[Depends(refuse_unknown_fields)])


@_declared.post("/dep")
def _dep(s: Annotated[str, Depends(_strategy)], size: int = 1) -> dict[str, object]:
    return {"strategy": s, "size": size}


@_declared.post("/model")
def _model(options: Annotated[_Options, Form()]) -> dict[str, int]:
    return options.model_dump()


def test_the_refusal_reads_fields_declared_in_dependencies_and_form_models() -> None:
    """Generic over how a route declares its fields: a dependency's Form parameters, or a Form model."""
    app = FastAPI()
    app.include_router(_declared)
    install_error_handlers(app)
    with local(app) as c:
        assert c.post("/dep?size=2", data={"strategy": "crop"}).json() == {"strategy": "crop", "size": 2}
        assert_error(c.post("/dep", data={"strategy": "crop", "grow": "1"}), 422, "form field 'grow'")
        assert_error(c.post("/dep?sise=2", data={"strategy": "crop"}), 422, "query parameter 'sise'")
        assert c.post("/model", data={"grow": "3"}).json() == {"grow": 3, "feather": 0}
        assert_error(c.post("/model", data={"grow": "3", "strategy": "crop"}), 422, "form field 'strategy'")
