"""Training masks: shapes, reproducibility from a seed, the paper's rectangle geometry, coverage bins."""

from __future__ import annotations

import numpy as np
import pytest

from gmcnn.data.masks import (
    MASK_TYPES,
    IrregularMask,
    MixedMask,
    RectMask,
    StrokeMask,
    build_mask,
    tight_bbox,
)


@pytest.mark.parametrize("name", sorted(MASK_TYPES))
@pytest.mark.parametrize("size", [(256, 256), (96, 160)])
def test_shape_dtype_and_bbox_contains_hole(name: str, size: tuple[int, int]) -> None:
    gen = build_mask(name)
    for seed in range(5):
        mask, (top, left, h, w) = gen(*size, np.random.default_rng(seed))
        assert mask.shape == size and mask.dtype == bool and mask.any()
        assert top >= 0 and left >= 0 and top + h <= size[0] and left + w <= size[1]
        outside = mask.copy()
        outside[top : top + h, left : left + w] = False
        assert not outside.any()


@pytest.mark.parametrize("name", sorted(MASK_TYPES))
def test_same_seed_same_mask_different_seed_different_mask(name: str) -> None:
    gen = build_mask(name)
    a, box_a = gen(128, 128, np.random.default_rng(7))
    b, box_b = gen(128, 128, np.random.default_rng(7))
    assert np.array_equal(a, b) and box_a == box_b
    others = [gen(128, 128, np.random.default_rng(s))[0] for s in range(8, 12)]
    assert any(not np.array_equal(a, o) for o in others)


def test_rect_is_paper_geometry() -> None:
    gen = RectMask()
    positions = set()
    for seed in range(200):
        mask, (top, left, h, w) = gen(256, 256, np.random.default_rng(seed))
        assert (h, w) == (128, 128)
        t, lft, hh, ww = tight_bbox(mask)
        # A single rectangle, shrunk by 0..16 px per side inside the 128x128 box.
        assert mask.sum() == hh * ww
        assert 0 <= t - top <= 16 and 0 <= (top + 128) - (t + hh) <= 16
        assert 0 <= lft - left <= 16 and 0 <= (left + 128) - (lft + ww) <= 16
        positions.add((top, left))
    assert len(positions) > 150  # random placement


def test_rect_scales_with_image_size() -> None:
    mask, (_, _, h, w) = RectMask()(512, 512, np.random.default_rng(0))
    assert (h, w) == (256, 256) and mask.sum() >= (256 - 64) ** 2


def test_strokes_have_several_parts_and_round_joints() -> None:
    gen = StrokeMask()
    coverage = [gen(256, 256, np.random.default_rng(s))[0].mean() for s in range(20)]
    # 8-10 parts of up to 20 segments: large holes (the official generator's 1-part bug would give ~5 %).
    assert np.median(coverage) > 0.2
    # One vertex, no segments beyond it: the joint disc has the brush's diameter, not 1 px.
    single = StrokeMask(parts=(1, 1), max_vertices=1, max_length=1.5, brush=(20, 20))
    mask, (_, _, h, w) = single(256, 256, np.random.default_rng(3))
    assert h >= 19 and w >= 19


def test_stroke_x_y_not_swapped_on_wide_images() -> None:
    # With x/y swapped, strokes on a 64x512 image would be clipped to the first 64 columns.
    gen = StrokeMask(parts=(10, 10))
    cols = np.concatenate([np.flatnonzero(gen(64, 512, np.random.default_rng(s))[0].any(0)) for s in range(5)])
    assert cols.max() > 256


@pytest.mark.parametrize("low, high", [(0.01, 0.1), (0.2, 0.3), (0.5, 0.6)])
def test_irregular_coverage_bins(low: float, high: float) -> None:
    gen = IrregularMask(bins=((low, high),))
    coverage = np.array([gen(256, 256, np.random.default_rng(s))[0].mean() for s in range(20)])
    assert (coverage >= low).all()
    assert np.mean(coverage <= high) >= 0.9  # at most one segment of overshoot, rarely past the bin


def test_mixed_uses_every_component_with_its_weight() -> None:
    def const(value: int):  # type: ignore[no-untyped-def]
        def gen(h: int, w: int, rng: np.random.Generator):  # type: ignore[no-untyped-def]
            mask = np.zeros((h, w), bool)
            mask[0, value] = True
            return mask, (0, value, 1, 1)

        return gen

    mixed = MixedMask((const(0), const(1)), (3.0, 1.0))
    rng = np.random.default_rng(0)
    picks = [mixed(4, 4, rng)[1][1] for _ in range(2000)]
    assert abs(np.mean(picks) - 0.25) < 0.04
    with pytest.raises(ValueError):
        MixedMask((const(0),), (1.0, 2.0))


def test_unknown_mask_type_lists_valid() -> None:
    with pytest.raises(ValueError, match="rect"):
        build_mask("circle")
