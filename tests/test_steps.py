"""The pure step functions: every parameter gets a gradient, bf16 stays close, the two ways of calling the critics."""

from __future__ import annotations

import pytest
import torch

from gmcnn.models.vgg import VGG19Features
from gmcnn.training import steps
from gmcnn.training.config import resolve_config


@pytest.mark.parametrize("gan_loss", ["wgan_gp", "hinge"])
def test_every_parameter_gets_a_gradient_in_the_steps(gan_loss: str) -> None:
    from gmcnn.data.datasets import Sample
    from gmcnn.models.discriminator import Discriminator
    from gmcnn.models.gmcnn import GMCNN, GMCNNConfig

    torch.manual_seed(0)
    cfg = resolve_config("tiny", {"gan_loss": gan_loss, "spectral_norm": str(gan_loss == "hinge")})
    g = GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros"))
    d = Discriminator(image_size=32, width=4, local="crop", spectral_norm=cfg.spectral_norm)
    vgg = VGG19Features()
    image = torch.rand(2, 3, 32, 32) * 2 - 1
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 8:24, 4:20] = 1
    batch = Sample(image, mask, torch.tensor([[8, 4, 16, 16]] * 2))

    loss, logs = steps.generator_step(g, batch, cfg, critic=d, vgg=vgg)
    loss.backward()
    assert {"hole_l1", "known_l1", "idmrf", "g_adv", "g_loss"} <= set(logs)
    for name, p in g.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert all(p.grad is None for p in d.parameters()) and all(p.requires_grad for p in d.parameters())
    assert all(p.grad is None for p in vgg.parameters())

    g.zero_grad(set_to_none=True)
    loss, logs = steps.discriminator_step(d, g, batch, cfg)
    loss.backward()
    assert ("gp" in logs) == (gan_loss == "wgan_gp")
    for name, p in d.named_parameters():
        assert p.grad is not None, name
        if name.endswith("linear.bias"):
            # The output bias cancels between real and fake: d/db = -1 + 1 = 0 for WGAN always, and for hinge
            # while all scores are inside the margin (as at initialisation).
            continue
        assert p.grad.abs().sum() > 0, name
    assert all(p.grad is None for p in g.parameters())  # the generator runs without gradients here


def test_bf16_autocast_step_runs_and_stays_close_to_fp32() -> None:
    from gmcnn.data.datasets import Sample
    from gmcnn.models.gmcnn import GMCNN, GMCNNConfig

    torch.manual_seed(0)
    g = GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros"))
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    batch = Sample(torch.rand(2, 3, 32, 32) * 2 - 1, mask, torch.tensor([[8, 8, 16, 16]] * 2))
    fp32, _ = steps.generator_step(g, batch, resolve_config("tiny", {}))
    bf16, _ = steps.generator_step(g, batch, resolve_config("tiny", {"bf16": "true"}))
    assert bf16.dtype == torch.float32
    assert abs(bf16.item() - fp32.item()) < 0.02 * fp32.item()


def test_separate_critic_calls_score_like_one_call_without_spectral_norm() -> None:
    """Without state in the critic, the official call order changes nothing: same scores, same D loss."""
    from gmcnn.data.datasets import Sample
    from gmcnn.models.discriminator import Discriminator
    from gmcnn.models.gmcnn import GMCNN, GMCNNConfig

    torch.manual_seed(0)
    g = GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros"))
    d = Discriminator(image_size=32, width=4, local="crop")
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    batch = Sample(torch.rand(2, 3, 32, 32) * 2 - 1, mask, torch.tensor([[8, 8, 16, 16]] * 2))
    parts = [batch.image, batch.image.flip(-1), batch.image.flip(-2)]
    one = steps.critic_scores(d, parts, batch.mask, batch.bbox, calls="concat")
    each = steps.critic_scores(d, parts, batch.mask, batch.bbox, calls="separate")
    for (ga, la), (gb, lb) in zip(one, each, strict=True):
        torch.testing.assert_close(ga, gb, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(la, lb, rtol=1e-5, atol=1e-5)
    cfg = resolve_config("tiny", {"gan_loss": "hinge"})
    a, _ = steps.discriminator_step(d, g, batch, cfg)
    b, _ = steps.discriminator_step(d, g, batch, cfg.updated(critic_calls="separate"))
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_separate_critic_calls_run_fake_then_real() -> None:
    seen = []

    class Recorder(torch.nn.Module):
        def forward(self, image, mask, bbox):  # type: ignore[no-untyped-def]
            seen.append(float(image.mean()))
            return image.mean(dim=(1, 2, 3)), image.mean(dim=(1, 2, 3))

    real, fake, interp = (torch.full((2, 3, 4, 4), v) for v in (1.0, -1.0, 0.5))
    mask, bbox = torch.ones(2, 1, 4, 4), torch.zeros(2, 4, dtype=torch.long)
    scores = steps.critic_scores(Recorder(), [real, fake, interp], mask, bbox, calls="separate")
    assert seen == [-1.0, 1.0, 0.5]  # the official forward_D order
    assert [float(s[0][0]) for s in scores] == [1.0, -1.0, 0.5]  # returned in the parts' order
    seen.clear()
    steps.critic_scores(Recorder(), [real, fake], mask, bbox, calls="concat")
    assert len(seen) == 1
