"""Model factory: architecture name -> (network class, config class), a registry that refuses duplicates.

Loaders never construct a network class directly; they call :func:`create_model` with the architecture name
stored in the weights' metadata (``"gmcnn"`` when absent, as in every version-1 export). A new architecture
is one line::

    register_architecture("gmcnn_tf", GMCNNTF, GMCNNTFConfig)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from gmcnn.models.gmcnn import GMCNN, GMCNNConfig
from gmcnn.models.gmcnn_tf import GMCNNTF, GMCNNTFConfig

DEFAULT_ARCHITECTURE = "gmcnn"


@dataclass(frozen=True)
class Architecture:
    """A registered network: its class and the config dataclass it is built from (``cls(config)``)."""

    name: str
    model: type[nn.Module]
    config: type[Any]


_ARCHITECTURES: dict[str, Architecture] = {}


def register_architecture(name: str, model: type[nn.Module], config: type[Any]) -> Architecture:
    """Register ``model`` (built as ``model(config_instance)``) under ``name``; a second registration is refused."""
    if name in _ARCHITECTURES:
        raise ValueError(f"architecture {name!r} is already registered ({_ARCHITECTURES[name].model.__name__})")
    entry = Architecture(name, model, config)
    _ARCHITECTURES[name] = entry
    return entry


def get_architecture(name: str) -> Architecture:
    """Look a name up; unknown names fail with the list of known ones."""
    try:
        return _ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; known architectures are {architectures()}") from None


def architectures() -> list[str]:
    return sorted(_ARCHITECTURES)


def create_model(name: str = DEFAULT_ARCHITECTURE, config: Any = None) -> nn.Module:
    """Build the network ``name`` from a config instance, a config dict (unknown keys fail) or ``None`` (defaults)."""
    arch = get_architecture(name)
    if config is None:
        config = arch.config()
    elif isinstance(config, dict):
        config = arch.config.from_dict(config)
    return arch.model(config)


def architecture_of(model: nn.Module) -> str:
    """The registered name of a network instance (its class's registration)."""
    for entry in _ARCHITECTURES.values():
        if type(model) is entry.model:
            return entry.name
    raise ValueError(f"{type(model).__name__} is not a registered architecture; known: {architectures()}")


def architecture_for_config(config: Any) -> str:
    """The registered name whose config class ``config`` is an instance of."""
    for entry in _ARCHITECTURES.values():
        if type(config) is entry.config:
            return entry.name
    raise ValueError(f"{type(config).__name__} is not a registered config class; known: {architectures()}")


register_architecture("gmcnn", GMCNN, GMCNNConfig)
register_architecture("gmcnn_tf", GMCNNTF, GMCNNTFConfig)  # the official TensorFlow release's network
