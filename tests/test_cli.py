"""`gmcnn inpaint` end to end on real files, and every bad-input path (one line on stderr, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gmcnn.cli import main
from gmcnn.errors import EMPTY_MASK


def _mask_png(path: Path, h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[h // 4 : h // 2, w // 4 : w // 2] = 255
    Image.fromarray(m).save(path)
    return m > 0


def test_single_file_keeps_format_icc_and_known_pixels(tmp_path: Path, photo: np.ndarray, tiny_export: Path) -> None:
    src = tmp_path / "photo.png"
    Image.fromarray(photo[:100, :140]).save(src, icc_profile=b"icc-bytes")
    m = _mask_png(tmp_path / "mask.png", 100, 140)
    out = tmp_path / "out.png"
    assert (
        main(["inpaint", str(src), "--mask", str(tmp_path / "mask.png"), "-o", str(out), "--model", str(tiny_export)])
        == 0
    )
    res = Image.open(out)
    assert res.format == "PNG" and res.info.get("icc_profile") == b"icc-bytes"
    arr = np.asarray(res)
    assert np.array_equal(arr[~m], photo[:100, :140][~m]) and not np.array_equal(arr[m], photo[:100, :140][m])


def test_folder_with_matched_masks_skip_existing_and_one_bad_file(
    tmp_path: Path, photo: np.ndarray, tiny_export: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images, masks, out = tmp_path / "in", tmp_path / "masks", tmp_path / "out"
    images.mkdir(), masks.mkdir()
    Image.fromarray(photo[:64, :80]).save(images / "a.jpg")
    Image.fromarray(photo[100:164, :80]).save(images / "b.png")
    Image.fromarray(photo[:64, :64]).save(images / "c.png")  # its mask has the wrong size
    (images / "d.png").write_bytes(b"broken")
    _mask_png(masks / "a.png", 64, 80)
    _mask_png(masks / "b_mask.png", 64, 80)
    _mask_png(masks / "c.png", 64, 80)
    _mask_png(masks / "d.png", 64, 80)
    code = main(["inpaint", str(images), "-m", str(masks), "-o", str(out), "--model", str(tiny_export), "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == ["a.jpg", "b.png"]  # + manifests/
    assert Image.open(out / "a.jpg").format == "JPEG"
    assert "c.png" in err and "does not match image size 64x64" in err and "d.png" in err
    assert "2 of 4 images failed" in err and "Traceback" not in err
    before = (out / "a.jpg").stat().st_mtime_ns
    main(
        ["inpaint", str(images), "-m", str(masks), "-o", str(out), "--model", str(tiny_export), "-q", "--skip-existing"]
    )
    assert (out / "a.jpg").stat().st_mtime_ns == before


@pytest.mark.parametrize(
    "case,expected",
    [
        ("missing_input", "no such input"),
        ("missing_mask", "no such mask"),
        ("size_mismatch", "does not match image size"),
        ("broken_image", "not an image"),
        ("huge", "more than the limit"),
        ("bad_ext", "unsupported output extension"),
        ("no_mask_in_folder", "no mask for"),
        ("empty_mask", EMPTY_MASK),  # one sentence, not a Python UserWarning with its source line
        ("whole_mask", "the mask covers the whole image"),
        ("explain_folder", "--explain works on one image"),
    ],
)
def test_bad_input_one_clear_line(
    tmp_path: Path, photo: np.ndarray, tiny_export: Path, case: str, expected: str
) -> None:
    src, mask, out = tmp_path / "p.png", tmp_path / "m.png", tmp_path / "o.png"
    Image.fromarray(photo[:64, :64]).save(src)
    _mask_png(mask, 64, 64)
    extra: list[str] = []
    if case == "missing_input":
        src = tmp_path / "nothing.png"
    elif case == "missing_mask":
        mask = tmp_path / "nothing.png"
    elif case == "size_mismatch":
        _mask_png(mask, 32, 64)
    elif case == "broken_image":
        src.write_bytes(b"\x89PNG broken")
    elif case == "huge":
        extra = ["--max-pixels", "100"]
    elif case == "bad_ext":
        out = tmp_path / "o.xyz"
    elif case == "no_mask_in_folder":
        mask = tmp_path / "empty_masks"
        mask.mkdir()
    elif case in ("empty_mask", "whole_mask"):
        Image.fromarray(np.full((64, 64), 0 if case == "empty_mask" else 255, np.uint8)).save(mask)
    elif case == "explain_folder":
        src = tmp_path / "folder"
        src.mkdir()
        Image.fromarray(photo[:64, :64]).save(src / "p.png")
        out = tmp_path / "out"
        extra = ["--explain", str(tmp_path / "explained")]
    proc = subprocess.run(
        [sys.executable, "-m", "gmcnn", "inpaint", str(src), "-m", str(mask), "-o", str(out),
         "--model", str(tiny_export), *extra],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    assert "Warning" not in proc.stderr and not out.is_file()  # nothing written


def test_prints_what_it_wrote_and_explains_the_fill(
    tmp_path: Path, photo: np.ndarray, tiny_export: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out, explained = tmp_path / "p.jpg", tmp_path / "filled.png", tmp_path / "how"
    Image.fromarray(photo[:96, :128]).save(src)
    _mask_png(tmp_path / "m.png", 96, 128)
    args = ["inpaint", str(src), "-m", str(tmp_path / "m.png"), "-o", str(out), "--model", str(tiny_export)]
    assert main([*args, "--explain", str(explained)]) == 0
    said = capsys.readouterr().out.splitlines()
    kb = max(1, round(out.stat().st_size / 1024))
    assert said[0].startswith(f"wrote {out} (128x96 PNG, {kb} KB) in ")
    assert said[0].endswith(f"with model {tiny_export} (strategy original, 1 window)")
    assert str(explained) in said[1]
    summary = json.loads((explained / "explain.json").read_text())
    assert [s["name"] for s in summary["stages"]] == ["completion", "composite"]  # detail 1: no network run
    assert set(summary["layers"]) == {"sources", "confidence"}
    assert summary["model"] == str(tiny_export) and summary["output"] == str(out)
    for entry in [*summary["stages"], *summary["layers"].values()]:
        picture = Image.open(explained / f"{entry['picture']}.png")
        assert picture.size == (128, 96) and entry["about"]
    # The composite stage is the result itself (the same fill, not a second one).
    composite = np.asarray(Image.open(explained / "stage_composite.png"))
    assert np.array_equal(composite, np.asarray(Image.open(out)))


def test_help_lists_subcommands() -> None:
    proc = subprocess.run([sys.executable, "-m", "gmcnn", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    for name in ("inpaint", "train", "eval", "bench", "serve", "export", "convert", "corpus"):
        assert name in proc.stdout


def test_an_output_that_is_an_input_or_the_mask_is_refused_unless_overwrite(
    tmp_path: Path, photo: np.ndarray, tiny_export: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, mask = tmp_path / "in.png", tmp_path / "mask.png"
    Image.fromarray(photo[:64, :80]).save(src)
    _mask_png(mask, 64, 80)
    (tmp_path / "link.png").hardlink_to(src)
    (tmp_path / "alias.png").symlink_to(mask)
    before = {p: p.read_bytes() for p in (src, mask)}

    def inpaint(image: Path, out: Path, *extra: str) -> int:
        return main(["inpaint", str(image), "-m", str(mask), "-o", str(out), "--model", str(tiny_export), *extra])

    for out, what in ((src, "input image"), (mask, "mask"), (tmp_path / "link.png", "input image"),
                      (tmp_path / "alias.png", "mask")):  # fmt: skip
        assert inpaint(src, out) == 2
        err = capsys.readouterr().err
        assert f"is the {what}" in err and "--overwrite" in err, err
    assert {p: p.read_bytes() for p in (src, mask)} == before  # nothing was written
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(photo[:64, :80]).save(folder / "a.png")
    assert main(["inpaint", str(folder), "-m", str(mask), "-o", str(folder), "--model", str(tiny_export), "-q"]) == 2
    assert inpaint(src, src, "--overwrite") == 0  # asked for: the input is replaced by its fill
    assert Image.open(src).size == (80, 64) and src.read_bytes() != before[src]
