"""``gmcnn study score``: how often A was preferred to B, with 95 % intervals, beside the metrics of both.

The rate is the share of judged pairs whose chosen fill is A's; its interval is the **Wilson score interval**
at 95 % (z = 1.95996), which keeps to [0, 1] and holds its coverage on the few dozen pairs of a study, where
the normal (Wald) interval does not. Rates are given over all pairs, per mask type, per coverage bin (for
protocols with bins) and per scene kind, and again for the judgements made with at least "clear" confidence.

The metrics table beside it is computed from the saved fills on the same cases (all pairs of the study,
judged or not): mean hole PSNR and mean SSIM (:mod:`gmcnn.evaluation.metrics`, MATLAB's definitions) and the
hole SWD pooled over the group's cases (:mod:`gmcnn.evaluation.realism`), as ``gmcnn eval`` reports them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import Image

from gmcnn.evaluation import metrics, realism
from gmcnn.evaluation.study import CONFIDENCE, ROLES, Judgement, PairKey, Study

Z95: Final = 1.959963984540054  # the standard normal's 97.5 % point
CLEAR: Final = 2  # "at least clear": confidence 2 (clear) or 3 (obvious)


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion ``k / n``; ``(nan, nan)`` when ``n`` is 0."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def groups(pairs: Sequence[PairKey]) -> dict[str, list[str]]:
    """Row label -> pair numbers: ``all``, then per mask type, coverage bin and scene kind (each when it varies)."""
    out: dict[str, list[str]] = {"all": [p.pair for p in pairs]}
    for field in ("mask", "bin", "kind"):
        values = list(dict.fromkeys(getattr(p, field) for p in pairs))
        if len(values) < 2:  # one value: the row would repeat "all"
            continue
        for v in values:
            out[f"{field}: {v or '?'}"] = [p.pair for p in pairs if getattr(p, field) == v]
    return out


@dataclass(frozen=True)
class Tally:
    """Judged pairs and A's wins among them, at any confidence and at >= clear."""

    judged: int
    a: int
    judged_clear: int
    a_clear: int


def tally(judgements: Sequence[Judgement], key: dict[str, PairKey], pairs: Sequence[str]) -> Tally:
    """Count the judgements of ``pairs``."""
    wanted = set(pairs)
    mine = [j for j in judgements if j.pair in wanted]
    wins = [key[j.pair].preferred(j.choice) == "A" for j in mine]
    clear = [w for j, w in zip(mine, wins, strict=True) if j.confidence >= CLEAR]
    return Tally(len(mine), sum(wins), len(clear), sum(clear))


def _rate(k: int, n: int) -> list[str]:
    if n == 0:
        return [str(n), "0", "–", "–"]
    low, high = wilson_interval(k, n)
    return [str(n), str(k), f"{100 * k / n:.1f} %", f"{100 * low:.1f}–{100 * high:.1f} %"]


def _table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in body)])


def preference_table(study: Study, judgements: Sequence[Judgement]) -> str:
    """One row per group: pairs, then judged / A preferred / rate / interval at any confidence and >= clear."""
    key = {p.pair: p for p in study.pairs}
    body = []
    for label, ids in groups(study.pairs).items():
        t = tally(judgements, key, ids)
        body.append([label, str(len(ids)), *_rate(t.a, t.judged), *_rate(t.a_clear, t.judged_clear)])
    header = ["cases", "pairs", "judged", "A preferred", "A rate", "95 % CI", "judged ≥ clear", "A preferred",
              "A rate", "95 % CI"]  # fmt: skip
    return _table(header, body)


