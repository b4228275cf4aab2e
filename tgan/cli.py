"""`tgan` command line: pretrain, finetune, sample, interpolate, strategies, eval, bench.

Errors are one line on stderr and exit code 2; progress is a tqdm bar."""
from __future__ import annotations

import argparse
import json
import os
import sys

# Only light modules at the top: `tgan --help` and `tgan strategies` must answer without torch.
# Each command imports what it needs (torch, Inception, ...) when it runs.
from .config import ModelConfig, TrainConfig, default_finetune_steps, monitor_period
from .errors import CheckpointError, DataError
from .events import Failed
from .cli_images import cmd_advise, cmd_doctor, cmd_project
from .cli_output import CLIError, bench_line, metrics_table, run_training, stop_on_ctrl_c
from .strategies.catalog import PRESETS, WHY, preset_lr


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
    steps = a.steps
    if steps is None:  # the app's default fine-tune (torch is imported by now: load_source)
        import torch
        steps = default_finetune_steps(torch.cuda.is_available())
    monitor_every = a.monitor_every or (monitor_period(steps) if a.keep_best or a.stop_when_copying else 0)
    lr = a.lr if a.lr is not None else preset_lr(a.strategy, TrainConfig.lr_g)
    cfg = TrainConfig(steps=steps, batch_size=a.batch, seed=a.seed, lr_g=lr, lr_d=lr,
                      save_every=a.save_every, strategies=strategies,
                      strategy_options=parse_options(a.option), monitor_every=monitor_every,
                      keep_best=a.keep_best, stop_when_copying=a.stop_when_copying)
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
        print(f"  {name:{w}s} {' + '.join(names)}\n  {'':{w}s} {why}")


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
    from .bench import config_from_args, run_bench  # the benchmark harness, only when used

    try:
        for ev in run_bench(config_from_args(a)):
            print("[bench]", bench_line(ev), file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        raise SystemExit("tgan bench: interrupted; finished runs are kept in runs/, "
                         "the same command resumes") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tgan", description="Few-shot transfer learning for GANs.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("pretrain", help="train a source GAN from scratch on a large image set")
    s.add_argument("--data", required=True, nargs="+",
                   help="image folder, .zip or files (loaded into memory), or a folder of tar shards "
                        "(shard-*.tar, streamed; see `tgan shards`)")
    s.add_argument("--out", required=True, help="run folder to write (and resume from)")
    s.add_argument("--resolution", type=int, default=64, choices=(32, 64, 128))
    s.add_argument("--steps", type=int, default=20_000, help="total steps (a resume continues to this)")
    s.add_argument("--batch", type=int, default=32,
                   help="images per step in all; under torchrun each process takes batch / processes of them")
    s.add_argument("--width", type=int, default=32, help="G/D channel width (checkpoint size grows ~width^2)")
    s.add_argument("--family", choices=("r3gan", "dcgan"), default="r3gan",
                   help="network family: r3gan (residual, RpGAN + R1/R2; default) or dcgan (the v1 sources)")
    s.add_argument("--mapping-layers", type=int, default=None,
                   help="depth of the z -> w MLP (default: 4 for r3gan, 0 for dcgan)")
    s.add_argument("--discriminator", choices=("conv", "projected"), default="conv",
                   help="conv: the family's own D; projected: heads on a frozen ImageNet EfficientNet-Lite0 "
                        "(Projected GAN; hinge loss; its Inception scores flatter it, see README 'Scores you can trust')")
    s.add_argument("--gamma", type=float, default=1.0,
                   help="R1/R2 strength (r3gan; R3GAN starts FFHQ-64 at 2 and CIFAR-10 at 0.05)")
    s.add_argument("--lr", type=float, default=2e-4)
    s.add_argument("--ema-halflife", type=int, default=10_000,
                   help="G_ema's half-life in images seen; a longer one averages out the last steps' "
                        "wobble once the curve is flat (on --resume it applies from the next step)")
    s.add_argument("--augment", default="color,translation", help="DiffAugment policy")
    s.add_argument("--no-flip", action="store_true",
                   help="no random x-flips of the real images: for writing, text and anything else that a "
                        "mirror turns into something that does not exist")
    s.add_argument("--save-every", type=int, default=500)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    s.add_argument("--quiet", action="store_true")
    s.add_argument("--threads", type=int, default=0,
                   help="CPU threads (default: the cores free right now; on a GPU this only affects data handling)")
    s.set_defaults(fn=cmd_pretrain)

    s = sub.add_parser("shards", help="write images as tar shards (WebDataset layout) for streamed pretraining")
    s.add_argument("--data", required=True, nargs="+", help="image folder, .zip or files")
    s.add_argument("--out", required=True, help="folder for shard-00000.tar, shard-00001.tar, ...")
    s.add_argument("--resolution", type=int, default=64, choices=(32, 64, 128))
    s.add_argument("--per-shard", type=int, default=1000, help="images per shard")
    s.set_defaults(fn=cmd_shards)

    s = sub.add_parser("finetune", help="adapt a source GAN to a few images")
    s.add_argument("--source", required=True, help="source model folder or bundled name (emoji, faces, kanji)")
    s.add_argument("--data", required=True, nargs="+", help="image folder, .zip or files")
    s.add_argument("--out", required=True, help="run folder to write")
    s.add_argument("--shots", type=int, default=0, help="use K images drawn from --data by --seed (0: all)")
    s.add_argument("--strategy", default="recommended", help="a preset or comma-separated strategies")
    s.add_argument("--option", action="append", default=[], metavar="STRATEGY.FIELD=VALUE",
                   help="override a strategy hyperparameter, e.g. l2sp.lambda_g=2 (repeatable)")
    s.add_argument("--steps", type=int, default=None,
                   help=f"optimisation steps (default: the app's default fine-tune, {default_finetune_steps(False)} "
                        f"on a CPU, {default_finetune_steps(True)} on a GPU)")
    s.add_argument("--batch", type=int, default=TrainConfig.batch_size)
    s.add_argument("--lr", type=float, default=None,
                   help="Adam learning rate of G and D (default: the preset's own, from the benchmark's "
                        f"sweep; {TrainConfig.lr_g:g} for a list of strategies)")
    s.add_argument("--save-every", type=int, default=TrainConfig.save_every)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    s.add_argument("--monitor-every", type=int, default=0, metavar="K",
                   help="every K steps, measure copying, diversity and fidelity against the shots "
                        "(random-CNN space; shown on the progress line). A collapse stops the run")
    s.add_argument("--keep-best", action="store_true",
                   help="keep the best monitored step as the model (the latest step whose fidelity, averaged "
                        "over 3 readings, is within 10%% of the run's improvement from its lowest, while not "
                        "copying or collapsed; until that lowest is half the first reading, the latest step); "
                        "the last step is kept too (G_ema_last). Turns the monitor on")
    s.add_argument("--stop-when-copying", action="store_true",
                   help="end the run when the monitor says it is copying the shots. Turns the monitor on")
    s.add_argument("--quiet", action="store_true")
    s.add_argument("--threads", type=int, default=0,
                   help="CPU threads (default: the cores free right now; on a GPU this only affects data handling)")
    s.set_defaults(fn=cmd_finetune)

    s = sub.add_parser("sample", help="write a grid of samples to a PNG")
    s.add_argument("--model", required=True, help="model folder or bundled name")
    s.add_argument("--out", required=True, help="output .png")
    s.add_argument("--n", type=int, default=16)
    s.add_argument("--seed", type=int, default=0, help="first seed; sample i uses seed+i")
    s.add_argument("--truncation", type=float, default=1.0, help="psi in [0, 1]: lower = more typical")
    s.set_defaults(fn=cmd_sample)

    s = sub.add_parser("interpolate", help="write a slerp interpolation through seeds as GIF/MP4")
    s.add_argument("--model", required=True)
    s.add_argument("--out", required=True, help="output .gif or .mp4")
    s.add_argument("--seeds", type=int, nargs="+", required=True)
    s.add_argument("--frames", type=int, default=32)
    s.add_argument("--fps", type=int, default=16)
    s.add_argument("--truncation", type=float, default=1.0)
    s.set_defaults(fn=cmd_interpolate)

    s = sub.add_parser("strategies", help="list strategies and presets with why each exists")
    s.set_defaults(fn=cmd_strategies)

    s = sub.add_parser("advise", help="which source, preset and step count suit your images, and why")
    s.add_argument("--data", required=True, nargs="+", help="image folder, .zip or files")
    s.add_argument("--source", help="fix the source (folder or bundled name) instead of picking the nearest")
    s.add_argument("--json", action="store_true", help='one JSON object: {"source", "preset", "steps", "why"}')
    s.set_defaults(fn=cmd_advise)

    s = sub.add_parser("project", help="find the latent whose image matches yours (writes it and the reconstruction)")
    s.add_argument("--model", required=True, help="model folder or bundled name")
    s.add_argument("--image", required=True, help="the image to put into the model")
    s.add_argument("--out", required=True, help="folder for latent.safetensors, reconstruction.png, comparison.png")
    s.add_argument("--steps", type=int, default=300)
    s.add_argument("--data", nargs="+", help="the model's training images: adds the nearest one to comparison.png")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(fn=cmd_project)

    s = sub.add_parser("doctor", help="check a set of images before training: duplicates, crops, outliers, ...")
    s.add_argument("--data", required=True, nargs="+", help="image folder, .zip or files")
    s.add_argument("--resolution", type=int, default=64)
    s.add_argument("--shots", type=int, default=0, help="the shots you plan to train with (0: all)")
    s.add_argument("--json", action="store_true", help='one JSON object: {"usable", "train_on", "findings": [...]}')
    s.set_defaults(fn=cmd_doctor)

    s = sub.add_parser("eval", help="score a model or a folder of samples against real images (KID, FID, ...)")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--model", help="model folder or bundled name")
    g.add_argument("--samples", help="folder/zip of generated images (any generator)")
    s.add_argument("--reference", required=True, help="real images: folder, .zip")
    s.add_argument("--train", help="the training images, for the memorisation score")
    s.add_argument("--n", type=int, default=1000, help="samples to generate / use")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--resolution", type=int, default=64, help="image size for --samples (a model uses its own)")
    s.add_argument("--max-reference", type=int, default=None,
                   help="score against a seeded random sample of N reference images (seed 0), never the "
                        "first N: image sets are often stored grouped by style")
    s.add_argument("--json", action="store_true",
                   help='print one JSON object {"kid", "kid_std", "fid", ..., "spaces"} instead of a table')
    s.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    s.add_argument("--threads", type=int, default=0,
                   help="CPU threads (default: the cores free right now; on a GPU this only affects data handling)")
    s.set_defaults(fn=cmd_eval)

    s = sub.add_parser("bench", help="run the transfer benchmark and write benchmarks/")
    s.add_argument("--config", default="full", choices=("full", "quick"),
                   help="full: the published table (hours); quick: a smoke run of a few minutes")
    s.add_argument("--out", default=None, help="output folder (default: benchmarks/, or benchmarks/quick/ for quick)")
    s.add_argument("--data-dir", default=None, help="folder with the target-*.zip sets (default: $TGAN_DATA)")
    s.add_argument("--sources", default=None, help="folder with the source models (default: the bundled checkpoints/)")
    s.add_argument("--targets", nargs="+", default=None, metavar="NAME[=SOURCE]",
                   help="target sets (target-NAME.zip); a set tgan does not know needs =SOURCE")
    s.add_argument("--presets", nargs="+", default=None, help="presets to compare (default: all; quote names with spaces)")
    s.add_argument("--shots", dest="shots_list", type=int, nargs="+", default=None, help="shot counts (default: 10 25)")
    s.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds (default: 0 1)")
    s.add_argument("--budget-seconds", type=float, default=None, help="training wall-clock per run (default: 180)")
    s.add_argument("--n", type=int, default=None, help="samples scored per run (default: 500)")
    s.add_argument("--reference-cap", type=int, default=None,
                   help="at most this many held-out images as the reference (default: 500)")
    s.add_argument("--curve-points", type=int, default=None, help="KID after each 1/P of the budget (default: 3)")
    s.add_argument("--batch", type=int, default=None, help="batch size (default: 16)")
    s.add_argument("--lr", type=float, default=None,
                   help="learning rate of G and D for every preset, for a sweep (default: each preset's own)")
    s.add_argument("--keep-best", action="store_true",
                   help="score each run at the step the live monitor keeps, as the app does (default: the last "
                        "step)")
    s.add_argument("--threads", type=int, default=0,
                   help="CPU threads per run (default: the cores free right now)")
    s.add_argument("--force", action="store_true", help="re-run runs whose JSON already exists")
    s.add_argument("--readme", default=None,
                   help="README whose results markers get the table (default: the repo's, for --config full)")
    s.add_argument("--no-readme", action="store_true", help="leave every README alone")
    s.set_defaults(fn=cmd_bench)
    return p


def _check_ranges(a) -> None:
    for name in ("steps", "n", "frames", "batch", "shots", "fps"):
        value = getattr(a, name, None)
        if value is not None and value < (0 if name == "shots" else 1):
            raise CLIError(f"--{name} must be positive, got {value}")
    if getattr(a, "threads", 0) < 0:
        raise CLIError(f"--threads must be 0 (the free cores) or more, got {a.threads}")
    if getattr(a, "truncation", None) is not None and not 0.0 <= a.truncation <= 2.0:
        raise CLIError(f"--truncation must be in [0, 2], got {a.truncation}")


def free_cores() -> int:
    """Cores not busy right now: this machine's cores minus the 1-minute load average, at least 1.
    Starting 2 threads beside another CPU-heavy process makes both crawl (measured 4.4 s/step vs
    0.75 s/step with 1 thread), so the default takes only what is free."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        busy = os.getloadavg()[0]
    except OSError:  # not available on this platform
        busy = 0.0
    return max(1, min(cores, round(cores - busy)))


def _set_threads(a) -> None:
    """--threads N, or the free cores; the progress bar names the count ("training on CPU (1 thread)")."""
    if getattr(a, "threads", "absent") == "absent":
        return  # a command without heavy compute
    import torch

    torch.set_num_threads(a.threads or free_cores())


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1 and args.command != "pretrain":
            raise CLIError("only `tgan pretrain` runs over several processes (torchrun); run this command "
                           "as one process")
        _check_ranges(args)
        _set_threads(args)
        args.fn(args)
    except (CLIError, DataError, CheckpointError, FileNotFoundError, ValueError) as exc:
        print(f"tgan {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
