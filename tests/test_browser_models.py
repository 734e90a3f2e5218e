"""The model picker in a real browser: the server's models folder listed, a switch between fills (each fill
says which model made it), and an official release downloaded with progress from a local stand-in for the
authors' links (no network)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import tiny_generator
from helpers.browser import (
    expect,
    need_chromium,
    open_photo,
    press,
    sent,
    show_settings,
    stroke,
    wait_fills,
)
from helpers.release_server import TF_ID, TF_NAME, ReleaseServer, register_fakes, tf_release_zip
from helpers.server import BackgroundServer

from gmcnn import Inpainter
from gmcnn.web import create_app
from gmcnn.weights.format import export_generator

pytestmark = pytest.mark.slow
need_chromium()


@pytest.fixture(scope="module")
def server(tiny_export: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``gmcnn serve --models DIR`` in a thread: two exports in DIR, the fake TF release downloadable."""
    folder = tmp_path_factory.mktemp("models")
    shutil.copytree(tiny_export, folder / "exp_a")
    export_generator(tiny_generator(seed=7), folder / "exp_b", training={"image_size": 64})
    with pytest.MonkeyPatch.context() as patch, ReleaseServer({TF_ID: ("tiny.zip", tf_release_zip())}) as releases:
        register_fakes(patch)
        served = Inpainter.from_pretrained(folder / "exp_a", device="cpu")
        served.name = "exp_a"
        app = create_app(served, models_dir=folder, download_url=releases.template)
        with BackgroundServer(app) as live:
            yield live


def pick(page: Any, name: str) -> None:
    show_settings(page)
    page.select_option("#model-select", name)


def fill_once(page: Any, fills: int) -> None:
    stroke(page, [(40 + 10 * fills, 40), (80 + 10 * fills, 50)])
    press(page, "#fill")
    wait_fills(page, fills)


@pytest.mark.parametrize("device", ["page", "phone"])
def test_the_picker_switches_models(device: str, request: pytest.FixtureRequest, photo_file: Path) -> None:
    page = request.getfixturevalue(device)
    picker = page.locator("#model-select")
    expect(picker.locator("option[value=exp_b]")).to_be_attached()
    names = picker.evaluate("s => [...s.options].map(o => o.value)")
    assert {"default", "exp_a", "exp_b", TF_NAME} <= set(names)
    open_photo(page, photo_file)
    start = picker.input_value()
    other = "exp_b" if start != "exp_b" else "exp_a"
    pick(page, other)
    expect(page.locator("#status")).to_contain_text(f"Now filling with {other}", timeout=60_000)
    expect(page.locator("body")).to_have_attribute("data-model", other)
    if device == "phone":
        press(page, "#panel-toggle")  # the canvas gets the screen back
    fill_once(page, 1)
    expect(page.locator("#status")).to_contain_text(f"Filled by model {other}")
    assert "model" not in sent(page, "/api/v1/inpaint")[-1]  # the server's choice, not a form field


def test_a_release_downloads_with_progress(page: Any, photo_file: Path) -> None:
    picker = page.locator("#model-select")
    expect(picker.locator(f"option[value={TF_NAME}]")).to_contain_text("download")
    open_photo(page, photo_file)
    detail = page.locator("label[for=opt-detail] output")
    expect(detail).to_have_text("full texture")  # the embedded model's own detail (its contract)
    pick(page, TF_NAME)
    get = page.locator("#model-get")
    expect(get).to_be_visible()  # not there yet: offered, never fetched unasked
    expect(get).to_contain_text(f"Download {TF_NAME}")
    get.click()
    expect(page.locator("#status")).to_contain_text(f"Now filling with {TF_NAME}", timeout=60_000)
    expect(page.locator("#model-download")).to_be_hidden()
    expect(picker.locator(f"option[value={TF_NAME}]")).not_to_contain_text("download")
    expect(detail).to_have_text("smooth")  # an official release fills as the official code does
    fill_once(page, 1)
    expect(page.locator("#status")).to_contain_text(f"Filled by model {TF_NAME}")
    assert float(sent(page, "/api/v1/inpaint")[-1]["detail"]) == 0
