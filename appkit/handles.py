"""Models for exploring and scoring: ModelHandle (a CPU generator with cached truncation
centre and PCA directions), the shared source-model cache, and the scoring helpers."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from PIL import Image

from tgan import sampling
from tgan.checkpoint import CONFIG, WEIGHTS
from tgan.config import TrainConfig
from tgan.data import DataError, ImageSet
from tgan.events import ScoreEvent
from tgan.models import load_model
from tgan.training_run import fixed_latents
from .files import source_path
from .limits import EXPLORE_THREADS, MAX_VIDEO_FRAMES, PCA_COMPONENTS
from .limits import PROJECTED
from .pictures import display, latent_at



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

    def __init__(self, G, name: str, path: Path, kind: str, step: int | None = None, last_step: int | None = None):
        """step: the step this generator is from; last_step: the run's last step, when that differs
        (the best monitored step was kept)."""
        self.G, self.name, self.path, self.kind, self.step = G, name, Path(path), kind, step
        self.last_step = last_step
        self._centre = None
        self._pca = None
        self._preview: Image.Image | None = None
        self._lock = threading.Lock()

    @property
    def resolution(self) -> int:
        return self.G.cfg.resolution

    @property
    def z_dim(self) -> int:
        return self.G.cfg.z_dim

    def truncation_centre(self) -> torch.Tensor:
        """The mean w, or the anchors on the sphere for a model without a mapping network."""
        with self._lock, inference_threads():
            if self._centre is None:
                self._centre = sampling.truncation_centre(self.G)
            return self._centre

    def pca(self):
        """(w_avg, directions (k, w_dim), stds (k,)) of the top PCA_COMPONENTS directions in w."""
        with self._lock, inference_threads():
            if self._pca is None:
                self._pca = sampling.pca_directions(self.G, PCA_COMPONENTS)
            return self._pca

    def w_for(self, z: torch.Tensor, psi: float) -> torch.Tensor:
        centre = self.truncation_centre() if psi != 1.0 else None
        with inference_threads():
            return sampling.latents_to_w(self.G, z, psi, centre)

    def images(self, z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        w = self.w_for(z, psi)
        with inference_threads():
            return sampling.synthesize(self.G, w)

    def seeds(self, seeds, psi: float = 1.0) -> torch.Tensor:
        return self.images(sampling.seed_latents(seeds, self.z_dim), psi)

    def along_path(self, seeds, t: float, psi: float = 1.0, projected: torch.Tensor | None = None) -> torch.Tensor:
        """The image at fraction t of the slerp path through the seeds' latents. (1, 3, R, R)
        With PROJECTED among the seeds, the path runs through w instead (lerp, as StyleGAN
        interpolates in W): the projected latent is a w, the seeds' w are truncated by psi."""
        if PROJECTED not in seeds:
            return self.images(latent_at(sampling.seed_latents(seeds, self.z_dim), t), psi)
        if projected is None:
            raise ValueError("project an image first (Explore: Put your image in), then use p among the seeds")
        ws = [self.start_w(s, psi, projected if s == PROJECTED else None) for s in seeds]
        return self.from_w(latent_at(torch.cat(ws), t, linear=True))  # (1, w_dim) -> (1, 3, R, R)

    @property
    def w_dim(self) -> int:
        return self.G.cfg.w_dim

    def start_w(self, seed: int, psi: float, projected: torch.Tensor | None = None) -> torch.Tensor:
        """The w (1, w_dim) a single-image view starts from: the projected image's when given
        (it is already a w: ψ does not apply), else the seed's at truncation ψ."""
        if projected is not None:
            return projected.view(1, -1)
        return self.w_for(sampling.seed_latents([seed], self.z_dim), psi)

    def from_w(self, w: torch.Tensor) -> torch.Tensor:
        """The image (1, 3, R, R) of one w, given as (w_dim,) or (1, w_dim)."""
        with inference_threads():
            return sampling.synthesize(self.G, w.view(1, -1))

    def edited(self, seed: int, psi: float, amounts, projected: torch.Tensor | None = None) -> torch.Tensor:
        """One seed (or the projected image's w) moved along the top PCA directions of w,
        amounts in standard deviations."""
        _, dirs, stds = self.pca()
        w = self.start_w(seed, psi, projected)
        with inference_threads():
            return sampling.synthesize(self.G, sampling.move_along(w, dirs, stds, amounts))

    def video(self, seeds, psi: float, path: Path, frames_per_seed: int = 24, fps: int = 12,
              projected: torch.Tensor | None = None) -> Path:
        """A GIF/MP4 (by suffix) along the path through the seeds (see along_path), upscaled to ~256 px."""
        frames = min(MAX_VIDEO_FRAMES, frames_per_seed * (len(seeds) - 1) + 1)
        if PROJECTED in seeds:
            images = torch.cat([self.along_path(seeds, i / (frames - 1), psi, projected) for i in range(frames)])
        else:
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
        if self.kind == "run" and self.last_step is not None and self.last_step != self.step:
            return (f"your fine-tuned model (best at step {self.step}, by the monitor; the last step, "
                    f"{self.last_step}, is kept too)")
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


# ----------------------------------------------------------------------------- scoring

def score_events(model: ModelHandle, reference: ImageSet, n_samples: int, train: ImageSet | None = None,
                 seed: int = 10_000) -> Iterator[ScoreEvent]:
    """tgan.scoring's events for n samples vs `reference`, in every scoring space; `train` (the
    images the run trained on) adds the memorisation and copy scores. Ends with one Scored.
    Raises ImportError when the metrics module or its Inception weights are unavailable."""
    from tgan import scoring  # heavy (Inception); only imported when someone scores

    samples = model.seeds(range(seed, seed + n_samples))
    # On the CPU, explicitly: on ZeroGPU the main process sees a CUDA that it must not touch.
    yield from scoring.evaluate_iter(samples, reference.as_float(), train=train.as_float() if train is not None else None,
                                     extractors=scoring.default_extractors("cpu"))


def advice(images: ImageSet):
    """tgan.advisor's advice for the uploads: the nearest bundled source (by the shipped
    fingerprints; sources without one are not candidates), the preset and steps, and why."""
    from tgan.advisor import advise
    from .files import source_names

    with inference_threads():
        return advise(images, {name: source_path(name) for name in source_names()})


def source_grid(handle: ModelHandle, cfg: TrainConfig) -> torch.Tensor:
    """The source's images for exactly the latents the run's sample grid uses."""
    with torch.no_grad(), inference_threads():
        return handle.G(fixed_latents(cfg.grid_size, handle.z_dim, cfg.seed)).float().clamp(-1, 1).cpu()
