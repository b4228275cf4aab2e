"""Putting an image of one's own into a model: find the latent w whose image matches it.

As StyleGAN2-ADA's projector does, optimise w with Adam; here the loss is pixel MSE plus a
perceptual distance in the random-CNN features (tgan.random_features, differentiable, no weights
to download). The start is the best of a few random w by that loss (not the mean w: without a
mapping network the mean is the zero vector, whose image is blank). Yields ProjectionStep events
and ends with Projected; `stop` (anything with is_set) ends early with the best w so far."""
from __future__ import annotations

import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from .events import Projected, ProjectionStep
from .random_features import RandomCNNFeatures

STARTS = 64  # random w tried as the starting point
PERCEPTUAL_WEIGHT = 0.1


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """dB between two images in [-1, 1] (peak-to-peak 2)."""
    mse = float(F.mse_loss(a.float().clamp(-1, 1), b.float().clamp(-1, 1)))
    return float("inf") if mse == 0 else 10 * math.log10(4.0 / mse)


class _Loss:
    def __init__(self, target: torch.Tensor, device: torch.device):
        self.features = RandomCNNFeatures(device)
        self.target = target.to(device).unsqueeze(0)  # (1, 3, R, R)
        with torch.no_grad():
            self.target_maps = self.features.activations(self.target)

    def perceptual(self, images: torch.Tensor) -> torch.Tensor:
        """(B,) mean squared difference of each stage's maps, each stage normalised by the target's scale."""
        total = 0.0
        for maps, ref in zip(self.features.activations(images), self.target_maps):
            total = total + (maps - ref).pow(2).mean(dim=(1, 2, 3)) / ref.pow(2).mean().clamp_min(1e-8)
        return total / len(self.target_maps)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        pixels = (images - self.target).pow(2).mean(dim=(1, 2, 3))  # (B,)
        return pixels + PERCEPTUAL_WEIGHT * self.perceptual(images)


def project(G, target: torch.Tensor, steps: int = 300, lr: float = 0.1, seed: int = 0,
            stop=None) -> Iterator[ProjectionStep | Projected]:
    """target: (3, R, R) in [-1, 1] at G's resolution."""
    device = next(G.parameters()).device
    if target.shape != (3, G.cfg.resolution, G.cfg.resolution):
        raise ValueError(f"the image is {tuple(target.shape)}; this model needs (3, {G.cfg.resolution}, "
                         f"{G.cfg.resolution})")
    G.eval().requires_grad_(False)
    loss_of = _Loss(target, device)
    with torch.no_grad():
        z = torch.randn(STARTS, G.cfg.z_dim, generator=torch.Generator().manual_seed(seed)).to(device)
        candidates = G.mapping(z)  # (STARTS, w_dim)
        start = candidates[loss_of(G.synthesis(candidates).float()).argmin()]
    w = start.clone().unsqueeze(0).requires_grad_(True)  # (1, w_dim)
    opt = torch.optim.Adam([w], lr=lr, betas=(0.9, 0.999))
    best_w, best_loss, done = w.detach().clone(), float("inf"), 0
    for step in range(1, steps + 1):
        if stop is not None and stop.is_set():
            break
        # a cosine-decayed rate settles the last steps (as in StyleGAN2-ADA's projector)
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * (step - 1) / steps))
        loss = loss_of(G.synthesis(w).float())[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done = step
        value = float(loss.detach())
        if value < best_loss:
            best_loss, best_w = value, w.detach().clone()
        yield ProjectionStep(step, steps, value)
    with torch.no_grad():
        image = G.synthesis(best_w).float().clamp(-1, 1)[0].cpu()
        perceptual = float(loss_of.perceptual(image.unsqueeze(0).to(device))[0])
    yield Projected(best_w[0].cpu(), image, psnr(image, target.cpu()), perceptual, done)
