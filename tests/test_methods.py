"""Method specs ``NAME[:key=value,...]``: every FillOptions field settable, typed, bounded; lists; loading."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from gmcnn.errors import UserError
from gmcnn.evaluation.methods import load_method, load_methods, parse_spec, split_specs
from gmcnn.inpainting.options import FillOptions

FIELDS = FillOptions.schema()  # the options a spec can set, whatever they are today


def _other_value(entry: dict[str, Any]) -> Any:
    """A valid value of a FillOptions field other than its default, from the field's own schema."""
    if "choices" in entry:
        return next(c for c in entry["choices"] if c != entry["default"])
    if entry["type"] == "integer":
        if entry["default"] is None:
            return entry["minimum"] + 1
        return entry["default"] + 1 if entry["default"] < entry["maximum"] else entry["default"] - 1
    if entry["type"] == "number":
        return (entry["minimum"] + entry["maximum"]) / 2
    if entry["type"] == "boolean":
        return not entry["default"]
    raise AssertionError(f"a FillOptions type this test does not know: {entry}")


@pytest.mark.parametrize("field", sorted(FillOptions.schema()))
def test_every_fill_option_can_be_set_by_its_type(field: str) -> None:
    value = _other_value(FillOptions.schema()[field])
    spec = parse_spec(f"default:{field}={str(value).lower() if isinstance(value, bool) else value}")
    assert spec.name == "default" and spec.options == {field: value}
    assert type(spec.options[field]) is type(value)
    assert getattr(spec.fill_options(), field) == value


def test_nullable_options_can_be_reset() -> None:
    nullable = [name for name, entry in FillOptions.schema().items() if entry.get("nullable")]
    for name in nullable:
        assert parse_spec(f"default:{name}=none").options == {name: None}
        assert getattr(parse_spec(f"default:{name}=None").fill_options(), name) is None


def test_specs_parse_and_print_back() -> None:
    spec = parse_spec(" runs/x:strategy=original, grow=2 ")
    assert (spec.name, spec.options) == ("runs/x", {"strategy": "original", "grow": 2})
    assert spec.text == "runs/x:strategy=original,grow=2"
    assert parse_spec("patchmatch").options == {}
    assert parse_spec("C:/models/x").name == "C:/models/x"  # a colon not followed by key=value is in the name


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("default:colour=red", "unknown fill option 'colour'; the options are " + re.escape(str(sorted(FIELDS)))),
        ("default:grow=two", "grow='two': expected integer"),
        ("default:grow=-1", "default:grow=-1.*grow must be >= 0"),
        ("default:strategy=sideways", "unknown strategy 'sideways'"),
        ("default:grow=1,grow=2", "grow is set twice"),
        ("default:grow=1,detail", "'detail' is not key=value"),
        (":grow=1", "has no name"),
        ("default+texture", "\\+texture is gone"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_spec(spec)


def test_lists_split_at_methods_not_at_options() -> None:
    assert split_specs("default:detail=0,grow=4, telea ,ns") == ["default:detail=0,grow=4", "telea", "ns"]
    assert split_specs(["a:grow=1", "feather=2", "b"]) == ["a:grow=1,feather=2", "b"]
    with pytest.raises(UserError, match="follows no NAME:option=value"):
        split_specs("telea,grow=4")


def test_baselines_take_no_fill_options() -> None:
    with pytest.raises(UserError, match="takes no fill options; got \\['grow'\\]"):
        load_method("telea:grow=3")
    assert load_method("pushpull").label == "pushpull"


def test_model_options_reach_the_fill(tiny_export, inpainter, photo: np.ndarray) -> None:
    image = np.ascontiguousarray(photo[:64, :64])
    mask = np.zeros((64, 64), dtype=bool)
    mask[24:40, 24:40] = True
    method = load_method(f"{tiny_export}:grow=6", device="cpu")
    assert method.label == f"{tiny_export.name}:grow=6"
    np.testing.assert_array_equal(method.fill(image, mask), inpainter(image, mask, grow=6))
    assert not np.array_equal(method.fill(image, mask), inpainter(image, mask))
    methods = load_methods(f"telea,{tiny_export}:grow=6,feather=2", device="cpu")
    assert [m.label for m in methods] == ["telea", f"{tiny_export.name}:grow=6,feather=2"]
    with pytest.raises(UserError, match="named twice"):
        load_methods("telea,ns,telea")
