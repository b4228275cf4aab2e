"""Where bundled things live. Resolved relative to the package so a clone works from anywhere."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# A checkout (or editable install) has checkpoints/ beside tgan/; `pip install .` puts it inside
# the package as tgan/checkpoints (see pyproject.toml).
_BUNDLED = REPO_ROOT / "checkpoints"
if not _BUNDLED.is_dir():
    _BUNDLED = Path(__file__).resolve().parent / "checkpoints"
CHECKPOINTS = Path(os.environ.get("TGAN_CHECKPOINTS", _BUNDLED))
EXAMPLES = REPO_ROOT / "examples"


def resolve_model(name_or_path) -> Path:
    """A folder path, or the name of a bundled source under checkpoints/ (e.g. "emoji")."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    bundled = CHECKPOINTS / str(name_or_path)
    if bundled.is_dir():
        return bundled
    known = sorted(p.name for p in CHECKPOINTS.iterdir() if p.is_dir()) if CHECKPOINTS.is_dir() else []
    raise FileNotFoundError(f"no model folder {name_or_path!r}; bundled sources: {', '.join(known) or 'none'}")
