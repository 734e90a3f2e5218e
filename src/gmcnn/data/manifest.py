"""The corpus manifest: one row per kept image, the rules a row must satisfy, and reading and writing it.

``corpus_manifest.csv`` (package data) is the committed choice of what the training corpus holds; see
:mod:`gmcnn.data.corpus` for how a corpus is built from it. Columns: ``name``, ``package``, ``version``,
``path`` inside the package, ``member`` (inside a ``.pk3``/zip archive there), ``sha256``, ``width``,
``height``, ``crop`` (``x,y,w,h`` of a photo cut-out's opaque rectangle) and its ``crop_sha256``, ``licence``,
``kind`` (``photo`` / ``texture``), ``scene`` and ``split``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from gmcnn.errors import UserError

MANIFEST_PATH = Path(__file__).with_name("corpus_manifest.csv")
PACKAGES = (
    "opencv-doc",
    "mate-backgrounds",
    "plasma-workspace-wallpapers",
    "gnome-backgrounds",
    "ukui-wallpapers",
    "lomiri-wallpapers-20.04",
    "lomiri-wallpapers-16.04",
    "hugin-data",
    "stellarium-data",
    "tuxpaint-stamps-default",
    "digikam-data",
    "ufoai-textures",
    "openarena-081-textures",
    "colobot-common-textures",
    "extremetuxracer-data",
)
SPLITS = ("train", "val")
KINDS = ("photo", "texture")
# Short side a file (or its crop) needs: photos are cropped to 256 px squares; a photo cut-out's opaque
# rectangle and a texture may be smaller (textures tile, see gmcnn.data.corpus_cache), but not below 128 px.
MIN_PHOTO_SIDE = 256
MIN_CROP_SIDE = 128
MIN_TEXTURE_SIDE = 128
_SHA256 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*\.(jpg|jpeg|png|tga|ppm)")
_CROP = re.compile(r"\d+,\d+,\d+,\d+")
CACHE_DIR = "cache"  # the training cache's folder inside a corpus (gmcnn.data.corpus_cache)


@dataclass(frozen=True)
class Entry:
    """One kept image (one manifest row).

    Attributes:
        name: file name in the built corpus (unique, lowercase).
        package: Debian package that carries the image.
        version: exact package version the sha256 was taken from.
        path: path inside the package, relative, no leading slash.
        member: path inside the zip archive (``.pk3``) at ``path``; empty for a plain file.
        sha256: hex digest of the source file's bytes.
        width: pixels (of the crop, when there is one).
        height: pixels (of the crop, when there is one).
        crop: ``x,y,w,h`` of the fully opaque rectangle that is kept, or empty for the whole file.
        crop_sha256: hex digest of the written crop (a binary PPM); empty without a crop.
        licence: the ``License:`` of the matching stanza of the package's copyright file.
        kind: ``photo`` or ``texture`` (photo-derived).
        scene: source scene; near-duplicate views share a scene and therefore a split.
        split: ``train`` or ``val``.
    """

    name: str
    package: str
    version: str
    path: str
    member: str
    sha256: str
    width: int
    height: int
    crop: str
    crop_sha256: str
    licence: str
    kind: str
    scene: str
    split: str

    @property
    def relpath(self) -> str:
        """Where the file goes inside a built corpus."""
        return f"{self.split}/{self.name}" if self.kind == "photo" else f"textures/{self.split}/{self.name}"

    @property
    def out_sha256(self) -> str:
        """sha256 of the file as written into the corpus."""
        return self.crop_sha256 or self.sha256

    @property
    def crop_box(self) -> tuple[int, int, int, int] | None:
        """``(x, y, w, h)`` or None."""
        if not self.crop:
            return None
        x, y, w, h = (int(v) for v in self.crop.split(","))
        return x, y, w, h


COLUMNS = tuple(f.name for f in fields(Entry))


# ---------------------------------------------------------------------------------------------- manifest


def read_manifest(path: Path | str = MANIFEST_PATH) -> list[Entry]:
    """Read and validate a corpus manifest.

    Raises:
        UserError: the file is missing, a column is missing or unknown, or a row is invalid (see
            :func:`validate_entries`); the message names the row.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"corpus manifest not found: {path}")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = tuple(reader.fieldnames or ())
        if set(header) != set(COLUMNS):
            raise UserError(f"{path}: expected columns {','.join(COLUMNS)}, got {','.join(header)}")
        entries = []
        for line, row in enumerate(reader, start=2):
            try:
                entries.append(
                    Entry(**{**row, "width": int(row["width"]), "height": int(row["height"])})  # type: ignore[arg-type]
                )
            except (TypeError, ValueError) as exc:
                raise UserError(f"{path}:{line}: width and height must be integers ({exc})") from exc
    validate_entries(entries, source=str(path))
    return entries


