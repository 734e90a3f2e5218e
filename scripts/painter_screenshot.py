"""Screenshot the painter as the README shows it: desktop, ``--phone`` or ``--explain`` (how it was filled).

Usage: python3 scripts/painter_screenshot.py PHOTO OUT.png [--model NAME_OR_PATH] [--phone | --explain]

* desktop (1280x800): the ladybird filled at Detail 0.6, then a flower picked with smart select, its grow halo
  drawn and the large-hole warning over the image;
* ``--phone`` (390x844 touch screen): pinch-zoomed on the ladybird, filled with one finger, the settings open
  below the image (which keeps its zoom);
* ``--explain`` (1280x800): a fill explained at Detail 0.5, its sources layer zoomed in on the hole.

The photo used for the README: data/corpus/train/mate-ladybird.jpg (MATE's "ladybird" background), with
``--model default``, written to runs/screenshots/painter.png, painter-phone.png and painter-explain.png;
``scripts/docs_pictures.py`` puts the small copies in docs/. Without --model, a randomly initialised full-size
GMCNN shows the page but not fill quality. ``--smoke``: a generated photo and a tiny model, the three
screenshots into a temp folder. Needs Chromium and Playwright (the [dev] extra).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LADYBIRD = [(1700, 760), (1860, 840), (1700, 860), (1840, 760)]  # a stroke over the ladybird (2560x1600 photo)
FLOWER = [(250, 420), (330, 470), (420, 520)]  # across a flower's petals, for smart select
FILL_MS = 600_000  # the full-size model on a shared CPU
DEVICES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "explain": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "has_touch": True,
        "is_mobile": True,
        "device_scale_factor": 2,
    },
}


def image_point(page: Any, x: float, y: float) -> tuple[float, float]:
    """Page coordinates of a point given on the 2560-px-wide photo (whatever the opened photo's size)."""
    box = page.locator("#stage").bounding_box()
    w, h = page.evaluate("(m => [m.width, m.height])(document.getElementById('mask'))")
    k = w / 2560
    return box["x"] + x * k * box["width"] / w, box["y"] + y * k * box["height"] / h


def mouse_stroke(page: Any, points: list[tuple[float, float]]) -> None:
    page.mouse.move(*image_point(page, *points[0]))
    page.mouse.down()
    for pt in points[1:]:
        page.mouse.move(*image_point(page, *pt), steps=6)
    page.mouse.up()


def wait_fill(page: Any) -> None:
    from playwright.sync_api import expect

    expect(page.locator('body[data-fills="1"][data-busy="false"]')).to_be_attached(timeout=FILL_MS)


def desktop(page: Any) -> None:
    from playwright.sync_api import expect

    page.locator("#size").fill("150")
    page.locator("#opt-detail").fill("0.6")  # texture from the photo into the network's fill
    mouse_stroke(page, LADYBIRD)
    page.click("#fill")
    wait_fill(page)
    page.locator("#opt-grow").fill("12")  # the halo: what Grow mask adds around the selection
    page.click("[data-tool=select]")
    page.locator("#size").fill("40")
    mouse_stroke(page, FLOWER)
    expect(page.locator("#status")).to_contain_text("Selected", timeout=120_000)
    page.mouse.move(*image_point(page, 900, 1300))
    expect(page.locator("#strategy-hint")).to_contain_text("window", timeout=60_000)  # the server's plan


def phone(page: Any) -> None:
    cdp = page.context.new_cdp_session(page)

    def touch(kind: str, points: list[tuple[float, float]]) -> None:
        pts = [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": pts})

    def gesture(start: list[tuple[float, float]], end: list[tuple[float, float]]) -> None:
        touch("touchStart", start)
        for k in range(1, 11):
            t = k / 10
            touch(
                "touchMove",
                [(a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t) for a, b in zip(start, end, strict=True)],
            )
        touch("touchEnd", [])

    x, y = image_point(page, 1780, 810)
    gesture([(x - 30, y), (x + 30, y)], [(x - 90, y), (x + 90, y)])  # pinch in on the ladybird
    vp = page.locator("#viewport").bounding_box()
    x, y = image_point(page, 1780, 810)
    cx, cy = vp["x"] + vp["width"] / 2, vp["y"] + vp["height"] / 2
    gesture([(x - 40, y), (x + 40, y)], [(cx - 40, cy), (cx + 40, cy)])  # two-finger pan: centre it
    page.evaluate("(s => { s.value = 130; s.dispatchEvent(new Event('input')); })(document.getElementById('size'))")
    pts = [image_point(page, px, py) for px, py in LADYBIRD]
    touch("touchStart", [pts[0]])
    for a, b in zip(pts, pts[1:], strict=False):
        for k in range(1, 7):
            touch("touchMove", [(a[0] + (b[0] - a[0]) * k / 6, a[1] + (b[1] - a[1]) * k / 6)])
    touch("touchEnd", [])
    time.sleep(0.7)  # a tap right after a touch stroke would count as a double tap
    page.tap("#fill")
    wait_fill(page)
    page.tap("#panel-toggle")  # the settings below the image, which shrinks to make room


def explain(page: Any) -> None:
    from playwright.sync_api import expect

    page.locator("#size").fill("150")
    page.check("#explain")
    page.locator("#opt-detail").fill("0.5")
    mouse_stroke(page, LADYBIRD)
    page.click("#fill")
    wait_fill(page)
    page.click("[data-layer=sources]")
    expect(page.locator("#layer")).to_be_visible()
    page.mouse.move(*image_point(page, 1780, 810))
    for _ in range(3):  # zoom in on the hole with the wheel: the fill's sources up close
        page.mouse.wheel(0, -250)
        time.sleep(0.2)
    page.mouse.move(1200, 600)  # the brush cursor off the picture
    for _ in range(200):  # the picture is encoded by the server on its first request
        if page.evaluate("(i => i.complete && i.naturalWidth > 0)(document.getElementById('layer'))"):
            break
        time.sleep(0.1)


def smoke_photo(folder: Path) -> Path:
    """A generated 2560x1600 photo: sky, ground, a red disc under the ladybird stroke, a flower-like blob."""
    import numpy as np
    from PIL import Image

    h, w = 400, 640  # drawn at a quarter of the size, then scaled up
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:h, :w]
    picture = np.where((yy < h * 0.55)[..., None], [120, 170, 230], [90, 140, 70]).astype(np.float64)
    picture += rng.normal(0, 8, picture.shape)
    picture[(yy - 202) ** 2 + (xx - 445) ** 2 < 22**2] = [200, 40, 40]
    picture[(yy - 118) ** 2 + (xx - 83) ** 2 < 25**2] = [120, 150, 240]
    path = folder / "photo.png"
    Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8)).resize((2560, 1600)).save(path)
    return path


