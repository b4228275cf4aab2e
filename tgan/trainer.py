"""The one training loop. It yields typed events instead of printing or calling back, so the
CLI renders a progress bar and the app renders live plots from the same code."""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator

import torch

from . import losses
from .config import ModelConfig, TrainConfig, from_dict
from .events import Event, Failed, Finished, Samples, Saved, Started, Step
from .models import describe_device, ema_copy, fresh_models, pick_device
from .nets import count_params
from .run_state import (StepSnapshot, ema_beta, has_saved_state, make_optimizers, restore_state, save_state,
                        saved_seconds, update_ema)
from .strategies import RunModels, SourceModels, StepContext, build


def fixed_latents(n: int, z_dim: int, seed: int) -> torch.Tensor:
    """The run's sample-grid latents: the same seed gives the same grid in every run and model."""
    return torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def _grid(G_ema, z: torch.Tensor) -> torch.Tensor:
    return G_ema(z).float().clamp(-1, 1).cpu()  # (N, 3, R, R)


def train(cfg: TrainConfig, images: torch.Tensor, out_dir=None, source: SourceModels | None = None,
          model_config: ModelConfig | None = None, stop: threading.Event | None = None,
          resume: bool = False, device=None, half: bool = False) -> Iterator[Event]:
    """Train on `images` (N, 3, R, R) uint8. Ends with exactly one Finished or Failed event.

    out_dir: where checkpoints go (None: nothing is written). resume: continue the run saved in
    out_dir. half: store model.safetensors in fp16 (the resume file stays fp32)."""
    try:
        yield from _train(cfg, images, out_dir, source, model_config, stop or threading.Event(),
                          resume, pick_device(device), half)
    except (ValueError, RuntimeError) as exc:  # bad options, shape mismatches, out of memory
        yield Failed(0, f"{type(exc).__name__}: {exc}".splitlines()[0])


