"""Which source photo each case of a case set is cut from: in turn, or stratified by scene kind.

A *draw* is one crop to make: its source file, the source's scene kind (:mod:`gmcnn.data.scene_kinds`) and
its position in its stratum (the ``mixed`` protocol cycles its mask types on it).

* **In turn** (the default): the sources in a seeded random order, cycling when there are fewer than cases.
* **Stratified by kind**: every kind present gets an equal share of the cases, except that ``max_share``
  caps a kind (``{"astro": 0.25}``: at most a quarter of the cases), the cases it gives up going to the
  others in equal parts; counts are rounded by largest remainder and never above a cap. Within a kind the
  *scenes* are visited in a seeded order and cycled, each visit taking the scene's next file (so three
  variants of one photo share one scene's part), so a kind with few photos gives several crops (and
  masks) per photo. The draws are then shuffled, so any prefix of the set mixes the kinds.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gmcnn.errors import UserError


@dataclass(frozen=True)
class Draw:
    """One crop to cut: from ``source`` (of scene kind ``kind``), the ``index``-th of its stratum."""

    source: Path
    kind: str
    index: int


def in_turn(sources: Sequence[Path], kinds: Sequence[str], num: int, seed: int) -> list[Draw]:
    """``num`` draws visiting ``sources`` in a seeded random order, cycling; the index is the case number."""
    order = np.random.default_rng(seed).permutation(len(sources))
    return [Draw(sources[int(order[i % len(sources)])], kinds[int(order[i % len(sources)])], i) for i in range(num)]


def parse_shares(text: str) -> dict[str, float]:
    """``"astro=0.25,texture=0.3"`` -> ``{"astro": 0.25, "texture": 0.3}`` (each share in [0, 1])."""
    out: dict[str, float] = {}
    for item in (i.strip() for i in text.split(",") if i.strip()):
        kind, eq, value = item.partition("=")
        try:
            share = float(value)
        except ValueError:
            share = math.nan
        if not eq or not kind.strip() or not 0.0 <= share <= 1.0:
            raise UserError(f"--max-share wants KIND=SHARE with a share in [0, 1], e.g. astro=0.25; got {item!r}")
        out[kind.strip()] = share
    return out


def quotas(kinds: Sequence[str], num: int, max_share: Mapping[str, float] | None = None) -> dict[str, int]:
    """Cases per kind: equal shares of ``num``, capped by ``max_share`` (see the module docstring).

    Raises:
        UserError: the caps leave cases no kind may take.
    """
    caps = {k: math.floor((max_share or {}).get(k, 1.0) * num + 1e-9) for k in kinds}
    if not kinds or sum(caps.values()) < num:
        raise UserError(f"the caps {dict(max_share or {})} leave no kind of {list(kinds)} for all {num} cases")
    shares: dict[str, float] = {}
    free = list(kinds)
    left = float(num)
    # Water-filling: a kind whose equal part exceeds its cap gets the cap; the rest is split among the others.
    while free:
        part = left / len(free)
        capped = [k for k in free if caps[k] < part]
        if not capped:
            shares.update(dict.fromkeys(free, part))
            break
        for k in capped:
            shares[k] = caps[k]
            left -= caps[k]
            free.remove(k)
    counts = {k: min(caps[k], math.floor(shares[k])) for k in kinds}
    # Largest remainder, never above a cap.
    for k in sorted(kinds, key=lambda k: (-(shares[k] - counts[k]), kinds.index(k))):
        if sum(counts.values()) == num:
            break
        if counts[k] < caps[k]:
            counts[k] += 1
    while sum(counts.values()) < num:  # remainders all used: fill any room left under the caps
        k = next(k for k in kinds if counts[k] < caps[k])
        counts[k] += 1
    return counts


def stratified(
    sources: Sequence[Path],
    kinds: Sequence[str],
    scenes: Sequence[str],
    num: int,
    seed: int,
    max_share: Mapping[str, float] | None = None,
) -> list[Draw]:
    """``num`` draws stratified by kind (module docstring); ``kinds[i]`` and ``scenes[i]`` describe ``sources[i]``."""
    present = sorted(set(kinds))
    unknown = sorted(set(max_share or {}) - set(present))
    if unknown:
        raise UserError(f"--max-share names kinds {unknown} that no source has; the kinds here: {present}")
    counts = quotas(present, num, max_share)
    draws: list[Draw] = []
    for offset, kind in enumerate(present):
        # Each kind's order depends on the seed and the kind only, not on which other kinds are present.
        rng = np.random.default_rng([seed, zlib.crc32(kind.encode())])
        members = [(sc, s) for s, k, sc in zip(sources, kinds, scenes, strict=True) if k == kind]
        files = _by_scene(members, counts[kind], rng)
        # The index starts at a different place per kind, so cycles (mixed masks) do not all start alike.
        draws += [Draw(path, kind, j + offset) for j, path in enumerate(files)]
    shuffle = np.random.default_rng([seed, 1]).permutation(len(draws))
    return [draws[int(i)] for i in shuffle]


def _by_scene(members: Sequence[tuple[str, Path]], count: int, rng: np.random.Generator) -> list[Path]:
    """``count`` files from ``(scene, file)`` pairs: the scenes in a random order, cycled; each scene's files in
    a random order, the next one at each visit of the scene."""
    by_scene: dict[str, list[Path]] = {}
    for scene, path in members:
        by_scene.setdefault(scene, []).append(path)
    names = sorted(by_scene)
    queues = [[by_scene[names[i]][j] for j in rng.permutation(len(by_scene[names[i]]))]
              for i in rng.permutation(len(names))]  # fmt: skip
    return [queues[j % len(queues)][(j // len(queues)) % len(queues[j % len(queues)])] for j in range(count)]


__all__ = ["Draw", "in_turn", "parse_shares", "quotas", "stratified"]
