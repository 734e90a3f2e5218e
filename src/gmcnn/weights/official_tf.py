"""Official TensorFlow GMCNN checkpoints -> :class:`gmcnn.models.gmcnn_tf.GMCNNTF`, without TensorFlow.

The five TF releases are ``tf.train.Saver`` folders (``checkpoint`` + ``snap-*.index`` + ``snap-*.data-*``);
:class:`gmcnn.weights.tf_bundle.TensorBundle` reads them. This module maps the generator's variables
(``inpaint_net/<layer>/kernel`` HWIO, ``.../bias``) onto the PyTorch module (OIHW), ignoring everything else a
release holds (critics, optimiser slots, step counters). The width ``cnum`` is read from the first kernel.
A checkpoint of another network fails with the list of generator variables it lacks.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from gmcnn.errors import UserError
from gmcnn.models.base import Generator
from gmcnn.models.gmcnn_tf import SCOPE, GMCNNTFConfig
from gmcnn.models.registry import create_model, get_architecture
from gmcnn.weights.tf_bundle import TensorBundle

ARCHITECTURE = "gmcnn_tf"  # the registry entry of the TF-release network
FIRST_KERNEL = f"{SCOPE}/b1conv1/kernel"


def is_tf_checkpoint(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` looks like a TF1 checkpoint (prefix, ``.index``/``.data-*`` file, or Saver folder)."""
    text = str(path)
    if text.endswith(".index") or ".data-0" in os.path.basename(text) or os.path.isfile(f"{text}.index"):
        return True
    return os.path.isdir(text) and (
        os.path.isfile(os.path.join(text, "checkpoint")) or any(n.endswith(".index") for n in os.listdir(text))
    )


def _missing_error(bundle: TensorBundle, missing: list[str], cnum: int) -> UserError:
    shown = "\n  ".join(missing)  # all of them (at most 94): the list says which part of the network is absent
    return UserError(
        f"{bundle.prefix} is not a GMCNN TF-release generator (cnum {cnum}): {len(missing)} of its variables are "
        f"missing:\n  {shown}"
    )


def state_from_bundle(bundle: TensorBundle) -> tuple[GMCNNTFConfig, dict[str, torch.Tensor]]:
    """Read the generator's variables; returns its config and a ``state_dict`` for the ``gmcnn_tf`` network.

    Raises:
        UserError: no ``inpaint_net/b1conv1/kernel`` (another network), a kernel of the wrong shape, or missing
            generator variables (all listed).
    """
    if FIRST_KERNEL not in bundle.entries:
        scopes = sorted({n.split("/")[0] for n in bundle.names()})
        raise UserError(
            f"{bundle.prefix} is not a GMCNN TF-release generator: no variable {FIRST_KERNEL!r} "
            f"(its top-level scopes are {scopes[:10]})"
        )
    first = bundle.shape(FIRST_KERNEL)
    if len(first) != 4 or first[:3] != (7, 7, 5):
        raise UserError(f"{bundle.prefix}: {FIRST_KERNEL} has shape {first}, expected (7, 7, 5, cnum)")
    config = GMCNNTFConfig(cnum=int(first[3]))
    with torch.device("meta"):  # shapes only
        own = create_model(ARCHITECTURE, config).state_dict()
    release_key = get_architecture(ARCHITECTURE).release_key
    names = {key: release_key(key, config) for key in own}
    missing = sorted(v for v in names.values() if v not in bundle.entries)
    if missing:
        raise _missing_error(bundle, missing, config.cnum)
    state = {}
    for key, var in names.items():
        value = bundle.read(var).astype(np.float32)
        if value.ndim == 4:
            value = value.transpose(3, 2, 0, 1)  # HWIO -> OIHW
        if tuple(value.shape) != tuple(own[key].shape):
            raise UserError(f"{bundle.prefix}: {var} has shape {value.shape}, expected {tuple(own[key].shape)}")
        state[key] = torch.from_numpy(np.ascontiguousarray(value))
    return config, state


def load_official_tf(path: str | os.PathLike[str], *, verify: bool = True) -> tuple[Generator, dict[str, Any]]:
    """Load a released TF checkpoint (folder, prefix or ``.index`` file) as an eval-mode :class:`GMCNNTF`.

    Returns:
        The generator and facts about the source (``prefix``, variable count, ignored non-generator variables).
    """
    bundle = TensorBundle(path, verify=verify)
    config, state = state_from_bundle(bundle)
    generator = create_model(ARCHITECTURE, config)
    generator.load_state_dict(state)
    # one checkpoint variable per state_dict entry (state_from_bundle mapped them)
    info = {"prefix": str(bundle.prefix), "variables": len(state), "ignored": len(bundle.entries) - len(state)}
    return generator.eval(), info


__all__ = ["is_tf_checkpoint", "load_official_tf", "state_from_bundle"]
