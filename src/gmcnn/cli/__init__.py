"""The `gmcnn` command line: one module per subcommand in this package (``gmcnn.cli.<name>``), on top of the library.

Every subcommand module exposes two functions:

* ``add_arguments(parser: argparse.ArgumentParser) -> None`` — declares its flags;
* ``run(args: argparse.Namespace) -> int`` — does the work and returns the exit code.

Modules are imported only when their subcommand runs, so ``gmcnn inpaint`` never imports training,
evaluation or web code. Errors meant for users are raised as :class:`gmcnn.errors.UserError` (or
``ValueError`` / ``FileNotFoundError``) and printed as one line on stderr with exit code 2 — no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from gmcnn.errors import UserError
from gmcnn.version import __version__

# name -> (module, one-line help). A registry, not an if-chain: adding a subcommand is one line here.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "inpaint": ("gmcnn.cli.inpaint", "fill the masked parts of an image or a folder of images"),
    "train": ("gmcnn.cli.train", "train a GMCNN (runs unchanged under torchrun)"),
    "eval": ("gmcnn.cli.eval", "measure fill quality against baselines on a protocol"),
    "cases": ("gmcnn.cli.cases", "write an evaluation case set, plain or stratified by scene kind"),
    "study": ("gmcnn.cli.study", "blind pairwise preference between two fill methods: make, serve, score"),
    "bench": ("gmcnn.cli.bench", "measure latency, throughput and memory"),
    "serve": ("gmcnn.cli.serve", "start the HTTP API and the web painter"),
    "export": ("gmcnn.cli.export", "export a generator (ONNX or safetensors)"),
    "convert": ("gmcnn.cli.convert", "convert an official GMCNN checkpoint to our format"),
    "models": ("gmcnn.cli.models", "list the models on offer; download an official release (only when asked)"),
    "corpus": ("gmcnn.cli.corpus", "build the offline training corpus from Debian packages"),
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Build the top-level parser; only the chosen subcommand's module is imported."""
    parser = argparse.ArgumentParser(prog="gmcnn", description="Image inpainting with GMCNN.")
    parser.add_argument("--version", action="version", version=f"gmcnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in (argv or []) if not a.startswith("-")), None)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gmcnn`` console script and ``python -m gmcnn``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except (UserError, ValueError, FileNotFoundError, PermissionError) as exc:
        print(f"gmcnn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early: not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"gmcnn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
