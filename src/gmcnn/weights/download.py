"""Fetch one published file over HTTP(S): resumable, with progress, through Google Drive's confirm page.

The official GMCNN weights are Google Drive files. Drive answers a small file directly, but a large one with an
HTML page ("can't scan this file for viruses") whose form, link or cookie carries the confirmation that fetches
the file itself; :func:`confirmed_url` reads that page. We do this with the standard library rather than
``gdown`` because the web server needs the bytes as they arrive (its download progress), the base URL must be
replaceable by a local server in tests (``GMCNN_DOWNLOAD_URL``), and an interrupted transfer must resume.

The bytes go into a ``.part`` file that is never mistaken for a finished download: :func:`fetch` returns only
when every byte the server announced has arrived, and an interrupted one resumes with an HTTP ``Range``
request from where it stopped (a server that ignores ``Range`` sends the file again from the start).
Nothing here checks what the file holds: :mod:`gmcnn.weights.install` does.
"""

from __future__ import annotations

import html
import http.client
import http.cookiejar
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from gmcnn.errors import UserError
from gmcnn.version import __version__

DRIVE_URL = "https://drive.google.com/uc?export=download&id={id}"
URL_ENV = "GMCNN_DOWNLOAD_URL"  # another URL template with {id}: a mirror, or a local server in tests
CHUNK = 1 << 20
PAGE_LIMIT = 4 << 20  # a confirm page is a few kB; more HTML than this is not one

Progress = Callable[[int, int | None], None]  # (bytes so far, total bytes or None when unknown)


class DownloadError(UserError):
    """The transfer failed; a partial file, if any, is kept for the next attempt to resume."""


def file_url(file_id: str, template: str | None = None) -> str:
    """The URL of a published file: ``template`` (default: ``$GMCNN_DOWNLOAD_URL``, else Drive) with ``{id}``."""
    template = template or os.environ.get(URL_ENV) or DRIVE_URL
    if "{id}" not in template:
        raise UserError(f"the download URL {template!r} has no '{{id}}' for the file id (e.g. {DRIVE_URL})")
    return template.replace("{id}", urllib.parse.quote(file_id, safe=""))


@dataclass(frozen=True)
class Fetched:
    """A finished transfer: the file, its size and the name the server gave it (``Content-Disposition``)."""

    path: Path
    size: int
    filename: str


def fetch(
    url: str, part: str | os.PathLike[str], *, progress: Progress | None = None, retries: int = 2, timeout: float = 60
) -> Fetched:
    """Download ``url`` into ``part``, resuming what ``part`` already holds; returns once the file is complete.

    Args:
        url: the file (a Drive ``uc?export=download`` URL or any plain HTTP(S) URL).
        part: where the bytes go (appended to when resuming); the caller renames it once it has checked it.
        progress: called with (bytes so far, total or ``None``) after every chunk.
        retries: further attempts after an interrupted transfer, each resuming where the last stopped.
        timeout: seconds without data before a connection counts as interrupted.

    Raises:
        DownloadError: the server refused (HTTP error, Drive quota or permission page) or every attempt was
            interrupted; ``part`` keeps what arrived, so running again resumes.
    """
    part = Path(part)
    part.parent.mkdir(parents=True, exist_ok=True)
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    for attempt in range(retries + 1):
        try:
            return _attempt(opener, url, part, progress, timeout)
        except _Interrupted as exc:
            if attempt == retries:
                raise DownloadError(
                    f"the download of {url} was interrupted ({exc}); {_size(part)} are kept in {part}: "
                    "run the same command again to resume"
                ) from None
            time.sleep(min(2.0**attempt, 10.0))
    raise AssertionError("unreachable")


class _Interrupted(Exception):
    """A transfer that stopped early (connection reset, timeout, fewer bytes than announced)."""


def _size(path: Path) -> str:
    return f"{path.stat().st_size:,} bytes" if path.exists() else "no bytes"


