from dataclasses import dataclass

from .base import RunModels, Strategy


@dataclass
class Joint(Strategy):
    name = "joint"
    order = 30
    fields_help = {"pretrained_lr_mult": "learning-rate factor for the ImageNet backbone weights"}
    pretrained_lr_mult: float = 0.1

    def setup(self, run: RunModels) -> None:
        run.G.requires_grad_(True)
        run.D.requires_grad_(True)
        prefix = getattr(run.D, "pretrained_prefix", None)
        if prefix:
            run.lr_multipliers["D." + prefix] = self.pretrained_lr_mult
