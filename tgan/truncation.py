"""Truncation, trading variety for typical images, in both kinds of latent space.

With a mapping network (StyleGAN's W, `mapping_layers > 0`) the mean w is a typical image and
truncation is the lerp toward it (Karras et al. 2019): w' = w_avg + psi * (w - w_avg).

Without one (`mapping_layers == 0`, the DCGAN sources) w is z put on the sphere of radius
sqrt(w_dim). Its mean is the zero vector, and the lerp shrinks w off the sphere, where the
generator's fixed BatchNorm statistics fade every image (contrast 0.31 at psi 0.5 against 0.55
for real emoji, benchmarks/truncation_check.md). Every point of that sphere is a latent G was
trained on, so there truncation moves *along* the sphere instead, toward anchors: the latents of
the most typical samples, one per cluster of the model's own samples in the random-CNN feature
space (multi-modal truncation, Mokady et al. 2022, with cluster medoids as the centres). Each w
heads for a blend of the anchors weighted by how close it already is to each (a softmax of
cosines), so a path through latent space still changes smoothly when truncated.
"""
from __future__ import annotations

import torch

from .random_features import RandomCNNFeatures

ANCHOR_SAMPLES = 1024  # samples clustered to find the anchors
ANCHORS = 16  # clusters, so truncation keeps several kinds of image rather than one
KMEANS_ITERATIONS = 25
SHARPNESS = 20.0  # softmax scale on cosines: nearest anchor ~50x the weight of an unrelated one


def on_sphere(G) -> bool:
    """True where w is z normalised (no mapping MLP), so the mean latent is not an image."""
    return G.cfg.mapping_layers == 0


def _seeded_w(G, n: int, seed: int) -> torch.Tensor:
    """n mapped latents (n, w_dim) from a seeded z, untruncated."""
    # tgan.sampling imports this module (its latents_to_w truncates), so it is imported here.
    from .sampling import latents_to_w

    return latents_to_w(G, torch.randn(n, G.cfg.z_dim, generator=torch.Generator().manual_seed(seed)))


@torch.no_grad()
def mean_w(G, n: int = 4096, seed: int = 0) -> torch.Tensor:
    """The average mapped latent (w_dim,)."""
    return _seeded_w(G, n, seed).mean(0)


def _kmeans(x: torch.Tensor, k: int, seed: int) -> torch.Tensor:
    """Cluster labels (n,) of rows x (n, d): k-means++ seeding, then Lloyd iterations."""
    gen = torch.Generator().manual_seed(seed)
    centres = x[torch.randint(len(x), (1,), generator=gen)]
    while len(centres) < k:  # k-means++: the next centre far from those chosen so far
        d2 = torch.cdist(x, centres).min(1).values.pow(2)
        centres = torch.cat([centres, x[torch.multinomial(d2 / d2.sum(), 1, generator=gen)]])
    for _ in range(KMEANS_ITERATIONS):
        labels = torch.cdist(x, centres).argmin(1)
        centres = torch.stack([x[labels == j].mean(0) if (labels == j).any() else centres[j] for j in range(k)])
    return torch.cdist(x, centres).argmin(1)


@torch.no_grad()
def sphere_anchors(G, n: int = ANCHOR_SAMPLES, k: int = ANCHORS, seed: int = 0) -> torch.Tensor:
    """The latents (k', w_dim) of the medoid sample of each cluster of G's own samples, k' <= k."""
    from .sampling import synthesize  # see _seeded_w

    w = _seeded_w(G, n, seed).float()  # (n, w_dim), on the sphere
    feats = torch.from_numpy(RandomCNNFeatures()(synthesize(G, w))).float()  # (n, d)
    feats = (feats - feats.mean(0)) / feats.std(0).clamp_min(1e-6)  # every feature counts alike
    labels = _kmeans(feats, k, seed)
    medoids = []
    for j in labels.unique():
        members = (labels == j).nonzero().flatten()
        centre = feats[members].mean(0, keepdim=True)
        medoids.append(members[torch.cdist(feats[members], centre).argmin()])
    return w[torch.stack(medoids)]


def truncation_centre(G) -> torch.Tensor:
    """What truncation pulls toward: the mean w (w_dim,) for a mapped W, anchors (k, w_dim) on
    the sphere otherwise. Computed once per model and passed to `truncate`."""
    return sphere_anchors(G) if on_sphere(G) else mean_w(G)


def truncate(w: torch.Tensor, centre: torch.Tensor, psi: float) -> torch.Tensor:
    """psi=1: unchanged; psi<1: toward the centre (typical, less varied); psi=0: the centre.
    w (N, w_dim); centre from `truncation_centre`."""
    from .sampling import slerp  # see _seeded_w

    centre = centre.to(w.device, w.dtype)
    if centre.dim() == 1:
        return centre + psi * (w - centre)
    radius = w.norm(dim=1, keepdim=True)  # (N, 1): sqrt(w_dim) for normalised z
    weights = torch.softmax(SHARPNESS * torch.nn.functional.normalize(w, dim=1) @
                            torch.nn.functional.normalize(centre, dim=1).T, dim=1)  # (N, k)
    target = torch.nn.functional.normalize(weights @ centre, dim=1) * radius  # (N, w_dim) on the sphere
    return slerp(target, w, psi)  # row by row along w_dim
