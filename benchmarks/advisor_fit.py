"""Fit the advisor's rule on the benchmark and report how often it names the best preset.

    python benchmarks/advisor_fit.py [--results benchmarks/results.json]

Writes tgan/advisor_fit.json, which `tgan advise` and the app read: for each shot count the bench
measured, the preset with the lowest mean Inception KID over the visible targets, and the median
steps that preset made in its time budget. The check is leave-one-target-out: for each (target,
shots) slice, the rule is refitted without that target and its preset counts as right when its KID
on the slice is the best or within 10% of it. Prints the table and the score.
"""
from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tgan" / "advisor_fit.json"


def presets_by_slice(rows: list[dict]) -> dict[tuple[str, int], dict[str, dict]]:
    out: dict[tuple[str, int], dict[str, dict]] = defaultdict(dict)
    for r in rows:
        if r["kind"] == "preset" and r["kid"] is not None:
            out[(r["target"], r["shots"])][r["row"]] = r
    return out


def fit(slices: dict, leave_out: str | None = None) -> dict[int, dict]:
    """shots -> {"preset", "steps", "kid"}: the lowest mean KID over the targets (but leave_out)."""
    by_shots: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for (target, shots), presets in slices.items():
        if target != leave_out:
            for name, r in presets.items():
                by_shots[shots][name].append(r)
    rule = {}
    for shots, presets in by_shots.items():
        name = min(presets, key=lambda n: statistics.mean(r["kid"] for r in presets[n]))
        rule[shots] = {"preset": name, "steps": int(statistics.median(r["steps"] for r in presets[name])),
                       "kid": statistics.mean(r["kid"] for r in presets[name])}
    return rule


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results.json")
    a = p.parse_args()
    results = json.loads(a.results.read_text())
    slices = presets_by_slice(results["rows"])
    right = 0
    print("| target | shots | advised (left out) | its KID | best | best KID | right |\n|---|---|---|---:|---|---:|---|")
    for (target, shots), presets in sorted(slices.items()):
        advised = fit(slices, leave_out=target)[shots]["preset"]
        best = min(presets, key=lambda n: presets[n]["kid"])
        ok = presets[advised]["kid"] <= 1.1 * presets[best]["kid"]
        right += ok
        print(f"| {target} | {shots} | {advised} | {presets[advised]['kid']:.3f} | {best} | "
              f"{presets[best]['kid']:.3f} | {'yes' if ok else 'no'} |")
    print(f"\nright (best or within 10%) in {right} of {len(slices)} slices, leave-one-target-out")
    rule = fit(slices)
    OUT.write_text(json.dumps({
        "from": "benchmarks/results.json (Inception KID; every preset trained for the same wall-clock)",
        "budget_s": results.get("budgets_s"), "shots": {str(k): v for k, v in sorted(rule.items())},
        "leave_one_target_out": f"{right}/{len(slices)}"}, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
