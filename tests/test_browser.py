"""End-to-end tests of the painter page in a real browser (Playwright driving Debian's chromium, headless).

The server runs in a thread on a free 127.0.0.1 port with a tiny model. Every check goes through the page
as a person would use it: open a file, drag on the canvas, press buttons and keys, download files.
"""

from __future__ import annotations

import base64
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.chromium import CHROMIUM, LAUNCH_ARGS
from helpers.server import BackgroundServer
from PIL import Image

from gmcnn import Inpainter
from gmcnn.web import create_app

pytestmark = pytest.mark.slow


if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); CI installs it", allow_module_level=True)

from playwright import sync_api  # noqa: E402  (the [dev] extra; only the browser itself may be absent)

expect = sync_api.expect

W, H = 192, 144  # test photo size
FILL_TIMEOUT_MS = 120_000  # the machine is shared; a fill is fast but may wait for CPU


@pytest.fixture(scope="module")
def server(inpainter: Inpainter) -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(inpainter)) as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any, server: BackgroundServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(server.url)
    expect(pg.locator("#model")).to_contain_text("cnum 4")
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="module")
def photo_file(photo: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("browser") / "astronaut.png"
    Image.fromarray(photo).resize((W, H), Image.Resampling.LANCZOS).save(path)
    return path


# ------------------------------------------------------------------------------------------------ helpers
def open_photo(page: Any, path: Path) -> None:
    page.set_input_files("#file", str(path))
    expect(page.locator("#fact-size")).to_have_text(f"{W}×{H} (0.0 MP)")


def screen(page: Any, x: float, y: float) -> tuple[float, float]:
    """Image pixel (x, y) -> page coordinates, through the current zoom and pan."""
    box = page.locator("#stage").bounding_box()
    return box["x"] + (x + 0.5) * box["width"] / W, box["y"] + (y + 0.5) * box["height"] / H


def drag(page: Any, points: list[tuple[float, float]]) -> None:
    page.mouse.move(*screen(page, *points[0]))
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(*screen(page, x, y), steps=4)
    page.mouse.up()


def choose_tool(page: Any, tool: str) -> None:
    page.click(f"[data-tool={tool}]")
    expect(page.locator(f"[data-tool={tool}]")).to_have_attribute("aria-pressed", "true")


def set_range(page: Any, selector: str, value: int) -> None:
    page.locator(selector).fill(str(value))  # fires "input" like a user dragging the slider


def download(page: Any, selector: str) -> tuple[str, Image.Image]:
    with page.expect_download() as info:
        page.click(selector)
    d = info.value
    return d.suggested_filename, Image.open(d.path())


def download_mask(page: Any) -> np.ndarray:
    name, mask = download(page, "#download-mask")
    assert name == "astronaut-mask.png"
    assert mask.format == "PNG" and mask.mode == "L" and mask.size == (W, H)  # exact size, lossless grey
    arr = np.asarray(mask)
    assert set(np.unique(arr).tolist()) <= {0, 255}  # binary
    return arr


def wait_fills(page: Any, n: int) -> None:
    """Wait until the page has applied its n-th fill; fail at once with the page's message if a fill failed."""
    done = page.locator(f'body[data-fills="{n}"][data-busy="false"]')
    failed = page.locator("#status.error")
    expect(done.or_(failed)).to_be_attached(timeout=FILL_TIMEOUT_MS)
    assert not failed.count(), f"the fill failed: {failed.text_content()}"


# ------------------------------------------------------------------------------------------------ tests
def test_paint_fill_download_undo(page: Any, photo_file: Path) -> None:
    original = np.asarray(Image.open(photo_file))
    open_photo(page, photo_file)
    set_range(page, "#size", 9)
    drag(page, [(40, 60), (80, 70), (120, 60)])
    expect(page.locator("#fact-hole")).not_to_have_text("none yet")
    painted = download_mask(page)
    assert painted[70, 80] == 255 and painted[10, 10] == 0

    page.click("#fill")
    expect(page.locator("#busy")).to_be_visible()  # busy indicator while the model runs
    wait_fills(page, 1)
    expect(page.locator("#busy")).to_be_hidden()
    expect(page.locator("#fact-hole")).to_have_text("none yet")  # the mask is used up by the fill

    name, result = download(page, "#download")
    assert name == "astronaut-filled.png" and result.format == "PNG" and result.size == (W, H)
    mask = download_mask(page)  # once the mask is empty: the mask of the last fill
    assert np.array_equal(mask, painted)
    changed = (np.asarray(result) != original).any(axis=2)
    assert changed[mask == 255].mean() > 0.5
    assert not changed[mask == 0].any()  # byte-identical outside the mask

    page.keyboard.press("Control+z")  # undo the fill: the photo and its mask are back
    expect(page.locator("#download")).to_be_disabled()
    expect(page.locator("#fact-hole")).not_to_have_text("none yet")
    assert np.array_equal(download_mask(page), painted)
    page.keyboard.press("Control+z")  # undo the stroke
    expect(page.locator("#download-mask")).to_be_disabled()
    page.keyboard.press("Control+Shift+z")
    page.keyboard.press("Control+Shift+z")  # redo both: the filled image is back
    expect(page.locator("#download")).to_be_enabled()
    _, again = download(page, "#download")
    assert np.array_equal(np.asarray(again), np.asarray(result))


def test_keep_painting_on_the_result(page: Any, photo_file: Path) -> None:
    open_photo(page, photo_file)
    set_range(page, "#size", 7)
    drag(page, [(30, 30), (60, 30)])
    page.keyboard.press("f")
    wait_fills(page, 1)
    _, first = download(page, "#download")
    drag(page, [(120, 100), (160, 110)])  # a second hole, painted on the result
    page.click("#fill")
    wait_fills(page, 2)
    _, second = download(page, "#download")
    mask = download_mask(page)  # everything filled: the union of both fills' masks
    changed = (np.asarray(second) != np.asarray(first)).any(axis=2)
    assert changed.any() and not changed[mask == 0].any()  # the first fill is kept, only the new hole changes
    assert mask[30, 45] == 255 and mask[105, 140] == 255  # both holes are in the saved mask
    original = np.asarray(Image.open(photo_file))
    assert not (np.asarray(second) != original).any(axis=2)[mask == 0].any()  # it covers every changed pixel
    page.click("#undo")
    _, back = download(page, "#download")
    assert np.array_equal(np.asarray(back), np.asarray(first))


def test_rectangle_and_eraser(page: Any, photo_file: Path) -> None:
    open_photo(page, photo_file)
    choose_tool(page, "rect")
    drag(page, [(50, 40), (130, 100)])
    rect = download_mask(page)
    assert rect[45:95, 55:125].min() == 255  # inside
    assert rect[:35].max() == 0 and rect[105:].max() == 0 and rect[:, :45].max() == 0 and rect[:, 135:].max() == 0

    page.keyboard.press("e")
    expect(page.locator("[data-tool=eraser]")).to_have_attribute("aria-pressed", "true")
    set_range(page, "#size", 10)
    drag(page, [(40, 70), (140, 70)])  # wipe a band across the rectangle
    erased = download_mask(page)
    assert erased[68:73, 55:125].max() == 0
    assert erased[45:60, 55:125].min() == 255 and erased[85:95, 55:125].min() == 255
    assert not (erased > rect).any()  # the eraser only removes

    page.keyboard.press("Control+z")
    assert np.array_equal(download_mask(page), rect)

    page.keyboard.press("r")
    page.keyboard.down("Alt")  # Alt + rectangle erases a rectangle
    drag(page, [(50, 40), (90, 100)])
    page.keyboard.up("Alt")
    half = download_mask(page)
    assert half[45:95, 55:85].max() == 0 and half[45:95, 95:125].min() == 255

    page.click("#clear")
    expect(page.locator("#download-mask")).to_be_disabled()
    page.click("#undo")  # clear is undoable too
    assert np.array_equal(download_mask(page), half)


def test_mask_upload_autofill_and_compare(page: Any, photo_file: Path, tmp_path: Path) -> None:
    original = np.asarray(Image.open(photo_file))
    open_photo(page, photo_file)
    uploaded = np.zeros((H, W), np.uint8)
    uploaded[20:50, 100:170] = 255
    mask_path = tmp_path / "hole.png"
    Image.fromarray(uploaded).save(mask_path)
    page.set_input_files("#mask-file", str(mask_path))
    expect(page.locator("#status")).to_contain_text("Loaded mask hole.png")
    assert np.array_equal(download_mask(page), uploaded)
    page.keyboard.press("Control+z")  # undo the upload
    expect(page.locator("#download-mask")).to_be_disabled()
    page.keyboard.press("Control+y")

    page.check("#autofill")  # the next stroke fills by itself
    set_range(page, "#size", 5)
    drag(page, [(20, 120), (60, 125)])
    wait_fills(page, 1)
    sent = download_mask(page)
    assert sent[20:50, 100:170].min() == 255 and sent[122, 40] == 255
    _, result = download(page, "#download")
    changed = (np.asarray(result) != original).any(axis=2)
    assert not changed[sent == 0].any()

    before = page.locator("#before")
    expect(before).to_be_hidden()
    page.keyboard.down("c")  # hold C: the original is shown over the result
    expect(before).to_be_visible()
    page.keyboard.up("c")
    expect(before).to_be_hidden()
    set_range(page, "#compare", 50)  # the slider shows a split view
    expect(before).to_be_visible()
    expect(page.locator("#split")).to_be_visible()


def test_view_keys_and_help(page: Any, photo_file: Path) -> None:
    open_photo(page, photo_file)
    zoom = page.locator("#fact-zoom")
    fitted = zoom.text_content()
    x, y = screen(page, W / 2, H / 2)
    page.mouse.move(x, y)
    page.mouse.wheel(0, -400)  # zoom in around the cursor
    expect(zoom).not_to_have_text(fitted)
    box = page.locator("#stage").bounding_box()
    page.keyboard.down(" ")  # space + drag pans
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y + 40, steps=5)
    page.mouse.up()
    page.keyboard.up(" ")
    moved = page.locator("#stage").bounding_box()
    assert moved["x"] == pytest.approx(box["x"] + 60, abs=1) and moved["y"] == pytest.approx(box["y"] + 40, abs=1)
    expect(page.locator("#download-mask")).to_be_disabled()  # panning painted nothing
    page.keyboard.press("0")
    expect(zoom).to_have_text(fitted)

    size = page.locator("#size-out")
    start = int(size.text_content())
    page.keyboard.press("]")
    assert int(size.text_content()) > start
    page.keyboard.press("[")
    page.keyboard.press("[")
    assert int(size.text_content()) < start

    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    expect(page.locator("#help")).to_contain_text("undo")
    page.keyboard.press("Escape")
    expect(page.locator("#help")).to_be_hidden()


