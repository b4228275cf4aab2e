"""The training loop through its real code path on tiny data: events, resume, stop, NaN, seeds."""
from __future__ import annotations

import math
import threading

import torch

from tgan import Failed, Finished, Samples, Saved, Started, Step, TrainConfig, load_images, load_model, load_source, train
from tgan.checkpoint import read_tensors, split_prefix
from tgan.config import ModelConfig, from_dict
from tgan.training_run import TrainingRun


def _images(image_dir):
    return load_images(image_dir, 32).images


def _cfg(**kw):
    base = dict(steps=4, batch_size=4, sample_every=2, save_every=2, strategies=["transfer_d"])
    base.update(kw)
    return TrainConfig(**base)


def test_events_in_order_and_files_written(image_dir, tiny_source, tmp_path):
    events = list(train(_cfg(), _images(image_dir), tmp_path / "run", source=load_source(tiny_source)))
    kinds = [type(e) for e in events]
    assert kinds[0] is Started and kinds[1] is Samples and kinds[-1] is Finished
    steps = [e for e in events if isinstance(e, Step)]
    assert [s.step for s in steps] == [1, 2, 3, 4]
    assert all(math.isfinite(v) for s in steps for v in s.losses.values())
    assert {"D/real", "D/fake", "G/adv"} <= set(steps[0].losses)
    samples = [e for e in events if isinstance(e, Samples)]
    assert [s.step for s in samples] == [0, 2, 4] and samples[0].images.shape == (16, 3, 32, 32)
    assert any(isinstance(e, Saved) for e in events)
    assert (tmp_path / "run" / "config.json").is_file() and (tmp_path / "run" / "model.safetensors").is_file()
    model = load_model(tmp_path / "run")
    assert model.G_ema(torch.randn(2, model.model_config.z_dim)).shape == (2, 3, 32, 32)


def test_same_seed_same_losses(image_dir, tiny_source):
    source = load_source(tiny_source)
    runs = [[e.losses for e in train(_cfg(save_every=0), _images(image_dir), None, source=source)
             if isinstance(e, Step)] for _ in range(2)]
    assert runs[0] == runs[1]


def test_resume_continues_step_count(image_dir, tiny_source, tmp_path):
    source, out = load_source(tiny_source), tmp_path / "run"
    list(train(_cfg(steps=3), _images(image_dir), out, source=source))
    events = list(train(_cfg(steps=6), _images(image_dir), out, source=source, resume=True))
    assert events[0].start_step == 3
    assert [e.step for e in events if isinstance(e, Step)] == [4, 5, 6]
    assert events[-1].step == 6 and not events[-1].stopped


def test_stop_yields_a_usable_model(image_dir, tiny_source, tmp_path):
    stop = threading.Event()
    events = []
    for ev in train(_cfg(steps=50), _images(image_dir), tmp_path / "run", source=load_source(tiny_source), stop=stop):
        events.append(ev)
        if isinstance(ev, Step) and ev.step == 2:
            stop.set()
    assert isinstance(events[-1], Finished) and events[-1].stopped and events[-1].step == 2
    assert load_model(events[-1].path).G_ema is not None


def test_nan_stops_with_message_and_keeps_last_good_weights(image_dir, tiny_source, tmp_path):
    cfg = _cfg(strategies=["transfer_d", "l2sp"], strategy_options={"l2sp": {"lambda_g": "inf"}})
    events = list(train(cfg, _images(image_dir), tmp_path / "run", source=load_source(tiny_source)))
    assert isinstance(events[-1], Failed) and "diverged" in events[-1].message and "G/l2sp" in events[-1].message
    saved = split_prefix(read_tensors(tmp_path / "run"), "G")
    assert all(torch.isfinite(t).all() for t in saved.values())


def test_bad_options_fail_cleanly(image_dir, tiny_source):
    events = list(train(_cfg(steps=0), _images(image_dir), None, source=load_source(tiny_source)))
    assert isinstance(events[-1], Failed) and "steps" in events[-1].message
    events = list(train(_cfg(strategies=["l2sp"]), _images(image_dir), None, source=load_source(tiny_source)))
    assert isinstance(events[-1], Failed) and "exactly one" in events[-1].message
    wrong_size = torch.zeros(4, 3, 64, 64, dtype=torch.uint8)
    events = list(train(_cfg(), wrong_size, None, source=load_source(tiny_source)))
    assert isinstance(events[-1], Failed) and "32" in events[-1].message
    events = list(train(_cfg(lr_schedule="cosine"), _images(image_dir), None, source=load_source(tiny_source)))
    assert isinstance(events[-1], Failed) and "lr_schedule" in events[-1].message
    events = list(train(_cfg(lr_multipliers={"to_rgb.": 2.0}), _images(image_dir), None,
                        source=load_source(tiny_source)))
    assert isinstance(events[-1], Failed) and "must name parameters of G or D" in events[-1].message


