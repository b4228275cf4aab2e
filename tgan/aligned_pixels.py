"""A distance between images that sees through the flaws of a copy: small shifts, mirror image,
pixel noise and blur.

Why not a feature space: benchmarks/copy_space_check.py fed the monitor's memorisation the
shots themselves, re-drawn with a generator's typical flaws (a shift of up to 4 px, noise, a
blur, a flip). In the random-CNN, EfficientNet and Inception spaces alike those copies read as far
from the shots as held-out real images do, or further (line-art faces in the random-CNN space:
1.47 against 1.29), so no threshold there could tell a copier from a generaliser. Here the
distance is the smallest over every whole-pixel shift of up to MAX_SHIFT of the side and over the
mirror image, between thumbnails shrunk to SIZE px (noise and blur mostly vanish at that scale),
centred and scaled to unit length (a global brightness or contrast change is not a difference
either): those copies read 0.09-0.22, held-out real images 0.99-1.33.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

SIZE = 16  # px of the compared thumbnails
MAX_SHIFT = 1 / 16  # of the image side, in each direction: 4 px at 64 px


def thumbnails(images: torch.Tensor) -> torch.Tensor:
    """images (N, 3, H, W) in [-1, 1] -> (N, 3, SIZE, SIZE), each centred with unit norm."""
    x = F.interpolate(images.float(), size=(SIZE, SIZE), mode="bilinear", antialias=True, align_corners=False)
    x = x - x.mean(dim=(1, 2, 3), keepdim=True)
    return x / x.flatten(1).norm(dim=1).clamp_min(1e-6).view(-1, 1, 1, 1)


def views(images: torch.Tensor) -> torch.Tensor:
    """images (N, 3, R, R) in [-1, 1] -> (V, N, 3*SIZE*SIZE): the thumbnail of every whole-pixel
    shift within MAX_SHIFT of each image and of its mirror (shifted at full size, so that a copy
    moved by a pixel or two matches exactly; the edges filled with border pixels).
    V = 2 * (2 * m + 1)^2 with m = round(R * MAX_SHIFT). Meant for the few shots, once: shifting
    the shots instead of the samples gives the same distances."""
    r = images.shape[-1]
    m = max(1, round(r * MAX_SHIFT))
    out = []
    for img in (images.float(), images.float().flip(-1)):
        padded = F.pad(img, (m, m, m, m), mode="replicate")  # (N, 3, R + 2m, R + 2m)
        for dy in range(2 * m + 1):
            for dx in range(2 * m + 1):
                out.append(thumbnails(padded[:, :, dy:dy + r, dx:dx + r]).flatten(1))
    return torch.stack(out)


def distances(query: torch.Tensor, base_views: torch.Tensor) -> torch.Tensor:
    """query (Q, 3, SIZE, SIZE) from `thumbnails`, base_views (V, B, D) from `views` -> (Q, B):
    for each pair, the smallest L2 distance between the query and any view of the base image."""
    q = query.flatten(1).double()  # (Q, D)
    return torch.stack([torch.cdist(q, v.double()) for v in base_views]).amin(dim=0)


class ShotIndex:
    """The training shots (K >= 2, 3, R, R) in [-1, 1], prepared once for `memorisation`: their
    shifted and mirrored views, and the median distance from each to its nearest other shot."""

    def __init__(self, shots: torch.Tensor):
        shots = shots.float().cpu()
        self.views = views(shots)  # (V, K, D)
        among = distances(thumbnails(shots), self.views)  # (K, K)
        among.fill_diagonal_(float("inf"))
        # quantile, not Tensor.median: the latter returns the lower middle value of an even count
        self.spacing = max(float(among.amin(dim=1).quantile(0.5)), 1e-12)

    def memorisation(self, samples: torch.Tensor) -> float:
        """median over samples (N, 3, R, R) in [-1, 1] of the distance to the nearest shot, over
        the median distance from a shot to its nearest other shot."""
        to_shots = distances(thumbnails(samples.float().cpu()), self.views).amin(dim=1)  # (N,)
        return float(to_shots.quantile(0.5)) / self.spacing
