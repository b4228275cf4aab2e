"""appkit.ThreadedIterator: a generator run on a thread of its own, its items handed over in order."""
from __future__ import annotations

import contextvars
import threading

import pytest
import torch

from appkit import ThreadedIterator

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


def test_the_app_leaves_the_cores_to_training():
    import appkit as sup
    from webapp import plumbing

    seen = {}

    def count_in_new_thread(key: str) -> None:
        handler = threading.Thread(target=lambda: seen.setdefault(key, torch.get_num_threads()))
        handler.start()
        handler.join()

    before = torch.get_num_threads()
    try:
        plumbing.leave_cores_to_training()  # what app.py's main thread does first
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
    finally:
        torch.set_num_threads(before)
    assert seen == {"handler": 1, "chunk": 2, "handler after the chunk started": 1, "main": 1}
    assert sup.TRAIN_THREADS >= 1  # read at import: training keeps the machine's count
