from dataclasses import dataclass

from .base import RunModels, Strategy


@dataclass
class ProjectedD(Strategy):
    name = "projected_d"
    order = 10
    fields_help = {"head_width": "channels of each trainable head on a feature tap",
                   "mixing": "'random': mix the features by fixed random convolutions before the heads "
                             "(Projected GAN's CCM + CSM); 'none': each head sees its own tap"}
    head_width: int = 64
    mixing: str = "none"

    def __post_init__(self):
        if self.mixing not in ("none", "random"):
            raise ValueError(f"projected_d.mixing must be 'none' or 'random', not {self.mixing!r}")

    def setup(self, run: RunModels) -> None:
        from ..features import ProjectedDiscriminator  # imported here: only this strategy needs it

        resolution = run.G.cfg.resolution
        run.D = ProjectedDiscriminator(resolution, head_width=self.head_width,
                                       mixing=self.mixing == "random").to(run.device)
        run.d_from_source = False
