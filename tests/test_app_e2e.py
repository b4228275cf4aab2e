"""The real server through gradio_client: upload -> train a few steps -> sample -> interpolate."""
from __future__ import annotations

import json
import re
import time
import zipfile
from pathlib import Path

import pytest
from conftest import api_client, launched_app, names_step as _names_step
from gradio_client import handle_file
from PIL import Image

import appkit as sup


@pytest.fixture(scope="module")
def app_url(app_checkpoints):
    with launched_app(app_checkpoints) as url:
        yield url


def options():
    return [default for _, _, default, _ in sup.option_specs()]


def test_upload_train_sample_interpolate(app_url, app_image_files):
    c = api_client(app_url)
    gallery, summary = c.predict([handle_file(str(p)) for p in app_image_files["all"]], "tiny", api_name="/upload")
    assert len(gallery) == 8 and "**8 images ready**" in summary and "`notes.txt`" in summary

    job = c.submit("tiny", ["transfer_d", "freeze_d", "diffaug"], 3, 2e-4, 4, 0, "no", *options(), api_name="/train")
    outputs = job.result(timeout=180) and job.outputs()
    plot, samples, source_grid, progress, status, download, monitor, verdict = outputs[-1]
    assert verdict.startswith("**Monitor at step 3:")
    assert status.startswith("**Done**: 3 steps"), status
    assert Path(outputs[0][2]).is_file()  # the source grid comes with the first update
    assert any(o[1] for o in outputs)  # a fine-tuned sample grid was streamed
    with zipfile.ZipFile(download) as zf:
        assert sorted(zf.namelist()) == ["config.json", "model.safetensors"]
        assert json.loads(zf.read("config.json"))["train"]["flip"] is False  # the x-flip control's "no"
    assert {row[2] for row in plot["data"]} >= {"D/real", "D/fake", "G/adv"}

    seeds, label = c.predict("tiny", 5, 1.0, api_name="/seeds")
    assert len(seeds) == 16 and _names_step(label, 3)
    src, tuned = c.predict("tiny", 5, 1.0, api_name="/compare")
    assert Image.open(src).size == Image.open(tuned).size

    a = c.predict("tiny", "3, 17, 42", 0.0, 1.0, api_name="/interpolate")
    b = c.predict("tiny", "3, 17, 42", 0.6, 1.0, api_name="/interpolate")
    assert Image.open(a).tobytes() != Image.open(b).tobytes()
    archive = c.predict(api_name="/download_samples")
    assert len(zipfile.ZipFile(archive).namelist()) == 16


def test_sessions_do_not_see_each_other(app_url, app_image_files):
    a, b = api_client(app_url), api_client(app_url)
    a.predict([handle_file(str(p)) for p in app_image_files["good"]], "tiny", api_name="/upload")
    # b's mistake is a warning (its outputs stay as they were), not an error, and trains nothing
    b.submit("tiny", ["transfer_d"], 2, 2e-4, 4, 0, "as the source was trained", *options(), api_name="/train").result(timeout=60)
    _, label = b.predict("tiny", 0, 1.0, api_name="/seeds")
    assert "source model **tiny**" in label  # b has no run, whatever a does


def test_stop_over_the_api_keeps_the_model(app_url, app_image_files):
    c = api_client(app_url)
    c.predict([handle_file(str(p)) for p in app_image_files["good"]], "tiny", api_name="/upload")
    job = c.submit("tiny", ["transfer_d"], 3000, 2e-4, 4, 0, "as the source was trained", *options(), api_name="/train")
    # wait until a step has run (status "Training on cpu: step N / 3000", N >= 1): a Stop during the
    # set-up frame, which a fast machine reaches first, ends the run with nothing to download
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(re.match(r"Training on .*: step [1-9]", str(out[4]))
                                                  for out in job.outputs()):
        time.sleep(0.1)
    samples, progress, status, download = c.predict(api_name="/stop")
    assert status.startswith("**Stopped**"), status
    assert sorted(zipfile.ZipFile(download).namelist()) == ["config.json", "model.safetensors"]
    job.result(timeout=60)  # the stream ends by itself once the run has stopped


def test_bad_input_is_a_message_not_a_crash(app_url):
    c = api_client(app_url)
    c.predict("tiny", "3, seventeen", 0.5, 1.0, api_name="/interpolate")  # a warning toast; the server goes on
    with pytest.raises(Exception, match="maximum"):  # slider bounds are enforced by the API
        c.predict("tiny", "3, 17", 5.0, 1.0, api_name="/interpolate")
    assert c.predict("tiny", "3, 17", 0.5, 1.0, api_name="/interpolate")  # server still fine
