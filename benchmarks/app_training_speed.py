"""Seconds per step of the default fine-tune on the threads the app can give it.

    python benchmarks/app_training_speed.py [--target faces-lorelei] [--steps 100] [--repeats 3]

PyTorch's CPU kernels run on OpenMP (libgomp) thread teams, one per thread that starts parallel
work, and a team outlives its work while its thread lives. With more OpenMP threads alive than
cores, libgomp stops spinning between parallel regions, and every region pays a sleep and a
wake-up. In the app, gradio's handlers run on a pool of long-lived threads (an upload, the
advisor, the score each start a team), and it resumes the training handler with each `next()`
on whichever pool thread is free. The script trains the same chunk (the app's default settings,
the target's first 10 example images, its bundled source) four ways:
- `caller`: every step on the main thread, the only thread with a team (a script, the CLI);
- `hopping`: every `next()` on a thread of a 4-thread pool, the main thread holding a team of
  its own (the app until 2026-12-07);
- `own thread`: the chunk on one thread of its own (appkit.ThreadedIterator), the main thread
  holding a team;
- `own thread, others 1`: the same, every other thread at 1 intra-op thread, so no other team
  exists (the app since 2026-12-07: app.py sets its main thread to 1 before anything runs).
Each run is a fresh process, interleaved `--repeats` times, so a drift of the machine hits the
four alike; each line prints the run's own s/step (its Step events' running mean) and its
wall-clock.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from default_time import first_ten  # noqa: E402
from default_vs_source import source_for  # noqa: E402
import appkit as sup  # noqa: E402
from tgan import TrainConfig, load_images, train_chunk  # noqa: E402
from tgan.events import Step  # noqa: E402
from tgan.paths import CHECKPOINTS, EXAMPLES  # noqa: E402
from tgan.strategies.catalog import DEFAULT_PRESET, PRESETS, preset_lr  # noqa: E402

WAYS = ("caller", "hopping", "own thread", "own thread, others 1")


def train_threaded(chunk_args: tuple, threads: int):
    """The chunk's events, trained on this thread at `threads` intra-op threads."""
    torch.set_num_threads(threads)
    yield from train_chunk(*chunk_args)


def timed_chunk(way: str, chunk_args: tuple, threads: int) -> tuple[float, float]:
    """(s/step as the run reports it, wall-clock) of one chunk iterated `way`."""
    start = time.perf_counter()
    if way == "caller":
        chunk = train_chunk(*chunk_args)
    elif way == "hopping":
        chunk = train_threaded(chunk_args, threads)
    else:
        chunk = sup.ThreadedIterator(train_chunk(*chunk_args), threads=threads)
    sec_per_step = float("nan")
    with ThreadPoolExecutor(4) as pool:
        while True:
            try:
                event = next(chunk) if way == "caller" else pool.submit(next, chunk).result()
            except StopIteration:
                break
            if isinstance(event, Step):
                sec_per_step = event.sec_per_step
    return sec_per_step, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", default="faces-lorelei", choices=list(sup.EXAMPLE_SETS))
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--way", choices=WAYS, help="run this way once, in this process (what each child does)")
    a = p.parse_args()
    if a.way is None:
        print(f"| way | s/step | wall-clock of {a.steps} steps |\n|---|---:|---:|", flush=True)
        for _ in range(a.repeats):
            for way in WAYS:
                subprocess.run([sys.executable, __file__, "--target", a.target, "--steps", str(a.steps),
                                "--way", way], check=True)
        return
    threads = torch.get_num_threads()
    if a.way == "own thread, others 1":
        torch.set_num_threads(1)  # before this thread runs anything in parallel: it never starts a team
    shots = first_ten(load_images(EXAMPLES / a.target, 64)).images
    torch.randn(512, 512) @ torch.randn(512, 512)  # parallel work here, as an upload's handler does
    cfg = sup.make_config(list(PRESETS[DEFAULT_PRESET][0]), sup.preset_option_values(DEFAULT_PRESET), a.steps,
                          preset_lr(DEFAULT_PRESET, TrainConfig.lr_g), TrainConfig.batch_size, 0)
    chunk_args = (cfg, shots, None, CHECKPOINTS / source_for(a.target))
    sec_per_step, wall = timed_chunk(a.way, chunk_args, threads)
    print(f"| {a.way} | {sec_per_step:.3f} | {wall:.1f} s |", flush=True)


if __name__ == "__main__":
    main()
