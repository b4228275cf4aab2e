"""Handlers of tab 4 (Explore): seed gallery, truncation, source vs fine-tuned, slerp, PCA edits,
and projecting one's own image into the model."""
import gradio as gr
import torch
from PIL import Image

import appkit as sup
from tgan import load_images
from tgan.events import Projected
from tgan.projection import project

from .plumbing import bind, guarded
from .text import explore_label


def _seed(seed) -> int:
    return sup.as_int(seed, "seed", 0, sup.SEED_MAX)


def _psi(psi) -> float:
    return sup.as_float(psi, "truncation ψ", 0.0, 1.5)


def _single(images) -> Image.Image:
    """One image at the model's own resolution (at least 64 px): the page scales it up, pixelated
    (webapp/layout.py CSS), so a slider move encodes and sends 16x fewer pixels than a 256 px copy."""
    return sup.to_pils(images, 64)[0]


@guarded
def show_seeds(sess: sup.Session, source, start, psi):
    """A gallery of 16 consecutive seeds at truncation ψ."""
    start = sup.as_int(start, "start seed", 0, sup.SEED_MAX - sup.GALLERY_SEEDS)
    model = sess.explore_model(source or None)
    seeds = list(range(start, start + sup.GALLERY_SEEDS))
    images = model.seeds(seeds, _psi(psi))
    sess.shown = (seeds, images)
    return list(zip(sup.to_pils(images), [f"seed {s}" for s in seeds])), explore_label(model)


def select_seed(sess: sup.Session, evt: gr.SelectData):
    if sess.shown is None or not isinstance(evt.index, int) or evt.index >= len(sess.shown[0]):
        return gr.skip()
    return sess.shown[0][evt.index]


def _mine(sess: sup.Session, model: sup.ModelHandle, mine) -> torch.Tensor | None:
    """The projected image's w when "start from my image" is ticked, else None (use the seed)."""
    if not mine:
        return None
    w = sess.projected_w(model)
    if w is None:
        raise ValueError("put your image in first (Find it in the model), or untick 'start from my image'")
    return w


@guarded
def compare(sess: sup.Session, source, seed, psi, mine=False):
    """The same latent through the source and the fine-tuned model (None where there is none).
    A seed's z goes through each model's own mapping; the projected image's w (found in the model
    being explored) goes straight into each synthesis network."""
    model = sess.explore_model(source or None)
    seed, psi, w = _seed(seed), _psi(psi), _mine(sess, model, mine)
    src = sess.compare_source(source or None)
    if w is None:
        src_img = _single(src.seeds([seed], psi)) if src is not None and src.z_dim == model.z_dim else None
        return src_img, _single(model.seeds([seed], psi)) if model.kind == "run" else None
    if model.kind != "run":  # exploring the source itself: there is no fine-tuned model yet
        return _single(model.from_w(w)), None
    src_img = _single(src.from_w(w)) if src is not None and src.w_dim == model.w_dim else None
    return src_img, _single(model.from_w(w))


@guarded
def interpolate(sess: sup.Session, source, seeds_text, t, psi):
    """The image at fraction t along the slerp path through the given seeds ("p": the projected image)."""
    model = sess.explore_model(source or None)
    seeds = sup.parse_seeds(seeds_text, allow_projected=True)
    return _single(model.along_path(seeds, sup.as_float(t, "t", 0.0, 1.0), _psi(psi), sess.projected_w(model)))


