"""Back ends and precisions: every runtime computes what ``GMCNN.forward`` computes, within its tolerance."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from conftest import fill_inputs, signal_generator

from gmcnn.inpainting import backends as R
from gmcnn.models.gmcnn import GMCNNConfig


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR of two [-1, 1] predictions as 8-bit images."""
    a8, b8 = (((t.clamp(-1, 1) + 1) * 127.5).round() for t in (a, b))
    mse = ((a8 - b8) ** 2).mean().item()
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def test_bf16_is_faithful_on_a_photo(photo: np.ndarray) -> None:
    """The bar for ``"auto"`` on bf16 CPUs: within 40 dB PSNR of float32 (8-bit output)."""
    g = signal_generator(8, "reflect")
    image, mask = fill_inputs(photo, 256, 256)
    with torch.inference_mode():
        ref = g(image, mask)
    assert ref.std() > 0.3 and (ref.abs() > 0.999).float().mean() < 0.3
    out = R.build_runner(g, device="cpu", runtime="eager", precision="bf16")(image, mask)
    assert out.dtype == torch.float32
    assert 40.0 <= _psnr(out, ref) < float("inf")  # close, but really computed in bf16


def test_runner_contract_and_generator_untouched(photo: np.ndarray) -> None:
    g = signal_generator(4, "zeros")
    before = {k: v.clone() for k, v in g.state_dict().items()}
    image, mask = fill_inputs(photo, 64, 48, batch=3)
    image_copy, mask_copy = image.clone(), mask.clone()
    runner = R.build_runner(g, device="cpu", runtime="eager", precision="bf16")
    pred = runner(image, mask)
    assert pred.shape == (3, 3, 64, 48) and pred.dtype == torch.float32 and not pred.requires_grad
    assert pred.min() >= -1 and pred.max() <= 1
    assert torch.equal(image, image_copy) and torch.equal(mask, mask_copy)
    assert all(torch.equal(v, before[k]) and v.dtype == torch.float32 for k, v in g.state_dict().items())
    assert runner.generator is g and runner.device == torch.device("cpu")
    assert (runner.runtime, runner.precision) == ("eager", "bf16")


def test_fused_rejects_sizes_outside_the_contract() -> None:
    runner = R.build_runner(signal_generator(4, "reflect"), device="cpu", runtime="eager", precision="fp32")
    with pytest.raises(ValueError, match="multiples of 4"):
        runner(torch.zeros(1, 3, 198, 200), torch.zeros(1, 1, 198, 200))


@pytest.mark.parametrize("native_bf16,expected", [(True, "bf16"), (False, "fp32")])
def test_auto_resolves_per_cpu(monkeypatch: pytest.MonkeyPatch, native_bf16: bool, expected: str) -> None:
    monkeypatch.setattr(R, "cpu_has_native_bf16", lambda: native_bf16)
    cpu = torch.device("cpu")
    assert R.resolve_options("auto", "auto", cpu) == ("eager", expected)
    assert R.resolve_options("onnx", "auto", cpu) == ("onnx", "fp32")  # int8 is never chosen for you
    assert R.resolve_options("auto", "int8", cpu) == ("onnx", "int8")
    runner = R.build_runner(signal_generator(4, "zeros"), device="cpu")
    assert (runner.runtime, runner.precision) == ("eager", expected)


def test_auto_on_this_machine_is_a_concrete_valid_choice() -> None:
    runtime, precision = R.resolve_options("auto", "auto", torch.device("cpu"))
    assert runtime in R.RUNTIMES[1:] and precision in R.PRECISIONS[1:]


def test_cpu_flag_detection_reads_proc_cpuinfo() -> None:
    try:
        with open("/proc/cpuinfo") as fh:
            flags = fh.read()
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    assert R.cpu_has_native_bf16() == (" amx_bf16" in flags or " avx512_bf16" in flags)


