"""Limits of the app and parsing of user input into validated values and a TrainConfig.

The API can be called directly, so the server checks every value here, not just the sliders.
"""
from __future__ import annotations

import math
import os

import torch

from tgan.config import TrainConfig, monitor_period
from tgan.strategies import PRESETS, STRATEGIES, preset_options, strategy_fields, with_base

# Limits of the app (the API can be called directly, so the server checks them, not just sliders).
MAX_STEPS = int(os.environ.get("TGAN_APP_MAX_STEPS", 5000))
MAX_BATCH = 64
LR_RANGE = TrainConfig.LIMITS["lr_g"]
SEED_MAX = 2**31 - 1
MAX_INTERP_SEEDS = 16
MAX_VIDEO_FRAMES = 240
PCA_COMPONENTS = 5
GALLERY_SEEDS = 16
# Threads: PyTorch's intra-op thread count is per OS thread. Sampling one 64 px image with 2 threads
# on 2 busy cores waits at OpenMP barriers (250 ms instead of 3 ms), so explore handlers sample with
# one thread; the training thread uses what the process started with (or TGAN_TRAIN_THREADS).
EXPLORE_THREADS = int(os.environ.get("TGAN_EXPLORE_THREADS", "1"))
TRAIN_THREADS = int(os.environ.get("TGAN_TRAIN_THREADS", "0")) or torch.get_num_threads()
# Training runs as a loop of chunks (appkit/live_run.py). A chunk is the unit that may be lost (a
# ZeroGPU call past its duration) and the latency of Stop on ZeroGPU; 30 s keeps both small while
# the per-chunk setup (building the networks, loading the state) stays under 2% of it.
CHUNK_SECONDS = float(os.environ.get("TGAN_CHUNK_SECONDS", "30"))
CHUNK_STEPS = int(os.environ.get("TGAN_CHUNK_STEPS", "0")) or None  # None: bounded by time only
EXAMPLE_SETS = {  # folder under examples/ -> label
    "emoji-3d-animals": "Emoji, 3D animals",
    "faces-lorelei": "Faces, lorelei line art",
    "kanji-gyosho": "Kanji, gyosho brush",
}


# ----------------------------------------------------------------------------- parsing user input

PROJECTED = "p"  # among interpolation seeds: the latent of the image projected on the Explore tab


def parse_seeds(text, minimum: int = 2, allow_projected: bool = False) -> list:
    """'3, 17, 42' (spaces or commas) -> [3, 17, 42], with readable errors; with allow_projected,
    'p' stands for the projected image ('p, 17' -> ['p', 17])."""
    parts = [p for p in str(text or "").replace(",", " ").replace(";", " ").split() if p]
    seeds = []
    for p in parts:
        if allow_projected and p.lower() == PROJECTED:
            seeds.append(PROJECTED)
            continue
        try:
            value = int(p)
        except ValueError:
            raise ValueError(f"{p!r} is not a whole number; write seeds like 3, 17, 42"
                             + (" (p: your projected image)" if allow_projected else "")) from None
        if not 0 <= value <= SEED_MAX:
            raise ValueError(f"seed {value} is out of range; use 0 to {SEED_MAX}")
        seeds.append(value)
    if len(seeds) < minimum:
        raise ValueError(f"give at least {minimum} seeds, e.g. 3, 17, 42")
    if len(seeds) > MAX_INTERP_SEEDS:
        raise ValueError(f"at most {MAX_INTERP_SEEDS} seeds at a time")
    return seeds


def as_int(value, name: str, lo: int, hi: int) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or number != int(number):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if not lo <= number <= hi:
        raise ValueError(f"{name}={int(number)} is out of range; use {lo} to {hi}")
    return int(number)


def as_float(value, name: str, lo: float, hi: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or not lo <= number <= hi:
        raise ValueError(f"{name}={value!r} is out of range; use {lo:g} to {hi:g}")
    return number


# The x-flip control: a run mirrors its images at random as its source was pretrained (kanji was
# not: a mirrored glyph is no glyph), unless the user says otherwise.
FLIP_CHOICES = {"as the source was trained": None, "yes": True, "no": False}
DEFAULT_FLIP = next(iter(FLIP_CHOICES))  # the control's first choice, "as the source was trained"


def as_flip(value) -> bool | None:
    """The x-flip control's value -> TrainConfig.flip (None: the source's choice)."""
    if value is None or value == "":
        return None
    if value not in FLIP_CHOICES:
        raise ValueError(f"mirror images: {value!r} is not a choice; use one of {', '.join(map(repr, FLIP_CHOICES))}")
    return FLIP_CHOICES[value]


def option_specs() -> list[tuple[str, str, object, str]]:
    """(strategy, field, default, help) for every strategy option, in a fixed order."""
    return [(s, f, d, h) for s in STRATEGIES for f, d, h in strategy_fields(s)]


def preset_option_values(preset: str) -> list:
    """Every option control's value for `preset`, in option_specs() order: the preset's own
    (tgan.strategies.catalog.PRESET_OPTIONS), else the strategy's default."""
    own = preset_options(preset)
    return [own.get(strategy, {}).get(field, default) for strategy, field, default, _ in option_specs()]


def preset_strategies(preset: str) -> tuple[list[str], str]:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    names, why = PRESETS[preset]
    return list(names), why


def base_note(strategies) -> str | None:
    """What make_config adds when no initialisation is chosen (e.g. transfer_d for freeze_d)."""
    return with_base(list(strategies or []))[1] if strategies else None


def make_config(strategies, option_values, steps, lr, batch_size, seed, flip=None, grid_size: int = 16) -> TrainConfig:
    """A validated TrainConfig from the form. option_values follow option_specs(); None = default;
    flip: a FLIP_CHOICES key (None: as the source was trained)."""
    if not strategies:
        raise ValueError("choose at least one strategy (or a preset)")
    names, _ = with_base(list(strategies))  # the app says what was added (base_note)
    steps = as_int(steps, "steps", 1, MAX_STEPS)
    options: dict[str, dict] = {}
    values = list(option_values or [])
    for i, (strategy, fname, default, _) in enumerate(option_specs()):
        value = values[i] if i < len(values) else None
        if strategy in names and value is not None and value != "" and value != default:
            options.setdefault(strategy, {})[fname] = value
    cfg = TrainConfig(
        steps=steps, batch_size=as_int(batch_size, "batch size", 1, MAX_BATCH),
        lr_g=as_float(lr, "learning rate", *LR_RANGE), lr_d=as_float(lr, "learning rate", *LR_RANGE),
        seed=as_int(seed, "seed", 0, SEED_MAX), flip=as_flip(flip), grid_size=grid_size,
        sample_every=max(1, min(25, steps // 20)), save_every=0,
        monitor_every=monitor_period(steps), keep_best=True,  # the app keeps the best step
        strategies=names, strategy_options=options)
    return cfg.validate()
