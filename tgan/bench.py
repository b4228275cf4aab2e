"""`tgan bench`: every preset, same wall-clock budget, few shots, scored on the held-out images.

Per target set (target-NAME.zip, adapted from a source) and (shots, seed): pick_shots draws the K
shots, the rest of the set (a seeded subset of at most `reference_cap`) is the reference. Each
preset trains until a threading.Timer sets the stop flag, in `curve_points` segments (saved and
resumed between them, the resume not charged) so KID is also measured along the way. Reference
rows: the unadapted source, and real-vs-real halves (the floor). One JSON per run in OUT/runs/;
existing ones are skipped (resumable) unless force. Reports are written by tgan.bench_report."""
from __future__ import annotations

import dataclasses
import re
import tempfile
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path

import numpy as np
import torch

from . import __version__, bench_pictures, bench_report
from .bench_config import BenchConfig, check
from .checkpoint import read_config
from .config import TrainConfig, monitor_period
from .data import DataError, load_images
from .subsets import pick_shots
from .events import (BenchEvent, BenchReportsWritten, BenchRunDone, BenchRunStarted, BenchSliceSkipped, Failed,
                     Finished, Started, Step)
from .models import load_model, load_source
from .sampling import sample_seeds
from .strategies import preset_lr, preset_options, resolve
from .trainer import train

MAX_STEPS = TrainConfig.LIMITS["steps"][1]  # so the wall-clock budget is what ends a run
KEEP_BEST_PERIOD = monitor_period(MAX_STEPS)  # steps between monitor readings with keep_best: the app's, for a long run
SAME = ("budget_s", "reference_cap", "feature_extractor")  # a resume reuses runs that match these


def run_name(target: str, shots: int, row: str, seed: int) -> str:
    """runs/<target>-<shots>shot-<row slug>-seed<s>: "from scratch" -> "from-scratch"."""
    return f"{target}-{shots}shot-{re.sub(r'[^a-z0-9]+', '-', row.lower()).strip('-')}-seed{seed}"


def split_target(full, shots: int, seed: int, cap: int):
    """(K shots drawn by seed, all the other images, the reference: a seeded <= cap subset of those)."""
    if shots >= len(full.names):
        raise DataError(f"{shots} shots leave no held-out images (the set has {len(full.names)})")
    shot_set, heldout = pick_shots(full, shots, seed)
    pick = torch.randperm(len(heldout.names), generator=torch.Generator().manual_seed(seed))[:cap]
    return shot_set, heldout, heldout.images[pick.sort().values]


