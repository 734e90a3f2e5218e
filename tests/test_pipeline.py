"""Inpainter: type/size contract, byte-identical known pixels, strategies, options, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_generator
from PIL import Image

from gmcnn import Inpainter
from gmcnn.errors import UserError
from gmcnn.inpainting.options import FillOptions


def _mask(h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[h // 4 : h // 2, w // 3 : w // 2] = True
    return m


@pytest.mark.parametrize("shape", [(64, 64, 3), (67, 93, 3), (50, 31, 4), (45, 60), (13, 9, 3)])
def test_numpy_in_numpy_out_known_pixels_identical(inpainter: Inpainter, shape: tuple[int, ...]) -> None:
    img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    m = _mask(*shape[:2])
    out = inpainter(img, m)
    assert isinstance(out, np.ndarray) and out.shape == img.shape and out.dtype == np.uint8
    assert np.array_equal(out[~m], img[~m])
    if len(shape) == 3 and shape[2] == 4:
        assert np.array_equal(out[..., 3], img[..., 3])  # alpha passed through, also under the hole
    assert not np.array_equal(out[m], img[m])


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_pil_in_pil_out(inpainter: Inpainter, photo: np.ndarray, mode: str) -> None:
    img = Image.fromarray(photo[:120, :150]).convert(mode)
    m = _mask(120, 150)
    out = inpainter(img, Image.fromarray(m.astype(np.uint8) * 255))
    assert isinstance(out, Image.Image) and out.mode == mode and out.size == img.size
    a, b = np.asarray(out), np.asarray(img)
    assert np.array_equal(a[~m], b[~m])


def test_input_is_not_modified(inpainter: Inpainter, photo: np.ndarray) -> None:
    img = photo[:80, :80].copy()
    inpainter(img, _mask(80, 80))
    assert np.array_equal(img, photo[:80, :80])


def test_result_matches_the_network_for_valid_sizes(tiny_export: Path, photo: np.ndarray) -> None:
    """No hidden transformation: at a size the network accepts, the fill is exactly round(composite)."""
    inp = Inpainter.from_pretrained(tiny_export, device="cpu", runtime="eager", precision="fp32")
    img, m = photo[:64, :96], _mask(64, 96)
    out = inp(img, m, strategy="original", detail=0)  # the network's own fill, no completion stage
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 127.5 - 1
    mt = torch.from_numpy(m)[None, None].float()
    with torch.no_grad():
        pred = tiny_generator()(x, mt)
    expect = ((pred * mt + x * (1 - mt)).clamp(-1, 1) + 1).mul(127.5).round()[0].permute(1, 2, 0).byte().numpy()
    assert np.array_equal(out, expect)


def test_empty_mask_returns_input_with_warning(inpainter: Inpainter, photo: np.ndarray) -> None:
    with pytest.warns(UserWarning, match="empty"):
        out = inpainter(photo, np.zeros(photo.shape[:2], bool))
    assert np.array_equal(out, photo) and out is not photo


def test_size_mismatch_says_both_sizes(inpainter: Inpainter, photo: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"mask size 10x20 does not match image size 512x512"):
        inpainter(photo, np.ones((20, 10), bool))


@pytest.mark.parametrize("strategy", ["original", "resize", "crop", "auto"])
def test_strategies_keep_known_pixels(inpainter: Inpainter, strategy: str) -> None:
    img = np.random.default_rng(1).integers(0, 256, (700, 900, 3), dtype=np.uint8)
    m = np.zeros((700, 900), bool)
    m[100:160, 100:180] = True
    m[500:650, 700:720] = True
    result = inpainter.fill(img, m, FillOptions(strategy=strategy, process_size=256))
    out = result.image
    assert np.array_equal(out[~m], img[~m])
    assert result.info()["strategy"] == ("crop" if strategy == "auto" else strategy)
    if strategy == "crop":
        assert result.info()["windows"] == 2


def test_grow_changes_a_ring_and_feather_a_band(inpainter: Inpainter, photo: np.ndarray) -> None:
    img, m = photo[:128, :128], _mask(128, 128)
    grown = inpainter(img, m, grow=3)
    changed = np.any(grown != img, axis=2)
    assert changed[~m].any() and not changed[:, :30].any()  # ring around the hole only
    feathered = inpainter(img, m, feather=6)
    changed = np.any(feathered != img, axis=2)
    far = np.ones_like(m)
    far[m.nonzero()[0].min() - 7 : m.nonzero()[0].max() + 8, m.nonzero()[1].min() - 7 : m.nonzero()[1].max() + 8] = (
        False
    )
    assert changed[~m].any() and not changed[far].any()


def test_bad_options(inpainter: Inpainter, photo: np.ndarray) -> None:
    m = _mask(512, 512)
    with pytest.raises(UserError, match="unknown strategy"):
        inpainter(photo, m, strategy="magic")
    with pytest.raises(UserError, match=">= 0"):
        inpainter(photo, m, grow=-1)
    with pytest.raises(UserError, match="process_size"):
        inpainter(photo, m, process_size=8)


def test_original_refuses_what_does_not_fit(inpainter: Inpainter, monkeypatch: pytest.MonkeyPatch) -> None:
    import gmcnn.inpainting.backends as backends

    monkeypatch.setattr(backends, "available_memory_bytes", lambda: 1000)
    img = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(UserError, match=r"needs about .* GiB but only .* free; use strategy='crop'"):
        inpainter(img, _mask(64, 64), strategy="original", detail=0)
    with pytest.raises(UserError, match=r"needs about"):
        inpainter(img, _mask(64, 64), strategy="original", feather=2)  # the band blends the network's prediction
    # full detail without a feather band: the network does not run, so its memory is not a reason to refuse
    out = inpainter(img, _mask(64, 64), strategy="original")
    assert out.shape == img.shape


def test_from_generator_and_unknown_names(photo: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inp = Inpainter.from_generator(tiny_generator(), device="cpu")
    assert inp(photo[:32, :32], _mask(32, 32)).shape == (32, 32, 3)
    with pytest.raises(FileNotFoundError, match="known names"):
        Inpainter.from_pretrained("no-such-model")
    monkeypatch.setenv("GMCNN_MODELS", str(tmp_path))  # an empty models folder: the release is not downloaded
    with pytest.raises(UserError, match="gmcnn models download official-celebahq-256-rect"):
        Inpainter.from_pretrained("official-celebahq-256-rect")


def test_run_directory_loads_its_export(tiny_export: Path, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(tiny_export, tmp_path / "run" / "export")
    inp = Inpainter.from_pretrained(tmp_path / "run", device="cpu")
    assert inp.generator.config.cnum == 4


def test_reflect_model_pads_small_images(photo: np.ndarray) -> None:
    """The official architecture needs >= 196 px; the Inpainter pads smaller images and crops back."""
    inp = Inpainter.from_generator(tiny_generator(pad_mode="reflect"), device="cpu")
    out = inp(photo[:50, :70], _mask(50, 70))
    assert out.shape == (50, 70, 3)


@pytest.mark.parametrize("runtime", ["eager", "auto", "onnx"])
def test_smooth_fill_model_through_every_runtime(photo: np.ndarray, runtime: str) -> None:
    """A pre-fill model (the embedded model's kind) keeps known pixels and matches its own eager forward."""
    generator = tiny_generator(pad_mode="reflect", fill="smooth")
    img, m = photo[100:300, 50:300], _mask(200, 250)
    reference = Inpainter.from_generator(generator, device="cpu", runtime="eager", precision="fp32")(img, m)
    out = Inpainter.from_generator(generator, device="cpu", runtime=runtime)(img, m)
    assert np.array_equal(out[~m], img[~m])
    assert np.abs(out.astype(int) - reference).max() <= 3  # bf16 on AMX CPUs, onnxruntime's kernels


def test_embedded_default_model_loads_offline_and_fills(photo: np.ndarray) -> None:
    """The shipped weights exist, pass their sha256 check, fit the contract and fill a real photo."""
    from gmcnn.files import sha256_file
    from gmcnn.weights import get

    folder = get("default").path
    assert folder is not None
    inp = Inpainter.from_pretrained("default", device="cpu")
    assert inp.sha256 == sha256_file(folder / "generator.safetensors")
    assert (folder / "generator.safetensors").stat().st_size <= 25 * 2**20
    assert inp.contract.mask_polarity == "1=hole"
    img, m = photo[:256, :256], _mask(256, 256)
    out = inp(img, m)
    assert np.array_equal(out[~m], img[~m])
    # A trained model fills with the surrounding colours, not with the white/zero placeholder.
    assert abs(float(out[m].mean()) - float(img[~m].mean())) < 60


def test_fill_reports_what_ran_and_plan_matches(inpainter: Inpainter) -> None:
    img = np.random.default_rng(2).integers(0, 256, (600, 800, 3), dtype=np.uint8)
    m = np.zeros((600, 800), bool)
    m[50:90, 60:120] = True
    m[400:480, 600:700] = True
    options = FillOptions(process_size=256, feather=4)
    plan = inpainter.plan(img, m, options)
    result = inpainter.fill(img, m, options)
    assert result.plan == plan and plan.strategy == "crop" and len(plan.windows) == 2
    assert result.stages == ["model", "completion", "composite"]  # the feather band blends the network's fill
    assert inpainter.fill(img, m, FillOptions(process_size=256)).stages == ["completion", "composite"]
    assert result.runtime == inpainter.runner.runtime and result.precision == inpainter.runner.precision
    assert set(result.timings) >= {"prepare", "model", "composite", "total"}
    assert 0 < result.timings["model"] <= result.seconds
    assert np.array_equal(result.image, inpainter(img, m, process_size=256, feather=4))  # __call__ = fill().image
    json.dumps(result.info())  # JSON-able for headers and logs


def test_contract_is_typed_for_every_source(tiny_export: Path) -> None:
    from gmcnn.weights import Contract

    inp = Inpainter.from_pretrained(tiny_export, device="cpu")
    assert isinstance(inp.contract, Contract)
    assert inp.contract.mask_polarity == "1=hole" and inp.contract.size_multiple == 4
    assert Inpainter.from_generator(tiny_generator(), device="cpu").contract.trained_size == 256


class RunnerSpy:
    """Records the batch size of every network call, passing everything through."""

    def __init__(self, runner: object) -> None:
        self.runner, self.batches = runner, []

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        self.batches.append(image.shape[0])
        return self.runner(image, mask)  # type: ignore[operator]

    def predict(self, rgb: np.ndarray, hole: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        """One window through the spy's own call (the runner's predict would call the runner directly)."""
        net = self.runner.net_input(rgb, hole, size)  # type: ignore[attr-defined]
        return self.runner.net_output(self(net.image, net.mask), net, hole.shape)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.runner, name)


def test_fill_batch_equals_one_call_per_image(inpainter: Inpainter, photo: np.ndarray,
                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Same-size images go through the network together; every result is byte-identical to a single call."""
    images = [photo[:96, :128], photo[100:196, 50:178], photo[:64, :64], photo[200:296, :128], photo[:300, :300]]
    masks = []
    for i, img in enumerate(images):
        m = np.zeros(img.shape[:2], bool)
        if i != 2:  # one empty mask: returned unchanged, as by a single call
            m[10 + i : 40 + i, 20:60] = True
        masks.append(m)
    masks[4][200:260, 220:280] = True  # two holes far apart in a large image: crop windows, filled one by one
    spy = RunnerSpy(inpainter.runner)
    monkeypatch.setattr(inpainter, "runner", spy)
    options = FillOptions(process_size=128, detail=0.5)  # below full detail the network's fill is used
    with pytest.warns(UserWarning, match="empty"):
        batched = [r.image for r in inpainter.fill_batch(images, masks, options)]
    assert spy.batches[0] == 3 and set(spy.batches[1:]) == {1}  # the three 96x128 together, crop windows alone
    with pytest.warns(UserWarning, match="empty"):
        single = [inpainter(img, m, process_size=128, detail=0.5) for img, m in zip(images, masks, strict=True)]
    for got, want in zip(batched, single, strict=True):
        assert isinstance(got, np.ndarray) and got.tobytes() == want.tobytes()
    assert not np.array_equal(batched[0], images[0]) and np.array_equal(batched[2], images[2])
    with pytest.raises(UserError, match="2 images but 1 masks"):
        inpainter.fill_batch(images[:2], masks[:1])


def test_a_mask_over_the_whole_image_is_refused(inpainter: Inpainter) -> None:
    img = np.zeros((40, 50, 3), np.uint8)
    with pytest.raises(UserError, match="covers the whole image"):
        inpainter(img, np.ones((40, 50), bool))
    almost = np.ones((40, 50), bool)
    almost[0, 0] = False
    with pytest.raises(UserError, match="after growing it by 2 px"):
        inpainter(img, almost, grow=2)


def test_each_model_fills_at_its_own_size_by_default() -> None:
    """A release's contract names the size it was made to run at; process_size=None follows it."""
    from gmcnn.weights import Contract, get

    assert get("official-places2-512x680-free").contract.process_size == 680  # type: ignore[union-attr]
    assert get("official-paris-256-rect").contract.process_size == 512  # type: ignore[union-attr]
    img, m = np.zeros((512, 680, 3), np.uint8), _mask(512, 680)
    ours = Inpainter.from_generator(tiny_generator(), device="cpu")
    places = Inpainter.from_generator(tiny_generator(), device="cpu", contract=Contract(process_size=680))
    assert ours.plan(img, m).strategy == "crop" and ours.plan(img, m).process_size == 512
    assert places.plan(img, m).strategy == "original" and places.plan(img, m).process_size == 680
    assert places.plan(img, m, FillOptions(process_size=256)).strategy == "crop"  # an explicit size still wins
