"""`Inpainter`: load a generator once, then fill holes in user images of any size.

Imports no training code. The jobs of one fill live in their own modules, and this one only runs them in order:

* loading: :func:`gmcnn.weights.load_weights` (name or path -> generator + contract);
* planning: :mod:`gmcnn.inpainting.windows` (the regions a fill may change, the strategy and the windows);
* running: :mod:`gmcnn.inpainting.backends` (the back end, padding, colour order and memory admission);
* the completion stage: :mod:`gmcnn.inpainting.completion` (``detail``: PatchMatch texture of the photo,
  blended with the network's smooth fill below ``detail=1``);
* compositing: :mod:`gmcnn.inpainting.image` (the one composite under the mask).

One fill, as data (each stage reports into the returned :class:`FillResult`)::

    split_image / regions (mask, grow, feather) -> plan -> per window: pre-fill (shown only) -> network (when
    detail < 1 or feather > 0) -> completion -> composite once, under the mask -> merge alpha / grey back -> same
    type and size as the input

Pixels outside the (grown) mask, or outside the feather band when ``feather > 0``, are copied from the input
and therefore byte-identical.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gmcnn.errors import EMPTY_MASK, UserError
from gmcnn.inpainting import image as P
from gmcnn.inpainting.backends import NetInput, Runner, build_runner
from gmcnn.inpainting.explain import ExplainCanvas
from gmcnn.inpainting.options import FillOptions, FillResult
from gmcnn.inpainting.windows import Box, FillPlan, fill_regions, plan_fill
from gmcnn.losses.reconstruction import confidence_weights
from gmcnn.models.base import Generator
from gmcnn.models.fill import smooth_fill
from gmcnn.weights.contract import Contract
from gmcnn.weights.loader import load_weights

CONFIDENCE_SIDE = 256  # the paper's confidence weights are computed at most this large, then resized


class Inpainter:
    """A loaded generator ready to fill holes: ``inpainter(image, mask) -> filled image``.

    Build it with :meth:`from_pretrained` or :meth:`from_generator`. :meth:`fill` returns a :class:`FillResult`
    (the image and what the call did); ``__call__`` returns just the image. Calls hold no per-call state on the
    object, but run one at a time (one model; the web server queues requests in front of it).

    Attributes:
        runner: the back end that runs the network.
        contract: how the weights are fed and what they were trained on.
        name: a display name (registry name, file or folder).
        training: free-form facts the weights carry about their training (steps, data, ...).
        sha256: the weights file's sha256 when the source records one.
    """

    def __init__(
        self, runner: Runner, *, name: str, contract: Contract | None = None,
        training: Mapping[str, Any] | None = None, sha256: str | None = None,
    ) -> None:  # fmt: skip
        self.runner = runner
        self.name = name
        self.contract = contract or Contract.for_config(runner.generator.config)
        self.training = dict(training or {})
        self.sha256 = sha256

    # ----------------------------------------------------------------------------------------------- loading
    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike[str] = "default",
        *,
        device: str | torch.device = "auto",
        runtime: str = "auto",
        precision: str = "auto",
    ) -> Inpainter:
        """Load weights by registry name or path (see :func:`gmcnn.weights.load_weights`).

        Args:
            name_or_path: ``"default"`` (the embedded model), another registry name, a folder holding
                ``generator.json`` + ``generator.safetensors``, a training run directory (its ``export/``), a
                ``.safetensors`` export file, an official PyTorch ``*_net_GM.pth``, or an official TensorFlow
                release folder / ``snap-*`` prefix (read without TensorFlow; fed BGR as its contract says).
            device: ``"auto"`` (CUDA if present, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"`` ...
            runtime: execution back end, see :func:`gmcnn.inpainting.backends.build_runner`.
            precision: numeric precision, see :func:`gmcnn.inpainting.backends.build_runner`.
        """
        w = load_weights(name_or_path)
        runner = build_runner(w.generator, device=device, runtime=runtime, precision=precision)
        training = w.meta.get("training") or {}
        return cls(runner, name=w.name, contract=w.contract, training=training, sha256=w.meta.get("sha256"))

    @classmethod
    def from_generator(
        cls,
        generator: Generator,
        *,
        device: str | torch.device = "auto",
        runtime: str = "auto",
        precision: str = "auto",
        name: str = "in-memory",
        contract: Contract | None = None,
    ) -> Inpainter:
        """Wrap an in-memory generator (same options as :meth:`from_pretrained`)."""
        runner = build_runner(generator, device=device, runtime=runtime, precision=precision)
        return cls(runner, name=name, contract=contract)

    # ------------------------------------------------------------------------------------------- properties
    @property
    def generator(self) -> Generator:
        return self.runner.generator

    @property
    def train_size(self) -> int:
        """Image side the weights were trained at (256 if unknown): the scale holes look natural at."""
        return self.contract.trained_size

    # ---------------------------------------------------------------------------------------------- calling
    def __call__(self, image: Image.Image | np.ndarray, mask: Any, **options: Any) -> Image.Image | np.ndarray:
        """Fill the masked pixels of ``image``; keyword options are :class:`FillOptions` fields.

        Args:
            image: PIL image or uint8 ndarray (``HxW``, ``HxWx3``, ``HxWx4``); alpha is passed through untouched.
            mask: same height and width; white / non-zero / True = hole (see
                :func:`gmcnn.inpainting.image.normalize_mask`).
            **options: ``strategy``, ``process_size``, ``grow``, ``feather``, ``margin``, ``detail`` ... (see
                :class:`FillOptions`; ``None`` means the default).

        Returns:
            The filled image, same type, mode/shape and size as ``image``.

        Raises:
            UserError: mask size differs from the image size, a mask that covers the whole image, unsupported
                input types, bad options, or ``"original"`` on an image too large for this machine's memory.
        """
        return self.fill(image, mask, FillOptions.from_kwargs(**options)).image

    def plan(self, image: Image.Image | np.ndarray, mask: Any, options: FillOptions | None = None) -> FillPlan:
        """The plan :meth:`fill` would run (strategy chosen, windows, process size), without running the model."""
        options = (options or FillOptions()).for_model(self.contract)
        _, weight = fill_regions(P.split_image(image), mask, grow=options.grow, feather=options.feather)
        return self._plan(weight > 0, options)

    def fill(
        self,
        image: Image.Image | np.ndarray,
        mask: Any,
        options: FillOptions | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
        explain: bool = False,
    ) -> FillResult:
        """Fill the masked pixels of ``image`` (see :meth:`__call__`) and report what ran.

        Args:
            progress: called as ``progress(windows_done, windows_total)`` before the first window and after each
                one; an exception it raises stops the fill (that is how the web server cancels a job).
            explain: also record how it was filled (``result.explanation``: each stage's picture, where the fill
                was copied from, a confidence map); costs a few image copies, not a second run.

        Returns:
            A :class:`FillResult`: the filled image plus the plan, per-stage timings and the back end used.
        """
        return self._run(self._prepare(image, mask, options or FillOptions(), explain), progress=progress)

    def fill_batch(self, images: Sequence[Image.Image | np.ndarray], masks: Sequence[Any],
                   options: FillOptions | None = None) -> list[FillResult]:  # fmt: skip
        """Fill several images; those the network sees whole (one window) at the same size go through it together.

        Results are byte-identical to :meth:`fill` on each image alone (the back ends compute every sample of a
        batch independently); batching only trades memory for speed. Each result's ``timings["model"]`` is its
        share of its batch's time.
        """
        if len(images) != len(masks):
            raise UserError(f"fill_batch got {len(images)} images but {len(masks)} masks")
        jobs = [self._prepare(img, m, options or FillOptions(), False) for img, m in zip(images, masks, strict=True)]
        groups: dict[tuple[int, ...], list[tuple[_Job, NetInput]]] = {}
        for job in jobs:
            if len(job.plan.windows) == 1 and job.result.options.uses_network:
                sl = job.plan.windows[0].slices()
                net = self.runner.net_input(job.user.rgb[sl], job.hole[sl], job.plan.window_size(job.plan.windows[0]))
                groups.setdefault(tuple(net.image.shape), []).append((job, net))
        for members in groups.values():
            start = time.perf_counter()
            pred = self.runner(torch.cat([n.image for _, n in members]), torch.cat([n.mask for _, n in members]))
            share = (time.perf_counter() - start) / len(members)
            for (job, net), one in zip(members, pred.split(1), strict=True):
                job.coarse = self.runner.net_output(one, net, job.hole.shape)
                job.result.timings["model"] = share
        return [self._run(job) for job in jobs]

    # -------------------------------------------------------------------------------------------- one fill
    def _prepare(self, image: Image.Image | np.ndarray, mask: Any, options: FillOptions, explain: bool) -> _Job:
        """Regions and plan of one fill, before the network runs."""
        options = options.for_model(self.contract)  # what this model does with the options left to it
        timings: dict[str, float] = {}
        start = time.perf_counter()
        user = P.split_image(image)
        hole, weight = fill_regions(user, mask, grow=options.grow, feather=options.feather)
        plan = self._plan(weight > 0, options)
        result = FillResult(image, options, plan, timings, self.runner.runtime, self.runner.precision, model=self.name)
        canvas = ExplainCanvas(user.rgb, weight > 0) if explain and plan.windows else None
        timings["prepare"] = time.perf_counter() - start
        return _Job(image, user, hole, weight, plan, result, start, canvas)

    def _plan(self, region: np.ndarray, options: FillOptions) -> FillPlan:
        assert options.process_size is not None  # resolved by FillOptions.for_model, as every option left to the model
        return plan_fill(
            region, strategy=options.strategy, process_size=options.process_size, margin=options.margin,
            min_side=self.train_size,
        )  # fmt: skip

    def _run(self, job: _Job, *, progress: Callable[[int, int], None] | None = None) -> FillResult:
        """Run a prepared fill: every window (or the batch's prediction for the only one), then merge."""
        result, plan, user = job.result, job.plan, job.user
        if not plan.windows:
            warnings.warn(f"{EMPTY_MASK}; returning the image unchanged", stacklevel=3)
            result.image = job.image.copy()
            result.timings["total"] = time.perf_counter() - job.start
            return result
        if plan.strategy == "original" and job.result.options.uses_network:
            self.runner.check_fits(*user.size)
        out = user.rgb.copy()
        for done, box in enumerate(plan.windows):
            if progress is not None:
                progress(done, len(plan.windows))
            self._fill_window(job, out, box)
        if progress is not None:
            progress(len(plan.windows), len(plan.windows))
        result.image = P.merge_image(out, user)
        stages = ("model", "completion")
        result.stages = [*(s for s in stages if s in result.timings), "composite"]
        if job.canvas is not None:
            job.canvas.stage("composite", (slice(None), slice(None)), out, result.timings.get("composite", 0.0))
            result.explanation = job.canvas.finish()
        result.timings["total"] = time.perf_counter() - job.start
        return result

    def _fill_window(self, job: _Job, out: np.ndarray, box: Box) -> None:
        """Fill one window of ``out`` in place: network (when used) -> completion stage -> one composite."""
        sl = box.slices()
        rgb, hole, timings, canvas = job.user.rgb[sl], job.hole[sl], job.result.timings, job.canvas
        options = job.result.options
        pred = None  # (1, 3, h, w) in [-1, 1], float32: the network's fill of the window
        if options.uses_network:
            if canvas is not None:
                self._explain_prefill(canvas, sl, rgb, hole)
            t0 = time.perf_counter()
            # a batched prediction's share of its batch is already in "model"
            pred = self.runner.predict(rgb, hole, job.plan.window_size(box)) if job.coarse is None else job.coarse
            t1 = time.perf_counter()
            timings["model"] = timings.get("model", 0.0) + (t1 - t0)
            if canvas is not None:
                canvas.stage("network", sl, P.tensor_to_rgb(pred), t1 - t0)
                if options.detail == 0:  # no completion stage to say how far its copies can be trusted
                    canvas.trust(sl, _paper_confidence(hole))
        filled = self._complete(pred, rgb, hole, job, sl)
        t2 = time.perf_counter()
        P.composite_into(out[sl], filled, rgb, job.weight[sl])
        timings["composite"] = timings.get("composite", 0.0) + (time.perf_counter() - t2)

    @staticmethod
    def _explain_prefill(canvas: ExplainCanvas, sl: tuple[slice, slice], rgb: np.ndarray, hole: np.ndarray) -> None:
        """The push-pull smooth fill of the window: what a ``fill="smooth"`` network starts from."""
        start = time.perf_counter()
        smooth = smooth_fill(P.rgb_to_tensor(rgb), P.mask_to_tensor(hole))
        canvas.stage("prefill", sl, P.tensor_to_rgb(smooth), time.perf_counter() - start)

    def _complete(
        self, coarse: torch.Tensor | None, rgb: np.ndarray, hole: np.ndarray, job: _Job, sl: tuple[slice, slice]
    ) -> torch.Tensor:
        """The completion stage on the window's hole: texture of the photo, blended with the network's fill as
        ``detail`` says (``coarse`` is None only at detail 1 without a feather band, where it is not used)."""
        detail = job.result.options.detail
        assert detail is not None  # resolved by _prepare (FillOptions.for_model)
        if detail <= 0:
            assert coarse is not None
            return coarse
        from gmcnn.inpainting.completion import complete

        start = time.perf_counter()
        smooth = P.tensor_to_rgb(coarse) if coarse is not None else rgb
        done = complete(rgb, hole, smooth, detail=detail, explain=job.canvas is not None)
        seconds = time.perf_counter() - start
        job.result.timings["completion"] = job.result.timings.get("completion", 0.0) + seconds
        if job.canvas is not None:
            job.canvas.stage("completion", sl, done.image, seconds)
            if done.sources is not None:
                job.canvas.copied_from(sl, done.sources)
            job.canvas.trust(sl, _paper_confidence(hole) if done.confidence is None else done.confidence)
        filled = P.rgb_to_tensor(done.image)
        if coarse is None:
            return filled
        # the feather band (outside the hole) keeps the network's prediction to blend with
        return torch.where(torch.from_numpy(hole)[None, None], filled, coarse)


def _paper_confidence(hole: np.ndarray) -> np.ndarray:
    """The paper's confidence-driven weights of a hole (1 on known pixels), computed at most
    :data:`CONFIDENCE_SIDE` px large: trust falls with the distance into the hole, propagated from its border."""
    h, w = hole.shape
    scale = min(1.0, CONFIDENCE_SIDE / max(h, w))
    small = P.resize_mask(hole, (max(1, round(h * scale)), max(1, round(w * scale))))
    mask = P.mask_to_tensor(small)
    size = max(3, 2 * round(32 * scale) + 1)  # the paper's 65-px window, at this scale
    # reflect padding (the official PyTorch layer): the image's own border is not a reason for doubt
    weights = confidence_weights(mask, size=size, padding="reflect") + (1.0 - mask)  # (1, 1, h', w'): 1 = known
    weights = F.interpolate(weights, size=(h, w), mode="bilinear", align_corners=False)[0, 0]
    return np.where(hole, weights.clamp(0.0, 1.0).numpy(), 1.0).astype(np.float32)


@dataclass
class _Job:
    """One fill between :meth:`Inpainter._prepare` and :meth:`Inpainter._run`."""

    image: Image.Image | np.ndarray
    user: P.UserImage
    hole: np.ndarray
    weight: np.ndarray
    plan: FillPlan
    result: FillResult
    start: float
    canvas: ExplainCanvas | None = None  # set when the fill explains itself
    coarse: torch.Tensor | None = None  # the only window's prediction, when fill_batch ran it


def inpaint(image: Image.Image | np.ndarray, mask: Any, **options: Any) -> Image.Image | np.ndarray:
    """One-shot fill with the embedded default model (loads it on first use and keeps it)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Inpainter.from_pretrained("default")
    return _DEFAULT(image, mask, **options)


_DEFAULT: Inpainter | None = None
