"""How the CLI shows things: the training progress bar, the eval table and the bench lines.
tgan's core yields typed events; this module (and the app) turns them into text."""
from __future__ import annotations

import math
import signal
import sys
import threading

from .events import (BenchReportsWritten, BenchRunDone, BenchRunStarted, BenchSliceSkipped, Failed, Finished,
                     Monitored, Saved, Started, Step)


def stop_on_ctrl_c() -> threading.Event:
    """A stop flag that Ctrl-C sets, so a run ends at its next step, saved, instead of dying."""
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


def run_training(events, quiet: bool = False) -> str | None:
    """Drive the trainer with a tqdm bar; Ctrl-C sets the stop flag so the run ends saved. Returns
    the run folder of a run that ended saved (None: it wrote none)."""
    from tqdm import tqdm

    bar, reading, best = None, {}, None
    for ev in events:
        if isinstance(ev, Started):
            bar = tqdm(total=ev.total_steps, initial=ev.start_step, disable=quiet, unit="step",
                       desc=f"training on {ev.device}, {ev.num_images} images")
        elif isinstance(ev, Step) and bar is not None:
            bar.update(ev.step - bar.n)
            bar.set_postfix({**{k: f"{v:.3f}" for k, v in ev.losses.items()}, **reading}, refresh=False)
        elif isinstance(ev, Monitored):
            best = ev.best_step
            reading = {"copy": f"{ev.memorisation:.2f}", "div": f"{ev.diversity:.2f}", "fid": f"{ev.fidelity:.3f}",
                       "monitor": ev.verdict + (f", best {ev.best_step}" if ev.best_step is not None else "")}
        elif isinstance(ev, Saved) and bar is not None:
            if ev.step >= bar.total or bar.disable:
                bar.close()  # the last save: close first, or tqdm redraws the finished bar twice
                print(f"saved step {ev.step} to {ev.path}", file=sys.stderr)
            else:
                bar.write(f"saved step {ev.step} to {ev.path}", file=sys.stderr)
        elif isinstance(ev, (Failed, Finished)):
            if bar is not None:
                bar.close()  # closing twice is a no-op
            if isinstance(ev, Failed):
                raise CLIError(ev.message)
            how = "stopped early" if ev.stopped else "finished"
            why = f" ({ev.reason})" if ev.reason else ""
            kept = (f"; the model is the best monitored step, {best} (the last step is kept as G_ema_last)"
                    if best is not None and best != ev.step else "")
            print(f"{how} at step {ev.step}{why}; model in {ev.path}{kept}", file=sys.stderr)
            return ev.path
    return None


def metrics_table(m: dict) -> str:
    """The eval metrics for a person: one row per metric, one column per feature space."""
    spaces = m.get("spaces") or {"inception": m}
    memo_why = ("~1 healthy, >1 copies the training images" if math.isfinite(m["memorisation"])
                else "needs --train")  # NaN without --train
    rows = [("KID", lambda s: f"{s['kid']:.4f} ± {s['kid_std']:.4f}", "lower is better; ~0 = same distribution"),
            ("FID", lambda s: f"{s['fid']:.1f}", "lower is better"),
            ("precision", lambda s: f"{s['precision']:.3f}", "share of samples inside the real manifold"),
            ("recall", lambda s: f"{s['recall']:.3f}", "share of real images inside the sample manifold"),
            ("memorisation", lambda s: f"{s['memorisation']:.3f}", memo_why),
            ("copy ratio", lambda s: f"{s.get('copy_ratio', float('nan')):.3f}",
             "~1 healthy, towards 0 copies the training images" if "copy_ratio" in m and
             math.isfinite(m["copy_ratio"]) else "needs --train"),
            ("diversity", lambda s: f"{s['diversity']:.2f}", "mean pairwise feature distance of the samples")]
    lines = [f"{'':<13}" + "".join(f"{name:<20}" for name in spaces)]
    lines += [f"{name:<13}" + "".join(f"{fmt(s):<20}" for s in spaces.values()) + why for name, fmt, why in rows]
    lines.append(f"{'n':<13}{m['n']:<20}samples scored")
    aligned = m.get("copy_ratio_aligned", float("nan"))
    if math.isfinite(aligned):
        lines.append(f"copy ratio in aligned pixels (shift-, mirror- and noise-tolerant; the monitor's): {aligned:.3f} "
                     "(~1 healthy, towards 0 copies the training images)")
    return "\n".join(lines) + ("\n(inception: ImageNet-trained Inception-v3; random-cnn: a fixed random network "
                               "that no strategy trains against)" if "random-cnn" in spaces else "")


def bench_line(ev) -> str:
    """One progress line per benchmark event."""
    if isinstance(ev, BenchRunStarted):
        return f"{ev.name}: training {ev.budget_s:g} s ({' + '.join(ev.strategies)})"
    if isinstance(ev, BenchRunDone):
        kid = f"KID {ev.kid:.4f}" if ev.kid is not None else "no KID"
        return f"{ev.name}: {ev.steps} steps, {kid} ({ev.status}{': ' + ev.error if ev.error else ''})"
    if isinstance(ev, BenchSliceSkipped):
        return f"{ev.target} {ev.shots} shots seed {ev.seed}: all runs present, skipped"
    if isinstance(ev, BenchReportsWritten):
        readme = ""
        if ev.readme:
            readme = (f"updated the results table in {ev.readme}; " if ev.readme_updated else
                      f"{ev.readme}: missing or without <!-- results:start/end --> markers, left alone; ")
        return f"{readme}wrote {', '.join(ev.files)}"
    return repr(ev)  # an event kind this CLI does not format yet
