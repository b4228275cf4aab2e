"""Snapshot a running `tgan pretrain` into pretraining/<name>/ (committed), scored on the way.

    python benchmarks/pretrain_snapshot.py --run RUN_DIR --name emoji --data source-emoji.zip
        [--n 500] [--hours-before 0]

Copies the run's deliverable files (config.json + model.safetensors, fp16; the fp32 resume state
stays in RUN_DIR), scores G_ema with n samples against a seeded random n of the training images
in both spaces (Inception and the random CNN), appends the point to curve.json, and redraws
curve.png, samples.png and samples-psi05.png (truncation 0.5 toward the mean w). Run it every
half hour or so while pretraining; a resumed run keeps appending to the same curve. Wall-clock is
the run's own `train_seconds` (optimisation steps, summed over resumes), plus --hours-before for a
run saved before the trainer recorded it.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from tgan import load_model, sampling
from tgan.checkpoint import CONFIG, WEIGHTS
from tgan.evaluation import evaluate_model_or_samples

OUT = Path(__file__).resolve().parent.parent / "pretraining"


def plot(curve: list[dict], path: Path, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    hours = [p["hours"] for p in curve]
    for space, style in (("inception", "o-"), ("random-cnn", "s--")):
        ax.plot(hours, [p["kid"][space] for p in curve], style, label=f"KID ({space})")
    ax.axhline(0.02, color="grey", ls=":", lw=1, label="goal (Inception KID 0.02)")
    ax.set_yscale("log")
    ax.set_xlabel("pretraining wall-clock (h, 2 CPU cores)")
    ax.set_ylabel("KID vs training images")
    ax.set_title(f"{name}: KID against pretraining time", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True, type=Path)
    p.add_argument("--name", required=True)
    p.add_argument("--data", required=True, type=Path, help="the training set, for the reference")
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--hours-before", type=float, default=0.0)
    p.add_argument("--hours", type=float, default=None,
                   help="the training hours to record, when train_seconds is off (e.g. the run was paused "
                        "with SIGSTOP mid-step: that pause counts as the step's wall-clock)")
    a = p.parse_args()
    out = OUT / a.name
    out.mkdir(parents=True, exist_ok=True)
    for name in (CONFIG, WEIGHTS):  # config first would be wrong: copy weights, then the config naming them
        shutil.copy2(a.run / name, out / f".{name}.tmp")
    for name in (WEIGHTS, CONFIG):
        (out / f".{name}.tmp").replace(out / name)

    model = load_model(out, device="cpu")
    step, batch = model.config["step"], model.config["train"]["batch_size"]
    scores = evaluate_model_or_samples(out, reference=a.data, n=a.n, max_reference=a.n)
    hours = a.hours if a.hours is not None else a.hours_before + model.config.get("train_seconds", 0.0) / 3600
    curve_path = out / "curve.json"
    curve = json.loads(curve_path.read_text()) if curve_path.is_file() else []
    curve = [c for c in curve if c["step"] != step]
    curve.append({"step": step, "images_seen": step * batch, "hours": round(hours, 3), "n": a.n,
                  "kid": {s: v["kid"] for s, v in scores["spaces"].items()},
                  "precision": scores["precision"], "recall": scores["recall"]})
    curve.sort(key=lambda c: c["step"])
    curve_path.write_text(json.dumps(curve, indent=1) + "\n")
    plot(curve, out / "curve.png", a.name)

    sampling.save_seed_grids(model.G_ema, out)
    print(json.dumps(curve[-1]))


if __name__ == "__main__":
    main()
