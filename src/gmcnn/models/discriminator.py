"""Critics for the adversarial fine-tuning stage: a global critic plus a local one.

* :class:`GlobalCritic` — the official PyTorch form: 4 x [conv 5x5 stride 2 pad 2, ELU] with widths
  d, 2d, 4d, 4d, flatten, Linear -> one score per image. It sees the whole composited image.
* :class:`LocalCropCritic` — the same stack on the hole's bounding box, cropped and resized to a fixed size
  (a no-op resize for the paper's 128x128 boxes in 256x256 images). For rectangle masks.
* :class:`PatchCritic` — for free-form masks (the official PyTorch code just used a second global critic
  there): the TF release's mask-weighted patch critic, 4 x [conv 5x5 s2, ELU] with widths d..8d and a 5x5 s2
  conv to one channel; the score is ``sum(map * m) / sum(m)`` with ``m`` the mask area-pooled to the map's size,
  so only patches that overlap the hole count. It also sees the mask as a fourth input channel.

:class:`Discriminator` holds both critics. A critic update calls it once on the concatenation of real, fake (and
interpolated) images, or once per batch in the official order (``TrainConfig.critic_calls``); several calls
before one backward are safe because both spectral-norm forms keep the ``u`` a backward needs valid (torch's
clones it, :class:`OfficialSpectralNorm` writes through ``.data`` as the official code does), and DDP's buffer
broadcast writes the same way. Images are ``(B, 3, H, W)`` in [-1, 1], masks ``(B, 1, H, W)`` 1 = hole,
bboxes int64 ``(B, 4)`` = (top, left, height, width).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm


def crop_boxes(images: torch.Tensor, bboxes: torch.Tensor, size: int) -> torch.Tensor:
    """Crop each image's box and resize it to ``size x size`` (bilinear; differentiable w.r.t. ``images``).

    Args:
        images: ``(B, C, H, W)``.
        bboxes: ``(B, 4)`` int (top, left, height, width).
        size: output side.

    Returns:
        ``(B, C, size, size)``.
    """
    crops = []
    for image, (top, left, h, w) in zip(images, bboxes.tolist(), strict=True):
        crop = image[None, :, top : top + h, left : left + w]
        if crop.shape[-2:] != (size, size):
            crop = F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False)
        crops.append(crop)
    return torch.cat(crops)


def _conv_stack(in_channels: int, widths: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Conv2d(in_channels, width, 5, stride=2, padding=2), nn.ELU()]
        in_channels = width
    return nn.Sequential(*layers)


class GlobalCritic(nn.Module):
    """4 strided 5x5 convs (d, 2d, 4d, 4d) + Linear -> ``(B,)`` scores, for ``size x size`` inputs."""

    def __init__(self, *, size: int, width: int = 64, in_channels: int = 3) -> None:
        super().__init__()
        if size % 16:
            raise ValueError(f"critic input size must be a multiple of 16, got {size}")
        self.size = size
        self.features = _conv_stack(in_channels, [width, 2 * width, 4 * width, 4 * width])
        self.linear = nn.Linear(4 * width * (size // 16) ** 2, 1)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, bbox: torch.Tensor) -> torch.Tensor:
        x = self.features(image)  # (B, 4d, S/16, S/16)
        return self.linear(x.flatten(1)).squeeze(1)  # (B,)


class LocalCropCritic(GlobalCritic):
    """:class:`GlobalCritic` applied to the hole's bbox crop resized to ``size x size``."""

    def forward(self, image: torch.Tensor, mask: torch.Tensor, bbox: torch.Tensor) -> torch.Tensor:
        return super().forward(crop_boxes(image, bbox, self.size), mask, bbox)


class PatchCritic(nn.Module):
    """Mask-weighted patch critic (TF release, free-form masks): mean patch score over patches in the hole."""

    def __init__(self, *, width: int = 64) -> None:
        super().__init__()
        self.features = _conv_stack(4, [width, 2 * width, 4 * width, 8 * width])
        self.out = nn.Conv2d(8 * width, 1, 5, stride=2, padding=2)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, bbox: torch.Tensor) -> torch.Tensor:
        scores = self.out(self.features(torch.cat([image, mask], dim=1)))  # (B, 1, H/32, W/32)
        weight = F.adaptive_avg_pool2d(mask, scores.shape[-2:])  # hole fraction of each patch's cell
        return (scores * weight).sum(dim=(1, 2, 3)) / weight.sum(dim=(1, 2, 3)).clamp_min(1e-6)  # (B,)


