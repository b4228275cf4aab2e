"""The app's logic that is not UI: sessions, model caches, the chunked training loop, and the
explore/score helpers. webapp/ turns these into Gradio handlers; nothing here imports gradio, so
every function can be tested (and reused) as plain Python. It sits beside webapp/, outside the
tgan library, which the CLI, the app and other programs share.

Images leave this package as PIL images or (N, 3, R, R) tensors in [-1, 1]; errors leave it as
ValueError subclasses (DataError, CheckpointError) with a message a user can act on.

Modules: limits (limits of the app, parsing user input, make_config), files (folders, sources,
zips), pictures (images for the UI; webapp/text.py writes its text), handles (models for
exploring, scoring), live_run (one run, driven chunk by chunk), own_thread (heavy work on a thread of
its own), session (one browser session). This module
re-exports what app.py uses.
"""
from tgan.errors import CheckpointError, DataError
from tgan.subsets import HOLDOUT_MIN_IMAGES
from .files import (app_root, checkpoints_root, load_model_config, model_card_line, source_names,
                    source_path, zip_files, zip_images, zip_run)
from .handles import ModelHandle, advice, inference_threads, score_events, source_grid, source_handle
from .limits import (CHUNK_SECONDS, DEFAULT_FLIP, EXAMPLE_SETS, EXPLORE_THREADS, FLIP_CHOICES, GALLERY_SEEDS, LR_RANGE,
                     MAX_BATCH, MAX_INTERP_SEEDS,
                     MAX_STEPS, MAX_VIDEO_FRAMES, PCA_COMPONENTS, PROJECTED, SEED_MAX, TRAIN_THREADS, as_float, as_int,
                     base_note, make_config, option_specs, parse_seeds, preset_option_values,
                     preset_strategies)
from .pictures import display, example_preview, grid, latent_at, resolution_of, to_pils
from .live_run import LiveRun, Snapshot
from .own_sources import add_uploaded_source
from .own_thread import ThreadedIterator, call_on_own_thread
from .session import RunInfo, Session

__all__ = [
    "CheckpointError", "DataError", "HOLDOUT_MIN_IMAGES",
    "app_root", "checkpoints_root", "load_model_config", "model_card_line", "source_names", "source_path",
    "zip_files", "zip_images", "zip_run",
    "ModelHandle", "advice", "inference_threads", "score_events", "source_grid", "source_handle",
    "CHUNK_SECONDS", "DEFAULT_FLIP", "EXAMPLE_SETS", "EXPLORE_THREADS", "FLIP_CHOICES", "GALLERY_SEEDS", "LR_RANGE",
    "MAX_BATCH", "MAX_INTERP_SEEDS",
    "MAX_STEPS", "MAX_VIDEO_FRAMES", "PCA_COMPONENTS", "PROJECTED", "SEED_MAX", "TRAIN_THREADS",
    "as_float", "as_int", "base_note", "make_config", "option_specs", "parse_seeds", "preset_option_values", "preset_strategies",
    "display", "example_preview", "grid", "latent_at", "resolution_of", "to_pils",
    "LiveRun", "RunInfo", "Session", "Snapshot", "ThreadedIterator", "add_uploaded_source", "call_on_own_thread",
]
