"""Turn user images (files, a folder, or a .zip) into a validated uint8 tensor at model resolution.

Nothing here trusts its input: every file is opened with size limits, each unusable file is
reported with its reason, and only a set with no usable image at all raises DataError.
"""
from __future__ import annotations

import hashlib
import io
import os
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
READ_FORMATS = ["PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF"]  # PIL decoders we allow (no SVG/EPS)
MAX_PIXELS = 40_000_000  # larger images are refused before decoding (decompression bombs)
MAX_FILE_BYTES = 50 * 2**20  # one image file
MAX_ZIP_BYTES = 1 * 2**30  # everything inside one zip, uncompressed (zip bombs)
DEFAULT_MAX_IMAGES = 1000  # a few-shot tool; pretraining passes max_images=None


class DataError(ValueError):
    """No usable image set; the message says what was wrong and what to do."""


@dataclass
class ImageSet:
    images: torch.Tensor  # (N, 3, R, R) uint8
    names: list[str]  # source name of each kept image
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    duplicates: list[str] = field(default_factory=list)  # names dropped as exact duplicates
    notes: list[str] = field(default_factory=list)  # e.g. "kept the first 1000 of 2000 images"

    def as_float(self) -> torch.Tensor:
        return self.images.float() / 127.5 - 1.0  # (N, 3, R, R) in [-1, 1]


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB, transparency composited on white, 16-bit scaled down correctly."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        scale = 257.0 if arr.max(initial=0) > 255 else 1.0  # 16-bit -> 8-bit
        img = Image.fromarray(np.clip(arr / scale, 0, 255).astype(np.uint8), "L")
    elif img.mode == "F":
        img = Image.fromarray(np.clip(np.asarray(img), 0, 255).astype(np.uint8), "L")
    if img.mode == "P" or img.mode in ("LA", "PA", "La") or "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "RGBa"):
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img.convert("RGBA"))
    return img.convert("RGB")


def decode_image(data: bytes, resolution: int) -> Image.Image:
    """Bytes -> upright RGB square at `resolution`. Raises ValueError with a readable reason."""
    if not data:
        raise ValueError("the file is empty (0 bytes)")
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"the file is {len(data) / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=READ_FORMATS)
            if img.width * img.height > MAX_PIXELS:
                raise ValueError(
                    f"the image is {img.width}x{img.height} pixels; the limit is "
                    f"{MAX_PIXELS // 1_000_000} megapixels - downscale it first")
            img.seek(0)  # animated GIF/WebP: we use the first frame
            img.draft("RGB", (resolution * 4, resolution * 4))  # cheap JPEG downscale on decode
            img.load()
    except UnidentifiedImageError:
        raise ValueError("not a readable image (supported: PNG, JPEG, WebP, BMP, GIF, TIFF)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError("the image is too large to decode safely; downscale it first") from None
    except (OSError, SyntaxError, EOFError) as exc:
        raise ValueError(f"the image data is damaged or truncated ({exc})") from None
    img = ImageOps.exif_transpose(img)  # phone photos: make them upright
    img = _to_rgb(img)
    return ImageOps.fit(img, (resolution, resolution), Image.Resampling.LANCZOS)  # centre crop


def _iter_sources(paths) -> list[tuple[str, bytes | str]]:
    """Expand files / folders / zips into (display name, bytes or a rejection reason)."""
    items: list[tuple[str, bytes | str]] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            items += [(str(p.relative_to(path)), _read_file(p)) for p in files]
        elif path.suffix.lower() == ".zip":
            items += _read_zip(path)
        elif path.is_file():
            items.append((path.name, _read_file(path)))
        else:
            items.append((str(path), "no such file or folder"))
    return items


def _read_file(path: Path) -> bytes | str:
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return f"'{path.suffix or 'no extension'}' is not an image type tgan reads"
    if path.stat().st_size > MAX_FILE_BYTES:
        return f"the file is larger than {MAX_FILE_BYTES // 2**20} MB"
    return path.read_bytes()


def _read_zip(path: Path) -> list[tuple[str, bytes | str]]:
    """Read members into memory (never extracted, so '../' names cannot write anywhere)."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{path.name}: not a readable zip file ({exc})") from None
    items: list[tuple[str, bytes | str]] = []
    total = 0
    with zf:
        for info in zf.infolist():
            name = info.filename
            if info.is_dir() or "__MACOSX" in name or Path(name).name.startswith("."):
                continue
            if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
                items.append((name, "not an image type tgan reads"))
                continue
            # Read at most the limit + 1 byte: the header's file_size can lie in a crafted zip.
            with zf.open(info) as member:
                data = member.read(MAX_FILE_BYTES + 1)
            total += len(data)
            if total > MAX_ZIP_BYTES:
                raise DataError(f"{path.name}: more than {MAX_ZIP_BYTES // 2**30} GB uncompressed; "
                                "send fewer or smaller images")
            items.append((name, data if len(data) <= MAX_FILE_BYTES else "the file is too large"))
    return items


def load_images(paths, resolution: int = 64, max_images: int | None = DEFAULT_MAX_IMAGES) -> ImageSet:
    """Files, folders and zips -> ImageSet. Raises DataError when nothing usable remains."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    sources = _iter_sources(paths)
    kept, names, rejected, duplicates, seen = [], [], [], [], set()
    for name, data in sources:
        if isinstance(data, str):
            rejected.append((name, data))
            continue
        try:
            img = decode_image(data, resolution)
        except ValueError as exc:
            rejected.append((name, str(exc)))
            continue
        arr = np.asarray(img, dtype=np.uint8)  # (R, R, 3)
        digest = hashlib.sha1(arr.tobytes()).digest()
        if digest in seen:
            duplicates.append(name)
            continue
        seen.add(digest)
        kept.append(arr)
        names.append(name)
    if not kept:
        raise DataError(_nothing_usable(paths, sources, rejected))
    notes = []
    if max_images is not None and len(kept) > max_images:
        notes.append(f"kept the first {max_images} of {len(kept)} images (the limit for one run)")
        kept, names = kept[:max_images], names[:max_images]
    images = torch.from_numpy(np.stack(kept)).permute(0, 3, 1, 2).contiguous()  # (N, 3, R, R)
    return ImageSet(images, names, rejected, duplicates, notes)


def _nothing_usable(paths, sources, rejected) -> str:
    where = ", ".join(Path(p).name for p in paths) or "the upload"
    if not sources:
        return f"no images found in {where}; add PNG/JPEG/WebP files (a folder or a .zip works too)"
    name, reason = rejected[0]
    more = f" (and {len(rejected) - 1} more rejected)" if len(rejected) > 1 else ""
    return f"no usable images in {where}: {name}: {reason}{more}"


def pick_shots(images: ImageSet, k: int, seed: int) -> tuple[ImageSet, ImageSet]:
    """Draw k training images by seed; the rest are held out (for honest evaluation)."""
    n = len(images.names)
    if not 1 <= k <= n:
        raise DataError(f"asked for {k} shots but the set has {n} usable images")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    take, rest = order[:k].sort().values, order[k:].sort().values
    subset = lambda idx: ImageSet(images.images[idx], [images.names[i] for i in idx.tolist()])  # noqa: E731
    return subset(take), subset(rest)
