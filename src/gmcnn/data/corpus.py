"""The offline training corpus: real photographs that six Debian packages carry, curated by hand.

No data set can be downloaded here, but Debian mirrors can: ``opencv-doc`` (the photos its samples and
tutorials use), ``mate-backgrounds``, ``plasma-workspace-wallpapers``, ``gnome-backgrounds``,
``ukui-wallpapers`` and ``lomiri-wallpapers-20.04``. Most wallpapers are abstract art, logos or renders,
so the photographs were picked by looking at contact sheets; the choice is the committed manifest
``corpus_manifest.csv`` (one row per kept photo: package, package version, path inside the package,
sha256, size, licence from the package's ``copyright`` file, group and split).

``gmcnn corpus build DIR`` rebuilds the corpus from the manifest alone: it fetches each package at the
recorded version with ``apt-get download``, reads only the listed files out of the ``.deb``, checks every
sha256 and writes ``DIR/train/NAME``, ``DIR/val/NAME`` (the original bytes) and ``DIR/manifest.csv``.
Anything missing or changed stops the build with a :class:`~gmcnn.errors.UserError` naming the package
or file. ``gmcnn corpus verify DIR`` checks a built corpus against the manifest.

The split is by *group*, not by crop or file: a group is one source scene (a stereo pair or two views of
the same wall share a group), so no validation scene leaks into training through a near-duplicate.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import io
import re
import shutil
import subprocess
import tarfile
import tempfile
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
)
SPLITS = ("train", "val")
# Where each package installs its images -> where they live in the upstream source tree, so the
# DEP-5 ``Files:`` patterns of the copyright file (written against the source tree) can be matched.
SOURCE_PREFIXES: dict[str, tuple[tuple[str, str], ...]] = {
    "opencv-doc": (
        ("usr/share/doc/opencv-doc/examples/", "samples/"),
        ("usr/share/doc/opencv-doc/opencv4/html/", "doc/"),
    ),
    "mate-backgrounds": (("usr/share/backgrounds/mate/", ""),),
    "plasma-workspace-wallpapers": (("usr/share/wallpapers/", ""),),
    "gnome-backgrounds": (("usr/share/backgrounds/gnome/", ""),),
    "ukui-wallpapers": (("usr/share/backgrounds/", ""),),
    "lomiri-wallpapers-20.04": (("usr/share/backgrounds/", "20.04/"),),
}
APT_TIMEOUT_S = 900
DPKG_TIMEOUT_S = 300
_SHA256 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*\.(jpg|jpeg|png)")


@dataclass(frozen=True)
class Entry:
    """One kept photograph (one manifest row).

    Attributes:
        name: file name in the built corpus (unique, lowercase).
        package: Debian package that carries the photo.
        version: exact package version the sha256 was taken from.
        path: path inside the package, relative, no leading slash.
        sha256: hex digest of the file's bytes.
        width: pixels.
        height: pixels.
        licence: the ``License:`` of the matching stanza of the package's copyright file.
        group: source scene; near-duplicate views share a group and therefore a split.
        split: ``train`` or ``val``.
    """

    name: str
    package: str
    version: str
    path: str
    sha256: str
    width: int
    height: int
    licence: str
    group: str
    split: str


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


def validate_entries(entries: Sequence[Entry], *, source: str = "manifest") -> None:
    """Check the rules a manifest must follow.

    Every row: a known package, a relative path, a lowercase hex sha256, a safe unique file name,
    a short side of at least 256 px, a licence, a split in ``train``/``val``. Across rows: no file
    twice (by path or by sha256), one version per package, each group in one split only, and both
    splits non-empty.

    Raises:
        UserError: naming the first offending row.
    """
    if not entries:
        raise UserError(f"{source}: no entries")
    seen: dict[str, dict[str, str]] = {"name": {}, "sha256": {}, "path": {}}
    versions: dict[str, str] = {}
    group_split: dict[str, str] = {}
    for e in entries:
        where = f"{source}: {e.name!r}"
        if e.package not in PACKAGES:
            raise UserError(f"{where}: package {e.package!r} is not one of {', '.join(PACKAGES)}")
        if not _NAME.fullmatch(e.name):
            raise UserError(f"{where}: name must be lowercase [a-z0-9_.-] ending in .jpg/.jpeg/.png")
        if e.path.startswith("/") or ".." in Path(e.path).parts or not e.path:
            raise UserError(f"{where}: path must be relative inside the package, got {e.path!r}")
        if not _SHA256.fullmatch(e.sha256):
            raise UserError(f"{where}: sha256 must be 64 lowercase hex digits")
        if min(e.width, e.height) < 256:
            raise UserError(f"{where}: {e.width}x{e.height} is below 256 px on the short side")
        if not e.licence or not e.version or not e.group:
            raise UserError(f"{where}: version, licence and group must not be empty")
        if e.split not in SPLITS:
            raise UserError(f"{where}: split must be train or val, got {e.split!r}")
        for key, value in (("name", e.name), ("sha256", e.sha256), ("path", f"{e.package}:{e.path}")):
            if value in seen[key]:
                raise UserError(f"{where}: same {key} as {seen[key][value]!r}")
            seen[key][value] = e.name
        if versions.setdefault(e.package, e.version) != e.version:
            raise UserError(f"{where}: {e.package} listed at versions {versions[e.package]} and {e.version}")
        if group_split.setdefault(e.group, e.split) != e.split:
            raise UserError(f"{where}: group {e.group!r} appears in both train and val")
    for split in SPLITS:
        if split not in group_split.values():
            raise UserError(f"{source}: the {split} split is empty")


def write_manifest(entries: Iterable[Entry], path: Path | str) -> None:
    """Write entries as a manifest CSV (sorted by split, then name, so diffs stay small)."""
    rows = sorted(entries, key=lambda e: (e.split, e.name))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(asdict(e) for e in rows)
    Path(path).write_text(buf.getvalue(), encoding="utf-8")


def assign_splits(groups: Iterable[str], *, val_fraction: float = 0.12) -> dict[str, str]:
    """Deterministic split by group: the groups whose sha256(name) sorts first go to validation.

    Hashing the name (rather than drawing random numbers) keeps a group's split stable when other groups
    are added or removed, apart from the boundary.
    """
    ordered = sorted(set(groups), key=lambda g: hashlib.sha256(g.encode()).hexdigest())
    n_val = max(1, round(val_fraction * len(ordered)))
    return {g: ("val" if i < n_val else "train") for i, g in enumerate(ordered)}


# --------------------------------------------------------------------------------------------- licences


def copyright_licence(copyright_text: str, package: str, path: str) -> str:
    """The licence a DEP-5 copyright file gives to an installed file (the last matching stanza wins).

    Args:
        copyright_text: contents of ``/usr/share/doc/<package>/copyright``.
        package: the package name, which selects the installed-path -> source-path mapping.
        path: installed path inside the package.

    Raises:
        UserError: the file is not machine-readable (no ``Files:`` stanza matches).
    """
    source = path
    for installed, upstream in SOURCE_PREFIXES.get(package, ()):
        if path.startswith(installed):
            source = upstream + path[len(installed) :]
            break
    licence = None
    for patterns, stanza_licence in _dep5_file_stanzas(copyright_text):
        if any(fnmatch.fnmatchcase(source, p) for p in patterns):
            licence = stanza_licence
    if licence is None:
        raise UserError(f"{package}: no Files: stanza of its copyright file covers {path}")
    return licence


def _dep5_file_stanzas(text: str) -> list[tuple[list[str], str]]:
    """``(patterns, licence short name)`` for each ``Files:`` stanza, in file order."""
    stanzas = []
    for block in re.split(r"\n\s*\n", text):
        fields_: dict[str, list[str]] = {}
        key = None
        for line in block.splitlines():
            if line.startswith((" ", "\t")) and key:
                fields_[key].append(line.strip())
            elif ":" in line and not line.startswith("#"):
                key, _, value = line.partition(":")
                key = key.strip().lower()
                fields_[key] = [value.strip()]
        if "files" in fields_ and "license" in fields_:
            patterns = " ".join(fields_["files"]).split()
            stanzas.append((patterns, fields_["license"][0]))
    return stanzas


# ------------------------------------------------------------------------------------------- debian I/O


def _run(cmd: Sequence[str], *, cwd: Path | None = None, timeout: float, what: str) -> str:
    """Run a command, returning stdout; a failure or timeout becomes a UserError saying what failed."""
    try:
        proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise UserError(f"{what}: {cmd[0]} is not installed (the corpus build needs Debian's apt and dpkg)") from exc
    except subprocess.TimeoutExpired as exc:
        raise UserError(f"{what}: {' '.join(cmd)} took longer than {timeout:.0f} s") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise UserError(f"{what}: {' '.join(cmd)} failed (exit {proc.returncode}): {' | '.join(tail)}")
    return proc.stdout


def deb_identity(deb: Path) -> tuple[str, str]:
    """``(package, version)`` from a ``.deb``'s control file."""
    out = _run(["dpkg-deb", "-f", str(deb), "Package", "Version"], timeout=60, what=f"reading {deb.name}")
    info = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return info.get("Package", ""), info.get("Version", "")


