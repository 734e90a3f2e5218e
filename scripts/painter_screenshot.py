"""Screenshot the painter as the README shows it: desktop, or ``--phone`` (390x844 touch screen, pinch-zoomed).

Usage: python3 scripts/painter_screenshot.py PHOTO OUT.png [--model NAME_OR_PATH] [--phone]

The photo used for the README: data/corpus/train/mate-ladybird.jpg (MATE's "ladybird" background), written to
runs/screenshots/painter.png and painter-phone.png; ``scripts/docs_pictures.py`` puts the small copies in docs/.
Without --model, a randomly initialised full-size GMCNN shows the page but not fill quality. ``--smoke``: a
generated photo and a tiny model, into a temp folder. Needs Chromium and Playwright (the [dev] extra).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from gmcnn import GMCNN, GMCNNConfig, Inpainter
from gmcnn.web import create_app

# The tests' in-process server and browser settings (not part of the package).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers.chromium import CHROMIUM, LAUNCH_ARGS  # noqa: E402
from helpers.server import BackgroundServer  # noqa: E402


def image_point(page: Any, size: tuple[int, int], x: float, y: float) -> tuple[float, float]:
    box = page.locator("#stage").bounding_box()
    return box["x"] + x * box["width"] / size[0], box["y"] + y * box["height"] / size[1]


def desktop(page: Any, size: tuple[int, int]) -> None:
    def stroke(points: list[tuple[float, float]]) -> None:
        page.mouse.move(*image_point(page, size, *points[0]))
        page.mouse.down()
        for pt in points[1:]:
            page.mouse.move(*image_point(page, size, *pt), steps=6)
        page.mouse.up()

    page.locator("#size").fill("150")
    stroke([(1700, 760), (1860, 840), (1700, 860), (1840, 760)])  # the ladybird
    page.click("#fill")
    expect(page.locator("body")).to_have_attribute("data-fills", "1", timeout=300000)
    page.locator("#size").fill("90")
    stroke([(250, 380), (420, 470), (330, 560)])  # a flower, painted but not filled yet
    page.mouse.move(*image_point(page, size, 900, 1300))
    expect(page.locator("#strategy-hint")).to_contain_text("window", timeout=60000)  # the server's plan


def phone(page: Any, size: tuple[int, int]) -> None:
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

    x, y = image_point(page, size, 1780, 810)
    gesture([(x - 30, y), (x + 30, y)], [(x - 90, y), (x + 90, y)])  # pinch in on the ladybird
    vp = page.locator("#viewport").bounding_box()
    x, y = image_point(page, size, 1780, 810)
    cx, cy = vp["x"] + vp["width"] / 2, vp["y"] + vp["height"] / 2
    gesture([(x - 40, y), (x + 40, y)], [(cx - 40, cy), (cx + 40, cy)])  # two-finger pan: centre it
    page.locator("#size").fill("130")
    pts = [image_point(page, size, px, py) for px, py in [(1700, 760), (1860, 840), (1700, 860), (1840, 760)]]
    touch("touchStart", [pts[0]])
    for a, b in zip(pts, pts[1:], strict=False):
        for k in range(1, 7):
            touch("touchMove", [(a[0] + (b[0] - a[0]) * k / 6, a[1] + (b[1] - a[1]) * k / 6)])
    touch("touchEnd", [])
    time.sleep(0.7)  # a tap right after a touch stroke would count as a double tap
    page.tap("#fill")
    expect(page.locator("body")).to_have_attribute("data-fills", "1", timeout=300000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", nargs="?", help="the photo to paint on (2560x1600 or larger)")
    parser.add_argument("out", nargs="?", help="the PNG to write")
    parser.add_argument("--model", help="weights to fill with (default: an untrained full-size GMCNN)")
    parser.add_argument("--phone", action="store_true", help="a 390x844 touch screen, pinch-zoomed")
    parser.add_argument("--smoke", action="store_true", help="a generated photo and a tiny model, temp folder")
    args = parser.parse_args()
    if args.smoke:
        tmp = Path(tempfile.mkdtemp(prefix="gmcnn-smoke-"))
        rng = np.random.default_rng(0)
        photo = Image.fromarray(rng.integers(0, 256, (10, 16, 3), dtype=np.uint8)).resize((2560, 1600))
        photo.save(tmp / "photo.png")
        args.photo, args.out = str(tmp / "photo.png"), str(tmp / "painter.png")
        torch.manual_seed(0)
        inpainter = Inpainter.from_generator(GMCNN(GMCNNConfig(cnum=4)), device="cpu", name="smoke")
    elif not (args.photo and args.out):
        parser.error("give PHOTO and OUT (or --smoke)")
    elif args.model:
        inpainter = Inpainter.from_pretrained(args.model, device="cpu")
    else:
        torch.manual_seed(0)
        inpainter = Inpainter.from_generator(GMCNN(GMCNNConfig()), device="cpu", name="untrained (layout only)")
    with BackgroundServer(create_app(inpainter)) as live, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        if args.phone:
            context = browser.new_context(
                viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True, device_scale_factor=2
            )
        else:
            context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.goto(live.url)
        expect(page.locator("#model")).to_contain_text("cnum")
        page.set_input_files("#file", args.photo)
        expect(page.locator("#fact-size")).not_to_have_text("—", timeout=60000)
        size = tuple(int(v) for v in page.locator("#fact-size").text_content().split(" ")[0].split("×"))
        (phone if args.phone else desktop)(page, size)
        time.sleep(0.5)
        page.screenshot(path=args.out)
        browser.close()
    print("wrote", args.out)


if __name__ == "__main__":
    main()