def test_drop_and_paste_open_an_image(page: Any, photo_file: Path) -> None:
    data = base64.b64encode(photo_file.read_bytes()).decode()
    make_file = (
        "b64 => new File([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], 'astronaut.png', {type: 'image/png'})"
    )
    page.evaluate(
        f"""b64 => {{
            const dt = new DataTransfer();
            dt.items.add(({make_file})(b64));
            const drop = new DragEvent('drop', {{dataTransfer: dt, bubbles: true}});
            document.getElementById('viewport').dispatchEvent(drop);
        }}""",
        data,
    )
    expect(page.locator("#fact-size")).to_have_text(f"{W}×{H} (0.0 MP)")
    expect(page.locator("#status")).to_contain_text("Opened astronaut.png")
    small = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(small, "PNG")
    page.evaluate(
        f"""b64 => {{
            const dt = new DataTransfer();
            dt.items.add(({make_file})(b64));
            document.dispatchEvent(new ClipboardEvent('paste', {{clipboardData: dt, bubbles: true}}));
        }}""",
        base64.b64encode(small.getvalue()).decode(),
    )
    expect(page.locator("#fact-size")).to_have_text("64×48 (0.0 MP)")


def test_large_hole_warning_and_strategy(page: Any, photo_file: Path) -> None:
    open_photo(page, photo_file)
    warning = page.locator("#warning")
    choose_tool(page, "rect")
    drag(page, [(60, 50), (75, 65)])  # 16 px: small for a model trained on 64 px images
    expect(warning).to_be_hidden()
    drag(page, [(10, 10), (180, 130)])  # most of the image
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("64 px")
    page.select_option("#strategy", "resize")
    expect(page.locator("#strategy-hint")).to_contain_text("resize")
    set_range(page, "#detail", 1)  # the smallest processing size: 256 px
    expect(page.locator("#detail-out")).to_have_text("256 px")
    page.click("#fill")
    wait_fills(page, 1)
    expect(page.locator("#status")).to_contain_text("strategy resize")  # what the server says it used


