"""Before training: which bundled source, which preset and how many steps, with one line of why.

The source is the one whose training images are nearest to yours: for each of your images, the
mean cosine similarity of its 50 nearest neighbours among the source's fingerprint.safetensors (the
average-pooled features of the four stages of the ImageNet EfficientNet-Lite0 that the projected
D uses, for a seeded random 1,000 of its training images), averaged over your images. On 7 targets
x 20 draws of 10 shots this names the source of the target's kind 123 times in 140, where the
Inception KID to 64 training images did 97; it misses pixel art, which it gives to emoji
(`benchmarks/advisor_source_check.py`). The preset and steps come from advisor_fit.json, fitted
on the benchmark by benchmarks/advisor_fit.py; the steps are never fewer than the default
fine-tune's (the benchmark's 180 s made 420 steps at 10 shots, and held-out KID keeps falling
well past that). The distance of the chosen source's samples to your images, in the random-CNN
space, says how far the fine-tune has to go."""
from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from .checkpoint import FINGERPRINT
from .config import DEFAULT_FINETUNE_STEPS
from .data import ImageSet
from .subsets import random_subset

FIT = Path(__file__).with_name("advisor_fit.json")
FEW = 5  # under this many images a GAN mostly memorises them
NEIGHBOURS = 50  # of a fingerprint's 1,000 images (benchmarks/advisor_source_check.py)


@dataclass(frozen=True)
class Advice:
    source: str | None  # the bundled source to start from (None: none has a fingerprint)
    preset: str
    steps: int
    why: str  # one line
    nearest: dict[str, float]  # each source's similarity to your images (see rank_sources; higher: nearer)
    distance: float | None  # random-CNN KID of the source's samples to your images (how far to go)

    def summary(self) -> dict:
        """What `tgan advise --json` prints."""
        return {k: v for k, v in asdict(self).items()}


@functools.lru_cache(maxsize=2)
def _backbone(resolution: int):
    """The frozen EfficientNet-Lite0 at this resolution, built once per process: a build copies and
    fuses its weights, which callers scoring many small batches would otherwise repeat."""
    from .features import EfficientNetTaps

    return EfficientNetTaps(resolution)


def style_features(images: torch.Tensor, batch_size: int = 64) -> np.ndarray:
    """(N, 3, R, R) in [-1, 1] -> (N, 496): each EfficientNet-Lite0 stage's feature map, averaged
    over its positions, concatenated (24 + 40 + 112 + 320 channels). The four stages see strokes,
    parts and shapes; the pooled maps say what is drawn and how, not where."""
    net = _backbone(images.shape[-1])
    with torch.no_grad():
        out = [torch.cat([tap.mean((2, 3)) for tap in net(batch)], 1)
               for batch in images.split(batch_size)]
    return torch.cat(out).double().numpy()


def fingerprints(sources: dict[str, Path]) -> dict[str, np.ndarray]:
    """name -> (N, 496) style features of its training images, for sources that ship them."""
    out = {}
    for name, folder in sources.items():
        path = Path(folder) / FINGERPRINT
        if path.is_file():
            stored = load_file(path)
            if "style" in stored:  # fingerprints before 2026-12-07 held Inception features only
                out[name] = stored["style"].double().numpy()
    return out


def rank_sources(image_feats: np.ndarray, prints: dict[str, np.ndarray]) -> dict[str, float]:
    """Each source's similarity to the images: per image, the mean cosine similarity of its
    NEIGHBOURS nearest fingerprint images, averaged over the images (1: near-twins all round).
    Many neighbours, not one: a single nearest image flipped the pick with the fingerprint's draw."""
    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    mine = unit(image_feats)
    out = {}
    for name, fp in prints.items():
        sims = mine @ unit(fp).T  # (images, fingerprint images)
        k = min(NEIGHBOURS, sims.shape[1])
        out[name] = float(np.sort(sims, axis=1)[:, -k:].mean())
    return out


def advise(images: ImageSet, sources: dict[str, Path], source: str | None = None, n_samples: int = 100,
           max_images: int = 64) -> Advice:
    """Advice for fine-tuning on `images`; `source` fixes the source instead of picking the nearest."""
    from . import metrics, sampling
    from .models import load_model
    from .random_features import RandomCNNFeatures

    subset = random_subset(images, max_images, seed=0).as_float()
    prints = fingerprints(sources) if sources else {}
    similar = rank_sources(style_features(subset), prints) if prints else {}
    chosen = source or (max(similar, key=similar.get) if similar else None)
    distance = None
    if chosen is not None:
        G = load_model(sources[chosen], device="cpu").G_ema
        feats = RandomCNNFeatures("cpu")
        with torch.no_grad():
            samples = sampling.sample_seeds(G, range(n_samples))
        distance = float(metrics.kid(feats(samples), feats(subset), n_subsets=50)[0])
    fit = json.loads(FIT.read_text())
    n = len(images.names)
    shots = min(fit["shots"], key=lambda k: abs(int(k) - n))  # the nearest shot count the bench measured
    rule = fit["shots"][shots]
    in_budget = max(50, int(round(rule["steps"] / 50.0)) * 50)  # what the preset made in the bench's time
    steps = max(in_budget, DEFAULT_FINETUNE_STEPS)
    return Advice(chosen, rule["preset"], steps, _why(chosen, source, similar, rule, steps, in_budget, shots, n, fit),
                  similar, distance)


def _why(chosen, fixed, similar, rule, steps, in_budget, shots, n, fit) -> str:
    budget = f"{fit['budget_s'][0]:g} s"
    how_many = (f"{steps} steps: what it made in the benchmark's {budget}" if steps == in_budget else
                f"{steps} steps, the default fine-tune's: the benchmark's {budget} made {in_budget}, and held-out "
                "KID kept falling well past that on the benchmark's targets")
    parts = [f"{rule['preset']}: the lowest KID on the benchmark at {shots} shots (the best or within 10% "
             f"on {fit['leave_one_target_out']} slices, each left out of its own fit); {how_many}"]
    if chosen is not None and not fixed:
        others = ", ".join(f"{k} {v:.2f}" for k, v in sorted(similar.items(), key=lambda kv: -kv[1]))
        parts.append(f"source {chosen}: its training images are nearest to yours (similarity {others})")
    if n < FEW:
        parts.append(f"only {n} image{'s' * (n != 1)}: the model will mostly memorise them; add more if you can")
    return "; ".join(parts) + "."
