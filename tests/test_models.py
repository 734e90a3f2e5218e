"""GMCNN generator: the official architecture, keys, gradients and size contract."""

from __future__ import annotations

import pytest
import torch

from gmcnn.models.fill import smooth_fill
from gmcnn.models.gmcnn import GMCNN, GMCNNConfig, count_parameters

OFFICIAL_SHAPES = {
    "EB1.0.weight": (32, 4, 7, 7),
    "EB2.13.weight": (64, 128, 5, 5),
    "EB3.16.weight": (32, 64, 3, 3),
    "decoding_layers.0.weight": (16, 224, 3, 3),
    "decoding_layers.1.weight": (3, 16, 3, 3),
    "EB1.9.weight": (128, 128, 7, 7),
}


def _official_keys() -> set[str]:
    idx = {"EB1": list(range(12)), "EB2": [*range(12), 13, 14], "EB3": [*range(12), 13, 14, 16, 17],
           "decoding_layers": [0, 1]}  # fmt: skip
    return {f"{col}.{i}.{p}" for col, ids in idx.items() for i in ids for p in ("weight", "bias")}


def test_official_parameter_count() -> None:
    assert count_parameters(GMCNN()) == 12_561_891


def test_official_key_layout_and_shapes() -> None:
    state = GMCNN().state_dict()
    assert set(state) == _official_keys()
    for key, shape in OFFICIAL_SHAPES.items():
        assert tuple(state[key].shape) == shape, key


def test_dilations_and_strides_follow_the_spec() -> None:
    g = GMCNN(GMCNNConfig(cnum=4))
    for col, k in (("EB1", 7), ("EB2", 5), ("EB3", 3)):
        convs = getattr(g, col)
        assert [convs[i].dilation[0] for i in range(12)] == [1, 1, 1, 1, 1, 1, 2, 4, 8, 16, 1, 1]
        assert [convs[i].stride[0] for i in range(12)] == [1, 2, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1]
        assert all(convs[i].kernel_size == (k, k) for i in range(12))


def test_init_is_normal_002_with_zero_bias() -> None:
    torch.manual_seed(0)
    w = GMCNN().EB1[4].weight.detach()
    assert abs(float(w.std()) - 0.02) < 0.001
    assert float(GMCNN().EB2[13].bias.detach().abs().sum()) == 0.0


@pytest.mark.parametrize("size", [(196, 196), (256, 200)])
def test_full_model_output_shape_and_range(size: tuple[int, int]) -> None:
    g = GMCNN(GMCNNConfig(cnum=8)).eval()
    x = torch.rand(1, 3, *size) * 2 - 1
    m = torch.zeros(1, 1, *size)
    m[..., 50:120, 60:140] = 1
    with torch.no_grad():
        y = g(x, m)
    assert y.shape == (1, 3, *size)
    assert float(y.min()) >= -1 and float(y.max()) <= 1


@pytest.mark.parametrize("size", [(192, 196), (197, 200), (196, 198)])
def test_reflect_model_refuses_sizes_outside_its_contract(size: tuple[int, int]) -> None:
    g = GMCNN(GMCNNConfig(cnum=4))
    with pytest.raises(ValueError, match="at least 196x196 with height and width multiples of 4"):
        g(torch.zeros(1, 3, *size), torch.zeros(1, 1, *size))


def test_every_parameter_gets_a_gradient() -> None:
    g = GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros"))
    x = torch.rand(2, 3, 36, 44) * 2 - 1
    m = (torch.rand(2, 1, 36, 44) > 0.5).float()
    g(x, m).square().mean().backward()
    for name, p in g.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name


@pytest.mark.parametrize("fill", ["zeros", "smooth"])
def test_hole_content_is_ignored(fill: str) -> None:
    """The network never sees the hole's pixels: what lies under the hole cannot change the prediction."""
    g = GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros", fill=fill)).eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    m = torch.zeros(1, 1, 32, 32)
    m[..., 8:20, 8:20] = 1
    x2 = x.clone()
    x2[..., 8:20, 8:20] = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        assert torch.equal(g(x, m), g(x2, m))


def test_smooth_fill_model_predicts_a_correction_to_the_fill() -> None:
    g = GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros", fill="smooth")).eval()
    assert set(g.state_dict()) == set(GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros")).state_dict())  # same layers
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    m = torch.zeros(1, 1, 32, 32)
    m[..., 8:20, 8:20] = 1
    last = g.decoding_layers[1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
        torch.testing.assert_close(g(x, m), smooth_fill(x, m))  # no correction -> exactly the smooth fill
        last.bias.fill_(0.1)
        torch.testing.assert_close(g(x, m), (smooth_fill(x, m) + 0.1).clamp(-1, 1))


def test_configs_saved_before_the_fill_option_load_as_the_official_model() -> None:
    assert GMCNNConfig.from_dict({"cnum": 16, "in_channels": 4, "pad_mode": "reflect"}).fill == "zeros"
    with pytest.raises(ValueError, match="fill must be one of"):
        GMCNNConfig(fill="noise")


def test_mask_polarity_matters() -> None:
    g = GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros")).eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    m = torch.zeros(1, 1, 32, 32)
    m[..., 8:20, 8:20] = 1
    with torch.no_grad():
        assert float((g(x, m) - g(x, 1 - m)).abs().max()) > 0


def test_flops_match_the_spec() -> None:
    assert GMCNN.flops(256, 256) == pytest.approx(134e9, rel=0.02)
    assert GMCNN.flops(512, 512) == pytest.approx(537.6e9, rel=0.02)


def test_config_rejects_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ValueError, match="unknown GMCNNConfig keys"):
        GMCNNConfig.from_dict({"cnum": 8, "width": 3})
    with pytest.raises(ValueError, match="cnum"):
        GMCNNConfig(cnum=7)
    assert GMCNNConfig.from_dict(GMCNNConfig(cnum=8).to_dict()) == GMCNNConfig(cnum=8)


def test_leaky_fusion_head_keeps_a_gradient_where_elu_is_flat() -> None:
    """``fusion_act="leaky_relu"``: same keys and layers, but fusion pre-activations far below zero still pass a
    gradient (ELU's slope there is e^x ~ 0: the dead state of gmcnn.training.health)."""
    grads = {}
    for act in ("elu", "leaky_relu"):
        torch.manual_seed(0)
        g = GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros", fusion_act=act))
        with torch.no_grad():
            g.decoding_layers[0].bias.fill_(-50.0)  # every fusion pre-activation deep below zero
        image, mask = torch.rand(1, 3, 32, 32) * 2 - 1, torch.zeros(1, 1, 32, 32)
        mask[..., 8:24, 8:24] = 1
        g(image, mask).mean().backward()
        grads[act] = float(g.EB1[0].weight.grad.abs().sum())
    assert grads["elu"] < 1e-15 and grads["leaky_relu"] > 1e-10  # e^-50 against the 0.2 leak
    assert GMCNNConfig.from_dict({"cnum": 8}).fusion_act == "elu"  # configs saved before the option: official
    with pytest.raises(ValueError, match="fusion_act"):
        GMCNNConfig(fusion_act="relu")
