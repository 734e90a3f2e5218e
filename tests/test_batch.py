"""Sharded batch inpainting: `torchrun --nproc-per-node 2 -m gmcnn inpaint DIR ...` over 40 mixed images.

Every good image is filled exactly once (per the manifests), outputs are byte-identical to a single-process
run, broken files are listed as failed, and a run killed halfway (SIGKILL) then restarted fills only the rest.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gmcnn.cli import main
from gmcnn.errors import UserError
from gmcnn.inpainting.batch import Job, Manifest, Shard, read_manifests, remove_stale_temps

SRC = Path(__file__).resolve().parents[1] / "src"
BROKEN = ("b_truncated.png", "b_empty.png", "b_text.png")
SIZES = [(64, 64), (96, 128), (200, 152), (128, 128)]  # repeated: same-size images share batches


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    """40 files (37 good PNG/JPEG photos-like images + 3 broken) and a mask per file; returns (images, masks, good)."""
    root = tmp_path_factory.mktemp("batch")
    images, masks = root / "in", root / "masks"
    images.mkdir(), masks.mkdir()
    rng = np.random.default_rng(7)
    good = []
    for i in range(37):
        h, w = SIZES[i % len(SIZES)]
        # Smooth gradients plus noise: compressible like photos, different per file.
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([(xx * (i + 1)) % 256, (yy * 3 + i * 11) % 256, (xx + yy) % 256], axis=-1)
        pixels = np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
        name = f"img{i:02d}.{'jpg' if i % 5 == 0 else 'png'}"
        Image.fromarray(pixels).save(images / name)
        good.append(name)
    buf = io.BytesIO()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(buf, format="PNG")
    (images / BROKEN[0]).write_bytes(buf.getvalue()[:60])  # header, then cut off mid-stream
    (images / BROKEN[1]).write_bytes(b"")
    (images / BROKEN[2]).write_text("this is not an image\n")
    for name in [*good, *BROKEN]:
        h, w = SIZES[good.index(name) % len(SIZES)] if name in good else (64, 64)
        m = np.zeros((h, w), np.uint8)
        m[h // 4 : h // 2, w // 3 : 2 * w // 3] = 255
        Image.fromarray(m).save(masks / f"{Path(name).stem}.png")
    return images, masks, good


def torchrun(images: Path, masks: Path, out: Path, model: Path, *extra: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "gmcnn", "inpaint", str(images), "--mask", str(masks), "-o", str(out), "--model", str(model),
           "--device", "cpu", *extra]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(SRC)}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def wait(proc: subprocess.Popen[str]) -> str:
    try:
        out, _ = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        kill_tree(proc.pid)
        pytest.fail("torchrun timed out:\n" + proc.communicate()[0][-3000:])
    assert proc.returncode == 0, out[-4000:]
    return out


def children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(c) for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()]
    return []


def kill_tree(pid: int) -> None:
    """SIGKILL torchrun's workers, then the agent (workers run in their own process groups)."""
    for child in children(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def outputs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}


