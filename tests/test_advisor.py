"""`tgan advise`: the nearest bundled source for each visible target, the fitted preset and steps."""
from __future__ import annotations

import json
import subprocess
import sys

from tgan import load_images
from tgan.advisor import FIT, advise
from tgan.models import list_sources
from tgan.paths import CHECKPOINTS, EXAMPLES


def test_the_advisor_names_the_nearest_source_for_each_visible_target():
    sources = {p.name: p for p in list_sources(CHECKPOINTS)}
    fit = json.loads(FIT.read_text())["shots"]
    for example, expected in [("emoji-3d-animals", "emoji"), ("faces-lorelei", "faces"), ("kanji-gyosho", "kanji")]:
        tip = advise(load_images(EXAMPLES / example, 64), sources)
        assert tip.source == expected, (example, tip.nearest)
        assert tip.preset == fit["10"]["preset"] and tip.steps % 50 == 0 and tip.steps > 0
        assert tip.distance is not None and tip.distance > 0 and expected in tip.why


def test_few_images_get_a_warning_and_the_cli_prints_one_json_object(tmp_path):
    for i, f in enumerate(sorted((EXAMPLES / "faces-lorelei").glob("*.png"))[:3]):
        (tmp_path / f"{i}.png").write_bytes(f.read_bytes())
    done = subprocess.run([sys.executable, "-m", "tgan.cli", "advise", "--data", str(tmp_path), "--source", "faces",
                           "--json"], capture_output=True, text=True, check=True)
    advice = json.loads(done.stdout)
    assert set(advice) == {"source", "preset", "steps", "why"} and advice["source"] == "faces"
    assert "only 3 images" in advice["why"]
