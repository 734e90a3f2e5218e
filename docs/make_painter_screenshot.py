"""Take the README's screenshots of the painter: desktop, phone and the "how it was filled" view (JPEG, small).

Usage:
    python3 docs/make_painter_screenshot.py [--photo PHOTO] [--out DIR] [--model NAME_OR_PATH] [--only NAME ...]
    python3 docs/make_painter_screenshot.py --smoke      # a tiny random model on a generated photo, into a temp dir

Writes DIR/painter.jpg (1280x800: a fill done, a smart selection with its grow halo waiting), DIR/painter-phone.jpg
(390x844 touch screen, pinch-zoomed, filled, the settings sheet open below the image) and
DIR/painter-explain.jpg (the sources layer of an explained fill at detail 0.5, zoomed in on the hole). The photo used for the README:
/work/data/corpus/train/mate-ladybird.jpg (MATE's "ladybird" background); the model: the embedded default.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_PHOTO = Path("/work/data/corpus/train/mate-ladybird.jpg")
SHOTS = ("desktop", "phone", "explain")
LADYBIRD = [(1700, 760), (1860, 840), (1700, 860), (1840, 760)]  # a stroke over the ladybird (2560x1600 photo)
FLOWER = [(250, 420), (330, 470), (420, 520)]  # across a flower's petals, for smart select
FILL_MS = 600_000  # the full-size model on a shared CPU


def image_point(page: Any, x: float, y: float) -> tuple[float, float]:
    box = page.locator("#stage").bounding_box()
    w, h = page.evaluate("(m => [m.width, m.height])(document.getElementById('mask'))")
    return box["x"] + x * box["width"] / w, box["y"] + y * box["height"] / h


def scaled(page: Any, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points given on the 2560-px photo, on the photo actually opened (the smoke test's is smaller)."""
    w = page.evaluate("document.getElementById('mask').width")
    return [(x * w / 2560, y * w / 2560) for x, y in points]


def mouse_stroke(page: Any, points: list[tuple[float, float]]) -> None:
    page.mouse.move(*image_point(page, *points[0]))
    page.mouse.down()
    for pt in points[1:]:
        page.mouse.move(*image_point(page, *pt), steps=6)
    page.mouse.up()


def wait_fill(page: Any, n: int) -> None:
    from playwright.sync_api import expect

    expect(page.locator(f'body[data-fills="{n}"][data-busy="false"]')).to_be_attached(timeout=FILL_MS)


def desktop(page: Any) -> None:
    from playwright.sync_api import expect

    page.locator("#size").fill("150")
    page.locator("#opt-detail").fill("0.6")  # texture from the photo into the network's fill
    mouse_stroke(page, scaled(page, LADYBIRD))
    page.click("#fill")
    wait_fill(page, 1)
    page.locator("#opt-grow").fill("12")  # the halo: what Grow mask adds around the selection
    page.click("[data-tool=select]")
    page.locator("#size").fill("40")
    mouse_stroke(page, scaled(page, FLOWER))
    expect(page.locator("#status")).to_contain_text("Selected", timeout=120_000)
    page.mouse.move(*image_point(page, *scaled(page, [(900, 1300)])[0]))
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

    centre = scaled(page, [(1780, 810)])[0]
    x, y = image_point(page, *centre)
    gesture([(x - 30, y), (x + 30, y)], [(x - 90, y), (x + 90, y)])  # pinch in on the ladybird
    vp = page.locator("#viewport").bounding_box()
    x, y = image_point(page, *centre)
    cx, cy = vp["x"] + vp["width"] / 2, vp["y"] + vp["height"] / 2
    gesture([(x - 40, y), (x + 40, y)], [(cx - 40, cy), (cx + 40, cy)])  # two-finger pan: centre it
    page.evaluate("document.getElementById('size').value = 130")
    page.locator("#size").dispatch_event("input")
    pts = [image_point(page, px, py) for px, py in scaled(page, LADYBIRD)]
    touch("touchStart", [pts[0]])
    for a, b in zip(pts, pts[1:], strict=False):
        for k in range(1, 7):
            touch("touchMove", [(a[0] + (b[0] - a[0]) * k / 6, a[1] + (b[1] - a[1]) * k / 6)])
    touch("touchEnd", [])
    time.sleep(0.7)  # a tap right after a touch stroke would count as a double tap
    page.tap("#fill")
    wait_fill(page, 1)
    page.tap("#panel-toggle")  # the settings below the image, which shrinks to make room


