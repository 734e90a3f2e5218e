"""Registry of known weights: the embedded default model and the official releases.

Names resolve to a local path (never a download): the embedded model lives inside the package; official
weights are fetched only when the user asks (``gmcnn models download NAME``, :mod:`gmcnn.weights.install`)
from the authors' published links recorded here (:class:`Download`), or passed as a path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gmcnn.weights.contract import OFFICIAL_DETAIL, Contract

PACKAGE_WEIGHTS = Path(__file__).parent  # the embedded model files live in ./default/


@dataclass(frozen=True)
class Download:
    """Where the authors publish a release: a Google Drive file, as linked from the official README.

    The TF releases are zip archives of their checkpoint folder (``places2_512x680_freeform/`` ...); the CelebA-HQ
    512 link serves one archive for both 512 releases. The authors publish no checksums, so ``size`` and
    ``sha256`` stay ``None`` until someone records them; the archive's own CRCs and the checkpoint's CRC32Cs are
    checked on every download all the same.

    Attributes:
        file_id: the Drive file id (``https://drive.google.com/file/d/<file_id>/view``).
        size: bytes of the published file, when recorded.
        sha256: hex digest of the published file, when recorded.
    """

    file_id: str
    size: int | None = None
    sha256: str | None = None

    @property
    def page(self) -> str:
        """The link as the official README gives it."""
        return f"https://drive.google.com/file/d/{self.file_id}/view"


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
        architecture: :mod:`gmcnn.models.registry` name: ``"gmcnn"`` (PyTorch layout) or ``"gmcnn_tf"`` (TF).
        cnum: the release's generator width (0 when not an official release).
        folder: the release's folder name (how a checkpoint folder is recognised; where a download puts it).
        download: the authors' published link, for ``gmcnn models download``.
        preset: training preset (``gmcnn/configs/<preset>.toml``) reproducing the release's official recipe.
    """

    name: str
    description: str
    path: Path | None = None
    source: str = ""
    contract: Contract | None = None
    architecture: str = "gmcnn"
    cnum: int = 0
    folder: str = ""
    preset: str = ""
    download: Download | None = None


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
        "official PyTorch GMCNN (CelebA-HQ 256, rectangular holes): a *_net_GM.pth in the folder 'celebahq256_rect'",
        source="https://github.com/shepnerd/inpainting_gmcnn (pytorch release, *_net_GM.pth)",
        contract=Contract(
            size_multiple=4,
            min_size=196,
            trained_size=256,
            mask_type="rect",
            dataset="CelebA-HQ",
            detail=OFFICIAL_DETAIL,
        ),
        cnum=32,
        folder="celebahq256_rect",  # the official pytorch/scripts/test.sh loads the newest *.pth of this folder
        preset="official_celebahq_256_rect",
        download=Download("1lx0BHKQ-GsbFu60ocYm4wK1HVfv7uean"),
    )
)

_TF_SOURCE = "https://github.com/shepnerd/inpainting_gmcnn (tensorflow release, Google Drive links in its README)"
# The five TensorFlow releases: (name, released folder, data set, (height, width), mask type, cnum, Drive file id).
# The file ids are the official README's links (paris_streetview, CelebA-HQ_256, CelebA-HQ_512, Places2).
_TF_RELEASES = (
    ("official-places2-512x680-free", "places2_512x680_freeform", "Places2", (512, 680), "stroke", 32,
     "1aakVS0CPML_Qg-PuXGE1Xaql96hNEKOU"),
    ("official-paris-256-rect", "paris-streetview_256x256_rect", "Paris StreetView", (256, 256), "rect", 32,
     "1wgesxSUfKGyPwGQMw6IXZ9GLeZ7YNQxu"),
    ("official-celebahq-256-rect-tf", "celebahq_256x256_rect", "CelebA-HQ", (256, 256), "rect", 32,
     "1zvMMzMCXNxzbYJ_6SEwt3hUShD3Xnz9W"),
    ("official-celebahq-512-rect", "celebahq_512x512_rect", "CelebA-HQ", (512, 512), "rect", 64,
     "1cp5e8XyXmHNZWj_piHH4eg4HFi3ICl0l"),
    ("official-celebahq-512-free", "celebahq_512x512_freeform", "CelebA-HQ", (512, 512), "stroke", 64,
     "1cp5e8XyXmHNZWj_piHH4eg4HFi3ICl0l"),
)  # fmt: skip
for _name, _folder, _data, _shape, _mask, _cnum, _file_id in _TF_RELEASES:
    register(
        WeightsEntry(
            _name,
            f"official TensorFlow GMCNN ({_data} {_shape[0]}x{_shape[1]}, {_mask} holes, cnum {_cnum}): the "
            f"'{_folder}' checkpoint folder",
            source=_TF_SOURCE,
            # process_size: the official test pipeline runs a photo of the release's size whole, at full size
            contract=Contract(channel_order="BGR", size_multiple=4, min_size=4, trained_size=min(_shape),
                              mask_type=_mask, dataset=_data, process_size=max(512, *_shape),
                              detail=OFFICIAL_DETAIL),
            architecture="gmcnn_tf",
            cnum=_cnum,
            folder=_folder,
            preset=f"official_{_name.removeprefix('official-').replace('-', '_')}",
            download=Download(_file_id),
        )
    )  # fmt: skip


def releases() -> list[WeightsEntry]:
    """The six official releases (one PyTorch, five TensorFlow)."""
    return [e for e in _REGISTRY.values() if e.name.startswith("official-")]


def match_tf_release(prefix: Path, cnum: int) -> WeightsEntry | None:
    """The TF release whose folder name appears in ``prefix``'s path and whose width is ``cnum``, if any."""
    parts = {p.lower() for p in prefix.parts}
    for entry in releases():
        if entry.architecture == "gmcnn_tf" and entry.folder in parts and entry.cnum == cnum:
            return entry
    return None