def test_server_errors_are_shown(browser: Any, inpainter: Inpainter, photo_file: Path) -> None:
    with BackgroundServer(create_app(inpainter, max_pixels=100 * 100)) as live:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(live.url)
        expect(page.locator("#model")).to_contain_text("cnum 4")
        page.set_input_files("#file", str(photo_file))
        expect(page.locator("#status")).to_contain_text("accepts up to")  # refused before upload
        context.close()
    # Enough memory budget to check the photo at open (8 B/px), not to fill it (24 B/px): refused at Fill.
    with BackgroundServer(create_app(inpainter, memory_budget=W * H * 16)) as live:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(live.url)
        expect(page.locator("#model")).to_contain_text("cnum 4")
        open_photo(page, photo_file)
        drag(page, [(40, 40), (60, 60)])
        page.click("#fill")
        expect(page.locator("#status")).to_contain_text("HTTP 413", timeout=FILL_TIMEOUT_MS)
        expect(page.locator("#status")).to_have_class("error")
        expect(page.locator("#fill")).to_be_enabled()  # not stuck busy
        context.close()


# ------------------------------------------------------------------------------------------------ hardening
def test_unsaved_result_guard(page: Any, photo_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.png"
    Image.new("RGB", (64, 48), (10, 200, 30)).save(other)
    open_photo(page, photo_file)
    drag(page, [(40, 40), (70, 50)])
    page.click("#fill")
    wait_fills(page, 1)
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.set_input_files("#file", str(other))
    expect(page.locator("#status")).to_contain_text("Kept the current image")
    assert asked and "not been saved" in asked[0]
    expect(page.locator("#fact-size")).to_have_text(f"{W}×{H} (0.0 MP)")  # the result and its history stay
    expect(page.locator("body")).to_have_attribute("data-undo", "2")
    download(page, "#download")  # saved: opening another image asks nothing
    expect(page.locator("body")).to_have_attribute("data-saved", "true")
    page.set_input_files("#file", str(other))
    expect(page.locator("#fact-size")).to_have_text("64×48 (0.0 MP)")
    assert len(asked) == 1


def test_ctrl_s_before_any_fill_says_so(page: Any, photo_file: Path) -> None:
    page.keyboard.press("Control+s")
    expect(page.locator("#status")).to_contain_text("open an image first")
    open_photo(page, photo_file)
    page.keyboard.press("Control+s")
    expect(page.locator("#status")).to_contain_text("Nothing to save yet")


def test_validation_at_open_uses_the_server_rules(page: Any, photo_file: Path, tmp_path: Path) -> None:
    photo = Image.open(photo_file)
    photo.save(tmp_path / "anim.gif")
    data = photo_file.read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    status = page.locator("#status")
    page.set_input_files("#file", str(tmp_path / "anim.gif"))  # the browser shows GIFs; the server refuses them
    expect(status).to_contain_text("GIF")
    expect(status).to_have_class("error")
    expect(page.locator("#stage")).to_be_hidden()
    page.set_input_files("#file", str(tmp_path / "cut.png"))
    expect(status).to_contain_text("truncated")
    expect(page.locator("#stage")).to_be_hidden()

    photo.save(tmp_path / "scan.tif")  # the browser cannot show TIFF; the server can fill it
    page.set_input_files("#file", str(tmp_path / "scan.tif"))
    expect(page.locator("#fact-size")).to_have_text(f"{W}×{H} (0.0 MP)")
    expect(page.locator("#fact-exact")).to_contain_text("byte-identical")
    drag(page, [(40, 60), (90, 70)])
    page.click("#fill")
    wait_fills(page, 1)
    name, result = download(page, "#download")
    assert name == "scan-filled.tif" and result.format == "TIFF"
    with page.expect_download() as info:
        page.click("#download-mask")
    hole = np.asarray(Image.open(info.value.path()))
    changed = (np.asarray(result.convert("RGB")) != np.asarray(photo.convert("RGB"))).any(axis=2)
    assert changed[hole == 255].mean() > 0.5 and not changed[hole == 0].any()


def test_option_bounds_come_from_the_server(page: Any, server: BackgroundServer) -> None:
    options = page.evaluate("fetch('/api/v1/health').then(r => r.json()).then(h => h.options)")
    for name in ("grow", "feather"):
        slider = page.locator(f"#{name}")
        assert int(slider.get_attribute("max")) == options[name]["maximum"]
        assert int(slider.get_attribute("min")) == options[name]["minimum"]
    set_range(page, "#detail", 99)  # the largest step the server allows
    largest = int(page.locator("#detail-out").text_content().split()[0])
    assert options["process_size"]["minimum"] <= largest <= options["process_size"]["maximum"]


class Slow:
    """The tiny model, but each window takes a second: long enough to watch progress and cancel."""

    def __init__(self, inner: Inpainter) -> None:
        self.inner = inner

    def fill(self, image: Any, mask: Any, options: Any = None, *, progress: Any = None) -> Any:
        def slowly(done: int, total: int) -> None:
            if progress is not None:
                progress(done, total)
            time.sleep(1.0)

        return self.inner.fill(image, mask, options, progress=slowly)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_progress_and_cancel(browser: Any, inpainter: Inpainter, photo_file: Path) -> None:
    with BackgroundServer(create_app(Slow(inpainter))) as live:
        context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
        page = context.new_page()
        page.goto(live.url)
        expect(page.locator("#model")).to_contain_text("cnum 4")
        open_photo(page, photo_file)
        set_range(page, "#size", 6)
        drag(page, [(10, 10), (20, 14)])  # two holes far apart: two crop windows
        drag(page, [(175, 125), (185, 130)])
        page.select_option("#strategy", "crop")
        page.click("#fill")
        expect(page.locator("#busy-text")).to_contain_text("of 2", timeout=FILL_TIMEOUT_MS)  # the server's count
        page.click("#cancel")
        expect(page.locator("#status")).to_contain_text("Fill cancelled", timeout=FILL_TIMEOUT_MS)
        expect(page.locator("body")).to_have_attribute("data-busy", "false")
        expect(page.locator("body")).to_have_attribute("data-fills", "0")
        expect(page.locator("#download")).to_be_disabled()
        expect(page.locator("#fill")).to_be_enabled()
        page.click("#fill")  # the next fill runs to the end, with real progress
        expect(page.locator("body")).to_have_attribute("data-progress", "1/2", timeout=FILL_TIMEOUT_MS)
        wait_fills(page, 1)
        context.close()


def touch(cdp: Any, kind: str, points: list[tuple[float, float]]) -> None:
    cdp.send(
        "Input.dispatchTouchEvent",
        {"type": kind, "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]},
    )


def gesture(cdp: Any, start: list[tuple[float, float]], end: list[tuple[float, float]], steps: int = 8) -> None:
    touch(cdp, "touchStart", start)
    for k in range(1, steps + 1):
        t = k / steps
        touch(
            cdp,
            "touchMove",
            [(a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t) for a, b in zip(start, end, strict=True)],
        )
    touch(cdp, "touchEnd", [])


def test_phone_pinch_zoom_paint_and_fill(
    browser: Any, server: BackgroundServer, photo_file: Path, tmp_path: Path
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        has_touch=True,
        is_mobile=True,
        device_scale_factor=2,
        accept_downloads=True,
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url)
    expect(page.locator("#model")).to_contain_text("cnum 4")
    open_photo(page, photo_file)
    viewport = page.locator("#viewport").bounding_box()
    assert viewport["width"] >= 380  # the canvas takes the screen's width, the panel is a sheet
    fitted = float(page.locator("body").get_attribute("data-zoom"))
    assert fitted * W >= 0.9 * viewport["width"]  # the photo fills the width, not 19 % of it
    brush = int(page.locator("#size-out").text_content())
    assert brush >= W / 30 and brush * fitted >= 23  # scaled to the image, and never thinner than a fingertip
    cdp = context.new_cdp_session(page)
    cx, cy = viewport["x"] + viewport["width"] / 2, viewport["y"] + viewport["height"] / 2
    gesture(cdp, [(cx - 40, cy), (cx + 40, cy)], [(cx - 110, cy), (cx + 110, cy)])  # pinch out
    expect(page.locator("body")).not_to_have_attribute("data-zoom", f"{fitted:.4f}")
    zoomed = float(page.locator("body").get_attribute("data-zoom"))
    assert zoomed == pytest.approx(fitted * 220 / 80, rel=0.1)
    assert page.locator("#download-mask").is_disabled()  # a pinch paints nothing
    before = page.locator("#stage").bounding_box()
    gesture(cdp, [(cx - 50, cy), (cx + 50, cy)], [(cx - 20, cy + 60), (cx + 80, cy + 60)])  # two-finger pan
    after = page.locator("#stage").bounding_box()
    assert after["x"] == pytest.approx(before["x"] + 30, abs=3) and after["y"] == pytest.approx(before["y"] + 60, abs=3)
    assert page.locator("#download-mask").is_disabled()
    x0, y0 = screen(page, 80, 60)
    x1, y1 = screen(page, 110, 80)
    gesture(cdp, [(x0, y0)], [(x1, y1)])  # one finger paints
    expect(page.locator("#fact-hole")).not_to_have_text("none yet")
    page.wait_for_timeout(600)  # Chromium takes a tap right after a touch stroke as part of a double tap
    page.tap("#fill")
    wait_fills(page, 1)
    page.tap("#panel-toggle")
    expect(page.locator(".panel")).to_be_visible()
    page.tap("#panel-toggle")
    shot = tmp_path / "phone.png"
    page.screenshot(path=str(shot))
    assert Image.open(shot).size == (780, 1688)
    context.close()
    assert not errors, errors
