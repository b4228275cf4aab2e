"""The app's training path the way ZeroGPU runs it, without a GPU: each chunk in a forked child
(tests/zerogpu_emulation.py), and the main process believing in a CUDA it must never touch.
SPACES_ZERO_GPU stays unset: the real path needs a GPU and a scheduler."""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import torch
from PIL import Image

import appkit as sup
from appkit import live_run
from test_app import defaults
from webapp import explore, plumbing, setup_tabs
from zerogpu_emulation import forked_gpu

FAST = ["transfer_d", "freeze_d", "diffaug"]
REAL_IS_AVAILABLE = torch.cuda.is_available
BODY = plumbing.run_chunk  # off ZeroGPU, the decorator returns the function itself


def _child_setup():
    torch.cuda.is_available = REAL_IS_AVAILABLE  # in a ZeroGPU child CUDA is real; here it is absent


@pytest.fixture
def zerogpu(app_env, app_image_files, monkeypatch):
    """A session with images, 2-step chunks, one training thread, and chunks run in forked children."""
    monkeypatch.setattr(live_run, "CHUNK_STEPS", 2)
    monkeypatch.setattr(sup, "TRAIN_THREADS", 1)
    children = []
    monkeypatch.setattr(plumbing, "run_chunk", forked_gpu(BODY, _child_setup, children.append))
    sess = sup.Session()
    setup_tabs.upload_images([str(p) for p in app_image_files["good"]], sess, "tiny")
    yield sess, children
    sess.close()


def _train(sess, steps):
    return list(setup_tabs.train_run(sess, "tiny", FAST, steps, 2e-4, 4, 0, None, *defaults()))


def test_forked_chunks_give_the_in_process_weights(zerogpu, monkeypatch):
    sess, children = zerogpu
    outputs = _train(sess, 5)
    assert "**Done**: 5 steps" in outputs[-1][4] and len(children) == 3  # chunks of 2, 2 and 1 step
    forked = sess.run.state
    monkeypatch.setattr(plumbing, "run_chunk", BODY)  # the same run in this process
    threads = torch.get_num_threads()
    try:
        _train(sess, 5)
    finally:
        torch.set_num_threads(threads)
    here = sess.run.state
    assert [k for k in here.tensors if not torch.equal(here.tensors[k], forked.tensors[k])] == []


def test_stop_reaches_the_child_and_keeps_the_last_step(zerogpu, monkeypatch):
    sess, _ = zerogpu
    monkeypatch.setattr(live_run, "CHUNK_STEPS", None)  # one long chunk: Stop must reach into it
    seen = []
    consumer = threading.Thread(target=lambda: seen.extend(
        setup_tabs.train_run(sess, "tiny", FAST, 3000, 2e-4, 4, 0, None, *defaults())), daemon=True)
    consumer.start()
    deadline = time.monotonic() + 60
    while (sess.live is None or sess.live.last_step is None) and time.monotonic() < deadline:
        time.sleep(0.05)
    samples, _, status, _ = setup_tabs.stop_run(sess)
    consumer.join(30)
    last_reported = max(step for step, _, _ in seen[-1][0].itertuples(index=False))
    assert status.startswith("**Stopped** at step") and isinstance(samples, Image.Image)
    assert sess.run.stopped and sess.run.step == last_reported > 0  # the step it was at, not a chunk boundary


def test_a_killed_chunk_loses_only_itself_and_the_app_says_so(zerogpu, monkeypatch):
    sess, children = zerogpu
    monkeypatch.setattr(live_run, "CHUNK_STEPS", 20)  # long enough that the kill lands mid-chunk
    gen = setup_tabs.train_run(sess, "tiny", FAST, 3000, 2e-4, 4, 0, None, *defaults())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (sess.live is None or sess.live.step == 0 or sess.live.last_step is None
                                           or sess.live.last_step.step <= sess.live.step):
        next(gen)  # until a chunk's state came back and the next chunk has reported a step
    kept = sess.live.step
    os.kill(children[-1].pid, signal.SIGKILL)  # an aborted ZeroGPU call
    with pytest.warns(UserWarning, match="The last training chunk was lost"):
        outputs = list(gen)
    assert f"kept at step {kept}" in outputs[-1][4] and "press Continue" in outputs[-1][4]
    assert kept == 20 and sess.run.step == kept and sess.run.stopped
    assert setup_tabs.continue_button(sess)[1].value == f"Continue from step {kept}"
    outputs = list(setup_tabs.continue_run(sess, "tiny", FAST, kept + 2, 2e-4, 4, 0, None, *defaults()))
    assert "**Done**" in outputs[-1][4] and sess.run.step == kept + 2


def test_the_main_process_never_touches_cuda(zerogpu, monkeypatch):
    """On ZeroGPU torch.cuda.is_available() is True in the main process and real CUDA init raises:
    training must go to the child, and Explore, sampling, PCA and scoring must stay on the CPU."""
    sess, _ = zerogpu

    def no_cuda_here(*_, **__):
        raise AssertionError("CUDA initialised in the main process")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "_lazy_init", no_cuda_here)
    outputs = _train(sess, 3)
    assert "**Done**: 3 steps" in outputs[-1][4]
    gallery, label = explore.show_seeds(sess, "tiny", 0, 0.7)
    assert len(gallery) == 16 and "fine-tuned" in label
    src, tuned = explore.compare(sess, "tiny", 3, 1.0)
    assert src.size == tuned.size
    assert explore.pca_edit(sess, "tiny", 3, 1.0, False, *[1.0] * sup.PCA_COMPONENTS) is not None
    assert "KID" in setup_tabs.score_kid(sess)
