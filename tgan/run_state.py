"""Everything the trainer needs to build, save and restore one run's state."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .checkpoint import (CONFIG, TRAINING_STATE, WEIGHTS, load_module_state, module_state, read_config,
                         read_tensors, save_run, split_prefix)
from .config import ModelConfig, TrainConfig, to_dict
from .strategies import RunModels


def make_optimizers(run: RunModels, cfg: TrainConfig) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """Adam over parameters that still require grad, with per-prefix learning-rate multipliers."""

    def groups(prefix: str, module: nn.Module, lr: float) -> list[dict]:
        by_mult: dict[float, list] = {}
        for name, p in module.named_parameters():
            if not p.requires_grad:
                continue
            full = f"{prefix}.{name}"
            mult = next((m for pre, m in run.lr_multipliers.items() if full.startswith(pre)), 1.0)
            by_mult.setdefault(mult, []).append(p)
        return [{"params": ps, "lr": lr * m} for m, ps in sorted(by_mult.items(), reverse=True)]

    betas = (cfg.beta1, cfg.beta2)
    g_groups, d_groups = groups("G", run.G, cfg.lr_g), groups("D", run.D, cfg.lr_d)
    if not g_groups or not d_groups:
        raise ValueError("the chosen strategies leave G or D with nothing to train")
    # fused: one kernel per step for all tensors instead of a Python loop over each (on CPU the
    # default is that loop); it lifts the step rate 3-6% at our sizes (benchmarks/step_speed.py).
    fused = True if g_groups[0]["params"][0].device.type in ("cpu", "cuda") else None  # None: torch's default
    return (torch.optim.Adam(g_groups, betas=betas, fused=fused),
            torch.optim.Adam(d_groups, betas=betas, fused=fused))


def ema_beta(cfg, images_seen: int) -> float:
    """Per-step decay of G_ema for a half-life of min(ema_halflife_images, ema_rampup * images_seen)
    images; 0 (G_ema = G) when the half-life is 0."""
    halflife = cfg.ema_halflife_images
    if cfg.ema_rampup:
        halflife = min(halflife, cfg.ema_rampup * images_seen)
    return 0.5 ** (cfg.batch_size / halflife) if halflife > 0 else 0.0


def update_ema(G_ema: nn.Module, G: nn.Module, beta: float) -> None:
    """G_ema <- beta * G_ema + (1 - beta) * G; buffers (BatchNorm statistics) are copied."""
    with torch.no_grad():  # one fused kernel per list instead of a Python loop over tensors
        torch._foreach_lerp_(list(G_ema.parameters()), list(G.parameters()), 1.0 - beta)
        buffers = list(G_ema.buffers())
        if buffers:  # a PixelNorm G has none, and the fused copy refuses empty lists
            torch._foreach_copy_(buffers, list(G.buffers()))


def _flatten_optimizer(opt: torch.optim.Optimizer, prefix: str) -> dict[str, torch.Tensor]:
    out = {}
    for idx, state in opt.state_dict()["state"].items():
        for key, t in state.items():
            out[f"{prefix}.{idx}.{key}"] = torch.as_tensor(t)
    return out


def _restore_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], prefix: str) -> None:
    state: dict[int, dict] = {}
    for key, t in split_prefix(tensors, prefix).items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = t
    sd = opt.state_dict()
    sd["state"] = state
    opt.load_state_dict(sd)


def run_config(mcfg: ModelConfig, cfg: TrainConfig, run: RunModels, step: int, seconds: float = 0.0) -> dict:
    return {
        "model": to_dict(mcfg),
        "train": to_dict(cfg),
        "step": step,
        "train_seconds": round(seconds, 1),  # wall-clock of the optimisation steps, summed over resumes
        "d_kind": "conv" if hasattr(run.D, "blocks") else "projected",
        "source": run.source.name if run.source else None,
    }


def save_state(out_dir, mcfg, cfg, run: RunModels, G_ema, opts, step: int, half: bool,
               seconds: float = 0.0) -> Path:
    """model.safetensors (deliverable, maybe fp16) + training_state.safetensors (fp32, resume)."""
    modules = {"G_ema": G_ema, "G": run.G, "D": run.D}
    resume = {}
    for prefix, module in modules.items():
        resume.update({f"{prefix}.{k}": v for k, v in module_state(module).items()})
    resume.update(_flatten_optimizer(opts[0], "opt_G"))
    resume.update(_flatten_optimizer(opts[1], "opt_D"))
    return save_run(out_dir, run_config(mcfg, cfg, run, step, seconds), modules, half=half, training_state=resume)


def restore_state(out_dir, run: RunModels, G_ema, opts) -> int:
    """Load a saved run's weights and optimizer moments; return the step it reached.

    Without training_state.safetensors (e.g. a shipped checkpoint, which leaves it out to stay
    small) the weights come from model.safetensors and Adam restarts from zero moments."""
    config = read_config(out_dir)
    has_state = (Path(out_dir) / TRAINING_STATE).is_file()
    tensors = read_tensors(out_dir, TRAINING_STATE if has_state else WEIGHTS)
    for prefix, module in (("G_ema", G_ema), ("G", run.G), ("D", run.D)):
        load_module_state(module, split_prefix(tensors, prefix), f"{Path(out_dir).name} [{prefix}]")
    if has_state:
        _restore_optimizer(opts[0], tensors, "opt_G")
        _restore_optimizer(opts[1], tensors, "opt_D")
    return int(config.get("step", 0))


def saved_seconds(out_dir) -> float:
    """The training wall-clock a saved run reports (0 for runs saved before it was recorded)."""
    return float(read_config(out_dir).get("train_seconds", 0.0))


def has_saved_state(out_dir) -> bool:
    return out_dir is not None and (Path(out_dir) / CONFIG).is_file() and (Path(out_dir) / WEIGHTS).is_file()


class StepSnapshot:
    """In-place copies of what a step may change before its losses are known to be finite
    (weights, BatchNorm/spectral-norm buffers, Adam moments), so a diverged step can be undone
    exactly. `buffers_of`: modules whose buffers alone change (a forward pass in train mode).
    Copying into preallocated tensors costs one memcpy per step."""

    def __init__(self, modules: list[nn.Module], opts: tuple[torch.optim.Optimizer, ...],
                 buffers_of: list[nn.Module] = ()):
        self.modules, self.opts, self.buffers_of = modules, opts, list(buffers_of)
        self.saved: list[torch.Tensor] = []
        self.opt_keys: list[set] = []

    def _live(self) -> list[torch.Tensor]:
        tensors = [t for m in self.modules for t in module_state(m).values()]
        tensors += [b for m in self.buffers_of for b in m.buffers()]
        for opt in self.opts:
            for p in opt.param_groups[0]["params"] + [q for g in opt.param_groups[1:] for q in g["params"]]:
                tensors += [v for v in opt.state.get(p, {}).values() if torch.is_tensor(v)]
        return tensors

    @torch.no_grad()
    def take(self) -> None:
        live = self._live()
        if len(live) != len(self.saved):  # first step, or Adam just created its moments
            self.saved = [t.detach().clone() for t in live]
        elif live:
            torch._foreach_copy_(self.saved, live)
        self.opt_keys = [set(opt.state.keys()) for opt in self.opts]

    @torch.no_grad()
    def restore(self) -> None:
        for opt, keys in zip(self.opts, self.opt_keys):
            for p in [p for p in opt.state if p not in keys]:
                del opt.state[p]  # moments created by the undone step
        for s, t in zip(self.saved, self._live()):
            t.copy_(s)
