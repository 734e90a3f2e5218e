"""The working memory of one whole fill, from its plan: the one estimate every admission check uses.

A fill holds memory at three levels, and the estimate adds them up:

* **image**: the pixels of the whole image, whatever the plan — the decoded upload and mask, the pipeline's
  RGB / alpha / output copies, the bool hole and the float blend weight, the dilation that grows or feathers
  the hole, the copy back to the source's mode and the encoded answer (:data:`IMAGE_BYTES_PER_PIXEL`);
* **window stages**, per window of the plan at full resolution: the network's prediction upscaled to the
  window in float32, the composite's float copies, and the completion stage's when it is on
  (:data:`WINDOW_BYTES_PER_PIXEL`, :data:`DETAIL_BYTES_PER_PIXEL`);
* **network**, per window at the size the network sees it, padded to its contract:
  :func:`gmcnn.inpainting.backends.estimate_memory_bytes` for the runtime and precision that run it.

Windows run one after another, so the window parts count once, for the largest window. The constants are
measured peaks rounded up (``benchmarks/web_memory.py`` checks the estimate against a real server's RSS
for every strategy). Front ends call :func:`fill_memory` with the plan before any work: the web server
refuses a request whose estimate exceeds its budget (413) or does not fit beside the fills in flight (503).
Before the mask is decoded, :func:`provisional_plan` gives the windows every mask would share: the whole
image for ``"original"`` and ``"resize"`` (none yet for ``"crop"``), so those are refused from the header.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gmcnn.inpainting.backends import estimate_memory_bytes
from gmcnn.inpainting.options import FillOptions
from gmcnn.inpainting.windows import Box, FillPlan

# Measured peaks (in-process fills of 3-12 MP on CPU, and the server's RSS in benchmarks/web_memory.py),
# rounded up: the whole image ~12 B/px in-process and ~20 B/px in the server (upload, answer, spooled files);
# windows ~58 B per window pixel; grow/feather ~12.
IMAGE_BYTES_PER_PIXEL = 28
REGION_BYTES_PER_PIXEL = 16
WINDOW_BYTES_PER_PIXEL = 72
# Bytes per window pixel the completion stage (detail > 0) adds: the upscaled PatchMatch fill (which itself runs
# at <= 512 px) and, below full detail, float copies for the blend. Measured on a 16 MP window, peak RSS over the
# window's own arrays: 11 at detail 1, 52 at detail 0.5; kept at 72 for headroom. An explained fill's source
# search is counted by the server's EXPLAIN_BYTES_PER_PIXEL (gmcnn.web.routes).
DETAIL_BYTES_PER_PIXEL = 72
# The network's own estimate is measured with a pinned mmap threshold; in a long-lived process freed maps
# are reused less tidily (a 1500x2000 "original" fill peaked at 0.97x the plain sum), so it gets headroom.
NETWORK_HEADROOM = 1.25


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes one fill needs, in total and per part (``image``, ``regions``, ``window``, ``network``)."""

    parts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    def to_dict(self) -> dict[str, Any]:
        return {"total_bytes": self.total, **{f"{k}_bytes": v for k, v in self.parts.items()}}


def provisional_plan(height: int, width: int, options: FillOptions, model_process_size: int) -> FillPlan:
    """The windows every mask shares for these options, before the mask is read (for a header-only check).

    ``"original"`` and ``"resize"`` always run on the whole image (the strategy ``"auto"`` picks for an image
    that fits in the process size is ``"original"``); the windows of ``"crop"`` depend on the mask, so none
    are counted yet. ``model_process_size``: the model's own (``Contract.process_size``), for
    ``options.process_size=None``.
    """
    size = options.process_size or model_process_size
    strategy = options.strategy
    if strategy == "auto":
        strategy = "original" if max(height, width) <= size else "crop"
    whole = (Box(0, 0, height, width),)
    if strategy == "original":
        return FillPlan(strategy, whole, size, None)
    if strategy == "resize":
        return FillPlan(strategy, whole, size, size)
    return FillPlan(strategy, (), size, size)


def fill_memory(
    height: int,
    width: int,
    plan: FillPlan,
    options: FillOptions,
    *,
    config: Any,
    runtime: str,
    precision: str,
) -> MemoryEstimate:
    """The working memory of a fill of a ``height x width`` image that runs ``plan`` with ``options``.

    Args:
        height: image height in pixels.
        width: image width in pixels.
        plan: the fill's plan (``Inpainter.plan``), or :func:`provisional_plan` before the mask is read.
        options: the fill options (``grow``, ``feather`` and ``detail`` cost memory of their own).
        config: the generator's config (``cnum``, ``size_multiple``, ``min_size``).
        runtime: the concrete runtime that runs the network (``Runner.runtime``).
        precision: its concrete precision (``Runner.precision``).
    """
    pixels = height * width
    parts = {"image": pixels * IMAGE_BYTES_PER_PIXEL, "regions": 0, "window": 0, "network": 0}
    if options.grow or options.feather:
        parts["regions"] = pixels * REGION_BYTES_PER_PIXEL
    # detail None (not resolved with FillOptions.for_model) counts both stages: the costliest reading
    per_window = WINDOW_BYTES_PER_PIXEL + (DETAIL_BYTES_PER_PIXEL if options.detail != 0 else 0)
    for box in plan.windows:
        h, w = plan.window_size(box)
        padded_h = max(config.min_size, math.ceil(h / config.size_multiple) * config.size_multiple)
        padded_w = max(config.min_size, math.ceil(w / config.size_multiple) * config.size_multiple)
        network = 0  # at full detail without a feather band the network does not run
        if options.uses_network:
            network = int(NETWORK_HEADROOM * estimate_memory_bytes(config, padded_h, padded_w, precision=precision,
                                                                   runtime=runtime))  # fmt: skip
        window = box.height * box.width * per_window
        if window + network > parts["window"] + parts["network"]:
            parts["window"], parts["network"] = window, network
    return MemoryEstimate(parts)
