"""The fill options as an HTTP form: one FastAPI dependency generated from :class:`FillOptions`' fields.

Routes take ``options: Annotated[FillOptions, Depends(OPTIONS_FORM)]`` instead of restating each option, so a
new field of :class:`FillOptions` becomes a form field (with its bounds, choices and help in ``/openapi.json``)
of every route that fills or plans, with no edit here. Values are checked twice on purpose: FastAPI checks the
declared bounds (422 naming the field), then :meth:`FillOptions.from_kwargs` applies the library's own rules.
Form fields a route does not declare are refused by :func:`gmcnn.web.middleware.refuse_unknown_fields`, which
sees these generated parameters like any other.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Form

from gmcnn.errors import UserError
from gmcnn.inpainting.options import FillOptions
from gmcnn.web.errors import ApiError

_PYTHON_TYPES: dict[str, type] = {"string": str, "integer": int, "number": float, "boolean": bool}


def _parameter(name: str, entry: dict[str, Any]) -> inspect.Parameter:
    """The form parameter of one option: its type, bounds, choices and help from the schema entry."""
    kind: Any = _PYTHON_TYPES[entry["type"]]
    extra = {"enum": entry["choices"]} if "choices" in entry else None
    info = Form(ge=entry.get("minimum"), le=entry.get("maximum"), description=entry["help"], json_schema_extra=extra)
    # A nullable option (e.g. process_size: None = the model's own) may be left out or sent empty.
    annotation: Any = Annotated[kind | None if entry.get("nullable") else kind, info]  # type: ignore[valid-type]
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=entry["default"], annotation=annotation)


def options_form(options: type[FillOptions] = FillOptions) -> Callable[..., FillOptions]:
    """A FastAPI dependency that reads every field of ``options`` from the form and returns the options."""

    def read(**values: Any) -> FillOptions:
        try:
            return options.from_kwargs(**values)
        except UserError as exc:
            raise ApiError(422, str(exc)) from None

    params = [_parameter(name, entry) for name, entry in options.schema().items()]
    read.__signature__ = inspect.Signature(params, return_annotation=options)  # type: ignore[attr-defined]
    return read


OPTIONS_FORM = options_form()
