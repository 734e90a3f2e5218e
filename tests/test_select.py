"""Smart select (gmcnn.inpainting.select): a rough stroke or a tap snaps to the object's outline."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from helpers.scene import iou, object_scene

from gmcnn.errors import UserError
from gmcnn.inpainting import select


def test_a_stroke_that_spills_over_snaps_to_the_object() -> None:
    picture, obj = object_scene()
    stroke = np.zeros(obj.shape, bool)
    stroke[66:78, 50:170] = True  # across the ellipse and well beyond both of its ends
    assert iou(stroke, obj) < 0.3
    found = select.snap(picture, stroke)
    assert found.snapped and iou(found.mask, obj) > 0.9


def test_a_tap_selects_the_object_under_it() -> None:
    picture, obj = object_scene()
    yy, xx = np.mgrid[: obj.shape[0], : obj.shape[1]]
    for y, x in ((72, 106), (50, 95)):  # the middle, and off-centre
        found = select.snap(picture, (yy - y) ** 2 + (xx - x) ** 2 < 5**2)
        assert found.snapped and iou(found.mask, obj) > 0.85, (y, x)


def test_large_images_are_cut_at_a_smaller_scale_and_answered_at_theirs() -> None:
    picture, obj = object_scene(720, 960)
    stroke = np.zeros(obj.shape, bool)
    stroke[340:380, 400:700] = True
    found = select.snap(picture, stroke)
    assert found.mask.shape == obj.shape and iou(found.mask, obj) > 0.9


def test_same_stroke_same_outline() -> None:
    picture, obj = object_scene()
    stroke = np.zeros(obj.shape, bool)
    stroke[60:80, 90:120] = True
    assert np.array_equal(select.snap(picture, stroke).mask, select.snap(picture, stroke).mask)


def test_bad_hints_are_user_errors() -> None:
    picture, obj = object_scene()
    with pytest.raises(UserError, match="draw a stroke"):
        select.snap(picture, np.zeros(obj.shape, bool))
    with pytest.raises(UserError, match="the stroke is 10x10"):
        select.snap(picture, np.ones((10, 10), bool))


def test_without_opencv_it_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)  # "import cv2" raises ImportError
    assert not select.available()
    picture, obj = object_scene()
    with pytest.raises(UserError, match=r"gmcnn\[web\]"):
        select.snap(picture, obj)
