"""Evaluation case sets: the masks each protocol promises, determinism from the seed, write-once reuse."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from gmcnn.data.masks import DEFAULT_COVERAGE_BINS
from gmcnn.errors import UserError
from gmcnn.evaluation.protocol import PROTOCOLS, build_cases, coverage_label, load_cases, random_crop


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scikit-image's bundled photos as files (one in a subfolder, one JPEG, one smaller than a crop)."""
    folder = tmp_path_factory.mktemp("photos")
    (folder / "sub").mkdir()
    Image.fromarray(data.astronaut()).save(folder / "astronaut.png")
    Image.fromarray(data.coffee()).save(folder / "sub" / "coffee.jpg", quality=95)
    Image.fromarray(data.chelsea()).save(folder / "chelsea.png")
    Image.fromarray(data.rocket()[:200, :180]).save(folder / "small.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


def _arrays(cases):
    return [(c.id, c.image(), c.mask()) for c in cases.cases]


def test_paper_rect_is_one_128_square_at_a_random_place(photos, tmp_path):
    cases = build_cases("paper-rect", photos, tmp_path / "c", num=6, seed=0)
    assert len(cases.cases) == 6 and cases.bins == ["all"]
    corners = set()
    for case in cases.cases:
        image, mask = case.image(), case.mask()
        assert image.shape == (256, 256, 3) and image.dtype == np.uint8
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        assert mask.sum() == 128 * 128 and len(rows) == 128 and len(cols) == 128  # one solid square
        corners.add((rows[0], cols[0]))
        assert case.coverage == pytest.approx(0.25)
    assert len(corners) > 1


def test_center_is_the_middle_square(photos, tmp_path):
    cases = build_cases("center", photos, tmp_path / "c", num=2, seed=0)
    expected = np.zeros((256, 256), dtype=bool)
    expected[64:192, 64:192] = True
    for case in cases.cases:
        np.testing.assert_array_equal(case.mask(), expected)


def test_strokes_cover_15_to_40_percent(photos, tmp_path):
    cases = build_cases("strokes", photos, tmp_path / "c", num=8, seed=3)
    coverages = [c.mask().mean() for c in cases.cases]
    assert all(0.15 <= v <= 0.40 for v in coverages)
    assert len(set(coverages)) == len(coverages)


def test_coverage_has_every_bin_for_every_crop(photos, tmp_path):
    cases = build_cases("coverage", photos, tmp_path / "c", num=2, seed=0)
    labels = [coverage_label(lo, hi) for lo, hi in DEFAULT_COVERAGE_BINS]
    assert cases.bins == labels
    assert len(cases.cases) == 2 * len(labels)
    for case in cases.cases:
        lo, hi = DEFAULT_COVERAGE_BINS[labels.index(case.bin)]
        assert lo <= case.mask().mean() <= hi
        assert case.coverage == pytest.approx(case.mask().mean(), abs=1e-6)
    # Bins of one crop share the image, so bins compare the same content.
    first = [c for c in cases.cases if c.id.startswith("0000-")]
    assert len({c.image_path for c in first}) == 1


def test_same_seed_same_cases_and_more_cases_keep_the_first(photos, tmp_path):
    a = _arrays(build_cases("strokes", photos, tmp_path / "a", num=3, seed=7))
    b = _arrays(build_cases("strokes", photos, tmp_path / "b", num=5, seed=7))
    c = _arrays(build_cases("strokes", photos, tmp_path / "c", num=3, seed=8))
    for (ia, xa, ma), (ib, xb, mb) in zip(a, b[:3], strict=True):
        assert ia == ib
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ma, mb)
    assert not all(np.array_equal(ma, mc) for (_, _, ma), (_, _, mc) in zip(a, c, strict=True))


def test_sources_cycle_and_are_recorded(photos, tmp_path):
    cases = build_cases("center", photos, tmp_path / "c", num=9, seed=0)
    sources = [c.source for c in cases.cases]
    assert set(sources) == {"astronaut.png", "sub/coffee.jpg", "chelsea.png", "small.png"}
    assert sorted(sources[:4]) == sorted(set(sources))  # every image once before any repeats


def test_written_once_reused_and_refused_with_other_parameters(photos, tmp_path):
    out = tmp_path / "c"
    build_cases("center", photos, out, num=2, seed=0)
    stamp = (out / "images" / "0000.png").stat().st_mtime_ns
    again = build_cases("center", photos, out, num=2, seed=0)
    assert len(again.cases) == 2
    assert (out / "images" / "0000.png").stat().st_mtime_ns == stamp
    with pytest.raises(UserError, match="already holds"):
        build_cases("center", photos, out, num=3, seed=0)


def test_manifest_is_readable_without_gmcnn(photos, tmp_path):
    out = tmp_path / "c"
    build_cases("coverage", photos, out, num=1, seed=0)
    meta = json.loads((out / "manifest.json").read_text())
    assert meta["protocol"] == "coverage" and meta["size"] == 256 and len(meta["cases"]) == 6
    for case in meta["cases"]:
        mask = np.asarray(Image.open(out / case["mask"]))
        assert set(np.unique(mask)) <= {0, 255}
        assert (out / case["image"]).is_file()
    lines = (out / "manifest.csv").read_text().splitlines()
    assert lines[0].startswith("id,image,mask") and len(lines) == 7


def test_small_sources_are_upscaled_to_the_crop(rng):
    crop, factor, box = random_crop(Image.fromarray(data.rocket()[:100, :80]), 256, rng)
    assert crop.shape == (256, 256, 3) and factor == pytest.approx(256 / 80)
    assert box[2:] == [256, 256]


def test_errors_are_clear(photos, tmp_path):
    with pytest.raises(UserError, match="unknown protocol"):
        build_cases("nope", photos, tmp_path / "x", num=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no images"):
        build_cases("center", tmp_path / "empty", tmp_path / "x", num=1)
    with pytest.raises(FileNotFoundError):
        load_cases(tmp_path / "empty")
    assert set(PROTOCOLS) == {"paper-rect", "center", "strokes", "coverage"}
