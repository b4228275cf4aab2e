"""Projection: a model's own sample comes back close, and `tgan project` writes its files."""
from __future__ import annotations

import subprocess
import sys

import torch
from PIL import Image
from safetensors.torch import load_file

from tgan import load_model, sampling
from tgan.events import Projected, ProjectionStep
from tgan.paths import CHECKPOINTS
from tgan.projection import project


def test_an_own_sample_projects_back(tmp_path):
    G = load_model(CHECKPOINTS / "faces", device="cpu").G_ema
    target = sampling.sample_seeds(G, [1000])[0]
    events = list(project(G, target, steps=150))
    assert [e.step for e in events if isinstance(e, ProjectionStep)] == list(range(1, 151))
    done = events[-1]
    assert isinstance(done, Projected) and done.psnr > 25 and done.w.shape == (G.cfg.w_dim,)
    again = sampling.synthesize(G, done.w.unsqueeze(0))[0]
    assert torch.allclose(again, done.image, atol=1e-5)  # the latent is the image


def test_the_cli_writes_the_latent_and_the_pictures(tmp_path):
    G = load_model(CHECKPOINTS / "emoji", device="cpu").G_ema
    sampling.grid_image(sampling.sample_seeds(G, [3]), nrow=1).save(tmp_path / "mine.png")
    subprocess.run([sys.executable, "-m", "tgan.cli", "project", "--model", "emoji", "--image", str(tmp_path / "mine.png"),
                    "--out", str(tmp_path / "out"), "--steps", "50", "--quiet"], check=True, capture_output=True)
    assert load_file(tmp_path / "out" / "latent.safetensors")["w"].shape == (G.cfg.w_dim,)
    pair, one = (Image.open(tmp_path / "out" / n).size[0] for n in ("comparison.png", "reconstruction.png"))
    assert 2 * one <= pair < 2.2 * one  # original and reconstruction side by side
