"""The working memory of a whole fill, from its plan: every strategy and option counts."""

from __future__ import annotations

import numpy as np

from gmcnn.inpainting.backends import estimate_memory_bytes
from gmcnn.inpainting.memory import fill_memory, provisional_plan
from gmcnn.inpainting.options import FillOptions
from gmcnn.inpainting.windows import plan_fill
from gmcnn.models.gmcnn import GMCNNConfig

CONFIG = GMCNNConfig(cnum=8)


def _total(h: int, w: int, options: FillOptions, plan: object = None) -> int:
    plan = plan or provisional_plan(h, w, options, 512)
    return fill_memory(h, w, plan, options, config=CONFIG, runtime="eager", precision="fp32").total  # type: ignore[arg-type]


def test_resize_at_8192_on_100_mp_counts_the_network_at_8192() -> None:
    options = FillOptions(strategy="resize", process_size=8192, detail=0)  # the network's own fill
    network = estimate_memory_bytes(CONFIG, 8192, 8192, precision="fp32", runtime="eager")
    estimate = fill_memory(10000, 10000, provisional_plan(10000, 10000, options, 512), options, config=CONFIG,
                           runtime="eager", precision="fp32")  # fmt: skip
    assert estimate.parts["network"] >= network and estimate.total > network + 10000 * 10000 * 20
    assert estimate.total > 3 * 2**30  # far over the default budget: refused from the header


def test_every_option_costs_what_it_holds() -> None:
    h = w = 4000
    base = _total(h, w, FillOptions(strategy="original", detail=0))  # the network at full resolution
    assert _total(h, w, FillOptions(strategy="original", detail=0, grow=8)) > base
    assert _total(h, w, FillOptions(strategy="original", detail=0, feather=8)) > base
    assert _total(h, w, FillOptions(strategy="original", detail=0.5)) > base  # the network and the completion
    assert _total(h, w, FillOptions(strategy="resize", process_size=1024, detail=0)) < base
    smooth = _total(h, w, FillOptions(strategy="resize", process_size=2048, detail=0))
    assert smooth > _total(h, w, FillOptions(strategy="resize", process_size=1024, detail=0))


def test_the_network_counts_only_when_it_runs() -> None:
    plan = provisional_plan(4000, 4000, FillOptions(strategy="original"), 512)

    def network(**options: object) -> int:
        chosen = FillOptions(strategy="original", **options)  # type: ignore[arg-type]
        return fill_memory(4000, 4000, plan, chosen, config=CONFIG, runtime="eager", precision="fp32").parts["network"]

    assert network(detail=1) == 0  # full detail: the completion stage is the whole fill
    assert network() > 0  # detail left to the model and not resolved yet: counted, the costlier reading
    expected = estimate_memory_bytes(CONFIG, 4000, 4000, precision="fp32", runtime="eager")
    assert network(detail=0.99) >= expected and network(detail=0) >= expected
    assert network(feather=4) >= expected  # the feather band blends the network's prediction


def test_crop_counts_its_largest_window_from_the_plan() -> None:
    h, w = 3000, 4000
    options = FillOptions(strategy="crop")
    before = _total(h, w, options)  # no window known before the mask is read
    region = np.zeros((h, w), bool)
    region[100:200, 100:200] = True
    small = plan_fill(region, strategy="crop", process_size=512, margin=0.5, min_side=256)
    region[2800:2900, 3800:3900] = True  # two far holes: two windows, counted once (they run one at a time)
    two = plan_fill(region, strategy="crop", process_size=512, margin=0.5, min_side=256)
    region[1000:2000, 1000:3000] = True  # a large hole: a large window scaled to 512
    large = plan_fill(region, strategy="crop", process_size=512, margin=0.5, min_side=256)
    assert len(two.windows) == 2
    assert before < _total(h, w, options, small) == _total(h, w, options, two) < _total(h, w, options, large)


def test_auto_is_original_when_the_image_fits_the_process_size() -> None:
    options = FillOptions()
    assert provisional_plan(300, 400, options, 512).strategy == "original"
    assert provisional_plan(3000, 400, options, 512).strategy == "crop"
    assert provisional_plan(3000, 400, options, 512).windows == ()


def test_an_unset_process_size_is_the_models_own() -> None:
    options = FillOptions(strategy="resize")
    assert options.process_size is None
    assert provisional_plan(3000, 4000, options, 680).scale_to == 680
    smooth = FillOptions(strategy="resize", detail=0)
    assert _total(3000, 4000, smooth) < _total(3000, 4000, FillOptions(strategy="resize", process_size=2048, detail=0))
