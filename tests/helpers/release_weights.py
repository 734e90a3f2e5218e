"""Random GMCNN TF-release weights, regenerated bit for bit from a seed (numpy only: TensorFlow's side imports it too).

The Places2 parity check (``tests/test_tf_parity_places2.py``, ``scripts/tf_reference.py --photo``) needs a
cnum-32 checkpoint (50 MB) on both sides: TensorFlow builds the official pipeline with these values, gmcnn reads
them from a checkpoint written by ``tests/tf_bundle_writer.py``. Instead of committing 50 MB, both regenerate it.

Each variable's values depend only on (seed, its name, its shape), never on the order variables are made, and
come from PCG64's raw 64-bit outputs turned into floats with exact IEEE operations (shift, scale, one square
root), so every machine and numpy version gives the same bytes (:func:`digest` pins them).

Scale: TensorFlow's default ``conv2d`` initialiser (Glorot uniform, limit ``sqrt(6 / (fan_in + fan_out))``) times
``gain``, biases uniform in ``[-0.05, 0.05]``. A gain of 1 lets the signal fade through the 20 layers of a column
to a near-constant output that any two implementations would agree on; the default gain keeps every layer
carrying signal and gives a fill of trained-model range (output std ~0.4 with few pixels clipped, measured by
``benchmarks/tf_parity.py``).
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Iterable

import numpy as np

SEED = 680
GAIN = 1.15
BIAS = 0.05


def _uniform(seed: int, name: str, count: int) -> np.ndarray:
    """``count`` float64 values uniform in [-1, 1), from PCG64 keyed by (seed, name)."""
    key = np.random.SeedSequence([seed, zlib.crc32(name.encode()), len(name)])
    raw = np.random.PCG64(key).random_raw(count)  # the bit generator's stream itself: fixed across versions
    return (raw >> np.uint64(11)).astype(np.float64) * (2.0**-52) - 1.0  # 53-bit integers, exact


def value(name: str, shape: tuple[int, ...], *, seed: int = SEED, gain: float = GAIN) -> np.ndarray:
    """The float32 value of the TF variable ``name`` (``.../kernel`` HWIO or ``.../bias``)."""
    u = _uniform(seed, name, int(np.prod(shape)) if shape else 1).reshape(shape)
    if name.endswith("/kernel"):  # conv HWIO or dense (in, out): Glorot's fans
        receptive = int(np.prod(shape[:-2]))
        limit = gain * math.sqrt(6.0 / (receptive * shape[-2] + receptive * shape[-1]))
    else:
        limit = BIAS
    return (u * limit).astype(np.float32)


def digest(tensors: Iterable[tuple[str, np.ndarray]]) -> str:
    """sha256 over the names and bytes of ``tensors`` in name order: equal digests = bit-identical weights."""
    h = hashlib.sha256()
    for name, array in sorted(tensors, key=lambda t: t[0]):
        h.update(name.encode() + b"\0" + np.ascontiguousarray(array, dtype="<f4").tobytes())
    return h.hexdigest()


def generator_variables(cnum: int = 32) -> list[tuple[str, tuple[int, ...]]]:
    """(TF name, TF shape) of every variable of the TF-release generator at width ``cnum`` (imports gmcnn)."""
    import torch

    from gmcnn.models.gmcnn_tf import GMCNNTF, GMCNNTFConfig, tf_variable_name

    config = GMCNNTFConfig(cnum=cnum)
    with torch.device("meta"):
        state = GMCNNTF(config).state_dict()
    out = []
    for key, tensor in state.items():
        shape = tuple(tensor.shape)
        out.append((tf_variable_name(key, config), (*shape[2:], shape[1], shape[0]) if len(shape) == 4 else shape))
    return out


# What a release holds besides the generator (a critic layer, an optimiser slot): readers must skip them.
EXTRAS = {"discriminator/dout_global_fc/kernel": (8, 1), "inpaint_net/b1conv1/kernel/Adam": (7, 7, 5, 32)}


def write_release(folder: str, *, cnum: int = 32, seed: int = SEED, gain: float = GAIN) -> str:
    """Write the seeded checkpoint into ``folder`` laid out like a release; returns the generator's :func:`digest`.

    ``folder/snap-0.index`` + ``.data-00000-of-00001`` (``tests/tf_bundle_writer.py``) and a ``checkpoint`` file
    naming a path on another machine, as the released folders do.
    """
    from pathlib import Path

    from tf_bundle_writer import write_bundle  # tests/ is on the path in pytest and the benchmark

    generator = [(name, value(name, shape, seed=seed, gain=gain)) for name, shape in generator_variables(cnum)]
    extras = {name: value(name, (*shape[:-1], cnum) if len(shape) == 4 else shape, seed=seed, gain=gain)
              for name, shape in EXTRAS.items()}  # fmt: skip
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    write_bundle(out / "snap-0", {**dict(generator), **extras})
    foreign = f"/data/gmcnn-release/checkpoints/{out.name}/snap-0"
    (out / "checkpoint").write_text(f'model_checkpoint_path: "{foreign}"\nall_model_checkpoint_paths: "{foreign}"\n')
    return digest(generator)
