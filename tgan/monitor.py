"""The live monitor: is the run copying its shots, has it collapsed, is it getting closer?

Every `monitor_every` steps G_ema draws a fixed batch of latents and the samples are compared with
the training shots (no Inception in the loop):
- memorisation = median over samples of the distance to the nearest shot, divided by the median
  over shots of the distance to the nearest other shot, in aligned pixels (tgan.aligned_pixels:
  16 px thumbnails, the best match over shifts of up to 1/16 of the side and the mirror image).
  About 1: samples sit among the shots the way the shots sit among each other. Falling towards 0:
  samples are near-copies of shots. Not a feature space: benchmarks/copy_space_check.py shows
  that copies with a generator's flaws (shifted, noisy, blurred, mirrored) read like held-out
  real images in the random-CNN, EfficientNet and Inception spaces, while in aligned pixels they
  read 0.09-0.22 against 0.99-1.33 for held-out real images, either side of COPYING.
The other two signals are in the random-CNN space (tgan.random_features: cheap, already used
for scoring, and trained on nothing, so no strategy optimises against it):
- diversity = mean pairwise distance of the samples / that of the shots. Collapse: below 0.25
  and below half of what the run started from (G_ema before any update), so a source that was
  never as varied as the shots does not raise the alarm at once.
- fidelity = KID of the samples against the shots (lower is closer).

The keep-best rule (KeepBest): among readings whose memorisation and diversity are both above
their alarm thresholds, keep the latest one whose smoothed fidelity (the mean of its reading and the
FIDELITY_WINDOW - 1 readings before it) is within LATER_TOLERANCE of the run's improvement from its
best: fidelity <= floor + LATER_TOLERANCE * (start - floor), floor being the lowest smoothed
fidelity so far and start the run's first. Smoothed, because a KID of 64 samples against 10 shots
is noisy: on a flat stretch of kanji-gyosho the single readings spread 0.0023-0.0089, and the
single lowest one picked an early step whose held-out KID was 4x the best saved step's. Latest
within a tolerance, because on the line-art targets the fidelity falls fast and then lies flat
while the held-out KID keeps falling for hundreds of steps: the strict lowest reading was often an
early dip of that noise (steps 25-325 of 900, 1.3-3x the last step's held-out KID), see
benchmarks/monitor_check.md. The fidelity is trusted only once the run has shed MIN_IMPROVEMENT of
its first reading: until then the latest acceptable step is kept. On styles whose colours the source
already shares (DiceBear pixel-art and miniavs faces from the faces source) the random-CNN fidelity
starts low and rises while the run turns into the new style and its held-out Inception KID falls by a
quarter or more, and the rule without this kept step 25: the unadapted source."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import aligned_pixels, metrics
from .random_features import RandomCNNFeatures

COPYING = 0.35  # memorisation below this: "copying" (and the copying alarm)
STARTING_TO_COPY = 0.6  # below this: "starting to copy"
FAR = 2.0  # above this: samples are still far from the shots (early in a transfer)
COLLAPSED = 0.25  # diversity below this, and below half the starting diversity: "collapsed" (an alarm)
FIDELITY_WINDOW = 3  # readings averaged into the smoothed fidelity that keep-best ranks by
LATER_TOLERANCE = 0.1  # share of the run's fidelity improvement a later step may give back and be kept
MIN_IMPROVEMENT = 0.5  # share of its first fidelity a run must shed before keep-best ranks by it
SAMPLES = 64  # latents in the fixed monitoring batch
LATENT_SEED = 7_777  # not the sample grid's seed: the monitor's batch is its own


@dataclass(frozen=True)
class Reading:
    step: int
    memorisation: float
    diversity: float
    fidelity: float
    start_diversity: float  # the diversity of G_ema before the run's first update
    # mean fidelity of this reading and the FIDELITY_WINDOW - 1 before it (None, in readings saved
    # before it existed: the fidelity alone)
    smoothed_fidelity: float | None = None

    def __post_init__(self):
        if self.smoothed_fidelity is None:
            object.__setattr__(self, "smoothed_fidelity", self.fidelity)

    @property
    def collapsed(self) -> bool:
        return self.diversity < COLLAPSED and self.diversity < 0.5 * self.start_diversity

    @property
    def verdict(self) -> str:
        if self.collapsed:
            return "collapsed"
        if self.memorisation < COPYING:
            return "copying"
        if self.memorisation < STARTING_TO_COPY:
            return "starting to copy"
        return "far from the shots" if self.memorisation > FAR else "healthy"

    @property
    def acceptable(self) -> bool:
        """May this step be kept as the best one?"""
        return not self.collapsed and self.memorisation >= COPYING


@dataclass
class KeepBest:
    """The keep-best rule's memory of a run: its first smoothed fidelity and its lowest acceptable one
    (both None before the first reading; kept in the run's state so chunks and resumes agree)."""

    start: float | None = None
    floor: float | None = None
    min_improvement: float = MIN_IMPROVEMENT  # 0: the rule before 2026-12-07 (benchmarks/monitor_check.py compares)

    def keeps(self, reading: Reading) -> bool:
        """Take this reading into account; True if its step becomes the kept one."""
        return self.consider(reading.smoothed_fidelity, reading.acceptable)

    def consider(self, fidelity: float, acceptable: bool) -> bool:
        """keeps() on a reading's smoothed fidelity and whether it neither copies nor collapsed."""
        if self.start is None:
            self.start = fidelity
        if not acceptable:
            return False
        self.floor = fidelity if self.floor is None else min(self.floor, fidelity)
        if not self.improved:  # the monitor's space has not seen the run come closer: keep the run as trained
            return True
        # (a first reading that did not count, copying or collapsed, can leave the floor above the start)
        return fidelity <= self.floor + LATER_TOLERANCE * max(self.start - self.floor, 0.0)

    @property
    def improved(self) -> bool:
        """Has the run's lowest smoothed fidelity fallen to (1 - min_improvement) of its first?"""
        if self.start is None or self.floor is None:
            return False
        if self.start <= 0:  # KID is unbiased, so it can read <= 0: then there is nothing to improve on
            return self.min_improvement == 0
        return self.floor <= (1 - self.min_improvement) * self.start


class Monitor:
    """Measures G_ema against the shots (N, 3, R, R) uint8; features of the shots are computed once."""

    def __init__(self, shots: torch.Tensor, z_dim: int, device: torch.device, G_start):
        """G_start: the run's generator before any update (its diversity is the collapse baseline)."""
        if len(shots) < 2:
            raise ValueError("the monitor needs at least 2 training images")
        self.features = RandomCNNFeatures(device)
        shots = shots.float().cpu() / 127.5 - 1.0  # (N, 3, R, R) in [-1, 1]
        self.shot_feats = self.features(shots)  # (N, d)
        self.shot_index = aligned_pixels.ShotIndex(shots)
        self.shot_spread = metrics.diversity(self.shot_feats)
        self.z = torch.randn(SAMPLES, z_dim, generator=torch.Generator().manual_seed(LATENT_SEED)).to(device)
        self.start_diversity = self._diversity(self._features(G_start))

    @torch.no_grad()
    def _samples(self, G) -> torch.Tensor:
        return G(self.z).float().clamp(-1, 1).cpu()  # (SAMPLES, 3, R, R)

    def _features(self, G) -> np.ndarray:
        return self.features(self._samples(G))  # (SAMPLES, d)

    def _diversity(self, feats: np.ndarray) -> float:
        return metrics.diversity(feats) / max(self.shot_spread, 1e-12)

    def read(self, G_ema, step: int, earlier_fidelity: list[float] = ()) -> Reading:
        """earlier_fidelity: the run's previous readings' fidelity, oldest first (for smoothing)."""
        samples = self._samples(G_ema)
        feats = self.features(samples)
        memorisation = self.shot_index.memorisation(samples)
        kid, _ = metrics.kid(feats, self.shot_feats, n_subsets=50)
        window = [*list(earlier_fidelity)[-(FIDELITY_WINDOW - 1):], float(kid)]
        return Reading(step, memorisation, self._diversity(feats), float(kid), self.start_diversity,
                       sum(window) / len(window))
