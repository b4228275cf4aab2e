"""Images per second of `tgan pretrain` in 1 and in N processes (torchrun), one thread each.

    python benchmarks/ddp_scaling.py --data source-emoji.zip [--procs 1 2] [--steps 60] [--batch 32]

Each setting pretrains the v2 recipe (r3gan, width 16, 64 px) for --steps steps of the same
global batch, from scratch, in a temporary folder. Images/s come from the run's own training
wall-clock (config.json's train_seconds: the steps only, not start-up or loading). Prints one
Markdown table with the scaling efficiency (images/s at N / (N x images/s at 1)).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def pretrain(data: str, procs: int, steps: int, batch: int, out: Path) -> dict:
    args = ["pretrain", "--data", data, "--out", str(out), "--family", "r3gan", "--width", "16",
            "--batch", str(batch), "--steps", str(steps), "--save-every", "0", "--threads", "1", "--quiet"]
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs)]
                if procs > 1 else [sys.executable])
    subprocess.run([*launcher, "-m", "tgan.cli", *args], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads((out / "config.json").read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--procs", nargs="+", type=int, default=[1, 2])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch", type=int, default=32)
    a = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for procs in a.procs:
            config = pretrain(a.data, procs, a.steps, a.batch, Path(tmp) / f"p{procs}")
            rows.append((procs, a.steps * a.batch / config["train_seconds"]))
    base = rows[0][1] / rows[0][0]
    print("| processes (1 thread each) | images/s | scaling efficiency |")
    print("|---|---|---|")
    for procs, ips in rows:
        print(f"| {procs} | {ips:.1f} | {ips / (procs * base):.2f} |")


if __name__ == "__main__":
    main()
