"""What a run shows of its generator: uint8 conversion, per-case scores, the validation pass, sample grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gmcnn.data.datasets import ImageFileDataset, Sample
from gmcnn.data.masks import build_mask
from gmcnn.models.gmcnn import GMCNN, GMCNNConfig
from gmcnn.training.config import resolve_config
from gmcnn.training.validation import case_scores, predict, save_samples, to_uint8, validate


def test_to_uint8_rounds_and_clamps() -> None:
    x = torch.tensor([-1.5, -1.0, 0.0, 0.002, 1.0]).view(1, 1, 1, 5).expand(1, 3, 1, 5)
    out = to_uint8(x)
    assert out.shape == (1, 1, 5, 3) and out.dtype == np.uint8
    assert out[0, 0, :, 0].tolist() == [0, 0, 128, 128, 255]  # 127.5 and 127.755 round, never truncate


def test_case_scores_hole_psnr_sees_only_the_hole() -> None:
    ref = np.full((32, 32, 3), 100, np.uint8)
    out = ref.copy()
    hole = np.zeros((32, 32), bool)
    hole[8:16, 8:16] = True
    out[hole] = 110
    scores = case_scores(out, ref, hole)
    assert set(scores) == {"val_psnr", "val_ssim", "val_hole_psnr"}
    assert scores["val_hole_psnr"] == 10 * np.log10(255**2 / 100)
    assert scores["val_psnr"] > scores["val_hole_psnr"]  # the known pixels are exact


def _tiny_val_set(tmp_path: Path) -> ImageFileDataset:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        path = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return ImageFileDataset(paths, image_size=32, mask=build_mask("rect"), seed=1, augment=False)


def test_validate_averages_scores_and_measures_the_fusion(tmp_path: Path) -> None:
    torch.manual_seed(0)
    generator = GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros")).eval()
    cfg = resolve_config("tiny", {})
    scores = validate(generator, _tiny_val_set(tmp_path), cfg, torch.device("cpu"))
    assert set(scores) == {"val_psnr", "val_ssim", "val_hole_psnr", "val_fusion_saturated", "val_fusion_negative"}
    assert 0 <= scores["val_fusion_saturated"] <= 1 and np.isfinite(scores["val_hole_psnr"])
    with torch.no_grad():
        generator.decoding_layers[0].bias.fill_(-10.0)  # every fusion pre-activation deep in ELU's flat tail
    assert validate(generator, _tiny_val_set(tmp_path), cfg, torch.device("cpu"))["val_fusion_saturated"] == 1.0


def test_predict_composites_and_samples_show_four_columns(tmp_path: Path) -> None:
    torch.manual_seed(0)
    generator = GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros")).eval()
    image = torch.rand(2, 3, 32, 32) * 2 - 1
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 4:12, 4:12] = 1
    batch = Sample(image, mask, torch.tensor([[4, 4, 8, 8]] * 2))
    pred, inpainted = predict(generator, batch, resolve_config("tiny", {}))
    assert torch.equal(inpainted * (1 - mask), image * (1 - mask))  # known pixels untouched
    assert torch.equal(inpainted * mask, pred * mask)
    save_samples(generator, batch, resolve_config("tiny", {}), tmp_path / "s" / "grid.png")
    assert Image.open(tmp_path / "s" / "grid.png").size == (4 * 32, 2 * 32)
