"""Build networks from configs and load saved models (sources and fine-tuned runs)."""
from __future__ import annotations

import copy
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .checkpoint import CheckpointError, load_module_state, read_config, read_tensors, split_prefix
from .config import ModelConfig, from_dict
from . import nets, nets_r3
from .strategies import SourceModels


_FAMILIES = {"dcgan": nets, "r3gan": nets_r3}


def build_generator(mcfg: ModelConfig) -> nn.Module:
    """The generator of the config's network family (dcgan: nets.py, r3gan: nets_r3.py)."""
    return _FAMILIES[mcfg.family].Generator(mcfg)


def build_discriminator(mcfg: ModelConfig) -> nn.Module:
    return _FAMILIES[mcfg.family].Discriminator(mcfg)


def pick_device(device: str | torch.device | None = None) -> torch.device:
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    threads = torch.get_num_threads()
    return f"CPU ({threads} thread{'s' if threads > 1 else ''})"


@dataclass
class LoadedModel:
    path: Path
    config: dict  # the whole config.json
    model_config: ModelConfig
    G_ema: nn.Module  # eval mode, for sampling
    G: nn.Module | None  # present when saved (training copy)
    D: nn.Module | None  # present for the conv D (sources and conv-D runs)

    @property
    def name(self) -> str:
        return self.path.name


def _model_config(config: dict, path) -> ModelConfig:
    try:
        return from_dict(ModelConfig, config["model"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: bad 'model' section in config.json ({exc})") from None


def load_model(path, device=None) -> LoadedModel:
    """Load a run/source folder. Checks keys and shapes; never unpickles anything."""
    path = Path(path)
    config = read_config(path)
    mcfg = _model_config(config, path)
    tensors = read_tensors(path)
    device = pick_device(device)
    nets = {}
    for prefix in ("G_ema", "G", "D"):
        state = split_prefix(tensors, prefix)
        if not state:
            continue
        if prefix == "D" and config.get("d_kind", "conv") != "conv":
            continue  # a projected D is rebuilt by its strategy; its heads are only for resuming
        net = build_discriminator(mcfg) if prefix == "D" else build_generator(mcfg)
        load_module_state(net, state, f"{path.name}/model.safetensors [{prefix}]")
        nets[prefix] = net.to(device)
    if "G_ema" not in nets:
        raise CheckpointError(f"{path}: model.safetensors has no G_ema tensors")
    nets["G_ema"].eval().requires_grad_(False)
    return LoadedModel(path, config, mcfg, nets["G_ema"], nets.get("G"), nets.get("D"))


def generator_from_tensors(model: dict, tensors: dict[str, torch.Tensor], prefix: str = "G_ema",
                           label: str = "the run") -> nn.Module:
    """A CPU generator in eval mode from a config's "model" section and "<prefix>.*" tensors
    (e.g. a TrainState's), without touching the disk."""
    G = build_generator(_model_config({"model": model}, label))
    load_module_state(G, split_prefix(tensors, prefix), f"{label} [{prefix}]")
    return G.eval().requires_grad_(False)


def load_source(path, device=None) -> SourceModels:
    """A source for transfer: its G_ema (what people see) and its D, both frozen."""
    model = load_model(path, device)
    if model.D is None:
        raise CheckpointError(f"{path}: has no discriminator (D.*); sources must ship D for transfer")
    model.D.eval().requires_grad_(False)
    flip = model.config.get("train", {}).get("flip", True)  # sources saved without it were flipped
    return SourceModels(model.name, model.config["model"], model.G_ema, model.D, flip=bool(flip))


_INIT_LOCK = threading.RLock()  # re-entrant: a run seeds its build and its strategies' setup together


@contextmanager
def seeded_init(seed: int):
    """torch's layer initialisers draw from the global RNG. Seed it for the block, one run at a
    time, and put it back afterwards, so concurrent runs are each reproducible and nothing else in
    the process sees its random stream moved."""
    with _INIT_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def fresh_models(mcfg: ModelConfig, seed: int, device) -> tuple[nn.Module, nn.Module]:
    """Newly initialised G and D, the same for the same seed."""
    with seeded_init(seed):
        return build_generator(mcfg).to(device), build_discriminator(mcfg).to(device)


def ema_copy(G: nn.Module) -> nn.Module:
    return copy.deepcopy(G).eval().requires_grad_(False)


def list_sources(root) -> list[Path]:
    """Folders under `root` that look like models (config.json + model.safetensors)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir()
                  if (p / "config.json").is_file() and (p / "model.safetensors").is_file())
