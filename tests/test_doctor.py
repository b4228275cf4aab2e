"""The dataset doctor on a planted set: line drawings with two exact duplicates, a near-duplicate,
a transparent, a non-square, a tiny and a grey image, and a colour photo that does not belong."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from PIL import Image, ImageEnhance

from tgan.paths import EXAMPLES


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("planted")
    drawings = sorted((EXAMPLES / "faces-lorelei").glob("*.png"))
    for i, f in enumerate(drawings[:10]):
        shutil.copyfile(f, folder / f"drawing{i:02d}.png")
    shutil.copyfile(drawings[0], folder / "copy-a.png")
    shutil.copyfile(drawings[0], folder / "copy-b.png")
    ImageEnhance.Brightness(Image.open(drawings[1]).convert("RGB")).enhance(0.97).save(folder / "near.png")
    rgba = Image.open(drawings[10]).convert("RGBA")
    rgba.putdata([(r, g, b, 0) if min(r, g, b) > 240 else (r, g, b, 255) for r, g, b, _ in rgba.getdata()])
    rgba.save(folder / "transparent.png")
    wide = Image.new("RGB", (80, 64), "white")
    wide.paste(Image.open(drawings[11]).convert("RGB"), (8, 0))
    wide.save(folder / "wide.png")
    Image.open(drawings[12]).convert("RGB").resize((24, 24)).save(folder / "tiny.png")
    Image.new("RGB", (64, 64), (128, 128, 128)).save(folder / "grey.png")
    shutil.copyfile(sorted((EXAMPLES / "emoji-3d-animals").glob("*.png"))[0], folder / "photo.png")
    return folder


def test_doctor_json_catches_every_planted_problem(planted):
    done = subprocess.run([sys.executable, "-m", "tgan.cli", "doctor", "--data", str(planted), "--json"],
                          capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    found = {(f["file"], f["kind"]) for f in report["findings"]}
    # copy-a, copy-b and drawing00 are one picture: the loader keeps the first name it reads
    assert sum(kind == "duplicate" and name in ("copy-a.png", "copy-b.png", "drawing00.png") for name, kind in found) == 2
    assert {("near.png", "near-duplicate"),
            ("transparent.png", "transparent"), ("wide.png", "non-square"), ("tiny.png", "tiny"),
            ("grey.png", "grey"), ("photo.png", "outlier")} <= found, found
    clean = {f"drawing{i:02d}.png" for i in range(1, 10)}
    assert not [f for f in report["findings"] if f["file"] in clean], report["findings"]
    assert all(f["action"] for f in report["findings"])
    assert report["train_on"] == report["usable"] - 1  # the near-duplicate is left out


def test_degenerate_sizes_are_refused_or_reported(tmp_path):
    """A 1x1 image and a 20,000 x 4 strip are refused with the reason; a 20,000 x 64 panorama is
    kept (centre-cropped) and the doctor says so."""
    from tgan import load_images
    from tgan.doctor import examine

    Image.new("RGB", (1, 1), "red").save(tmp_path / "dot.png")
    Image.new("RGB", (20_000, 4), "blue").save(tmp_path / "strip.png")
    wide = Image.new("RGB", (20_000, 64), "white")
    wide.paste(Image.new("RGB", (64, 64), "black"), (9_968, 0))
    wide.save(tmp_path / "panorama.png")
    for i, f in enumerate(sorted((EXAMPLES / "faces-lorelei").glob("*.png"))[:4]):
        shutil.copyfile(f, tmp_path / f"d{i}.png")
    images = load_images(tmp_path, 64)
    reasons = dict(images.rejected)
    assert "1x1 pixels" in reasons["dot.png"] and "20000x4 pixels" in reasons["strip.png"]
    found = {(f.file, f.kind) for f in examine(images)[0]}
    assert ("panorama.png", "non-square") in found and ("dot.png", "refused") in found
