"""The completion stage (gmcnn.inpainting.completion): speed against PatchMatch, and quality against baselines.

``speed``: the stage on the astronaut at 512² (one 150x130 hole, the quick_latency case) and at 12 MP
(4000x3000, two holes of 300x400 and 60x900, each completed in its own window: the hole's box plus its
longer side of context; the start is the window's push-pull fill, made before timing), beside today's
default fill (the network, texture off: what the stage is added to in the pipeline) and PatchMatch
(pypatchmatch, each hole on its box plus context as the texture stage runs it), interleaved in rounds so all
see the same machine load; prints p50 seconds and per-round ratios. The first calls (numba compile or
cache load, model load) are printed separately.

``quality``: `gmcnn eval` cases of ``paper-rect``, ``center`` and ``strokes`` on a folder of photos, filled by
baselines and completion variants; prints one markdown table (hole PSNR / hole SSIM / pooled hole SWD /
seconds per method and protocol) and writes it to ``--out``. A variant is ``complete`` followed by
``:key=value`` switches of :class:`gmcnn.inpainting.completion.Settings`, e.g. ``complete:seam=0:grad=0``;
any other name is a `gmcnn eval` method spec (``patchmatch``, ``default``).

``studies``: blind pair folders in `gmcnn study`'s format (pictures, key) for pairs of such methods on a case
set, each method filling each case once.

Usage::

    python3 benchmarks/completion.py speed [--rounds 5]
    python3 benchmarks/completion.py quality --data DIR --num 24 --methods patchmatch pushpull complete \\
        [--work runs/complete/q] [--out benchmarks/results/completion_quality.md]
    python3 benchmarks/completion.py studies --cases CASES --pairs complete/patchmatch complete/default \\
        --out STUDIES [--num 72]      # blind pair folders for `gmcnn study serve/score`, fills shared
    python3 benchmarks/completion.py --smoke      # speed and quality, tiny, to check that the script runs
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

PROTOCOLS = ("paper-rect", "center", "strokes")


def parse_method(spec: str):  # type: ignore[no-untyped-def]
    """``name`` -> a baseline; ``complete:key=value:...`` -> the completion baseline with those switches."""
    from gmcnn.evaluation.baselines import CompletionFill, baseline_names
    from gmcnn.evaluation.methods import Method, load_method
    from gmcnn.inpainting.completion import Settings

    name, *switches = spec.split(":")
    if name != "complete" or not switches:
        return load_method(spec) if name not in baseline_names() else Method(spec, load_method(spec).fill)
    types = {f.name: type(getattr(Settings(), f.name)) for f in fields(Settings)}
    settings = []
    for item in switches:
        key, value = item.split("=")
        kind = types[key]
        settings.append((key, bool(int(value)) if kind is bool else kind(value)))
    return Method(spec, CompletionFill(tuple(settings)))


def quality(data: str, num: int, methods: list[str], work: Path, out: Path | None, seed: int) -> str:
    from gmcnn.evaluation.evaluate import evaluate
    from gmcnn.evaluation.protocol import build_cases

    built = [parse_method(m) for m in methods]
    header = "| method | " + " | ".join(f"{p} hole PSNR / hole SSIM / SWD" for p in PROTOCOLS) + " | s / case |"
    cells: dict[str, list[str]] = {m.label: [] for m in built}
    seconds: dict[str, list[float]] = {m.label: [] for m in built}
    for protocol in PROTOCOLS:
        cases = build_cases(protocol, data, work / "cases" / protocol, num=num, seed=seed)
        result = evaluate(cases, built, work / protocol, progress=False)
        for m in built:
            rows = [r for r in result.rows if r["method"] == m.label]
            psnr = float(np.mean([r["psnr_hole"] for r in rows]))
            ssim = float(np.mean([r["ssim_hole"] for r in rows]))
            cells[m.label].append(f"{psnr:.2f} / {ssim:.4f} / {result.pooled(m.label, 'swd_hole'):.3f}")
            seconds[m.label] += [r["seconds"] for r in rows]
    lines = [header, "|---|" + "---:|" * (len(PROTOCOLS) + 1)]
    for m in built:
        lines.append(f"| {m.label} | " + " | ".join(cells[m.label]) + f" | {np.mean(seconds[m.label]):.2f} |")
    table = "\n".join(lines) + "\n"
    if out is not None:
        note = f"`{' '.join(sys.argv)}`: {num} cases per protocol from {data}, seed {seed}; hole PSNR and SSIM "
        note += "are means over cases, SWD is pooled over a protocol's cases.\n\n"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(note + table)
    return table


class _Cached:
    """A fill remembered per input, so a method shared by several studies fills each case once."""

    def __init__(self, fill) -> None:  # type: ignore[no-untyped-def]
        self.fill, self.memo = fill, {}  # type: ignore[var-annotated]

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        key = (image.tobytes(), np.asarray(mask).tobytes())
        if key not in self.memo:
            self.memo[key] = np.asarray(self.fill(image, mask))
        return self.memo[key]  # type: ignore[no-any-return]


def studies(cases_dir: str, pairs: list[str], out: Path, num: int | None, seed: int) -> None:
    """Blind study folders (``gmcnn study`` format) for ``A/B`` method pairs; score them with ``gmcnn study score``."""
    from dataclasses import replace

    from gmcnn.evaluation.protocol import load_cases
    from gmcnn.evaluation.study import make_study

    cases = load_cases(cases_dir)
    built: dict[str, object] = {}
    for pair in pairs:
        pair, _, count = pair.partition("@")  # "A/B@36": 36 pairs of this study
        a, b = pair.split("/")
        methods = []
        for spec in (a, b):
            if spec not in built:
                method = parse_method(spec)
                built[spec] = replace(method, fill=_Cached(method.fill))
            methods.append(built[spec])
        folder = out / f"{a}__vs__{b}".replace(":", "_").replace("=", "")
        make_study(cases, methods, folder, num=int(count) if count else num, seed=seed, progress=False)  # type: ignore[arg-type]
        print(f"{folder}: {a} (A) vs {b} (B)", flush=True)


def _astronaut(size: tuple[int, int]) -> np.ndarray:
    from PIL import Image
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize(size[::-1], Image.Resampling.BICUBIC))


def speed_cases(small: bool) -> list[tuple[str, np.ndarray, list[tuple[slice, slice]]]]:
    """(name, image, hole boxes): the 512² case and the 12 MP two-hole case (scaled down with ``small``)."""
    if small:
        return [("128^2", _astronaut((128, 128)), [(slice(40, 75), slice(50, 82))])]
    return [
        ("512^2", _astronaut((512, 512)), [(slice(150, 300), slice(200, 330))]),
        ("12MP two holes", _astronaut((3000, 4000)), [(slice(1000, 1300), slice(1500, 1900)),
                                                      (slice(2200, 2260), slice(300, 1200))]),
    ]  # fmt: skip


def _window(shape: tuple[int, ...], box: tuple[slice, slice]) -> tuple[slice, slice]:
    """The hole's box plus its longer side of context on every side (what the completion region takes)."""
    side = max(box[0].stop - box[0].start, box[1].stop - box[1].start)
    return (
        slice(max(0, box[0].start - side), min(shape[0], box[0].stop + side)),
        slice(max(0, box[1].start - side), min(shape[1], box[1].stop + side)),
    )


