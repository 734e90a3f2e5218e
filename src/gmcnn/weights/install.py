"""Put an official release into a models folder: download it, check it, unpack it, move it into place.

``gmcnn models download NAME`` and the web server's download route call :func:`install`. Nothing here runs
unless asked. A release lands in ``DIR/<its folder>`` (``places2_512x680_freeform/``, ``celebahq256_rect/`` ...),
the name the registry recognises it by, and only once all of it has passed:

* the transfer itself: every announced byte arrived (:func:`gmcnn.weights.download.fetch`);
* the published file's size and sha256, where the registry records them;
* the zip archive's own CRC-32 of every member, and safe member names (no absolute paths, ``..`` or links);
* the checkpoint's own checksums: every index block's and every tensor's CRC32C and each data file's size
  (:meth:`gmcnn.weights.tf_bundle.TensorBundle.verify_all`), or for the PyTorch release a safe
  ``weights_only`` load;
* that it holds the release's generator, at the release's width.

Work happens in ``DIR/.gmcnn-downloads/``: an interrupted transfer leaves ``<file id>.part`` there (the next run
resumes it), and a file that fails a check is deleted. A killed run therefore never leaves anything in
``DIR/<folder>`` that looks complete: the folder appears by one rename, after the checks.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from gmcnn.errors import UserError
from gmcnn.files import sha256_file
from gmcnn.weights import registry
from gmcnn.weights.download import fetch, file_url
from gmcnn.weights.official_pth import load_official
from gmcnn.weights.official_tf import is_tf_checkpoint, state_from_bundle
from gmcnn.weights.registry import WeightsEntry
from gmcnn.weights.tf_bundle import TensorBundle

MODELS_ENV = "GMCNN_MODELS"  # the default models folder, else ~/.cache/gmcnn/models
STAGING = ".gmcnn-downloads"
MAX_UNPACKED = 16 << 30  # the largest release unpacks to well under 2 GB; more is not a GMCNN release

# (stage, bytes done, bytes total or None): stage "download" while bytes arrive, then "verify".
Progress = Callable[[str, int, int | None], None]


def default_dir() -> Path:
    """Where releases go when no folder is given: ``$GMCNN_MODELS``, else ``$XDG_CACHE_HOME/gmcnn/models``."""
    if os.environ.get(MODELS_ENV):
        return Path(os.environ[MODELS_ENV]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "gmcnn" / "models"


def release(name: str) -> WeightsEntry:
    """The official release called ``name`` (registry name, or its folder name such as ``places2_512x680_freeform``).

    Raises:
        UserError: not an official release; the message lists them.
    """
    for entry in registry.releases():
        if name in (entry.name, entry.folder):
            return entry
    known = ", ".join(e.name for e in registry.releases())
    raise UserError(f"{name!r} is not an official release; the releases are: {known}")


def installed(entry: WeightsEntry, directory: str | os.PathLike[str]) -> Path | None:
    """The release's files in ``directory`` (what :func:`gmcnn.weights.load_weights` takes), if they are there."""
    folder = Path(directory) / entry.folder
    if not entry.folder or not folder.is_dir():
        return None
    if entry.architecture == "gmcnn_tf":
        return folder if is_tf_checkpoint(folder) else None
    return newest_pth(folder)


def newest_pth(folder: Path) -> Path | None:
    """The newest ``*.pth`` of a folder, as the official PyTorch test script picks it."""
    files = [p for p in folder.glob("*.pth") if p.is_file()]
    return max(files, key=lambda p: (p.stat().st_mtime, p.name)) if files else None


@dataclass(frozen=True)
class Installed:
    """What :func:`install` did.

    Attributes:
        entry: the release asked for.
        path: its files (what ``load_weights`` takes).
        releases: every release now in place from this download (one archive may hold two), by name.
        size: bytes downloaded (0 when it was there already).
        already: it was in place before; nothing was downloaded.
    """

    entry: WeightsEntry
    path: Path
    releases: tuple[str, ...]
    size: int
    already: bool


def install(
    entry: WeightsEntry,
    directory: str | os.PathLike[str],
    *,
    url: str | None = None,
    progress: Progress | None = None,
    retries: int = 2,
) -> Installed:
    """Download the release ``entry`` from its published link into ``directory``, check it, put it in place.

    Args:
        entry: an official release (:func:`release`).
        directory: the models folder; created if needed.
        url: URL template with ``{id}`` (default: ``$GMCNN_DOWNLOAD_URL``, else Google Drive).
        progress: see :data:`Progress`.
        retries: further attempts after an interrupted transfer (each resumes).

    Raises:
        DownloadError: the transfer failed (the partial file is kept; running again resumes).
        UserError: the release has no published link, or the file failed a check (it is deleted).
    """
    directory = Path(directory)
    present = installed(entry, directory)
    if present is not None:
        return Installed(entry, present, (entry.name,), 0, already=True)
    if entry.download is None:
        raise UserError(f"{entry.name} has no published download link; get it from {entry.source}")
    staging = directory / STAGING
    part = staging / f"{entry.download.file_id}.part"
    fetched = fetch(
        file_url(entry.download.file_id, url),
        part,
        progress=None if progress is None else lambda done, total: progress("download", done, total),
        retries=retries,
    )
    if progress is not None:
        progress("verify", fetched.size, fetched.size)
    unpack = staging / f"{entry.download.file_id}.unpack"
    try:
        found = _unpack_and_check(entry, part, fetched.filename, unpack)
        placed = []
        for member, unpacked in found.items():
            target = directory / member.folder
            if installed(member, directory) is None:
                if target.exists():  # an incomplete folder of the same name: not ours to delete
                    raise UserError(f"{target} exists but holds no complete {member.name}; move it away and retry")
                os.replace(unpacked, target)
            placed.append(member.name)
    except BaseException:
        part.unlink(missing_ok=True)  # refused (or interrupted while checking): never reused as if it were good
        raise
    finally:
        shutil.rmtree(unpack, ignore_errors=True)
    part.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        staging.rmdir()  # only when nothing else (another download's partial file) is in it
    path = installed(entry, directory)
    assert path is not None, "the release was placed above"
    return Installed(entry, path, tuple(placed), fetched.size, already=False)


