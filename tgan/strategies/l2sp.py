from dataclasses import dataclass

import torch

from ..losses import squared_distance
from .base import RunModels, StepContext, Strategy, snapshot, trainable


@dataclass
class L2SP(Strategy):
    name = "l2sp"
    order = 40
    needs_source = True
    fields_help = {"lambda_g": "strength of G's pull to the source", "lambda_d": "same for D"}
    lambda_g: float = 1.0
    lambda_d: float = 0.1

    def setup(self, run: RunModels) -> None:
        self._g_anchor = snapshot(run.G) if run.g_from_source else None
        self._d_anchor = snapshot(run.D) if run.d_from_source else None

    def g_terms(self, run: RunModels, ctx: StepContext) -> dict[str, torch.Tensor]:
        if self._g_anchor is None or self.lambda_g == 0:
            return {}
        return {"G/l2sp": self.lambda_g * squared_distance(trainable(run.G), self._g_anchor)}

    def d_terms(self, run: RunModels, ctx: StepContext) -> dict[str, torch.Tensor]:
        if self._d_anchor is None or self.lambda_d == 0:
            return {}
        return {"D/l2sp": self.lambda_d * squared_distance(trainable(run.D), self._d_anchor)}
