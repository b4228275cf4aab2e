"""What the live monitor costs a run: seconds per reading, and per default fine-tune.

    python benchmarks/monitor_cost.py [--source faces] [--shots 10] [--threads 2]

Times tgan.monitor.Monitor.read (64 samples from G_ema, the aligned-pixel copying measure, the
random-CNN diversity and KID) on the bundled source against the first --shots bundled example
images of its target, median of --repeats, and multiplies by the readings the app takes in a
default fine-tune (the monitor period appkit.make_config sets for the CPU default steps). Prints one line.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

import appkit as sup  # noqa: E402
from tgan import load_images, load_model  # noqa: E402
from tgan.monitor import Monitor  # noqa: E402
from tgan.paths import CHECKPOINTS, EXAMPLES  # noqa: E402
from tgan.config import DEFAULT_FINETUNE_STEPS as DEFAULT_STEPS  # noqa: E402

EXAMPLE_FOR = {"emoji": "emoji-3d-animals", "faces": "faces-lorelei", "kanji": "kanji-gyosho"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", default="faces", choices=sorted(EXAMPLE_FOR))
    p.add_argument("--shots", type=int, default=10)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    G = load_model(CHECKPOINTS / a.source).G_ema
    shots = load_images(EXAMPLES / EXAMPLE_FOR[a.source], G.cfg.resolution).images[:a.shots]
    monitor = Monitor(shots, G.cfg.z_dim, torch.device("cpu"), G)
    times = []
    for step in range(a.repeats):
        start = time.perf_counter()
        monitor.read(G, step)
        times.append(time.perf_counter() - start)
    per_reading = statistics.median(times)
    period = sup.make_config(["transfer_g"], [], DEFAULT_STEPS, 2e-4, 16, 0).monitor_every
    readings = DEFAULT_STEPS // period
    print(f"monitor reading: {per_reading:.3f} s (median of {a.repeats}, {a.source}, {len(shots)} shots, "
          f"{a.threads} threads); a default fine-tune ({DEFAULT_STEPS} steps) takes {readings} readings = "
          f"{per_reading * readings:.1f} s")


if __name__ == "__main__":
    main()
