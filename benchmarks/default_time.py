"""How long the app's default fine-tune takes, monitor on, on this machine now.

    python benchmarks/default_time.py [--targets faces-lorelei ...] [--steps N] [--threads 2]

For each bundled example target (examples/<target>, its first 10 images): the app's default
fine-tune of the matching bundled source (recommended preset at its learning rate, batch 16, the
CPU default steps, monitor and keep-best on), driven through train_chunk in 30 s chunks as the app
drives it. Prints the wall-clock of the whole run and its seconds per step, one Markdown line per
target.

The machine's speed drifts within a day (2.6x seen on a 2-core host), so the script first times
the default step in interleaved blocks with and without the projected D's fake-feature reuse
(tgan.training_run: one backbone pass of the fakes serves both phases): a ratio measured in one
run, meaningful whatever the machine's state.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from default_vs_source import default_finetune, source_for  # noqa: E402
import appkit as sup  # noqa: E402
from tgan import TrainConfig, load_images  # noqa: E402
from tgan.data import ImageSet  # noqa: E402
from tgan.config import ModelConfig, from_dict  # noqa: E402
from tgan.models import load_source  # noqa: E402
from tgan.paths import CHECKPOINTS, EXAMPLES  # noqa: E402
from tgan.strategies.catalog import DEFAULT_PRESET, PRESETS, preset_lr  # noqa: E402
from tgan.training_run import TrainingRun  # noqa: E402
from tgan.config import DEFAULT_FINETUNE_STEPS as DEFAULT_STEPS  # noqa: E402


def reuse_ratio(shots: torch.Tensor, target: str, blocks: int = 12, block_steps: int = 10) -> tuple[float, float]:
    """Median s/step of the default step with and without the fake-feature reuse, timed in
    alternating blocks of the same run (so a drift of the machine hits both alike)."""
    source = load_source(CHECKPOINTS / source_for(target), device="cpu")
    cfg = sup.make_config(list(PRESETS[DEFAULT_PRESET][0]), sup.preset_option_values(DEFAULT_PRESET), DEFAULT_STEPS,
                          preset_lr(DEFAULT_PRESET, TrainConfig.lr_g), 16, 0)
    run = TrainingRun(cfg, from_dict(ModelConfig, source.model_config), shots, source, torch.device("cpu"))
    reuse = run.reuse_fake_features
    for _ in range(5):  # warm-up: oneDNN picks its kernels on the first calls
        run.train_step()
    times: dict[str, list[float]] = {"reuse": [], "no reuse": []}
    for _ in range(blocks):
        for name, switch in (("reuse", reuse), ("no reuse", False)):
            run.reuse_fake_features = switch
            start = time.perf_counter()
            for _ in range(block_steps):
                run.train_step()
            times[name].append((time.perf_counter() - start) / block_steps)
    return statistics.median(times["reuse"]), statistics.median(times["no reuse"])


def first_ten(examples: ImageSet) -> ImageSet:
    return ImageSet(examples.images[:10], examples.names[:10])  # (10, 3, 64, 64) uint8


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--targets", nargs="+", default=sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()))
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    shots = {t: first_ten(load_images(EXAMPLES / t, 64)) for t in a.targets}
    with_reuse, without = reuse_ratio(shots[a.targets[0]].images, a.targets[0])
    print(f"default step, {a.targets[0]}: {with_reuse:.3f} s with the fake-feature reuse, {without:.3f} s "
          f"without ({without / with_reuse:.2f}x), interleaved in one run, {a.threads} threads\n")
    print("| target | steps | wall-clock | s/step |\n|---|---:|---:|---:|")
    for target in a.targets:
        start = time.perf_counter()
        state = default_finetune(shots[target], target, a.steps)
        took = time.perf_counter() - start
        print(f"| {target} | {state.step} | {took:.0f} s | {took / state.step:.3f} |", flush=True)


if __name__ == "__main__":
    main()
