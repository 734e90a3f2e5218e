"""Quick latency check on a quiet machine: full GMCNN 512² (auto vs eager fp32, interleaved) and the default
model's 512² and 12 MP fills, and the default beside its push-pull pre-fill alone and OpenCV Telea.
Prints one line per measurement (the default fill against the bar, beside PatchMatch: benchmarks/completion.py).
Usage: python3 benchmarks/quick_latency.py
(``--smoke``: 256² and 640x480 instead of 512² and 12 MP, one round each; seconds, for a test)."""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from skimage import data

from gmcnn import GMCNN, GMCNNConfig, Inpainter
from gmcnn.evaluation.baselines import get_baseline
from gmcnn.inpainting.backends import build_runner
from gmcnn.inpainting.image import rgb_to_tensor


def _timed(fn, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


@dataclass(frozen=True)
class Setting:
    """The sizes and repeat counts of one run (the full one, or the smoke test's few seconds)."""

    side: int = 512  # the square fill
    big: tuple[int, int] = (3000, 4000)  # the large fill, height x width (12 MP)
    few: bool = False  # one round / repeat everywhere

    def repeats(self, n: int) -> int:
        return 1 if self.few else n


def _square(side: int) -> tuple[np.ndarray, np.ndarray]:
    """The astronaut at side x side and one rectangular hole (150:300, 200:330 at 512)."""
    img = np.asarray(Image.fromarray(data.astronaut()).resize((side, side)))
    m = np.zeros((side, side), bool)
    m[side * 150 // 512 : side * 300 // 512, side * 200 // 512 : side * 330 // 512] = True
    return img, m


def main(setting: Setting) -> None:
    torch.manual_seed(0)
    side = setting.side
    img, m = _square(side)
    x, mt = rgb_to_tensor(img), torch.from_numpy(m)[None, None].float()
    full = GMCNN(GMCNNConfig(cnum=32)).eval()
    run = build_runner(full, device="cpu")
    with torch.inference_mode():
        run(x, mt), full(x, mt)  # warm-up
        rounds4 = range(setting.repeats(4))
        pairs = [(_timed(lambda: full(x, mt), 1)[0], _timed(lambda: run(x, mt), 1)[0]) for _ in rounds4]
    eager, auto = [p[0] for p in pairs], [p[1] for p in pairs]
    ratio = statistics.median(e / a for e, a in pairs)
    print(
        f"full GMCNN cnum32 {side}x{side} forward: auto ({run.runtime} {run.precision}) "
        f"p50 {statistics.median(auto):.3f}s; "
        f"eager fp32 NCHW p50 {statistics.median(eager):.3f}s; per-round ratio median {ratio:.2f}x"
    )
    default = Inpainter.from_pretrained("default", device="cpu")
    default(img, m)
    print(
        f"default {side}x{side} fill (whole Inpainter call): "
        f"p50 {statistics.median(_timed(lambda: default(img, m), setting.repeats(5))):.3f}s"
    )
    # The default model's parts and the classical fills on the same image, interleaved (same machine load).
    pushpull, telea = get_baseline("pushpull"), get_baseline("telea")
    rounds5 = range(setting.repeats(5))
    rounds = [[_timed(lambda f=f: f(img, m), 1)[0] for f in (default, pushpull, telea)] for _ in rounds5]
    d, p, t = (statistics.median(r[i] for r in rounds) for i in range(3))
    print(
        f"{side}x{side} interleaved p50: default {d:.3f}s, its push-pull pre-fill alone {p:.3f}s "
        f"({p / d:.0%} of the default's time), OpenCV Telea {t:.3f}s (default / Telea = {d / t:.1f}x)"
    )
    big, mb = _large(*setting.big)
    default(big, mb)
    t = statistics.median(_timed(lambda: default(big, mb), setting.repeats(3)))
    print(
        f"default {_label(*setting.big)} two holes, crop strategy: p50 {t:.2f}s, "
        f"windows {len(default.plan(big, mb).windows)}"
    )


def _large(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """The astronaut at h x w and two holes (placed for 4000x3000, scaled to other sizes)."""
    big = np.asarray(Image.fromarray(data.astronaut()).resize((w, h)))
    mb = np.zeros((h, w), bool)
    mb[h * 1000 // 3000 : h * 1300 // 3000, w * 1500 // 4000 : w * 1900 // 4000] = True
    mb[h * 2200 // 3000 : h * 2260 // 3000, w * 300 // 4000 : w * 1200 // 4000] = True
    return big, mb


def _label(h: int, w: int) -> str:
    return f"{round(h * w / 1e6)}MP ({w}x{h})" if h * w >= 1e6 else f"{w}x{h}"


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="256x256 and 640x480, one round each (seconds)")
    args = ap.parse_args()
    chosen = Setting(side=256, big=(480, 640), few=True) if args.smoke else Setting()
    main(chosen)
