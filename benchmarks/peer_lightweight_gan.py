"""Peer baseline for `tgan bench`: lightweight-gan (the FastGAN of Liu et al., ICLR 2021, as
packaged on PyPI) trained from scratch on the same K shots, then scored by `tgan eval`.

    pip install lightweight-gan        # in its own environment; see benchmarks/README.md
    python benchmarks/peer_lightweight_gan.py \
        --match benchmarks/runs/emoji-3d-animals-10shot-recommended-seed0.json --score --bench-out benchmarks

Two runs per call (--mode both): (a) `time`: the same wall-clock budget as the tgan run, and
(b) `images`: the same number of real images seen as the tgan run (its steps x batch; one
lightweight-gan step sees batch_size x gradient_accumulate_every real images). Each writes N
samples as PNGs to OUT/<mode>/samples/, which `tgan eval --samples` scores against the same
held-out reference the benchmark used (written to OUT/reference/). With --bench-out the scores
become rows of the benchmark's table ("lightweight-gan (same time)" / "(same images)").

lightweight-gan asserts CUDA when imported and moves everything with .cuda(). Without a GPU
this script (i) makes torch.cuda.is_available() answer True during the import only,
(ii) turns Tensor.cuda / Module.cuda into CPU no-ops, and (iii) gives the library's module a
`torch` whose torch.device("cuda:N") means the CPU. With a GPU nothing is patched. Nothing of
lightweight-gan is copied here; it is imported, and this file is never imported by tgan.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tgan.bench import run_name, split_target  # noqa: E402
from tgan.bench_config import DEFAULT_DATA_DIR  # noqa: E402
from tgan.bench_pictures import save_strip  # noqa: E402
from tgan.bench_report import write_json  # noqa: E402
from tgan.data import load_images  # noqa: E402
from tgan.models import describe_device  # noqa: E402

# lightweight-gan's own CLI defaults, with its README's advice for small data sets
# (--aug-prob 0.25 --aug-types [translation,cutout,color]) at our 64 px.
SETTINGS = {"image_size": 64, "batch_size": 10, "gradient_accumulate_every": 4, "latent_dim": 256,
            "fmap_max": 512, "attn_res_layers": [32], "disc_output_size": 1, "lr": 2e-4,
            "aug_prob": 0.25, "aug_types": ["translation", "cutout", "color"]}
ROWS = {"time": "lightweight-gan (same time)", "images": "lightweight-gan (same images)"}


class _CpuTorch(types.ModuleType):
    """`torch` as lightweight-gan's module sees it on a CPU machine: torch.device('cuda:0') -> CPU."""

    def __init__(self):
        super().__init__("torch")

    def __getattr__(self, name):
        return getattr(torch, name)

    @staticmethod
    def device(spec, *args):
        dev = torch.device(spec, *args)
        return torch.device("cpu") if dev.type == "cuda" else dev


def import_lightweight_gan():
    """The library's module, importable and runnable without CUDA (the shim is only applied then)."""
    has_cuda = torch.cuda.is_available()
    real = torch.cuda.is_available
    if not has_cuda:
        torch.cuda.is_available = lambda: True  # only for its import-time assert
    try:
        from lightweight_gan import lightweight_gan as lw
    finally:
        torch.cuda.is_available = real
    if not has_cuda:
        torch.Tensor.cuda = lambda self, *a, **k: self.to("cpu")
        nn.Module.cuda = lambda self, *a, **k: self
        lw.torch = _CpuTorch()
    return lw


