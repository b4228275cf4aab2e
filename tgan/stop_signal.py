"""A stop request that crosses process boundaries.

On ZeroGPU each training chunk runs in a child process: a threading.Event set in the main process
never reaches it, but a file does. StopFile is a path, so it pickles with the chunk's arguments,
and checking it is one stat() per step."""
from __future__ import annotations

import os
from pathlib import Path


class StopFile:
    """Set: the file exists. Same interface as threading.Event's is_set/set/clear."""

    def __init__(self, path):
        self.path = str(path)

    def set(self) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        Path(self.path).touch()

    def clear(self) -> None:
        Path(self.path).unlink(missing_ok=True)

    def is_set(self) -> bool:
        return os.path.exists(self.path)

    def __repr__(self) -> str:
        return f"StopFile({self.path!r})"
