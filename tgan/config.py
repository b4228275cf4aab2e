"""Configuration dataclasses. This module imports nothing from tgan so everything can use it."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

RESOLUTIONS = (32, 64, 128)
FAMILIES = ("dcgan", "r3gan")
LOSSES = ("auto", "hinge", "rpgan")
LR_SCHEDULES = ("constant", "linear")


@dataclass
class ModelConfig:
    """What the networks look like; saved beside the weights so a checkpoint rebuilds itself."""

    resolution: int = 64  # output side in pixels; one of RESOLUTIONS
    z_dim: int = 128  # size of the Gaussian latent z
    w_dim: int = 128  # size of the mapped latent w (truncation and PCA act here)
    g_width: int = 32  # generator channels at the last (full-resolution) block; doubles per step down
    d_width: int = 32  # discriminator channels at the first block; doubles per step down
    mapping_layers: int = 0  # depth of the z -> w MLP (0: w is z on the sphere; measured to train faster here)
    d_norm: str = "batch"  # discriminator normalisation: "batch" (DCGAN; measured best here) or "spectral"
    g_norm: str = "batch"  # generator normalisation: "batch" (BatchNorm) or "pixel" (PixelNorm)
    # Network family: "dcgan" (nets.py, the v1 sources) or "r3gan" (nets_r3.py: residual, no
    # normalisation, trained with RpGAN + R1/R2). Old config.json files have no key: dcgan.
    family: str = "dcgan"
    blocks_per_stage: int = 1  # r3gan only: residual blocks at each resolution of G and D

    def __post_init__(self) -> None:
        if self.resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {self.resolution}")
        if self.mapping_layers == 0 and self.w_dim != self.z_dim:
            raise ValueError(f"without a mapping network w is z: w_dim ({self.w_dim}) must equal z_dim ({self.z_dim})")
        if self.d_norm not in ("spectral", "batch"):
            raise ValueError(f"d_norm must be 'spectral' or 'batch', got {self.d_norm!r}")
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        if not 1 <= self.blocks_per_stage <= 8:
            raise ValueError(f"blocks_per_stage must be between 1 and 8, got {self.blocks_per_stage}")
        if self.g_norm not in ("batch", "pixel"):
            raise ValueError(f"g_norm must be 'batch' or 'pixel', got {self.g_norm!r}")
        for name in ("z_dim", "w_dim", "g_width", "d_width"):
            if not 1 <= getattr(self, name) <= 4096:
                raise ValueError(f"{name} must be between 1 and 4096, got {getattr(self, name)}")

    @property
    def num_stages(self) -> int:
        """Upsampling stages from 4x4 to the output (3 at 32 px, 4 at 64 px, 5 at 128 px)."""
        return self.resolution.bit_length() - 3


@dataclass
class TrainConfig:
    """How one run trains. Every field is validated by `validate()` so the UI and CLI can clamp."""

    steps: int = 300  # optimisation steps (one D and one G update each)
    batch_size: int = 16  # images per step (reals and fakes alike)
    lr_g: float = 2e-4  # Adam learning rate of the generator
    lr_d: float = 2e-4  # Adam learning rate of the discriminator
    # "constant": lr_g and lr_d throughout; "linear": both fall linearly from their value at the first
    # step to 1/steps of it at the last (budgeted training, Li et al. 2020: for a fixed step budget a
    # rate that decays to zero beats a constant one). A function of (step, steps) only, so chunked and
    # resumed runs follow it exactly.
    lr_schedule: str = "constant"
    beta1: float = 0.5  # Adam beta1; 0.5 is the DCGAN choice that keeps GAN updates stable
    beta2: float = 0.999  # Adam beta2
    mapping_lr_mult: float = 0.01  # G's z->w MLP learns 100x slower (StyleGAN): at full rate it collapses
    # parameter-name prefix -> multiplier of its net's rate, e.g. {"G.to_rgb.": 2.0}; 0 freezes what it
    # names. Layer-wise rates for experiments (benchmarks/default_vs_source.py --lr-mult); the first
    # matching prefix wins, and these come before the strategies' own multipliers (the key "G.mapping."
    # itself is mapping_lr_mult's).
    lr_multipliers: dict[str, float] = field(default_factory=dict)
    ema_halflife_images: int = 2000  # G_ema half-life in images seen (StyleGAN-ADA's ema_kimg idea)
    # ...and at most this fraction of the images seen so far (StyleGAN-ADA's ema_rampup uses 0.05), so
    # a short run's average is not weighted towards its first steps. Off by default: at the bench's
    # step counts it helped faces and kanji but not emoji (benchmarks/ema_rampup.py).
    ema_rampup: float = 0.0
    # "rpgan": relativistic pairing loss + zero-centred R1 (reals) and R2 (fakes), R3GAN's recipe;
    # "hinge": SAGAN's hinge loss, no penalty; "auto": rpgan for an r3gan model with its own conv D,
    # hinge otherwise (the projected D is trained with hinge, as in Projected GAN).
    loss: str = "auto"
    r1_gamma: float = 1.0  # strength gamma of R1 and R2, each gamma/2 * E|grad_x D|^2 (R3GAN FFHQ-64 starts at 2)
    reg_every: int = 4  # lazy regularisation (StyleGAN2): penalties every k steps, weighted by k
    seed: int = 0  # seeds weights, data order, latents: same seed -> same run
    sample_every: int = 25  # steps between Samples events
    save_every: int = 100  # steps between checkpoint saves (0: only at the end)
    grid_size: int = 16  # images in the fixed-latent sample grid
    # Random horizontal flips of the real images (free data augmentation). None: as the source was
    # pretrained (a glyph source was not: a mirrored character is not a character), on without one.
    flip: bool | None = None
    mixed_precision: bool = True  # bf16 autocast on CUDA; ignored on CPU
    monitor_every: int = 0  # steps between Monitored events (memorisation, diversity, fidelity); 0: off
    keep_best: bool = False  # keep G_ema of the best monitored step (tgan.monitor.is_better)
    stop_when_copying: bool = False  # end the run when the monitor says it is copying the shots
    strategies: list[str] = field(default_factory=lambda: ["scratch"])  # strategy names, in order
    strategy_options: dict[str, dict] = field(default_factory=dict)  # per-strategy field overrides

    LIMITS = {
        "steps": (1, 200_000),
        "batch_size": (1, 256),
        "lr_g": (1e-6, 1e-2),
        "lr_d": (1e-6, 1e-2),
        "beta1": (0.0, 0.99),
        "beta2": (0.0, 0.9999),
        "mapping_lr_mult": (0.0, 1.0),
        "ema_halflife_images": (0, 10_000_000),
        "ema_rampup": (0.0, 1.0),
        "r1_gamma": (0.0, 1000.0),
        "reg_every": (1, 1000),
        "seed": (0, 2**31 - 1),
        "sample_every": (1, 100_000),
        "save_every": (0, 100_000),
        "grid_size": (1, 64),
        "monitor_every": (0, 100_000),
    }

    def validate(self) -> "TrainConfig":
        """Raise ValueError naming the field and its allowed range when a number is out of bounds."""
        for name, (lo, hi) in self.LIMITS.items():
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value != value or not lo <= value <= hi:
                raise ValueError(f"{name}={value!r} is out of range; use a value in [{lo}, {hi}]")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if not self.strategies:
            raise ValueError("choose at least one strategy (e.g. 'scratch' or 'transfer_d')")
        for prefix, mult in self.lr_multipliers.items():
            if not str(prefix).startswith(("G.", "D.")):
                raise ValueError(f"lr_multipliers: {prefix!r} must name parameters of G or D, e.g. 'G.to_rgb.'")
            if not isinstance(mult, (int, float)) or not 0 <= mult <= 100:
                raise ValueError(f"lr_multipliers[{prefix!r}]={mult!r} is out of range; use a value in [0, 100]")
        return self


# Steps of the default fine-tune, on every device: the app's slider, `tgan finetune` without
# --steps, and the advisor's floor. The line-art targets are step-bound: on faces-lorelei 10-shot,
# three draws of shots, held-out Inception KID falls from 0.53x the unadapted source at 900 steps to
# 0.49x at 1,000, 0.46x at 1,100 and 0.44x at 1,200 (benchmarks/README.md, "The default's step
# count"). 1,100 steps take about 150-170 s on 2 cores, inside the app's 180 s goal; 1,200 would
# not leave room for a slower machine. The same count on a GPU, where it takes seconds, so that a
# GPU run trains what the CPU tables measured.
DEFAULT_FINETUNE_STEPS = 1100


def monitor_period(steps: int) -> int:
    """Steps between monitor readings for a run of `steps` when none is asked for (the app, the
    CLI's --keep-best/--stop-when-copying, the bench's --keep-best): about 20 readings, at most
    every 25 steps."""
    return max(1, min(25, steps // 20))


def to_dict(obj) -> dict:
    return dataclasses.asdict(obj)


def from_dict(cls, data: dict):
    """Build a dataclass from a dict, ignoring unknown keys (older/newer config.json files)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})
