"""tgan: few-shot transfer learning for GANs. This is the public API used by app.py and cli.py."""
from .checkpoint import CheckpointError
from .config import ModelConfig, TrainConfig
from .data import DataError, ImageSet, load_images, pick_shots
from .events import Event, Failed, Finished, Samples, Saved, Started, Step
from .models import LoadedModel, describe_device, list_sources, load_model, load_source, pick_device
from .strategies import DEFAULT_PRESET, PRESETS, STRATEGIES, resolve, strategy_fields
from .trainer import fixed_latents, train

__version__ = "0.1.0"
__all__ = [
    "CheckpointError", "ModelConfig", "TrainConfig", "DataError", "ImageSet", "load_images",
    "pick_shots", "Event", "Failed", "Finished", "Samples", "Saved", "Started", "Step", "LoadedModel",
    "describe_device", "list_sources", "load_model", "load_source", "pick_device", "DEFAULT_PRESET",
    "PRESETS", "STRATEGIES", "resolve", "strategy_fields", "fixed_latents", "train", "__version__",
]
