"""Shared fixtures: tiny generated image sets and a tiny source model made by the real trainer."""
from __future__ import annotations

import contextlib
import os

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
torch.set_num_threads(min(2, os.cpu_count() or 1))

from tgan import ModelConfig, TrainConfig, train  # noqa: E402
from tgan.events import Finished  # noqa: E402

TINY = ModelConfig(resolution=32, z_dim=16, w_dim=16, g_width=8, d_width=8)


@pytest.fixture
def one_thread():
    """Torch on one thread for the test: small nets run faster so, and far faster beside other work."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_shape_images(n: int, size: int = 48, seed: int = 0) -> list[Image.Image]:
    """Coloured ellipses and boxes on white: structured, varied, and cheap to make."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n):
        img = Image.new("RGB", (size, size), "white")
        draw = ImageDraw.Draw(img)
        for _ in range(2):
            x0, y0 = rng.integers(0, size // 2, 2)
            x1, y1 = (x0, y0) + rng.integers(size // 4, size // 2, 2)
            colour = tuple(int(c) for c in rng.integers(0, 255, 3))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=colour)
        images.append(img)
    return images


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory):
    """A folder of 12 PNGs."""
    folder = tmp_path_factory.mktemp("images")
    for i, img in enumerate(make_shape_images(12)):
        img.save(folder / f"img{i:02d}.png")
    return folder


@pytest.fixture(scope="session")
def tiny_source(tmp_path_factory, image_dir):
    """A 32 px source checkpoint (G, G_ema, D) trained for a few real steps."""
    from tgan import load_images

    out = tmp_path_factory.mktemp("source") / "tiny"
    images = load_images(image_dir, 32).images
    cfg = TrainConfig(steps=3, batch_size=4, strategies=["scratch"], sample_every=100, save_every=0)
    events = list(train(cfg, images, out, model_config=TINY))
    assert isinstance(events[-1], Finished), events[-1]
    return out


def names_step(label: str, step: int) -> bool:
    """Does the Explore label say it shows the fine-tuned run whose last step is `step`? (With
    the monitor's keep-best on, it may show an earlier best step and name the last one too.)"""
    return "fine-tuned model" in label and (f"(step {step})" in label or f"the last step, {step}," in label)


# ---------------------------------------------------------------------------- app fixtures

@pytest.fixture(scope="session")
def app_checkpoints(tmp_path_factory, image_dir):
    """A checkpoints root with two tiny 32 px sources made by the real trainer: `tiny` (with a
    MODEL_CARD.md) and `tiny-nocard` (without one, so the app must draw its preview itself)."""
    import shutil

    from tgan import load_images

    root = tmp_path_factory.mktemp("app_checkpoints")
    images = load_images(image_dir, 32).images
    cfg = TrainConfig(steps=2, batch_size=4, strategies=["scratch"], sample_every=100, save_every=0)
    # PixelNorm: after 2 steps a BatchNorm G maps every latent to nearly the same grey image, and the
    # tests need different seeds to give visibly different pictures.
    mcfg = ModelConfig(resolution=32, g_width=8, d_width=8, g_norm="pixel")
    events = list(train(cfg, images, root / "tiny", model_config=mcfg))
    assert isinstance(events[-1], Finished), events[-1]
    shutil.copytree(root / "tiny", root / "tiny-nocard")
    (root / "tiny" / "MODEL_CARD.md").write_text("---\nlicense: mit\n---\n# Tiny test source\n\nMore text.\n")
    return root


@pytest.fixture
def app_env(app_checkpoints, monkeypatch):
    """Point the app at the tiny sources (the app reads TGAN_CHECKPOINTS at call time)."""
    monkeypatch.setenv("TGAN_CHECKPOINTS", str(app_checkpoints))
    return app_checkpoints


@pytest.fixture(scope="session")
def app_image_files(tmp_path_factory):
    """8 good PNGs, one exact duplicate, a text file and a broken PNG, as an upload would send."""
    folder = tmp_path_factory.mktemp("app_upload")
    good = []
    for i, img in enumerate(make_shape_images(8, seed=0)):
        img.save(folder / f"shape{i}.png")
        good.append(folder / f"shape{i}.png")
    (folder / "copy.png").write_bytes(good[0].read_bytes())
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    bad = [folder / "copy.png", folder / "notes.txt", folder / "broken.png"]
    return {"good": good, "bad": bad, "all": good + bad}


@contextlib.contextmanager
def launched_app(checkpoints):
    """Serve app.py's page on a local port with `checkpoints` as its source folder; yields the URL.
    Threads as app.py sets them (plumbing.leave_cores_to_training), put back afterwards."""
    import app
    import torch

    mp = pytest.MonkeyPatch()
    mp.setenv("TGAN_CHECKPOINTS", str(checkpoints))
    threads = torch.get_num_threads()
    app.plumbing.leave_cores_to_training()
    try:
        demo = app.build_demo()
        demo.queue()
        for attempt in range(3):
            try:
                _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, **app.launch_options())
                break
            except ValueError as exc:
                # gradio probes the fresh server with HEAD requests of 3 s each and gives up on the first
                # timeout; on a loaded machine that can happen although the server is fine: try again.
                demo.close()
                if "localhost is not accessible" not in str(exc) or attempt == 2:
                    raise
        try:
            yield url
        finally:
            demo.close()
    finally:
        mp.undo()
        torch.set_num_threads(threads)


def api_client(url):
    """A gradio_client for the served page. Its plain GETs (config, API info) time out after
    5 s by default, which a loaded machine can exceed although the server is fine."""
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False, httpx_kwargs={"timeout": 120})


@contextlib.contextmanager
def mistake(match: str):
    """A user's mistake in an app handler: a warning toast (outside a request, gr.Warning is a
    UserWarning) and no exception, so no output shows an error badge."""
    import pytest

    with pytest.warns(UserWarning, match=match):
        yield
