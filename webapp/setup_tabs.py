"""Handlers of tabs 1-3: the user's images, the source model and strategy, and fine-tuning."""
import time
from pathlib import Path

import gradio as gr
import pandas as pd

from tgan import Failed
from tgan.config import TrainConfig
from tgan.events import Scored
from tgan.strategies import preset_lr
import appkit as sup

from . import plumbing
from .plumbing import DEFAULT_STEPS, EXAMPLES, KID_SAMPLES, NONE_SOURCE, bind, guarded
from .text import advice_text, describe_images, describe_result, kid_report, monitor_report, progress_html, source_summary


# ----------------------------------------------------------------------------- 1. images

def _show_images(sess: sup.Session, source):
    try:
        imgs = sess.images(sup.resolution_of(source or None))
    except sup.DataError:
        sess.clear_images()  # a set with nothing usable is not kept half-loaded
        raise
    if imgs.rejected:
        gr.Warning(f"{len(imgs.rejected)} file(s) could not be used; the list is to the right of the upload.", duration=5)
    gallery = list(zip(sup.to_pils(imgs.as_float()[:200]), imgs.names[:200]))
    _, heldout = sess.split(imgs.images.shape[-1])
    return gallery, describe_images(imgs, sess.upload_label, 0 if heldout is None else len(heldout.names))


@guarded
def upload_images(files, sess: sup.Session, source, request: gr.Request = None):
    """Files or a .zip -> processed crops, counts, and each rejected file with its reason."""
    bind(sess, request)
    if not files:
        sess.clear_images()
        return [], "No images yet: upload 5-100 images (or one .zip), or pick an example set."
    sess.set_uploads(files if isinstance(files, list) else [files], "your upload")
    return _show_images(sess, source)


@guarded
def use_example(name, sess: sup.Session, source, request: gr.Request = None):
    """One of the bundled example sets (examples/<name>/). Empties the upload box too, so it does
    not list files that are no longer the training set."""
    if name not in sup.EXAMPLE_SETS or not (EXAMPLES / name).is_dir():
        raise ValueError(f"no example set {name!r}; choose from {', '.join(sup.EXAMPLE_SETS)}")
    bind(sess, request)
    sess.set_folder(EXAMPLES / name, f"the example set *{sup.EXAMPLE_SETS[name]}*")
    return *_show_images(sess, source), None


DOCTOR_COLUMNS = ["file", "finding", "detail", "what tgan does"]


@guarded
def check_images(sess: sup.Session):
    """The dataset doctor's table for the uploads (tab 1), file by file."""
    if not sess.upload_paths:
        return pd.DataFrame(columns=DOCTOR_COLUMNS)
    # Inception over every upload: the training's threads, on a thread of its own (appkit.own_thread)
    findings = sup.call_on_own_thread(sess.check_images, threads=sup.TRAIN_THREADS)
    rows = [(f.file, f.kind, f.detail, f.action) for f in findings]
    return pd.DataFrame(rows or [("", "nothing to report", "", "")], columns=DOCTOR_COLUMNS)


@guarded
def advise_run(sess: sup.Session, current_source, current_preset):
    """After new images: the advisor's panel on tab 2, and its source and preset pre-selected
    (each left alone when it is already chosen). The steps are only advised: the slider may hold
    the user's own number."""
    if not sess.upload_paths:
        return gr.skip(), gr.skip(), gr.skip()
    tip = sup.advice(sess.images(64))
    source = gr.update(value=tip.source) if tip.source and tip.source != current_source else gr.skip()
    preset = gr.update(value=tip.preset) if tip.preset != current_preset else gr.skip()
    if tip.source and tip.source != current_source:
        gr.Info(f"Source set to {tip.source}: its training images are nearest to yours. See the advice on tab 2.")
    return source, preset, advice_text(tip, DEFAULT_STEPS)


# ----------------------------------------------------------------------------- 2. source and strategy

@guarded
def source_info(source):
    """The source's sample grid (samples.png, or drawn now) and its model-card line."""
    return source_summary(source or None)


