"""What the strategies and presets are, as plain data: names, one line of why each, and the
presets that combine them. It imports nothing, so `tgan strategies` and `tgan --help` answer
without loading torch; the strategy classes take their `why` from here."""
from __future__ import annotations

# strategy name -> one line for the CLI listing and the app, in listing order
WHY: dict[str, str] = {
    "scratch": "Fresh G and D from random weights: the baseline every transfer method must beat.",
    "transfer_g": "Start G from the source generator; D starts fresh. Reuses what G knows about images.",
    "transfer_d": "Start G and D from the source (TransferGAN): D already knows real from fake features.",
    "projected_d": ("D sees frozen ImageNet EfficientNet-Lite0 features through small trainable heads "
                    "(Projected GAN): a pretrained feature extractor needs far fewer images."),
    "freeze_d": "Freeze D's lowest blocks (FreezeD): keep generic low-level features, adapt only the top.",
    "joint": ("Fine-tune everything end to end, the pretrained feature extractor included, at a lower "
              "learning rate for pretrained ImageNet weights so they adapt without being erased."),
    "l2sp": "Penalise lambda*||theta - theta_source||^2 (L2-SP): stay near the source, forget less.",
    "ewc": ("L2-SP weighted per weight by the source G's Fisher information (EWC, Li et al. 2020): "
            "weights that matter most to the source move least."),
    "multitask": ("Auxiliary source task (cross-domain correspondence): keep the source G's pairwise sample"
                  " similarities, so the few-shot G stays as diverse as the source."),
    "diffaug": "Differentiable augmentation of reals and fakes before D (DiffAugment): D can't memorise.",
}
INIT_STRATEGIES = ("scratch", "transfer_g", "transfer_d")
# A method named alone runs on the initialisation its paper uses (registry.with_base adds it).
BASE = {
    "projected_d": ("transfer_g", "Projected GAN's D replaces the source D; G starts from the source"),
    "freeze_d": ("transfer_d", "FreezeD (Mo et al. 2020) fine-tunes the source G and D"),
    "joint": ("transfer_g", "end-to-end fine-tuning starts G from the source"),
    "l2sp": ("transfer_d", "L2-SP pulls toward the source weights it starts from"),
    "ewc": ("transfer_d", "EWC (Li et al. 2020) fine-tunes the source G and D"),
    "multitask": ("transfer_d", "CDC (Ojha et al. 2021) adapts the source G and D"),
    "diffaug": ("scratch", "DiffAugment (Zhao et al. 2020) trains from scratch"),
}

# name -> (strategies, one-line why). "recommended" is chosen from benchmark measurements.
PRESETS: dict[str, tuple[list[str], str]] = {
    "recommended": (["transfer_g", "projected_d", "diffaug"],
                    "Source G against a D on frozen ImageNet features + DiffAugment: the lowest "
                    "Inception KID in our benchmark on all three targets (kanji 10-shot, 180 s on CPU: "
                    "0.051 vs 0.333 for TransferGAN)."),
    "TransferGAN": (["transfer_d"], "Fine-tune the source G and D, nothing else (Wang et al. 2018)."),
    "FreezeD": (["transfer_d", "freeze_d"], "TransferGAN with D's lower blocks frozen (Mo et al. 2020)."),
    "L2-SP": (["transfer_d", "l2sp"], "TransferGAN pulled toward the source weights."),
    "EWC": (["transfer_d", "ewc"], "TransferGAN with a Fisher-weighted pull toward the source G."),
    "multi-task": (["transfer_d", "multitask", "diffaug"],
                   "Keep the source's sample similarities while adapting (CDC) + DiffAugment."),
    "joint": (["transfer_g", "projected_d", "joint", "diffaug"],
              "Projected D with its ImageNet backbone fine-tuned too, end to end."),
    "FreezeD + DiffAug": (["transfer_d", "freeze_d", "diffaug"],
                          ("TransferGAN + FreezeD + DiffAugment: no ImageNet network, the fastest step; "
                           "the best in our benchmark on line-art faces in the random-CNN space.")),
    "from scratch": (["scratch", "diffaug"], "No transfer: fresh G and D with DiffAugment (baseline)."),
}
DEFAULT_PRESET = "recommended"

# preset -> the strategy options it trains with, {strategy: {field: value}}, over the strategies'
# own defaults (which follow their papers). The app fills its option controls with them; `tgan
# finetune --strategy PRESET` and `tgan bench` train with them (--option overrides a field).
# recommended: DiffAugment without colour jitter, whose brightness and contrast shifts let G keep
# grey smears where line art is black on white; measured on five targets over three draws of shots
# (benchmarks/README.md, "Three draws: DiffAugment without colour").
PRESET_OPTIONS: dict[str, dict[str, dict]] = {"recommended": {"diffaug": {"policy": "translation,cutout"}}}


def preset_options(strategy: str) -> dict[str, dict]:
    """A preset's strategy options (a copy); {} for a list of strategies or an unknown name."""
    return {name: dict(fields) for name, fields in PRESET_OPTIONS.get(strategy, {}).items()}


def with_options(base: dict[str, dict], overrides: dict[str, dict]) -> dict[str, dict]:
    """base's options with overrides' fields laid over them, strategy by strategy."""
    merged = {name: dict(fields) for name, fields in base.items()}
    for name, fields in overrides.items():
        merged.setdefault(name, {}).update(fields)
    return merged

# preset -> the Adam learning rate of G and D it trains with, chosen by a sweep of 1e-4, 2e-4 and
# 5e-4 at the benchmark's 180 s budget (benchmarks/README.md, "Learning-rate sweep"). A preset's
# rate is what `tgan finetune --strategy PRESET`, the app and `tgan bench` use unless told otherwise.
# Swept on faces-lorelei (three rates) and kanji-gyosho (the faces winner against 2e-4), 10 shots,
# seed 0; only FreezeD + DiffAug gained on both. The presets not swept keep 2e-4.
PRESET_LR: dict[str, float] = {**{name: 2e-4 for name in PRESETS},
                               "FreezeD + DiffAug": 5e-4}


def preset_lr(strategy: str, default: float) -> float:
    """The learning rate a preset trains with; `default` for a list of strategies or an unknown name."""
    return PRESET_LR.get(strategy, default)
