"""ONNX export and onnxruntime: the same fills as PyTorch; the CLI writes files that load back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")

import onnx  # noqa: E402

from gmcnn.cli import main  # noqa: E402
from gmcnn.inpainting.backends import build_runner  # noqa: E402
from gmcnn.inpainting.onnx import OnnxRunner, onnx_bytes, photo_crops, quantize_int8  # noqa: E402
from gmcnn.models.gmcnn import GMCNN, GMCNNConfig  # noqa: E402
from gmcnn.weights.format import load_generator  # noqa: E402


def _net(seed: int = 0, *, std: float = 0.15) -> GMCNN:
    """Tiny generator with weights large enough that its output varies (official init fades to ~0)."""
    torch.manual_seed(seed)
    g = GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros")).eval()
    with torch.no_grad():
        for p in g.parameters():
            p.normal_(0.0, std)
    return g


def _batch(rng: np.random.Generator, b: int, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    image = torch.from_numpy(rng.uniform(-1, 1, (b, 3, h, w)).astype(np.float32))
    mask = torch.from_numpy((rng.random((b, 1, h, w)) > 0.7).astype(np.float32))
    return image, mask


def _pred(g: GMCNN, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return g(image, mask)


def test_dynamic_onnx_matches_pytorch_at_several_sizes(rng: np.random.Generator) -> None:
    g = _net()
    runner = OnnxRunner(onnx_bytes(g))
    for b, h, w in [(1, 32, 48), (2, 64, 40)]:
        image, mask = _batch(rng, b, h, w)
        ref = _pred(g, image, mask)
        assert ref.std() > 0.1
        out = runner(image, mask)
        assert out.shape == (b, 3, h, w) and out.dtype == torch.float32
        torch.testing.assert_close(out, ref, atol=2e-4, rtol=0)
    assert runner.contract == {
        "value_range": [-1.0, 1.0],
        "channel_order": "RGB",
        "mask_polarity": "1=hole",
        "size_multiple": 4,
        "min_size": 4,
        "process_size": 512,
        "detail": 1.0,
    }


def test_fixed_size_export_declares_its_shape(tmp_path: Path) -> None:
    model = onnx.load_from_string(onnx_bytes(_net(), height=64, width=96))
    dims = [[d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input]
    assert dims == [[1, 3, 64, 96], [1, 1, 64, 96]]
    assert json.loads({p.key: p.value for p in model.metadata_props}["gmcnn_config"])["cnum"] == 4


@pytest.mark.parametrize("size", [(64, None), (30, 40)])
def test_export_refuses_bad_fixed_sizes(size: tuple[int, int | None]) -> None:
    with pytest.raises(ValueError, match="both --height and --width|multiples of 4"):
        onnx_bytes(_net(), height=size[0], width=size[1])


def test_onnx_runtime_through_build_runner(rng: np.random.Generator) -> None:
    g = _net(1)
    runner = build_runner(g, device="cpu", runtime="onnx", precision="auto")
    assert (runner.runtime, runner.precision) == ("onnx", "fp32")
    image, mask = _batch(rng, 1, 48, 36)
    torch.testing.assert_close(runner(image, mask), _pred(g, image, mask), atol=2e-4, rtol=0)


def test_int8_quantisation_stays_close(rng: np.random.Generator, photo: np.ndarray) -> None:
    """Static int8 (calibrated on crops of the photo's other half) is an approximation: close, not identical."""
    g = _net(2, std=0.1)  # calmer weights: with larger ones this tiny net amplifies any rounding chaotically
    model = quantize_int8(onnx_bytes(g), photo_crops([photo[:, :256]], size=64))
    assert any(node.op_type == "QuantizeLinear" for node in onnx.load_from_string(model).graph.node)
    image = torch.from_numpy(photo[64:128, 320:384]).permute(2, 0, 1)[None].float() / 127.5 - 1
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 16:40, 20:44] = 1
    ref, out = _pred(g, image, mask), OnnxRunner(model)(image, mask)
    assert ref.std() > 0.1
    psnr = 10 * np.log10(2.0**2 / ((out - ref) ** 2).mean().item())  # [-1, 1] range; 43 dB measured
    assert 30 < psnr < 80


def test_cli_onnx_export_gives_the_same_fill(tmp_path: Path, tiny_export: Path, rng: np.random.Generator) -> None:
    out = tmp_path / "model.onnx"
    assert main(["export", "--onnx", str(out), "--model", str(tiny_export)]) == 0
    g, _ = load_generator(tiny_export)
    image, mask = _batch(rng, 1, 36, 44)
    torch.testing.assert_close(OnnxRunner(out)(image, mask), _pred(g, image, mask), atol=2e-4, rtol=0)


def test_cli_safetensors_reexport_round_trips(tmp_path: Path, tiny_export: Path) -> None:
    assert main(["export", "--safetensors", str(tmp_path / "again"), "--model", str(tiny_export)]) == 0
    (a, meta_a), (b, meta_b) = load_generator(tiny_export), load_generator(tmp_path / "again")
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    assert meta_b["training"] == meta_a["training"] and meta_b["config"] == meta_a["config"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--height", "64"], "give both --height and --width"),
        (["--calibration", "."], "--calibration only makes sense with --int8"),
    ],
)
def test_cli_errors_are_one_line(
    tmp_path: Path, tiny_export: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code = main(["export", "--onnx", str(tmp_path / "m.onnx"), "--model", str(tiny_export), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.onnx").exists()


def test_cli_int8_export_calibrates_on_a_folder(tmp_path: Path, tiny_export: Path, photo: np.ndarray) -> None:
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(photo[:300, :300]).save(photos / "a.png")
    Image.fromarray(photo[200:, 200:]).save(photos / "b.jpg")
    out = tmp_path / "int8.onnx"
    args = ["export", "--onnx", str(out), "--model", str(tiny_export), "--int8", "--calibration", str(photos)]
    assert main(args) == 0
    ops = {node.op_type for node in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops


def test_cli_int8_refuses_an_empty_calibration_folder(
    tmp_path: Path, tiny_export: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["export", "--onnx", str(tmp_path / "m.onnx"), "--model", str(tiny_export), "--int8"]
    assert main([*args, "--calibration", str(tmp_path)]) == 2
    assert "no .jpg/.png/.webp photos in calibration folder" in capsys.readouterr().err


def test_tf_release_network_exports_with_dynamic_sizes_and_bgr_contract():
    # The converted TF fixture (real TF weights layout): ONNX at two sizes equals GMCNNTF; contract says BGR.
    from gmcnn.weights.official_tf import load_official_tf

    generator, _ = load_official_tf(Path(__file__).parent / "fixtures" / "tf_cnum4")
    runner = OnnxRunner(onnx_bytes(generator))
    assert runner.contract["channel_order"] == "BGR"
    rng = np.random.default_rng(3)
    for h, w in ((48, 64), (36, 28)):
        image, mask = _batch(rng, 1, h, w)
        with torch.inference_mode():
            ref = generator(image, mask)
        assert (runner(image, mask) - ref).abs().max() < 1e-4, (h, w)
    assert build_runner(generator, device="cpu", runtime="onnx").runtime == "onnx"
