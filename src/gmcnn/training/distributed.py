"""Process-group setup from the torchrun environment; the same code runs as one plain process.

``torchrun --nproc-per-node K -m gmcnn train ...`` sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; we then use
NCCL on CUDA and gloo on CPU. Rank 0 does all file I/O; every rank gets its own seed offset for the random
parts of training (masks, crops, GP interpolation), so ranks do not draw identical batches.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def pick_device(preference: str, local_rank: int = 0) -> torch.device:
    """``"auto"`` -> this rank's CUDA device when available, else CPU."""
    if preference == "cuda" or (preference == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ValueError("device='cuda' was requested but CUDA is not available")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def init(device: str = "auto") -> DistInfo:
    """Join the torchrun process group when launched by torchrun; otherwise a single process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local_rank)
    if world_size > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return DistInfo(rank=rank, local_rank=local_rank, world_size=world_size, device=dev)


def cleanup() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()


def all_finite(value: torch.Tensor, info: DistInfo) -> bool:
    """True when ``value`` is finite on every rank (so all ranks stop together on NaN/inf)."""
    flag = torch.isfinite(value.detach()).all().to(torch.float32).reshape(1)
    if info.distributed:
        flag = flag.to(info.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item() > 0)


def gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    """``[obj from rank 0, obj from rank 1, ...]`` on every rank."""
    if not info.distributed:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def weights_digest(*modules: torch.nn.Module) -> str:
    """sha256 of every parameter and buffer (state_dict order): equal on all ranks while DDP keeps them in sync."""
    h = hashlib.sha256()
    for module in modules:
        for key, value in module.state_dict().items():
            h.update(key.encode())
            h.update(value.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def rank_seed(seed: int, rank: int) -> int:
    """Per-rank seed for torch's global RNG (large odd stride keeps ranks' streams apart)."""
    return (seed * 1_000_003 + rank * 7919 + 1) % 2**63


__all__ = [
    "DistInfo",
    "all_finite",
    "barrier",
    "cleanup",
    "gather_objects",
    "init",
    "rank_seed",
    "weights_digest",
]
