"""Pictures for the UI: upscaled PIL images, grids, the interpolation point, example previews.
The text the app shows around them is written by webapp/text.py."""
from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from tgan import sampling
from tgan.data import load_images
from .files import load_model_config, source_path


# ----------------------------------------------------------------------------- pictures

def display(img: Image.Image, target: int = 256) -> Image.Image:
    """Nearest-neighbour upscale so small GAN images stay crisp on screen."""
    factor = max(1, round(target / max(img.width, img.height)))
    return sampling.upscale(img, factor) if factor > 1 else img


def to_pils(images: torch.Tensor, target: int = 64) -> list[Image.Image]:
    return [display(Image.fromarray(a), target) for a in sampling.to_uint8(images)]


def grid(images: torch.Tensor, target: int = 512, nrow: int | None = None) -> Image.Image:
    """images (N, 3, R, R) as one picture, nrow per row (near-square by default), upscaled toward target."""
    return display(sampling.grid_image(images, nrow), target)


def latent_at(z: torch.Tensor, t: float, linear: bool = False) -> torch.Tensor:
    """The point at fraction t in [0, 1] of the slerp path (lerp when `linear`, for w) through
    z (K, dim) that sampling.path_latents samples at evenly spaced frames. -> (1, dim)"""
    segments = len(z) - 1
    if segments < 1:
        raise ValueError("interpolation needs at least two seeds")
    pos = min(max(float(t), 0.0), 1.0) * segments
    i = min(int(pos), segments - 1)
    if linear:
        return torch.lerp(z[i], z[i + 1], pos - i).unsqueeze(0)
    return sampling.slerp(z[i], z[i + 1], pos - i).unsqueeze(0)


def example_preview(folder: Path) -> Image.Image | None:
    """A 2x2 mosaic of an example set, for its button."""
    files = sorted(Path(folder).glob("*.png"))[:4]
    return grid(load_images(files, 64).as_float(), 192) if files else None


def resolution_of(source: str | None) -> int:
    """Training resolution: the source's, or 64 px from scratch."""
    folder = source_path(source)
    return load_model_config(folder).resolution if folder else 64
