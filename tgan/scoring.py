"""Score generated images against real ones in every feature space, reporting progress as events.

`evaluate_iter` is the one scoring loop: it yields a FeatureProgress per batch of features it
extracts (Inception on a CPU is the slow part: minutes for a few thousand images) and ends with
one Scored event. The CLI turns the progress into a tqdm bar and the app into its progress bar;
`evaluate` is the same loop without progress."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from . import aligned_pixels, metrics
from .events import FeatureProgress, Scored

BATCH = 64  # images per extractor call: one progress event each


def default_extractors(device=None) -> dict:
    """The scoring spaces, by name: Inception (the field's standard, trained on ImageNet labels)
    and a seeded random CNN (trained on nothing, so an ImageNet-feature D cannot game it).
    device None: CUDA when there is one."""
    from .random_features import RandomCNNFeatures

    inception = metrics.InceptionFeatures(device)
    return {"inception": inception, "random-cnn": RandomCNNFeatures(inception.device)}


def space_scores(fake: np.ndarray, real: np.ndarray, train: np.ndarray | None) -> dict:
    """KID, FID, precision/recall, memorisation and copy ratio of fakes against reals in one space."""
    kid, kid_std = metrics.kid(fake, real, n_subsets=100, subset_size=min(1000, len(fake), len(real)))
    precision, recall = metrics.precision_recall(real, fake)
    memo = metrics.memorisation(fake, train, real) if train is not None else float("nan")
    copies = metrics.copy_ratio(fake, train) if train is not None else float("nan")
    return {"kid": kid, "kid_std": kid_std, "fid": float(metrics.fid(fake, real)), "precision": float(precision),
            "recall": float(recall), "memorisation": float(memo), "copy_ratio": float(copies),
            "diversity": float(metrics.diversity(fake))}


def evaluate_iter(samples: torch.Tensor, reference: torch.Tensor, train: torch.Tensor | None = None,
                  cache: metrics.FeatureCache | None = None,
                  extractors: dict | None = None) -> Iterator[FeatureProgress | Scored]:
    """All metrics for generated `samples` against real `reference` images (both [-1, 1] NCHW),
    in every feature space of `extractors` (default: inception and random-cnn).

    The result's top-level keys are the first space's (Inception's, for continuity with older
    results); `spaces` holds each space's full set. When `train` (the images the model trained
    on) is given, memorisation (with `reference` as the held-out set) and the copy ratio are
    measured; otherwise they are nan. Real-image features go through `cache` when given."""
    extractors = extractors if extractors is not None else default_extractors()
    sets = [("samples", samples, False), ("reference", reference, True), ("training images", train, True)]
    total = sum(len(images) for _, images, cached in sets if images is not None) * len(extractors)
    done, spaces = 0, {}
    for space, extractor in extractors.items():
        feats = {}
        for label, images, cacheable in sets:
            if images is None:
                continue
            hit = cache.load(images, extractor) if cacheable and cache is not None else None
            if hit is not None:
                feats[label] = hit
                done += len(images)
                yield FeatureProgress(space, label, done, total)
                continue
            chunks = []
            for start in range(0, len(images), BATCH):
                chunks.append(np.asarray(extractor(images[start:start + BATCH]), dtype=np.float64))
                done += len(chunks[-1])
                yield FeatureProgress(space, label, done, total)
            feats[label] = np.concatenate(chunks)
            if cacheable and cache is not None:
                cache.store(images, extractor, feats[label])
        spaces[space] = space_scores(feats["samples"], feats["reference"], feats.get("training images"))
    yield Scored({**next(iter(spaces.values())), "n": int(len(samples)), "spaces": spaces,
                  "copy_ratio_aligned": aligned_copy_ratio(samples, train)})


def aligned_copy_ratio(samples: torch.Tensor, train: torch.Tensor | None) -> float:
    """The monitor's copying measure (tgan.aligned_pixels), which sees through a copy's shift,
    mirror image, noise and blur where the feature spaces do not: ~1 healthy, towards 0 copying.
    nan without at least 2 training images."""
    if train is None or len(train) < 2:
        return float("nan")
    return aligned_pixels.ShotIndex(train).memorisation(samples)


def evaluate(samples: torch.Tensor, reference: torch.Tensor, train: torch.Tensor | None = None,
             cache: metrics.FeatureCache | None = None, extractors: dict | None = None) -> dict:
    """evaluate_iter without progress: the metrics dict."""
    for event in evaluate_iter(samples, reference, train, cache, extractors):
        if isinstance(event, Scored):
            return event.result
    raise RuntimeError("evaluate_iter ended without a result")
