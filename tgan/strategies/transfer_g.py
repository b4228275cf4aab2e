from dataclasses import dataclass

from .base import RunModels, Strategy, copy_weights


@dataclass
class TransferG(Strategy):
    name = "transfer_g"
    why = "Start G from the source generator; D starts fresh. Reuses what G knows about images."
    order = 0
    needs_source = True

    def setup(self, run: RunModels) -> None:
        copy_weights(run.G, run.source.G)
        run.g_from_source = True
