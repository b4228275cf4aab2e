"""Sampling tools on a trained G: grids, truncation, slerp/lerp, interpolation videos, PCA
directions in w space (GANSpace, Harkonen et al. 2020). Images are (N, 3, H, W) floats in [-1, 1]
until `to_uint8` / `to_pil` turn them into pictures."""
from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid

from .models import seeded_init
from .truncation import truncate, truncation_centre


def seed_latents(seeds, z_dim: int) -> torch.Tensor:
    """One latent per integer seed, independent of batch composition: seed 7 is always the same z."""
    return torch.stack([torch.randn(z_dim, generator=torch.Generator().manual_seed(int(s))) for s in seeds])


def _device(G) -> torch.device:
    return next(G.parameters()).device


@torch.no_grad()
def synthesize(G, w: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """w (N, w_dim) -> images (N, 3, R, R) on CPU, batched so large N stays within memory."""
    out = [G.synthesis(w[i:i + batch_size].to(_device(G))).float().clamp(-1, 1).cpu()
           for i in range(0, len(w), batch_size)]
    return torch.cat(out)


@torch.no_grad()
def latents_to_w(G, z: torch.Tensor, psi: float = 1.0, w_avg: torch.Tensor | None = None) -> torch.Tensor:
    """z (N, z_dim) -> w (N, w_dim), truncated by psi toward `w_avg` (a `truncation_centre`,
    computed here when not given)."""
    w = G.mapping(z.to(_device(G)))
    if psi != 1.0:
        w = truncate(w, truncation_centre(G) if w_avg is None else w_avg, psi)
    return w


def sample_seeds(G, seeds, psi: float = 1.0, w_avg=None) -> torch.Tensor:
    return synthesize(G, latents_to_w(G, seed_latents(seeds, G.cfg.z_dim), psi, w_avg))


def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    return a + (b - a) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation along the last dim; falls back to lerp for (anti)parallel pairs."""
    a_n, b_n = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    parallel = so.abs() < 1e-6  # per row, so one such pair does not turn the whole batch linear
    so = torch.where(parallel, torch.ones_like(so), so)
    return torch.where(parallel, lerp(a, b, t), (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b)


def path_latents(z: torch.Tensor, frames: int, loop: bool = False) -> torch.Tensor:
    """Slerp through the latents z (K, z_dim) in order -> (frames, z_dim) evenly in between."""
    keys = torch.cat([z, z[:1]]) if loop else z
    segments = len(keys) - 1
    if segments < 1:
        raise ValueError("interpolation needs at least two seeds")
    ts = torch.linspace(0, segments, frames) if not loop else torch.arange(frames) * segments / frames
    out = []
    for t in ts.tolist():
        i = min(int(t), segments - 1)
        out.append(slerp(keys[i], keys[i + 1], t - i))
    return torch.stack(out)


def interpolation_frames(G, seeds, frames: int = 32, psi: float = 1.0) -> torch.Tensor:
    """Images along a slerp path in z through the given seeds. (frames, 3, R, R)"""
    z = path_latents(seed_latents(seeds, G.cfg.z_dim), frames)
    return synthesize(G, latents_to_w(G, z, psi))


@torch.no_grad()
def pca_directions(G, n_components: int = 8, n_samples: int = 4096, seed: int = 0):
    """GANSpace (Harkonen et al. 2020): principal components of G's first-layer activations,
    carried back to w by linear regression. Unlike PCA of w itself this also works when w is
    an isotropic Gaussian (no mapping network): the directions are those G responds to most.
    Returns (w_avg (w_dim,), directions (k, w_dim) unit rows, stds (k,) spread of w along each)."""
    z = torch.randn(n_samples, G.cfg.z_dim, generator=torch.Generator().manual_seed(seed))
    w = G.mapping(z.to(_device(G))).float()  # (n, w_dim)
    feats = G.stem(w).float().cpu()  # (n, c4 * 16) first-layer activations
    w = w.cpu()
    w_avg = w.mean(0)
    k = min(n_components, *feats.shape, w.shape[1])
    centred = feats - feats.mean(0)
    # Only the top k components are needed: a randomised SVD (Halko et al.) finds them in
    # O(n * features * k), where the full SVD of a 4096 x 8192 matrix took 20 s on one thread (the
    # first Explore after training waited on it). Seeded, so a model's sliders never change.
    with seeded_init(seed):
        _, _, v = torch.svd_lowrank(centred, q=min(k + 10, *feats.shape), niter=4)  # v: (features, q)
    coords = centred @ v[:, :k]  # (n, k) position along each component
    # Regress w on the coordinates: row i of `dirs` is how w moves per unit of component i.
    dirs = torch.linalg.lstsq(coords, w - w_avg).solution  # (k, w_dim)
    dirs = dirs / dirs.norm(dim=1, keepdim=True).clamp_min(1e-12)
    stds = ((w - w_avg) @ dirs.T).std(0)  # (k,)
    return w_avg, dirs, stds


def move_along(w: torch.Tensor, directions: torch.Tensor, stds: torch.Tensor, amounts) -> torch.Tensor:
    """w (N, w_dim) + sum_i amounts[i] * stds[i] * directions[i]."""
    amounts = torch.as_tensor(amounts, dtype=w.dtype).view(-1)
    k = len(amounts)
    offset = (amounts * stds[:k].to(w.dtype)) @ directions[:k].to(w.dtype)  # (w_dim,)
    return w + offset.to(w.device)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] -> (N, H, W, 3) uint8."""
    x = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def grid_image(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> Image.Image:
    """A PIL grid; nrow defaults to a near-square layout."""
    nrow = nrow or max(1, int(np.ceil(np.sqrt(len(images)))))
    grid = make_grid(images.float(), nrow=nrow, padding=padding, normalize=True, value_range=(-1, 1),
                     pad_value=1.0)
    return Image.fromarray((grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))


def upscale(img: Image.Image, factor: int) -> Image.Image:
    return img.resize((img.width * factor, img.height * factor), Image.Resampling.NEAREST)


def save_seed_grids(G, folder, stem: str = "samples") -> None:
    """folder/<stem>.png and <stem>-psi05.png: seeds 0..35 at truncation 1 and 0.5 (toward
    truncation_centre(G)), 6x6, upscaled 2x - the pair every source card and snapshot shows."""
    folder = Path(folder)
    for psi, suffix in ((1.0, ""), (0.5, "-psi05")):
        grid = grid_image(sample_seeds(G, range(36), psi=psi), nrow=6)
        upscale(grid, 2).save(folder / f"{stem}{suffix}.png")


def write_video(frames: torch.Tensor, path, fps: int = 16, scale: int = 2) -> Path:
    """Write a GIF (looping) or MP4 by the suffix of `path`."""
    path = Path(path)
    arr = to_uint8(frames)
    if scale > 1:
        arr = arr.repeat(scale, axis=1).repeat(scale, axis=2)  # nearest-neighbour upscale
    suffix = path.suffix.lower()
    if suffix == ".gif":
        iio.imwrite(path, arr, extension=".gif", duration=1000 / fps, loop=0)
    elif suffix == ".mp4":
        iio.imwrite(path, arr, extension=".mp4", fps=fps, codec="libx264", macro_block_size=1)
    else:
        raise ValueError(f"{path.name}: write .gif or .mp4")
    return path
