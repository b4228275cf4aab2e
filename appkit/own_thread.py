"""Run a generator from start to end on one thread of its own, and hand its items over a queue.

Why: PyTorch's CPU kernels run on OpenMP (libgomp) thread teams, one per thread that starts
parallel work, and a team lives as long as its thread. gradio's handler threads live long, and it
resumes a streaming handler with each `next()` on whichever is free; with more OpenMP threads
alive than cores, libgomp stops spinning between parallel regions and the default fine-tune's
step took 1.4x as long on 2 cores (benchmarks/app_training_speed.py). So the app's other threads
run at one intra-op thread (no team), and the work that wants the cores (a training chunk, a
score) runs here, on a thread that ends with it and takes its team along. It also no longer waits
while the page's updates are encoded: it runs on, and the handler shows the latest events when it
gets to them.
"""
from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

import torch

T = TypeVar("T")
_END = object()  # the generator is exhausted (or raised: the exception travels with it)


class ThreadedIterator(Generic[T]):
    """Iterate `gen` on a new thread at once, at `threads` intra-op threads (None: the creating
    thread's count); iterating this yields its items in order and raises what it raised. close()
    asks the thread to stop after the item it is making and to close the generator there. The
    thread runs in a copy of the creator's context variables (gradio's request context, for one)."""

    def __init__(self, gen: Iterator[T], threads: int | None = None, name: str = "tgan-work"):
        self._gen, self._threads = gen, threads
        self._items: queue.Queue = queue.Queue()  # unbounded: the producer never waits on the page
        self._closing, counted = threading.Event(), threading.Event()
        creators_threads = torch.get_num_threads()
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._produce, counted), name=name, daemon=True)
        self._thread.start()
        if threads is not None:
            # torch.set_num_threads also sets the count that threads take when they first run
            # parallel work; put that back once the new thread has its own, so the app's other
            # threads stay at theirs
            counted.wait()
            torch.set_num_threads(creators_threads)

    def _produce(self, counted: threading.Event) -> None:
        error = None
        if self._threads is not None:
            # A thread takes the shared count the first time it asks for one (PyTorch's lazy
            # init): ask first, so that the count set next stays this thread's own
            torch.get_num_threads()
            torch.set_num_threads(self._threads)
        counted.set()
        try:
            for item in self._gen:
                self._items.put((item, None))
                if self._closing.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            error = exc
        finally:
            close = getattr(self._gen, "close", None)
            if close is not None and error is None:
                close()  # on this thread, where the generator ran: its cleanup runs here too
            self._items.put((_END, error))

    def __iter__(self) -> "ThreadedIterator[T]":
        return self

    def __next__(self) -> T:
        item, error = self._items.get()
        if item is _END:
            self._items.put((item, error))  # later calls end the same way
            if error is not None:
                raise error
            raise StopIteration
        return item

    def close(self) -> None:
        self._closing.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True if it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()


def call_on_own_thread(fn: Callable[..., T], *args, threads: int | None = None) -> T:
    """fn(*args) on a thread of its own at `threads` intra-op threads, as ThreadedIterator runs a
    generator; its result (or its error) comes back here."""
    def once() -> Iterator[T]:
        yield fn(*args)
    return next(ThreadedIterator(once(), threads=threads, name="tgan-call"))
