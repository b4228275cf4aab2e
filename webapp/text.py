"""The markdown and HTML the app shows: training progress and result, the image-set report, the
source summary and the KID table. tgan/appkit returns data; this module turns it into text."""
import math

from tgan import Failed, Finished, ImageSet
from tgan.monitor import COPYING, STARTING_TO_COPY
import appkit as sup

INTRO = """# tgan · few-shot GAN transfer
Teach a pretrained GAN a new style from a handful of images: **1** add 5–100 images, **2** pick a
source model and a transfer strategy, **3** watch it fine-tune live, **4** explore what it learned."""


def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def progress_html(step: int, total: int, sec_per_step: float | None = None, eta: float | None = None,
                  done: bool = False) -> str:
    """The bar and its line; a run that has ended shows no ETA (it would be stale)."""
    pct = 100.0 * step / max(total, 1)
    if done:
        speed = f" · {sec_per_step:.2f} s/step · {'finished' if step >= total else 'stopped'}" if sec_per_step else ""
    else:
        speed = f" · {sec_per_step:.2f} s/step · ETA {format_duration(eta)}" if sec_per_step is not None else ""
    return (f'<div class="tgan-progress"><div style="width:{pct:.1f}%"></div></div>'
            f'<p class="tgan-progress-text">step {step} / {total}{speed}</p>')


def describe_result(result: Finished | Failed, elapsed: float | None = None, continued_from: int | None = None) -> str:
    took = f" in {format_duration(elapsed)}" if elapsed else ""
    if continued_from is not None:
        took += f" (continued from step {continued_from})"
    if isinstance(result, Failed):
        kept = " The last good weights are kept." if result.path else ""
        return f"**Training failed** at step {result.step}: {result.message}{kept}"
    if result.stopped and result.reason:
        return f"**Stopped by the monitor** at step {result.step}{took}: {result.reason}."
    if result.stopped:
        return (f"**Stopped** at step {result.step}{took}; the model so far is saved. "
                f"Explore it in tab 4, download it below, or press *Continue from step {result.step}*.")
    return f"**Done**: {result.step} steps{took}. Explore the model in tab 4, score it, or download it below."


MONITOR_MEANING = {
    "far from the shots": "the samples are still far from your images (normal early in a transfer)",
    "healthy": "the samples sit among your images the way your images sit among each other",
    "starting to copy": "the samples are getting close to copies of your images; consider stopping",
    "copying": "the samples are near-copies of your images: more steps will not help",
    "collapsed": "the samples all look alike: the run failed (try a lower learning rate)",
}


def monitor_report(readings, final: bool = False) -> str:
    """The monitor's latest verdict, its numbers, and which step is kept."""
    if not readings:
        return ""
    r = readings[-1]
    best = f" Best step so far: **{r.best_step}**." if r.best_step is not None else ""
    if final and r.best_step is not None:
        why = ("the latest step as close to your images as the closest one, within the monitor's noise, while not "
               "copying or collapsed" if r.ranked else
               "the latest step that neither copies nor collapsed: the monitor's fidelity never fell to half its "
               "first reading, too little to rank the steps by")
        best = (f" Explore and the download use the best step, **{r.best_step}** ({why}); the last step, {r.step}, "
                f"is kept too." if r.best_step != r.step else f" The last step, {r.step}, is also the best one.")
    return (f"**Monitor at step {r.step}: {r.verdict}** — {MONITOR_MEANING[r.verdict]}. Copying {r.memorisation:.2f} "
            f"(~1 healthy, towards 0 copies), diversity {r.diversity:.2f} (of your images'), fidelity "
            f"{r.fidelity:.4f} (KID to your images, random-CNN space).{best}")


def advice_text(tip, default_steps: int) -> str:
    """The advisor's panel: what it recommends, and why, in one paragraph. default_steps: what the
    steps slider starts at (advice that matches it needs no action)."""
    far = f" Your images are at KID {tip.distance:.3f} from what the source makes (random-CNN space)." \
        if tip.distance is not None else ""
    where = "the default" if tip.steps == default_steps else "set them under Advanced"
    return (f"**Advice**: source **{tip.source or 'none'}**, preset **{tip.preset}**, **{tip.steps} steps** "
            f"({where}).{far}  \n*Why: {tip.why}*")


def _code(name: str) -> str:
    return "`" + str(name).replace("`", "'") + "`"


