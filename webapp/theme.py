"""How the page looks and where it listens: its style sheet, theme and launch settings."""
import os

import gradio as gr

CSS = """
.tgan-progress { height: 10px; border-radius: 5px; overflow: hidden; background: var(--neutral-200); }
.tgan-progress > div { height: 100%; background: var(--color-accent); transition: width .3s; }
.tgan-progress-text { margin: 4px 0 0; font-size: var(--text-sm); color: var(--body-text-color-subdued); }
#samples img, #source_samples img, #seed_gallery img, #images_gallery img, #interp_img img,
#pca_img img, #cmp_source img, #cmp_finetuned img, #source_preview img { image-rendering: pixelated; }
#images_gallery .thumbnail-item, #seed_gallery .thumbnail-item { max-width: 128px; }
/* the Explore tab's single images arrive at the model's resolution (square); shown at 256 px. The
   aspect ratio holds their box before the (lazily loaded) picture arrives, so nothing jumps. */
#interp_img img, #pca_img img, #cmp_source img, #cmp_finetuned img {
  width: 256px; max-width: 100%; height: auto; aspect-ratio: 1 / 1; object-fit: contain; }
"""


def launch_options() -> dict:
    return dict(server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), max_file_size="50mb",
                css=CSS, theme=gr.themes.Soft())
