"""What each `tgan` command does once its arguments are parsed (tgan/cli.py parses them).

Each command imports its heavy modules (torch, Inception, ...) only when it runs, so that
`tgan --help` and `tgan strategies` answer without torch."""
from __future__ import annotations

import json
import sys

from .config import DEFAULT_FINETUNE_STEPS, ModelConfig, TrainConfig, monitor_period
from .events import Failed
from .cli_output import CLIError, bench_line, metrics_table, run_training, stop_on_ctrl_c
from .strategies.catalog import PRESETS, WHY, preset_lr, preset_options, with_options


def parse_options(pairs: list[str]) -> dict[str, dict]:
    """["l2sp.lambda_g=2", ...] -> {"l2sp": {"lambda_g": "2"}}"""
    out: dict[str, dict] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        name, dot, field = key.partition(".")
        if not (eq and dot and field):
            raise CLIError(f"--option {pair!r}: write STRATEGY.FIELD=VALUE, e.g. l2sp.lambda_g=2")
        out.setdefault(name, {})[field] = value
    return out


def cmd_pretrain(a) -> None:
    from .data import load_images
    from .distributed import leave, world_from_env
    from .shards import ShardStream, is_shard_folder
    from .trainer import train

    world = world_from_env()  # under torchrun: this process's rank; else a world of one
    if len(a.data) == 1 and is_shard_folder(a.data[0]):  # streamed, each rank its own shards
        images = ShardStream(a.data[0], a.resolution, world.rank, world.size, a.seed)
    else:
        images = load_images(a.data, a.resolution, max_images=None).images
    # r3gan follows R3GAN/StyleGAN2's Adam (beta1 0, beta2 0.99); dcgan keeps DCGAN's (0.5, 0.999).
    betas = (0.0, 0.99) if a.family == "r3gan" else (0.5, 0.999)
    cfg = TrainConfig(steps=a.steps, batch_size=a.batch, seed=a.seed, save_every=a.save_every,
                      sample_every=max(a.save_every, 1), lr_g=a.lr, lr_d=a.lr, beta1=betas[0], beta2=betas[1],
                      ema_halflife_images=a.ema_halflife, r1_gamma=a.gamma, flip=not a.no_flip,
                      strategies=["scratch"] + (["projected_d"] if a.discriminator == "projected" else []) + ["diffaug"],
                      strategy_options={"diffaug": {"policy": a.augment}})
    mapping = a.mapping_layers if a.mapping_layers is not None else (4 if a.family == "r3gan" else 0)
    mcfg = ModelConfig(resolution=a.resolution, g_width=a.width, d_width=a.width, family=a.family,
                       mapping_layers=mapping)
    events = train(cfg, images, a.out, model_config=mcfg, stop=stop_on_ctrl_c(), resume=a.resume,
                   half=True, device=world.device(), world=world)
    if world.is_main:
        run_training(events, a.quiet)
        leave(world)
        return
    for ev in events:  # progress and messages come from rank 0 only
        if isinstance(ev, Failed):
            raise CLIError(f"rank {world.rank}: {ev.message}")
    leave(world)


def cmd_shards(a) -> None:
    from .shards import write_shards

    if a.per_shard < 1:
        raise CLIError(f"--per-shard must be positive, got {a.per_shard}")
    written = write_shards(a.data, a.out, a.per_shard, a.resolution)
    print(f"wrote {len(written)} shard(s) to {a.out}", file=sys.stderr)