def speed(rounds: int, small: bool) -> str:
    from gmcnn import Inpainter
    from gmcnn.evaluation.baselines import PushPullFill
    from gmcnn.inpainting import texture
    from gmcnn.inpainting.completion import complete

    pushpull = PushPullFill()
    default = Inpainter.from_pretrained("default", device="cpu")
    lines = []
    for name, image, boxes in speed_cases(small):
        hole = np.zeros(image.shape[:2], bool)
        for box in boxes:
            hole[box] = True
        windows = [_window(image.shape, b) for b in boxes]
        starts = [pushpull(image[w], hole[w]) for w in windows]  # the pipeline hands the stage its network fill

        def stage(windows=windows, image=image, hole=hole, starts=starts) -> None:  # type: ignore[no-untyped-def]
            for w, start in zip(windows, starts, strict=True):
                complete(image[w], hole[w], start)

        def network(image=image, hole=hole) -> None:  # type: ignore[no-untyped-def]
            default(image, hole)  # today's default fill (texture off): what the stage is added to

        def patchmatch(image=image, hole=hole, boxes=boxes) -> None:  # type: ignore[no-untyped-def]
            for b in boxes:  # each hole alone: pypatchmatch on its box + context, at most 512 px (texture stage)
                only = np.zeros_like(hole)
                only[b] = True
                texture.patchmatch_fill(image, only)

        t = time.perf_counter()
        stage()
        network()
        first = time.perf_counter() - t
        times: list[list[float]] = []
        for _ in range(rounds):
            row = []
            for fn in (stage, network, patchmatch):
                t = time.perf_counter()
                fn()
                row.append(time.perf_counter() - t)
            times.append(row)
        o, d, p = (statistics.median(r[i] for r in times) for i in range(3))
        ratio = statistics.median(r[0] / r[2] for r in times)
        whole = statistics.median((r[0] + r[1]) / r[2] for r in times)
        lines.append(
            f"{name}: completion stage p50 {o:.3f}s, default fill (network, texture off) {d:.3f}s, "
            f"both {o + d:.3f}s; PatchMatch p50 {p:.3f}s; per round stage / PatchMatch {ratio:.2f}x, "
            f"(default + stage) / PatchMatch {whole:.2f}x; first calls {first:.2f}s"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="?", choices=("speed", "quality", "studies"), help="which benchmark")
    parser.add_argument("--smoke", action="store_true", help="tiny runs of both, to check the script")
    parser.add_argument("--rounds", type=int, default=5, help="speed: interleaved rounds")
    parser.add_argument("--data", help="quality: folder of photos or of held-out images")
    parser.add_argument("--num", type=int, help="quality: cases per protocol (24); studies: pairs (every case)")
    parser.add_argument("--seed", type=int, default=0, help="quality: case seed")
    parser.add_argument("--methods", nargs="+", default=["patchmatch", "pushpull", "complete"])
    parser.add_argument("--work", type=Path, default=Path("runs/completion"), help="quality: cases and fills")
    parser.add_argument("--out", type=Path, help="quality: write the table here too; studies: the parent folder")
    parser.add_argument("--cases", help="studies: a case set folder (e.g. /work/data/cases/val_mixed)")
    parser.add_argument("--pairs", nargs="+", help="studies: A/B method pairs, e.g. complete/patchmatch (@N: N pairs)")
    args = parser.parse_args(argv)
    if args.smoke:
        import tempfile

        from PIL import Image
        from skimage import data

        print(speed(1, small=True))
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "photos").mkdir()
            Image.fromarray(data.chelsea()[:200, :200]).save(Path(tmp) / "photos" / "chelsea.png")
            variants = ["pushpull", "complete", "complete:seam=0"]
            print(quality(str(Path(tmp) / "photos"), 1, variants, Path(tmp) / "work", None, 0))
        return
    if args.what == "speed":
        print(speed(args.rounds, small=False))
    elif args.what == "quality":
        if not args.data:
            parser.error("quality needs --data")
        print(quality(args.data, args.num or 24, args.methods, args.work, args.out, args.seed))
    elif args.what == "studies":
        if not (args.cases and args.pairs and args.out):
            parser.error("studies needs --cases, --pairs and --out")
        studies(args.cases, args.pairs, args.out, args.num, args.seed)
    else:
        parser.error("say speed, quality or studies (or --smoke)")


if __name__ == "__main__":
    main()
