"""`Inpainter`: load a generator once, then fill holes in user images of any size.

Imports no training code. One fill, as data (each stage reports into the returned :class:`FillResult`)::

    split_image / normalize_mask -> options (grow, feather) -> plan (windows.plan_fill)
    -> per window: resize to the plan's scale -> pad to the network's contract -> back end (the model's
       coarse fill) -> unpad -> upscale -> texture stage (off by default) -> composite once, under the mask
    -> merge alpha / grey back -> same type and size as the input

Pixels outside the (grown) mask, or outside the feather band when ``feather > 0``, are copied from the input
and therefore byte-identical.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gmcnn.errors import UserError
from gmcnn.inpainting import image as P
from gmcnn.inpainting.backends import Runner, build_runner
from gmcnn.inpainting.options import FillOptions, FillResult
from gmcnn.inpainting.windows import Box, FillPlan, plan_fill
from gmcnn.models.gmcnn import GMCNN
from gmcnn.models.gmcnn_tf import GMCNNTF
from gmcnn.weights.contract import Contract
from gmcnn.weights.loader import load_weights


class Inpainter:
    """A loaded GMCNN ready to fill holes: ``inpainter(image, mask) -> filled image``.

    Build it with :meth:`from_pretrained` or :meth:`from_generator`. :meth:`fill` returns a :class:`FillResult`
    (the image and what the call did); ``__call__`` returns just the image. Calls hold no per-call state on the
    object, but run one at a time (one model; the web server queues requests in front of it).
    """

    def __init__(self, runner: Runner, meta: dict[str, Any], *, name: str, contract: Contract | None = None) -> None:
        self.runner = runner
        self.meta = meta
        self.name = name
        self.contract = contract or Contract.from_meta(meta, config=runner.generator.config)

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
        return cls.from_generator(
            w.generator, device=device, runtime=runtime, precision=precision, meta=w.meta, name=w.name,
            contract=w.contract,
        )  # fmt: skip

    @classmethod
    def from_generator(
        cls,
        generator: GMCNN | GMCNNTF,
        *,
        device: str | torch.device = "auto",
        runtime: str = "auto",
        precision: str = "auto",
        meta: dict[str, Any] | None = None,
        name: str = "in-memory",
        contract: Contract | None = None,
    ) -> Inpainter:
        """Wrap an in-memory :class:`GMCNN` (same options as :meth:`from_pretrained`)."""
        runner = build_runner(generator, device=device, runtime=runtime, precision=precision)
        meta = dict(meta or {})
        meta.setdefault("config", generator.config.to_dict())
        meta.setdefault("training", {})
        return cls(runner, meta, name=name, contract=contract)

    # ------------------------------------------------------------------------------------------- properties
    @property
    def generator(self) -> GMCNN | GMCNNTF:
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
            **options: ``strategy``, ``process_size``, ``grow``, ``feather``, ``margin``, ``texture`` (see
                :class:`FillOptions`; ``None`` means the default).

        Returns:
            The filled image, same type, mode/shape and size as ``image``.

        Raises:
            UserError: mask size differs from the image size, unsupported input types, bad options, or
                ``"original"`` on an image too large for this machine's memory.
        """
        return self.fill(image, mask, FillOptions.from_kwargs(**options)).image

    def plan(self, image: Image.Image | np.ndarray, mask: Any, options: FillOptions | None = None) -> FillPlan:
        """The plan :meth:`fill` would run (strategy chosen, windows, process size), without running the model."""
        options = options or FillOptions()
        _, weight = self._regions(P.split_image(image), mask, options)
        return self._plan(weight > 0, options)

    def fill(
        self,
        image: Image.Image | np.ndarray,
        mask: Any,
        options: FillOptions | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> FillResult:
        """Fill the masked pixels of ``image`` (see :meth:`__call__`) and report what ran.

        Args:
            progress: called as ``progress(windows_done, windows_total)`` before the first window and after each
                one; an exception it raises stops the fill (that is how the web server cancels a job).

        Returns:
            A :class:`FillResult`: the filled image plus the plan, per-stage timings and the back end used.
        """
        return self._run(self._prepare(image, mask, options or FillOptions()), progress=progress)

    def fill_batch(self, images: Sequence[Image.Image | np.ndarray], masks: Sequence[Any],
                   options: FillOptions | None = None) -> list[FillResult]:  # fmt: skip
        """Fill several images; those the network sees whole (one window) at the same size go through it together.

        Results are byte-identical to :meth:`fill` on each image alone (the back ends compute every sample of a
        batch independently); batching only trades memory for speed. Each result's ``timings["model"]`` is its
        share of its batch's time.
        """
        if len(images) != len(masks):
            raise UserError(f"fill_batch got {len(images)} images but {len(masks)} masks")
        jobs = [self._prepare(image, mask, options or FillOptions()) for image, mask in zip(images, masks, strict=True)]
        groups: dict[tuple[int, ...], list[tuple[_Job, _NetInput]]] = {}
        for job in jobs:
            if len(job.plan.windows) == 1:
                sl = job.plan.windows[0].slices()
                net = self._net_input(job.user.rgb[sl], job.hole[sl], job.plan.window_size(job.plan.windows[0]))
                groups.setdefault(tuple(net.image.shape), []).append((job, net))
        for members in groups.values():
            start = time.perf_counter()
            pred = self._run_net(torch.cat([n.image for _, n in members]), torch.cat([n.mask for _, n in members]))
            share = (time.perf_counter() - start) / len(members)
            for (job, net), one in zip(members, pred.split(1), strict=True):
                job.coarse = self._net_output(one, net, job.hole.shape)
                job.result.timings["model"] = share
        return [self._run(job) for job in jobs]

    def _prepare(self, image: Image.Image | np.ndarray, mask: Any, options: FillOptions) -> _Job:
        """Regions and plan of one fill, before the network runs."""
        timings: dict[str, float] = {}
        start = time.perf_counter()
        user = P.split_image(image)
        hole, weight = self._regions(user, mask, options)
        plan = self._plan(weight > 0, options)
        result = FillResult(image, options, plan, timings, self.runner.runtime, self.runner.precision)
        timings["prepare"] = time.perf_counter() - start
        return _Job(image, user, hole, weight, plan, result, start)

    def _run(self, job: _Job, *, progress: Callable[[int, int], None] | None = None) -> FillResult:
        """Run a prepared fill: every window (or the batch's prediction for the only one), then merge."""
        result, plan, user = job.result, job.plan, job.user
        if not plan.windows:
            warnings.warn("the mask is empty (no pixel to fill); returning the image unchanged", stacklevel=3)
            result.image = job.image.copy()
            result.timings["total"] = time.perf_counter() - job.start
            return result
        if plan.strategy == "original":
            self._check_memory(*user.size)
        out = user.rgb.copy()
        for done, box in enumerate(plan.windows):
            if progress is not None:
                progress(done, len(plan.windows))
            self._fill_window(out, user.rgb, job.hole, job.weight, box, plan, result, coarse=job.coarse)
        if progress is not None:
            progress(len(plan.windows), len(plan.windows))
        result.image = P.merge_image(out, user)
        result.stages = ["model", *(["texture"] if "texture" in result.timings else []), "composite"]
        result.timings["total"] = time.perf_counter() - job.start
        return result

    # ----------------------------------------------------------------------------------------------- stages
    def _regions(self, user: P.UserImage, mask: Any, options: FillOptions) -> tuple[np.ndarray, np.ndarray]:
        """The (grown) bool hole and the float32 blend weight (1 in the hole, falling off over the feather band)."""
        hole = P.normalize_mask(mask, user.size)
        hole = P.grow_mask(hole, options.grow) if options.grow else hole
        weight = P.feather_weights(hole, options.feather) if options.feather else hole.astype(np.float32)
        return hole, weight

    def _plan(self, region: np.ndarray, options: FillOptions) -> FillPlan:
        return plan_fill(
            region, strategy=options.strategy, process_size=options.process_size, margin=options.margin,
            min_side=self.train_size,
        )  # fmt: skip

    def _fill_window(
        self, out: np.ndarray, rgb: np.ndarray, hole: np.ndarray, weight: np.ndarray, box: Box, plan: FillPlan,
        result: FillResult, *, coarse: torch.Tensor | None = None,
    ) -> None:  # fmt: skip
        """Fill one window of ``out`` in place: model (coarse) -> texture stage -> one composite under ``weight``.

        ``coarse``: the model's prediction for this window when :meth:`fill_batch` already ran it.
        """
        sl = box.slices()
        t0 = time.perf_counter()
        # (1, 3, h, w) in [-1, 1], float32; a batched prediction's share of its batch is already in "model"
        pred = self._coarse(rgb[sl], hole[sl], plan.window_size(box)) if coarse is None else coarse
        t1 = time.perf_counter()
        pred = self._texture(pred, rgb[sl], hole[sl], result)
        t2 = time.perf_counter()
        P.composite_into(out[sl], pred, rgb[sl], weight[sl])
        timings = result.timings
        timings["model"] = timings.get("model", 0.0) + (t1 - t0)
        timings["composite"] = timings.get("composite", 0.0) + (time.perf_counter() - t2)

    def _coarse(self, rgb: np.ndarray, hole: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        """The network's prediction for one window at ``size``, upscaled back to the window (float32, CPU)."""
        net = self._net_input(rgb, hole, size)
        return self._net_output(self._run_net(net.image, net.mask), net, hole.shape)

    def _run_net(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The back end on RGB ``(B,3,H,W)`` in [-1, 1]; the TF releases were trained on OpenCV's BGR images, so
        their contract's channel order flips the colours on the way in and back out."""
        if self.contract.channel_order != "BGR":
            return self.runner(image, mask)
        return self.runner(image.flip(1), mask).flip(1)

    def _net_input(self, rgb: np.ndarray, hole: np.ndarray, size: tuple[int, int]) -> _NetInput:
        """One window scaled to ``size`` and padded to the network's contract, on the back end's device."""
        small_rgb = P.resize_rgb(rgb, size)
        small_hole = P.resize_mask(hole, size)
        dev = self.runner.device
        image_t = P.rgb_to_tensor(small_rgb).to(dev)  # (1, 3, sh, sw) in [-1, 1]
        mask_t = P.mask_to_tensor(small_hole).to(dev)  # (1, 1, sh, sw), 1 = hole
        cfg = self.generator.config
        image_p, mask_p, pads = P.pad_to_fit(image_t, mask_t, multiple=cfg.size_multiple, min_size=cfg.min_size)
        return _NetInput(image_p, mask_p, pads)

    def _net_output(self, pred: torch.Tensor, net: _NetInput, window: tuple[int, ...]) -> torch.Tensor:
        """A ``(1,3,H,W)`` network output unpadded and upscaled back to the ``window`` (h, w): float32, CPU."""
        pred = P.unpad(pred, net.pads).float().cpu()  # (1, 3, sh, sw)
        if tuple(pred.shape[-2:]) != tuple(window):
            pred = F.interpolate(pred, size=tuple(window), mode="bicubic", align_corners=False).clamp_(-1, 1)
        return pred

    def _texture(self, coarse: torch.Tensor, rgb: np.ndarray, hole: np.ndarray, result: FillResult) -> torch.Tensor:
        """The texture stage: refine the coarse fill of one window before the composite (off: unchanged)."""
        if result.options.texture == "off":
            return coarse
        from gmcnn.inpainting.texture import synthesize  # pypatchmatch only when the stage runs

        start = time.perf_counter()
        out = synthesize(coarse, rgb, hole, mode=result.options.texture)
        result.timings["texture"] = result.timings.get("texture", 0.0) + (time.perf_counter() - start)
        return out

    def _check_memory(self, h: int, w: int) -> None:
        """Refuse a full-resolution fill that would not fit in this machine's free memory."""
        cfg = self.generator.config
        ph = max(cfg.min_size, -(-h // cfg.size_multiple) * cfg.size_multiple)  # the padded size the net sees
        pw = max(cfg.min_size, -(-w // cfg.size_multiple) * cfg.size_multiple)
        need = self.runner.estimate_memory_bytes(ph, pw)
        available = _available_memory_bytes()
        if available is not None and need > available:
            raise UserError(
                f"filling {w}x{h} at full resolution needs about {need / 2**30:.1f} GiB but only "
                f"{available / 2**30:.1f} GiB is free; use strategy='crop' or 'resize' (or a smaller image)"
            )


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
    coarse: torch.Tensor | None = None  # the only window's prediction, when fill_batch ran it


class _NetInput(NamedTuple):
    """A window as the network takes it: padded ``(1,3,H,W)`` image and ``(1,1,H,W)`` mask, and the padding."""

    image: torch.Tensor
    mask: torch.Tensor
    pads: tuple[int, int, int, int]


def _available_memory_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def inpaint(image: Image.Image | np.ndarray, mask: Any, **options: Any) -> Image.Image | np.ndarray:
    """One-shot fill with the embedded default model (loads it on first use and keeps it)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Inpainter.from_pretrained("default")
    return _DEFAULT(image, mask, **options)


_DEFAULT: Inpainter | None = None
