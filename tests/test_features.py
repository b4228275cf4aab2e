"""Tests for tgan.features: the frozen EfficientNet-Lite0 projected discriminator."""
import pytest
import torch

from tgan import features
from tgan.features import EfficientNetTaps, ProjectedDiscriminator, is_available

pytestmark = pytest.mark.skipif(not is_available(), reason="EfficientNet-Lite0 packages missing")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="module")
def d64():
    return ProjectedDiscriminator(64)


def _images(b, res):
    return torch.rand(b, 3, res, res) * 2 - 1  # (B, 3, H, W) in [-1, 1]


@pytest.mark.parametrize("res", [32, 64, 128])
def test_builds_and_outputs_finite_batch_logits(res):
    D = ProjectedDiscriminator(res, head_width=32)
    feats = []  # catch the taps during D's own forward instead of paying a second pass
    hook = D.backbone.register_forward_hook(lambda mod, inp, out: feats.extend(out))
    out = D(_images(3, res))
    hook.remove()
    assert [f.shape[1] for f in feats] == D.backbone.channels
    assert [f.shape[-1] for f in feats] == D.backbone.tap_sizes()
    assert min(f.shape[-1] for f in feats) >= 2  # deepest tap keeps spatial layout
    assert out.shape == (3,)
    assert torch.isfinite(out).all()


def test_backbone_frozen_and_unchanged_after_head_step(d64):
    D = d64
    D.train()
    assert all(not p.requires_grad for p in D.backbone.parameters())
    trainable = [p for p in D.parameters() if p.requires_grad]
    names = [n for n, p in D.named_parameters() if p.requires_grad]
    assert names and not any(n.startswith(D.pretrained_prefix) for n in names)
    backbone_before = {k: v.clone() for k, v in D.backbone.state_dict().items()}
    heads_before = [p.detach().clone() for p in trainable]

    opt = torch.optim.Adam(trainable, lr=1e-2)
    real, fake = _images(4, 64), _images(4, 64)
    loss = torch.relu(1 - D(real)).mean() + torch.relu(1 + D(fake)).mean()  # hinge D loss
    opt.zero_grad()
    loss.backward()
    opt.step()

    for k, v in D.backbone.state_dict().items():
        assert torch.equal(v, backbone_before[k]), k  # weights and BN running stats untouched
    assert any(not torch.equal(p, q) for p, q in zip(trainable, heads_before))


def test_gradient_reaches_input_image(d64):
    x = _images(2, 64).requires_grad_()
    d64(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in d64.backbone.parameters())


def test_gradient_reaches_upsampled_small_input():
    D = ProjectedDiscriminator(32, head_width=16)
    x = _images(2, 32).requires_grad_()
    D(x).sum().backward()
    assert x.grad.shape == x.shape and x.grad.abs().sum() > 0


def _library_taps(net, x):
    """The four tap maps of efficientnet_lite_pytorch's own (unfused) Lite0 on preprocessed x."""
    h, taps = net._swish(net._bn0(net._conv_stem(x))), []
    for i, blk in enumerate(net._blocks):
        h = blk(h)
        if i in features._TAP_ENDS:
            taps.append(h)
    return taps


def test_pretrained_weights_really_loaded(d64):
    """The fused backbone (BatchNorm folded, padding moved into the convs, channels-last) gives the
    library's pretrained Lite0 features, and those differ from a randomly initialised Lite0's."""
    from efficientnet_lite_pytorch import EfficientNet

    bb = d64.backbone
    pretrained = EfficientNet.from_name("efficientnet-lite0", image_size=64)
    pretrained.load_state_dict(features._pretrained_state())
    rand = EfficientNet.from_name("efficientnet-lite0", image_size=64)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 64), torch.linspace(-1, 1, 64), indexing="ij")
    img = torch.stack([xx, yy, (xx * yy)], 0)[None].clamp(-1, 1)  # (1, 3, 64, 64), a smooth image
    batch = torch.cat([img, _images(3, 64)])  # (4, 3, 64, 64)
    with torch.no_grad():
        ours = bb(batch)
        x = bb.preprocess(batch).contiguous()
        want, random = _library_taps(pretrained.eval(), x), _library_taps(rand.eval(), x)
    for o, w, r in zip(ours, want, random):
        assert o.shape == w.shape
        assert torch.allclose(o, w, atol=1e-4 * float(w.abs().max()), rtol=0)
        assert not torch.allclose(o, r, atol=1e-3)
    # copies, not views of the cache: a later in-place change can't leak between models
    raw = features._pretrained_state()["_conv_stem.weight"]
    assert all(p.data_ptr() != raw.data_ptr() for p in bb.parameters())


def test_weight_file_read_once():
    features._pretrained_state()  # make sure it is cached
    before = features._pretrained_state.cache_info()
    EfficientNetTaps(32)
    EfficientNetTaps(64)
    after = features._pretrained_state.cache_info()
    assert after.misses == before.misses and after.hits >= before.hits + 2


