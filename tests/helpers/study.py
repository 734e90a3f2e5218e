"""A tiny blind study for the study tests: real photos, 64 px cases, two cheap baselines (Telea and biharmonic)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from skimage import data

from gmcnn.evaluation.methods import load_methods
from gmcnn.evaluation.protocol import build_cases
from gmcnn.evaluation.study import Study, make_study

METHODS = ("telea", "biharmonic")  # long names: a chance match in compressed PNG bytes is ~0


def photo_folder(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    Image.fromarray(data.astronaut()).save(root / "astronaut.png")
    Image.fromarray(data.coffee()).save(root / "coffee.png")
    Image.fromarray(data.chelsea()).save(root / "chelsea.png")
    return root


def tiny_study(root: Path, *, num: int = 6, seed: int = 0, cases: int = 8, protocol: str = "strokes") -> Study:
    """``num`` pairs of Telea (A) vs biharmonic (B) from ``cases`` 64 px cases of ``protocol``."""
    photos = photo_folder(root / "photos")
    case_set = build_cases(protocol, photos, root / "cases", num=cases, seed=1, size=64)
    return make_study(case_set, load_methods(list(METHODS)), root / "study", num=num, seed=seed, progress=False)
