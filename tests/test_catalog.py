"""gmcnn.weights.catalog: what a models folder offers, found without loading anything, and each entry loads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers.release_server import TF_FOLDER, TF_NAME, copy_release, pth_bytes, register_fakes

from gmcnn import Inpainter
from gmcnn.weights import registry
from gmcnn.weights.catalog import catalog, find
from gmcnn.weights.install import STAGING


def test_without_a_folder_only_the_embedded_model_is_available() -> None:
    models = catalog(None)
    assert models[0].name == "default" and models[0].available and models[0].kind == "embedded"
    assert models[0].size is not None and models[0].size > 100_000
    releases = [m for m in models if m.kind == "release"]
    assert len(releases) == len(registry.releases()) == 6
    assert not any(m.available or m.downloadable for m in releases)  # no folder to put them in


def test_a_folder_with_one_of_everything(tmp_path: Path, tiny_export: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tf, pth = register_fakes(monkeypatch)
    copy_release(tmp_path)  # the fake TF release, under its release folder name
    shutil.copytree(tiny_export, tmp_path / "my_export")
    shutil.copytree(tiny_export, tmp_path / "run1" / "export")
    shutil.copy(tiny_export / "generator.safetensors", tmp_path / "loose.safetensors")
    shutil.copy(tiny_export / "generator.json", tmp_path / "loose.json")
    (tmp_path / "celeb_net_GM.pth").write_bytes(pth_bytes())
    copy_release(tmp_path, "someone_elses_tf")  # a TF checkpoint under a name no release has
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("not a model")
    (tmp_path / STAGING).mkdir()
    (tmp_path / STAGING / "x.part").write_bytes(b"half")

    models = {m.name: m for m in catalog(tmp_path)}
    kinds = {name: m.kind for name, m in models.items() if m.kind not in ("embedded", "release")}
    assert kinds == {"my_export": "export", "run1": "run", "loose": "export", "celeb_net_GM": "pth",
                     "someone_elses_tf": "tf"}  # fmt: skip
    assert models[TF_NAME].available and models[TF_NAME].path == tmp_path / TF_FOLDER
    assert not models[pth.name].available and models[pth.name].downloadable
    assert models["my_export"].description == "gmcnn export (cnum 4, mixed, 64 px)"
    assert models["run1"].path == tmp_path / "run1" / "export"
    assert models["my_export"].size == sum(p.stat().st_size for p in (tmp_path / "my_export").iterdir())
    assert find(list(models.values()), TF_FOLDER) is models[TF_NAME]  # a release by its folder name too
    assert find(list(models.values()), "notes") is None
    for name in ("my_export", "run1", "loose", "celeb_net_GM", "someone_elses_tf", TF_NAME):
        path = models[name].path
        assert path is not None
        assert Inpainter.from_pretrained(path, device="cpu").generator.config.cnum == 4, name


def test_a_name_taken_by_the_registry_keeps_the_path(tmp_path: Path, tiny_export: Path) -> None:
    shutil.copytree(tiny_export, tmp_path / "default")
    names = [m.name for m in catalog(tmp_path)]
    assert names.count("default") == 1 and str(tmp_path / "default") in names
    assert catalog(tmp_path / "missing")[0].name == "default"  # a folder that does not exist lists the rest