def test_train_keeps_backbone_in_eval(d64):
    d64.train()
    assert d64.training and all(h.training for h in d64.heads)
    assert not d64.backbone.training
    assert not any(m.training for m in d64.backbone.modules())
    x = _images(2, 64)
    with torch.no_grad():  # eval BatchNorm: features don't depend on the batch
        a = d64.backbone(x)[-1]
        b = d64.backbone(x[:1])[-1]
    assert torch.allclose(a[:1], b, atol=1e-5)
    d64.eval()
    assert not d64.training


def test_trainable_state_dict_round_trip():
    D1 = ProjectedDiscriminator(32, head_width=16)
    with torch.no_grad():
        for p in D1.heads.parameters():
            p.add_(0.05 * torch.randn_like(p))
    sd = D1.trainable_state_dict()
    assert sd and not any(k.startswith("backbone.") for k in sd)

    D2 = ProjectedDiscriminator(32, head_width=16)
    D2.load_trainable_state_dict(sd)
    D1.eval(), D2.eval()  # eval: spectral norm skips its power iteration, so outputs compare
    x = _images(3, 32)
    with torch.no_grad():
        assert torch.allclose(D1(x), D2(x), atol=1e-6)

    D2.load_trainable_state_dict(D1.state_dict())  # full dicts work too; backbone part ignored

    with pytest.raises(RuntimeError, match="shape mismatch"):
        ProjectedDiscriminator(32, head_width=8).load_trainable_state_dict(sd)
    partial = dict(list(sd.items())[1:])
    with pytest.raises(RuntimeError, match="missing keys"):
        D2.load_trainable_state_dict(partial)
    D2.load_trainable_state_dict(partial, strict=False)
    with pytest.raises(RuntimeError, match="unexpected keys"):
        D2.load_trainable_state_dict({**sd, "heads.9.bogus": torch.zeros(1)})


def test_random_mixing_is_fixed_unsaved_and_differentiable():
    D = ProjectedDiscriminator(32, head_width=16, mixing=True)
    assert not any(n.startswith("mixing.") for n, _ in D.named_parameters())  # nothing there trains
    sd = D.trainable_state_dict()
    assert not any(k.startswith("mixing.") for k in sd)  # drawn again from the fixed seed, not saved
    # the projections are part of the method: every D draws the same ones
    again = ProjectedDiscriminator(32, head_width=16, mixing=True).mixing
    assert all(torch.equal(a, b) for a, b in zip(D.mixing.buffers(), again.buffers()))
    feats = D.backbone(_images(2, 32))
    mixed = D.mixing(feats)
    assert [m.shape[1] for m in mixed] == [64, 128, 256, 512]
    assert [m.shape[-1] for m in mixed] == [f.shape[-1] for f in feats]
    x = _images(2, 32).requires_grad_()
    D(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(RuntimeError, match="head_width, mixing, pixel_d or stem_tap"):  # a D trained with mixing is not this D
        ProjectedDiscriminator(32, head_width=16).load_trainable_state_dict(sd)


def test_pixel_d_gets_its_own_logit_its_own_gradient_and_is_saved():
    from tgan.config import ModelConfig
    from tgan.models import build_discriminator

    pixel = build_discriminator(ModelConfig(resolution=32)).eval()
    D = ProjectedDiscriminator(32, head_width=16, pixel_d=pixel)
    x = _images(3, 32).requires_grad_()
    out = D(x)
    assert out.shape == (3, 2)  # (heads, pixel D): each gets its own hinge from a mean-reduced loss
    assert torch.equal(out[:, 1], pixel(x))
    feats = D.features(x)
    assert len(feats) == len(D.heads) + 1 and feats[-1] is x  # the pixel D's "tap" is the image
    out[:, 1].sum().backward()  # the pixel D alone still passes a gradient to the image (to G)
    assert x.grad is not None and x.grad.abs().sum() > 0
    sd = D.trainable_state_dict()
    assert any(k.startswith("pixel_d.") for k in sd)
    again = ProjectedDiscriminator(32, head_width=16, pixel_d=build_discriminator(ModelConfig(resolution=32)))
    again.load_trainable_state_dict(sd)  # a resumed run gets its pixel D back
    assert torch.equal(again.pixel_d.eval()(x.detach()), pixel(x.detach()))
    with pytest.raises(RuntimeError, match="unexpected keys"):  # a D without one is not this D
        ProjectedDiscriminator(32, head_width=16).load_trainable_state_dict(sd)


def test_stem_tap_adds_a_head_on_the_stride_2_stem():
    D = ProjectedDiscriminator(32, head_width=16, stem_tap=True)
    x = _images(2, 32).requires_grad_()
    feats = D.features(x)
    # 32 px is judged at the backbone's 64 px: the stem's 32x32 map, then the four stages' taps
    assert [tuple(f.shape[1:]) for f in feats] == [(32, 32, 32), (24, 16, 16), (40, 8, 8), (112, 4, 4),
                                                   (320, 2, 2)]
    assert len(D.heads) == 5
    D.score(feats).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    plain = ProjectedDiscriminator(32, head_width=16)
    assert [h.net[0].weight.shape[1] for h in D.heads[1:]] == [h.net[0].weight.shape[1] for h in plain.heads]
    with pytest.raises(RuntimeError, match="stem_tap"):  # a D trained with the stem head is not this D
        plain.load_trainable_state_dict(D.trainable_state_dict())
