"""``gmcnn serve``: load the model once and serve the API and the painter page with uvicorn."""

from __future__ import annotations

import argparse
import ipaddress
import sys
import threading
import time
import webbrowser
from pathlib import Path

from gmcnn.errors import UserError
from gmcnn.web.limits import DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_MEMORY_BUDGET, DEFAULT_QUEUE_SIZE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    parser.add_argument(
        "--model", default="default", help="the model served first: a name (see --models) or a path (default: default)"
    )
    parser.add_argument(
        "--models",
        metavar="DIR",
        help="a models folder the page may pick from (exports, run folders, official releases) and download "
        "official releases into, only when asked (see `gmcnn models list --dir DIR`)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--open", action="store_true", help="open the painter in the default browser")
    parser.add_argument(
        "--queue-size",
        type=int,
        default=DEFAULT_QUEUE_SIZE,
        help=f"requests that may wait while one runs; more get 503 (default: {DEFAULT_QUEUE_SIZE})",
    )
    parser.add_argument(
        "--max-upload-mb",
        type=float,
        default=DEFAULT_MAX_UPLOAD_BYTES / 2**20,
        help=f"largest request body in MiB (default: {DEFAULT_MAX_UPLOAD_BYTES // 2**20})",
    )
    parser.add_argument(
        "--memory-budget-mb",
        type=float,
        default=DEFAULT_MEMORY_BUDGET / 2**20,
        help="working memory for the images in flight, in MiB; more gets 503, one image needing more gets 413 "
        f"(default: {DEFAULT_MEMORY_BUDGET // 2**20})",
    )
    parser.add_argument(
        "--body-timeout",
        type=float,
        default=DEFAULT_BODY_TIMEOUT,
        help=f"seconds a request body may stall before 408 and a closed connection (default: {DEFAULT_BODY_TIMEOUT:g})",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name the server answers to besides localhost and IP addresses (repeatable); other Host "
        "headers get 400, which stops DNS rebinding",
    )


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from gmcnn.web.app import create_app
        from gmcnn.web.models_routes import load_model
    except ModuleNotFoundError as exc:
        raise UserError(
            f"the painter needs the web extra ({exc.name} is not installed): python3 -m pip install 'gmcnn[web]'"
        ) from None
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be between 0 and 65535, got {args.port}")
    if args.queue_size < 0:
        raise UserError(f"--queue-size must be >= 0, got {args.queue_size}")
    if args.max_upload_mb <= 0 or args.memory_budget_mb <= 0 or args.body_timeout <= 0:
        raise UserError("--max-upload-mb, --memory-budget-mb and --body-timeout must be positive")
    if args.models is not None and Path(args.models).exists() and not Path(args.models).is_dir():
        raise UserError(f"--models {args.models} is not a folder")
    from gmcnn.web.queue import share_malloc_arenas

    share_malloc_arenas()  # before the model and the server start their threads: freed memory goes back to the OS
    inpainter = load_model(args.model, Path(args.models) if args.models else None, args.device)
    app = create_app(
        inpainter,
        models_dir=args.models,
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        queue_size=args.queue_size,
        memory_budget=int(args.memory_budget_mb * 2**20),
        allowed_hosts=[*args.allowed_host, *([args.host] if not _is_ip(args.host) else [])],
        body_timeout=args.body_timeout,
    )
    if not _is_loopback(args.host):
        print(
            f"gmcnn serve: listening on {args.host}: anyone who can reach this address can use the model "
            "(there is no authentication)",
            file=sys.stderr,
        )
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="info"))
    if args.open:
        threading.Thread(target=_open_when_started, args=(server, args.host), daemon=True).start()
    server.run()
    return 0


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _open_when_started(server: object, host: str) -> None:
    """Open the page once uvicorn listens (the port may have been 0 = any free one)."""
    for _ in range(600):
        if getattr(server, "started", False):
            break
        time.sleep(0.05)
    else:
        return
    sockets = [s for srv in getattr(server, "servers", []) for s in srv.sockets]
    port = sockets[0].getsockname()[1] if sockets else None
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    webbrowser.open(f"http://{shown}:{port}/")
