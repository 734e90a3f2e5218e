"""Shared fixtures: tiny models (fast on CPU) and real-looking test photos (scikit-image's bundled samples)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gmcnn.checkpoint import export_generator
from gmcnn.inference import Inpainter
from gmcnn.models.gmcnn import GMCNN, GMCNNConfig

torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


def tiny_generator(seed: int = 0, *, pad_mode: str = "zeros", fill: str = "zeros") -> GMCNN:
    torch.manual_seed(seed)
    return GMCNN(GMCNNConfig(cnum=4, pad_mode=pad_mode, fill=fill)).eval()


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported tiny generator (cnum 4, zero padding: any size that is a multiple of 4)."""
    folder = tmp_path_factory.mktemp("tiny_export")
    export_generator(tiny_generator(), folder, training={"image_size": 64, "mask_type": "mixed"})
    return folder


@pytest.fixture(scope="session")
def inpainter(tiny_export: Path) -> Inpainter:
    """An Inpainter on the tiny export (CPU)."""
    return Inpainter.from_pretrained(tiny_export, device="cpu")


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A real photo, uint8 HxWx3 (scikit-image's astronaut, 512x512)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
