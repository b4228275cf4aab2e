"""What the CLI prints: the quick commands load no torch, finetune draws its last bar once, and
eval shows progress on stderr while --json keeps stdout to one JSON object."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from PIL import Image

from tgan.cli import main


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_help_and_strategies_do_not_import_torch():
    # The import time itself is a benchmark line (benchmarks/cli_startup.py), not a timed test.
    out = _python("import sys\nfrom tgan.cli import main\nmain(['strategies'])\nprint('torch' in sys.modules)")
    assert out.strip().endswith("False") and "projected_d" in out and "recommended" in out
    out = _python("import sys\nfrom tgan.cli import build_parser\nbuild_parser().format_help()\n"
                  "print('torch' in sys.modules)")
    assert out.strip() == "False"


def test_finetune_draws_its_final_bar_once(tiny_source, image_dir, tmp_path, capsys):
    rc = main(["finetune", "--source", str(tiny_source), "--data", str(image_dir), "--out", str(tmp_path / "r"),
               "--steps", "4", "--batch", "4", "--save-every", "2", "--strategy", "transfer_g"])
    assert rc == 0
    err = capsys.readouterr().err
    after = err.split("saved step 4")[1]
    assert "step/s" not in after and "s/step" not in after, after  # nothing redrawn after the last save
    assert "saved step 2" in err and "finished at step 4" in after
    # the run folder shows what the model makes: 6 x 6 samples (32 px, upscaled 2x), and at psi = 0.5
    grid = np.asarray(Image.open(tmp_path / "r" / "samples.png"))
    assert grid.shape[0] == grid.shape[1] > 2 * 6 * 32 and grid.std() > 1  # not one flat colour
    assert (tmp_path / "r" / "samples-psi05.png").is_file() and "wrote samples.png" in after


def test_eval_progress_goes_to_stderr(image_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TGAN_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["eval", "--samples", str(image_dir), "--reference", str(image_dir), "--resolution", "32",
                 "--json"]) == 0
    captured = capsys.readouterr()
    assert "inception features" in captured.err and "random-cnn features" in captured.err
    assert set(json.loads(captured.out)["spaces"]) == {"inception", "random-cnn"}


def test_finetune_without_steps_trains_the_apps_default_fine_tune(tiny_source, image_dir, tmp_path, capsys):
    from tgan.config import DEFAULT_FINETUNE_STEPS

    steps = DEFAULT_FINETUNE_STEPS  # as the app's slider
    rc = main(["finetune", "--source", str(tiny_source), "--data", str(image_dir), "--out", str(tmp_path / "r"),
               "--batch", "2", "--save-every", "0", "--strategy", "transfer_g", "--quiet"])
    assert rc == 0 and f"finished at step {steps}" in capsys.readouterr().err
    assert json.loads((tmp_path / "r" / "config.json").read_text())["train"]["steps"] == steps