def save_pngs(images_uint8: torch.Tensor, folder: Path) -> Path:
    """(N, 3, H, W) uint8 -> folder/00000.png ..."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images_uint8):
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(folder / f"{i:05d}.png")
    return folder


def train_and_sample(lw, shots_dir: Path, work: Path, seed: int, n: int, budget_s: float | None,
                     images: int | None, settings: dict, checkpoint_every: int | None = None) -> dict:
    """Train until the wall-clock budget or the images-seen target is reached, then write n samples.

    With checkpoint_every (mode images only: its runs take hours on a CPU) the trainer is saved every
    that many steps under work/, and a later call with the same work folder continues from there.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    per_step = settings["batch_size"] * settings["gradient_accumulate_every"]
    max_steps = math.ceil(images / per_step) if images else None
    t0 = time.perf_counter()  # the clock includes building the networks, as tgan's first segment does
    trainer = lw.Trainer(name="peer", base_dir=str(work), num_workers=0, use_aim=False,
                         save_every=10**9, evaluate_every=10**9, **settings)
    trainer.evaluate = lambda *a, **k: None  # no in-loop sample grids or checkpoints: tgan's runs make none
    trainer.save = lambda *a, **k: None
    trainer.set_data_src(str(shots_dir))
    trainer.init_GAN()
    # Our own checkpoint: the library's save keeps neither the optimisers nor fmap_max (its load
    # rebuilds the nets at the default width), so it cannot resume these runs faithfully.
    resume_file = work / "resume.pt"
    wall_before = 0.0
    if checkpoint_every and resume_file.exists():
        state = torch.load(resume_file, weights_only=True)
        trainer.GAN.load_state_dict(state["GAN"])
        trainer.GAN.G_opt.load_state_dict(state["G_opt"])
        trainer.GAN.D_opt.load_state_dict(state["D_opt"])
        trainer.steps, wall_before = state["steps"], state["wall_clock"]
        print(f"[images] resuming at step {trainer.steps} ({wall_before:.0f} s so far)", file=sys.stderr)
    status, error = "ok", None
    while (budget_s is None or time.perf_counter() - t0 < budget_s) and (
            max_steps is None or trainer.steps < max_steps):
        try:
            trainer.train()  # one D + one G update, each over gradient_accumulate_every batches
        except lw.NanException as exc:
            status, error = "diverged", f"NaN loss at step {trainer.steps}: {exc}"
            break
        if checkpoint_every and trainer.steps % checkpoint_every == 0:
            so_far = wall_before + time.perf_counter() - t0
            torch.save({"GAN": trainer.GAN.state_dict(), "G_opt": trainer.GAN.G_opt.state_dict(),
                        "D_opt": trainer.GAN.D_opt.state_dict(), "steps": trainer.steps,
                        "wall_clock": so_far}, resume_file)
            print(f"[images] step {trainer.steps}/{max_steps}, {so_far:.0f} s; saved {resume_file}",
                  file=sys.stderr, flush=True)
    wall = wall_before + time.perf_counter() - t0

    # Samples from G itself: lightweight-gan's EMA copy only starts averaging after 20k steps and
    # before that is a snapshot of G refreshed every 1000 steps.
    G = trainer.GAN.G.eval()
    device = next(G.parameters()).device
    gen, out = torch.Generator().manual_seed(10_000 + seed), []
    with torch.no_grad():
        for start in range(0, n, 50):
            z = torch.randn(min(50, n - start), settings["latent_dim"], generator=gen).to(device)
            out.append((G(z).clamp(0, 1) * 255).round().to(torch.uint8).cpu())
    save_pngs(torch.cat(out), work / "samples")
    return {"steps": trainer.steps, "images_seen": trainer.steps * per_step, "wall_clock": wall,
            "sec_per_step": wall / trainer.steps if trainer.steps else None, "status": status,
            "error": error, "device": describe_device(device)}


def score(samples: Path, reference: Path, shots: Path, n: int) -> dict:
    """`tgan eval --samples` on the written PNGs: the same metrics code as the benchmark."""
    cmd = [sys.executable, "-m", "tgan.cli", "eval", "--samples", str(samples), "--reference", str(reference),
           "--train", str(shots), "--n", str(n), "--resolution", "64", "--json"]
    print("scoring:", " ".join(cmd), file=sys.stderr)
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    if done.returncode != 0:
        raise SystemExit(f"tgan eval failed: {done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--match", help="a tgan bench run JSON (e.g. the recommended preset's): target, shots, "
                                   "seed, reference cap, wall-clock budget and images seen are taken from it")
    p.add_argument("--target", help="target set name, e.g. emoji-3d-animals (without --match)")
    p.add_argument("--shots", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget-seconds", type=float, default=180.0, help="mode time: wall-clock budget")
    p.add_argument("--images-seen", type=int, help="mode images: real images to show D")
    p.add_argument("--reference-cap", type=int, default=500)
    p.add_argument("--mode", choices=("time", "images", "both"), default="both")
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="folder with target-*.zip")
    p.add_argument("--out", help="working folder (default: a new temporary folder, kept)")
    p.add_argument("--n", type=int, default=500, help="samples to generate and score")
    p.add_argument("--batch", type=int, default=SETTINGS["batch_size"], help="lightweight-gan batch size")
    p.add_argument("--grad-accumulate", type=int, default=SETTINGS["gradient_accumulate_every"])
    p.add_argument("--fmap-max", type=int, default=SETTINGS["fmap_max"], help="lightweight-gan max channels")
    p.add_argument("--attn-res", type=int, nargs="*", default=SETTINGS["attn_res_layers"],
                   help="resolutions with attention layers (none: pass the flag alone)")
    p.add_argument("--checkpoint-every", type=int, default=5,
                   help="mode images: save every K steps under --out; rerunning with the same --out resumes "
                        "(0: never)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's default, as tgan bench)")
    p.add_argument("--score", action="store_true", help="run `tgan eval` on the samples")
    p.add_argument("--bench-out", help="with --score: also write the scores as runs/*.json rows of this "
                                       "benchmark folder, so `tgan bench` lists them in its table")
    return p.parse_args(argv)


