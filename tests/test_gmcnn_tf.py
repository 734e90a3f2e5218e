"""The TF-release generator: layer table, parameter count, TF 'SAME' padding and TF1 resize rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gmcnn.models.gmcnn_tf import (
    GMCNNTF,
    GMCNNTFConfig,
    conv_specs,
    nearest_indices,
    resize,
    same_padding,
    tf_input,
    tf_variable_name,
)


def test_parameter_count_matches_the_official_tf_graph():
    # 12,429,107 is the TF1 graph's trainable-variable count at g_cnum 32 (gmcnn-spec section 1).
    with torch.device("meta"):
        net = GMCNNTF(GMCNNTFConfig(cnum=32))
    assert sum(p.numel() for p in net.parameters()) == 12_429_107


def test_rate32_layers_only_above_cnum_32():
    names32 = {c.name for c in conv_specs(GMCNNTFConfig(cnum=32))}
    names64 = {c.name for c in conv_specs(GMCNNTFConfig(cnum=64))}
    extra = {f"b{i}conv11_atrous" for i in (1, 2, 3)}
    assert not extra & names32
    assert names64 - names32 == extra
    assert {c.rate for c in conv_specs(GMCNNTFConfig(cnum=64)) if c.name in extra} == {32}


def test_layer_shapes_differ_from_the_pytorch_release_where_the_spec_says():
    with torch.device("meta"):
        net = GMCNNTF(GMCNNTFConfig(cnum=32))
    sd = net.state_dict()
    assert tuple(sd["b1conv1.weight"].shape) == (32, 5, 7, 7)  # 5 input channels
    assert tuple(sd["b3conv1.weight"].shape) == (32, 5, 5, 5)  # EB3 starts with a 5x5
    assert tuple(sd["b2conv13_upsample_conv.weight"].shape) == (64, 128, 3, 3)  # 3x3 after the upsample
    assert tuple(sd["b3conv16.weight"].shape) == (16, 32, 3, 3)  # EB3 ends at cnum/2
    assert tuple(sd["mergeconv17.weight"].shape) == (16, 208, 3, 3)  # fusion input 4c + 2c + c/2


def test_variable_names_are_the_official_scopes():
    cfg = GMCNNTFConfig(cnum=32)
    assert tf_variable_name("b1conv1.weight", cfg) == "inpaint_net/b1conv1/kernel"
    assert tf_variable_name("mergeconv18.bias", cfg) == "inpaint_net/mergeconv18/bias"
    assert (
        tf_variable_name("b2conv13_upsample_conv.weight", cfg)
        == "inpaint_net/b2conv13_upsample/b2conv13_upsample_conv/kernel"
    )
    with pytest.raises(KeyError):
        tf_variable_name("EB1.0.weight", cfg)


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "rate", "expected"),
    [
        (256, 7, 2, 1, (2, 3)),  # even size, stride 2: the extra pixel goes after
        (255, 7, 2, 1, (3, 3)),
        (64, 5, 2, 1, (1, 2)),
        (64, 3, 2, 1, (0, 1)),
        (64, 7, 1, 16, (48, 48)),
        (10, 3, 1, 1, (1, 1)),
    ],
)
def test_same_padding_follows_tf_formula(size, kernel, stride, rate, expected):
    # TF: out = ceil(in / s); pad = max((out - 1) * s + (k - 1) * r + 1 - in, 0); before = pad // 2.
    assert same_padding(size, kernel, stride, rate) == expected


def test_stride2_conv_with_same_padding_equals_a_shifted_symmetric_conv():
    # Independent check of the asymmetry: pad (2, 3) == pad 3 on both sides then drop the first row/column.
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(1, 2, 16, 16)).astype(np.float32))
    w = torch.from_numpy(rng.normal(size=(3, 2, 7, 7)).astype(np.float32))
    ours = F.conv2d(F.pad(x, (2, 3, 2, 3)), w, stride=2)
    shifted = F.conv2d(F.pad(x, (3, 3, 3, 3))[..., 1:, 1:], w, stride=2)
    assert torch.allclose(ours, shifted, atol=1e-5)


def test_nearest_indices_follow_tf_align_corners_rounding():
    for n_in, n_out in [(5, 10), (7, 3), (64, 128), (3, 7), (10, 4)]:
        scale = np.float32((n_in - 1) / (n_out - 1))
        expected = [min(int(np.floor(np.float32(i) * scale + np.float32(0.5))), n_in - 1) for i in range(n_out)]
        assert nearest_indices(n_in, n_out).tolist() == expected


def test_nearest_2x_is_pixel_repetition_and_general_ratio_uses_the_index_rule():
    x = torch.arange(2 * 5 * 6, dtype=torch.float32).reshape(1, 2, 5, 6)
    assert torch.equal(resize(x, (10, 12), "nearest"), x.repeat_interleave(2, -2).repeat_interleave(2, -1))
    y = resize(x, (7, 4), "nearest")
    assert torch.equal(y, x[:, :, nearest_indices(5, 7)][:, :, :, nearest_indices(6, 4)])


def test_bilinear_align_corners_keeps_the_corners():
    x = torch.randn(1, 3, 4, 5)
    y = resize(x, (16, 20), "bilinear")
    assert torch.allclose(y[..., 0, 0], x[..., 0, 0]) and torch.allclose(y[..., -1, -1], x[..., -1, -1])


def test_input_is_hole_zeroed_bgr_ones_mask():
    image = torch.rand(1, 3, 8, 8) * 2 - 1
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 2:5, 2:5] = 1
    x = tf_input(image, mask)
    assert x.shape[1] == 5
    assert torch.equal(x[:, :3], image * (1 - mask)) and torch.all(x[:, 3] == 1) and torch.equal(x[:, 4:], mask)


def test_forward_shape_range_and_gradients():
    net = GMCNNTF(GMCNNTFConfig(cnum=4))
    image = torch.rand(2, 3, 32, 40) * 2 - 1
    mask = (torch.rand(2, 1, 32, 40) > 0.7).float()
    out = net(image, mask)
    assert out.shape == (2, 3, 32, 40) and out.abs().max() <= 1
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_size_contract_error():
    net = GMCNNTF(GMCNNTFConfig(cnum=4))
    with pytest.raises(ValueError, match="multiples of 4"):
        net(torch.zeros(1, 3, 30, 32), torch.zeros(1, 1, 30, 32))


def test_config_round_trip_and_unknown_keys():
    cfg = GMCNNTFConfig(cnum=64)
    assert GMCNNTFConfig.from_dict(cfg.to_dict()) == cfg
    assert GMCNNTFConfig.from_dict({"cnum": 8, "architecture": "gmcnn_tf"}).cnum == 8
    with pytest.raises(ValueError, match="unknown"):
        GMCNNTFConfig.from_dict({"cnum": 8, "pad_mode": "zeros"})
    with pytest.raises(ValueError, match="architecture"):
        GMCNNTFConfig.from_dict({"cnum": 8, "architecture": "gmcnn"})
