"""The "how it was filled" record: stage pictures, sources and confidence come from the fill that ran."""

from __future__ import annotations

import numpy as np
import pytest

from gmcnn import Inpainter
from gmcnn.inpainting.explain import ExplainCanvas, confidence_picture, position_colours, sources_picture
from tests.conftest import tiny_generator


@pytest.fixture(scope="module")
def inpainter() -> Inpainter:
    return Inpainter.from_generator(tiny_generator(), device="cpu")


def _case() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    mask = np.zeros((256, 256), bool)
    mask[64:192, 48:176] = True  # the paper's 128-px hole: its confidence weights fall well below 1 inside
    return image, mask


def test_explain_records_each_stage_of_the_same_fill(inpainter: Inpainter) -> None:
    image, mask = _case()
    from gmcnn import FillOptions

    smooth = FillOptions(detail=0)  # the network's fill alone: the stages before the completion
    plain = inpainter.fill(image, mask, smooth)
    result = inpainter.fill(image, mask, smooth, explain=True)
    assert plain.explanation is None
    assert np.array_equal(result.image, plain.image)  # explaining changes nothing in the result
    ex = result.explanation
    assert ex is not None
    assert [s.name for s in ex.stages] == ["prefill", "network", "composite"]
    pictures = ex.pictures()
    assert set(pictures) == {"stage_prefill", "stage_network", "stage_composite", "sources", "confidence"}
    for picture in pictures.values():
        assert picture.shape == image.shape and picture.dtype == np.uint8
    for stage in ex.stages:  # every stage keeps the known pixels and only differs in the hole
        assert np.array_equal(stage.image[~mask], image[~mask])
    assert np.array_equal(ex.stages[-1].image, result.image)
    assert not np.array_equal(ex.stages[0].image[mask], ex.stages[1].image[mask])  # prefill != network
    assert np.array_equal(ex.hole, mask)
    assert (ex.sources == -1).all()  # no stage copied pixels: nothing claims a source
    assert (ex.confidence[~mask] == 1).all() and (ex.confidence[mask] < 1).all() and (ex.confidence >= 0).all()
    # trust falls toward the middle of the hole: the border row is trusted more than the centre
    assert ex.confidence[64, 112] > ex.confidence[100, 112] > ex.confidence[128, 112]


def test_an_empty_mask_explains_nothing(inpainter: Inpainter) -> None:
    image, _ = _case()
    with pytest.warns(UserWarning, match="empty"):
        result = inpainter.fill(image, np.zeros(image.shape[:2], bool), explain=True)
    assert result.explanation is None


def test_canvas_maps_window_sources_to_image_coordinates() -> None:
    base = np.zeros((10, 12, 3), np.uint8)
    hole = np.zeros((10, 12), bool)
    hole[4:6, 6:8] = True
    canvas = ExplainCanvas(base, hole)
    window = (slice(2, 8), slice(4, 12))
    local = np.full((6, 8, 2), -1, np.int32)
    local[2:4, 2:4] = [[1, 0]]  # copied from window pixel (1, 0) = image pixel (3, 4)
    canvas.copied_from(window, local)
    assert (canvas.sources[4:6, 6:8] == [3, 4]).all()
    assert (canvas.sources[~hole] == -1).all()


def test_sources_picture_colours_hole_pixels_by_their_source() -> None:
    hole = np.zeros((20, 30), bool)
    hole[5:10, 5:10] = True
    sources = np.full((20, 30, 2), -1, np.int32)
    sources[5:10, 5:10] = [15, 25]
    picture = sources_picture(sources, hole)
    colours = position_colours(20, 30)
    assert (picture[5:10, 5:10] == colours[15, 25]).all()
    assert not (colours[0, 0] == colours[19, 29]).all()  # positions far apart differ in colour
    sources[7, 7] = -1
    assert (sources_picture(sources, hole)[7, 7] == 128).all()  # not copied: grey


def test_confidence_picture_runs_red_to_green() -> None:
    conf = np.array([[0.0, 1.0, 0.5]], np.float32)
    photo = np.full((1, 3, 3), 90, np.uint8)
    pic = confidence_picture(conf, np.array([[True, False, True]]), photo)
    assert tuple(pic[0, 0]) == (255, 0, 0) and tuple(pic[0, 1]) == (30, 30, 30) and tuple(pic[0, 2]) == (255, 255, 0)


def test_the_completion_stage_reports_where_it_copied_from(inpainter: Inpainter) -> None:
    from gmcnn import FillOptions

    image, mask = _case()
    half = inpainter.fill(image, mask, FillOptions(detail=0.5), explain=True).explanation
    assert half is not None and [s.name for s in half.stages] == ["prefill", "network", "completion", "composite"]
    result = inpainter.fill(image, mask, explain=True)  # detail 1: the completion is all, the network not run
    ex = result.explanation
    assert ex is not None and [s.name for s in ex.stages] == ["completion", "composite"]
    assert result.stages == ["completion", "composite"] and result.timings["completion"] > 0
    copied = ex.sources[..., 0] >= 0
    assert copied[mask].mean() > 0.9 and not copied[~mask].any()  # hole pixels name a source, known ones none
    ys, xs = ex.sources[copied][:, 0], ex.sources[copied][:, 1]
    assert not mask[ys, xs].any()  # every source is a known pixel
    assert np.array_equal(ex.stages[0].image[~mask], image[~mask])
    assert np.array_equal(ex.stages[-1].image, result.image)
