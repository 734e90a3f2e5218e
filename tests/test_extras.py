"""Each extra of ``pyproject.toml`` alone installs what its commands import.

A clean venv per extra (no system site-packages), the built wheel installed with ``pip install -c
constraints.txt "<wheel>[extra]"`` (torch from the local wheel the constraint pins): the extra's commands
answer ``--help``, and every module their runs import — gmcnn's and the third-party ones they load lazily —
imports. Slow (one venv and a torch install per row); the README's test command runs it too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

# extras -> (commands whose --help must run, modules their runs import)
EXTRAS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "": (
        ("inpaint", "convert", "corpus", "train"),
        (
            "gmcnn.cli.inpaint",
            "gmcnn.data.corpus",
            "gmcnn.cli.convert",
            "gmcnn.inpainting.completion",
            "patchmatch",
            "gmcnn.inpainting.patch_search",
        ),
    ),
    "train": (("train",), ("gmcnn.training.train", "gmcnn.data.masks", "torch.utils.tensorboard")),
    "web": (("serve",), ("gmcnn.web.app", "gmcnn.cli.serve", "uvicorn", "multipart")),
    "eval": (
        ("eval", "bench", "cases"),
        (
            "gmcnn.evaluation.evaluate",
            "gmcnn.evaluation.strata",
            "gmcnn.bench",
            "cv2",
            "skimage.restoration",
            "patchmatch",
            "matplotlib.pyplot",
        ),
    ),
    "web,eval": (("study",), ("gmcnn.evaluation.study", "gmcnn.web.study_app", "uvicorn")),
    "fast": (("export",), ("gmcnn.inpainting.onnx", "onnx", "onnxruntime.quantization", "skimage.data")),
}


def _run(args: list[str], cwd: Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run outside this checkout: no PYTHONPATH, or pip and imports would see the source tree's gmcnn."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)], out, check=True)
    return next(out.glob("gmcnn-*.whl"))


@pytest.mark.slow
@pytest.mark.parametrize("extras", list(EXTRAS), ids=lambda e: e or "core")
def test_each_extra_alone_installs_what_its_commands_import(wheel: Path, tmp_path: Path, extras: str) -> None:
    commands, modules = EXTRAS[extras]
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, check=True)
    python = str(venv / "bin" / "python")
    target = f"{wheel}[{extras}]" if extras else str(wheel)
    pip = [python, "-m", "pip", "install", "-q", "--no-compile", "-c", str(ROOT / "constraints.txt"), target]
    installed = _run(pip, tmp_path)
    assert installed.returncode == 0, installed.stderr[-2000:]
    for command in commands:
        run = _run([str(venv / "bin" / "gmcnn"), command, "--help"], tmp_path)
        assert run.returncode == 0 and "usage: gmcnn" in run.stdout, f"gmcnn {command} --help: {run.stderr}"
    check = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)"
    imported = _run([python, "-c", check, *modules], tmp_path)
    assert imported.returncode == 0, f"[{extras}] lacks a module its commands import: {imported.stderr[-800:]}"
    where = _run([python, "-c", "import gmcnn; print(gmcnn.__file__)"], tmp_path)
    assert str(venv) in where.stdout  # the venv's own install, not the source tree
