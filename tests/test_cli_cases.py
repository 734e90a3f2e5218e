"""``gmcnn cases``: the case set is written, and the mix it prints is the one in the manifest."""

from __future__ import annotations

from helpers.cases import kind_folders

from gmcnn.cli import main
from gmcnn.evaluation.protocol import load_cases


def test_cases_prints_the_mix_by_kind_and_mask_type(tmp_path, capsys):
    photos, textures = kind_folders(tmp_path / "data")
    out = tmp_path / "c"
    args = ["cases", "--data", str(photos), "--data", str(textures), "--protocol", "mixed", "--num", "10", "--size",
            "48", "--stratify", "kind", "--max-share", "astro=0.1", "--min-side", "256", "-o", str(out)]  # fmt: skip
    assert main(args) == 0
    text = capsys.readouterr().out
    cases = load_cases(out)
    assert f"10 cases (mixed, 48x48, seed 0) in {out}" in text
    for kind, n in cases.counts("kind").items():
        line = next(line for line in text.splitlines() if line.startswith(f"| {kind} |"))
        assert line.split(" | ")[1] == str(n)
    assert cases.counts("kind")["astro"] == 1 and "texture" not in cases.counts("kind")  # capped; too small
    assert main([*args[:-2], "-o", str(tmp_path / "d"), "--max-share", "astro=2"]) == 2
    assert "KIND=SHARE" in capsys.readouterr().err
