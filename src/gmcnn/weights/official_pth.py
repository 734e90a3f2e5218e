"""Official GMCNN checkpoints -> our generator / export format.

The official PyTorch release saves a plain generator ``state_dict`` (``<epoch>_net_GM.pth``) whose keys are
already ours (``EB1.*``, ``EB2.*``, ``EB3.*``, ``decoding_layers.*``), possibly behind ``module.`` when saved from
``DataParallel``, or nested under a ``"netG"``-style key. :func:`official_to_ours` is the one key-remap function.
Files are read with ``torch.load(weights_only=True)``: no pickled code runs.

The TensorFlow release is a different network (5 input channels, BGR, 'SAME' padding, other tail widths): its
checkpoints are read by :mod:`gmcnn.weights.official_tf` into :class:`gmcnn.models.gmcnn_tf.GMCNNTF`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from gmcnn.errors import UserError
from gmcnn.models.base import Generator
from gmcnn.models.registry import create_model
from gmcnn.models.state_dict import load_state_strict, strip_wrappers

_NESTED_KEYS = ("netGM", "netG", "generator", "state_dict", "model")


def official_to_ours(state: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Map an official generator state dict (or a dict holding one) to our key layout."""
    for key in _NESTED_KEYS:
        if key in state and isinstance(state[key], Mapping):
            state = state[key]
            break
    tensors = {k: v for k, v in strip_wrappers(dict(state)).items() if isinstance(v, torch.Tensor)}
    if "EB1.0.weight" not in tensors:
        raise UserError(
            "not an official GMCNN generator state dict: no 'EB1.0.weight' key "
            f"(found e.g. {sorted(tensors)[:3]}); TensorFlow release checkpoints are folders / snap-* prefixes"
        )
    return tensors


def load_official(path: str | os.PathLike[str]) -> Generator:
    """Read an official ``*_net_GM.pth`` safely and return our generator (eval mode) with its weights."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such checkpoint: {path}")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # the unpickler raises many types for junk files; all mean 'not readable'
        raise UserError(f"cannot read {path} as a PyTorch weights file (weights_only=True): {exc}") from None
    if not isinstance(raw, Mapping):
        raise UserError(f"{path} holds a {type(raw).__name__}, expected a generator state dict")
    state = official_to_ours(raw)
    cnum = int(state["EB1.0.weight"].shape[0])
    if state["EB1.0.weight"].shape[1] != 4:
        raise UserError(f"{path}: first conv takes {state['EB1.0.weight'].shape[1]} channels, expected 4 (RGB + mask)")
    generator = create_model("gmcnn", {"cnum": cnum})
    load_state_strict(generator, state, source=str(path))
    return generator.eval()
