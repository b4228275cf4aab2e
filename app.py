"""tgan web app: upload a few images, fine-tune a pretrained GAN live, explore the result.

The entry point, locally (`python app.py`) and as a Hugging Face Space. The page and its handlers
are in the webapp package; non-UI logic lives in tgan/appkit.
"""
import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from webapp import plumbing  # noqa: E402  first: on a ZeroGPU Space, `spaces` must load before torch
from webapp.layout import build_demo  # noqa: E402
from webapp.theme import launch_options  # noqa: E402

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    plumbing.leave_cores_to_training()  # before anything runs: the handlers' threads inherit it
    build_demo().queue(max_size=int(os.environ.get("TGAN_QUEUE_SIZE", "64"))).launch(**launch_options())