def _open(opener: urllib.request.OpenerDirector, url: str, have: int, timeout: float) -> http.client.HTTPResponse:
    headers = {"User-Agent": f"gmcnn/{__version__}"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        return opener.open(urllib.request.Request(url, headers=headers), timeout=timeout)  # type: ignore[no-any-return]
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the range starts at or past the end: complete already, or the file changed
            match = re.fullmatch(r"bytes \*/(\d+)", (exc.headers or Message()).get("Content-Range", ""))
            raise _RangeRefused(int(match.group(1)) if match else None) from None
        raise DownloadError(f"{url} answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Interrupted(f"cannot reach {urllib.parse.urlsplit(url).netloc}: {reason}") from None


class _RangeRefused(Exception):
    """HTTP 416 to a resuming request; ``total`` is the file's size when the server says it."""

    def __init__(self, total: int | None) -> None:
        super().__init__(total)
        self.total = total


def _attempt(
    opener: urllib.request.OpenerDirector, url: str, part: Path, progress: Progress | None, timeout: float
) -> Fetched:
    have = part.stat().st_size if part.exists() else 0
    try:
        response = _open(opener, url, have, timeout)
        if _is_html(response.headers):  # Drive's confirm page (or an error page) instead of the file
            page = response.read(PAGE_LIMIT).decode("utf-8", "replace")
            response.close()
            response = _open(opener, confirmed_url(page, response.url, opener), have, timeout)
            if _is_html(response.headers):
                raise DownloadError(f"{url} answered a web page instead of the file: {_page_error(page)}")
    except _RangeRefused as refused:
        if refused.total == have:  # every byte arrived before (a run stopped while checking them)
            if progress is not None:
                progress(have, have)
            return Fetched(part, have, "")
        part.unlink()  # start again from nothing rather than trust bytes the server no longer vouches for
        return _attempt(opener, url, part, progress, timeout)
    with response:
        start, total = _range(response, have)
        filename = _filename(response.headers) or Path(urllib.parse.urlsplit(url).path).name
        with open(part, "r+b" if start else "wb") as out:
            out.seek(start)
            out.truncate()
            done = start
            if progress is not None:
                progress(done, total)
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (OSError, http.client.HTTPException) as exc:  # reset, timeout, IncompleteRead
                    raise _Interrupted(f"{type(exc).__name__} after {done:,} bytes") from None
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
            out.flush()
            os.fsync(out.fileno())
    if total is not None and done != total:
        raise _Interrupted(f"{done:,} of {total:,} bytes arrived")
    return Fetched(part, done, filename)


def _is_html(headers: Message) -> bool:
    return headers.get_content_type() == "text/html"


def _range(response: http.client.HTTPResponse, have: int) -> tuple[int, int | None]:
    """(where this response's bytes start, the file's total size or None) for a request resuming at ``have``."""
    length = response.headers.get("Content-Length")
    if response.status == 206:
        match = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", response.headers.get("Content-Range", ""))
        if match and int(match.group(1)) == have:
            total = match.group(3)
            return have, int(total) if total != "*" else (have + int(length) if length else None)
        raise _Interrupted(f"the server resumed at the wrong place ({response.headers.get('Content-Range')!r})")
    return 0, int(length) if length is not None else None  # 200: the whole file again


def _filename(headers: Message) -> str:
    """The file name the server gives (``Content-Disposition``), reduced to a safe base name."""
    disposition = headers.get("Content-Disposition", "")
    match = re.search(r"filename\*=(?:UTF-8|utf-8)''([^;]+)", disposition)
    name = urllib.parse.unquote(match.group(1)) if match else ""
    if not name:
        match = re.search(r'filename="?([^";]+)"?', disposition)
        name = match.group(1) if match else ""
    name = os.path.basename(name.replace("\\", "/")).strip()
    return "" if name in ("", ".", "..") else name


# --------------------------------------------------------------------------------------- Drive's confirm page
def confirmed_url(page: str, base: str, opener: urllib.request.OpenerDirector | None = None) -> str:
    """The URL that fetches the file, read from Drive's confirm page (served instead of a large file).

    Drive has used three forms over the years; all are tried: a ``download-form`` whose hidden inputs make the
    query (``drive.usercontent.google.com/download?id=..&confirm=t&uuid=..``), a ``/uc?export=download&confirm=..``
    link, and a ``download_warning`` cookie whose value is the ``confirm`` token.

    Raises:
        DownloadError: the page is not a confirm page (quota exceeded, no permission, file gone): its message.
    """
    form = re.search(r'<form[^>]*id="download-form"[^>]*action="([^"]+)"[^>]*>(.*?)</form>', page, re.S)
    if form:
        fields = dict(re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form.group(2)))
        action = urllib.parse.urljoin(base, html.unescape(form.group(1)))
        query = urllib.parse.urlencode({k: html.unescape(v) for k, v in fields.items()})
        return f"{action}{'&' if '?' in action else '?'}{query}"
    link = re.search(r'href="(/uc\?export=download[^"]*confirm=[^"]*)"', page)
    if link:
        return urllib.parse.urljoin(base, html.unescape(link.group(1)))
    cookies = _cookies(opener)
    token = next((v for k, v in cookies.items() if k.startswith("download_warning")), None)
    if token:
        parts = urllib.parse.urlsplit(base)
        query = urllib.parse.urlencode([*urllib.parse.parse_qsl(parts.query), ("confirm", token)])
        return urllib.parse.urlunsplit(parts._replace(query=query))
    raise DownloadError(f"{base} answered a web page instead of the file: {_page_error(page)}")


def _cookies(opener: urllib.request.OpenerDirector | None) -> dict[str, str]:
    for handler in getattr(opener, "handlers", []):
        if isinstance(handler, urllib.request.HTTPCookieProcessor):
            return {c.name: c.value or "" for c in handler.cookiejar}
    return {}


def _page_error(page: str) -> str:
    """What an error page says (Drive's ``uc-error-subcaption``, else its title), in one line."""
    for pattern in (r'class="uc-error-subcaption">(.*?)</p>', r"<title>(.*?)</title>"):
        match = re.search(pattern, page, re.S | re.I)
        if match:
            text = re.sub(r"<[^>]+>|\s+", " ", html.unescape(match.group(1))).strip()
            if text:
                return text[:300]
    return "no file and no confirmation link in it (too many downloads today, or the link has changed?)"


__all__ = ["DRIVE_URL", "URL_ENV", "DownloadError", "Fetched", "confirmed_url", "fetch", "file_url"]
