""" "How it was filled": the pictures one fill leaves behind when asked to explain itself.

Everything here is recorded by the fill that made the result (no second run): each stage's picture of the
whole image, where every filled pixel's colour was copied from (the completion stage's nearest-neighbour field),
and how far each pixel can be trusted. :class:`ExplainCanvas` collects the per-window pieces while
:class:`~gmcnn.inpainting.pipeline.Inpainter` fills; :class:`Explanation` is what ``FillResult.explanation``
holds and what the CLI (``--explain DIR``), the API (``explain=true``) and the page show.

Pictures (all uint8 ``H x W x 3``, the image's size):

* ``stage_<name>``: the image after each stage (``prefill``, ``network``, ``completion``, ``composite``);
* ``sources``: the known region coloured by position (a smooth hue / brightness ramp over the image) and every
  copied hole pixel in the colour of the position it was copied from, so matching colours show where each part
  of the fill came from; hole pixels that were not copied (a smooth fill) are grey;
* ``confidence``: 1 (known) is shown as the dimmed photo, the hole from red (guesswork) to green (trusted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

STAGES = ("prefill", "network", "completion", "composite")
# What each picture shows, in one sentence: for the CLI's explain.json, the API and the page.
ABOUT = {
    "prefill": "Pre-fill: the hole filled smoothly from its border (push-pull), the kind of start the network "
    "works from.",
    "network": "Network: GMCNN's own fill, plausible structure and colour but smooth, without fine texture.",
    "completion": "Completion: the hole rebuilt from patches of the photo (PatchMatch); below full Detail, blended "
    "with the network's smooth fill.",
    "composite": "Composite: the result, the fill blended into the photo; pixels outside the hole stay as they were.",
    "sources": "Sources: every place in the photo has its own colour, and each copied hole pixel takes the colour "
    "of the place it was copied from; grey means not copied (the network's smooth fill).",
    "confidence": "Confidence: how far the fill can be trusted, from green (close to known pixels, or a good match) "
    "to red (deep in the hole: guesswork).",
}
LAYERS = ("sources", "confidence")


@dataclass
class StagePicture:
    """One stage's picture of the whole image and its time (seconds, summed over windows)."""

    name: str
    seconds: float
    image: np.ndarray  # uint8 H x W x 3


@dataclass
class Explanation:
    """What a fill did, as data.

    Attributes:
        stages: the stages that ran, in order, each with the whole image after it.
        hole: bool ``H x W``: the pixels the fill changed (the grown hole plus the feather band).
        sources: int32 ``H x W x 2``: ``(y, x)`` of the pixel each filled pixel's colour was copied from;
            ``-1`` where no copy was made (known pixels, smooth fills).
        confidence: float32 ``H x W`` in [0, 1]: 1 on known pixels, lower where the fill is guesswork.
    """

    stages: list[StagePicture]
    hole: np.ndarray
    sources: np.ndarray
    confidence: np.ndarray

    def describe(self) -> dict[str, Any]:
        """JSON-able: each stage (its picture's name, seconds, what it shows) and each layer, in order."""
        stages = [{"name": s.name, "picture": f"stage_{s.name}", "seconds": s.seconds, "about": ABOUT[s.name]}
                  for s in self.stages]  # fmt: skip
        return {"stages": stages, "layers": {n: {"picture": n, "about": ABOUT[n]} for n in LAYERS}}

    def pictures(self) -> dict[str, np.ndarray]:
        """Every picture by name: ``stage_<name>`` for each stage, ``sources`` and ``confidence``."""
        out = {f"stage_{s.name}": s.image for s in self.stages}
        out["sources"] = sources_picture(self.sources, self.hole)
        out["confidence"] = confidence_picture(
            self.confidence, self.hole, self.stages[-1].image if self.stages else None
        )
        return out


