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

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
TRAINING_STATE = "training_state.safetensors"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says which file and why."""


def _atomic_write(path: Path, write) -> None:
    """Call write(tmp_path), fsync, then rename over `path` (atomic on POSIX)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; checkpoints are meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
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


def save_run(run_dir, config: dict, modules: dict[str, torch.nn.Module], half: bool = False,
             training_state: dict[str, torch.Tensor] | None = None) -> Path:
    """Write config.json and model.safetensors (and the resume file when given)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for prefix, module in modules.items():
        for key, t in module_state(module).items():
            t = t.detach().to("cpu")
            tensors[f"{prefix}.{key}"] = (t.half() if half and t.is_floating_point() else t).contiguous()
    if training_state is not None:
        state = {k: v.detach().to("cpu").contiguous() for k, v in training_state.items()}
        _atomic_write(run_dir / TRAINING_STATE, lambda p: save_file(state, p))
    _atomic_write(run_dir / WEIGHTS, lambda p: save_file(tensors, p, metadata={"format": "tgan"}))
    text = json.dumps({"format_version": FORMAT_VERSION, **config}, indent=2)
    _atomic_write(run_dir / CONFIG, lambda p: Path(p).write_text(text))
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


def read_tensors(run_dir, name: str = WEIGHTS) -> dict[str, torch.Tensor]:
    """Load a safetensors file; anything else (e.g. a pickle renamed) is refused, never unpickled."""
    path = Path(run_dir) / name
    if not path.is_file():
        raise CheckpointError(f"{run_dir}: no {name}; only safetensors weights are accepted")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path.name}: not a valid safetensors file ({str(exc)[:120]})") from None


def split_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """{"G.a": t, "D.b": u} -> {"a": t} for prefix "G"."""
    p = prefix + "."
    return {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}
