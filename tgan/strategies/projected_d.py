from dataclasses import dataclass

from .base import RunModels, Strategy


@dataclass
class ProjectedD(Strategy):
    name = "projected_d"
    order = 10
    fields_help = {"head_width": "channels of each trainable head on a feature tap"}
    head_width: int = 64

    def setup(self, run: RunModels) -> None:
        from ..features import ProjectedDiscriminator  # imported here: only this strategy needs it

        resolution = run.G.cfg.resolution
        run.D = ProjectedDiscriminator(resolution, head_width=self.head_width).to(run.device)
        run.d_from_source = False
