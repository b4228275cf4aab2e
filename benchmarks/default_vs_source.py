"""Does the app's default fine-tune beat the unadapted source, at the default step count?

    python benchmarks/default_vs_source.py --data-dir DIR [--targets faces-lorelei ...] [--steps N]
                                          [--milestones 450 1350 ...] [--strategies NAME ...] [--betas B1 B2]
                                          [--lr-g LR] [--ema-halflife IMAGES] [--ema-rampup F]
                                          [--lr-mult PREFIX=MULT ...]
                                          [--option STRATEGY.FIELD=VALUE ...]

For each visible target (DIR/target-<name>.zip): 10 shots drawn by seed 0 (--seed), the matching bundled
source, the app's default settings (appkit.make_config: recommended preset at its learning
rate, batch 16, the CPU default steps, keep-best on), trained through train_chunk as the app trains. Scores 200 samples of
the unadapted source, the kept (best) step and the last step against the held-out images (up to
300, seeded) in both feature spaces. Prints one Markdown table; the goal is a fine-tune KID <= 0.5x
the source's. A target of our own (e.g. target-faces-notionists.zip, built by
benchmarks/lineart_target/) uses the bundled source its name starts with. --milestones (each below --steps) also scores the last step of the same run on its way to --steps,
one line each: how KID falls with more steps. --option (as in `tgan finetune`) changes one of the
default preset's strategy options (e.g. projected_d.mixing=random), and --strategies trains other
strategies at the same settings (e.g. transfer_d projected_d diffaug), to compare a variant of the default;
--betas sets Adam's betas of G and D (e.g. 0 0.99, as Projected GAN trains), --lr-g G's own learning rate,
--ema-halflife and --ema-rampup G_ema's averaging (TrainConfig.ema_halflife_images, .ema_rampup), --lr-mult
layer-wise rates (e.g. G.blocks.3.=2; TrainConfig.lr_multipliers).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

import appkit as sup  # noqa: E402
from tgan import ChunkEnded, TrainConfig, load_images, metrics, sampling, scoring, train_chunk  # noqa: E402
from tgan.models import generator_from_tensors, load_model  # noqa: E402
from tgan.bench_config import TARGETS as SOURCE_FOR  # noqa: E402
from tgan.cli_commands import parse_options  # noqa: E402
from tgan.cli_output import CLIError  # noqa: E402
from tgan.config import LR_SCHEDULES  # noqa: E402
from tgan.paths import CHECKPOINTS  # noqa: E402
from tgan.strategies.catalog import DEFAULT_PRESET, PRESETS, preset_lr, preset_options, with_options  # noqa: E402
from tgan.strategies.registry import build, with_base  # noqa: E402
from tgan.subsets import pick_shots, random_subset  # noqa: E402
from tgan.config import DEFAULT_FINETUNE_STEPS as DEFAULT_STEPS  # noqa: E402


def ten_shots(data_dir: Path, target: str, seed: int = 0):
    """The target's 10 shots drawn by `seed`, and up to 300 seeded held-out images as floats."""
    shots, rest = pick_shots(load_images(data_dir / f"target-{target}.zip", 64), 10, seed=seed)
    return shots, random_subset(rest, 300, seed=0).as_float()


def source_for(target: str) -> str:
    """The bundled source a target fine-tunes from: the bench's pairing, else its name's first word
    (faces-notionists -> faces)."""
    source = SOURCE_FOR.get(target) or target.split("-", 1)[0]
    if not (CHECKPOINTS / source).is_dir():
        raise SystemExit(f"no bundled source for target {target!r}: name it <source>-<style>, with <source> "
                         f"one of {', '.join(sorted(set(SOURCE_FOR.values())))}")
    return source


