"""VGG19 feature taps for the ID-MRF loss: our own definition in torchvision's key layout, frozen.

``features.N.weight`` / ``features.N.bias`` keys are those of torchvision's ``vgg19().state_dict()``, so its
ImageNet weights load from a local file (``.safetensors``, or ``.pth`` read with ``weights_only=True``) — this
package never downloads anything. Only the layers up to relu4_2 (index 22) are built; other keys in the file
(deeper convs, the classifier) are ignored.

Input: ``(B, 3, H, W)`` RGB in [-1, 1]; by default it is mapped to [0, 1] and normalised with the ImageNet mean
**and** std. Output: ``{"relu3_2": (B, 256, H/4, W/4), "relu4_2": (B, 512, H/8, W/8)}``.

Official differences, as options (``input_norm``, tap names):

* the official **PyTorch** release subtracts the ImageNet mean from the [0, 1] image without dividing by the std
  (``input_norm="mean"``), and its layer-naming counter makes the taps it calls "relu3_2" / "relu4_2" really
  relu3_1 / relu4_1 (``features`` indices 11 and 20): tap ``relu3_1`` / ``relu4_1`` to reproduce it;
* the **TF** release feeds [0, 255] minus the mean (``input_norm="mean255"``) to MatConvNet's VGG19 with average
  pooling, taps conv3_2 / conv4_2 after their ReLU (= our relu3_2 / relu4_2), and -- since its images are BGR --
  subtracts the RGB mean from BGR pixels. Its weights are not torchvision's, so it is approximated, not matched.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from gmcnn.errors import UserError
from gmcnn.models.state_dict import strip_wrappers

# torchvision's "E" configuration; "M" = 2x2 max pool. Indices of `features` follow from it.
VGG19_LAYOUT: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
)  # fmt: skip
TAPS: dict[str, int] = {"relu3_1": 11, "relu3_2": 13, "relu4_1": 20, "relu4_2": 22}  # index of the ReLU in `features`
INPUT_NORMS = ("mean_std", "mean", "mean255")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _features(last_index: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    in_channels = 3
    for item in VGG19_LAYOUT:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            assert isinstance(item, int)
            layers += [nn.Conv2d(in_channels, item, 3, padding=1), nn.ReLU()]
            in_channels = item
        if len(layers) > last_index:
            break
    return nn.Sequential(*layers[: last_index + 1])


class VGG19Features(nn.Module):
    """Frozen VGG19 trunk returning the :data:`TAPS` activations.

    Args:
        taps: names of the activations to return (keys of :data:`TAPS`).
        input_norm: ``"mean_std"`` (ImageNet mean and std on [0, 1]), ``"mean"`` (official PyTorch: mean only) or
            ``"mean255"`` (TF release: mean only, on [0, 255]).
    """

    def __init__(self, taps: tuple[str, ...] = ("relu3_2", "relu4_2"), *, input_norm: str = "mean_std") -> None:
        super().__init__()
        if input_norm not in INPUT_NORMS:
            raise ValueError(f"unknown VGG input_norm {input_norm!r}; valid ones are {list(INPUT_NORMS)}")
        self.input_norm = input_norm
        unknown = sorted(set(taps) - set(TAPS))
        if unknown:
            raise ValueError(f"unknown VGG19 taps {unknown}; valid taps are {sorted(TAPS)}")
        self.taps = {name: TAPS[name] for name in taps}
        self.features = _features(max(self.taps.values()))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG19Features:
        # Always eval: the loss network must not change with the trainer's .train() calls.
        return super().train(False)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        taps: tuple[str, ...] = ("relu3_2", "relu4_2"),
        input_norm: str = "mean_std",
    ) -> VGG19Features:
        """Load torchvision-layout VGG19 weights from a local ``.safetensors`` or ``.pth`` file."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"VGG19 weights not found at {path}")
        state: Any
        try:
            if path.suffix == ".safetensors":
                state = load_file(str(path))
            else:
                state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # unpickling / header errors come in many types
            raise UserError(f"cannot read VGG19 weights {path}: {exc}") from None
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        model = cls(taps, input_norm=input_norm)
        model.load_weights(strip_wrappers(state), source=str(path))
        return model

    def load_weights(self, state: dict[str, torch.Tensor], *, source: str) -> None:
        """Copy the ``features.*`` tensors this trunk needs; extra keys are ignored, missing ones are an error."""
        own = self.state_dict()
        missing = [k for k in own if k not in state]
        wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
        if missing or wrong:
            raise UserError(
                f"{source} is not a torchvision VGG19 state dict: missing {missing[:3]}, wrong shapes {wrong[:3]}"
            )
        self.load_state_dict({k: state[k].float() for k in own})

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """``image`` (B, 3, H, W) in [-1, 1] -> dict of tap activations."""
        mean, std = self.get_buffer("mean"), self.get_buffer("std")
        x = (image + 1.0) / 2.0
        if self.input_norm == "mean_std":
            x = (x - mean) / std
        elif self.input_norm == "mean":
            x = x - mean
        else:
            x = (x - mean) * 255.0
        out = {}
        wanted = {index: name for name, index in self.taps.items()}
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in wanted:
                out[wanted[index]] = x
        return out


__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "INPUT_NORMS", "TAPS", "VGG19_LAYOUT", "VGG19Features"]
