"""Conversions: round trips, polarity, mask normalisation, padding, grow/feather, the one composite."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gmcnn.errors import UserError
from gmcnn.inpainting import image as P


def test_rgb_tensor_round_trip_is_exact(photo: np.ndarray) -> None:
    t = P.rgb_to_tensor(photo)
    assert t.shape == (1, 3, *photo.shape[:2]) and float(t.min()) >= -1 and float(t.max()) <= 1
    assert np.array_equal(P.tensor_to_rgb(t), photo)


def test_tensor_to_rgb_rounds_instead_of_truncating() -> None:
    # 100.6 / 127.5 - 1 : truncation would give 100, rounding 101.
    t = torch.full((1, 3, 1, 1), 100.6 / 127.5 - 1)
    assert P.tensor_to_rgb(t)[0, 0, 0] == 101


@pytest.mark.parametrize(
    "mask",
    [
        np.array([[0, 1], [1, 0]], dtype=bool),
        np.array([[0, 1], [1, 0]], dtype=np.uint8),
        np.array([[0, 255], [255, 0]], dtype=np.uint8),
        np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32),
        Image.fromarray(np.array([[0, 255], [255, 0]], dtype=np.uint8), "L"),
        Image.fromarray(np.array([[0, 255], [255, 0]], dtype=np.uint8), "L").convert("1"),
        Image.fromarray(np.array([[0, 255], [255, 0]], dtype=np.uint8), "L").convert("RGB"),
    ],
)
def test_mask_forms_agree_white_is_hole(mask: object) -> None:
    assert P.normalize_mask(mask).tolist() == [[False, True], [True, False]]


def test_rgba_mask_uses_painted_alpha() -> None:
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 1] = (255, 0, 0, 255)  # a red stroke on a transparent layer
    assert P.normalize_mask(Image.fromarray(rgba, "RGBA")).tolist() == [[False, True], [False, False]]


def test_soft_edges_are_thresholded_but_a_photo_is_refused(photo: np.ndarray) -> None:
    soft = np.zeros((100, 100), dtype=np.uint8)
    soft[40:60, 40:60] = 255
    soft[39, 40:60] = 128  # one anti-aliased row
    assert P.normalize_mask(soft).sum() == 20 * 21
    with pytest.raises(UserError, match="not binary"):
        P.normalize_mask(photo[..., 0])


@pytest.mark.parametrize("colour", [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (250, 40, 120)])
def test_colour_masks_read_the_same_as_numpy_and_pil(colour: tuple[int, int, int]) -> None:
    """One rule for both types: a colour mask is its brightest channel, so any bright stroke is a hole."""
    arr = np.zeros((16, 16, 3), np.uint8)
    arr[4:12, 2:10] = colour
    expected = np.zeros((16, 16), bool)
    expected[4:12, 2:10] = True
    as_numpy = P.normalize_mask(arr)
    as_pil = P.normalize_mask(Image.fromarray(arr))
    as_rgba = P.normalize_mask(Image.fromarray(np.dstack([arr, np.full((16, 16), 255, np.uint8)])))  # opaque
    as_palette = P.normalize_mask(Image.fromarray(arr).convert("P"))
    for got in (as_numpy, as_pil, as_rgba, as_palette):
        assert np.array_equal(got, expected)


def test_dark_colour_masks_are_no_hole_for_either_type() -> None:
    arr = np.zeros((16, 16, 3), np.uint8)
    arr[4:6, 2:4] = (100, 20, 0)  # brightest channel 100 <= 127: not a hole, for numpy and PIL alike
    assert not P.normalize_mask(arr).any() and not P.normalize_mask(Image.fromarray(arr)).any()


def test_mask_size_mismatch_names_both_sizes() -> None:
    with pytest.raises(UserError, match=r"mask size 3x2 does not match image size 5x4"):
        P.normalize_mask(np.zeros((2, 3), bool), (4, 5))


@pytest.mark.parametrize("bad", [np.full((2, 2), 1.5, np.float32), np.full((2, 2), -3, np.int16), "mask.png"])
def test_bad_masks_are_refused(bad: object) -> None:
    with pytest.raises(UserError):
        P.normalize_mask(bad)


@pytest.mark.parametrize("shape,mode", [((5, 7), "L"), ((5, 7, 3), "RGB"), ((5, 7, 4), "RGBA"), ((5, 7, 1), "L")])
def test_split_merge_round_trip_numpy(shape: tuple[int, ...], mode: str) -> None:
    arr = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    user = P.split_image(arr)
    assert user.mode == mode and user.rgb.shape == (5, 7, 3)
    back = P.merge_image(user.rgb, user)
    assert isinstance(back, np.ndarray) and back.shape == arr.shape and np.array_equal(back, arr)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA"])
def test_split_merge_round_trip_pil(mode: str) -> None:
    arr = np.random.default_rng(0).integers(0, 256, (6, 4, 4), dtype=np.uint8)
    img = Image.fromarray(arr, "RGBA").convert(mode)
    back = P.merge_image(P.split_image(img).rgb, P.split_image(img))
    assert isinstance(back, Image.Image) and back.mode == mode
    assert np.array_equal(np.asarray(back), np.asarray(img))


def test_palette_images_come_back_as_rgb() -> None:
    img = Image.fromarray(np.zeros((4, 4, 3), np.uint8)).convert("P")
    assert P.split_image(img).mode == "RGB"


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 2), np.uint8), [[1, 2]]])
def test_bad_images_are_refused(bad: object) -> None:
    with pytest.raises(UserError):
        P.split_image(bad)  # type: ignore[arg-type]


def test_float_images_are_refused_with_what_to_convert_to() -> None:
    with pytest.raises(UserError, match="convert it to 8-bit RGB or 16-bit grey"):
        P.split_image(Image.new("F", (4, 4)))


@pytest.mark.parametrize("size", [(5, 9), (196, 200), (300, 17), (1, 1)])
def test_pad_unpad_round_trip(size: tuple[int, int]) -> None:
    x = torch.rand(1, 3, *size)
    m = torch.zeros(1, 1, *size)
    xp, mp, pads = P.pad_to_fit(x, m, multiple=4, min_size=196)
    assert xp.shape[-1] % 4 == 0 and xp.shape[-2] % 4 == 0 and min(xp.shape[-2:]) >= 196
    assert mp.shape[-2:] == xp.shape[-2:]
    assert torch.equal(P.unpad(xp, pads), x)


def test_valid_sizes_are_not_padded() -> None:
    x = torch.rand(1, 3, 200, 256)
    xp, _, pads = P.pad_to_fit(x, torch.zeros(1, 1, 200, 256), multiple=4, min_size=196)
    assert pads == (0, 0, 0, 0) and xp is x


def test_grow_and_feather() -> None:
    m = np.zeros((21, 21), bool)
    m[10, 10] = True
    grown = P.grow_mask(m, 4)
    assert grown[10, 6] and grown[10, 14] and not grown[10, 5]
    assert grown.sum() < 81  # rounder than a 9x9 square
    w = P.feather_weights(m, 4)
    assert w[10, 10] == 1 and 0 < w[10, 13] < w[10, 12] < 1 and w[10, 15] == 0


def test_resize_mask_keeps_every_hole_pixel() -> None:
    m = np.zeros((100, 100), bool)
    m[50, 50] = True
    assert P.resize_mask(m, (10, 10)).sum() == 1


def test_composite_into_writes_only_weighted_pixels() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    out = rgb.copy()
    weight = np.zeros((8, 8), np.float32)
    weight[2:4, 2:4], weight[5, 5] = 1.0, 0.5
    pred = torch.ones(1, 3, 8, 8)  # white
    P.composite_into(out, pred, rgb, weight)
    assert (out[2:4, 2:4] == 255).all()
    assert np.array_equal(out[5, 5], np.round((255 + rgb[5, 5].astype(float)) / 2).astype(np.uint8))
    untouched = weight == 0
    assert np.array_equal(out[untouched], rgb[untouched])
