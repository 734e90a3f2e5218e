"""What the painter says, in a real browser: the empty-mask sentence of the CLI and the API, a whole-image mask
refused before anything is sent, a sane large-hole warning in view, which model made a fill, and the phone
layout (one toolbar row, settings below the image, help that fits)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from helpers.browser import (
    H,
    W,
    choose_tool,
    drag,
    expect,
    need_chromium,
    open_photo,
    press,
    sent,
    set_range,
    show_settings,
    wait_fills,
)

from gmcnn.errors import EMPTY_MASK

pytestmark = pytest.mark.slow
need_chromium()


def in_view(page: Any, selector: str) -> None:
    """The element is visible without scrolling, below the toolbar (above the fold)."""
    box = page.locator(selector).bounding_box()
    toolbar = page.locator("#toolbar").bounding_box()
    size = page.viewport_size
    assert box and box["y"] >= toolbar["y"] + toolbar["height"] - 1 and box["y"] + box["height"] <= size["height"]
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"]


@pytest.mark.parametrize("device", ["page", "phone"])
def test_an_empty_mask_says_the_one_message(device: str, request: pytest.FixtureRequest, photo_file: Path) -> None:
    page = request.getfixturevalue(device)
    open_photo(page, photo_file)
    expect(page.locator("#fill")).to_be_enabled()  # not a mute disabled button
    press(page, "#fill")
    status = page.locator("#status")
    expect(status).to_have_class("error")
    assert EMPTY_MASK in status.text_content().lower()  # the CLI's and the API's sentence
    assert not sent(page, "/api/v1/inpaint")


def test_a_whole_image_mask_is_refused_before_sending(page: Any, photo_file: Path) -> None:
    open_photo(page, photo_file)
    choose_tool(page, "rect")
    drag(page, [(-1.5, -1.5), (W + 1, H + 1)])  # corner to corner, from just outside
    warning = page.locator("#warning")
    expect(warning).to_contain_text("covers the whole image")
    in_view(page, "#warning")
    assert not re.search(r"\d{6,}", warning.text_content())  # no "about 16000000008 px"
    press(page, "#fill")
    expect(page.locator("#status")).to_contain_text("covers the whole image")
    assert not sent(page, "/api/v1/inpaint")
    press(page, "#undo")
    drag(page, [(60, 50), (80, 60)])  # a small hole, grown over the whole image: the server's plan says so
    set_range(page, "#opt-grow", 256)
    expect(warning).to_contain_text("covers the whole image after growing it by 256 px")


@pytest.mark.parametrize("device", ["page", "phone"])
def test_the_large_hole_warning_is_sane_and_in_view(
    device: str, request: pytest.FixtureRequest, photo_file: Path
) -> None:
    page = request.getfixturevalue(device)
    open_photo(page, photo_file)
    choose_tool(page, "rect")
    warning = page.locator("#warning")
    drag(page, [(60, 50), (75, 65)])  # 16 px: small for a model trained on 64 px images
    expect(warning).to_be_hidden()
    drag(page, [(10, 10), (180, 130)])  # most of the image
    expect(warning).to_contain_text("copies patches of the photo")  # full detail: the network does not run
    in_view(page, "#warning")
    across = int(re.search(r"about (\d+) px across", warning.text_content()).group(1))
    assert 64 < across <= max(W, H)
    show_settings(page)
    set_range(page, "#opt-detail", 0.5)  # the network's fill under the patches: its training size matters
    expect(warning).to_contain_text("trained on 64 px images")
    expect(warning).to_contain_text("blurry")


def test_each_fill_says_which_model_made_it(page: Any, photo_file: Path, server: Any) -> None:
    name = page.evaluate("fetch('/api/v1/health').then(r => r.json()).then(h => h.model.name)")
    open_photo(page, photo_file)
    drag(page, [(40, 40), (70, 50)])
    press(page, "#fill")
    wait_fills(page, 1)
    expect(page.locator("#status")).to_contain_text(f"Filled by model {name}")
    expect(page.locator("body")).to_have_attribute("data-filled-by", name)


def test_phone_layout(phone: Any, photo_file: Path) -> None:
    open_photo(phone, photo_file)
    row = phone.locator("#toolbar").bounding_box()
    assert row["height"] <= 56  # one row, not five
    middle = "ns => ns.map(n => (r => r.top + r.height / 2)(n.getBoundingClientRect()))"
    middles = phone.eval_on_selector_all("#toolbar > :not([hidden]):not(input)", middle)
    assert max(middles) - min(middles) < 4  # side by side
    for tool in ("brush", "eraser", "select"):  # the painting tools stay in the row
        assert not phone.locator(f"[data-tool={tool}]").evaluate("n => Boolean(n.closest('#more-menu'))")
    phone.tap("#more-button")  # the rest is one tap away
    expect(phone.locator("#more-menu")).to_be_visible()
    expect(phone.locator("#more-menu #open")).to_be_visible()
    phone.tap("#more-button")
    expect(phone.locator("#more-menu")).to_be_hidden()

    phone.tap("#panel-toggle")  # settings open below the image: nothing covers it
    panel = phone.locator("#panel")
    expect(panel).to_be_visible()
    expect(phone.locator("#panel-toggle")).to_have_attribute("aria-expanded", "true")
    viewport = phone.locator("#viewport").bounding_box()
    assert panel.bounding_box()["y"] >= viewport["y"] + viewport["height"] - 1
    phone.wait_for_timeout(300)  # the image refits to the smaller canvas
    stage = phone.locator("#stage").bounding_box()
    assert stage["y"] >= viewport["y"] - 1 and stage["y"] + stage["height"] <= viewport["y"] + viewport["height"] + 1

    press(phone, "#help-button")  # the help fits the screen and speaks of touch, not keys
    dialog = phone.locator("#help").bounding_box()
    assert dialog["width"] <= 390 and dialog["height"] <= 844
    expect(phone.locator("#help")).to_contain_text("two fingers pinch")
    expect(phone.locator("#help table")).to_be_hidden()