def test_layer_multipliers_scale_the_named_layers_and_zero_freezes_them(image_dir, tiny_source):
    cfg = _cfg(lr_g=2e-4, lr_multipliers={"G.to_rgb.": 0.0, "G.blocks.0.": 3.0})
    source = load_source(tiny_source)
    run = TrainingRun(cfg, from_dict(ModelConfig, source.model_config), _images(image_dir), source,
                      torch.device("cpu"))
    rate = {id(p): g["lr"] for g in run.opts[0].param_groups for p in g["params"]}
    G = run.models.G
    assert rate[id(G.to_rgb.weight)] == 0.0 and math.isclose(rate[id(G.blocks[0].conv.weight)], 6e-4)
    assert rate[id(G.blocks[1].conv.weight)] == 2e-4
    before = {name: p.detach().clone() for name, p in G.named_parameters()}
    for _ in range(2):
        run.train_step()
    moved = {name for name, p in G.named_parameters() if not torch.equal(p, before[name])}
    assert not any(name.startswith("to_rgb.") for name in moved)  # a zero rate freezes the layer
    assert "blocks.0.conv.weight" in moved and "blocks.1.conv.weight" in moved


def test_linear_schedule_lowers_both_rates_step_by_step(image_dir, tiny_source):
    cfg = _cfg(steps=4, lr_g=4e-4, lr_d=2e-4, lr_schedule="linear", mapping_lr_mult=0.5)
    source = load_source(tiny_source)
    run = TrainingRun(cfg, from_dict(ModelConfig, source.model_config), _images(image_dir), source,
                      torch.device("cpu"))
    seen = []
    for _ in range(4):
        run.train_step()
        seen.append([[g["lr"] for g in opt.param_groups] for opt in run.opts])
    for step, (g_rates, d_rates) in enumerate(seen, start=1):
        factor = (4 - step + 1) / 4  # 1 at the first step, 1/steps at the last
        assert d_rates == [2e-4 * factor] * len(d_rates)
        assert max(g_rates) == 4e-4 * factor  # G's groups keep their multipliers' ratio


def _ema_lag(tmp_path, image_dir, tiny_source, **kw) -> float:
    """How far the saved G_ema sits from G after a 2-step run (sum of parameter distances)."""
    list(train(_cfg(steps=2, save_every=0, **kw), _images(image_dir), tmp_path, source=load_source(tiny_source)))
    tensors = read_tensors(tmp_path)
    G, G_ema = split_prefix(tensors, "G"), split_prefix(tensors, "G_ema")
    return sum(float((G[k].float() - G_ema[k].float()).norm()) for k in G if G[k].is_floating_point())


def test_ema_ramp_up_lets_a_short_run_average_forget_its_start(image_dir, tiny_source, tmp_path):
    # 2 steps x 4 images: a 2,000-image half-life keeps G_ema at the source; a ramp-up (half-life
    # <= 5% of the 8 images seen) makes it follow G almost exactly.
    fixed = _ema_lag(tmp_path / "fixed", image_dir, tiny_source)
    ramped = _ema_lag(tmp_path / "ramped", image_dir, tiny_source, ema_rampup=0.05)
    assert fixed > 0 and ramped < 0.01 * fixed


def test_a_fine_tune_flips_its_images_as_its_source_was_pretrained(image_dir, tiny_source, tmp_path):
    """A glyph source is pretrained without x-flips (a mirrored character is not one): its fine-tunes
    do not flip the shots either, unless told to; the run's config records what it did."""
    import json
    import shutil

    no_flip = tmp_path / "glyphs"
    shutil.copytree(tiny_source, no_flip)
    config = json.loads((no_flip / "config.json").read_text())
    config["train"]["flip"] = False
    (no_flip / "config.json").write_text(json.dumps(config))
    images = _images(image_dir)
    as_source = TrainingRun(_cfg(), from_dict(ModelConfig, config["model"]), images, load_source(no_flip),
                            torch.device("cpu"))
    assert load_source(tiny_source).flip and not load_source(no_flip).flip
    assert as_source.cfg.flip is False
    # Every real drawn is one of the shots as it is; with flips, some come mirrored.
    shots = {tuple(img.flatten().tolist()) for img in images}  # images: (N, 3, R, R) uint8

    def all_unmirrored(run: TrainingRun) -> bool:
        drawn = torch.cat([run._real_batch() for _ in range(8)])  # (32, 3, R, R) in [-1, 1]
        return all(tuple(x.flatten().tolist()) in shots for x in ((drawn + 1) * 127.5).round().to(torch.uint8))

    assert all_unmirrored(as_source)
    told = TrainingRun(_cfg(flip=True), from_dict(ModelConfig, config["model"]), images, load_source(no_flip),
                       torch.device("cpu"))
    assert not all_unmirrored(told)
    list(train(_cfg(steps=2), images, tmp_path / "run", source=load_source(no_flip)))
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["flip"] is False
