"""gmcnn.weights.download: Drive's confirm page, resuming, interrupted transfers, over a real local HTTP server."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from helpers.release_server import ReleaseServer

from gmcnn.weights.download import DRIVE_URL, URL_ENV, DownloadError, confirmed_url, fetch, file_url

DATA = bytes(range(256)) * 4000  # ~1 MB, more than one chunk


def test_file_url_follows_the_template_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    assert file_url("abc") == DRIVE_URL.replace("{id}", "abc")
    monkeypatch.setenv(URL_ENV, "http://127.0.0.1:9/f/{id}.zip")
    assert file_url("abc") == "http://127.0.0.1:9/f/abc.zip"
    assert file_url("a b", "http://x/{id}") == "http://x/a%20b"
    with pytest.raises(ValueError, match="no '\\{id\\}'"):
        file_url("abc", "http://x/file")


def test_fetches_through_the_confirm_page_with_progress(tmp_path: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    with ReleaseServer({"f1": ("weights.zip", DATA)}) as server:
        got = fetch(file_url("f1", server.template), tmp_path / "f1.part", progress=lambda d, t: seen.append((d, t)))
    assert got.path.read_bytes() == DATA and got.size == len(DATA) and got.filename == "weights.zip"
    paths = [p for p, _ in server.requests]
    assert paths[0].startswith("/uc?") and paths[1].startswith("/download?") and "confirm=t" in paths[1]
    assert "uuid=0d1e-%26-2f" in paths[1]  # the form's hidden fields, HTML-unescaped, then URL-encoded
    assert seen[0] == (0, len(DATA)) and seen[-1] == (len(DATA), len(DATA))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_an_interrupted_transfer_is_not_complete_and_resumes(tmp_path: Path) -> None:
    part = tmp_path / "f1.part"
    with (
        ReleaseServer({"f1": ("w.zip", DATA)}, cut=300_000) as server,
        pytest.raises(DownloadError, match="interrupted.*300,000 bytes are kept.*resume"),
    ):
        fetch(file_url("f1", server.template), part, retries=0)
    assert part.stat().st_size == 300_000  # kept for the next run, under a name nothing mistakes for a release
    with ReleaseServer({"f1": ("w.zip", DATA)}) as server:
        got = fetch(file_url("f1", server.template), part)
    assert got.path.read_bytes() == DATA
    assert server.requests[-1][1] == "bytes=300000-"  # only the rest was asked for


def test_retries_resume_within_one_call(tmp_path: Path) -> None:
    with ReleaseServer({"f1": ("w.zip", DATA)}, cut=400_000) as server:
        got = fetch(file_url("f1", server.template), tmp_path / "p", retries=2)
    assert got.path.read_bytes() == DATA  # 400 kB per response: three responses
    asked = [r for p, r in server.requests if p.startswith("/download")]
    assert asked == [None, "bytes=400000-", "bytes=800000-"]


def test_a_part_that_is_already_whole_is_returned_without_data(tmp_path: Path) -> None:
    part = tmp_path / "p"
    part.write_bytes(DATA)  # a run killed while checking leaves the whole file
    with ReleaseServer({"f1": ("w.zip", DATA)}) as server:
        got = fetch(file_url("f1", server.template), part)
    assert got.size == len(DATA) and part.read_bytes() == DATA


def test_plain_servers_and_http_errors(tmp_path: Path) -> None:
    with ReleaseServer({"f1": ("w.bin", DATA)}, drive=False) as server:
        assert fetch(file_url("f1", server.template), tmp_path / "a").size == len(DATA)
        with pytest.raises(DownloadError, match="HTTP 404"):
            fetch(file_url("missing", server.template), tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_confirm_page_forms() -> None:
    base = "https://drive.google.com/uc?export=download&id=X"
    link = '<a id="uc-download-link" href="/uc?export=download&amp;confirm=AbC1&amp;id=X">Download anyway</a>'
    assert confirmed_url(link, base) == "https://drive.google.com/uc?export=download&confirm=AbC1&id=X"
    form = (
        '<form id="download-form" action="https://drive.usercontent.google.com/download" method="get">'
        '<input type="hidden" name="id" value="X"><input type="hidden" name="confirm" value="t"></form>'
    )
    assert confirmed_url(form, base) == "https://drive.usercontent.google.com/download?id=X&confirm=t"
    quota = (
        '<html><title>Google Drive - Quota exceeded</title><p class="uc-error-subcaption">Too many users have '
        "viewed or downloaded this file recently.</p></html>"
    )
    with pytest.raises(DownloadError, match="Too many users have viewed"):
        confirmed_url(quota, base)


def test_confirm_token_from_a_cookie() -> None:
    import http.cookiejar

    jar = http.cookiejar.CookieJar()
    cookie = http.cookiejar.Cookie(
        0, "download_warning_123", "T0K", None, False, "drive.google.com", True, False, "/", True, False, None,
        True, None, None, {},
    )  # fmt: skip
    jar.set_cookie(cookie)
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    url = confirmed_url("<html><title>Google Drive</title></html>", "https://drive.google.com/uc?id=X", opener)
    assert url == "https://drive.google.com/uc?id=X&confirm=T0K"
