"""A built-looking corpus written from arrays, for the cache and dataset tests and the loader benchmark's smoke run."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_corpus(root: Path, images: dict[str, tuple[str, str, np.ndarray]]) -> Path:
    """A built-looking corpus (``manifest.csv`` + files, no Debian package) for cache and dataset tests.

    Args:
        root: the corpus folder to write.
        images: name -> ``(kind, split, uint8 RGB array)``; saved as PNG.
    """
    import hashlib
    import io

    from PIL import Image

    from gmcnn.data.manifest import Entry, write_manifest

    entries = []
    for name, (kind, split, pixels) in images.items():
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="PNG")
        data = buf.getvalue()
        e = Entry(name=name, package="mate-backgrounds", version="0.0~test-1", path=f"usr/{name}", member="",
                         sha256=hashlib.sha256(data).hexdigest(), width=pixels.shape[1], height=pixels.shape[0],
                         crop="", crop_sha256="", licence="GPL-2+", kind=kind, scene=name.split(".")[0],
                         split=split)  # fmt: skip
        (root / e.relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / e.relpath).write_bytes(data)
        entries.append(e)
    write_manifest(entries, root / "manifest.csv")
    return root
