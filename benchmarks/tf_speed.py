"""Speed and fidelity of the TF-release network (GMCNNTF) per runtime, against a plain eager fp32 forward.

Candidates run round by round in one process (so load from other processes hits all alike); the speed-up is the
median over rounds of ``eager fp32 time / candidate time``; fidelity is the PSNR of the candidate's 8-bit
prediction against eager fp32's (whole image). Weights: random, rescaled layer by layer on a photo so every
layer's output has unit variance (the N(0, 0.02) init fades to a near-zero output that any runtime matches).
Writes ``benchmarks/results/tf_speed.md``.

Usage: ``python3 benchmarks/tf_speed.py [--size 512x680] [--cnum 32] [--rounds 3] [--onnx]``
(``--smoke``: 64x64, cnum 4, one round, written to a temp folder).
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from fast_inference import photo_inputs, psnr, unit_variance_weights  # a sibling script: the same inputs and weights

from gmcnn.inpainting import backends as R
from gmcnn.models.gmcnn_tf import GMCNNTF, GMCNNTFConfig

RESULTS = Path(__file__).parent / "results" / "tf_speed.md"
Forward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def candidates(net: GMCNNTF, onnx: bool, only_auto: bool = False) -> dict[str, Forward]:
    cl = torch.channels_last
    plain_bf16 = copy.deepcopy(net).to(torch.bfloat16, memory_format=cl)  # type: ignore[call-overload]

    def plain(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return plain_bf16(image.to(torch.bfloat16, memory_format=cl), mask.to(torch.bfloat16, memory_format=cl))

    found: dict[str, Forward] = {"eager fp32 NCHW (GMCNNTF.forward, baseline)": net}
    if not only_auto:
        found["GMCNNTF bf16 weights, channels-last (unfused)"] = plain
    pairs = [("eager", "fp32"), ("eager", "bf16"), ("auto", "auto")] + ([("onnx", "fp32")] if onnx else [])
    if only_auto:
        pairs = [("auto", "auto")]
    for runtime, precision in pairs:
        runner = R.build_runner(net, device="cpu", runtime=runtime, precision=precision)
        found[f"runtime={runtime!r} precision={precision!r} -> {runner.runtime} {runner.precision}"] = runner
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="512x680")
    ap.add_argument("--cnum", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--onnx", action="store_true")
    ap.add_argument("--only-auto", action="store_true", help="baseline and runtime='auto' only, ABBA order per round")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--smoke", action="store_true", help="64x64, cnum 4, one round, written to a temp folder")
    args = ap.parse_args()
    if args.smoke:
        args.size, args.cnum, args.rounds = "64x64", 4, 1
        args.out = Path(tempfile.mkdtemp(prefix="gmcnn-smoke-")) / RESULTS.name
    h, w = (int(s) for s in args.size.split("x"))
    torch.manual_seed(0)
    net = GMCNNTF(GMCNNTFConfig(cnum=args.cnum)).eval()
    small_image, small_mask = photo_inputs(min(h, 128), min(w, 172))  # 94 forwards: keep them small
    unit_variance_weights(net, small_image.flip(1), small_mask, last=net.conv("mergeconv18"))
    image, mask = photo_inputs(h, w)
    image = image.flip(1)  # BGR, as the TF models see it
    forwards = candidates(net, args.onnx, args.only_auto)
    times: dict[str, list[float]] = {k: [] for k in forwards}
    outputs: dict[str, torch.Tensor] = {}
    with torch.inference_mode():
        for fn in forwards.values():  # warm-up (oneDNN primitive creation)
            fn(image[..., :64, :64], mask[..., :64, :64])
        for r in range(args.rounds):
            # Odd rounds run the candidates in reverse order, so slow drifts in the machine's load cancel.
            order = list(forwards.items()) if r % 2 == 0 else list(forwards.items())[::-1]
            for name, fn in order:
                start = time.perf_counter()
                outputs[name] = fn(image, mask).float()
                times[name].append(time.perf_counter() - start)
                print(f"round {r} {name}: {times[name][-1]:.2f} s", flush=True)
    base_name = next(iter(forwards))
    base = outputs[base_name]
    rows = []
    for name in forwards:
        ratios = [b / t for b, t in zip(times[base_name], times[name], strict=True)]
        per_round = ", ".join(f"{r:.2f}" for r in ratios)
        rows.append(
            f"| {name} | {statistics.median(times[name]):.2f} | {statistics.median(ratios):.2f}x ({per_round}) | "
            f"{psnr(outputs[name], base):.1f} |"
        )
    load = os.getloadavg()[0]
    text = (
        f"# TF-release GMCNN (GMCNNTF): runtimes at {h}x{w}, cnum {args.cnum}\n\n"
        f"CPU: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch "
        f"{torch.__version__}, native bf16: {R.cpu_has_native_bf16()}; 1-minute load average at the end "
        f"{load:.1f} (the machine is shared; ratios are per round, so shared load affects both sides). "
        f"{args.rounds} rounds. Weights: random, rescaled to unit variance per layer.\n"
        f"Command: `python3 benchmarks/tf_speed.py --size {args.size} --cnum {args.cnum} --rounds {args.rounds}"
        f"{' --onnx' if args.onnx else ''}{' --only-auto' if args.only_auto else ''}`\n\n"
        "| candidate | median s | speed-up vs eager fp32: median (per round) | PSNR vs eager fp32 (dB) |\n"
        "|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