@pytest.fixture(scope="module")
def single(folder: tuple[Path, Path, list[str]], tiny_export: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plain one-process run (world size 1, one image at a time): the reference."""
    images, masks, _ = folder
    out = tmp_path_factory.mktemp("single") / "out"
    code = main(["inpaint", str(images), "--mask", str(masks), "-o", str(out), "--model", str(tiny_export), "-q",
                 "--device", "cpu", "--batch-size", "1"])  # fmt: skip
    assert code == 1  # three files failed
    return out


@pytest.mark.slow
def test_two_processes_fill_each_good_image_once(folder: tuple[Path, Path, list[str]], tiny_export: Path,
                                                 single: Path, tmp_path: Path) -> None:  # fmt: skip
    images, masks, good = folder
    out = tmp_path / "out"
    log = wait(torchrun(images, masks, out, tiny_export, "--batch-size", "4"))
    rows = read_manifests(out / "manifests")
    assert sorted(p.name for p in (out / "manifests").iterdir()) == ["rank-00000.jsonl", "rank-00001.jsonl"]
    filled = [r["file"] for r in rows if r["status"] == "filled"]
    assert sorted(filled) == sorted(good)  # every good image exactly once
    failed = {r["file"]: r["error"] for r in rows if r["status"] == "failed"}
    assert sorted(failed) == sorted(BROKEN) and all(failed.values())
    ranks = {r["file"]: r["rank"] for r in rows}
    assert set(ranks.values()) == {0, 1} and all(r["world_size"] == 2 for r in rows)
    names = sorted(p.name for p in images.iterdir())
    assert ranks == {name: i % 2 for i, name in enumerate(names)}  # strided shards of the sorted list
    assert all(r["seconds"] >= 0 for r in rows)
    # Byte-identical to the one-process run (batched on two ranks vs one image at a time on one).
    assert outputs(out) == outputs(single) and sorted(outputs(out)) == sorted(good)
    assert "Traceback" not in log and "skipped" in log


@pytest.mark.slow
def test_killed_run_resumes_without_redoing_finished_files(folder: tuple[Path, Path, list[str]], tiny_export: Path,
                                                           single: Path, tmp_path: Path) -> None:  # fmt: skip
    images, masks, good = folder
    out = tmp_path / "out"
    proc = torchrun(images, masks, out, tiny_export)
    deadline = time.monotonic() + 300
    while len([p for p in out.glob("img*") if not p.name.startswith(".")]) < 8:
        assert proc.poll() is None, "the run ended before it could be killed:\n" + proc.communicate()[0][-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    kill_tree(proc.pid)
    proc.communicate()
    # The kill may land mid-write: a hidden temp file is an unfinished output, not a done one.
    done = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file() and not p.name.startswith(".")}
    assert 8 <= len(done) < len(good), f"kill came too late: {len(done)} of {len(good)} done"
    for name in done:  # whatever has its final name is complete (temp files are hidden and renamed at the end)
        assert (out / name).read_bytes() == (single / name).read_bytes()
    wait(torchrun(images, masks, out, tiny_export))
    assert outputs(out) == outputs(single)
    for name, mtime in done.items():
        assert (out / name).stat().st_mtime_ns == mtime, f"{name} was redone"
    assert not list(out.glob(".*.tmp"))  # temp files of the killed run were cleaned up
    rows = read_manifests(out / "manifests")
    filled = [r["file"] for r in rows if r["status"] == "filled"]
    # Over both attempts each good image was filled once: the rest exactly once by the rerun, the finished ones
    # by the first attempt (whose manifest line may be missing if the kill fell between rename and record).
    assert len(filled) == len(set(filled)) and set(good) - set(done) <= set(filled) <= set(good)
    assert sorted(r["file"] for r in rows if r["status"] == "exists") == sorted(done)


def test_shards_are_disjoint_and_cover_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    items = list(range(11))
    shards = [Shard(r, 3).select(items) for r in range(3)]
    assert sorted(sum(shards, [])) == items and shards[1] == [1, 4, 7, 10]
    assert Shard.from_env() == Shard(0, 1)  # a plain process
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert Shard.from_env() == Shard(1, 2)
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(UserError, match="outside WORLD_SIZE"):
        Shard.from_env()


def test_stale_temps_of_own_files_only_are_removed(tmp_path: Path) -> None:
    for name in (".a.png.x1y2.tmp", ".b.png.zz.tmp", ".c.png.q.tmp", "a.png"):
        (tmp_path / name).write_bytes(b"x")
    jobs = [Job(Path("a.png"), Path("m"), tmp_path / "a.png"), Job(Path("b.png"), Path("m"), tmp_path / "b.png")]
    assert remove_stale_temps(jobs) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [".c.png.q.tmp", "a.png"]  # c.png is another rank's


def test_manifest_skips_a_killed_writers_partial_line(tmp_path: Path) -> None:
    job = Job(Path("a.png"), Path("m"), tmp_path / "a.png")
    manifest = Manifest(tmp_path, Shard(1, 2))
    manifest.record(job, status="filled", seconds=0.5)
    manifest.close()
    with (tmp_path / "rank-00001.jsonl").open("a") as fh:
        fh.write('{"file": "b.png", "sta')  # killed mid-line
    manifest = Manifest(tmp_path, Shard(1, 2))
    manifest.record(job._replace(image=Path("c.png")), status="failed", seconds=0.1, error="not an image")
    manifest.close()
    rows = read_manifests(tmp_path)
    assert [(r["file"], r["status"], r["rank"]) for r in rows] == [("a.png", "filled", 1), ("c.png", "failed", 1)]
    assert rows[1]["error"] == "not an image"
