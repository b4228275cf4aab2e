"""Does the advisor name the right source? Draws of 10 shots from each target, both source rules.

    python benchmarks/advisor_source_check.py --data-dir DIR [--targets faces-lorelei ...] [--draws 20]

For each target (DIR/target-<name>.zip) and each draw (10 shots by seed 0, 1, ...), the source that
`tgan.advisor` picks from the shipped fingerprints (cosine similarity to the nearest fingerprint
images in the EfficientNet-Lite0 style features), beside the rule it replaced (the lowest
Inception KID against 64 training images, seed 0, rebuilt here from DIR/source-<name>.zip). The
right source is the bundled one the target's name starts with, as in default_vs_source.py
(faces-notionists -> faces); benchmarks/README ("Which source the advisor names") has the
fine-tunes that check that label where the rules disagree. Prints one Markdown table, one letter
per draw (e = emoji, f = faces, k = kanji).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from default_vs_source import source_for  # noqa: E402
from tgan import load_images, metrics  # noqa: E402
from tgan.advisor import fingerprints, rank_sources, style_features  # noqa: E402
from tgan.models import list_sources  # noqa: E402
from tgan.paths import CHECKPOINTS  # noqa: E402
from tgan.subsets import pick_shots, random_subset  # noqa: E402

TARGETS = ["emoji-3d-animals", "faces-lorelei", "kanji-gyosho"]


def inception_prints(data_dir: Path, names, extractor, n: int = 64) -> dict:
    """The earlier rule's fingerprints: Inception features of a seeded random n training images."""
    return {name: extractor(random_subset(load_images(data_dir / f"source-{name}.zip", 64, max_images=None),
                                          n, seed=0).as_float()) for name in names}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--targets", nargs="+", default=TARGETS)
    p.add_argument("--draws", type=int, default=20)
    p.add_argument("--shots", type=int, default=10)
    a = p.parse_args()
    sources = {s.name: s for s in list_sources(CHECKPOINTS)}
    style = fingerprints(sources)
    inception = metrics.InceptionFeatures("cpu")
    old = inception_prints(a.data_dir, style, inception)
    print("| target | right source | style nearest neighbours (shipped) | Inception KID, 64 images (earlier) |")
    print("|---|---|---|---|")
    right = {"style": 0, "inception": 0}
    for target in a.targets:
        expected = source_for(target)
        images = load_images(a.data_dir / f"target-{target}.zip", 64, max_images=None)
        picks = {"style": "", "inception": ""}
        for draw in range(a.draws):
            shots = pick_shots(images, a.shots, draw)[0].as_float()
            similar = rank_sources(style_features(shots), style)
            shot_feats = inception(shots)  # (shots, 2048)
            kids = {name: metrics.kid(shot_feats, fp, n_subsets=20)[0] for name, fp in old.items()}
            for rule, pick in (("style", max(similar, key=similar.get)), ("inception", min(kids, key=kids.get))):
                picks[rule] += pick[0]
                right[rule] += pick == expected
        print(f"| {target} | {expected} | {picks['style']} | {picks['inception']} |", flush=True)
    total = len(a.targets) * a.draws
    print(f"| **right** | | **{right['style']} / {total}** | {right['inception']} / {total} |")


if __name__ == "__main__":
    main()
