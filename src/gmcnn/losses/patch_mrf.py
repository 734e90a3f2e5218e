"""An ID-MRF-style patch loss on features that need no pretrained network: image and gradient patches.

GMCNN's ID-MRF (:mod:`gmcnn.losses.idmrf`) compares VGG19 feature vectors of the fill with those of the truth by
a *relative* nearest-neighbour similarity (the contextual loss of Mechrez et al., ECCV 2018): every target patch
should find a close generated patch, and a generated patch that is "close to everything" (a blur) scores low
because the distance is divided by its nearest one. No VGG weights can be downloaded here, so the features are
raw ``k x k`` patches of

* the image (RGB), and
* its Sobel gradients (x and y of the luminance),

at two scales (full and half resolution), taken only where the patch's centre lies in the hole. A smooth colour
wash has near-zero gradient patches and flat image patches; the truth's hole has edges and texture, so its
patches find no near match among the wash's and the loss is high. Distortion losses (L2) reward exactly that
wash (Blau & Michaeli 2018); this term pulls the other way and is meant to be added to them at a small weight.

Per feature set and sample: locations ``N`` (hole centres, subsampled to ``max_locations``, the same indices for
fill and truth), patch vectors centred by the **truth's** mean patch and divided by ``sqrt(|v|^2 + tau^2)``
(a soft L2 normalisation: a flat patch maps to a short vector instead of an amplified noise direction, and the
gradient stays bounded by ``1 / tau``); cosine distance ``d = (1 - cos) / 2``, relative distance
``d / (min_target d + eps)``, ``w = exp((1 - d~) / h)`` normalised over targets, best generated match per target,
``-log`` of the mean. Pure functions; ``(B, C, H, W)`` tensors, images in [-1, 1], mask 1 = hole.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SCALES = (1, 2)  # full and half resolution
PATCH = 5  # patch side at each scale
TAU = 0.1  # soft-normalisation floor, in [-1, 1] image units over a whole patch vector
BANDWIDTH = 0.5  # h of the contextual weighting (the paper's ID-MRF value)


def sobel(image: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` RGB -> ``(B, 2, H, W)`` Sobel x and y of the luminance (replicate-padded)."""
    luma = (0.299 * image[:, :1] + 0.587 * image[:, 1:2] + 0.114 * image[:, 2:3]).float()
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=image.device) / 8.0
    kernels = torch.stack([kx, kx.t()])[:, None]  # (2, 1, 3, 3)
    return F.conv2d(F.pad(luma, (1, 1, 1, 1), mode="replicate"), kernels)


def feature_maps(image: torch.Tensor) -> list[torch.Tensor]:
    """Per scale: ``(B, 5, H_s, W_s)`` maps ``[RGB, Sobel x, Sobel y]`` (gradients x4, to about the RGB range)."""
    out = []
    for scale in SCALES:
        x = F.avg_pool2d(image, scale) if scale > 1 else image
        out.append(torch.cat([x.float(), sobel(x) * 4.0], dim=1))
    return out


def gather_patches(maps: torch.Tensor, index: torch.Tensor, *, patch: int = PATCH) -> torch.Tensor:
    """``(C, h, w)`` map, flat locations ``(N,)`` -> ``(C * patch^2, N)`` patch vectors (replicate-padded).

    Only the sampled locations are gathered: unfolding the whole map would be ``C * patch^2`` full-size planes.
    """
    c, h, w = maps.shape
    p = patch // 2
    padded = F.pad(maps[None], (p, p, p, p), mode="replicate")[0].flatten(1)  # (C, (h + 2p) * (w + 2p))
    rows, cols = index // w, index % w
    offsets = torch.arange(patch, device=maps.device)
    dy, dx = torch.meshgrid(offsets, offsets, indexing="ij")
    flat = (rows[None] + dy.reshape(-1, 1)) * (w + 2 * p) + cols[None] + dx.reshape(-1, 1)  # (patch^2, N)
    return padded[:, flat.flatten()].view(c * patch * patch, -1)


def contextual_loss(
    generated: torch.Tensor, target: torch.Tensor, *, tau: float = TAU, bandwidth: float = BANDWIDTH, eps: float = 1e-5
) -> torch.Tensor:
    """Contextual (ID-MRF) loss between two sets of patch vectors ``(D, N_gen)`` and ``(D, N_target)``; scalar.

    0 when every target vector has an exact copy among the generated ones.
    """
    mean = target.mean(dim=1, keepdim=True)  # (D, 1): centre both by the truth's mean patch

    def unit(v: torch.Tensor) -> torch.Tensor:
        v = v - mean
        return v / torch.sqrt((v * v).sum(dim=0, keepdim=True) + tau * tau)

    a, b = unit(target), unit(generated)
    # squared distance of the soft-normalised vectors / 4, in [0, 1]: exactly 0 for a patch and its copy
    dist = ((a * a).sum(0)[:, None] + (b * b).sum(0)[None] - 2.0 * a.t() @ b).clamp_min(0.0) / 4.0
    rel = dist / (dist.min(dim=0, keepdim=True).values + eps)  # relative to each generated patch's nearest target
    w = torch.exp((1.0 - rel) / bandwidth)
    cx = w / w.sum(dim=0, keepdim=True)  # normalised over targets
    best = cx.max(dim=1).values  # (N_target,): how well each target patch is represented
    return -torch.log(best.mean().clamp_min(1e-12))


def patch_mrf_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    *,
    max_locations: int = 512,
    patch: int = PATCH,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Mean over samples and scales of :func:`contextual_loss` between hole patches of ``pred`` and ``target``.

    Args:
        pred: ``(B, 3, H, W)`` the completed image (fill composited over the known pixels).
        target: ``(B, 3, H, W)`` the truth.
        mask: ``(B, 1, H, W)``, 1 = hole; a sample without hole pixels at some scale contributes nothing there.
        max_locations: at most this many hole locations per sample and scale (random, shared by both images):
            the pairwise matrix is ``N^2``.
        patch: patch side.
        generator: torch RNG for the subsampling (default: the global one).

    Returns:
        scalar loss (0 when ``pred`` equals ``target`` in the hole).
    """
    terms = []
    for scale, fp, ft in zip(SCALES, feature_maps(pred), feature_maps(target), strict=True):
        hole = (F.avg_pool2d(mask.float(), scale) if scale > 1 else mask.float()) > 0.5  # (B, 1, H_s, W_s)
        for b in range(pred.shape[0]):
            idx = hole[b, 0].flatten().nonzero()[:, 0]
            if idx.numel() < 2:
                continue
            if idx.numel() > max_locations:
                pick = torch.randperm(idx.numel(), generator=generator, device="cpu")[:max_locations]
                idx = idx[pick.to(idx.device)]
            terms.append(contextual_loss(gather_patches(fp[b], idx, patch=patch),
                                         gather_patches(ft[b], idx, patch=patch)))  # fmt: skip
    if not terms:
        return pred.sum() * 0.0  # keeps the graph (and the device) when no sample has a hole
    return torch.stack(terms).mean()


__all__ = [
    "BANDWIDTH",
    "PATCH",
    "SCALES",
    "TAU",
    "contextual_loss",
    "feature_maps",
    "gather_patches",
    "patch_mrf_loss",
    "sobel",
]
