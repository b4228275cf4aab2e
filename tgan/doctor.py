"""The dataset doctor: what in a set of images would quietly spoil a few-shot run, file by file.

Checks, each naming the file and what tgan does about it:
- refused files (unreadable, too small) and exact duplicates (the loader already skips and drops them);
- near-duplicates: images whose pixels (at 16x16, as a perceptual hash would) are closer than
  NEAR x the set's median nearest-neighbour distance (the later file is dropped from training; it
  adds weight, not variety);
- transparent images (composited on white), non-square ones (centre-cropped), tiny ones
  (upscaled), grey or one-colour ones;
- outliers: an image whose nearest neighbour is much further than the others' (robust z-score of
  nearest-neighbour cosine distances of Inception features above OUTLIER_Z), e.g. a photo among
  line drawings: a semantic check, where the random CNN only sees colour and texture statistics
  (it gave a colour emoji among line-art faces z = 1.5, Inception z = 8);
- too few images for the shots asked for."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from .data import ImageSet, display_name

NEAR = 0.3  # near-duplicate: pixel nearest-neighbour distance below this share of the set's median
OUTLIER_Z = 3.5  # robust z-score (median / MAD) of an image's nearest-neighbour distance
GREY_SPREAD = 8.0  # std of the pixel values (0-255) below which an image is one flat colour
COLOURLESS = 3.0  # mean |R-G|, |G-B| below which an image is greyscale


@dataclass(frozen=True)
class Finding:
    file: str
    kind: str  # refused (unreadable, too small...), duplicate, near-duplicate, transparent, non-square, tiny, grey, outlier, too few
    detail: str
    action: str

    def row(self) -> dict:
        return asdict(self)


def examine(images: ImageSet, shots: int | None = None) -> tuple[list[Finding], list[int]]:
    """(findings, indices of the images to train on: near-duplicates left out)."""
    found = [Finding(display_name(n), "refused", why, "skipped") for n, why in images.rejected]
    found += [Finding(display_name(n), "duplicate", "an exact copy of an earlier image", "dropped")
              for n in images.duplicates]
    resolution = images.images.shape[-1]
    names = [display_name(n) for n in images.names]
    for name, o in zip(names, images.originals):
        if o.transparent:
            found.append(Finding(name, "transparent", "has transparent pixels", "composited on white (see the preview)"))
        if o.width != o.height:
            found.append(Finding(name, "non-square", f"{o.width}x{o.height}",
                                 "centre-cropped to a square: the edges of its long side are cut off"))
        if min(o.width, o.height) < resolution:
            found.append(Finding(name, "tiny", f"{o.width}x{o.height}, smaller than {resolution} px",
                                 f"upscaled to {resolution} px: it will look blurry to the model"))
    pixels = images.images.float()  # (N, 3, R, R) 0-255
    spread = pixels.flatten(1).std(1)
    colour = (pixels[:, 0] - pixels[:, 1]).abs().mean((1, 2)) + (pixels[:, 1] - pixels[:, 2]).abs().mean((1, 2))
    for i, name in enumerate(names):
        if spread[i] < GREY_SPREAD:
            found.append(Finding(name, "grey", "one flat colour", "kept; it teaches the model nothing: remove it"))
        elif colour[i] < COLOURLESS and colour.median() >= 4 * COLOURLESS:
            found.append(Finding(name, "grey", "greyscale in a set of colour images", "kept; remove it if it is a stray"))
    keep = list(range(len(names)))
    if len(names) >= 3:
        near, outliers = _neighbours(images)
        for i, j in near:
            found.append(Finding(names[i], "near-duplicate", f"nearly the same as {names[j]}", "dropped from training"))
        keep = [i for i in keep if i not in {i for i, _ in near}]
        for i, z in outliers:
            found.append(Finding(names[i], "outlier", f"far from every other image (z = {z:.1f})",
                                 "kept; remove it if it does not belong"))
    if shots and len(keep) < shots:
        found.append(Finding("(the set)", "too few", f"{len(keep)} usable images for {shots} shots",
                             f"trains on {len(keep)}; run `tgan advise` for a step count that suits them"))
    return found, keep


def _neighbours(images: ImageSet) -> tuple[list[tuple[int, int]], list[tuple[int, float]]]:
    """Near-duplicate pairs (later index, earlier index), by pixels, and outliers (index, z), by
    Inception features."""
    from .metrics import InceptionFeatures

    small = torch.nn.functional.interpolate(images.as_float(), size=(16, 16), mode="area").flatten(1)  # (N, 768)
    nearest, which = _nearest(small)
    median = float(nearest.median())
    near = [(i, int(which[i])) for i in range(len(small)) if nearest[i] < NEAR * median and int(which[i]) < i]
    feats = torch.nn.functional.normalize(torch.as_tensor(InceptionFeatures("cpu")(images.as_float())), dim=1)
    nearest, _ = _nearest(feats)  # on the unit sphere: a monotone function of cosine distance
    median = float(nearest.median())
    mad = float((nearest - median).abs().median()) or 1e-8
    z = (nearest - median) / (1.4826 * mad)
    return near, [(i, float(z[i])) for i in range(len(z)) if z[i] > OUTLIER_Z]


def _nearest(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's distance to its nearest other row, and which row that is."""
    return torch.cdist(x, x).fill_diagonal_(float("inf")).min(1)
