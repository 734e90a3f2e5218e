"""What every generator architecture shares: the config base class and the :class:`Generator` base class.

The rest of gmcnn (pipeline, back ends, ONNX export, training, the weights format) handles generators only
through this interface and the architecture registry (:mod:`gmcnn.models.registry`); none of it names a
concrete network class. A generator:

* is built from its config alone (``Model(config)``), and its config round-trips through JSON
  (:meth:`GeneratorConfig.to_dict` / :meth:`GeneratorConfig.from_dict`, unknown keys refused);
* declares its size contract (``size_multiple``, ``min_size``) and the colour order it was trained on
  (``channel_order``) on its config, so a contract can be written for it without running it;
* runs ``forward(image, mask) -> pred``: ``image`` float32 ``(B, 3, H, W)`` in [-1, 1] **in its channel order**,
  ``mask`` ``(B, 1, H, W)`` with 1 = hole; ``pred`` ``(B, 3, H, W)`` in [-1, 1], not composited.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn

C = TypeVar("C", bound="GeneratorConfig")


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture of a generator; subclasses add their own fields (saved as JSON beside every export).

    Attributes:
        cnum: base width (32 = the paper's model).
    """

    ARCHITECTURE: ClassVar[str] = ""  # the registry name, accepted as an ``architecture`` key by from_dict

    cnum: int = 32

    def __post_init__(self) -> None:
        if self.cnum < 2 or self.cnum % 2:
            raise ValueError(f"cnum must be an even integer >= 2, got {self.cnum}")

    @property
    def in_channels(self) -> int:
        """Channels of the network's own input (image + mask planes), for memory estimates."""
        return 4

    @property
    def channel_order(self) -> str:
        """``"RGB"``, or ``"BGR"`` for networks trained on OpenCV-loaded images (the TF releases)."""
        return "RGB"

    @property
    def size_multiple(self) -> int:
        """Height and width must be multiples of this (two stride-2 convolutions in every GMCNN)."""
        return 4

    @property
    def min_size(self) -> int:
        """Smallest height / width the network accepts."""
        return self.size_multiple

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        """Rebuild from JSON; unknown keys are an error (a config from a newer or foreign format).

        An ``architecture`` key, when present, must name this config's architecture.
        """
        data = dict(data)
        arch = data.pop("architecture", cls.ARCHITECTURE)
        if arch != cls.ARCHITECTURE:
            raise ValueError(f"config is for architecture {arch!r}, not {cls.ARCHITECTURE!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} keys {unknown}; valid keys are {sorted(known)}")
        return cls(**data)


class Generator(nn.Module):
    """Base class of every generator network (see the module docstring for the contract)."""

    config: GeneratorConfig

    def check_size(self, height: int, width: int) -> None:
        """Raise a ``ValueError`` naming the contract when (height, width) cannot go through the network."""
        m, lo = self.config.size_multiple, self.config.min_size
        if height % m or width % m or height < lo or width < lo:
            raise ValueError(
                f"{type(self).__name__} input must be at least {lo}x{lo} with height and width multiples of {m}, "
                f"got {height}x{width} (gmcnn.Inpainter pads any size for you)"
            )

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
