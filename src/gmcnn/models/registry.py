"""The architecture registry: every generator network, and everything the rest of gmcnn needs to know about it.

Like timm's ``register_model``, one :class:`Architecture` entry per network says how to build it, how to run it
fast, what colour order it sees, whether it exports to ONNX and how its official release names its weights.
The pipeline, the back ends, ONNX export, training and the weights format ask this registry and never test a
network's type. Adding a variant = its module (a :class:`~gmcnn.models.base.Generator` subclass and its
:class:`~gmcnn.models.base.GeneratorConfig`), its fused twin, and one ``register_architecture`` line at the
bottom of this file (``docs/new-architecture.md`` walks through it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from gmcnn.models.base import Generator, GeneratorConfig
from gmcnn.models.fused import FusedGMCNN
from gmcnn.models.fused_tf import FusedGMCNNTF
from gmcnn.models.gmcnn import GMCNN, GMCNNConfig
from gmcnn.models.gmcnn_tf import GMCNNTF, GMCNNTFConfig, tf_variable_name

DEFAULT_ARCHITECTURE = "gmcnn"

# A fast inference twin, built as ``twin(float32 generator, dtype=...)``: a module with the generator's forward
# contract that returns float32. Twins share the maths; they trade memory passes and layouts for speed.
FusedFactory = Callable[..., nn.Module]


def _same_key(key: str, config: Any) -> str:
    return key


@dataclass(frozen=True)
class Architecture:
    """A registered generator network.

    Attributes:
        name: the registry name, stored as ``"architecture"`` in every export's JSON.
        model: the :class:`~gmcnn.models.base.Generator` subclass, built as ``model(config)``.
        config: its :class:`~gmcnn.models.base.GeneratorConfig` subclass.
        fused: the inference twin class the ``"eager"`` back end runs (``fused(generator, dtype=...)``).
        onnx: whether :mod:`gmcnn.inpainting.onnx` can trace ``model`` (the plain network) to ONNX.
        release_key: the name under which the official release stores each ``state_dict`` key
            (``release_key(key, config)``): the key itself for the PyTorch release, the TF variable name for
            the TensorFlow one.
    """

    name: str
    model: type[Generator]
    config: type[GeneratorConfig]
    fused: FusedFactory
    onnx: bool = True
    release_key: Callable[[str, Any], str] = _same_key

    @property
    def channel_order(self) -> str:
        """The colour order the network sees (from its config class's default instance)."""
        return self.config().channel_order


_ARCHITECTURES: dict[str, Architecture] = {}


def register_architecture(entry: Architecture) -> Architecture:
    """Register ``entry``; a second registration of its name, or a config class already taken, is refused."""
    if entry.name in _ARCHITECTURES:
        taken = _ARCHITECTURES[entry.name].model.__name__
        raise ValueError(f"architecture {entry.name!r} is already registered ({taken})")
    for other in _ARCHITECTURES.values():
        if other.config is entry.config or other.model is entry.model:
            classes = f"{entry.model.__name__} / {entry.config.__name__}"
            raise ValueError(f"{classes} are already registered as {other.name!r}")
    if entry.name != entry.config.ARCHITECTURE:
        raise ValueError(f"{entry.config.__name__}.ARCHITECTURE is {entry.config.ARCHITECTURE!r}, not {entry.name!r}")
    _ARCHITECTURES[entry.name] = entry
    return entry


def unregister_architecture(name: str) -> None:
    """Remove an entry (for tests that register a toy architecture)."""
    _ARCHITECTURES.pop(name, None)


def get_architecture(name: str) -> Architecture:
    """Look a name up; unknown names fail with the list of known ones."""
    try:
        return _ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; known architectures are {architectures()}") from None


def architectures() -> list[str]:
    return sorted(_ARCHITECTURES)


def create_model(name: str = DEFAULT_ARCHITECTURE, config: Any = None) -> Generator:
    """Build the network ``name`` from a config instance, a config dict (unknown keys fail) or ``None`` (defaults)."""
    arch = get_architecture(name)
    if config is None:
        config = arch.config()
    elif isinstance(config, dict):
        config = arch.config.from_dict(config)
    elif type(config) is not arch.config:
        raise ValueError(f"architecture {name!r} takes a {arch.config.__name__}, got {type(config).__name__}")
    return arch.model(config)


def architecture_of(model: nn.Module | GeneratorConfig) -> Architecture:
    """The entry of a network instance or of a config instance (by exact class)."""
    for entry in _ARCHITECTURES.values():
        if type(model) in (entry.model, entry.config):
            return entry
    raise ValueError(f"{type(model).__name__} is not a registered architecture or config; known: {architectures()}")


def fused_twin(generator: Generator, dtype: torch.dtype = torch.float32) -> nn.Module:
    """The registered inference twin of ``generator`` in ``dtype``."""
    return architecture_of(generator).fused(generator, dtype=dtype)


register_architecture(Architecture("gmcnn", GMCNN, GMCNNConfig, FusedGMCNN))  # the paper / PyTorch release
register_architecture(Architecture("gmcnn_tf", GMCNNTF, GMCNNTFConfig, FusedGMCNNTF, release_key=tf_variable_name))
