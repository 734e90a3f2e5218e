"""FillOptions: one definition of every fill option, read by the library, the CLI, the HTTP form and the page."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

import pytest

from gmcnn.cli.inpaint import add_fill_arguments, fill_options
from gmcnn.errors import UserError
from gmcnn.inpainting.options import FillOptions
from gmcnn.weights.contract import Contract


def test_defaults_and_bounds_are_checked_on_construction() -> None:
    assert FillOptions() == FillOptions.from_kwargs(process_size=None, margin=None)  # None = the default
    schema = FillOptions.schema()
    for name, entry in schema.items():
        if "minimum" in entry:
            FillOptions(**{name: entry["minimum"]})
            FillOptions(**{name: entry["maximum"]})
            with pytest.raises(UserError, match=name):
                FillOptions(**{name: entry["minimum"] - 1})
            with pytest.raises(UserError, match=name):
                FillOptions(**{name: entry["maximum"] + 1})
        else:
            with pytest.raises(UserError, match=f"unknown {name}"):
                FillOptions(**{name: "no-such-choice"})
    with pytest.raises(UserError, match="unknown fill option"):
        FillOptions.from_kwargs(detial=3)


def test_schema_is_json_and_covers_every_field() -> None:
    schema = json.loads(json.dumps(FillOptions.schema()))
    assert list(schema) == [f.name for f in dataclasses.fields(FillOptions)]
    assert schema["detail"]["default"] is None and schema["detail"]["nullable"]  # the model's own
    for entry in schema.values():
        assert entry["type"] in ("string", "integer", "number") and entry["help"]
        assert ("choices" in entry) != ("minimum" in entry and "maximum" in entry)


def test_cli_flags_come_from_fill_options() -> None:
    parser = argparse.ArgumentParser()
    add_fill_arguments(parser)
    actions = {a.dest: a for a in parser._actions if a.dest != "help"}
    schema = FillOptions.schema()
    assert set(actions) == set(schema)
    for name, entry in schema.items():
        assert actions[name].default == entry["default"]
        assert list(actions[name].choices or []) == entry.get("choices", [])
    assert fill_options(parser.parse_args([])) == FillOptions()
    assert fill_options(parser.parse_args(["--grow", "7", "--process-size", "256"])) == FillOptions(
        grow=7, process_size=256
    )
    with pytest.raises(UserError, match="grow"):
        fill_options(parser.parse_args(["--grow", str(schema["grow"]["maximum"] + 1)]))


def _bounds(prop: dict[str, Any]) -> dict[str, Any]:
    """minimum / maximum / enum of an OpenAPI property, looking inside ``anyOf`` (optional fields)."""
    out: dict[str, Any] = {}
    for part in [prop, *prop.get("anyOf", [])]:
        for key in ("minimum", "maximum", "enum"):
            if key in part:
                out[key] = part[key]
    return out


def test_http_schema_and_page_schema_come_from_fill_options(inpainter: Any) -> None:
    from fastapi.testclient import TestClient

    from gmcnn.web import create_app

    client = TestClient(create_app(inpainter), base_url="http://127.0.0.1")  # the server answers its own hosts only
    openapi = client.get("/openapi.json").json()
    body_ref = openapi["paths"]["/api/v1/inpaint"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    body = openapi["components"]["schemas"][body_ref["$ref"].split("/")[-1]]["properties"]
    schema = FillOptions.schema()
    for name, entry in schema.items():
        assert name in body, f"the HTTP form lacks fill option {name}"
        bounds = _bounds(body[name])
        if "choices" in entry:
            assert bounds.get("enum") == entry["choices"]
        else:
            assert (bounds["minimum"], bounds["maximum"]) == (entry["minimum"], entry["maximum"])
        assert body[name]["description"] == entry["help"]
    health = client.get("/api/v1/health").json()  # what the page reads its controls' bounds from
    assert health["options"] == json.loads(json.dumps(schema))
    assert health["defaults"] == {name: entry["default"] for name, entry in schema.items()}


def test_options_left_to_the_model_come_from_its_contract() -> None:
    embedded, official = Contract(), Contract(process_size=680, detail=0.0)
    assert embedded.detail == 1.0  # the completion stage: what the blind study preferred
    assert FillOptions().for_model(embedded) == FillOptions(process_size=512, detail=1.0)
    assert FillOptions().for_model(official) == FillOptions(process_size=680, detail=0.0)
    chosen = FillOptions(detail=0.5, process_size=256)
    assert chosen.for_model(official) is chosen  # what the caller set stays
    assert FillOptions().uses_network and not FillOptions(detail=1).uses_network  # unresolved counts as running
    assert FillOptions(detail=1, feather=2).uses_network
