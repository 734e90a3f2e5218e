"""Registry of known weights: the embedded default model and the official releases.

Names resolve to a local path (never a download): the embedded model lives inside the package; official
weights must be fetched by the user, then passed as a path (their sha256 is checked when we know it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gmcnn.weights.contract import Contract

PACKAGE_WEIGHTS = Path(__file__).parent  # the embedded model files live in ./default/


@dataclass(frozen=True)
class WeightsEntry:
    """What a name stands for.

    Attributes:
        name: registry key, e.g. ``"default"``.
        description: one line for listings.
        path: local path (inside the package) or ``None`` when the user must supply the file.
        source: where a user can get the file themselves (informational, never fetched).
        contract: how the weights expect to be fed, for files that do not carry it (official releases);
            exports carry their own in their JSON.
    """

    name: str
    description: str
    path: Path | None = None
    source: str = ""
    contract: Contract | None = None


_REGISTRY: dict[str, WeightsEntry] = {}


def register(entry: WeightsEntry) -> WeightsEntry:
    """Add an entry; a second entry under the same name is refused."""
    if entry.name in _REGISTRY:
        raise ValueError(f"weights {entry.name!r} are already registered")
    _REGISTRY[entry.name] = entry
    return entry


def get(name: str) -> WeightsEntry:
    """Look a name up; unknown names fail with the list of known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown weights {name!r}: known names are {sorted(_REGISTRY)}, or pass a path to an export folder, "
            "a run directory or an official *_net_GM.pth file"
        ) from None


def names() -> list[str]:
    """Every registered name, sorted."""
    return sorted(_REGISTRY)


register(
    WeightsEntry(
        "default",
        "embedded GMCNN trained on CPU on photos from Debian packages (see MODEL_CARD.md)",
        path=PACKAGE_WEIGHTS / "default",
    )
)
register(
    WeightsEntry(
        "official-celebahq-256-rect",
        "official PyTorch GMCNN (CelebA-HQ 256, rectangular holes); download it yourself and pass the .pth path",
        source="https://github.com/shepnerd/inpainting_gmcnn (pytorch release, *_net_GM.pth)",
        contract=Contract(size_multiple=4, min_size=196, trained_size=256, mask_type="rect", dataset="CelebA-HQ"),
    )
)
