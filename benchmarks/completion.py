"""Speed of the default fill (the completion stage, ``detail=1``) against the bar and against PatchMatch.

Issue 21's bar: a 512² photo in at most 1.0 s and a 12 MP photo with two holes in at most 3 s on this CPU.
Measured through :class:`gmcnn.Inpainter` with default options (what ``gmcnn inpaint`` runs), beside the
smooth fill (``detail=0``: the network alone, the default before the completion stage) and the ``patchmatch``
baseline (pypatchmatch on the whole image), interleaved in rounds so all three see the same machine load;
prints p50 seconds, the per-round ratios and the first call (model load, numba cache) separately. Cases: the
astronaut at 512² with one 150x130 hole (the quick_latency case), and the astronaut upscaled to 4000x3000 with
a 300x400 and a 60x900 hole (crop windows, one per hole). Quality is measured with ``gmcnn eval`` and the blind
study (``gmcnn study``), not here. Usage::

    python3 benchmarks/completion.py [--rounds 5]
    python3 benchmarks/completion.py --smoke      # 256² and 640x480, one round: checks that the script runs
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def _astronaut(size: tuple[int, int]) -> np.ndarray:
    from PIL import Image
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize(size[::-1], Image.Resampling.BICUBIC))


def cases(small: bool) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, image, hole): the 512² case and the 12 MP two-hole case (or tiny versions for --smoke)."""
    out = []
    for name, (h, w), boxes in (
        ("512x512 one hole", (512, 512), [(200 / 512, 350 / 512, 150 / 512, 280 / 512)]),
        ("12MP two holes", (3000, 4000), [(1000 / 3000, 1300 / 3000, 1500 / 4000, 1900 / 4000),
                                          (2200 / 3000, 2260 / 3000, 300 / 4000, 1200 / 4000)]),
    ):  # fmt: skip
        if small:
            h, w = (256, 256) if h == 512 else (480, 640)
        hole = np.zeros((h, w), bool)
        for y0, y1, x0, x1 in boxes:
            hole[round(y0 * h) : round(y1 * h), round(x0 * w) : round(x1 * w)] = True
        out.append((name, _astronaut((h, w)), hole))
    return out


def speed(rounds: int, small: bool) -> str:
    from gmcnn import Inpainter
    from gmcnn.evaluation.baselines import get_baseline

    model = Inpainter.from_pretrained("default", device="cpu")
    patchmatch = get_baseline("patchmatch")
    lines = []
    for name, image, hole in cases(small):
        fills = {
            "default (detail 1)": lambda image=image, hole=hole: model(image, hole),
            "smooth (detail 0)": lambda image=image, hole=hole: model(image, hole, detail=0),
            "patchmatch": lambda image=image, hole=hole: patchmatch(image, hole),
        }
        t = time.perf_counter()
        fills["default (detail 1)"]()
        first = time.perf_counter() - t
        times: dict[str, list[float]] = {k: [] for k in fills}
        for _ in range(rounds):
            for key, fn in fills.items():
                t = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t)
        p50 = {k: statistics.median(v) for k, v in times.items()}
        ratio = statistics.median(a / b for a, b in zip(times["default (detail 1)"], times["patchmatch"], strict=True))
        lines.append(
            f"{name}: default p50 {p50['default (detail 1)']:.3f}s, smooth {p50['smooth (detail 0)']:.3f}s, "
            f"patchmatch baseline {p50['patchmatch']:.3f}s; default / patchmatch per round {ratio:.2f}x; "
            f"first call {first:.2f}s; {rounds} rounds"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--smoke", action="store_true", help="tiny images, one round")
    args = parser.parse_args(argv)
    print(speed(1, small=True) if args.smoke else speed(args.rounds, small=False))


if __name__ == "__main__":
    main()
