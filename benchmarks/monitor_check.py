"""Does the monitor's keep-best rule pick a good step, and does the copying alarm come in time?

    python benchmarks/monitor_check.py --data-dir DIR best [--targets ...] [--shots 10 25] [--preset P]
    python benchmarks/monitor_check.py --data-dir DIR overtrain [--target faces-lorelei] [--preset P]
    python benchmarks/monitor_check.py signals

`best`: for each visible target and shot count (shots drawn by seed 0, the matching bundled source,
the app's settings: appkit.make_config with the recommended preset, the CPU default steps and the
app's monitor period, keep-best on), trains in chunks of --every steps, as the app does, and keeps
G_ema at the end of every chunk (the "saved steps"). Each saved step and the step the rule kept are
scored with n samples against the held-out images (the rest of the target, up to 300, seeded) in
both feature spaces. The rule passes a slice when its step's KID is within 10% of the best saved
step's. Writes benchmarks/monitor_check.md (the table) and .json; a run replaces the rows of the
slices it ran and keeps the others. A target of our own (target-faces-pixel-art.zip, built by
benchmarks/lineart_target/) starts from the bundled source its name begins with.

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
from tgan.monitor import COPYING, LATER_TOLERANCE, MIN_IMPROVEMENT, STARTING_TO_COPY, KeepBest  # noqa: E402
from tgan.bench_config import TARGETS as SOURCE_FOR  # noqa: E402
from default_vs_source import source_for  # noqa: E402 (a target of our own: its name's first word)
from tgan.paths import CHECKPOINTS  # noqa: E402
from tgan.strategies.catalog import PRESETS, preset_lr  # noqa: E402
from tgan.subsets import pick_shots, random_subset  # noqa: E402
from tgan.config import DEFAULT_FINETUNE_STEPS as DEFAULT_STEPS  # noqa: E402

OUT = Path(__file__).resolve().parent / "monitor_check"
SPACES = ("inception", "random-cnn")
# the keep-best rule a run was recorded under (runs recorded under an older rule lack it or name theirs)
RULE = f"latest within {LATER_TOLERANCE:g} of the improvement, once {MIN_IMPROVEMENT:g} below the first reading"


def trained_steps(target: str, shots, steps: int, every: int, preset: str = "recommended", lr: float = 0.0,
                  fresh: ModelConfig | None = None):
    """Train a preset (or a comma-separated list of strategies) with the app's settings on `shots`,
    at `lr` or else the preset's own rate (2e-4 for a strategy list); yield (step, G_ema) every
    `every` steps, then ("kept", G_ema of the rule's step, that step, the monitor's readings, the
    alarm) and ("previous", G_ema, step) of the step the previous rule (the same without its
    improvement gate, KeepBest(min_improvement=0): until 2026-12-07) would have kept. fresh: train
    new networks of this shape from scratch instead of the target's bundled source. The run goes in
    chunks of one monitor period, so each reading's G_ema is at hand (chunks continue bit-exactly)."""
    strategies = list(PRESETS[preset][0]) if preset in PRESETS else preset.split(",")
    # a strategy list has no preset options: its controls' values are the strategies' defaults
    cfg = sup.make_config(strategies, sup.preset_option_values(preset), steps, lr or preset_lr(preset, 2e-4), 16, 0)
    source = None if fresh else CHECKPOINTS / source_for(target)
    state, readings, alarm = None, [], ""
    previous_rule, previous = KeepBest(min_improvement=0.0), None  # previous: (step, G_ema) it keeps
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
        if (last is not None and last.step == state.step and previous_rule.consider(
                last.smoothed_fidelity, last.verdict not in ("copying", "collapsed"))):
            previous = (last.step, generator_from_tensors(state.model, state.tensors, "G_ema"))
        if state.step % every == 0 or state.step == steps:
            yield state.step, generator_from_tensors(state.model, state.tensors, "G_ema")
    kept = state.best["step"] if state.best else state.step
    yield "kept", generator_from_tensors(state.model, state.tensors, state.generator_prefix()), kept, readings, alarm
    if previous is not None:
        yield "previous", previous[1], previous[0]


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


def slice_key(row: dict) -> tuple:
    """What a `best` row measured (rows recorded before --preset existed are the recommended preset's)."""
    return row["target"], row["shots"], row.get("preset", "recommended")


