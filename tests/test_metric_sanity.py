"""A small version of benchmarks/metric_sanity.py, in the random-CNN space (Inception's real path
is exercised by test_eval_cli; here it would only add minutes)."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from tgan import sanity
from tgan.random_features import RandomCNNFeatures

PALETTE = [(220, 30, 30), (30, 160, 40), (30, 60, 220)]  # saturated: a hue shift changes the set


def palette_shapes(n: int, seed: int) -> torch.Tensor:
    """Sharp-edged ellipses and boxes in three saturated colours on white, (N, 3, 64, 64) in [-1, 1]."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        img = Image.new("RGB", (64, 64), "white")
        draw = ImageDraw.Draw(img)
        for _ in range(3):
            x0, y0 = rng.integers(0, 36, 2)
            x1, y1 = (x0, y0) + rng.integers(12, 28, 2)
            fill = PALETTE[int(rng.integers(len(PALETTE)))]
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=fill)
        out.append(np.asarray(img))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def test_sanity_table_orders_corruptions_and_flags_copies():
    reference, real, shots = palette_shapes(80, 1), palette_shapes(80, 2), palette_shapes(6, 3)
    rows = sanity.run_sanity(reference, real, shots, extractors={"random-cnn": RandomCNNFeatures()})
    assert [r.condition for r in rows] == ["real vs real", "blur 1", "blur 2", "noise 1", "noise 2",
                                           "colour shift 1", "colour shift 2", "shots copied"]
    checks = sanity.checks(rows, "random-cnn")
    assert all(checks.values()), checks
    copies = next(r for r in rows if r.condition == "shots copied")
    # Copies sit at (numerically almost) zero distance from the shots: far above the ~1 of fresh images.
    assert copies.scores["random-cnn"]["memorisation"] > 100
    assert "| blur 2 |" in sanity.table(rows, ["random-cnn"])
