"""Process-group setup from the torchrun environment; the same code runs as one plain process.

``torchrun --nproc-per-node K -m gmcnn train ...`` sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; we then use
NCCL on CUDA and gloo on CPU. Multi-node jobs (``--nnodes N --rdzv-backend c10d``) need nothing more: the
rendezvous sets the same variables. Rank 0 does all file I/O, including reading the checkpoint a run resumes
from (the others receive it by broadcast, so they need no access to the run directory). Every rank gets its
own seed offset for the random parts of training (masks, crops, GP interpolation), so ranks do not draw
identical batches.

Elastic restarts (``torchrun --max-restarts K``): when a worker dies, torchrun stops every worker and starts
them again; :func:`restarted` tells training to resume from the last checkpoint instead of starting over.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from gmcnn.errors import UserError


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
    """Join the torchrun process group when launched by torchrun; otherwise a single process.

    Calling it again (e.g. ``gmcnn train`` joins before reading the checkpoint, then the loop calls it) returns
    the same job; a second call asking for a device the group's backend cannot serve is refused.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local_rank)
    if world_size > 1:
        backend = "nccl" if dev.type == "cuda" else "gloo"
        if not dist.is_initialized():
            if dev.type == "cuda":
                torch.cuda.set_device(dev)
            dist.init_process_group(backend=backend)
        elif dist.get_backend() != backend:
            raise UserError(
                f"this job's process group uses {dist.get_backend()}, but device {device!r} needs {backend}; "
                f"pass the same --set device=... the run was started with"
            )
    return DistInfo(rank=rank, local_rank=local_rank, world_size=world_size, device=dev)


def restarted(info: DistInfo) -> bool:
    """True when torchrun has restarted this job's workers after a failure (on any rank).

    Every agent counts its own restarts (``TORCHELASTIC_RESTART_COUNT``), and only the one whose worker
    failed counts this one: the other agents restart because the rendezvous reopened, with their count
    unchanged. So the ranks compare notes.
    """
    mine = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    return max(gather_objects(mine, info)) > 0


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


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` on every rank (others pass anything, e.g. None). Tensors arrive on the CPU."""
    if not info.distributed:
        return obj
    box = [obj if info.is_main else None]
    dist.broadcast_object_list(box, src=0, device=info.device if info.device.type == "cuda" else None)
    return box[0]


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
    "broadcast_object",
    "cleanup",
    "gather_objects",
    "init",
    "rank_seed",
    "restarted",
    "weights_digest",
]
