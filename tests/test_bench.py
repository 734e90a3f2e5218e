"""The speed benchmark (gmcnn.bench, run as `gmcnn bench`) on tiny inputs: every section reports; no timing asserted."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gmcnn import bench as speed
from gmcnn.bench import sections
from gmcnn.cli import main
from gmcnn.errors import UserError


def test_parse_sizes():
    assert speed.parse_sizes("256, 640x480,12mp") == [
        ("256x256", 256, 256),
        ("640x480", 480, 640),
        ("12MP (4000x3000)", 3000, 4000),
    ]
    for bad in ("", "abc", "8", "12xmp"):
        with pytest.raises(UserError):
            speed.parse_sizes(bad)


def test_stroke_hole_is_fixed_and_scales():
    small, again = speed.stroke_hole(256, 256, 0), speed.stroke_hole(256, 256, 0)
    np.testing.assert_array_equal(small, again)
    big = speed.stroke_hole(1024, 1024, 0)
    assert 0.01 < small.mean() < 0.5
    assert abs(big.mean() - small.mean()) < 0.05  # the same strokes scaled, not 4x thinner ones


def test_measure_counts_repeats_after_warm_up_and_stops_at_the_budget():
    calls = []
    timing = speed.measure(lambda: calls.append(1), repeats=3, budget=100.0, sync=lambda: None)
    assert len(timing.seconds) == 3 and len(calls) == 4  # one uncounted warm-up
    assert timing.p50 <= timing.p95
    calls.clear()
    timing = speed.measure(lambda: calls.append(1), repeats=50, budget=1e-12, sync=lambda: None)
    assert len(timing.seconds) == 1 and len(calls) == 2  # the budget still allows one counted call


def test_bench_cli_quick_on_a_tiny_model(tiny_export, tmp_path, capsys):
    out = tmp_path / "bench"
    args = ["bench", "--models", str(tiny_export), "--sizes", "64,96x64", "--quick", "--no-train"]
    assert main([*args, "--baselines", "telea,ns", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "## Dense-conv limit" in text and "| conv2d 3x3 |" in text
    for size in ("64x64", "96x64"):
        assert f"| {size} | {tiny_export.name} (cnum 4) | Inpainter original" in text
        assert f"| {size} | {tiny_export.name} (cnum 4) | eager fp32 forward, full image |" in text
        for name in ("telea", "ns"):
            assert f"| {size} | {name} | baseline |" in text
    assert "## Batch throughput" in text and "eager fp32 forward, batch 1" in text
    assert "## Training steps" not in text
    assert (out / "speed.md").read_text() in text
    rows = json.loads((out / "speed.json").read_text())
    assert {r["section"] for r in rows} == {"conv", "latency", "batch"}
    assert all(r["timing"]["seconds"] for r in rows)
    assert (out / "speed.png").stat().st_size > 10_000


def test_bench_refuses_unknown_baselines(tiny_export, capsys):
    assert main(["bench", "--models", str(tiny_export), "--quick", "--baselines", "gimp"]) == 2
    assert "known baselines" in capsys.readouterr().err


@pytest.mark.slow
def test_training_rows_for_a_tiny_model(tiny_export, monkeypatch):
    """Stage 1 and stage 2 steps run through gmcnn.training.steps (at 64x64 here to stay fast)."""
    monkeypatch.setattr(sections, "TRAIN_SIZE", 64)
    models = speed.load_models(str(tiny_export), device="cpu", runtime="auto", precision="auto")
    before = [p.detach().clone() for p in models[0].inpainter.generator.parameters()]
    rows = sections.train_rows(models, batch=2, repeats=1, budget=1e-9)
    assert [r.what.split(":")[0] for r in rows] == ["stage 1", "stage 2"]
    assert all(r.timing and r.timing.seconds and r.images == 2 for r in rows)
    conv = sections.conv_limit(torch.device("cpu"), repeats=1, budget=1e-9)
    text = speed.report_markdown([conv, *rows], header="# t")
    assert "## Training steps" in text and "| 64x64 |" in text
    # Training ran on a copy: the loaded model is untouched.
    for p, q in zip(before, models[0].inpainter.generator.parameters(), strict=True):
        assert torch.equal(p, q)


def test_save_results_puts_the_plot_where_asked(tmp_path):
    """A committed results folder keeps text only: the plot can go elsewhere (benchmarks/speed.py: runs/)."""
    timing = speed.Timing([0.5, 0.6], None)
    rows = [
        speed.Row("conv", "conv2d 3x3", "128->128 ch", timing=timing, gflop=4.8),
        speed.Row("latency", "telea", "baseline", "64x64", timing),
    ]
    speed.save_results(rows, "# t\n", tmp_path / "results", picture=tmp_path / "pictures" / "speed.png")
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["speed.json", "speed.md"]
    assert (tmp_path / "pictures" / "speed.png").stat().st_size > 10_000
    speed.save_results(rows, "# t\n", tmp_path / "default")
    assert (tmp_path / "default" / "speed.png").is_file()
