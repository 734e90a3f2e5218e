"""`gmcnn serve` (gmcnn.cli.serve): its defaults and its hint when the web extra is missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gmcnn.cli import serve as web_server


def test_serve_cli_defaults_to_localhost(tmp_path: Path) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    web_server.add_arguments(parser)
    args = parser.parse_args([])
    assert (args.host, args.port, args.model, args.device, args.open) == ("127.0.0.1", 8000, "default", "auto", False)
    bad = parser.parse_args(["--queue-size", "-1", "--model", str(tmp_path)])
    with pytest.raises(ValueError, match="queue-size"):
        web_server.run(bad)


def test_serve_without_the_web_extra_prints_a_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import argparse
    import builtins

    real_import = builtins.__import__

    def no_uvicorn(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "uvicorn":
            raise ModuleNotFoundError("No module named 'uvicorn'", name="uvicorn")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvicorn)
    parser = argparse.ArgumentParser()
    web_server.add_arguments(parser)
    with pytest.raises(ValueError, match=r"web extra \(uvicorn is not installed\).*gmcnn\[web\]"):
        web_server.run(parser.parse_args([]))


def test_serve_models_must_be_a_folder(tmp_path: Path) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    web_server.add_arguments(parser)
    args = parser.parse_args(["--models", str(tmp_path)])
    assert args.models == str(tmp_path) and args.model == "default"
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is not a folder"):
        web_server.run(parser.parse_args(["--models", str(tmp_path / "file")]))
