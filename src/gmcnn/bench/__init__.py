"""The speed benchmark behind ``gmcnn bench``: latency, throughput, memory and training speed, each beside a
reference measured in the same run.

What is measured (all on one synthetic photo-like image per size with one brush-stroke hole, fixed seed):

* **Dense-conv limit**: GFLOP/s of a 3x3, 128 -> 128 channel convolution on 128x128 maps — what this machine's
  PyTorch reaches on the most favourable layer. Model rows quote their GFLOP/s as a fraction of it. All GFLOP/s
  figures use the fastest counted call (on a shared machine the least disturbed one), the latencies p50/p95.
* **Latency** of one fill per size (256^2, 512^2, 1024^2, 12 MP = 4000x3000 by default), for each model
  (``default`` = the embedded model, ``full`` = the paper-size GMCNN, cnum 32, random weights — speed does not
  depend on the values): the whole :class:`gmcnn.Inpainter` call (its ``auto`` strategy, runtime and precision),
  and beside it the plain eager PyTorch fp32 forward of the same network on the whole padded image, with its
  GFLOP (:meth:`GMCNN.flops`) and GFLOP/s. Full-resolution eager forwards that would exceed the time budget
  (estimated from the conv limit) or half the free memory are skipped and say so. The classical baselines
  fill the same image and hole.
* **Batch throughput**: images/s of an eager fp32 forward of a batch at 256x256.
* **Training**: images/s of one stage-1 step (generator reconstruction loss, backward, Adam) and one stage-2
  step (``d_steps`` = 5 critic updates + one generator update with the adversarial term) at 256x256, with
  :mod:`gmcnn.training.steps`. ID-MRF is left out: it needs VGG19 weights, which gmcnn never downloads.
* **Peak RSS** of each measurement (the kernel's high-water mark is reset before each one on Linux).

Timing: the first call is a warm-up and is not counted unless it alone took longer than 10 s; then calls repeat
until ``--repeats`` or the per-measurement time budget is reached (at least one). p50 and p95 are over the
counted calls (with few calls p95 is close to the maximum).
"""

from gmcnn.bench.inputs import DEFAULT_SIZES, parse_sizes, stroke_hole, test_image
from gmcnn.bench.measure import Row, Timing, measure
from gmcnn.bench.report import bench_header, plot, report_markdown, save_results
from gmcnn.bench.sections import DEFAULT_MODELS, BenchModel, load_models, run_all

__all__ = [
    "DEFAULT_MODELS",
    "DEFAULT_SIZES",
    "BenchModel",
    "Row",
    "Timing",
    "bench_header",
    "load_models",
    "measure",
    "parse_sizes",
    "plot",
    "report_markdown",
    "run_all",
    "save_results",
    "stroke_hole",
    "test_image",
]
