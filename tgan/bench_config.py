"""What one `tgan bench` run covers (targets, shots, seeds, presets, budget, where it writes) and
how the CLI's options and the `full` / `quick` configurations become a BenchConfig."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from .config import TrainConfig
from .paths import CHECKPOINTS, REPO_ROOT
from .strategies import DEFAULT_PRESET, PRESETS

# target set name (target-NAME.zip) -> the bundled source it is adapted from
TARGETS = {"emoji-3d-animals": "emoji", "faces-lorelei": "faces", "kanji-gyosho": "kanji"}
DEFAULT_DATA_DIR = os.environ.get("TGAN_DATA", "")  # the folder with target-*.zip; or --data-dir


@dataclass
class BenchConfig:
    name: str = "full"
    targets: dict[str, str] = field(default_factory=lambda: dict(TARGETS))
    shots: list[int] = field(default_factory=lambda: [10, 25])
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    presets: list[str] = field(default_factory=lambda: list(PRESETS))
    budget_s: float = 180.0  # training wall-clock per run, the same for every preset
    n: int = 500  # generated samples scored per finished run
    curve_points: int = 3  # KID measured after each 1/curve_points of the budget
    curve_n: int = 100  # samples for the intermediate curve points
    reference_cap: int = 500  # at most this many held-out images as the reference
    batch: int = TrainConfig.batch_size
    lr: float | None = None  # Adam rate of G and D for every preset; None: each preset's own (PRESET_LR)
    # Score each run at the step the live monitor's keep-best rule kept, as the app does (monitor
    # every KEEP_BEST_PERIOD steps, charged to the budget); off: the last step.
    keep_best: bool = False
    grid_cols: int = 10
    data_dir: str = DEFAULT_DATA_DIR
    sources: str = str(CHECKPOINTS)
    out: str = str(REPO_ROOT / "benchmarks")
    force: bool = False
    readme: str | None = str(REPO_ROOT / "README.md")


def make_config(name: str = "full", **overrides) -> BenchConfig:
    """`full` (the published table) or `quick` (a smoke run of a minute or two); None = keep."""
    if name not in ("full", "quick"):
        raise ValueError(f"unknown benchmark config {name!r}; use full or quick")
    base = BenchConfig() if name == "full" else BenchConfig(
        name="quick", targets={"emoji-3d-animals": "emoji"}, shots=[10], seeds=[0], budget_s=20.0, n=100,
        presets=[DEFAULT_PRESET, "TransferGAN", "from scratch"], curve_points=2, curve_n=50,
        out=str(REPO_ROOT / "benchmarks" / "quick"), readme=None)
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})


def parse_targets(items) -> dict[str, str]:
    """["emoji-3d-animals", "tiny=mysource"] -> {target: source}; known targets need no source."""
    out = {}
    for item in items:
        name, _, source = str(item).partition("=")
        name = name.removeprefix("target-").removesuffix(".zip")
        if not (source or name in TARGETS):
            raise ValueError(f"target {name!r}: say which source it adapts from, e.g. {name}=emoji "
                             f"(known targets: {', '.join(TARGETS)})")
        out[name] = source or TARGETS[name]
    return out


def check(cfg: BenchConfig) -> None:
    """Fail in seconds, not hours in: every file, source and preset must exist up front."""
    for preset in cfg.presets:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    for target, source in cfg.targets.items():
        if not (Path(cfg.data_dir) / f"target-{target}.zip").is_file():
            raise FileNotFoundError(f"no target-{target}.zip in {cfg.data_dir} (set --data-dir)")
        if not (Path(cfg.sources) / source / "config.json").is_file():
            raise FileNotFoundError(f"no source model {source!r} in {cfg.sources} (set --sources)")
    if min(cfg.shots) < 1 or cfg.budget_s <= 0 or min(cfg.n, cfg.curve_n, cfg.curve_points) < 1:
        raise ValueError("shots, budget, n, curve points and curve n must all be positive")


def config_from_args(args) -> BenchConfig:
    """argparse namespace from `tgan bench` -> BenchConfig. Options cli.py lacks are treated as unset."""
    opt = lambda name: getattr(args, name, None)  # noqa: E731
    targets = parse_targets(opt("targets")) if opt("targets") else None
    cfg = make_config(opt("config") or "full", out=opt("out"), data_dir=opt("data_dir"), sources=opt("sources"),
                      targets=targets, presets=opt("presets"), shots=opt("shots_list"), seeds=opt("seeds"),
                      budget_s=opt("budget_seconds"), n=opt("n"), reference_cap=opt("reference_cap"),
                      curve_points=opt("curve_points"), batch=opt("batch"), lr=opt("lr"), force=bool(opt("force")) or None,
                      keep_best=bool(opt("keep_best")) or None,
                      readme=opt("readme"))
    return dataclasses.replace(cfg, readme=None) if opt("no_readme") else cfg
