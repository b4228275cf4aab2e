"""Checkpoints (safetensors only, checked shapes) and the sampling toolbox."""
from __future__ import annotations

import pickle
import shutil

import imageio.v3 as iio
import pytest
import torch

from tgan import CheckpointError, load_model
from tgan import sampling
from tgan.cli import main


def test_pickle_disguised_as_safetensors_is_refused(tiny_source, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(tiny_source, bad)
    (bad / "model.safetensors").write_bytes(pickle.dumps({"G_ema.x": torch.zeros(1)}))
    with pytest.raises(CheckpointError, match="not a valid safetensors"):
        load_model(bad)


def test_wrong_shapes_are_named(tiny_source, tmp_path):
    import json

    bad = tmp_path / "bad"
    shutil.copytree(tiny_source, bad)
    config = json.loads((bad / "config.json").read_text())
    config["model"]["g_width"] = 16
    (bad / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="shape mismatches"):
        load_model(bad)


def test_sample_and_interpolate_cli(tiny_source, tmp_path):
    assert main(["sample", "--model", str(tiny_source), "--out", str(tmp_path / "s.png"), "--n", "4",
                 "--truncation", "0.7"]) == 0
    assert (tmp_path / "s.png").stat().st_size > 0
    for ext in ("gif", "mp4"):
        out = tmp_path / f"i.{ext}"
        assert main(["interpolate", "--model", str(tiny_source), "--out", str(out), "--seeds", "1", "2", "3",
                     "--frames", "6"]) == 0
        assert len(iio.imread(out)) == 6 if ext == "gif" else out.stat().st_size > 0


def test_cli_model_errors_are_one_line(tmp_path, capsys):
    assert main(["sample", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "x.png")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_slerp_endpoints_and_norm():
    a, b = torch.randn(8), torch.randn(8)
    assert torch.allclose(sampling.slerp(a, b, 0.0), a, atol=1e-5)
    assert torch.allclose(sampling.slerp(a, b, 1.0), b, atol=1e-5)
    path = sampling.path_latents(torch.stack([a, b]), 5)
    assert path.shape == (5, 8) and torch.allclose(path[-1], b, atol=1e-5)


def test_truncation_on_the_sphere_keeps_images_on_it(tiny_source):
    """Without a mapping network the mean latent is the zero vector; truncation must move along
    the sphere toward the anchors (latents of its own typical samples), not fade the images toward zero."""
    from tgan.truncation import mean_w

    G = load_model(tiny_source).G_ema
    assert G.cfg.mapping_layers == 0 and float(mean_w(G).norm()) < 0.2 * G.cfg.w_dim ** 0.5
    anchors = sampling.truncation_centre(G)
    assert anchors.dim() == 2 and 1 <= len(anchors) <= 16
    z = sampling.seed_latents(range(8), G.cfg.z_dim)
    w1 = sampling.latents_to_w(G, z, 1.0)
    radius = G.cfg.w_dim ** 0.5
    for psi in (0.0, 0.5):
        w = sampling.latents_to_w(G, z, psi, anchors)
        assert torch.allclose(w.norm(dim=1), torch.full((8,), radius), rtol=1e-4)  # still on the sphere
    near = lambda w: torch.nn.functional.cosine_similarity(w[:, None], anchors[None], dim=2).max(1).values
    assert bool((near(sampling.latents_to_w(G, z, 0.5, anchors)) > near(w1)).all())
    assert bool((near(sampling.latents_to_w(G, z, 0.0, anchors)) > 0.95).all())  # psi 0: an anchor
    full = sampling.sample_seeds(G, range(8), 1.0)
    half = sampling.sample_seeds(G, range(8), 0.5, anchors)
    assert half.std() > 0.7 * full.std()  # contrast kept (the lerp toward zero lost half)


def test_truncation_pulls_toward_mean_w_with_a_mapping_network():
    from tgan.config import ModelConfig
    from tgan.models import fresh_models

    G, _ = fresh_models(ModelConfig(resolution=32, z_dim=16, w_dim=16, g_width=8, d_width=8,
                                    mapping_layers=2), seed=0, device="cpu")
    w_avg = sampling.truncation_centre(G)
    assert w_avg.dim() == 1
    z = sampling.seed_latents([1, 2, 3], G.cfg.z_dim)
    w1 = sampling.latents_to_w(G, z, 1.0)
    w0 = sampling.latents_to_w(G, z, 0.0, w_avg)
    assert torch.allclose(w0, w_avg.expand_as(w0), atol=1e-6)
    assert (sampling.latents_to_w(G, z, 0.5, w_avg) - w_avg).norm() < (w1 - w_avg).norm()


def test_seed_latents_do_not_depend_on_batch():
    assert torch.equal(sampling.seed_latents([5, 9], 16)[1], sampling.seed_latents([9], 16)[0])


def test_pca_directions_move_the_first_layer_most(tiny_source):
    G = load_model(tiny_source).G_ema
    w_avg, dirs, stds = sampling.pca_directions(G, 4, n_samples=512)
    assert dirs.shape == (4, G.cfg.w_dim) and torch.allclose(dirs.norm(dim=1), torch.ones(4), atol=1e-5)
    assert (stds > 0).all()
    w = w_avg[None]
    moved = sampling.move_along(w, dirs, stds, [2.0, 0, 0, 0])
    assert torch.allclose(moved - w, 2 * stds[0] * dirs[0], atol=1e-5)
    # The top direction changes the stem's activations more than a random direction does.
    rand = torch.nn.functional.normalize(torch.randn(1, G.cfg.w_dim, generator=torch.Generator().manual_seed(0)))
    with torch.no_grad():
        top = (G.stem(w + dirs[:1]) - G.stem(w)).norm()
        other = (G.stem(w + rand) - G.stem(w)).norm()
    assert top > other
