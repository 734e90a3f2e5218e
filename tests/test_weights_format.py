"""Export format: round trip, integrity checks, wrapper prefixes, shape mismatches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import tiny_generator

from gmcnn.errors import UserError
from gmcnn.models.state_dict import strip_wrappers
from gmcnn.weights.format import export_generator, load_generator


def test_export_round_trip(tmp_path: Path) -> None:
    g = tiny_generator(3)
    meta_path = export_generator(g, tmp_path, training={"image_size": 128, "mask_type": "rect"})
    meta = json.loads(meta_path.read_text())
    assert meta["contract"]["mask_polarity"] == "1=hole" and meta["contract"]["size_multiple"] == 4
    g2, meta2 = load_generator(tmp_path)
    assert meta2["training"]["image_size"] == 128
    for (k, a), (k2, b) in zip(g.state_dict().items(), g2.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b)


def test_damaged_export_is_refused(tmp_path: Path) -> None:
    export_generator(tiny_generator(), tmp_path)
    data = bytearray((tmp_path / "generator.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "generator.safetensors").write_bytes(bytes(data))
    with pytest.raises(UserError, match="sha256"):
        load_generator(tmp_path)


def test_wrong_format_and_version(tmp_path: Path) -> None:
    export_generator(tiny_generator(), tmp_path)
    meta = json.loads((tmp_path / "generator.json").read_text())
    (tmp_path / "generator.json").write_text(json.dumps({**meta, "version": 99}))
    with pytest.raises(UserError, match="version 99"):
        load_generator(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_generator(tmp_path / "elsewhere")


def test_strip_wrappers() -> None:
    s = strip_wrappers({"module._orig_mod.EB1.0.weight": torch.zeros(1), "EB1.0.bias": torch.zeros(1)})
    assert set(s) == {"EB1.0.weight", "EB1.0.bias"}


def test_shape_mismatch_is_readable(tmp_path: Path) -> None:
    state = tiny_generator().state_dict()
    state["EB1.0.weight"] = torch.zeros(4, 4, 3, 3)
    with pytest.raises(UserError, match="shape mismatch"):
        from gmcnn.models.state_dict import load_state_strict

        load_state_strict(tiny_generator(), state, source="x")


def test_a_new_export_folder_appears_whole_or_not_at_all(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from gmcnn.weights import format as fmt

    export_generator(tiny_generator(), tmp_path / "new")
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["generator.json", "generator.safetensors"]
    assert [p.name for p in tmp_path.iterdir()] == ["new"]  # no hidden temp folder left beside it

    def fail(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(fmt, "sha256_file", fail)  # dies after the weights, before the JSON
    with pytest.raises(OSError, match="disk full"):
        export_generator(tiny_generator(), tmp_path / "half")
    assert [p.name for p in tmp_path.iterdir()] == ["new"]  # neither a half export nor its temp folder
