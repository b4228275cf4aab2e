from dataclasses import dataclass

import torch

from ..augment import diff_augment
from .base import Strategy


@dataclass
class DiffAug(Strategy):
    name = "diffaug"
    order = 60
    fields_help = {"policy": "which augmentations: color, translation, cutout"}
    policy: str = "color,translation,cutout"

    def augment(self, x: torch.Tensor, generator: torch.Generator | None = None, rows=None) -> torch.Tensor:
        return diff_augment(x, self.policy, generator, rows)
