"""Files and folders: the app's temp root, source model folders and their cards, and zips."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import zipfile
from pathlib import Path

import torch
from PIL import Image

from tgan import paths, sampling
from tgan.checkpoint import CONFIG, WEIGHTS, CheckpointError, read_config
from tgan.config import ModelConfig, from_dict
from tgan.models import list_sources

from .own_sources import uploaded_source


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
    """A source folder by name, or None for 'train from scratch'. Only listed names (bundled, or
    uploaded and checked in this process) are accepted, so an API caller cannot point the app at
    an arbitrary folder."""
    if not name:
        return None
    uploaded = uploaded_source(name)
    if uploaded is not None:
        return uploaded
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


def load_model_config(folder: Path) -> ModelConfig:
    return from_dict(ModelConfig, read_config(folder)["model"])
