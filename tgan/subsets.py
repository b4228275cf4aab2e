"""Subsets of an image set, always drawn by seed: few-shot training shots, the app's held-out
images, and capped reference sets. Never the first N: the sets we ship and benchmark on are
stored grouped by vendor, style or font, so a prefix would be biased."""
from __future__ import annotations

import torch

from .data import ImageSet
from .errors import DataError


def random_subset(images: ImageSet, n: int | None, seed: int = 0) -> ImageSet:
    """At most n images drawn by seed (all of them when n is None or >= the set's size).

    Never the first n: every set we ship or benchmark on is stored grouped by vendor, style or
    font, so a prefix would be a biased reference."""
    if n is None or n >= len(images.names):
        return images
    if n < 1:
        raise DataError(f"a reference subset needs at least 1 image, got {n}")
    idx = torch.randperm(len(images.names), generator=torch.Generator().manual_seed(seed))[:n].sort().values
    notes = images.notes + [f"scored against a random {n} of {len(images.names)} images (seed {seed})"]
    return ImageSet(images.images[idx], [images.names[i] for i in idx.tolist()], notes=notes)


HOLDOUT_MIN_IMAGES = 20  # from this many images on, the app holds some out for honest scoring
HOLDOUT_FRACTION = 0.2


def holdout_split(images: ImageSet, seed: int = 0) -> tuple[ImageSet, ImageSet | None]:
    """(training set, held-out set) for scoring a run on images it never saw: 20% held out,
    drawn by seed, when there are at least HOLDOUT_MIN_IMAGES; else (all, None)."""
    n = len(images.names)
    if n < HOLDOUT_MIN_IMAGES:
        return images, None
    held = max(1, round(HOLDOUT_FRACTION * n))
    train, heldout = pick_shots(images, n - held, seed)
    return ImageSet(train.images, train.names, images.rejected, images.duplicates, images.notes), heldout


def keep_only(images: ImageSet, indices: list[int]) -> ImageSet:
    """The images at `indices` (e.g. the dataset doctor's "train on" list), with the set's notes."""
    idx = torch.tensor(sorted(indices), dtype=torch.long)
    return ImageSet(images.images[idx], [images.names[i] for i in idx.tolist()], images.rejected,
                    images.duplicates, images.notes, [images.originals[i] for i in idx.tolist()] if images.originals else [])


def pick_shots(images: ImageSet, k: int, seed: int) -> tuple[ImageSet, ImageSet]:
    """Draw k training images by seed; the rest are held out (for honest evaluation)."""
    n = len(images.names)
    if not 1 <= k <= n:
        raise DataError(f"asked for {k} shots but the set has {n} usable images")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    take, rest = order[:k].sort().values, order[k:].sort().values
    subset = lambda idx: ImageSet(images.images[idx], [images.names[i] for i in idx.tolist()])  # noqa: E731
    return subset(take), subset(rest)