def best(a, extractors) -> list[dict]:
    rows = []
    for target in a.targets:
        for k in a.shots:
            shots, heldout = split(a.data_dir, target, k)
            saved, kept, previous = {}, None, None
            for item in trained_steps(target, shots, a.steps, a.every, a.preset):
                if item[0] in ("kept", "previous"):
                    G, step = item[1], item[2]
                    scored = (step, saved.get(step) or kids(G, heldout, shots, extractors, a.n))
                    if item[0] == "kept":
                        kept, readings = scored, item[3]
                    else:
                        previous = scored
                else:
                    saved[item[0]] = kids(item[1], heldout, shots, extractors, a.n)
            row = {"target": target, "shots": k, "preset": a.preset, "kept_step": kept[0], "kept": kept[1],
                   "previous_step": previous[0], "previous": previous[1], "saved": saved,
                   "readings": readings}
            for s in SPACES:
                top = min(saved, key=lambda step: saved[step][s])
                row[f"best_{s}"] = top
                row[f"ratio_{s}"] = round(kept[1][s] / saved[top][s], 3) if saved[top][s] > 0 else None
                row[f"previous_ratio_{s}"] = round(previous[1][s] / saved[top][s], 3) if saved[top][s] > 0 else None
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
        elif item[0] != "previous":
            curve.append({"step": item[0], **kids(item[1], heldout, shots, extractors, a.n)})
            print(json.dumps(curve[-1]), flush=True)
    copying = next((r["step"] for r in readings if r["memorisation"] < COPYING), None)
    warned = next((r["step"] for r in readings if r["memorisation"] < STARTING_TO_COPY), None)
    turn = {s: min(curve, key=lambda p: p[s])["step"] for s in SPACES}  # held-out KID is lowest here
    return {"target": a.target, "preset": a.preset, "lr": a.lr or preset_lr(a.preset, 2e-4), "shots": 5,
            "networks": (f"new {a.family}, width {a.width}, {a.resolution} px" if a.family
                         else f"source {source_for(a.target)}"),
            "steps": steps, "first_copying_reading": copying, "first_starting_to_copy_reading": warned,
            "kept_step": kept, "rule": RULE, "kid_lowest_at": turn, "alarm": alarm, "curve": curve,
            "readings": readings}


def write(results: dict) -> None:
    OUT.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    lines = []
    if "best" in results:
        lines += ["## The kept step against the saved steps (held-out KID, lower is better)", "",
                  "The rule keeps the latest step whose fidelity (averaged over 3 readings) is within "
                  f"{LATER_TOLERANCE:.0%} of the run's improvement from its lowest, once that lowest is "
                  f"{MIN_IMPROVEMENT:.0%} below the first reading (until then, the latest step). The last columns "
                  "are an earlier rule on the same run: rows recorded before 2026-12-07 compare the lowest averaged "
                  "reading (no slack for later steps), later rows the rule without its improvement gate.", "",
                  "| target | shots | preset | kept step | best saved step (Inception / random-CNN) | kept / best, "
                  "Inception | kept / best, random-CNN | earlier rule | its step | its kept / best, Inception / "
                  "random-CNN |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in results["best"]:
            key = "previous" if "previous_step" in r else "lowest"
            lines.append(f"| {r['target']} | {r['shots']} | {r.get('preset', 'recommended')} | {r['kept_step']} | "
                         f"{r['best_inception']} / {r['best_random-cnn']} | {r['ratio_inception']} | "
                         f"{r['ratio_random-cnn']} | {'no gate' if key == 'previous' else 'lowest'} | "
                         f"{r.get(key + '_step')} | {r.get(key + '_ratio_inception')} / "
                         f"{r.get(key + '_ratio_random-cnn')} |")
        for s in SPACES:
            ok = sum(1 for r in results["best"] if (r.get(f"ratio_{s}") or 9) <= 1.10)
            lines.append(f"\nWithin 10% of the best saved step, {s}, the rule: {ok} of {len(results['best'])} slices.")
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

    lines = ["| target | shots | preset | saved steps | space | " + " | ".join(SIGNALS) + " |",
             "|---|---|---|---|---" + "|---" * len(SIGNALS) + "|"]
    for row in rows:
        at = {r["step"]: r for r in row["readings"]}
        steps = [s for s in map(int, row["saved"]) if s in at]
        for space in SPACES:
            held_out = [row["saved"][str(s)][space] for s in steps]
            rho = [spearmanr([at[s][k] for s in steps], held_out)[0] for k in SIGNALS]
            target, shots, preset = slice_key(row)
            lines.append(f"| {target} | {shots} | {preset} | {len(steps)} | {space} | "
                         + " | ".join(f"{r:+.2f}" for r in rho) + " |")
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
    b.add_argument("--preset", default="recommended", help="a preset, or strategies joined by commas")
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
        # the slices run now replace their earlier rows; the other recorded slices stay
        new = best(a, extractors)
        ran = {slice_key(r) for r in new}
        results["best"] = [r for r in results.get("best", []) if slice_key(r) not in ran] + new
    else:
        key = a.preset + (f"@{a.lr:g}" if a.lr else "") + (f"/{a.family}{a.width}@{a.resolution}px" if a.family else "")
        results.setdefault("overtrain", {})[key] = overtrain(a, extractors)
    write(results)


if __name__ == "__main__":
    main()
