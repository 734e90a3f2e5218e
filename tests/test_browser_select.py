"""Smart select in a real browser: a rough stroke, or a tap on a phone, snaps the mask to the object's outline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers.browser import choose_tool, download_mask, drag, expect, finger, need_chromium, open_photo
from helpers.scene import iou, object_scene
from PIL import Image

pytestmark = pytest.mark.slow
need_chromium()


@pytest.fixture(scope="module")
def scene_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    picture, obj = object_scene()
    path = tmp_path_factory.mktemp("select") / "scene.png"
    Image.fromarray(picture).save(path)
    return path, obj


def test_a_rough_stroke_snaps_to_the_object(page: Any, scene_file: tuple[Path, Any]) -> None:
    path, obj = scene_file
    open_photo(page, path)
    choose_tool(page, "select")
    page.locator("#size").fill("8")
    drag(page, [(50, 72), (110, 70), (170, 74)])  # across the object and beyond both its ends
    expect(page.locator("#status")).to_contain_text("Selected the object", timeout=60_000)
    mask = download_mask(page, "scene-mask.png") == 255
    assert iou(mask, obj) > 0.85
    page.keyboard.press("Control+z")  # one undo takes the selection back
    expect(page.locator("#download-mask")).to_be_disabled()


def test_a_tap_selects_on_a_phone(phone: Any, scene_file: tuple[Path, Any]) -> None:
    path, obj = scene_file
    open_photo(phone, path)
    choose_tool(phone, "select")
    finger(phone, [(106, 72)])  # one finger down and up on the object
    expect(phone.locator("#status")).to_contain_text("Selected the object", timeout=60_000)
    expect(phone.locator("#fact-hole")).not_to_have_text("none yet")
    share = float(phone.locator("#fact-hole").text_content().split("%")[0]) / 100
    assert share == pytest.approx(obj.mean(), rel=0.2)  # the object's share of the image, not a dot's


def test_without_opencv_the_tool_says_how_to_get_it(browser: Any, server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.browser import DESKTOP, open_page

    from gmcnn.inpainting import select

    monkeypatch.setattr(select, "available", lambda: False)  # the server runs in this process
    context, page, errors = open_page(browser, server.url, DESKTOP)
    tool = page.locator("[data-tool=select]")
    expect(tool).to_be_disabled()
    assert "gmcnn[web]" in tool.get_attribute("title")
    context.close()
    assert not errors
