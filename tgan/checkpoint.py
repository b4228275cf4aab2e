"""Run directories in the Hugging Face layout: config.json + model.safetensors (+ a resume file).

model.safetensors holds "G.*", "G_ema.*" and "D.*" tensors (fp16 when saved `half`, cast back to
fp32 on load). training_state.safetensors holds fp32 weights and optimizer moments so a run can
resume exactly; it is not needed to sample or to fine-tune from the model. Nothing is pickled.
Every file is written to a temporary name and renamed, so a crash mid-save never leaves a
half-written checkpoint behind.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .errors import CheckpointError

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
TRAINING_STATE = "training_state.safetensors"
FINGERPRINT = "fingerprint.safetensors"  # a source's training-image features (the app's nearest source)
FORMAT_VERSION = 1
_PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl")  # weights formats that unpickle


def _atomic_write(path: Path, write) -> None:
    """Call write(tmp_path), fsync, then rename over `path` (atomic on POSIX)."""
    _atomic_write_all([(path, write)])


def _atomic_write_all(files: list[tuple[Path, object]]) -> None:
    """Write every file to a temporary name first (the slow part), then rename them all in order.

    A kill while writing leaves the previous checkpoint untouched (plus ignored *.tmp files, which
    the next save removes); the renames that follow take microseconds, so the files of one save
    change together in all but that tiny window."""
    temps: list[str] = []
    try:
        for path, write in files:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            os.close(fd)
            temps.append(tmp)
            write(tmp)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; checkpoints are meant to be shared
        for (path, _), tmp in zip(files, temps):
            os.replace(tmp, path)
        _fsync_dir(files[0][0].parent)
    finally:
        for tmp in temps:
            if os.path.exists(tmp):
                os.remove(tmp)


def _fsync_dir(folder: Path) -> None:
    """Make the renames durable (a power cut after save_tensors returns keeps the new files)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # e.g. Windows cannot open folders; the renames are still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_stale_temps(run_dir: Path) -> None:
    """Temporary files left by a save that was killed midway (they are never read as weights)."""
    for name in (CONFIG, WEIGHTS, TRAINING_STATE):
        for tmp in run_dir.glob(f".{name}.*.tmp"):
            try:
                tmp.unlink()
            except OSError:
                pass


def module_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The tensors worth saving: a projected D leaves out its frozen ImageNet backbone."""
    if hasattr(module, "trainable_state_dict"):
        return module.trainable_state_dict()
    return module.state_dict()


def load_module_state(module: torch.nn.Module, state: dict[str, torch.Tensor], label: str) -> None:
    """Load with a readable account of missing, unexpected and wrongly shaped tensors."""
    expected = module_state(module)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{k}: {tuple(state[k].shape)} in the file, {tuple(v.shape)} in this model"
             for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        parts = []
        if wrong:
            parts.append(f"{len(wrong)} shape mismatches (e.g. {wrong[0]})")
        if missing:
            parts.append(f"{len(missing)} missing tensors (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[0]})")
        raise CheckpointError(f"{label} does not match this architecture: " + "; ".join(parts))
    cast = {k: state[k].to(expected[k].dtype) for k in expected}
    if hasattr(module, "load_trainable_state_dict"):
        module.load_trainable_state_dict(cast)
    else:
        module.load_state_dict(cast)


def save_tensors(run_dir, config: dict, weights: dict[str, torch.Tensor], half: bool = False,
                 training_state: dict[str, torch.Tensor] | None = None) -> Path:
    """Write config.json and model.safetensors ("G.*", "G_ema.*", "D.*"; floats in fp16 when
    `half`), and training_state.safetensors when given. Raises OSError when the disk refuses."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for key, t in weights.items():
        t = t.detach().to("cpu")
        tensors[key] = (t.half() if half and t.is_floating_point() else t).contiguous()
    files = []
    if training_state is not None:
        state = {k: v.detach().to("cpu").contiguous() for k, v in training_state.items()}
        files.append((run_dir / TRAINING_STATE, lambda p: save_file(state, p)))
    files.append((run_dir / WEIGHTS, lambda p: save_file(tensors, p, metadata={"format": "tgan"})))
    text = json.dumps({"format_version": FORMAT_VERSION, **config}, indent=2)
    files.append((run_dir / CONFIG, lambda p: Path(p).write_text(text)))  # last: it names the step
    _remove_stale_temps(run_dir)
    _atomic_write_all(files)
    return run_dir


def read_config(run_dir) -> dict:
    path = Path(run_dir) / CONFIG
    if not Path(run_dir).is_dir():
        raise CheckpointError(f"{run_dir}: not a folder; a model is a folder with {CONFIG} and {WEIGHTS}")
    if not path.is_file():
        raise CheckpointError(f"{run_dir}: no {CONFIG}; a model is a folder with {CONFIG} and {WEIGHTS}")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(config, dict) or "model" not in config:
        raise CheckpointError(f"{path}: not a tgan config (no 'model' section)")
    return config


def _pickle_kind(path: Path) -> str | None:
    """'a pickle' / 'a PyTorch zip archive' when the file starts like one, else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return None
    if head.startswith(b"PK\x03\x04"):
        return "a PyTorch zip archive (torch.save)"
    if head[:1] == b"\x80" and head[1:2] in bytes(range(2, 6)):
        return "a Python pickle"
    return None


def read_tensors(run_dir, name: str = WEIGHTS) -> dict[str, torch.Tensor]:
    """Load a safetensors file; anything else (e.g. a pickle renamed) is refused, never unpickled."""
    path = Path(run_dir) / name
    if not path.is_file():
        pickles = sorted(p.name for p in Path(run_dir).glob("*") if p.suffix in _PICKLE_SUFFIXES)
        found = (f" (found {', '.join(pickles[:3])}: pickle files are never loaded because they can run code;"
                 " convert the weights to safetensors)") if pickles else ""
        raise CheckpointError(f"{run_dir}: no {name}; only safetensors weights are accepted{found}")
    kind = _pickle_kind(path)
    if kind:
        raise CheckpointError(f"{path.name}: not a valid safetensors file: it is {kind}, which tgan never "
                              "loads because unpickling can run code; convert it to safetensors")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        reason = " ".join(str(exc).split())[:120]
        raise CheckpointError(f"{path.name}: not a valid safetensors file ({reason})") from None


def split_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """{"G.a": t, "D.b": u} -> {"a": t} for prefix "G"."""
    p = prefix + "."
    return {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}
