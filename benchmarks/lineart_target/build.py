"""Build a few-shot target of DiceBear avatars as 64x64 PNGs in a zip, the way the bundled target
sets are built: rendered at 4x with rsvg-convert, cropped to the subject, scaled to fit with a 4 px
margin, composited on white, downsampled with Lanczos; exact duplicates dropped.

    npm install @dicebear/core@9.4.3 @dicebear/collection@9.4.3   # and: apt-get install librsvg2-bin
    node render.mjs SVG_DIR notionists 500
    python build.py SVG_DIR DATA_DIR/target-faces-notionists.zip

Used for DiceBear styles that are in none of our sets, to test the default fine-tune beyond the
visible targets (benchmarks/README.md): "notionists" (line-art busts; design by Zoish, CC0 1.0),
"croodles" (doodled line-art faces; vijay verma, CC BY 4.0), "pixelArt" (DiceBear, CC0 1.0) and
"miniavs" (flat colour faces; Webpixels, CC BY 4.0), 500 seeds each (target-faces-notionists.zip,
target-faces-croodles.zip, target-faces-pixel-art.zip, target-faces-miniavs.zip).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import zipfile
from pathlib import Path

from PIL import Image

SIDE, MARGIN, SUPERSAMPLE = 64, 4, 4


def render(svg: Path) -> Image.Image:
    px = str(SIDE * SUPERSAMPLE)
    png = subprocess.run(["rsvg-convert", "-w", px, "-h", px, str(svg)], capture_output=True, check=True).stdout
    return Image.open(io.BytesIO(png)).convert("RGBA")


def fit_on_white(im: Image.Image) -> Image.Image:
    """The subject (its non-transparent box) scaled to SIDE - 2*MARGIN, centred on white, SIDE px RGB."""
    box = im.getbbox()
    im = im.crop(box) if box else im
    big, inner = SIDE * SUPERSAMPLE, (SIDE - 2 * MARGIN) * SUPERSAMPLE
    scale = inner / max(im.size)
    im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.LANCZOS)
    canvas = Image.new("RGBA", (big, big), (255, 255, 255, 255))
    canvas.alpha_composite(im, ((big - im.width) // 2, (big - im.height) // 2))
    return canvas.convert("RGB").resize((SIDE, SIDE), Image.LANCZOS)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("svg_dir", type=Path)
    p.add_argument("out_zip", type=Path)
    a = p.parse_args()
    svgs = sorted(a.svg_dir.glob("*.svg"), key=lambda s: int(s.stem))
    seen, n = set(), 0
    with zipfile.ZipFile(a.out_zip, "w", zipfile.ZIP_STORED) as z:
        for svg in svgs:
            im = fit_on_white(render(svg))
            digest = hashlib.sha1(im.tobytes()).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            buf = io.BytesIO()
            im.save(buf, "PNG", optimize=True)
            z.writestr(f"{n:05d}.png", buf.getvalue())
            n += 1
    print(f"{a.out_zip.name}: {n} images from {len(svgs)} SVGs")


if __name__ == "__main__":
    main()
