"""Timings for a machine with a GPU: the default 10-shot fine-tune and pretraining throughput.

    python benchmarks/gpu_check.py [--cpu]

Prints one Markdown table. The fine-tune is what the app's Start does by default (faces source,
the 10 lorelei example images, the recommended preset, batch 16, tgan.config.DEFAULT_FINETUNE_STEPS
steps), driven through tgan.train_chunk in 30 s chunks as the app drives it; goal on one H200: <= 15 s.
Pretraining is the sources' recipe (r3gan, width 16, DiffAugment, lazy R1/R2) from scratch at 64
and 128 px; goal at 64 px: >= 2,000 images/s. Each runs with bf16 autocast on and off. --cpu: the
same on the CPU with a few steps each, to check that the script works (numbers not comparable).
Run through benchmarks/gpu_check.sh, which runs the device test subset first.
"""
from __future__ import annotations

import argparse
import time

import torch

from tgan import ChunkEnded, Failed, ModelConfig, Step, TrainConfig, load_images, train_chunk
from tgan.config import DEFAULT_FINETUNE_STEPS
from tgan.paths import CHECKPOINTS, EXAMPLES
from tgan.strategies.catalog import PRESETS

CHUNK_SECONDS = 30.0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def fine_tune(device: torch.device, steps: int, bf16: bool) -> dict:
    """The app's default Start: seconds for the whole run, chunk after chunk."""
    images = load_images(EXAMPLES / "faces-lorelei", 64).images[:10]
    cfg = TrainConfig(steps=steps, batch_size=16, sample_every=max(1, min(25, steps // 20)), save_every=0,
                      strategies=list(PRESETS["recommended"][0]), mixed_precision=bf16)
    state, t0 = None, time.perf_counter()
    while state is None or state.step < steps:
        for ev in train_chunk(cfg, images, state, CHECKPOINTS / "faces", max_seconds=CHUNK_SECONDS, device=device):
            if isinstance(ev, Failed):
                raise SystemExit(f"the fine-tune failed: {ev.message}")
            if isinstance(ev, ChunkEnded):
                state = ev.state
    _sync(device)
    seconds = time.perf_counter() - t0
    return {"what": f"fine-tune, 10 shots, {steps} steps", "seconds": seconds, "images_s": steps * 16 / seconds}


def pretrain_throughput(device: torch.device, resolution: int, batch: int, steps: int, bf16: bool) -> dict:
    """Images per second of pretraining steps after a warm-up (cuDNN autotuning, allocator)."""
    images = load_images(EXAMPLES / "emoji-3d-animals", resolution).images
    mcfg = ModelConfig(resolution=resolution, g_width=16, d_width=16, family="r3gan", mapping_layers=4)
    warm = max(2, steps // 5)
    cfg = TrainConfig(steps=warm + steps, batch_size=batch, sample_every=100_000, save_every=0, beta1=0.0,
                      beta2=0.99, strategies=["scratch", "diffaug"], mixed_precision=bf16,
                      strategy_options={"diffaug": {"policy": "color,translation"}})
    t0 = None
    for ev in train_chunk(cfg, images, None, None, mcfg, device=device):
        if isinstance(ev, Failed):
            raise SystemExit(f"pretraining at {resolution} px failed: {ev.message}")
        if isinstance(ev, Step) and ev.step == warm:
            _sync(device)
            t0 = time.perf_counter()
    _sync(device)
    seconds = time.perf_counter() - t0
    return {"what": f"pretrain {resolution} px, batch {batch}", "seconds": seconds, "images_s": steps * batch / seconds}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cpu", action="store_true", help="run on the CPU with a few steps (checks the script)")
    a = p.parse_args()
    cuda = torch.cuda.is_available() and not a.cpu
    device = torch.device("cuda" if cuda else "cpu")
    name = torch.cuda.get_device_name(0) if cuda else f"CPU, {torch.get_num_threads()} threads"
    ft_steps, pt_steps = (DEFAULT_FINETUNE_STEPS, 200) if cuda else (10, 4)
    batches = (32, 256) if cuda else (32,)
    rows = []
    for bf16 in (True, False):
        rows.append((bf16, fine_tune(device, ft_steps, bf16)))
        for resolution in (64, 128):
            for batch in batches:
                rows.append((bf16, pretrain_throughput(device, resolution, batch, pt_steps, bf16)))
    print(f"### gpu_check on {name} (torch {torch.__version__})\n")
    print("| what | bf16 | seconds | images/s |\n|---|---|---:|---:|")
    for bf16, r in rows:
        print(f"| {r['what']} | {'on' if bf16 else 'off'} | {r['seconds']:.1f} | {r['images_s']:,.0f} |")


if __name__ == "__main__":
    main()
