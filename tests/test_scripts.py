"""Every script in ``benchmarks/`` and ``scripts/`` runs: ``--help`` prints its usage and runs nothing, and each
benchmark's ``--smoke`` runs its smallest setting into a temp folder, leaving every committed file untouched.

Scripts are found by glob, so a new one is covered without editing this file. Each runs in its own process,
as a user would start it (``python3 benchmarks/x.py``), from an empty working directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.relative_to(ROOT).as_posix() for p in [*ROOT.glob("benchmarks/*.py"), *ROOT.glob("scripts/**/*.py")])
BENCHMARKS = [s for s in SCRIPTS if s.startswith("benchmarks/")]

# Smoke runs that take a few seconds; every other one loads or trains a model, or starts processes: slow.
QUICK_SMOKE = {"benchmarks/jpeg_drift.py", "benchmarks/tf_parity.py"}


def committed_files() -> dict[str, tuple[int, int]]:
    """(mtime, size) of every tracked file but the code (which a developer may be editing while tests run): a
    script that rewrote a committed result, even with the same bytes, changes one of them."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    out = {}
    for name in filter(None, names):
        path = ROOT / os.fsdecode(name)
        if path.is_file() and path.suffix != ".py":
            stat = path.stat()
            out[path.relative_to(ROOT).as_posix()] = (stat.st_mtime_ns, stat.st_size)
    return out


def run_script(script: str, flag: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "TMPDIR": str(cwd), "MPLBACKEND": "Agg"}  # fmt: skip
    return subprocess.run([sys.executable, str(ROOT / script), flag], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def smoke_params() -> list[object]:
    return [pytest.param(s, marks=() if s in QUICK_SMOKE else pytest.mark.slow) for s in BENCHMARKS]


def test_scripts_are_found() -> None:
    assert {"benchmarks/jpeg_drift.py", "benchmarks/speed.py", "scripts/tf_reference.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_prints_usage_and_runs_nothing(script: str, tmp_path: Path) -> None:
    before = committed_files()
    done = run_script(script, "--help", tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("usage:"), done.stdout[:500]
    assert "--smoke" in done.stdout, f"{script} has no --smoke"
    assert not list(tmp_path.iterdir()), "--help wrote files"
    assert committed_files() == before, "--help changed a committed file"


@pytest.mark.parametrize("script", smoke_params())
def test_smoke_runs_the_smallest_setting_into_a_temp_folder(script: str, tmp_path: Path) -> None:
    before = committed_files()
    done = run_script(script, "--smoke", tmp_path, timeout=850)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    assert committed_files() == before, "--smoke changed a committed file"
