"""The one training loop. It yields typed events instead of printing or calling back, so the
CLI renders a progress bar and the app renders live plots from the same code.

train() runs a whole run in this process (the CLI, the bench). train_chunk() runs a bounded piece
of one from a CPU-side TrainState and hands the next state back: the app's path on every device,
because on ZeroGPU each piece runs in a child process that may be cut off. Both drive the same
steps, so N steps in one chunk equal the same N steps split into chunks, bit for bit."""
from __future__ import annotations

import math
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from .config import ModelConfig, TrainConfig, from_dict
from .distributed import World
from .events import ChunkEnded, Event, Failed, Finished, Monitored, Samples, Saved, Started, Step
from .models import describe_device, load_source, pick_device
from .strategies import SourceModels
from .train_state import TrainState, has_saved_state, load_train_state, save_train_state
from .training_run import TrainingRun


def train(cfg: TrainConfig, images: torch.Tensor, out_dir=None, source: SourceModels | None = None,
          model_config: ModelConfig | None = None, stop=None, resume: bool = False, device=None,
          half: bool = False, world: World = World()) -> Iterator[Event]:
    """Train on `images` (N, 3, R, R) uint8. Ends with exactly one Finished or Failed event.

    out_dir: where checkpoints go (None: nothing is written). resume: continue the run saved in
    out_dir. stop: anything with is_set() (threading.Event, StopFile). half: store
    model.safetensors in fp16 (the resume file stays fp32). world: the processes training this
    run together (tgan.distributed.world_from_env under torchrun); only rank 0 writes files."""
    try:
        device = pick_device(device)
        run = TrainingRun(cfg, _model_config(source, model_config, images), images, source, device, world)
        if resume and has_saved_state(out_dir):
            run.load(load_train_state(out_dir), Path(out_dir).name)
    except (ValueError, RuntimeError) as exc:  # bad options, shape mismatches, a file that does not fit
        yield Failed(0, _one_line(exc))
        return
    start = run.step
    yield Started(cfg.steps, start, describe_device(device), len(images), run.params())
    if start == 0:
        yield Samples(0, run.grid())  # what the source makes, before any update

    def save() -> str:
        if not world.is_main:  # every rank holds the same weights; one writes them
            return str(out_dir)
        return str(save_train_state(out_dir, run.state(), half))

    outcome = Outcome("until")
    while run.step < cfg.steps and outcome.why == "until":
        until = cfg.steps
        if out_dir and cfg.save_every:
            until = min(cfg.steps, (run.step // cfg.save_every + 1) * cfg.save_every)
        outcome = yield from run_steps(run, until, stop)
        if outcome.why == "until" and out_dir and run.step < cfg.steps:
            yield Saved(run.step, save())
    path = save() if out_dir else None
    if outcome.failed:
        kept = f"the last good weights (step {run.step}) are saved in {path}" if path else "no checkpoint was written"
        yield Failed(outcome.step, f"{outcome.message}; {kept}. {outcome.advice}", path)
        return
    stopped = run.step < cfg.steps
    if stopped and run.step > start and outcome.why != "alarm":
        yield Samples(run.step, run.grid())
    if path:
        yield Saved(run.step, path)
    yield Finished(run.step, path, stopped, outcome.message if outcome.why == "alarm" else "")


def train_chunk(cfg: TrainConfig, images: torch.Tensor, state: TrainState | None = None, source=None,
                model_config: ModelConfig | None = None, max_steps: int | None = None,
                max_seconds: float | None = None, stop=None, device=None) -> Iterator[Event | ChunkEnded]:
    """Train one bounded chunk of a run: from `state` (None: a new run) for at most `max_steps`
    steps or `max_seconds` of training, until cfg.steps, or until `stop` is set.

    source: a SourceModels or a model folder (loaded once per process). Yields the trainer's
    events (Finished or Failed once the run is over) and ends with ChunkEnded(new state, done)."""
    try:
        device = pick_device(device)
        if isinstance(source, (str, Path)):
            source = _load_source(str(source), str(device))
        run = TrainingRun(cfg, _model_config(source, model_config, images), images, source, device)
        if state is not None:
            run.load(state)
    except (ValueError, RuntimeError) as exc:
        yield Failed(state.step if state else 0, _one_line(exc))
        yield ChunkEnded(state, True)
        return
    start = run.step
    yield Started(cfg.steps, start, describe_device(device), len(images), run.params())
    if start == 0:
        yield Samples(0, run.grid())
    until = cfg.steps if max_steps is None else min(cfg.steps, start + max_steps)
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    outcome = yield from run_steps(run, until, stop, deadline)
    if outcome.failed:
        yield Failed(outcome.step, f"{outcome.message}; the last good step ({run.step}) is kept. {outcome.advice}")
    elif outcome.why in ("stop", "alarm") or run.step >= cfg.steps:
        stopped = run.step < cfg.steps
        if stopped and run.step > start and outcome.why == "stop":
            yield Samples(run.step, run.grid())
        yield Finished(run.step, None, stopped, outcome.message if outcome.why == "alarm" else "")
    yield ChunkEnded(run.state(), outcome.failed or outcome.why in ("stop", "alarm") or run.step >= cfg.steps)


def _alarm(reading, cfg: TrainConfig, run: TrainingRun) -> str:
    """Why the monitor ends the run now ("" : it goes on): a collapse always, copying when asked."""
    kept = f"; the best step ({run.best.step}) is kept" if run.best is not None else ""
    if reading.verdict == "collapsed":
        return (f"the samples collapsed at step {reading.step} (diversity {reading.diversity:.2f} of the shots'){kept}. "
                "Try a lower learning rate or fewer steps")
    if reading.verdict == "copying" and cfg.stop_when_copying:
        return f"it started copying the training images at step {reading.step} (memorisation {reading.memorisation:.2f}){kept}"
    return ""


@dataclass(frozen=True)
class Outcome:
    """Why run_steps ended: "until" (reached it), "stop", "deadline", "alarm" (the monitor ended
    the run), "diverged" or "error"."""

    why: str
    step: int = 0  # the step that failed
    message: str = ""
    advice: str = ""

    @property
    def failed(self) -> bool:
        return self.why in ("diverged", "error")


def run_steps(run: TrainingRun, until: int, stop=None, deadline: float | None = None,
              ) -> Generator[Event, None, Outcome]:
    """Step `run` up to step `until`, yielding Step and Samples events.

    Losses are read back (a host sync) only every few steps on a GPU, every step on a CPU where
    that is free. A check that finds a non-finite loss puts the run back to the previous check,
    weights, moments and all, and ends with "diverged"; an exception in a step does the same."""
    cfg = run.cfg
    check_every = 1 if run.device.type == "cpu" else 8
    world = run.world
    pending: list[dict[str, torch.Tensor]] = []  # loss terms of the steps since the last check
    run.checkpoint()
    sec_per_step, mark = None, time.perf_counter()
    while run.step < until:
        stopping = (stop is not None and stop.is_set()) or (deadline is not None and time.monotonic() >= deadline)
        # Several processes must stop at the same step: they agree by a collective, a host sync,
        # so only where the loss check syncs anyway (every step on a CPU, every 8 on a GPU).
        if (world.size == 1 or not pending) and world.any(stopping, run.device):
            break
        try:
            pending.append(run.train_step())
        except (ValueError, RuntimeError) as exc:  # e.g. out of memory
            failed_at = run.step + 1
            run.rollback()
            return Outcome("error", failed_at, f"step {failed_at} failed ({_one_line(exc)})",
                           "Try a smaller batch or fewer steps.")
        sample_now = run.step % cfg.sample_every == 0 or run.step == cfg.steps
        if len(pending) < check_every and not sample_now and run.step < until:
            continue
        totals = world.sum(torch.stack([sum(t.values()).float() for t in pending]))  # every rank's, summed
        if not bool(totals.isfinite().all()):  # the sync; all ranks see the same verdict
            bad = next(i for i, v in enumerate(totals.tolist()) if not math.isfinite(v))
            failed_at, terms = run.step - len(pending) + 1 + bad, pending[bad]
            run.rollback()
            named = ", ".join(f"{k}={float(v):.3g}" for k, v in terms.items() if not math.isfinite(float(v)))
            return Outcome("diverged", failed_at, f"training diverged at step {failed_at} ({named})",
                           "Try a lower learning rate.")
        took = (time.perf_counter() - mark) / len(pending)
        if sec_per_step is not None and took > 20 * sec_per_step:
            took = sec_per_step  # the process was suspended (SIGSTOP, sleep): not training time
        run.seconds += took * len(pending)
        sec_per_step = took if sec_per_step is None else 0.9 * sec_per_step + 0.1 * took
        losses = {k: float(v) for k, v in pending[-1].items()}
        pending = []
        run.checkpoint()
        yield Step(run.step, cfg.steps, losses, sec_per_step, sec_per_step * (cfg.steps - run.step))
        if sample_now and world.is_main:  # G_ema lives on rank 0
            yield Samples(run.step, run.grid())
        if run.monitor is not None and (run.step % cfg.monitor_every == 0 or run.step == cfg.steps):
            reading = run.observe()
            yield Monitored(run.step, reading.memorisation, reading.diversity, reading.fidelity, reading.verdict,
                            run.best.step if run.best is not None else None, reading.smoothed_fidelity,
                            run.keep_best.improved)
            alarm = _alarm(reading, cfg, run)
            if alarm:
                return Outcome("alarm", run.step, alarm)
        mark = time.perf_counter()  # time spent by whoever consumed the events is not training
    return Outcome("stop" if run.step < until and (stop is not None and stop.is_set()) else
                   "deadline" if run.step < until else "until")


def _model_config(source, model_config, images) -> ModelConfig:
    if source is not None:
        return from_dict(ModelConfig, source.model_config)
    return model_config or ModelConfig(resolution=images.shape[-1])


@lru_cache(maxsize=8)
def _load_source(folder: str, device: str) -> SourceModels:
    """Sources are read-only: each process loads one once, whatever the number of chunks."""
    return load_source(folder, device=device)


def _one_line(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0]

