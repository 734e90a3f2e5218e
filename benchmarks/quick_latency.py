"""Quick latency check on a quiet machine: full GMCNN 512² (auto vs eager fp32, interleaved) and the default
model's 512² and 12 MP fills, and the default beside its push-pull pre-fill alone and OpenCV Telea.
With ``--texture``: only the texture stage on/off (512² and 12 MP two holes, interleaved rounds in one run, the
on/off ratio per round). Prints one line per measurement. Usage: python3 benchmarks/quick_latency.py [--texture]"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
import torch
from PIL import Image
from skimage import data

from gmcnn import GMCNN, GMCNNConfig, Inpainter
from gmcnn.evaluation.baselines import get_baseline
from gmcnn.inpainting.backends import build_runner
from gmcnn.inpainting.image import rgb_to_tensor
from gmcnn.inpainting.options import FillOptions


def _timed(fn, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    torch.manual_seed(0)
    img = np.asarray(Image.fromarray(data.astronaut()).resize((512, 512)))
    m = np.zeros((512, 512), bool)
    m[150:300, 200:330] = True
    x, mt = rgb_to_tensor(img), torch.from_numpy(m)[None, None].float()
    full = GMCNN(GMCNNConfig(cnum=32)).eval()
    run = build_runner(full, device="cpu")
    with torch.inference_mode():
        run(x, mt), full(x, mt)  # warm-up
        pairs = [(_timed(lambda: full(x, mt), 1)[0], _timed(lambda: run(x, mt), 1)[0]) for _ in range(4)]
    eager, auto = [p[0] for p in pairs], [p[1] for p in pairs]
    ratio = statistics.median(e / a for e, a in pairs)
    print(
        f"full GMCNN cnum32 512x512 forward: auto ({run.runtime} {run.precision}) p50 {statistics.median(auto):.3f}s; "
        f"eager fp32 NCHW p50 {statistics.median(eager):.3f}s; per-round ratio median {ratio:.2f}x"
    )
    default = Inpainter.from_pretrained("default", device="cpu")
    default(img, m)
    print(
        f"default 512x512 fill (whole Inpainter call): p50 {statistics.median(_timed(lambda: default(img, m), 5)):.3f}s"
    )
    # The default model's parts and the classical fills on the same image, interleaved (same machine load).
    pushpull, telea = get_baseline("pushpull"), get_baseline("telea")
    rounds = [[_timed(lambda f=f: f(img, m), 1)[0] for f in (default, pushpull, telea)] for _ in range(5)]
    d, p, t = (statistics.median(r[i] for r in rounds) for i in range(3))
    print(
        f"512x512 interleaved p50: default {d:.3f}s, its push-pull pre-fill alone {p:.3f}s "
        f"({p / d:.0%} of the default's time), OpenCV Telea {t:.3f}s (default / Telea = {d / t:.1f}x)"
    )
    big, mb = _twelve_mp()
    default(big, mb)
    t = statistics.median(_timed(lambda: default(big, mb), 3))
    print(
        f"default 12MP (4000x3000) two holes, crop strategy: p50 {t:.2f}s, windows {len(default.plan(big, mb).windows)}"
    )


def _twelve_mp() -> tuple[np.ndarray, np.ndarray]:
    big = np.asarray(Image.fromarray(data.astronaut()).resize((4000, 3000)))
    mb = np.zeros((3000, 4000), bool)
    mb[1000:1300, 1500:1900] = True
    mb[2200:2260, 300:1200] = True
    return big, mb


def texture_speed() -> None:
    """The texture stage on / off through the Inpainter, interleaved so both see the same machine load."""
    img = np.asarray(Image.fromarray(data.astronaut()).resize((512, 512)))
    m = np.zeros((512, 512), bool)
    m[150:300, 200:330] = True
    big, mb = _twelve_mp()
    default = Inpainter.from_pretrained("default", device="cpu")
    off, on = FillOptions(), FillOptions(texture="patch")
    for name, (x, mask, repeats) in {"512x512": (img, m, 3), "12MP two holes (crop)": (big, mb, 2)}.items():
        default.fill(x, mask, on)  # warm-up
        rounds = []
        for _ in range(repeats):
            a = default.fill(x, mask, off).timings["total"]
            r = default.fill(x, mask, on)
            rounds.append((a, r.timings["total"], r.timings.get("texture", 0.0)))
        t_off, t_on, t_tex = (statistics.median(v[i] for v in rounds) for i in range(3))
        ratio = statistics.median(v[1] / v[0] for v in rounds)
        print(
            f"{name}: texture off p50 {t_off:.3f}s, texture='patch' p50 {t_on:.3f}s (stage {t_tex:.3f}s), "
            f"on/off per-round ratio median {ratio:.1f}x, {repeats} rounds"
        )


if __name__ == "__main__":
    texture_speed() if "--texture" in sys.argv[1:] else main()
