"""The r3gan network family: shapes at every resolution, its loss, every strategy on an r3gan
source, truncation toward a learned mean, and that v1 (dcgan) checkpoints still load."""
from __future__ import annotations

import json

import pytest
import torch

from tgan import ModelConfig, TrainConfig, load_images, load_source, train
from tgan.checkpoint import read_tensors, split_prefix
from tgan.cli import main
from tgan.events import Finished, Step
from tgan.losses import zero_centred_penalty
from tgan.models import build_discriminator, build_generator, load_model
from tgan.nets_r3 import Discriminator, Generator
from tgan.paths import CHECKPOINTS
from tgan.sampling import sample_seeds
from tgan.truncation import mean_w

TINY_R3 = ModelConfig(resolution=32, z_dim=16, w_dim=16, g_width=4, d_width=4, family="r3gan", mapping_layers=2)

COMBOS = ["scratch", "transfer_g", "transfer_d", "transfer_g,projected_d", "transfer_d,freeze_d",
          "transfer_d,joint", "transfer_d,l2sp", "transfer_d,ewc", "transfer_d,multitask", "scratch,diffaug"]


@pytest.fixture(scope="module")
def r3_source(tmp_path_factory, image_dir):
    out = tmp_path_factory.mktemp("r3source") / "tiny-r3"
    cfg = TrainConfig(steps=4, batch_size=4, strategies=["scratch"], sample_every=100, save_every=0, reg_every=2)
    events = list(train(cfg, load_images(image_dir, 32).images, out, model_config=TINY_R3))
    assert isinstance(events[-1], Finished), events[-1]
    return out


@pytest.mark.parametrize("resolution", [32, 64, 128])
def test_shapes_at_every_resolution(resolution):
    cfg = ModelConfig(resolution=resolution, z_dim=16, w_dim=16, g_width=4, d_width=4, family="r3gan",
                      mapping_layers=1)
    G, D = build_generator(cfg), build_discriminator(cfg)
    assert isinstance(G, Generator) and isinstance(D, Discriminator)
    img, feats = G.synthesis(G.mapping(torch.randn(3, 16)), return_features=True)
    assert img.shape == (3, 3, resolution, resolution)
    assert len(feats) == cfg.num_stages == len(D.blocks)
    assert D(img).shape == (3,)


def test_residual_blocks_start_as_identity():
    # The zero-initialised last conv of each block makes a fresh net a plain chain of resamplers.
    G = Generator(TINY_R3)
    for stage in G.blocks:
        for block in stage.blocks:
            assert float(block.project.weight.detach().abs().sum()) == 0.0


def test_rpgan_trains_with_r1_and_r2(image_dir):
    cfg = TrainConfig(steps=4, batch_size=4, strategies=["scratch"], sample_every=100, save_every=0, reg_every=2)
    steps = [e for e in train(cfg, load_images(image_dir, 32).images, model_config=TINY_R3) if isinstance(e, Step)]
    assert [("D/r1" in s.losses) for s in steps] == [False, True, False, True]  # lazy: every 2nd step
    assert all("D/rp" in s.losses and "D/real" not in s.losses for s in steps)
    assert all(s.losses["D/r1"] >= 0 and s.losses["D/r2"] >= 0 for s in steps if "D/r1" in s.losses)


def test_zero_centred_penalty_matches_the_analytic_gradient():
    x = torch.randn(5, 3, requires_grad=True)
    logits = (x * torch.tensor([1.0, 2.0, 3.0])).sum(1)  # grad is (1, 2, 3) for every row: |g|^2 = 14
    assert torch.allclose(zero_centred_penalty(logits, x), torch.tensor(14.0))


@pytest.mark.parametrize("strategy", COMBOS)
def test_every_strategy_fine_tunes_an_r3gan_source(strategy, r3_source, image_dir, tmp_path):
    out = tmp_path / "run"
    rc = main(["finetune", "--source", str(r3_source), "--data", str(image_dir), "--out", str(out),
               "--shots", "6", "--strategy", strategy, "--steps", "2", "--batch", "4", "--quiet"])
    assert rc == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["family"] == "r3gan" and config["step"] == 2


def test_freeze_d_freezes_the_r3gan_pixel_stage(r3_source, image_dir, tmp_path):
    source = load_source(r3_source)
    cfg = TrainConfig(steps=3, batch_size=4, strategies=["transfer_d", "freeze_d"], save_every=0,
                      sample_every=100, strategy_options={"freeze_d": {"frozen_blocks": 1}})
    list(train(cfg, load_images(image_dir, 32).images, tmp_path / "run", source=source))
    after = split_prefix(read_tensors(tmp_path / "run", "training_state.safetensors"), "D")
    before = split_prefix(read_tensors(r3_source, "training_state.safetensors"), "D")
    assert torch.equal(after["blocks.0.from_rgb.weight"], before["blocks.0.from_rgb.weight"])
    assert not torch.equal(after["blocks.1.to_width.weight"], before["blocks.1.to_width.weight"])


def test_truncation_pulls_toward_the_learned_mean(r3_source):
    G = load_model(r3_source).G_ema
    w_avg = mean_w(G)
    assert float(w_avg.norm()) > 0  # the mapping MLP's mean is not the zero vector
    full, half, zero = (sample_seeds(G, range(8), psi=psi, w_avg=w_avg) for psi in (1.0, 0.5, 0.0))
    spread = lambda x: float(x.std(0).mean())  # noqa: E731
    assert spread(zero) < 1e-6 < spread(half) < spread(full)


def test_v1_dcgan_checkpoints_still_load():
    model = load_model(CHECKPOINTS / "emoji")
    assert model.model_config.family == "dcgan"
    assert sample_seeds(model.G_ema, [0, 1]).shape == (2, 3, 64, 64)
