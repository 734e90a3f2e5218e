"""Fast CPU inference for GMCNN: every runtime / precision candidate against a plain eager fp32 forward.

Prints markdown tables and writes them to ``benchmarks/results/fast_inference.md``:

1. latency of each candidate at 512x512 (cnum 32, then cnum 16), interleaved round by round in one process so
   that load from other processes hits every candidate alike; the speed-up is the median over rounds of the
   per-round ratio ``eager fp32 time / candidate time``; fidelity is the PSNR of the candidate's 8-bit
   prediction against eager fp32's (the whole prediction, not only the hole, so the stricter number);
2. where the time goes (``torch.profiler``, top operators) for eager fp32 and for ``runtime="auto"``;
3. with ``--memory``: peak RSS of a 4K fill with the crop strategy and the 12 MP crop latency through
   :class:`gmcnn.Inpainter`, and the memory model of :func:`gmcnn.inpainting.backends.estimate_memory_bytes` against a
   measured full-resolution forward.

Weights: a trained model (``--model``, else the embedded default when the package has it) wherever its
width matches; otherwise random weights rescaled layer by layer on a photo so that every layer's output has unit
variance (the official N(0, 0.02) init fades to a near-zero output on which any two runtimes agree, so its PSNR
would flatter bf16); each table says which. With a trained model a fidelity table over several photos follows.

Usage: ``python benchmarks/fast_inference.py [--rounds 5] [--no-compile] [--no-onnx] [--memory] [--model PATH]``
(``--smoke``: widths 8 and 4 at 256x256, one round, no compile / ONNX, one fidelity photo, the memory section at
640x480; written to a temp folder).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import typing
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import ProfilerActivity, profile

from gmcnn import Inpainter
from gmcnn.inpainting import backends as R
from gmcnn.models.gmcnn import GMCNN, GMCNNConfig
from gmcnn.weights import registry as W
from gmcnn.weights.format import CONFIG_NAME

RESULTS = Path(__file__).parent / "results" / "fast_inference.md"
Forward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
M = typing.TypeVar("M", bound=nn.Module)


def photo_inputs(h: int, w: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A real photo (scikit-image's astronaut, RGB) at h x w (square when ``w`` is None) and a mask with a
    rectangle and a stroke, 1 = hole. ``tf_speed.py`` uses it too, flipped to BGR."""
    from skimage import data

    w = h if w is None else w
    rgb = torch.from_numpy(data.astronaut()).permute(2, 0, 1)[None].float()  # (1, 3, 512, 512)
    image = F.interpolate(rgb, size=(h, w), mode="bilinear", antialias=True) / 127.5 - 1
    mask = torch.zeros(1, 1, h, w)
    mask[..., h * 5 // 16 : h * 11 // 16, w * 3 // 8 : w * 5 // 8] = 1
    mask[..., h * 3 // 4 : h * 3 // 4 + h // 32, w // 8 : w * 7 // 8] = 1
    return image, mask


def unit_variance_weights(net: M, image: torch.Tensor, mask: torch.Tensor, *, last: nn.Module) -> M:
    """Rescale each conv in forward order so its output has unit std on this input (0.5 for ``last``)."""
    seen: dict[str, torch.Tensor] = {}
    for conv in (m for m in net.modules() if isinstance(m, nn.Conv2d)):
        hook = conv.register_forward_hook(lambda _m, _i, out: seen.__setitem__("out", out))
        with torch.no_grad():
            net(image, mask)
            conv.weight.mul_((0.5 if conv is last else 1.0) / seen["out"].std())
        hook.remove()
    return net


def trained_model(name_or_path: str | None) -> tuple[GMCNN, str] | None:
    """The trained generator to check fidelity on: ``name_or_path``, else the embedded default if installed."""
    if name_or_path is None:
        default = W.get("default").path
        if default is None or not (default / CONFIG_NAME).is_file():
            return None
        name_or_path = "default"
    inpainter = Inpainter.from_pretrained(name_or_path, device="cpu", runtime="eager", precision="fp32")
    steps = inpainter.training.get("step") or inpainter.training.get("steps", "?")
    return (
        inpainter.generator,
        f"trained model {name_or_path!r} (cnum {inpainter.generator.config.cnum}, {steps} steps)",
    )


def weights_for(cnum: int, trained: tuple[GMCNN, str] | None) -> tuple[GMCNN, str]:
    """The trained model when its width matches, else random weights rescaled to unit variance per layer."""
    if trained is not None and trained[0].config.cnum == cnum:
        return trained
    torch.manual_seed(0)
    generator = GMCNN(GMCNNConfig(cnum=cnum)).eval()
    image, mask = photo_inputs(256)
    unit_variance_weights(generator, image, mask, last=generator.decoding_layers[-1])
    return generator, "random weights rescaled to unit variance per layer (speed does not depend on the weights)"


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR of two [-1, 1] predictions as 8-bit images (the bar: >= 40 dB)."""
    a8, b8 = (((t.float().clamp(-1, 1) + 1) * 127.5).round() for t in (a, b))
    mse = ((a8 - b8) ** 2).mean().item()
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def candidates(generator: GMCNN, *, compile_: bool, onnx: bool) -> tuple[dict[str, Forward], dict[str, float]]:
    """Name -> forward; plus build seconds for the ones that take noticeable time to prepare."""
    cl = torch.channels_last

    def channels_last(dtype: torch.dtype, *, autocast: bool = False) -> Forward:
        """``GMCNN.forward`` itself on a channels-last copy in ``dtype`` (or fp32 under bf16 autocast)."""
        net_dtype = torch.float32 if autocast else dtype
        net = copy.deepcopy(generator).to(net_dtype, memory_format=cl)  # type: ignore[call-overload]

        def forward(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                return net(image.to(net_dtype, memory_format=cl), mask.to(net_dtype, memory_format=cl)).float()

        return forward

    found: dict[str, Forward] = {
        "eager fp32 NCHW (GMCNN.forward, baseline)": generator,
        "GMCNN fp32 channels-last": channels_last(torch.float32),
        "GMCNN bf16 autocast, channels-last": channels_last(torch.float32, autocast=True),
        "GMCNN bf16 weights, channels-last": channels_last(torch.bfloat16),
    }
    build: dict[str, float] = {}
    for runtime, precision in (
        [("eager", "fp32"), ("eager", "bf16"), ("auto", "auto")]
        + ([("compile", "bf16")] if compile_ else [])
        + ([("onnx", "fp32"), ("onnx", "int8")] if onnx else [])
    ):
        start = time.perf_counter()
        runner = R.build_runner(generator, device="cpu", runtime=runtime, precision=precision)
        name = f'runtime="{runtime}", precision="{precision}"'
        if runtime == "auto":
            name += f" -> {runner.runtime} {runner.precision}"
        found[name] = runner
        build[name] = time.perf_counter() - start
    return found, build


def time_candidates(
    found: dict[str, Forward], image: torch.Tensor, mask: torch.Tensor, rounds: int, build: dict[str, float]
) -> list[dict[str, object]]:
    """Interleaved timing; the first call of each (warm-up, compilation) is reported separately."""
    preds, first = {}, {}
    with torch.inference_mode():
        for name, fn in found.items():
            start = time.perf_counter()
            preds[name] = fn(image, mask).float()
            first[name] = time.perf_counter() - start + build.get(name, 0.0)
        times: dict[str, list[float]] = {name: [] for name in found}
        for _ in range(rounds):
            for name, fn in found.items():
                start = time.perf_counter()
                fn(image, mask)
                times[name].append(time.perf_counter() - start)
    base_name = next(iter(found))
    base = preds[base_name]
    rows = []
    for name in found:
        ratios = [b / t for b, t in zip(times[base_name], times[name], strict=True)]
        composite = preds[name] * mask + image * (1 - mask)
        rows.append(
            {
                "candidate": name,
                "median_s": statistics.median(times[name]),
                "speedup": statistics.median(ratios),
                "speedup_range": (min(ratios), max(ratios)),
                "psnr_pred": psnr(preds[name], base),
                "psnr_fill": psnr(composite, base * mask + image * (1 - mask)),
                "first_call_s": first[name],
            }
        )
    return rows


def rows_table(rows: list[dict[str, object]]) -> str:
    lines = [
        "| candidate | median s | speed-up vs eager fp32 (median [min-max] of per-round ratios) | "
        "PSNR pred vs fp32 (dB) | PSNR filled image (dB) | build + first call s |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lo, hi = typing.cast(tuple[float, float], r["speedup_range"])
        lines.append(
            f"| {r['candidate']} | {r['median_s']:.3f} | **{r['speedup']:.2f}x** [{lo:.2f}-{hi:.2f}] | "
            f"{r['psnr_pred']:.1f} | {r['psnr_fill']:.1f} | {r['first_call_s']:.1f} |"
        )
    return "\n".join(lines)


def profile_table(fn: Forward, image: torch.Tensor, mask: torch.Tensor, top: int = 8) -> str:
    with torch.inference_mode():
        fn(image, mask)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            fn(image, mask)
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in events)
    lines = ["| operator | calls | self CPU ms | share |", "|---|---|---|---|"]
    for e in events[:top]:
        lines.append(
            f"| {e.key} | {e.count} | {e.self_cpu_time_total / 1e3:.0f} | {100 * e.self_cpu_time_total / total:.0f} % |"
        )
    return "\n".join(lines)


_CHILD = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np, torch
    from gmcnn import Inpainter
    from gmcnn.inpainting.options import FillOptions
    from gmcnn.models.gmcnn import GMCNN, GMCNNConfig

    def status(key):
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) * 1024 for line in fh if line.startswith(key))

    task, h, w, model = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if model == "-":  # no trained model: the full-size architecture with its official random init
        inpainter = Inpainter.from_generator(GMCNN(GMCNNConfig()), device="cpu")
    else:
        inpainter = Inpainter.from_pretrained(model, device="cpu")
    rng = np.random.default_rng(0)
    if task == "crop":
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        mask = np.zeros((h, w), bool)
        for y, x, s in [(0.2, 0.2, 300), (0.5, 0.6, 500), (0.8, 0.3, 200)]:
            mask[int(y * h) : int(y * h) + s, int(x * w) : int(x * w) + s] = True
        warm = np.zeros((min(h, 512), min(w, 512)), bool)
        warm[64:192, 64:192] = True
        inpainter(image[:512, :512], warm, strategy="crop")  # warm-up
        start = time.perf_counter()
        done = inpainter.fill(image, mask, FillOptions(strategy="crop"))
        out = {"seconds": time.perf_counter() - start, "windows": len(done.plan.windows)}
    else:
        runner = inpainter.runner
        runner(torch.zeros(1, 3, 256, 256), torch.zeros(1, 1, 256, 256))
        base = status("VmRSS")
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        runner(torch.rand(1, 3, h, w) * 2 - 1, (torch.rand(1, 1, h, w) > 0.5).float())
        out = {"forward_peak_growth": status("VmHWM") - base,
               "estimate": runner.estimate_memory_bytes(h, w), "runtime": runner.runtime, "precision": runner.precision}
    out["peak_rss"] = status("VmHWM")  # not ru_maxrss: Linux carries the parent's peak across fork + exec
    print(json.dumps(out))
    """
)


def child(task: str, h: int, w: int, model: str) -> dict[str, float]:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"} if task == "forward" else None
    out = subprocess.run([sys.executable, "-c", _CHILD, task, str(h), str(w), model], capture_output=True, text=True,
                         env=env)  # fmt: skip
    if out.returncode:
        raise RuntimeError(f"the {task} {w}x{h} child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# Sizes (height, width) of the memory section: two crop-strategy fills (4K, 12 MP) and two whole forwards.
MEMORY_SIZES = ((2160, 3840), (3000, 4000)), ((1024, 768), (2160, 3840))
SMOKE_MEMORY_SIZES = ((480, 640), (480, 640)), ((256, 256), (256, 320))


def memory_section(model: str | None, sizes: tuple[tuple[tuple[int, int], ...], ...] = MEMORY_SIZES) -> str:
    """Crop-strategy fills of 4K / 12 MP images and full-resolution forwards, each in a fresh process."""
    model = model or "-"
    title = "cnum 32, random weights" if model == "-" else f"model {model!r}"
    lines = [f"## Memory and large images ({title}, runtime auto)", ""]
    (h4k, w4k), (h12, w12) = sizes[0]
    crop4k = child("crop", h4k, w4k, model)
    crop12 = child("crop", h12, w12, model)
    lines += [
        f"- {w4k}x{h4k} fill, crop strategy, 3 holes: peak RSS of the whole process "
        f"**{crop4k['peak_rss'] / 2**30:.2f} GiB** (bar for 4K: < 4 GB), {crop4k['seconds']:.1f} s, "
        f"{crop4k['windows']} windows",
        f"- {w12}x{h12} fill, crop strategy, same holes: {crop12['seconds']:.1f} s, "
        f"peak RSS {crop12['peak_rss'] / 2**30:.2f} GiB",
    ]
    for h, w in sizes[1]:
        fwd = child("forward", h, w, model)
        lines.append(
            f"- full-resolution forward {w}x{h} ({fwd['runtime']} {fwd['precision']}): measured peak growth "
            f"{fwd['forward_peak_growth'] / 2**30:.2f} GiB, `estimate_memory_bytes` {fwd['estimate'] / 2**30:.2f} GiB"
        )
    return "\n".join(lines)


FIDELITY_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "page", "text")


def fidelity_section(
    generator: GMCNN, described: str, size: int, *, photos: tuple[str, ...] = FIDELITY_PHOTOS, int8: bool = True
) -> str:
    """PSNR of auto (and int8) against eager fp32 on several photos with rectangle + stroke holes."""
    from skimage import data

    runners = {
        name: R.build_runner(generator, device="cpu", runtime=rt, precision=pr)
        for name, rt, pr in [("auto", "auto", "auto"), ("int8", "onnx", "int8")][: 2 if int8 else 1]
    }
    lines = [
        f"## Fidelity on the {described}",
        "",
        "PSNR (dB, 8-bit) against the eager fp32 forward; the bar is >= 40 dB for the auto path "
        f"(auto = {runners['auto'].runtime} {runners['auto'].precision}). int8 is calibrated on astronaut/coffee/"
        "chelsea/rocket/immunohistochemistry crops, so only camera/page/text differ from its calibration set.",
        "",
        "| photo | fp32 prediction std in the hole | "
        + " | ".join(f"{name}: prediction | {name}: filled image" for name in runners)
        + " |",
        "|---|---|" + "---|---|" * len(runners),
    ]
    _, mask = photo_inputs(size)
    for name in photos:
        rgb = torch.from_numpy(np.atleast_3d(getattr(data, name)())).permute(2, 0, 1)[None].float()
        rgb = F.interpolate(rgb.expand(1, 3, -1, -1), size=(size, size), mode="bilinear", antialias=True)
        image = rgb / 127.5 - 1
        with torch.inference_mode():
            ref = generator(image, mask)
        cells = [ref[mask.expand_as(ref) > 0].std().item()]  # a flat (untrained / diverged) fill would agree trivially
        for runner in runners.values():
            pred = runner(image, mask)
            cells += [psnr(pred, ref), psnr(pred * mask + image * (1 - mask), ref * mask + image * (1 - mask))]
        lines.append(f"| {name} | {cells[0]:.3f} | " + " | ".join(f"{c:.1f}" for c in cells[1:]) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (tens of seconds to build)")
    parser.add_argument("--no-onnx", action="store_true", help="skip onnxruntime fp32 / int8")
    parser.add_argument("--memory", action="store_true", help="also measure 4K / 12 MP fills and the memory model")
    parser.add_argument("--model", help="trained weights for the fidelity check (default: the embedded default)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--smoke", action="store_true", help="the smallest run (see above), written to a temp folder")
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.size, args.no_compile, args.no_onnx, args.memory = 1, 256, True, True, True
        args.output = Path(tempfile.mkdtemp(prefix="gmcnn-smoke-")) / RESULTS.name
    trained = trained_model(args.model)

    image, mask = photo_inputs(args.size)
    out = [
        "# Fast CPU inference (issue 6)",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores shared with other jobs, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}, native bf16: {R.cpu_has_native_bf16()}. "
        f"Input: a {args.size}x{args.size} photo with a rectangle + stroke hole. {args.rounds} interleaved rounds.",
        "",
    ]
    widths = (8, 4) if args.smoke else (32, 16)  # the first is the main one: compile, ONNX and profiles
    for cnum in widths:
        generator, described = weights_for(cnum, trained)
        found, build = candidates(
            generator, compile_=not args.no_compile and cnum == widths[0], onnx=not args.no_onnx and cnum == widths[0]
        )
        if cnum != widths[0]:  # the variant: only the baseline and the shipped paths
            found = {
                k: v for k, v in found.items() if k.startswith(("eager fp32 NCHW", 'runtime="eager"', 'runtime="auto"'))
            }
        rows = time_candidates(found, image, mask, args.rounds, build)
        flops = GMCNN.flops(args.size, args.size, cnum) / 1e9
        out += [f"## cnum {cnum} ({flops:.0f} GFLOP per forward), {described}", "", rows_table(rows), ""]
        print("\n".join(out[-4:]), flush=True)
        if cnum == widths[0]:
            auto = next(v for k, v in found.items() if k.startswith('runtime="auto"'))
            for title, fn in [("eager fp32 NCHW", found[next(iter(found))]), ('runtime="auto"', auto)]:
                out += [
                    f"### Where the time goes: {title} (cnum {cnum}, one forward)",
                    "",
                    profile_table(fn, image, mask),
                    "",
                ]
                print("\n".join(out[-4:]), flush=True)
    if trained is not None:
        photos = FIDELITY_PHOTOS[:1] if args.smoke else FIDELITY_PHOTOS
        out += [fidelity_section(*trained, args.size, photos=photos, int8=not args.no_onnx), ""]
        print(out[-2], flush=True)
    if args.memory:
        sizes = SMOKE_MEMORY_SIZES if args.smoke else MEMORY_SIZES
        out += [memory_section(args.model or ("default" if trained else None), sizes), ""]
        print(out[-2], flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(out))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
