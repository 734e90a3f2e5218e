"""Official PyTorch checkpoints: read safely, keys remapped in one place, a typed contract attached."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gmcnn.errors import UserError
from gmcnn.models.gmcnn import GMCNN, GMCNNConfig
from gmcnn.weights.official_pth import load_official, official_to_ours


def test_official_checkpoint_in_official_layout_loads(tmp_path: Path) -> None:
    """A file built exactly like the official release (plain state dict, maybe DataParallel prefixes)."""
    torch.manual_seed(0)
    official = GMCNN(GMCNNConfig(cnum=32))
    state = {f"module.{k}": v.clone() for k, v in official.state_dict().items()}
    path = tmp_path / "20_net_GM.pth"
    torch.save(state, path)
    g = load_official(path)
    assert g.config.cnum == 32
    assert torch.equal(g.EB3[17].weight, official.EB3[17].weight)


def test_official_loader_refuses_wrong_files(tmp_path: Path) -> None:
    bad = tmp_path / "x.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(UserError, match="EB1.0.weight"):
        load_official(bad)
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(UserError, match="cannot read"):
        load_official(tmp_path / "junk.pth")

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (print, ("pwned",))

    torch.save({"EB1.0.weight": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(UserError, match="weights_only"):
        load_official(tmp_path / "evil.pth")


def test_nested_official_dicts() -> None:
    inner = {"EB1.0.weight": torch.zeros(1)}
    assert set(official_to_ours({"netG": inner})) == {"EB1.0.weight"}


def test_official_pth_gets_the_release_contract(tmp_path: Path) -> None:
    """/api/v1/health shows this contract: official weights never come with an empty one."""
    from gmcnn.weights import load_weights

    path = tmp_path / "10_net_GM.pth"
    with torch.device("meta"):
        keys = GMCNN(GMCNNConfig(cnum=32)).state_dict()
    torch.save({k: torch.zeros(v.shape) for k, v in keys.items()}, path)  # the release's width
    w = load_weights(path)
    assert w.contract.trained_size == 256 and w.contract.mask_type == "rect" and w.contract.dataset == "CelebA-HQ"
    assert w.meta["contract"]["mask_polarity"] == "1=hole" and w.generator.config.cnum == 32


def test_official_pth_of_another_width_claims_no_training_facts(tmp_path: Path) -> None:
    """Issue 14: not every *.pth in the official layout is the CelebA-HQ release."""
    from gmcnn.weights import load_weights

    path = tmp_path / "10_net_GM.pth"
    torch.save(GMCNN(GMCNNConfig(cnum=4)).state_dict(), path)
    w = load_weights(path)
    assert w.contract.dataset == "" and w.contract.mask_type == ""
    assert w.meta["contract"]["mask_polarity"] == "1=hole" and w.contract.min_size == 196
