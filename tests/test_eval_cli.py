"""`tgan eval` end to end with the real Inception: a fine-tuned run, a bundled source, a samples folder."""
from __future__ import annotations

import json
import math

import pytest

from tgan import Finished, TrainConfig, load_images, load_source, train
from tgan.cli import main

KEYS = {"kid", "kid_std", "fid", "precision", "recall", "memorisation", "copy_ratio", "diversity", "n", "spaces",
        "copy_ratio_aligned"}


@pytest.fixture(autouse=True)
def private_feature_cache(tmp_path, monkeypatch):
    """Reference features are cached on disk; keep this test's cache out of the user's."""
    monkeypatch.setenv("TGAN_CACHE_DIR", str(tmp_path / "cache"))


def _eval_json(capsys, *args) -> dict:
    assert main(["eval", *args, "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, lines  # one JSON object, nothing else on stdout
    return json.loads(lines[0])


def test_eval_a_finetuned_run_and_a_bundled_source(tiny_source, image_dir, tmp_path, capsys):
    run = tmp_path / "finetuned"
    cfg = TrainConfig(steps=2, batch_size=4, strategies=["transfer_g"], sample_every=100, save_every=0)
    events = list(train(cfg, load_images(image_dir, 32).images, run, source=load_source(tiny_source)))
    assert isinstance(events[-1], Finished), events[-1]

    finetuned = _eval_json(capsys, "--model", str(run), "--reference", str(image_dir), "--train",
                           str(image_dir), "--n", "8")
    assert set(finetuned) == KEYS and finetuned["n"] == 8
    assert finetuned["kid"] > 0 and finetuned["fid"] > 0 and math.isfinite(finetuned["memorisation"])
    assert 0 < finetuned["copy_ratio_aligned"] < 10  # the shift- and mirror-tolerant copy measure
    assert set(finetuned["spaces"]) == {"inception", "random-cnn"}
    assert finetuned["spaces"]["inception"]["kid"] == finetuned["kid"]  # top level = Inception, as before
    for space in finetuned["spaces"].values():
        assert {"kid", "kid_std", "fid", "copy_ratio"} <= set(space) and math.isfinite(space["kid"])
    # Same inputs, same numbers: the latents come from the seeds, the reference from the cache.
    assert _eval_json(capsys, "--model", str(run), "--reference", str(image_dir), "--train",
                      str(image_dir), "--n", "8") == finetuned

    bundled = _eval_json(capsys, "--model", "emoji", "--reference", str(image_dir), "--n", "8")
    assert bundled["n"] == 8 and math.isfinite(bundled["kid"])
    assert math.isnan(bundled["memorisation"])  # no --train: nothing to be close to


def test_eval_samples_folder_and_readable_table(image_dir, capsys):
    same = _eval_json(capsys, "--samples", str(image_dir), "--reference", str(image_dir), "--resolution", "32")
    # A set against itself: FID 0; unbiased KID slightly below 0, since the cross term keeps each
    # image's kernel with itself (-0.02 here), which the within-set terms leave out.
    assert same["n"] == 12 and -0.05 < same["kid"] <= 0 and same["fid"] < 1e-3, same
    assert same["spaces"]["random-cnn"]["kid"] <= 0 and same["spaces"]["random-cnn"]["fid"] < 1e-3

    assert main(["eval", "--samples", str(image_dir), "--reference", str(image_dir), "--resolution", "32"]) == 0
    table = capsys.readouterr().out
    header, kid_row = table.splitlines()[:2]
    assert "inception" in header and "random-cnn" in header
    assert kid_row.startswith("KID") and "needs --train" in table and "{" not in table
