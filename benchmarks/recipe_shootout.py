"""Recipe shoot-out: pretraining candidates trained on one corpus for the same CPU time.

    python benchmarks/recipe_shootout.py --data source-emoji.zip [--budget 1800] [--eval-every 600]
        [--n 500] [--threads 2] [--recipes dcgan,r3gan-w16,...]

Each recipe trains from scratch in this process, in chunks, and is scored every --eval-every
seconds of *training CPU time* (process CPU seconds, all threads: on a shared machine this is the
fairest clock; scoring is not counted). The score is KID of n G_ema samples against a seeded random
n training images, in both feature spaces, plus Inception precision. Once every recipe is scored,
each one's s/step is timed alone on the machine (--speed-steps), and the plot charges each point
at steps x that: CPU time still drifts with whatever else shares the cores. Writes, under
benchmarks/shootout/: results.json (resumable: a recipe already scored to the budget is skipped),
results.md, kid_vs_cpu.png and one 36-sample grid per recipe. Run folders go to runs/shootout/.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from tgan import metrics, sampling, scoring
from tgan.config import ModelConfig, TrainConfig
from tgan.data import load_images
from tgan.subsets import random_subset
from tgan.trainer import run_steps
from tgan.training_run import TrainingRun

OUT = Path(__file__).resolve().parent / "shootout"

# What each candidate is. All train at batch 32 with DiffAugment (colour, translation) and x-flips,
# a 10k-image G_ema half-life and lr 2e-4, as the v1 and v2 sources did; betas and loss follow
# each family's paper (DCGAN: Adam (0.5, 0.999), hinge; R3GAN: Adam (0, 0.99), RpGAN + R1/R2).
RECIPES = {
    "dcgan": ("the v1 sources: DCGAN, BatchNorm D, w = z", dict(family="dcgan", width=32, mapping=0)),
    "dcgan-mapping": ("DCGAN with a 4-layer mapping MLP (a learned W for truncation)",
                      dict(family="dcgan", width=32, mapping=4)),
    "r3gan-w16": ("the v2 run: R3GAN-style residual nets, width 16", dict(family="r3gan", width=16, mapping=4)),
    "r3gan-w32": ("R3GAN-style, twice as wide (4x the parameters)", dict(family="r3gan", width=32, mapping=4)),
    "r3gan-w16-projected": ("R3GAN-style G, Projected-GAN D on EfficientNet-Lite0 (hinge)",
                            dict(family="r3gan", width=16, mapping=4, projected=True)),
}
CHUNK_STEPS = 10  # steps between clock readings


def configs(spec: dict) -> tuple[TrainConfig, ModelConfig]:
    r3 = spec["family"] == "r3gan"
    strategies = ["scratch"] + (["projected_d"] if spec.get("projected") else []) + ["diffaug"]
    cfg = TrainConfig(steps=200_000, batch_size=32, lr_g=2e-4, lr_d=2e-4,
                      beta1=0.0 if r3 else 0.5, beta2=0.99 if r3 else 0.999, ema_halflife_images=10_000,
                      r1_gamma=1.0, sample_every=100_000, save_every=0, strategies=strategies,
                      strategy_options={"diffaug": {"policy": "color,translation"}})
    mcfg = ModelConfig(resolution=64, g_width=spec["width"], d_width=spec["width"], family=spec["family"],
                       mapping_layers=spec["mapping"])
    return cfg, mcfg


def score(G, real: torch.Tensor, cache, extractors, n: int) -> dict:
    fake = sampling.sample_seeds(G, range(n))
    result = scoring.evaluate(fake, real, cache=cache, extractors=extractors)
    return {"kid": {s: v["kid"] for s, v in result["spaces"].items()},
            "precision": {s: v["precision"] for s, v in result["spaces"].items()}}


def run_recipe(name: str, images: torch.Tensor, real, cache, extractors, a) -> dict:
    cfg, mcfg = configs(RECIPES[name][1])
    run = TrainingRun(cfg, mcfg, images, None, torch.device("cpu"))
    cpu, wall, points, next_eval = 0.0, 0.0, [], a.eval_every
    while cpu < a.budget:
        c0, w0 = time.process_time(), time.perf_counter()
        outcome = yield_all(run_steps(run, run.step + CHUNK_STEPS))
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
        if outcome.failed:
            raise RuntimeError(f"{name}: {outcome.message}")
        if cpu >= next_eval or cpu >= a.budget:
            point = {"cpu_s": round(cpu, 1), "wall_s": round(wall, 1), "step": run.step,
                     "images_seen": run.step * cfg.batch_size, **score(run.G_ema, real, cache, extractors, a.n)}
            points.append(point)
            print(name, json.dumps(point), flush=True)
            next_eval += a.eval_every
    G = run.G_ema
    sampling.save_seed_grids(G, OUT, stem=name)
    return {"why": RECIPES[name][0], "g_params": sum(p.numel() for p in G.parameters()),
            "cpu_s_per_step": round(cpu / run.step, 3), "wall_s_per_step": round(wall / run.step, 3),
            "points": points}


def quiet_speed(name: str, images: torch.Tensor, steps: int) -> float:
    """Wall-clock seconds per step of a recipe on this machine, measured alone after a warm-up:
    the cost that the KID points are charged at (CPU time on a shared machine drifts with the load)."""
    cfg, mcfg = configs(RECIPES[name][1])
    run = TrainingRun(cfg, mcfg, images, None, torch.device("cpu"))
    yield_all(run_steps(run, 5))
    t0 = time.perf_counter()
    yield_all(run_steps(run, 5 + steps))
    return (time.perf_counter() - t0) / steps


def yield_all(steps):
    """Drain run_steps' events; its return value is the Outcome."""
    while True:
        try:
            next(steps)
        except StopIteration as end:
            return end.value


