"""Nearest-neighbour metrics on feature vectors: improved precision/recall, memorisation, the copy
ratio and diversity. Each takes features as arrays of shape (n, d) (or anything reshaped to it) from
any extractor; tgan.metrics re-exports them beside KID and FID."""
from __future__ import annotations

import numpy as np
import torch

_CHUNK = 1024  # rows per torch.cdist block: bounds memory at chunk x n distances


def as_2d(feats) -> np.ndarray:
    """Features as float64 (n, d): one row per image, whatever shape each image's features had."""
    arr = np.asarray(feats, dtype=np.float64)
    return arr.reshape(len(arr), -1)


# Nearest-neighbour metrics use torch.cdist in row chunks so n x n never has to fit at once.
# Distances between features (precision/recall, memorisation, diversity) run on the CPU: features
# are numpy arrays there, the chunked cdist over a few thousand rows takes about a second, and a
# ZeroGPU main process must not touch CUDA at all.
_DISTANCE_DEVICE = torch.device("cpu")


def _tensor(feats, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(as_2d(feats), dtype=torch.float32, device=device)


def _kth_nn_dist(query, base, k: int = 1, skip_self: bool = False) -> np.ndarray:
    """Distance from each query row to its k-th nearest base row. With skip_self (query is
    base) the zero distance of a point to itself is not counted as a neighbour."""
    device = _DISTANCE_DEVICE
    q, b = _tensor(query, device), _tensor(base, device)
    kk = k + 1 if skip_self else k
    out = []
    for start in range(0, len(q), _CHUNK):
        dist = torch.cdist(q[start:start + _CHUNK], b)
        out.append(dist.kthvalue(kk, dim=1).values.double().cpu())
    return torch.cat(out).numpy()


def _coverage(query, base, radii: np.ndarray) -> float:
    """Fraction of query rows that fall inside at least one base row's k-NN ball."""
    device = _DISTANCE_DEVICE
    q, b = _tensor(query, device), _tensor(base, device)
    r = torch.as_tensor(radii, dtype=torch.float32, device=device)
    inside = 0
    for start in range(0, len(q), _CHUNK):
        inside += int((torch.cdist(q[start:start + _CHUNK], b) <= r).any(dim=1).sum())
    return inside / len(q)


def precision_recall(real_feats, fake_feats, k: int = 3) -> tuple[float, float]:
    """Improved precision/recall (Kynkaanniemi et al. 2019). Each set's manifold is the union of
    balls reaching every point's k-th nearest neighbour. Precision: share of fakes inside the
    real manifold (fidelity). Recall: share of reals inside the fake manifold (coverage)."""
    real, fake = as_2d(real_feats), as_2d(fake_feats)
    if len(real) <= k or len(fake) <= k:  # a point needs k other points to define its ball
        return float("nan"), float("nan")
    real_radii = _kth_nn_dist(real, real, k, skip_self=True)
    fake_radii = _kth_nn_dist(fake, fake, k, skip_self=True)
    return _coverage(fake, real, real_radii), _coverage(real, fake, fake_radii)


def memorisation(sample_feats, train_feats, heldout_feats) -> float:
    """Copying score: median(NN distance of held-out reals to train) divided by
    median(NN distance of samples to train).
    ~1: samples sit as far from the training images as fresh real images do (no copying).
    >1: samples sit closer to training images than new real images do - the generator is
        reproducing its few training shots. <1: samples are further away (off-distribution).
    Returns nan without held-out images, inf if samples are exact copies (zero median)."""
    if heldout_feats is None or len(heldout_feats) == 0:
        return float("nan")
    heldout_nn = float(np.median(_kth_nn_dist(heldout_feats, train_feats)))
    sample_nn = float(np.median(_kth_nn_dist(sample_feats, train_feats)))
    if sample_nn == 0.0:
        return float("inf") if heldout_nn > 0 else float("nan")
    return heldout_nn / sample_nn


def copy_ratio(sample_feats, train_feats) -> float:
    """median(NN distance of samples to the training images) / median(NN distance of each
    training image to the nearest other one). Needs no held-out set, so it works at 5 images.
    ~1: samples are as far from the training images as those are from each other (healthy);
    towards 0: samples sit on top of training images (copying). nan with < 2 training images."""
    train = as_2d(train_feats)
    if len(train) < 2:
        return float("nan")
    among = float(np.median(_kth_nn_dist(train, train, skip_self=True)))
    to_train = float(np.median(_kth_nn_dist(sample_feats, train)))
    return to_train / among if among > 0 else float("nan")


def diversity(feats) -> float:
    """Mean pairwise L2 distance between distinct samples: collapses towards 0 when the
    generator produces near-identical images (mode collapse)."""
    x, total = _tensor(feats, _DISTANCE_DEVICE), 0.0
    n = len(x)
    if n < 2:
        return float("nan")
    for start in range(0, n, _CHUNK):
        # The diagonal is zero, so summing everything and dividing by n(n-1) excludes it.
        total += float(torch.cdist(x[start:start + _CHUNK], x).double().sum())
    return total / (n * (n - 1))
