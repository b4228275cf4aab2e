"""tgan.metrics: Inception features on synthetic images, and the metric maths on toy features."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from tgan import metrics, scoring
from tgan.random_features import RandomCNNFeatures

SPACE_KEYS = {"kid", "kid_std", "fid", "precision", "recall", "memorisation", "copy_ratio", "diversity"}
EXPECTED_KEYS = SPACE_KEYS | {"n", "spaces", "copy_ratio_aligned"}


def blob_images(n: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Smooth structured images in [-1, 1]: a two-colour gradient under three soft colour blobs."""
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.rand(*shape, generator=gen)

    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    angle = rand(n, 1, 1) * 2 * math.pi
    t = ((xx * torch.cos(angle) + yy * torch.sin(angle) + 1) / 2)[:, None]
    img = rand(n, 3, 1, 1) * (1 - t) + rand(n, 3, 1, 1) * t
    for _ in range(3):
        cx, cy, sigma = rand(n, 1, 1), rand(n, 1, 1), 0.08 + 0.15 * rand(n, 1, 1)
        weight = torch.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))[:, None]
        img = img * (1 - weight) + rand(n, 3, 1, 1) * weight
    return img * 2 - 1


def noise_images(n: int, size: int = 32, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


class CountingRandomCNN:
    """The real random-CNN space, counting its calls (to see the cache work)."""

    tag = RandomCNNFeatures.tag

    def __init__(self):
        self.calls, self.inner = 0, RandomCNNFeatures()

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        self.calls += 1
        return self.inner(images)


# ---- Inception on synthetic images (the slow part: ~0.3 s per image on 2 CPU cores) ----------


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    """One intra-op thread for these tests: on a shared 2-core box, two OpenMP threads spin-wait
    behind other processes and each Inception call gains seconds of overhead; one thread is
    about as fast when the machine is idle and does not degrade when it is busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def inception_feats():
    extractor = metrics.InceptionFeatures()
    images = torch.cat([blob_images(48), noise_images(16)])
    feats = extractor(images)
    return feats[:24], feats[24:48], feats[48:]


def test_inception_features_shape_and_repeatability():
    extractor = metrics.InceptionFeatures()
    big = blob_images(2, size=320, seed=3)[..., :300]  # non-square, larger than 299: shrinks
    first, second = extractor(big), extractor(big)
    assert first.shape == (2, 2048) and first.dtype == np.float64
    assert np.isfinite(first).all() and (first >= 0).all()  # pool features follow a ReLU
    assert np.array_equal(first, second)
    assert metrics.get_inception(extractor.device) is metrics.get_inception(extractor.device)


def test_kid_real_vs_real_is_small(inception_feats):
    real_a, real_b, _ = inception_feats
    value, std = metrics.kid(real_a, real_b)
    # Measured -0.006; over 100 random splits at n=24 the spread is ~0.004 (max |KID| 0.014).
    assert abs(value) < 0.02
    assert std >= 0


def test_kid_real_vs_noise_is_large(inception_feats):
    real_a, real_b, noise = inception_feats
    noise_kid = metrics.kid(real_a, noise)[0]
    real_kid = metrics.kid(real_a, real_b)[0]
    # Measured 0.54 at these sizes (0.52-0.55 across other splits).
    assert noise_kid > 0.2
    assert noise_kid > 10 * max(abs(real_kid), 0.02)
    assert metrics.fid(real_a, noise) > metrics.fid(real_a, real_b)


def test_evaluate_with_inception_end_to_end(tmp_path):
    samples, reference = noise_images(6, seed=5), blob_images(6, seed=6)
    cache = metrics.FeatureCache(tmp_path)
    result = scoring.evaluate(samples, reference, cache=cache)
    assert set(result) == EXPECTED_KEYS and set(result["spaces"]) == {"inception", "random-cnn"}
    assert result["n"] == 6 and result["kid"] > 0.1 and result["fid"] > 0
    assert result["spaces"]["random-cnn"]["kid"] > 0  # noise vs blobs: far apart in both spaces
    assert math.isnan(result["memorisation"])
    assert len(list(tmp_path.glob("*.npy"))) == 2  # the reference, once per space


# ---- metric maths on toy features ------------------------------------------------------------


def toy(n: int, d: int = 8, seed: int = 0, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)) + shift


def reference_fid(a: np.ndarray, b: np.ndarray) -> float:
    """Textbook FID with a dense sqrtm, to check the low-rank shortcut."""
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = np.real(scipy.linalg.sqrtm(sa @ sb))
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(sa + sb - 2 * root))


def test_fid_identical_sets_is_zero():
    a = toy(50)
    assert metrics.fid(a, a) == pytest.approx(0.0, abs=1e-6)
    assert metrics.fid(toy(5, d=64), toy(5, d=64)[[1, 0, 2, 3, 4]]) == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize("n_a,n_b", [(6, 7), (6, 60), (60, 5), (40, 60)])
def test_fid_matches_dense_sqrtm(n_a, n_b):
    # Covers both low-rank paths (n <= d) and the scipy sqrtm path (n > d), with d = 16.
    a, b = toy(n_a, d=16, seed=1), toy(n_b, d=16, seed=2, shift=0.5) * 1.5
    assert metrics.fid(a, b) == pytest.approx(reference_fid(a, b), rel=1e-6)


def test_fid_grows_with_shift():
    a = toy(200, seed=1)
    assert metrics.fid(a, toy(200, seed=2, shift=3.0)) == pytest.approx(8 * 9, rel=0.15)
    assert metrics.fid(a, toy(200, seed=2)) < 1.0


def test_kid_same_distribution_vs_shifted():
    a, b = toy(300, seed=1), toy(300, seed=2)
    same, _ = metrics.kid(a, b, n_subsets=20, subset_size=100)
    shifted, _ = metrics.kid(a, toy(300, seed=2, shift=1.0), n_subsets=20, subset_size=100)
    assert abs(same) < 0.05 and shifted > 1.0 and shifted > 20 * abs(same)


def test_kid_is_deterministic_given_seed():
    a, b = toy(120, seed=1), toy(120, seed=2)
    assert metrics.kid(a, b, n_subsets=10, subset_size=50, seed=3) == \
        metrics.kid(a, b, n_subsets=10, subset_size=50, seed=3)
    assert metrics.kid(a, b, n_subsets=10, subset_size=50, seed=3) != \
        metrics.kid(a, b, n_subsets=10, subset_size=50, seed=4)
    # subset_size is capped by the smaller set, so a huge request still works.
    assert math.isfinite(metrics.kid(a, b[:30], subset_size=10_000)[0])


def test_precision_recall_identical_and_disjoint():
    a = toy(80, seed=1)
    assert metrics.precision_recall(a, a) == (1.0, 1.0)
    precision, recall = metrics.precision_recall(a, a + 100.0)
    assert precision == pytest.approx(0.0) and recall == pytest.approx(0.0)


def test_precision_recall_partial_coverage():
    # Fakes cover only one of two real clusters: precision stays high, recall drops to ~half.
    real = np.concatenate([toy(100, seed=1), toy(100, seed=2, shift=50.0)])
    fake = toy(100, seed=3)
    precision, recall = metrics.precision_recall(real, fake)
    assert precision > 0.8 and 0.3 < recall < 0.6


def test_diversity():
    assert metrics.diversity(np.array([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    points = np.array([[0.0], [1.0], [3.0]])  # pair distances 1, 3, 2
    assert metrics.diversity(points) == pytest.approx(2.0)
    assert metrics.diversity(np.ones((10, 4))) == pytest.approx(0.0, abs=1e-6)


def test_memorisation():
    train, heldout = toy(40, seed=1), toy(40, seed=2)
    fresh = toy(40, seed=3)
    copies = train + 0.01 * toy(40, seed=4)
    assert 0.7 < metrics.memorisation(fresh, train, heldout) < 1.4
    assert metrics.memorisation(copies, train, heldout) > 10
    assert math.isnan(metrics.memorisation(fresh, train, None))
    assert math.isnan(metrics.memorisation(fresh, train, np.zeros((0, 8))))


# ---- cache and evaluate plumbing (the cheap random-CNN space) ----------------------------------


def test_feature_cache_hit_and_atomic_file(tmp_path):
    cache, extractor = metrics.FeatureCache(tmp_path / "cache"), CountingRandomCNN()
    images = blob_images(10)
    first = cache.features(images, extractor)
    files = list((tmp_path / "cache").iterdir())
    assert len(files) == 1 and files[0].suffix == ".npy"  # no stray temp files
    second = cache.features(images, extractor)
    assert extractor.calls == 1
    assert np.array_equal(first, second)
    cache.features(blob_images(10, seed=9), extractor)
    assert extractor.calls == 2 and len(list((tmp_path / "cache").iterdir())) == 2


def test_feature_cache_default_root_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("TGAN_CACHE_DIR", str(tmp_path / "env-cache"))
    assert metrics.FeatureCache().root == tmp_path / "env-cache"


def test_evaluate_keys_types_and_repeatability(tmp_path):
    samples, reference = blob_images(30, seed=1), blob_images(30, seed=2)
    train = blob_images(8, seed=3)
    cache = metrics.FeatureCache(tmp_path)
    spaces = {"random-cnn": RandomCNNFeatures()}
    first, second = (scoring.evaluate(samples, reference, train=train, cache=cache, extractors=spaces)
                     for _ in range(2))
    assert set(first) == EXPECTED_KEYS
    assert first == second
    assert first["n"] == 30 and type(first["n"]) is int
    assert all(type(first[key]) is float for key in SPACE_KEYS)
    assert all(math.isfinite(first[key]) for key in SPACE_KEYS)
    assert len(list(tmp_path.glob("*.npy"))) == 2  # reference and train features were cached
    no_train = scoring.evaluate(samples, reference, extractors=spaces)
    assert math.isnan(no_train["memorisation"])
    assert no_train["kid"] == pytest.approx(first["kid"])
