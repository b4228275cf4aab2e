"""Handlers of tab 4 (Explore): seed gallery, truncation, source vs fine-tuned, slerp, PCA edits."""
import gradio as gr
from PIL import Image

import appkit as sup

from .plumbing import bind, guarded
from .text import explore_label


def _seed(seed) -> int:
    return sup.as_int(seed, "seed", 0, sup.SEED_MAX)


def _psi(psi) -> float:
    return sup.as_float(psi, "truncation ψ", 0.0, 1.5)


def _big(images) -> Image.Image:
    return sup.to_pils(images, 256)[0]


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


@guarded
def compare(sess: sup.Session, source, seed, psi):
    """The same latent through the source and the fine-tuned model (None where there is none)."""
    model = sess.explore_model(source or None)
    seed, psi = _seed(seed), _psi(psi)
    src = sess.compare_source(source or None)
    src_img = _big(src.seeds([seed], psi)) if src is not None and src.z_dim == model.z_dim else None
    return src_img, _big(model.seeds([seed], psi)) if model.kind == "run" else None


@guarded
def interpolate(sess: sup.Session, source, seeds_text, t, psi):
    """The image at fraction t along the slerp path through the given seeds."""
    model = sess.explore_model(source or None)
    return _big(model.along_path(sup.parse_seeds(seeds_text), sup.as_float(t, "t", 0.0, 1.0), _psi(psi)))


def _video(sess: sup.Session, source, seeds_text, psi, suffix: str, request=None):
    bind(sess, request)
    model = sess.explore_model(source or None)
    path = str(model.video(sup.parse_seeds(seeds_text), _psi(psi), sess.new_path("interpolation", suffix)))
    return path, path  # (download, preview)


@guarded
def make_gif(sess: sup.Session, source, seeds_text, psi, request: gr.Request = None):
    return _video(sess, source, seeds_text, psi, ".gif", request)


@guarded
def make_mp4(sess: sup.Session, source, seeds_text, psi, request: gr.Request = None):
    return _video(sess, source, seeds_text, psi, ".mp4", request)


@guarded
def pca_edit(sess: sup.Session, source, seed, psi, *amounts):
    """The chosen seed moved along the model's top PCA directions in w (units: std of w)."""
    model = sess.explore_model(source or None)
    amounts = [sup.as_float(a, "direction amount", -10.0, 10.0) for a in amounts[:sup.PCA_COMPONENTS]]
    return _big(model.edited(_seed(seed), _psi(psi), amounts))


@guarded
def download_samples(sess: sup.Session, request: gr.Request = None):
    """The seed gallery's images as PNGs at native resolution, in one zip."""
    bind(sess, request)
    if sess.shown is None:
        raise ValueError("show some seeds first")
    seeds, images = sess.shown
    return str(sup.zip_images(images, [f"seed_{s:06d}.png" for s in seeds], sess.new_path("samples", ".zip")))


@guarded
def refresh_singles(sess: sup.Session, source, psi, seed, seeds_text, t, *amounts):
    """Redraw the single images (comparison, interpolation, PCA edit), e.g. when ψ moves."""
    return (*compare(sess, source, seed, psi), interpolate(sess, source, seeds_text, t, psi),
            pca_edit(sess, source, seed, psi, *amounts))


@guarded
def refresh_explore(sess: sup.Session, source, start, psi, seed, seeds_text, t, *amounts):
    """Redraw everything on the Explore tab (on opening it and after training)."""
    return (*show_seeds(sess, source, start, psi),
            *refresh_singles(sess, source, psi, seed, seeds_text, t, *amounts))
