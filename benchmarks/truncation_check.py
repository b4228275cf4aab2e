"""Do samples stay sharp and typical under truncation? Writes truncation_check.md.

    python benchmarks/truncation_check.py --data-dir DIR [--models checkpoints/emoji pretraining/emoji]

For each model and psi in (1.0, 0.7, 0.5), 200 seeds' samples are measured against a seeded random
200 of its training images (source-<name>.zip, the name read from the model folder):
- contrast: mean per-image standard deviation of the pixels (a faint or blank image has little);
- sharpness: mean absolute Laplacian (a blurry or flat image has little);
- KID in the random-CNN space (typical images keep it low).
Real images' contrast and sharpness are the reference. A DCGAN source has no mapping network, so
its mean latent is the zero vector; the lerp toward it faded the images (contrast 0.31 at psi 0.5
against 0.55 real, emoji), so such models truncate along the sphere toward anchors instead
(tgan/truncation.py).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from tgan import load_images, load_model, metrics
from tgan.subsets import random_subset
from tgan.random_features import RandomCNNFeatures
from tgan.sampling import sample_seeds, truncation_centre

HERE = Path(__file__).parent
LAPLACE = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)


def contrast(images: torch.Tensor) -> float:
    return float(images.flatten(1).std(1).mean())


def sharpness(images: torch.Tensor) -> float:
    grey = images.mean(1, keepdim=True)  # (N, 1, H, W)
    return float(F.conv2d(grey, LAPLACE).abs().mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--models", nargs="+", type=Path,
                   default=[Path("checkpoints/emoji"), Path("pretraining/emoji")])
    p.add_argument("--n", type=int, default=200)
    a = p.parse_args()
    space = RandomCNNFeatures()
    lines = ["# Truncation check", "", f"Regenerate: `python benchmarks/truncation_check.py --data-dir DIR "
             f"--models {' '.join(map(str, a.models))}`. {a.n} samples per row; KID in the random-CNN "
             "space against a seeded random sample of the model's training images.", "",
             "| model | family | psi | contrast | sharpness | KID (random-cnn) ×10³ |", "|---|---|---|---:|---:|---:|"]
    for folder in a.models:
        model = load_model(folder, device="cpu")
        name = folder.name
        real = random_subset(load_images(a.data_dir / f"source-{name}.zip", model.model_config.resolution,
                                         max_images=None), a.n, seed=0).as_float()
        real_feats = space(real)
        lines.append(f"| {folder} (real images) | | | {contrast(real):.3f} | {sharpness(real):.3f} | |")
        centre = truncation_centre(model.G_ema)
        for psi in (1.0, 0.7, 0.5):
            fake = sample_seeds(model.G_ema, range(a.n), psi=psi, w_avg=centre)
            kid = metrics.kid(space(fake), real_feats, n_subsets=50)[0]
            lines.append(f"| {folder} | {model.model_config.family} | {psi} | {contrast(fake):.3f} "
                         f"| {sharpness(fake):.3f} | {1e3 * kid:.1f} |")
            print(lines[-1])
    (HERE / "truncation_check.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
