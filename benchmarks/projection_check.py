"""Projection quality and time: a model's own samples projected back, and real target images.

    python benchmarks/projection_check.py [--model faces] [--targets DIR/target-faces-lorelei.zip] [--n 20]

Own samples: 20 seeds of the model's G_ema; the goal is a mean PSNR >= 25 dB at 64 px. Targets:
20 seeded real images the model never saw; their PSNR and random-CNN perceptual distance say how
far the model's latent space reaches toward them. Prints seconds per projection (goal on CPU:
<= 10 s with the default 300 steps). Run with the cores otherwise idle.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from tgan import load_images, load_model, sampling
from tgan.events import Projected
from tgan.paths import CHECKPOINTS
from tgan.projection import project
from tgan.subsets import random_subset


def run(G, targets) -> tuple[list[float], list[float], float]:
    psnrs, dists, t0 = [], [], time.perf_counter()
    for target in targets:
        done = [ev for ev in project(G, target) if isinstance(ev, Projected)][0]
        psnrs.append(done.psnr)
        dists.append(done.perceptual)
    return psnrs, dists, (time.perf_counter() - t0) / len(targets)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="faces")
    p.add_argument("--targets", type=Path, help="a target set (e.g. target-faces-lorelei.zip)")
    p.add_argument("--n", type=int, default=20)
    a = p.parse_args()
    G = load_model(CHECKPOINTS / a.model if (CHECKPOINTS / a.model).is_dir() else a.model, device="cpu").G_ema
    rows = [("own samples", sampling.sample_seeds(G, range(1000, 1000 + a.n)))]
    if a.targets:
        rows.append((a.targets.name, random_subset(load_images(a.targets, G.cfg.resolution), a.n, seed=0).as_float()))
    print(f"| {a.model} | n | mean PSNR (dB) | min | mean perceptual | s / projection |\n|---|---:|---:|---:|---:|---:|")
    for name, targets in rows:
        psnrs, dists, sec = run(G, targets)
        print(f"| {name} | {len(psnrs)} | {statistics.mean(psnrs):.1f} | {min(psnrs):.1f} | "
              f"{statistics.mean(dists):.4f} | {sec:.1f} |", flush=True)


if __name__ == "__main__":
    main()
