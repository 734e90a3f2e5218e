"""The painter in a real browser (Playwright driving Debian's chromium, headless): fixtures and gestures.

Registered for every test module by ``pytest_plugins`` in ``conftest.py``. The server runs in a thread on a
free 127.0.0.1 port with the tiny model, one per test module; each test gets a fresh browser context, at the
desktop size (1280x800) or as a 390x844 touch phone (``phone`` fixture).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from gmcnn import Inpainter
from helpers.chromium import CHROMIUM, LAUNCH_ARGS

W, H = 192, 144  # test photo size
FILL_TIMEOUT_MS = 120_000  # the machine is shared; a fill is fast but may wait for CPU
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2}


def need_chromium() -> None:
    """Skip the calling module when there is no browser (CI installs it; see the README)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); CI installs it", allow_module_level=True)


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


@pytest.fixture(scope="module")
def recording(inpainter: Inpainter) -> Any:
    """The tiny model, noting the options of every fill (what the server made of the page's form)."""
    from helpers.web import Recording

    return Recording(inpainter)


@pytest.fixture(scope="module")
def server(recording: Any) -> Iterator[Any]:
    from gmcnn.web import create_app
    from helpers.server import BackgroundServer

    with BackgroundServer(create_app(recording)) as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    need_chromium()
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield b
        b.close()


# Every fetch's form fields, as the page sent them, in window.__sent: [{url, fields: {name: value}}] (files as
# "<file>"). Chromium does not show a request's multipart body to Playwright when it holds a file.
RECORD_FORMS = """
const send = window.fetch;
window.__sent = [];
window.fetch = (url, init) => {
  if (init && init.body instanceof FormData) {
    const fields = {};
    for (const [k, v] of init.body.entries()) fields[k] = typeof v === "string" ? v : "<file>";
    window.__sent.push({ url: String(url), fields });
  }
  return send(url, init);
};
"""


def sent(page: Any, path: str) -> list[dict[str, str]]:
    """The form fields of every request the page sent to ``path`` (e.g. ``/api/v1/inpaint``), oldest first."""
    return [r["fields"] for r in page.evaluate("window.__sent") if r["url"].endswith(path)]


