"""One run's live training objects (networks, strategies, optimizers, EMA, its random stream) and
one optimisation step. The trainer drives it; its state moves to and from CPU (TrainState), so a
run can continue in another process, or on another device, exactly where it stopped."""
from __future__ import annotations

import dataclasses

import torch

from . import losses
from .config import ModelConfig, TrainConfig, to_dict
from .models import build_discriminator, build_generator, ema_copy, seeded_init
from .nets import count_params
from .run_state import StepSnapshot, ema_beta, lr_factor, make_optimizers, set_learning_rates, update_ema
from .strategies import RunModels, SourceModels, StepContext, build
from .monitor import FIDELITY_WINDOW, KeepBest, Monitor, Reading
from .train_state import BEST, OPTIMIZERS, RNG, TrainState, load_optimizer, module_tensors, optimizer_tensors
from .checkpoint import load_module_state, split_prefix
from .distributed import World, sync_batchnorm
from .shards import ShardStream


def fixed_latents(n: int, z_dim: int, seed: int) -> torch.Tensor:
    """The run's sample-grid latents: the same seed gives the same grid in every run and model."""
    return torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))


def uses_rpgan(cfg: TrainConfig, mcfg: ModelConfig, D) -> bool:
    """Which loss this run trains with; see TrainConfig.loss."""
    if cfg.loss != "auto":
        return cfg.loss == "rpgan"
    return mcfg.family == "r3gan" and hasattr(D, "blocks")  # the projected D has no conv blocks


