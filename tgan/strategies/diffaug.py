from dataclasses import dataclass

import torch

from ..augment import FULL_POLICY, diff_augment, parse_policy
from .base import Strategy


@dataclass
class DiffAug(Strategy):
    name = "diffaug"
    order = 60
    fields_help = {"policy": "which augmentations: color, translation, cutout"}
    policy: str = FULL_POLICY

    def __post_init__(self):
        parse_policy(self.policy)  # a bad policy fails when the run is set up, not at its first step

    def augment(self, x: torch.Tensor, generator: torch.Generator | None = None, rows=None) -> torch.Tensor:
        return diff_augment(x, self.policy, generator, rows)