def position_colours(height: int, width: int) -> np.ndarray:
    """uint8 ``H x W x 3``: a colour per position (hue along x, brightness along y), so nearby = similar."""
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    hue = x * 5.0  # five sixths of the colour wheel: red -> magenta, so the two ends do not meet
    value = 0.45 + 0.55 * (1.0 - y)  # (H, 1)
    sector = np.floor(hue).astype(np.int32) % 6
    f = hue - np.floor(hue)
    p, q, t = np.zeros_like(f), 1.0 - f, f
    one = np.ones_like(f)
    r = np.choose(sector, [one, q, p, p, t, one])
    g = np.choose(sector, [t, one, one, q, p, p])
    b = np.choose(sector, [p, p, t, one, one, q])
    rgb = np.stack([r, g, b], axis=-1) * value[..., None]  # (H, W, 3)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def sources_picture(sources: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The sources view (see the module docstring)."""
    h, w = hole.shape
    colours = position_colours(h, w)
    out = colours.copy()
    copied = hole & (sources[..., 0] >= 0)
    ys, xs = sources[..., 0][copied], sources[..., 1][copied]
    out[copied] = colours[np.clip(ys, 0, h - 1), np.clip(xs, 0, w - 1)]
    out[hole & ~copied] = 128
    # Darken the known region a little so the hole's outline stays readable.
    known = ~hole
    out[known] = (out[known].astype(np.uint16) * 3 // 4).astype(np.uint8)
    return out


def confidence_picture(confidence: np.ndarray, hole: np.ndarray, photo: np.ndarray | None) -> np.ndarray:
    """The confidence view: the dimmed photo where known, red (0) -> yellow -> green (1) in the hole."""
    c = np.clip(confidence, 0.0, 1.0)[..., None]
    heat = np.concatenate([np.minimum(1.0, 2.0 * (1.0 - c)), np.minimum(1.0, 2.0 * c), np.zeros_like(c)], axis=-1)
    out = np.rint(heat * 255.0).astype(np.uint8)
    known = ~hole
    if photo is not None:
        out[known] = (photo[known].astype(np.uint16) // 3).astype(np.uint8)
    else:
        out[known] = 40
    return out


@dataclass
class ExplainCanvas:
    """Collects one fill's per-window pieces into whole-image pictures (see :class:`Explanation`)."""

    base: np.ndarray  # uint8 H x W x 3: the image the fill started from
    hole: np.ndarray  # bool H x W: where the fill writes (weight > 0)
    pictures: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    sources: np.ndarray = field(init=False)
    confidence: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        h, w = self.hole.shape
        self.sources = np.full((h, w, 2), -1, np.int32)
        self.confidence = np.ones((h, w), np.float32)

    def stage(self, name: str, window: tuple[slice, slice], rgb: np.ndarray, seconds: float) -> None:
        """Record a window's picture after stage ``name`` (uint8, the window's size; only hole pixels are used)."""
        picture = self.pictures.setdefault(name, self.base.copy())
        hole = self.hole[window]
        picture[window][hole] = rgb[hole]
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def copied_from(self, window: tuple[slice, slice], sources: np.ndarray) -> None:
        """A window's nearest-neighbour field (window coordinates, -1 = none) in image coordinates."""
        hole = self.hole[window] & (sources[..., 0] >= 0)
        offset = np.array([window[0].start or 0, window[1].start or 0], np.int32)
        self.sources[window][hole] = sources[hole] + offset

    def trust(self, window: tuple[slice, slice], confidence: np.ndarray) -> None:
        """A window's confidence map (1 = known); overlapping windows keep the lower value."""
        hole = self.hole[window]
        region = self.confidence[window]
        region[hole] = np.minimum(region[hole], confidence[hole])

    def finish(self) -> Explanation:
        stages = [StagePicture(n, self.seconds.get(n, 0.0), self.pictures[n]) for n in STAGES if n in self.pictures]
        return Explanation(stages, self.hole.copy(), self.sources, self.confidence)
