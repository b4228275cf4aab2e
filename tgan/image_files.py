"""Where uploaded image bytes come from: files, folders and zip members, each listed with a reader
that returns its bytes on demand, within size limits, or raises ValueError with the reason it is
refused. Nothing is extracted to disk, so a member named '../x' cannot write anywhere."""
from __future__ import annotations

import contextlib
import os
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

from .errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
SUPPORTED = "PNG, JPEG, WebP, BMP, GIF or TIFF"
MAX_FILE_BYTES = 50 * 2**20  # one image file
MAX_ZIP_BYTES = 1 * 2**30  # everything read from one zip, uncompressed (zip bombs)
_HEIC = "HEIC/HEIF photos are not supported; convert them to JPEG or PNG first"
_SUFFIX_HINTS = {".svg": "SVG is a vector format; export it as PNG first", ".heic": _HEIC, ".heif": _HEIC}
# Errors a damaged or hostile zip can raise while listing or reading members.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
               NotImplementedError, RuntimeError, zlib.error)


def display_name(name: str) -> str:
    """A file name safe to print on one line: undecodable bytes and control characters escaped."""
    try:
        name = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that did not come from os.fsdecode
        name = name.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in name)


def one_line(text) -> str:
    return " ".join(str(text).split())


Reader = Callable[[], bytes]  # returns the file's bytes or raises ValueError(reason)


def _reject(reason: str) -> Reader:
    def read() -> bytes:
        raise ValueError(reason)
    return read


def _suffix_reason(name: str) -> str | None:
    suffix = os.path.splitext(name)[1].lower()
    if suffix in IMAGE_SUFFIXES:
        return None
    return _SUFFIX_HINTS.get(suffix) or (
        f"'{display_name(suffix) or 'no extension'}' is not an image type tgan reads (use {SUPPORTED})")


def _file_reader(path: Path) -> Reader:
    reason = _suffix_reason(path.name)
    if reason:
        return _reject(reason)

    def read() -> bytes:
        try:
            with open(path, "rb") as f:  # read at most the limit + 1 byte, even if the file grows
                size = os.fstat(f.fileno()).st_size
                data = f.read(size + 1) if size <= MAX_FILE_BYTES else None
        except OSError as exc:
            raise ValueError(f"cannot read the file ({exc.strerror or exc})") from None
        if data is None or len(data) > MAX_FILE_BYTES:
            raise ValueError(f"the file is larger than {MAX_FILE_BYTES // 2**20} MB")
        return data
    return read


def _read_capped(stream, limit: int, chunk: int = 2**20) -> bytes:
    """Up to limit + 1 bytes in small reads, so a decompressor never inflates more than a chunk."""
    parts, size = [], 0
    while size <= limit:
        part = stream.read(min(chunk, limit + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def _zip_sources(path: Path, stack: contextlib.ExitStack) -> list[tuple[str, Reader]]:
    """List members; each is read (never extracted, so '../' names cannot write anywhere) on demand."""
    where = display_name(path.name)
    try:
        zf = stack.enter_context(zipfile.ZipFile(path))
        infos = zf.infolist()
    except UnicodeDecodeError:
        raise DataError(f"{where}: its file names are marked UTF-8 but are not; re-create the zip") from None
    except _ZIP_ERRORS as exc:
        raise DataError(f"{where}: not a readable zip file ({one_line(exc)})") from None
    total = [0]

    def reader(info: zipfile.ZipInfo) -> Reader:
        def read() -> bytes:
            if info.flag_bits & 0x1:
                raise ValueError("the file is encrypted; tgan cannot read password-protected zips")
            if info.file_size > MAX_FILE_BYTES:
                raise ValueError(f"the file unpacks to {info.file_size / 2**20:.0f} MB; "
                                 f"the limit is {MAX_FILE_BYTES // 2**20} MB")
            try:  # read at most the limit + 1 byte: a crafted zip's sizes can lie
                with zf.open(info) as member:
                    data = _read_capped(member, MAX_FILE_BYTES)
            except _ZIP_ERRORS as exc:
                raise ValueError(f"the file is damaged inside the zip ({one_line(exc)})") from None
            total[0] += len(data)
            if total[0] > MAX_ZIP_BYTES:
                raise DataError(f"{where}: more than {MAX_ZIP_BYTES // 2**30} GB uncompressed; "
                                "send fewer or smaller images")
            if len(data) > MAX_FILE_BYTES:
                raise ValueError(f"the file unpacks to more than {MAX_FILE_BYTES // 2**20} MB")
            return data
        return read

    items = []
    for info in infos:
        name = info.filename
        if info.is_dir() or "__MACOSX" in name or Path(name).name.startswith("."):
            continue
        reason = _suffix_reason(name)
        items.append((display_name(name), _reject(reason) if reason else reader(info)))
    return items


def list_sources(paths, stack: contextlib.ExitStack) -> list[tuple[str, Reader]]:
    """Expand files / folders / zips into (display name, reader)."""
    items: list[tuple[str, Reader]] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            items += [(display_name(str(p.relative_to(path))), _file_reader(p)) for p in files]
        elif path.suffix.lower() == ".zip" and path.is_file():
            items += _zip_sources(path, stack)
        elif path.is_file():
            items.append((display_name(path.name), _file_reader(path)))
        elif path.exists():
            items.append((display_name(str(path)), _reject("not a regular file or folder")))
        else:
            items.append((display_name(str(path)), _reject("no such file or folder")))
    return items
