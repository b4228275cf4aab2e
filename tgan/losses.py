"""Pure tensor loss functions. Each returns a scalar tensor."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def d_hinge(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hinge loss for D (SAGAN/BigGAN): push reals above +1 and fakes below -1."""
    return F.relu(1.0 - real_logits).mean(), F.relu(1.0 + fake_logits).mean()


def g_hinge(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


def d_rpgan(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Relativistic pairing loss for D (Jolicoeur-Martineau 2019; R3GAN): each real should score
    above the fake it is paired with. softplus(-(D(x) - D(G(z)))) averaged over the pairs."""
    return F.softplus(fake_logits - real_logits).mean()


def g_rpgan(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The same pairing seen from G: each fake should score above its real."""
    return F.softplus(real_logits - fake_logits).mean()


def zero_centred_penalty(logits: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """E|grad_x D(x)|^2 at the given inputs (R1 on reals, R2 on fakes; Mescheder et al. 2018).
    `inputs` must require grad and `logits` must come from them; the graph is kept for backward."""
    (grad,) = torch.autograd.grad(logits.float().sum(), inputs, create_graph=True)
    return grad.float().pow(2).flatten(1).sum(1).mean()


def squared_distance(params: dict[str, torch.Tensor], anchor: dict[str, torch.Tensor],
                     weights: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """sum_i w_i (theta_i - theta_src_i)^2 over the named parameters (L2-SP; EWC with weights)."""
    total = None
    for name, p in params.items():
        diff = (p - anchor[name]).pow(2)
        if weights is not None:
            diff = diff * weights[name]
        total = diff.sum() if total is None else total + diff.sum()
    return total if total is not None else torch.zeros(())


def pairwise_similarity_kl(feats_src: torch.Tensor, feats_tgt: torch.Tensor) -> torch.Tensor:
    """Cross-domain correspondence (Ojha et al. 2021): make each sample's softmax over its cosine
    similarities to the other samples in the batch match between the source and adapted G.
    feats_*: (B, D) flattened activations for the same latents. Returns KL(src || tgt)."""
    b = feats_src.size(0)
    off_diag = ~torch.eye(b, dtype=torch.bool, device=feats_src.device)

    def log_probs(f: torch.Tensor) -> torch.Tensor:
        f = F.normalize(f.float(), dim=1)
        sim = (f @ f.t())[off_diag].view(b, b - 1)  # (B, B-1) similarities to the others
        return F.log_softmax(sim, dim=1)

    return F.kl_div(log_probs(feats_tgt), log_probs(feats_src), log_target=True, reduction="batchmean")
