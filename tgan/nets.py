"""Generator and discriminator for 32, 64 and 128 px RGB images.

G = a small z -> w mapping MLP (so truncation and PCA directions have a meaningful space, as in
StyleGAN/GANSpace) followed by a DCGAN-style synthesis stack of transposed convolutions.
D = ordered stride-2 blocks with spectral norm, then a 4x4 head; `D.blocks[:k]` are the
"lower layers" that FreezeD freezes.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .config import ModelConfig


def _g_channels(cfg: ModelConfig, side: int) -> int:
    """Generator channels at a feature map of `side` pixels: wide at 4x4, g_width at the top."""
    return cfg.g_width * max(1, min(8, (cfg.resolution // 2) // side))


def _d_channels(cfg: ModelConfig, block: int) -> int:
    """Discriminator channels after block `block`: d_width, doubling, capped at 8x."""
    return cfg.d_width * min(8, 2**block)


class Mapping(nn.Module):
    """z -> w. A short MLP; the latent z is normalised first so its scale never matters."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        layers: list[nn.Module] = []
        dim = cfg.z_dim
        for _ in range(cfg.mapping_layers):
            layers += [nn.Linear(dim, cfg.w_dim), nn.LeakyReLU(0.2)]
            dim = cfg.w_dim
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)  # (B, z_dim) on the sphere
        return self.net(z)  # (B, w_dim)


class PixelNorm(nn.Module):
    """Normalise each pixel's feature vector (ProGAN): no batch statistics, so train = eval."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


def _norm(kind: str, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if kind == "batch" else PixelNorm()


class UpBlock(nn.Module):
    """Double the side: transposed conv 4x4/2 + normalisation + ReLU (the DCGAN block)."""

    def __init__(self, c_in: int, c_out: int, norm: str = "batch"):
        super().__init__()
        self.conv = nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=norm != "batch")
        self.norm = _norm(norm, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.norm(self.conv(x)))


class Generator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.mapping = Mapping(cfg)
        c4 = _g_channels(cfg, 4)
        self.stem = nn.Sequential(nn.Linear(cfg.w_dim, c4 * 16, bias=False))
        self.stem_norm = _norm(cfg.g_norm, c4)
        sides = [4 * 2**i for i in range(cfg.num_stages + 1)]  # 4, 8, ..., resolution
        self.blocks = nn.ModuleList(
            UpBlock(_g_channels(cfg, a), _g_channels(cfg, b), cfg.g_norm) for a, b in zip(sides, sides[1:])
        )
        self.to_rgb = nn.Conv2d(_g_channels(cfg, cfg.resolution), 3, 3, padding=1)

    def synthesis(self, w: torch.Tensor, return_features: bool = False):
        """w (B, w_dim) -> image (B, 3, R, R) in [-1, 1]; optionally every block's activation."""
        x = self.stem(w).view(len(w), -1, 4, 4)  # (B, c4, 4, 4)
        x = torch.relu(self.stem_norm(x))
        features = []
        for block in self.blocks:
            x = block(x)  # side doubles each block
            features.append(x)
        img = torch.tanh(self.to_rgb(x))
        return (img, features) if return_features else img

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.synthesis(self.mapping(z))


class DownBlock(nn.Module):
    """Halve the side: conv 4x4/2 (spectral-normalised, or followed by BatchNorm) + LeakyReLU."""

    def __init__(self, c_in: int, c_out: int, norm: str = "spectral", first: bool = False):
        super().__init__()
        conv = nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=norm != "batch")
        self.conv = spectral_norm(conv) if norm == "spectral" else conv
        # DCGAN leaves the first block unnormalised so the pixel statistics reach D as they are.
        self.norm = nn.BatchNorm2d(c_out) if norm == "batch" and not first else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.leaky_relu(self.norm(self.conv(x)), 0.2)


class Discriminator(nn.Module):
    """Ordered blocks from pixels (block 0) to 4x4, then a head giving one logit per image."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        n = cfg.num_stages  # blocks needed to go from R to 4
        chans = [3] + [_d_channels(cfg, i) for i in range(n)]
        self.blocks = nn.ModuleList(DownBlock(a, b, cfg.d_norm, first=i == 0)
                                    for i, (a, b) in enumerate(zip(chans, chans[1:])))
        head = nn.Conv2d(chans[-1], 1, 4)
        self.head = spectral_norm(head) if cfg.d_norm == "spectral" else head  # (B, C, 4, 4) -> (B, 1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(x).flatten()  # (B,)


def count_params(module: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
