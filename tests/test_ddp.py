"""Two real torchrun processes (gloo, CPU) train the tiny preset through both stages with identical G and D."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from gmcnn.models.vgg import VGG19Features
from gmcnn.training.distributed import weights_digest
from gmcnn.training.state import latest_checkpoint, list_checkpoints, load_checkpoint


@pytest.mark.slow
@pytest.mark.parametrize(
    ("critic_calls", "sn_order"),
    [("concat", "torch"), ("separate", "official")],  # our default D step; the official_pytorch one
)
def test_two_ranks_hold_identical_weights(tmp_path: Path, critic_calls: str, sn_order: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (48, 56, 3), dtype=np.uint8)).save(data / f"{i}.png")
    vgg = tmp_path / "vgg.safetensors"
    torch.manual_seed(0)
    save_file({k: v.contiguous() for k, v in VGG19Features().state_dict().items()}, str(vgg))
    run = tmp_path / "run"
    # Spectral norm on: its `u` buffers are what the DDP+GAN trap corrupts when the critic runs twice per backward
    # ("separate" runs it three times: fake, real, interpolates). DDP broadcasts rank 0's buffers before every call.
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "gmcnn", "train", "--data", str(data), "--run-dir", str(run), "--preset", "tiny",
           "--vgg-weights", str(vgg), "--set", "val_fraction=0.2", "--set", "spectral_norm=true",
           "--set", "max_steps=4", "--set", "checkpoint_every=2", "--set", f"critic_calls={critic_calls}",
           "--set", f"sn_order={sn_order}"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # Own session, so a hang (e.g. a collective one rank never reaches) kills torchrun *and* both ranks.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)  # fmt: skip
    try:
        output, _ = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail("torchrun timed out:\n" + output[-3000:])
    assert proc.returncode == 0, output[-3000:]
    assert [s for s, _ in list_checkpoints(run)] == [2, 4]
    state = load_checkpoint(latest_checkpoint(run))
    assert state["stage"] == "finetune" and len(state["rng"]) == 2
    digests = state["rank_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]
    # The digest is of the saved weights, and the critic really trained (weights moved from the seed's init).
    from gmcnn.models.discriminator import Discriminator
    from gmcnn.models.gmcnn import GMCNN, GMCNNConfig

    g = GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros"))
    g.load_state_dict(state["generator"])
    d = Discriminator(image_size=32, width=4, local="crop", spectral_norm=True, sn_order=sn_order)
    d.load_state_dict(state["critic"])
    assert weights_digest(g, d) == digests[0]
    assert state["opt_critic"]["state"]
