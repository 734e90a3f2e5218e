"""ONNX: export a generator to an ONNX graph and run one with onnxruntime (the ``"onnx"`` back end).

The ONNX graph takes the same tensors as :meth:`gmcnn.models.gmcnn.GMCNN.forward` — ``image``
``(B,3,H,W)`` float32 in [-1, 1] (RGB; BGR for the TF-release network, as the metadata's contract says) and
``mask`` ``(B,1,H,W)`` float32 with 1 = hole — and returns ``pred``
``(B,3,H,W)`` in [-1, 1], not composited. Batch, height and width are dynamic unless a fixed size is asked for;
the size contract (multiples of ``size_multiple``, at least ``min_size``) is written into the model's metadata
because the graph itself does not check it. :class:`OnnxRunner` runs such a file with the same call contract
as :class:`gmcnn.inpainting.backends.Runner`.

``int8`` models are statically quantised (per-channel int8 weights, uint8 activations, QDQ format) after
calibrating activation ranges on photo crops with holes cut into them.

The command line (``gmcnn export``) is :mod:`gmcnn.cli.export`.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from gmcnn.errors import UserError
from gmcnn.models.base import Generator
from gmcnn.models.registry import architecture_of, create_model
from gmcnn.weights.contract import Contract

OPSET = 17
INPUT_NAMES = ("image", "mask")
OUTPUT_NAME = "pred"
CALIBRATION_SIZE = 256  # crops the int8 ranges are calibrated on: the training resolution of the default model


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise UserError(f"ONNX export needs the 'fast' extra: pip install 'gmcnn[fast]' ({exc})") from None


def onnx_bytes(generator: Generator, *, height: int | None = None, width: int | None = None) -> bytes:
    """Serialise ``generator`` to an ONNX model (float32).

    Args:
        generator: the network (moved to the CPU in eval mode for tracing; the caller's copy is untouched).
        height: fixed input height, or ``None`` (with ``width``) for dynamic height and width.
        width: fixed input width, or ``None``.

    Raises:
        UserError: only one of ``height`` / ``width`` given, or a size the network cannot take.
    """
    _require_onnx()
    import onnx

    if (height is None) != (width is None):
        raise UserError("give both --height and --width for a fixed-size export, or neither for dynamic sizes")
    arch = architecture_of(generator)
    if not arch.onnx:
        raise UserError(f"architecture {arch.name!r} does not export to ONNX; use runtime='eager'")
    cfg = generator.config
    h, w = (height, width) if height is not None and width is not None else (cfg.min_size, cfg.min_size)
    try:
        generator.check_size(h, w)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    net = _cpu_copy(generator)
    example = (torch.zeros(1, 3, h, w), torch.zeros(1, 1, h, w))
    dynamic = None
    if height is None:
        dynamic = {name: {0: "batch", 2: "height", 3: "width"} for name in (*INPUT_NAMES, OUTPUT_NAME)}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript-based exporter warns that it is deprecated and that Python-side size checks are not
        # traced; the contract goes into the metadata instead. (The dynamo exporter needs onnxscript.)
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            example,
            buffer,  # type: ignore[arg-type]  # a BytesIO works with the TorchScript exporter
            dynamo=False,
            opset_version=OPSET,
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_axes=dynamic,
            do_constant_folding=True,
        )
    model = onnx.load_from_string(buffer.getvalue())
    meta = {"gmcnn_config": json.dumps(cfg.to_dict()), "gmcnn_contract": json.dumps(Contract.for_config(cfg).feeding())}
    onnx.helper.set_model_props(model, meta)
    return model.SerializeToString()


def _cpu_copy(generator: Generator) -> torch.nn.Module:
    net = create_model(architecture_of(generator).name, generator.config)
    net.load_state_dict({k: v.detach().to("cpu", torch.float32) for k, v in generator.state_dict().items()})
    return net.eval()


def photo_crops(images: Sequence[np.ndarray], *, size: int = CALIBRATION_SIZE, seed: int = 0) -> list[np.ndarray]:
    """Square ``size`` crops (uint8 ``HxWx3``) from photos, two per photo at random places."""
    rng = np.random.default_rng(seed)
    crops = []
    for img in images:
        img = np.asarray(img)[..., :3]
        h, w = img.shape[:2]
        if min(h, w) < size:
            raise UserError(f"calibration photos must be at least {size}x{size}, got {w}x{h}")
        for _ in range(2):
            y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
            crops.append(np.ascontiguousarray(img[y : y + size, x : x + size]))
    return crops


def calibration_photos(folder: str | Path | None = None) -> list[np.ndarray]:
    """Photos to calibrate int8 ranges on: images in ``folder``, else scikit-image's bundled sample photos."""
    if folder is not None:
        from PIL import Image

        files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
        if not files:
            raise UserError(f"no .jpg/.png/.webp photos in calibration folder {folder}")
        return [np.asarray(Image.open(p).convert("RGB")) for p in files[:16]]
    try:
        from skimage import data
    except ImportError:
        raise UserError(
            "int8 calibration needs photos: pass a folder (--calibration DIR) or install scikit-image"
        ) from None
    return [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.immunohistochemistry()]


def _calibration_feeds(crops: Sequence[np.ndarray], *, seed: int = 0) -> Iterator[dict[str, np.ndarray]]:
    """One feed per crop, with a random rectangle hole (a quarter to a half of each side)."""
    rng = np.random.default_rng(seed)
    for crop in crops:
        h, w = crop.shape[:2]
        image = crop.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1.0  # (1, 3, h, w) in [-1, 1]
        mask = np.zeros((1, 1, h, w), np.float32)
        mh, mw = rng.integers(h // 4, h // 2 + 1), rng.integers(w // 4, w // 2 + 1)
        y, x = rng.integers(0, h - mh + 1), rng.integers(0, w - mw + 1)
        mask[..., y : y + mh, x : x + mw] = 1.0
        yield {"image": image, "mask": mask}


def quantize_int8(model: bytes, crops: Sequence[np.ndarray]) -> bytes:
    """Statically quantise a float32 ONNX model to int8, calibrating activation ranges on ``crops``."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds = _calibration_feeds(crops)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.feeds, None)

    with tempfile.TemporaryDirectory(prefix="gmcnn-int8-") as tmp:
        src, prep, dst = (Path(tmp) / name for name in ("fp32.onnx", "prep.onnx", "int8.onnx"))
        src.write_bytes(model)
        # Shape inference and graph fusion first, as onnxruntime recommends: fewer, better-placed QDQ pairs.
        quant_pre_process(str(src), str(prep), skip_symbolic_shape=True)
        with _quiet_logging():
            quantize_static(
                str(prep),
                str(dst),
                _Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
            )
        return dst.read_bytes()


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    """onnxruntime's quantiser logs advice through the root logger at WARNING; keep user output clean."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


class OnnxRunner:
    """Runs an exported ONNX generator with onnxruntime: ``runner(image, mask) -> pred`` (float32 tensors).

    Args:
        model: path to a ``.onnx`` file or the serialised model.
        threads: intra-op threads (``None``: onnxruntime's default, one per core).
    """

    def __init__(self, model: str | Path | bytes, *, threads: int | None = None) -> None:
        _require_onnx()
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: unused-initializer notices are not the user's business
        if threads:
            options.intra_op_num_threads = threads
        source = model if isinstance(model, bytes) else str(model)
        self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        props = self.session.get_modelmeta().custom_metadata_map
        self.contract = json.loads(props.get("gmcnn_contract", "{}"))

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        feeds = {"image": image.detach().float().cpu().numpy(), "mask": mask.detach().float().cpu().numpy()}
        (pred,) = self.session.run([OUTPUT_NAME], feeds)
        return torch.from_numpy(pred)


def onnx_forward(generator: Generator, *, int8: bool = False) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """What :func:`~gmcnn.inpainting.backends.build_runner` runs for ``runtime="onnx"``."""
    model = onnx_bytes(generator)
    if int8:
        model = quantize_int8(model, photo_crops(calibration_photos()))
    return OnnxRunner(model, threads=torch.get_num_threads())
