"""Fixed random mixing of the projected D's backbone features (Projected GAN's CCM + CSM).

Sauer et al. 2021 found that a discriminator on pretrained features does better when the
features are first mixed by *random, fixed* convolutions: a 1x1 conv per tap mixes channels
(cross-channel mixing, CCM), and a top-down path adds each deeper, upsampled map into the
shallower one (cross-scale mixing, CSM), so every head sees both low-level and semantic
features and no head can lean on a few channels. The weights never train; they are drawn from
a fixed seed whenever a D is built, so every run and every resume mixes alike and a checkpoint
need not carry their 3.5M numbers (non-persistent buffers). The mixing stays differentiable with
respect to the features, so G's gradient passes through it.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MIXING_SEED = 0  # the random projections are part of the method, the same in every run


def _random_conv(generator: torch.Generator, c_in: int, c_out: int, k: int) -> torch.Tensor:
    """(c_out, c_in, k, k) weights, Kaiming-normal for a linear map: the mixed maps keep the
    features' scale instead of shrinking or blowing up with width."""
    return torch.randn(c_out, c_in, k, k, generator=generator) / math.sqrt(c_in * k * k)


class RandomFeatureMixing(nn.Module):
    """Input: a list of 4 maps (B, C_i, h_i, h_i), h_i halving from one tap to the next.
    Output: a list of 4 maps (B, widths[i], h_i, h_i); `widths` doubles per tap from `base`,
    as in Projected GAN (64, 128, 256, 512)."""

    def __init__(self, channels: list[int], base: int = 64):
        super().__init__()
        g = torch.Generator().manual_seed(MIXING_SEED)
        self.widths = [base * 2**i for i in range(len(channels))]
        for i, (c, w) in enumerate(zip(channels, self.widths)):
            self.register_buffer(f"ccm{i}", _random_conv(g, c, w, 1), persistent=False)  # channel mix at tap i
        for i in range(len(channels) - 1):
            # tap i+1's mixed map (wider, half the side) -> tap i's width, before upsampling
            deeper = _random_conv(g, self.widths[i + 1], self.widths[i], 1)
            self.register_buffer(f"csm{i}", deeper, persistent=False)
        for i, w in enumerate(self.widths):  # a 3x3 conv after the sum mixes neighbouring locations
            self.register_buffer(f"smooth{i}", _random_conv(g, w, w, 3), persistent=False)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        mixed = [F.conv2d(f, getattr(self, f"ccm{i}")) for i, f in enumerate(feats)]
        top_down = [None] * len(mixed)
        top_down[-1] = mixed[-1]
        for i in range(len(mixed) - 2, -1, -1):
            deeper = F.conv2d(top_down[i + 1], getattr(self, f"csm{i}"))  # (B, w_i, h_{i+1}, h_{i+1})
            deeper = F.interpolate(deeper, size=mixed[i].shape[-2:], mode="bilinear", align_corners=False)
            top_down[i] = mixed[i] + deeper  # (B, w_i, h_i, h_i)
        return [F.conv2d(m, getattr(self, f"smooth{i}"), padding=1) for i, m in enumerate(top_down)]
