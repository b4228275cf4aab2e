"""Strategy names -> classes, and named presets that combine them."""
from __future__ import annotations

import dataclasses

from .base import Strategy
from .catalog import BASE, DEFAULT_PRESET, INIT_STRATEGIES, PRESETS, WHY  # noqa: F401 (re-exported)
from .diffaug import DiffAug
from .ewc import EWC
from .freeze_d import FreezeD
from .joint import Joint
from .l2sp import L2SP
from .multitask import MultiTask
from .projected_d import ProjectedD
from .scratch import Scratch
from .transfer_d import TransferD
from .transfer_g import TransferG

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (Scratch, TransferG, TransferD, ProjectedD, FreezeD, Joint, L2SP, EWC, MultiTask, DiffAug)
}
assert list(STRATEGIES) == list(WHY), "catalog.WHY and the strategy classes must list the same names"


def resolve(names_or_preset: str | list[str]) -> list[str]:
    """A preset name, a comma-separated list, or a list of strategy names -> strategy names."""
    if isinstance(names_or_preset, str):
        if names_or_preset in PRESETS:
            return list(PRESETS[names_or_preset][0])
        names_or_preset = [n.strip() for n in names_or_preset.split(",") if n.strip()]
    unknown = [n for n in names_or_preset if n not in STRATEGIES]
    if unknown:
        raise ValueError(f"unknown strategy {unknown[0]!r}; choose from {', '.join(STRATEGIES)} "
                         f"or a preset: {', '.join(PRESETS)}")
    return list(names_or_preset)


def with_base(names: list[str]) -> tuple[list[str], str | None]:
    """Strategies as given, plus the initialisation their paper uses when none is named (so
    `--strategy freeze_d` means FreezeD on transfer_d), and a one-line note saying what was added."""
    names = resolve(names)
    if any(n in INIT_STRATEGIES for n in names) or not names:
        return names, None
    base, why = BASE[names[0]]
    return [base, *names], f"added {base} as the base for {names[0]}: {why}"


def build(names: list[str], options: dict[str, dict] | None = None, has_source: bool = True) -> list[Strategy]:
    """Instantiate strategies with per-strategy field overrides, validated and ordered."""
    names = resolve(names)
    options = options or {}
    inits = [n for n in names if n in INIT_STRATEGIES]
    if len(inits) != 1:
        raise ValueError(f"choose exactly one of {', '.join(INIT_STRATEGIES)} (got {inits or 'none'})")
    if "projected_d" in names and "freeze_d" in names:
        raise ValueError("freeze_d freezes the convolutional D's blocks; it cannot combine with projected_d")
    strategies = []
    for name in dict.fromkeys(names):  # drop repeats, keep order
        cls = STRATEGIES[name]
        if cls.needs_source and not has_source:
            raise ValueError(f"{name} needs a source model; pick one (or use 'scratch')")
        strategies.append(cls(**_coerce(cls, options.get(name, {}))))
    return sorted(strategies, key=lambda s: s.order)


def _coerce(cls: type[Strategy], values: dict) -> dict:
    """Cast option values to each field's type, with a clear error for unknown or bad fields."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for key, value in values.items():
        if key not in fields:
            raise ValueError(f"{cls.name} has no option {key!r}; its options: {', '.join(fields) or 'none'}")
        default = fields[key].default
        try:
            out[key] = type(default)(value)
        except (TypeError, ValueError):
            raise ValueError(f"{cls.name}.{key} must be a {type(default).__name__}, got {value!r}") from None
        if isinstance(out[key], (int, float)) and not isinstance(out[key], bool) and out[key] < 0:
            raise ValueError(f"{cls.name}.{key} must not be negative, got {value!r}")
    return out


def strategy_fields(name: str) -> list[tuple[str, object, str]]:
    """(field, default, help) for the app's generated controls."""
    cls = STRATEGIES[name]
    return [(f.name, f.default, cls.fields_help.get(f.name, "")) for f in dataclasses.fields(cls)]
