"""Training in chunks that cross a process boundary: bit-exact resumption, stop, deadlines, and
the same chunks run the way ZeroGPU runs them (a forked child, everything pickled)."""
from __future__ import annotations

import pickle

import pytest
import torch

from conftest import TINY
from tgan import ChunkEnded, Failed, Finished, ModelConfig, Samples, Step, StopFile, TrainConfig, load_images, train_chunk
from zerogpu_emulation import forked_gpu

R3 = ModelConfig(resolution=32, z_dim=16, w_dim=16, g_width=8, d_width=8, family="r3gan", mapping_layers=2)


def _cfg(steps=6, **kw):
    # DiffAugment and lazy R1/R2 (every 2nd step) both draw from the run's random stream
    base = dict(steps=steps, batch_size=4, sample_every=3, save_every=0, strategies=["scratch", "diffaug"],
                reg_every=2)
    base.update(kw)
    return TrainConfig(**base)


def _chunked(cfg, images, sizes, mcfg=R3, runner=train_chunk, source=None, device="cpu"):
    """Run `cfg` as chunks of the given step counts; return (final state, every event). On the
    CPU by default: bit-exactness is a CPU promise (cuDNN may pick other kernels run to run)."""
    state, events = None, []
    for size in sizes:
        for ev in runner(cfg, images, state, source, mcfg, size, None, None, device):
            if isinstance(ev, ChunkEnded):
                state = ev.state
            events.append(ev)
    return state, events


def _same(a, b) -> list[str]:
    assert a.tensors.keys() == b.tensors.keys()
    return [k for k in a.tensors if not torch.equal(a.tensors[k], b.tensors[k])]


def test_chunks_are_bit_exact(image_dir):
    images = load_images(image_dir, 32).images
    whole, events = _chunked(_cfg(), images, [6])
    split, split_events = _chunked(_cfg(), images, [2, 1, 3])
    assert whole.step == split.step == 6
    assert _same(whole, split) == []  # weights, G_ema, Adam moments and the random stream
    losses = lambda evs: [e.losses for e in evs if isinstance(e, Step)]  # noqa: E731
    assert losses(events) == losses(split_events)
    assert isinstance(events[-2], Finished) and not events[-2].stopped and events[-1].done
    # a state survives pickling (ZeroGPU sends it between processes) unchanged
    assert _same(pickle.loads(pickle.dumps(whole)), whole) == []


def test_chunks_bit_exact_for_a_transfer_with_penalties(image_dir, tiny_source):
    images = load_images(image_dir, 32).images
    cfg = _cfg(steps=4, strategies=["transfer_d", "l2sp", "diffaug"])
    run = lambda sizes: _chunked(cfg, images, sizes, mcfg=None, source=tiny_source)[0]  # noqa: E731
    assert _same(run([4]), run([1, 3])) == []


def test_chunks_bit_exact_under_a_decaying_rate(image_dir):
    # the schedule depends on (step, steps) alone, so a resumed chunk continues it exactly
    images = load_images(image_dir, 32).images
    decaying = _cfg(lr_schedule="linear")
    whole, split = _chunked(decaying, images, [6])[0], _chunked(decaying, images, [4, 2])[0]
    assert _same(whole, split) == []
    assert _same(whole, _chunked(_cfg(), images, [6])[0]) != []  # and it does change the run


def test_a_chunk_that_is_not_the_last_hands_back_a_state_to_go_on(image_dir):
    images = load_images(image_dir, 32).images
    events = list(train_chunk(_cfg(steps=50), images, None, None, TINY, max_steps=2))
    ended = events[-1]
    assert isinstance(ended, ChunkEnded) and not ended.done and ended.state.step == 2
    assert not any(isinstance(e, (Finished, Failed)) for e in events)
    timed = list(train_chunk(_cfg(steps=10_000), images, ended.state, None, TINY, max_seconds=1.0))
    assert 2 < timed[-1].state.step < 10_000 and not timed[-1].done  # the deadline ended it


def test_stop_mid_chunk_keeps_the_last_step(image_dir, tmp_path):
    images, stop = load_images(image_dir, 32).images, StopFile(tmp_path / "stop")
    events = []
    for ev in train_chunk(_cfg(steps=500), images, None, None, TINY, stop=stop):
        events.append(ev)
        if isinstance(ev, Step) and ev.step == 3:
            stop.set()
    finished, ended = events[-2], events[-1]
    assert isinstance(finished, Finished) and finished.stopped and finished.step == 3
    assert ended.done and ended.state.step == 3
    assert isinstance(events[-3], Samples) and events[-3].step == 3  # the grid of the step it stopped at


def test_a_chunk_in_a_forked_child_equals_the_in_process_run(image_dir):
    """What ZeroGPU does: each chunk in a fork-context child, arguments and results pickled."""
    images = load_images(image_dir, 32).images
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # CPU kernels sum in a thread-count-dependent order: match the child's
    try:
        here, _ = _chunked(_cfg(), images, [6])
    finally:
        torch.set_num_threads(threads)
    there, events = _chunked(_cfg(), images, [2, 4], runner=forked_gpu(train_chunk, child_setup=_one_thread))
    assert _same(here, there) == []
    assert sum(isinstance(e, Samples) for e in events) == 3  # steps 0, 3 and 6 came back through the queue


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (benchmarks/gpu_check.sh runs it)")
def test_chunks_on_cuda_match_the_whole_run_closely(image_dir):
    images = load_images(image_dir, 32).images
    whole, _ = _chunked(_cfg(), images, [6], device="cuda")
    split, _ = _chunked(_cfg(), images, [2, 4], device="cuda")
    for key, t in whole.tensors.items():
        if t.is_floating_point():
            assert torch.allclose(t, split.tensors[key], rtol=1e-3, atol=1e-5), key


def _one_thread():
    torch.set_num_threads(1)  # a forked child must not reuse the parent's OpenMP pool


def test_concurrent_runs_are_each_reproducible(image_dir):
    """Each run draws from its own generator (and initialises under a lock), so two runs at once
    in one process give what each gives alone."""
    import threading

    images = load_images(image_dir, 32).images

    def one_thread(out, key):
        torch.set_num_threads(1)
        out[key] = _chunked(_cfg(), images, [6])[0]

    alone: dict = {}
    one_thread(alone, "solo")
    together: dict = {}
    threads = [threading.Thread(target=one_thread, args=(together, i)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _same(together[0], alone["solo"]) == [] and _same(together[1], alone["solo"]) == []
