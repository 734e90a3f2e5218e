"""The official-release switches of the ID-MRF loss, the VGG input and spectral norm, against re-statements of the
official formulas (``shepnerd/inpainting_gmcnn`` pytorch/model/loss.py and layer.py)."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from gmcnn.losses.idmrf import IDMRF_TAPS, mrf_layer_loss
from gmcnn.models.discriminator import Discriminator, OfficialSpectralNorm
from gmcnn.models.vgg import TAPS, VGG19Features
from gmcnn.training.config import resolve_config


def _official_pytorch_mrf(gen: torch.Tensor, tar: torch.Tensor) -> torch.Tensor:
    """Official IDMRFLoss.mrf_loss re-stated: centre on the mean over channels, cosine via 1x1 conv with the
    target's patches, relative distance over targets, exp((1 - d)/0.5), normalise over targets, max over the
    generated map, mean over targets, -log, **sum** over the batch."""
    mean = tar.mean(dim=1, keepdim=True)
    g, t = gen - mean, tar - mean
    g = g / g.norm(dim=1, keepdim=True)
    t = t / t.norm(dim=1, keepdim=True)
    total = torch.zeros(())
    for i in range(gen.shape[0]):
        patches = t[i].flatten(1).t()[:, :, None, None]  # (N_target, C, 1, 1)
        cos = F.conv2d(g[i : i + 1], patches)  # (1, N_target, H, W)
        d = -(cos - 1) / 2
        rel = d / (d.min(dim=1, keepdim=True).values + 1e-5)
        w = torch.exp((1.0 - rel) / 0.5)
        cx = w / w.sum(dim=1, keepdim=True)
        best = cx.flatten(2).max(dim=2).values  # (1, N_target)
        total = total - torch.log(best.mean(dim=1)).sum()
    return total


def test_official_pytorch_idmrf_switches_match_its_formula():
    g = torch.Generator().manual_seed(0)
    gen, tar = torch.rand(3, 16, 6, 7, generator=g), torch.rand(3, 16, 6, 7, generator=g)
    ours = mrf_layer_loss(gen, tar, centre="location", reduction="sum")
    torch.testing.assert_close(ours, _official_pytorch_mrf(gen, tar), rtol=1e-5, atol=1e-5)
    assert (mrf_layer_loss(gen, tar) - ours).abs() > 1e-3  # the paper defaults really differ


def test_batch_centring_uses_one_mean_for_the_batch():
    g = torch.Generator().manual_seed(1)
    gen, tar = torch.rand(2, 8, 5, 5, generator=g), torch.rand(2, 8, 5, 5, generator=g)
    shifted = tar.clone()
    shifted[1] += 3.0  # moves the per-sample mean of sample 1 only
    a = mrf_layer_loss(gen, tar, centre="target")
    b = mrf_layer_loss(gen + torch.tensor([0.0, 3.0]).view(2, 1, 1, 1), shifted, centre="target")
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)  # per-sample centring absorbs the shift
    c = mrf_layer_loss(gen + torch.tensor([0.0, 3.0]).view(2, 1, 1, 1), shifted, centre="batch")
    assert (a - c).abs() > 1e-3  # a batch-wide mean does not


def test_official_pytorch_taps_are_features_11_and_20():
    assert TAPS["relu3_1"] == 11 and TAPS["relu4_1"] == 20
    assert TAPS["relu3_2"] == 13 and TAPS["relu4_2"] == 22
    assert set(IDMRF_TAPS["official_pytorch"]) == {"relu3_1", "relu4_1"}
    vgg = VGG19Features(("relu3_1", "relu4_1"))
    assert isinstance(vgg.features[11], nn.ReLU) and isinstance(vgg.features[20], nn.ReLU)
    assert isinstance(vgg.features[10], nn.Conv2d) and vgg.features[10].out_channels == 256


def test_vgg_input_norms():
    torch.manual_seed(0)
    image = torch.rand(1, 3, 16, 16) * 2 - 1
    seen = {}
    for norm in ("mean_std", "mean", "mean255"):
        vgg = VGG19Features(("relu3_1",), input_norm=norm)
        hook = vgg.features[0].register_forward_hook(lambda _m, inp, _o, n=norm: seen.__setitem__(n, inp[0]))
        vgg(image)
        hook.remove()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x01 = (image + 1) / 2
    torch.testing.assert_close(seen["mean_std"], (x01 - mean) / std)
    torch.testing.assert_close(seen["mean"], x01 - mean)  # official PyTorch: no division by the std
    torch.testing.assert_close(seen["mean255"], (image + 1) * 127.5 - mean * 255)  # TF: [0, 255] minus the mean


def test_official_spectral_norm_power_iteration_order():
    torch.manual_seed(0)
    lin = nn.Linear(6, 4)
    w = lin.weight.detach().clone()
    sn = OfficialSpectralNorm(lin.weight)
    u0, v0 = sn.u.clone(), sn.v.clone()
    # Official SpectralNorm._update_u_v: v = l2n(W^T u), then u = l2n(W v); sigma = u . (W v).
    v = w.t().mv(u0)
    v = v / (v.norm() + 1e-12)
    u = w.mv(v)
    u = u / (u.norm() + 1e-12)
    torch.testing.assert_close(sn(w), w / torch.dot(u, w.mv(v)))
    # torch's order (u from v first) gives another sigma from the same start.
    u_t = w.mv(v0)
    u_t = u_t / u_t.norm()
    v_t = w.t().mv(u_t)
    v_t = v_t / v_t.norm()
    assert abs(torch.dot(u_t, w.mv(v_t)) - torch.dot(u, w.mv(v))) > 1e-6


def test_discriminator_uses_the_official_parametrization_when_asked():
    critic = Discriminator(image_size=64, width=8, spectral_norm=True, sn_order="official")
    kinds = {
        type(p).__name__ for m in critic.modules() if hasattr(m, "parametrizations") for p in m.parametrizations.weight
    }
    assert kinds == {"OfficialSpectralNorm"}
    image, mask = torch.zeros(2, 3, 64, 64), torch.zeros(2, 1, 64, 64)
    scores = critic(image, mask, torch.tensor([[16, 16, 32, 32]] * 2))
    assert scores[0].shape == (2,)


def test_official_presets_resolve_with_their_switches():
    pt = resolve_config("official_pytorch", {})
    assert (pt.conf_kernel, pt.conf_size, pt.conf_padding) == ("official", 65, "reflect")
    assert (pt.idmrf_taps, pt.idmrf_centre, pt.idmrf_reduction, pt.vgg_input) == (
        "official_pytorch",
        "location",
        "sum",
        "mean",
    )
    assert pt.gan_loss == "hinge" and pt.spectral_norm and pt.sn_order == "official"
    tf = resolve_config("official_tf", {})
    assert (tf.conf_kernel, tf.conf_size, tf.conf_padding) == ("official", 64, "zeros")
    assert tf.gan_loss == "wgan_gp" and not tf.spectral_norm and tf.idmrf_centre == "batch"


def test_every_release_has_a_preset_matching_its_contract():
    from gmcnn.weights.registry import releases as official_releases

    releases = official_releases()
    assert len(releases) == 6 and sum(e.architecture == "gmcnn_tf" for e in releases) == 5
    for entry in releases:
        cfg = resolve_config(entry.preset, {"max_steps": 10, "pretrain_steps": 5})
        assert entry.contract is not None
        assert cfg.cnum == entry.cnum, entry.name
        assert cfg.mask_type == entry.contract.mask_type, entry.name
        assert cfg.image_size == entry.contract.trained_size, entry.name
        expected_gan = "wgan_gp" if entry.architecture == "gmcnn_tf" else "hinge"
        assert cfg.gan_loss == expected_gan, entry.name
        # The official PyTorch D step calls the critics on fake, then real; TF's stateless critics need no such care.
        assert cfg.critic_calls == ("concat" if entry.architecture == "gmcnn_tf" else "separate"), entry.name
        assert entry.contract.channel_order == ("BGR" if entry.architecture == "gmcnn_tf" else "RGB")
        # What `gmcnn models` lists is what a fill uses: the network's own fill, as the official code returns it.
        assert entry.contract.detail == 0.0, entry.name


def _l2n(t: torch.Tensor) -> torch.Tensor:
    return t / (t.norm() + 1e-12)


class _OfficialCritic:
    """One official PyTorch ``Discriminator`` with its ``SpectralNorm`` wrapper, re-stated on plain tensors.

    Per layer: a raw weight ``w_bar`` and vectors ``u``, ``v`` that each call first updates with ``.data =``
    (``v = l2n(W^T u)``, then ``u = l2n(W v)``; autograd does not see these writes, so a backward uses the latest
    ones), then the weight ``w_bar / (u . W v)``. Layers: 4 x [conv 5x5 stride 2 pad 2, ELU], flatten, Linear.
    Built from one of our critics' weights and ``u``/``v``.
    """

    def __init__(self, critic: nn.Module) -> None:
        self.layers = []
        for m in critic.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                sn = m.parametrizations.weight[0]
                w_bar = m.parametrizations.weight.original.detach().clone().requires_grad_(True)
                u = nn.Parameter(sn.u.detach().clone(), requires_grad=False)
                v = nn.Parameter(sn.v.detach().clone(), requires_grad=False)
                bias = m.bias.detach().clone().requires_grad_(True)
                self.layers.append((isinstance(m, nn.Conv2d), w_bar, u, v, bias))

    def parameters(self) -> list[torch.Tensor]:
        return [t for _, w, _, _, b in self.layers for t in (w, b)]

    def us(self) -> list[torch.Tensor]:
        return [u.detach() for _, _, u, _, _ in self.layers]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for conv, w_bar, u, v, bias in self.layers:
            mat = w_bar.view(w_bar.shape[0], -1)
            v.data = _l2n(mat.data.t().mv(u.data))
            u.data = _l2n(mat.data.mv(v.data))
            weight = w_bar / u.dot(mat.mv(v))
            if conv:
                x = F.elu(F.conv2d(x, weight, bias, stride=2, padding=2))
            else:
                x = F.linear(x.flatten(1), weight, bias)
        return x


def _official_d_step_setup(calls: str):
    """Our official_pytorch critic (seeded) with a tiny generator and one rect batch, and the re-statement."""
    from gmcnn.data.datasets import Sample
    from gmcnn.models.gmcnn import GMCNN, GMCNNConfig

    cfg = resolve_config(
        "official_pytorch",
        {"image_size": 32, "cnum": 4, "d_cnum": 4, "pad_mode": "zeros", "conf_size": 9, "critic_calls": calls},
    )
    torch.manual_seed(0)
    generator = GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros"))
    critic = Discriminator(image_size=32, width=4, local="crop", spectral_norm=True, sn_order="official")
    image = torch.rand(2, 3, 32, 32) * 2 - 1
    mask = torch.zeros(2, 1, 32, 32)
    mask[:, :, 8:24, 4:20] = 1
    batch = Sample(image, mask, torch.tensor([[8, 4, 16, 16]] * 2))  # the local crop is 16 = image_size // 2
    return cfg, generator, critic, batch


def _run_official_d_steps(critic: Discriminator, generator: nn.Module, batch, lr: float, rounds: int):
    """The official ``optimize_parameters`` critic part re-stated: per round one D update (``forward_D``: the
    critics on the completed image, then on the ground truth; hinge loss; Adam betas 0.5/0.9), then the
    adversarial term of ``forward_G`` (one more call). Returns the D losses, the G terms and the final ``u``s."""
    glob, loc = _OfficialCritic(critic.global_critic), _OfficialCritic(critic.local_critic)
    opt = torch.optim.Adam(glob.parameters() + loc.parameters(), lr=lr, betas=(0.5, 0.9))
    image, mask, _ = batch
    completed = (generator(image, mask) * mask + image * (1 - mask)).detach()

    def local(x: torch.Tensor) -> torch.Tensor:
        return x[:, :, 8:24, 4:20]

    d_losses, g_terms = [], []
    for _ in range(rounds):
        opt.zero_grad()
        fake_g, fake_l = glob(completed), loc(local(completed))
        real_g, real_l = glob(image), loc(local(image))
        d_loss = F.relu(1 - real_l).mean() + F.relu(1 + fake_l).mean() + F.relu(1 - real_g).mean()
        d_loss = d_loss + F.relu(1 + fake_g).mean()
        d_loss.backward()
        opt.step()
        d_losses.append(d_loss.item())
        g_terms.append((-glob(completed).mean() - loc(local(completed)).mean()).item())
    return d_losses, g_terms, glob.us() + loc.us()


def _run_our_d_steps(cfg, critic: Discriminator, generator: nn.Module, batch, rounds: int):
    from gmcnn.training.steps import discriminator_step, generator_step

    opt = torch.optim.Adam(critic.parameters(), lr=cfg.d_lr, betas=(cfg.beta1, cfg.beta2))
    d_losses, g_terms = [], []
    for _ in range(rounds):
        loss, logs = discriminator_step(critic, generator, batch, cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        d_losses.append(logs["d_loss"])
        g_terms.append(generator_step(generator, batch, cfg, critic=critic)[1]["g_adv"])
    us = [m.parametrizations.weight[0].u for c in (critic.global_critic, critic.local_critic)
          for m in c.modules() if isinstance(m, nn.Conv2d | nn.Linear)]  # fmt: skip
    return d_losses, g_terms, us


def test_separate_critic_calls_are_the_official_pytorch_d_step():
    cfg, generator, critic, batch = _official_d_step_setup("separate")
    assert resolve_config("official_pytorch", {}).critic_calls == "separate"
    official = _run_official_d_steps(copy.deepcopy(critic), generator, batch, lr=1e-3, rounds=3)
    ours = _run_our_d_steps(cfg.updated(d_lr=1e-3), critic, generator, batch, rounds=3)
    torch.testing.assert_close(torch.tensor(ours[0]), torch.tensor(official[0]), rtol=0, atol=1e-5)  # D losses
    torch.testing.assert_close(torch.tensor(ours[1]), torch.tensor(official[1]), rtol=0, atol=1e-5)  # G terms
    assert len(ours[2]) == len(official[2]) == 10
    for u_ours, u_official in zip(ours[2], official[2], strict=True):
        torch.testing.assert_close(u_ours, u_official, rtol=0, atol=1e-6)


def test_one_concatenated_critic_call_is_not_the_official_d_step():
    cfg, generator, critic, batch = _official_d_step_setup("concat")
    official = _run_official_d_steps(copy.deepcopy(critic), generator, batch, lr=1e-3, rounds=1)
    ours = _run_our_d_steps(cfg.updated(d_lr=1e-3), critic, generator, batch, rounds=1)
    assert abs(ours[0][0] - official[0][0]) > 1e-4  # one power iteration per update instead of two
