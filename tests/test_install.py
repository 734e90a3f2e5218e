"""gmcnn.weights.install and ``gmcnn models``: releases fetched from a local stand-in for the authors' links,
checked, and refused and removed when damaged (no network)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from helpers.release_server import (
    PTH_FOLDER,
    PTH_ID,
    TF_FOLDER,
    TF_ID,
    TF_NAME,
    ReleaseServer,
    copy_release,
    pth_bytes,
    register_fakes,
    tf_release_zip,
)

from gmcnn import Inpainter
from gmcnn.cli import main
from gmcnn.errors import UserError
from gmcnn.weights import registry
from gmcnn.weights.download import URL_ENV, DownloadError
from gmcnn.weights.install import STAGING, install, installed, release, verify_release
from gmcnn.weights.registry import Download


@pytest.fixture()
def fakes(monkeypatch: pytest.MonkeyPatch) -> tuple[registry.WeightsEntry, registry.WeightsEntry]:
    return register_fakes(monkeypatch)


def _staged(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / STAGING).iterdir()) if (folder / STAGING).exists() else []


def test_registry_records_the_official_links() -> None:
    links = {e.name: e.download for e in registry.releases()}
    assert len(links) == 6 and all(d is not None for d in links.values())
    assert links["official-places2-512x680-free"].file_id == "1aakVS0CPML_Qg-PuXGE1Xaql96hNEKOU"  # type: ignore[union-attr]
    # the official README's one CelebA-HQ_512 link serves both 512 releases
    assert links["official-celebahq-512-rect"] == links["official-celebahq-512-free"]
    assert release("places2_512x680_freeform").name == "official-places2-512x680-free"
    with pytest.raises(UserError, match="not an official release.*official-paris-256-rect"):
        release("default")


def test_installs_a_tf_release_and_loads_it(tmp_path: Path, fakes: tuple) -> None:
    tf, _ = fakes
    stages: list[str] = []
    with ReleaseServer({TF_ID: ("tiny.zip", tf_release_zip())}) as server:
        done = install(tf, tmp_path, url=server.template, progress=lambda s, d, t: stages.append(s))
    assert done.path == tmp_path / TF_FOLDER and done.releases == (TF_NAME,) and not done.already
    assert stages[0] == "download" and stages[-1] == "verify"
    assert _staged(tmp_path) == [] and not (tmp_path / STAGING).exists()  # nothing left over
    assert Inpainter.from_pretrained(done.path, device="cpu").generator.config.cnum == 4
    with ReleaseServer({}) as server:  # a second call downloads nothing
        again = install(tf, tmp_path, url=server.template)
    assert again.already and server.requests == []


def test_a_damaged_checkpoint_is_refused_and_removed(tmp_path: Path, fakes: tuple) -> None:
    tf, _ = fakes
    with (
        ReleaseServer({TF_ID: ("tiny.zip", tf_release_zip(damage=True))}) as server,
        pytest.raises(UserError, match="fails its CRC32C check"),
    ):
        install(tf, tmp_path, url=server.template)
    assert not (tmp_path / TF_FOLDER).exists() and _staged(tmp_path) == []


def test_a_damaged_archive_is_refused_and_removed(tmp_path: Path, fakes: tuple) -> None:
    tf, _ = fakes
    data = bytearray(tf_release_zip())
    data[200] ^= 0xFF  # inside the first member's compressed bytes: the zip's CRC-32 catches it
    with ReleaseServer({TF_ID: ("tiny.zip", bytes(data))}) as server, pytest.raises(UserError, match="damaged"):
        install(tf, tmp_path, url=server.template)
    assert not (tmp_path / TF_FOLDER).exists() and _staged(tmp_path) == []


def test_recorded_size_and_sha256_are_checked(tmp_path: Path, fakes: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    tf, _ = fakes
    data = tf_release_zip()
    right = dataclasses.replace(tf, download=Download(TF_ID, len(data), hashlib.sha256(data).hexdigest()))
    wrong_sha = dataclasses.replace(tf, download=Download(TF_ID, len(data), "0" * 64))
    wrong_size = dataclasses.replace(tf, download=Download(TF_ID, len(data) + 1))
    with (
        ReleaseServer({TF_ID: ("tiny.zip", data)}) as server,
        pytest.raises(UserError, match="does not match the release's sha256"),
    ):
        install(wrong_sha, tmp_path, url=server.template)
        with pytest.raises(UserError, match=f"is {len(data):,} bytes, the release is {len(data) + 1:,}"):
            install(wrong_size, tmp_path, url=server.template)
        assert not (tmp_path / TF_FOLDER).exists() and _staged(tmp_path) == []
        assert install(right, tmp_path, url=server.template).path == tmp_path / TF_FOLDER


def test_an_interrupted_download_is_not_mistaken_for_complete(tmp_path: Path, fakes: tuple) -> None:
    tf, _ = fakes
    data = tf_release_zip()
    with (
        ReleaseServer({TF_ID: ("tiny.zip", data)}, cut=len(data) // 3) as server,
        pytest.raises(DownloadError, match="resume"),
    ):
        install(tf, tmp_path, url=server.template, retries=0)
    assert installed(tf, tmp_path) is None and not (tmp_path / TF_FOLDER).exists()
    assert _staged(tmp_path) == [f"{TF_ID}.part"]
    with ReleaseServer({TF_ID: ("tiny.zip", data)}) as server:
        done = install(tf, tmp_path, url=server.template)
    assert done.size == len(data) and server.requests[-1][1] == f"bytes={len(data) // 3}-"
    assert verify_release(tf, done.path) > 0


def test_a_release_of_the_wrong_width_is_refused(tmp_path: Path) -> None:
    places = registry.get("official-places2-512x680-free")
    assert places.download is not None
    zipped = tf_release_zip(places.folder)  # the right folder name, but cnum 4 instead of 32
    with (
        ReleaseServer({places.download.file_id: ("p.zip", zipped)}) as server,
        pytest.raises(UserError, match="width 4; official-places2-512x680-free has width 32"),
    ):
        install(places, tmp_path, url=server.template)
    assert not (tmp_path / places.folder).exists() and _staged(tmp_path) == []


def test_one_archive_can_hold_two_releases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tf, _ = register_fakes(monkeypatch)
    twin = dataclasses.replace(tf, name="official-tiny-tf-free", folder="tiny_48x64_freeform")
    monkeypatch.setitem(registry._REGISTRY, twin.name, twin)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for folder in (TF_FOLDER, twin.folder):
            with zipfile.ZipFile(io.BytesIO(tf_release_zip(folder))) as one:
                for name in one.namelist():
                    zf.writestr(f"checkpoints/{name}", one.read(name))  # nested one level, as some zips are
    with ReleaseServer({TF_ID: ("both.zip", buf.getvalue())}) as server:
        done = install(twin, tmp_path, url=server.template)
    assert set(done.releases) == {TF_NAME, twin.name}
    assert installed(tf, tmp_path) == tmp_path / TF_FOLDER and installed(twin, tmp_path) == tmp_path / twin.folder


def test_unsafe_archives_are_refused(tmp_path: Path, fakes: tuple) -> None:
    tf, _ = fakes
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{TF_FOLDER}/../../escape.txt", b"x")
    with (
        ReleaseServer({TF_ID: ("evil.zip", buf.getvalue())}) as server,
        pytest.raises(UserError, match="outside its folder"),
    ):
        install(tf, tmp_path, url=server.template)
    assert not (tmp_path.parent / "escape.txt").exists() and _staged(tmp_path) == []
    with (
        ReleaseServer({TF_ID: ("x.zip", b"not a zip at all" * 100)}) as server,
        pytest.raises(UserError, match="not a zip archive"),
    ):
        install(tf, tmp_path, url=server.template)


@pytest.mark.parametrize("packed", ["bare", "zipped"])
def test_a_pth_release_works_too(tmp_path: Path, fakes: tuple, packed: str) -> None:
    _, pth = fakes
    raw = pth_bytes()
    if packed == "zipped":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(f"{PTH_FOLDER}/30_net_GM.pth", raw)
        served = ("tiny256_rect.zip", buf.getvalue())
    else:
        served = ("30_net_GM.pth", raw)
    with ReleaseServer({PTH_ID: served}) as server:
        done = install(pth, tmp_path, url=server.template)
    assert done.path == tmp_path / PTH_FOLDER / "30_net_GM.pth" and done.path.read_bytes() == raw
    assert Inpainter.from_pretrained(done.path, device="cpu").generator.config.cnum == 4


def test_a_damaged_pth_is_refused(tmp_path: Path, fakes: tuple) -> None:
    _, pth = fakes
    with (
        ReleaseServer({PTH_ID: ("30_net_GM.pth", b"\x80\x02junk" * 50)}) as server,
        pytest.raises(UserError, match="cannot read"),
    ):
        install(pth, tmp_path, url=server.template)
    assert installed(pth, tmp_path) is None and _staged(tmp_path) == []


def test_cli_lists_downloads_and_loads_by_name(
    tmp_path: Path, fakes: tuple, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GMCNN_MODELS", str(tmp_path))
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert f"models folder: {tmp_path}" in out and "embedded" in out
    assert any(line.startswith(TF_NAME) and "not downloaded" in line for line in out.splitlines())
    with ReleaseServer({TF_ID: ("tiny.zip", tf_release_zip())}) as server:
        monkeypatch.setenv(URL_ENV, server.template)
        assert main(["models", "download", TF_FOLDER]) == 0  # the folder name works too
        captured = capsys.readouterr()
        assert f"{TF_NAME}: downloaded" in captured.out and str(tmp_path / TF_FOLDER) in captured.out
        assert "checking the download" in captured.err
        assert main(["models", "download", TF_NAME]) == 0
        assert "already in" in capsys.readouterr().out
    assert main(["models", "list", "--dir", str(tmp_path)]) == 0
    assert any(line.startswith(TF_NAME) and " present " in line for line in capsys.readouterr().out.splitlines())
    # the registry name now loads the downloaded copy from the default folder
    assert Inpainter.from_pretrained(TF_NAME, device="cpu").name == TF_NAME


def test_cli_download_errors_are_one_line(tmp_path: Path, fakes: tuple, capsys: pytest.CaptureFixture[str]) -> None:
    with ReleaseServer({}) as server:
        code = main(["models", "download", TF_NAME, "--dir", str(tmp_path), "--url", server.template])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("gmcnn models: error:") and "HTTP 404" in err and "Traceback" not in err
    copy_release(tmp_path)
    assert main(["models", "download", TF_NAME, "--dir", str(tmp_path), "--url", "http://127.0.0.1:9/{id}"]) == 0
