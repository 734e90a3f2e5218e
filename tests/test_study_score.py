"""`gmcnn study score`: Wilson intervals against an independent computation, counts from a fake judge, metrics."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from helpers.study import tiny_study
from PIL import Image

from gmcnn.cli import main
from gmcnn.evaluation import metrics
from gmcnn.evaluation.protocol import load_cases
from gmcnn.evaluation.study_score import groups, metric_values, wilson_interval


def _reference_wilson(k: int, n: int) -> tuple[float, float]:
    """The interval from its definition: the p with |k/n - p| = z sqrt(p (1 - p) / n), a quadratic in p."""
    try:
        from scipy.stats import binomtest

        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        return float(ci.low), float(ci.high)
    except ImportError:
        z = 1.959963984540054
        phat = k / n
        # (1 + z²/n) p² - (2 phat + z²/n) p + phat² = 0
        roots = np.roots([1 + z * z / n, -(2 * phat + z * z / n), phat * phat])
        return float(min(roots.real)), float(max(roots.real))


@pytest.mark.parametrize(("k", "n"), [(0, 5), (5, 5), (3, 6), (1, 2), (20, 24), (16, 16), (44, 72)])
def test_wilson_interval_matches_an_independent_computation(k, n):
    low, high = wilson_interval(k, n)
    ref_low, ref_high = _reference_wilson(k, n)
    assert low == pytest.approx(ref_low, abs=1e-9) and high == pytest.approx(ref_high, abs=1e-9)
    assert low <= k / n <= high


def test_wilson_interval_by_hand_on_three_of_six():
    # p = 0.5, z² / n = 0.64025: centre 0.5, half = 1.96 / 1.64025 * sqrt(0.25 / 6 + 3.8415 / 144) = 0.31237
    low, high = wilson_interval(3, 6)
    assert (round(low, 4), round(high, 4)) == (0.1876, 0.8124)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory):
    return tiny_study(tmp_path_factory.mktemp("score"), num=8, cases=8, protocol="paper-rect")


def _write(study, judge: str, lines: list[dict]) -> None:
    folder = study.root / "judgements"
    folder.mkdir(exist_ok=True)
    (folder / f"{judge}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_score_counts_a_fake_judges_choices(study, capsys):
    # The fake judge picks A's side on pairs 0-4 (confidence 3, 1, 2, 3, 1) and B's on pairs 5 and 6; 7 unjudged.
    lines = []
    for i, pair in enumerate(study.pairs[:7]):
        a_side = pair.left == "A"
        want_a = i < 5
        lines.append({"pair": pair.pair, "choice": "left" if a_side == want_a else "right",
                      "confidence": [3, 1, 2, 3, 1, 2, 1][i]})  # fmt: skip
    _write(study, "bot", lines)
    assert main(["study", "score", str(study.root), "--judge", "bot"]) == 0
    text = (study.root / "score.md").read_text()
    assert text in capsys.readouterr().out
    low, high = wilson_interval(5, 7)
    clear_low, clear_high = wilson_interval(3, 4)  # >= clear: pairs 0, 2, 3 (A) and 5 (B)
    row = f"| all | 8 | 7 | 5 | 71.4 % | {100 * low:.1f}–{100 * high:.1f} % | 4 | 3 | 75.0 % | "
    assert row + f"{100 * clear_low:.1f}–{100 * clear_high:.1f} % |" in text
    assert "A = `telea` vs B = `biharmonic`" in text and "7 of 8 pairs judged" in text
    assert "Wilson score interval" in text


def test_metrics_beside_the_rates_are_computed_from_the_fills(study):
    cases = {c.id: c for c in load_cases(study.cases_root).cases}
    psnr = {"A": [], "B": []}
    for pair in study.pairs:
        case = cases[pair.case]
        for role in psnr:
            fill = np.asarray(Image.open(study.fill_path(role, pair.pair)).convert("RGB"))
            psnr[role].append(metrics.psnr(fill, case.image(), case.mask()))
    values = metric_values(study)
    for role in psnr:
        assert values["all"][role]["psnr_hole"] == pytest.approx(np.mean(psnr[role]))
        assert 0 < values["all"][role]["swd_hole"] < 5 and 0 < values["all"][role]["ssim"] <= 1
    assert values["all"]["A"]["psnr_hole"] != values["all"]["B"]["psnr_hole"]


def test_groups_split_by_what_varies(study):
    pairs = study.pairs
    assert list(groups(pairs)) == ["all"]  # one mask type, no bins, no kinds: only the overall row
    varied = [type(p)(p.pair, p.case, p.left, p.bin, ["rect", "strokes"][i % 2], ["astro", "urban"][i % 2 == 0],
                      p.coverage) for i, p in enumerate(pairs)]  # fmt: skip
    got = groups(varied)
    assert list(got) == ["all", "mask: rect", "mask: strokes", "kind: urban", "kind: astro"]
    assert got["mask: rect"] == [p.pair for p in pairs[::2]]


def test_score_refuses_bad_judgements_and_missing_judges(study, capsys, tmp_path):
    _write(study, "typo", [{"pair": "0000", "choice": "left", "confidence": 2},
                           {"pair": "0000", "choice": "right", "confidence": 2}])  # fmt: skip
    assert main(["study", "score", str(study.root), "--judge", "typo"]) == 2
    assert "judged twice" in capsys.readouterr().err
    assert main(["study", "score", str(study.root), "--judge", "nobody"]) == 2
    assert "no judgements for ['nobody']" in capsys.readouterr().err
    assert main(["study", "score", str(tmp_path)]) == 2
    assert "not a study folder" in capsys.readouterr().err
