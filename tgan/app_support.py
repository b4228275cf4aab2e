"""The app's logic that is not UI: sessions, model caches, a background training worker, and the
explore/score helpers. app.py turns these into Gradio handlers; nothing here imports gradio, so
every function can be tested (and reused) as plain Python.

Images leave this module as PIL images or (N, 3, R, R) tensors in [-1, 1]; errors leave it as
ValueError subclasses (DataError, CheckpointError) with a message a user can act on.
"""
from __future__ import annotations

import atexit
import itertools
import math
import os
import shutil
import tempfile
import threading
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from . import paths, sampling
from .checkpoint import CONFIG, WEIGHTS, CheckpointError, read_config
from .config import ModelConfig, TrainConfig, from_dict
from .data import DataError, ImageSet, load_images
from .events import Failed, Finished, Samples, Saved, Started, Step
from .models import list_sources, load_model, load_source
from .strategies import PRESETS, STRATEGIES, resolve, strategy_fields
from .strategies.registry import build as build_strategies
from .trainer import fixed_latents, train

# Limits of the app (the API can be called directly, so the server checks them, not just sliders).
MAX_STEPS = int(os.environ.get("TGAN_APP_MAX_STEPS", 5000))
MAX_BATCH = 64
LR_RANGE = TrainConfig.LIMITS["lr_g"]
SEED_MAX = 2**31 - 1
MAX_INTERP_SEEDS = 16
MAX_VIDEO_FRAMES = 240
PCA_COMPONENTS = 5
GALLERY_SEEDS = 16
# Threads: PyTorch's intra-op thread count is per OS thread. Sampling one 64 px image with 2 threads
# on 2 busy cores waits at OpenMP barriers (250 ms instead of 3 ms), so explore handlers sample with
# one thread; the training thread uses what the process started with (or TGAN_TRAIN_THREADS).
EXPLORE_THREADS = int(os.environ.get("TGAN_EXPLORE_THREADS", "1"))
TRAIN_THREADS = int(os.environ.get("TGAN_TRAIN_THREADS", "0")) or torch.get_num_threads()
EXAMPLE_SETS = {  # folder under examples/ -> label
    "emoji-3d-animals": "Emoji, 3D animals",
    "faces-lorelei": "Faces, lorelei line art",
    "kanji-gyosho": "Kanji, gyosho brush",
}


# ----------------------------------------------------------------------------- files and folders

_root_lock = threading.Lock()
_app_root: Path | None = None


def app_root() -> Path:
    """One temp folder owned by this process; every session's files live under it."""
    global _app_root
    with _root_lock:
        if _app_root is None or not _app_root.is_dir():
            _app_root = Path(tempfile.mkdtemp(prefix="tgan-app-"))
            atexit.register(shutil.rmtree, _app_root, True)
        return _app_root


def checkpoints_root() -> Path:
    """Where source models live; read at call time so TGAN_CHECKPOINTS can change (tests)."""
    return Path(os.environ.get("TGAN_CHECKPOINTS") or paths.CHECKPOINTS)


def source_names() -> list[str]:
    return [p.name for p in list_sources(checkpoints_root())]


def source_path(name: str | None) -> Path | None:
    """A source folder by name, or None for 'train from scratch'. Only listed names are accepted,
    so an API caller cannot point the app at an arbitrary folder."""
    if not name:
        return None
    names = source_names()
    if name not in names:
        raise CheckpointError(f"no source model named {name!r}; available: {', '.join(names) or 'none'}")
    return checkpoints_root() / name


def model_card_line(folder: Path) -> str:
    """The first line of prose in MODEL_CARD.md (YAML front matter and '#' marks skipped)."""
    card = Path(folder) / "MODEL_CARD.md"
    if not card.is_file():
        return ""
    lines = card.read_text(errors="replace").splitlines()
    if lines and lines[0].strip() == "---":  # Hugging Face metadata block
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), len(lines) - 1)
        lines = lines[end + 1:]
    return next((line.strip().lstrip("#").strip() for line in lines if line.strip()), "")


