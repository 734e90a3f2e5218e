"""Take docs/painter.png (desktop) or docs/painter-phone.png (--phone: 390x844 touch screen, pinch-zoomed).

Usage: python3 docs/make_painter_screenshot.py PHOTO OUT.png [--model NAME_OR_PATH] [--phone]

The photo used for the README: /work/data/corpus/train/mate-ladybird.jpg (MATE's "ladybird" background).
Without --model, a randomly initialised full-size GMCNN shows the page but not fill quality.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch
from playwright.sync_api import expect, sync_playwright

from gmcnn import GMCNN, GMCNNConfig, Inpainter
from gmcnn.web import create_app
from gmcnn.web.background import BackgroundServer
from gmcnn.web.chromium import CHROMIUM, LAUNCH_ARGS


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
    parser.add_argument("photo")
    parser.add_argument("out")
    parser.add_argument("--model")
    parser.add_argument("--phone", action="store_true")
    args = parser.parse_args()
    if args.model:
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


if __name__ == "__main__":
    main()
