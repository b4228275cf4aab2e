"""The markdown and HTML the app shows: training progress and result, the image-set report, the
source summary and the KID table. tgan/appkit returns data; this module turns it into text."""
import math

from tgan import Failed, Finished, ImageSet
from tgan import appkit as sup


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


def source_summary(name: str | None) -> tuple:
    """(preview grid, markdown) for the source picker."""
    if not name:
        return None, "No source: the run starts from random weights (use the *from scratch* preset)."
    handle = sup.source_handle(name)
    model = sup.load_model_config(handle.path)
    line = sup.model_card_line(handle.path) or "(no model card yet)"
    step = f", {handle.step:,} pretraining steps" if handle.step else ""
    return handle.preview(), (f"**{name}** — {model.resolution} px, z {model.z_dim}, "
                              f"G width {model.g_width}{step}.  \n{line}")
