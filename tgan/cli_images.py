"""`tgan` commands about a person's own images: `doctor` (check them), `advise` (which source,
preset and steps suit them) and `project` (put one into a model). Heavy imports stay inside each
command, so `tgan --help` stays instant."""
from __future__ import annotations

import json
import sys

from .cli_output import stop_on_ctrl_c


def cmd_advise(a) -> None:
    from .advisor import advise
    from .checkpoint import read_config
    from .data import load_images
    from .models import list_sources
    from .paths import CHECKPOINTS, resolve_model

    sources = {p.name: p for p in list_sources(CHECKPOINTS)}
    chosen = None
    if a.source:
        folder = resolve_model(a.source)
        chosen, sources[folder.name] = folder.name, folder
    resolution = read_config(sources[chosen])["model"]["resolution"] if chosen else 64
    advice = advise(load_images(a.data, resolution), sources, chosen)
    if a.json:
        print(json.dumps({k: advice.summary()[k] for k in ("source", "preset", "steps", "why")}))
        return
    print(f"source {advice.source}, preset {advice.preset}, {advice.steps} steps")
    if advice.distance is not None:
        print(f"distance of the source's samples to your images: KID {advice.distance:.4f} (random-CNN space)")
    print(f"why: {advice.why}")
    print(f"run it: tgan finetune --source {advice.source} --data {' '.join(a.data)} --strategy {advice.preset} "
          f"--steps {advice.steps} --keep-best --out runs/mine")


def cmd_project(a) -> None:
    from pathlib import Path

    import torch
    from safetensors.torch import save_file
    from tqdm import tqdm

    from . import sampling
    from .data import load_images
    from .events import Projected, ProjectionStep
    from .models import load_model
    from .paths import resolve_model
    from .projection import project

    model = load_model(resolve_model(a.model))
    target = load_images([a.image], model.model_config.resolution).as_float()[0]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=a.steps, unit="step", desc="projecting", disable=a.quiet)
    stop = stop_on_ctrl_c()
    for ev in project(model.G_ema, target.to(next(model.G_ema.parameters()).device), a.steps, stop=stop):
        if isinstance(ev, ProjectionStep):
            bar.update(ev.step - bar.n)
            bar.set_postfix(loss=f"{ev.loss:.4f}", refresh=False)
        elif isinstance(ev, Projected):
            bar.close()
            save_file({"w": ev.w.contiguous()}, str(out / "latent.safetensors"), metadata={"model": str(a.model)})
            sampling.upscale(sampling.grid_image(ev.image.unsqueeze(0), nrow=1), 4).save(out / "reconstruction.png")
            pair = torch.stack([target.cpu(), ev.image])
            if a.data:  # the training image nearest to the target, by pixels, beside the pair
                shots = load_images(a.data, model.model_config.resolution).as_float()
                pair = torch.cat([pair, shots[(shots - target.cpu()).pow(2).flatten(1).sum(1).argmin()].unsqueeze(0)])
            sampling.upscale(sampling.grid_image(pair, nrow=len(pair)), 4).save(out / "comparison.png")
            print(f"PSNR {ev.psnr:.1f} dB, perceptual distance {ev.perceptual:.4f} after {ev.steps} steps; wrote "
                  f"{out / 'latent.safetensors'}, reconstruction.png and comparison.png (original | reconstruction"
                  f"{' | nearest training image' if a.data else ''})", file=sys.stderr)


def cmd_doctor(a) -> None:
    from .data import load_images
    from .doctor import examine

    images = load_images(a.data, a.resolution)
    findings, keep = examine(images, a.shots or None)
    if a.json:
        print(json.dumps({"usable": len(images.names), "train_on": len(keep),
                          "findings": [f.row() for f in findings]}))
        return
    print(f"{len(images.names)} usable images; {len(keep)} to train on")
    for f in findings:
        print(f"{f.file}: {f.kind} ({f.detail}) -> {f.action}")
    if not findings:
        print("nothing to report")
