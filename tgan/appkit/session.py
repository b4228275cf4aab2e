"""One browser session: its uploaded images, its training run, and its files."""
from __future__ import annotations

import itertools
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..checkpoint import WEIGHTS, CheckpointError, read_config
from ..config import ModelConfig, TrainConfig
from ..data import DataError, ImageSet, load_images
from ..subsets import holdout_split
from ..events import Finished
from ..models import load_model
from ..strategies.registry import build as build_strategies
from .files import app_root, source_path, zip_run
from .handles import ModelHandle, source_handle
from .pictures import resolution_of
from .worker import TrainWorker


# ----------------------------------------------------------------------------- one browser session

@dataclass
class RunInfo:
    path: Path
    source: str | None  # source folder name, None for from-scratch runs
    step: int
    stopped: bool


@dataclass(eq=False)  # identity semantics: a live session is never equal to another one
class Session:
    """Everything one browser tab owns. Lives in gr.State; nothing is shared between sessions
    except the read-only source models."""

    upload_paths: list[Path] = field(default_factory=list)
    upload_label: str = ""
    worker: TrainWorker | None = None
    run: RunInfo | None = None
    shown: tuple[list[int], torch.Tensor] | None = None  # seeds and images in the seed gallery
    _workdir: Path | None = None
    _image_sets: dict = field(default_factory=dict)
    _run_model: ModelHandle | None = None
    run_source: str | None = None  # source of the run in progress / last run
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    closed: bool = False

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
        self.upload_paths, self.upload_label, self._image_sets = list(files), label, {}
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

    def split(self, resolution: int) -> tuple[ImageSet, ImageSet | None]:
        """(images the run trains on, images held out for scoring or None): with 20 or more
        images, a seeded 20% is held out so the score measures generalisation, not copying."""
        return holdout_split(self.images(resolution), seed=0)

    # -- runs
    @property
    def training(self) -> bool:
        return self.worker is not None and self.worker.thread.is_alive()

    def start_run(self, cfg: TrainConfig, source: str | None, resume: bool = False) -> TrainWorker:
        """Start a new run, or (resume) continue the stopped one from its last step."""
        if self.training:
            raise ValueError("a run is already training in this tab; press Stop first")
        folder = source_path(source)
        build_strategies(cfg.strategies, cfg.strategy_options, has_source=folder is not None)  # fail early
        resolution = resolution_of(source)
        images = self.split(resolution)[0].images
        if resume:
            out = self._continuable(cfg, source).path
        else:
            if self.run is not None:  # keep one run per session on disk
                shutil.rmtree(self.run.path, ignore_errors=True)
            self.run = None
            out = self.new_path("run")
        self._run_model = None
        self.worker = TrainWorker(cfg, images, out, folder,
                                  None if folder else ModelConfig(resolution=resolution), resume=resume)
        self.run_source = source
        return self.worker.start()

    def continuable_step(self) -> int | None:
        """The step a Continue would start from: the last run's, if it was stopped early."""
        run = None if self.training else self.finish_run()
        return run.step if run is not None and run.stopped else None

    def _continuable(self, cfg: TrainConfig, source: str | None) -> RunInfo:
        run = self.finish_run()
        if run is None or not run.stopped:
            raise ValueError("there is no stopped run to continue; press Start to begin one")
        if run.source != source:
            raise ValueError(f"the stopped run was fine-tuned from {run.source or 'scratch'}; choose that "
                             "source on tab 2 to continue it, or press Start over")
        saved = read_config(run.path)["train"]
        if saved["strategies"] != cfg.strategies:
            raise ValueError(f"the stopped run used {' + '.join(saved['strategies'])}; choose the same "
                             "strategies to continue it, or press Start over")
        if cfg.steps <= run.step:
            raise ValueError(f"the stopped run is at step {run.step}; set Steps above that to continue it")
        return run

    def finish_run(self) -> RunInfo | None:
        """After the worker ends: record the saved run (if any) so Explore uses it."""
        w = self.worker
        if w is None or w.result is None:
            return self.run
        path = getattr(w.result, "path", None)
        if path and (Path(path) / WEIGHTS).is_file():
            # A continued run writes to the same folder, so compare the step and state too.
            latest = RunInfo(Path(path), self.run_source, w.result.step,
                             isinstance(w.result, Finished) and w.result.stopped)
            if latest != self.run:
                self.run, self._run_model = latest, None
        return self.run

    def run_zip(self) -> Path | None:
        """The current run as a downloadable zip (config.json + model.safetensors)."""
        run = self.finish_run()
        if run is None:
            return None
        return zip_run(run.path, self.workdir / f"tgan-{run.source or 'scratch'}-step{run.step}.zip")

    def run_model(self) -> ModelHandle | None:
        run = self.finish_run()
        if run is None:
            return None
        if self._run_model is None or self._run_model.path != run.path:
            model = load_model(run.path, device="cpu")
            self._run_model = ModelHandle(model.G_ema, "fine-tuned", run.path, "run", run.step)
        return self._run_model

    def explore_model(self, source: str | None) -> ModelHandle:
        """The fine-tuned model once a run exists, else the chosen source."""
        model = self.run_model()
        if model is not None:
            return model
        if not source:
            raise DataError("pick a source model (tab 2) or fine-tune one first")
        return source_handle(source)

    def compare_source(self, source: str | None) -> ModelHandle | None:
        """The model the run started from (or the chosen source before any run)."""
        name = self.run.source if self.run is not None else source
        try:
            return source_handle(name) if name else None
        except CheckpointError:
            return None

    def close(self) -> None:
        """End the session: stop training and delete its files. Never blocks: a run still
        finishing its step is waited for in a background thread before the files go."""
        self.closed = True
        folder, worker = self._workdir, self.worker
        self._workdir, self._run_model, self.shown, self._image_sets = None, None, None, {}
        if worker is not None:
            worker.stop.set()

        def remove() -> None:
            if worker is not None and worker.thread.ident:
                worker.thread.join(600)
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)

        if worker is not None and worker.thread.is_alive():
            threading.Thread(target=remove, name="tgan-session-cleanup", daemon=True).start()
        else:
            remove()
