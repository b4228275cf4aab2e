"""`tgan eval`: score a model (or a folder of any generator's samples) against real images."""
from __future__ import annotations

from collections.abc import Iterator

import torch

from .data import load_images
from .subsets import random_subset
from .events import ScoreEvent, Scored
from .models import load_model
from .paths import resolve_model
from .sampling import sample_seeds


def generate(model_path, n: int, seed: int = 0, psi: float = 1.0) -> torch.Tensor:
    """n samples (N, 3, R, R) in [-1, 1] from a model's G_ema, seeds seed..seed+n-1."""
    model = load_model(resolve_model(model_path))
    return sample_seeds(model.G_ema, range(seed, seed + n), psi=psi)


def evaluate_model_or_samples_iter(model=None, samples=None, reference=None, n: int = 1000, seed: int = 0,
                                   train_path=None, resolution: int = 64, max_reference: int | None = None,
                                   extractors: dict | None = None) -> Iterator[ScoreEvent]:
    """Exactly one of model / samples. Yields tgan.scoring's FeatureProgress events and ends
    with one Scored event holding the metrics dict."""
    from . import metrics, scoring  # Inception is heavy: import only when scoring

    if (model is None) == (samples is None):
        raise ValueError("give exactly one of --model or --samples")
    if model is not None:
        resolution = load_model(resolve_model(model)).model_config.resolution
        fake = generate(model, n, seed)
    else:
        fake = load_images(samples, resolution, max_images=None).as_float()[:n]
    # A seeded random subset, never the first N: our sets are stored grouped by style.
    real = random_subset(load_images(reference, resolution, max_images=None), max_reference, seed=0).as_float()
    train = load_images(train_path, resolution, max_images=None).as_float() if train_path else None
    yield from scoring.evaluate_iter(fake, real, train=train, cache=metrics.FeatureCache(), extractors=extractors)


def evaluate_model_or_samples(*args, **kwargs) -> dict:
    """evaluate_model_or_samples_iter without progress: the metrics dict."""
    for event in evaluate_model_or_samples_iter(*args, **kwargs):
        if isinstance(event, Scored):
            return event.result
    raise RuntimeError("scoring ended without a result")
