"""scripts/curate_corpus.py: the scene split rule, licences from DEP-5 copyright files, and the largest opaque
rectangle of a photo cut-out (Tux Paint stamps), checked against brute force."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

from gmcnn.errors import UserError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import curate_corpus as curate  # noqa: E402


def test_assign_splits_is_deterministic_and_keeps_scenes_whole():
    groups = [f"scene{i}" for i in range(50)]
    split = curate.assign_splits(groups)
    assert split == curate.assign_splits(reversed(groups))
    assert sum(s == "val" for s in split.values()) == 6
    # Dropping one train group moves no other group across the split.
    dropped = next(g for g, s in split.items() if s == "train")
    again = curate.assign_splits(g for g in groups if g != dropped)
    assert sum(again[g] != split[g] for g in again) <= 1


COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: someone
License: GPL-2+

Files: 20.04/Kleiber_by_Lukas_Baubkus.jpg
       20.04/Other.jpg
Copyright: 2020, Lukas
License: CC-BY-SA-3.0

License: GPL-2+
 long text
"""


def test_licence_uses_source_paths_and_last_matching_stanza():
    lic = curate.copyright_licence
    path = "usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg"
    assert lic(COPYRIGHT, "lomiri-wallpapers-20.04", path) == "CC-BY-SA-3.0"
    # Without the 20.04/ source prefix (another package) only the catch-all matches.
    assert lic(COPYRIGHT, "ukui-wallpapers", path) == "GPL-2+"
    with pytest.raises(UserError, match="no Files: stanza"):
        lic("Format: x\n\nFiles: debian/*\nLicense: MIT\n", "ukui-wallpapers", path)


def test_licence_of_an_archive_member_uses_its_source_path():
    text = "Format: x\n\nFiles: *\nLicense: GPL-2+\n\nFiles:\n base/textures/tex_a/wall.png\nLicense: CC-BY-3.0\n"
    pk3 = "usr/share/games/ufoai/base/0textures.pk3"
    assert curate.licence_for(text, "ufoai-textures", pk3, "textures/tex_a/wall.png") == "CC-BY-3.0"
    assert curate.licence_for(text, "ufoai-textures", pk3, "textures/tex_a/floor.png") == "GPL-2+"
    assert curate.licence_for("free-form text", "digikam-data", "usr/share/x.png") == "GPL-2+"


# ------------------------------------------------------------------------------------- opaque crops


def _brute_force(ok: np.ndarray, bias: float) -> float:
    best = 0.0
    h, w = ok.shape
    for y0, y1 in itertools.combinations_with_replacement(range(h), 2):
        for x0, x1 in itertools.combinations_with_replacement(range(w), 2):
            if ok[y0 : y1 + 1, x0 : x1 + 1].all():
                rw, rh = x1 - x0 + 1, y1 - y0 + 1
                best = max(best, bias * min(rw, rh) ** 2 + rw * rh)
    return best


def test_matches_brute_force_on_random_masks() -> None:
    rng = np.random.default_rng(0)
    for _ in range(40):
        alpha = np.where(rng.random((7, 9)) < 0.75, 255, rng.integers(0, 255, (7, 9)))
        x, y, w, h = curate.largest_opaque_rect(alpha)
        assert (alpha[y : y + h, x : x + w] == 255).all()
        assert 4.0 * min(w, h) ** 2 + w * h == _brute_force(alpha == 255, 4.0)


def test_prefers_a_square_over_a_long_sliver_and_ignores_soft_edges() -> None:
    alpha = np.zeros((100, 400), np.uint8)
    alpha[10:20, :] = 255  # a 400 x 10 sliver (area 4000)
    alpha[40:90, 100:150] = 255  # a 50 x 50 square (area 2500)
    alpha[39, 100:150] = 254  # an anti-aliased edge is not opaque
    assert curate.largest_opaque_rect(alpha) == (100, 40, 50, 50)
    assert curate.largest_opaque_rect(np.zeros((5, 5), np.uint8)) == (0, 0, 0, 0)