def metric_values(study: Study) -> dict[str, dict[str, dict[str, float]]]:
    """Group label -> role -> ``psnr_hole`` (mean), ``ssim`` (mean), ``swd_hole`` (pooled), from the saved fills."""
    cases = {c.id: c for c in study.cases().cases}
    per_pair: dict[str, dict[str, dict[str, float]]] = {r: {} for r in ROLES}
    # The pools are filled directly (RealismPool.add also computes a per-case SWD, which is not needed here).
    pools = {r: realism.RealismPool() for r in ROLES}
    for p in study.pairs:
        case = cases[p.case]
        target, hole = case.image(), case.mask()
        positions = realism.patch_positions(hole)
        truth = realism.hole_patches(target, positions)
        for role in ROLES:
            with Image.open(study.fill_path(role, p.pair)) as img:
                fill = np.asarray(img.convert("RGB"))
            per_pair[role][p.pair] = {"psnr_hole": metrics.psnr(fill, target, hole), "ssim": metrics.ssim(fill, target)}
            pool = pools[role]
            pool.fill.append(realism.hole_patches(fill, positions))
            pool.truth.append(truth)
            pool.energy.append((realism.gradient_energy(fill, hole), realism.gradient_energy(target, hole)))
            pool.keys.append(p.pair)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for label, ids in groups(study.pairs).items():
        out[label] = {}
        for role in ROLES:
            out[label][role] = {
                "psnr_hole": float(np.mean([per_pair[role][i]["psnr_hole"] for i in ids])),
                "ssim": float(np.mean([per_pair[role][i]["ssim"] for i in ids])),
                "swd_hole": pools[role].swd(ids),
            }
    return out


def metrics_table(study: Study, values: dict[str, dict[str, dict[str, float]]]) -> str:
    """hole PSNR / SSIM / hole SWD of A and B per group (the same rows as the preference table)."""
    ids = groups(study.pairs)
    body = []
    for label, by_role in values.items():
        row = [label, str(len(ids[label]))]
        for key, digits in (("psnr_hole", 2), ("ssim", 4), ("swd_hole", 3)):
            row += [f"{by_role[r][key]:.{digits}f}" for r in ROLES]
        body.append(row)
    header = ["cases", "pairs", "hole PSNR A", "hole PSNR B", "SSIM A", "SSIM B", "hole SWD A", "hole SWD B"]
    return _table(header, body)


def score_markdown(study: Study, judges: dict[str, list[Judgement]]) -> str:
    """The whole ``score.md``: per judge the preference table, then the metrics of both methods."""
    a, b = study.methods["A"], study.methods["B"]
    left_a = sum(p.left == "A" for p in study.pairs)
    parts = [
        f"# Blind preference: A = `{a}` vs B = `{b}`",
        "",
        f"{len(study.pairs)} pairs of the `{study.protocol}` case set `{study.cases_root}`, seed {study.seed}; "
        f"A was shown on the left in {left_a} of them. Seconds per fill: A {study.seconds['A']:.3f}, "
        f"B {study.seconds['B']:.3f}.",
    ]
    for judge, judged in judges.items():
        lefts = sum(j.choice == "left" for j in judged)
        levels = ", ".join(f"{name} {sum(j.confidence == c for j in judged)}" for c, name in CONFIDENCE.items())
        parts += [
            "",
            f"## Judge `{judge}`: {len(judged)} of {len(study.pairs)} pairs judged",
            "",
            f"Chose the left fill {lefts} times; confidence: {levels}.",
            "",
            preference_table(study, judged),
        ]
    parts += [
        "",
        "A rate = pairs where A's fill was chosen / pairs judged; 95 % CI = Wilson score interval (z = 1.96). "
        '"≥ clear" counts only the judgements made with confidence clear or obvious.',
        "",
        "## Metrics of both fills on the same cases (all pairs)",
        "",
        metrics_table(study, metric_values(study)),
        "",
        "hole PSNR: mean over the cases, MATLAB `psnr` over the hole pixels; SSIM: mean MATLAB `ssim` of the "
        "whole image (RGB as a 3-D volume); hole SWD: sliced Wasserstein distance of the hole patches pooled over "
        "the group's cases (`gmcnn.evaluation.realism`; lower = more like the truth's texture).",
    ]
    return "\n".join(parts) + "\n"


__all__ = ["CLEAR", "Z95", "Tally", "groups", "metric_values", "score_markdown", "tally", "wilson_interval"]