def _train(cfg, images, out_dir, source, model_config, stop, resume, device, half) -> Iterator[Event]:
    cfg.validate()
    strategies = build(cfg.strategies, cfg.strategy_options, has_source=source is not None)
    mcfg = from_dict(ModelConfig, source.model_config) if source else (
        model_config or ModelConfig(resolution=images.shape[-1]))
    if images.ndim != 4 or images.shape[1] != 3 or images.shape[-1] != mcfg.resolution:
        raise ValueError(f"images are {tuple(images.shape)}; this model needs (N, 3, "
                         f"{mcfg.resolution}, {mcfg.resolution}) - load them at {mcfg.resolution} px")
    mixed = cfg.mixed_precision and device.type == "cuda"
    autocast = lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=mixed)  # noqa: E731

    # Build the networks, let every strategy set them up, then optimise what is left trainable.
    G, D = fresh_models(mcfg, cfg.seed, device)
    run = RunModels(G, D, source, device, lr_multipliers={"G.mapping.": cfg.mapping_lr_mult})
    for strategy in strategies:
        strategy.setup(run)
    # NHWC: oneDNN (CPU) and cuDNN convolutions run faster on it; 15% per step at 64 px on CPU.
    # Values are unchanged, and checkpoints are saved contiguous.
    run.G.to(memory_format=torch.channels_last)
    run.D.to(memory_format=torch.channels_last)
    G_ema = ema_copy(run.G)
    opts = make_optimizers(run, cfg)
    relativistic = uses_rpgan(cfg, mcfg, run.D)
    resuming = resume and has_saved_state(out_dir)
    start = restore_state(out_dir, run, G_ema, opts) if resuming else 0
    seconds = saved_seconds(out_dir) if resuming else 0.0  # training wall-clock, summed over resumes

    # Random streams: data order and latents depend only on (seed, step), so resumes are repeatable.
    rng = torch.Generator().manual_seed(cfg.seed * 1_000_003 + start)
    reals_all = images.to(device)
    grid_z = fixed_latents(cfg.grid_size, mcfg.z_dim, cfg.seed).to(device)

    def augment(x: torch.Tensor) -> torch.Tensor:
        for strategy in strategies:
            x = strategy.augment(x)
        return x

    def latents() -> torch.Tensor:
        return torch.randn(cfg.batch_size, mcfg.z_dim, generator=rng).to(device)

    def real_batch() -> torch.Tensor:
        idx = torch.randint(len(reals_all), (cfg.batch_size,), generator=rng)
        x = reals_all[idx.to(device)].float() / 127.5 - 1.0  # (B, 3, R, R) in [-1, 1]
        if cfg.flip:
            flip = (torch.rand(cfg.batch_size, generator=rng) < 0.5).to(device)
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
        return x

    def save(step: int):
        return save_state(out_dir, mcfg, cfg, run, G_ema, opts, step, half, seconds)

    yield Started(cfg.steps, start, describe_device(device), len(images),
                  {"G": count_params(run.G), "D": count_params(run.D)})
    if start == 0:
        yield Samples(0, _grid(G_ema, grid_z))  # what the source makes, before any update

    sec_per_step, step = None, start
    # Undoes a step whose losses diverge. G's weights and G_ema only change after both losses
    # were finite, so the snapshot holds D, D's Adam moments and G's BatchNorm statistics.
    snapshot = StepSnapshot([run.D], (opts[1],), buffers_of=[run.G])
    for step in range(start + 1, cfg.steps + 1):
        if stop.is_set():
            step -= 1
            break
        t0 = time.perf_counter()
        terms: dict[str, torch.Tensor] = {}
        snapshot.take()

        # One G forward per step, as in DCGAN: D trains on the detached fakes, then G's loss
        # backpropagates through the same fakes into the just-updated D. This halves G's cost.
        z = latents()
        with autocast():
            fake, feats = run.G.synthesis(run.G.mapping(z), return_features=True)

        # Update D on (augmented) reals and fakes, plus the strategies' D terms.
        fake_for_d = fake.detach()  # D's loss must not reach into G
        regularise = relativistic and cfg.r1_gamma > 0 and step % cfg.reg_every == 0
        with autocast():
            reals = augment(real_batch()).requires_grad_(regularise)
            fakes = augment(fake_for_d).requires_grad_(regularise)
            logits_real, logits_fake = run.D(reals), run.D(fakes)
            if relativistic:
                d_terms = {"D/rp": losses.d_rpgan(logits_real, logits_fake)}
                if regularise:  # lazy R1/R2: every reg_every steps, weighted by reg_every
                    weight = cfg.r1_gamma / 2 * cfg.reg_every
                    d_terms["D/r1"] = weight * losses.zero_centred_penalty(logits_real, reals)
                    d_terms["D/r2"] = weight * losses.zero_centred_penalty(logits_fake, fakes)
            else:
                d_real, d_fake = losses.d_hinge(logits_real, logits_fake)
                d_terms = {"D/real": d_real, "D/fake": d_fake}
            for strategy in strategies:
                d_terms.update(strategy.d_terms(run, StepContext(step, z, fake_for_d)))
        if not _step_if_finite(opts[1], d_terms):
            snapshot.restore()
            yield _diverged(step, d_terms, out_dir and save(step - 1))
            return
        terms.update(d_terms)

        # Update G: fool D, plus the strategies' G terms (penalties, correspondence).
        with autocast():
            if relativistic:  # the pairing needs the reals' scores under the updated D
                with torch.no_grad():
                    logits_real = run.D(reals.detach())
                g_terms = {"G/adv": losses.g_rpgan(logits_real, run.D(augment(fake)))}
            else:
                g_terms = {"G/adv": losses.g_hinge(run.D(augment(fake)))}
            for strategy in strategies:
                g_terms.update(strategy.g_terms(run, StepContext(step, z, fake, feats)))
        if not _step_if_finite(opts[0], g_terms):
            snapshot.restore()  # D already stepped this step: undo that too
            yield _diverged(step, g_terms, out_dir and save(step - 1))
            return
        terms.update(g_terms)
        update_ema(G_ema, run.G, ema_beta(cfg, step * cfg.batch_size))

        took = time.perf_counter() - t0
        seconds += took
        sec_per_step = took if sec_per_step is None else 0.9 * sec_per_step + 0.1 * took
        yield Step(step, cfg.steps, {k: float(v.detach()) for k, v in terms.items()}, sec_per_step,
                   sec_per_step * (cfg.steps - step))
        if step % cfg.sample_every == 0 or step == cfg.steps:
            yield Samples(step, _grid(G_ema, grid_z))
        if out_dir and cfg.save_every and step % cfg.save_every == 0 and step < cfg.steps:
            yield Saved(step, str(save(step)))

    stopped = step < cfg.steps
    if stopped and step > start:
        yield Samples(step, _grid(G_ema, grid_z))
    path = None
    if out_dir:
        path = str(save(step))
        yield Saved(step, path)
    yield Finished(step, path, stopped)


def uses_rpgan(cfg: TrainConfig, mcfg: ModelConfig, D) -> bool:
    """Which loss this run trains with; see TrainConfig.loss."""
    if cfg.loss != "auto":
        return cfg.loss == "rpgan"
    return mcfg.family == "r3gan" and hasattr(D, "blocks")  # the projected D has no conv blocks


def _step_if_finite(opt: torch.optim.Optimizer, terms: dict[str, torch.Tensor]) -> bool:
    """Backprop the sum of terms and step, unless a term is NaN/inf (then the weights stay good)."""
    total = sum(terms.values())
    if not math.isfinite(float(total.detach())):
        opt.zero_grad(set_to_none=True)
        return False
    opt.zero_grad(set_to_none=True)
    total.backward()
    opt.step()
    return True


def _diverged(step: int, terms: dict[str, torch.Tensor], path) -> Failed:
    bad = ", ".join(f"{k}={float(v.detach()):.3g}" for k, v in terms.items() if not math.isfinite(float(v.detach())))
    kept = f"the last good weights (step {step - 1}) are saved in {path}" if path else "no checkpoint was written"
    return Failed(step, f"training diverged at step {step} ({bad}); {kept}. Try a lower learning rate.",
                  str(path) if path else None)
