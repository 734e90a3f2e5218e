"""Stratified draws: quotas per kind with caps, scenes visited evenly, seeded order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gmcnn.errors import UserError
from gmcnn.evaluation.strata import in_turn, parse_shares, quotas, stratified

KINDS = ["astro", "nature", "objects", "texture", "urban"]


def test_equal_shares_by_largest_remainder() -> None:
    assert quotas(KINDS, 72) == {"astro": 15, "nature": 15, "objects": 14, "texture": 14, "urban": 14}
    assert quotas(KINDS, 5) == dict.fromkeys(KINDS, 1)


@pytest.mark.parametrize("num", [7, 24, 72, 100, 101])
@pytest.mark.parametrize("cap", [0.0, 0.1, 0.25, 0.5])
def test_caps_hold_and_the_rest_is_shared_equally(num: int, cap: float) -> None:
    got = quotas(KINDS, num, {"astro": cap})
    assert sum(got.values()) == num
    assert got["astro"] <= cap * num + 1e-9
    others = [got[k] for k in KINDS if k != "astro"]
    assert max(others) - min(others) <= 1
    limit = int(cap * num + 1e-9)
    if quotas(KINDS, num)["astro"] <= limit:  # a cap the equal shares keep to changes nothing
        assert got == quotas(KINDS, num)
    else:
        assert got["astro"] == limit


def test_caps_that_leave_cases_to_nobody_are_refused() -> None:
    with pytest.raises(UserError, match="leave no kind"):
        quotas(["astro", "nature"], 10, {"astro": 0.2, "nature": 0.5})
    with pytest.raises(UserError, match="KIND=SHARE"):
        parse_shares("astro=1.5")
    with pytest.raises(UserError, match="KIND=SHARE"):
        parse_shares("astro")
    assert parse_shares(" astro=0.25, texture=0 ") == {"astro": 0.25, "texture": 0.0}


def test_stratified_visits_scenes_evenly_and_cycles_the_index() -> None:
    sources = [Path(f"{n}.png") for n in ("a1", "a2", "a3", "b", "n1", "n2")]
    kinds = ["urban", "urban", "urban", "urban", "nature", "nature"]
    scenes = ["a", "a", "a", "b", "n1", "n2"]
    draws = stratified(sources, kinds, scenes, 12, seed=4)
    urban = [d for d in draws if d.kind == "urban"]
    assert len(urban) == 6 and sum(d.source.name == "b.png" for d in urban) == 3  # scene b: half, with one file
    assert {d.source.name for d in urban if d.source.name != "b.png"} == {"a1.png", "a2.png", "a3.png"}
    # Indexes within a kind are consecutive (mixed masks cycle on them), starting at the kind's offset.
    assert sorted(d.index for d in urban) == list(range(1, 7))
    assert sorted(d.index for d in draws if d.kind == "nature") == list(range(6))
    assert [d.kind for d in draws] != sorted(d.kind for d in draws)  # shuffled: a prefix mixes the kinds
    assert draws == stratified(sources, kinds, scenes, 12, seed=4)
    assert draws != stratified(sources, kinds, scenes, 12, seed=5)


def test_in_turn_visits_every_source_before_repeating() -> None:
    sources = [Path(f"{i}.png") for i in range(5)]
    draws = in_turn(sources, ["k"] * 5, 12, seed=0)
    assert sorted(d.source.name for d in draws[:5]) == sorted(s.name for s in sources)
    assert [d.index for d in draws] == list(range(12))
    order = np.random.default_rng(0).permutation(5)
    assert [d.source for d in draws[:5]] == [sources[int(i)] for i in order]  # the protocol's seeded order
