"""One browser session: its uploaded images, its training run, and its files."""
from __future__ import annotations

import itertools
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch

from tgan.checkpoint import WEIGHTS, CheckpointError
from tgan.config import ModelConfig, TrainConfig
from tgan.data import DataError, ImageSet, load_images
from tgan.events import Finished
from tgan.models import generator_from_tensors
from tgan.strategies.registry import build as build_strategies
from tgan.doctor import examine
from tgan.subsets import holdout_split, keep_only
from tgan.train_state import TrainState
from .files import app_root, source_path, zip_run
from .handles import ModelHandle, source_handle
from .live_run import LiveRun
from .pictures import resolution_of


# ----------------------------------------------------------------------------- one browser session

@dataclass
class RunInfo:
    """The session's last run, once its handler has let go of it."""

    path: Path  # its folder (config.json + weights, unless saving failed)
    source: str | None  # source folder name, None for from-scratch runs
    step: int
    stopped: bool  # ended before its last step (stopped, lost a chunk or failed): Continue can go on
    state: TrainState  # the run itself, in memory: Explore samples from it, Continue resumes it


@dataclass(eq=False)  # identity semantics: a live session is never equal to another one
class Session:
    """Everything one browser tab owns. Lives in gr.State; nothing is shared between sessions
    except the read-only source models."""

    upload_paths: list[Path] = field(default_factory=list)
    upload_label: str = ""
    live: LiveRun | None = None  # the run being trained, if any
    run: RunInfo | None = None
    shown: tuple[list[int], torch.Tensor] | None = None  # seeds and images in the seed gallery
    _workdir: Path | None = None
    _image_sets: dict = field(default_factory=dict)
    _run_model: ModelHandle | None = None
    run_source: str | None = None  # source of the run in progress / last run
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    closed: bool = False
    train_on: list[int] | None = None  # the dataset doctor's pick (near-duplicates left out); None: all
    own_sources: list[str] = field(default_factory=list)  # names of the sources this tab uploaded
    projected: tuple[tuple, torch.Tensor] | None = None  # (which model, its w) of the projected image
    projection_stop: threading.Event = field(default_factory=threading.Event)  # the Cancel button of a projection
    _training: threading.Lock = field(default_factory=threading.Lock)  # held by the one run in this tab

    def __deepcopy__(self, memo):  # gr.State copies initial values; a session is never copied
        return self

    @property
    def workdir(self) -> Path:
        if self._workdir is None or not self._workdir.is_dir():
            self._workdir = Path(tempfile.mkdtemp(prefix="session-", dir=app_root()))
        return self._workdir

    def new_path(self, stem: str, suffix: str = "") -> Path:
        """A fresh path in the session folder (handlers of one session may run concurrently)."""
        return self.workdir / f"{stem}-{next(self._counter)}{suffix}"

    # -- images
    def set_uploads(self, files, label: str = "your upload") -> None:
        """Copy uploaded files into the session folder (the upload cache may be cleaned)."""
        folder = self.new_path("uploads")
        folder.mkdir()
        copied = []
        for i, f in enumerate(files or []):
            src = Path(getattr(f, "name", f))
            if src.is_file():
                dst = folder / f"{i:04d}" / src.name  # one folder per file: names stay as uploaded
                dst.parent.mkdir()
                shutil.copyfile(src, dst)
                copied.append(dst)
            else:
                copied.append(src)  # load_images reports it as missing
        self._replace_images(copied, label)

    def set_folder(self, folder: Path, label: str) -> None:
        files = sorted(p for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith("."))
        self._replace_images(files, label)

    def _replace_images(self, files: list[Path], label: str) -> None:
        old = [p for p in self.upload_paths if self._workdir and self._workdir in p.parents]
        self.upload_paths, self.upload_label, self._image_sets, self.train_on = list(files), label, {}, None
        for folder in {p.parent for p in old} - {p.parent for p in files}:
            shutil.rmtree(folder, ignore_errors=True)

    def clear_images(self) -> None:
        self._replace_images([], "")

    def images(self, resolution: int) -> ImageSet:
        """The uploaded set at `resolution` (cached per resolution). Raises DataError."""
        if not self.upload_paths:
            raise DataError("add some images first (tab 1: upload files or a .zip, or pick an example set)")
        if resolution not in self._image_sets:
            self._image_sets[resolution] = load_images(self.upload_paths, resolution)
        return self._image_sets[resolution]

    def check_images(self):
        """The dataset doctor's findings for the uploads; what it leaves out (near-duplicates) is
        left out of training from now on."""
        findings, self.train_on = examine(self.images(64))
        return findings

    def split(self, resolution: int) -> tuple[ImageSet, ImageSet | None]:
        """(images the run trains on, images held out for scoring or None): with 20 or more
        images, a seeded 20% is held out so the score measures generalisation, not copying.
        Images the dataset doctor left out are in neither."""
        images = self.images(resolution)
        if self.train_on is not None and len(self.train_on) < len(images.names):
            images = keep_only(images, self.train_on)
        return holdout_split(images, seed=0)

    # -- runs
    @property
    def training(self) -> bool:
        return self._training.locked()

    def start_run(self, cfg: TrainConfig, source: str | None, resume: bool = False) -> LiveRun:
        """Claim the tab's run slot and set up a new run, or (resume) the stopped one from its
        last step. The caller drives it (LiveRun.drive) and must call end_run afterwards."""
        if not self._training.acquire(blocking=False):  # two /train calls at once: one wins
            raise ValueError("a run is already training in this tab; press Stop first")
        try:
            folder = source_path(source)
            build_strategies(cfg.strategies, cfg.strategy_options, has_source=folder is not None)  # fail early
            resolution = resolution_of(source)
            images = self.split(resolution)[0].images
            if resume:
                previous = self._continuable(cfg, source)
                out, state = previous.path, previous.state
            else:
                if self.run is not None:  # keep one run per session on disk
                    shutil.rmtree(self.run.path, ignore_errors=True)
                self.run, out, state = None, self.new_path("run"), None
            self._run_model = None
            self.live = LiveRun(cfg, images, out, folder, None if folder else ModelConfig(resolution=resolution), state)
            self.run_source = source
            return self.live
        except BaseException:
            self._training.release()
            raise

    def end_run(self, live: LiveRun) -> str | None:
        """The handler is done with `live`: save it, keep it for Explore and Continue, free the
        slot. Returns a message when the files could not be written (the run stays in memory)."""
        try:
            error = live.save()
            if live.state is not None and live.state.step > 0:
                finished = isinstance(live.result, Finished) and not live.result.stopped
                self.run = RunInfo(live.folder, self.run_source, live.state.step, not finished, live.state)
                self._run_model = None
            return error
        finally:
            self.live = None
            live.ended.set()
            self._training.release()
            if self.closed:
                self._remove_files()

    def request_stop(self, wait: float = 0.0) -> bool:
        """Ask the run to stop after its current step; wait up to `wait` seconds for its handler to
        save it. True when nothing is training any more."""
        live = self.live
        if live is None:
            return True
        live.stop.set()
        return live.ended.wait(wait) if wait else live.ended.is_set()

    def continuable_step(self) -> int | None:
        """The step a Continue would start from: the last run's, if it ended early."""
        run = None if self.training else self.run
        return run.step if run is not None and run.stopped else None

    def _continuable(self, cfg: TrainConfig, source: str | None) -> RunInfo:
        run = self.run
        if run is None or not run.stopped:
            raise ValueError("there is no stopped run to continue; press Start to begin one")
        if run.source != source:
            raise ValueError(f"the stopped run was fine-tuned from {run.source or 'scratch'}; choose that "
                             "source on tab 2 to continue it, or press Start over")
        saved = run.state.train["strategies"]
        if saved != cfg.strategies:
            raise ValueError(f"the stopped run used {' + '.join(saved)}; choose the same "
                             "strategies to continue it, or press Start over")
        if cfg.steps <= run.step:
            raise ValueError(f"the stopped run is at step {run.step}; set Steps above that to continue it")
        return run

    def run_zip(self) -> Path | None:
        """The current run as a downloadable zip (config.json + model.safetensors)."""
        run = self.run
        if run is None or not (run.path / WEIGHTS).is_file():  # nothing yet, or the save failed
            return None
        return zip_run(run.path, self.workdir / f"tgan-{run.source or 'scratch'}-step{run.step}.zip")

    def run_model(self) -> ModelHandle | None:
        """The last run's G_ema, on CPU, built from the state in memory (no file read)."""
        run = self.run
        if run is None:
            return None
        if self._run_model is None or self._run_model.last_step != run.step:
            state = run.state  # the best monitored step's G_ema when one was kept
            G = generator_from_tensors(state.model, state.tensors, state.generator_prefix(), "the run")
            step = state.best["step"] if state.best is not None else run.step
            self._run_model = ModelHandle(G, "fine-tuned", run.path, "run", step, last_step=run.step)
        return self._run_model

    def explore_model(self, source: str | None) -> ModelHandle:
        """The fine-tuned model once a run exists, else the chosen source."""
        model = self.run_model()
        if model is not None:
            return model
        if not source:
            raise DataError("pick a source model (tab 2) or fine-tune one first")
        return source_handle(source)

    def projected_w(self, model: ModelHandle) -> torch.Tensor | None:
        """The projected image's w, if it was projected into this very model (a w means nothing
        in another model's latent space)."""
        if self.projected is None or self.projected[0] != _model_key(model):
            return None
        return self.projected[1]

    def keep_projection(self, model: ModelHandle, w: torch.Tensor) -> None:
        self.projected = (_model_key(model), w)

    def compare_source(self, source: str | None) -> ModelHandle | None:
        """The model the run started from (or the chosen source before any run)."""
        name = self.run.source if self.run is not None else source
        try:
            return source_handle(name) if name else None
        except CheckpointError:
            return None

    def close(self) -> None:
        """End the session: stop training and delete its files. Never blocks: a run still
        finishing its step deletes them when its handler lets go of it (end_run)."""
        self.closed = True
        self._run_model, self.shown, self._image_sets = None, None, {}
        if self.live is not None:
            self.live.stop.set()
        if not self.training:
            self._remove_files()

    def _remove_files(self) -> None:
        folder, self._workdir = self._workdir, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _model_key(model: ModelHandle) -> tuple:
    return (str(model.path), model.kind, model.step, model.last_step)
