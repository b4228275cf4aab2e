"""Typed events the trainer and the benchmark yield. The CLI and the app format them; the core
never prints."""
from __future__ import annotations

from dataclasses import dataclass, field

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the quick CLI commands must not load torch
    import torch

    from .train_state import TrainState


@dataclass(frozen=True)
class Started:
    total_steps: int  # the step the run will end at
    start_step: int  # > 0 when resuming
    device: str  # e.g. "cpu (2 threads)" or "cuda (NVIDIA H200)"
    num_images: int  # training images after validation
    trainable_params: dict[str, int] = field(default_factory=dict)  # {"G": n, "D": n}


@dataclass(frozen=True)
class Step:
    step: int  # steps completed so far (1-based)
    total_steps: int
    losses: dict[str, float]  # every named term, e.g. {"G/adv": .., "D/real": .., "G/l2sp": ..}
    sec_per_step: float  # moving average of wall-clock seconds per step
    eta_seconds: float  # estimated seconds until the run ends


@dataclass(frozen=True)
class Samples:
    step: int
    images: torch.Tensor  # (N, 3, H, W) float in [-1, 1] from G_ema on the run's fixed latents


@dataclass(frozen=True)
class Monitored:
    """The live monitor's reading (tgan.monitor): G_ema's samples of a fixed latent batch against
    the training shots, in the random-CNN feature space."""

    step: int
    memorisation: float  # median NN distance samples->shots / among the shots: ~1 healthy, -> 0 copying
    diversity: float  # mean pairwise distance of the samples / of the shots: -> 0 collapsed
    fidelity: float  # KID of the samples against the shots (lower is closer)
    verdict: str  # "far from the shots", "healthy", "starting to copy", "copying" or "collapsed"
    best_step: int | None  # the best step so far by the keep-best rule (None: none qualifies yet)
    smoothed_fidelity: float  # mean fidelity of this and the 2 readings before: what keep-best ranks
    # True once keep-best ranks steps by that fidelity (it has fallen by tgan.monitor.MIN_IMPROVEMENT);
    # until then the kept step is the latest one that neither copies nor collapsed
    ranked: bool


@dataclass(frozen=True)
class Saved:
    step: int
    path: str  # the run directory


@dataclass(frozen=True)
class Finished:
    step: int
    path: str | None  # the run directory, or None when the run was not saved
    stopped: bool  # True when ended early (the stop flag, or a monitor alarm)
    reason: str = ""  # why it ended early when the run itself decided (a monitor alarm), else ""


@dataclass(frozen=True)
class Failed:
    step: int
    message: str  # one line: what went wrong and what to do
    path: str | None = None  # last good checkpoint, if any


@dataclass(frozen=True)
class ChunkEnded:
    """The last event of tgan.train_chunk: where the run stands now, to pass to the next chunk."""

    state: TrainState | None  # CPU state after the chunk's last good step (None: the run never started)
    done: bool  # the run is over (finished, stopped or failed): no chunk follows


Event = Started | Step | Samples | Monitored | Saved | Finished | Failed


# ------------------------------------------------------------------ `tgan bench` (tgan.bench.run_bench)

@dataclass(frozen=True)
class BenchRunStarted:
    name: str  # the run's file stem, e.g. "faces-lorelei-10shot-recommended-seed0"
    budget_s: float  # training wall-clock it gets
    strategies: list[str]


@dataclass(frozen=True)
class BenchRunDone:
    name: str
    steps: int
    kid: float | None  # None when the run failed before it could be scored
    status: str  # "ok", "stopped" or "failed" (then error says why)
    error: str | None = None


@dataclass(frozen=True)
class BenchSliceSkipped:
    target: str
    shots: int
    seed: int  # every run of this (target, shots, seed) was already there and reused


@dataclass(frozen=True)
class BenchReportsWritten:
    results: dict  # what results.json holds: per-row aggregates over seeds
    files: list[str]  # the reports written: results.md/json, the plot, one grid per target and shots
    readme: str | None  # the README asked to carry the table, if any
    readme_updated: bool  # False when that README is missing or lacks the results markers


BenchEvent = BenchRunStarted | BenchRunDone | BenchSliceSkipped | BenchReportsWritten


# ------------------------------------------------------------------ projection (tgan.projection.project)

@dataclass(frozen=True)
class ProjectionStep:
    step: int
    total: int
    loss: float  # pixel MSE + perceptual distance of the current reconstruction


@dataclass(frozen=True)
class Projected:
    w: torch.Tensor  # (w_dim,) on the CPU: the latent whose image matches the target
    image: torch.Tensor  # (3, R, R) in [-1, 1]: G's image of w
    psnr: float  # dB between the reconstruction and the target
    perceptual: float  # the random-CNN perceptual distance between them (0: identical)
    steps: int  # optimisation steps run (fewer than asked when stopped)


# ------------------------------------------------------------------ scoring (tgan.scoring.evaluate_iter)

@dataclass(frozen=True)
class FeatureProgress:
    space: str  # the feature space being extracted, e.g. "inception"
    part: str  # "samples", "reference" or "training images"
    done: int  # images whose features are ready, over every space and part so far
    total: int  # images to go through in all


@dataclass(frozen=True)
class Scored:
    result: dict  # tgan.scoring.evaluate's metrics: top-level (first space) + "spaces"


ScoreEvent = FeatureProgress | Scored
