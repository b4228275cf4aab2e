"""tgan: few-shot transfer learning for GANs. This is the public API used by app.py and cli.py.

Names are imported on first use (PEP 562), so `import tgan` and the quick CLI commands
(`tgan --help`, `tgan strategies`) do not pay for torch until something needs it."""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_WHERE = {  # public name -> the module that defines it
    "CheckpointError": "errors", "DataError": "errors",
    "ModelConfig": "config", "TrainConfig": "config",
    "ImageSet": "data", "load_images": "data", "pick_shots": "subsets",
    "Event": "events", "Failed": "events", "Finished": "events", "Samples": "events", "Saved": "events",
    "Started": "events", "Step": "events", "ChunkEnded": "events",
    "LoadedModel": "models", "describe_device": "models", "list_sources": "models", "load_model": "models",
    "load_source": "models", "pick_device": "models",
    "DEFAULT_PRESET": "strategies.catalog", "PRESETS": "strategies.catalog",
    "STRATEGIES": "strategies.registry", "resolve": "strategies.registry",
    "strategy_fields": "strategies.registry",
    "fixed_latents": "training_run", "train": "trainer", "train_chunk": "trainer",
    "TrainState": "train_state", "load_train_state": "train_state", "save_train_state": "train_state",
    "StopFile": "stop_signal",
}
__all__ = [*_WHERE, "__version__"]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'tgan' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
