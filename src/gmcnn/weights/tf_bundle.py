"""Read TensorFlow 1 checkpoints (the "tensor bundle" format) without TensorFlow or protobuf.

A TF1 checkpoint ``PREFIX`` is two or more files:

* ``PREFIX.index`` -- a LevelDB-format SSTable (sorted string table): data blocks of prefix-compressed
  key/value entries, an index block pointing at them and a 48-byte footer ending in a magic number. Key ``""``
  holds a ``BundleHeaderProto`` (number of data shards, endianness); every other key is a tensor name whose value
  is a ``BundleEntryProto`` (dtype, shape, shard, byte offset and size, masked CRC32C of the bytes).
* ``PREFIX.data-00000-of-0000N`` -- the raw little-endian tensor bytes, back to back.

The few protobuf messages involved are decoded by hand (wire format: varint keys, varints, fixed32/64,
length-delimited bytes). Folders written by ``tf.train.Saver`` also hold a text ``checkpoint`` file naming the
latest prefix (often as an absolute path on the author's machine); :func:`resolve_prefix` follows it, falls back
to the file name inside the folder, then to the highest ``snap-N`` / ``*-N`` step.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gmcnn.errors import UserError

_MAGIC = 0xDB4775248B80FB57
_FOOTER = 48
# tensorflow/core/framework/types.proto DataType values -> numpy dtypes (the ones checkpoints of convnets hold).
_DTYPES = {
    1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 9: np.int64, 10: np.bool_,
    17: np.uint16, 19: np.float16, 22: np.uint32, 23: np.uint64,
}  # fmt: skip


class BundleError(UserError):
    """The files are not a readable TF1 tensor bundle."""


# --------------------------------------------------------------------------------------------- protobuf wire
def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise BundleError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def proto_fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """Yield ``(field_number, value)`` of a protobuf message: ints for varint/fixed fields, bytes otherwise."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = int.from_bytes(buf[pos : pos + 8], "little"), pos + 8
        elif wire == 5:
            value, pos = int.from_bytes(buf[pos : pos + 4], "little"), pos + 4
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + n], pos + n
        else:
            raise BundleError(f"unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise BundleError("truncated protobuf message")
        yield number, value


# ------------------------------------------------------------------------------------------------ SSTable
def _block(data: bytes, offset: int, size: int, *, check: bool = False) -> bytes:
    """One block of the table; ``check``: compare its trailer's masked CRC32C (of the block + type byte)."""
    if offset + size + 5 > len(data):
        raise BundleError("block handle points past the end of the index file")
    kind = data[offset + size]
    if kind != 0:  # TF writes bundle indexes uncompressed; snappy (1) would come from another writer
        raise BundleError(f"index block is compressed (type {kind}); only uncompressed tables are supported")
    if check:
        stored = int.from_bytes(data[offset + size + 1 : offset + size + 5], "little")
        if masked_crc(crc32c(data[offset : offset + size + 1])) != stored:
            raise BundleError(f"an index block (bytes {offset}..{offset + size}) fails its CRC32C check")
    return data[offset : offset + size]


def _block_entries(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Entries of one block: ``shared, unshared, value_len`` varints, the key suffix, the value."""
    if len(block) < 4:
        raise BundleError("block too short")
    restarts = int.from_bytes(block[-4:], "little")
    end = len(block) - 4 * (restarts + 1)
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        length, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        yield key, block[pos : pos + length]
        pos += length


def _handle(buf: bytes, pos: int = 0) -> tuple[int, int, int]:
    offset, pos = _varint(buf, pos)
    size, pos = _varint(buf, pos)
    return offset, size, pos


def read_table(data: bytes, *, check: bool = False) -> dict[bytes, bytes]:
    """All key/value pairs of a LevelDB-format table held in ``data``; ``check``: verify every block's CRC32C."""
    if len(data) < _FOOTER or int.from_bytes(data[-8:], "little") != _MAGIC:
        raise BundleError("not a TF checkpoint index (no SSTable magic number at the end)")
    footer = data[-_FOOTER:]
    _, _, pos = _handle(footer)  # metaindex: unused by bundles
    index_offset, index_size, _ = _handle(footer, pos)
    table: dict[bytes, bytes] = {}
    for _, handle in _block_entries(_block(data, index_offset, index_size, check=check)):
        offset, size, _ = _handle(handle)
        table.update(_block_entries(_block(data, offset, size, check=check)))
    return table


# ----------------------------------------------------------------------------------------------- CRC32C
@functools.cache
def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


def _crc_python(data: bytes, crc: int = 0xFFFFFFFF) -> int:
    table = _crc_table()
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


def _crc_numpy(data: bytes, chunk: int) -> int:
    """CRC-32C of ``data`` with numpy: equal chunks in parallel, then combined (CRCs are linear over GF(2)).

    The init value 0xFFFFFFFF is folded into the first four bytes (for this reflected CRC, starting the register
    at ``I`` equals XOR-ing ``I``'s bytes into the first four data bytes), so every chunk runs from a zero register;
    ``crc(A + B) = shift(crc(A), len(B)) ^ crc(B)`` then joins them, where ``shift`` (feeding ``len(B)`` zero
    bytes) is the same linear map for every chunk and is tabulated per byte lane.
    """
    table = np.array(_crc_table(), dtype=np.uint32)
    buf = np.frombuffer(data, dtype=np.uint8).copy()
    buf[:4] ^= 0xFF
    head = len(buf) % chunk
    acc = _crc_python(buf[:head].tobytes(), 0)
    columns = np.ascontiguousarray(buf[head:].reshape(-1, chunk).T)  # row i = byte i of every block
    regs = np.zeros(columns.shape[1], dtype=np.uint32)
    lanes = (np.arange(256, dtype=np.uint32)[None, :] << (8 * np.arange(4, dtype=np.uint32))[:, None]).ravel()
    for i in range(chunk):  # all blocks at once, one byte position per step; the lanes see zero bytes
        regs = table[(regs ^ columns[i]) & 0xFF] ^ (regs >> 8)
        lanes = table[lanes & 0xFF] ^ (lanes >> 8)
    shift = lanes.reshape(4, 256).tolist()
    for reg in regs.tolist():
        acc = shift[0][acc & 0xFF] ^ shift[1][(acc >> 8) & 0xFF] ^ shift[2][(acc >> 16) & 0xFF] ^ shift[3][acc >> 24]
        acc ^= reg
    return acc ^ 0xFFFFFFFF


def crc32c(data: bytes, *, chunk: int = 1024) -> int:
    """CRC-32C (Castagnoli), as TF checksums tensor bytes: the ``crc32c`` package when installed, else numpy
    (hundreds of MB/s) for large inputs and plain Python for small ones."""
    try:
        import crc32c as fast  # optional C implementation
    except ImportError:
        fast = None
    if fast is not None:
        return int(fast.crc32c(data))
    if len(data) >= 8 * chunk:
        return _crc_numpy(data, chunk)
    return _crc_python(data) ^ 0xFFFFFFFF


def masked_crc(crc: int) -> int:
    """TF/LevelDB store CRCs 'masked' (rotated and offset) so CRCs of CRCs stay well distributed."""
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# ------------------------------------------------------------------------------------------------ bundle
@dataclass(frozen=True)
class Entry:
    """Where one tensor lives: dtype code, shape, shard, byte range and masked CRC32C."""

    name: str
    dtype: int
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc: int | None
    sliced: bool


def _shape(buf: bytes) -> tuple[int, ...]:
    dims = []
    for number, value in proto_fields(buf):
        if number == 2 and isinstance(value, bytes):  # TensorShapeProto.dim
            size = next((v for n, v in proto_fields(value) if n == 1), 0)
            assert isinstance(size, int)
            dims.append(size)
    return tuple(dims)


def _entry(name: str, buf: bytes) -> Entry:
    f: dict[int, int | bytes] = {}
    sliced = False
    for number, value in proto_fields(buf):
        if number == 7:
            sliced = True
        f[number] = value
    shape = f.get(2, b"")
    ints = {k: v for k, v in f.items() if isinstance(v, int)}
    return Entry(
        name=name,
        dtype=ints.get(1, 0),
        shape=_shape(shape) if isinstance(shape, bytes) else (),
        shard=ints.get(3, 0),
        offset=ints.get(4, 0),
        size=ints.get(5, 0),
        crc=ints.get(6),
        sliced=sliced,
    )


class TensorBundle:
    """A TF1 checkpoint opened for reading: ``bundle.names()``, ``bundle.shape(name)``, ``bundle.read(name)``.

    Args:
        prefix: checkpoint prefix (``.../snap-0``), a folder holding one, or the ``.index`` / ``.data-*`` file
            (see :func:`resolve_prefix`).
        verify: check each tensor's CRC32C when it is read (pure Python without the ``crc32c`` package:
            a few seconds per 100 MB).
    """

    def __init__(self, prefix: str | os.PathLike[str], *, verify: bool = True) -> None:
        self.prefix = resolve_prefix(prefix)
        self.verify = verify
        index = Path(f"{self.prefix}.index")
        table = read_table(index.read_bytes())
        header = dict(proto_fields(table.pop(b"", b"")))
        self.num_shards = int(header.get(1, 1) or 1)  # type: ignore[arg-type]
        if header.get(2, 0):
            raise BundleError(f"{index}: big-endian checkpoints are not supported")
        self.entries = {k.decode(): _entry(k.decode(), v) for k, v in table.items()}

    def names(self) -> list[str]:
        return sorted(self.entries)

    def shape(self, name: str) -> tuple[int, ...]:
        return self._get(name).shape

    def _get(self, name: str) -> Entry:
        try:
            return self.entries[name]
        except KeyError:
            raise KeyError(f"{self.prefix} holds no tensor {name!r}") from None

    def shard_path(self, shard: int) -> Path:
        return Path(f"{self.prefix}.data-{shard:05d}-of-{self.num_shards:05d}")

    def read(self, name: str) -> np.ndarray:
        """The tensor ``name`` as a numpy array of its stored dtype and shape."""
        entry = self._get(name)
        if entry.sliced:
            raise BundleError(f"{name!r} is a partitioned variable (saved in slices); not supported")
        if entry.dtype not in _DTYPES:
            raise BundleError(f"{name!r} has TF dtype code {entry.dtype}, which this reader does not decode")
        path = self.shard_path(entry.shard)
        if not path.is_file():
            raise BundleError(f"missing data file {path} (the checkpoint is incomplete)")
        with open(path, "rb") as fh:
            fh.seek(entry.offset)
            raw = fh.read(entry.size)
        if len(raw) != entry.size:
            raise BundleError(f"{path} is truncated: {name!r} needs bytes {entry.offset}..{entry.offset + entry.size}")
        if self.verify and entry.crc is not None and masked_crc(crc32c(raw)) != entry.crc:
            raise BundleError(f"{name!r} fails its CRC32C check: {path} is damaged")
        dtype = np.dtype(_DTYPES[entry.dtype]).newbyteorder("<")
        count = int(np.prod(entry.shape)) if entry.shape else 1
        if count * dtype.itemsize != entry.size:
            raise BundleError(f"{name!r}: {entry.size} bytes do not hold shape {entry.shape} of {dtype}")
        return np.frombuffer(raw, dtype=dtype).reshape(entry.shape).astype(dtype.newbyteorder("="))

    def verify_all(self) -> int:
        """Check the whole checkpoint as TensorFlow wrote it; returns the bytes of tensor data checked.

        Every index block's CRC32C, each data shard's size (TF writes the tensors of a shard back to back, so a
        shard is exactly as long as its last tensor's end) and every tensor's CRC32C.

        Raises:
            BundleError: the first damage found, naming the file.
        """
        read_table(Path(f"{self.prefix}.index").read_bytes(), check=True)
        ends = dict.fromkeys(range(self.num_shards), 0)
        for entry in self.entries.values():
            if entry.shard not in ends:
                raise BundleError(f"{entry.name!r} names data shard {entry.shard} of a {self.num_shards}-shard bundle")
            ends[entry.shard] = max(ends[entry.shard], entry.offset + entry.size)
        for shard, end in ends.items():
            path = self.shard_path(shard)
            if not path.is_file():
                raise BundleError(f"missing data file {path} (the checkpoint is incomplete)")
            size = path.stat().st_size
            if size != end:
                what = "truncated" if size < end else "longer than its tensors"
                raise BundleError(f"{path} is {what}: {size:,} bytes, its index describes {end:,}")
        checked = 0
        for name, entry in sorted(self.entries.items()):
            if entry.sliced or entry.crc is None:
                continue
            with open(self.shard_path(entry.shard), "rb") as fh:
                fh.seek(entry.offset)
                raw = fh.read(entry.size)
            if masked_crc(crc32c(raw)) != entry.crc:
                raise BundleError(f"{name!r} fails its CRC32C check: {self.shard_path(entry.shard)} is damaged")
            checked += entry.size
        return checked


_STEP = re.compile(r"-(\d+)$")


def _latest_from_file(folder: Path) -> Path | None:
    """The prefix named by the folder's ``checkpoint`` file, relocated into ``folder`` if it was absolute."""
    state = folder / "checkpoint"
    if not state.is_file():
        return None
    match = re.search(r'^model_checkpoint_path:\s*"(.*)"\s*$', state.read_text(errors="replace"), re.M)
    if not match:
        return None
    named = Path(match.group(1))
    for candidate in (named if named.is_absolute() else folder / named, folder / named.name):
        if Path(f"{candidate}.index").is_file():
            return candidate
    return None


def resolve_prefix(path: str | os.PathLike[str]) -> Path:
    """Turn what a user holds (folder, prefix, ``.index`` or ``.data-*`` file) into a checkpoint prefix.

    Raises:
        FileNotFoundError: nothing there.
        BundleError: a folder without a TF1 checkpoint, or an old V1 (single-file) checkpoint.
    """
    p = Path(path)
    text = str(p)
    if p.suffix == ".index":
        p = p.with_suffix("")
    elif re.search(r"\.data-\d{5}-of-\d{5}$", text):
        p = Path(re.sub(r"\.data-\d{5}-of-\d{5}$", "", text))
    if Path(f"{p}.index").is_file():
        return p
    if p.is_dir():
        latest = _latest_from_file(p)
        if latest is not None:
            return latest
        prefixes = [Path(str(i)[: -len(".index")]) for i in p.glob("*.index")]
        if prefixes:
            return max(prefixes, key=lambda q: (int(m.group(1)) if (m := _STEP.search(q.name)) else -1, q.name))
        raise BundleError(f"{p} holds no TF checkpoint (no 'checkpoint' file and no *.index files)")
    if p.is_file():
        raise BundleError(
            f"{p} is not a TF1 checkpoint prefix: expected {p.name}.index beside {p.name}.data-00000-of-00001 "
            "(old single-file V1 checkpoints are not supported)"
        )
    raise FileNotFoundError(f"no TF checkpoint at {path} (looked for {p}.index and a folder)")


__all__ = ["BundleError", "TensorBundle", "crc32c", "masked_crc", "proto_fields", "read_table", "resolve_prefix"]
