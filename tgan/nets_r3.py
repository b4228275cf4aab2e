"""The "r3gan" network family: a modern GAN baseline after Huang et al. (NeurIPS 2024, R3GAN).

What makes it modern, compared with the DCGAN family in nets.py:
- residual blocks (1x1 expand -> grouped 3x3 -> 1x1 project) with no normalisation layers, so
  nothing depends on batch statistics (a 10-image batch cannot skew them);
- a fix-up style initialisation: each block's last conv starts at zero (the block is the
  identity) and the others are scaled by the number of blocks, so a deep stack starts stable;
- bilinear upsampling in G and average-pool downsampling in D instead of (transposed) strided
  convolutions, which avoids checkerboard artefacts;
- a learned latent space: z -> normalise -> MLP -> w, as in StyleGAN, so truncation toward the
  mean w gives a typical image instead of the zero vector.
It is trained with the regularised relativistic loss (RpGAN + R1 + R2) in losses.py.

Both nets keep the interface the strategies use: G.mapping, G.stem (first layer, for PCA),
G.synthesis(w, return_features), and D.blocks (ordered from pixels up, for FreezeD).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import nets
from .config import ModelConfig

LEAK = 0.2
ACT_GAIN = math.sqrt(2 / (1 + LEAK**2))  # keeps the variance through a leaky ReLU
GROUP_CHANNELS = 16  # channels per group in the grouped 3x3 conv (R3GAN's "cardinality")
EXPANSION = 2  # inverted-bottleneck expansion inside each residual block
WIDTH_CAP = 16  # stage widths double per halving of the side, up to WIDTH_CAP x the full-resolution width


def _init(layer: nn.Module, gain: float) -> nn.Module:
    """Variance-preserving (He/MSR) init scaled by `gain`; gain 0 gives an all-zero layer."""
    fan_in = layer.weight[0].numel()
    nn.init.normal_(layer.weight, 0.0, gain / math.sqrt(fan_in))
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def _g_width(cfg: ModelConfig, side: int) -> int:
    """G channels at a `side` px stage: g_width at full resolution, doubling per halving, capped at 8x."""
    return cfg.g_width * max(1, min(WIDTH_CAP, cfg.resolution // side))


def _d_width(cfg: ModelConfig, side: int) -> int:
    return cfg.d_width * max(1, min(WIDTH_CAP, cfg.resolution // side))


class ResidualBlock(nn.Module):
    """x + f(x), f = 1x1 (expand) -> act -> grouped 3x3 -> act -> 1x1 (project, zero-initialised)."""

    def __init__(self, channels: int, num_blocks: int):
        super().__init__()
        wide = channels * EXPANSION
        # Fix-up scaling: with L residual blocks of 3 layers, scale the inner gains by L^(-1/4).
        gain = ACT_GAIN * num_blocks ** (-1 / 4)
        self.expand = _init(nn.Conv2d(channels, wide, 1), gain)
        self.spatial = _init(nn.Conv2d(wide, wide, 3, padding=1, groups=max(1, wide // GROUP_CHANNELS)), gain)
        self.project = _init(nn.Conv2d(wide, channels, 1, bias=False), 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.leaky_relu(self.expand(x), LEAK)
        y = F.leaky_relu(self.spatial(y), LEAK)
        return x + self.project(y)


class Mapping(nets.Mapping):
    """z -> w as in nets.py (normalise z, then leaky-ReLU layers), with this family's init."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                _init(layer, ACT_GAIN)


class GStage(nn.Module):
    """One resolution of G: (upsample 2x + 1x1 to the new width) then residual blocks."""

    def __init__(self, c_in: int, c_out: int, num_blocks: int, total_blocks: int):
        super().__init__()
        self.to_width = _init(nn.Conv2d(c_in, c_out, 1, bias=False), 1.0) if c_in != c_out else nn.Identity()
        self.blocks = nn.Sequential(*(ResidualBlock(c_out, total_blocks) for _ in range(num_blocks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(self.to_width(x), scale_factor=2, mode="bilinear", align_corners=False)
        return self.blocks(x)


class Generator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.mapping = Mapping(cfg)
        sides = [4 * 2**i for i in range(cfg.num_stages + 1)]  # 4, 8, ..., resolution
        total = cfg.blocks_per_stage * len(sides)
        c4 = _g_width(cfg, 4)
        # A learned 4x4 basis, each channel scaled by a linear function of w (R3GAN's generative basis).
        self.stem = _init(nn.Linear(cfg.w_dim, c4, bias=False), 1.0)
        self.basis = nn.Parameter(torch.randn(c4, 4, 4))
        self.stem_blocks = nn.Sequential(*(ResidualBlock(c4, total) for _ in range(cfg.blocks_per_stage)))
        self.blocks = nn.ModuleList(
            GStage(_g_width(cfg, a), _g_width(cfg, b), cfg.blocks_per_stage, total) for a, b in zip(sides, sides[1:]))
        self.to_rgb = _init(nn.Conv2d(_g_width(cfg, cfg.resolution), 3, 1), 1.0)

    def synthesis(self, w: torch.Tensor, return_features: bool = False):
        """w (B, w_dim) -> image (B, 3, R, R), roughly in [-1, 1]; optionally each stage's output."""
        x = self.basis.unsqueeze(0) * self.stem(w).view(len(w), -1, 1, 1)  # (B, c4, 4, 4)
        x = self.stem_blocks(x)
        features = []
        for stage in self.blocks:
            x = stage(x)  # side doubles each stage
            features.append(x)
        img = self.to_rgb(x)  # linear output, as in R3GAN; samplers clamp to [-1, 1]
        return (img, features) if return_features else img

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.synthesis(self.mapping(z))


class DStage(nn.Module):
    """One resolution of D: residual blocks, then average-pool 2x and 1x1 to the new width."""

    def __init__(self, c_in: int, c_out: int, num_blocks: int, total_blocks: int, from_rgb: bool = False):
        super().__init__()
        # The first stage owns D's 1x1 from-RGB layer, so freezing block 0 freezes the pixel input too.
        self.from_rgb = _init(nn.Conv2d(3, c_in, 1), 1.0) if from_rgb else nn.Identity()
        self.blocks = nn.Sequential(*(ResidualBlock(c_in, total_blocks) for _ in range(num_blocks)))
        self.to_width = _init(nn.Conv2d(c_in, c_out, 1, bias=False), 1.0) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.from_rgb(x))
        return self.to_width(F.avg_pool2d(x, 2))


class Discriminator(nn.Module):
    """Ordered stages from pixels (block 0) down to 4x4, then a 4x4 depthwise basis and a linear logit."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        sides = [cfg.resolution // 2**i for i in range(cfg.num_stages + 1)]  # R, R/2, ..., 4
        total = cfg.blocks_per_stage * len(sides)
        self.blocks = nn.ModuleList(
            DStage(_d_width(cfg, a), _d_width(cfg, b), cfg.blocks_per_stage, total, from_rgb=i == 0)
            for i, (a, b) in enumerate(zip(sides, sides[1:])))
        c4 = _d_width(cfg, 4)
        self.final_blocks = nn.Sequential(*(ResidualBlock(c4, total) for _ in range(cfg.blocks_per_stage)))
        self.basis = _init(nn.Conv2d(c4, c4, 4, groups=c4, bias=False), 1.0)  # (B, c4, 4, 4) -> (B, c4, 1, 1)
        self.head = _init(nn.Linear(c4, 1), 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.blocks:
            x = stage(x)
        x = self.basis(self.final_blocks(x)).flatten(1)  # (B, c4)
        return self.head(x).flatten()  # (B,)
