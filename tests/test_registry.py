"""The architecture registry (``gmcnn.models.registry``): lookups, refusals, and a toy third architecture that
goes through every consumer (pipeline, back ends, export format, ONNX, training's factory) with no code outside
its module and one registry line, as ``docs/new-architecture.md`` promises."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from torch import nn

from gmcnn.models import registry
from gmcnn.models.base import Generator, GeneratorConfig
from gmcnn.models.gmcnn import GMCNN, GMCNNConfig
from gmcnn.models.gmcnn_tf import GMCNNTFConfig

SRC = Path(__file__).resolve().parents[1] / "src" / "gmcnn"


def test_create_model_from_a_config_dict_or_instance() -> None:
    g = registry.create_model("gmcnn", {"cnum": 4, "pad_mode": "zeros"})
    assert isinstance(g, GMCNN) and g.config == GMCNNConfig(cnum=4, pad_mode="zeros")
    assert registry.create_model("gmcnn", GMCNNConfig(cnum=6)).config.cnum == 6
    assert registry.architecture_of(g).name == "gmcnn"
    assert registry.architecture_of(GMCNNConfig(cnum=4)).name == "gmcnn"
    assert registry.architecture_of(GMCNNTFConfig(cnum=4)).name == "gmcnn_tf"
    assert registry.get_architecture("gmcnn_tf").channel_order == "BGR"
    with pytest.raises(ValueError, match="unknown GMCNNConfig keys"):
        registry.create_model("gmcnn", {"cnum": 4, "widht": 3})
    with pytest.raises(ValueError, match="takes a GMCNNTFConfig"):
        registry.create_model("gmcnn_tf", GMCNNConfig(cnum=4))


def test_registry_refuses_duplicates_and_names_the_known_ones() -> None:
    entry = registry.get_architecture("gmcnn")
    with pytest.raises(ValueError, match="already registered"):
        registry.register_architecture(entry)
    with pytest.raises(ValueError, match="already registered as 'gmcnn'"):
        registry.register_architecture(registry.Architecture("gmcnn2", GMCNN, GMCNNConfig, entry.fused))
    with pytest.raises(ValueError, match=r"unknown architecture 'nope'.*gmcnn"):
        registry.create_model("nope")
    with pytest.raises(ValueError, match="not a registered architecture"):
        registry.architecture_of(nn.Linear(1, 1))


def test_configs_share_one_base_and_check_the_architecture_key() -> None:
    assert issubclass(GMCNNConfig, GeneratorConfig) and issubclass(GMCNNTFConfig, GeneratorConfig)
    assert GMCNNTFConfig.from_dict({"architecture": "gmcnn_tf", "cnum": 8}).cnum == 8
    with pytest.raises(ValueError, match="not 'gmcnn'"):
        GMCNNConfig.from_dict({"architecture": "gmcnn_tf", "cnum": 8})
    with pytest.raises(ValueError, match="even integer"):
        GMCNNTFConfig(cnum=3)


# ------------------------------------------------------------------------------------- a toy architecture
@dataclass(frozen=True)
class ToyConfig(GeneratorConfig):
    ARCHITECTURE: ClassVar[str] = "toy"

    bgr: bool = False  # a toy trained on BGR images, to prove the colour order is the registry's business

    @property
    def channel_order(self) -> str:
        return "BGR" if self.bgr else "RGB"

    @property
    def size_multiple(self) -> int:
        return 8


class Toy(Generator):
    """One 3x3 conv on [image, mask]: enough to carry weights through every consumer."""

    def __init__(self, config: ToyConfig | None = None) -> None:
        super().__init__()
        self.config = config or ToyConfig()
        self.conv = nn.Conv2d(4, 3, 3, padding=1)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        self.check_size(image.shape[-2], image.shape[-1])
        return torch.tanh(self.conv(torch.cat([image * (1 - mask), mask], dim=1)))


class FusedToy(nn.Module):
    """The toy's 'fast twin': the same maths in ``dtype``."""

    def __init__(self, generator: Toy, *, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.net = Toy(generator.config).to(dtype)
        self.net.load_state_dict(generator.state_dict())
        self.dtype = dtype

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.net(image.to(self.dtype), mask.to(self.dtype)).float()


@pytest.fixture
def toy() -> Iterator[Toy]:
    registry.register_architecture(registry.Architecture("toy", Toy, ToyConfig, FusedToy))  # the one line
    try:
        torch.manual_seed(0)
        yield Toy(ToyConfig(cnum=4)).eval()
    finally:
        registry.unregister_architecture("toy")


def test_a_new_architecture_fills_exports_and_reloads(toy: Toy, tmp_path: Path) -> None:
    from gmcnn import Inpainter
    from gmcnn.weights.format import CONFIG_NAME, export_generator

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (30, 45, 3), dtype=np.uint8)
    mask = np.zeros((30, 45), bool)
    mask[8:20, 10:30] = True
    inp = Inpainter.from_generator(toy, device="cpu")
    assert isinstance(inp.runner.forward, FusedToy)  # the registered twin runs
    filled = inp(image, mask)
    assert filled.shape == image.shape and np.array_equal(filled[~mask], image[~mask])
    export_generator(toy, tmp_path)
    assert json.loads((tmp_path / CONFIG_NAME).read_text())["architecture"] == "toy"
    again = Inpainter.from_pretrained(tmp_path, device="cpu")
    assert isinstance(again.generator, Toy) and again.generator.config == toy.config
    assert np.array_equal(again(image, mask), filled)


