from dataclasses import dataclass

import torch

from .base import RunModels, StepContext, Strategy
from .transfer_d import freeze_batch_statistics

# option -> its allowed values, the default first
CHOICES = {"mixing": ("none", "random"), "pixel_d": ("none", "conv"), "stem_tap": ("off", "on")}


@dataclass
class ProjectedD(Strategy):
    name = "projected_d"
    order = 10
    fields_help = {"head_width": "channels of each trainable head on a feature tap",
                   "mixing": "'random': mix the features by fixed random convolutions before the heads "
                             "(Projected GAN's CCM + CSM); 'none': each head sees its own tap",
                   "pixel_d": "'conv': keep the convolutional D on the pixels beside the heads, each with "
                              "its own loss (Vision-aided GAN); from the source with transfer_d; "
                              "'none': the heads alone",
                   "stem_tap": "'on': one more head on the backbone's stride-2 stem, which sees the "
                               "finest detail (stripes, thin lines) that the stride-4 to 32 taps "
                               "average away; 'off': the four taps of Projected GAN",
                   "feature_matching": "weight of a feature-matching term for G (Salimans et al. 2016): "
                                       "the fakes' mean backbone features pulled to the reals', per tap; "
                                       "0: off"}
    head_width: int = 64
    mixing: str = "none"
    pixel_d: str = "none"
    stem_tap: str = "off"
    feature_matching: float = 0.0

    def __post_init__(self):
        for option, allowed in CHOICES.items():
            value = getattr(self, option)
            if value not in allowed:
                raise ValueError(f"projected_d.{option} must be {' or '.join(map(repr, allowed))}, not {value!r}")
        if self.mixing == "random" and self.stem_tap == "on":  # the mixing's widths are made for the four taps
            raise ValueError("projected_d.stem_tap=on does not combine with mixing=random (Projected GAN's "
                             "mixing is built for the four stage taps); choose one of them")

    def setup(self, run: RunModels) -> None:
        from ..features import ProjectedDiscriminator  # imported here: only this strategy needs it

        pixel_d = None
        if self.pixel_d == "conv":
            # The D this run had so far: the source's under transfer_d (which set its BatchNorm
            # mode), else a fresh one, whose BatchNorm then keeps fixed statistics too: batch
            # statistics of a few shots would tell reals from fakes by themselves.
            pixel_d = run.D
            if not run.d_from_source:
                freeze_batch_statistics(pixel_d)
        resolution = run.G.cfg.resolution
        run.D = ProjectedDiscriminator(resolution, head_width=self.head_width,
                                       mixing=self.mixing == "random", pixel_d=pixel_d,
                                       stem_tap=self.stem_tap == "on").to(run.device)
        run.d_from_source = False

    @property
    def needs_backbone_taps(self) -> bool:
        return self.feature_matching > 0

    def g_terms(self, run: RunModels, ctx: StepContext) -> dict[str, torch.Tensor]:
        if self.feature_matching == 0 or ctx.d_taps is None:
            return {}
        reals, fakes = ctx.d_taps
        n = len(run.D.heads)  # the taps the heads judge; a pixel D's image comes after them
        return {"G/fm": self.feature_matching * sum(
            _mean_feature_gap(r, f) for r, f in zip(reals[:n], fakes[:n])) / n}


def _mean_feature_gap(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Squared distance between the batch's per-channel mean features, reals (B, C, h, w) without a graph,
    fakes with G's graph, over the reals' mean per-channel variance: a tap's scale (ReLU6 maps of
    different depths) then does not decide its weight."""
    gap = (fake.float().mean(dim=(0, 2, 3)) - real.float().mean(dim=(0, 2, 3))).pow(2).mean()  # scalar
    return gap / (real.float().var(dim=(0, 2, 3)).mean() + 1e-6)
