"""Before training: which bundled source, which preset and how many steps, with one line of why.

The source is the one whose training images are nearest to yours (Inception KID between your
images and its fingerprint.safetensors, a seeded random sample of its training set: Inception
features tell faces from glyphs, where a random CNN puts line-art faces next to kanji). The
preset and steps come from advisor_fit.json, fitted on the benchmark by
benchmarks/advisor_fit.py; the steps are never fewer than the default fine-tune's (the benchmark's
180 s made 420 steps at 10 shots, and held-out KID keeps falling well past that). The distance of
the chosen source's samples to your images, in the random-CNN space, says how far the fine-tune
has to go."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from .checkpoint import FINGERPRINT
from .config import default_finetune_steps
from .data import ImageSet
from .subsets import random_subset

FIT = Path(__file__).with_name("advisor_fit.json")
FEW = 5  # under this many images a GAN mostly memorises them


@dataclass(frozen=True)
class Advice:
    source: str | None  # the bundled source to start from (None: none has a fingerprint)
    preset: str
    steps: int
    why: str  # one line
    nearest: dict[str, float]  # Inception KID between your images and each source's training images
    distance: float | None  # random-CNN KID of the source's samples to your images (how far to go)

    def summary(self) -> dict:
        """What `tgan advise --json` prints."""
        return {k: v for k, v in asdict(self).items()}


def fingerprints(sources: dict[str, Path]) -> dict[str, np.ndarray]:
    """name -> (N, 2048) Inception features of its training images, for sources that ship them."""
    out = {}
    for name, folder in sources.items():
        path = Path(folder) / FINGERPRINT
        if path.is_file():
            out[name] = load_file(path)["inception"].double().numpy()
    return out


def rank_sources(image_feats: np.ndarray, prints: dict[str, np.ndarray]) -> dict[str, float]:
    """KID between the images' Inception features and each fingerprint (nan dropped: too few)."""
    from . import metrics

    kids = {name: metrics.kid(image_feats, fp, n_subsets=20)[0] for name, fp in prints.items()}
    return {k: v for k, v in kids.items() if v == v}


def advise(images: ImageSet, sources: dict[str, Path], source: str | None = None, n_samples: int = 100,
           max_images: int = 64) -> Advice:
    """Advice for fine-tuning on `images`; `source` fixes the source instead of picking the nearest."""
    from . import metrics, sampling
    from .models import load_model
    from .random_features import RandomCNNFeatures

    subset = random_subset(images, max_images, seed=0).as_float()
    kids = rank_sources(metrics.InceptionFeatures("cpu")(subset), fingerprints(sources)) if sources else {}
    chosen = source or (min(kids, key=kids.get) if kids else None)
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
    steps = max(in_budget, default_finetune_steps(torch.cuda.is_available()))
    return Advice(chosen, rule["preset"], steps, _why(chosen, source, kids, rule, steps, in_budget, shots, n, fit),
                  kids, distance)


def _why(chosen, fixed, kids, rule, steps, in_budget, shots, n, fit) -> str:
    budget = f"{fit['budget_s'][0]:g} s"
    how_many = (f"{steps} steps: what it made in the benchmark's {budget}" if steps == in_budget else
                f"{steps} steps, the default fine-tune's: the benchmark's {budget} made {in_budget}, and held-out "
                "KID kept falling well past that on the benchmark's targets")
    parts = [f"{rule['preset']}: the lowest KID on the benchmark at {shots} shots (the best or within 10% "
             f"on {fit['leave_one_target_out']} slices, each left out of its own fit); {how_many}"]
    if chosen is not None and not fixed:
        others = ", ".join(f"{k} {v:.3f}" for k, v in sorted(kids.items(), key=lambda kv: kv[1]))
        parts.append(f"source {chosen}: its training images are nearest to yours (Inception KID {others})")
    if n < FEW:
        parts.append(f"only {n} image{'s' * (n != 1)}: the model will mostly memorise them; add more if you can")
    return "; ".join(parts) + "."
