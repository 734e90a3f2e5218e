"""What each corpus photo shows: a scene kind per manifest scene, for stratified evaluation case sets.

``scene_kinds.csv`` (beside the corpus manifest) gives every photo scene of ``corpus_manifest.csv`` one kind,
filled in by looking at the photos (a contact sheet of one photo per scene), with a few words on what is in
the picture. Texture entries of the manifest are kind ``texture`` without a row. The kinds:

* ``astro`` — astrophotographs (stellarium-data's nebulae, galaxies and clusters; a planet);
* ``nature`` — landscapes, plants, animals in their setting, water and sky;
* ``urban`` — buildings, streets, rooms and vehicles in their setting;
* ``objects`` — people, animals and things seen close (still lifes, food, faces, machines);
* ``texture`` — a surface filling the frame (the corpus textures, and photos such as wood grain or peel).

Files not in the manifest are of kind :data:`OTHER`. The train/val split is the manifest's and is not
changed by the kinds; they only say which photos a case set draws from in what proportion.
"""

from __future__ import annotations

import csv
import functools
import os
from pathlib import Path
from typing import Final

from gmcnn.data.corpus import MANIFEST_PATH, read_manifest

KINDS_PATH: Final = Path(__file__).with_name("scene_kinds.csv")
SCENE_KINDS: Final = ("astro", "nature", "urban", "objects", "texture")
OTHER: Final = "other"


def read_scene_kinds(path: str | os.PathLike[str] = KINDS_PATH) -> dict[str, str]:
    """Scene -> kind from the table; an unknown kind or a scene listed twice is a ``ValueError``."""
    out: dict[str, str] = {}
    with open(path, newline="") as fh:
        for number, row in enumerate(csv.DictReader(fh), 2):
            scene, kind = row["scene"], row["kind"]
            if kind not in SCENE_KINDS:
                raise ValueError(f"{path}:{number}: kind {kind!r} of {scene} is not one of {SCENE_KINDS}")
            if scene in out:
                raise ValueError(f"{path}:{number}: scene {scene} is listed twice")
            out[scene] = kind
    return out


@functools.cache
def kinds_by_file(manifest: Path | str = MANIFEST_PATH, table: Path | str = KINDS_PATH) -> dict[str, str]:
    """Corpus file name (``stellarium-m8.png``) -> kind, for every manifest entry.

    Raises:
        ValueError: a photo scene without a kind in the table, or a table row for no manifest scene.
    """
    kinds = read_scene_kinds(table)
    out: dict[str, str] = {}
    photo_scenes = set()
    for entry in read_manifest(manifest):
        if entry.kind == "texture":
            out[entry.name] = kinds.get(entry.scene, "texture")
            continue
        photo_scenes.add(entry.scene)
        if entry.scene not in kinds:
            raise ValueError(f"photo scene {entry.scene} ({entry.name}) has no kind in {table}")
        out[entry.name] = kinds[entry.scene]
    stray = sorted(set(kinds) - photo_scenes)
    if stray:
        raise ValueError(f"{table} lists scenes that are not photo scenes of the manifest: {stray[:5]}")
    return out


def kind_of(path: str | os.PathLike[str]) -> str:
    """The kind of an image file, by its file name (:data:`OTHER` when it is not a corpus file)."""
    return kinds_by_file().get(Path(path).name, OTHER)


@functools.cache
def _scenes(manifest: Path | str = MANIFEST_PATH) -> dict[str, str]:
    return {e.name: e.scene for e in read_manifest(manifest)}


def scene_of(path: str | os.PathLike[str]) -> str:
    """The manifest scene of an image file (variants of one photo share it); the file name when not a corpus file."""
    name = Path(path).name
    return _scenes().get(name, name)


__all__ = ["KINDS_PATH", "OTHER", "SCENE_KINDS", "kind_of", "kinds_by_file", "read_scene_kinds", "scene_of"]
