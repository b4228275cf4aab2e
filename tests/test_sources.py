"""The bundled source models: safetensors only, small enough for a Space, and fine-tunable."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tgan import Finished, Step, TrainConfig, list_sources, load_images, load_source, train
from tgan.paths import CHECKPOINTS, EXAMPLES

SOURCES = list_sources(CHECKPOINTS)
REPO = Path(__file__).resolve().parent.parent


def _shipped_files() -> list[Path]:
    """What the repository ships: tracked and untracked-but-not-ignored files (git's view), so
    local work folders such as runs/ (gitignored) do not count; every file without git."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return [p for p in REPO.rglob("*") if p.is_file() and ".git" not in p.parts]
    return [REPO / line for line in out.splitlines() if (REPO / line).is_file()]


def test_no_pickles_and_small_files():
    tracked = _shipped_files()
    assert len(tracked) > 20
    assert not [p for p in tracked if p.suffix in {".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".bin"}]
    assert all(p.stat().st_size < 10 * 2**20 for p in CHECKPOINTS.rglob("*")
               if p.is_file() and p.name != "training_state.safetensors")


@pytest.mark.parametrize("folder", SOURCES, ids=[p.name for p in SOURCES])
def test_transfer_d_from_each_source(folder):
    source = load_source(folder)
    images = load_images(EXAMPLES / "emoji-3d-animals", source.model_config["resolution"]).images[:8]
    cfg = TrainConfig(steps=2, batch_size=4, strategies=["transfer_d"], sample_every=100, save_every=0)
    events = list(train(cfg, images, None, source=source))
    assert isinstance(events[-1], Finished) and len([e for e in events if isinstance(e, Step)]) == 2


def test_three_sources_are_bundled():
    assert {"emoji", "faces", "kanji"} <= {p.name for p in SOURCES}
