"""`gmcnn eval`: run fill methods over a protocol's case set and report the metrics.

Methods are named on the command line by spec (:mod:`gmcnn.evaluation.methods`): ``NAME[:key=value,...]``, a
baseline (``telea``, ``ns``, ``biharmonic``, ``pushpull``, ``patchmatch``) or anything
:meth:`gmcnn.Inpainter.from_pretrained` loads, with any :class:`~gmcnn.inpainting.options.FillOptions` field set.

Output folder::

    cases/                 the case set (unless --data already was one), see gmcnn.evaluation.protocol
    fills/METHOD/ID.png    every fill, so other tools (LPIPS, FID, viewers) can reuse them
    results.csv            one row per case and method: every metric of gmcnn.evaluation.metrics, the per-case
                           realism measures of gmcnn.evaluation.realism (swd_hole, grad_ratio_hole) + seconds
    pooled.csv             per method (and coverage bin): hole SWD and gradient-energy ratio pooled over the cases
    summary.md             mean per method (per coverage bin too; SWD and gradient ratio pooled), with the
                           definitions and the machine
    contact_sheet_N.png    input | each method | target, 8 cases a sheet, for the first 16 cases

LPIPS and FID are not computed: both need pretrained backbone weights, which gmcnn never downloads; the
saved fills and cases are laid out for running them with other tools.
"""

from __future__ import annotations

import csv
import io
import math
import os
import platform
import sys
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gmcnn.evaluation import metrics, realism
from gmcnn.evaluation.methods import DEFAULT_METHODS, Method, load_methods
from gmcnn.evaluation.protocol import CaseSet, write_png
from gmcnn.files import atomic_write

SHEET_ROWS: Final = 8
SHEET_CASES: Final = 16
# (column title, metric key, scale for display, digits, higher is better; None: closest to 1 is best)
COLUMNS: Final[tuple[tuple[str, str, float, int, bool | None], ...]] = (
    ("PSNR", "psnr", 1.0, 2, True),
    ("SSIM", "ssim", 1.0, 4, True),
    ("L1 %", "l1", 100.0, 2, False),
    ("hole PSNR", "psnr_hole", 1.0, 2, True),
    ("hole SSIM", "ssim_hole", 1.0, 4, True),
    ("hole L1 %", "l1_hole", 100.0, 2, False),
    ("SSIM (skimage)", "ssim_skimage", 1.0, 4, True),
    ("hole SSIM (skimage)", "ssim_skimage_hole", 1.0, 4, True),
    ("hole SWD", "swd_hole", 1.0, 3, False),
    ("grad ratio", "grad_ratio_hole", 1.0, 2, None),
)
BIN_METRICS: Final = ("psnr_hole", "ssim", "ssim_hole", "l1_hole", "swd_hole")
# Case fields the summary splits by when they vary (one table per BIN_METRICS key), and their pooled.csv prefix.
GROUPS: Final = (("bin", "hole coverage", ""), ("mask_type", "mask type", "mask="), ("kind", "scene kind", "kind="))
POOLED: Final = realism.REALISM_NAMES  # summary columns that are pooled over cases, not means of per-case values


@dataclass
class Evaluation:
    """What :func:`evaluate` measured: one row per (case, method) and each method's pooled realism patches."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    pools: dict[str, realism.RealismPool] = field(default_factory=dict)

    def pooled(self, method: str, key: str, cases: Collection[str] | None = None) -> float:
        """A pooled realism value (``swd_hole`` or ``grad_ratio_hole``) of ``method``, over some cases or all."""
        pool = self.pools[method]
        return pool.swd(cases) if key == "swd_hole" else pool.grad_ratio(cases)


def evaluate(cases: CaseSet, methods: Sequence[Method], out: str | Path, *, progress: bool = True) -> Evaluation:
    """Fill every case with every method, save the fills, and return the per-case rows and pooled patches."""
    from tqdm import tqdm

    out = Path(out)
    result = Evaluation(pools={m.label: realism.RealismPool() for m in methods})
    rows = result.rows
    sheet: list[tuple[np.ndarray, np.ndarray, list[np.ndarray]]] = []
    bar = tqdm(total=len(cases.cases) * len(methods), unit="fill", desc=f"eval {cases.protocol}", disable=not progress)
    for index, case in enumerate(cases.cases):
        target, hole = case.image(), case.mask()
        masked = target.copy()
        masked[hole] = 255  # the input as a user sees it: the hole painted white
        fills = []
        for method in methods:
            start = time.perf_counter()
            filled = np.asarray(method.fill(masked, hole))
            seconds = time.perf_counter() - start
            if filled.shape != target.shape or filled.dtype != np.uint8:
                raise RuntimeError(
                    f"{method.label} returned {filled.dtype} {filled.shape}, expected uint8 {target.shape}"
                )
            write_png(out / "fills" / method.label / f"{case.id}.png", filled)
            rows.append(
                {
                    "case": case.id,
                    "bin": case.bin,
                    "mask_type": case.mask_type,
                    "kind": case.kind,
                    "coverage": case.coverage,
                    "method": method.label,
                    **metrics.all_metrics(filled, target, hole),
                    **result.pools[method.label].add(filled, target, hole, key=case.id),
                    "seconds": seconds,
                }
            )
            fills.append(filled)
            bar.update(1)
        if index < SHEET_CASES:
            sheet.append((masked, target, fills))
    bar.close()
    write_csv(out / "results.csv", rows)
    write_pooled_csv(out / "pooled.csv", result, [m.label for m in methods])
    for n, start in enumerate(range(0, len(sheet), SHEET_ROWS), 1):
        contact_sheet(sheet[start : start + SHEET_ROWS], [m.label for m in methods]).save(
            out / f"contact_sheet_{n}.png"
        )
    return result


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write the per-case rows (atomically)."""
    buf = io.StringIO()
    fields = ["case", "bin", "mask_type", "kind", "coverage", "method", *metrics.METRIC_NAMES,
              *realism.REALISM_NAMES, "seconds"]  # fmt: skip
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    text = buf.getvalue()
    atomic_write(path, lambda tmp: tmp.write_text(text))


