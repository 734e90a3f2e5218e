"""Take docs/painter.png: the painter on a real photo with one filled hole and one painted (pending) mask.

Usage: python3 make_painter_screenshot.py PHOTO OUT.png [MODEL]   (MODEL: registry name or export path;
without it, a randomly initialised full-size GMCNN is used, which shows the page but not fill quality.)
"""

import socket
import sys
import threading
import time

import torch
import uvicorn
from playwright.sync_api import expect, sync_playwright

from gmcnn import GMCNN, GMCNNConfig, Inpainter
from gmcnn.web import create_app
from gmcnn.web.chromium import CHROMIUM, LAUNCH_ARGS

photo, out = sys.argv[1], sys.argv[2]
if len(sys.argv) > 3:
    inpainter = Inpainter.from_pretrained(sys.argv[3], device="cpu")
else:
    torch.manual_seed(0)
    inpainter = Inpainter.from_generator(GMCNN(GMCNNConfig()), device="cpu", name="untrained (layout only)")
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
server = uvicorn.Server(uvicorn.Config(create_app(inpainter), log_level="warning"))
thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
thread.start()
while not server.started:
    time.sleep(0.05)
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"http://127.0.0.1:{sock.getsockname()[1]}/")
    expect(page.locator("#model")).to_contain_text("cnum")
    page.set_input_files("#file", photo)
    expect(page.locator("#fact-size")).not_to_have_text("—", timeout=60000)
    W, H = (int(v) for v in page.locator("#fact-size").text_content().split(" ")[0].split("×"))

    def at(x: float, y: float) -> tuple[float, float]:
        box = page.locator("#stage").bounding_box()
        return box["x"] + x * box["width"] / W, box["y"] + y * box["height"] / H

    def stroke(points: list[tuple[float, float]]) -> None:
        page.mouse.move(*at(*points[0]))
        page.mouse.down()
        for pt in points[1:]:
            page.mouse.move(*at(*pt), steps=6)
        page.mouse.up()

    page.locator("#size").fill("150")
    stroke([(1700, 760), (1860, 840), (1700, 860), (1840, 760)])  # the ladybird
    page.click("#fill")
    expect(page.locator("body")).to_have_attribute("data-fills", "1", timeout=300000)
    page.locator("#size").fill("90")
    stroke([(250, 380), (420, 470), (330, 560)])  # a flower, painted but not filled yet
    page.mouse.move(*at(900, 1300))
    time.sleep(0.5)
    page.screenshot(path=out)
    browser.close()
server.should_exit = True
thread.join(10)