@guarded
def upload_source(file, sess: sup.Session, request: gr.Request = None):
    """A model zip as a new source for this tab (only safetensors; pickles are refused)."""
    if not file:
        return gr.skip()
    bind(sess, request)
    name = sup.add_uploaded_source(Path(getattr(file, "name", file)), sess.workdir)
    sess.own_sources.append(name)
    gr.Info(f"Your model is now the source ({name}); its card and samples are below.")
    choices = [(n, n) for n in sup.source_names() + sess.own_sources] + [NONE_SOURCE]
    return gr.Dropdown(choices=choices, value=name)


@guarded
def refresh_sources(current):
    names = sup.source_names()
    value = current if current in names or current == "" else (names[0] if names else "")
    return gr.Dropdown(choices=[(n, n) for n in names] + [NONE_SOURCE], value=value)


@guarded
def choose_preset(preset):
    """A preset fills in its strategies, its one line of why, the learning rate it was tuned to and
    its strategy options (the strategies' defaults where it sets none)."""
    names, why = sup.preset_strategies(preset)
    return names, f"*{why}*", preset_lr(preset, TrainConfig.lr_g), *sup.preset_option_values(preset)


# ----------------------------------------------------------------------------- 3. fine-tuning

def loss_frame(rows, max_points: int = 300) -> pd.DataFrame:
    """Long format (step, loss, term), thinned to at most max_points steps so long runs stay light."""
    df = pd.DataFrame(rows, columns=["step", "term", "loss"])
    steps = df["step"].unique()
    if len(steps) > max_points:
        keep = set(steps[:: -(-len(steps) // max_points)]) | {steps[-1]}
        df = df[df["step"].isin(keep)]
    return df[["step", "loss", "term"]]


def monitor_frame(readings) -> pd.DataFrame:
    """The monitor's signals in long format (step, value, signal); fidelity (a KID) x10 so that it
    shares the axis with the two ratios."""
    rows = [(r.step, v, name) for r in readings for name, v in
            (("copying", r.memorisation), ("diversity", r.diversity), ("fidelity ×10", 10 * r.fidelity))]
    return pd.DataFrame(rows, columns=["step", "value", "signal"])


def _run_zip(sess: sup.Session):
    path = sess.run_zip()
    return str(path) if path else None


@guarded
def train_run(sess: sup.Session, source, strategies, steps, lr, batch_size, seed, flip, *options, resume: bool = False):
    """Stream (loss plot, sample grid, source grid, progress, status, download) while training.
    The handler is the unit of work: it drives the run chunk by chunk (plumbing.start_chunk: on a
    thread of its own, or in the GPU process on ZeroGPU), so Stop, a lost chunk and a closed tab
    all end here. resume: continue the stopped run from its last step instead of starting over."""
    cfg = sup.make_config(strategies, options, steps, lr, batch_size, seed, flip)
    note = sup.base_note(strategies)
    if note:
        gr.Info(f"{note}.")
    from_step = sess.continuable_step() if resume else None
    replacing = sess.run is not None  # a new run replaces the session's last one
    live = sess.start_run(cfg, source or None, resume=resume)
    frames = live.drive(plumbing.start_chunk, min_interval=0.5)  # runs only when iterated
    try:  # from here on, an error or a request cancelled at any yield must end the run cleanly
        handle = sess.compare_source(source or None)
        source_img = sup.grid(sup.source_grid(handle, cfg)) if handle else None
        t0 = time.monotonic()
        what = f"{len(live.images)} images, {' + '.join(cfg.strategies)}"
        how = (f"Continuing the stopped run from step {from_step} to {cfg.steps}: {what}" if resume else
               f"{'Starting over' if replacing else 'Starting'}: {what}, {cfg.steps} steps")
        yield (loss_frame([]), None, source_img, progress_html(from_step or 0, cfg.steps), f"{how}…", None,
               monitor_frame([]), "")
        for snap in frames:
            if snap.done:
                break  # the final view, below, always shows the last grid
            samples = sup.grid(snap.samples) if snap.new_samples and snap.samples is not None else gr.skip()
            progress = progress_html(snap.step, snap.total_steps, snap.sec_per_step, snap.eta_seconds)
            text = (f"Training on {snap.device}: step {snap.step} / {snap.total_steps}; samples from "
                    f"step {max(snap.samples_step, 0)}." if snap.device else "Setting up the run…")
            yield (loss_frame(snap.rows), samples, gr.skip(), progress, text, gr.skip(),
                   monitor_frame(snap.readings), monitor_report(snap.readings))
        samples = sup.grid(snap.samples) if snap.samples is not None else gr.skip()  # the final grid, always
        save_error = sess.end_run(live)
        if isinstance(snap.result, Failed):
            gr.Warning(snap.result.message)
        if save_error:
            gr.Warning(save_error)
        progress = progress_html(live.step, snap.total_steps, snap.sec_per_step, done=True)
        text = describe_result(snap.result, time.monotonic() - t0, from_step)
        yield (loss_frame(snap.rows), samples, gr.skip(), progress, text, _run_zip(sess),
               monitor_frame(snap.readings), monitor_report(snap.readings, final=True))
    finally:  # cancelled (a closed tab, job.cancel()) or failed: the run stops where it is, saved
        if not live.ended.is_set():
            frames.close()  # stops a running chunk after its current step and keeps that step
            sess.end_run(live)


def continue_run(sess: sup.Session, source, strategies, steps, lr, batch_size, seed, flip, *options):
    """Continue the stopped run (the "Continue from step N" button)."""
    yield from train_run(sess, source, strategies, steps, lr, batch_size, seed, flip, *options, resume=True)


def continue_button(sess: sup.Session):
    """(Start, Continue) buttons: "Start over" and "Continue from step N" while a stopped run can
    be continued, else just "Start fine-tuning"."""
    step = sess.continuable_step()
    if step is None:
        return gr.Button(value="Start fine-tuning"), gr.Button(visible=False)
    return gr.Button(value="Start over"), gr.Button(value=f"Continue from step {step}", visible=True)


@guarded
def stop_run(sess: sup.Session):
    """Ask the run to stop after its current step, wait until its handler has saved it, and show
    the result (the training handler shows the same). With nothing training, the last message
    (e.g. "Stopped at step 44") stays, and a toast says so."""
    live = sess.live
    if live is None or not sess.training:
        gr.Info("Nothing is training right now.")
        return gr.skip(), gr.skip(), gr.skip(), _run_zip(sess)
    if not sess.request_stop(wait=120):
        return gr.skip(), gr.skip(), "Stopping… the current step is still finishing.", gr.skip()
    samples = sup.grid(live.samples) if live.samples is not None else gr.skip()
    progress = progress_html(live.step, live.cfg.steps, done=True)
    return samples, progress, describe_result(live.result), _run_zip(sess)


@guarded
def score_kid(sess: sup.Session, include_source: bool = False, progress=gr.Progress()):
    """Scores of samples vs the held-out images (or, with under 20 images, the training images),
    in both feature spaces, with the copying verdict and an honest note on the noise. Progress
    follows the feature extraction, the slow part (Inception on a CPU)."""
    model = sess.run_model()
    if model is None:
        raise ValueError("fine-tune a model first; the score compares its samples with your images")
    train, heldout = sess.split(model.resolution)
    targets = [("fine-tuned", model)]
    src = sess.compare_source(None) if include_source else None
    if src is not None and src.resolution == model.resolution:
        targets.append((f"source ({src.name})", src))
    reference = heldout if heldout is not None else train
    results = []
    try:
        for i, (label, handle) in enumerate(targets):
            progress((i, len(targets)), desc=f"{label}: drawing {KID_SAMPLES} samples")
            # on a thread of its own with the training's threads (appkit.ThreadedIterator says why)
            scoring = sup.ThreadedIterator(sup.score_events(handle, reference, KID_SAMPLES, train=train),
                                           threads=sup.TRAIN_THREADS, name="tgan-score")
            try:
                for ev in scoring:
                    if isinstance(ev, Scored):
                        results.append((label, ev.result))
                    else:
                        progress((i + ev.done / ev.total, len(targets)),
                                 desc=f"{label}: {ev.space} features of the {ev.part}")
            finally:
                scoring.close()  # a cancelled request: the scoring thread stops after its current part
    except ImportError as exc:
        raise gr.Error(f"Scoring is unavailable here: {exc}", print_exception=False) from None
    return kid_report(results, len(reference.names), KID_SAMPLES, heldout is not None)
