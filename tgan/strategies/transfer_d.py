from dataclasses import dataclass

from torch import nn

from .base import RunModels, Strategy, copy_weights

BATCH_STATS = ("source", "batch")


@dataclass
class TransferD(Strategy):
    name = "transfer_d"
    order = 0
    needs_source = True
    fields_help = {"batch_stats": "D's BatchNorm on the shots: 'source' keeps the source's statistics "
                                  "fixed (a normalisation-free D, as in the papers), 'batch' "
                                  "re-estimates them from each batch (DCGAN pretraining)"}
    batch_stats: str = "source"

    def setup(self, run: RunModels) -> None:
        if self.batch_stats not in BATCH_STATS:
            raise ValueError(f"batch_stats must be one of {', '.join(BATCH_STATS)}, got {self.batch_stats!r}")
        copy_weights(run.G, run.source.G)
        run.g_from_source = True
        if hasattr(run.D, "blocks") and hasattr(run.source.D, "blocks"):
            copy_weights(run.D, run.source.D)
            run.d_from_source = True
            if self.batch_stats == "source":
                freeze_batch_statistics(run.D)


def freeze_batch_statistics(D: nn.Module) -> None:
    """Put D's BatchNorm layers in eval mode: they keep their running statistics (the source's, after
    transfer; a fresh D's initial ones under projected_d's pixel D) as a fixed per-channel affine
    (their scale and shift still train). Why: in train mode D normalises the
    real batch, drawn from only K images, and the fake batch separately, so each gets its own
    statistics and D can tell them apart by those alone; on 10 shots this collapsed TransferGAN and
    FreezeD to one texture for every latent. The papers' discriminators have no batch statistics
    (TransferGAN: a WGAN-GP critic; FreezeD: StyleGAN and SNGAN). Nothing in training calls
    D.train() again, so the mode holds for the whole run (and is re-applied on resume)."""
    for module in D.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