def verify_release(entry: WeightsEntry, path: Path) -> int:
    """Check a release's files in full (checksums, sizes, the generator at the release's width); returns bytes read.

    Raises:
        UserError: the first problem found.
    """
    if entry.architecture == "gmcnn_tf":
        bundle = TensorBundle(path, verify=False)  # verify_all checks every CRC once
        checked = bundle.verify_all()
        config, _ = state_from_bundle(bundle)
        cnum = config.cnum
    else:
        pth = newest_pth(path) if path.is_dir() else path
        if pth is None:
            raise UserError(f"{path} holds no *.pth file")
        cnum = load_official(pth).config.cnum
        checked = pth.stat().st_size
    if cnum != entry.cnum:
        raise UserError(f"{path} holds a generator of width {cnum}; {entry.name} has width {entry.cnum}")
    return checked


def _unpack_and_check(entry: WeightsEntry, part: Path, filename: str, unpack: Path) -> dict[WeightsEntry, Path]:
    """Check the downloaded file, unpack it into ``unpack`` and check every release found there."""
    assert entry.download is not None
    size = part.stat().st_size
    if entry.download.size is not None and size != entry.download.size:
        raise UserError(f"the download of {entry.name} is {size:,} bytes, the release is {entry.download.size:,}")
    if entry.download.sha256 is not None and sha256_file(part) != entry.download.sha256:
        raise UserError(f"the download of {entry.name} does not match the release's sha256: it is damaged")
    shutil.rmtree(unpack, ignore_errors=True)
    unpack.mkdir(parents=True)
    if zipfile.is_zipfile(part) and not _is_torch_file(part):
        _extract(part, unpack, entry.name)
    elif entry.architecture == "gmcnn_tf":
        raise UserError(f"the download of {entry.name} is not a zip archive (damaged, or the link serves another file)")
    else:  # the PyTorch release as a bare .pth
        name = filename if filename.endswith((".pth", ".pt")) else f"{entry.folder}_net_GM.pth"
        (unpack / entry.folder).mkdir()
        shutil.copyfile(part, unpack / entry.folder / name)
    found = _find_releases(entry, unpack)
    for member, path in found.items():
        verify_release(member, path)
    return found


def _is_torch_file(path: Path) -> bool:
    """``torch.save`` writes zip files too: one top folder holding ``data.pkl``."""
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    tops = {n.split("/")[0] for n in names}
    return len(tops) == 1 and f"{tops.pop()}/data.pkl" in names


def _extract(archive: Path, dest: Path, what: str) -> None:
    """Unpack a zip after checking every member's CRC-32, its name (inside ``dest``) and the total size."""
    try:
        with zipfile.ZipFile(archive) as zf:
            total = 0
            for info in zf.infolist():
                parts = PurePosixPath(info.filename.replace("\\", "/")).parts
                if info.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                    raise UserError(f"the archive of {what} names a file outside its folder: {info.filename!r}")
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise UserError(f"the archive of {what} holds a link ({info.filename!r}); releases hold none")
                total += info.file_size
            if total > MAX_UNPACKED:
                raise UserError(f"the archive of {what} unpacks to {total:,} bytes, more than any release")
            bad = zf.testzip()  # reads every member and compares its CRC-32
            if bad is not None:
                raise UserError(f"the archive of {what} is damaged: {bad!r} fails its CRC-32 check")
            zf.extractall(dest)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise UserError(f"the archive of {what} is damaged: {exc}") from None


def _find_releases(entry: WeightsEntry, root: Path) -> dict[WeightsEntry, Path]:
    """The releases an unpacked archive holds: each release sharing ``entry``'s link, by its folder name.

    An archive holding a single checkpoint under another folder name is taken as ``entry`` when the link serves
    only that release.
    """
    assert entry.download is not None
    siblings = [e for e in registry.releases() if e.download and e.download.file_id == entry.download.file_id]
    found = {}
    for member in siblings:
        for folder in sorted(p for p in root.rglob(member.folder) if p.is_dir()):
            if installed(member, folder.parent) is not None:
                found[member] = folder
                break
    if entry not in found and len(siblings) == 1:
        candidates = sorted({p.parent for p in root.rglob("*.index")} | {p.parent for p in root.rglob("*.pth")})
        if len(candidates) == 1:
            found[entry] = candidates[0]
    if entry not in found:
        inside = sorted(str(p.relative_to(root)) for p in root.rglob("*"))[:12]
        raise UserError(f"the download of {entry.name} holds no '{entry.folder}' checkpoint folder; it holds {inside}")
    return found


__all__ = ["Installed", "default_dir", "install", "installed", "release", "verify_release"]
