"""The repository stays lean and its documents stay whole: no large tracked file outside the allow-list, the
tracked tree within its budget, results as text, and every relative link or image in the markdown files
pointing at a file that is there."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_FILE_BYTES = 1_000_000
# Files allowed over MAX_FILE_BYTES, and left out of the tree budget: the weights the package ships.
ALLOWED_LARGE = {"src/gmcnn/weights/default/generator.safetensors"}
TREE_BUDGET_BYTES = 8_000_000
PICTURES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
# [text](target), ![alt](target) and <img src="target">; the target ends at whitespace or the closing bracket.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|<img\b[^>]*\bsrc=\"([^\"]+)\"")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE = re.compile(r"`[^`\n]*`")


def tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [os.fsdecode(n) for n in out.split(b"\0") if n and (ROOT / os.fsdecode(n)).is_file()]


def relative_links(text: str) -> list[str]:
    """Link and image targets in markdown ``text`` that name a file in the repository (not URLs or anchors);
    code spans and fenced blocks are not links."""
    text = CODE.sub("", FENCE.sub("", text))
    targets = [a or b for a, b in LINK.findall(text)]
    return [t for t in targets if not re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", t, re.IGNORECASE)]


def test_no_large_file_outside_the_allow_list() -> None:
    large = {name: (ROOT / name).stat().st_size for name in tracked() if (ROOT / name).stat().st_size > MAX_FILE_BYTES}
    assert set(large) <= ALLOWED_LARGE, f"tracked files over {MAX_FILE_BYTES:,} bytes: {large}"


def test_tracked_tree_is_within_its_budget() -> None:
    total = sum((ROOT / name).stat().st_size for name in tracked() if name not in ALLOWED_LARGE)
    assert total < TREE_BUDGET_BYTES, f"tracked files take {total:,} bytes (budget {TREE_BUDGET_BYTES:,})"


def test_benchmark_results_are_text() -> None:
    pictures = [n for n in tracked() if n.startswith("benchmarks/results/") and n.lower().endswith(PICTURES)]
    assert not pictures, f"pictures belong in runs/ (or docs/ when a document shows them): {pictures}"


@pytest.mark.parametrize("doc", sorted(n for n in tracked() if n.endswith(".md")))
def test_relative_links_resolve(doc: str) -> None:
    base = (ROOT / doc).parent
    missing = []
    for target in relative_links((ROOT / doc).read_text(encoding="utf-8")):
        path = unquote(target.split("#")[0].split("?")[0])
        resolved = (base / path).resolve()
        if path and not resolved.exists():
            missing.append(target)
    assert not missing, f"{doc} links to files that are not there: {missing}"


def test_the_link_reader_sees_links_and_skips_urls_and_code() -> None:
    text = (
        '![a](docs/a.png) [b](b.md#part) <img src="c.jpg" width=3> [u](https://x.org/y.png) [h](#top)\n'
        "`[not](code.md)`\n```\n![no](fenced.png)\n```\n"
    )
    assert relative_links(text) == ["docs/a.png", "b.md#part", "c.jpg"]
