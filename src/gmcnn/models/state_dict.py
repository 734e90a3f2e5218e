"""State-dict key handling shared by every network: the one place wrapper prefixes are removed.

Checkpoint keys are a public format (official names); DDP adds ``module.`` and ``torch.compile`` adds
``_orig_mod.``. Loaders call :func:`load_state_strict`, which strips them and turns any key or shape
mismatch into one readable error.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from gmcnn.errors import UserError


def strip_wrappers(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The one place that removes DDP's ``module.`` and torch.compile's ``_orig_mod.`` key prefixes."""
    out = {}
    for key, value in state_dict.items():
        for prefix in ("module.", "_orig_mod."):
            while key.startswith(prefix):
                key = key[len(prefix) :]
        out[key] = value
    return out


def load_state_strict(model: nn.Module, state: Mapping[str, torch.Tensor], *, source: str) -> None:
    """Load a state dict, turning key or shape mismatches into one readable error."""
    state = strip_wrappers(state)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [
        f"{k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} keys (e.g. {missing[:3]})")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} keys (e.g. {unexpected[:3]})")
        if wrong:
            parts.append(f"shape mismatch ({'; '.join(wrong[:3])})")
        raise UserError(f"{source} does not fit {_describe(model)}: " + ", ".join(parts))
    model.load_state_dict({k: v.to(torch.float32) for k, v in state.items()})


def _describe(model: nn.Module) -> str:
    cnum = getattr(getattr(model, "config", None), "cnum", None)
    return f"{type(model).__name__}(cnum={cnum})" if cnum is not None else type(model).__name__
