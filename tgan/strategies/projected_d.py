from dataclasses import dataclass

from .base import RunModels, Strategy
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
                               "average away; 'off': the four taps of Projected GAN"}
    head_width: int = 64
    mixing: str = "none"
    pixel_d: str = "none"
    stem_tap: str = "off"

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
