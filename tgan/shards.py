"""Corpora too big for memory: tar shards in the WebDataset layout, streamed and shuffled per rank.

A shard folder holds `shard-00000.tar`, `shard-00001.tar`, ...; each member is one image file
(`<key>.png`, `.jpg`, ...), as WebDataset writes them. Rank r of a world of n reads shards r, r+n,
r+2n, ... of each epoch's seeded permutation, and mixes what it reads in a shuffle buffer, so the
ranks see disjoint parts of the corpus and each its own order. `write_shards` makes such a folder
from anything `tgan.load_images` reads (`tgan shards`)."""
from __future__ import annotations

import io
import random
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .data import DataError, decode_image, load_images

PATTERN = "shard-*.tar"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")


def is_shard_folder(path) -> bool:
    path = Path(path)
    return path.is_dir() and any(path.glob(PATTERN))


def write_shards(paths, out_dir, per_shard: int = 1000, resolution: int = 64) -> list[Path]:
    """Decode the images at `paths` at `resolution` and write them as PNG members of tar shards
    of `per_shard` images each. Returns the shard paths."""
    images = load_images(paths, resolution, max_images=None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for start in range(0, len(images.images), per_shard):
        path = out / f"shard-{start // per_shard:05d}.tar"
        with tarfile.open(path, "w") as tar:
            for i, img in enumerate(images.images[start:start + per_shard], start):
                buf = io.BytesIO()
                Image.fromarray(img.permute(1, 2, 0).numpy()).save(buf, format="PNG")
                info = tarfile.TarInfo(f"{i:08d}.png")
                info.size = buf.tell()
                buf.seek(0)
                tar.addfile(info, buf)
        written.append(path)
    return written


def _image_members(shard: Path) -> int:
    with tarfile.open(shard) as tar:
        return sum(1 for m in tar if m.isfile() and m.name.lower().endswith(IMAGE_SUFFIXES))


class ShardStream:
    """An endless stream of (3, R, R) uint8 images from a shard folder, for one rank."""

    def __init__(self, folder, resolution: int, rank: int = 0, world_size: int = 1, seed: int = 0,
                 buffer: int = 2000):
        self.shards = sorted(Path(folder).glob(PATTERN))
        if len(self.shards) < world_size:
            raise DataError(f"{folder}: {len(self.shards)} shard(s) for {world_size} processes; every process "
                            "needs at least one (write smaller shards with `tgan shards --per-shard`)")
        self.resolution, self.rank, self.world_size = resolution, rank, world_size
        self.rng = random.Random(seed * 1_000_003 + rank)  # this rank's own order
        self.count = sum(_image_members(shard) for shard in self.shards)  # tar headers only, nothing decoded
        self.seed, self.buffer = seed, min(buffer, self.count)  # a small corpus fits in the buffer whole
        self._images = self._shuffled()

    def __len__(self) -> int:
        """Images in the whole corpus (every shard's)."""
        return self.count

    def _epoch_shards(self, epoch: int) -> list[Path]:
        """This rank's shards in one epoch: its slice of a permutation all ranks agree on."""
        order = list(self.shards)
        random.Random(self.seed * 7919 + epoch).shuffle(order)
        return order[self.rank::self.world_size]

    def _members(self) -> Iterator[np.ndarray]:
        epoch = 0
        while True:
            read = 0
            for shard in self._epoch_shards(epoch):
                with tarfile.open(shard) as tar:
                    for member in tar:
                        if not (member.isfile() and member.name.lower().endswith(IMAGE_SUFFIXES)):
                            continue
                        try:
                            img = decode_image(tar.extractfile(member).read(), self.resolution)
                        except ValueError:
                            continue  # one unreadable member does not stop a long run
                        read += 1
                        yield np.asarray(img, dtype=np.uint8)  # (R, R, 3)
            if not read:
                raise DataError(f"no readable image in shards {[p.name for p in self._epoch_shards(epoch)]}")
            epoch += 1

    def _shuffled(self) -> Iterator[np.ndarray]:
        """Reservoir-style shuffle buffer over the member stream."""
        pool: list[np.ndarray] = []
        for img in self._members():
            if len(pool) < self.buffer:
                pool.append(img)
                continue
            i = self.rng.randrange(len(pool))
            pool[i], img = img, pool[i]
            yield img

    def take(self, n: int) -> torch.Tensor:
        """The next n images, (n, 3, R, R) uint8."""
        batch = np.stack([next(self._images) for _ in range(n)])
        return torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()