def default_finetune(shots, target: str, steps: int = DEFAULT_STEPS, until: int | None = None, state=None,
                     batch: int = TrainConfig.batch_size, lr: float | None = None, options=None,
                     strategies=None, seed: int = 0, overrides: dict | None = None):
    """The app's default `steps`-step fine-tune of the target's bundled source on `shots`, driven in
    30 s chunks as the app drives it, from `state` (None: a new run) to step `until` (default: the
    end); the TrainState there. `lr` None: the preset's own rate; `options`: {strategy: {field: value}}
    over the preset's own; `strategies` None: the default preset's (a list: no preset options);
    `seed`: the run's random stream; `overrides`: TrainConfig fields set over the app's settings
    (e.g. beta1, beta2, lr_g)."""
    lr = preset_lr(DEFAULT_PRESET, TrainConfig.lr_g) if lr is None else lr
    cfg = sup.make_config(strategies or list(PRESETS[DEFAULT_PRESET][0]), [], steps, lr, batch, seed)
    own = preset_options(DEFAULT_PRESET) if strategies is None else {}
    cfg = dataclasses.replace(cfg, strategy_options=with_options(own, options or {}), **(overrides or {}))
    until = steps if until is None else until
    while state is None or state.step < until:
        done = state.step if state is not None else 0
        for ev in train_chunk(cfg, shots.images, state, CHECKPOINTS / source_for(target),
                              max_steps=until - done, max_seconds=30):
            if isinstance(ev, ChunkEnded):
                state = ev.state
    return state


def score(G, heldout, shots, n: int, extractors: dict) -> dict:
    """Both spaces' scores of G's first n seeds (from 10,000) against the held-out images. The
    held-out and shot features come from the on-disk cache after the first score of a target."""
    with torch.no_grad():
        samples = sampling.sample_seeds(G, range(10_000, 10_000 + n))
    return scoring.evaluate(samples, heldout, train=shots.as_float(), extractors=extractors,
                            cache=metrics.FeatureCache())["spaces"]


def write_grid(path: Path, models: dict, shots) -> None:
    """Rows: each model's samples of seeds 10,000-10,009, then the 10 shots."""
    with torch.no_grad():
        rows = [sampling.sample_seeds(G, range(10_000, 10_010)).cpu() for G in models.values()]
    rows.append(shots.as_float()[:10])
    path.parent.mkdir(parents=True, exist_ok=True)
    sampling.upscale(sampling.grid_image(torch.cat(rows), nrow=10), 2).save(path)


