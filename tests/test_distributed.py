"""`tgan pretrain` under torchrun: two CPU processes (gloo, one thread each) train what one process
trains with the same global batch, the checkpoint says so, and it resumes in one process."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from tgan.distributed import Rows, World

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def pretrain(out, image_dir, steps, *, procs=1, resume=False, extra=()):
    args = ["pretrain", "--data", str(image_dir), "--out", str(out), "--resolution", "32", "--width", "8",
            "--steps", str(steps), "--batch", "8", "--save-every", "2", "--threads", "1", "--quiet", *extra]
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs)]
                if procs > 1 else [sys.executable])
    done = subprocess.run([*launcher, "-m", "tgan.cli", *args, *(["--resume"] if resume else [])],
                          env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def worst_difference(a: dict, b: dict) -> float:
    assert set(a) == set(b)
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a if a[k].is_floating_point())


@pytest.fixture(scope="module")
def runs(image_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    two = pretrain(root / "two", image_dir, 4, procs=2)  # r3gan: a lazy R1/R2 step falls inside
    pretrain(root / "one", image_dir, 4)
    return root, two


def test_two_processes_train_what_one_does_with_the_same_global_batch(runs):
    root, two = runs
    config = json.loads((root / "two" / "config.json").read_text())
    assert config["world_size"] == 2 and config["step"] == 4
    assert json.loads((root / "one" / "config.json").read_text())["world_size"] == 1
    a = load_file(root / "one" / "training_state.safetensors")
    b = load_file(root / "two" / "training_state.safetensors")
    assert torch.equal(a["rng"], b["rng"])  # one random stream, drawn for the whole batch by every rank
    assert worst_difference(a, b) < 1e-4  # only the order of the gradient sums differs
    assert two.stderr.count("finished at step 4") == 1  # rank 0 alone reports
    assert not list((root / "two").glob(".*tmp*"))  # no half-written files left behind


def test_a_two_process_checkpoint_resumes_in_one_process(runs, image_dir):
    root, _ = runs
    pretrain(root / "two", image_dir, 6, resume=True)
    pretrain(root / "one", image_dir, 6, resume=True)
    assert json.loads((root / "two" / "config.json").read_text())["world_size"] == 1
    a = load_file(root / "one" / "training_state.safetensors")
    b = load_file(root / "two" / "training_state.safetensors")
    assert worst_difference(a, b) < 1e-4


def test_only_pretraining_runs_over_several_processes(image_dir, tmp_path):
    done = subprocess.run([sys.executable, "-m", "tgan.cli", "sample", "--model", "emoji", "--out", str(tmp_path / "g.png")],
                          env={**ENV, "WORLD_SIZE": "2", "RANK": "0"}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "only `tgan pretrain` runs over several processes" in done.stderr


def test_rows_split_a_batch_evenly_or_say_why_not():
    assert World(1, 2).rows(8) == Rows(4, 4, 8)
    assert Rows.whole(8).take(torch.arange(8)).tolist() == list(range(8))
    assert World(1, 2).rows(8).take(torch.arange(8)).tolist() == [4, 5, 6, 7]
    with pytest.raises(ValueError, match="must divide evenly over 3 processes"):
        World(0, 3).rows(8)


def test_a_sharded_corpus_streams_into_pretraining(tmp_path):
    """A zip like the shared corpora (here: the shipped examples), written as tar shards, then
    pretrained from the shards by two processes, each streaming its own."""
    import zipfile

    from tgan.paths import EXAMPLES
    from tgan.shards import ShardStream

    corpus = tmp_path / "corpus.zip"
    with zipfile.ZipFile(corpus, "w") as zf:
        for path in sorted((EXAMPLES / "emoji-3d-animals").glob("*.png")):
            zf.write(path, path.name)
    made = subprocess.run([sys.executable, "-m", "tgan.cli", "shards", "--data", str(corpus), "--out",
                           str(tmp_path / "shards"), "--resolution", "32", "--per-shard", "4"],
                          env=ENV, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    assert len(sorted((tmp_path / "shards").glob("shard-*.tar"))) == 4  # 16 images, 4 per shard
    ranks = [ShardStream(tmp_path / "shards", 32, rank, 2, seed=0, buffer=1) for rank in (0, 1)]
    assert len(ranks[0]) == 16
    mine = [set(s._epoch_shards(0)) for s in ranks]
    assert not mine[0] & mine[1] and len(mine[0] | mine[1]) == 4  # each epoch splits the shards between the ranks
    firsts = [s.take(7) for s in ranks]  # 8 images per rank per epoch, 1 held in the shuffle buffer
    assert firsts[0].shape == (7, 3, 32, 32) and firsts[0].dtype == torch.uint8
    assert not {x.numpy().tobytes() for x in firsts[0]} & {x.numpy().tobytes() for x in firsts[1]}
    pretrain(tmp_path / "run", tmp_path / "shards", 2, procs=2)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["step"] == 2 and config["world_size"] == 2


def test_a_resume_can_lengthen_the_ema_half_life(runs, image_dir):
    """--ema-halflife on --resume: the last phase of a flat pretraining curve averages G over longer."""
    root, _ = runs
    pretrain(root / "one", image_dir, 8, resume=True, extra=["--ema-halflife", "50000"])
    config = json.loads((root / "one" / "config.json").read_text())
    assert config["step"] == 8 and config["train"]["ema_halflife_images"] == 50_000
