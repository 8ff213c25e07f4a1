"""FID_k / FID_g and Div_k / Div_g as Bailando's ``utils/metrics_new.py`` computes them (docs/metrics.md).

Conventions reproduced on purpose:

* both sets are normalised with the **ground-truth** mean and (population, ddof=0) std + 1e-10; kinetic and manual
  features separately;
* Fréchet distance ‖μ1-μ2‖² + tr Σ1 + tr Σ2 - 2 tr sqrtm(Σ1Σ2) with ``np.cov(rowvar=False)`` (ddof=1);
  if sqrtm is not finite, eps·I (Bailando: 1e-5) is added to both covariances and sqrtm recomputed; a complex
  result is silently cast to its real part. ``strict=True`` gives the FACT / AIST++ API behaviour instead
  (eps 1e-6, ValueError on a significant imaginary component);
* diversity = mean L2 distance over all unordered pairs of (normalised) sequences.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

BAILANDO_EPS = 1e-5
FACT_EPS = 1e-6


def normalize(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map both (N,D) sets by (x - mean_gt) / (std_gt + 1e-10)."""
    gt = np.asarray(gt, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    mean, std = gt.mean(axis=0), gt.std(axis=0)
    return (gt - mean) / (std + 1e-10), (pred - mean) / (std + 1e-10)


def _sqrtm(m: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():  # Bailando calls sqrtm(disp=False): no singular-matrix chatter
        warnings.simplefilter("ignore")
        out = linalg.sqrtm(m)
    return out[0] if isinstance(out, tuple) else out


def frechet_distance(gen: np.ndarray, gt: np.ndarray, eps: float | None = None, strict: bool = False) -> float:
    """Fréchet distance between Gaussians fitted to two (N,D) feature sets (N >= 2 each)."""
    gen = np.asarray(gen, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if gen.ndim != 2 or gt.ndim != 2 or gen.shape[1] != gt.shape[1]:
        raise ValueError(f"feature sets must be (N, D) with equal D, got {gen.shape} and {gt.shape}")
    if len(gen) < 2 or len(gt) < 2:
        raise ValueError("FID needs at least 2 sequences in each set")
    eps = (FACT_EPS if strict else BAILANDO_EPS) if eps is None else eps
    mu1, mu2 = gen.mean(axis=0), gt.mean(axis=0)
    s1 = np.atleast_2d(np.cov(gen, rowvar=False))
    s2 = np.atleast_2d(np.cov(gt, rowvar=False))
    diff = mu1 - mu2
    covmean = _sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = _sqrtm((s1 + offset).dot(s2 + offset))
    if np.iscomplexobj(covmean):
        if strict and not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"imaginary component {np.max(np.abs(covmean.imag))}")
        covmean = covmean.real  # Bailando: cast silently
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def average_pairwise_distance(feats: np.ndarray) -> float:
    """Σ_{i<j} ‖f_i - f_j‖ / (n(n-1)/2); NaN for fewer than 2 sequences."""
    f = np.asarray(feats, dtype=np.float64)
    n = len(f)
    if n < 2:
        return float("nan")
    iu = np.triu_indices(n, k=1)
    d = np.linalg.norm(f[:, None, :] - f[None, :, :], axis=-1)[iu]
    return float(d.sum() / ((n * n - n) / 2))


def fid_div(gen: dict[str, np.ndarray], gt: dict[str, np.ndarray], strict: bool = False) -> dict[str, float]:
    """Set-level scores from stacked features {'kinetic': (N,72), 'manual': (M,32)} of generated and GT sets.

    Returns fid_k, fid_g, div_k, div_g (generated) and div_k_gt, div_g_gt (ground truth), all on GT-normalised
    features, as Bailando reports them.
    """
    out = {}
    for key, tag in (("kinetic", "k"), ("manual", "g")):
        gt_n, gen_n = normalize(gt[key], gen[key])
        out[f"fid_{tag}"] = frechet_distance(gen_n, gt_n, strict=strict)
        out[f"div_{tag}"] = average_pairwise_distance(gen_n)
        out[f"div_{tag}_gt"] = average_pairwise_distance(gt_n)
    return out
