"""`gmcnn eval` end to end on tiny case sets: baselines and a tiny exported model, CSV, summary, sheets."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from helpers.cases import kind_folders
from PIL import Image
from skimage import data

from gmcnn.cli import main
from gmcnn.errors import UserError
from gmcnn.evaluation.evaluate import COLUMNS, load_methods, summary_table
from gmcnn.evaluation.metrics import METRIC_NAMES

BASELINES = ["telea", "ns", "biharmonic", "patchmatch"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("eval_photos")
    Image.fromarray(data.astronaut()).save(folder / "astronaut.png")
    Image.fromarray(data.coffee()).save(folder / "coffee.png")
    return folder


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_cli_end_to_end_with_baselines_and_a_tiny_model(photos, tiny_export, tmp_path, capsys):
    out = tmp_path / "eval"
    methods = ",".join([*BASELINES, str(tiny_export)])
    args = ["eval", "--data", str(photos), "--protocol", "paper-rect", "--methods", methods, "--out", str(out)]
    assert main([*args, "--num", "2", "--seed", "5"]) == 0
    label = tiny_export.name  # paths are labelled by their folder name
    labels = [*BASELINES, label]

    rows = _rows(out / "results.csv")
    assert len(rows) == 2 * len(labels)
    assert {r["method"] for r in rows} == set(labels)
    assert set(METRIC_NAMES) <= set(rows[0])
    for r in rows:
        assert float(r["psnr_hole"]) < float(r["psnr"])  # the hole is where the errors are
        assert 0 < float(r["ssim_hole"]) <= 1 and float(r["seconds"]) >= 0

    summary = (out / "summary.md").read_text()
    assert summary.strip() in capsys.readouterr().out  # also printed
    for title, *_ in COLUMNS:
        assert f" {title} |" in summary
    for m in labels:
        assert f"| {m} | 2 |" in summary
    assert "LPIPS and FID: not computed" in summary and "3-D volume" in summary

    for m in labels:
        fills = sorted((out / "fills" / m).glob("*.png"))
        assert [f.name for f in fills] == ["0000.png", "0001.png"]
    sheet = Image.open(out / "contact_sheet_1.png")
    columns = len(labels) + 2  # input | methods | target
    assert sheet.size == (columns * 260 - 4, 20 + 2 * 260 - 4)
    # The last column of the first row is the ground truth.
    target = np.asarray(Image.open(out / "cases" / "images" / "0000.png"))
    tile = np.asarray(sheet)[20 : 20 + 256, (columns - 1) * 260 : (columns - 1) * 260 + 256]
    np.testing.assert_array_equal(tile, target)

    # The written case set is reused as --data (no --protocol needed); a mismatching protocol is refused.
    again = tmp_path / "again"
    assert main(["eval", "--data", str(out / "cases"), "--methods", "telea", "--out", str(again)]) == 0
    first = [r for r in rows if r["method"] == "telea"]
    assert [r["psnr"] for r in _rows(again / "results.csv")] == [r["psnr"] for r in first]
    assert main(["eval", "--data", str(out / "cases"), "--protocol", "center", "--methods", "telea", "--out",
                 str(tmp_path / "x")]) == 2  # fmt: skip


def test_coverage_summary_has_per_bin_tables(photos, tmp_path):
    out = tmp_path / "cov"
    args = ["eval", "--data", str(photos), "--protocol", "coverage", "--methods", "telea,ns", "--out", str(out)]
    assert main([*args, "--num", "1"]) == 0
    summary = (out / "summary.md").read_text()
    assert "**hole PSNR** by hole coverage" in summary
    assert "| method | 1-10% | 10-20% | 20-30% | 30-40% | 40-50% | 50-60% |" in summary
    rows = _rows(out / "results.csv")
    assert len(rows) == 12 and all(float(r["swd_hole"]) > 0 and float(r["grad_ratio_hole"]) > 0 for r in rows)
    assert "**hole SWD** by hole coverage" in summary
    pooled = _rows(out / "pooled.csv")
    assert [(r["method"], r["bin"]) for r in pooled][:2] == [("telea", "all"), ("telea", "1-10%")]
    assert len(pooled) == 2 * 7 and {r["cases"] for r in pooled} == {"6", "1"}
    # The pooled values are in the summary table (not the mean of the per-case values).
    telea_all = float(pooled[0]["swd_hole"])
    assert f"{telea_all:.3f}" in summary.split("\n| telea |", 1)[1].split("\n", 1)[0]


def test_user_errors_exit_2(photos, tmp_path, capsys):
    base = ["eval", "--data", str(photos), "--out", str(tmp_path / "o")]
    assert main([*base, "--methods", "telea"]) == 2  # no protocol for a photo folder
    assert "--protocol is needed" in capsys.readouterr().err
    assert main([*base, "--protocol", "center", "--methods", "telea,telea"]) == 2
    assert "named twice" in capsys.readouterr().err
    assert main([*base, "--protocol", "center", "--methods", str(tmp_path / "missing")]) == 2
    with pytest.raises(UserError, match="no methods"):
        load_methods(" , ")


def test_summary_marks_the_best_value_per_column():
    rows = [
        {"method": "a", **dict.fromkeys(METRIC_NAMES, 0.5), "seconds": 1.0},
        {"method": "b", **dict.fromkeys(METRIC_NAMES, 0.7), "seconds": 1.0},
    ]
    table = summary_table(rows, ["a", "b"])
    line_a, line_b = table.splitlines()[2:]
    assert "**0.7000**" in line_b and "**" not in line_a.replace("**50.00**", "")  # L1: lower is better
    assert "**50.00**" in line_a


def test_stratified_mixed_sets_are_reported_per_mask_type_and_scene_kind(tmp_path):
    photos, textures = kind_folders(tmp_path / "data")
    build = ["cases", "--data", str(photos), "--data", str(textures), "--protocol", "mixed", "--num", "12"]
    strata = ["--stratify", "kind", "--max-share", "astro=0.25"]
    assert main([*build, *strata, "--size", "64", "-o", str(tmp_path / "c")]) == 0
    out = tmp_path / "eval"
    assert main(["eval", "--data", str(tmp_path / "c"), "--methods", "telea,ns", "--out", str(out)]) == 0
    rows = _rows(out / "results.csv")
    assert {r["mask_type"] for r in rows} == {"rect", "center", "strokes"}
    kinds = {r["kind"] for r in rows}
    assert kinds == {"astro", "nature", "objects", "other", "texture", "urban"}
    summary = (out / "summary.md").read_text()
    assert "**hole PSNR** by mask type" in summary and "**hole SWD** by scene kind" in summary
    assert "by hole coverage" not in summary  # one bin: no coverage tables
    pooled = {(r["method"], r["bin"]): r for r in _rows(out / "pooled.csv")}
    assert {b for m, b in pooled if m == "telea"} == {"all", *(f"mask={t}" for t in ("rect", "center", "strokes")),
                                                      *(f"kind={k}" for k in kinds)}  # fmt: skip
    astro = [r for r in rows if r["kind"] == "astro" and r["method"] == "telea"]
    assert pooled[("telea", "kind=astro")]["cases"] == str(len(astro)) == "2"  # 12 cases, 6 kinds
    psnr = np.mean([float(r["psnr_hole"]) for r in astro])
    table = summary.split("**hole PSNR** by scene kind", 1)[1]
    header = table.split("\n")[2].split(" | ")
    telea = next(line for line in table.split("\n") if line.startswith("| telea |")).split(" | ")
    assert telea[header.index("astro")].strip("* ") == f"{psnr:.2f}"
