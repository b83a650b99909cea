"""Multi-process training with the standard engine: under `torchrun` (WORLD_SIZE > 1) each process trains on its
share of the data (DistributedSampler), DistributedDataParallel averages the gradients, metrics are summed across
ranks, and only rank 0 writes files or prints."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import torch
import torch.distributed as dist


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def sum(self, values: list[float], device: torch.device) -> list[float]:
        """Element-wise sums across processes (a no-op alone)."""
        if not self.active:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return t.tolist()

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def close(self) -> None:
        if self.active and dist.is_initialized():
            dist.destroy_process_group()


def quiet_unless_main(say: Callable[[str], None]) -> Callable[[str], None]:
    """`say` in rank 0 (or a process alone), silence in the others, from the start: torchrun sets RANK before the
    process group is set up."""
    return say if int(os.environ.get("RANK", "0")) == 0 else (lambda s: None)


def setup(device: torch.device) -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)
    return Dist(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=int(os.environ.get("LOCAL_RANK", 0)))