@guarded
def project_image(sess: sup.Session, source, file, progress=gr.Progress()):
    """Put the user's image into the model being explored: (original | reconstruction | nearest
    training image) and a line on how to use it; the latent is kept for the interpolation ("p")."""
    if not file:
        raise ValueError("choose an image to put into the model first")
    model = sess.explore_model(source or None)
    target = load_images([getattr(file, "name", file)], model.resolution).as_float()[0]  # (3, R, R)
    done = None
    sess.projection_stop.clear()
    with sup.inference_threads():
        for ev in project(model.G, target, stop=sess.projection_stop):
            if isinstance(ev, Projected):
                done = ev
            else:
                progress((ev.step, ev.total), desc="finding your image's latent")
    sess.keep_projection(model, done.w)
    row = [target, done.image]
    if sess.upload_paths:
        shots = sess.images(model.resolution).as_float()
        row.append(shots[(shots - target).pow(2).flatten(1).sum(1).argmin()])  # the nearest, by pixels
    how = "close" if done.psnr >= 25 else "only roughly: this model cannot make it exactly"
    if sess.projection_stop.is_set():
        how += f"; cancelled after {done.steps} steps, this is the best so far"
    text = (f"PSNR {done.psnr:.1f} dB ({how}). Left to right: your image, its reconstruction by {model.label()}"
            f"{', your nearest training image' if len(row) == 3 else ''}. Type **p** among the interpolation "
            "seeds (e.g. `p, 17`) to walk from it; the PCA sliders and the source-vs-fine-tuned pair now "
            "start from it too (untick 'Start from my image' to go back to the seed).")
    return sup.grid(torch.stack(row), 384, nrow=len(row)), text, True  # one row; ticks "start from my image"


def cancel_projection(sess: sup.Session):
    """Ends a running projection after its current step; it shows the best latent found so far."""
    sess.projection_stop.set()


def _video(sess: sup.Session, source, seeds_text, psi, suffix: str, request=None):
    bind(sess, request)
    model = sess.explore_model(source or None)
    seeds = sup.parse_seeds(seeds_text, allow_projected=True)
    path = str(model.video(seeds, _psi(psi), sess.new_path("interpolation", suffix), projected=sess.projected_w(model)))
    return path, path  # (download, preview)


@guarded
def make_gif(sess: sup.Session, source, seeds_text, psi, request: gr.Request = None):
    return _video(sess, source, seeds_text, psi, ".gif", request)


@guarded
def make_mp4(sess: sup.Session, source, seeds_text, psi, request: gr.Request = None):
    return _video(sess, source, seeds_text, psi, ".mp4", request)


@guarded
def pca_edit(sess: sup.Session, source, seed, psi, mine, *amounts):
    """The chosen seed (or the projected image) moved along the model's top PCA directions in w
    (units: std of w)."""
    model = sess.explore_model(source or None)
    amounts = [sup.as_float(a, "direction amount", -10.0, 10.0) for a in amounts[:sup.PCA_COMPONENTS]]
    return _single(model.edited(_seed(seed), _psi(psi), amounts, _mine(sess, model, mine)))


@guarded
def download_samples(sess: sup.Session, request: gr.Request = None):
    """The seed gallery's images as PNGs at native resolution, in one zip."""
    bind(sess, request)
    if sess.shown is None:
        raise ValueError("show some seeds first")
    seeds, images = sess.shown
    return str(sup.zip_images(images, [f"seed_{s:06d}.png" for s in seeds], sess.new_path("samples", ".zip")))


@guarded
def refresh_singles(sess: sup.Session, source, psi, seed, mine, seeds_text, t, *amounts):
    """Redraw the single images (comparison, interpolation, PCA edit), e.g. when ψ moves."""
    mine = mine and sess.projected_w(sess.explore_model(source or None)) is not None  # a new run drops it
    return (*compare(sess, source, seed, psi, mine), interpolate(sess, source, seeds_text, t, psi),
            pca_edit(sess, source, seed, psi, mine, *amounts))


@guarded
def refresh_explore(sess: sup.Session, source, start, psi, seed, mine, seeds_text, t, *amounts):
    """Redraw everything on the Explore tab (on opening it and after training)."""
    return (*show_seeds(sess, source, start, psi),
            *refresh_singles(sess, source, psi, seed, mine, seeds_text, t, *amounts))
