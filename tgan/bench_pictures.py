"""The pictures `tgan bench` publishes: each run's sample strip, the labelled side-by-side grid
of a (target, shots) setting, and the KID-against-wall-clock plot."""
from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from .sampling import grid_image

LABEL_WIDTH = 130  # pixels left of each grid row for its label


def finite(value) -> bool:
    """A score that exists and is a number (runs record None or nan for what they could not score)."""
    return value is not None and math.isfinite(value)


# ------------------------------------------------------------------------------ sample grids

def save_strip(images: torch.Tensor, path) -> None:
    """One row of samples (N, 3, R, R) in [-1, 1] as a PNG: a row of the side-by-side grid."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    grid_image(images, nrow=max(1, len(images))).save(path)


def write_grid(out, target: str, shots: int, seed: int, rows: list[str], shot_images: torch.Tensor,
               run_name) -> Path:
    """grids/<target>-<shots>shot.png: one labelled row per run (seed `seed`) + the real shots.
    Rows are `rows` in order, then any other strip of that setting in runs/ (e.g. a peer's)."""
    runs, strips = Path(out) / "runs", []
    paths = {runs / f"{run_name(target, shots, row, seed)}.png": row for row in rows}
    for path in sorted(runs.glob(f"{target}-{shots}shot-*-seed{seed}.png")):
        if path not in paths:
            record = path.with_suffix(".json")
            paths[path] = json.loads(record.read_text()).get("row", path.stem) if record.is_file() else path.stem
    for path, row in paths.items():
        if path.is_file():
            with Image.open(path) as img:
                strips.append(("source (unadapted)" if row == "source" else row, img.convert("RGB")))
    real = shot_images.float() / 127.5 - 1.0
    strips.append((f"real shots (seed {seed})", grid_image(real, nrow=max(1, len(real)))))
    width = LABEL_WIDTH + max(img.width for _, img in strips)
    canvas = Image.new("RGB", (width, sum(img.height for _, img in strips)), "white")
    draw, font, y = ImageDraw.Draw(canvas), ImageFont.load_default(), 0
    for label, img in strips:
        canvas.paste(img, (LABEL_WIDTH, y))
        for k, part in enumerate(textwrap.wrap(label, 20)[:2]):
            draw.text((4, y + img.height // 2 - 12 + 12 * k), part, fill="black", font=font)
        y += img.height
    path = Path(out) / "grids" / f"{target}-{shots}shot.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path


# ------------------------------------------------------------------------------ plot

def plot_kid_vs_time(results: dict, path) -> Path:
    """One panel per (target, shots): KID along training wall-clock for each preset, with the
    unadapted source (dashed) and the real-vs-real floor (dotted) as horizontal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"]
    targets = list(dict.fromkeys(r["target"] for r in rows))
    shots = sorted({r["shots"] for r in rows if r["shots"] is not None}) or [None]
    fig, axes = plt.subplots(len(targets), len(shots), figsize=(max(7, 5 * len(shots)), 3.6 * len(targets)),
                             squeeze=False)
    colours = {}
    for i, target in enumerate(targets):
        floor = [r["kid"] for r in rows if r["target"] == target and r["kind"] == "floor"]
        for j, k in enumerate(shots):
            ax = axes[i][j]
            panel = [r for r in rows if r["target"] == target and r["shots"] == k]
            curves = [r for r in panel if r["kind"] != "source" and r["curve"]]
            seconds = [p["seconds"] for r in curves for p in r["curve"]]
            spread = max(seconds) / min(seconds) if seconds and min(seconds) > 0 else None
            # --curve-points 1 scores each run once, at the end of its budget: when the budgets are
            # about equal a time axis would spread the rows over a few milliseconds, so they stand
            # side by side by name instead
            by_name = spread is not None and spread < 2 and len(seconds) == len(curves)
            for r in panel:
                if r["kind"] == "source" and finite(r["kid"]):
                    ax.axhline(r["kid"], color="grey", ls="--", lw=1, label="source (unadapted)")
            for x, r in enumerate(curves):
                # tab20: more rows than tab10's ten colours; the peer gets squares, so no two look alike
                c = colours.setdefault(r["row"], plt.cm.tab20(len(colours) % 20))
                xs = [x] if by_name else [p["seconds"] for p in r["curve"]]
                ax.plot(xs, [p["kid"] for p in r["curve"]], "s--" if r["kind"] == "peer" else "o-",
                        color=c, label=r["row"])
            if spread is not None and spread > 20:
                ax.set_xscale("log")  # the peer at equal images runs for hours, the presets for minutes
            if floor and finite(floor[0]):
                ax.axhline(floor[0], color="black", ls=":", lw=1, label="real vs real (floor)")
            ax.set_title(f"{target}, {k} shots" if k else target, fontsize=10)
            if by_name:
                ax.set_xticks(range(len(curves)), [r["row"] for r in curves], rotation=20, ha="right",
                              fontsize=8)
                ax.set_xlim(-0.5, len(curves) - 0.5)
                ax.set_xlabel(f"one score per run, after {min(seconds):.0f}-{max(seconds):.0f} s of training")
            else:
                ax.set_xlabel("training wall-clock (s)")
            ax.set_ylabel("KID (lower is better)")
            ax.grid(alpha=0.3)
    handles = {}
    for ax in axes.flat:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=min(3, len(handles)), fontsize=8,
               bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.04 + 0.02 * math.ceil(len(handles) / 3), 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
