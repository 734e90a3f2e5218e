"""Can a fresh cnum-8 GMCNN fit 4 fixed crops? Hole PSNR every 10 steps, then its fusion conv's saturation.

The check behind the ``cpu_live_mrf`` learning rate: at lr 1e-3 the network stalls within 20 steps (hole PSNR
stuck at 14.6 dB, 75 % of the fusion ELU flat after 30 steps, :mod:`gmcnn.training.health`); at 1e-4 and
3e-4 it fits (20.7 and 21.9 dB after 60 and 40 steps). Usage::

    python3 benchmarks/overfit_check.py [--data data/corpus_v2/val] [--lr 1e-4] [--steps 60] [--init scaled] [--smoke]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gmcnn.data.datasets import find_images
from gmcnn.models.gmcnn import GMCNN, GMCNNConfig
from gmcnn.models.init import official_init_, scaled_init_
from gmcnn.training.health import fusion_saturation

ROOT = Path(__file__).resolve().parent.parent


def centre_crops(folder: str, n: int = 4, size: int = 256) -> torch.Tensor:
    """The first ``n`` photos of ``folder`` (sorted), centre-cropped square and resized: (n, 3, size, size)."""
    out = []
    for path in sorted(find_images(folder))[:n]:
        im = Image.open(path).convert("RGB")
        w, h = im.size
        s = min(w, h)
        im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)).resize((size, size))
        out.append(torch.from_numpy(np.array(im)).permute(2, 0, 1).float() / 127.5 - 1)
    return torch.stack(out)


def hole_psnr(pred: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> float:
    err = ((pred - image) ** 2 * mask).sum() / (mask.sum() * 3)
    return float(10 * torch.log10(4 / err))  # the [-1, 1] range is 2 wide


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / "data" / "corpus_v2" / "val"))
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--init", choices=("scaled", "official"), default="scaled")
    ap.add_argument("--smoke", action="store_true", help="2 steps on 4 random images")
    args = ap.parse_args()
    if args.smoke:
        tmp = tempfile.TemporaryDirectory()
        rng = np.random.default_rng(0)
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(f"{tmp.name}/{i}.png")
        args.data, args.steps = tmp.name, 2
    torch.manual_seed(0)
    image = centre_crops(args.data)
    mask = torch.zeros(len(image), 1, 256, 256)
    mask[..., 64:192, 64:192] = 1
    net = GMCNN(GMCNNConfig(cnum=8, fill="smooth"))
    (scaled_init_ if args.init == "scaled" else official_init_)(net)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.5, 0.999))
    start = time.perf_counter()
    for step in range(args.steps + 1):
        pred = net(image, mask)
        loss = ((pred - image) ** 2 * mask).sum() / (mask.sum() * 3)
        if step % 10 == 0:
            print(f"step {step:4d}  hole PSNR {hole_psnr(pred.detach(), image, mask):6.2f} dB"
                  f"  ({time.perf_counter() - start:.0f} s)", flush=True)  # fmt: skip
        if step < args.steps:
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad(), fusion_saturation(net) as saturation:
        net(image, mask)
    print(f"lr {args.lr:g}, {args.init} init: fusion pre-activations below -3 after {args.steps} steps: "
          f"{saturation.share:.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
