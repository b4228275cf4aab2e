"""Transfer strategies: one small class per method, a registry, and presets (see catalog.py).
Names load on first use, so reading the catalog does not import torch."""
from __future__ import annotations

import importlib

_WHERE = {
    "RunModels": "base", "SourceModels": "base", "StepContext": "base", "Strategy": "base",
    "DEFAULT_PRESET": "catalog", "PRESETS": "catalog", "PRESET_LR": "catalog", "WHY": "catalog",
    "preset_lr": "catalog", "preset_options": "catalog", "with_options": "catalog",
    "STRATEGIES": "registry", "build": "registry", "with_base": "registry", "resolve": "registry", "strategy_fields": "registry",
}
__all__ = list(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'tgan.strategies' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value