class Scorer:
    """Features of real sets via the on-disk cache, generated ones fresh, in every scoring space
    (default: Inception and the random CNN); all metrics from features. A feature set is a dict
    space -> (N, D) array. KID along the curve and the headline numbers are the first space's."""

    def __init__(self, extractors: dict | None = None, cache=None):
        from . import metrics, scoring  # Inception is heavy: only import when benchmarking
        self.m, self.scoring = metrics, scoring
        self.extractors = extractors if extractors is not None else scoring.default_extractors()
        self.cache = cache if cache is not None else metrics.FeatureCache()

    @property
    def tag(self) -> str:
        """Names every space's extractor: runs scored in other spaces are not reused."""
        return " + ".join(str(getattr(e, "tag", type(e).__name__)) for e in self.extractors.values())

    def real(self, images_uint8: torch.Tensor) -> dict[str, np.ndarray]:
        return {name: self.cache.features(images_uint8.float() / 127.5 - 1.0, e)
                for name, e in self.extractors.items()}

    def fake(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        return {name: np.asarray(e(images), dtype=np.float64) for name, e in self.extractors.items()}

    def kid(self, fake: dict, real: dict) -> dict[str, tuple[float, float]]:
        return {name: self.m.kid(fake[name], real[name], n_subsets=100,
                                 subset_size=min(1000, len(fake[name]), len(real[name]))) for name in fake}

    def score(self, fake: dict, real: dict, train: dict | None = None) -> dict:
        spaces = {name: self.scoring.space_scores(fake[name], real[name], None if train is None else train[name])
                  for name in fake}  # the same per-space metrics as tgan eval and the app
        n = len(next(iter(fake.values())))
        return {**next(iter(spaces.values())), "n": n, "reference_n": len(next(iter(real.values()))),
                "spaces": spaces}


def _train_segments(cfg: BenchConfig, train_cfg: TrainConfig, shots, source, work: Path, on_point) -> dict:
    """Train for cfg.budget_s of wall-clock in curve_points segments, calling on_point(G_ema,
    seconds, step, last) after each. Segment 1's timer starts with the call (setup is charged
    once); later segments resume the saved run and their timer starts at Started."""
    marks = [cfg.budget_s * (i + 1) / cfg.curve_points for i in range(cfg.curve_points)]
    out = {"train_seconds": 0.0, "setup_seconds": None, "steps": 0, "device": None, "status": "ok",
           "error": None, "trainer_sec_per_step": None}
    for i, mark in enumerate(marks):
        stop, timer, t0 = threading.Event(), None, time.perf_counter()
        t_end, ended, remaining = t0, None, max(mark - out["train_seconds"], 0.0)

        def arm():
            nonlocal timer, t0, t_end
            t0 = t_end = time.perf_counter()
            timer = threading.Timer(remaining, stop.set)
            timer.daemon = True
            timer.start()

        if i == 0:
            arm()
        try:
            for ev in train(train_cfg, shots, work, source=source, stop=stop, resume=i > 0):
                if isinstance(ev, Started):
                    out["device"] = ev.device
                    if i == 0:
                        out["setup_seconds"] = time.perf_counter() - t0
                    else:
                        arm()
                elif isinstance(ev, Step):
                    t_end, out["steps"], out["trainer_sec_per_step"] = time.perf_counter(), ev.step, ev.sec_per_step
                elif isinstance(ev, (Finished, Failed)):
                    ended = ev
        finally:
            if timer is not None:
                timer.cancel()
        out["train_seconds"] += t_end - t0
        if isinstance(ended, Failed):  # diverged: score the last good weights; else no result
            out.update(status="diverged" if ended.path else "failed", error=ended.message)
            if not ended.path:
                return out
        if isinstance(ended, Finished) and ended.reason:  # the monitor's alarm ended the run early
            out["alarm"] = ended.reason
        last = i == len(marks) - 1 or out["status"] != "ok" or "alarm" in out
        if train_cfg.keep_best:
            out["kept_step"] = (read_config(work).get("best") or {}).get("step")
        on_point(load_model(work).G_ema, out["train_seconds"], out["steps"], last)
        if last:
            return out
    return out


def _run_preset(cfg, scorer, target, shots_n, seed, preset, shot_set, ref_feats, train_feats, source,
                out) -> Generator[BenchEvent, None, dict]:
    name = run_name(target, shots_n, preset, seed)
    settings = preset_settings(cfg, preset, source)
    lr = settings["lr"]
    train_cfg = TrainConfig(steps=MAX_STEPS, batch_size=cfg.batch, seed=seed, save_every=0, lr_g=lr, lr_d=lr,
                            sample_every=TrainConfig.LIMITS["sample_every"][1], strategies=settings["strategies"],
                            strategy_options=settings["options"],
                            monitor_every=KEEP_BEST_PERIOD if cfg.keep_best else 0, keep_best=cfg.keep_best)
    curve, final, eval_s = [], {}, [0.0]

    def on_point(G, seconds, step, last):
        t = time.perf_counter()
        fake = sample_seeds(G, range(cfg.n if last else min(cfg.curve_n, cfg.n)))
        feats = scorer.fake(fake)
        kids = scorer.kid(feats, ref_feats)
        kid, kid_std = next(iter(kids.values()))
        curve.append({"seconds": seconds, "step": step, "kid": kid, "kid_std": kid_std, "n": len(fake),
                      "kid_spaces": {name: k for name, (k, _) in kids.items()}})
        if last:
            final.update(scorer.score(feats, ref_feats, train_feats))
            bench_pictures.save_strip(fake[:cfg.grid_cols], out / "runs" / f"{name}.png")
        eval_s[0] += time.perf_counter() - t

    yield BenchRunStarted(name, cfg.budget_s, settings["strategies"])
    try:
        with tempfile.TemporaryDirectory(prefix=f"tgan-bench-{name}-") as work:
            trained = _train_segments(cfg, train_cfg, shot_set.images, source, Path(work), on_point)
    except Exception as exc:  # noqa: BLE001 - one broken preset (e.g. a missing package) must not end the bench
        trained = {"train_seconds": 0.0, "steps": 0, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    steps = trained["steps"]
    record = {"kind": "preset", "row": preset, **settings, **trained,
              "wall_clock": trained["train_seconds"], "images_seen": steps * cfg.batch, "batch": cfg.batch,
              "sec_per_step": trained["train_seconds"] / steps if steps else None,
              "eval_seconds": eval_s[0], "metrics": final, "curve": curve}
    yield BenchRunDone(name, steps, final.get("kid"), trained["status"], trained.get("error"))
    return record


def preset_learning_rate(cfg: BenchConfig, preset: str) -> float:
    """--lr for every preset when given (a sweep), else the rate each preset was tuned to."""
    return cfg.lr if cfg.lr is not None else preset_lr(preset, TrainConfig.lr_g)


def preset_settings(cfg: BenchConfig, preset: str, source) -> dict:
    """What a preset's run trains with, as its record stores it. One dict for both the run and the
    staleness check, so that a recorded run made with other settings is always made again."""
    return {"strategies": resolve(preset), "lr": preset_learning_rate(cfg, preset), "keep_best": cfg.keep_best,
            "options": preset_options(preset), "flip": source.flip}


def run_bench(cfg: BenchConfig, extractors: dict | None = None, cache=None) -> Iterator[BenchEvent]:
    """Run (or resume) the benchmark; write runs/*.json, results.json/md, plot, grids, README.
    A generator of BenchEvents; the last one, BenchReportsWritten, carries the results."""
    check(cfg)
    out = Path(cfg.out)
    scorer = Scorer(extractors, cache)
    # Folders are this machine's business: the committed results name the settings, not the paths.
    settings = {k: v for k, v in dataclasses.asdict(cfg).items()
                if k not in ("force", "out", "readme", "data_dir", "sources")}
    common = {"budget_s": cfg.budget_s, "reference_cap": cfg.reference_cap, "tgan_version": __version__,
              "feature_extractor": scorer.tag, "spaces": list(scorer.extractors)}

    def done(path: Path, **also) -> bool:  # kept unless forced, failed, or made with other settings
        # Runs recorded before a setting was written down had the `missing` value: the last step
        # scored, no preset options, x-flips.
        return not cfg.force and bench_report.is_done(path, {**{k: common[k] for k in SAME}, **also},
                                                      missing={"keep_best": False, "options": {}, "flip": True})

    def save(path: Path, record: dict, **meta) -> None:
        bench_report.write_json(path, {**meta, **common, **record, "created": time.strftime("%Y-%m-%d %H:%M:%S")})

    grids: list[Path] = []
    for target, source_name in cfg.targets.items():
        source = load_source(Path(cfg.sources) / source_name)
        res = source.model_config["resolution"]
        full = load_images(Path(cfg.data_dir) / f"target-{target}.zip", res, max_images=None)
        # Which checkpoint of the source: a source pretrained further makes its target's runs stale.
        source_step = read_config(Path(cfg.sources) / source_name).get("step")
        meta = {"target": target, "source": source_name, "source_step": source_step, "resolution": res,
                "target_size": len(full.names)}
        floor_path = out / "runs" / f"{target}-real-vs-real.json"
        if not done(floor_path):  # the floor: KID between two disjoint random halves of the set
            order = torch.randperm(len(full.names), generator=torch.Generator().manual_seed(0))[:2 * cfg.reference_cap]
            a, b = full.images[order[: len(order) // 2]], full.images[order[len(order) // 2:]]
            save(floor_path, {"kind": "floor", "row": "real vs real (floor)", "shots": None, "seed": 0,
                              "metrics": scorer.score(scorer.real(a), scorer.real(b))}, **meta)
        for shots_n in cfg.shots:
            for seed in cfg.seeds:
                shot_set, heldout, reference = split_target(full, shots_n, seed, cfg.reference_cap)
                names = {p: run_name(target, shots_n, p, seed) for p in ["source", *cfg.presets]}
                # A run is stale when its source or (a preset's) any of its preset_settings changed.
                todo = [p for p, nm in names.items()
                        if not done(out / "runs" / f"{nm}.json", source_step=source_step,
                                    **({} if p == "source" else preset_settings(cfg, p, source)))]
                if not todo:
                    yield BenchSliceSkipped(target, shots_n, seed)
                    continue
                ref_feats, train_feats = scorer.real(reference), scorer.real(shot_set.images)
                run_meta = {**meta, "shots": shots_n, "seed": seed, "reference_size": len(reference),
                            "heldout_size": len(heldout.names), "shot_names": shot_set.names}
                if "source" in todo:  # the unadapted source against the same held-out reference
                    fake = sample_seeds(source.G, range(cfg.n))
                    bench_pictures.save_strip(fake[:cfg.grid_cols], out / "runs" / f"{names['source']}.png")
                    save(out / "runs" / f"{names['source']}.json",
                         {"kind": "source", "row": "source (unadapted)", "wall_clock": 0.0, "steps": 0,
                          "images_seen": 0, "metrics": scorer.score(scorer.fake(fake), ref_feats, train_feats)},
                         **run_meta)
                for preset in (p for p in todo if p != "source"):
                    record = yield from _run_preset(cfg, scorer, target, shots_n, seed, preset, shot_set,
                                                    ref_feats, train_feats, source, out)
                    save(out / "runs" / f"{names[preset]}.json", record, **run_meta)
            first_shots, _ = pick_shots(full, shots_n, cfg.seeds[0])
            grids.append(bench_pictures.write_grid(out, target, shots_n, cfg.seeds[0], ["source", *cfg.presets],
                                                 first_shots.images[:cfg.grid_cols], run_name))
    results, written = bench_report.write_reports(out, settings)
    updated = bool(cfg.readme) and bench_report.write_readme_table(out / "results.json", cfg.readme)
    files = [str(f) for f in (*written, *grids)]
    yield BenchReportsWritten(results, files, cfg.readme, updated)


def run_bench_to_end(cfg: BenchConfig, extractors: dict | None = None, cache=None) -> dict:
    """run_bench without progress: the results once every run and report is written."""
    for event in run_bench(cfg, extractors, cache):
        if isinstance(event, BenchReportsWritten):
            return event.results
    raise RuntimeError("run_bench ended without writing its reports")
