"""The offline corpus: manifest rules, builds from small real .deb files made on the spot (resume,
offline rebuild, changed files, archive members, opaque crops) and one build from a small real Debian package."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gmcnn.cli import main
from gmcnn.data import corpus
from gmcnn.data.manifest import Entry, validate_entries, write_manifest
from gmcnn.errors import UserError

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed")
FAKE_PKG = "mate-backgrounds"  # must be one of corpus.PACKAGES; the version below can't clash with Debian's
FAKE_VERSION = "0.0~test-1"


def _png(seed: int, size: tuple[int, int] = (256, 300)) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _entry(name: str, data: bytes, *, split: str = "train", scene: str | None = None, **over) -> Entry:
    w, h = Image.open(io.BytesIO(data)).size
    fields = dict(
        name=name,
        package=FAKE_PKG,
        version=FAKE_VERSION,
        path=f"usr/share/backgrounds/mate/nature/{name}",
        member="",
        sha256=hashlib.sha256(data).hexdigest(),
        width=w,
        height=h,
        crop="",
        crop_sha256="",
        licence="GPL-2+",
        kind="photo",
        scene=scene or name.split(".")[0],
        split=split,
    )
    return Entry(**{**fields, **over})


def _make_deb(cache: Path, files: dict[str, bytes], *, version: str = FAKE_VERSION, package: str = FAKE_PKG) -> Path:
    """A real, tiny .deb of ``package`` holding ``files`` (installed path -> bytes)."""
    root = cache / f"root-{package}-{version}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: {version}\nArchitecture: all\nMaintainer: test <t@example.org>\n"
        "Description: test fixture\n"
    )
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    deb = cache / f"{package}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)], check=True, capture_output=True)
    shutil.rmtree(root)
    return deb


@pytest.fixture
def fixture_corpus(tmp_path: Path) -> tuple[Path, Path, list[Entry]]:
    """A manifest of three photos (two scenes in train, one in val) and a cache holding their .deb."""
    a, b, c = _png(1), _png(2), _png(3, (320, 256))
    entries = [_entry("a.png", a, scene="ab"), _entry("b.png", b, scene="ab"), _entry("c.png", c, split="val")]
    cache = tmp_path / "cache"
    cache.mkdir()
    _make_deb(cache, {e.path: d for e, d in zip(entries, (a, b, c), strict=True)})
    manifest = tmp_path / "manifest.csv"
    write_manifest(entries, manifest)
    return manifest, cache, entries


@pytest.fixture
def no_apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """apt-get and apt-cache stand-ins that behave like a mirror without the requested version."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "apt-get").write_text("#!/bin/sh\necho \"E: Version '$2' was not found\" >&2\nexit 100\n")
    (bin_dir / "apt-cache").write_text("#!/bin/sh\necho \"$2:\"\necho '  Candidate: 9.9-1'\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


# ------------------------------------------------------------------------------------------ the manifest


def test_committed_manifest_meets_the_bar_and_is_split_by_scene():
    entries = corpus.read_manifest()
    photos = [e for e in entries if e.kind == "photo"]
    textures = [e for e in entries if e.kind == "texture"]
    assert len(photos) >= 300 and len({e.package for e in photos}) >= 8
    assert len(textures) >= 1000
    assert sum(e.split == "val" for e in photos) >= 40
    scenes: dict[str, str] = {}
    for e in entries:
        assert scenes.setdefault(e.scene, e.split) == e.split
        need = 128 if e.crop or e.kind == "texture" else 256
        assert min(e.width, e.height) >= need
    # The eight validation photos of the first corpus stay in validation, so earlier numbers stay comparable.
    first_val = {
        "mate-yellowflower.jpg",
        "opencv-blox.jpg",
        "opencv-doc-astra-color.jpg",
        "opencv-ela-original.jpg",
        "opencv-fruits.jpg",
        "opencv-scenetext05.jpg",
        "plasma-bythewater.jpg",
        "plasma-eveningglow.jpg",
    }
    assert first_val <= {e.name for e in photos if e.split == "val"}
    # Never train on images kept for independent evaluation.
    assert not {e.package for e in entries} & {"libjxl-testdata", "python3-skimage", "python3-matplotlib"}


def test_manifest_roundtrip(tmp_path, fixture_corpus):
    _, _, entries = fixture_corpus
    path = tmp_path / "again.csv"
    write_manifest(entries, path)
    assert sorted(corpus.read_manifest(path), key=str) == sorted(entries, key=str)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"package": "gimp-data"}, "is not one of"),
        ({"path": "../etc/passwd"}, "path must be relative"),
        ({"path": "/usr/share/x.png"}, "path must be relative"),
        ({"sha256": "ABC"}, "sha256 must be"),
        ({"width": 200}, "below 256 px"),
        ({"kind": "texture", "width": 100}, "below 128 px"),
        ({"kind": "drawing"}, "kind must be"),
        ({"crop": "1,2,3"}, "a crop is"),
        ({"crop_sha256": "0" * 64}, "cropped rows only"),
        ({"member": "../x.png"}, "member must be relative"),
        ({"split": "test"}, "split must be"),
        ({"name": "A B.png"}, "name must be"),
        ({"licence": ""}, "must not be empty"),
    ],
)
def test_invalid_row_is_rejected(fixture_corpus, change, message):
    _, _, entries = fixture_corpus
    bad = [dataclasses.replace(entries[0], **change), *entries[1:]]
    with pytest.raises(UserError, match=message):
        validate_entries(bad)