def report(results: dict, a) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, space in zip(axes, ("inception", "random-cnn")):
        for name, r in results.items():
            x = [quiet_minutes(r, p) for p in r["points"]]
            ax.plot(x, [p["kid"][space] for p in r["points"]], "o-", label=name)
        ax.set_yscale("log")
        ax.set_xlabel("training time on 2 idle cores (min: steps x quiet s/step)"
                      if all("quiet_s_per_step" in r for r in results.values()) else "training CPU time (min, all threads)")
        ax.set_ylabel(f"KID ({space})")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Pretraining recipes on {Path(a.data).name}, same CPU time", fontsize=10)
    fig.tight_layout()
    fig.savefig(OUT / "kid_vs_cpu.png", dpi=110)
    plt.close(fig)
    lines = ["| recipe | what | G params | s/step, 2 idle cores | CPU s/step in the run | steps | KID Inception "
             "| KID random-CNN | precision (Inception) |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        last = r["points"][-1]
        lines.append(f"| `{name}` | {r['why']} | {r['g_params'] / 1e6:.2f}M | {r.get('quiet_s_per_step', '')} "
                     f"| {r['cpu_s_per_step']} | {last['step']} "
                     f"| {last['kid']['inception']:.3f} | {last['kid']['random-cnn']:.4f} "
                     f"| {last['precision']['inception']:.2f} |")
    (OUT / "results.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--budget", type=float, default=1800, help="training CPU seconds per recipe")
    p.add_argument("--eval-every", type=float, default=600, help="training CPU seconds between scores")
    p.add_argument("--n", type=int, default=500, help="samples and reference images per score")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--recipes", default=",".join(RECIPES))
    p.add_argument("--speed-steps", type=int, default=20,
                   help="steps timed per recipe, alone on the machine, once all recipes are scored")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    OUT.mkdir(exist_ok=True)
    path = OUT / "results.json"
    saved = json.loads(path.read_text()) if path.is_file() else {}
    results = saved.get("recipes", {})
    images = load_images(a.data, 64, max_images=None)
    real = random_subset(images, a.n, seed=0).as_float()
    cache, extractors = metrics.FeatureCache(), scoring.default_extractors("cpu")
    for name in a.recipes.split(","):
        done = results.get(name, {}).get("points", [])
        if done and done[-1]["cpu_s"] >= a.budget:
            continue
        results[name] = run_recipe(name, images.images, real, cache, extractors, a)
        save(path, results, a)
    for name in a.recipes.split(","):
        if "quiet_s_per_step" not in results[name]:
            results[name]["quiet_s_per_step"] = round(quiet_speed(name, images.images, a.speed_steps), 3)
            save(path, results, a)


def quiet_minutes(r: dict, point: dict) -> float:
    """A point's training time at the recipe's quiet speed (its CPU time when that is not measured)."""
    return point["step"] * r["quiet_s_per_step"] / 60 if "quiet_s_per_step" in r else point["cpu_s"] / 60


def save(path: Path, results: dict, a) -> None:
    path.write_text(json.dumps({"data": Path(a.data).name, "budget_cpu_s": a.budget, "n": a.n,
                                "threads": a.threads, "recipes": results}, indent=1) + "\n")
    report(results, a)


if __name__ == "__main__":
    main()
