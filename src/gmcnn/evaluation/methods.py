"""Fill methods named by a spec string: ``NAME[:key=value,key=value]`` (``gmcnn eval --methods``, ``gmcnn study``).

``NAME`` is a baseline of :mod:`gmcnn.evaluation.baselines` (``telea``, ``ns``, ``biharmonic``, ``pushpull``,
``patchmatch``) or anything :meth:`gmcnn.Inpainter.from_pretrained` loads (``default``, a weights name, an
export folder, a run directory, an official ``*_net_GM.pth``). The options after ``:`` are
:class:`gmcnn.inpainting.options.FillOptions` fields, parsed by the field's declared type and checked against
its bounds, so every option the fill has can be set here, and a new one needs no change in this module::

    default                         the embedded model, default options
    default:detail=0                ... without the completion stage: the network's smooth fill
    runs/x:strategy=original,grow=2 a training run's export, whole image at full size, hole grown 2 px
    patchmatch                      a baseline

Baselines take no fill options. In a comma-separated list (``--methods``), a ``key=value`` item continues the
options of the method before it: ``default:detail=0,grow=2,telea`` is two methods.

A method's label (tables, folder names) is the name (the file or folder name for paths) followed by the
options as written: ``default:detail=0``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from gmcnn.errors import UserError
from gmcnn.evaluation.baselines import baseline_names, get_baseline
from gmcnn.inpainting.options import FillOptions

DEFAULT_METHODS: Final = "default,telea,ns,biharmonic,patchmatch"
_OPTION_ITEM: Final = re.compile(r"[A-Za-z_]\w*=")  # "key=..." : an option, not a method name


@dataclass(frozen=True)
class MethodSpec:
    """A parsed method spec: the name and the :class:`FillOptions` fields set, in the order written."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The spec in canonical form, ``NAME[:key=value,...]``."""
        return self.name + _options_text(self.options)

    def fill_options(self) -> FillOptions:
        """The options as a validated :class:`FillOptions` (defaults for the fields not set)."""
        return FillOptions.from_kwargs(**self.options)


@dataclass(frozen=True)
class Method:
    """A named fill: a baseline or a loaded :class:`gmcnn.Inpainter`, with its options bound."""

    label: str
    fill: Callable[[np.ndarray, np.ndarray], Any]  # a Fill, or an Inpainter (which also takes PIL images)
    spec: MethodSpec | None = None


def _options_text(options: dict[str, Any]) -> str:
    return ":" + ",".join(f"{k}={v}" for k, v in options.items()) if options else ""


def _parse_value(key: str, text: str, schema: dict[str, Any]) -> Any:
    """``text`` as the type ``key`` declares in :meth:`FillOptions.schema` (bounds are checked by FillOptions)."""
    kind = schema["type"]
    if schema.get("nullable") and text.lower() in ("none", "null"):
        return None  # the field's "not set" (e.g. process_size: the model's own size)
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
        if kind == "boolean":
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0", "on", "off", "yes", "no"):
                raise ValueError(text)
            return lowered in ("true", "1", "on", "yes")
    except ValueError:
        raise UserError(f"fill option {key}={text!r}: expected {kind}") from None
    return text


def parse_spec(spec: str) -> MethodSpec:
    """``"default:detail=0.5,grow=2"`` -> ``MethodSpec("default", {"detail": 0.5, "grow": 2})``.

    Raises:
        UserError: an empty name, an item that is not ``key=value``, a key that is not a FillOptions field
            (the message lists them), a value of the wrong type or outside the field's bounds.
    """
    spec = spec.strip()
    name, options_text = spec, ""
    head, sep, tail = spec.partition(":")
    if sep and _OPTION_ITEM.match(tail):
        name, options_text = head, tail
    if "+texture" in name:
        raise UserError(f"method spec {spec!r}: +texture is gone; the completion stage is on by default (detail=1)")
    name = name.strip()
    if not name:
        raise UserError(f"method spec {spec!r} has no name; e.g. default:detail=0")
    schema = FillOptions.schema()
    options: dict[str, Any] = {}
    for item in (i.strip() for i in options_text.split(",") if i.strip()):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq:
            raise UserError(f"method spec {spec!r}: {item!r} is not key=value")
        if key not in schema:
            raise UserError(f"method spec {spec!r}: unknown fill option {key!r}; the options are {sorted(schema)}")
        if key in options:
            raise UserError(f"method spec {spec!r}: {key} is set twice")
        options[key] = _parse_value(key, value.strip(), schema[key])
    parsed = MethodSpec(name, options)
    try:
        parsed.fill_options()  # the bounds, now, so the message can name the spec
    except UserError as exc:
        raise UserError(f"method spec {spec!r}: {exc}") from None
    return parsed


def split_specs(text: str | Sequence[str]) -> list[str]:
    """A comma-separated method list -> one spec string per method (``key=value`` items join the one before)."""
    items = [i.strip() for i in (text.split(",") if isinstance(text, str) else text) if i.strip()]
    specs: list[str] = []
    for item in items:
        if _OPTION_ITEM.match(item) and ":" not in item:
            if not specs or ":" not in specs[-1]:
                raise UserError(f"{item!r} is a fill option but follows no NAME:option=value method spec")
            specs[-1] += "," + item
        else:
            specs.append(item)
    return specs


def load_methods(spec: str | Sequence[str], *, device: str = "auto") -> list[Method]:
    """Build the methods named in ``spec`` (comma-separated or a list of specs), in order; duplicates refused."""
    specs = [parse_spec(s) for s in split_specs(spec)]
    if not specs:
        raise UserError(f"no methods given; e.g. --methods {DEFAULT_METHODS}")
    methods = [load_method(s, device=device) for s in specs]
    labels = [m.label for m in methods]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise UserError(f"methods {dupes} are named twice; give each method once")
    return methods


def load_method(spec: str | MethodSpec, *, device: str = "auto") -> Method:
    """Build one method from a spec (see the module docstring)."""
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    label = _label(parsed.name) + _options_text(parsed.options)
    if parsed.name in baseline_names():
        if parsed.options:
            raise UserError(f"baseline {parsed.name!r} takes no fill options; got {sorted(parsed.options)}")
        return Method(label, get_baseline(parsed.name), parsed)
    from gmcnn.inpainting.pipeline import Inpainter  # torch only when a model is evaluated

    inpainter = Inpainter.from_pretrained(parsed.name, device=device)
    return Method(label, functools.partial(inpainter, **parsed.options) if parsed.options else inpainter, parsed)


def _label(name: str) -> str:
    """Table/folder label of a method: the name, or for a path the meaningful file or folder name."""
    path = Path(name)
    if not path.exists():
        return name
    path = path.resolve()
    # run/export/generator.json -> "run": the fixed file and folder names say nothing about the model.
    while path.name in ("generator.json", "generator.safetensors", "export") and path.parent != path:
        path = path.parent
    return re.sub(r"[^A-Za-z0-9._-]+", "_", path.stem if path.is_file() else path.name) or "model"


__all__ = [
    "DEFAULT_METHODS",
    "Method",
    "MethodSpec",
    "load_method",
    "load_methods",
    "parse_spec",
    "split_specs",
]