# Local critic kinds by config name (``TrainConfig.local_critic``).
LOCAL_CRITICS = {"crop": LocalCropCritic, "patch": PatchCritic}


SN_ORDERS = ("torch", "official")


def _l2normalize(v: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    return v / (v.norm() + eps)


class OfficialSpectralNorm(nn.Module):
    """Spectral norm with the official PyTorch release's power iteration (a ``parametrize`` parametrization).

    Per training forward: ``v = normalize(W^T u)`` first, then ``u = normalize(W v)``; ``sigma = u . W v``; the
    weight used is ``W / sigma``. ``torch.nn.utils.parametrizations.spectral_norm`` runs the opposite order
    (``u`` from ``v`` first) and 15 warm-up iterations at creation, which moves critic scores by about 1e-2 after
    one step. ``u`` and ``v`` start as normalised N(0, 1) vectors, as in the official code.

    The official code writes them with ``u.data = ...``, which autograd does not see: the backward of every call
    made since then uses the *latest* ``u`` and ``v``. We write through ``.data`` too, for the same gradients when
    the critic runs twice before one backward (``TrainConfig.critic_calls = "separate"``, the official D step);
    an ordinary in-place write would make that backward fail on a modified saved tensor.
    """

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        rows = weight.shape[0]
        cols = weight.numel() // rows
        self.register_buffer("u", _l2normalize(weight.new_empty(rows).normal_(0, 1)))
        self.register_buffer("v", _l2normalize(weight.new_empty(cols).normal_(0, 1)))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        mat = weight.flatten(1)
        u, v = self.get_buffer("u"), self.get_buffer("v")
        if self.training:
            with torch.no_grad():
                v.data.copy_(_l2normalize(mat.t().mv(u)))
                u.data.copy_(_l2normalize(mat.mv(v)))
        sigma = torch.dot(u, mat.mv(v))
        return weight / sigma


class Discriminator(nn.Module):
    """Global + local critic; ``forward`` returns both score vectors.

    Args:
        image_size: training image side (the global critic's Linear depends on it).
        width: base width ``d`` (64 in the paper).
        local: ``"crop"`` (bbox crop, rect masks) or ``"patch"`` (mask-weighted, free-form masks).
        local_size: side the bbox crop is resized to (``image_size // 2`` = the paper's 128 at 256).
        spectral_norm: wrap every conv/linear weight in spectral normalisation (with the hinge loss).
        sn_order: ``"torch"`` (PyTorch's parametrization) or ``"official"`` (the official release's power
            iteration order, :class:`OfficialSpectralNorm`).
    """

    def __init__(
        self,
        *,
        image_size: int,
        width: int = 64,
        local: str = "crop",
        local_size: int | None = None,
        spectral_norm: bool = False,
        sn_order: str = "torch",
    ) -> None:
        super().__init__()
        if sn_order not in SN_ORDERS:
            raise ValueError(f"unknown spectral norm order {sn_order!r}; valid ones are {list(SN_ORDERS)}")
        if local not in LOCAL_CRITICS:
            raise ValueError(f"unknown local critic {local!r}; valid kinds are {sorted(LOCAL_CRITICS)}")
        self.global_critic = GlobalCritic(size=image_size, width=width)
        if local == "crop":
            self.local_critic: nn.Module = LocalCropCritic(size=local_size or image_size // 2, width=width)
        else:
            self.local_critic = PatchCritic(width=width)
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        if spectral_norm:
            for m in list(self.modules()):
                if not isinstance(m, nn.Conv2d | nn.Linear):
                    continue
                if sn_order == "official":
                    parametrize.register_parametrization(m, "weight", OfficialSpectralNorm(m.weight))
                else:
                    _spectral_norm(m)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, bbox: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores ``(global (B,), local (B,))`` of composited (or real) images."""
        return self.global_critic(image, mask, bbox), self.local_critic(image, mask, bbox)


__all__ = [
    "LOCAL_CRITICS",
    "SN_ORDERS",
    "Discriminator",
    "OfficialSpectralNorm",
    "GlobalCritic",
    "LocalCropCritic",
    "PatchCritic",
    "crop_boxes",
]
