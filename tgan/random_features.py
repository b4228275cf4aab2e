"""A second feature space for scoring that no strategy can game: a fixed, seeded, randomly
initialised CNN (random embeddings, as Naeem et al. 2020 used for precision/recall).

Why not an ImageNet network: Inception-v3 and the projected discriminator's EfficientNet were
both trained on ImageNet labels, so a D built on EfficientNet features can lower Inception KID by
matching ImageNet class statistics without better pictures (Kynkaanniemi et al., ICLR 2023). A
random CNN was never trained on anything, so there is nothing to match but the images.

The weights come from NumPy's PCG64 generator with a fixed seed (its stream is stable across
NumPy versions), so every machine builds the identical network and ships no weights file.
Features: for each of 5 stages, the channel means and standard deviations of its activations,
so both colour/shape content (means) and texture/sharpness (stds) count. (N, 2 * 496) floats.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

SEED = 20240501
SIZE = 64  # every image is resized to 64x64 first, so scores compare across resolutions
WIDTHS = (16, 32, 64, 128, 256)  # channels after each stage; stage i works at 64 / 2^i px
TAG = f"random-cnn/seed{SEED}/{SIZE}px/{'-'.join(map(str, WIDTHS))}/mean-std/v1"


def _weights() -> list[torch.Tensor]:
    """He-normal 3x3 kernels, one per stage, drawn from a seeded PCG64 stream."""
    rng = np.random.Generator(np.random.PCG64(SEED))
    out, c_in = [], 3
    for c_out in WIDTHS:
        std = np.sqrt(2.0 / (c_in * 9))
        out.append(torch.from_numpy(rng.normal(0.0, std, size=(c_out, c_in, 3, 3)).astype(np.float32)))
        c_in = c_out
    return out


class RandomCNNFeatures:
    """Callable images (N, 3, H, W) in [-1, 1] -> (N, 2 * sum(WIDTHS)) float64 features."""

    tag = TAG
    name = "random-cnn"

    def __init__(self, device: torch.device | str | None = None):
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.kernels = [w.to(self.device) for w in _weights()]

    def activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each stage's feature maps (B, C_i, S_i, S_i) of images in [-1, 1]; differentiable (no
        quantisation), so projection can use them as a perceptual distance."""
        if x.shape[-2:] != (SIZE, SIZE):
            shrink = x.shape[-1] > SIZE
            x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False, antialias=shrink)
        maps = []
        for i, kernel in enumerate(self.kernels):
            x = F.leaky_relu(F.conv2d(x, kernel, padding=1, stride=1 if i == 0 else 2), 0.2)
            maps.append(x)
        return maps

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        # Quantise as an 8-bit file would, so generated and real images are treated the same.
        x = ((x.float().clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1.0
        stats = []
        for maps in self.activations(x):
            flat = maps.flatten(2)  # (B, C_i, S_i^2)
            stats += [flat.mean(2), flat.std(2)]
        return torch.cat(stats, dim=1)  # (B, 2 * sum(WIDTHS))

    def __call__(self, images: torch.Tensor, batch_size: int = 256) -> np.ndarray:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images of shape (N, 3, H, W), got {tuple(images.shape)}")
        out = [np.zeros((0, 2 * sum(WIDTHS)))]
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                feats = self._embed(images[start:start + batch_size].to(self.device))
                out.append(feats.double().cpu().numpy())
        return np.concatenate(out)
