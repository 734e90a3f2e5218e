"""`Inpainter`: load a generator once, then fill holes in user images of any size.

Imports no training code. Data flow of one call::

    split_image / normalize_mask -> size checks -> grow -> strategy (original | resize | crop windows)
    -> per window: resize to the processing scale -> pad to the network's contract -> runner
    -> unpad -> upscale the prediction -> blend (feathered or hard) -> round -> paste under the mask
    -> merge alpha / grey back -> same type and size as the input

Pixels outside the (grown) mask, or outside the feather band when ``feather > 0``, are copied from the input
and therefore byte-identical.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gmcnn import processing as P
from gmcnn import weights as W
from gmcnn.checkpoint import CONFIG_NAME, load_generator
from gmcnn.errors import UserError
from gmcnn.models.gmcnn import GMCNN
from gmcnn.runtime import Runner, build_runner

STRATEGIES = ("auto", "original", "resize", "crop")
DEFAULT_PROCESS_SIZE = 512


class Inpainter:
    """A loaded GMCNN ready to fill holes: ``inpainter(image, mask) -> filled image``.

    Build it with :meth:`from_pretrained` or :meth:`from_generator`. Calls are thread-compatible but not
    parallel: one model, one call at a time (the web server queues requests in front of it).
    """

    def __init__(self, runner: Runner, meta: dict[str, Any], *, name: str) -> None:
        self.runner = runner
        self.meta = meta
        self.name = name
        self.last_info: dict[str, Any] = {}

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
        """Load weights by registry name or path.

        Args:
            name_or_path: ``"default"`` (the embedded model), another registry name, a folder holding
                ``generator.json`` + ``generator.safetensors``, a training run directory (its ``export/``), a
                ``.safetensors`` export file, or an official PyTorch ``*_net_GM.pth``.
            device: ``"auto"`` (CUDA if present, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"`` ...
            runtime: execution back end, see :func:`gmcnn.runtime.build_runner`.
            precision: numeric precision, see :func:`gmcnn.runtime.build_runner`.
        """
        generator, meta, name = _load(name_or_path)
        return cls.from_generator(generator, device=device, runtime=runtime, precision=precision, meta=meta, name=name)

    @classmethod
    def from_generator(
        cls,
        generator: GMCNN,
        *,
        device: str | torch.device = "auto",
        runtime: str = "auto",
        precision: str = "auto",
        meta: dict[str, Any] | None = None,
        name: str = "in-memory",
    ) -> Inpainter:
        """Wrap an in-memory :class:`GMCNN` (same options as :meth:`from_pretrained`)."""
        runner = build_runner(generator, device=device, runtime=runtime, precision=precision)
        meta = dict(meta or {})
        meta.setdefault("config", generator.config.to_dict())
        meta.setdefault("training", {})
        return cls(runner, meta, name=name)

    # ------------------------------------------------------------------------------------------- properties
    @property
    def generator(self) -> GMCNN:
        return self.runner.generator

    @property
    def train_size(self) -> int:
        """Image side the weights were trained at (256 if unknown): the scale holes look natural at."""
        return int(self.meta.get("training", {}).get("image_size") or 256)

    # ---------------------------------------------------------------------------------------------- calling
    def __call__(
        self,
        image: Image.Image | np.ndarray,
        mask: Any,
        *,
        strategy: str = "auto",
        process_size: int | None = None,
        grow: int = 0,
        feather: int = 0,
        margin: float = 0.5,
    ) -> Image.Image | np.ndarray:
        """Fill the masked pixels of ``image``.

        Args:
            image: PIL image or uint8 ndarray (``HxW``, ``HxWx3``, ``HxWx4``); alpha is passed through untouched.
            mask: same height and width; white / non-zero / True = hole (see :func:`gmcnn.processing.normalize_mask`).
            strategy: ``"original"`` runs the network on the whole image at full resolution; ``"resize"`` runs
                it on the whole image scaled so its longer side is ``process_size`` and upscales only the
                fill; ``"crop"`` runs it on a window around each hole (with ``margin`` context), each scaled
                down to ``process_size`` if larger; ``"auto"`` = ``"original"`` when the image fits in
                ``process_size``, else ``"crop"``.
            process_size: longest side the network sees per window (default 512; larger = more detail, slower).
            grow: dilate the mask by this many pixels first (covers halos around objects to remove).
            feather: blend the fill into its surroundings over this many pixels *outside* the hole; those
                pixels change too. With 0 (default) only hole pixels change.
            margin: context around each hole for ``"crop"``, as a fraction of the hole's longer side.

        Returns:
            The filled image, same type, mode/shape and size as ``image``.

        Raises:
            UserError: mask size differs from the image size, unsupported input types, bad options, or
                ``"original"`` on an image too large for this machine's memory.
        """
        if strategy not in STRATEGIES:
            raise UserError(f"unknown strategy {strategy!r}; choose one of {list(STRATEGIES)}")
        if grow < 0 or feather < 0:
            raise UserError(f"grow and feather must be >= 0 pixels, got grow={grow}, feather={feather}")
        process_size = int(process_size or DEFAULT_PROCESS_SIZE)
        if process_size < 64:
            raise UserError(f"process_size must be at least 64 pixels, got {process_size}")
        start = time.perf_counter()
        user = P.split_image(image)
        hole = P.normalize_mask(mask, user.size)
        hole = P.grow_mask(hole, grow) if grow else hole
        if not hole.any():
            warnings.warn("the mask is empty (no pixel to fill); returning the image unchanged", stacklevel=2)
            self.last_info = {"strategy": "none", "windows": 0, "seconds": 0.0}
            return image.copy()
        weight = P.feather_weights(hole, feather) if feather else hole.astype(np.float32)
        h, w = user.size
        if strategy == "auto":
            strategy = "original" if max(h, w) <= process_size else "crop"
        if strategy == "original":
            self._check_memory(h, w)
            windows = [P.Box(0, 0, h, w)]
            scale_to = None
        elif strategy == "resize":
            windows = [P.Box(0, 0, h, w)]
            scale_to = process_size
        else:
            # Windows must cover the feather band too: every pixel with a weight may change.
            windows = P.context_windows(weight > 0, margin=margin, min_margin=32, min_side=self.train_size)
            scale_to = process_size

        out = user.rgb.copy()
        for box in windows:
            sl = box.slices()
            filled = self._fill_window(user.rgb[sl], hole[sl], weight[sl], scale_to)
            region = weight[sl] > 0
            out[sl] = P.paste(out[sl], filled, region)
        self.last_info = {
            "strategy": strategy,
            "windows": len(windows),
            "process_size": process_size,
            "seconds": time.perf_counter() - start,
        }
        return P.merge_image(out, user)

    def _fill_window(self, rgb: np.ndarray, hole: np.ndarray, weight: np.ndarray, scale_to: int | None) -> np.ndarray:
        """Fill one window; returns uint8 ``hxwx3`` blended under ``weight`` (pixels with weight 0 = input)."""
        h, w = hole.shape
        scale = min(1.0, scale_to / max(h, w)) if scale_to else 1.0
        sh, sw = max(1, round(h * scale)), max(1, round(w * scale))
        small_rgb = P.resize_rgb(rgb, (sh, sw))
        small_hole = P.resize_mask(hole, (sh, sw))
        dev = self.runner.device
        image_t = P.rgb_to_tensor(small_rgb).to(dev)  # (1, 3, sh, sw) in [-1, 1]
        mask_t = P.mask_to_tensor(small_hole).to(dev)  # (1, 1, sh, sw), 1 = hole
        cfg = self.generator.config
        image_p, mask_p, pads = P.pad_to_fit(image_t, mask_t, multiple=cfg.size_multiple, min_size=cfg.min_size)
        pred = P.unpad(self.runner(image_p, mask_p), pads).float().cpu()  # (1, 3, sh, sw)
        if (sh, sw) != (h, w):
            pred = F.interpolate(pred, size=(h, w), mode="bicubic", align_corners=False).clamp_(-1, 1)
        full = P.rgb_to_tensor(rgb)
        blended = P.composite(pred, full, torch.from_numpy(weight)[None, None])
        return P.tensor_to_rgb(blended)

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


def _available_memory_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _load(name_or_path: str | os.PathLike[str]) -> tuple[GMCNN, dict[str, Any], str]:
    """Resolve a registry name or a path to (generator, metadata, display name)."""
    text = str(name_or_path)
    path = Path(text)
    if text in W.names():
        entry = W.get(text)
        if entry.path is None:
            raise UserError(f"weights {text!r} are not shipped: {entry.description}. Source: {entry.source}")
        if not (entry.path / CONFIG_NAME).is_file():
            raise UserError(f"the embedded weights are missing from this installation ({entry.path}); reinstall gmcnn")
        generator, meta = load_generator(entry.path)
        return generator, meta, text
    if not path.exists():
        raise FileNotFoundError(f"no weights named {text!r} and no such path; known names: {W.names()}")
    if path.suffix in (".pth", ".pt"):
        from gmcnn.convert import load_official  # reads with weights_only=True

        generator = load_official(path)
        contract = W.get("official-celebahq-256-rect").contract
        return generator, {"config": generator.config.to_dict(), **contract}, path.name
    if path.is_dir() and not (path / CONFIG_NAME).is_file() and (path / "export" / CONFIG_NAME).is_file():
        path = path / "export"  # a training run directory: its latest export
    generator, meta = load_generator(path)
    return generator, meta, str(name_or_path)


def inpaint(image: Image.Image | np.ndarray, mask: Any, **options: Any) -> Image.Image | np.ndarray:
    """One-shot fill with the embedded default model (loads it on first use and keeps it)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Inpainter.from_pretrained("default")
    return _DEFAULT(image, mask, **options)


_DEFAULT: Inpainter | None = None