def fetch_deb(package: str, version: str, cache: Path) -> Path:
    """The ``.deb`` of ``package`` at exactly ``version``: reused from ``cache`` or downloaded into it.

    Raises:
        UserError: apt cannot download that version (the message says which version apt offers).
    """
    for deb in sorted(cache.glob(f"{package}_*.deb")):
        if deb_identity(deb) == (package, version):
            return deb
    what = f"downloading {package} {version}"
    try:
        _run(["apt-get", "download", f"{package}={version}"], cwd=cache, timeout=APT_TIMEOUT_S, what=what)
    except UserError as exc:
        raise UserError(f"{exc}; the manifest expects {package} {version}, apt offers {_candidate(package)}") from exc
    for deb in sorted(cache.glob(f"{package}_*.deb")):
        if deb_identity(deb) == (package, version):
            return deb
    raise UserError(f"{what}: apt-get reported success but no matching .deb is in {cache}")


def _candidate(package: str) -> str:
    """apt's candidate version for a package, or a phrase saying there is none (for error messages)."""
    try:
        out = _run(["apt-cache", "policy", package], timeout=60, what=f"apt-cache policy {package}")
    except UserError:
        return "nothing (apt-cache failed)"
    match = re.search(r"Candidate:\s*(\S+)", out)
    if not match or match.group(1) == "(none)":
        return "no version (run apt-get update, or the package left this Debian release)"
    return match.group(1)


