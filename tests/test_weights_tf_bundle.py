"""TF1 checkpoint reading without TensorFlow: the real-TF fixture, folder layouts, damaged files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from tf_bundle_writer import write_bundle

from gmcnn.weights.tf_bundle import BundleError, TensorBundle, crc32c, proto_fields, resolve_prefix

FIXTURE = Path(__file__).parent / "fixtures" / "tf_cnum4"


def test_crc32c_known_vector():
    assert crc32c(b"123456789") == 0xE3069283  # the standard CRC-32C check value


@pytest.mark.parametrize("n", [8 * 64, 8 * 64 + 1, 100_003])
def test_vectorised_crc32c_equals_the_bytewise_one(n):
    from gmcnn.weights.tf_bundle import _crc_numpy, _crc_python

    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8).tobytes()
    assert _crc_numpy(data, 64) == _crc_python(data) ^ 0xFFFFFFFF


def test_proto_fields_decodes_varints_and_nested_messages():
    # field 1 varint 300, field 2 bytes "ab"
    assert list(proto_fields(b"\x08\xac\x02\x12\x02ab")) == [(1, 300), (2, b"ab")]


def test_reads_the_tensorflow_written_fixture():
    bundle = TensorBundle(FIXTURE)
    assert bundle.prefix.name == "snap-0"
    assert bundle.shape("inpaint_net/b1conv1/kernel") == (7, 7, 5, 4)
    kernel = bundle.read("inpaint_net/b1conv1/kernel")
    assert kernel.dtype == np.float32 and np.isfinite(kernel).all() and kernel.std() > 0
    assert "discriminator/dout_global_fc/kernel" in bundle.names()  # non-generator variables are listed too


def test_checkpoint_file_with_a_foreign_absolute_path_is_relocated(tmp_path):
    # The fixture's 'checkpoint' file names /data/gmcnn-release/..., like the releases name the author's disk.
    folder = tmp_path / "copy"
    shutil.copytree(FIXTURE, folder)
    assert "/data/gmcnn-release/" in (folder / "checkpoint").read_text()
    assert resolve_prefix(folder) == folder / "snap-0"


@pytest.mark.parametrize("form", ["prefix", "index", "data"])
def test_prefix_index_and_data_paths_resolve(form):
    given = {
        "prefix": FIXTURE / "snap-0",
        "index": FIXTURE / "snap-0.index",
        "data": FIXTURE / "snap-0.data-00000-of-00001",
    }[form]
    assert resolve_prefix(given) == FIXTURE / "snap-0"


def test_folder_without_checkpoint_file_takes_the_highest_step(tmp_path):
    for step in (2, 10, 9):
        write_bundle(tmp_path / f"snap-{step}", {"a": np.zeros(2)})
    assert resolve_prefix(tmp_path).name == "snap-10"  # numeric, not lexicographic order


def test_writer_round_trip(tmp_path):
    values = {"x/kernel": np.arange(24, dtype=np.float32).reshape(2, 3, 4), "x/bias": np.ones(3, np.float32)}
    write_bundle(tmp_path / "m", values)
    bundle = TensorBundle(tmp_path / "m")
    assert bundle.names() == ["x/bias", "x/kernel"]
    np.testing.assert_array_equal(bundle.read("x/kernel"), values["x/kernel"])


def test_damaged_tensor_fails_its_crc(tmp_path):
    folder = tmp_path / "damaged"
    shutil.copytree(FIXTURE, folder)
    bundle = TensorBundle(folder)
    entry = bundle.entries["inpaint_net/b1conv1/kernel"]
    data = bytearray((folder / "snap-0.data-00000-of-00001").read_bytes())
    data[entry.offset + 5] ^= 0xFF
    (folder / "snap-0.data-00000-of-00001").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="CRC32C"):
        TensorBundle(folder).read("inpaint_net/b1conv1/kernel")
    assert TensorBundle(folder, verify=False).read("inpaint_net/b1conv1/kernel").shape == (7, 7, 5, 4)


def test_truncated_data_and_missing_shard(tmp_path):
    write_bundle(tmp_path / "m", {"a": np.ones(100)})
    data = tmp_path / "m.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:50])
    with pytest.raises(BundleError, match="truncated"):
        TensorBundle(tmp_path / "m").read("a")
    data.unlink()
    with pytest.raises(BundleError, match="missing data file"):
        TensorBundle(tmp_path / "m").read("a")


def test_not_a_checkpoint(tmp_path):
    junk = tmp_path / "junk.index"
    junk.write_bytes(b"hello" * 20)
    with pytest.raises(BundleError, match="magic"):
        TensorBundle(junk)
    with pytest.raises(BundleError, match="no TF checkpoint"):
        resolve_prefix(tmp_path / "empty_dir" if (tmp_path / "empty_dir").mkdir() is None else tmp_path)
    single = tmp_path / "model.ckpt"
    single.write_bytes(b"x")
    with pytest.raises(BundleError, match="V1"):
        resolve_prefix(single)
    with pytest.raises(FileNotFoundError):
        resolve_prefix(tmp_path / "nothing")
    with pytest.raises(KeyError, match="no tensor"):
        TensorBundle(FIXTURE).read("inpaint_net/nope")
