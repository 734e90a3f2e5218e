"""End-to-end tests of the painter page in a real browser (Playwright driving Debian's chromium, headless).

The server runs in a thread on a free 127.0.0.1 port with a tiny model (fixtures in ``helpers/browser.py``).
Every check goes through the page as a person would use it: open a file, drag on the canvas, press buttons
and keys, download files. The feature tests live beside: ``test_browser_options.py`` (controls from the
schema), ``test_browser_explain.py``, ``test_browser_select.py``, ``test_browser_messages.py``.
"""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.browser import (
    DESKTOP,
    FILL_TIMEOUT_MS,
    H,
    W,
    choose_tool,
    download,
    download_mask,
    drag,
    expect,
    gesture,
    need_chromium,
    open_page,
    open_photo,
    press,
    screen,
    set_range,
    wait_fills,
)
from helpers.formats import png16
from helpers.server import BackgroundServer
from PIL import Image

from gmcnn import Inpainter
from gmcnn.web import create_app

pytestmark = pytest.mark.slow
need_chromium()


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
    press(page, "#undo")
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

    press(page, "#clear")
    expect(page.locator("#download-mask")).to_be_disabled()
    press(page, "#undo")  # clear is undoable too
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


def test_strategy_in_advanced_reaches_the_server(page: Any, photo_file: Path) -> None:
    open_photo(page, photo_file)
    choose_tool(page, "rect")
    drag(page, [(60, 50), (75, 65)])
    page.click("#advanced summary")
    page.select_option("#opt-strategy", "resize")
    expect(page.locator("#strategy-hint")).to_contain_text("resize")
    page.click("#fill")
    wait_fills(page, 1)
    expect(page.locator("#status")).to_contain_text("strategy resize")  # what the server says it used


def test_server_errors_are_shown(browser: Any, inpainter: Inpainter, photo_file: Path) -> None:
    with BackgroundServer(create_app(inpainter, max_pixels=100 * 100)) as live:
        context, page, _ = open_page(browser, live.url, DESKTOP)
        page.set_input_files("#file", str(photo_file))
        expect(page.locator("#status")).to_contain_text("accepts up to")  # refused before upload
        context.close()
    # Enough memory budget to check the photo at open (8 B/px), not to fill it (24 B/px): refused at Fill.
    with BackgroundServer(create_app(inpainter, memory_budget=W * H * 16)) as live:
        context, page, _ = open_page(browser, live.url, DESKTOP)
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
    (tmp_path / "deep.png").write_bytes(png16(2, 3))  # the browser shows 16-bit colour; a fill could not keep it
    page.set_input_files("#file", str(tmp_path / "deep.png"))
    expect(status).to_contain_text("convert it to 8 bits per channel")  # /api/v1/check's words, before any paint
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
        press(page, "#download-mask")
    hole = np.asarray(Image.open(info.value.path()))
    changed = (np.asarray(result.convert("RGB")) != np.asarray(photo.convert("RGB"))).any(axis=2)
    assert changed[hole == 255].mean() > 0.5 and not changed[hole == 0].any()


class Slow:
    """The tiny model, but each window takes a second: long enough to watch progress and cancel."""

    def __init__(self, inner: Inpainter) -> None:
        self.inner = inner

    def fill(self, image: Any, mask: Any, options: Any = None, *, progress: Any = None, **kwargs: Any) -> Any:
        def slowly(done: int, total: int) -> None:
            if progress is not None:
                progress(done, total)
            time.sleep(1.0)

        return self.inner.fill(image, mask, options, progress=slowly, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_progress_and_cancel(browser: Any, inpainter: Inpainter, photo_file: Path) -> None:
    with BackgroundServer(create_app(Slow(inpainter))) as live:
        context, page, _ = open_page(browser, live.url, DESKTOP)
        open_photo(page, photo_file)
        set_range(page, "#size", 6)
        drag(page, [(10, 10), (20, 14)])  # two holes far apart: two crop windows
        drag(page, [(175, 125), (185, 130)])
        page.click("#advanced summary")
        page.select_option("#opt-strategy", "crop")
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


def test_phone_pinch_zoom_paint_and_fill(phone: Any, photo_file: Path, tmp_path: Path) -> None:
    page = phone
    open_photo(page, photo_file)
    viewport = page.locator("#viewport").bounding_box()
    assert viewport["width"] >= 380  # the canvas takes the screen's width
    fitted = float(page.locator("body").get_attribute("data-zoom"))
    assert fitted * W >= 0.9 * viewport["width"]  # the photo fills the width, not 19 % of it
    brush = int(page.locator("#size-out").text_content())
    assert brush >= W / 30 and brush * fitted >= 23  # scaled to the image, and never thinner than a fingertip
    cdp = page.context.new_cdp_session(page)
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
    shot = tmp_path / "phone.png"
    page.screenshot(path=str(shot))
    assert Image.open(shot).size == (780, 1688)