def _prefix_and_mult(item: str) -> tuple[str, float]:
    """'G.to_rgb.=2' -> ('G.to_rgb.', 2.0); ValueError without '=' or a number after it."""
    prefix, _, mult = item.rpartition("=")
    if not prefix:
        raise ValueError(f"no PREFIX= in {item!r}")
    return prefix, float(mult)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--targets", nargs="+", default=list(SOURCE_FOR))
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--batch", type=int, default=TrainConfig.batch_size,
                   help=f"images per step (the app's default: {TrainConfig.batch_size})")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate of G and D (default: the preset's)")
    p.add_argument("--lr-g", type=float, default=None, help="G's own learning rate (default: as D's, --lr)")
    p.add_argument("--betas", type=float, nargs=2, default=None, metavar=("BETA1", "BETA2"),
                   help=f"Adam betas of G and D (default: the app's, {TrainConfig.beta1} {TrainConfig.beta2})")
    p.add_argument("--grids", type=Path, default=None,
                   help="also write DIR/<target>-default-<steps>.png: 10 samples each of the source, the kept step and "
                        "the last step (seeds 10,000-10,009), over the 10 shots")
    p.add_argument("--strategies", nargs="+", default=None,
                   help="the strategies to train (default: the default preset's), to compare a variant")
    p.add_argument("--option", action="append", default=[], metavar="STRATEGY.FIELD=VALUE",
                   help="a strategy option, e.g. projected_d.mixing=random (repeatable)")
    p.add_argument("--ema-halflife", type=int, default=None,
                   help=f"G_ema's half-life in images seen (default: the app's, {TrainConfig.ema_halflife_images})")
    p.add_argument("--ema-rampup", type=float, default=None,
                   help="cap G_ema's half-life at this fraction of the images seen so far (StyleGAN-ADA: 0.05; "
                        f"default: the app's, {TrainConfig.ema_rampup})")
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=None,
                   help=f"how the rates move over the run (default: the app's, {TrainConfig.lr_schedule})")
    p.add_argument("--lr-mult", action="append", default=[], metavar="PREFIX=MULT",
                   help="scale the rate of the parameters whose names start with PREFIX, e.g. G.to_rgb.=2 "
                        "(0 freezes them; repeatable; TrainConfig.lr_multipliers)")
    p.add_argument("--seed", type=int, default=0, help="draws the 10 shots and seeds the run (default 0)")
    p.add_argument("--milestones", type=int, nargs="*", default=[],
                   help="also score the last step here (the run's own steps, in the same run)")
    a = p.parse_args()
    if any(not 0 < m < a.steps for m in a.milestones):
        p.error(f"each milestone must lie between 0 and --steps ({a.steps}): a run cannot be scored past its end")
    # TrainConfig fields set over the app's settings: the flags given, by their field names
    try:
        multipliers = dict(_prefix_and_mult(item) for item in a.lr_mult) or None
    except ValueError:
        p.error(f"--lr-mult takes PREFIX=MULT with a number for MULT, e.g. G.to_rgb.=2 (got {a.lr_mult})")
    given = {"lr_g": a.lr_g, "ema_halflife_images": a.ema_halflife, "ema_rampup": a.ema_rampup,
             "lr_schedule": a.lr_schedule, "lr_multipliers": multipliers,
             **(dict(beta1=a.betas[0], beta2=a.betas[1]) if a.betas else {})}
    overrides = {field: value for field, value in given.items() if value is not None}
    # A bad --strategies, --option, --betas, --lr-g, --ema-*, --lr-schedule or --lr-mult fails here, before any
    # training: the CLI's parsing, the strategies' own checks, TrainConfig's ranges.
    try:
        names = with_base(a.strategies or list(PRESETS[DEFAULT_PRESET][0]))[0]
        options = parse_options(a.option)
        build(names, options)
        TrainConfig(**overrides).validate()
    except (CLIError, ValueError) as e:
        p.error(str(e))
    missing = [t for t in a.targets if not (a.data_dir / f"target-{t}.zip").is_file()]
    if missing:  # before any training, not after the first targets' runs
        p.error(f"no target-<name>.zip in {a.data_dir} for: {', '.join(missing)} (build one with "
                f"benchmarks/lineart_target/, or put the data sets' zips there)")
    for target in a.targets:
        source_for(target)  # exits with the bundled sources' names if the target has none
    if set(options) - set(names):
        p.error(f"--option names a strategy outside the trained ones ({', '.join(names)}): "
                f"{', '.join(sorted(set(options) - set(names)))}")
    extractors = scoring.default_extractors("cpu")
    curve = []  # Markdown lines of the --milestones scores, printed after the table
    print("| target | steps | kept step | space | unadapted source KID | fine-tuned (kept) | last step | kept / source |")
    print("|---|---|---|---|---:|---:|---:|---:|")
    for target in a.targets:
        shots, heldout = ten_shots(a.data_dir, target, a.seed)
        source = source_for(target)
        state, took = None, 0.0
        for until in sorted(set(a.milestones)) + [a.steps]:
            t0 = time.perf_counter()
            # Without --strategies (None) this is the default preset itself, its options included.
            state = default_finetune(shots, target, a.steps, until, state, a.batch, a.lr, options,
                                     names if a.strategies else None, a.seed, overrides)
            took += time.perf_counter() - t0  # training only: the milestones' scoring is left out
            if until < a.steps:
                for space, v in score(generator_from_tensors(state.model, state.tensors, "G_ema"),
                                      heldout, shots, a.n, extractors).items():
                    curve.append(f"| {target} | {until} ({took:.0f} s) | {space} | {v['kid']:.4f} | "
                                 f"{v['precision']:.2f} |")
        models = {"source": load_model(CHECKPOINTS / source, device="cpu").G_ema,
                  "kept": generator_from_tensors(state.model, state.tensors, state.generator_prefix()),
                  "last": generator_from_tensors(state.model, state.tensors, "G_ema")}
        scores = {name: score(G, heldout, shots, a.n, extractors) for name, G in models.items()}
        if a.grids:
            write_grid(a.grids / f"{target}-default-{a.steps}.png", models, shots)
        kept = state.best["step"] if state.best else a.steps
        for space in scores["source"]:
            s, k, last = (scores[m][space]["kid"] for m in ("source", "kept", "last"))
            print(f"| {target} | {a.steps} ({took:.0f} s) | {kept} | {space} | {s:.4f} | {k:.4f} | {last:.4f} | "
                  f"{k / s:.2f} |", flush=True)
    if curve:
        print("\n| target | step (training time) | space | KID of the last step | precision |\n|---|---|---|---:|---:|")
        print("\n".join(curve))


if __name__ == "__main__":
    main()
