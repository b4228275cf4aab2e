"""appkit.ThreadedIterator: a generator run on a thread of its own, its items handed over in order."""
from __future__ import annotations

import ast
import contextvars
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from appkit import ThreadedIterator, call_on_own_thread

WHO = contextvars.ContextVar("who", default="nobody")


def _numbers(n: int, seen: dict):
    seen["thread"] = threading.get_ident()
    seen["threads"] = torch.get_num_threads()
    seen["who"] = WHO.get()
    try:
        yield from range(n)
    finally:
        seen["closed on"] = threading.get_ident()


def test_items_arrive_in_order_from_another_thread_with_its_own_thread_count():
    seen = {}
    WHO.set("the handler")
    items = ThreadedIterator(_numbers(5, seen), threads=1)
    assert list(items) == [0, 1, 2, 3, 4]
    assert list(items) == []  # exhausted stays exhausted
    assert items.join(5)
    assert seen["thread"] != threading.get_ident() and seen["closed on"] == seen["thread"]
    assert seen["threads"] == 1
    assert seen["who"] == "the handler"  # the creator's context variables travel along


def test_an_error_in_the_generator_is_raised_to_the_reader():
    def failing():
        yield 1
        raise RuntimeError("chunk died")

    items = ThreadedIterator(failing())
    assert next(items) == 1
    with pytest.raises(RuntimeError, match="chunk died"):
        next(items)
    with pytest.raises(RuntimeError, match="chunk died"):  # and again on a later call
        next(items)


def test_a_call_on_its_own_thread_returns_or_raises_here():
    assert call_on_own_thread(lambda a, b: (a + b, threading.get_ident()), 2, 3)[0] == 5
    assert call_on_own_thread(threading.get_ident) != threading.get_ident()
    with pytest.raises(ValueError, match="bad upload"):
        call_on_own_thread(lambda: (_ for _ in ()).throw(ValueError("bad upload")))


def test_close_stops_the_generator_after_its_current_item():
    release, seen = threading.Event(), {}

    def slow():
        try:
            for i in range(1000):
                release.wait(5)
                yield i
        finally:
            seen["closed on"] = threading.get_ident()

    items = ThreadedIterator(slow())
    items.close()
    release.set()
    assert items.join(5)
    assert len(list(items)) <= 1 and seen["closed on"] != threading.get_ident()


# What app.py's main thread does first, then a handler's thread, a chunk's and a later handler's.
# In a fresh process: the thread count that new threads take is the whole process's.
APP_THREADS = """
import threading, torch
import appkit as sup
from appkit import ThreadedIterator
from webapp import plumbing

def count_in_new_thread(key):
    handler = threading.Thread(target=lambda: seen.setdefault(key, torch.get_num_threads()))
    handler.start()
    handler.join()

seen = {"train threads": sup.TRAIN_THREADS}
plumbing.leave_cores_to_training()
count_in_new_thread("handler")
started = threading.Event()

def counts():
    started.wait(5)  # asked only after the creator has put the shared count back
    yield torch.get_num_threads()

chunk = ThreadedIterator(counts(), threads=2)
started.set()
seen["chunk"] = next(chunk)  # the count on the chunk's own thread
count_in_new_thread("handler after the chunk started")
seen["main"] = torch.get_num_threads()
print(seen)
"""


def test_the_app_leaves_the_cores_to_training():
    out = subprocess.run([sys.executable, "-c", APP_THREADS], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parent.parent, env={**os.environ, "OMP_NUM_THREADS": "2"})
    assert out.returncode == 0, out.stderr
    seen = ast.literal_eval(out.stdout.strip().splitlines()[-1])
    # the handlers run at one thread before and after a chunk; the chunk at its own two;
    # TRAIN_THREADS was read before the app's threads were set
    assert seen == {"train threads": 2, "handler": 1, "chunk": 2, "handler after the chunk started": 1, "main": 1}
