"""A non-editable install (`pip install .`) in a fresh venv finds the bundled sources from any folder."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow  # builds a wheel (about a minute); run with -m slow
def test_sample_from_a_non_editable_install(tmp_path):
    venv = tmp_path / "venv"
    # The venv sees this interpreter's torch and friends; only tgan itself is installed into it.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", str(ROOT)]
    subprocess.run(pip, check=True, cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run([str(venv / "bin" / "tgan"), "sample", "--model", "emoji", "--out", "grid.png"],
                          cwd=elsewhere, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (elsewhere / "grid.png").stat().st_size > 10_000
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import tgan.paths as p; print(p.CHECKPOINTS)"],
                           cwd=elsewhere, capture_output=True, text=True, check=True).stdout.strip()
    assert "site-packages" in where  # the installed copy, not this checkout
