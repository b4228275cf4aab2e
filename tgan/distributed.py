"""Data-parallel pretraining over torch.distributed, as launched by `torchrun`.

Every process (rank) holds the same G and D and trains on its own rows of each global batch.
After each backward pass the gradients are averaged over the ranks with one all-reduce of a flat
buffer (StyleGAN2-ADA does the same rather than wrapping the nets in DDP: the R1/R2 penalties
need a double backward, which DDP's hooks do not support). Each rank's loss, penalties included,
is a mean over its rows, so the averaged gradient is the gradient of the global-batch mean.

The random draws (latents, which images, flips, augmentation) come from the run's one stream,
made for the whole global batch on every rank and sliced to the rank's rows (`Rows`). So N
processes train exactly the run one process would with the same global batch, up to the order of
floating-point sums, and a checkpoint resumes at any world size. Rank 0 alone keeps G_ema,
writes files and reports progress.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Rows:
    """Which rows of the global batch this process holds: [start, start + size) of total."""

    start: int
    size: int
    total: int

    @staticmethod
    def whole(batch: int) -> "Rows":
        return Rows(0, batch, batch)

    def take(self, drawn: torch.Tensor) -> torch.Tensor:
        """This process's rows of a tensor drawn for the whole batch (rows first)."""
        return drawn if self.size == self.total else drawn[self.start:self.start + self.size]


@dataclass(frozen=True)
class World:
    """The processes training one run: rank r of size, with local_rank picking its GPU."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def rows(self, global_batch: int) -> Rows:
        if global_batch % self.size:
            raise ValueError(f"the batch ({global_batch}) must divide evenly over {self.size} processes; "
                             f"use a multiple of {self.size}")
        size = global_batch // self.size
        return Rows(self.rank * size, size, global_batch)

    def device(self) -> torch.device:
        """This rank's device: its own GPU when there are GPUs, else the CPU."""
        if torch.cuda.is_available():
            return torch.device("cuda", self.local_rank % torch.cuda.device_count())
        return torch.device("cpu")

    # -- collectives (no-ops in a world of one)
    def average_gradients(self, params: list[nn.Parameter]) -> None:
        """Replace each gradient by its mean over the ranks. Every rank runs the same graph, so
        the same parameters have a gradient on all of them; those without one are left alone."""
        params = [p for p in params if p.grad is not None]
        if self.size == 1 or not params:
            return
        flat = torch.cat([p.grad.reshape(-1) for p in params])  # (sum of numels,): one collective per update
        dist.all_reduce(flat)
        flat /= self.size
        offset = 0
        for p in params:
            n = p.grad.numel()
            p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
            offset += n

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank when it is True on any: all ranks stop, or roll back, together."""
        if self.size == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(t)
        return bool(t.item() > 0)

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        """The elementwise sum of `t` over the ranks (a copy)."""
        if self.size == 1:
            return t
        t = t.clone()
        dist.all_reduce(t)
        return t

    def broadcast(self, modules: list[nn.Module]) -> None:
        """Rank 0's weights and buffers to every rank (they start equal by seed; this makes sure)."""
        if self.size == 1:
            return
        for module in modules:
            for t in [*module.parameters(), *module.buffers()]:
                dist.broadcast(t.data, src=0)


def leave(world: World, timeout_s: float = 120.0) -> None:
    """End this process's part of a run: wait for every rank (bounded, so a rank that died cannot
    hang the others), then close the process group. Without it, a rank that exits first closes its
    gloo connections under a peer still finishing, which then aborts (SIGABRT)."""
    if world.size == 1 or not dist.is_initialized():
        return
    try:
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=timedelta(seconds=timeout_s))
        else:
            dist.barrier()
    finally:
        dist.destroy_process_group()


def world_from_env() -> World:
    """The world torchrun describes in the environment (RANK, WORLD_SIZE, LOCAL_RANK); joins its
    process group (nccl on GPUs, gloo on CPUs). Without torchrun: a world of one."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    world = World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(world.device())
        dist.init_process_group(backend)
    return world


def sync_batchnorm(module: nn.Module, world: World, device: torch.device) -> nn.Module:
    """BatchNorm statistics over the global batch, where torch supports it (SyncBatchNorm runs on
    GPUs only; on CPUs each rank normalises over its own rows, which the README says)."""
    if world.size > 1 and device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return module
