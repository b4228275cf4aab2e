"""Every strategy and every preset fine-tunes for a few steps through the real CLI."""
from __future__ import annotations

import json
import math

import pytest
import torch

from tgan import PRESETS, Step, TrainConfig, load_images, load_source, train
from tgan.checkpoint import read_tensors, split_prefix
from tgan.cli import main
from tgan.losses import pairwise_similarity_kl
from tgan.models import load_model
from tgan.strategies.multitask import MultiTask

COMBOS = {  # each strategy with the initialisation it needs
    "scratch": "scratch",
    "transfer_g": "transfer_g",
    "transfer_d": "transfer_d",
    "projected_d": "transfer_g,projected_d",
    "freeze_d": "transfer_d,freeze_d",
    "joint": "transfer_d,joint",
    "l2sp": "transfer_d,l2sp",
    "ewc": "transfer_d,ewc",
    "multitask": "transfer_d,multitask",
    "diffaug": "scratch,diffaug",
}


@pytest.mark.parametrize("strategy", list(COMBOS.values()) + list(PRESETS))
def test_finetune_cli_runs(strategy, image_dir, tiny_source, tmp_path):
    out = tmp_path / "run"
    rc = main(["finetune", "--source", str(tiny_source), "--data", str(image_dir), "--out", str(out),
               "--shots", "6", "--strategy", strategy, "--steps", "3", "--batch", "4", "--quiet"])
    assert rc == 0
    config = json.loads((out / "config.json").read_text())
    assert config["step"] == 3 and config["source"] == "tiny"
    assert (out / "model.safetensors").is_file()


def _steps(strategies, image_dir, tiny_source, options=None, steps=5):
    cfg = TrainConfig(steps=steps, batch_size=4, strategies=strategies, save_every=0, sample_every=100,
                      strategy_options=options or {})
    events = list(train(cfg, load_images(image_dir, 32).images, None, source=load_source(tiny_source)))
    steps_ = [e for e in events if isinstance(e, Step)]
    assert len(steps_) == steps, events[-1]
    return steps_


@pytest.mark.parametrize("term,strategy", [("G/l2sp", "l2sp"), ("D/l2sp", "l2sp"), ("G/ewc", "ewc")])
def test_penalties_start_at_zero_and_grow(term, strategy, image_dir, tiny_source):
    steps = _steps(["transfer_d", strategy], image_dir, tiny_source)
    assert steps[0].losses[term] == 0.0
    assert steps[-1].losses[term] > 0.0 and math.isfinite(steps[-1].losses[term])


def test_cdc_term_present_and_finite(image_dir, tiny_source):
    steps = _steps(["transfer_d", "multitask"], image_dir, tiny_source)
    assert all(math.isfinite(s.losses["G/cdc"]) and s.losses["G/cdc"] >= 0 for s in steps)


def test_cdc_at_its_default_weight_keeps_the_sources_pairwise_similarities(image_dir, tiny_source, tmp_path):
    """At its default weight (the paper's) the correspondence loss holds the adapted G's pairwise
    sample similarities near the source G's: closer than the same run without it. (At the weight
    of 1 tgan used before, the term was a thousandth of the adversarial loss.)"""
    source = load_source(tiny_source).G
    z = torch.randn(16, source.cfg.z_dim, generator=torch.Generator().manual_seed(0))

    def drift(name: str, weight: float) -> float:
        out = tmp_path / name
        main(["finetune", "--source", str(tiny_source), "--data", str(image_dir), "--out", str(out),
              "--strategy", "transfer_d,multitask", "--option", f"multitask.lambda_cdc={weight}",
              "--steps", "16", "--batch", "8", "--lr", "2e-3", "--quiet"])
        G = load_model(out).G.eval()  # the trained copy; G_ema has hardly moved in 16 steps
        with torch.no_grad():
            _, src = source.synthesis(source.mapping(z), return_features=True)
            _, tgt = G.synthesis(G.mapping(z), return_features=True)
        return sum(pairwise_similarity_kl(s.flatten(1), t.flatten(1)) for s, t in zip(src, tgt)).item()

    # Measured: 0.43-0.45x the drift without it (at weight 1: 1.04x, no hold at all).
    assert drift("with", MultiTask.lambda_cdc) < 0.7 * drift("without", 0.0)