def _check_row(e: Entry, where: str) -> None:
    """The rules for one row (see :func:`validate_entries`)."""
    if e.package not in PACKAGES:
        raise UserError(f"{where}: package {e.package!r} is not one of {', '.join(PACKAGES)}")
    if not _NAME.fullmatch(e.name):
        raise UserError(f"{where}: name must be lowercase [a-z0-9_.-] ending in .jpg/.jpeg/.png/.tga/.ppm")
    for label, value in (("path", e.path), ("member", e.member)):
        if value.startswith("/") or ".." in Path(value).parts or (label == "path" and not value):
            raise UserError(f"{where}: {label} must be relative inside the package, got {value!r}")
    if not _SHA256.fullmatch(e.sha256):
        raise UserError(f"{where}: sha256 must be 64 lowercase hex digits")
    if e.kind not in KINDS:
        raise UserError(f"{where}: kind must be photo or texture, got {e.kind!r}")
    if e.crop and not (_CROP.fullmatch(e.crop) and _SHA256.fullmatch(e.crop_sha256) and e.name.endswith(".ppm")):
        raise UserError(f"{where}: a crop is x,y,w,h with a crop_sha256, written as .ppm")
    if not e.crop and (e.crop_sha256 or e.name.endswith(".ppm")):
        raise UserError(f"{where}: crop_sha256 and .ppm names belong to cropped rows only")
    if e.crop_box is not None and e.crop_box[2:] != (e.width, e.height):
        raise UserError(f"{where}: width x height must be the crop's size {e.crop_box[2]}x{e.crop_box[3]}")
    need = MIN_TEXTURE_SIDE if e.kind == "texture" else MIN_CROP_SIDE if e.crop else MIN_PHOTO_SIDE
    if min(e.width, e.height) < need:
        raise UserError(f"{where}: {e.width}x{e.height} is below {need} px on the short side")
    if not e.licence or not e.version or not e.scene:
        raise UserError(f"{where}: version, licence and scene must not be empty")
    if e.split not in SPLITS:
        raise UserError(f"{where}: split must be train or val, got {e.split!r}")


def validate_entries(entries: Sequence[Entry], *, source: str = "manifest") -> None:
    """Check the rules a manifest must follow.

    Every row: a known package, a relative path, a lowercase hex sha256, a safe unique file name, a kind,
    a short side of at least 256 px for photos (128 px for an opaque crop or a texture), a licence, a split
    in ``train``/``val``. Across rows: no file twice (by path or by sha256), one version per package, each
    scene in one split only, and photos in both splits.

    Raises:
        UserError: naming the first offending row.
    """
    if not entries:
        raise UserError(f"{source}: no entries")
    seen: dict[str, dict[str, str]] = {"name": {}, "sha256": {}, "path": {}}
    versions: dict[str, str] = {}
    scene_split: dict[str, str] = {}
    for e in entries:
        where = f"{source}: {e.name!r}"
        _check_row(e, where)
        source_file = f"{e.package}:{e.path}!{e.member}"
        for key, value in (("name", e.name), ("sha256", e.sha256), ("path", source_file)):
            if value in seen[key]:
                raise UserError(f"{where}: same {key} as {seen[key][value]!r}")
            seen[key][value] = e.name
        if versions.setdefault(e.package, e.version) != e.version:
            raise UserError(f"{where}: {e.package} listed at versions {versions[e.package]} and {e.version}")
        if scene_split.setdefault(e.scene, e.split) != e.split:
            raise UserError(f"{where}: scene {e.scene!r} appears in both train and val")
    for split in SPLITS:
        if not any(e.split == split and e.kind == "photo" for e in entries):
            raise UserError(f"{source}: the {split} split has no photos")


def write_manifest(entries: Iterable[Entry], path: Path | str) -> None:
    """Write entries as a manifest CSV (sorted by kind, split, then name, so diffs stay small)."""
    rows = sorted(entries, key=lambda e: (e.kind, e.split, e.name))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(asdict(e) for e in rows)
    Path(path).write_text(buf.getvalue(), encoding="utf-8")
