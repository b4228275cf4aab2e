"""The optimizers, the EMA of G, and the undo of a diverged step."""
from __future__ import annotations

import torch
from torch import nn

from .config import TrainConfig
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
        # base_lr: the group's rate before the schedule scales it (set_learning_rates)
        return [{"params": ps, "lr": lr * m, "base_lr": lr * m} for m, ps in sorted(by_mult.items(), reverse=True)]

    betas = (cfg.beta1, cfg.beta2)
    g_groups, d_groups = groups("G", run.G, cfg.lr_g), groups("D", run.D, cfg.lr_d)
    if not g_groups or not d_groups:
        raise ValueError("the chosen strategies leave G or D with nothing to train")
    # fused: one kernel per step for all tensors instead of a Python loop over each (on CPU the
    # default is that loop); it lifts the step rate 3-6% at our sizes (benchmarks/step_speed.py).
    fused = True if g_groups[0]["params"][0].device.type in ("cpu", "cuda") else None  # None: torch's default
    return (torch.optim.Adam(g_groups, betas=betas, fused=fused),
            torch.optim.Adam(d_groups, betas=betas, fused=fused))


def lr_factor(cfg: TrainConfig, step: int) -> float:
    """The schedule's multiplier of the base learning rates at optimisation step `step` (1-based)."""
    if cfg.lr_schedule == "linear":
        return max(cfg.steps - step + 1, 1) / cfg.steps  # 1 at step 1, 1/steps at the last
    return 1.0


def set_learning_rates(opts: tuple[torch.optim.Optimizer, ...], factor: float) -> None:
    for opt in opts:
        for group in opt.param_groups:
            group["lr"] = group["base_lr"] * factor


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


class StepSnapshot:
    """In-place copies of everything the steps since the last check may have changed (trainable
    weights, buffers such as BatchNorm statistics, Adam moments), so steps whose losses turn out
    non-finite can be undone exactly. Frozen weights (an ImageNet backbone) cannot change and are
    not copied. Copying into preallocated tensors costs one fused memcpy per check."""

    def __init__(self, modules: list[nn.Module], opts: tuple[torch.optim.Optimizer, ...],
                 averages: list[nn.Module] = ()):
        """modules: trained by opts; averages: updated without gradients (G_ema), copied whole."""
        self.modules, self.opts, self.averages = modules, opts, list(averages)
        self.saved: list[torch.Tensor] = []
        self.opt_keys: list[set] = []

    def _live(self) -> list[torch.Tensor]:
        tensors = [p for m in self.modules for p in m.parameters() if p.requires_grad]
        tensors += [p for m in self.averages for p in m.parameters()]
        tensors += [b for m in self.modules + self.averages for b in m.buffers()]
        for opt in self.opts:
            for group in opt.param_groups:
                for p in group["params"]:
                    tensors += [v for v in opt.state.get(p, {}).values() if torch.is_tensor(v)]
        return tensors

    @torch.no_grad()
    def take(self) -> None:
        live = self._live()
        if len(live) != len(self.saved):  # first time, or Adam just created its moments
            self.saved = [t.detach().clone() for t in live]
        elif live:
            torch._foreach_copy_(self.saved, live)
        self.opt_keys = [set(opt.state.keys()) for opt in self.opts]

    @torch.no_grad()
    def restore(self) -> None:
        for opt, keys in zip(self.opts, self.opt_keys):
            for p in [p for p in opt.state if p not in keys]:
                del opt.state[p]  # moments created by an undone step
        for s, t in zip(self.saved, self._live()):
            t.copy_(s)
