"""Which feature space tells a copier from a generaliser, and where should the copying alarm sit?

    python benchmarks/copy_space_check.py --data-dir DIR [--targets ...] [--shots 5 10]

The monitor's memorisation (tgan.monitor) is the median distance from each sample to its nearest
shot over the median distance from each shot to its nearest other shot. This check feeds it
images whose answer is known, for each visible target (shots drawn by seed 0):
- a perfect generaliser: held-out images of the target (the rest, up to 300, seeded); it should
  read about 1;
- copiers: the shots themselves, each drawn 120 / K times with the flaws a generator that memorised
  them would add: a shift of up to 4 px, pixel noise (sigma 0.05 and 0.1 on [-1, 1]), a blur
  (down to 32 px and back), a horizontal flip (training flips, so a flipped shot is a copy too),
  and all of them at once; they should read near 0.
Each is read in four spaces: the random-CNN space, the projected discriminator's frozen
EfficientNet-Lite0 (each tap's channel means, concatenated), Inception-v3 (pool features; too
slow for the loop, here for reference), and aligned pixels (tgan.aligned_pixels: 16 px
thumbnails, the smallest distance over 1 px shifts and the mirror image). A space is better when the gap between the
generaliser and the worst copier is wider. Writes benchmarks/copy_space_check.md and .json.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from tgan import aligned_pixels, load_images, metrics, scoring  # noqa: E402
from tgan.advisor import style_features  # noqa: E402
from tgan.monitor import COPYING  # noqa: E402
from tgan.random_features import RandomCNNFeatures  # noqa: E402
from tgan.subsets import pick_shots, random_subset  # noqa: E402

TARGETS = ("emoji-3d-animals", "faces-lorelei", "kanji-gyosho")
OUT = Path(__file__).resolve().parent / "copy_space_check"
COPIES = 120  # images per copier: each shot drawn COPIES // K times


def shifted(x: torch.Tensor, g: torch.Generator, max_px: int = 4) -> torch.Tensor:
    """Each image (N, 3, R, R) moved by its own random (dy, dx) in [-max_px, max_px], edges
    filled with the border pixels (a generator would paint the background, not black)."""
    out = torch.empty_like(x)
    pad = F.pad(x, (max_px,) * 4, mode="replicate")  # (N, 3, R + 2m, R + 2m)
    r = x.shape[-1]
    for i, (dy, dx) in enumerate(torch.randint(0, 2 * max_px + 1, (len(x), 2), generator=g).tolist()):
        out[i] = pad[i, :, dy:dy + r, dx:dx + r]
    return out


def noisy(x: torch.Tensor, g: torch.Generator, sigma: float) -> torch.Tensor:
    return (x + sigma * torch.randn(x.shape, generator=g)).clamp(-1, 1)


def blurred(x: torch.Tensor) -> torch.Tensor:
    r = x.shape[-1]
    small = F.interpolate(x, size=(r // 2, r // 2), mode="bilinear", antialias=True, align_corners=False)
    return F.interpolate(small, size=(r, r), mode="bilinear", align_corners=False)


def copiers(shots: torch.Tensor) -> dict[str, torch.Tensor]:
    """shots (K, 3, R, R) in [-1, 1] -> {name: (COPIES, 3, R, R)} flawed copies."""
    g = torch.Generator().manual_seed(0)
    rep = shots.repeat(COPIES // len(shots), 1, 1, 1)
    flipped = torch.where(torch.rand(len(rep), 1, 1, 1, generator=g) < 0.5, rep.flip(-1), rep)
    return {
        "copy, shifted <= 4 px": shifted(rep, g),
        "copy, noise 0.05": noisy(rep, g, 0.05),
        "copy, noise 0.1": noisy(rep, g, 0.1),
        "copy, blurred": blurred(rep),
        "copy, flipped": flipped,
        "copy, all flaws": noisy(blurred(shifted(flipped, g)), g, 0.1),
    }


def in_features(embed):
    """A feature space's memorisation (tgan.metrics.copy_ratio, the monitor's ratio in that
    space): images (N, 3, R, R), shots (K, 3, R, R) -> float."""
    return lambda images, shots: metrics.copy_ratio(embed(images), embed(shots))


def in_aligned_pixels(images: torch.Tensor, shots: torch.Tensor) -> float:
    return aligned_pixels.ShotIndex(shots).memorisation(images)


SPACES = {"random-cnn": lambda: in_features(RandomCNNFeatures()), "backbone": lambda: in_features(style_features),
          "inception": lambda: in_features(scoring.default_extractors("cpu")["inception"]),
          "aligned pixels": lambda: in_aligned_pixels}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--targets", nargs="+", default=list(TARGETS))
    p.add_argument("--shots", nargs="+", type=int, default=[5, 10])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--spaces", nargs="+", default=list(SPACES), choices=SPACES,
                   help="inception is the slow one (about 25 min of the run on one CPU thread)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    spaces = {name: make() for name, make in SPACES.items() if name in a.spaces}
    rows = []
    for target in a.targets:
        full = load_images(a.data_dir / f"target-{target}.zip", 64)
        for k in a.shots:
            shots, rest = pick_shots(full, k, seed=0)
            shot_x = shots.as_float()
            cases = {"held-out real (generaliser)": random_subset(rest, 300, seed=0).as_float(), **copiers(shot_x)}
            for space, reading in spaces.items():
                row = {"target": target, "shots": k, "space": space}
                row.update({name: round(reading(x, shot_x), 3) for name, x in cases.items()})
                rows.append(row)
                print(json.dumps(row), flush=True)
    write(rows)


def write(rows: list[dict]) -> None:
    OUT.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    cases = [c for c in rows[0] if c not in ("target", "shots", "space")]
    lines = [f"Memorisation (median sample-to-nearest-shot / median shot-to-nearest-shot; the alarm is "
             f"< {COPYING}) of known copiers and of held-out real images.", "",
             "| target | shots | space | " + " | ".join(cases) + " | gap: real / worst copy |",
             "|---|---|---|" + "---|" * (len(cases) + 1)]
    for r in rows:
        worst = max(r[c] for c in cases[1:])
        lines.append(f"| {r['target']} | {r['shots']} | {r['space']} | " + " | ".join(str(r[c]) for c in cases)
                     + f" | {r[cases[0]] / max(worst, 1e-9):.1f} |")
    OUT.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
