"""Sanity checks for the scoring spaces: does a metric order known-good and known-bad image sets
the way a person would? (benchmarks/metric_sanity.py runs this on the real targets.)

Every condition is scored against the same held-out reference:
- real vs real: other held-out images of the same set (the floor);
- blur, noise and colour shift of those real images at two strengths (strength 1 must score
  better than strength 2, and both worse than the floor);
- the training shots copied over and over (memorisation must flag it: the copies sit at distance
  0 from the shots, so the score is inf, far above the ~1 of fresh real images);
- the unadapted source model's samples, when one is given.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torchvision.transforms.functional as TF  # gaussian_blur

from . import metrics, scoring

# condition name -> (kind, strength 1, strength 2); images are (N, 3, H, W) in [-1, 1]
CORRUPTIONS = {
    "blur": (lambda x, s: TF.gaussian_blur(x, kernel_size=2 * int(3 * s) + 1, sigma=s), 0.7, 1.5),
    "noise": (lambda x, s: x + s * torch.randn(x.shape, generator=torch.Generator().manual_seed(0)), 0.08, 0.25),
    # A colour cast (red up, blue down), not a hue rotation: it also changes greyscale line art.
    "colour shift": (lambda x, s: x + s * torch.tensor([1.0, 0.0, -1.0]).view(1, 3, 1, 1), 0.1, 0.3),
}


@dataclass
class SanityRow:
    condition: str  # e.g. "blur 1"
    scores: dict[str, dict]  # space name -> {"kid": ..., "memorisation": ...}


def conditions(real: torch.Tensor, shots: torch.Tensor, source_samples: torch.Tensor | None = None
               ) -> dict[str, torch.Tensor]:
    """The image sets to score, by name, all the size of `real` (copies: shots tiled)."""
    out = {"real vs real": real}
    for name, (apply, s1, s2) in CORRUPTIONS.items():
        out[f"{name} 1"] = apply(real, s1).clamp(-1, 1)
        out[f"{name} 2"] = apply(real, s2).clamp(-1, 1)
    reps = -(-len(real) // len(shots))  # ceil
    out["shots copied"] = shots.repeat(reps, 1, 1, 1)[: len(real)]
    if source_samples is not None:
        out["unadapted source"] = source_samples
    return out


def run_sanity(reference: torch.Tensor, real: torch.Tensor, shots: torch.Tensor,
               source_samples: torch.Tensor | None = None, extractors: dict | None = None) -> list[SanityRow]:
    """Score every condition against `reference` in every space. `real` must be disjoint from it."""
    extractors = extractors if extractors is not None else scoring.default_extractors()
    sets = conditions(real, shots, source_samples)
    rows = {name: SanityRow(name, {}) for name in sets}
    for space, extractor in extractors.items():
        ref = extractor(reference)
        train = extractor(shots)
        for name, images in sets.items():
            if name == "shots copied":  # exact copies have exactly the shots' features: tile them
                reps = -(-len(images) // len(train))
                feats = np.tile(train, (reps, 1))[: len(images)]
            else:
                feats = extractor(images)
            k, k_std = metrics.kid(feats, ref, n_subsets=50, subset_size=min(1000, len(feats), len(ref)))
            rows[name].scores[space] = {"kid": k, "kid_std": k_std,
                                        "memorisation": metrics.memorisation(feats, train, ref)}
    return list(rows.values())


def checks(rows: list[SanityRow], space: str) -> dict[str, bool]:
    """The orderings a good space must get right, each True/False."""
    kid = {r.condition: r.scores[space]["kid"] for r in rows}
    memo = {r.condition: r.scores[space]["memorisation"] for r in rows}
    out = {}
    for name in CORRUPTIONS:
        out[f"floor < {name} 1 < {name} 2"] = kid["real vs real"] < kid[f"{name} 1"] < kid[f"{name} 2"]
    floor_memo = memo["real vs real"]
    # Copies must be flagged (memorisation far above fresh reals' ~1), never look healthy.
    out["copies flagged by memorisation"] = bool(memo["shots copied"] > max(2.0, 2 * floor_memo))
    return out


def table(rows: list[SanityRow], spaces: list[str]) -> str:
    """A markdown table: one row per condition, KID and memorisation per space."""
    head = "| condition | " + " | ".join(f"{s} KID | {s} memorisation" for s in spaces) + " |"
    lines = [head, "|---|" + "---:|---:|" * len(spaces)]
    for r in rows:
        cells = []
        for s in spaces:
            sc = r.scores[s]
            cells += [f"{sc['kid']:.4f}", _fmt(sc["memorisation"])]
        lines.append(f"| {r.condition} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(x: float) -> str:
    return "inf (copies)" if np.isinf(x) else f"{x:.2f}"
