"""Differentiable augmentation (DiffAugment, Zhao et al. 2020): apply the same family of random
transforms to real and fake images right before D, so D cannot memorise a handful of images and
gradients still reach G through the transforms. Every op works on (B, 3, H, W) in [-1, 1] and
draws from the run's own generator (on x's device), so concurrent runs stay reproducible. In a
data-parallel run, x is this process's rows of the global batch: the draws are made for the whole
batch and sliced (tgan.distributed.Rows), so every row gets what one process would give it."""
from __future__ import annotations

import torch

from .distributed import Rows


def _rand(x: torch.Tensor, gen, part: Rows, *tail: int) -> torch.Tensor:
    """Uniform [0, 1) draws of shape (part.size, *tail): drawn for the whole batch, sliced to x's part."""
    return part.take(torch.rand(part.total, *tail, device=x.device, dtype=x.dtype, generator=gen))


def _randint(x: torch.Tensor, gen, part: Rows, low: int, high: int, *tail: int) -> torch.Tensor:
    return part.take(torch.randint(low, high, (part.total, *tail), device=x.device, generator=gen))


def _brightness(x: torch.Tensor, gen: torch.Generator | None, part: Rows) -> torch.Tensor:
    return x + (_rand(x, gen, part, 1, 1, 1) - 0.5)


def _saturation(x: torch.Tensor, gen: torch.Generator | None, part: Rows) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)  # (B, 1, H, W) grey
    return (x - mean) * (_rand(x, gen, part, 1, 1, 1) * 2) + mean


def _contrast(x: torch.Tensor, gen: torch.Generator | None, part: Rows) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, gen, part, 1, 1, 1) + 0.5) + mean


def _translation(x: torch.Tensor, gen: torch.Generator | None, part: Rows,
                 ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio*size pixels, filling with zeros (mid-grey)."""
    b, _, h, w = x.shape
    max_dy, max_dx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = _randint(x, gen, part, -max_dy, max_dy + 1, 1, 1)
    dx = _randint(x, gen, part, -max_dx, max_dx + 1, 1, 1)
    rows = torch.arange(h, device=x.device).view(1, h, 1) - dy  # (B, H, 1) source row per pixel
    cols = torch.arange(w, device=x.device).view(1, 1, w) - dx  # (B, 1, W)
    valid = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)  # (B, H, W)
    flat = (rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)).view(b, 1, h * w).expand(-1, x.size(1), -1)
    out = x.flatten(2).gather(2, flat).view_as(x)
    return out * valid.unsqueeze(1)


def _cutout(x: torch.Tensor, gen: torch.Generator | None, part: Rows,
            ratio: float = 0.5) -> torch.Tensor:
    """Zero one random square of side ratio*size per image."""
    _, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = _randint(x, gen, part, 0, h + (1 - ch % 2), 1, 1)
    cx = _randint(x, gen, part, 0, w + (1 - cw % 2), 1, 1)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = ((rows - cy).abs() <= ch // 2) & ((cols - cx).abs() <= cw // 2)  # (B, H, W)
    return x * (~inside).unsqueeze(1)


OPS = {  # in the order DiffAugment applies them
    "color": [_brightness, _saturation, _contrast],
    "translation": [_translation],
    "cutout": [_cutout],
}


FULL_POLICY = "color,translation,cutout"  # DiffAugment's best for few shots


def parse_policy(policy: str) -> list[str]:
    """A policy -> its op groups in DiffAugment's order: any comma-separated choice of color,
    translation and cutout ("color,translation,cutout" is the paper's best for few shots), or
    "none". Raises ValueError naming the valid parts."""
    parts = [p.strip() for p in policy.split(",") if p.strip()]
    if parts == ["none"]:
        return []
    unknown = [p for p in parts if p not in OPS]
    if unknown or not parts:
        raise ValueError(f"unknown augmentation policy {policy!r}: give a comma-separated choice of "
                         f"{', '.join(OPS)} (e.g. color,translation,cutout), or none")
    return [group for group in OPS if group in parts]


def diff_augment(x: torch.Tensor, policy: str = FULL_POLICY,
                 generator: torch.Generator | None = None, rows: Rows | None = None) -> torch.Tensor:
    """rows: which rows of the global batch x is (None: x is the whole batch)."""
    rows = rows or Rows.whole(x.size(0))
    for group in parse_policy(policy):
        for op in OPS[group]:
            x = op(x, generator, rows)
    return x.contiguous()