@pytest.mark.parametrize(
    "runtime,precision,match",
    [
        ("tensorrt", "auto", r"unknown runtime 'tensorrt'; choose one of \['auto', 'eager', 'compile', 'onnx'\]"),
        ("auto", "fp8", r"unknown precision 'fp8'; choose one of \['auto', 'fp32', 'bf16', 'int8'\]"),
        ("eager", "int8", r"runtime 'eager' does not run precision 'int8'.*runs on runtime \['onnx'\]"),
        ("onnx", "bf16", r"runtime 'onnx' does not run precision 'bf16' \(it runs \['fp32', 'int8'\]\)"),
    ],
)
def test_bad_names_and_pairs_list_the_valid_ones(runtime: str, precision: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        R.build_runner(signal_generator(4, "zeros"), device="cpu", runtime=runtime, precision=precision)


def test_bad_device_is_explained() -> None:
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        R.resolve_device("gpu")


def test_memory_estimate_grows_with_size_and_precision(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(R, "cpu_has_native_bf16", lambda: True)
    cfg = GMCNNConfig()
    e256, e512, e1024 = (R.estimate_memory_bytes(cfg, h, h, precision="bf16") for h in (256, 512, 1024))
    assert e1024 - e512 == pytest.approx(4 * (e512 - e256), rel=1e-6)  # activations scale with pixels
    fp32 = R.estimate_memory_bytes(cfg, 2160, 3840, precision="fp32")
    bf16 = R.estimate_memory_bytes(cfg, 2160, 3840, precision="bf16")
    assert 1.8 * bf16 < fp32 and 5e9 < bf16 < 8e9  # 4K full-resolution: ~6.5 GB in bf16
    with pytest.raises(ValueError, match="known pairs"):
        R.estimate_memory_bytes(cfg, 256, 256, precision="bf16", runtime="onnx")
    # Without bf16 units oneDNN keeps fp32 copies around every conv: bf16 then needs more than fp32.
    monkeypatch.setattr(R, "cpu_has_native_bf16", lambda: False)
    assert R.estimate_memory_bytes(cfg, 2160, 3840, precision="bf16") > fp32


_PEAK_SCRIPT = textwrap.dedent(
    """
    import json, sys, torch
    from gmcnn.models.gmcnn import GMCNN, GMCNNConfig
    from gmcnn.inpainting.backends import build_runner

    def status(key):
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) * 1024 for line in fh if line.startswith(key))

    cnum, h, w, precision = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    runner = build_runner(GMCNN(GMCNNConfig(cnum=cnum)), device="cpu", runtime="eager", precision=precision)
    runner(torch.zeros(1, 3, 196, 196), torch.zeros(1, 1, 196, 196))  # load oneDNN kernels first
    base = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the peak (VmHWM) to the current RSS
    image, mask = torch.rand(1, 3, h, w) * 2 - 1, (torch.rand(1, 1, h, w) > 0.5).float()
    runner(image, mask)
    print(json.dumps({"peak": status("VmHWM") - base}))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_memory_estimate_covers_the_measured_peak(precision: str) -> None:
    """Peak RSS growth of one eager forward in a fresh process stays under the estimate, and not far under."""
    import json
    import os

    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("needs Linux /proc to measure peak memory")
    cnum, h, w = 16, 768, 640
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}  # freed maps go back to the OS, as at 4K sizes
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, str(cnum), str(h), str(w), precision],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    peak = json.loads(out.stdout.strip().splitlines()[-1])["peak"]
    estimate = R.estimate_memory_bytes(GMCNNConfig(cnum=cnum), h, w, precision=precision)
    assert 0.5 * estimate < peak <= estimate


@pytest.mark.slow
def test_compile_matches_eager(photo: np.ndarray) -> None:
    g = signal_generator(4, "zeros")
    image, mask = fill_inputs(photo, 40, 56)
    eager = R.build_runner(g, device="cpu", runtime="eager", precision="fp32")(image, mask)
    compiled = R.build_runner(g, device="cpu", runtime="compile", precision="fp32")
    assert (compiled.runtime, compiled.precision) == ("compile", "fp32")
    torch.testing.assert_close(compiled(image, mask), eager, atol=1e-4, rtol=0)
