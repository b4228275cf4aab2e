"""Does the monitor's keep-best rule pick a good step, and does the copying alarm come in time?

    python benchmarks/monitor_check.py --data-dir DIR best [--targets ...] [--shots 10 25]
    python benchmarks/monitor_check.py --data-dir DIR overtrain [--target faces-lorelei] [--preset P]
    python benchmarks/monitor_check.py signals

`best`: for each visible target and shot count (shots drawn by seed 0, the matching bundled source,
the app's settings: appkit.make_config with the recommended preset, the CPU default steps and the
app's monitor period, keep-best on), trains in chunks of --every steps, as the app does, and keeps
G_ema at the end of every chunk (the "saved steps"). Each saved step and the step the rule kept are
scored with n samples against the held-out images (the rest of the target, up to 300, seeded) in
both feature spaces. The rule passes a slice when its step's KID is within 10% of the best saved
step's. Writes benchmarks/monitor_check.md (the table) and .json.

`overtrain`: 5 shots and 10x the default steps of one preset (--preset; TransferGAN, the plain
fine-tune that the literature sees memorise), with the copying alarm reported but not stopping the
run, scored every --every steps: the first "copying" reading should come before the held-out KID
turns upward. Each preset's run is its own section of the same files.

`signals`: no training; from the recorded `best` runs, how well each monitor reading follows the
held-out score: the Spearman correlation, over each run's saved steps, of the reading at that step
with the held-out KID there (1: it ranks the steps exactly as the held-out score does).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

import appkit as sup  # noqa: E402
from tgan import ChunkEnded, Finished, load_images, metrics, sampling, scoring, train_chunk  # noqa: E402
from tgan.config import FAMILIES, ModelConfig  # noqa: E402
from tgan.events import Monitored  # noqa: E402
from tgan.models import generator_from_tensors  # noqa: E402
from tgan.monitor import COPYING, LATER_TOLERANCE, STARTING_TO_COPY  # noqa: E402
from tgan.bench import TARGETS as SOURCE_FOR  # noqa: E402
from tgan.paths import CHECKPOINTS  # noqa: E402
from tgan.strategies.catalog import PRESETS, preset_lr  # noqa: E402
from tgan.subsets import pick_shots, random_subset  # noqa: E402
from webapp.plumbing import DEFAULT_STEPS  # noqa: E402

OUT = Path(__file__).resolve().parent / "monitor_check"
SPACES = ("inception", "random-cnn")
RULE = f"latest within {LATER_TOLERANCE:g} of the improvement"  # runs recorded under an older rule lack it


def trained_steps(target: str, shots, steps: int, every: int, preset: str = "recommended", lr: float = 0.0,
                  fresh: ModelConfig | None = None):
    """Train a preset (or a comma-separated list of strategies) with the app's settings on `shots`,
    at `lr` or else the preset's own rate (2e-4 for a strategy list); yield (step, G_ema) every
    `every` steps, then ("kept", G_ema of the rule's step, that step, the monitor's readings, the
    alarm) and ("lowest", G_ema, step) of the step the previous rule (the lowest smoothed fidelity,
    with no slack for later steps) would have kept. fresh: train new networks of this shape from scratch
    instead of the target's bundled source. The run goes in chunks of one monitor period, so each
    reading's G_ema is at hand (chunks continue bit-exactly)."""
    strategies = list(PRESETS[preset][0]) if preset in PRESETS else preset.split(",")
    cfg = sup.make_config(strategies, [], steps, lr or preset_lr(preset, 2e-4), 16, 0)
    source = None if fresh else CHECKPOINTS / SOURCE_FOR[target]
    state, readings, alarm = None, [], ""
    lowest = None  # (smoothed fidelity, step, G_ema) of the lowest acceptable reading so far
    while (state is None or state.step < steps) and not alarm:
        last = None  # this chunk's reading: a chunk is one monitor period, so it ends at the reading
        for ev in train_chunk(cfg, shots.images, state, source, fresh, max_steps=cfg.monitor_every):
            if isinstance(ev, Monitored):
                last = ev
                readings.append({"step": ev.step, "memorisation": round(ev.memorisation, 3),
                                 "diversity": round(ev.diversity, 3), "fidelity": round(ev.fidelity, 5),
                                 "smoothed_fidelity": round(ev.smoothed_fidelity, 5), "verdict": ev.verdict})
                print(json.dumps({"reading": readings[-1]}), flush=True)
            if isinstance(ev, Finished) and ev.reason:  # the collapse alarm ended the run
                alarm = ev.reason
            if isinstance(ev, ChunkEnded):
                state = ev.state
        if (last is not None and last.step == state.step and last.verdict not in ("copying", "collapsed")
                and (lowest is None or last.smoothed_fidelity < lowest[0])):
            lowest = (last.smoothed_fidelity, last.step, generator_from_tensors(state.model, state.tensors, "G_ema"))
        if state.step % every == 0 or state.step == steps:
            yield state.step, generator_from_tensors(state.model, state.tensors, "G_ema")
    kept = state.best["step"] if state.best else state.step
    yield "kept", generator_from_tensors(state.model, state.tensors, state.generator_prefix()), kept, readings, alarm
    if lowest is not None:
        yield "lowest", lowest[2], lowest[1]


