"""The fill options and the fill result: one definition that every front end reads.

:class:`FillOptions` declares each option once — its type, default, bounds and help — so the library call,
the ``gmcnn inpaint`` flags, the HTTP form (and so ``/openapi.json``), ``/api/v1/health`` and the web page's
controls all come from here (:meth:`FillOptions.schema` is the JSON-able form they read). A call returns a
:class:`FillResult`: the filled image plus what the call did (strategy, windows, timings, back end), instead
of leaving facts in shared state on the :class:`~gmcnn.inpainting.pipeline.Inpainter`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from gmcnn.errors import UserError

if TYPE_CHECKING:  # the annotations only name these; neither module imports this one at run time
    from gmcnn.inpainting.explain import Explanation
    from gmcnn.inpainting.windows import FillPlan

STRATEGIES = ("auto", "original", "resize", "crop")


def _option(default: Any, help: str, **bounds: Any) -> Any:
    """A dataclass field carrying its help and bounds (``minimum``, ``maximum``, ``choices``) as metadata, and
    how front ends show it (:data:`DISPLAY`)."""
    return field(default=default, metadata={"help": help, **bounds})


# How a control for the option is shown (the web page builds its controls from these; the CLI ignores them):
# label: a short name; unit: shown after the value; ends: words for the two ends of a slider;
# advanced: tucked away under "Advanced"; image_side: values above the image's longer side change nothing.
DISPLAY = ("label", "unit", "ends", "advanced", "image_side")


@dataclass(frozen=True, kw_only=True)
class FillOptions:
    """How to fill one image; every field is validated on construction (a ``UserError`` names the bound).

    Attributes:
        strategy: ``"original"`` runs the network on the whole image at full resolution; ``"resize"`` on the
            whole image scaled so its longer side is ``process_size``, upscaling only the fill; ``"crop"`` on a
            window around each hole (with ``margin`` context), each scaled down to ``process_size`` if larger;
            ``"auto"`` = ``"original"`` when the image fits in ``process_size``, else ``"crop"``.
        process_size: longest side the network sees per window (larger = more detail, slower); ``None`` = the
            model's own (its contract's ``process_size``: 512, or the size a release was made to run at).
        grow: dilate the mask by this many pixels first (covers halos around objects to remove).
        feather: blend the fill into its surroundings over this many pixels *outside* the hole; those pixels
            change too. With 0 only hole pixels change.
        margin: context around each hole for ``"crop"``, as a fraction of the hole's longer side.
        detail: how much real texture the completion stage puts into the fill (:mod:`gmcnn.inpainting.completion`):
            1 fills the hole with texture of the photo by PatchMatch completion, 0 keeps the network's own fill,
            values between blend the two. ``None`` = the model's own (its contract's ``detail``): 1 for the
            embedded model and exports (what blind reviewers preferred to its network's fill), 0 for the
            official releases, which fill as the official code does.
    """

    strategy: str = _option(
        "auto",
        "large images: auto, original (whole image at full size), resize, crop (around holes)",
        choices=STRATEGIES,
        label="Large images",
        advanced=True,
    )
    process_size: int | None = _option(
        None,
        "longest side the model sees; larger = more detail, slower (empty = the model's own size)",
        minimum=64,
        maximum=8192,
        label="Processing size",
        unit="px",
        advanced=True,
        image_side=True,
    )
    grow: int = _option(
        0, "grow the hole by this many pixels first", minimum=0, maximum=256, label="Grow mask", unit="px"
    )
    feather: int = _option(
        0, "blend the seam over this many pixels outside the hole", minimum=0, maximum=256, label="Feather", unit="px"
    )
    margin: float = _option(
        0.5,
        "context around each hole for crop, as a fraction of the hole's longer side",
        minimum=0.0,
        maximum=8.0,
        label="Crop margin",
        advanced=True,
    )
    detail: float | None = _option(
        None,
        "how detailed the fill is: 0 = the network's smooth fill, 1 = full texture copied from the photo "
        "(empty = the model's own: 1 for the embedded model, 0 for the official releases)",
        minimum=0.0,
        maximum=1.0,
        label="Detail",
        ends=("smooth", "full texture"),
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and f.default is None:
                continue  # an optional option left to the model
            _check(f.name, value, f.metadata)

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> FillOptions:
        """Options from keyword arguments; ``None`` means the default, unknown names are refused."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise UserError(f"unknown fill option(s) {unknown}; known options are {sorted(known)}")
        return cls(**{k: v for k, v in kwargs.items() if v is not None})

    @classmethod
    def schema(cls) -> dict[str, dict[str, Any]]:
        """The JSON-able definition of every option: ``{name: {type, default, help, minimum?, maximum?, choices?}}``
        plus its :data:`DISPLAY` hints (``label``, ``unit``, ...) where given."""
        out: dict[str, dict[str, Any]] = {}
        for f in dataclasses.fields(cls):
            entry: dict[str, Any] = {"type": _type_name(f), "default": f.default, "help": f.metadata["help"]}
            if f.default is None:
                entry["nullable"] = True
            for key in ("minimum", "maximum"):
                if key in f.metadata:
                    entry[key] = f.metadata[key]
            if "choices" in f.metadata:
                entry["choices"] = list(f.metadata["choices"])
            for key in DISPLAY:
                if key in f.metadata:
                    value = f.metadata[key]
                    entry[key] = list(value) if isinstance(value, tuple) else value
            out[f.name] = entry
        return out

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def for_model(self, contract: Any) -> FillOptions:
        """These options with every option left to the model (``None``) set from ``contract``'s field of the
        same name (``process_size``, ``detail``): what a fill with this model runs."""
        own = {f.name: getattr(contract, f.name) for f in dataclasses.fields(self)
               if getattr(self, f.name) is None and hasattr(contract, f.name)}  # fmt: skip
        return dataclasses.replace(self, **own) if own else self

    @property
    def uses_network(self) -> bool:
        """Whether a fill with these options runs the network: below full detail (its fill is what ``detail``
        blends from) or with a feather band (the band blends its prediction into the photo). At ``detail=1``
        without feathering the completion stage is the whole fill. ``detail=None`` (not resolved with
        :meth:`for_model` yet) counts as running it."""
        return self.detail is None or self.detail < 1.0 or self.feather > 0


def _type_name(f: dataclasses.Field[Any]) -> str:
    base = str(f.type).removesuffix(" | None")
    return {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}[base]


def _check(name: str, value: Any, meta: Any) -> None:
    """Refuse a value outside its declared bounds, with a message naming the option and the bound."""
    if "choices" in meta:
        if value not in meta["choices"]:
            raise UserError(f"unknown {name} {value!r}; choose one of {list(meta['choices'])}")
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UserError(f"{name} must be a number, got {value!r}")
    if value < meta["minimum"]:
        unit = " pixels" if isinstance(meta["minimum"], int) else ""
        raise UserError(f"{name} must be >= {meta['minimum']}{unit}, got {name}={value}")
    if value > meta["maximum"]:
        raise UserError(f"{name} must be <= {meta['maximum']}, got {name}={value}")


@dataclass
class FillResult:
    """What one fill returns.

    Attributes:
        image: the filled image, same type, mode/shape and size as the input.
        options: the options the fill ran with.
        plan: the strategy actually used, the windows and the scale (see :class:`~gmcnn.inpainting.windows.FillPlan`).
        timings: seconds per stage (``"prepare"``, ``"model"``, ``"completion"``, ``"composite"``, ``"total"``).
        runtime: the back end that ran the network (``"eager"``, ``"compile"``, ``"onnx"``).
        precision: its number format (``"fp32"``, ``"bf16"``, ``"int8"``).
        stages: the stages that ran, in order (e.g. ``["model", "composite"]``).
        model: the name of the model that made the fill.
        explanation: how it was filled (each stage's picture, sources, confidence), when asked for
            (``Inpainter.fill(..., explain=True)``); ``None`` otherwise.
    """

    image: Image.Image | np.ndarray
    options: FillOptions
    plan: FillPlan
    timings: dict[str, float] = field(default_factory=dict)
    runtime: str = ""
    precision: str = ""
    stages: list[str] = field(default_factory=list)
    model: str = ""
    explanation: Explanation | None = None

    @property
    def strategy(self) -> str:
        return self.plan.strategy

    @property
    def seconds(self) -> float:
        return self.timings.get("total", 0.0)

    def info(self) -> dict[str, Any]:
        """A JSON-able summary (everything but the image), e.g. for HTTP headers or logs."""
        return {
            "strategy": self.strategy,
            "windows": len(self.plan.windows),
            "process_size": self.plan.process_size,
            "seconds": self.seconds,
            "timings": dict(self.timings),
            "runtime": self.runtime,
            "precision": self.precision,
            "stages": list(self.stages),
            "model": self.model,
            "options": self.options.to_dict(),
        }
