"""The GPU-burst tools of pretraining/: a corpus packed here unpacks there pixel for pixel, and
device_burst.sh continues a run from a model folder and leaves its weights in the output folder."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from tgan import load_images
from tgan.cli import main

ROOT = Path(__file__).resolve().parent.parent
PACK = [sys.executable, str(ROOT / "pretraining" / "pack_corpus.py")]


def test_a_packed_corpus_unpacks_to_the_same_pixels(image_dir, tmp_path):
    packed = tmp_path / "corpus.u8.xz"
    done = subprocess.run([*PACK, "pack", "--data", str(image_dir), "--out", str(packed), "--n", "8",
                           "--resolution", "32"], capture_output=True, text=True, check=True)
    assert "8 images" in done.stdout
    subprocess.run([*PACK, "unpack", str(packed), "--out", str(tmp_path / "out")], check=True, capture_output=True)
    unpacked = load_images(tmp_path / "out", 32).images
    originals = load_images(image_dir, 32).images
    assert unpacked.shape == (8, 3, 32, 32)
    # every unpacked image is one of the originals, exactly, and no two are the same one
    matches = [next(i for i, o in enumerate(originals) if torch.equal(o, u)) for u in unpacked]
    assert len(set(matches)) == 8


def test_device_burst_continues_a_run_and_copies_its_weights_out(image_dir, tmp_path):
    start = tmp_path / "start"
    args = ["--resolution", "32", "--width", "8", "--family", "dcgan", "--batch", "4", "--save-every", "100"]
    assert main(["pretrain", "--data", str(image_dir), "--out", str(start), "--steps", "2", "--quiet", *args]) == 0
    packed = tmp_path / "corpus.u8.xz"
    subprocess.run([*PACK, "pack", "--data", str(image_dir), "--out", str(packed), "--resolution", "32"],
                   check=True, capture_output=True)
    out = tmp_path / "back"
    env = {**os.environ, "RESUME_FROM": str(start)}
    done = subprocess.run(["bash", str(ROOT / "pretraining" / "device_burst.sh"), "tiny", "300", str(packed),
                           str(out), "--steps", "5", "--quiet", "--threads", "1", *args],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((out / "config.json").read_text())["step"] == 5  # continued from step 2
    assert (out / "model.safetensors").stat().st_size > 0 and (out / "pretrain.log").is_file()
    assert json.loads((start / "config.json").read_text())["step"] == 2  # the starting folder is untouched