def main(argv=None) -> int:
    a = parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    matched = json.loads(Path(a.match).read_text()) if a.match else {}
    target = matched.get("target") or a.target
    if not target:
        raise SystemExit("give --match RUN_JSON or --target NAME")
    shots_n, seed = matched.get("shots", a.shots), matched.get("seed", a.seed)
    cap = matched.get("reference_cap", a.reference_cap)
    budget = matched.get("budget_s", a.budget_seconds)
    images = matched.get("images_seen", a.images_seen)
    modes = ["time", "images"] if a.mode == "both" else [a.mode]
    if "images" in modes and not images:
        raise SystemExit("mode images needs --images-seen N (or --match a run JSON that has images_seen)")
    settings = {**SETTINGS, "batch_size": a.batch, "gradient_accumulate_every": a.grad_accumulate,
                "fmap_max": a.fmap_max, "attn_res_layers": list(a.attn_res)}
    if shots_n < settings["batch_size"]:
        raise SystemExit(f"{shots_n} shots < batch size {settings['batch_size']}: lightweight-gan drops "
                         "incomplete batches and would see no data; lower --batch")

    # The same shots and reference as `tgan bench` (same zip, same seeded split and cap).
    full = load_images(Path(a.data_dir) / f"target-{target}.zip", 64, max_images=None)
    shot_set, heldout, reference = split_target(full, shots_n, seed, cap)
    out = Path(a.out or tempfile.mkdtemp(prefix=f"peer-lwgan-{target}-{shots_n}-"))
    shots_dir, ref_dir = save_pngs(shot_set.images, out / "shots"), save_pngs(reference, out / "reference")
    print(f"{target}: {shots_n} shots (seed {seed}) in {shots_dir}; {len(reference)} of {len(heldout.names)} "
          f"held-out images in {ref_dir}", file=sys.stderr)

    lw = import_lightweight_gan()
    for mode in modes:
        label = f"{budget:g} s" if mode == "time" else f"{images} real images"
        print(f"[{mode}] training lightweight-gan for {label} ...", file=sys.stderr)
        result = train_and_sample(lw, shots_dir, out / mode, seed, a.n, budget if mode == "time" else None,
                                  images if mode == "images" else None, settings,
                                  a.checkpoint_every if mode == "images" else None)
        samples_dir = out / mode / "samples"  # written by train_and_sample; kept out of the record (a local path)
        record = {"kind": "peer", "row": ROWS[mode], "target": target, "source": None, "shots": shots_n,
                  "seed": seed, "budget_s": budget, "reference_cap": cap, "reference_size": len(reference),
                  "matched_run": a.match, "settings": settings, **result}
        if a.score:
            from tgan.metrics import INCEPTION_TAG

            record["metrics"] = score(samples_dir, ref_dir, shots_dir, a.n)
            record["feature_extractor"] = INCEPTION_TAG
            record["curve"] = [{"seconds": result["wall_clock"], "step": result["steps"],
                                "kid": record["metrics"]["kid"], "n": record["metrics"]["n"]}]
        write_json(out / mode / "run.json", record)
        if a.score and a.bench_out:  # a row of the benchmark's table, and of its sample grid
            name = run_name(target, shots_n, ROWS[mode], seed)
            write_json(Path(a.bench_out) / "runs" / f"{name}.json", record)
            first = load_images(samples_dir, 64, max_images=10).as_float()
            save_strip(first, Path(a.bench_out) / "runs" / f"{name}.png")
        print(json.dumps({k: record.get(k) for k in ("row", "steps", "images_seen", "wall_clock", "status",
                                                     "metrics")}, default=str))
        if not a.score:
            print(f"score with: tgan eval --samples {samples_dir} --reference {ref_dir} "
                  f"--train {shots_dir} --n {a.n} --resolution 64", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
