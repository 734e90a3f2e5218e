"""VGG19 taps: torchvision key layout, local loading (.safetensors / .pth), frozen, normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from gmcnn.errors import UserError
from gmcnn.models.vgg import IMAGENET_MEAN, IMAGENET_STD, VGG19Features

# torchvision vgg19().features indices of the convolutions up to conv4_2, with their shapes.
TORCHVISION_CONVS = {0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128), 10: (256, 128), 12: (256, 256),
                     14: (256, 256), 16: (256, 256), 19: (512, 256), 21: (512, 512)}  # fmt: skip


def random_state(seed: int = 0, *, extra: bool = True) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    state = {}
    for idx, (cout, cin) in TORCHVISION_CONVS.items():
        state[f"features.{idx}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * 0.05
        state[f"features.{idx}.bias"] = torch.randn(cout, generator=g) * 0.01
    if extra:  # deeper layers and the classifier are in real files; they are ignored
        state["features.23.weight"] = torch.zeros(512, 512, 3, 3)
        state["classifier.0.weight"] = torch.zeros(8, 8)
    return state


def test_key_layout_is_torchvisions() -> None:
    own = VGG19Features().state_dict()
    assert set(own) == {f"features.{i}.{p}" for i in TORCHVISION_CONVS for p in ("weight", "bias")}
    for idx, (cout, cin) in TORCHVISION_CONVS.items():
        assert own[f"features.{idx}.weight"].shape == (cout, cin, 3, 3)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_loads_local_file_frozen_eval_with_taps(tmp_path: Path, suffix: str) -> None:
    state = random_state()
    path = tmp_path / f"vgg19{suffix}"
    if suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    vgg = VGG19Features.from_file(path)
    torch.testing.assert_close(vgg.features[21].weight, state["features.21.weight"])
    assert not vgg.training and not any(p.requires_grad for p in vgg.parameters())
    vgg.train()
    assert not vgg.training
    x = (torch.rand(1, 3, 64, 64) * 2 - 1).requires_grad_()
    out = vgg(x)
    assert out["relu3_2"].shape == (1, 256, 16, 16) and out["relu4_2"].shape == (1, 512, 8, 8)
    assert (out["relu3_2"] >= 0).all()
    out["relu4_2"].sum().backward()
    assert x.grad is not None and all(p.grad is None for p in vgg.parameters())  # gradients reach the input only


def test_input_normalisation_uses_imagenet_mean_and_std() -> None:
    vgg = VGG19Features(taps=("relu3_2",))
    seen = {}

    def record(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        seen["x"] = inputs[0]

    vgg.features[0].register_forward_hook(record)
    image = torch.zeros(1, 3, 8, 8)  # 0 in [-1, 1] = 0.5 in [0, 1]
    vgg(image)
    expected = (0.5 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(seen["x"][0, :, 0, 0], expected)


def test_bad_files_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        VGG19Features.from_file(tmp_path / "missing.pth")
    partial = random_state(extra=False)
    del partial["features.21.weight"]
    save_file(partial, str(tmp_path / "partial.safetensors"))
    with pytest.raises(UserError, match="features.21.weight"):
        VGG19Features.from_file(tmp_path / "partial.safetensors")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(UserError, match="cannot read"):
        VGG19Features.from_file(tmp_path / "junk.pth")