def test_freeze_d_keeps_lower_blocks_fixed(image_dir, tiny_source, tmp_path):
    out = tmp_path / "run"
    main(["finetune", "--source", str(tiny_source), "--data", str(image_dir), "--out", str(out),
          "--strategy", "transfer_d,freeze_d", "--option", "freeze_d.frozen_blocks=2",
          "--steps", "4", "--batch", "4", "--quiet"])
    before = split_prefix(read_tensors(tiny_source), "D")
    after = split_prefix(read_tensors(out), "D")
    frozen = [k for k in before if k.startswith(("blocks.0.", "blocks.1.")) and k.endswith("weight")]
    moving = [k for k in before if k.startswith("head.") and k.endswith("weight")]
    assert frozen and moving
    # The source is stored in fp32 here; compare at that precision.
    assert all(torch.equal(before[k].float(), after[k].float()) for k in frozen)
    assert any(not torch.equal(before[k].float(), after[k].float()) for k in moving)


@pytest.mark.parametrize("batch_stats, moves", [("source", False), ("batch", True)])
def test_transfer_d_batch_stats(batch_stats, moves, image_dir, tiny_source, tmp_path):
    """batch_stats=source keeps the source D's BatchNorm statistics fixed while D trains (why:
    benchmarks/README.md, "Why TransferGAN and FreezeD collapsed"); batch re-estimates them."""
    out = tmp_path / "run"
    main(["finetune", "--source", str(tiny_source), "--data", str(image_dir), "--out", str(out),
          "--strategy", "TransferGAN", "--option", f"transfer_d.batch_stats={batch_stats}",
          "--steps", "3", "--batch", "4", "--quiet"])
    before = split_prefix(read_tensors(tiny_source), "D")
    after = split_prefix(read_tensors(out), "D")
    stats = [k for k in before if k.endswith("running_mean")]
    weights = [k for k in before if k.endswith("weight")]
    assert stats, "the tiny source's D must have BatchNorm for this test"
    assert any(not torch.equal(before[k].float(), after[k].float()) for k in weights)  # D trained
    assert any(not torch.equal(before[k].float(), after[k].float()) for k in stats) is moves


