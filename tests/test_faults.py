"""Faults during training: a kill mid-save, NaN/inf mid-run, a stop, and a crash then resume."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import torch

from conftest import TINY
from tgan import Failed, Finished, Saved, Started, Step, TrainConfig, list_sources, load_images, load_model, train
from tgan.checkpoint import CONFIG, TRAINING_STATE, WEIGHTS, read_config, read_tensors
from tgan.strategies.scratch import Scratch

REPO = Path(__file__).resolve().parent.parent


def _cfg(**kw) -> TrainConfig:
    base = dict(steps=4, batch_size=2, sample_every=1000, save_every=1, strategies=["scratch"])
    base.update(kw)
    return TrainConfig(**base)


def _images(image_dir) -> torch.Tensor:
    return load_images(image_dir, 32).images


def _temps(run: Path) -> list[str]:
    return sorted(p.name for p in run.iterdir() if p.name.endswith(".tmp"))


# (a) SIGKILL while a checkpoint is being written -----------------------------------------------

_KILLED_CHILD = textwrap.dedent("""
    import sys, time
    import torch
    torch.set_num_threads(1)
    import tgan.checkpoint as ck
    from tgan import ModelConfig, TrainConfig, load_images, train
    from tgan.events import Saved

    real_save_file, calls = ck.save_file, [0]

    def slow_save_file(tensors, path, metadata=None):
        calls[0] += 1
        if calls[0] >= int(sys.argv[3]):  # two files per save; hang on the given write
            print("SAVING", flush=True)
            time.sleep(120)
        return real_save_file(tensors, path, metadata=metadata)

    ck.save_file = slow_save_file
    images = load_images(sys.argv[1], 32).images
    cfg = TrainConfig(steps=50, batch_size=2, sample_every=1000, save_every=1, strategies=["scratch"])
    mcfg = ModelConfig(resolution=32, z_dim=16, w_dim=16, g_width=8, d_width=8)
    for ev in train(cfg, images, sys.argv[2], model_config=mcfg):
        if isinstance(ev, Saved):
            print("SAVED", ev.step, flush=True)
