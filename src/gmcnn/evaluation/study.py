"""Blind pairwise preference studies (``gmcnn study``): pair pictures, the key kept apart, and the judgements.

A study compares two fill methods, **A** and **B** (specs of :mod:`gmcnn.evaluation.methods`), on cases of a
case set (:mod:`gmcnn.evaluation.protocol`). Each pair picture shows one case as ``[input with the hole in
white | left fill | right fill]``; which of A and B is on the left is drawn by a seeded rng, balanced (half of
the pairs each way). Nothing a reviewer sees names a method. The study folder::

    pairs/NNNN.png          the pictures: hand a reviewer this folder only. File names are pair numbers, the
                            PNGs carry no text chunks, and the folder holds nothing else.
    key.json                {"format": "gmcnn-study", "version": 1, "methods": {"A": spec, "B": spec}, "seed",
                            "cases": case set folder, "protocol", "pairs": [{"pair", "case", "left": "A"|"B",
                            "bin", "mask", "kind", "coverage", "seconds": {"A", "B"}}]}
    fills/A/NNNN.png        the raw fills of A and B (named by role, not method), for the metrics
    fills/B/NNNN.png
    cases/                  the case set, when ``make`` built it from photos (else key.json points to it)
    judgements/JUDGE.jsonl  one file per reviewer (below)
    score.md                what ``gmcnn study score`` wrote

**Judgement files.** ``judgements/<judge>.jsonl`` (judge names: letters, digits, ``_ . -``, up to 64), one JSON
object per line and one line per judged pair::

    {"pair": "0007", "choice": "left", "confidence": 2}

* ``pair``: the picture's number as a string (``"0007"`` for ``pairs/0007.png``);
* ``choice``: ``"left"`` or ``"right"``, the fill that looks more natural (no ties: pick one);
* ``confidence``: 1 = slight, 2 = clear, 3 = obvious;
* optional: ``note`` (a free-text reason), ``seconds`` (time spent on the pair), ``time`` (when, ISO 8601).

Any other key, an unknown pair, a pair judged twice, a bad value or a line that is not a JSON object is
refused with the file and line. The judging page (``gmcnn study serve``) writes the same lines as each
judgement is made, so any reviewer, a person on the page or a program looking at the PNGs, yields one format.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
from PIL import Image, ImageDraw

from gmcnn.errors import UserError
from gmcnn.evaluation.methods import Method
from gmcnn.evaluation.protocol import CaseSet, load_cases, read_format_json, write_png
from gmcnn.files import atomic_write

STUDY_FORMAT: Final = "gmcnn-study"
STUDY_VERSION: Final = 1
KEY_FILE: Final = "key.json"
PAIRS_DIR: Final = "pairs"
FILLS_DIR: Final = "fills"
JUDGEMENTS_DIR: Final = "judgements"
ROLES: Final = ("A", "B")
SIDES: Final = ("left", "right")
CONFIDENCE: Final = {1: "slight", 2: "clear", 3: "obvious"}
# Pair picture layout: a header strip with the neutral panel titles, then the three panels with gaps between.
GAP: Final = 6
HEADER: Final = 14
PANEL_TITLES: Final = ("input", "left", "right")
_BACKGROUND: Final = (128, 128, 128)  # mid grey: neither a fill's colour nor the hole's white
_PAIR_ID: Final = re.compile(r"\d{4,}")
_JUDGE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_REQUIRED: Final = ("pair", "choice", "confidence")
_OPTIONAL: Final = ("note", "seconds", "time")


@dataclass(frozen=True)
class PairKey:
    """What one pair shows (the key's entry): its case and which method is on the left."""

    pair: str
    case: str
    left: str  # "A" or "B"
    bin: str
    mask: str
    kind: str
    coverage: float

    def preferred(self, choice: str) -> str:
        """The role (``"A"``/``"B"``) of the fill a judge chose (``"left"``/``"right"``)."""
        return self.left if choice == "left" else ROLES[1 - ROLES.index(self.left)]


@dataclass(frozen=True)
class Study:
    """A study as ``key.json`` describes it."""

    root: Path
    methods: dict[str, str]  # role -> method spec
    seed: int
    cases_root: Path
    protocol: str
    pairs: list[PairKey]
    seconds: dict[str, float]  # role -> mean seconds per fill

    def cases(self) -> CaseSet:
        return load_cases(self.cases_root)

    def fill_path(self, role: str, pair: str) -> Path:
        return self.root / FILLS_DIR / role / f"{pair}.png"


@dataclass(frozen=True)
class Judgement:
    """One line of a judgement file."""

    pair: str
    choice: str
    confidence: int
    extra: tuple[tuple[str, Any], ...] = ()

    def to_json(self) -> str:
        return json.dumps({"pair": self.pair, "choice": self.choice, "confidence": self.confidence, **dict(self.extra)})


def compose_pair(masked: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The pair picture: ``[masked | left | right]`` with :data:`GAP` px of grey between, under a title strip."""
    h, w = masked.shape[:2]
    canvas = Image.new("RGB", (3 * w + 2 * GAP, HEADER + h), _BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for i, (tile, title) in enumerate(zip((masked, left, right), PANEL_TITLES, strict=True)):
        canvas.paste(Image.fromarray(tile), (i * (w + GAP), HEADER))
        draw.text((i * (w + GAP) + 3, 1), title, fill=(255, 255, 255))
    return np.asarray(canvas)


def panel(picture: np.ndarray, index: int) -> np.ndarray:
    """Panel ``index`` (0 input, 1 left, 2 right) cut back out of a pair picture."""
    w = (picture.shape[1] - 2 * GAP) // 3
    return picture[HEADER:, index * (w + GAP) : index * (w + GAP) + w]


def make_study(
    cases: CaseSet,
    methods: Sequence[Method],
    out: str | Path,
    *,
    num: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Study:
    """Fill ``num`` cases (all when None) with methods A and B and write the study folder (module docstring).

    Cases are drawn without replacement by ``np.random.default_rng(seed)`` and shown in the order drawn; the
    sides come from the same rng, half of the pairs with A on the left. The key is written last: a folder
    without it is an unfinished study and is written over.

    Raises:
        UserError: not two methods, ``num`` outside 1..cases, or ``out`` already holding a study.
    """
    from tqdm import tqdm

    out = Path(out)
    if len(methods) != 2:
        raise UserError(f"a study compares two methods, got {len(methods)}")
    total = len(cases.cases)
    num = total if num is None else num
    if not 1 <= num <= total:
        raise UserError(f"--num must be between 1 and the {total} cases of {cases.root}, got {num}")
    if (out / KEY_FILE).exists():
        raise UserError(f"{out} already holds a study ({KEY_FILE}); choose another folder")
    stale = [p for p in (out / PAIRS_DIR).glob("*")] if (out / PAIRS_DIR).is_dir() else []
    for path in stale:  # an interrupted make: its pictures may not match the new draw
        path.unlink()
    rng = np.random.default_rng(seed)
    chosen = rng.choice(total, size=num, replace=False)
    lefts = rng.permutation(np.arange(num) % 2)  # balanced: 0 = A on the left, 1 = B
    entries = []
    seconds: dict[str, list[float]] = {r: [] for r in ROLES}
    for i, (case_index, left_index) in enumerate(tqdm(list(zip(chosen, lefts, strict=True)), desc="study pairs",
                                                      unit="pair", disable=not progress)):  # fmt: skip
        case = cases.cases[int(case_index)]
        pair = f"{i:04d}"
        target, hole = case.image(), case.mask()
        masked = target.copy()
        masked[hole] = 255  # the input as a user sees it, and as every method gets it
        fills = {}
        for role, method in zip(ROLES, methods, strict=True):
            start = time.perf_counter()
            filled = np.asarray(method.fill(masked, hole))
            seconds[role].append(time.perf_counter() - start)
            if filled.shape != target.shape or filled.dtype != np.uint8:
                raise RuntimeError(f"{method.label} returned {filled.dtype} {filled.shape}, expected {target.shape}")
            write_png(out / FILLS_DIR / role / f"{pair}.png", filled)
            fills[role] = filled
        left = ROLES[int(left_index)]
        right = ROLES[1 - int(left_index)]
        write_png(out / PAIRS_DIR / f"{pair}.png", compose_pair(masked, fills[left], fills[right]))
        entries.append({"pair": pair, "case": case.id, "left": left, "bin": case.bin, "mask": case.mask_type,
                        "kind": case.kind, "coverage": case.coverage,
                        "seconds": {r: round(seconds[r][-1], 4) for r in ROLES}})  # fmt: skip
    cases_ref = cases.root.resolve()
    key = {
        "format": STUDY_FORMAT,
        "version": STUDY_VERSION,
        "methods": {r: (m.spec.text if m.spec else m.label) for r, m in zip(ROLES, methods, strict=True)},
        "seed": int(seed),
        "cases": cases_ref.relative_to(out.resolve()).as_posix() if cases_ref.is_relative_to(out.resolve())
        else str(cases_ref),
        "protocol": cases.protocol,
        "pairs": entries,
    }  # fmt: skip
    text = json.dumps(key, indent=1) + "\n"
    atomic_write(out / KEY_FILE, lambda tmp: tmp.write_text(text))
    return load_study(out)


def load_study(root: str | Path) -> Study:
    """Read ``root/key.json``; a ``UserError`` when it is missing or not a study key."""
    root = Path(root)
    path = root / KEY_FILE
    if not path.is_file():
        raise UserError(f"{root} is not a study folder: {KEY_FILE} is missing (gmcnn study make writes it)")
    key = read_format_json(path, STUDY_FORMAT, STUDY_VERSION, "a gmcnn study key")
    pairs = [
        PairKey(str(p["pair"]), str(p["case"]), str(p["left"]), str(p["bin"]), str(p["mask"]), str(p["kind"]),
                float(p["coverage"]))
        for p in key["pairs"]
    ]  # fmt: skip
    seconds = {r: float(np.mean([p["seconds"][r] for p in key["pairs"]])) for r in ROLES}
    return Study(root, dict(key["methods"]), int(key["seed"]), root / key["cases"], str(key["protocol"]), pairs,
                 seconds)  # fmt: skip


def pair_ids(root: str | Path) -> list[str]:
    """The pair numbers, read from the ``pairs/`` folder alone (the judging page never opens the key)."""
    folder = Path(root) / PAIRS_DIR
    ids = sorted(p.stem for p in folder.glob("*.png") if _PAIR_ID.fullmatch(p.stem))
    if not ids:
        raise UserError(f"{folder} holds no pair pictures (gmcnn study make writes them)")
    return ids


def check_judge(name: str) -> str:
    """A judge name as a file name: letters, digits, ``_ . -``, 1-64 characters, not starting with ``.``."""
    if not _JUDGE.fullmatch(name):
        raise UserError(
            f"judge name {name!r}: use 1-64 letters, digits, '_', '.', '-' (starting with a letter or digit)"
        )
    return name


def judgement_files(root: str | Path) -> dict[str, Path]:
    """Judge name -> judgement file, for every ``judgements/*.jsonl`` of a study."""
    folder = Path(root) / JUDGEMENTS_DIR
    return {p.stem: p for p in sorted(folder.glob("*.jsonl"))} if folder.is_dir() else {}


def parse_judgement(value: Any, known: set[str] | None = None) -> Judgement:
    """One judgement from its JSON object; ``known`` = the valid pair numbers. Refusals are ``UserError``s."""
    if not isinstance(value, dict):
        raise UserError(f"a judgement is a JSON object like {{\"pair\": \"0007\", \"choice\": \"left\", "
                        f"\"confidence\": 2}}, got {value!r}")  # fmt: skip
    missing = [k for k in _REQUIRED if k not in value]
    unknown = sorted(set(value) - {*_REQUIRED, *_OPTIONAL})
    if missing or unknown:
        raise UserError(f"judgement {value}: missing {missing}, unknown {unknown}; keys are {list(_REQUIRED)} "
                        f"and optionally {list(_OPTIONAL)}")  # fmt: skip
    pair, choice, confidence = value["pair"], value["choice"], value["confidence"]
    if not isinstance(pair, str) or (known is not None and pair not in known):
        raise UserError(f'judgement {value}: unknown pair {pair!r} (pairs are strings like "0007")')
    if choice not in SIDES:
        raise UserError(f"judgement {value}: choice must be one of {list(SIDES)}, got {choice!r}")
    if isinstance(confidence, bool) or confidence not in CONFIDENCE:
        raise UserError(
            f"judgement {value}: confidence must be 1 (slight), 2 (clear) or 3 (obvious), got {confidence!r}"
        )
    note, seconds = value.get("note", ""), value.get("seconds", 0.0)
    if not isinstance(note, str) or not isinstance(value.get("time", ""), str):
        raise UserError(f"judgement {value}: note and time must be strings")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
        raise UserError(f"judgement {value}: seconds must be a number >= 0")
    return Judgement(pair, choice, int(confidence), tuple((k, value[k]) for k in _OPTIONAL if k in value))


def read_judgements(path: str | Path, pairs: Sequence[str]) -> list[Judgement]:
    """Every judgement of a file, validated against the study's ``pairs``; errors name the file and line."""
    path = Path(path)
    known, seen = set(pairs), dict[str, int]()
    out = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            judgement = parse_judgement(json.loads(line), known)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{number}: not JSON ({exc.msg})") from None
        except UserError as exc:
            raise UserError(f"{path}:{number}: {exc}") from None
        if judgement.pair in seen:
            raise UserError(f"{path}:{number}: pair {judgement.pair} is judged twice (first on line "
                            f"{seen[judgement.pair]}); keep one line per pair")  # fmt: skip
        seen[judgement.pair] = number
        out.append(judgement)
    return out


class JudgementLog:
    """One judge's file, as the judging page uses it: read, append one judgement, undo the last.

    Each change is on disk before the call returns (append + fsync; undo rewrites the file atomically), so a
    closed page or a stopped server loses nothing; a lock keeps concurrent requests in order.
    """

    def __init__(self, root: str | Path, judge: str, pairs: Sequence[str]) -> None:
        self.path = Path(root) / JUDGEMENTS_DIR / f"{check_judge(judge)}.jsonl"
        self.pairs = list(pairs)
        self._lock = threading.Lock()

    def read(self) -> list[Judgement]:
        return read_judgements(self.path, self.pairs) if self.path.is_file() else []

    def next_pair(self, judged: Sequence[Judgement]) -> str | None:
        """The first pair, in order, that is not judged yet (None when all are)."""
        done = {j.pair for j in judged}
        return next((p for p in self.pairs if p not in done), None)

    def add(self, judgement: Judgement) -> list[Judgement]:
        """Append ``judgement`` (stamped with the time); a ``UserError`` if its pair is judged already."""
        with self._lock:
            judged = self.read()
            if any(j.pair == judgement.pair for j in judged):
                raise UserError(f"pair {judgement.pair} is judged already (undo it first)")
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            extra = {**dict(judgement.extra), "time": stamp}
            line = Judgement(judgement.pair, judgement.choice, judgement.confidence, tuple(extra.items()))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as fh:
                fh.write(line.to_json() + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            return [*judged, line]

    def undo(self) -> tuple[list[Judgement], Judgement | None]:
        """Remove the last judgement; returns the rest and the one removed (None when there was none)."""
        with self._lock:
            judged = self.read()
            if not judged:
                return judged, None
            rest = judged[:-1]
            text = "".join(j.to_json() + "\n" for j in rest)
            atomic_write(self.path, lambda tmp: tmp.write_text(text))
            return rest, judged[-1]


__all__ = [
    "CONFIDENCE",
    "SIDES",
    "Judgement",
    "JudgementLog",
    "PairKey",
    "Study",
    "check_judge",
    "compose_pair",
    "judgement_files",
    "load_study",
    "make_study",
    "pair_ids",
    "panel",
    "parse_judgement",
    "read_judgements",
]
