"""Sources that people bring: a tgan model zip (config.json + model.safetensors, e.g. one the
app's Download gave them), checked, unpacked into their session's folder and registered under a
name that only this process resolves. Pickle checkpoints are refused: loading one runs whatever
code its author put in it."""
from __future__ import annotations

import itertools
import threading
import zipfile
from pathlib import Path

from tgan.checkpoint import CONFIG, WEIGHTS, CheckpointError
from tgan.models import load_source

PICKLES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")
MAX_BYTES = 200 * 2**20  # a 64 px model is a few MB; this bounds what an upload may unpack
_uploaded: dict[str, Path] = {}
_lock = threading.Lock()
_counter = itertools.count(1)


def pickle_message(filename: str) -> str:
    return (f"{filename} is a pickle checkpoint: loading one runs any code its author put in it, so tgan "
            "never opens them. Convert it where you trust it: load it in Python, save the weights with "
            "safetensors.torch.save_file(state_dict, 'model.safetensors'), put tgan's config.json beside it "
            "and zip the two (that is the layout of the app's Download).")


def add_uploaded_source(upload: Path, workdir: Path) -> str:
    """Check and unpack an uploaded model zip; return the name it is known by from now on."""
    upload = Path(upload)
    name = upload.name
    if name.lower().endswith(PICKLES):
        raise CheckpointError(pickle_message(name))
    if not zipfile.is_zipfile(upload):
        raise CheckpointError(f"{name} is not a .zip; upload the zip of config.json + model.safetensors "
                              "that the app's Download gives")
    folder = workdir / f"own-source-{next(_counter)}"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(upload) as zf:
        members = {Path(i.filename).name: i for i in zf.infolist() if not i.is_dir()}
        pickles = [m for m in members if m.lower().endswith(PICKLES)]
        missing = [n for n in (CONFIG, WEIGHTS) if n not in members]
        if missing:
            also = f"; it holds {pickle_message(pickles[0])}" if pickles else ""
            raise CheckpointError(f"{name} has no {' and no '.join(missing)}{also}")
        if sum(members[n].file_size for n in (CONFIG, WEIGHTS)) > MAX_BYTES:
            raise CheckpointError(f"{name} unpacks to more than {MAX_BYTES // 2**20} MB; is it a tgan model?")
        for member in (CONFIG, WEIGHTS):  # only these two, by name: nothing else in the zip is written
            (folder / member).write_bytes(zf.read(members[member]))
    load_source(folder, device="cpu")  # keys, shapes and a discriminator to transfer, or a clear error
    label = f"yours: {Path(name).stem} #{folder.name.rsplit('-', 1)[1]}"
    with _lock:
        _uploaded[label] = folder
    return label


def uploaded_source(name: str) -> Path | None:
    """The folder of an uploaded source by its name (None: not an uploaded name)."""
    with _lock:
        folder = _uploaded.get(name)
    if folder is not None and not (folder / WEIGHTS).is_file():
        raise CheckpointError(f"the uploaded source {name!r} is gone (its tab was closed); upload it again")
    return folder
