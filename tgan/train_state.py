"""A run's complete state as CPU tensors (TrainState), and its files on disk.

The trainer continues a run from a TrainState bit-exactly: weights, EMA, Adam moments, the step,
the wall-clock so far, and the run's random stream. It is plain data, so it pickles: on ZeroGPU
each training chunk runs in a child process that receives one and sends the next one back."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .checkpoint import CONFIG, TRAINING_STATE, WEIGHTS, module_state, read_config, read_tensors, save_tensors

NETWORKS = ("G_ema", "G", "D")  # the prefixes model.safetensors holds
OPTIMIZERS = ("opt_G", "opt_D")
RNG = "rng"  # the run's torch.Generator state (uint8); absent in runs saved before it was kept
BEST = "best."  # prefix of the keep-best step's G_ema in a state's tensors


@dataclass
class TrainState:
    """Everything a run needs to continue, on CPU."""

    model: dict  # ModelConfig fields
    train: dict  # TrainConfig fields
    tensors: dict[str, torch.Tensor]  # "G_ema.*", "G.*", "D.*", "opt_G.<i>.<key>", "opt_D.*", "rng"
    step: int  # optimisation steps completed
    seconds: float = 0.0  # training wall-clock, summed over chunks and resumes
    source: str | None = None  # the source model's name (None: trained from scratch)
    d_kind: str = "conv"  # "conv" or "projected"
    best: dict | None = None  # the keep-best step's monitor reading; its G_ema is "best.G_ema.*"
    world_size: int = 1  # processes that trained the last chunk (tgan.distributed); resuming may use another
    # the monitor's last few fidelity readings, oldest first: the keep-best rule smooths over them
    recent_fidelity: list[float] = field(default_factory=list)
    # the keep-best rule's memory (tgan.monitor.KeepBest): the run's first and lowest smoothed fidelity
    fidelity_start: float | None = None
    fidelity_floor: float | None = None

    def config(self) -> dict:
        """config.json of this state."""
        return {"model": self.model, "train": self.train, "step": self.step,
                "train_seconds": round(self.seconds, 1), "d_kind": self.d_kind, "source": self.source,
                "best": self.best, "world_size": self.world_size, "recent_fidelity": self.recent_fidelity,
                "fidelity_start": self.fidelity_start, "fidelity_floor": self.fidelity_floor}

    def generator_prefix(self) -> str:
        """Where the G_ema people should see lives: the best step's when one was kept."""
        return BEST + "G_ema" if self.best is not None else "G_ema"


def module_tensors(prefix: str, module: nn.Module) -> dict[str, torch.Tensor]:
    """CPU copies (never views of live weights) of a module's saved tensors, keyed prefix.name."""
    return {f"{prefix}.{k}": v.detach().to("cpu", copy=True) for k, v in module_state(module).items()}


def optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for idx, state in opt.state_dict()["state"].items():
        for key, t in state.items():
            out[f"{prefix}.{idx}.{key}"] = torch.as_tensor(t).detach().to("cpu", copy=True)
    return out


def load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], prefix: str) -> None:
    """Restore Adam moments saved by optimizer_tensors (nothing saved: Adam starts afresh)."""
    state: dict[int, dict] = {}
    for key, t in tensors.items():
        if key.startswith(prefix + "."):
            idx, name = key[len(prefix) + 1:].split(".", 1)
            state.setdefault(int(idx), {})[name] = t
    if state:
        sd = opt.state_dict()
        sd["state"] = state
        opt.load_state_dict(sd)


def save_train_state(out_dir, state: TrainState, half: bool = False) -> Path:
    """config.json + model.safetensors (deliverable, fp16 if `half`) + training_state.safetensors
    (fp32, everything, for resuming). Atomic: a crash leaves the previous files."""
    weights = {k: v for k, v in state.tensors.items() if k.split(".", 1)[0] in NETWORKS}
    if state.best is not None:  # G_ema is the best step's (what Explore shows); the last is kept too
        weights.update({"G_ema_last." + k[len("G_ema."):]: v for k, v in weights.items() if k.startswith("G_ema.")})
        weights.update({k[len(BEST):]: v for k, v in state.tensors.items() if k.startswith(BEST)})
    return save_tensors(out_dir, state.config(), weights, half=half, training_state=state.tensors)


def load_train_state(out_dir) -> TrainState:
    """A saved run. Without training_state.safetensors (a shipped checkpoint leaves it out to stay
    small) the weights come from model.safetensors and Adam restarts from zero moments."""
    config = read_config(out_dir)
    has_state = (Path(out_dir) / TRAINING_STATE).is_file()
    tensors = read_tensors(out_dir, TRAINING_STATE if has_state else WEIGHTS)
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}  # fp16 weights
    best = config.get("best") if has_state else None  # without the resume file the best G_ema is G_ema
    if not has_state:
        tensors = {k: v for k, v in tensors.items() if not k.startswith("G_ema_last.")}
    return TrainState(config["model"], config["train"], tensors, int(config.get("step", 0)),
                      float(config.get("train_seconds", 0.0)), config.get("source"), config.get("d_kind", "conv"),
                      best, int(config.get("world_size", 1)),
                      [float(f) for f in config.get("recent_fidelity", [])] if has_state else [],
                      config.get("fidelity_start") if has_state else None,
                      config.get("fidelity_floor") if has_state else None)


def has_saved_state(out_dir) -> bool:
    return out_dir is not None and (Path(out_dir) / CONFIG).is_file() and (Path(out_dir) / WEIGHTS).is_file()
