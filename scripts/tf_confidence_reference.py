"""TensorFlow's confidence-driven weight map (the TF release's ``priority_loss_mask``) on small masks, as a fixture.

Runs in the TensorFlow environment (see ``scripts/tf_reference.py``)::

    TF_USE_LEGACY_KERAS=1 /work/venv-tf/bin/python scripts/tf_confidence_reference.py tests/fixtures/tf_confidence

The TF release blurs with ``tf.nn.conv2d(padding='SAME')`` and a 64x64 kernel built by its ``gauss_kernel(64,
1/40)`` (normal-CDF bins, square root of their outer product, normalised), 7 iterations of
``W = blur(K) * M; K = (1 - M) + W``. The kernel is re-stated here with numpy (no scipy in this environment);
the convolution, its padding and the iteration run in TensorFlow. Writes ``masks.npy`` (N, H, W, 1; 1 = hole)
and ``weights.npy`` (the TF output, same shape). ``--smoke``: one small mask, written to a temp folder.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path

import numpy as np


def official_kernel(size: int, sigma: float) -> np.ndarray:
    interval = (2 * sigma + 1.0) / size
    edges = np.linspace(-sigma - interval / 2, sigma + interval / 2, size + 1)
    cdf = np.array([0.5 * (1 + math.erf(e / math.sqrt(2))) for e in edges])
    p = np.diff(cdf)
    raw = np.sqrt(np.outer(p, p))
    return (raw / raw.sum()).astype(np.float32).reshape(size, size, 1, 1)


def masks(h: int = 96, w: int = 112) -> np.ndarray:
    out = np.zeros((3, h, w, 1), np.float32)
    out[0, 20:70, 30:90] = 1  # interior rectangle
    out[1, 0:40, 60:112] = 1  # rectangle touching the top and right borders
    out[2, 50:58, 5:100] = 1  # a stroke
    out[2, 10:90, 40:46] = 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, nargs="?", help="where masks.npy and weights.npy go")
    ap.add_argument("--smoke", action="store_true", help="one 32x40 mask, written to a temp folder")
    args = ap.parse_args()
    if args.smoke:
        args.folder = Path(tempfile.mkdtemp(prefix="gmcnn-smoke-"))
    if args.folder is None:
        ap.error("give the output folder")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf  # here, not at the top: --help works where TensorFlow is absent

    folder = args.folder
    folder.mkdir(parents=True, exist_ok=True)
    mask = tf.constant(masks(32, 40)[:1] if args.smoke else masks())
    kernel = tf.constant(official_kernel(64, 1.0 / 40))
    init = 1 - mask
    weights = None
    for _ in range(7):
        weights = tf.nn.conv2d(init, kernel, strides=[1, 1, 1, 1], padding="SAME") * mask
        init = weights + (1 - mask)
    np.save(folder / "masks.npy", mask.numpy())
    np.save(folder / "weights.npy", weights.numpy())
    print(f"wrote {folder}: max weight {float(tf.reduce_max(weights)):.4f}, tensorflow {tf.__version__}")


if __name__ == "__main__":
    main()
