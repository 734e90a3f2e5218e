"""Building a run's models: the generator comes from the architecture registry, named by the config."""

from __future__ import annotations

import pytest

from gmcnn.errors import UserError
from gmcnn.models import registry
from gmcnn.training.build import build_models, create_generator, generator_config
from gmcnn.training.config import resolve_config
from gmcnn.training.distributed import DistInfo


def test_generator_comes_from_the_registry_by_the_configs_architecture() -> None:
    cfg = resolve_config("tiny", {"fill": "smooth"})
    assert generator_config(cfg) == {"cnum": 4, "pad_mode": "zeros", "fill": "smooth"}
    generator = create_generator(cfg)
    assert registry.architecture_of(generator).name == "gmcnn"
    assert generator.config.to_dict() == {
        "cnum": 4, "in_channels": 4, "pad_mode": "zeros", "fill": "smooth", "fusion_act": "elu"
    }  # fmt: skip
    leaky = create_generator(resolve_config("tiny", {"fusion_act": "leaky_relu"}))
    assert leaky.config.fusion_act == "leaky_relu"
    # The TF-release network takes only cnum: with the model keys at their defaults it builds too.
    tf = create_generator(resolve_config(None, {"architecture": "gmcnn_tf", "cnum": 8}))
    assert registry.architecture_of(tf).name == "gmcnn_tf"


def test_an_unknown_architecture_or_key_is_refused_by_name() -> None:
    with pytest.raises(UserError, match="unknown architecture 'nope'"):
        create_generator(resolve_config("tiny", {"architecture": "nope"}))
    with pytest.raises(UserError, match="fill"):
        create_generator(resolve_config("tiny", {"architecture": "gmcnn_tf", "fill": "smooth"}))


def test_build_models_is_seeded_and_leaves_the_global_rng_alone() -> None:
    import torch

    cfg = resolve_config("tiny", {"idmrf_weight": 0})
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    g1, d1, vgg = build_models(cfg, DistInfo())
    after = torch.rand(1)
    g2, _, _ = build_models(cfg, DistInfo())
    assert vgg is None and torch.equal(before, after)  # built in a forked RNG
    assert all(torch.equal(a, b) for a, b in zip(g1.state_dict().values(), g2.state_dict().values(), strict=True))
    assert d1.global_critic.size == 32