def kids(G, heldout, shots, extractors, n: int) -> dict:
    with torch.no_grad():
        samples = sampling.sample_seeds(G, range(10_000, 10_000 + n))
    # The cache: the held-out and shot features are the same at every saved step.
    spaces = scoring.evaluate(samples, heldout, train=shots.as_float(), extractors=extractors,
                              cache=metrics.FeatureCache())["spaces"]
    return {s: round(spaces[s]["kid"], 5) for s in SPACES}


def split(data_dir: Path, target: str, k: int, resolution: int = 64):
    full = load_images(data_dir / f"target-{target}.zip", resolution)
    shots, rest = pick_shots(full, k, seed=0)
    return shots, random_subset(rest, 300, seed=0).as_float()


def best(a, extractors) -> list[dict]:
    rows = []
    for target in a.targets:
        for k in a.shots:
            shots, heldout = split(a.data_dir, target, k)
            saved, kept, lowest = {}, None, None
            for item in trained_steps(target, shots, a.steps, a.every):
                if item[0] in ("kept", "lowest"):
                    G, step = item[1], item[2]
                    scored = (step, saved.get(step) or kids(G, heldout, shots, extractors, a.n))
                    if item[0] == "kept":
                        kept, readings = scored, item[3]
                    else:
                        lowest = scored
                else:
                    saved[item[0]] = kids(item[1], heldout, shots, extractors, a.n)
            row = {"target": target, "shots": k, "kept_step": kept[0], "kept": kept[1],
                   "lowest_step": lowest[0], "lowest": lowest[1], "saved": saved,
                   "readings": readings}
            for s in SPACES:
                top = min(saved, key=lambda step: saved[step][s])
                row[f"best_{s}"] = top
                row[f"ratio_{s}"] = round(kept[1][s] / saved[top][s], 3) if saved[top][s] > 0 else None
                row[f"lowest_ratio_{s}"] = round(lowest[1][s] / saved[top][s], 3) if saved[top][s] > 0 else None
            rows.append(row)
            print(json.dumps({k2: v for k2, v in row.items() if k2 not in ("saved", "readings")}), flush=True)
    return rows


def overtrain(a, extractors) -> dict:
    shots, heldout = split(a.data_dir, a.target, 5, a.resolution)
    steps = 10 * a.steps
    curve, kept = [], None
    fresh = ModelConfig(resolution=a.resolution, family=a.family, g_width=a.width, d_width=a.width) if a.family else None
    for item in trained_steps(a.target, shots, steps, a.every, a.preset, a.lr, fresh):
        if item[0] == "kept":
            readings, kept, alarm = item[3], item[2], item[4]
        elif item[0] != "lowest":
            curve.append({"step": item[0], **kids(item[1], heldout, shots, extractors, a.n)})
            print(json.dumps(curve[-1]), flush=True)
    copying = next((r["step"] for r in readings if r["memorisation"] < COPYING), None)
    warned = next((r["step"] for r in readings if r["memorisation"] < STARTING_TO_COPY), None)
    turn = {s: min(curve, key=lambda p: p[s])["step"] for s in SPACES}  # held-out KID is lowest here
    return {"target": a.target, "preset": a.preset, "lr": a.lr or preset_lr(a.preset, 2e-4), "shots": 5,
            "networks": (f"new {a.family}, width {a.width}, {a.resolution} px" if a.family
                         else f"source {SOURCE_FOR[a.target]}"),
            "steps": steps, "first_copying_reading": copying, "first_starting_to_copy_reading": warned,
            "kept_step": kept, "rule": RULE, "kid_lowest_at": turn, "alarm": alarm, "curve": curve,
            "readings": readings}


