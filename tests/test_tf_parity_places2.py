"""The Places2 release fills at its own size like the official TensorFlow test pipeline (issue 22's bar).

``tests/fixtures/places2_parity/reference.png`` is what TensorFlow's official pipeline (``scripts/tf_reference.py
--photo``: ``tensorflow/test.py`` + ``GMCNNModel.evaluate``) made of ``photo.png`` (an official Places2 demo
photo, 512x680) and ``mask.png`` with a cnum-32 generator whose weights come from a seed
(``tests/helpers/release_weights.py``). The 50 MB checkpoint is not committed: the test writes it again from the
seed, in a folder named like the release, then fills the photo with gmcnn's default options (for an official
release: its own size, and ``detail=0``, the network's fill alone, as the official code returns it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import release_weights
from PIL import Image

from gmcnn import Inpainter
from gmcnn.weights.official_tf import load_official_tf

FIXTURE = Path(__file__).parent / "fixtures" / "places2_parity"
META = json.loads((FIXTURE / "reference.json").read_text())


def test_seeded_weights_regenerate_bit_for_bit() -> None:
    assert (META["seed"], META["gain"]) == (release_weights.SEED, release_weights.GAIN)
    variables = release_weights.generator_variables(32)
    assert len(variables) == 88
    weights = [(name, release_weights.value(name, shape)) for name, shape in variables]
    assert release_weights.digest(weights) == META["weights_sha256"]  # what TensorFlow's side used
    kernel = dict(weights)["inpaint_net/b1conv1/kernel"]
    limit = release_weights.GAIN * np.sqrt(6 / (7 * 7 * 5 + 7 * 7 * 32))
    assert 0.9 * limit < np.abs(kernel).max() <= limit  # Glorot-uniform scale times the gain
    assert (
        release_weights.value("x/kernel", (3, 3, 2, 2), seed=1).tobytes()
        != release_weights.value("x/kernel", (3, 3, 2, 2), seed=2).tobytes()
    )


@pytest.mark.slow
def test_places2_release_fills_a_512x680_photo_within_one_level_of_tensorflow(tmp_path: Path) -> None:
    folder = tmp_path / META["folder"]
    assert release_weights.write_release(str(folder)) == META["weights_sha256"]
    _, info = load_official_tf(folder)
    assert info["variables"] == 88 and info["ignored"] == 2  # the critic layer and the Adam slot are skipped
    inpainter = Inpainter.from_pretrained(folder, device="cpu", precision="fp32")
    assert inpainter.name == "official-places2-512x680-free"  # recognised by its folder name
    photo, mask = Image.open(FIXTURE / "photo.png"), Image.open(FIXTURE / "mask.png")
    result = inpainter.fill(photo, mask)  # the default options
    assert result.options.detail == 0  # an official release fills as the official code does: no completion stage
    assert (result.plan.strategy, result.plan.process_size) == ("original", 680)  # the release's own size

    ours = np.asarray(result.image).astype(int)
    reference = np.asarray(Image.open(FIXTURE / "reference.png")).astype(int)
    hole = np.asarray(mask) > 127
    assert ours.shape == reference.shape == (512, 680, 3)
    source = np.asarray(photo).astype(int)
    assert np.abs(reference - source)[hole].mean() > 40  # the reference fill is far from the photo: a real check
    assert np.abs(ours - reference).max() <= 1  # TF truncates to uint8, gmcnn rounds
    assert np.array_equal(ours[~hole], source[~hole])  # and known pixels stay exact
