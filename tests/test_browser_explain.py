"""The "how it was filled" view in a real browser: a toggle, then the fill's own pictures over the image in
three layers (stages stepped through with their times, sources, confidence), each said in one sentence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers.browser import W, expect, need_chromium, open_photo, press, sent, show_settings, stroke, wait_fills
from helpers.web import Recording

pytestmark = pytest.mark.slow
need_chromium()


def shown_layer(page: Any) -> tuple[str, int]:
    """The layer picture's file name and its loaded width (0 until it has loaded)."""
    layer = page.locator("#layer")
    expect(layer).to_be_visible()
    src = layer.get_attribute("src") or ""
    width = 0
    for _ in range(400):  # up to 20 s: the server encodes each picture on its first request
        width = layer.evaluate("img => img.complete ? img.naturalWidth : 0")
        if width:
            break
        page.wait_for_timeout(50)
    return src.rsplit("/", 1)[-1], width


@pytest.mark.parametrize("device", ["page", "phone"])
def test_three_layers_from_one_fill(
    device: str, request: pytest.FixtureRequest, recording: Recording, photo_file: Path
) -> None:
    page = request.getfixturevalue(device)
    open_photo(page, photo_file)
    stroke(page, [(50, 50), (90, 60)])
    show_settings(page)
    press(page, "#explain")
    if device == "phone":
        press(page, "#panel-toggle")  # closed again: the canvas takes the screen
    fills = len(recording.fills)
    press(page, "#fill")
    wait_fills(page, 1)
    assert sent(page, "/api/v1/inpaint")[-1]["explain"] == "true"
    bar = page.locator("#explain-bar")
    expect(bar).to_be_visible()
    assert len(recording.fills) == fills + 1  # one fill, explained: nothing ran twice
    buttons = bar.locator("[data-layer]")
    assert buttons.evaluate_all("bs => bs.map(b => b.textContent)") == ["Stages", "Sources", "Confidence", "Result"]

    stage = page.locator("#stage-name")
    expect(stage).to_contain_text("2/2 composite")  # the default, full detail: completion -> composite
    assert shown_layer(page) == ("stage_composite.png", W)
    press(page, "#stage-prev")
    expect(stage).to_contain_text("1/2 completion")
    expect(stage).to_contain_text(" s")  # its time
    assert shown_layer(page) == ("stage_completion.png", W)
    expect(page.locator("#layer-about")).to_contain_text("patches of the photo")
    expect(page.locator("#stage-prev")).to_be_disabled()

    press(page, "[data-layer=sources]")
    assert shown_layer(page) == ("sources.png", W)
    expect(page.locator("#layer-about")).to_contain_text("copied")
    expect(page.locator("#stage-stepper")).to_be_hidden()
    press(page, "[data-layer=confidence]")
    assert shown_layer(page) == ("confidence.png", W)
    expect(page.locator("#layer-about")).to_contain_text("trusted")
    press(page, "[data-layer='']")
    expect(page.locator("#layer")).to_be_hidden()  # the result itself

    if device == "page":  # , and . step through the stages from the keyboard too
        page.keyboard.press(".")
        expect(stage).to_contain_text("2/2 composite")
        page.keyboard.press(",")
        expect(stage).to_contain_text("1/2 completion")
    if device == "page":
        press(page, "#explain-close")  # the bar can be closed: the view is the result again
    else:
        press(page, "#undo")  # the explained fill is undone: its explanation goes with it
    expect(bar).to_be_hidden()
    expect(page.locator("#layer")).to_be_hidden()
