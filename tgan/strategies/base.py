"""The strategy interface: small hook objects the trainer calls at fixed points.

A strategy is a dataclass whose fields are its hyperparameters (the app builds controls from
them). Hooks default to no-ops, so each strategy only writes what it changes. Several strategies
combine as a list; the trainer builds optimizers only after every setup() ran, from parameters
that still require grad.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from .catalog import WHY


@dataclass
class SourceModels:
    """A pretrained source model, kept frozen for reference."""

    name: str  # folder name, e.g. "emoji"
    model_config: dict  # its ModelConfig as a dict
    G: nn.Module  # its G_ema (the generator people see), eval mode
    D: nn.Module  # its discriminator
    # Whether it was pretrained on x-flipped images too (its config.json's train.flip): a mirror
    # image is then a valid sample of its domain. A fine-tune follows it unless told otherwise.
    flip: bool = True


@dataclass
class RunModels:
    """The networks of one run; strategies may replace or freeze parts during setup()."""

    G: nn.Module
    D: nn.Module
    source: SourceModels | None
    device: torch.device
    g_from_source: bool = False  # set by transfer strategies: L2-SP/EWC anchor only then
    d_from_source: bool = False
    lr_multipliers: dict[str, float] = field(default_factory=dict)  # "D.backbone." -> 0.1


@dataclass
class StepContext:
    """What the trainer computed this step, shared with every strategy's loss hooks."""

    step: int
    z: torch.Tensor  # (B, z_dim) latents of this step's fakes
    fake: torch.Tensor  # (B, 3, R, R) G(z), with grad in the G phase
    g_features: list[torch.Tensor] | None = None  # G's per-block activations for z (G phase)
    # The projected D's backbone taps of this step's augmented (reals, fakes), G phase only, when
    # one backbone pass serves both phases: the reals' carry no graph (frozen backbone, reals that
    # need no gradient), the fakes' carry G's.
    d_taps: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None


@dataclass
class Strategy:
    name: ClassVar[str] = ""
    why: ClassVar[str] = ""  # one line for the CLI listing and the app: catalog.WHY[name]
    order: ClassVar[int] = 50  # setup order: initialisation < D replacement < freezing < penalties
    needs_source: ClassVar[bool] = False
    fields_help: ClassVar[dict[str, str]] = {}  # field -> one-line meaning, for UI controls

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.why = WHY.get(cls.name, cls.why)

    @property
    def needs_backbone_taps(self) -> bool:
        """True when g_terms reads StepContext.d_taps: the run then refuses a D without them."""
        return False

    def setup(self, run: RunModels) -> None:
        """Copy/freeze/replace weights, snapshot anchors. Called once before optimizers exist."""

    def augment(self, x: torch.Tensor, generator: torch.Generator | None = None, rows=None) -> torch.Tensor:
        """Applied to reals and fakes right before D; random draws come from `generator`, made
        for the whole global batch of which x holds `rows` (a tgan.distributed.Rows; None: all)."""
        return x

    def g_terms(self, run: RunModels, ctx: StepContext) -> dict[str, torch.Tensor]:
        return {}

    def d_terms(self, run: RunModels, ctx: StepContext) -> dict[str, torch.Tensor]:
        return {}


def copy_weights(dst: nn.Module, src: nn.Module) -> None:
    dst.load_state_dict(src.state_dict())


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    """Detached copies of the trainable parameters, keyed by name."""
    return {n: p.detach().clone() for n, p in module.named_parameters() if p.requires_grad}


def trainable(module: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p for n, p in module.named_parameters() if p.requires_grad}
