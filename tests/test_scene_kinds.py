"""The scene-kind table: complete for the manifest's photos, valid kinds, and the validation split's mix."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from gmcnn.data.corpus import read_manifest
from gmcnn.data.scene_kinds import KINDS_PATH, SCENE_KINDS, kind_of, kinds_by_file, read_scene_kinds, scene_of


def test_every_manifest_entry_has_a_kind_from_the_list() -> None:
    kinds = kinds_by_file()
    entries = read_manifest()
    assert set(kinds) == {e.name for e in entries}
    assert set(kinds.values()) <= set(SCENE_KINDS)
    for e in entries:
        if e.kind == "texture":
            assert kinds[e.name] == "texture"
        ground = "landscape" in e.scene or "sterngarten" in e.scene  # stellarium's views from the ground
        if e.package == "stellarium-data" and e.kind == "photo" and not ground:
            assert kinds[e.name] == "astro", e.name


def test_the_table_has_one_row_per_photo_scene_with_a_description() -> None:
    with open(KINDS_PATH, newline="") as fh:
        rows = list(csv.DictReader(fh))
    photo_scenes = {e.scene for e in read_manifest() if e.kind == "photo"}
    assert sorted(r["scene"] for r in rows) == sorted(photo_scenes)
    assert all(r["what"] for r in rows if r["kind"] != "astro")  # what the picture shows, for the reader


def test_the_validation_photos_are_mostly_sky() -> None:
    """The reason for stratified case sets: 30 of the 48 validation photos are astrophotographs."""
    val = [e for e in read_manifest() if e.split == "val" and e.kind == "photo"]
    mix = Counter(kind_of(e.name) for e in val)
    assert len(val) == 48 and mix["astro"] == 30
    assert mix == {"astro": 30, "objects": 7, "nature": 6, "urban": 4, "texture": 1}


def test_files_outside_the_corpus_and_bad_tables(tmp_path) -> None:
    assert kind_of("/anywhere/stellarium-m8.png") == "astro" and kind_of("holiday.jpg") == "other"
    assert scene_of("hugin-ca-tca02.jpg") == scene_of("hugin-ca-tca01.jpg") == "hugin-window"
    assert scene_of("holiday.jpg") == "holiday.jpg"
    bad = tmp_path / "kinds.csv"
    bad.write_text("scene,kind,what\nhugin-window,castle,\n")
    with pytest.raises(ValueError, match="kind 'castle'"):
        read_scene_kinds(bad)
    bad.write_text("scene,kind,what\nhugin-window,urban,\nhugin-window,nature,\n")
    with pytest.raises(ValueError, match="listed twice"):
        read_scene_kinds(bad)
    partial = tmp_path / "partial.csv"
    partial.write_text("scene,kind,what\nhugin-window,urban,window\n")
    with pytest.raises(ValueError, match="has no kind"):
        kinds_by_file(table=partial)
