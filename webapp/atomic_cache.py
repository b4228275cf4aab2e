"""Output images reach gradio's cache whole, even when two sessions show the same picture at once.

gradio (6.31, `processing_utils.save_pil_to_cache`) stores each output image at a path named by the
hash of its bytes and rewrites that file in place (`Path.write_bytes`) whenever the same image comes
again. Two sessions that draw the same picture at the same moment (a bundled source's seeds, the
source side of the comparison, a fine-tune a few steps from its source) then race: one truncates
the file while the other's browser is downloading it, and that image arrives cut short (seen as
"peer closed connection without sending complete message body" in tests/test_many_users.py).
Here the bytes go to a temporary file beside the target and `os.replace` swaps it in, so a reader
gets either the old complete file or the new one, which holds the same bytes."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from gradio import processing_utils


def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
    """gradio's save_pil_to_cache (same arguments, same path), written atomically."""
    data = processing_utils.encode_pil_to_bytes(img, format)
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(exist_ok=True, parents=True)
    path = (folder / f"{name}.{format}").resolve()
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}-", suffix=f".{format}")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return str(path)


def install() -> None:
    """Route every component's image saving (Image, Gallery, AnnotatedImage) through the atomic writer:
    they call it through the module, so replacing the module's function is enough."""
    processing_utils.save_pil_to_cache = save_pil_to_cache