def groups(rows: list[dict[str, Any]], field: str) -> dict[str, set[str]]:
    """Value of a case field (``bin``, ``mask_type``, ``kind``) -> the cases with it, in first-seen order."""
    out: dict[str, set[str]] = {}
    for r in rows:
        out.setdefault(str(r.get(field, "")), set()).add(r["case"])
    return out


def write_pooled_csv(path: Path, result: Evaluation, methods: list[str]) -> None:
    """One row per method and group: ``all`` (every case), each coverage bin, then ``mask=TYPE`` and ``kind=KIND``
    where those vary; the pooled hole SWD and gradient-energy ratio."""
    selections: dict[str, set[str] | None] = {"all": None}
    for name, _title, prefix in GROUPS:
        found = groups(result.rows, name)
        if len(found) > 1:
            selections.update({prefix + value: cases for value, cases in found.items()})
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["method", "bin", "cases", *POOLED])
    for m in methods:
        for label, cases in selections.items():
            n = sum(1 for r in result.rows if r["method"] == m and (cases is None or r["case"] in cases))
            writer.writerow([m, label, n, *(f"{result.pooled(m, key, cases):.6g}" for key in POOLED)])
    text = buf.getvalue()
    atomic_write(path, lambda tmp: tmp.write_text(text))


def contact_sheet(rows: list[tuple[np.ndarray, np.ndarray, list[np.ndarray]]], labels: list[str]) -> Image.Image:
    """A grid: one row per case, columns input (hole in white) | each method | target, titled on top."""
    h, w = rows[0][0].shape[:2]
    titles = ["input", *labels, "target"]
    gap, head = 4, 20
    sheet = Image.new("RGB", (len(titles) * (w + gap) - gap, head + len(rows) * (h + gap) - gap), "white")
    draw = ImageDraw.Draw(sheet)
    # Pillow's bitmap font: its scalable default (Pillow >= 10.1) has no ':' glyph, and method specs have one
    font = getattr(ImageFont, "load_default_imagefont", ImageFont.load_default)()
    for col, title in enumerate(titles):
        draw.text((col * (w + gap) + 4, 4), title, fill="black", font=font)
    for r, (masked, target, fills) in enumerate(rows):
        for col, tile in enumerate([masked, *fills, target]):
            sheet.paste(Image.fromarray(tile), (col * (w + gap), head + r * (h + gap)))
    return sheet


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def _fmt(value: float, scale: float, digits: int) -> str:
    return "inf" if math.isinf(value) else f"{value * scale:.{digits}f}"


