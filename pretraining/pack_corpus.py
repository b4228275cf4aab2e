"""Pack a pretraining corpus small enough to travel with the repository to a GPU machine, and
unpack it there into a folder that `tgan pretrain --data` reads.

    python pretraining/pack_corpus.py pack --data source-emoji.zip --out .devdata/emoji.u8.xz [--n 7000]
    python pretraining/pack_corpus.py unpack .devdata/emoji.u8.xz --out CORPUS_DIR

The corpus's zip holds one PNG per image (about 3.5 KB each at 64 px); one xz stream of all the
images' raw pixels is about 2.1 KB each, because the stream can reuse what images share. The file
is a .npy array, (N, 3, R, R) uint8, read back without pickle. --n keeps a seeded random subset
(tgan.subsets.random_subset), for when the whole corpus would not fit beside the working tree.
"""
from __future__ import annotations

import argparse
import io
import lzma
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tgan import load_images  # noqa: E402
from tgan.subsets import random_subset  # noqa: E402


def pack(data: Path, out: Path, n: int | None, resolution: int) -> str:
    images = random_subset(load_images(data, resolution, max_images=None), n, seed=0)
    buffer = io.BytesIO()
    np.save(buffer, images.images.numpy(), allow_pickle=False)  # (N, 3, R, R) uint8
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(lzma.compress(buffer.getvalue(), preset=9 | lzma.PRESET_EXTREME))
    count = len(images.names)
    return f"{out}: {count} images, {out.stat().st_size / 1e6:.1f} MB ({out.stat().st_size / count / 1e3:.2f} KB each)"


def unpack(packed: Path, out: Path) -> str:
    array = np.load(io.BytesIO(lzma.decompress(packed.read_bytes())), allow_pickle=False)
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[1] != 3:
        raise SystemExit(f"{packed} holds a {array.dtype} array of shape {array.shape}; expected (N, 3, R, R) uint8")
    out.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(array):
        Image.fromarray(image.transpose(1, 2, 0)).save(out / f"{i:06d}.png", compress_level=1)  # (R, R, 3)
    return f"{out}: {len(array)} images of {array.shape[-1]} px"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("pack", help="corpus (zip, folder) -> one .u8.xz file")
    a.add_argument("--data", required=True, type=Path)
    a.add_argument("--out", required=True, type=Path)
    a.add_argument("--n", type=int, default=None, help="keep a seeded random N of the images (default: all)")
    a.add_argument("--resolution", type=int, default=64)
    b = sub.add_parser("unpack", help=".u8.xz file -> a folder of PNGs")
    b.add_argument("packed", type=Path)
    b.add_argument("--out", required=True, type=Path)
    args = p.parse_args()
    if args.command == "pack":
        print(pack(args.data, args.out, args.n, args.resolution))
    else:
        print(unpack(args.packed, args.out))


if __name__ == "__main__":
    main()