def describe_images(imgs: ImageSet, label: str, heldout: int = 0) -> str:
    """Markdown: how many images are ready, how many are held out for scoring, what was dropped,
    and each rejected file's reason."""
    n = len(imgs.names)
    lines = [f"**{n} image{'s' * (n != 1)} ready** from {label} (centre-cropped to {imgs.images.shape[-1]} px)."]
    if heldout:
        lines.append(f"**{heldout} of them are held out for scoring** (a random 20%): the model trains on "
                     f"the other {n - heldout}, and the score compares its samples with images it never saw.")
    else:
        lines.append(f"{'All of them train' if n > 1 else 'It trains'} the model. With fewer than "
                     f"{sup.HOLDOUT_MIN_IMAGES} images none are held out, so the score compares samples "
                     "with the training images themselves.")
    if n < 5:
        lines.append("Fewer than 5 images works, but the model will mostly memorise them: 5-100 are "
                     "recommended.")
    if imgs.duplicates:
        shown = ", ".join(imgs.duplicates[:10]) + (" …" if len(imgs.duplicates) > 10 else "")
        lines.append(f"{len(imgs.duplicates)} exact duplicate(s) dropped: {shown}")
    lines += imgs.notes
    if imgs.rejected:
        skipped = "\n".join(f"- {_code(name)}: {reason}" for name, reason in imgs.rejected[:30])
        more = f"\n- … and {len(imgs.rejected) - 30} more" if len(imgs.rejected) > 30 else ""
        lines.append(f"**{len(imgs.rejected)} file(s) skipped:**\n{skipped}{more}")
    return "\n\n".join(lines)


def copy_verdict(ratio: float) -> str:
    """One line on a copy ratio (sample-to-image NN distance / image-to-image NN distance), with the
    live monitor's thresholds."""
    if not math.isfinite(ratio):
        return "not measurable (needs at least 2 training images)"
    if ratio < COPYING:
        return "copying your images: samples sit on top of them"
    if ratio < STARTING_TO_COPY:
        return "starting to copy your images"
    if ratio <= 1.5:
        return "healthy: samples are new images, about as far from yours as yours are from each other"
    return "far from your images: samples look unlike the set"


def kid_report(results: list[tuple[str, dict]], n_reference: int, n_samples: int, heldout: bool) -> str:
    spaces = list(results[0][1].get("spaces", {"inception": results[0][1]}))
    head = "| model | " + " | ".join(f"KID ×10³ ({s})" for s in spaces) + " | copy ratio | verdict |"
    lines = [head, "|---|" + "---|" * len(spaces) + "---|---|"]
    for label, r in results:
        by_space = r.get("spaces", {"inception": r})
        kids = " | ".join(f"{1e3 * by_space[s]['kid']:.1f} ± {1e3 * by_space[s]['kid_std']:.1f}" for s in spaces)
        ratio = r.get("copy_ratio_aligned", by_space[spaces[-1]].get("copy_ratio", float("nan")))
        lines.append(f"| {label} | {kids} | {ratio:.2f} | {copy_verdict(ratio)} |")
    against = (f"your {n_reference} **held-out** images, which the model never saw" if heldout else
               f"your {n_reference} **training** images (fewer than {sup.HOLDOUT_MIN_IMAGES} images, so none "
               "were held out): a model that copies them scores well here, so read the copy ratio too")
    return ("\n".join(lines) + f"\n\n{n_samples} samples vs {against}. Lower KID is better. *inception* is the "
            "field's usual space (trained on ImageNet labels, so a D built on ImageNet features can flatter "
            "it); *random-cnn* is a fixed random network that nothing trains against. The copy ratio "
            "(16 px thumbnails matched over small shifts and mirror images, so a shifted or noisy copy still "
            "counts) is ~1 for new images and falls towards 0 as samples copy yours. With few "
            "reference images KID is noisy (see the ±): treat differences under about twice the ± as a tie.")


def explore_label(model: sup.ModelHandle) -> str:
    """What the Explore tab is showing, and how to get to the user's own model."""
    if model.kind == "run":
        return f"Exploring {model.label()}."
    return (f"**Nothing is fine-tuned yet**, so you are exploring the {model.label()} as it was pretrained. "
            "To explore a model of your own: add images on tab 1, then press Start on tab 3.")


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
