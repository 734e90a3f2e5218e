"""Reference outputs of the TensorFlow-release GMCNN generator, computed by TensorFlow itself.

Runs in a separate environment that has TensorFlow (never gmcnn's), e.g.::

    python3 -m venv /work/venv-tf && /work/venv-tf/bin/pip install tensorflow-cpu tf-keras numpy
    TF_USE_LEGACY_KERAS=1 /work/venv-tf/bin/python scripts/tf_reference.py --cnum 32 --size 256x256 --out DIR

It builds the generator graph with TF1 layers (``tf.compat.v1.layers.conv2d`` in graph mode, 'SAME' padding,
``resize_bilinear`` / ``resize_nearest_neighbor`` with ``align_corners=True``) under the official variable
names (``inpaint_net/b1conv1/kernel`` ...), fills it with random weights, saves a real TF1 checkpoint
(``DIR/checkpoint`` + ``DIR/snap-0.index`` + ``DIR/snap-0.data-00000-of-00001``, the released layout) and the
inputs and output as ``.npy`` (NHWC, BGR, [-1, 1]): ``image.npy``, ``mask.npy``, ``output.npy``.
The graph is written from the layer table in ``gmcnn.models.gmcnn_tf``'s docstring, not imported from it,
so the check is TF's own kernels against our PyTorch re-statement. ``--smoke``: cnum 4 at 32x32 into a temp folder.

With ``--photo PNG --mask PNG`` it runs the **official test pipeline** instead (``tensorflow/test.py`` +
``GMCNNModel.evaluate``: BGR photo with the hole set to 255, ``/127.5 - 1``, hole zeroed, generator, composite,
``(x + 1) * 127.5``, clip, RGB, truncating cast to uint8) with weights regenerated from a seed by
``tests/helpers/release_weights.py`` (numpy only), and writes ``DIR/output.png``, ``DIR/reference.json`` and the
checkpoint as a release folder, ``DIR/<--folder>/`` (``checkpoint`` naming a path on another machine, generator
+ critic + Adam variables)::

    TF_USE_LEGACY_KERAS=1 /work/venv-tf/bin/python scripts/tf_reference.py \
        --photo tests/fixtures/places2_parity/photo.png --mask tests/fixtures/places2_parity/mask.png --out REFS/places2

(``DIR/output_float.npy`` also keeps the pipeline's values before the cast, for ``benchmarks/tf_parity.py``.)
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

# TensorFlow, imported by main() once the arguments are parsed: ``--help`` works where TensorFlow is absent.
tf: Any = None
v1: Any = None


def import_tensorflow() -> None:
    global tf, v1
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # tf.compat.v1.layers needs Keras 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow

    tf, v1 = tensorflow, tensorflow.compat.v1


def build_generator(x: Any, mask: Any, cnum: int, init: dict) -> Any:
    """The TF-release generator on ``x`` (NHWC BGR, hole zeroed) and ``mask`` (NHWC, 1 = hole)."""
    h, w = x.get_shape().as_list()[1:3]
    ones = tf.ones_like(x)[:, :, :, 0:1]
    inp = tf.concat([x, ones, ones * mask], axis=3)

    def conv(t, name, k, filters, stride=1, rate=1, act=True):
        return v1.layers.conv2d(
            t, filters, k, strides=stride, dilation_rate=rate, padding="same",
            activation=tf.nn.elu if act else None, name=name, **init,
        )  # fmt: skip

    def trunk(prefix, k_first, k):
        t = conv(inp, f"{prefix}conv1", k_first, cnum)
        t = conv(t, f"{prefix}conv2_downsample", k, 2 * cnum, stride=2)
        t = conv(t, f"{prefix}conv3", k, 2 * cnum)
        t = conv(t, f"{prefix}conv4_downsample", k, 4 * cnum, stride=2)
        t = conv(t, f"{prefix}conv5", k, 4 * cnum)
        t = conv(t, f"{prefix}conv6", k, 4 * cnum)
        for i, rate in enumerate((2, 4, 8, 16)):
            t = conv(t, f"{prefix}conv{7 + i}_atrous", k, 4 * cnum, rate=rate)
        if cnum > 32:
            t = conv(t, f"{prefix}conv11_atrous", k, 4 * cnum, rate=32)
        t = conv(t, f"{prefix}conv11", k, 4 * cnum)
        return conv(t, f"{prefix}conv12", k, 4 * cnum)

    def up_conv(t, prefix, index, filters):
        with v1.variable_scope(f"{prefix}conv{index}_upsample"):
            return conv(t, f"{prefix}conv{index}_upsample_conv", 3, filters)

    with v1.variable_scope("inpaint_net"):
        b1 = v1.image.resize_bilinear(trunk("b1", 7, 7), [h, w], align_corners=True)

        t = v1.image.resize_nearest_neighbor(trunk("b2", 5, 5), [h // 2, w // 2], align_corners=True)
        t = conv(up_conv(t, "b2", 13, 2 * cnum), "b2conv14", 5, 2 * cnum)
        b2 = v1.image.resize_bilinear(t, [h, w], align_corners=True)

        t = v1.image.resize_nearest_neighbor(trunk("b3", 5, 3), [h // 2, w // 2], align_corners=True)
        t = conv(up_conv(t, "b3", 13, 2 * cnum), "b3conv14", 3, 2 * cnum)
        t = v1.image.resize_nearest_neighbor(t, [h, w], align_corners=True)
        b3 = conv(up_conv(t, "b3", 15, cnum), "b3conv16", 3, cnum // 2)

        t = conv(tf.concat([b1, b2, b3], axis=3), "mergeconv17", 3, cnum // 2)
        t = conv(t, "mergeconv18", 3, 3, act=False)
        return tf.clip_by_value(t, -1.0, 1.0)


def make_inputs(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random BGR picture in [-1, 1] and a mask with a rectangle and a stroke (1 = hole)."""
    coarse = rng.uniform(-1, 1, size=(1, h // 8 + 1, w // 8 + 1, 3))
    image = np.repeat(np.repeat(coarse, 8, axis=1), 8, axis=2)[:, :h, :w]
    image = np.clip(image + rng.normal(0, 0.1, size=image.shape), -1, 1).astype(np.float32)
    mask = np.zeros((1, h, w, 1), np.float32)
    top, left = rng.integers(0, h // 2), rng.integers(0, w // 2)
    mask[:, top : top + h // 3, left : left + w // 3] = 1
    rr = rng.integers(0, h)
    mask[:, max(0, rr - 3) : rr + 3, w // 4 : 3 * w // 4] = 1
    return image, mask


def quantize(sess: Any, step: float) -> None:
    """Round every variable to a multiple of ``step`` (exactly representable floats compress well in git)."""
    for var in v1.global_variables():
        sess.run(var.assign(tf.round(var / step) * step))


def official_pipeline(args: argparse.Namespace) -> None:
    """The official test pipeline on one photo, with seeded weights; see the module docstring."""
    import release_weights  # tests/helpers, put on the path by main()
    from PIL import Image

    rgb = np.asarray(Image.open(args.photo).convert("RGB"))
    hole = (np.asarray(Image.open(args.mask).convert("L")) > 127).astype(np.float32)[:, :, None]
    h, w = rgb.shape[:2]
    v1.disable_eager_execution()
    image_ph = v1.placeholder(tf.float32, [1, h, w, 3])
    mask_ph = v1.placeholder(tf.float32, [1, h, w, 1])
    im = image_ph / 127.5 - 1  # GMCNNModel.evaluate
    im = im * (1 - mask_ph)
    pred = build_generator(im, mask_ph, args.cnum, {})
    complete = pred * mask_ph + im * (1 - mask_ph)
    levels = tf.minimum(tf.maximum(((complete + 1) * 127.5)[:, :, :, ::-1], 0), 255)  # test.py
    out = tf.cast(levels, tf.uint8)
    with v1.variable_scope("discriminator/dout_global_fc"):  # what a release also holds
        v1.get_variable("kernel", [8, 1])
    v1.get_variable("inpaint_net/b1conv1/kernel/Adam", [7, 7, 5, args.cnum])
    folder = args.out / args.folder
    folder.mkdir(parents=True, exist_ok=True)
    values = {}
    with v1.Session() as sess:
        for var in v1.global_variables():
            name = var.op.name
            values[name] = release_weights.value(name, tuple(var.shape.as_list()), seed=args.seed, gain=args.gain)
            var.load(values[name], sess)
        bgr = rgb[:, :, ::-1].astype(np.float32)  # cv2.imread order
        fed = bgr * (1 - hole) + 255 * hole
        result, before_cast = (r[0] for r in sess.run([out, levels], {image_ph: fed[None], mask_ph: hole[None]}))
        v1.train.Saver().save(sess, str(folder / "snap-0"), write_meta_graph=False)
    foreign = f"/data/gmcnn-release/checkpoints/{args.folder}/snap-0"  # the releases name the author's paths
    (folder / "checkpoint").write_text(f'model_checkpoint_path: "{foreign}"\nall_model_checkpoint_paths: "{foreign}"\n')
    Image.fromarray(result).save(args.out / "output.png")
    np.save(args.out / "output_float.npy", before_cast)
    generator = [(n, v) for n, v in values.items() if n.startswith("inpaint_net/") and not n.endswith("/Adam")]
    info = {
        "cnum": args.cnum, "size": [h, w], "seed": args.seed, "gain": args.gain, "folder": args.folder,
        "weights_sha256": release_weights.digest(generator), "tensorflow": tf.__version__,
        "photo": Path(args.photo).name, "mask": Path(args.mask).name,
    }  # fmt: skip
    (args.out / "reference.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cnum", type=int, default=32)
    ap.add_argument("--size", default="256x256", help="HxW of the input")
    ap.add_argument("--out", type=Path, help="output folder (required unless --smoke)")
    ap.add_argument("--seed", type=int, default=None, help="default: 0; with --photo, release_weights.SEED")
    ap.add_argument("--quantize", type=float, default=0.0, help="round weights to multiples of this (0 = off)")
    ap.add_argument("--extra", action="store_true", help="also save non-generator variables, like the releases")
    ap.add_argument(
        "--record-as",
        default="",
        help="absolute prefix to write into the 'checkpoint' file, like the "
        "releases do (they name paths on the author's machine)",
    )
    ap.add_argument("--photo", type=Path, help="run the official test pipeline on this photo (needs --mask)")
    ap.add_argument("--mask", type=Path, help="the hole for --photo (white = hole)")
    ap.add_argument("--gain", type=float, default=None, help="weight scale for --photo (default: release_weights')")
    ap.add_argument("--folder", default="places2_512x680_freeform", help="release folder name for --photo")
    ap.add_argument("--smoke", action="store_true", help="cnum 4 at 32x32, written to a temp folder")
    args = ap.parse_args()
    if args.smoke:
        args.cnum, args.size, args.out, args.photo = 4, "32x32", Path(tempfile.mkdtemp(prefix="gmcnn-smoke-")), None
    if args.out is None:
        ap.error("--out is required")
    import_tensorflow()
    if args.photo is not None:
        if args.mask is None:
            ap.error("--photo needs --mask")
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "helpers"))
        import release_weights  # numpy only

        args.gain = release_weights.GAIN if args.gain is None else args.gain
        args.seed = release_weights.SEED if args.seed is None else args.seed
        official_pipeline(args)
        return
    args.seed = 0 if args.seed is None else args.seed
    h, w = (int(s) for s in args.size.lower().split("x"))
    rng = np.random.default_rng(args.seed)
    v1.disable_eager_execution()
    v1.set_random_seed(args.seed)
    init = {"bias_initializer": v1.random_normal_initializer(0.0, 0.05)}  # non-zero biases exercise the mapping
    image_np, mask_np = make_inputs(rng, h, w)
    image = v1.placeholder(tf.float32, [1, h, w, 3])
    mask = v1.placeholder(tf.float32, [1, h, w, 1])
    out = build_generator(image * (1.0 - mask), mask, args.cnum, init)
    if args.extra:  # what a released checkpoint also holds: critic weights and Adam slots
        with v1.variable_scope("discriminator/dout_global_fc"):
            v1.get_variable("kernel", [8, 1])
        v1.get_variable("inpaint_net/b1conv1/kernel/Adam", [7, 7, 5, args.cnum])
    gen_vars = v1.trainable_variables("inpaint_net")
    n_params = int(sum(np.prod(v.get_shape().as_list()) for v in gen_vars if not v.name.endswith("Adam:0")))
    args.out.mkdir(parents=True, exist_ok=True)
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        if args.quantize:
            quantize(sess, args.quantize)
        result = sess.run(out, {image: image_np, mask: mask_np})
        v1.train.Saver().save(sess, str(args.out / "snap"), global_step=0, write_meta_graph=False)
    if args.record_as:
        text = f'model_checkpoint_path: "{args.record_as}"\nall_model_checkpoint_paths: "{args.record_as}"\n'
        (args.out / "checkpoint").write_text(text)
    np.save(args.out / "image.npy", image_np)
    np.save(args.out / "mask.npy", mask_np)
    np.save(args.out / "output.npy", result)
    info = {"cnum": args.cnum, "size": [h, w], "seed": args.seed, "parameters": n_params, "tensorflow": tf.__version__}
    (args.out / "reference.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