class TrainingRun:
    """The networks and optimizers of one run on one device, and its step."""

    def __init__(self, cfg: TrainConfig, mcfg: ModelConfig, images: torch.Tensor | ShardStream,
                 source: SourceModels | None, device: torch.device, world: World = World()):
        """world: the processes sharing each global batch (tgan.distributed); one by default."""
        cfg.validate()
        if cfg.flip is None:  # the source's choice, recorded in this run's config from here on
            cfg = dataclasses.replace(cfg, flip=source.flip if source is not None else True)
        self.cfg, self.mcfg, self.device, self.world = cfg, mcfg, device, world
        self.rows = world.rows(cfg.batch_size)  # this process's rows of every global batch
        if world.size > 1 and (source is not None or cfg.monitor_every):
            raise ValueError("only pretraining runs over several processes; fine-tune (and monitor) in one")
        self.strategies = build(cfg.strategies, cfg.strategy_options, has_source=source is not None)
        # images: (N, 3, R, R) uint8 in memory, or a ShardStream of a corpus too big for it
        self.stream = images if isinstance(images, ShardStream) else None
        if self.stream is not None:
            if self.stream.resolution != mcfg.resolution:
                raise ValueError(f"the shards stream {self.stream.resolution} px images; "
                                 f"this model needs {mcfg.resolution}")
        elif images.ndim != 4 or images.shape[1] != 3 or images.shape[-1] != mcfg.resolution:
            raise ValueError(f"images are {tuple(images.shape)}; this model needs (N, 3, "
                             f"{mcfg.resolution}, {mcfg.resolution}) - load them at {mcfg.resolution} px")
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick the fastest kernels
        self.mixed = cfg.mixed_precision and device.type == "cuda"

        # Build the networks, let every strategy set them up, then optimise what is left trainable.
        with seeded_init(cfg.seed):
            G, D = build_generator(mcfg).to(device), build_discriminator(mcfg).to(device)
            multipliers = {**cfg.lr_multipliers, "G.mapping.": cfg.mapping_lr_mult}
            self.models = RunModels(G, D, source, device, lr_multipliers=multipliers)
            for strategy in self.strategies:
                strategy.setup(self.models)
        run = self.models
        run.G, run.D = sync_batchnorm(run.G, world, device), sync_batchnorm(run.D, world, device)
        world.broadcast([run.G, run.D])
        # NHWC: oneDNN (CPU) and cuDNN convolutions run faster on it; 15% per step at 64 px on CPU.
        # Values are unchanged, and checkpoints are saved contiguous.
        run.G.to(memory_format=torch.channels_last)
        run.D.to(memory_format=torch.channels_last)
        self.G_ema = ema_copy(run.G)
        self.opts = make_optimizers(run, cfg)
        self.d_trainable = [p for p in run.D.parameters() if p.requires_grad]
        self.relativistic = uses_rpgan(cfg, mcfg, run.D)
        # A D on a frozen backbone (the projected D unless joint trains it), hinge loss: one backbone
        # pass of a step's fakes serves both phases (train_step). Fixed once the strategies are set up.
        self.reuse_fake_features = (not self.relativistic and hasattr(run.D, "backbone_frozen")
                                    and run.D.backbone_frozen())
        if not self.reuse_fake_features and any(s.needs_backbone_taps for s in self.strategies):
            raise ValueError("projected_d.feature_matching reads the frozen backbone's features; it does not "
                             "combine with joint (which trains the backbone) or loss=rpgan. Set it to 0")
        self.reals_all = images.to(device) if self.stream is None else None  # (N, 3, R, R) uint8
        self.grid_z = fixed_latents(cfg.grid_size, mcfg.z_dim, cfg.seed).to(device)
        # One random stream per run, on the run's device: latents, data order, flips and augmentation.
        self.rng = torch.Generator(device=device)
        self.step, self.seconds = 0, 0.0
        # The monitor compares samples with the shots; with a single image there is nothing to compare.
        watch = cfg.monitor_every and self.stream is None and len(images) > 1
        self.monitor = Monitor(images, mcfg.z_dim, device, self.G_ema) if watch else None
        self.best: Reading | None = None  # the keep-best step's reading, and its G_ema on the CPU
        self.best_tensors: dict[str, torch.Tensor] = {}
        self.recent_fidelity: list[float] = []  # the last readings' fidelity, oldest first
        self.keep_best = KeepBest()
        self.reseed()
        self.undo = StepSnapshot([run.G, run.D], self.opts, averages=[self.G_ema])

    def reseed(self) -> None:
        """The stream for a run saved without one (older files): depends on (seed, step) only."""
        self.rng.manual_seed(self.cfg.seed * 1_000_003 + self.step)

    def checkpoint(self) -> None:
        """Remember where the run is (in place, no allocation after the first time), for rollback()."""
        self.undo.take()
        self._good = (self.step, self.seconds, self.rng.get_state())

    def rollback(self) -> None:
        """Back to the last checkpoint(): weights, moments, EMA, step and random stream."""
        self.undo.restore()
        self.step, self.seconds, rng = self._good
        self.rng.set_state(rng)

    def params(self) -> dict[str, int]:
        return {"G": count_params(self.models.G), "D": count_params(self.models.D)}

    # -- state
    def state(self) -> TrainState:
        """CPU copies of everything (the live run can keep training)."""
        run, tensors = self.models, {}
        for prefix, module in (("G_ema", self.G_ema), ("G", run.G), ("D", run.D)):
            tensors.update(module_tensors(prefix, module))
        for prefix, opt in zip(OPTIMIZERS, self.opts):
            tensors.update(optimizer_tensors(prefix, opt))
        tensors[RNG] = self.rng.get_state().clone()
        tensors.update(self.best_tensors)
        return TrainState(to_dict(self.mcfg), to_dict(self.cfg), tensors, self.step, self.seconds,
                          run.source.name if run.source else None,
                          "conv" if hasattr(run.D, "blocks") else "projected",
                          vars(self.best).copy() if self.best is not None else None, self.world.size,
                          list(self.recent_fidelity), self.keep_best.start, self.keep_best.floor)

    def load(self, state: TrainState, label: str = "the saved run") -> None:
        run = self.models
        for prefix, module in (("G_ema", self.G_ema), ("G", run.G), ("D", run.D)):
            load_module_state(module, split_prefix(state.tensors, prefix), f"{label} [{prefix}]")
        for prefix, opt in zip(OPTIMIZERS, self.opts):
            load_optimizer(opt, state.tensors, prefix)
        self.step, self.seconds = state.step, state.seconds
        if state.best is not None:
            self.best = Reading(**state.best)
            self.best_tensors = {k: v for k, v in state.tensors.items() if k.startswith(BEST)}
        self.recent_fidelity = list(state.recent_fidelity)
        floor = state.fidelity_floor
        if floor is None and self.best is not None:  # saved before KeepBest remembered its floor
            floor = self.best.smoothed_fidelity  # the kept step's fidelity stands in
        self.keep_best = KeepBest(state.fidelity_start, floor)
        if RNG in state.tensors:
            self.rng.set_state(state.tensors[RNG])
        else:
            self.reseed()

    # -- the monitor
    def observe(self) -> Reading:
        """Read the monitor now; with keep_best, keep G_ema if this step is the best so far."""
        reading = self.monitor.read(self.G_ema, self.step, self.recent_fidelity)
        self.recent_fidelity = [*self.recent_fidelity, reading.fidelity][-(FIDELITY_WINDOW - 1):]
        if self.cfg.keep_best and self.keep_best.keeps(reading):
            self.best, self.best_tensors = reading, module_tensors(BEST + "G_ema", self.G_ema)
        return reading

    # -- sampling
    @torch.no_grad()
    def grid(self) -> torch.Tensor:
        return self.G_ema(self.grid_z).float().clamp(-1, 1).cpu()  # (N, 3, R, R)

    # -- one step
    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        for strategy in self.strategies:
            x = strategy.augment(x, self.rng, self.rows)
        return x

    def _real_batch(self) -> torch.Tensor:
        """This process's rows (b, 3, R, R) in [-1, 1] of a global batch of B random images."""
        B, dev, rows = self.cfg.batch_size, self.device, self.rows
        if self.stream is not None:  # this rank's own shards, in its own order
            x = self.stream.take(rows.size).to(dev).float() / 127.5 - 1.0
        else:
            idx = rows.take(torch.randint(len(self.reals_all), (B,), generator=self.rng, device=dev))  # (b,)
            x = self.reals_all[idx].float() / 127.5 - 1.0
        if self.cfg.flip:
            flip = rows.take(torch.rand(B, generator=self.rng, device=dev)) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
        return x

    def _set_d_trainable(self, on: bool) -> None:
        for p in self.d_trainable:
            p.requires_grad_(on)

    def train_step(self) -> dict[str, torch.Tensor]:
        """One D update and one G update. Returns every loss term, detached, on the device, without
        reading it back (no host sync); the caller checks them for NaN every few steps."""
        cfg, run, step = self.cfg, self.models, self.step + 1
        set_learning_rates(self.opts, lr_factor(cfg, step))
        autocast = torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.mixed)
        # One G forward per step, as in DCGAN: D trains on the detached fakes, then G's loss
        # backpropagates through the same fakes into the just-updated D. This halves G's cost.
        z = self.rows.take(torch.randn(cfg.batch_size, self.mcfg.z_dim, generator=self.rng, device=self.device))
        with autocast:
            fake, feats = run.G.synthesis(run.G.mapping(z), return_features=True)

        # Update D on (augmented) reals and fakes, plus the strategies' D terms.
        fake_for_d = fake.detach()  # D's loss must not reach into G
        regularise = self.relativistic and cfg.r1_gamma > 0 and step % cfg.reg_every == 0
        # A D on a frozen backbone gives the same features of this step's augmented fakes in both
        # phases: one backbone pass, recorded with G's graph, serves the D phase (detached) and the
        # G phase. It saves a third of the backbone's forward passes.
        fake_feats = real_feats = None
        with autocast:
            reals = self._augment(self._real_batch()).requires_grad_(regularise)
            if self.reuse_fake_features:
                real_feats = run.D.features(reals)  # kept for the G phase (feature matching)
                logits_real = run.D.score(real_feats)
                fake_feats = run.D.features(self._augment(fake))  # taps (B, C_i, h_i, w_i) [+ the image]
                logits_fake = run.D.score([f.detach() for f in fake_feats])
            else:
                logits_real = run.D(reals)
                fakes = self._augment(fake_for_d).requires_grad_(regularise)
                logits_fake = run.D(fakes)
            if self.relativistic:
                d_terms = {"D/rp": losses.d_rpgan(logits_real, logits_fake)}
                if regularise:  # lazy R1/R2: every reg_every steps, weighted by reg_every
                    weight = cfg.r1_gamma / 2 * cfg.reg_every
                    d_terms["D/r1"] = weight * losses.zero_centred_penalty(logits_real, reals)
                    d_terms["D/r2"] = weight * losses.zero_centred_penalty(logits_fake, fakes)
            else:
                d_real, d_fake = losses.d_hinge(logits_real, logits_fake)
                d_terms = {"D/real": d_real, "D/fake": d_fake}
            for strategy in self.strategies:
                d_terms.update(strategy.d_terms(run, StepContext(step, z, fake_for_d)))
        _backward_and_step(self.opts[1], d_terms, self.world)

        # Update G: fool D, plus the strategies' G terms (penalties, correspondence). D's weights
        # need no gradient here: switching them off saves D's weight-gradient kernels.
        self._set_d_trainable(False)
        try:
            with autocast:
                if self.relativistic:  # the pairing needs the reals' scores under the updated D
                    with torch.no_grad():
                        logits_real = run.D(reals.detach())
                    g_terms = {"G/adv": losses.g_rpgan(logits_real, run.D(self._augment(fake)))}
                elif fake_feats is not None:
                    g_terms = {"G/adv": losses.g_hinge(run.D.score(fake_feats))}
                else:
                    g_terms = {"G/adv": losses.g_hinge(run.D(self._augment(fake)))}
                taps = None if fake_feats is None else (real_feats, fake_feats)
                for strategy in self.strategies:
                    g_terms.update(strategy.g_terms(run, StepContext(step, z, fake, feats, taps)))
            _backward_and_step(self.opts[0], g_terms, self.world)
        finally:
            self._set_d_trainable(True)
        if self.world.is_main:  # only rank 0 keeps (and saves) the average
            update_ema(self.G_ema, run.G, ema_beta(cfg, step * cfg.batch_size))
        self.step = step
        return {k: v.detach() for k, v in {**d_terms, **g_terms}.items()}


def _backward_and_step(opt: torch.optim.Optimizer, terms: dict[str, torch.Tensor], world: World) -> None:
    opt.zero_grad(set_to_none=True)
    sum(terms.values()).backward()
    world.average_gradients([p for group in opt.param_groups for p in group["params"]])
    opt.step()