def test_duplicates_and_leaks_across_rows_are_rejected(fixture_corpus):
    _, _, (a, b, c) = fixture_corpus
    with pytest.raises(UserError, match="same sha256"):
        validate_entries([a, dataclasses.replace(b, sha256=a.sha256), c])
    with pytest.raises(UserError, match="same name"):
        validate_entries([a, dataclasses.replace(b, name=a.name), c])
    with pytest.raises(UserError, match="both train and val"):
        validate_entries([a, dataclasses.replace(b, split="val"), c])
    with pytest.raises(UserError, match="versions"):
        validate_entries([a, dataclasses.replace(b, version="2"), c])
    with pytest.raises(UserError, match="val split has no photos"):
        validate_entries([a, b])


def test_manifest_with_wrong_columns_names_them(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("name,package\nx.png,opencv-doc\n")
    with pytest.raises(UserError, match="expected columns"):
        corpus.read_manifest(path)
    with pytest.raises(UserError, match="not found"):
        corpus.read_manifest(tmp_path / "missing.csv")


# ---------------------------------------------------------------------------------------------- builds


@needs_dpkg
def test_build_writes_splits_and_verify_accepts(tmp_path, fixture_corpus, no_apt):
    manifest, cache, entries = fixture_corpus
    out = tmp_path / "corpus"
    corpus.build(out, manifest=manifest, cache=cache)
    assert sorted(p.name for p in (out / "train").iterdir()) == ["a.png", "b.png"]
    assert [p.name for p in (out / "val").iterdir()] == ["c.png"]
    assert (out / "val" / "c.png").read_bytes() == _png(3, (320, 256))
    assert corpus.read_manifest(out / "manifest.csv") == corpus.read_manifest(manifest)
    corpus.verify(out, manifest=manifest)
    # A second build replaces the corpus in place (and finds the .deb in the cache again).
    (out / "train" / "a.png").unlink()
    corpus.build(out, manifest=manifest, cache=cache)
    corpus.verify(out, manifest=manifest)
    assert not list(tmp_path.glob(".corpus-*"))


@needs_dpkg
def test_changed_file_fails_naming_package_and_path(tmp_path, fixture_corpus, no_apt):
    manifest, cache, (a, b, c) = fixture_corpus
    write_manifest([a, dataclasses.replace(b, sha256="0" * 64), c], manifest)
    out = tmp_path / "corpus"
    with pytest.raises(UserError, match=rf"{FAKE_PKG} .*{b.path} changed"):
        corpus.build(out, manifest=manifest, cache=cache)
    assert not out.exists()


@needs_dpkg
def test_missing_file_fails_and_keeps_the_old_corpus(tmp_path, fixture_corpus, no_apt):
    manifest, cache, (a, b, c) = fixture_corpus
    out = tmp_path / "corpus"
    corpus.build(out, manifest=manifest, cache=cache)
    write_manifest([a, b, c, dataclasses.replace(c, name="d.png", path="usr/d.png", sha256="1" * 64)], manifest)
    with pytest.raises(UserError, match=r"usr/d.png is missing from the package"):
        corpus.build(out, manifest=manifest, cache=cache)
    write_manifest([a, b, c], manifest)
    corpus.verify(out, manifest=manifest)


@needs_dpkg
def test_missing_package_version_says_what_apt_offers(tmp_path, fixture_corpus, no_apt):
    manifest, cache, entries = fixture_corpus
    write_manifest([dataclasses.replace(e, version="7.7-1") for e in entries], manifest)
    with pytest.raises(UserError, match=rf"expects {FAKE_PKG} 7.7-1, apt offers 9.9-1"):
        corpus.build(tmp_path / "corpus", manifest=manifest, cache=cache)


@needs_dpkg
def test_truncated_deb_in_the_cache_fails_naming_it(tmp_path, fixture_corpus, no_apt):
    manifest, cache, _ = fixture_corpus
    deb = next(cache.glob("*.deb"))
    deb.write_bytes(deb.read_bytes()[:1500])
    with pytest.raises(UserError, match=rf"{deb.name}.*delete it and rebuild"):
        corpus.build(tmp_path / "corpus", manifest=manifest, cache=cache)


@needs_dpkg
def test_build_refuses_to_replace_a_folder_that_is_not_a_corpus(tmp_path, fixture_corpus, no_apt):
    manifest, cache, _ = fixture_corpus
    out = tmp_path / "photos"
    out.mkdir()
    (out / "precious.jpg").write_bytes(b"x")
    with pytest.raises(UserError, match="is not a corpus"):
        corpus.build(out, manifest=manifest, cache=cache)
    assert (out / "precious.jpg").exists()


@needs_dpkg
def test_verify_finds_changed_and_stray_files(tmp_path, fixture_corpus, no_apt):
    manifest, cache, _ = fixture_corpus
    out = tmp_path / "corpus"
    corpus.build(out, manifest=manifest, cache=cache)
    (out / "val" / "extra.jpg").write_bytes(b"x")
    with pytest.raises(UserError, match="extra.jpg is not in the manifest"):
        corpus.verify(out, manifest=manifest)
    (out / "val" / "extra.jpg").unlink()
    (out / "train" / "a.png").write_bytes(_png(9))
    with pytest.raises(UserError, match="a.png changed"):
        corpus.verify(out, manifest=manifest)


@needs_dpkg
def test_interrupted_build_resumes_without_the_finished_packages(tmp_path, fixture_corpus, no_apt):
    manifest, cache, (a, b, c) = fixture_corpus
    other = "ukui-wallpapers"  # a second package (fetched after mate-backgrounds), at a version Debian lacks
    d_bytes = _png(4)
    d = _entry("d.png", d_bytes, package=other, path="usr/share/backgrounds/d.png")
    write_manifest([a, b, c, d], manifest)
    out = tmp_path / "corpus"
    with pytest.raises(UserError, match=f"expects {other} {FAKE_VERSION}"):  # "the network went away"
        corpus.build(out, manifest=manifest, cache=cache)
    assert not out.exists() and (tmp_path / ".corpus-partial" / "train" / "a.png").is_file()
    next(cache.glob(f"{FAKE_PKG}_*.deb")).unlink()  # the finished package is not needed again
    _make_deb(cache, {d.path: d_bytes}, package=other)
    report = corpus.build(out, manifest=manifest, cache=cache)
    assert (report.reused, report.extracted, report.downloaded) == (3, 1, [])
    corpus.verify(out, manifest=manifest)


@needs_dpkg
def test_rebuild_works_offline_from_the_built_corpus(tmp_path, fixture_corpus, no_apt):
    manifest, cache, entries = fixture_corpus
    out = tmp_path / "corpus"
    corpus.build(out, manifest=manifest, cache=cache)
    shutil.rmtree(cache)  # no .deb left, and no_apt: nothing can be downloaded
    report = corpus.build(out, manifest=manifest, cache=tmp_path / "empty")
    assert (report.reused, report.extracted, report.downloaded) == (len(entries), 0, [])
    assert "0 package(s) downloaded" in report.describe()
    corpus.verify(out, manifest=manifest)


@needs_dpkg
def test_build_reads_archive_members_and_writes_opaque_crops(tmp_path, no_apt):
    photo = _png(5, (300, 260))
    rgba = np.zeros((200, 220, 4), np.uint8)
    rgba[..., :3] = np.random.default_rng(6).integers(0, 256, (200, 220, 3), dtype=np.uint8)
    rgba[20:180, 30:200, 3] = 255  # the opaque rectangle 30,20,170,160
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="PNG")
    stamp, texture = buf.getvalue(), _png(7, (128, 128))
    pk3 = io.BytesIO()
    with zipfile.ZipFile(pk3, "w") as z:
        z.writestr("textures/wall.png", texture)
    ppm = corpus.crop_to_ppm(stamp, (30, 20, 170, 160))
    rows = [
        _entry("p.png", photo, split="val"),
        _entry("s.ppm", stamp, path="usr/share/backgrounds/mate/nature/s.png", crop="30,20,170,160",
               crop_sha256=hashlib.sha256(ppm).hexdigest(), width=170, height=160),
        _entry("t.png", texture, kind="texture", path="usr/share/tex.pk3", member="textures/wall.png"),
    ]  # fmt: skip
    cache = tmp_path / "debs"
    cache.mkdir()
    _make_deb(cache, {rows[0].path: photo, rows[1].path: stamp, "usr/share/tex.pk3": pk3.getvalue()})
    manifest = tmp_path / "m.csv"
    write_manifest(rows, manifest)
    out = tmp_path / "corpus"
    corpus.build(out, manifest=manifest, cache=cache)
    assert (out / "textures" / "train" / "t.png").read_bytes() == texture
    with Image.open(out / "train" / "s.ppm") as im:
        assert im.size == (170, 160)
        assert np.array_equal(np.asarray(im), rgba[20:180, 30:200, :3])
    corpus.verify(out, manifest=manifest)
    with pytest.raises(UserError, match="not a fully opaque region"):
        corpus.crop_to_ppm(stamp, (0, 0, 170, 160))


