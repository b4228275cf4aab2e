"""What `spaces.GPU` does to a generator function on a ZeroGPU Space, without a GPU (spaces 0.51):
every call runs in a child process made with the fork context; the arguments go in pickled, each
yield comes back pickled through a queue and is re-yielded in the parent; closing the stream stops
the child; nothing the child changes in globals comes back. `child_setup` runs first in the child
(on ZeroGPU, CUDA is real there)."""
from __future__ import annotations

import multiprocessing as mp
import pickle
import queue


def _child(fn, payload: bytes, results, child_setup) -> None:
    try:
        if child_setup is not None:
            child_setup()
        args, kwargs = pickle.loads(payload)
        for item in fn(*args, **kwargs):
            results.put(("item", pickle.dumps(item)))
        results.put(("end", None))
    except BaseException as exc:  # noqa: BLE001  reported to the parent, as spaces does
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def forked_gpu(fn, child_setup=None, on_child_started=None):
    """fn wrapped the way ZeroGPU wraps it. on_child_started(process): a hook for tests that kill it."""

    def wrapper(*args, **kwargs):
        ctx = mp.get_context("fork")
        results = ctx.Queue()
        child = ctx.Process(target=_child, args=(fn, pickle.dumps((args, kwargs)), results, child_setup),
                            daemon=True)
        child.start()
        if on_child_started is not None:
            on_child_started(child)
        try:
            while True:
                try:
                    kind, payload = results.get(timeout=0.2)
                except queue.Empty:
                    if not child.is_alive():
                        raise RuntimeError(f"the GPU task's process died (exit code {child.exitcode})") from None
                    continue
                if kind == "item":
                    yield pickle.loads(payload)
                elif kind == "end":
                    return
                else:
                    raise RuntimeError(f"GPU task failed: {payload}")
        finally:  # the stream was closed or ended: the child goes
            if child.is_alive():
                child.terminate()
            child.join(10)

    return wrapper
