from dataclasses import dataclass

from .base import RunModels, Strategy, copy_weights


@dataclass
class TransferG(Strategy):
    name = "transfer_g"
    order = 0
    needs_source = True

    def setup(self, run: RunModels) -> None:
        copy_weights(run.G, run.source.G)
        run.g_from_source = True
