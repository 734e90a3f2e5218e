"""A minimal TF1 tensor-bundle writer for tests: float32 tensors, one shard, one uncompressed data block.

Written from the format description (LevelDB table + BundleHeaderProto / BundleEntryProto), independent of the
reader in :mod:`gmcnn.weights.tf_bundle`, so it can build checkpoints of other networks and damaged files without
TensorFlow. Real-TF files are covered by ``tests/fixtures/tf_cnum4`` (made by ``scripts/tf_reference.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gmcnn.weights.tf_bundle import crc32c, masked_crc


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, value: int | bytes, wire: int | None = None) -> bytes:
    if isinstance(value, bytes):
        return _varint(number << 3 | 2) + _varint(len(value)) + value
    if wire == 5:
        return _varint(number << 3 | 5) + value.to_bytes(4, "little")
    return _varint(number << 3) + _varint(value)


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(_varint(0) + _varint(len(k)) + _varint(len(v)) + k + v for k, v in entries)
    return body + (0).to_bytes(4, "little") + (1).to_bytes(4, "little")  # one restart point at 0


def _trailer(block: bytes) -> bytes:
    """A block's trailer: type 0 (uncompressed) + the masked CRC32C of the block and that type byte."""
    return b"\0" + masked_crc(crc32c(block + b"\0")).to_bytes(4, "little")


def write_bundle(prefix: Path, tensors: dict[str, np.ndarray]) -> None:
    """Write ``prefix.index`` + ``prefix.data-00000-of-00001`` holding ``tensors`` (cast to float32)."""
    data, entries, offset = bytearray(), [], 0
    for name in sorted(tensors):
        raw = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        shape = b"".join(_field(2, _field(1, d)) for d in tensors[name].shape)
        entry = _field(1, 1) + _field(2, shape) + _field(4, offset) + _field(5, len(raw))
        entries.append((name.encode(), entry + _field(6, masked_crc(crc32c(raw)), wire=5)))
        data += raw
        offset += len(raw)
    header = _field(1, 1) + _field(3, _field(1, 1))  # num_shards 1, little endian (default), version 1
    block = _block([(b"", header), *entries])
    index = bytearray(block + _trailer(block))
    handle = _varint(0) + _varint(len(block))
    last_key = entries[-1][0] if entries else b""
    index_block = _block([(last_key + b"\xff", handle)])
    index_offset = len(index)
    index += index_block + _trailer(index_block)
    footer = _varint(0) + _varint(0) + _varint(index_offset) + _varint(len(index_block))
    footer = footer.ljust(40, b"\0") + (0xDB4775248B80FB57).to_bytes(8, "little")
    Path(f"{prefix}.index").write_bytes(bytes(index + footer))
    Path(f"{prefix}.data-00000-of-00001").write_bytes(bytes(data))
