from dataclasses import dataclass

import torch

from ..losses import pairwise_similarity_kl
from .base import RunModels, StepContext, Strategy


@dataclass
class MultiTask(Strategy):
    """Keep the source's supervision as an auxiliary task: the cross-domain correspondence loss
    (CDC, Ojha et al. 2021). For the same latents, the frozen source G's intermediate features
    define how similar each sample is to the others; the adapted G is asked to keep those
    relative similarities. This preserves the source's diversity (which latent gives which kind
    of image) while the adversarial loss moves the style to the target: it is the auxiliary
    loss that most directly fights few-shot mode collapse."""

    name = "multitask"
    order = 40
    needs_source = True
    fields_help = {"lambda_cdc": "weight of the correspondence loss"}
    # The paper's weight. Its code weighs the KL by 1000 under a mean over every (anchor, other)
    # pair of a 4-sample batch, which is 1000 / 3 = 333 per anchor; this loss averages per anchor
    # (batchmean), where the per-row KL of a softmax over cosine similarities hardly depends on
    # the batch size. (The weight was 1 here until 2026-12-08, which left the loss near zero.)
    lambda_cdc: float = 333.0

    def setup(self, run: RunModels) -> None:
        if not run.g_from_source:
            raise ValueError("multitask needs G initialised from the source (transfer_g or transfer_d)")

    def g_terms(self, run: RunModels, ctx: StepContext) -> dict[str, torch.Tensor]:
        if ctx.g_features is None or ctx.z.size(0) < 3 or self.lambda_cdc == 0:
            return {}
        with torch.no_grad():
            src = run.source.G
            _, src_features = src.synthesis(src.mapping(ctx.z), return_features=True)
        # Inner blocks only: the first is nearly a constant map, the last is pixel-level style.
        pairs = list(zip(src_features, ctx.g_features))[1:-1] or list(zip(src_features, ctx.g_features))
        loss = sum(pairwise_similarity_kl(s.flatten(1), t.flatten(1)) for s, t in pairs) / len(pairs)
        return {"G/cdc": self.lambda_cdc * loss}
