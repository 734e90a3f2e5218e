"""Evaluation case sets: the masks each protocol promises, determinism from the seed, write-once reuse."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.cases import OUTSIDER, PHOTOS, kind_folders
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
    assert set(PROTOCOLS) == {"paper-rect", "center", "strokes", "mixed", "coverage"}


@pytest.fixture(scope="module")
def kind_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return kind_folders(tmp_path_factory.mktemp("kinds"))


def test_mixed_cycles_rect_center_strokes_and_records_the_type(photos, tmp_path):
    cases = build_cases("mixed", photos, tmp_path / "c", num=7, seed=2, size=64)
    types = [c.mask_type for c in cases.cases]
    assert types == ["rect", "center", "strokes", "rect", "center", "strokes", "rect"]
    centre = np.zeros((64, 64), dtype=bool)
    centre[16:48, 16:48] = True
    for case in cases.cases:
        mask = case.mask()
        if case.mask_type == "center":
            np.testing.assert_array_equal(mask, centre)
        elif case.mask_type == "rect":  # one solid 32 x 32 square somewhere
            rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
            assert mask.sum() == 32 * 32 and len(rows) == 32 and len(cols) == 32
        else:
            assert 0.15 <= mask.mean() <= 0.40
    assert load_cases(tmp_path / "c").cases[2].mask_type == "strokes"  # read back from the manifest


def test_old_manifests_without_mask_type_or_kind_still_load(photos, tmp_path):
    build_cases("strokes", photos, tmp_path / "c", num=2, seed=0, size=64)
    path = tmp_path / "c" / "manifest.json"
    meta = json.loads(path.read_text())
    for case in meta["cases"]:
        del case["mask_type"], case["kind"]
    path.write_text(json.dumps(meta))
    cases = load_cases(tmp_path / "c")
    assert [(c.mask_type, c.kind) for c in cases.cases] == [("strokes", "other")] * 2


def test_every_case_records_its_scene_kind(kind_data, tmp_path):
    photos_dir, _ = kind_data
    cases = build_cases("center", photos_dir, tmp_path / "c", num=len(PHOTOS) + 1, seed=0, size=64)
    kinds = {Path(c.source).name: c.kind for c in cases.cases}
    assert kinds == {**{name: kind for name, (kind, _) in PHOTOS.items()}, OUTSIDER: "other"}
    assert "kind" in (tmp_path / "c" / "manifest.csv").read_text().splitlines()[0].split(",")


def test_stratified_sets_share_the_cases_by_kind_with_astro_capped(kind_data, tmp_path):
    photos_dir, textures_dir = kind_data
    args = dict(num=24, seed=3, size=64, stratify=True, max_share={"astro": 0.125})
    cases = build_cases("mixed", [photos_dir, textures_dir], tmp_path / "c", **args)
    counts = cases.counts("kind")
    # 6 kinds present (astro, nature, objects, other, texture, urban); astro capped at 3 of 24, the others share 21.
    assert counts["astro"] == 3 and sorted(v for k, v in counts.items() if k != "astro") == [4, 4, 4, 4, 5]
    assert set(cases.counts("mask_type")) == {"rect", "center", "strokes"}
    for kind in counts:  # every kind gets the three mask types in turn
        types = [c.mask_type for c in cases.cases if c.kind == kind]
        assert max(types.count(t) for t in set(types)) - min(types.count(t) for t in ("rect", "center", "strokes")) <= 1
    # Two folders: sources are named relative to their common parent.
    assert {c.source for c in cases.cases if c.kind == "texture"} == {"textures/colobot-green01.png"}
    # The urban scene with two files (hugin-window) gets no more cases than the one with one file.
    urban = [Path(c.source).name for c in cases.cases if c.kind == "urban"]
    assert abs(urban.count("opencv-scenetext05.jpg") - (len(urban) - urban.count("opencv-scenetext05.jpg"))) <= 1
    again = build_cases("mixed", [photos_dir, textures_dir], tmp_path / "d", **args)
    assert [(c.source, c.mask_type) for c in again.cases] == [(c.source, c.mask_type) for c in cases.cases]
    assert cases.strata == {"by": "kind", "max_share": {"astro": 0.125}}
    with pytest.raises(UserError, match="already holds"):
        build_cases("mixed", [photos_dir, textures_dir], tmp_path / "c", **{**args, "max_share": {"astro": 0.25}})


def test_min_side_skips_small_sources(kind_data, tmp_path):
    photos_dir, textures_dir = kind_data
    cases = build_cases("center", [photos_dir, textures_dir], tmp_path / "c", num=30, seed=0, min_side=256)
    assert "texture" not in cases.counts("kind")  # the only texture is 200 px high
    assert cases.min_side == 256 and len(cases.counts("kind")) == 5
    with pytest.raises(UserError, match="shorter side of 9999"):
        build_cases("center", textures_dir, tmp_path / "x", num=1, min_side=9999)
    with pytest.raises(UserError, match="applies to stratified"):
        build_cases("center", textures_dir, tmp_path / "y", num=1, max_share={"astro": 0.5})
    with pytest.raises(UserError, match="no source has"):
        build_cases("center", textures_dir, tmp_path / "z", num=1, stratify=True, max_share={"astro": 0.5})
