"""Model factory: architecture name -> network, duplicates refused, unknown names listed."""

from __future__ import annotations

import pytest
from torch import nn

from gmcnn.models.gmcnn import GMCNN, GMCNNConfig
from gmcnn.weights import factory


def test_create_model_from_a_config_dict_or_instance() -> None:
    g = factory.create_model("gmcnn", {"cnum": 4, "pad_mode": "zeros"})
    assert isinstance(g, GMCNN) and g.config == GMCNNConfig(cnum=4, pad_mode="zeros")
    assert factory.create_model("gmcnn", GMCNNConfig(cnum=6)).config.cnum == 6  # type: ignore[union-attr]
    assert factory.architecture_of(g) == "gmcnn"
    assert factory.architecture_for_config(GMCNNConfig(cnum=4)) == "gmcnn"
    with pytest.raises(ValueError, match="unknown GMCNNConfig keys"):
        factory.create_model("gmcnn", {"cnum": 4, "widht": 3})


def test_registry_refuses_duplicates_and_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="already registered"):
        factory.register_architecture("gmcnn", GMCNN, GMCNNConfig)
    with pytest.raises(ValueError, match=r"unknown architecture 'nope'.*gmcnn"):
        factory.create_model("nope")
    with pytest.raises(ValueError, match="not a registered architecture"):
        factory.architecture_of(nn.Linear(1, 1))
    with pytest.raises(ValueError, match="not a registered config class"):
        factory.architecture_for_config({"cnum": 4})


def test_export_records_the_architecture(tmp_path) -> None:
    import json

    from gmcnn.weights.format import CONFIG_NAME, export_generator, load_generator

    export_generator(GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros")), tmp_path)
    assert json.loads((tmp_path / CONFIG_NAME).read_text())["architecture"] == "gmcnn"
    g, _ = load_generator(tmp_path)
    assert g.config.cnum == 4
