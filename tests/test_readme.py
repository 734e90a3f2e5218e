"""The README's promises: its test command is what CI runs, and its example files exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(), flags=re.S)


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    blocks = _bash_blocks()
    assert len(blocks) >= 2
    test_command = blocks[1].strip()
    assert "pytest" in test_command
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_main_command_uses_files_that_exist() -> None:
    main = _bash_blocks()[0]
    for path in re.findall(r"examples/\S+", main):
        assert (ROOT / path).is_file(), path
