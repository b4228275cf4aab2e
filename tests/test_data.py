"""Loading user images: formats, crops, duplicates, and a clear message for anything unusable."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from tgan import DataError, load_images, pick_shots
from tgan.cli import main


def _png_bytes(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def test_folder_loads_to_uint8_at_resolution(image_dir):
    s = load_images(image_dir, 32)
    assert s.images.shape == (12, 3, 32, 32) and s.images.dtype.is_floating_point is False
    assert len(s.names) == 12 and not s.rejected
    assert -1.0 <= float(s.as_float().min()) and float(s.as_float().max()) <= 1.0


def test_rgba_on_white_and_centre_crop(tmp_path):
    img = Image.new("RGBA", (80, 40), (0, 0, 0, 0))  # fully transparent, wide
    img.save(tmp_path / "a.png")
    s = load_images(tmp_path / "a.png", 32)
    assert int(s.images.min()) == 255  # transparent -> white; wide -> square crop


def test_exif_rotation_is_applied(tmp_path):
    img = Image.new("RGB", (64, 32), "white")
    img.paste((255, 0, 0), (0, 0, 32, 32))  # red on the left half
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    img.save(tmp_path / "r.jpg", exif=exif, quality=95)
    s = load_images(tmp_path / "r.jpg", 32)
    # Upright, the image is 32 wide x 64 tall: the centre crop shows the red/white boundary
    # horizontally, so top and bottom rows differ while left and right columns match.
    arr = s.images[0].permute(1, 2, 0).numpy().astype(int)
    assert abs(arr[0, :, 0].mean() - arr[-1, :, 0].mean()) < 5
    assert abs(arr[:, 0, 1].mean() - arr[:, -1, 1].mean()) < 5


def test_duplicates_and_rejections_are_reported(tmp_path, image_dir):
    (tmp_path / "good.png").write_bytes((image_dir / "img00.png").read_bytes())
    (tmp_path / "copy.png").write_bytes((image_dir / "img00.png").read_bytes())
    (tmp_path / "notes.png").write_text("this is not an image")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "readme.txt").write_text("hello")
    s = load_images(tmp_path, 32)
    assert len(s.names) == 1 and len(s.duplicates) == 1
    reasons = dict(s.rejected)
    assert "not a readable image" in reasons["notes.png"]
    assert "empty" in reasons["empty.png"]
    assert "not an image type" in reasons["readme.txt"]


def test_zip_with_nested_folders(tmp_path, image_dir):
    path = tmp_path / "set.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i, p in enumerate(sorted(image_dir.iterdir())[:5]):
            zf.write(p, f"a/b{i % 2}/{p.name}")
        zf.writestr("__MACOSX/._junk.png", b"junk")
    s = load_images(path, 32)
    assert len(s.names) == 5 and not s.rejected


@pytest.mark.parametrize("make,expect", [
    (lambda d: d, "no images found"),
    (lambda d: (d / "t.png").write_text("text") and d, "not a readable image"),
])
def test_unusable_sets_raise_one_clear_error(tmp_path, make, expect):
    folder = tmp_path / "set"
    folder.mkdir()
    with pytest.raises(DataError, match=expect):
        load_images(make(folder), 32)


def test_zip_without_images(tmp_path):
    path = tmp_path / "none.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "no pictures here")
    with pytest.raises(DataError, match="no usable images"):
        load_images(path, 32)


def test_sixteen_bit_and_palette_images(tmp_path):
    arr16 = (np.linspace(0, 65535, 32 * 32).reshape(32, 32)).astype(np.uint16)
    Image.fromarray(arr16).save(tmp_path / "deep.png")
    pal = Image.new("P", (32, 32), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "pal.png", transparency=0)
    s = load_images(tmp_path, 32)
    assert len(s.names) == 2
    deep = s.images[s.names.index("deep.png")]
    assert int(deep.max()) > 200 and int(deep.min()) < 50  # scaled, not clipped to white


def test_pick_shots_is_deterministic(image_dir):
    s = load_images(image_dir, 32)
    a, rest = pick_shots(s, 5, seed=3)
    b, _ = pick_shots(s, 5, seed=3)
    assert a.names == b.names and len(rest.names) == 7 and not set(a.names) & set(rest.names)
    with pytest.raises(DataError):
        pick_shots(s, 50, seed=0)


@pytest.mark.parametrize("setup", ["text_png", "empty_dir", "zip_no_images"])
def test_cli_bad_data_is_one_line_exit_2(setup, tmp_path, tiny_source, capsys):
    data = tmp_path / "data"
    data.mkdir()
    if setup == "text_png":
        data = data / "x.png"
        data.write_text("not an image")
    elif setup == "zip_no_images":
        data = tmp_path / "d.zip"
        with zipfile.ZipFile(data, "w") as zf:
            zf.writestr("a.txt", "x")
    rc = main(["finetune", "--source", str(tiny_source), "--data", str(data), "--out", str(tmp_path / "o"),
               "--steps", "2"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and err.startswith("tgan finetune: error:")
    assert "Traceback" not in err


def test_reference_subsets_are_seeded_random_samples_not_a_prefix(tmp_path):
    """Our sets are stored grouped by style: 10 red images, then 10 blue. A subset of 10 must
    draw from both groups, the same ones every time, and note that it is a sample."""
    from PIL import Image

    from tgan.subsets import random_subset

    for i in range(20):
        colour = (200 + i, 0, 0) if i < 10 else (0, 0, 200 + i)
        Image.new("RGB", (32, 32), colour).save(tmp_path / f"{i:02d}.png")
    ordered = load_images(tmp_path, 32)
    assert ordered.names[:10] == [f"{i:02d}.png" for i in range(10)]  # the order on disk is kept
    subset = random_subset(ordered, 10, seed=0)
    reds = int((subset.images[:, 0, 0, 0] > 100).sum())
    assert len(subset.names) == 10 and 0 < reds < 10
    assert random_subset(ordered, 10, seed=0).names == subset.names
    assert "random 10 of 20" in subset.notes[-1]
    assert random_subset(ordered, None) is ordered


def test_holdout_split_keeps_a_fifth_from_twenty_images(tmp_path):
    from PIL import Image

    from tgan.subsets import holdout_split

    for i in range(25):
        Image.new("RGB", (32, 32), (i * 9, 50, 100)).save(tmp_path / f"{i:02d}.png")
    train, heldout = holdout_split(load_images(tmp_path, 32))
    assert (len(train.names), len(heldout.names)) == (20, 5) and not set(train.names) & set(heldout.names)
    few = load_images(sorted(tmp_path.glob("*.png"))[:19], 32)
    assert holdout_split(few) == (few, None)