def _table(header: list[str], body: list[list[str]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def _bold_best(cells: list[str], values: list[float], higher: bool | None) -> list[str]:
    finite = [v for v in values if not math.isnan(v)]
    if len(finite) < 2:
        return cells
    if higher is None:  # a ratio to the truth: closest to 1 is best
        best = min(finite, key=lambda v: abs(math.log(v)) if v > 0 else math.inf)
    else:
        best = max(finite) if higher else min(finite)
    return [f"**{c}**" if v == best else c for c, v in zip(cells, values, strict=True)]


def _value(
    rows: list[dict[str, Any]], method: str, key: str, result: Evaluation | None, cases: set[str] | None
) -> float:
    """The table value over ``cases`` (all when None): pooled for the realism keys when ``result`` has them, else
    the mean over the rows."""
    if result is not None and key in POOLED and method in result.pools:
        return result.pooled(method, key, cases)
    mine = [r for r in rows if r["method"] == method and (cases is None or r["case"] in cases) and key in r]
    return _mean([r[key] for r in mine])


def summary_table(rows: list[dict[str, Any]], methods: list[str], result: Evaluation | None = None) -> str:
    """Every metric per method (best value per column in bold), plus the number of cases and s/fill.

    Means over cases, except hole SWD and the gradient ratio, which are pooled over the cases when ``result``
    (with its patch pools) is given.
    """
    by_method = {m: [r for r in rows if r["method"] == m] for m in methods}
    columns = []
    for _title, key, scale, digits, higher in COLUMNS:
        values = [_value(rows, m, key, result, None) for m in methods]
        columns.append(_bold_best([_fmt(v, scale, digits) for v in values], values, higher))
    body = []
    for i, m in enumerate(methods):
        seconds = _mean([r["seconds"] for r in by_method[m]])
        body.append([m, str(len(by_method[m])), *(col[i] for col in columns), f"{seconds:.3f}"])
    return _table(["method", "n", *(c[0] for c in COLUMNS), "s / fill"], body)


def group_table(
    rows: list[dict[str, Any]], methods: list[str], field: str, key: str, result: Evaluation | None = None
) -> str:
    """One metric per method (rows) and value of a case field (columns: coverage bin, mask type or scene kind);
    realism keys pooled per column with ``result``."""
    title, scale, digits, higher = next((t, s, d, hb) for t, k, s, d, hb in COLUMNS if k == key)
    found = groups(rows, field)
    grid = [[_value(rows, m, key, result, cases) for cases in found.values()] for m in methods]
    cols = [
        _bold_best([_fmt(g[j], scale, digits) for g in grid], [g[j] for g in grid], higher) for j in range(len(found))
    ]
    body = [[m, *(cols[j][i] for j in range(len(found)))] for i, m in enumerate(methods)]
    by = next(t for f, t, _ in GROUPS if f == field)
    return f"**{title}** by {by}\n\n" + _table(["method", *found], body)


def summary_markdown(
    rows: list[dict[str, Any]], cases: CaseSet, methods: list[str], result: Evaluation | None = None
) -> str:
    """The whole summary.md: parameters, the main table, per-bin tables, definitions and the machine."""
    parts = [
        f"# gmcnn eval: `{cases.protocol}`",
        "",
        f"{len(cases.cases)} cases ({cases.num} crops of {cases.size}x{cases.size}, seed {cases.seed}) from "
        f"`{cases.source}`; case set `{cases.root}`.",
        "",
        summary_table(rows, methods, result),
    ]
    for name, _title, _prefix in GROUPS:
        if len(groups(rows, name)) > 1:
            for key in BIN_METRICS:
                parts += ["", group_table(rows, methods, name, key, result)]
    parts += [
        "",
        "Means over cases; best per column in bold. PSNR: MATLAB `psnr` (peak 255, MSE over pixels x RGB). "
        "SSIM: MATLAB `ssim` defaults on the RGB array as a 3-D volume (11x11x11 Gaussian, sigma 1.5, replicate "
        "padding, K1 0.01, K2 0.03, mean of the full map), the GMCNN paper's setting. SSIM (skimage): "
        "`structural_similarity(channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, "
        'data_range=255)`, per-channel 2-D. L1: mean |difference| / 255, in percent. "hole" columns use only '
        "the hole pixels (SSIM: mean of the SSIM map over them). The input given to every method has the hole "
        "painted white; s / fill is wall time per call, including pre- and post-processing.",
        "",
        "Realism (`gmcnn.evaluation.realism`), pooled over all cases of the table (or bin): hole SWD = sliced "
        "Wasserstein distance between the 7x7 RGB patches of a 3-level Laplacian pyramid centred in the hole of "
        "the fills and of the truth (at most 1024 per level and case, the same places for both), each dimension "
        "normalised by the truth's mean and std, 512 random unit projections, 256 quantiles matched, W1 averaged "
        "over projections and levels, seed 0; 0 = the truth's patch statistics, lower is more realistic. grad "
        "ratio = the fills' summed squared hole gradients / the truth's (1 = the truth's detail; best = closest "
        "to 1). results.csv has per-case values of both, pooled.csv the pooled ones.",
        "",
        "LPIPS and FID: not computed (they need pretrained backbone weights, which gmcnn never downloads). The "
        "fills are saved under `fills/` for tools that have them.",
        "",
        f"Machine: {machine_description()}.",
    ]
    return "\n".join(parts) + "\n"


def machine_description() -> str:
    """One line: CPU model, logical cores, OS, Python, and torch's threads when torch is loaded."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    text = f"{cpu}, {os.cpu_count()} logical cores, {system}, Python {platform.python_version()}"
    torch = sys.modules.get("torch")
    if torch is not None:
        text += f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
    return text


__all__ = [
    "DEFAULT_METHODS",
    "Evaluation",
    "Method",
    "contact_sheet",
    "evaluate",
    "load_methods",
    "summary_markdown",
]
