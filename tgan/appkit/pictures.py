"""Pictures and text for the UI: upscaled PIL images, grids, the interpolation point, and
the markdown/HTML the app shows (progress, results, image-set and KID reports)."""
from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image

from .. import sampling
from ..data import ImageSet, load_images
from ..events import Failed, Finished
from .files import load_model_config, source_path


# ----------------------------------------------------------------------------- pictures

def display(img: Image.Image, target: int = 256) -> Image.Image:
    """Nearest-neighbour upscale so small GAN images stay crisp on screen."""
    factor = max(1, round(target / max(img.width, img.height)))
    return sampling.upscale(img, factor) if factor > 1 else img


def to_pils(images: torch.Tensor, target: int = 64) -> list[Image.Image]:
    return [display(Image.fromarray(a), target) for a in sampling.to_uint8(images)]


def grid(images: torch.Tensor, target: int = 512) -> Image.Image:
    return display(sampling.grid_image(images), target)


def latent_at(z: torch.Tensor, t: float) -> torch.Tensor:
    """The point at fraction t in [0, 1] of the slerp path through z (K, z_dim) that
    sampling.path_latents samples at evenly spaced frames. -> (1, z_dim)"""
    segments = len(z) - 1
    if segments < 1:
        raise ValueError("interpolation needs at least two seeds")
    pos = min(max(float(t), 0.0), 1.0) * segments
    i = min(int(pos), segments - 1)
    return sampling.slerp(z[i], z[i + 1], pos - i).unsqueeze(0)


# ----------------------------------------------------------------------------- text for the UI

def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def progress_html(step: int, total: int, sec_per_step: float | None = None, eta: float | None = None) -> str:
    pct = 100.0 * step / max(total, 1)
    speed = f" · {sec_per_step:.2f} s/step · ETA {format_duration(eta)}" if sec_per_step is not None else ""
    return (f'<div class="tgan-progress"><div style="width:{pct:.1f}%"></div></div>'
            f'<p class="tgan-progress-text">step {step} / {total}{speed}</p>')


def describe_result(result: Finished | Failed, elapsed: float | None = None) -> str:
    took = f" in {format_duration(elapsed)}" if elapsed else ""
    if isinstance(result, Failed):
        kept = " The last good weights are kept." if result.path else ""
        return f"**Training failed** at step {result.step}: {result.message}{kept}"
    if result.stopped:
        return (f"**Stopped** at step {result.step}{took}; the model so far is saved. "
                "Explore it in tab 4 or download it below.")
    return f"**Done**: {result.step} steps{took}. Explore the model in tab 4, score it, or download it below."


def _code(name: str) -> str:
    return "`" + str(name).replace("`", "'") + "`"


def describe_images(imgs: ImageSet, label: str) -> str:
    """Markdown: how many images are ready, what was dropped, and each rejected file's reason."""
    n = len(imgs.names)
    lines = [f"**{n} image{'s' * (n != 1)} ready** from {label} (centre-cropped to {imgs.images.shape[-1]} px)."]
    if n < 5:
        lines.append("Fewer than 5 images: the model will mostly memorise them.")
    if imgs.duplicates:
        shown = ", ".join(imgs.duplicates[:10]) + (" …" if len(imgs.duplicates) > 10 else "")
        lines.append(f"{len(imgs.duplicates)} exact duplicate(s) dropped: {shown}")
    lines += imgs.notes
    if imgs.rejected:
        skipped = "\n".join(f"- {_code(name)}: {reason}" for name, reason in imgs.rejected[:30])
        more = f"\n- … and {len(imgs.rejected) - 30} more" if len(imgs.rejected) > 30 else ""
        lines.append(f"**{len(imgs.rejected)} file(s) skipped:**\n{skipped}{more}")
    return "\n\n".join(lines)


def kid_report(results: list[tuple[str, dict]], n_reference: int, n_samples: int) -> str:
    rows = "\n".join(f"| {label} | {1e3 * r['kid']:.1f} ± {1e3 * r['kid_std']:.1f} | {r['fid']:.0f} |"
                     for label, r in results)
    return ("| model | KID ×10³ (lower is better) | FID |\n|---|---|---|\n" + rows +
            f"\n\n{n_samples} samples vs your {n_reference} images. With only {n_reference} reference images "
            "KID is noisy (see the ±): treat differences smaller than about twice the ± as a tie, and "
            "compare runs only on the same images. FID is strongly biased at this size; it is shown "
            "for familiarity.")


def example_preview(folder: Path) -> Image.Image | None:
    """A 2x2 mosaic of an example set, for its button."""
    files = sorted(Path(folder).glob("*.png"))[:4]
    return grid(load_images(files, 64).as_float(), 192) if files else None


def resolution_of(source: str | None) -> int:
    """Training resolution: the source's, or 64 px from scratch."""
    folder = source_path(source)
    return load_model_config(folder).resolution if folder else 64
