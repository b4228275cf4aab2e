"""Would BatchNorm statistics re-measured on G_ema itself (BigGAN's "standing statistics") help?

    python benchmarks/standing_stats.py --data-dir DIR sources [--names emoji faces kanji] [--n 1000]
    python benchmarks/standing_stats.py --data-dir DIR finetune [--targets faces-lorelei ...]

Why ask: G_ema's weights are an average over the last few thousand images, but its BatchNorm
buffers are copied from the live G at every step (tgan.run_state.update_ema), so they are the
running statistics of a slightly different network. Re-measuring them (64 batches of 64 latents
through G_ema in train mode, a cumulative average) makes them G_ema's own.

`sources`: each bundled source's G_ema as shipped, with standing statistics, and with per-batch
statistics, n samples (seeds 0..n-1) against n seeded training images, both feature spaces.
`finetune`: the app's default fine-tune (10 shots, seed 0, the matching source, CPU default steps),
then the kept G_ema as shipped and with standing statistics, 200 samples against the held-out
images (up to 300). Prints one JSON line per row; grids go to --out for looking at.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from default_vs_source import default_finetune, ten_shots  # noqa: E402  (this folder's, the same run)
from tgan import load_images, load_model, metrics, sampling, scoring  # noqa: E402
from tgan.models import generator_from_tensors  # noqa: E402
from tgan.bench_config import TARGETS as SOURCE_FOR  # noqa: E402
from tgan.paths import CHECKPOINTS  # noqa: E402
from tgan.subsets import random_subset  # noqa: E402


@torch.no_grad()
def standing_statistics(G, z_dim: int, batches: int = 64, batch: int = 64, seed: int = 123) -> None:
    """Re-measure every BatchNorm's running mean and variance on G's own samples, in place."""
    norms = [m for m in G.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over all the batches, not an exponential one
    G.train()
    g = torch.Generator().manual_seed(seed)
    for _ in range(batches):
        G(torch.randn(batch, z_dim, generator=g))
    G.eval()
    for m in norms:
        m.momentum = 0.1


def save_grids(G, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    sampling.save_seed_grids(G, folder)


def scores(G, seeds, reference, extractors, cache, train=None) -> dict:
    with torch.no_grad():
        samples = sampling.sample_seeds(G, seeds)
    spaces = scoring.evaluate(samples, reference, train=train, extractors=extractors, cache=cache)["spaces"]
    return {s: {"kid": round(v["kid"], 5), "precision": round(v["precision"], 3)} for s, v in spaces.items()}


def sources(a, extractors) -> None:
    for name in a.names:
        model = load_model(CHECKPOINTS / name, device="cpu")
        G, cache = model.G_ema, metrics.FeatureCache()
        real = random_subset(load_images(a.data_dir / f"source-{name}.zip", 64, max_images=None), a.n, seed=0).as_float()
        for label in ("as shipped", "standing statistics", "batch statistics"):
            if label == "standing statistics":
                standing_statistics(G, model.model_config.z_dim)
                save_grids(G, a.out / f"{name}-standing")
            G.train(label == "batch statistics")  # train mode: each batch of 64 normalised by its own statistics
            print(json.dumps({"source": name, "G_ema": label, **scores(G, range(a.n), real, extractors, cache)}), flush=True)
            G.eval()


def finetune(a, extractors) -> None:
    for target in a.targets:
        shots, heldout = ten_shots(a.data_dir, target)
        state, cache = default_finetune(shots, target), metrics.FeatureCache()
        G = generator_from_tensors(state.model, state.tensors, state.generator_prefix())
        for label in ("as shipped", "standing statistics"):
            if label == "standing statistics":
                standing_statistics(G, state.model["z_dim"])
            save_grids(G, a.out / f"{target}-{label.replace(' ', '-')}")
            print(json.dumps({"target": target, "G_ema": label,
                              **scores(G, range(10_000, 10_200), heldout, extractors, cache, shots.as_float())}), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--out", type=Path, default=Path("runs/standing_stats"), help="sample grids, for looking at")
    p.add_argument("--threads", type=int, default=1)
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("sources")
    s.add_argument("--names", nargs="+", default=["emoji", "faces", "kanji"])
    s.add_argument("--n", type=int, default=1000)
    f = sub.add_parser("finetune")
    f.add_argument("--targets", nargs="+", default=list(SOURCE_FOR))
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    extractors = scoring.default_extractors("cpu")
    sources(a, extractors) if a.what == "sources" else finetune(a, extractors)


if __name__ == "__main__":
    main()
