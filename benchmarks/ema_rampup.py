"""G_ema ramp-up on or off, at the same steps as the recorded `recommended` bench runs.

    python benchmarks/ema_rampup.py --data-dir DIR [--shots 10] [--seeds 0 1] [--targets ...]

For each (target, seed) it reads benchmarks/runs/TARGET-Kshot-recommended-seedS.json for its
step count, then trains `recommended` for exactly those steps twice: with ema_rampup=0 (the
default: the fixed 2,000-image half-life the recorded runs used) and with StyleGAN-ADA's 0.05.
It scores both on the same held-out reference as `tgan bench` (200 samples). Steps, not seconds, are
fixed, so a busy machine changes the timings but not the comparison. Prints one JSON line per
run and a markdown table (KID x 1e3) at the end.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from tgan.bench import Scorer, split_target
from tgan.bench_config import TARGETS
from tgan.config import TrainConfig
from tgan.data import load_images
from tgan.events import Failed
from tgan.models import load_model, load_source
from tgan.paths import CHECKPOINTS
from tgan.sampling import sample_seeds
from tgan.strategies import resolve
from tgan.trainer import train

RUNS = Path(__file__).parent / "runs"
ARMS = {"fixed half-life": 0.0, "ramp-up 0.05": 0.05}


def score_arm(scorer, source, shots, ref_feats, steps: int, seed: int, rampup: float, n: int) -> dict:
    cfg = TrainConfig(steps=steps, seed=seed, save_every=0, sample_every=steps, ema_rampup=rampup,
                      strategies=resolve("recommended"))
    with tempfile.TemporaryDirectory(prefix="tgan-ema-") as work:
        for event in train(cfg, shots, work, source=source):
            if isinstance(event, Failed):
                raise RuntimeError(event.message)
        fake = sample_seeds(load_model(work).G_ema, range(n))
    kid, kid_std = scorer.kid(scorer.fake(fake), ref_feats)["inception"]
    return {"kid": kid, "kid_std": kid_std}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True, help="folder with the target-*.zip sets")
    p.add_argument("--targets", nargs="+", default=list(TARGETS))
    p.add_argument("--shots", type=int, default=10)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--n", type=int, default=200, help="samples scored per run")
    p.add_argument("--reference-cap", type=int, default=300)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    scorer, rows = Scorer(), []
    for target in a.targets:
        source = load_source(Path(CHECKPOINTS) / TARGETS[target])
        full = load_images(Path(a.data_dir) / f"target-{target}.zip", source.model_config["resolution"],
                           max_images=None)
        for seed in a.seeds:
            record = json.loads((RUNS / f"{target}-{a.shots}shot-recommended-seed{seed}.json").read_text())
            shot_set, _, reference = split_target(full, a.shots, seed, a.reference_cap)
            ref_feats = scorer.real(reference)
            row = {"target": target, "seed": seed, "steps": record["steps"],
                   "recorded": record["metrics"]["kid"]}
            for arm, rampup in ARMS.items():
                row[arm] = score_arm(scorer, source, shot_set.images, ref_feats,
                                     record["steps"], seed, rampup, a.n)
            print(json.dumps(row), flush=True)
            rows.append(row)
    print(f"\n| target | seed | steps | recorded | {' | '.join(ARMS)} |\n|---|---|---|---|---|---|")
    for r in rows:
        arms = " | ".join(f"{1e3 * r[arm]['kid']:.1f} ± {1e3 * r[arm]['kid_std']:.1f}" for arm in ARMS)
        print(f"| {r['target']} | {r['seed']} | {r['steps']} | {1e3 * r['recorded']:.1f} | {arms} |")


if __name__ == "__main__":
    main()
