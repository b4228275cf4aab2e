"""What `tgan bench` writes from its per-run JSONs: results.json (per-row aggregates over seeds),
results.md (a markdown table), kid_vs_time.png, side-by-side sample grids, and the results table
inside README.md between <!-- results:start --> and <!-- results:end -->."""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import numpy as np

from .bench_pictures import finite, plot_kid_vs_time

START, END = "<!-- results:start -->", "<!-- results:end -->"
SECOND_SPACE = "random-cnn"  # the table's second KID column (tgan.random_features)
METRICS = ("kid", "kid_std", "fid", "precision", "recall", "memorisation", "diversity")
KIND_ORDER = {"floor": 0, "source": 1, "preset": 2, "peer": 3}  # peer: benchmarks/peer_lightweight_gan.py


# ------------------------------------------------------------------------------ aggregation

def _stats(values) -> tuple[float, float]:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals:
        return float("nan"), float("nan")
    return float(np.mean(vals)), float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0


def load_runs(out) -> list[dict]:
    runs = []
    for path in sorted((Path(out) / "runs").glob("*.json")):
        try:
            runs.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue  # a foreign or damaged file is not a result
    return runs


def aggregate(runs: list[dict], settings: dict | None = None) -> dict:
    """Per (target, shots, row): mean and std over seeds of every metric and of the costs."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault((r["target"], r.get("shots"), r["row"]), []).append(r)
    targets = list((settings or {}).get("targets", {})) + sorted({r["target"] for r in runs})
    presets = list((settings or {}).get("presets", []))

    def order(key):
        first = groups[key][0]
        rank = presets.index(key[2]) if key[2] in presets else len(presets)
        return (targets.index(key[0]), KIND_ORDER.get(first["kind"], 3), key[1] or 0, rank, key[2])

    rows = []
    for key in sorted(groups, key=order):
        rs = sorted(groups[key], key=lambda r: r.get("seed", 0))
        row = {"target": key[0], "shots": key[1], "row": key[2], "kind": rs[0]["kind"],
               "seeds": [r.get("seed") for r in rs], "failed": sum(r.get("status") == "failed" for r in rs),
               "errors": sorted({r["error"] for r in rs if r.get("error")}),
               "reference_size": _stats(r.get("reference_size") for r in rs)[0]}
        for name in METRICS:
            row[name], row[f"{name}_spread"] = _stats(r.get("metrics", {}).get(name) for r in rs)
        # Per scoring space (inception, random-cnn): runs recorded before the second space have none.
        by_space = [(r.get("metrics") or {}).get("spaces") or {} for r in rs]
        row["spaces"] = {}
        for space in dict.fromkeys(n for sp in by_space for n in sp):
            row["spaces"][space] = {}
            for name in ("kid", "precision", "memorisation"):
                mean, spread = _stats(sp.get(space, {}).get(name) for sp in by_space)
                row["spaces"][space].update({name: mean, f"{name}_spread": spread})
        for name in ("wall_clock", "steps", "kept_step", "images_seen", "sec_per_step", "eval_seconds"):
            row[name], row[f"{name}_spread"] = _stats(r.get(name) for r in rs)
        curves = [r.get("curve") or [] for r in rs]
        points = min((len(c) for c in curves), default=0)
        row["curve"] = [{"seconds": _stats(c[j]["seconds"] for c in curves)[0],
                         "kid": _stats(c[j]["kid"] for c in curves)[0]} for j in range(points)]
        rows.append(row)
    def devices(kind):
        return sorted({r["device"] for r in runs if r.get("device") and r.get("kind") == kind})

    # The presets and the peer can run on different devices (the peer's long runs use every core).
    return {"settings": settings or {}, "devices": devices("preset"), "peer_devices": devices("peer"),
            "budgets_s": sorted({r["budget_s"] for r in runs if r.get("kind") == "preset"}),
            "reference_cap": sorted({r.get("reference_cap") for r in runs if r.get("reference_cap")}),
            "feature_extractors": sorted({r.get("feature_extractor", "?") for r in runs}), "rows": rows}


# ------------------------------------------------------------------------------ tables

def clean(obj):
    """Strict JSON: NaN/inf (no value, e.g. memorisation without held-out images) become null."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj.item() if isinstance(obj, np.generic) else obj


def _num(value, digits: int = 3, scale: float = 1.0) -> str:
    return f"{value * scale:.{digits}f}" if finite(value) else "–"