def test_the_runner_handles_a_bgr_architecture(toy: Toy) -> None:
    from gmcnn.inpainting.backends import build_runner

    bgr = Toy(ToyConfig(cnum=4, bgr=True))
    bgr.load_state_dict(toy.state_dict())
    image, mask = torch.rand(1, 3, 16, 16) * 2 - 1, (torch.rand(1, 1, 16, 16) > 0.5).float()
    runner = build_runner(bgr, device="cpu", runtime="eager", precision="fp32")
    with torch.no_grad():
        expected = bgr(image.flip(1), mask).flip(1)  # the network sees BGR; callers see RGB both ways
    torch.testing.assert_close(runner(image, mask), expected)


def test_a_new_architecture_exports_to_onnx_and_can_opt_out(toy: Toy) -> None:
    pytest.importorskip("onnxruntime")
    from gmcnn.errors import UserError
    from gmcnn.inpainting.onnx import OnnxRunner, onnx_bytes

    image, mask = torch.rand(1, 3, 16, 24) * 2 - 1, (torch.rand(1, 1, 16, 24) > 0.5).float()
    with torch.no_grad():
        expected = toy(image, mask)
    torch.testing.assert_close(OnnxRunner(onnx_bytes(toy))(image, mask), expected, atol=1e-5, rtol=0)
    registry.unregister_architecture("toy")
    registry.register_architecture(registry.Architecture("toy", Toy, ToyConfig, FusedToy, onnx=False))
    with pytest.raises(UserError, match="does not export to ONNX"):
        onnx_bytes(toy)


# ------------------------------------------------------------------------------ nobody else tests types
GENERATOR_CLASSES = {"GMCNN", "GMCNNTF", "FusedGMCNN", "FusedGMCNNTF"}


def _type_tests(tree: ast.AST) -> list[str]:
    """``isinstance(x, <generator class>)`` calls and ``A | B`` unions of generator classes in ``tree``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance" and len(node.args) == 2:
            names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
            if names & GENERATOR_CLASSES:
                found.append(f"line {node.lineno}: isinstance(..., {sorted(names & GENERATOR_CLASSES)})")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & GENERATOR_CLASSES
            if len(names) >= 2:  # "GMCNN | None" is an optional value, not a choice between networks
                found.append(f"line {node.lineno}: union of {sorted(names)}")
    return found


def test_no_generator_type_tests_outside_models() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path.relative_to(SRC).parts[0] == "models":
            continue  # the networks and the registry itself
        source = path.read_text()
        # string annotations ("GMCNN | GMCNNTF") are parsed too, so unions in them count
        tree = ast.parse(source)
        strings = [
            ast.parse(n.value, mode="eval")
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and "|" in n.value and _expression(n.value)
        ]
        offenders += [f"{path.relative_to(SRC)} {hit}" for t in [tree, *strings] for hit in _type_tests(t)]
    assert not offenders, "generator type tests outside models/:\n" + "\n".join(offenders)


def _expression(text: str) -> bool:
    try:
        ast.parse(text, mode="eval")
    except SyntaxError:
        return False
    return True


def test_the_type_test_detector_finds_both_forms() -> None:
    tree = ast.parse("isinstance(g, GMCNNTF)\nx: GMCNN | GMCNNTF | None\ny: GMCNN | None\n")
    assert len(_type_tests(tree)) == 3  # isinstance, and the two nested BinOps of the first union
