"""Windows: hole boxes, context windows, and the fill plan (strategy resolved, windows, scale)."""

from __future__ import annotations

import numpy as np
import pytest

from gmcnn.inpainting import windows as W


def test_hole_boxes_and_context_windows() -> None:
    m = np.zeros((400, 600), bool)
    m[10:30, 20:60] = True
    m[300:350, 500:590] = True
    boxes = sorted(W.hole_boxes(m), key=lambda b: b.top)
    assert boxes == [W.Box(10, 20, 20, 40), W.Box(300, 500, 50, 90)]
    wins = W.context_windows(m, margin=0.5, min_margin=16, min_side=64)
    for b in boxes:  # every hole lies inside some window, and windows stay inside the image
        assert any(w.top <= b.top and w.left <= b.left and w.bottom >= b.bottom and w.right >= b.right for w in wins)
    assert all(w.top >= 0 and w.left >= 0 and w.bottom <= 400 and w.right <= 600 for w in wins)
    merged = W.context_windows(m, margin=5.0, min_margin=16, min_side=64)
    assert len(merged) == 1


@pytest.mark.parametrize(
    ("strategy", "size", "expect", "n"),
    [("auto", 300, "original", 1), ("auto", 900, "crop", 2), ("resize", 900, "resize", 1), ("crop", 300, "crop", 2)],
)
def test_plan_resolves_strategy_and_places_windows(strategy: str, size: int, expect: str, n: int) -> None:
    m = np.zeros((size, size), bool)
    m[10:40, 10:40] = True
    m[size - 40 : size - 10, size - 40 : size - 10] = True
    plan = W.plan_fill(m, strategy=strategy, process_size=512, margin=0.5, min_side=64)
    assert plan.strategy == expect and len(plan.windows) == (n if expect == "crop" else 1)
    for box in plan.windows:
        h, w = plan.window_size(box)
        assert max(h, w) <= max(512, 0 if plan.scale_to else max(box.height, box.width))
    d = plan.to_dict()
    assert d["strategy"] == expect and len(d["windows"]) == len(plan.windows)
    assert {"top", "left", "height", "width", "scaled_height", "scaled_width"} <= set(d["windows"][0])


def test_plan_of_an_empty_region_has_no_windows() -> None:
    plan = W.plan_fill(np.zeros((50, 50), bool), strategy="auto", process_size=512, margin=0.5, min_side=64)
    assert plan.strategy == "none" and plan.windows == ()
