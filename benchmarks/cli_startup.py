"""How long the quick CLI commands take to answer, in fresh processes (median of 5).

    python benchmarks/cli_startup.py

Prints one line per command. Goal: `tgan --help` and `tgan strategies` in about a second."""
from __future__ import annotations

import statistics
import subprocess
import sys
import time

COMMANDS = {"tgan --help": ["--help"], "tgan strategies": ["strategies"]}


def seconds(args: list[str], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tgan.cli", *args], capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    for label, args in COMMANDS.items():
        print(f"{label:<18} {seconds(args):.2f} s")


if __name__ == "__main__":
    main()
