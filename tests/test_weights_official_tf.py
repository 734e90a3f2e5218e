"""TF checkpoints -> GMCNNTF: matches TensorFlow's own output on the committed fixture (no TensorFlow needed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from tf_bundle_writer import write_bundle

from gmcnn import Inpainter
from gmcnn.cli import main
from gmcnn.errors import UserError
from gmcnn.models.gmcnn_tf import GMCNNTF, GMCNNTFConfig, tf_variable_name
from gmcnn.weights.format import load_generator
from gmcnn.weights.official_tf import is_tf_checkpoint, load_official_tf

FIXTURE = Path(__file__).parent / "fixtures" / "tf_cnum4"


def _fixture_io() -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    image = torch.from_numpy(np.load(FIXTURE / "image.npy")).permute(0, 3, 1, 2)  # NHWC BGR -> NCHW
    mask = torch.from_numpy(np.load(FIXTURE / "mask.npy")).permute(0, 3, 1, 2)
    return image, mask, np.load(FIXTURE / "output.npy")


def test_converted_fixture_matches_tensorflow_output():
    generator, info = load_official_tf(FIXTURE)
    assert generator.config.cnum == 4 and info["ignored"] == 2  # critic kernel + an Adam slot skipped
    image, mask, reference = _fixture_io()
    with torch.no_grad():
        ours = generator(image, mask).permute(0, 2, 3, 1).numpy()
    assert reference.std() > 0.01  # TF's output is not a constant a broken model could match
    assert np.abs(ours - reference).max() < 1e-4


def test_parameter_count_equals_the_tf_graph_count():
    meta = json.loads((FIXTURE / "reference.json").read_text())
    generator, _ = load_official_tf(FIXTURE)
    assert sum(p.numel() for p in generator.parameters()) == meta["parameters"]


def test_checkpoint_of_another_network_lists_missing_variables(tmp_path):
    # Only the first kernel of the generator plus a foreign layer: every other generator variable is missing.
    write_bundle(tmp_path / "snap-3", {"inpaint_net/b1conv1/kernel": np.zeros((7, 7, 5, 8)), "other/w": np.ones(2)})
    with pytest.raises(UserError) as err:
        load_official_tf(tmp_path)
    text = str(err.value)
    assert "87 of its variables are missing" in text
    assert "inpaint_net/b1conv1/bias" in text and "inpaint_net/mergeconv18/kernel" in text


def test_a_foreign_checkpoint_names_its_scopes(tmp_path):
    write_bundle(tmp_path / "model-1", {"generator/conv1/kernel": np.zeros((3, 3, 4, 8))})
    with pytest.raises(UserError, match="no variable 'inpaint_net/b1conv1/kernel'.*generator"):
        load_official_tf(tmp_path / "model-1")


def test_wrong_input_channels_are_refused(tmp_path):
    write_bundle(tmp_path / "snap-1", {"inpaint_net/b1conv1/kernel": np.zeros((7, 7, 4, 32))})
    with pytest.raises(UserError, match=r"expected \(7, 7, 5, cnum\)"):
        load_official_tf(tmp_path)


def test_written_bundle_round_trips_weights_hwio_to_oihw(tmp_path):
    torch.manual_seed(0)
    net = GMCNNTF(GMCNNTFConfig(cnum=4))
    tensors = {}
    for key, value in net.state_dict().items():
        v = value.numpy()
        tensors[tf_variable_name(key, net.config)] = v.transpose(2, 3, 1, 0) if v.ndim == 4 else v
    write_bundle(tmp_path / "snap-0", tensors)
    loaded, _ = load_official_tf(tmp_path)
    for key, value in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_is_tf_checkpoint():
    assert is_tf_checkpoint(FIXTURE) and is_tf_checkpoint(FIXTURE / "snap-0")
    assert is_tf_checkpoint(FIXTURE / "snap-0.index")
    assert not is_tf_checkpoint(FIXTURE / "image.npy")


def test_convert_cli_and_reload_export(tmp_path, capsys):
    assert main(["convert", str(FIXTURE), str(tmp_path / "out")]) == 0
    generator, meta = load_generator(tmp_path / "out")
    assert isinstance(generator, GMCNNTF) and meta["architecture"] == "gmcnn_tf"
    assert meta["contract"]["channel_order"] == "BGR"
    assert "image_size" not in meta["training"]  # an unrecognised folder: nothing guessed
    image, mask, reference = _fixture_io()
    with torch.no_grad():
        ours = generator(image, mask).permute(0, 2, 3, 1).numpy()
    assert np.abs(ours - reference).max() < 1e-4


def test_release_folder_name_is_recognised(tmp_path):
    folder = tmp_path / "checkpoints" / "paris-streetview_256x256_rect"
    shutil.copytree(FIXTURE, folder)
    # The fixture is cnum 4, the Paris release cnum 32: the width must match too, so no label is claimed.
    assert main(["convert", str(folder), str(tmp_path / "out")]) == 0
    _, meta = load_generator(tmp_path / "out")
    assert "release" not in meta["training"]


def test_inpainter_feeds_bgr_and_returns_rgb():
    image, mask, reference = _fixture_io()
    inpainter = Inpainter.from_pretrained(str(FIXTURE), device="cpu", runtime="eager", precision="fp32")
    assert inpainter.contract.channel_order == "BGR"
    rgb_uint8 = np.round((image[0].flip(0).permute(1, 2, 0).numpy() + 1) * 127.5).astype(np.uint8)
    hole = mask[0, 0].numpy() > 0.5
    out = inpainter(rgb_uint8, hole, strategy="original")  # detail 0 by default: the official code's fill
    assert np.array_equal(out[~hole], rgb_uint8[~hole])  # known pixels untouched
    expected = np.round((np.clip(reference[0][..., ::-1], -1, 1) + 1) * 127.5)  # TF's BGR output, flipped to RGB
    # Inputs were quantised to 8 bits here, so allow a couple of levels.
    assert np.abs(out[hole].astype(float) - expected[hole]).max() <= 3
