"""Blind studies: pictures that name no method, a key that matches them, determinism, judgement files."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from helpers.study import METHODS, tiny_study
from PIL import Image

from gmcnn.cli import main
from gmcnn.errors import UserError
from gmcnn.evaluation.baselines import get_baseline
from gmcnn.evaluation.methods import load_methods
from gmcnn.evaluation.protocol import load_cases
from gmcnn.evaluation.study import (
    JudgementLog,
    load_study,
    make_study,
    pair_ids,
    panel,
    parse_judgement,
    read_judgements,
)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory):
    return tiny_study(tmp_path_factory.mktemp("study"))


def _png_chunks(path: Path) -> list[bytes]:
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(raw):
        (length,) = struct.unpack(">I", raw[at : at + 4])
        kind = raw[at + 4 : at + 8]
        assert (
            zlib.crc32(raw[at + 4 : at + 8 + length]) == struct.unpack(">I", raw[at + 8 + length : at + 12 + length])[0]
        )
        chunks.append(kind)
        at += 12 + length
    return chunks


def _read(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def test_the_pairs_folder_names_no_method(study):
    files = sorted(p.name for p in (study.root / "pairs").iterdir())
    assert files == [f"{i:04d}.png" for i in range(6)]  # nothing but the numbered pictures
    for path in (study.root / "pairs").iterdir():
        assert set(_png_chunks(path)) <= {b"IHDR", b"IDAT", b"IEND"}  # no text, time or EXIF chunks
        raw = path.read_bytes().lower()
        for name in (*METHODS, "method", "key"):
            assert name.encode() not in raw
    key = json.loads((study.root / "key.json").read_text())
    assert key["methods"] == {"A": METHODS[0], "B": METHODS[1]}  # the names are in the key, outside pairs/


def test_each_picture_shows_the_keys_left_method_on_the_left(study):
    cases = {c.id: c for c in load_cases(study.cases_root).cases}
    telea = get_baseline("telea")
    for pair in study.pairs:
        picture = _read(study.root / "pairs" / f"{pair.pair}.png")
        case = cases[pair.case]
        masked = case.image().copy()
        masked[case.mask()] = 255
        right = "B" if pair.left == "A" else "A"
        np.testing.assert_array_equal(panel(picture, 0), masked)
        np.testing.assert_array_equal(panel(picture, 1), _read(study.fill_path(pair.left, pair.pair)))
        np.testing.assert_array_equal(panel(picture, 2), _read(study.fill_path(right, pair.pair)))
        # And fills/A really is method A's fill of this case.
        np.testing.assert_array_equal(_read(study.fill_path("A", pair.pair)), telea(masked, case.mask()))
        assert not np.array_equal(panel(picture, 1), panel(picture, 2))  # the two methods differ here
        assert (pair.mask, pair.bin) == (case.mask_type, case.bin) == ("strokes", "all")
    assert sum(p.left == "A" for p in study.pairs) == 3  # balanced sides
    assert len({p.case for p in study.pairs}) == 6  # no case twice


def test_make_is_deterministic_from_the_seed(study, tmp_path):
    again = tiny_study(tmp_path / "again")
    other = tiny_study(tmp_path / "other", seed=1)

    def layout(s):
        return [(p.pair, p.case, p.left) for p in s.pairs]

    assert layout(again) == layout(study)
    for pair in pair_ids(study.root):
        assert (again.root / "pairs" / f"{pair}.png").read_bytes() == (
            study.root / "pairs" / f"{pair}.png"
        ).read_bytes()
    assert layout(other) != layout(study)


def test_make_refuses_what_it_cannot_do(study, tmp_path):
    cases = load_cases(study.cases_root)
    methods = load_methods(list(METHODS))
    with pytest.raises(UserError, match="already holds a study"):
        make_study(cases, methods, study.root, num=2, progress=False)
    with pytest.raises(UserError, match="between 1 and the 8 cases"):
        make_study(cases, methods, tmp_path / "s", num=9, progress=False)
    with pytest.raises(UserError, match="two methods"):
        make_study(cases, methods[:1], tmp_path / "s", num=2, progress=False)
    with pytest.raises(UserError, match="not a study folder"):
        load_study(tmp_path)


def test_cli_make_from_photos_prints_the_instructions(tmp_path, capsys):
    tiny_study(tmp_path / "t", num=1, cases=1)  # writes the photos
    out = tmp_path / "s"
    args = ["study", "make", "--data", str(tmp_path / "t" / "photos"), "--protocol", "center", "--num", "2"]
    assert main([*args, "--a", "telea", "--b", "ns", "-o", str(out), "--seed", "4"]) == 0
    text = capsys.readouterr().out
    assert "Give a reviewer the folder" in text and str(out / "pairs") in text and '"choice": "left"' in text
    study = load_study(out)
    assert study.methods == {"A": "telea", "B": "ns"} and len(study.pairs) == 2
    assert study.cases_root.resolve() == (out / "cases").resolve() and study.protocol == "center"
    assert main(["study", "make", "--cases", str(out / "cases"), "--a", "telea", "--b", "nope", "-o",
                 str(tmp_path / "x")]) == 2  # fmt: skip
    assert "nope" in capsys.readouterr().err and not (tmp_path / "x").exists()


GOOD = {"pair": "0001", "choice": "left", "confidence": 2}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "is a JSON object"),
        (json.dumps({**GOOD, "pair": "0099"}), "unknown pair"),
        (json.dumps({**GOOD, "pair": 1}), "unknown pair"),
        (json.dumps({**GOOD, "choice": "A"}), "choice must be one of"),
        (json.dumps({**GOOD, "confidence": 4}), "confidence must be"),
        (json.dumps({**GOOD, "confidence": "2"}), "confidence must be"),
        (json.dumps({**GOOD, "confidence": True}), "confidence must be"),
        (json.dumps({"pair": "0001", "choice": "left"}), "missing \\['confidence'\\]"),
        (json.dumps({**GOOD, "method": "telea"}), "unknown \\['method'\\]"),
        (json.dumps({**GOOD, "seconds": -1}), "seconds must be"),
        (json.dumps({**GOOD, "note": 3}), "note and time must be strings"),
        (json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "choice": "right"}), "judged twice \\(first on line 2\\)"),
    ],
)
def test_malformed_judgement_files_are_refused_with_the_line(study, tmp_path, line, message):
    path = tmp_path / "j.jsonl"
    path.write_text(json.dumps({"pair": "0000", "choice": "right", "confidence": 1}) + "\n" + line + "\n")
    with pytest.raises(UserError, match=message) as caught:
        read_judgements(path, pair_ids(study.root))
    assert f"{path}:" in str(caught.value)


def test_a_good_judgement_file_reads_back(study, tmp_path):
    path = tmp_path / "j.jsonl"
    lines = [{"pair": "0003", "choice": "right", "confidence": 3, "note": "the left one has a seam"}, GOOD]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    judged = read_judgements(path, pair_ids(study.root))
    assert [(j.pair, j.choice, j.confidence) for j in judged] == [("0003", "right", 3), ("0001", "left", 2)]
    assert dict(judged[0].extra) == {"note": "the left one has a seam"}


def test_log_appends_undoes_and_resumes(study, tmp_path):
    ids = pair_ids(study.root)
    log = JudgementLog(tmp_path, "ana", ids)
    assert log.read() == [] and log.next_pair([]) == "0000"
    first = parse_judgement(GOOD | {"pair": "0000"})
    judged = log.add(first)
    judged = log.add(parse_judgement(GOOD))
    assert [j.pair for j in judged] == ["0000", "0001"] and log.next_pair(judged) == "0002"
    with pytest.raises(UserError, match="judged already"):
        log.add(first)
    reopened = JudgementLog(tmp_path, "ana", ids)  # a new server process reads the same file
    assert [j.pair for j in reopened.read()] == ["0000", "0001"]
    assert all(dict(j.extra)["time"].endswith("+00:00") for j in reopened.read())
    rest, removed = reopened.undo()
    assert removed is not None and removed.pair == "0001" and [j.pair for j in rest] == ["0000"]
    assert len((tmp_path / "judgements" / "ana.jsonl").read_text().splitlines()) == 1
    assert reopened.undo()[1].pair == "0000" and reopened.undo() == ([], None)
    with pytest.raises(UserError, match="judge name"):
        JudgementLog(tmp_path, "../key", ids)
