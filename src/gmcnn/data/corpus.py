"""The offline training corpus: real photographs and photo-derived textures that Debian packages carry.

No data set can be downloaded here, but Debian mirrors can. Most wallpapers, game textures and stamps are
renders, drawings or logos, so what was kept was picked by looking at contact sheets (``docs/corpus/``); the
choice is the committed manifest ``corpus_manifest.csv``, one row per kept image: package, package version,
path inside the package (and ``member``, the path inside a ``.pk3``/zip archive there, for game textures),
sha256, size, ``crop`` (the fully opaque rectangle ``x,y,w,h`` of a photo cut-out, e.g. a Tux Paint stamp,
with ``crop_sha256`` of the written crop), the licence from the package's ``copyright`` file, ``kind``
(``photo`` or ``texture``), ``scene`` and ``split``.

``gmcnn corpus build DIR`` rebuilds the corpus from the manifest alone and prints what it downloaded:

* photos go to ``DIR/train/`` and ``DIR/val/``, textures to ``DIR/textures/train/`` and ``DIR/textures/val/``
  (original bytes, or a binary PPM of the opaque crop, whose bytes depend only on the decoded pixels);
* each package is fetched at the recorded version with ``apt-get download`` (:mod:`gmcnn.data.debs`), only the
  listed files are read out of it, every sha256 is checked, and the ``.deb`` is deleted once read (unless
  ``--cache`` keeps it);
* files already in ``DIR`` (or in the ``.DIR-partial`` folder an interrupted build leaves) with the right
  sha256 are reused, so a rebuild works offline and an interrupted build resumes where it stopped;
* the training cache (:mod:`gmcnn.data.corpus_cache`) is rebuilt when the manifest changed.

Anything missing or changed stops the build with a :class:`~gmcnn.errors.UserError` naming the package or
file, and the previous corpus stays as it was. ``gmcnn corpus verify DIR`` checks a built corpus.

The split is by *scene*, not by crop or file: a scene is one source (a stereo pair, tiles of one panorama,
variants of one texture share a scene) and scene ids are prefixed by the package family, so no validation
scene leaks into training through a near-duplicate.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gmcnn.data.debs import fetch_deb, read_deb_members
from gmcnn.data.manifest import (
    CACHE_DIR,
    KINDS,
    MANIFEST_PATH,
    SPLITS,
    Entry,
    read_manifest,
)
from gmcnn.errors import UserError

# ----------------------------------------------------------------------------------------------- build


@dataclass
class BuildReport:
    """What a build did: packages downloaded (name, version, bytes), files reused and files extracted."""

    downloaded: list[tuple[str, str, int]] = field(default_factory=list)
    reused: int = 0
    extracted: int = 0

    def describe(self) -> str:
        """One line: what was downloaded (in total), extracted and reused."""
        total = sum(n for _, _, n in self.downloaded)
        names = ", ".join(p for p, _, _ in self.downloaded)
        return (
            f"{len(self.downloaded)} package(s) downloaded ({total / 1e6:.1f} MB{': ' + names if names else ''}), "
            f"{self.extracted} file(s) extracted, {self.reused} reused from an earlier build"
        )


def crop_to_ppm(data: bytes, box: tuple[int, int, int, int]) -> bytes:
    """The ``(x, y, w, h)`` region of an image file as a binary PPM (RGB).

    PPM is a header plus the raw pixels, so its bytes depend only on the decoded pixels (and PNG decoding
    is exact): the same crop on any machine, unlike a re-encoded PNG whose bytes follow the zlib build.

    Raises:
        UserError: the region is not fully opaque (the manifest's crop does not fit this file).
    """
    from PIL import Image  # local import: reading the manifest does not need PIL

    x, y, w, h = box
    with Image.open(io.BytesIO(data)) as im:
        region = im.convert("RGBA").crop((x, y, x + w, y + h))
    if region.size != (w, h) or region.getchannel("A").getextrema() != (255, 255):
        raise UserError(f"crop {x},{y},{w},{h} is not a fully opaque region of the image")
    return f"P6\n{w} {h}\n255\n".encode() + region.convert("RGB").tobytes()


def _matches(file: Path, digest: str) -> bool:
    return file.is_file() and hashlib.sha256(file.read_bytes()).hexdigest() == digest


def _output_bytes(found: dict[str, bytes], e: Entry, archives: dict[str, zipfile.ZipFile]) -> bytes:
    """The bytes to write for ``e`` from the files read out of its package (checked against the manifest)."""
    data = found.get(e.path)
    if data is None:
        raise UserError(f"{e.package} {e.version}: {e.path} is missing from the package")
    if e.member:
        try:
            archive = archives.setdefault(e.path, zipfile.ZipFile(io.BytesIO(data)))
            data = archive.read(e.member)
        except (zipfile.BadZipFile, KeyError) as exc:
            raise UserError(f"{e.package} {e.version}: {e.path} holds no {e.member} ({exc})") from exc
    check_sha256(data, e)
    box = e.crop_box
    if box is None:
        return data
    out = crop_to_ppm(data, box)
    if hashlib.sha256(out).hexdigest() != e.crop_sha256:
        raise UserError(f"{e.package} {e.version}: the crop {e.crop} of {e.path} differs from the manifest's")
    return out


def _reuse(entries: Sequence[Entry], staging: Path, out_dir: Path) -> tuple[list[Entry], int]:
    """Link files that an earlier (or interrupted) build already wrote into ``staging``; the rest to fetch."""
    todo, reused = [], 0
    for e in entries:
        dest, old = staging / e.relpath, out_dir / e.relpath
        if _matches(dest, e.out_sha256):
            reused += 1
        elif _matches(old, e.out_sha256):
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.unlink(missing_ok=True)
            try:
                os.link(old, dest)  # same file system: no copy, no extra space
            except OSError:
                shutil.copyfile(old, dest)
            reused += 1
        else:
            todo.append(e)
    return todo, reused


def _extract(todo: Sequence[Entry], staging: Path, debs: Path, *, keep_debs: bool, report: BuildReport,
             log: Callable[[str], None]) -> None:  # fmt: skip
    """Fetch each package the ``todo`` rows need, write their files into ``staging``, drop the ``.deb``."""
    by_package: dict[str, list[Entry]] = {}
    for e in todo:
        by_package.setdefault(e.package, []).append(e)
    for package, rows in sorted(by_package.items()):
        deb, downloaded = fetch_deb(package, rows[0].version, debs)
        if downloaded:
            report.downloaded.append((package, rows[0].version, deb.stat().st_size))
            log(f"downloaded {package} {rows[0].version} ({deb.stat().st_size / 1e6:.1f} MB)")
        found = read_deb_members(deb, [e.path for e in rows])
        archives: dict[str, zipfile.ZipFile] = {}
        for e in rows:
            dest = staging / e.relpath
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.tmp")
            tmp.write_bytes(_output_bytes(found, e, archives))
            tmp.replace(dest)  # a file in staging is always complete, so a resumed build can trust it
            report.extracted += 1
        if not keep_debs:
            deb.unlink()


def build(out_dir: Path | str, *, manifest: Path | str = MANIFEST_PATH, cache: Path | str | None = None,
          log: Callable[[str], None] = lambda _: None) -> BuildReport:  # fmt: skip
    """Build the corpus described by ``manifest`` into ``out_dir`` (see the module docstring).

    The new corpus is assembled in ``.NAME-partial`` next to ``out_dir`` and swapped in only when every file
    checked out, so a failed build leaves an existing corpus untouched; the partial folder stays, and the
    next build continues from it.

    Args:
        out_dir: target folder; gets ``train/``, ``val/``, ``textures/`` and ``manifest.csv``.
        manifest: the manifest to build (default: the committed one).
        cache: folder that keeps the downloaded ``.deb`` files for later builds; default: a temporary
            folder, each ``.deb`` deleted as soon as its files are out.
        log: called with a line per downloaded package.

    Returns:
        What was downloaded, extracted and reused.

    Raises:
        UserError: a package cannot be fetched at the recorded version, or a file is missing or changed
            (the message names the package and the file).
    """
    entries = read_manifest(manifest)
    out_dir = Path(out_dir)
    _check_replaceable(out_dir)
    if _up_to_date(out_dir, manifest):  # nothing to do: leave the folder (and anyone reading it) alone
        return BuildReport(reused=len(entries))
    report = BuildReport()
    staging = out_dir.with_name(f".{out_dir.name}-partial")
    staging.mkdir(parents=True, exist_ok=True)
    todo, report.reused = _reuse(entries, staging, out_dir)
    with tempfile.TemporaryDirectory(prefix="gmcnn-debs-") as tmp:
        debs = Path(cache) if cache is not None else Path(tmp)
        debs.mkdir(parents=True, exist_ok=True)
        _extract(todo, staging, debs, keep_debs=cache is not None, report=report, log=log)
    _remove_strays(staging, {e.relpath for e in entries})
    shutil.copyfile(manifest, staging / "manifest.csv")
    if (out_dir / CACHE_DIR).is_dir():  # the training cache checks itself against the manifest
        shutil.rmtree(staging / CACHE_DIR, ignore_errors=True)
        (out_dir / CACHE_DIR).rename(staging / CACHE_DIR)
    _swap_in(staging, out_dir)
    return report


def _up_to_date(out_dir: Path, manifest: Path | str) -> bool:
    """True when ``out_dir`` is a verified build of exactly this manifest."""
    built = out_dir / "manifest.csv"
    if not built.is_file() or built.read_bytes() != Path(manifest).read_bytes():
        return False
    try:
        verify(out_dir, manifest=manifest)
    except UserError:
        return False
    return True


def _remove_strays(staging: Path, expected: set[str]) -> None:
    """Delete files in ``staging`` that the manifest does not list (rows removed since an interrupted build)."""
    for folder in ("train", "val", "textures/train", "textures/val"):
        for file in sorted((staging / folder).glob("*")) if (staging / folder).is_dir() else []:
            if file.is_file() and f"{folder}/{file.name}" not in expected:
                file.unlink()


def check_sha256(data: bytes, entry: Entry) -> None:
    """Raise a UserError naming the package and file when ``data`` is not the file the manifest recorded."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        where = f"{entry.path}!{entry.member}" if entry.member else entry.path
        raise UserError(
            f"{entry.package} {entry.version}: {where} changed (sha256 {digest[:12]}..., "
            f"manifest {entry.sha256[:12]}...)"
        )


def _check_replaceable(out_dir: Path) -> None:
    """Refuse to build over a folder that is not a corpus (it would be deleted by the swap)."""
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / "manifest.csv").is_file():
        raise UserError(f"{out_dir} exists and is not a corpus (no manifest.csv); choose an empty folder")