def zip_files(files: list[Path], out: Path, names: list[str] | None = None) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, f in enumerate(files):
            zf.write(f, names[i] if names else Path(f).name)
    return out


def zip_run(run_dir: Path, out: Path) -> Path:
    """The deliverable: config.json + model.safetensors (no resume state)."""
    missing = [n for n in (CONFIG, WEIGHTS) if not (Path(run_dir) / n).is_file()]
    if missing:
        raise CheckpointError(f"the run has no {', '.join(missing)} yet; train first")
    return zip_files([Path(run_dir) / CONFIG, Path(run_dir) / WEIGHTS], out)


def zip_images(images: torch.Tensor, names: list[str], out: Path) -> Path:
    """(N, 3, R, R) in [-1, 1] -> a zip of PNGs at native resolution."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for arr, name in zip(sampling.to_uint8(images), names):
            with zf.open(name, "w") as f:
                Image.fromarray(arr).save(f, format="PNG")
    return out


# ----------------------------------------------------------------------------- models for exploring

@contextmanager
def inference_threads():
    """Run a small inference with EXPLORE_THREADS intra-op threads (in this OS thread only)."""
    before = torch.get_num_threads()
    if before != EXPLORE_THREADS:
        torch.set_num_threads(EXPLORE_THREADS)
    try:
        yield
    finally:
        if before != EXPLORE_THREADS:
            torch.set_num_threads(before)


class ModelHandle:
    """A generator kept on CPU in eval mode, with its truncation centre and PCA directions
    computed once and cached (sliders then cost one synthesis pass)."""

    def __init__(self, G, name: str, path: Path, kind: str, step: int | None = None):
        self.G, self.name, self.path, self.kind, self.step = G, name, Path(path), kind, step
        self._w_avg = None
        self._pca = None
        self._preview: Image.Image | None = None
        self._lock = threading.Lock()

    @property
    def resolution(self) -> int:
        return self.G.cfg.resolution

    @property
    def z_dim(self) -> int:
        return self.G.cfg.z_dim

    def w_avg(self) -> torch.Tensor:
        with self._lock, inference_threads():
            if self._w_avg is None:
                self._w_avg = sampling.mean_w(self.G)
            return self._w_avg

    def pca(self):
        """(w_avg, directions (k, w_dim), stds (k,)) of the top PCA_COMPONENTS directions in w."""
        with self._lock, inference_threads():
            if self._pca is None:
                self._pca = sampling.pca_directions(self.G, PCA_COMPONENTS)
            return self._pca

    def w_for(self, z: torch.Tensor, psi: float) -> torch.Tensor:
        w_avg = self.w_avg() if psi != 1.0 else None
        with inference_threads():
            return sampling.latents_to_w(self.G, z, psi, w_avg)

    def images(self, z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        w = self.w_for(z, psi)
        with inference_threads():
            return sampling.synthesize(self.G, w)

    def seeds(self, seeds, psi: float = 1.0) -> torch.Tensor:
        return self.images(sampling.seed_latents(seeds, self.z_dim), psi)

    def along_path(self, seeds, t: float, psi: float = 1.0) -> torch.Tensor:
        """The image at fraction t of the slerp path through the seeds' latents. (1, 3, R, R)"""
        return self.images(latent_at(sampling.seed_latents(seeds, self.z_dim), t), psi)

    def edited(self, seed: int, psi: float, amounts) -> torch.Tensor:
        """One seed moved along the top PCA directions of w, amounts in standard deviations."""
        _, dirs, stds = self.pca()
        w = self.w_for(sampling.seed_latents([seed], self.z_dim), psi)
        with inference_threads():
            return sampling.synthesize(self.G, sampling.move_along(w, dirs, stds, amounts))

    def video(self, seeds, psi: float, path: Path, frames_per_seed: int = 24, fps: int = 12) -> Path:
        """A GIF/MP4 (by suffix) along the slerp path through the seeds, upscaled to ~256 px."""
        frames = min(MAX_VIDEO_FRAMES, frames_per_seed * (len(seeds) - 1) + 1)
        images = self.images(sampling.path_latents(sampling.seed_latents(seeds, self.z_dim), frames), psi)
        return sampling.write_video(images, path, fps=fps, scale=max(1, 256 // self.resolution))

    def preview(self) -> Image.Image:
        """samples.png from the folder when there is one, else a 16-seed grid made now."""
        with self._lock:
            if self._preview is None:
                png = self.path / "samples.png"
                try:
                    self._preview = Image.open(png).convert("RGB") if png.is_file() else None
                except OSError:
                    self._preview = None
                if self._preview is None:
                    with inference_threads():
                        grid = sampling.grid_image(sampling.sample_seeds(self.G, range(16)))
                    self._preview = display(grid)
            return self._preview

    def label(self) -> str:
        if self.kind == "run":
            return f"your fine-tuned model (step {self.step})"
        return f"source model **{self.name}**"


_source_cache: dict[str, tuple[tuple, ModelHandle]] = {}
_source_lock = threading.Lock()


def _stamp(folder: Path) -> tuple:
    """Changes whenever a checkpoint is rewritten (sources refresh while they pretrain)."""
    stats = [(folder / n).stat() for n in (CONFIG, WEIGHTS) if (folder / n).is_file()]
    return tuple((s.st_mtime_ns, s.st_size) for s in stats) + ((folder / "samples.png").is_file(),)


def source_handle(name: str) -> ModelHandle:
    """A source's G_ema on CPU, shared by all sessions (read-only), reloaded when it changes."""
    folder = source_path(name)
    if folder is None:
        raise DataError("no source model chosen")
    stamp = _stamp(folder)
    with _source_lock:
        hit = _source_cache.get(str(folder))
        if hit and hit[0] == stamp:
            return hit[1]
    model = load_model(folder, device="cpu")
    handle = ModelHandle(model.G_ema, name, folder, "source", model.config.get("step"))
    with _source_lock:
        _source_cache[str(folder)] = (stamp, handle)
    return handle


def source_summary(name: str | None) -> tuple[Image.Image | None, str]:
    """(preview grid, markdown) for the source picker."""
    if not name:
        return None, "No source: the run starts from random weights (use the *from scratch* preset)."
    handle = source_handle(name)
    model = load_model_config(handle.path)
    line = model_card_line(handle.path) or "(no model card yet)"
    step = f", {handle.step:,} pretraining steps" if handle.step else ""
    return handle.preview(), (f"**{name}** — {model.resolution} px, z {model.z_dim}, "
                              f"G width {model.g_width}{step}.  \n{line}")


def load_model_config(folder: Path) -> ModelConfig:
    return from_dict(ModelConfig, read_config(folder)["model"])


# ----------------------------------------------------------------------------- parsing user input

def parse_seeds(text, minimum: int = 2) -> list[int]:
    """'3, 17, 42' (spaces or commas) -> [3, 17, 42], with readable errors."""
    parts = [p for p in str(text or "").replace(",", " ").replace(";", " ").split() if p]
    seeds = []
    for p in parts:
        try:
            value = int(p)
        except ValueError:
            raise ValueError(f"{p!r} is not a whole number; write seeds like 3, 17, 42") from None
        if not 0 <= value <= SEED_MAX:
            raise ValueError(f"seed {value} is out of range; use 0 to {SEED_MAX}")
        seeds.append(value)
    if len(seeds) < minimum:
        raise ValueError(f"give at least {minimum} seeds, e.g. 3, 17, 42")
    if len(seeds) > MAX_INTERP_SEEDS:
        raise ValueError(f"at most {MAX_INTERP_SEEDS} seeds at a time")
    return seeds


def as_int(value, name: str, lo: int, hi: int) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or number != int(number):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if not lo <= number <= hi:
        raise ValueError(f"{name}={int(number)} is out of range; use {lo} to {hi}")
    return int(number)


def as_float(value, name: str, lo: float, hi: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or not lo <= number <= hi:
        raise ValueError(f"{name}={value!r} is out of range; use {lo:g} to {hi:g}")
    return number


def option_specs() -> list[tuple[str, str, object, str]]:
    """(strategy, field, default, help) for every strategy option, in a fixed order."""
    return [(s, f, d, h) for s in STRATEGIES for f, d, h in strategy_fields(s)]


def preset_strategies(preset: str) -> tuple[list[str], str]:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    names, why = PRESETS[preset]
    return list(names), why


def make_config(strategies, option_values, steps, lr, batch_size, seed, grid_size: int = 16) -> TrainConfig:
    """A validated TrainConfig from the form. option_values follow option_specs(); None = default."""
    names = resolve(list(strategies or []))
    if not names:
        raise ValueError("choose at least one strategy (or a preset)")
    steps = as_int(steps, "steps", 1, MAX_STEPS)
    options: dict[str, dict] = {}
    values = list(option_values or [])
    for i, (strategy, fname, default, _) in enumerate(option_specs()):
        value = values[i] if i < len(values) else None
        if strategy in names and value is not None and value != "" and value != default:
            options.setdefault(strategy, {})[fname] = value
    cfg = TrainConfig(
        steps=steps, batch_size=as_int(batch_size, "batch size", 1, MAX_BATCH),
        lr_g=as_float(lr, "learning rate", *LR_RANGE), lr_d=as_float(lr, "learning rate", *LR_RANGE),
        seed=as_int(seed, "seed", 0, SEED_MAX), grid_size=grid_size,
        sample_every=max(1, min(25, steps // 20)), save_every=0,
        strategies=names, strategy_options=options)
    return cfg.validate()


# ----------------------------------------------------------------------------- pictures

def display(img: Image.Image, target: int = 256) -> Image.Image:
    """Nearest-neighbour upscale so small GAN images stay crisp on screen."""
    factor = max(1, round(target / max(img.width, img.height)))
    return sampling.upscale(img, factor) if factor > 1 else img


def to_pils(images: torch.Tensor, target: int = 64) -> list[Image.Image]:
    return [display(Image.fromarray(a), target) for a in sampling.to_uint8(images)]


def grid(images: torch.Tensor, target: int = 512) -> Image.Image:
    return display(sampling.grid_image(images), target)


def latent_at(z: torch.Tensor, t: float) -> torch.Tensor:
    """The point at fraction t in [0, 1] of the slerp path through z (K, z_dim) that
    sampling.path_latents samples at evenly spaced frames. -> (1, z_dim)"""
    segments = len(z) - 1
    if segments < 1:
        raise ValueError("interpolation needs at least two seeds")
    pos = min(max(float(t), 0.0), 1.0) * segments
    i = min(int(pos), segments - 1)
    return sampling.slerp(z[i], z[i + 1], pos - i).unsqueeze(0)


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
                 model_config: ModelConfig | None = None):
        self.cfg, self.images, self.out_dir = cfg, images, Path(out_dir)
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
                               model_config=self.model_config, stop=self.stop):
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


def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def progress_html(step: int, total: int, sec_per_step: float | None = None, eta: float | None = None) -> str:
    pct = 100.0 * step / max(total, 1)
    speed = f" · {sec_per_step:.2f} s/step · ETA {format_duration(eta)}" if sec_per_step is not None else ""
    return (f'<div class="tgan-progress"><div style="width:{pct:.1f}%"></div></div>'
            f'<p class="tgan-progress-text">step {step} / {total}{speed}</p>')


def describe_result(result: Finished | Failed, elapsed: float | None = None) -> str:
    took = f" in {format_duration(elapsed)}" if elapsed else ""
    if isinstance(result, Failed):
        kept = " The last good weights are kept." if result.path else ""
        return f"**Training failed** at step {result.step}: {result.message}{kept}"
    if result.stopped:
        return (f"**Stopped** at step {result.step}{took}; the model so far is saved. "
                "Explore it in tab 4 or download it below.")
    return f"**Done**: {result.step} steps{took}. Explore the model in tab 4, score it, or download it below."


def _code(name: str) -> str:
    return "`" + str(name).replace("`", "'") + "`"


def describe_images(imgs: ImageSet, label: str) -> str:
    """Markdown: how many images are ready, what was dropped, and each rejected file's reason."""
    n = len(imgs.names)
    lines = [f"**{n} image{'s' * (n != 1)} ready** from {label} (centre-cropped to {imgs.images.shape[-1]} px)."]
    if n < 5:
        lines.append("Fewer than 5 images: the model will mostly memorise them.")
    if imgs.duplicates:
        shown = ", ".join(imgs.duplicates[:10]) + (" …" if len(imgs.duplicates) > 10 else "")
        lines.append(f"{len(imgs.duplicates)} exact duplicate(s) dropped: {shown}")
    lines += imgs.notes
    if imgs.rejected:
        skipped = "\n".join(f"- {_code(name)}: {reason}" for name, reason in imgs.rejected[:30])
        more = f"\n- … and {len(imgs.rejected) - 30} more" if len(imgs.rejected) > 30 else ""
        lines.append(f"**{len(imgs.rejected)} file(s) skipped:**\n{skipped}{more}")
    return "\n\n".join(lines)


def kid_report(results: list[tuple[str, dict]], n_reference: int, n_samples: int) -> str:
    rows = "\n".join(f"| {label} | {1e3 * r['kid']:.1f} ± {1e3 * r['kid_std']:.1f} | {r['fid']:.0f} |"
                     for label, r in results)
    return ("| model | KID ×10³ (lower is better) | FID |\n|---|---|---|\n" + rows +
            f"\n\n{n_samples} samples vs your {n_reference} images. With only {n_reference} reference images "
            "KID is noisy (see the ±): treat differences smaller than about twice the ± as a tie, and "
            "compare runs only on the same images. FID is strongly biased at this size; it is shown "
            "for familiarity.")


def example_preview(folder: Path) -> Image.Image | None:
    """A 2x2 mosaic of an example set, for its button."""
    files = sorted(Path(folder).glob("*.png"))[:4]
    return grid(load_images(files, 64).as_float(), 192) if files else None


def resolution_of(source: str | None) -> int:
    """Training resolution: the source's, or 64 px from scratch."""
    folder = source_path(source)
    return load_model_config(folder).resolution if folder else 64


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

    # -- runs
    @property
    def training(self) -> bool:
        return self.worker is not None and self.worker.thread.is_alive()

    def start_run(self, cfg: TrainConfig, source: str | None) -> TrainWorker:
        if self.training:
            raise ValueError("a run is already training in this tab; press Stop first")
        folder = source_path(source)
        build_strategies(cfg.strategies, cfg.strategy_options, has_source=folder is not None)  # fail early
        resolution = resolution_of(source)
        images = self.images(resolution).images
        if self.run is not None:  # keep one run per session on disk
            shutil.rmtree(self.run.path, ignore_errors=True)
        self.run, self._run_model = None, None
        out = self.new_path("run")
        self.worker = TrainWorker(cfg, images, out, folder,
                                  None if folder else ModelConfig(resolution=resolution))
        self.run_source = source
        return self.worker.start()

    def finish_run(self) -> RunInfo | None:
        """After the worker ends: record the saved run (if any) so Explore uses it."""
        w = self.worker
        if w is None or w.result is None:
            return self.run
        path = getattr(w.result, "path", None)
        if path and (Path(path) / WEIGHTS).is_file() and (self.run is None or self.run.path != Path(path)):
            self.run = RunInfo(Path(path), self.run_source, w.result.step,
                               isinstance(w.result, Finished) and w.result.stopped)
            self._run_model = None
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


# ----------------------------------------------------------------------------- scoring

def kid_scores(model: ModelHandle, reference: ImageSet, n_samples: int, seed: int = 10_000) -> dict:
    """KID (and friends) of n samples vs the uploaded images. Raises ImportError when the metrics
    module or its Inception weights are unavailable."""
    from . import metrics  # heavy (Inception); only imported when someone scores

    samples = model.seeds(range(seed, seed + n_samples))
    return metrics.evaluate(samples, reference.as_float())


def source_grid(handle: ModelHandle, cfg: TrainConfig) -> torch.Tensor:
    """The source's images for exactly the latents the run's sample grid uses."""
    with torch.no_grad(), inference_threads():
        return handle.G(fixed_latents(cfg.grid_size, handle.z_dim, cfg.seed)).float().clamp(-1, 1).cpu()
