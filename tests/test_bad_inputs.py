"""Hostile and odd inputs, one table: each case writes its files, then says what must happen.

"accepted" cases check the loaded ImageSet; "rejected" cases check the DataError message and that
the CLI turns it into one stderr line with exit code 2. Every case also checks that loading wrote
nothing anywhere and stayed within a time and (Python) memory budget. Checkpoint inputs follow.
"""
from __future__ import annotations

import io
import os
import pickle
import shutil
import struct
import tempfile
import time
import tracemalloc
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from conftest import make_shape_images
from tgan import CheckpointError, DataError, load_images, load_model
from tgan.cli import main
from tgan.data import DEFAULT_MAX_IMAGES

RES = 32
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
# An absolute zip member name (zip-slip): it points into the system's temp folder, where a loader
# that extracted members by name would write it. The test checks nothing appears there.
ABSOLUTE_SLIP = (Path(tempfile.gettempdir()) / "evil.png").as_posix()


# ---- helpers that make inputs ---------------------------------------------------------------

def _bytes(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _noise(size: int = 64, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


def _write(folder: Path, name: str | bytes, data: bytes | str) -> Path:
    """Write a file; a bytes name is used as-is on disk (it need not be valid UTF-8)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = os.path.join(os.fsencode(folder), name) if isinstance(name, bytes) else folder / name
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return folder


def _zip(path: Path, members: dict[str, bytes], method=zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return path


def _patch_zip(path: Path, old_name: bytes, new_name: bytes, set_flags: int = 0) -> Path:
    """Rename a member at the byte level (same length) and OR general-purpose flags into it."""
    raw = bytearray(path.read_bytes())
    assert len(old_name) == len(new_name)
    raw = bytearray(bytes(raw).replace(old_name, new_name))
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local, central header
        at = raw.find(signature) + flag_offset
        flags = struct.unpack("<H", raw[at:at + 2])[0] | set_flags
        raw[at:at + 2] = struct.pack("<H", flags)
    path.write_bytes(bytes(raw))
    return path


def _sparse(path: Path, size: int) -> Path:
    """A file of `size` bytes that takes no disk space (and no time) to make."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)
    return path.parent


def _png_header_only(width: int, height: int) -> bytes:
    """A valid-looking PNG that claims width x height (1-bit grey) but holds almost no pixel data."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def _animated(fmt: str, **kw) -> bytes:
    frames = [Image.new("RGB", (40, 40), c) for c in (RED, GREEN, BLUE)]
    return _bytes(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **kw)


def _exif_rotated_jpeg() -> bytes:
    img = Image.new("RGB", (64, 32), "white")
    img.paste(RED, (0, 0, 32, 32))  # red on the left half as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display": the red half ends up on top
    return _bytes(img, "JPEG", exif=exif, quality=95)


def _palette_with_transparency() -> bytes:
    img = Image.new("P", (40, 40), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.paste(1, (20, 0, 40, 40))  # right half: palette entry 1 (red); left half: entry 0 (transparent)
    return _bytes(img, "PNG", transparency=0)


def _many_tiny_pngs_zip(path: Path, n: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for i in range(n):  # every image a different solid colour, so none is a duplicate
            colour = (i % 256, (i // 256) * 16, 128)
            zf.writestr(f"set/{i:04d}.png", _bytes(Image.new("RGB", (8, 8), colour), "PNG", compress_level=0))
    return path


def _zip_bomb(path: Path, megabytes: int = 60) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("big.png", "w") as member:
        zeros = bytes(2**20)
        for _ in range(megabytes):
            member.write(zeros)
    return path


def _zip_bomb_lying_header(path: Path) -> Path:
    """Like _zip_bomb, but the headers claim the member unpacks to 1000 bytes."""
    _zip_bomb(path)
    raw = bytearray(path.read_bytes())
    for signature, size_offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = raw.find(signature)
        raw[at + size_offset:at + size_offset + 4] = struct.pack("<I", 1000)
    path.write_bytes(bytes(raw))
    return path


def _corrupt_member_zip(path: Path) -> Path:
    data = _bytes(_noise(16), "PNG")
    _zip(path, {"bad.png": data})
    raw = bytearray(path.read_bytes())
    at = raw.find(data) + len(data) // 2
    raw[at] ^= 0xFF  # stored member: flip one data byte, so its CRC no longer matches
    path.write_bytes(bytes(raw))
    return path


def _zip_slip(path: Path) -> Path:
    return _zip(path, {"../../evil.png": _bytes(Image.new("RGB", (20, 20), RED), "PNG"),
                       ABSOLUTE_SLIP: _bytes(Image.new("RGB", (20, 20), BLUE), "PNG")})


# ---- checks on accepted sets -------------------------------------------------------------------

def _centre(s, i: int = 0) -> tuple[int, ...]:
    return tuple(int(v) for v in s.images[i, :, RES // 2, RES // 2])


def _near(rgb, want, tol: int = 40) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(rgb, want))


def _count(n: int) -> Callable:
    return lambda s: len(s.names) == n


def _upright(s) -> bool:
    arr = s.images[0].permute(1, 2, 0).numpy().astype(int)  # (R, R, 3)
    return _near(arr[1, RES // 2], RED) and _near(arr[-2, RES // 2], (255, 255, 255))


def _palette_ok(s) -> bool:
    arr = s.images[0].permute(1, 2, 0).numpy().astype(int)
    return _near(arr[RES // 2, 2], (255, 255, 255)) and _near(arr[RES // 2, -3], RED)


def _escaped_name(s) -> bool:
    return len(s.names) == 1 and "\\xff" in s.names[0] and s.names[0].endswith(".png")


def _capped(s) -> bool:
    return len(s.names) == DEFAULT_MAX_IMAGES and any(str(DEFAULT_MAX_IMAGES) in n and "limit" in n
                                                      for n in s.notes)


def _mixed(s) -> bool:
    reasons = dict(s.rejected)
    return (s.names == ["good.png"] and "empty" in reasons["empty.png"]
            and "not an image type" in reasons["notes.txt"] and "truncated" in reasons["cut.jpg"])


# ---- the table ---------------------------------------------------------------------------------

@dataclass
class Case:
    id: str
    make: Callable[[Path], Path]  # writes under the given folder, returns what to load
    outcome: str  # "accepted" or "rejected"
    check: Callable | None = None  # accepted: ImageSet -> bool
    reason: str = ""  # rejected: a substring of the DataError message
    max_mb: float = 40.0  # peak Python memory while loading (file bytes read are counted)


def ok(id_, make, check, **kw) -> Case:
    return Case(id_, make, "accepted", check=check, **kw)


def bad(id_, make, reason, **kw) -> Case:
    return Case(id_, make, "rejected", reason=reason, **kw)


def _one(name, data) -> Callable[[Path], Path]:
    return lambda d: _write(d / "set", name, data() if callable(data) else data)


_PNG = lambda: _bytes(_noise(), "PNG")  # noqa: E731
_JPG = lambda: _bytes(_noise(), "JPEG", quality=90)  # noqa: E731
_SVG = '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"></svg>'

CASES = [
    bad("text_named_png", _one("notes.png", "this is not an image"), "not a readable image"),
    bad("zero_bytes", _one("empty.png", b""), "empty (0 bytes)"),
    bad("truncated_png", _one("cut.png", lambda: _PNG()[: len(_PNG()) // 2]), "truncated"),
    bad("truncated_jpeg", _one("cut.jpg", lambda: _JPG()[: len(_JPG()) // 2]), "truncated"),
    bad("bomb_png_20000x20000", _one("bomb.png", _png_header_only(20000, 20000)), "megapixel limit",
        max_mb=1),
    bad("file_over_50mb_on_disk", lambda d: _sparse(d / "set" / "huge.png", 60 * 2**20), "larger than 50 MB",
        max_mb=1),
    bad("bomb_png_7000x7000", _one("big.png", _png_header_only(7000, 7000)), "7000x7000", max_mb=1),
    ok("png_16bit_dark", _one("deep.png", lambda: _bytes(Image.fromarray(np.full((40, 40), 255, np.uint16)), "PNG")),
       lambda s: int(s.images.max()) <= 1),  # 255 of 65535 is near black, not white
    ok("png_16bit_full_range", _one("deep.png", lambda: _bytes(Image.fromarray(
        np.linspace(0, 65535, 1600).reshape(40, 40).astype(np.uint16)), "PNG")),
       lambda s: int(s.images.max()) > 240 and int(s.images.min()) < 15),
    ok("cmyk_jpeg", _one("cmyk.jpg", lambda: _bytes(Image.new("CMYK", (40, 40), (0, 255, 255, 0)), "JPEG")),
       lambda s: _near(_centre(s), RED)),
    ok("palette_transparency", _one("pal.png", _palette_with_transparency), _palette_ok),
    ok("grayscale", _one("grey.png", lambda: _bytes(Image.new("L", (40, 40), 100), "PNG")),
       lambda s: _near(_centre(s), (100, 100, 100), tol=1)),
    ok("animated_gif_first_frame", _one("anim.gif", lambda: _animated("GIF")),
       lambda s: _near(_centre(s), RED, tol=5)),
    ok("animated_webp_first_frame", _one("anim.webp", lambda: _animated("WEBP", lossless=True)),
       lambda s: _near(_centre(s), RED, tol=5)),
    ok("exif_rotated_jpeg", _one("phone.jpg", _exif_rotated_jpeg), _upright),
    bad("svg_file", _one("logo.svg", _SVG), "SVG"),
    bad("svg_named_png", _one("logo.png", _SVG), "SVG"),
    bad("heic_named", _one("IMG_0001.HEIC", b"\0\0\0\x18ftypheic" + bytes(64)), "HEIC"),
    bad("heic_content_named_jpg", _one("IMG_0002.jpg", b"\0\0\0\x18ftypheic" + bytes(64)), "HEIC"),
    bad("tga_file", _one("sprite.tga", lambda: _bytes(Image.new("RGB", (8, 8), RED), "TGA")),
        "not an image type"),
    bad("ico_named_png", _one("favicon.png", lambda: _bytes(Image.new("RGB", (16, 16), RED), "ICO")),
        "not a readable image"),
    bad("empty_folder", lambda d: (d / "set").mkdir() or d / "set", "no images found"),
    ok("one_image", _one("only.png", _PNG), _count(1)),
    ok("two_thousand_images_zip", lambda d: _many_tiny_pngs_zip(d / "many.zip", 2000), _capped),
    ok("huge_jpeg_6000x4000", _one("huge.jpg", lambda: _bytes(Image.new("RGB", (6000, 4000), GREEN), "JPEG",
                                                              quality=50)),
       lambda s: _near(_centre(s), GREEN, tol=10)),
    bad("zip_without_images", lambda d: _zip(d / "none.zip", {"readme.txt": b"hi", "dir/": b""}),
        "no usable images"),
    ok("zip_nested_folders", lambda d: _zip(d / "nested.zip", {
        f"a/b{i % 2}/c/{i}.png": _bytes(img, "PNG") for i, img in enumerate(make_shape_images(4, 40, seed=1))}),
       lambda s: len(s.names) == 4 and all(n.startswith("a/b") for n in s.names)),
    ok("zip_slip_names", lambda d: _zip_slip(d / "slip.zip"),
       lambda s: sorted(s.names) == ["../../evil.png", ABSOLUTE_SLIP]),
    bad("zip_bomb_60mb_member", lambda d: _zip_bomb(d / "bomb.zip"), "unpacks to 60 MB", max_mb=4),
    bad("zip_bomb_lying_header", lambda d: _zip_bomb_lying_header(d / "liar.zip"), "big.png", max_mb=4),
    bad("zip_corrupt_member", lambda d: _corrupt_member_zip(d / "crc.zip"), "damaged inside the zip"),
    bad("zip_encrypted_member", lambda d: _patch_zip(_zip(d / "enc.zip", {"a.png": _PNG()}), b"a.png", b"a.png",
                                                     set_flags=0x01), "encrypted"),
    bad("not_a_zip", lambda d: _one("photos.zip", "PK but not really")(d) / "photos.zip", "not a readable zip"),
    ok("non_utf8_name_on_disk", _one(b"caf\xe9_\xff.png", _PNG), _escaped_name),
    bad("non_utf8_and_newline_name_rejected", _one(b"bad\n\xfe.png", "text"), "bad\\n\\xfe.png"),
    ok("zip_cp437_garbage_names", lambda d: _patch_zip(_zip(d / "old.zip", {"AAAA.png": _PNG()}),
                                                       b"AAAA.png", b"\x80\x81\xff\xfe.png"),
       lambda s: len(s.names) == 1 and s.names[0].endswith(".png")),
    bad("zip_names_flagged_utf8_but_not", lambda d: _patch_zip(_zip(d / "bad.zip", {"AAAA.png": _PNG()}),
                                                               b"AAAA.png", b"\xff\xfe\xfd\xfc.png",
                                                               set_flags=0x800), "UTF-8"),
    ok("duplicates_dropped", lambda d: _write(_write(_write(d / "set", "a.png", _PNG()), "b.png", _PNG()),
                                              "c.png", _JPG()),
       lambda s: len(s.names) == 2 and s.duplicates == ["b.png"]),
    ok("mixed_good_and_bad", lambda d: _write(_write(_write(_write(d / "set", "good.png", _PNG()), "empty.png", b""),
                                                     "notes.txt", "x"), "cut.jpg", _JPG()[:300]), _mixed),
]


def _listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def _tree(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


def _printable_line(text: str) -> bool:
    text.encode("utf-8")  # strict: a lone surrogate from an undecodable file name would raise
    return "\n" not in text and "\r" not in text


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path, tiny_source, capsys):
    target = case.make(tmp_path)
    outside = {p: _listing(p) for p in (tmp_path.parent, tmp_path.parent.parent)}
    evil = {p: (p.exists(), p.exists() and p.stat().st_mtime) for p in (Path(ABSOLUTE_SLIP), Path.cwd() / "evil.png")}
    inside = _tree(tmp_path)

    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        result = load_images(target, RES)
    except DataError as exc:
        result = exc
    took = time.perf_counter() - t0
    peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    # Loading never writes: not inside tmp_path, not beside it, not where zip-slip names point.
    assert _tree(tmp_path) == inside
    assert {p: _listing(p) for p in outside} == outside
    assert {p: (p.exists(), p.exists() and p.stat().st_mtime) for p in evil} == evil
    assert took < 15, f"loading took {took:.1f}s"
    assert peak_mb < case.max_mb, f"peak Python memory {peak_mb:.1f} MB"

    if case.outcome == "accepted":
        assert not isinstance(result, Exception), result
        assert result.images.dtype == torch.uint8 and result.images.shape[1:] == (3, RES, RES)
        assert len(result.names) == len(result.images)
        assert all(_printable_line(n) for n in result.names + result.duplicates + result.notes)
        assert all(_printable_line(n) and _printable_line(r) for n, r in result.rejected)
        assert case.check(result), (result.names, result.rejected, result.notes)
        return

    assert isinstance(result, DataError), f"expected a DataError, got {len(result.names)} images"
    message = str(result)
    assert case.reason in message and _printable_line(message), message
    capsys.readouterr()
    rc = main(["finetune", "--source", str(tiny_source), "--data", str(target), "--out", str(tmp_path / "out"),
               "--steps", "1", "--batch", "2", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("tgan finetune: error:") and case.reason in err
    assert "Traceback" not in err and not (tmp_path / "out" / "model.safetensors").exists()


def test_zip_total_size_cap(tmp_path, monkeypatch):
    """Many members that each pass the per-file cap still stop at the whole-zip cap."""
    import tgan.image_files

    members = {f"{i}.png": _bytes(_noise(32, seed=i), "PNG") for i in range(6)}
    path = _zip(tmp_path / "many.zip", members)
    monkeypatch.setattr(tgan.image_files, "MAX_ZIP_BYTES", 3 * max(len(m) for m in members.values()))
    with pytest.raises(DataError, match="uncompressed"):
        load_images(path, RES)


# ---- checkpoints ---------------------------------------------------------------------------------

def _pickle_as_safetensors(d: Path) -> None:
    (d / "model.safetensors").write_bytes(pickle.dumps({"G_ema.x": torch.zeros(1)}))


def _torch_zip_as_safetensors(d: Path) -> None:
    torch.save({"G_ema.x": torch.zeros(1)}, d / "model.safetensors")


def _only_pickle(name: str) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        (d / "model.safetensors").unlink()
        torch.save({"G_ema.x": torch.zeros(1)}, d / name)
    return make


def _wrong_shape(d: Path) -> None:
    tensors = load_file(str(d / "model.safetensors"))
    key = next(k for k in sorted(tensors) if k.startswith("G_ema.") and tensors[k].ndim == 2)
    tensors[key] = torch.zeros(tensors[key].shape[0] + 3, tensors[key].shape[1])
    save_file(tensors, str(d / "model.safetensors"))
    (d / "expected.txt").write_text(key[len("G_ema."):])


@pytest.mark.parametrize("make,expect", [
    (_pickle_as_safetensors, ["safetensors", "pickle"]),
    (_torch_zip_as_safetensors, ["safetensors", "torch.save"]),
    (_only_pickle("model.pt"), ["safetensors", "model.pt"]),
    (_only_pickle("pytorch_model.bin"), ["safetensors", "pytorch_model.bin"]),
    (_wrong_shape, ["shape mismatches", "in the file", "in this model"]),
], ids=["pickle_named_safetensors", "torch_save_named_safetensors", "model_pt_only", "pytorch_model_bin_only",
        "wrong_shape"])
def test_bad_checkpoint(make, expect, tiny_source, tmp_path, capsys):
    folder = tmp_path / "model"
    shutil.copytree(tiny_source, folder)
    make(folder)
    with pytest.raises(CheckpointError) as info:
        load_model(folder)
    message = str(info.value)
    assert all(e in message for e in expect), message
    if (folder / "expected.txt").is_file():  # the wrong-shape case: name the tensor and both shapes
        key = (folder / "expected.txt").read_text()
        good, bad = (load_file(str(tiny_source / "model.safetensors")), load_file(str(folder / "model.safetensors")))
        assert key in message
        assert str(tuple(good["G_ema." + key].shape)) in message and str(tuple(bad["G_ema." + key].shape)) in message
    rc = main(["sample", "--model", str(folder), "--out", str(tmp_path / "s.png"), "--n", "2"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "s.png").exists()
