"""Do our scoring spaces order known conditions sensibly? Writes metric_sanity.md and .json.

    python benchmarks/metric_sanity.py --data-dir DIR [--n 250] [--shots 10]

DIR holds target-<name>.zip. For each visible target: 10 shots drawn by seed 0; from the other
images, two disjoint seeded random halves of at most n each: the reference and the "real"
condition. Every condition of tgan.sanity (floor, blur/noise/colour shift at two strengths, the
shots copied, the unadapted bundled source) is scored in Inception and in the random-CNN space.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from tgan import load_images, load_model, sanity, scoring
from tgan.bench_config import TARGETS
from tgan.subsets import pick_shots
from tgan.paths import CHECKPOINTS
from tgan.sampling import sample_seeds

HERE = Path(__file__).parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--n", type=int, default=250, help="images in the reference and in each condition")
    p.add_argument("--shots", type=int, default=10)
    p.add_argument("--out", type=Path, default=HERE)
    a = p.parse_args()
    extractors = scoring.default_extractors()
    spaces = list(extractors)
    report, md = {}, ["# Metric sanity table", "",
                      "Regenerate: `python benchmarks/metric_sanity.py --data-dir DIR` "
                      f"(n = {a.n} per condition, {a.shots} shots, seed 0). KID against held-out images of "
                      "the target; memorisation = median NN distance of held-out reals to the shots / that "
                      "of the condition (~1 healthy, inf = exact copies).", ""]
    for target, source in TARGETS.items():
        full = load_images(a.data_dir / f"target-{target}.zip", 64, max_images=None)
        shots, heldout = pick_shots(full, a.shots, seed=0)
        order = torch.randperm(len(heldout.names), generator=torch.Generator().manual_seed(0))
        half = min(a.n, len(order) // 2)
        ref, real = heldout.as_float()[order[:half]], heldout.as_float()[order[half:2 * half]]
        source_samples = sample_seeds(load_model(CHECKPOINTS / source).G_ema, range(half))
        rows = sanity.run_sanity(ref, real, shots.as_float(), source_samples, extractors)
        passed = {space: sanity.checks(rows, space) for space in spaces}
        report[target] = {"rows": [{"condition": r.condition, **r.scores} for r in rows], "checks": passed}
        md += [f"## {target} (source `{source}`, reference {half} images)", "", sanity.table(rows, spaces), ""]
        for space in spaces:
            ok = [f"{k}: {'yes' if v else '**no**'}" for k, v in passed[space].items()]
            md.append(f"- {space}: " + "; ".join(ok))
        md.append("")
        print(json.dumps({target: passed}))
    (a.out / "metric_sanity.json").write_text(json.dumps(report, indent=1, default=float) + "\n")
    (a.out / "metric_sanity.md").write_text("\n".join(md))


if __name__ == "__main__":
    main()
