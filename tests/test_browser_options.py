"""The painter's fill options in a real browser: controls built from the server's FillOptions schema, the
Detail control reaching the fill, the processing size bounded by the image, and the grow halo preview."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.browser import (
    choose_tool,
    drag,
    expect,
    need_chromium,
    open_photo,
    press,
    sent,
    set_range,
    show_settings,
    stroke,
    wait_fills,
    wait_for,
)
from helpers.web import Recording

from gmcnn.inpainting import image as P

pytestmark = pytest.mark.slow
need_chromium()


def test_every_option_has_its_control(page: Any) -> None:
    options = page.evaluate("fetch('/api/v1/health').then(r => r.json()).then(h => h.options)")
    built = page.eval_on_selector_all("[data-option]", "ns => ns.map(n => n.dataset.option)")
    assert sorted(built) == sorted(options)  # one control per option
    for name, o in options.items():
        where = "#options-advanced" if o.get("advanced") else "#options"
        control = page.locator(f"{where} #opt-{name}")
        expect(control).to_be_attached()
        if "choices" in o:
            assert control.evaluate("s => [...s.options].map(o => o.value)") == o["choices"]
        elif not o.get("nullable"):
            assert float(control.get_attribute("min")) == o["minimum"]
            assert float(control.get_attribute("max")) == o["maximum"]
        expect(page.locator(f"label[for=opt-{name}]")).to_contain_text(o.get("label", name))
    detail = page.locator("[data-option=detail]")  # named for what it does, from smooth to full texture
    expect(detail).to_contain_text("smooth")
    expect(detail).to_contain_text("full texture")


@pytest.mark.parametrize("device", ["page", "phone"])
def test_detail_changes_the_fill_request(
    device: str, request: pytest.FixtureRequest, recording: Recording, photo_file: Path
) -> None:
    page = request.getfixturevalue(device)
    open_photo(page, photo_file)
    stroke(page, [(50, 50), (90, 60)])
    show_settings(page)  # on the phone: below the canvas
    set_range(page, "#opt-detail", 0.6)
    expect(page.locator("label[for=opt-detail] output")).to_have_text("60%")
    press(page, "#fill")
    wait_fills(page, 1)
    assert sent(page, "/api/v1/inpaint")[-1]["detail"] == "0.6"
    assert recording.fills[-1].detail == pytest.approx(0.6)  # what the server made of it
    set_range(page, "#opt-detail", 0)
    expect(page.locator("label[for=opt-detail] output")).to_have_text("smooth")


def test_processing_size_is_advanced_and_bounded_by_the_image(page: Any, photo_file: Path) -> None:
    size = page.locator("#opt-process_size")
    expect(size).to_be_hidden()  # under Advanced
    page.click("#advanced summary")
    own = page.evaluate("fetch('/api/v1/health').then(r => r.json()).then(h => h.model.contract.process_size)")
    assert size.get_attribute("placeholder") == f"auto ({own} px)"  # empty = the model's own size
    open_photo(page, photo_file)
    assert size.get_attribute("max") == "192"  # the image's longer side, not 8192
    expect(page.locator("#opt-process_size-help")).to_contain_text("at most 192 px")
    drag(page, [(40, 40), (70, 60)])
    size.fill("128")
    expect(page.locator("#strategy-hint")).to_contain_text("window")
    wait_for(page, "window.__sent.some(r => r.url.endsWith('/plan') && r.fields.process_size === '128')")
    size.fill("")
    page.wait_for_timeout(400)  # the plan is asked again, without the field (the model's size)
    assert "process_size" not in sent(page, "/api/v1/plan")[-1]


def halo_ring(page: Any) -> np.ndarray:
    """Where the halo canvas shows something (alpha > 0), as bool H x W."""
    alpha = page.evaluate(
        "(c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 4 == 3)))"
        "(document.getElementById('halo'))"
    )
    return np.array(alpha, np.uint8).reshape(144, 192) > 0


def test_grow_is_previewed_around_the_mask(page: Any, photo_file: Path) -> None:
    open_photo(page, photo_file)
    choose_tool(page, "rect")
    drag(page, [(60, 50), (100, 80)])
    assert not halo_ring(page).any()  # grow 0, feather 0: nothing beyond the paint
    set_range(page, "#opt-grow", 8)
    wait_for(page, "document.getElementById('halo').getContext('2d').getImageData(55, 65, 1, 1).data[3] > 0")
    ring = halo_ring(page)
    mask = np.zeros((144, 192), bool)
    mask[50:81, 60:101] = True  # the rectangle as painted (corners included)
    grown = P.grow_mask(mask, 8) & ~mask  # what the server adds
    assert (ring & grown).sum() / (ring | grown).sum() > 0.85
    assert not ring[mask].any() and not ring[:35].any()
