from dataclasses import dataclass

from .base import RunModels, Strategy


@dataclass
class FreezeD(Strategy):
    name = "freeze_d"
    order = 20
    fields_help = {"frozen_blocks": "how many of D's lowest blocks stay fixed"}
    frozen_blocks: int = 2

    def setup(self, run: RunModels) -> None:
        blocks = getattr(run.D, "blocks", None)
        if blocks is None:
            raise ValueError("freeze_d needs the convolutional D; it cannot combine with projected_d")
        if not 0 <= self.frozen_blocks <= len(blocks):
            raise ValueError(f"frozen_blocks must be in [0, {len(blocks)}], got {self.frozen_blocks}")
        for block in list(blocks)[: self.frozen_blocks]:
            block.requires_grad_(False)
