"""Classical baselines: the Inpainter call contract, sensible fills, and the name registry."""

from __future__ import annotations

import numpy as np
import pytest

from gmcnn.errors import UserError
from gmcnn.evaluation.baselines import baseline_names, get_baseline, register_baseline

NAMES = ["biharmonic", "ns", "patchmatch", "pushpull", "telea"]


@pytest.fixture(scope="module")
def case() -> tuple[np.ndarray, np.ndarray]:
    from skimage import data

    image = np.ascontiguousarray(data.chelsea()[60:188, 150:278])  # 128x128 photo
    hole = np.zeros((128, 128), dtype=bool)
    hole[40:80, 30:70] = True
    hole[100:110, 90:126] = True  # a second, separate hole
    return image, hole


def test_registry_lists_the_baselines():
    assert baseline_names() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_contract_known_pixels_untouched_hole_filled(name, case):
    image, hole = case
    given = image.copy()
    given[hole] = 255  # what gmcnn eval passes: the hole painted white
    out = get_baseline(name)(given, hole)
    assert out.dtype == np.uint8 and out.shape == image.shape
    np.testing.assert_array_equal(out[~hole], image[~hole])
    assert (out[hole] != 255).any(axis=1).mean() > 0.9  # the white is gone
    np.testing.assert_array_equal(given[hole], 255)  # the input was not modified in place
    # A fill from the surroundings is much closer to the truth than the white hole was.
    err = np.abs(out[hole].astype(int) - image[hole]).mean()
    assert err < 0.5 * np.abs(255 - image[hole].astype(int)).mean()


@pytest.mark.parametrize("name", NAMES)
def test_flat_image_is_filled_with_its_colour(name):
    image = np.full((64, 64, 3), (40, 120, 200), dtype=np.uint8)
    hole = np.zeros((64, 64), dtype=bool)
    hole[20:44, 16:48] = True
    given = image.copy()
    given[hole] = 0
    out = get_baseline(name)(given, hole.astype(np.uint8) * 255)  # a 0/255 mask works too
    err = np.abs(out.astype(int) - image)
    assert err.max() <= 4 and err.mean() < 0.5  # Telea's weighted average drifts by a few levels, the others are exact


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_and_empty_mask(name, case):
    image, hole = case
    fill = get_baseline(name)
    np.testing.assert_array_equal(fill(image, hole), fill(image, hole))
    out = fill(image, np.zeros_like(hole))
    np.testing.assert_array_equal(out, image)
    assert out is not image


def test_bad_inputs_are_user_errors(case):
    image, hole = case
    fill = get_baseline("telea")
    with pytest.raises(UserError, match="uint8"):
        fill(image.astype(np.float32), hole)
    with pytest.raises(UserError, match="does not match"):
        fill(image, hole[:-1])
    with pytest.raises(UserError, match="known baselines"):
        get_baseline("photoshop")


def test_duplicate_registration_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_baseline("telea")(lambda: get_baseline("ns"))
    assert baseline_names() == NAMES
