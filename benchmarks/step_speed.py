"""Seconds per fine-tune step of tgan's G+D, and throughput against a plain reference DCGAN.

    python benchmarks/step_speed.py [--resolution 64] [--batch 16] [--steps 12]

Prints one line per configuration and the throughput ratio tgan / reference (same run, same
machine, so the ratio is meaningful even on a busy host). The reference DCGAN is written here
in the style of pytorch/examples (ConvTranspose G with BatchNorm, Conv D with BatchNorm, BCE),
with the same layers and channel widths as tgan's nets (so the ratio measures the training loop).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch
from torch import nn

from tgan import ModelConfig, Step, TrainConfig, train
from tgan.models import load_source
from tgan.nets import _d_channels, _g_channels
from tgan.strategies.registry import PRESETS


def reference_dcgan(cfg: ModelConfig) -> tuple[nn.Module, nn.Module]:
    """pytorch/examples-style DCGAN with the same layers and channel widths as tgan's G and D,
    so both sides do the same arithmetic and the ratio measures the training code alone."""
    sides = [4 * 2**i for i in range(cfg.num_stages + 1)]  # 4, 8, ..., resolution
    chans = [_g_channels(cfg, s) for s in sides]
    g_layers = [nn.ConvTranspose2d(cfg.z_dim, chans[0], 4, 1, 0, bias=False), nn.BatchNorm2d(chans[0]), nn.ReLU(True)]
    for a, b in zip(chans, chans[1:]):
        g_layers += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
    g_layers += [nn.Conv2d(chans[-1], 3, 3, padding=1), nn.Tanh()]
    d_chans = [3] + [_d_channels(cfg, i) for i in range(cfg.num_stages)]
    d_layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(d_chans, d_chans[1:])):
        d_layers += [nn.Conv2d(a, b, 4, 2, 1, bias=False)]
        d_layers += [nn.LeakyReLU(0.2, True)] if i == 0 else [nn.BatchNorm2d(b), nn.LeakyReLU(0.2, True)]
    d_layers += [nn.Conv2d(d_chans[-1], 1, 4, 1, 0)]
    return nn.Sequential(*g_layers), nn.Sequential(*d_layers)


def time_reference(cfg: ModelConfig, batch: int, steps: int, device) -> float:
    G, D = (m.to(device) for m in reference_dcgan(cfg))
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real = torch.rand(batch, 3, cfg.resolution, cfg.resolution, device=device) * 2 - 1
    ones, zeros = torch.ones(batch, device=device), torch.zeros(batch, device=device)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        z = torch.randn(batch, cfg.z_dim, 1, 1, device=device)
        fake = G(z)
        loss_d = bce(D(real).flatten(), ones) + bce(D(fake.detach()).flatten(), zeros)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = bce(D(fake).flatten(), ones)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return _median(times[2:])


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2]


def time_tgan(strategies, cfg: ModelConfig, batch: int, steps: int, device, source=None, options=None) -> float:
    images = (torch.rand(64, 3, cfg.resolution, cfg.resolution) * 255).to(torch.uint8)
    tc = TrainConfig(steps=steps, batch_size=batch, strategies=strategies, strategy_options=options or {},
                     sample_every=10**5, save_every=0)
    times, last = [], time.perf_counter()
    for ev in train(tc, images, None, source=source, model_config=cfg, device=device):
        if isinstance(ev, Step):
            now = time.perf_counter()
            times.append(now - last)
            last = now
        else:
            last = time.perf_counter()
    return _median(times[2:])


def make_source(cfg: ModelConfig, device) -> object:
    """A source checkpoint of the benchmark's size (weights don't matter for speed)."""
    out = tempfile.mkdtemp(prefix="tgan-bench-")
    images = (torch.rand(8, 3, cfg.resolution, cfg.resolution) * 255).to(torch.uint8)
    list(train(TrainConfig(steps=1, batch_size=4, save_every=0), images, out, model_config=cfg, device=device))
    return load_source(out, device)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--resolution", type=int, nargs="+", default=[64])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--width", type=int, default=32)
    a = p.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    results = []
    for res in a.resolution:
        cfg = ModelConfig(resolution=res, g_width=a.width, d_width=a.width)
        source = make_source(cfg, device)
        configs = {"scratch": ["scratch"], "transfer_d": ["transfer_d"],
                   "projected_d": ["transfer_g", "projected_d"], "recommended": PRESETS["recommended"][0],
                   "recommended + pixel D": ["transfer_d", "projected_d", "diffaug"]}
        options = {"recommended + pixel D": {"projected_d": {"pixel_d": "conv"}}}
        # Two interleaved rounds, best median of each: a busy neighbour then slows every row alike.
        rows: dict[str, float] = {}
        for _ in range(2):
            rows["reference DCGAN"] = min(rows.get("reference DCGAN", 1e9), time_reference(cfg, a.batch, a.steps, device))
            for label, names in configs.items():
                rows[label] = min(rows.get(label, 1e9), time_tgan(names, cfg, a.batch, a.steps, device, source,
                                                                  options.get(label)))
        ref = rows["reference DCGAN"]
        for label, sec in rows.items():
            results.append({"resolution": res, "batch": a.batch, "config": label, "sec_per_step": round(sec, 4),
                            "images_per_sec": round(a.batch / sec, 1), "ratio_vs_reference": round(ref / sec, 2),
                            "device": str(device), "threads": torch.get_num_threads()})
            print(json.dumps(results[-1]))


if __name__ == "__main__":
    main()