def test_transfer_d_rejects_unknown_batch_stats(image_dir, tiny_source, tmp_path, capsys):
    code = main(["finetune", "--source", str(tiny_source), "--data", str(image_dir), "--out", str(tmp_path / "r"),
                 "--strategy", "TransferGAN", "--option", "transfer_d.batch_stats=running",
                 "--steps", "1", "--batch", "4", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "batch_stats must be one of source, batch, got 'running'" in err


def test_diffaug_policy_is_any_choice_of_its_parts_and_a_bad_one_fails_before_training(
        image_dir, tiny_source, tmp_path, capsys):
    from tgan.augment import parse_policy

    assert parse_policy("cutout, translation") == ["translation", "cutout"]  # DiffAugment's order
    assert parse_policy("none") == []
    code = main(["finetune", "--source", str(tiny_source), "--data", str(image_dir), "--out", str(tmp_path / "r"),
                 "--strategy", "FreezeD + DiffAug", "--option", "diffaug.policy=translation,blur",
                 "--steps", "1", "--batch", "4", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "unknown augmentation policy 'translation,blur'" in err
    assert "smaller batch" not in err and not (tmp_path / "r").exists()
    code = main(["finetune", "--source", str(tiny_source), "--data", str(image_dir), "--out", str(tmp_path / "ok"),
                 "--strategy", "FreezeD + DiffAug", "--option", "diffaug.policy=translation,cutout",
                 "--steps", "1", "--batch", "4", "--quiet"])
    assert code == 0, capsys.readouterr().err




def test_a_preset_trains_with_its_own_options_and_option_overrides_them(image_dir, tiny_source, tmp_path):
    """recommended's DiffAugment runs without colour jitter (PRESET_OPTIONS); --option lays a field
    over it; a list of strategies gets the strategies' own defaults."""
    from tgan.strategies import preset_options, with_options

    assert preset_options("recommended") == {"diffaug": {"policy": "translation,cutout"}}
    assert preset_options("FreezeD") == {} and preset_options("transfer_d,diffaug") == {}
    assert with_options({"diffaug": {"policy": "a"}}, {"diffaug": {"policy": "b"}, "l2sp": {"lambda_g": 2}}) == \
        {"diffaug": {"policy": "b"}, "l2sp": {"lambda_g": 2}}

    def trained_options(out, *args):
        code = main(["finetune", "--source", str(tiny_source), "--data", str(image_dir), "--out", str(out),
                     *args, "--steps", "1", "--batch", "4", "--quiet"])
        assert code == 0
        return json.loads((out / "config.json").read_text())["train"]["strategy_options"]

    assert trained_options(tmp_path / "rec", "--strategy", "recommended")["diffaug"] == {"policy": "translation,cutout"}
    told = trained_options(tmp_path / "told", "--strategy", "recommended", "--option", "diffaug.policy=color,translation")
    assert told["diffaug"] == {"policy": "color,translation"}
    assert trained_options(tmp_path / "list", "--strategy", "transfer_d,diffaug") == {}

def test_projected_d_random_mixing_trains_and_a_bad_choice_fails_before_training(
        image_dir, tiny_source, tmp_path, capsys):
    def finetune(mixing, out):
        return main(["finetune", "--source", str(tiny_source), "--data", str(image_dir), "--out", str(out),
                     "--strategy", "recommended", "--option", f"projected_d.mixing={mixing}",
                     "--steps", "2", "--batch", "4", "--quiet"])

    assert finetune("ccm", tmp_path / "bad") == 2
    assert "projected_d.mixing must be 'none' or 'random', not 'ccm'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    assert finetune("random", tmp_path / "ok") == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "ok" / "config.json").read_text())["step"] == 2


def test_projected_d_pixel_d_is_the_source_d_under_transfer_d_and_trains(
        image_dir, tiny_source, tmp_path, capsys):
    from tgan.strategies import RunModels, build
    from tgan.models import fresh_models
    from tgan.config import ModelConfig

    source = load_source(tiny_source)
    for init, from_source in (("transfer_d", True), ("transfer_g", False)):
        G, D = fresh_models(ModelConfig(**source.model_config), 123, "cpu")
        run = RunModels(G, D, source, torch.device("cpu"))
        for s in build([init, "projected_d"], {"projected_d": {"pixel_d": "conv"}}):
            s.setup(run)
        same = [torch.equal(a, b) for a, b in zip(run.D.pixel_d.state_dict().values(),
                                                 source.D.state_dict().values())]
        assert all(same) is from_source  # transfer_d: the source's D; otherwise a fresh one
        norms = [m for m in run.D.pixel_d.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        assert norms and not any(m.training for m in norms)  # fixed statistics, never the shots' batch
    code = main(["finetune", "--source", str(tiny_source), "--data", str(image_dir), "--out", str(tmp_path / "bad"),
                 "--strategy", "transfer_d,projected_d", "--option", "projected_d.pixel_d=yes",
                 "--steps", "2", "--batch", "4", "--quiet"])
    assert code == 2 and "projected_d.pixel_d must be 'none' or 'conv', not 'yes'" in capsys.readouterr().err
    out = tmp_path / "ok"
    code = main(["finetune", "--source", str(tiny_source), "--data", str(image_dir), "--out", str(out),
                 "--strategy", "transfer_d,projected_d,diffaug", "--option", "projected_d.pixel_d=conv",
                 "--steps", "2", "--batch", "4", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert json.loads((out / "config.json").read_text())["step"] == 2


def test_projected_d_backbone_stays_frozen_and_joint_unfreezes_it(image_dir, tiny_source):
    from tgan.strategies import RunModels, build
    from tgan.models import fresh_models
    from tgan.config import ModelConfig

    source = load_source(tiny_source)
    for names, expect_trainable in ((["transfer_g", "projected_d"], False),
                                    (["transfer_g", "projected_d", "joint"], True)):
        G, D = fresh_models(ModelConfig(**source.model_config), 0, "cpu")
        run = RunModels(G, D, source, torch.device("cpu"))
        for s in build(names):
            s.setup(run)
        assert any(p.requires_grad for p in run.D.backbone.parameters()) is expect_trainable


def test_transfer_copies_source_weights(tiny_source):
    from tgan.strategies import RunModels, build
    from tgan.models import fresh_models
    from tgan.config import ModelConfig

    source = load_source(tiny_source)
    G, D = fresh_models(ModelConfig(**source.model_config), 123, "cpu")
    run = RunModels(G, D, source, torch.device("cpu"))
    for s in build(["transfer_d"]):
        s.setup(run)
    assert all(torch.equal(a, b) for a, b in zip(run.G.state_dict().values(), source.G.state_dict().values()))
    assert all(torch.equal(a, b) for a, b in zip(run.D.state_dict().values(), source.D.state_dict().values()))


def test_strategies_listing(capsys):
    assert main(["strategies"]) == 0
    out = capsys.readouterr().out
    for name in list(COMBOS) + list(PRESETS):
        assert name in out


@pytest.mark.parametrize("name", list(COMBOS))
def test_each_strategy_by_its_own_name(name, image_dir, tiny_source, tmp_path, capsys):
    """A user who names one method means that method on the base its paper uses."""
    out = tmp_path / "run"
    rc = main(["finetune", "--source", str(tiny_source), "--data", str(image_dir), "--out", str(out),
               "--shots", "6", "--strategy", name, "--steps", "2", "--batch", "4", "--quiet"])
    assert rc == 0
    strategies = json.loads((out / "config.json").read_text())["train"]["strategies"]
    assert name in strategies and strategies[0] in ("scratch", "transfer_g", "transfer_d")
    err = capsys.readouterr().err
    if name in ("scratch", "transfer_g", "transfer_d") or name in PRESETS:  # "joint" is also a preset
        assert "added" not in err
    else:
        assert f"--strategy {name}: added {strategies[0]} as the base for {name}" in err


def test_projected_d_step_runs_the_frozen_backbone_twice_and_joint_three_times(image_dir, tiny_source):
    """A frozen backbone's features of the augmented fakes serve both phases of a step (reals,
    fakes: two passes); once joint trains the backbone, the G phase must see the updated one."""
    from tgan.config import ModelConfig
    from tgan.training_run import TrainingRun

    source = load_source(tiny_source)
    images = load_images(image_dir, 32).images
    for names, passes in ((["transfer_g", "projected_d", "diffaug"], 2),
                          (["transfer_g", "projected_d", "joint", "diffaug"], 3)):
        cfg = TrainConfig(steps=2, batch_size=4, strategies=names, sample_every=100, save_every=0)
        run = TrainingRun(cfg, ModelConfig(**source.model_config), images, source, torch.device("cpu"))
        calls = []
        run.models.D.backbone.register_forward_hook(lambda *_: calls.append(1))
        g_before = [p.detach().clone() for p in run.models.G.parameters()]
        terms = run.train_step()
        assert len(calls) == passes, names
        assert all(torch.isfinite(v) for v in terms.values())
        assert any(not torch.equal(a, b) for a, b in zip(g_before, run.models.G.parameters()))


def test_projected_d_stem_tap_trains_and_refuses_random_mixing(image_dir, tiny_source, tmp_path, capsys):
    def finetune(options, out):
        return main(["finetune", "--source", str(tiny_source), "--data", str(image_dir), "--out", str(out),
                     "--strategy", "recommended", *[a for o in options for a in ("--option", o)],
                     "--steps", "2", "--batch", "4", "--quiet"])

    assert finetune(["projected_d.stem_tap=on", "projected_d.mixing=random"], tmp_path / "bad") == 2
    assert "stem_tap=on does not combine with mixing=random" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    assert finetune(["projected_d.stem_tap=on"], tmp_path / "ok") == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "ok" / "config.json").read_text())["step"] == 2


def test_feature_matching_adds_a_g_term_on_the_shared_taps_and_refuses_joint(image_dir, tiny_source):
    """projected_d.feature_matching reads the backbone taps of the step's one pass (StepContext.d_taps);
    joint trains the backbone, so there are no shared taps and the run refuses at once."""
    from tgan.config import ModelConfig
    from tgan.strategies.projected_d import _mean_feature_gap
    from tgan.training_run import TrainingRun

    x = torch.rand(4, 8, 3, 3)
    assert float(_mean_feature_gap(x, x)) == 0.0
    gap = float(_mean_feature_gap(x, x + 0.5))
    assert gap > 0 and math.isclose(float(_mean_feature_gap(3 * x, 3 * x + 1.5)), gap, rel_tol=1e-4)  # scale-free

    source = load_source(tiny_source)
    images = load_images(image_dir, 32).images
    options = {"projected_d": {"feature_matching": 2.0}}
    cfg = TrainConfig(steps=2, batch_size=4, strategies=["transfer_g", "projected_d", "diffaug"],
                      strategy_options=options, sample_every=100, save_every=0)
    run = TrainingRun(cfg, ModelConfig(**source.model_config), images, source, torch.device("cpu"))
    terms = run.train_step()
    assert float(terms["G/fm"]) > 0 and math.isfinite(float(terms["G/fm"]))
    plain = TrainConfig(steps=2, batch_size=4, strategies=["transfer_g", "projected_d", "diffaug"],
                        sample_every=100, save_every=0)
    assert "G/fm" not in TrainingRun(plain, ModelConfig(**source.model_config), images, source,
                                     torch.device("cpu")).train_step()
    joint = TrainConfig(steps=2, batch_size=4, strategies=["transfer_g", "projected_d", "joint", "diffaug"],
                        strategy_options=options, sample_every=100, save_every=0)
    with pytest.raises(ValueError, match="feature_matching .* does not combine with joint"):
        TrainingRun(joint, ModelConfig(**source.model_config), images, source, torch.device("cpu"))
