"""Rank 0's scalars: window means and the metrics file a resumed (or killed) run continues."""

from __future__ import annotations

import json
from pathlib import Path

from gmcnn.training.scalars import MetricsLog, Scalars


def test_window_means_and_flush() -> None:
    window = Scalars()
    window.add({"g_loss": 1.0})
    window.add({"g_loss": 3.0})
    out = window.flush(images_per_step=4, stage="pretrain")
    assert out["g_loss"] == 2.0 and out["stage"] == "pretrain" and out["images_per_s"] > 0
    assert window.steps == 0 and not window.sums


def test_resume_drops_lines_after_the_checkpoint_and_a_torn_last_line(tmp_path: Path) -> None:
    lines = [json.dumps({"step": s, "g_loss": 0.1 * s}) for s in (1, 2, 3, 4)]
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + '\n{"step": 5, "g_lo')  # a kill cut an append
    log = MetricsLog(tmp_path, resume_step=3)
    log.write(4, {"g_loss": 9.0})
    log.close()
    steps = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
