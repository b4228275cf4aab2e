"""Does the app's default fine-tune beat the unadapted source, at the default step count?

    python benchmarks/default_vs_source.py --data-dir DIR [--targets faces-lorelei ...] [--steps N]

For each visible target (DIR/target-<name>.zip): 10 shots drawn by seed 0, the matching bundled
source, the app's default settings (appkit.make_config: recommended preset at its learning
rate, batch 16, the CPU default steps, keep-best on), trained through train_chunk as the app trains. Scores 200 samples of
the unadapted source, the kept (best) step and the last step against the held-out images (up to
300, seeded) in both feature spaces. Prints one Markdown table; the goal is a fine-tune KID <= 0.5x
the source's.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

import appkit as sup  # noqa: E402
from tgan import ChunkEnded, TrainConfig, load_images, sampling, scoring, train_chunk  # noqa: E402
from tgan.models import generator_from_tensors, load_model  # noqa: E402
from tgan.bench import TARGETS as SOURCE_FOR  # noqa: E402
from tgan.paths import CHECKPOINTS  # noqa: E402
from tgan.strategies.catalog import DEFAULT_PRESET, PRESETS, preset_lr  # noqa: E402
from tgan.subsets import pick_shots, random_subset  # noqa: E402
from webapp.plumbing import DEFAULT_STEPS  # noqa: E402


def ten_shots(data_dir: Path, target: str):
    """The target's 10 shots drawn by seed 0, and up to 300 seeded held-out images as floats."""
    shots, rest = pick_shots(load_images(data_dir / f"target-{target}.zip", 64), 10, seed=0)
    return shots, random_subset(rest, 300, seed=0).as_float()


def default_finetune(shots, target: str, steps: int = DEFAULT_STEPS):
    """The app's default fine-tune of the target's bundled source on `shots`, driven in 30 s chunks
    as the app drives it; the final TrainState."""
    lr = preset_lr(DEFAULT_PRESET, TrainConfig.lr_g)
    cfg = sup.make_config(list(PRESETS[DEFAULT_PRESET][0]), [], steps, lr, 16, 0)
    state = None
    while state is None or state.step < steps:
        for ev in train_chunk(cfg, shots.images, state, CHECKPOINTS / SOURCE_FOR[target], max_seconds=30):
            if isinstance(ev, ChunkEnded):
                state = ev.state
    return state


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--targets", nargs="+", default=list(SOURCE_FOR))
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    p.add_argument("--n", type=int, default=200)
    a = p.parse_args()
    print("| target | steps | kept step | space | unadapted source KID | fine-tuned (kept) | last step | kept / source |")
    print("|---|---|---|---|---:|---:|---:|---:|")
    for target in a.targets:
        shots, heldout = ten_shots(a.data_dir, target)
        source = SOURCE_FOR[target]
        t0 = time.perf_counter()
        state = default_finetune(shots, target, a.steps)
        took = time.perf_counter() - t0
        models = {"source": load_model(CHECKPOINTS / source, device="cpu").G_ema,
                  "kept": generator_from_tensors(state.model, state.tensors, state.generator_prefix()),
                  "last": generator_from_tensors(state.model, state.tensors, "G_ema")}
        scores = {}
        for name, G in models.items():
            with torch.no_grad():
                samples = sampling.sample_seeds(G, range(10_000, 10_000 + a.n))
            scores[name] = scoring.evaluate(samples, heldout, train=shots.as_float(),
                                            extractors=scoring.default_extractors("cpu"))["spaces"]
        kept = state.best["step"] if state.best else a.steps
        for space in scores["source"]:
            s, k, last = (scores[m][space]["kid"] for m in ("source", "kept", "last"))
            print(f"| {target} | {a.steps} ({took:.0f} s) | {kept} | {space} | {s:.4f} | {k:.4f} | {last:.4f} | "
                  f"{k / s:.2f} |", flush=True)


if __name__ == "__main__":
    main()
