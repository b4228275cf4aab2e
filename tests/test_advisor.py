"""`tgan advise`: the nearest bundled source for each visible target, the fitted preset and steps."""
from __future__ import annotations

import json
import subprocess
import sys

import torch

from tgan import load_images
from tgan.advisor import FIT, advise
from tgan.config import DEFAULT_FINETUNE_STEPS
from tgan.data import ImageSet
from tgan.models import list_sources
from tgan.paths import CHECKPOINTS, EXAMPLES


def test_the_advisor_names_the_nearest_source_for_each_visible_target():
    sources = {p.name: p for p in list_sources(CHECKPOINTS)}
    fit = json.loads(FIT.read_text())["shots"]
    for example, expected in [("emoji-3d-animals", "emoji"), ("faces-lorelei", "faces"), ("kanji-gyosho", "kanji")]:
        tip = advise(load_images(EXAMPLES / example, 64), sources)
        assert tip.source == expected, (example, tip.nearest)
        assert tip.preset == fit["10"]["preset"] and tip.distance is not None and tip.distance > 0 and expected in tip.why
        # the bench's 180 s made fewer steps at 10 shots than the default fine-tune, which scores better
        assert fit["10"]["steps"] < tip.steps == DEFAULT_FINETUNE_STEPS
        assert "the default fine-tune's" in tip.why


def test_the_advised_steps_are_the_benchmarks_where_it_made_more_than_the_default():
    sources = {p.name: p for p in list_sources(CHECKPOINTS)}
    fit = json.loads(FIT.read_text())["shots"]
    a, b = (load_images(EXAMPLES / name, 64) for name in ("emoji-3d-animals", "kanji-gyosho"))
    images = ImageSet(torch.cat([a.images, b.images]), a.names + b.names)  # 32 images: the 25-shot rule
    tip = advise(images, sources, source="emoji")
    assert tip.steps == round(fit["25"]["steps"] / 50) * 50 > DEFAULT_FINETUNE_STEPS
    assert f"{tip.steps} steps: what it made in the benchmark's" in tip.why


def test_few_images_get_a_warning_and_the_cli_prints_one_json_object(tmp_path):
    for i, f in enumerate(sorted((EXAMPLES / "faces-lorelei").glob("*.png"))[:3]):
        (tmp_path / f"{i}.png").write_bytes(f.read_bytes())
    done = subprocess.run([sys.executable, "-m", "tgan.cli", "advise", "--data", str(tmp_path), "--source", "faces",
                           "--json"], capture_output=True, text=True, check=True)
    advice = json.loads(done.stdout)
    assert set(advice) == {"source", "preset", "steps", "why"} and advice["source"] == "faces"
    assert "only 3 images" in advice["why"]


def test_a_source_holding_a_twin_of_every_image_ranks_first_and_old_fingerprints_are_skipped(tmp_path, monkeypatch):
    from safetensors.torch import save_file

    from tgan import advisor
    from tgan.advisor import fingerprints, rank_sources, style_features

    mine = load_images(EXAMPLES / "kanji-gyosho", 64).as_float()[:4]
    others = load_images(EXAMPLES / "emoji-3d-animals", 64).as_float()[:4]
    feats = style_features(torch.cat([mine, others]))  # (8, 496)
    assert feats.shape == (8, 496) and (feats[:4] != feats[4:]).any()
    for name, rows, key in [("twins", feats[:4], "style"), ("others", feats[4:], "style"),
                            ("old", feats[:4], "inception")]:
        (tmp_path / name).mkdir()
        save_file({key: torch.from_numpy(rows).half()}, str(tmp_path / name / "fingerprint.safetensors"))
    prints = fingerprints({name: tmp_path / name for name in ("twins", "others", "old")})
    assert set(prints) == {"twins", "others"}  # a fingerprint of Inception features only is not comparable
    similar = rank_sources(feats[:4], prints)  # every fingerprint image is a neighbour here (4 < NEIGHBOURS)
    assert similar["others"] < similar["twins"] < 0.999
    monkeypatch.setattr(advisor, "NEIGHBOURS", 1)
    assert rank_sources(feats[:4], prints)["twins"] > 0.999  # each image's nearest is its twin
