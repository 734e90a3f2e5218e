"""Training configuration: one flat dataclass; defaults < TOML preset < ``--set key=value`` (unknown keys fail).

Presets live in the package (``gmcnn/configs/<name>.toml``); a path to any ``.toml`` file works too. The resolved
config is saved in every checkpoint, so ``--resume`` continues with the same settings (``--set`` may still
change things such as ``max_steps`` or ``num_workers``).
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from gmcnn.errors import UserError

CRITIC_CALLS = ("concat", "separate")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (the defaults are the paper's 256x256 rectangle recipe).

    Attributes are grouped: data, model, losses, optimisation, schedule, runtime, logging. See the presets in
    ``gmcnn/configs`` for worked examples.
    """

    # --- data
    data: str = ""  # training images: a folder (recursive) or a .txt file list
    val_data: str = ""  # validation images; empty = a hash split of `data` (val_fraction)
    val_fraction: float = 0.01
    val_images: int = 64  # at most this many validation images per evaluation
    image_size: int = 256
    crop_scale_min: float = 0.5  # random crop side = U(crop_scale_min, 1) x the image's short side
    # When `data` is a corpus built by `gmcnn corpus build` (a folder with manifest.csv and cache/): the share
    # of training crops taken from its photo-derived textures (the rest from its photos). 0.25 keeps the
    # photos, what validation measures, in the majority while every batch sees some texture detail.
    texture_fraction: float = 0.25
    mask_type: str = "rect"  # see gmcnn.data.masks.MASK_TYPES
    batch_size: int = 16
    num_workers: int = 2
    # --- model
    architecture: str = "gmcnn"  # the generator, by its name in gmcnn.models.registry
    cnum: int = 32  # generator width (32 = paper)
    pad_mode: str = "reflect"  # "reflect" (official, needs >= 196 px) or "zeros"
    fill: str = "zeros"  # "zeros" (official) or "smooth" (push-pull pre-fill + predicted correction)
    d_cnum: int = 64  # critic width
    local_critic: str = "crop"  # "crop" (bbox crop, rect masks) or "patch" (mask-weighted patch critic)
    spectral_norm: bool = False
    sn_order: str = "torch"  # power iteration: "torch" (u from v first) or "official" (v from u, official PyTorch)
    init: str = "official"  # new runs: "official" N(0, 0.02) or "scaled" (fan-in scaled, zero output conv)
    fusion_act: str = "elu"  # "elu" (official) or "leaky_relu": a fusion head that cannot saturate (training.health)
    # --- losses
    hole_loss: str = "confidence_l1"  # "confidence_l1" (paper), "confidence_l2", "l1" or "l2" (plain, over the hole)
    hole_weight: float = 1.4
    known_weight: float = 1.2
    conf_kernel: str = "box"
    conf_size: int = 65
    conf_sigma: float = 16.0  # pixels, gaussian kernel only
    conf_iterations: int = 7
    conf_padding: str = "zeros"  # "zeros" (TF release, ours) or "reflect" (official PyTorch layer)
    idmrf_weight: float = 0.05
    idmrf_max_locations: int = 4225  # 65x65, as the TF release
    idmrf_taps: str = "paper"  # "paper": relu3_2 + relu4_2; "official_pytorch": relu3_1 + relu4_1 (its indices 11/20)
    idmrf_centre: str = "target"  # "target" (per-channel, ours), "location" (official PyTorch), "batch" (TF)
    idmrf_reduction: str = "mean"  # over the batch: "mean" (ours, TF) or "sum" (official PyTorch)
    vgg_input: str = "mean_std"  # "mean_std" (ImageNet), "mean" (official PyTorch), "mean255" (TF release)
    vgg_weights: str = ""  # local VGG19 weights (torchvision layout, .safetensors or .pth)
    patch_mrf_weight: float = 0.0  # > 0: ID-MRF-style loss on image + Sobel patches in the hole (no VGG), both stages
    patch_mrf_locations: int = 512  # hole locations per sample and scale for it (pairwise cost is N^2)
    adv_weight: float = 0.001
    gan_loss: str = "wgan_gp"  # "wgan_gp" or "hinge"
    gp_weight: float = 10.0
    # How a critic update calls the critics: "concat" (once, on cat([real, fake(, interpolates)]): one spectral-norm
    # power iteration per update) or "separate" (fake, then real, then the interpolates: the official PyTorch
    # forward_D, whose power iteration advances once per call). Both are DDP-safe (gmcnn.training.build).
    critic_calls: str = "concat"
    # --- optimisation
    lr: float = 1e-4
    d_lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.9
    lr_schedule: str = "constant"  # "constant" or "cosine" (per stage, after warmup)
    warmup_steps: int = 0
    ema_decay: float = 0.0  # > 0: keep an exponential moving average of G (exported, sampled, validated)
    min_lr_ratio: float = 0.1  # cosine floor as a fraction of lr
    # --- health (gmcnn.training.health): all off by default and in the official presets
    grad_clip: float = 0.0  # > 0: clip G's gradient norm at this multiple of its running mean
    rollback_saturation: float = 0.0  # > 0: at this val_fusion_saturated, reload the last healthy checkpoint ...
    rollback_lr_factor: float = 0.5  # ... and continue with the generator's lr times this
    max_rollbacks: int = 3  # then stop (exit code 1) instead
    # --- schedule (a step = one generator update)
    pretrain_steps: int = 200_000
    max_steps: int = 500_000
    d_steps: int = 5  # critic updates per generator update in the finetune stage
    # --- runtime
    seed: int = 0
    device: str = "auto"  # "auto", "cpu", "cuda"
    threads: int = 0  # torch.set_num_threads; 0 = torch's default
    channels_last: bool = False
    bf16: bool = False  # bfloat16 autocast for the forward passes
    # --- logging and checkpoints
    log_every: int = 10
    checkpoint_every: int = 1000
    sample_every: int = 1000
    val_every: int = 5000
    keep_last: int = 3

    def __post_init__(self) -> None:
        from gmcnn.data.masks import MASK_TYPES  # local import: config parsing stays light
        from gmcnn.losses.idmrf import CENTRES, IDMRF_TAPS, REDUCTIONS
        from gmcnn.losses.reconstruction import HOLE_LOSSES, KERNELS, PADDINGS
        from gmcnn.models.discriminator import SN_ORDERS
        from gmcnn.models.gmcnn import FILLS, FUSION_ACTS
        from gmcnn.models.vgg import INPUT_NORMS

        choices = {
            "mask_type": MASK_TYPES,
            "pad_mode": ("reflect", "zeros"),
            "fill": FILLS,
            "init": ("official", "scaled"),
            "fusion_act": FUSION_ACTS,
            "hole_loss": HOLE_LOSSES,
            "local_critic": ("crop", "patch"),
            "gan_loss": ("wgan_gp", "hinge"),
            "critic_calls": CRITIC_CALLS,
            "conf_kernel": KERNELS,
            "conf_padding": PADDINGS,
            "sn_order": SN_ORDERS,
            "idmrf_taps": tuple(IDMRF_TAPS),
            "idmrf_centre": CENTRES,
            "idmrf_reduction": REDUCTIONS,
            "vgg_input": INPUT_NORMS,
            "lr_schedule": ("constant", "cosine"),
            "device": ("auto", "cpu", "cuda"),
        }
        for key, valid in choices.items():
            if getattr(self, key) not in valid:
                raise UserError(f"{key} must be one of {sorted(valid)}, got {getattr(self, key)!r}")
        positive = (
            "image_size", "batch_size", "cnum", "d_cnum", "conf_size", "conf_iterations", "d_steps", "log_every",
            "checkpoint_every", "sample_every", "val_every", "keep_last", "idmrf_max_locations", "patch_mrf_locations",
        )  # fmt: skip
        for key in positive:
            if getattr(self, key) < 1:
                raise UserError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.image_size % 16:
            raise UserError(f"image_size must be a multiple of 16 (critic strides), got {self.image_size}")
        if self.pad_mode == "reflect" and self.image_size < 196:
            raise UserError(
                f"pad_mode='reflect' needs image_size >= 196, got {self.image_size} (or set pad_mode=zeros)"
            )
        if self.grad_clip < 0 or (0 < self.grad_clip <= 1):
            raise UserError(f"grad_clip must be 0 (off) or > 1 (a multiple of the running mean), got {self.grad_clip}")
        if not 0 <= self.rollback_saturation <= 1 or not 0 < self.rollback_lr_factor <= 1:
            raise UserError("rollback_saturation must be in [0, 1] and rollback_lr_factor in (0, 1]")
        if not 0 <= self.ema_decay < 1:
            raise UserError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if not 0 <= self.texture_fraction <= 1:
            raise UserError(f"texture_fraction must be in [0, 1], got {self.texture_fraction}")
        if not 0 < self.crop_scale_min <= 1:
            raise UserError(f"crop_scale_min must be in (0, 1], got {self.crop_scale_min}")
        if self.max_steps < 0 or self.pretrain_steps < 0:
            raise UserError("max_steps and pretrain_steps must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a mapping; unknown keys are an error that lists the valid ones."""
        check_keys(data)
        return cls(**{k: coerce(k, v) for k, v in data.items()})

    def updated(self, **changes: Any) -> TrainConfig:
        check_keys(changes)
        return replace(self, **{k: coerce(k, v) for k, v in changes.items()})


def _field_types() -> dict[str, type]:
    return {f.name: type(f.default) for f in fields(TrainConfig)}


def check_keys(data: dict[str, Any]) -> None:
    valid = _field_types()
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise UserError(f"unknown training config key(s) {unknown}; valid keys are: {', '.join(sorted(valid))}")


def coerce(key: str, value: Any) -> Any:
    """Convert ``value`` (from TOML or a ``--set`` string) to the type of field ``key``."""
    kind = _field_types()[key]
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise UserError(f"{key} expects true/false, got {value!r}")
        try:
            if kind is int:
                number = float(text)  # accepts 1000, 1_000 and 1e3
                if not number.is_integer():
                    raise ValueError
                return int(number)
            return kind(text)
        except ValueError:
            raise UserError(f"{key} expects a {kind.__name__}, got {value!r}") from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UserError(f"{key} expects a {kind.__name__}, got {value!r}")
    return value


def _configs() -> Any:
    return resources.files("gmcnn") / "configs"


def preset_names() -> list[str]:
    """Names of the presets shipped in ``gmcnn/configs``."""
    return sorted(p.name[: -len(".toml")] for p in _configs().iterdir() if p.name.endswith(".toml"))


def load_preset(name_or_path: str) -> dict[str, Any]:
    """The key/values of a preset name (``gmcnn/configs/<name>.toml``) or of a ``.toml`` file path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.is_file():
        text = path.read_text()
    else:
        res = _configs() / f"{name_or_path}.toml"
        if not res.is_file():
            raise UserError(f"unknown preset {name_or_path!r}; valid presets are {preset_names()} or a .toml file path")
        text = res.read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"preset {name_or_path} is not valid TOML: {exc}") from None
    # Tables are only for grouping in the file; the config is flat. `extends = "preset"` starts from another one
    # (the per-release presets are their framework's preset plus a few keys).
    parent = data.pop("extends", None)
    flat: dict[str, Any] = load_preset(str(parent)) if parent else {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return flat


def parse_overrides(items: list[str]) -> dict[str, str]:
    """``["key=value", ...]`` -> dict (values still strings; :func:`coerce` converts them)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = value
    return out


def resolve_config(preset: str | None, overrides: dict[str, Any], *, base: TrainConfig | None = None) -> TrainConfig:
    """defaults (or ``base``, e.g. a checkpoint's config) < preset < overrides."""
    values: dict[str, Any] = (base or TrainConfig()).to_dict()
    if preset:
        preset_values = load_preset(preset)
        check_keys(preset_values)
        values.update(preset_values)
    check_keys(overrides)
    values.update(overrides)
    return TrainConfig.from_dict(values)


__all__ = ["CRITIC_CALLS", "TrainConfig", "coerce", "load_preset", "parse_overrides", "preset_names", "resolve_config"]
