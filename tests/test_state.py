"""Training checkpoints and the run's published export: latest by step, temp files ignored, atomic export link."""

from __future__ import annotations

from pathlib import Path

from gmcnn.training.state import latest_checkpoint, list_checkpoints


def test_latest_checkpoint_is_by_step_number_and_ignores_partial_files(tmp_path: Path) -> None:
    import os

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for step, mtime in ((9, 300), (10, 100), (100, 200)):  # newest file on disk is not the latest step
        path = folder / f"step_{step:08d}.pt"
        path.write_bytes(b"x")
        os.utime(path, (mtime, mtime))
    (folder / ".step_00000200.pt.abc.tmp").write_bytes(b"half-written")  # a SIGKILLed atomic write
    assert latest_checkpoint(tmp_path) == folder / "step_00000100.pt"
    assert [s for s, _ in list_checkpoints(tmp_path)] == [9, 10, 100]


def _generator(seed: int):  # type: ignore[no-untyped-def]
    import torch

    from gmcnn.models.gmcnn import GMCNN, GMCNNConfig

    torch.manual_seed(seed)
    return GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros"))


def test_publish_export_switches_a_link_and_keeps_the_previous_export(tmp_path: Path) -> None:
    import os

    from gmcnn.training.state import publish_export
    from gmcnn.weights.format import load_generator

    for step in (1, 2, 3):
        publish_export(_generator(step), tmp_path, step=step, training={"steps": step})
    link = tmp_path / "export"
    assert link.is_symlink() and os.readlink(link) == os.path.join("exports", "step_00000003")
    assert sorted(p.name for p in (tmp_path / "exports").iterdir()) == ["step_00000002", "step_00000003"]
    generator, meta = load_generator(link)
    assert meta["training"]["steps"] == 3
    expected = _generator(3).state_dict()
    assert all((generator.state_dict()[k] == v).all() for k, v in expected.items())


def test_publish_export_replaces_a_legacy_folder_and_a_same_step_export(tmp_path: Path) -> None:
    from gmcnn.training.state import publish_export
    from gmcnn.weights.format import export_generator, load_generator

    export_generator(_generator(0), tmp_path / "export")  # a run directory written before exports were linked
    publish_export(_generator(1), tmp_path, step=5, training={"steps": 5})
    publish_export(_generator(2), tmp_path, step=5, training={"steps": 5, "again": True})  # resumed at step 5
    assert (tmp_path / "export").is_symlink()
    _, meta = load_generator(tmp_path / "export")
    assert meta["training"].get("again") is True


def test_stale_temps_and_unpublished_exports_are_removed_at_start(tmp_path: Path) -> None:
    from gmcnn.training.state import publish_export, remove_stale_temps

    publish_export(_generator(1), tmp_path, step=1, training={})
    publish_export(_generator(2), tmp_path, step=2, training={})
    exports = tmp_path / "exports"
    (exports / ".step_00000003.abc").mkdir()  # killed while writing the pair
    (exports / "step_00000003").mkdir()  # killed after renaming it, before switching the link
    (tmp_path / ".export.123.tmp").symlink_to("exports/step_00000003")  # killed before the link's rename
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / ".step_00000003.pt.x.tmp").write_bytes(b"half")
    removed = remove_stale_temps(tmp_path)
    assert len(removed) == 5  # the previous export (step 1) is no longer needed either
    assert sorted(p.name for p in exports.iterdir()) == ["step_00000002"]
    assert list((tmp_path / "checkpoints").iterdir()) == []
    assert (tmp_path / "export").resolve() == (exports / "step_00000002").resolve()
