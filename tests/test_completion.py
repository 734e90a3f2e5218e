"""The completion stage: only the hole changes, with real texture; deterministic; detail blends; explain names
known sources; odd holes and sizes; large windows; a missing native library is a clear error."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from skimage import data

from gmcnn.errors import UserError
from gmcnn.evaluation.baselines import PushPullFill, get_baseline
from gmcnn.evaluation.realism import grad_ratio
from gmcnn.inpainting.completion import Completion, complete, patchmatch_fill


def _start(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    return PushPullFill()(rgb, hole)


@pytest.fixture(scope="module")
def brick() -> tuple[np.ndarray, np.ndarray]:
    rgb = np.ascontiguousarray(np.stack([data.brick()[100:260, 60:260]] * 3, axis=2))
    hole = np.zeros(rgb.shape[:2], bool)
    hole[50:110, 70:140] = True
    return rgb, hole


def _check(result: Completion, rgb: np.ndarray, hole: np.ndarray) -> None:
    assert result.image.dtype == np.uint8 and result.image.shape == rgb.shape
    np.testing.assert_array_equal(result.image[~hole], rgb[~hole])
    assert result.confidence is not None and result.confidence.shape == hole.shape
    assert np.all((result.confidence >= 0) & (result.confidence <= 1)) and np.all(result.confidence[~hole] == 1)
    assert result.sources is not None and result.sources.shape == (*hole.shape, 2)
    src = result.sources[hole]
    used = src[:, 0] >= 0
    assert np.all(src[used, 0] < hole.shape[0]) and np.all(src[used, 1] < hole.shape[1])
    assert not hole[src[used, 0], src[used, 1]].any(), "a source is a hole pixel"
    assert np.all(result.sources[~hole] == -1)


def test_only_the_hole_changes_with_real_texture_from_known_pixels(brick):
    rgb, hole = brick
    given = rgb.copy()
    given[hole] = 255  # what is under the hole must not matter
    start = _start(given, hole)
    result = complete(given, hole, start, explain=True)
    _check(result, given, hole)
    assert (result.sources[hole] >= 0).all()
    smooth = np.where(hole[..., None], start, rgb)
    assert grad_ratio(smooth, rgb, hole) < 0.3 < grad_ratio(result.image, rgb, hole)
    # detail 1 is the PatchMatch fill itself (what the blind study preferred), in the hole only
    np.testing.assert_array_equal(result.image, get_baseline("patchmatch")(given, hole))


def test_sources_match_what_was_filled(brick):
    """A filled pixel's source has nearly its colour: the field says where each part of the fill came from."""
    rgb, hole = brick
    result = complete(rgb, hole, _start(rgb, hole), explain=True)
    src = result.sources[hole]
    diff = np.abs(result.image[hole].astype(int) - rgb[src[:, 0], src[:, 1]].astype(int)).mean()
    shuffled = np.abs(result.image[hole].astype(int) - np.roll(rgb[src[:, 0], src[:, 1]], 997, axis=0)).mean()
    assert diff < 0.5 * shuffled
    assert complete(rgb, hole, _start(rgb, hole)).sources is None  # computed only when explaining


def test_deterministic_for_a_seed(brick):
    rgb, hole = brick
    start = _start(rgb, hole)
    a, b = complete(rgb, hole, start, seed=3), complete(rgb, hole, start, seed=3)
    np.testing.assert_array_equal(a.image, b.image)
    assert not np.array_equal(a.image, complete(rgb, hole, start, seed=4).image)


def test_detail_zero_is_the_start_and_detail_blends(brick):
    rgb, hole = brick
    start = _start(rgb, hole)
    np.testing.assert_array_equal(complete(rgb, hole, start, detail=0.0).image, np.where(hole[..., None], start, rgb))
    full = complete(rgb, hole, start).image.astype(float)
    half = complete(rgb, hole, start, detail=0.5).image.astype(float)
    np.testing.assert_allclose(half[hole], (full[hole] + start[hole]) / 2, atol=1.0)


@pytest.mark.parametrize(
    "shape, box",
    [
        ((120, 160), (slice(0, 40), slice(0, 60))),  # touches two borders
        ((120, 160), (slice(5, 115), slice(5, 155))),  # nearly the whole image
        ((120, 160), (slice(60, 61), slice(80, 81))),  # one pixel
        ((6, 5), (slice(2, 4), slice(1, 3))),  # too small for a whole known patch: no source to name
        ((1, 1), (slice(0, 1), slice(0, 1))),  # nothing known: the start stays
    ],
)
def test_odd_holes_and_sizes(shape, box):
    rgb = np.ascontiguousarray(data.astronaut()[: shape[0], : shape[1]])
    hole = np.zeros(shape, bool)
    hole[box] = True
    result = complete(rgb, hole, _start(rgb, hole), explain=True)
    assert result.image.shape == rgb.shape and np.array_equal(result.image[~hole], rgb[~hole])
    if hole.all():
        np.testing.assert_array_equal(result.image, _start(rgb, hole))
    else:
        _check(result, rgb, hole)


def test_thin_strokes():
    rgb = np.ascontiguousarray(data.chelsea()[:200, :200])
    hole = np.zeros((200, 200), bool)
    for i in range(200):
        hole[i, max(0, i - 1) : i + 2] = True  # a 3 px diagonal scratch
        hole[50:53, i] = True
    result = complete(rgb, hole, _start(rgb, hole), explain=True)
    _check(result, rgb, hole)
    assert (result.sources[hole] >= 0).all()


def test_a_large_window_is_filled_smaller_and_upscaled():
    rgb = np.ascontiguousarray(data.astronaut()[:300, :400])
    hole = np.zeros((300, 400), bool)
    hole[100:180, 150:260] = True
    small = patchmatch_fill(rgb, hole, max_side=200)
    assert small.shape == rgb.shape and np.array_equal(small[~hole], rgb[~hole])
    assert not np.array_equal(small, patchmatch_fill(rgb, hole))  # filled at another size
    assert grad_ratio(small, rgb, hole) > 0.2  # still texture, not a wash


def test_bad_arguments_are_refused(brick):
    rgb, hole = brick
    start = _start(rgb, hole)
    with pytest.raises(ValueError, match="detail"):
        complete(rgb, hole, start, detail=1.5)
    with pytest.raises(ValueError, match="disagree"):
        complete(rgb, hole[:-1], start)


def test_without_pypatchmatch_the_message_says_what_to_do(brick, monkeypatch):
    rgb, hole = brick
    monkeypatch.setitem(sys.modules, "patchmatch", None)  # import fails
    with pytest.raises(UserError, match="detail=0 fills without it"):
        complete(rgb, hole, _start(rgb, hole))
    np.testing.assert_array_equal(complete(rgb, hole, _start(rgb, hole), detail=0).image[~hole], rgb[~hole])