""")


def _train_until_killed_mid_save(image_dir, run: Path, hang_at_write: int) -> list[int]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    args = [sys.executable, "-c", _KILLED_CHILD, str(image_dir), str(run), str(hang_at_write)]
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(90, proc.kill)  # never hang the suite if the child misbehaves
    watchdog.start()
    saved = []
    try:
        for line in proc.stdout:
            if line.startswith("SAVED"):
                saved.append(int(line.split()[1]))
            elif line.startswith("SAVING"):
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait(timeout=30)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()[-2000:]
    proc.stdout.close()
    proc.stderr.close()
    return saved


@pytest.mark.parametrize("hang_at_write", [5, 6], ids=["writing_training_state", "writing_weights"])
def test_sigkill_mid_save_leaves_a_loadable_resumable_run(hang_at_write, image_dir, tmp_path):
    run = tmp_path / "run"
    saved = _train_until_killed_mid_save(image_dir, run, hang_at_write)  # writes 1-4 are saves 1 and 2
    assert saved == [1, 2]

    # The kill landed inside the third save: its temporary files are there, the real files are step 2's,
    # all of them (the resume file must not be step 3's while config.json says step 2).
    assert _temps(run), sorted(os.listdir(run))
    assert read_config(run)["step"] == 2
    weights, state = read_tensors(run, WEIGHTS), read_tensors(run, TRAINING_STATE)
    assert all(torch.equal(weights[k], state[k]) for k in weights), "resume file and model are from different saves"
    model = load_model(run)
    assert torch.isfinite(model.G_ema(torch.randn(2, TINY.z_dim))).all()
    assert list_sources(tmp_path) == [run]  # a *.tmp file is never taken for the model

    events = list(train(_cfg(steps=4), _images(image_dir), run, model_config=TINY, resume=True))
    started = events[0]
    assert isinstance(started, Started) and started.start_step == 2
    assert [e.step for e in events if isinstance(e, Step)] == [3, 4]
    assert isinstance(events[-1], Finished) and events[-1].step == 4 and not events[-1].stopped
    assert read_config(run)["step"] == 4
    assert not _temps(run)  # the next save cleared what the killed one left


# (b) NaN/inf at step 3 -----------------------------------------------------------------------------

@pytest.mark.parametrize("phase", ["d_terms", "g_terms"])
def test_inf_mid_run_fails_and_keeps_step_2_weights(phase, image_dir, tmp_path, monkeypatch):
    def terms(self, run, ctx):
        return {f"X/{phase}": torch.tensor(float("inf") if ctx.step == 3 else 0.0)}

    monkeypatch.setattr(Scratch, phase, terms)
    run, snapshot = tmp_path / "run", tmp_path / "step2"
    events = []
    for ev in train(_cfg(steps=6), _images(image_dir), run, model_config=TINY):
        events.append(ev)
        if isinstance(ev, Saved) and ev.step == 2:
            shutil.copytree(run, snapshot)  # the trainer is paused at this yield: files are step 2's

    assert [e.step for e in events if isinstance(e, Step)] == [1, 2]
    failed = events[-1]
    assert isinstance(failed, Failed) and failed.step == 3 and failed.path == str(run)
    assert "diverged at step 3" in failed.message and f"X/{phase}=inf" in failed.message
    assert "step 2" in failed.message and len(failed.message.splitlines()) == 1
    assert read_config(run)["step"] == 2

    now, before = read_tensors(run), read_tensors(snapshot)
    assert now.keys() == before.keys()
    assert all(torch.isfinite(t).all() for t in now.values() if t.is_floating_point())
    assert _differing(now, before, "G_ema.") == []  # what people sample from is exactly step 2's
    assert _differing(now, before, "G.", skip=_BUFFERS) == []  # G's weights too
    if phase == "d_terms":  # D's update was refused as well
        assert _differing(now, before, "D.", skip=_BUFFERS) == []
    assert torch.isfinite(load_model(run).G_ema(torch.randn(2, TINY.z_dim))).all()


# Side effects of a forward pass, not of an optimizer step: BatchNorm statistics, spectral-norm vectors.
_BUFFERS = ("running_mean", "running_var", "num_batches_tracked", "._u", "._v")


def _differing(now: dict, before: dict, prefix: str, skip: tuple[str, ...] = ()) -> list[str]:
    return [k for k in before if k.startswith(prefix) and not k.endswith(skip) and not torch.equal(now[k], before[k])]


# Undone exactly: weights, buffers and Adam moments all match the step-2 save.
@pytest.mark.parametrize("phase", ["d_terms", "g_terms"])
def test_inf_mid_run_checkpoint_is_exactly_step_2(phase, image_dir, tmp_path, monkeypatch):
    inf_at_3 = lambda self, run, ctx: {"X": torch.tensor(float("inf") if ctx.step == 3 else 0.0)}  # noqa: E731
    monkeypatch.setattr(Scratch, phase, inf_at_3)
    run, snapshot = tmp_path / "run", tmp_path / "step2"
    for ev in train(_cfg(steps=6), _images(image_dir), run, model_config=TINY):
        if isinstance(ev, Saved) and ev.step == 2:
            shutil.copytree(run, snapshot)
    assert _differing(read_tensors(run), read_tensors(snapshot), "") == []


# (c) stop mid-run ---------------------------------------------------------------------------------

def test_stop_mid_run_leaves_a_model_that_samples(image_dir, tmp_path):
    stop, run = threading.Event(), tmp_path / "run"
    events = []
    for ev in train(_cfg(steps=200, save_every=0), _images(image_dir), run, model_config=TINY, stop=stop):
        events.append(ev)
        if isinstance(ev, Step) and ev.step == 3:
            stop.set()
    end = events[-1]
    assert isinstance(end, Finished) and end.stopped and end.step == 3 and end.path == str(run)
    assert read_config(run)["step"] == 3 and not _temps(run)
    model = load_model(run)
    with torch.no_grad():
        x = model.G_ema(torch.randn(4, model.model_config.z_dim, generator=torch.Generator().manual_seed(0)))
    assert x.shape == (4, 3, 32, 32) and torch.isfinite(x).all()


# (d) a crash, then resume to the target ------------------------------------------------------------

class _Crash(BaseException):
    """Not an Exception: nothing in the trainer catches it, like a process dying mid-run."""


def test_resume_after_crash_reaches_the_target_step(image_dir, tmp_path, monkeypatch):
    def crash_at_5(self, run, ctx):
        if ctx.step == 5:
            raise _Crash()
        return {}

    run, images = tmp_path / "run", _images(image_dir)
    monkeypatch.setattr(Scratch, "d_terms", crash_at_5)
    seen = []
    with pytest.raises(_Crash):
        for ev in train(_cfg(steps=8, save_every=2), images, run, model_config=TINY):
            seen.append(ev)
    assert [e.step for e in seen if isinstance(e, Saved)] == [2, 4]
    assert read_config(run)["step"] == 4 and (run / TRAINING_STATE).is_file()

    monkeypatch.undo()
    events = list(train(_cfg(steps=8, save_every=2), images, run, model_config=TINY, resume=True))
    assert events[0].start_step == 4
    assert [e.step for e in events if isinstance(e, Step)] == [5, 6, 7, 8]
    assert isinstance(events[-1], Finished) and events[-1].step == 8 and not events[-1].stopped
    assert read_config(run)["step"] == 8 and {CONFIG, WEIGHTS, TRAINING_STATE} <= set(os.listdir(run))
    assert torch.isfinite(load_model(run).G_ema(torch.randn(2, TINY.z_dim))).all()

    # Resuming a finished run is a no-op that still ends cleanly at the target.
    again = list(train(_cfg(steps=8, save_every=2), images, run, model_config=TINY, resume=True))
    assert again[0].start_step == 8 and not [e for e in again if isinstance(e, Step)]
    assert isinstance(again[-1], Finished) and again[-1].step == 8