def test_cli_verify_reports_a_missing_corpus(tmp_path, capsys):
    assert main(["corpus", "verify", str(tmp_path)]) == 2
    assert "is missing" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------- real builds

SMALL_PACKAGE = "hugin-data"  # the smallest package the manifest uses (8 MB)


def _apt_offers(packages: set[tuple[str, str]]) -> str | None:
    """None when apt offers every ``(package, version)``, else why not (the skip reason)."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        return "apt-get/dpkg-deb not installed"
    for package, version in sorted(packages):
        out = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True, timeout=60).stdout
        if version not in out:
            return f"this Debian release's apt index lacks {package} {version}"
    return None


def test_real_build_of_a_small_package_downloads_once_then_works_offline(tmp_path, monkeypatch):
    """Downloads hugin-data (8 MB) from the Debian mirror: a tiny manifest of the photos it carries."""
    rows = [e for e in corpus.read_manifest() if e.package == SMALL_PACKAGE]
    reason = _apt_offers({(SMALL_PACKAGE, rows[0].version)})
    if reason:
        pytest.skip(reason)
    if not any(e.split == "val" for e in rows):  # validation needs a photo; the split does not change bytes
        rows[0] = dataclasses.replace(rows[0], split="val")
        rows = [dataclasses.replace(e, split="val") if e.scene == rows[0].scene else e for e in rows]
    manifest = tmp_path / "small.csv"
    write_manifest(rows, manifest)
    out = tmp_path / "corpus"
    try:
        report = corpus.build(out, manifest=manifest)
    except UserError as exc:
        if "downloading" in str(exc):
            pytest.skip(f"apt could not download {SMALL_PACKAGE}: {exc}")
        raise
    assert [p for p, _, _ in report.downloaded] == [SMALL_PACKAGE] and report.extracted == len(rows)
    corpus.verify(out, manifest=manifest)
    digests = {e.relpath: hashlib.sha256((out / e.relpath).read_bytes()).hexdigest() for e in rows}
    assert digests == {e.relpath: e.out_sha256 for e in rows}  # byte for byte what the manifest records
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))  # offline: no apt-get, no dpkg-deb
    again = corpus.build(out, manifest=manifest)
    assert (again.downloaded, again.reused) == ([], len(rows))


@pytest.mark.slow
def test_real_build_from_debian(tmp_path):
    """Downloads ~1.3 GB (every package of the manifest) unless GMCNN_DEB_CACHE holds them already."""
    reason = _apt_offers({(e.package, e.version) for e in corpus.read_manifest()})
    if reason:
        pytest.skip(reason)
    cache = Path(os.environ.get("GMCNN_DEB_CACHE", tmp_path / "debs"))
    assert main(["corpus", "build", str(tmp_path / "corpus"), "--cache", str(cache)]) == 0
    entries = corpus.verify(tmp_path / "corpus")
    assert len(entries) == len(corpus.read_manifest())