def read_deb_members(deb: Path, paths: Iterable[str]) -> dict[str, bytes]:
    """The bytes of the given regular files inside a ``.deb``, read in one pass over its data archive.

    Paths the archive lacks, or holds as links, are simply absent from the result.
    """
    wanted = {p.lstrip("/") for p in paths}
    found: dict[str, bytes] = {}
    # dpkg-deb's complaints go to a pipe (they are short) so they end up in the error, not on the terminal.
    cmd = ["dpkg-deb", "--fsys-tarfile", str(deb)]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|*") as tar:
                for member in tar:
                    name = member.name.removeprefix("./")
                    if name in wanted and member.isreg():
                        data = tar.extractfile(member)
                        if data is not None:
                            found[name] = data.read()
        except tarfile.TarError as exc:
            proc.kill()
            detail = proc.stderr.read().decode(errors="replace").strip().splitlines()[-1:] or [str(exc)]
            raise UserError(f"{deb}: truncated or not a Debian package ({detail[0]}); delete it and rebuild") from exc
        finally:
            proc.stdout.close()
        try:
            proc.wait(timeout=DPKG_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            raise UserError(f"{deb.name}: dpkg-deb took longer than {DPKG_TIMEOUT_S} s") from exc
    return found


# ----------------------------------------------------------------------------------------------- build


def build(out_dir: Path | str, *, manifest: Path | str = MANIFEST_PATH, cache: Path | str | None = None) -> list[Entry]:
    """Build the corpus described by ``manifest`` into ``out_dir``.

    The new corpus is assembled next to ``out_dir`` and swapped in only when every file checked out, so a
    failed build leaves an existing corpus untouched.

    Args:
        out_dir: target folder; gets ``train/``, ``val/`` and ``manifest.csv``.
        manifest: the manifest to build (default: the committed one).
        cache: folder for the downloaded ``.deb`` files, reused across builds; default: a temporary
            folder deleted afterwards.

    Returns:
        The manifest entries, all written.

    Raises:
        UserError: a package cannot be fetched at the recorded version, or a file is missing or changed
            (the message names the package and the file).
    """
    entries = read_manifest(manifest)
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="gmcnn-debs-") as tmp:
        cache_dir = Path(cache) if cache is not None else Path(tmp)
        cache_dir.mkdir(parents=True, exist_ok=True)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
        try:
            for split in SPLITS:
                (staging / split).mkdir()
            by_package: dict[str, list[Entry]] = {}
            for e in entries:
                by_package.setdefault(e.package, []).append(e)
            for package, group in sorted(by_package.items()):
                deb = fetch_deb(package, group[0].version, cache_dir)
                found = read_deb_members(deb, [e.path for e in group])
                for e in group:
                    data = found.get(e.path)
                    if data is None:
                        raise UserError(f"{package} {e.version}: {e.path} is missing from the package")
                    check_sha256(data, e)
                    (staging / e.split / e.name).write_bytes(data)
            shutil.copyfile(manifest, staging / "manifest.csv")
            _swap_in(staging, out_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return entries


def check_sha256(data: bytes, entry: Entry) -> None:
    """Raise a UserError naming the package and file when ``data`` is not the file the manifest recorded."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise UserError(
            f"{entry.package} {entry.version}: {entry.path} changed (sha256 {digest[:12]}..., "
            f"manifest {entry.sha256[:12]}...)"
        )


def _swap_in(staging: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by ``staging``; refuse to delete a folder that is not a corpus."""
    if out_dir.exists():
        if any(out_dir.iterdir()) and not (out_dir / "manifest.csv").is_file():
            raise UserError(f"{out_dir} exists and is not a corpus (no manifest.csv); choose an empty folder")
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
        file = corpus_dir / e.split / e.name
        if not file.is_file():
            raise UserError(f"{file} is missing (from {e.package}: {e.path}); rebuild with gmcnn corpus build")
        check_sha256(file.read_bytes(), e)
    expected = {(e.split, e.name) for e in entries}
    for split in SPLITS:
        for file in sorted((corpus_dir / split).iterdir()):
            if (split, file.name) not in expected:
                raise UserError(f"{file} is not in the manifest")
    return entries


def summary(entries: Sequence[Entry]) -> str:
    """Counts, pixels and sizes per split, one line each."""
    lines = []
    for split in SPLITS:
        rows = [e for e in entries if e.split == split]
        px = sum(e.width * e.height for e in rows)
        shorts = [min(e.width, e.height) for e in rows]
        lines.append(
            f"{split}: {len(rows)} photos from {len({e.group for e in rows})} scenes, {px / 1e6:.1f} Mpx, "
            f"short side {min(shorts)}-{max(shorts)} px"
        )
    return "\n".join(lines)
