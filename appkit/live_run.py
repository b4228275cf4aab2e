"""One run as the app drives it: a loop over bounded training chunks, in the request handler.

Each chunk starts from the CPU-side TrainState the previous one handed back, so the same loop
serves a CPU, a dedicated GPU and ZeroGPU, where `run_chunk` runs in a child process that may be
cut off: a chunk that dies loses only itself, and the run stays at the last state that came back.
Stop is a StopFile, which a chunk in another process sees too."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from tgan.config import ModelConfig, TrainConfig
from tgan.events import ChunkEnded, Failed, Finished, Monitored, Samples, Started, Step
from tgan.stop_signal import StopFile
from tgan.train_state import TrainState, save_train_state

from .limits import CHUNK_SECONDS, CHUNK_STEPS


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
    readings: list[Monitored]  # the live monitor's readings so far


class LiveRun:
    """The run of one session: its settings, the latest state, and what the UI shows of it."""

    def __init__(self, cfg: TrainConfig, images: torch.Tensor, folder: Path, source_dir: Path | None,
                 model_config: ModelConfig | None, state: TrainState | None = None):
        self.cfg, self.images, self.folder = cfg, images, Path(folder)
        self.source_dir, self.model_config = source_dir, model_config
        self.state = state  # the last state a chunk handed back (None: nothing trained yet)
        self.start_step = self.step
        self.stop = StopFile(self.folder.with_name(self.folder.name + ".stop"))
        self.stop.clear()
        self.ended = threading.Event()  # set once the handler has saved the run and let go of it
        self.rows: list[tuple[int, str, float]] = []
        self.samples: torch.Tensor | None = None
        self.samples_step = -1
        self.last_step: Step | None = None
        self.started: Started | None = None
        self.result: Finished | Failed | None = None
        self.readings: list[Monitored] = []
        self.shown_samples = -2  # samples_step in the last snapshot taken

    @property
    def step(self) -> int:
        return self.state.step if self.state is not None else 0

    def record(self, ev) -> bool:
        """Keep what the UI needs of an event; True when it should be shown at once."""
        if isinstance(ev, Started):
            self.started = ev
        elif isinstance(ev, Step):
            self.last_step = ev
            self.rows += [(ev.step, k, v) for k, v in ev.losses.items()]
            return False
        elif isinstance(ev, Samples):
            self.samples, self.samples_step = ev.images, ev.step
        elif isinstance(ev, Monitored):
            self.readings.append(ev)
        elif isinstance(ev, (Finished, Failed)):
            self.result = ev
        return True

    def snapshot(self) -> Snapshot:
        s, st = self.last_step, self.started
        snap = Snapshot(
            rows=list(self.rows), samples=self.samples, samples_step=self.samples_step,
            step=s.step if s else (st.start_step if st else self.step),
            total_steps=st.total_steps if st else self.cfg.steps,
            sec_per_step=s.sec_per_step if s else None, eta_seconds=s.eta_seconds if s else None,
            device=st.device if st else "", num_images=st.num_images if st else len(self.images),
            done=self.result is not None, result=self.result,
            new_samples=self.samples_step != self.shown_samples, readings=list(self.readings))
        self.shown_samples = self.samples_step
        return snap

    def drive(self, run_chunk: Callable[..., Iterator], min_interval: float = 0.5) -> Iterator[Snapshot]:
        """Train chunk after chunk until the run finishes, fails or is stopped; yield a Snapshot at
        most every min_interval seconds, at once for new samples, and always once at the end."""
        last = 0.0
        while self.result is None:
            if self.stop.is_set():  # between chunks: the run stops where the last one left it
                self.result = Finished(self.step, None, True)
                break
            chunk = run_chunk(self.cfg, self.images, self.state, self.source_dir, self.model_config,
                              CHUNK_STEPS, CHUNK_SECONDS, self.stop)
            ended, died = None, False
            try:
                for ev in chunk:
                    if isinstance(ev, ChunkEnded):
                        ended = ev
                        self.state = ev.state if ev.state is not None else self.state
                        continue
                    urgent = self.record(ev)
                    if self.result is None and (urgent or time.monotonic() - last >= min_interval):
                        last = time.monotonic()  # the run's end is shown once, after its state came back
                        yield self.snapshot()
            except Exception as exc:  # the chunk's process died, timed out or ran out of memory
                died = True
                self.result = self._lost(f"{type(exc).__name__}: {exc}".splitlines()[0])
            finally:
                if ended is None and not died:  # this loop was closed mid-chunk (a cancelled request)
                    ended = self._drain(chunk)
                chunk.close()
            if self.result is None and ended is None:
                self.result = self._lost("it ended without handing its state back")
            elif ended is not None and ended.done and self.result is None:
                self.result = Finished(self.step, None, self.step < self.cfg.steps)
        yield self.snapshot()

    def _drain(self, chunk) -> ChunkEnded | None:
        """Stop a running chunk after its current step and take the state it hands back, so a
        cancelled request keeps every finished step (not only those of earlier chunks)."""
        self.stop.set()
        try:
            for ev in chunk:
                if isinstance(ev, ChunkEnded):
                    self.state = ev.state if ev.state is not None else self.state
                    return ev
                self.record(ev)
        except Exception:  # the chunk died while stopping: the earlier state stands
            pass
        return None

    def _lost(self, why: str) -> Failed:
        return Failed(self.step, f"The last training chunk was lost ({why}). The run is kept at step "
                                 f"{self.step}: press Continue to go on from there.")

    def save(self) -> str | None:
        """Write the run's files (config.json + weights + resume state). Returns an error message
        when the disk refuses; the state stays in memory either way."""
        if self.state is None:
            return None
        try:
            save_train_state(self.folder, self.state)
        except OSError as exc:
            return f"The run could not be saved ({exc.strerror or exc}); free some disk space and press Continue."
        return None
