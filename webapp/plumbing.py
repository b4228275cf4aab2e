"""What every handler shares: the ZeroGPU decorator and the training chunk it wraps, app
settings, mistakes as toasts, session lifetime."""
import os

try:  # On a ZeroGPU Space (import it before torch), each training chunk gets a GPU; elsewhere a no-op.
    import spaces

    gpu = spaces.GPU
except ImportError:
    def gpu(fn=None, **_):
        return fn if fn is not None else (lambda f: f)

import functools  # noqa: E402
import inspect  # noqa: E402
import logging  # noqa: E402
import weakref  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
import torch  # noqa: E402

import appkit as sup  # noqa: E402

from tgan import train_chunk  # noqa: E402
from tgan.config import DEFAULT_FINETUNE_STEPS  # noqa: E402

from . import atomic_cache  # noqa: E402

log = logging.getLogger("tgan.app")
atomic_cache.install()  # before any handler returns an image

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ON_GPU = torch.cuda.is_available()  # on ZeroGPU, `spaces` makes this True in the main process too
ZERO_GPU = bool(os.environ.get("SPACES_ZERO_GPU"))
DEFAULT_STEPS = int(os.environ.get("TGAN_APP_DEFAULT_STEPS", DEFAULT_FINETUNE_STEPS))  # why: its comment
TRAIN_CONCURRENCY = int(os.environ.get("TGAN_TRAIN_CONCURRENCY", "2"))
EXPLORE_CONCURRENCY = int(os.environ.get("TGAN_EXPLORE_CONCURRENCY", "8"))
KID_SAMPLES = 200 if ON_GPU else 100
NONE_SOURCE = ("none (train from scratch)", "")
_LIVE_SESSIONS: "weakref.WeakValueDictionary[str, sup.Session]" = weakref.WeakValueDictionary()


@gpu(duration=int(sup.CHUNK_SECONDS) + 30)  # the chunk's time budget, plus setup and transfers
def run_chunk(cfg, images, state, source_dir, model_config, max_steps, max_seconds, stop):
    """One chunk of a run (tgan.train_chunk). On ZeroGPU this body runs in a GPU child process:
    everything in and out is pickled, and what comes back is on the CPU."""
    if ZERO_GPU:  # the GPU process: forked from a main process that runs at one thread
        torch.set_num_threads(sup.TRAIN_THREADS)
    yield from train_chunk(cfg, images, state, source_dir, model_config, max_steps, max_seconds, stop)


def start_chunk(*args):
    """The next training chunk, as the handler iterates it (args: run_chunk's). In this process it
    trains on a thread of its own from start to end (appkit.ThreadedIterator, which says why); on
    ZeroGPU it trains in the GPU process and this thread only relays its events."""
    chunk = run_chunk(*args)
    return chunk if ZERO_GPU else sup.ThreadedIterator(chunk, threads=sup.TRAIN_THREADS, name="tgan-chunk")


def leave_cores_to_training() -> None:
    """One intra-op thread for this thread and for every thread that starts parallel work later
    (gradio's handlers take the count then), so that none of them keeps an OpenMP team alive; a
    training chunk, a score and the dataset doctor take TRAIN_THREADS on a thread of their own
    (appkit.own_thread). app.py calls it before anything runs."""
    torch.set_num_threads(1)


def training_device() -> str:
    """Where chunks train, without touching CUDA in this process (on ZeroGPU that raises)."""
    if ZERO_GPU:
        return "a ZeroGPU GPU, lent for each training chunk"
    if ON_GPU:
        return f"GPU: {torch.cuda.get_device_name(0)}"
    return f"CPU ({sup.TRAIN_THREADS} thread{'s' * (sup.TRAIN_THREADS > 1)})"


def is_user_mistake(exc: Exception) -> bool:
    """Bad input the user can fix (DataError, CheckpointError and other ValueErrors), as opposed
    to something that went wrong inside the app."""
    return isinstance(exc, (ValueError, FileNotFoundError)) and not isinstance(exc, gr.Error)


def internal_error(exc: Exception) -> gr.Error:
    """A concise message for the UI; unexpected errors are logged with their traceback."""
    if isinstance(exc, gr.Error):
        return exc
    log.exception("handler failed")
    return gr.Error(f"Something went wrong ({type(exc).__name__}: {str(exc)[:200]}). "
                    "The app is still running; try again or change the settings.", print_exception=False)


def guarded(fn):
    """No tracebacks in the UI, no crashed workers. A user's mistake becomes a warning toast and
    leaves every output as it was (gr.skip(), so no component shows an error badge); anything
    unexpected becomes an error toast and is logged."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:
                if not is_user_mistake(exc):
                    raise internal_error(exc) from None
                gr.Warning(str(exc))
                yield gr.skip()
    else:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if not is_user_mistake(exc):
                    raise internal_error(exc) from None
                gr.Warning(str(exc))
                return gr.skip()
    return wrapper


def bind(sess: sup.Session, request) -> None:
    """Remember which browser session owns `sess`, so closing the tab frees its files at once."""
    if request is not None and getattr(request, "session_hash", None):
        _LIVE_SESSIONS[request.session_hash] = sess


def on_unload(request: gr.Request):
    sess = _LIVE_SESSIONS.pop(getattr(request, "session_hash", None) or "", None)
    if sess is not None:
        sess.close()


def new_session() -> sup.Session:
    return sup.Session()


def on_state_deleted(sess) -> None:
    if isinstance(sess, sup.Session):
        sess.close()