def cmd_finetune(a) -> None:
    from .data import load_images
    from .subsets import pick_shots
    from .models import load_source
    from .paths import resolve_model
    from .strategies import with_base
    from .trainer import train

    strategies, note = with_base(a.strategy)
    if note:
        print(f"--strategy {a.strategy}: {note}", file=sys.stderr)
    source = load_source(resolve_model(a.source))
    images = load_images(a.data, source.model_config["resolution"])
    if a.shots:
        images, _ = pick_shots(images, a.shots, a.seed)
    steps = DEFAULT_FINETUNE_STEPS if a.steps is None else a.steps  # None: the app's default fine-tune
    monitor_every = a.monitor_every or (monitor_period(steps) if a.keep_best or a.stop_when_copying else 0)
    lr = a.lr if a.lr is not None else preset_lr(a.strategy, TrainConfig.lr_g)
    cfg = TrainConfig(steps=steps, batch_size=a.batch, seed=a.seed, lr_g=lr, lr_d=lr,
                      save_every=a.save_every, strategies=strategies,
                      strategy_options=with_options(preset_options(a.strategy), parse_options(a.option)),
                      monitor_every=monitor_every,
                      keep_best=a.keep_best, stop_when_copying=a.stop_when_copying, flip=a.flip)
    folder = run_training(train(cfg, images.images, a.out, source=source, stop=stop_on_ctrl_c(),
                                resume=a.resume), a.quiet)
    if folder:  # what the model makes, beside it, as every bundled source shows it
        from . import sampling
        from .models import load_model

        sampling.save_seed_grids(load_model(folder).G_ema, folder)
        print(f"wrote samples.png and samples-psi05.png (seeds 0-35, truncation 1 and 0.5) to {folder}",
              file=sys.stderr)


def cmd_sample(a) -> None:
    from . import sampling
    from .models import load_model
    from .paths import resolve_model

    model = load_model(resolve_model(a.model))
    images = sampling.sample_seeds(model.G_ema, range(a.seed, a.seed + a.n), psi=a.truncation)
    sampling.grid_image(images).save(a.out)
    print(f"wrote {a.n} samples to {a.out}", file=sys.stderr)


def cmd_interpolate(a) -> None:
    if len(a.seeds) < 2:
        raise CLIError("--seeds needs at least two seeds, e.g. --seeds 1 2 3")
    from . import sampling
    from .models import load_model
    from .paths import resolve_model

    model = load_model(resolve_model(a.model))
    frames = sampling.interpolation_frames(model.G_ema, a.seeds, a.frames, psi=a.truncation)
    sampling.write_video(frames, a.out, fps=a.fps)
    print(f"wrote {a.frames} frames to {a.out}", file=sys.stderr)


def cmd_strategies(a) -> None:
    w = max(map(len, [*WHY, *PRESETS]))  # one column width for both tables
    print("Strategies:")
    for name, why in WHY.items():
        print(f"  {name:{w}s} {why}")
    print("\nPresets (use with --strategy):")
    for name, (names, why) in PRESETS.items():
        options = " ".join(f"{s}.{f}={v}" for s, fields in preset_options(name).items() for f, v in fields.items())
        print(f"  {name:{w}s} {' + '.join(names)}{f' ({options})' if options else ''}\n  {'':{w}s} {why}")


def cmd_eval(a) -> None:
    from tqdm import tqdm

    from .evaluation import evaluate_model_or_samples_iter  # heavy Inception import only when used
    from .events import FeatureProgress, Scored

    bar, result = None, None
    for ev in evaluate_model_or_samples_iter(a.model, a.samples, a.reference, n=a.n, seed=a.seed,
                                             train_path=a.train, resolution=a.resolution,
                                             max_reference=a.max_reference):
        if isinstance(ev, FeatureProgress):  # on stderr: with --json, stdout carries only the JSON
            bar = bar or tqdm(total=ev.total, unit="img", desc="features", file=sys.stderr, disable=a.quiet)
            bar.set_description(f"{ev.space} features of the {ev.part}", refresh=False)
            bar.update(ev.done - bar.n)
        elif isinstance(ev, Scored):
            result = ev.result
    if bar is not None:
        bar.close()
    print(json.dumps(result) if a.json else metrics_table(result))


def cmd_bench(a) -> None:
    from .bench import run_bench  # the benchmark harness, only when used
    from .bench_config import config_from_args

    try:
        for ev in run_bench(config_from_args(a)):
            print("[bench]", bench_line(ev), file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        raise SystemExit("tgan bench: interrupted; finished runs are kept in runs/, "
                         "the same command resumes") from None
