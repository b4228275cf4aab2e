from dataclasses import dataclass

from .base import RunModels, Strategy, copy_weights


@dataclass
class TransferD(Strategy):
    name = "transfer_d"
    order = 0
    needs_source = True

    def setup(self, run: RunModels) -> None:
        copy_weights(run.G, run.source.G)
        run.g_from_source = True
        if hasattr(run.D, "blocks") and hasattr(run.source.D, "blocks"):
            copy_weights(run.D, run.source.D)
            run.d_from_source = True