def _swap_in(staging: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by ``staging``."""
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}-old")
        shutil.rmtree(old, ignore_errors=True)
        out_dir.rename(old)
        staging.rename(out_dir)
        shutil.rmtree(old)
    else:
        staging.rename(out_dir)


def verify(corpus_dir: Path | str, *, manifest: Path | str = MANIFEST_PATH) -> list[Entry]:
    """Check a built corpus: every manifest file present with its sha256, and no stray images.

    Raises:
        UserError: naming the first missing, changed or unexpected file.
    """
    corpus_dir = Path(corpus_dir)
    entries = read_manifest(manifest)
    for e in entries:
        file = corpus_dir / e.relpath
        if not file.is_file():
            raise UserError(f"{file} is missing (from {e.package}: {e.path}); rebuild with gmcnn corpus build")
        if hashlib.sha256(file.read_bytes()).hexdigest() != e.out_sha256:
            raise UserError(f"{file} changed since the build (from {e.package}: {e.path}); rebuild it")
    expected = {e.relpath for e in entries}
    for folder in ("train", "val", "textures/train", "textures/val"):
        for file in sorted((corpus_dir / folder).glob("*")) if (corpus_dir / folder).is_dir() else []:
            if file.is_file() and f"{folder}/{file.name}" not in expected:
                raise UserError(f"{file} is not in the manifest")
    return entries


def summary(entries: Sequence[Entry]) -> str:
    """Counts, pixels and sizes per kind and split, one line each."""
    lines = []
    for kind in KINDS:
        for split in SPLITS:
            rows = [e for e in entries if e.split == split and e.kind == kind]
            if not rows:
                continue
            px = sum(e.width * e.height for e in rows)
            shorts = [min(e.width, e.height) for e in rows]
            lines.append(
                f"{kind} {split}: {len(rows)} from {len({e.scene for e in rows})} scenes, "
                f"{len({e.package for e in rows})} packages, {px / 1e6:.1f} Mpx, "
                f"short side {min(shorts)}-{max(shorts)} px"
            )
    return "\n".join(lines)