def wait_for(page: Any, script: str, timeout_ms: int = 30_000) -> Any:
    """Poll a JavaScript expression until it is truthy; its value. (``page.wait_for_function`` evaluates strings
    with ``eval``, which the page's CSP forbids.)"""
    for _ in range(timeout_ms // 50):
        value = page.evaluate(script)
        if value:
            return value
        page.wait_for_timeout(50)
    raise AssertionError(f"timed out waiting for {script}")


def open_page(browser: Any, url: str, device: dict[str, Any]) -> tuple[Any, Any, list[str]]:
    """A new context and page at ``url``, once the page knows its model; (context, page, JavaScript errors)."""
    context = browser.new_context(**device, accept_downloads=True)
    context.add_init_script(RECORD_FORMS)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(url)
    expect(pg.locator("#model")).to_contain_text("cnum")
    return context, pg, errors


def _painter(browser: Any, url: str, device: dict[str, Any]) -> Iterator[Any]:
    context, pg, errors = open_page(browser, url, device)
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture()
def page(browser: Any, server: Any) -> Iterator[Any]:
    """The painter at 1280x800; fails the test on any JavaScript error."""
    yield from _painter(browser, server.url, DESKTOP)


@pytest.fixture()
def phone(browser: Any, server: Any) -> Iterator[Any]:
    """The painter on a 390x844 touch phone; fails the test on any JavaScript error."""
    yield from _painter(browser, server.url, PHONE)


@pytest.fixture(scope="module")
def photo_file(photo: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("browser") / "astronaut.png"
    Image.fromarray(photo).resize((W, H), Image.Resampling.LANCZOS).save(path)
    return path


# ------------------------------------------------------------------------------------------------ gestures
def open_photo(page: Any, path: Path, size: tuple[int, int] = (W, H)) -> None:
    page.set_input_files("#file", str(path))
    expect(page.locator("#fact-size")).to_have_text(f"{size[0]}×{size[1]} (0.0 MP)")


def screen(page: Any, x: float, y: float) -> tuple[float, float]:
    """Image pixel (x, y) -> page coordinates, through the current zoom and pan."""
    box = page.locator("#stage").bounding_box()
    w, h = page.evaluate(
        "[Number(document.getElementById('mask').width), Number(document.getElementById('mask').height)]"
    )
    return box["x"] + (x + 0.5) * box["width"] / w, box["y"] + (y + 0.5) * box["height"] / h


def drag(page: Any, points: list[tuple[float, float]]) -> None:
    page.mouse.move(*screen(page, *points[0]))
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(*screen(page, x, y), steps=4)
    page.mouse.up()


def touchscreen(page: Any) -> bool:
    return bool(page.evaluate("matchMedia('(pointer: coarse)').matches"))


def stroke(page: Any, points: list[tuple[float, float]]) -> None:
    """Paint along image points as this device would: a mouse drag, or one finger."""
    (finger if touchscreen(page) else drag)(page, points)


def show_settings(page: Any) -> None:
    """Make the settings panel visible: on a phone Settings opens it below the canvas (beside it on a desktop)."""
    toggle = page.locator("#panel-toggle")
    for _ in range(3):  # Chromium may take a tap soon after a touch stroke as the second half of a double tap
        if not toggle.is_visible() or toggle.get_attribute("aria-expanded") == "true":
            return
        toggle.tap()
        page.wait_for_timeout(300)
    expect(toggle).to_have_attribute("aria-expanded", "true")


def press(page: Any, selector: str) -> None:
    """Click a toolbar item wherever the toolbar put it: in the row, or in the ⋯ menu (opened first)."""
    target = page.locator(selector)
    if target.evaluate("n => Boolean(n.closest('#more-menu'))"):
        page.click("#more-button")
    if touchscreen(page):
        target.tap()
    else:
        target.click()


def choose_tool(page: Any, tool: str) -> None:
    press(page, f"[data-tool={tool}]")
    expect(page.locator(f"[data-tool={tool}]")).to_have_attribute("aria-pressed", "true")


def set_range(page: Any, selector: str, value: float) -> None:
    page.locator(selector).fill(str(value))  # fires "input" like a user dragging the slider


def download(page: Any, selector: str) -> tuple[str, Image.Image]:
    with page.expect_download() as info:
        press(page, selector)
    d = info.value
    return d.suggested_filename, Image.open(d.path())


def download_mask(page: Any, name: str = "astronaut-mask.png", size: tuple[int, int] = (W, H)) -> np.ndarray:
    got, mask = download(page, "#download-mask")
    assert got == name
    assert mask.format == "PNG" and mask.mode == "L" and mask.size == size  # exact size, lossless grey
    arr = np.asarray(mask)
    assert set(np.unique(arr).tolist()) <= {0, 255}  # binary
    return arr


def wait_fills(page: Any, n: int) -> None:
    """Wait until the page has applied its n-th fill; fail at once with the page's message if a fill failed."""
    done = page.locator(f'body[data-fills="{n}"][data-busy="false"]')
    failed = page.locator("#status.error")
    expect(done.or_(failed)).to_be_attached(timeout=FILL_TIMEOUT_MS)
    assert not failed.count(), f"the fill failed: {failed.text_content()}"


def touch(cdp: Any, kind: str, points: list[tuple[float, float]]) -> None:
    cdp.send(
        "Input.dispatchTouchEvent",
        {"type": kind, "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]},
    )


def gesture(cdp: Any, start: list[tuple[float, float]], end: list[tuple[float, float]], steps: int = 8) -> None:
    """Fingers down at ``start``, moved in ``steps`` to ``end``, lifted."""
    touch(cdp, "touchStart", start)
    for k in range(1, steps + 1):
        t = k / steps
        touch(
            cdp,
            "touchMove",
            [(a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t) for a, b in zip(start, end, strict=True)],
        )
    touch(cdp, "touchEnd", [])


def finger(page: Any, points: list[tuple[float, float]]) -> None:
    """One finger along image points (a touch stroke), then a pause: Chromium would take a tap right after a
    touch stroke as part of a double tap."""
    cdp = page.context.new_cdp_session(page)
    touch(cdp, "touchStart", [screen(page, *points[0])])
    for a, b in zip(points, points[1:], strict=False):
        for k in range(1, 5):
            t = k / 4
            touch(cdp, "touchMove", [screen(page, a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)])
    touch(cdp, "touchEnd", [])
    page.wait_for_timeout(600)
