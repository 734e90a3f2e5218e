"""The weights contract: how a generator expects to be fed and what it was trained on (one typed shape).

Like timm's ``PretrainedCfg`` or torchvision's ``Weights`` metadata, every generator — embedded, exported by
training, or an official release — carries one :class:`Contract`. Exports store it split in two JSON
objects for compatibility with version-1 files (``"contract"``: how to feed; ``"training"``: what it saw);
:meth:`Contract.to_meta` writes both, :meth:`Contract.from_meta` reads both, :meth:`Contract.to_dict` gives the
one flat form the API shows. This module is the only place that knows that layout.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

# Official-layout weights (the releases, and any .pth or TF folder in their format) fill as the official code does
# by default: the network's own fill, no completion stage (FillOptions.detail=None -> Contract.detail).
OFFICIAL_DETAIL = 0.0


@dataclass(frozen=True, kw_only=True)
class Contract:
    """How to call a generator and what it learned from.

    Attributes:
        value_range: pixel range of ``image`` in and ``pred`` out.
        channel_order: ``"RGB"`` (ours, official PyTorch) or ``"BGR"`` (official TensorFlow).
        mask_polarity: ``"1=hole"`` (the only polarity gmcnn feeds).
        mask_type: the holes it was trained on (``"rect"``, ``"free"``, ``"mixed"`` ...; ``""`` if unknown).
        size_multiple: height and width must be multiples of this.
        min_size: smallest height / width the network accepts.
        trained_size: image side it was trained at (the scale holes look natural at; 256 if unknown).
        dataset: what it was trained on (free text; ``""`` if unknown).
        process_size: the longest side it fills at by default (``FillOptions.process_size=None``): 512, or the
            size a release was made to run at (680 for the Places2 512x680 release, whose official test
            pipeline runs a 512x680 photo whole).
        detail: the ``FillOptions.detail`` it fills at by default (``detail=None``): 1.0 (PatchMatch completion;
            blind reviewers preferred it to the embedded network's own fill), 0.0 for the official releases (the
            network's own fill, as the official code returns it).
    """

    value_range: tuple[float, float] = (-1.0, 1.0)
    channel_order: str = "RGB"
    mask_polarity: str = "1=hole"
    mask_type: str = ""
    size_multiple: int = 4
    min_size: int = 4
    trained_size: int = 256
    dataset: str = ""
    process_size: int = 512
    detail: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able flat form (``value_range`` as a list)."""
        out = dataclasses.asdict(self)
        out["value_range"] = list(self.value_range)
        return out

    def feeding(self) -> dict[str, Any]:
        """The export file's ``"contract"`` object: how to feed the weights."""
        d = self.to_dict()
        keys = ("value_range", "channel_order", "mask_polarity", "size_multiple", "min_size", "process_size", "detail")
        return {k: d[k] for k in keys}

    def to_meta(self) -> dict[str, Any]:
        """The export JSON's two-object form: ``{"contract": how to feed, "training": what it saw}``."""
        training = {"image_size": self.trained_size, "mask_type": self.mask_type, "data": self.dataset}
        return {"contract": self.feeding(), "training": {k: v for k, v in training.items() if v}}

    @classmethod
    def for_config(cls, config: Any, **facts: Any) -> Contract:
        """The contract of a network with ``config`` (its size rules) plus training ``facts``."""
        facts.setdefault("channel_order", getattr(config, "channel_order", "RGB"))  # the TF releases see BGR
        return cls(size_multiple=config.size_multiple, min_size=config.min_size, **facts)

    @classmethod
    def from_meta(cls, meta: dict[str, Any], *, config: Any = None) -> Contract:
        """Read an export's metadata (``"contract"`` + ``"training"`` objects, version 1) into one contract."""
        feed = dict(meta.get("contract") or {})
        training = dict(meta.get("training") or {})
        known = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {k: v for k, v in feed.items() if k in known}
        if "value_range" in values:
            values["value_range"] = tuple(float(v) for v in values["value_range"])
        if config is not None:
            values.setdefault("channel_order", getattr(config, "channel_order", "RGB"))
            values.setdefault("size_multiple", config.size_multiple)
            values.setdefault("min_size", config.min_size)
        if training.get("image_size"):
            values["trained_size"] = int(training["image_size"])
        if training.get("mask_type"):
            values["mask_type"] = str(training["mask_type"])
        dataset = training.get("data") or training.get("dataset")
        if dataset:
            values["dataset"] = str(dataset)
        return cls(**values)
