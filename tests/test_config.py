"""The training config: presets, overrides, unknown keys, choices."""

from __future__ import annotations

import pytest

from gmcnn.errors import UserError
from gmcnn.training.config import TrainConfig, preset_names, resolve_config


def test_presets_resolve_and_overrides_win() -> None:
    assert {"paper_256_rect", "paper_256_free", "cpu_small", "tiny"} <= set(preset_names())
    for name in preset_names():
        resolve_config(name, {})
    cfg = resolve_config("cpu_small", {"cnum": "32", "bf16": "false", "lr": "1e-3", "max_steps": "1_000"})
    assert (cfg.cnum, cfg.bf16, cfg.lr, cfg.max_steps) == (32, False, 1e-3, 1000)
    assert resolve_config("paper_256_free", {}).local_critic == "patch"
    with pytest.raises(UserError, match="expects a int"):
        resolve_config("tiny", {"cnum": "abc"})


def test_unknown_keys_and_bad_choices_are_refused_by_name() -> None:
    with pytest.raises(UserError, match="valid keys"):
        TrainConfig.from_dict({"nope": 1})
    with pytest.raises(UserError, match="critic_calls must be one of"):
        resolve_config("tiny", {"critic_calls": "twice"})
    assert resolve_config("tiny", {"critic_calls": "separate"}).critic_calls == "separate"
    assert TrainConfig().critic_calls == "concat" and TrainConfig().architecture == "gmcnn"


def test_health_options_are_on_in_the_cpu_presets_only() -> None:
    for name in preset_names():
        cfg = resolve_config(name, {})
        if name.startswith(("official", "paper")):  # faithful to the releases and the paper: no health changes
            assert (cfg.fusion_act, cfg.grad_clip, cfg.rollback_saturation) == ("elu", 0.0, 0.0), name
    live, small = resolve_config("cpu_live_mrf", {}), resolve_config("cpu_small", {})
    assert live.fusion_act == "leaky_relu" and live.grad_clip > 1 and live.rollback_saturation == 0.5
    assert small.fusion_act == "elu" and small.grad_clip > 1  # its ELU head loads the embedded weights
    with pytest.raises(UserError, match="grad_clip"):
        resolve_config("tiny", {"grad_clip": "0.5"})