def markdown_table(results: dict) -> str:
    """The results table with a header that says how it was measured."""
    s = results.get("settings", {})
    budgets = ", ".join(f"{b:g}" for b in results.get("budgets_s", [])) or "?"
    caps = ", ".join(str(c) for c in results.get("reference_cap", [])) or "?"
    peer = results.get("peer_devices", [])
    peer_note = f"; lightweight-gan ran on {', '.join(peer)}" if peer and peer != results.get("devices") else ""
    lines = [
        f"Every preset trained for the same **{budgets} s** of wall-clock (steps uncapped) on "
        f"{'; '.join(results.get('devices', [])) or 'unknown device'}{peer_note}. Scores from {s.get('n', '?')} "
        f"samples against the target's held-out images (all images not drawn as shots, capped at "
        f"**{caps}** for time). KID ×10³ is mean ± std over seeds {s.get('seeds', '?')}; the other "
        f"columns are means. `real vs real` is KID between two halves of the target (the floor); "
        f"`source (unadapted)` is the pretrained source before any training. Features: "
        f"{', '.join(results.get('feature_extractors', []))}. Lower KID/FID is better; memorisation "
        f"≈1 is healthy, >1 means copying the shots. **Bold**: best KID per target and shots, in each space.",
        "`KID ×10³ (random-cnn)` is the same score in a fixed random network's features, which no "
        "strategy trains against (– for runs recorded before it existed)."
        + (" Every run is scored at the step the live monitor's keep-best rule kept, as the app does; "
           "`steps` is that step of the steps made (means over seeds)." if s.get("keep_best") else ""),
        "",
        "| target | shots | row | KID ×10³ (inception) | KID ×10³ (random-cnn) | FID | precision | recall "
        "| memorisation | diversity | wall-clock (s) | steps | images seen |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    second = lambda r: (r.get("spaces") or {}).get(SECOND_SPACE, {})  # noqa: E731
    best: dict[tuple, list[float]] = {}
    for r in results["rows"]:
        if r["kind"] == "preset":
            key = (r["target"], r["shots"])
            vals = best.setdefault(key, [math.inf, math.inf])
            vals[0] = min(vals[0], r["kid"]) if finite(r["kid"]) else vals[0]
            vals[1] = min(vals[1], second(r).get("kid")) if finite(second(r).get("kid")) else vals[1]

    def kid_cell(r, value, spread, column: int) -> str:
        kid = _num(value, 2, 1e3)
        if len(r["seeds"]) > 1 and kid != "–":
            kid += f" ± {_num(spread, 2, 1e3)}"
        elif r["kind"] != "floor" and len(r["seeds"]) == 1 and len(s.get("seeds") or []) > 1 and kid != "–":
            kid += f" (seed {r['seeds'][0]})"  # fewer seeds than the rest: no spread to show
        if r["kind"] == "preset" and finite(value) and best.get((r["target"], r["shots"]), [None, None])[column] == value:
            kid = f"**{kid}**"
        return kid

    for r in results["rows"]:
        kid = kid_cell(r, r["kid"], r["kid_spread"], 0)
        kid2 = kid_cell(r, second(r).get("kid"), second(r).get("kid_spread"), 1)
        name = r["row"] + (f" ({r['failed']} failed)" if r["failed"] else "")
        seen = f"{r['images_seen']:,.0f}" if finite(r["images_seen"]) else "–"
        steps = f"{r['steps']:,.0f}" if finite(r["steps"]) else "–"
        if finite(r.get("kept_step")):  # keep-best runs: the kept step of the steps made
            steps = f"{r['kept_step']:,.0f} of {steps}"
        lines.append(
            f"| {r['target']} | {r['shots'] if r['shots'] is not None else 'all'} | {name} | {kid} | {kid2} "
            f"| {_num(r['fid'], 1)} | {_num(r['precision'], 2)} | {_num(r['recall'], 2)} "
            f"| {_num(r['memorisation'], 2)} | {_num(r['diversity'], 2)} | {_num(r['wall_clock'], 0)} "
            f"| {steps} | {seen} |")
    return "\n".join(lines)


def write_json(path, record: dict) -> None:
    """Atomically: a crash never leaves a half-written run JSON that a resume would skip."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(clean(record), indent=2))
    os.replace(tmp, path)


def is_done(path, expect: dict, missing: dict | None = None) -> bool:
    """A run JSON that can be reused: readable, not "failed", and made with the `expect` settings.
    `missing`: the value a setting had in runs recorded before it was written down."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return False
    missing = missing or {}
    return record.get("status") != "failed" and all(record.get(k, missing.get(k)) == v for k, v in expect.items())


def write_readme_table(results_path, readme_path) -> bool:
    """Replace the text between the results markers in README; False when they are missing."""
    readme = Path(readme_path)
    if not readme.is_file():
        return False
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        return False
    table = markdown_table(json.loads(Path(results_path).read_text()))
    new = pattern.sub(lambda _: f"{START}\n{table}\n{END}", text, count=1)
    tmp = readme.with_name(readme.name + ".tmp")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, readme)
    return True


def write_reports(out, settings: dict) -> tuple[dict, list[Path]]:
    """Aggregate every runs/*.json under `out` into results.json/md and the plot.
    Returns the aggregates and the paths written."""
    out = Path(out)
    results = clean(aggregate(load_runs(out), settings))
    table, data, plot = out / "results.md", out / "results.json", out / "kid_vs_time.png"
    data.write_text(json.dumps(results, indent=2))
    table.write_text(f"# tgan transfer benchmark ({settings.get('name', '?')})\n\n{markdown_table(results)}\n")
    plot_kid_vs_time(results, plot)
    return results, [table, data, plot]
