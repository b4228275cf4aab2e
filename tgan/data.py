"""Turn user images (files, a folder, or a .zip) into a validated uint8 tensor at model resolution.

Nothing here trusts its input: every file is opened with size limits, each unusable file is
reported with its reason, and only a set with no usable image at all raises DataError. Files are
read one at a time (zip members are never extracted), so memory stays bounded by one file.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import DataError
# display_name is part of this module's interface (the dataset doctor uses it)
from .image_files import MAX_FILE_BYTES, SUPPORTED, display_name, list_sources, one_line  # noqa: F401

READ_FORMATS = ["PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF"]  # PIL decoders we allow (no SVG/EPS)
MIN_SIDE = 8  # pixels on the shorter side, below which an image is refused
MAX_PIXELS = 40_000_000  # larger images are refused before decoding (decompression bombs)
DEFAULT_MAX_IMAGES = 1000  # a few-shot tool; pretraining passes max_images=None


class _Refused(ValueError):
    """decode_image's own readable reasons (as opposed to a decoder's internal ValueError)."""


@dataclass(frozen=True)
class Original:
    """What a kept image was before it became a square crop (the dataset doctor reads these)."""

    width: int
    height: int
    transparent: bool  # had pixels with alpha < 255 (composited on white)


@dataclass
class ImageSet:
    images: torch.Tensor  # (N, 3, R, R) uint8
    names: list[str]  # source name of each kept image
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    duplicates: list[str] = field(default_factory=list)  # names dropped as exact duplicates
    notes: list[str] = field(default_factory=list)  # e.g. "kept the first 1000 images ..."
    originals: list[Original] = field(default_factory=list)  # each kept image as it was in its file

    def as_float(self) -> torch.Tensor:
        return self.images.float() / 127.5 - 1.0  # (N, 3, R, R) in [-1, 1]


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB, transparency composited on white, 16-bit scaled down correctly."""
    if img.mode.startswith("I;16"):  # 16-bit grey: integer maths, no float copy of a big image
        img = Image.fromarray(np.clip(np.asarray(img) // 257, 0, 255).astype(np.uint8), "L")
    elif img.mode == "I":
        arr = np.asarray(img)
        scale = 257 if arr.max(initial=0) > 255 else 1  # 16-bit stored as 32-bit -> 8-bit
        img = Image.fromarray(np.clip(arr // scale, 0, 255).astype(np.uint8), "L")
    elif img.mode == "F":
        img = Image.fromarray(np.clip(np.nan_to_num(np.asarray(img)), 0, 255).astype(np.uint8), "L")
    if img.mode == "P" or img.mode in ("LA", "PA", "La") or "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "RGBa"):
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img.convert("RGBA"))
    return img.convert("RGB")


def _centre_square(img: Image.Image, resolution: int) -> Image.Image:
    """Centre crop to a square and resize; big images are box-reduced first (fast, same look)."""
    side = min(img.size)
    left, top = (img.width - side) / 2, (img.height - side) / 2
    return img.resize((resolution, resolution), Image.Resampling.LANCZOS,
                      box=(left, top, left + side, top + side), reducing_gap=3.0)


def _sniff(data: bytes) -> str:
    """Why PIL could not identify `data`: name the format when it is a common unsupported one."""
    head = data[:512].lstrip()
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"avif"):
        return "this is a HEIC/HEIF/AVIF photo (whatever its name says); convert it to JPEG or PNG first"
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "this is an SVG (vector) file; export it as PNG first"
    return f"not a readable image (supported: {SUPPORTED})"


def decode_image(data: bytes, resolution: int) -> Image.Image:
    """Bytes -> upright RGB square at `resolution`. Raises ValueError with a readable reason."""
    return _decode(data, resolution)[0]


def _transparent(img: Image.Image) -> bool:
    if img.mode not in ("RGBA", "LA", "PA", "RGBa", "La") and "transparency" not in img.info:
        return False
    return img.convert("RGBA").getchannel("A").getextrema()[0] < 255


def _decode(data: bytes, resolution: int) -> tuple[Image.Image, Original]:
    if not data:
        raise ValueError("the file is empty (0 bytes)")
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"the file is {len(data) / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB")
    too_big = f"the image is larger than the {MAX_PIXELS // 1_000_000} megapixel limit; downscale it first"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=READ_FORMATS)  # reads the header only
            if img.width * img.height > MAX_PIXELS:
                raise _Refused(f"{img.width}x{img.height} pixels: {too_big}")
            if min(img.width, img.height) < MIN_SIDE:  # a 1x1 or a 20,000x4 strip: nothing to learn from
                raise _Refused(f"the image is {img.width}x{img.height} pixels; its shorter side needs at least "
                               f"{MIN_SIDE} px to be worth learning from")
            img.seek(0)  # animated GIF/WebP/PNG: we use the first frame
            img.draft("RGB", (resolution * 4, resolution * 4))  # cheap JPEG downscale on decode
            img.load()
            img = ImageOps.exif_transpose(img)  # phone photos: make them upright
            original = Original(img.width, img.height, _transparent(img))
            return _centre_square(_to_rgb(img), resolution), original
    except _Refused:
        raise
    except UnidentifiedImageError:
        raise ValueError(_sniff(data)) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError):
        raise ValueError(too_big) from None
    except (OSError, SyntaxError, EOFError) as exc:
        raise ValueError(f"the image data is damaged or truncated ({one_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - a hostile file can trip any error inside a decoder
        raise ValueError(f"the image could not be decoded ({type(exc).__name__}: {one_line(exc)})") from None


def load_images(paths, resolution: int = 64, max_images: int | None = DEFAULT_MAX_IMAGES) -> ImageSet:
    """Files, folders and zips -> ImageSet. Raises DataError when nothing usable remains.

    Reading stops once max_images distinct images are kept (a note says how many were skipped)."""
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    kept, names, rejected, duplicates, seen, notes, originals = [], [], [], [], set(), [], []
    with contextlib.ExitStack() as stack:
        sources = list_sources(paths, stack)
        for i, (name, read) in enumerate(sources):
            if max_images is not None and len(kept) >= max_images:
                notes.append(f"kept the first {max_images} images (the limit for one run); "
                             f"{len(sources) - i} of {len(sources)} files were not read")
                break
            try:
                img, original = _decode(read(), resolution)
            except DataError:
                raise
            except ValueError as exc:
                rejected.append((name, one_line(exc)))
                continue
            arr = np.asarray(img, dtype=np.uint8)  # (R, R, 3)
            digest = hashlib.sha1(arr.tobytes()).digest()
            if digest in seen:
                duplicates.append(name)
                continue
            seen.add(digest)
            kept.append(arr)
            names.append(name)
            originals.append(original)
    if not kept:
        raise DataError(_nothing_usable(paths, sources, rejected))
    images = torch.from_numpy(np.stack(kept)).permute(0, 3, 1, 2).contiguous()  # (N, 3, R, R)
    return ImageSet(images, names, rejected, duplicates, notes, originals)


def _nothing_usable(paths, sources, rejected) -> str:
    where = ", ".join(display_name(Path(p).name) for p in paths) or "the upload"
    if not sources:
        return f"no images found in {where}; add PNG/JPEG/WebP files (a folder or a .zip works too)"
    name, reason = rejected[0]
    more = f" (and {len(rejected) - 1} more rejected)" if len(rejected) > 1 else ""
    return f"no usable images in {where}: {name}: {reason}{more}"
