"""The background training worker: TrainWorker runs tgan.train in a thread and keeps what
the UI needs to redraw; Snapshot is what the UI shows of a run at one moment."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import ModelConfig, TrainConfig
from ..events import Failed, Finished, Samples, Saved, Started, Step
from ..models import load_source
from ..trainer import train
from .limits import TRAIN_THREADS


# ----------------------------------------------------------------------------- training worker

@dataclass
class Snapshot:
    """What the UI shows of a run at one moment."""

    rows: list[tuple[int, str, float]]  # (step, term, loss) for every logged term
    samples: torch.Tensor | None  # latest fixed-latent grid from G_ema
    samples_step: int
    step: int
    total_steps: int
    sec_per_step: float | None
    eta_seconds: float | None
    device: str
    num_images: int
    done: bool
    result: Finished | Failed | None
    new_samples: bool  # samples changed since the previous snapshot


class TrainWorker:
    """Runs tgan.train in a background thread and keeps everything the UI needs to redraw.

    A thread (not the request handler) owns the loop, so a cancelled request or a closed tab
    never interrupts a step half-way: Stop sets the flag, the trainer finishes the step, saves,
    and reports Finished(stopped=True)."""

    def __init__(self, cfg: TrainConfig, images: torch.Tensor, out_dir: Path, source_dir: Path | None,
                 model_config: ModelConfig | None = None, resume: bool = False):
        self.cfg, self.images, self.out_dir, self.resume = cfg, images, Path(out_dir), resume
        self.source_dir, self.model_config = source_dir, model_config
        self.stop = threading.Event()
        self.changed = threading.Condition()
        self.rows: list[tuple[int, str, float]] = []
        self.samples: torch.Tensor | None = None
        self.samples_step = -1
        self.last_step: Step | None = None
        self.started: Started | None = None
        self.saved: str | None = None
        self.result: Finished | Failed | None = None
        self._version = 0
        self.thread = threading.Thread(target=self._run, name="tgan-train", daemon=True)

    def start(self) -> "TrainWorker":
        self.thread.start()
        return self

    def _run(self) -> None:
        torch.set_num_threads(TRAIN_THREADS)  # a new OS thread starts from whatever was set last
        try:
            source = load_source(self.source_dir) if self.source_dir else None
            for event in train(self.cfg, self.images, self.out_dir, source=source,
                               model_config=self.model_config, stop=self.stop, resume=self.resume):
                self._record(event)
        except Exception as exc:  # anything the trainer did not turn into Failed itself
            step = self.last_step.step if self.last_step else 0
            self._record(Failed(step, f"{type(exc).__name__}: {exc}".splitlines()[0]))
        finally:
            if self.result is None:
                self._record(Failed(0, "training ended without a result"))

    def _record(self, ev) -> None:
        with self.changed:
            if isinstance(ev, Started):
                self.started = ev
            elif isinstance(ev, Step):
                self.last_step = ev
                self.rows += [(ev.step, k, v) for k, v in ev.losses.items()]
            elif isinstance(ev, Samples):
                self.samples, self.samples_step = ev.images, ev.step
            elif isinstance(ev, Saved):
                self.saved = ev.path
            elif isinstance(ev, (Finished, Failed)):
                self.result = ev
            self._version += 1
            self.changed.notify_all()

    def snapshot(self, last_samples_step: int = -2) -> Snapshot:
        with self.changed:
            s, st = self.last_step, self.started
            return Snapshot(
                rows=list(self.rows), samples=self.samples, samples_step=self.samples_step,
                step=s.step if s else (st.start_step if st else 0),
                total_steps=st.total_steps if st else self.cfg.steps,
                sec_per_step=s.sec_per_step if s else None, eta_seconds=s.eta_seconds if s else None,
                device=st.device if st else "", num_images=st.num_images if st else len(self.images),
                done=self.result is not None, result=self.result,
                new_samples=self.samples_step != last_samples_step)

    def updates(self, min_interval: float = 0.5, timeout: float | None = None):
        """Yield a Snapshot at most every min_interval seconds while anything changes, at once for
        new samples, and always once at the end."""
        seen, samples_seen, last = -1, -2, 0.0
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self.changed:
                self.changed.wait_for(lambda: self._version != seen, timeout=0.25)
                version, done = self._version, self.result is not None
                urgent = self.samples_step != samples_seen or done
            if version != seen and (urgent or time.monotonic() - last >= min_interval):
                snap = self.snapshot(samples_seen)
                seen, samples_seen, last = version, snap.samples_step, time.monotonic()
                yield snap
                if snap.done:
                    return
            if deadline is not None and time.monotonic() > deadline:
                return

    def request_stop(self, wait: float = 0.0) -> bool:
        """Set the stop flag; wait up to `wait` seconds for the run to end. True when it has."""
        self.stop.set()
        if wait and self.thread.ident:
            self.thread.join(wait)
        return not self.thread.is_alive()
