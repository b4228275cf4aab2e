from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..losses import squared_distance
from .base import RunModels, StepContext, Strategy, snapshot, trainable


@dataclass
class EWC(Strategy):
    name = "ewc"
    order = 40
    needs_source = True
    fields_help = {"lambda_g": "strength of the Fisher-weighted pull to the source",
                   "fisher_batches": "source batches used to estimate the Fisher information"}
    lambda_g: float = 5.0
    fisher_batches: int = 8
    fisher_batch_size: int = 16

    def setup(self, run: RunModels) -> None:
        if not run.g_from_source:
            raise ValueError("ewc needs G initialised from the source (combine with transfer_g or transfer_d)")
        self._anchor = snapshot(run.G)
        self._fisher = self._estimate_fisher(run)

    def _estimate_fisher(self, run: RunModels) -> dict[str, torch.Tensor]:
        """Diagonal Fisher: E[(d log p(real | G(z)) / d theta)^2], with p from the source D."""
        params = trainable(run.G)
        fisher = {n: torch.zeros_like(p) for n, p in params.items()}
        gen = torch.Generator().manual_seed(1234)  # the Fisher is a property of the source: fixed
        D = run.source.D
        for _ in range(self.fisher_batches):
            z = torch.randn(self.fisher_batch_size, run.G.cfg.z_dim, generator=gen).to(run.device)
            nll = F.softplus(-D(run.G(z))).mean()  # -log sigmoid(D(G(z)))
            grads = torch.autograd.grad(nll, list(params.values()), allow_unused=True)
            for (n, _), g in zip(params.items(), grads):
                if g is not None:
                    fisher[n] += g.detach().pow(2) / self.fisher_batches
        # Normalise to mean 1 so lambda_g reads like an L2-SP strength.
        mean = torch.cat([f.flatten() for f in fisher.values()]).mean().clamp_min(1e-20)
        return {n: f / mean for n, f in fisher.items()}

    def g_terms(self, run: RunModels, ctx: StepContext) -> dict[str, torch.Tensor]:
        return {"G/ewc": self.lambda_g * squared_distance(trainable(run.G), self._anchor, self._fisher)}
