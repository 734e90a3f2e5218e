"""`gmcnn bench`: latency, throughput, memory and training speed, each beside a reference measured in the same run.

What is measured (all on one synthetic photo-like image per size with one brush-stroke hole, fixed seed):

* **Dense-conv limit**: GFLOP/s of a 3x3, 128 -> 128 channel convolution on 128x128 maps — what this machine's
  PyTorch reaches on the most favourable layer. Model rows quote their GFLOP/s as a fraction of it. All GFLOP/s
  figures use the fastest counted call (on a shared machine the least disturbed one), the latencies p50/p95.
* **Latency** of one fill per size (256^2, 512^2, 1024^2, 12 MP = 4000x3000 by default), for each model
  (``default`` = the embedded model, ``full`` = the paper-size GMCNN, cnum 32, random weights — speed does not
  depend on the values): the whole :class:`gmcnn.Inpainter` call (its ``auto`` strategy, runtime and precision),
  and beside it the plain eager PyTorch fp32 forward of the same network on the whole padded image, with its
  GFLOP (:meth:`GMCNN.flops`) and GFLOP/s. Full-resolution eager forwards that would exceed the time budget
  (estimated from the conv limit) or half the free memory are skipped and say so. The classical baselines
  fill the same image and hole.
* **Batch throughput**: images/s of an eager fp32 forward of a batch at 256x256.
* **Training**: images/s of one stage-1 step (generator reconstruction loss, backward, Adam) and one stage-2
  step (``d_steps`` = 5 critic updates + one generator update with the adversarial term) at 256x256, with
  :mod:`gmcnn.training.steps`. ID-MRF is left out: it needs VGG19 weights, which gmcnn never downloads.
* **Peak RSS** of each measurement (the kernel's high-water mark is reset before each one on Linux).

Timing: the first call is a warm-up and is not counted unless it alone took longer than 10 s; then calls repeat
until ``--repeats`` or the per-measurement time budget is reached (at least one). p50 and p95 are over the
counted calls (with few calls p95 is close to the maximum).
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch
from PIL import Image

from gmcnn.data.masks import StrokeMask
from gmcnn.errors import UserError
from gmcnn.evaluation.baselines import baseline_names, get_baseline
from gmcnn.evaluation.evaluate import machine_description
from gmcnn.files import atomic_write
from gmcnn.inpainting.options import FillResult
from gmcnn.models.gmcnn import GMCNN, GMCNNConfig

DEFAULT_SIZES: Final = "256,512,1024,12mp"
DEFAULT_MODELS: Final = "default,full"
SLOW_WARMUP_S: Final = 10.0  # a first call this slow is counted: warm-up effects are small next to it
CONV_SHAPE: Final = (128, 128, 128)  # channels in = out, height, width of the reference convolution
TRAIN_SIZE: Final = 256
HOLE: Final = StrokeMask(parts=(1, 3), max_vertices=8)  # a user's few brush strokes; ~5-15 % of the image


@dataclass
class Timing:
    """Wall seconds of the counted calls and the peak RSS (bytes) during the measurement."""

    seconds: list[float]
    peak_rss: int | None

    @property
    def p50(self) -> float:
        return float(np.percentile(self.seconds, 50))

    @property
    def p95(self) -> float:
        return float(np.percentile(self.seconds, 95))

    @property
    def best(self) -> float:
        return min(self.seconds)


@dataclass
class Row:
    """One line of a result table."""

    section: str  # "conv", "latency", "batch" or "train"
    method: str
    what: str
    size: str = ""
    timing: Timing | None = None
    gflop: float | None = None  # per call
    images: int = 1  # per call
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def gflops(self) -> float | None:
        """GFLOP/s of the fastest call: on a shared machine the least disturbed one is closest to the truth."""
        return self.gflop / self.timing.best if self.gflop and self.timing else None


# ------------------------------------------------------------------------------------------------ measuring
def _reset_peak_rss() -> bool:
    """Reset the kernel's resident-set high-water mark (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_rss() -> int | None:
    """The resident-set high-water mark in bytes (Linux), else None."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def measure(fn: Callable[[], object], *, repeats: int, budget: float, sync: Callable[[], None]) -> Timing:
    """Time ``fn`` (see the module docstring for warm-up and stopping rules)."""
    reset = _reset_peak_rss()

    def timed() -> float:
        start = time.perf_counter()
        fn()
        sync()
        return time.perf_counter() - start

    first = timed()
    seconds = [first] if first > SLOW_WARMUP_S else []
    spent = first
    while len(seconds) < repeats and (not seconds or spent < budget):
        seconds.append(timed())
        spent += seconds[-1]
    return Timing(seconds, _peak_rss() if reset else None)


def _no_sync() -> None:
    """CPU work (and every fill that returns a numpy array) is finished when the call returns."""


def _sync_for(device: torch.device) -> Callable[[], None]:
    return torch.cuda.synchronize if device.type == "cuda" else _no_sync


# ------------------------------------------------------------------------------------------------- inputs
def parse_sizes(text: str) -> list[tuple[str, int, int]]:
    """``"256,512,12mp,640x480"`` -> [(label, height, width)]; N = NxN, NNmp = 4:3 landscape, WxH as given."""
    out = []
    for token in (t.strip().lower() for t in text.split(",") if t.strip()):
        try:
            if token.endswith("mp"):
                mp = float(token[:-2])
                h = int(round((mp * 1e6 * 3 / 4) ** 0.5 / 4)) * 4
                w = h * 4 // 3 // 4 * 4
                out.append((f"{token.upper()} ({w}x{h})", h, w))
            elif "x" in token:
                w, h = (int(v) for v in token.split("x"))
                out.append((f"{w}x{h}", h, w))
            else:
                out.append((f"{int(token)}x{int(token)}", int(token), int(token)))
        except ValueError:
            raise UserError(f"bad size {token!r}: use N (square), WxH or Nmp (4:3), e.g. 256,512,1024,12mp") from None
    if not out or min(min(h, w) for _, h, w in out) < 16:
        raise UserError(f"sizes must be at least 16 px, got {text!r}")
    return out


def test_image(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A photo-like uint8 RGB image: smooth colour fields plus fine noise (content barely matters for speed)."""
    coarse = rng.integers(0, 256, size=(max(2, height // 64), max(2, width // 64), 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16)
    noise = rng.integers(-12, 13, size=(height, width, 1), dtype=np.int16)
    return np.clip(smooth + noise, 0, 255).astype(np.uint8)


def stroke_hole(height: int, width: int, seed: int) -> np.ndarray:
    """The benchmark's brush-stroke hole (bool, True = hole); the same strokes, scaled, at every size."""
    mask, _ = HOLE(height, width, np.random.default_rng(seed))
    return mask


# ----------------------------------------------------------------------------------------------- sections
def conv_limit(device: torch.device, *, repeats: int, budget: float) -> Row:
    """GFLOP/s of a dense 3x3 conv (the reference every model row is compared with)."""
    c, h, w = CONV_SHAPE
    x = torch.randn(1, c, h, w, device=device)
    weight = torch.randn(c, c, 3, 3, device=device)

    def run() -> None:
        with torch.inference_mode():
            torch.nn.functional.conv2d(x, weight, padding=1)

    timing = measure(run, repeats=max(repeats, 5), budget=budget, sync=_sync_for(device))
    return Row("conv", "conv2d 3x3", f"{c}->{c} ch, {h}x{w}, fp32", timing=timing, gflop=2 * 9 * c * c * h * w / 1e9)


@dataclass(frozen=True)
class BenchModel:
    label: str
    inpainter: Any  # gmcnn.Inpainter


def load_models(spec: str, *, device: str, runtime: str, precision: str) -> list[BenchModel]:
    """``default`` / ``full`` / any name or path ``Inpainter.from_pretrained`` accepts, comma-separated."""
    from gmcnn.inpainting.pipeline import Inpainter

    models = []
    for name in (n.strip() for n in spec.split(",") if n.strip()):
        if name == "full":
            torch.manual_seed(0)
            generator = GMCNN(GMCNNConfig())
            inp = Inpainter.from_generator(generator, device=device, runtime=runtime, precision=precision, name="full")
            models.append(BenchModel("full (cnum 32)", inp))
        else:
            inp = Inpainter.from_pretrained(name, device=device, runtime=runtime, precision=precision)
            models.append(BenchModel(f"{Path(name).name} (cnum {inp.generator.config.cnum})", inp))
    return models


def _padded(size: int, cfg: GMCNNConfig) -> int:
    m = cfg.size_multiple
    return max(cfg.min_size, -(-size // m) * m)


def _free_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def eager_forward(model: BenchModel, batch: int, height: int, width: int) -> tuple[Callable[[], object], float]:
    """A closure running the plain fp32 ``GMCNN.forward`` on zero-padded inputs, and its GFLOP per call."""
    generator = model.inpainter.generator
    cfg = generator.config
    hp, wp = _padded(height, cfg), _padded(width, cfg)
    device = next(generator.parameters()).device
    image = torch.rand(batch, 3, hp, wp, device=device) * 2 - 1
    mask = torch.zeros(batch, 1, hp, wp, device=device)
    mask[..., hp // 4 : hp // 2, wp // 4 : wp // 2] = 1.0

    def run() -> None:
        with torch.inference_mode():
            generator(image, mask)

    return run, batch * GMCNN.flops(hp, wp, cfg.cnum) / 1e9


def _fill_into(results: list[FillResult], inpainter: Any, image: np.ndarray, hole: np.ndarray) -> None:
    results.append(inpainter.fill(image, hole))


def latency_rows(
    models: Sequence[BenchModel],
    baselines: Sequence[str],
    sizes: Sequence[tuple[str, int, int]],
    *,
    conv_gflops: float,
    repeats: int,
    budget: float,
    seed: int,
    progress: Callable[[str], None],
) -> list[Row]:
    rows = []
    for label, h, w in sizes:
        image = test_image(h, w, np.random.default_rng(seed))
        hole = stroke_hole(h, w, seed)
        note = f"hole {hole.mean():.1%}"
        for model in models:
            inp = model.inpainter
            progress(f"{label}: {model.label} Inpainter")
            last: list[FillResult] = []  # the measured calls' own result: what ran
            call = functools.partial(_fill_into, last, inp, image, hole)
            timing = measure(call, repeats=repeats, budget=budget, sync=_no_sync)
            info = last[-1].info()
            what = f"Inpainter {info['strategy']} ({info['windows']} win), {info['runtime']} {info['precision']}"
            rows.append(Row("latency", model.label, what, label, timing, note=note))
            run, gflop = eager_forward(model, 1, h, w)
            cfg = inp.generator.config
            need = _padded(h, cfg) * _padded(w, cfg) * 4 * 16 * cfg.cnum  # widest activations, a few alive at once
            free = _free_memory_bytes()
            estimate = gflop / conv_gflops
            why = ""
            if estimate > budget:
                why = f"skipped: ~{estimate:.0f} s at the conv limit > {budget:g} s budget"
            elif free is not None and need > free / 2:
                why = f"skipped: needs ~{need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free"
            if why:
                rows.append(Row("latency", model.label, "eager fp32 forward, full image", label, gflop=gflop, note=why))
                continue
            progress(f"{label}: {model.label} eager")
            timing = measure(run, repeats=repeats, budget=budget, sync=_sync_for(inp.runner.device))
            rows.append(Row("latency", model.label, "eager fp32 forward, full image", label, timing, gflop=gflop))
        for name in baselines:
            fill = get_baseline(name)
            progress(f"{label}: {name}")
            timing = measure(functools.partial(fill, image, hole), repeats=repeats, budget=budget, sync=_no_sync)
            rows.append(Row("latency", name, "baseline", label, timing, note=note))
    return rows


def batch_rows(models: Sequence[BenchModel], *, batch: int, repeats: int, budget: float) -> list[Row]:
    rows = []
    for model in models:
        run, gflop = eager_forward(model, batch, TRAIN_SIZE, TRAIN_SIZE)
        timing = measure(run, repeats=repeats, budget=budget, sync=_sync_for(model.inpainter.runner.device))
        what = f"eager fp32 forward, batch {batch}"
        rows.append(Row("batch", model.label, what, f"{TRAIN_SIZE}x{TRAIN_SIZE}", timing, gflop=gflop, images=batch))
    return rows


def train_steps(model: BenchModel, *, batch: int, rng: np.random.Generator) -> tuple[Callable[[], None], ...]:
    """Closures running one stage-1 and one stage-2 step on a trainable copy of the model's generator.

    The TrainConfig defaults are the paper recipe (WGAN-GP, crop critic, 5 critic updates per generator update).
    """
    from gmcnn.data.datasets import Sample
    from gmcnn.data.masks import RectMask
    from gmcnn.models.discriminator import Discriminator
    from gmcnn.training.config import TrainConfig
    from gmcnn.training.steps import discriminator_step, generator_step

    source = model.inpainter.generator
    device = next(source.parameters()).device
    g = copy.deepcopy(source).train()
    cfg = TrainConfig(image_size=TRAIN_SIZE, cnum=g.config.cnum, pad_mode=g.config.pad_mode, batch_size=batch)
    masks, boxes = zip(*(RectMask()(TRAIN_SIZE, TRAIN_SIZE, rng) for _ in range(batch)), strict=True)
    image = torch.rand(batch, 3, TRAIN_SIZE, TRAIN_SIZE, device=device) * 2 - 1  # (B, 3, H, W) in [-1, 1]
    mask = torch.from_numpy(np.stack(masks).astype(np.float32))[:, None].to(device)  # (B, 1, H, W), 1 = hole
    sample = Sample(image, mask, torch.tensor(boxes, device=device))
    d = Discriminator(image_size=TRAIN_SIZE, width=cfg.d_cnum, local=cfg.local_critic).to(device).train()
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.d_lr, betas=(cfg.beta1, cfg.beta2))

    def update(loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def stage1() -> None:
        update(generator_step(g, sample, cfg)[0], opt_g)

    def stage2() -> None:
        for _ in range(cfg.d_steps):
            update(discriminator_step(d, g, sample, cfg)[0], opt_d)
        update(generator_step(g, sample, cfg, critic=d)[0], opt_g)

    return stage1, stage2


def train_rows(models: Sequence[BenchModel], *, batch: int, repeats: int, budget: float) -> list[Row]:
    """Images/s of a stage-1 and a stage-2 training step at 256x256 for each model's architecture."""
    from gmcnn.training.config import TrainConfig

    recipe = TrainConfig()
    rows = []
    rng = np.random.default_rng(0)
    size = f"{TRAIN_SIZE}x{TRAIN_SIZE}"
    for model in models:
        stage1, stage2 = train_steps(model, batch=batch, rng=rng)
        sync = _sync_for(model.inpainter.runner.device)
        for fn, what in (
            (stage1, f"stage 1: G step (reconstruction), batch {batch}"),
            (stage2, f"stage 2: {recipe.d_steps} D steps ({recipe.gan_loss}) + G step (+adversarial), batch {batch}"),
        ):
            timing = measure(fn, repeats=repeats, budget=budget, sync=sync)
            rows.append(Row("train", model.label, what, size, timing, images=batch, note="no ID-MRF"))
    return rows


# ------------------------------------------------------------------------------------------------ reporting
def _mib(value: int | None) -> str:
    return "" if value is None else f"{value / 2**20:.0f}"


def _table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])


def _cells(row: Row, conv_gflops: float) -> list[str]:
    t = row.timing
    rate = row.gflops()
    return [
        f"{t.p50:.3f}" if t else "",
        f"{t.p95:.3f}" if t else "",
        str(len(t.seconds)) if t else "0",
        f"{row.gflop:.1f}" if row.gflop else "",
        f"{rate:.1f}" if rate else "",
        f"{rate / conv_gflops:.0%}" if rate else "",
        _mib(t.peak_rss) if t else "",
    ]


def report_markdown(rows: Sequence[Row], *, header: str) -> str:
    """All tables as markdown."""
    conv = next(r for r in rows if r.section == "conv")
    peak = conv.gflops() or 0.0
    stats = ["p50 s", "p95 s", "runs", "GFLOP", "GFLOP/s (best)", "of conv limit", "peak RSS MiB"]
    parts = [header, "", "## Dense-conv limit", ""]
    parts.append(_table(["kernel", "shape", *stats], [[conv.method, conv.what, *_cells(conv, peak)]]))
    latency = [r for r in rows if r.section == "latency"]
    if latency:
        body = [[r.size, r.method, r.what, *_cells(r, peak), r.note] for r in latency]
        parts += ["", "## Latency of one fill", "", _table(["size", "method", "what runs", *stats, "note"], body)]
    batch = [r for r in rows if r.section == "batch"]
    if batch:
        body = [[r.size, r.method, r.what, *_cells(r, peak), _per_second(r)] for r in batch]
        parts += ["", "## Batch throughput", "", _table(["size", "model", "what runs", *stats, "images/s"], body)]
    train = [r for r in rows if r.section == "train"]
    if train:
        body = [[r.size, r.method, r.what, *_cells(r, peak)[:3], _mib(r.timing.peak_rss if r.timing else None),
                 _per_second(r), r.note] for r in train]  # fmt: skip
        head = ["size", "model", "step", "p50 s", "p95 s", "runs", "peak RSS MiB", "images/s", "note"]
        parts += ["", "## Training steps", "", _table(head, body)]
    return "\n".join(parts) + "\n"


def _per_second(row: Row) -> str:
    return f"{row.images / row.timing.p50:.2f}" if row.timing else ""


def plot(rows: Sequence[Row], path: Path) -> None:
    """Latency (p50) against megapixels per method, and model GFLOP/s against the conv limit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    latency = [r for r in rows if r.section == "latency" and r.timing]
    kind = {"Inpainter": "Inpainter", "eager": "eager fp32", "baseline": "baseline"}  # strategies vary by size

    def line(r: Row) -> tuple[str, str]:
        return r.method, kind.get(r.what.split()[0], r.what)

    for key in dict.fromkeys(line(r) for r in latency):
        pts = [r for r in latency if line(r) == key]
        p50 = [r.timing.p50 for r in pts if r.timing]
        ax1.plot([_megapixels(r.size) for r in pts], p50, "o-", label=f"{key[0]}: {key[1]}")
    ax1.set(xscale="log", yscale="log", xlabel="megapixels", ylabel="p50 latency (s)", title="one fill")
    ax1.legend(fontsize=7)
    ax1.grid(True, which="both", alpha=0.3)
    conv = next(r for r in rows if r.section == "conv")
    rated = [r for r in rows if r.gflops() and r.section != "conv"]
    labels = [f"{r.method}\n{r.size} {r.section}" for r in rated]
    ax2.barh(labels, [r.gflops() for r in rated])
    ax2.axvline(conv.gflops() or 0.0, color="red", linestyle="--", label="dense 3x3 conv limit")
    ax2.set(xlabel="GFLOP/s", title="achieved throughput (eager fp32)")
    ax2.tick_params(axis="y", labelsize=7)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _megapixels(label: str) -> float:
    dims = label.split("(")[-1].rstrip(")") if "(" in label else label
    w, h = (int(v) for v in dims.split("x"))
    return w * h / 1e6


# ---------------------------------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", default=DEFAULT_MODELS, help="default, full, names or paths (default: %(default)s)")
    parser.add_argument(
        "--baselines",
        default=",".join(baseline_names()),
        help="classical fills to time beside the models, or 'none' (default: %(default)s)",
    )
    parser.add_argument("--sizes", help=f"fill sizes: N, WxH or Nmp (default {DEFAULT_SIZES}; --quick: 256)")
    parser.add_argument("--repeats", type=int, help="counted calls per measurement (default 5; --quick: 2)")
    parser.add_argument(
        "--budget", type=float, help="seconds per measurement before repeats stop (default 60; --quick: 10)"
    )
    parser.add_argument("--batch", type=int, help="batch for throughput and training (default 4; --quick: 1)")
    parser.add_argument("--quick", action="store_true", help="small defaults for a smoke run (see the other flags)")
    parser.add_argument("--no-train", action="store_true", help="skip the training-step measurements")
    parser.add_argument("--device", default="auto", help="device for models: auto, cpu, cuda (default auto)")
    parser.add_argument("--runtime", default="auto", help="Inpainter runtime (default auto)")
    parser.add_argument("--precision", default="auto", help="Inpainter precision (default auto)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the test image and hole (default 0)")
    parser.add_argument("--out", help="folder for speed.md, speed.json and speed.png")


def run(args: argparse.Namespace) -> int:
    sizes = parse_sizes(args.sizes or ("256" if args.quick else DEFAULT_SIZES))
    repeats = args.repeats or (2 if args.quick else 5)
    budget = args.budget or (10.0 if args.quick else 60.0)
    batch = args.batch or (1 if args.quick else 4)
    if repeats < 1 or budget <= 0 or batch < 1:
        raise UserError("--repeats and --batch must be >= 1 and --budget > 0")
    baselines = [] if args.baselines.strip() == "none" else [b.strip() for b in args.baselines.split(",") if b.strip()]
    for name in baselines:
        get_baseline(name)  # fail before the long measurements, with the list of known names
    models = load_models(args.models, device=args.device, runtime=args.runtime, precision=args.precision)

    def progress(text: str) -> None:
        print(f"[bench] {text}", flush=True)

    device = models[0].inpainter.runner.device if models else torch.device("cpu")
    progress("dense-conv limit")
    rows = [conv_limit(device, repeats=repeats, budget=budget)]
    conv_gflops = rows[0].gflops() or 1.0
    rows += latency_rows(
        models, baselines, sizes, conv_gflops=conv_gflops, repeats=repeats, budget=budget, seed=args.seed,
        progress=progress,
    )  # fmt: skip
    progress("batch throughput")
    rows += batch_rows(models, batch=batch, repeats=repeats, budget=budget)
    if not args.no_train:
        progress("training steps")
        rows += train_rows(models, batch=batch, repeats=repeats, budget=budget)
    header = (
        f"# gmcnn bench\n\nMachine: {machine_description()}; device {device}. Repeats {repeats}, budget {budget:g} s "
        f"per measurement, seed {args.seed}."
    )
    text = report_markdown(rows, header=header)
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(out / "speed.md", lambda tmp: tmp.write_text(text))
        data = json.dumps([asdict(r) for r in rows], indent=1, default=str) + "\n"
        atomic_write(out / "speed.json", lambda tmp: tmp.write_text(data))
        plot(rows, out / "speed.png")
    return 0


__all__ = ["Row", "Timing", "add_arguments", "measure", "parse_sizes", "report_markdown", "run", "stroke_hole"]