def write(results: dict) -> None:
    OUT.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    lines = []
    if "best" in results:
        lines += ["## The kept step against the saved steps (held-out KID, lower is better)", "",
                  "The rule keeps the latest step whose fidelity (averaged over 3 readings) is within "
                  f"{LATER_TOLERANCE:.0%} of the run's improvement from its lowest; the last two columns are the previous rule "
                  "(the lowest averaged reading, no slack for later steps) on the same run.", "",
                  "| target | shots | kept step | best saved step (Inception / random-CNN) | kept / best, Inception "
                  "| kept / best, random-CNN | previous rule's step | its kept / best, Inception / random-CNN |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in results["best"]:
            lines.append(f"| {r['target']} | {r['shots']} | {r['kept_step']} | {r['best_inception']} / "
                         f"{r['best_random-cnn']} | {r['ratio_inception']} | {r['ratio_random-cnn']} | "
                         f"{r.get('lowest_step')} | {r.get('lowest_ratio_inception')} / "
                         f"{r.get('lowest_ratio_random-cnn')} |")
        for s in SPACES:
            for label, key in (("the rule", "ratio"), ("the previous rule", "lowest_ratio")):
                ok = sum(1 for r in results["best"] if (r.get(f"{key}_{s}") or 9) <= 1.10)
                lines.append(f"\nWithin 10% of the best saved step, {s}, {label}: {ok} of {len(results['best'])} slices.")
    for o in results.get("overtrain", {}).values():
        lr = f", lr {o['lr']:g}" if "lr" in o else ""
        nets = f", {o['networks']}" if "networks" in o else ""
        lines += ["", f"## Over-training: `{o['preset']}` on {o['target']}, 5 shots, {o['steps']} steps{lr}{nets}", "",
                  f"First 'copying' reading (memorisation < {COPYING}): step {o['first_copying_reading']}. "
                  + (f"First 'starting to copy' reading (< {STARTING_TO_COPY}): step "
                     f"{o['first_starting_to_copy_reading']}. " if "first_starting_to_copy_reading" in o else "") +
                  f"Held-out KID is lowest at step {o['kid_lowest_at']['inception']} (Inception) and "
                  f"{o['kid_lowest_at']['random-cnn']} (random-CNN). "
                  + (f"The rule kept step {o['kept_step']}." if o.get("rule") == RULE else
                     f"The keep-best rule of the time (an earlier one) kept step {o['kept_step']}.")
                  + (f" The run ended early: {o['alarm']}." if o.get("alarm") else ""), "",
                  "| step | KID Inception | KID random-CNN | memorisation (nearest reading) |", "|---|---|---|---|"]
        for p in o["curve"]:
            near = min(o["readings"], key=lambda r: abs(r["step"] - p["step"]))
            lines.append(f"| {p['step']} | {p['inception']:.4f} | {p['random-cnn']:.4f} | {near['memorisation']} |")
    OUT.with_suffix(".md").write_text("\n".join(lines) + "\n")


SIGNALS = ("fidelity", "smoothed_fidelity", "memorisation", "diversity")


def signals(rows: list[dict]) -> list[str]:
    """A Markdown table: per `best` slice and space, each reading's rank correlation with the
    held-out KID over the saved steps that have a reading."""
    from scipy.stats import spearmanr

    lines = ["| target | shots | space | " + " | ".join(SIGNALS) + " |", "|---|---|---" + "|---" * len(SIGNALS) + "|"]
    for row in rows:
        at = {r["step"]: r for r in row["readings"]}
        steps = [s for s in map(int, row["saved"]) if s in at]
        for space in SPACES:
            held_out = [row["saved"][str(s)][space] for s in steps]
            rho = [spearmanr([at[s][k] for s in steps], held_out)[0] for k in SIGNALS]
            lines.append(f"| {row['target']} | {row['shots']} | {space} | " + " | ".join(f"{r:+.2f}" for r in rho) + " |")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, help="where the target-*.zip sets are (best, overtrain)")
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="the default fine-tune's steps")
    p.add_argument("--n", type=int, default=200, help="samples per score")
    p.add_argument("--threads", type=int, default=2)
    sub = p.add_subparsers(dest="what", required=True)
    b = sub.add_parser("best")
    b.add_argument("--targets", nargs="+", default=list(SOURCE_FOR))
    b.add_argument("--shots", nargs="+", type=int, default=[10, 25])
    b.add_argument("--every", type=int, default=50, help="steps between saved steps")
    o = sub.add_parser("overtrain")
    o.add_argument("--target", default="faces-lorelei")
    o.add_argument("--every", type=int, default=250, help="steps between scores")
    o.add_argument("--preset", default="TransferGAN",
                   help="a preset, or strategies joined by commas (e.g. transfer_g,projected_d: "
                        "Projected GAN without augmentation); TransferGAN is the plain fine-tune")
    o.add_argument("--lr", type=float, default=0.0, help="learning rate (default: the preset's own)")
    o.add_argument("--family", choices=FAMILIES, default=None,
                   help="train new networks of this family from scratch (with --preset scratch) instead of "
                        "starting from the bundled source")
    o.add_argument("--width", type=int, default=16, help="with --family: G and D width")
    o.add_argument("--resolution", type=int, default=64, help="with --family: image side in px")
    sub.add_parser("signals")
    a = p.parse_args()
    path = OUT.with_suffix(".json")
    results = json.loads(path.read_text()) if path.is_file() else {}
    if a.what == "signals":
        if not results.get("best"):
            p.error(f"no recorded best runs in {path.name}; run the best command first")
        print("\n".join(signals(results["best"])))
        return
    if a.data_dir is None:
        p.error("--data-dir is required to train")
    if a.what == "overtrain" and a.resolution != 64 and not a.family:
        p.error("--resolution applies to new networks (--family); the bundled sources are 64 px")
    torch.set_num_threads(a.threads)
    extractors = scoring.default_extractors("cpu")
    if a.what == "best":
        results["best"] = best(a, extractors)
    else:
        key = a.preset + (f"@{a.lr:g}" if a.lr else "") + (f"/{a.family}{a.width}@{a.resolution}px" if a.family else "")
        results.setdefault("overtrain", {})[key] = overtrain(a, extractors)
    write(results)


if __name__ == "__main__":
    main()
