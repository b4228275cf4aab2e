from .base import RunModels, SourceModels, StepContext, Strategy
from .registry import DEFAULT_PRESET, PRESETS, STRATEGIES, build, resolve, strategy_fields

__all__ = ["RunModels", "SourceModels", "StepContext", "Strategy", "DEFAULT_PRESET", "PRESETS",
           "STRATEGIES", "build", "resolve", "strategy_fields"]
