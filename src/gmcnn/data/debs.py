"""Debian package I/O for the corpus build: fetch a ``.deb`` at an exact version, read files out of it.

Only ``apt-get download``, ``apt-cache`` and ``dpkg-deb`` are used (no root, nothing installed). A ``.deb``
already in the download folder is reused when its control file names the right package and version and,
where apt's index knows that version, its sha256 matches the index: a download cut short is detected,
deleted and fetched again, so an interrupted build resumes.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import tarfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from gmcnn.errors import UserError

APT_TIMEOUT_S = 900
DPKG_TIMEOUT_S = 300


def run_tool(cmd: Sequence[str], *, cwd: Path | None = None, timeout: float, what: str) -> str:
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
    """``(package, version)`` from a ``.deb``'s control file (``("", "")`` when it cannot be read)."""
    try:
        out = run_tool(["dpkg-deb", "-f", str(deb), "Package", "Version"], timeout=60, what=f"reading {deb.name}")
    except UserError:
        return "", ""
    info = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return info.get("Package", ""), info.get("Version", "")


def index_sha256(package: str, version: str) -> str | None:
    """The sha256 apt's package index records for ``package`` at ``version``; None if the index lacks it."""
    try:
        out = run_tool(["apt-cache", "show", f"{package}={version}"], timeout=60, what=f"apt-cache show {package}")
    except UserError:
        return None
    match = re.search(r"^SHA256:\s*([0-9a-f]{64})\s*$", out, flags=re.MULTILINE)
    return match.group(1) if match else None


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cached_deb(package: str, version: str, folder: Path) -> Path | None:
    """A complete ``.deb`` of ``package`` ``version`` in ``folder``; incomplete or damaged ones are deleted."""
    expected: str | None = None
    for deb in sorted(folder.glob(f"{package}_*.deb")):
        identity = deb_identity(deb)
        if identity != (package, version):
            if identity == ("", ""):  # unreadable: a download cut short before the control file
                deb.unlink()
            continue
        expected = expected or index_sha256(package, version) or ""
        if expected and _file_sha256(deb) != expected:
            deb.unlink()  # cut short or damaged: fetch it again
            continue
        return deb
    return None


def fetch_deb(package: str, version: str, folder: Path) -> tuple[Path, bool]:
    """The ``.deb`` of ``package`` at exactly ``version``, reused from ``folder`` or downloaded into it.

    Returns:
        ``(path, downloaded)``.

    Raises:
        UserError: apt cannot download that version (the message says which version apt offers).
    """
    deb = cached_deb(package, version, folder)
    if deb is not None:
        return deb, False
    what = f"downloading {package} {version}"
    try:
        run_tool(["apt-get", "download", f"{package}={version}"], cwd=folder, timeout=APT_TIMEOUT_S, what=what)
    except UserError as exc:
        raise UserError(f"{exc}; the manifest expects {package} {version}, apt offers {candidate(package)}") from exc
    deb = cached_deb(package, version, folder)
    if deb is None:
        raise UserError(f"{what}: apt-get reported success but no matching .deb is in {folder}")
    return deb, True


def candidate(package: str) -> str:
    """apt's candidate version for a package, or a phrase saying there is none (for error messages)."""
    try:
        out = run_tool(["apt-cache", "policy", package], timeout=60, what=f"apt-cache policy {package}")
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