def screenshot(photo: Path, out: Path, inpainter: Any, shot: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    from gmcnn.web import create_app

    # The tests' in-process server and browser settings (not part of the package).
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers.chromium import CHROMIUM, LAUNCH_ARGS
    from helpers.server import BackgroundServer

    with BackgroundServer(create_app(inpainter)) as live, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        context = browser.new_context(**DEVICES[shot])
        page = context.new_page()
        page.goto(live.url)
        expect(page.locator("#model")).to_contain_text("cnum")
        page.set_input_files("#file", str(photo))
        expect(page.locator("#fact-size")).not_to_have_text("—", timeout=60_000)
        {"desktop": desktop, "phone": phone, "explain": explain}[shot](page)
        time.sleep(0.5)
        page.screenshot(path=str(out))
        browser.close()
    print("wrote", out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", nargs="?", type=Path, help="the photo to paint on (2560x1600)")
    parser.add_argument("out", nargs="?", type=Path, help="the PNG to write")
    parser.add_argument("--model", help="weights to fill with (default: an untrained full-size GMCNN)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--phone", action="store_true", help="a 390x844 touch screen, pinch-zoomed, settings open")
    which.add_argument("--explain", action="store_true", help="how it was filled: the sources layer, zoomed in")
    parser.add_argument("--smoke", action="store_true", help="a generated photo and a tiny model, temp folder")
    args = parser.parse_args()
    if not args.smoke and not (args.photo and args.out):
        parser.error("give PHOTO and OUT (or --smoke)")

    import torch

    from gmcnn import GMCNN, GMCNNConfig, Inpainter

    torch.manual_seed(0)
    if args.smoke:
        tmp = Path(tempfile.mkdtemp(prefix="gmcnn-smoke-"))
        inpainter = Inpainter.from_generator(GMCNN(GMCNNConfig(cnum=4)), device="cpu", name="smoke")
        photo = smoke_photo(tmp)
        for shot in DEVICES:
            screenshot(photo, tmp / f"{shot}.png", inpainter, shot)
        return
    if args.model:
        inpainter = Inpainter.from_pretrained(args.model, device="cpu")
    else:
        inpainter = Inpainter.from_generator(GMCNN(GMCNNConfig()), device="cpu", name="untrained (layout only)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    screenshot(args.photo, args.out, inpainter, "phone" if args.phone else "explain" if args.explain else "desktop")


if __name__ == "__main__":
    main()