def explain(page: Any) -> None:
    from playwright.sync_api import expect

    page.locator("#size").fill("150")
    page.check("#explain")
    page.locator("#opt-detail").fill("0.5")
    mouse_stroke(page, scaled(page, LADYBIRD))
    page.click("#fill")
    wait_fill(page, 1)
    page.click("[data-layer=sources]")
    expect(page.locator("#layer")).to_be_visible()
    page.mouse.move(*image_point(page, *scaled(page, [(1780, 810)])[0]))
    for _ in range(3):  # zoom in on the hole with the wheel: the fill's sources up close
        page.mouse.wheel(0, -250)
        time.sleep(0.2)
    page.mouse.move(1200, 600)  # the brush cursor off the picture
    for _ in range(200):  # the picture is encoded by the server on its first request
        if page.evaluate("(i => i.complete && i.naturalWidth > 0)(document.getElementById('layer'))"):
            break
        time.sleep(0.1)


def smoke_photo(folder: Path) -> Path:
    """A small generated photo (sky, ground, a red disc), so --smoke needs no corpus."""
    import numpy as np
    from PIL import Image

    h, w = 300, 480
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:h, :w]
    picture = np.where((yy < h * 0.55)[..., None], [120, 170, 230], [90, 140, 70]).astype(np.float64)
    picture += rng.normal(0, 8, picture.shape)
    picture[(yy - 150) ** 2 + (xx - 333) ** 2 < 20**2] = [200, 40, 40]  # under the ladybird stroke, scaled
    path = folder / "smoke.png"
    Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8)).save(path)
    return path


def take(photo: Path, out: Path, model: str | None, only: list[str], *, quality: int = 82) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    from gmcnn import GMCNN, GMCNNConfig, Inpainter
    from gmcnn.web import create_app
    from gmcnn.web.background import BackgroundServer
    from gmcnn.web.chromium import CHROMIUM, LAUNCH_ARGS

    if model:
        inpainter = Inpainter.from_pretrained(model, device="cpu")
    else:  # the smoke test: a tiny random model shows the page, not fill quality
        import torch

        torch.manual_seed(0)
        inpainter = Inpainter.from_generator(GMCNN(GMCNNConfig(cnum=4)), device="cpu", name="untrained (smoke)")
    devices = {
        "desktop": {"viewport": {"width": 1280, "height": 800}},
        "explain": {"viewport": {"width": 1280, "height": 800}},
        "phone": {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True,
                  "device_scale_factor": 1.5},
    }  # fmt: skip
    names = {"desktop": "painter.jpg", "phone": "painter-phone.jpg", "explain": "painter-explain.jpg"}
    written = []
    with BackgroundServer(create_app(inpainter)) as live, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        for shot in only:
            context = browser.new_context(**devices[shot])
            page = context.new_page()
            page.goto(live.url)
            expect(page.locator("#model")).to_contain_text("cnum")
            page.set_input_files("#file", str(photo))
            expect(page.locator("#fact-size")).not_to_have_text("—", timeout=60_000)
            {"desktop": desktop, "phone": phone, "explain": explain}[shot](page)
            time.sleep(0.5)
            path = out / names[shot]
            page.screenshot(path=str(path), type="jpeg", quality=quality)
            written.append(path)
            context.close()
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--photo", type=Path, default=DEFAULT_PHOTO, help="the photo to paint on (default: %(default)s)"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent, help="where to write (default: docs/)")
    parser.add_argument("--model", default="default", help="the model (default: %(default)s, the embedded one)")
    parser.add_argument("--only", nargs="+", choices=SHOTS, default=list(SHOTS), help="which screenshots")
    parser.add_argument("--smoke", action="store_true", help="a quick run on a tiny random model, into a temp dir")
    args = parser.parse_args()
    if args.smoke:
        with tempfile.TemporaryDirectory() as tmp:
            written = take(smoke_photo(Path(tmp)), Path(tmp), None, list(SHOTS))
            for path in written:
                print(f"{path.name}: {path.stat().st_size // 1024} KB")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    for path in take(args.photo, args.out, args.model, args.only):
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
