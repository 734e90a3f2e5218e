"""``gmcnn study make | serve | score``: blind pairwise preference between two fill methods."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gmcnn.errors import UserError
from gmcnn.evaluation.protocol import PROTOCOLS

INSTRUCTIONS = """\
Give a reviewer the folder {pairs} and nothing else (not key.json, not fills/).
Each picture is [input with the hole in white | left fill | right fill]. For each, the reviewer picks the fill
that looks more natural, as if nothing had been removed, and says how sure: 1 slight, 2 clear, 3 obvious.
  on the judging page:  gmcnn study serve {root}
  as a file:            {root}/judgements/NAME.jsonl, one line per picture:
                        {{"pair": "0007", "choice": "left", "confidence": 2}}
Then: gmcnn study score {root}"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="study_command", metavar="make|serve|score", required=True)
    make = sub.add_parser("make", help="fill cases with two methods and write the blind pair pictures + key")
    source = make.add_mutually_exclusive_group(required=True)
    source.add_argument("--cases", help="a case set folder (gmcnn eval / protocol)")
    source.add_argument("--data", help="a folder of photos to build cases from (with --protocol)")
    make.add_argument("--protocol", choices=sorted(PROTOCOLS), help="protocol for --data")
    make.add_argument("--num", type=int, help="number of pairs (default: every case; with --data: 72)")
    make.add_argument("--a", required=True, metavar="METHOD", help="method A: NAME[:key=value,...], e.g. patchmatch")
    make.add_argument("--b", required=True, metavar="METHOD", help="method B, e.g. default:detail=0")
    make.add_argument("-o", "--out", required=True, help="the study folder to write")
    make.add_argument("--seed", type=int, default=0, help="seed of the case draw and the sides (default 0)")
    make.add_argument("--device", default="auto", help="device for models: auto, cpu, cuda (default auto)")

    serve = sub.add_parser("serve", help="the judging page for a study (judgements saved as they are made)")
    serve.add_argument("study", help="the study folder")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    serve.add_argument("--port", type=int, default=8001, help="TCP port (default: 8001)")
    serve.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                       help="a host name to answer to besides localhost and IP addresses (repeatable)")  # fmt: skip

    score = sub.add_parser("score", help="preference rates with 95 %% intervals, and the metrics of both methods")
    score.add_argument("study", help="the study folder")
    score.add_argument("--judge", action="append", metavar="NAME", help="score only this judge (repeatable)")


def run(args: argparse.Namespace) -> int:
    return {"make": _make, "serve": _serve, "score": _score}[args.study_command](args)


def _make(args: argparse.Namespace) -> int:
    from gmcnn.evaluation.methods import load_methods
    from gmcnn.evaluation.protocol import build_cases, load_cases
    from gmcnn.evaluation.study import PAIRS_DIR, make_study

    out = Path(args.out)
    methods = load_methods([args.a, args.b], device=args.device)  # bad specs fail before any work
    if args.cases:
        if args.protocol:
            raise UserError("--protocol goes with --data; a case set has its protocol already")
        cases = load_cases(args.cases)
    else:
        if not args.protocol:
            raise UserError(f"--data needs --protocol; choose one of {sorted(PROTOCOLS)}")
        cases = build_cases(args.protocol, args.data, out / "cases", num=args.num or 72, seed=args.seed)
    study = make_study(cases, methods, out, num=args.num, seed=args.seed)
    print(f"wrote {len(study.pairs)} pairs of {methods[0].label} (A) vs {methods[1].label} (B) to {out}")
    print(INSTRUCTIONS.format(pairs=out / PAIRS_DIR, root=out))
    return 0


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from gmcnn.web.study_app import create_study_app
    except ModuleNotFoundError as exc:
        raise UserError(
            f"the judging page needs the web extra ({exc.name} is missing): pip install 'gmcnn[web]'"
        ) from None
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be between 0 and 65535, got {args.port}")
    app = create_study_app(args.study, allowed_hosts=[*args.allowed_host, args.host])
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    print(f"judging page: http://{shown}:{args.port}/  (judgements go to {Path(args.study) / 'judgements'})")
    uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")).run()
    return 0


def _score(args: argparse.Namespace) -> int:
    from gmcnn.evaluation.study import judgement_files, load_study, pair_ids, read_judgements
    from gmcnn.evaluation.study_score import score_markdown
    from gmcnn.files import atomic_write

    study = load_study(args.study)
    files = judgement_files(study.root)
    names = args.judge or list(files)
    missing = [n for n in names if n not in files]
    if missing or not names:
        raise UserError(f"no judgements for {missing or 'any judge'} in {study.root / 'judgements'}; judges: "
                        f"{sorted(files) or 'none yet'}")  # fmt: skip
    ids = pair_ids(study.root)
    if ids != [p.pair for p in study.pairs]:
        raise UserError(f"{study.root / 'pairs'} does not hold the pictures the key lists")
    judges = {n: read_judgements(files[n], ids) for n in names}
    text = score_markdown(study, judges)
    atomic_write(study.root / "score.md", lambda tmp: tmp.write_text(text))
    sys.stdout.write(text)
    return 0
