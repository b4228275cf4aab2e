"""`tgan` command line: pretrain, finetune, sample, interpolate, strategies, eval, bench, and
doctor, advise, project. This file parses the arguments and runs the command; what each command
does is in cli_commands.py and cli_images.py. Errors are one line on stderr and exit code 2;
progress is a tqdm bar."""
from __future__ import annotations

import argparse
import os
import sys

# Only light modules at the top: `tgan --help` and `tgan strategies` must answer without torch.
# Each command imports what it needs (torch, Inception, ...) when it runs.
from .config import DEFAULT_FINETUNE_STEPS, TrainConfig
from .errors import CheckpointError, DataError
from .cli_commands import (cmd_bench, cmd_eval, cmd_finetune, cmd_interpolate, cmd_pretrain, cmd_sample,
                           cmd_shards, cmd_strategies)
from .cli_images import cmd_advise, cmd_doctor, cmd_project
from .cli_output import CLIError


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
                   help=f"optimisation steps (default: the app's default fine-tune, {DEFAULT_FINETUNE_STEPS})")
    s.add_argument("--batch", type=int, default=TrainConfig.batch_size)
    s.add_argument("--lr", type=float, default=None,
                   help="Adam learning rate of G and D (default: the preset's own, from the benchmark's "
                        f"sweep; {TrainConfig.lr_g:g} for a list of strategies)")
    s.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                   help="random x-flips of your images (default: as the source was pretrained; the kanji "
                        "source was not, since a mirrored character is not a character)")
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
