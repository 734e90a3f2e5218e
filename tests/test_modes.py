"""Modes a fill takes and gives back: every pixel the fill did not change is copied from the source."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gmcnn.errors import UnsupportedImage
from gmcnn.inpainting import modes


def _changed(h: int, w: int) -> np.ndarray:
    changed = np.zeros((h, w), bool)
    changed[2:5, 3:7] = True
    return changed


def test_palette_keeps_indices_and_maps_changed_pixels_to_its_own_palette() -> None:
    rng = np.random.default_rng(0)
    source = Image.fromarray(rng.integers(0, 256, (8, 10, 3), dtype=np.uint8)).quantize(6)
    source.info["transparency"] = 2
    filled = np.asarray(modes.to_fill(source)).copy()
    assert filled.shape == (8, 10, 4)  # a palette with a transparent index is filled as RGBA
    changed = _changed(8, 10)
    palette = np.asarray(source.getpalette("RGB")).reshape(-1, 3)
    filled[changed, :3] = palette[4] + 1  # one level off entry 4: the nearest entry is 4
    filled[changed, 3] = 255
    out = modes.restore(Image.fromarray(filled, "RGBA"), source, changed)
    assert out.mode == "P" and out.getpalette() == source.getpalette() and out.info["transparency"] == 2
    indices, before = np.asarray(out), np.asarray(source)
    assert np.array_equal(indices[~changed], before[~changed]) and (indices[changed] == 4).all()


def test_sixteen_bit_grey_is_filled_at_eight_bits_and_written_back_times_257() -> None:
    values = np.random.default_rng(1).integers(0, 65536, (6, 9), dtype=np.uint16)
    source = Image.fromarray(values)
    filled = modes.to_fill(source)
    assert filled.mode == "L" and np.array_equal(np.asarray(filled), ((values.astype(int) + 128) // 257))
    changed = _changed(6, 9)
    lit = np.asarray(filled).copy()
    lit[changed] = 200
    out = np.asarray(modes.restore(Image.fromarray(lit), source, changed))
    assert out.dtype == np.uint16 and np.array_equal(out[~changed], values[~changed])
    assert (out[changed] == 200 * 257).all()


@pytest.mark.parametrize("mode", ["1", "CMYK", "LAB", "YCbCr"])
def test_other_modes_come_back_in_their_mode_with_unchanged_pixels_copied(mode: str) -> None:
    rng = np.random.default_rng(2)
    source = Image.fromarray(rng.integers(0, 256, (7, 8, 3), dtype=np.uint8)).convert(mode)
    filled = modes.to_fill(source)
    assert filled.mode in modes.FILL_MODES
    changed = _changed(7, 8)
    arr = np.asarray(filled).copy()
    arr[changed] = 255  # white
    out = modes.restore(Image.fromarray(arr, filled.mode), source, changed)
    assert out.mode == mode
    assert np.array_equal(np.asarray(out)[~changed], np.asarray(source)[~changed])
    white = np.asarray(out.convert("RGB"))[changed]
    assert (white >= 250).all()  # the changed pixels carry the fill, converted to the mode


@pytest.mark.parametrize(("mode", "words"), [("F", "floating-point"), ("I", "32-bit integer"), ("PA", "mode PA")])
def test_modes_without_a_way_back_are_refused_with_what_to_convert_to(mode: str, words: str) -> None:
    assert modes.refusal("RGB") is None and modes.refusal("I;16B") is None
    with pytest.raises(UnsupportedImage, match=words) as refused:
        modes.to_fill(Image.new(mode, (2, 2)))
    assert "convert it to" in str(refused.value)
