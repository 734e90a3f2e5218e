"""Shared fixtures: tiny models (fast on CPU) and real-looking test photos (scikit-image's bundled samples)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch
from torch import nn

from gmcnn.inpainting.pipeline import Inpainter
from gmcnn.models.gmcnn import GMCNN, GMCNNConfig
from gmcnn.weights.format import export_generator

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
# The painter's browser fixtures (server, browser, page, phone, photo_file) for the test_browser*.py modules.
pytest_plugins = ["helpers.browser"]


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


@pytest.fixture(scope="module")
def client(inpainter: Inpainter) -> Iterator[TestClient]:
    """A TestClient on the app around the tiny model, one per test module."""
    from helpers.web import local

    from gmcnn.web import create_app

    with local(create_app(inpainter)) as c:
        yield c


@pytest.fixture(scope="module")
def picture(photo: np.ndarray) -> np.ndarray:
    """96x128 crop of a real photo (small: the tiny model stays fast)."""
    return np.ascontiguousarray(photo[100:196, 200:328])


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def signal_generator(cnum: int, pad_mode: str, *, gain: float = 1.3, seed: int = 0) -> GMCNN:
    """Random weights scaled so every layer carries signal: the official N(0, 0.02) init fades to a near-zero
    output, on which any two runtimes would agree. The gains used here give an output std of 0.4-0.6 with
    under a quarter of the pixels clipped, like a trained model's (checked in the tests that use them)."""
    torch.manual_seed(seed)
    g = GMCNN(GMCNNConfig(cnum=cnum, pad_mode=pad_mode)).eval()
    for m in g.modules():
        if isinstance(m, nn.Conv2d):
            fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
            nn.init.normal_(m.weight, 0.0, gain / fan_in**0.5)
            nn.init.normal_(m.bias, 0.0, 0.05)
    return g


def fill_inputs(photo: np.ndarray, h: int, w: int, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    image = torch.from_numpy(photo[:h, :w]).permute(2, 0, 1)[None].float() / 127.5 - 1  # (1, 3, h, w)
    mask = torch.zeros(1, 1, h, w)
    mask[..., h // 4 : h // 2, w // 3 : 2 * w // 3] = 1
    return image.repeat(batch, 1, 1, 1), mask.repeat(batch, 1, 1, 1)
