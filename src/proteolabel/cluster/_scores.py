"""Scoring a partition against known labels, with DBSCAN noise handled explicitly."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_mutual_info_score

#: How noise (label -1) among the scored samples is treated; see :func:`score_partition`.
NOISE_MODES = ("cluster", "singleton")

#: Score names of :func:`score_partition`, in the order they are reported.
SCORE_NAMES = ("homogeneity", "completeness", "v_measure", "ari", "ami")

#: Scores that must lie in [0, 1] (ARI and AMI may legitimately be negative).
_UNIT_SCORES = ("homogeneity", "completeness", "v_measure")
_TOL = 1e-9


def labelled_mask(y: Any) -> np.ndarray:
    """Boolean mask of the labelled entries of ``y``.

    An entry is unlabelled when it is ``None``, a float NaN, ``pandas.NA``/``NaT`` or an empty
    (or blank) string. Everything else, including ``0`` and ``False``, is a label.
    """
    arr = np.asarray(y, dtype=object).ravel()
    missing = pd.isna(pd.Series(arr, dtype=object)).to_numpy()
    blank = np.fromiter(
        (isinstance(v, str) and v.strip() == "" for v in arr), dtype=bool, count=arr.size
    )
    return ~(missing | blank)


def encode_labels(y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of ``y`` (-1 for unlabelled) and the class values in code order."""
    arr = np.asarray(y, dtype=object).ravel()
    mask = labelled_mask(arr)
    codes = np.full(arr.size, -1, dtype=np.int64)
    classes = np.empty(0, dtype=object)
    if mask.any():
        c, classes = pd.factorize(pd.Series(arr[mask], dtype=object), sort=False)
        codes[mask] = c
        classes = np.asarray(classes, dtype=object)
    return codes, classes


def _noise_as(labels: np.ndarray, noise: str) -> np.ndarray:
    """Recode noise (-1) for scoring: one extra cluster, or one singleton cluster per sample."""
    out = labels.astype(np.int64, copy=True)
    is_noise = out < 0
    if not is_noise.any():
        return out
    start = (int(out.max()) + 1) if (~is_noise).any() else 0
    if noise == "cluster":
        out[is_noise] = start
    else:  # singleton
        out[is_noise] = start + np.arange(int(is_noise.sum()))
    return out


def _contingency(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense contingency counts of two integer labelings (any values)."""
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    nb = int(bi.max()) + 1 if bi.size else 0
    codes, counts = np.unique(ai.astype(np.int64) * nb + bi, return_counts=True)
    table = np.zeros((int(ai.max()) + 1 if ai.size else 0, nb), dtype=np.int64)
    table[codes // nb, codes % nb] = counts
    return table


def _entropy(counts: np.ndarray) -> float:
    counts = counts[counts > 0].astype(np.float64)
    total = counts.sum()
    if total <= 0:
        return 0.0
    p = counts / total
    return float(-np.sum(p * np.log(p)))


def homogeneity_completeness_v(table: np.ndarray) -> tuple[float, float, float]:
    """Homogeneity, completeness and V-measure (beta=1) from a classes x clusters table.

    The same definitions as scikit-learn's (natural logarithms; 1.0 for a zero entropy).
    """
    n = table.sum()
    h_c, h_k = _entropy(table.sum(axis=1)), _entropy(table.sum(axis=0))
    nz = table > 0
    if n == 0:
        return 1.0, 1.0, 1.0
    nij = table[nz].astype(np.float64)
    pi = table.sum(axis=1).astype(np.float64)
    pj = table.sum(axis=0).astype(np.float64)
    ii, jj = np.nonzero(nz)
    mi = float(np.sum(nij / n * (np.log(nij) + np.log(n) - np.log(pi[ii]) - np.log(pj[jj]))))
    mi = max(mi, 0.0)
    h = mi / h_c if h_c else 1.0
    c = mi / h_k if h_k else 1.0
    v = 0.0 if h + c == 0 else 2 * h * c / (h + c)
    return h, c, v


def adjusted_rand(table: np.ndarray) -> float:
    """Compute the adjusted Rand index from a contingency table (scikit-learn's formula)."""
    t = table.astype(np.float64)
    n = t.sum()
    sum_sq = float(np.sum(t * t))
    a = t.sum(axis=1)
    b = t.sum(axis=0)
    tp = sum_sq - n
    fp = float(np.dot(b, b)) - sum_sq
    fn = float(np.dot(a, a)) - sum_sq
    tn = n * n - fp - fn - sum_sq
    if fn == 0 and fp == 0:
        return 1.0
    return float(2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)))


def fast_ari(a: np.ndarray, b: np.ndarray) -> float:
    """Compute the adjusted Rand index of two labelings (-1 is an ordinary label here)."""
    return adjusted_rand(_contingency(np.asarray(a), np.asarray(b)))


def score_partition(
    y_true: Any, labels: Any, noise: str = "cluster", *, ami: bool = True
) -> dict[str, Any]:
    """Score cluster labels against known classes, on the labelled samples only.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Known classes; ``None``, NaN and empty strings mark unlabelled samples, which are not
        scored.
    labels : array-like of int of shape (n_samples,)
        Cluster labels; ``-1`` is DBSCAN noise.
    noise : {"cluster", "singleton"}, default="cluster"
        How noise among the scored samples is treated. ``"cluster"`` (default) puts all noise
        samples into one extra cluster: an all-noise result is then a single cluster, which is
        degenerate (undefined), and noise spread over several classes lowers homogeneity. So
        noise is never rewarded. ``"singleton"`` makes each noise sample its own cluster, which
        gives homogeneity 1 to an all-noise result and so rewards declaring samples noise; it
        is offered for comparison only.
    ami : bool, default=True
        Compute the adjusted mutual information (the slowest score); NaN when False.

    Returns
    -------
    dict
        ``homogeneity``, ``completeness``, ``v_measure``, ``ari`` and ``ami`` (NaN when
        undefined), ``n_samples`` (labelled samples scored), ``n_classes``, ``n_clusters``
        (non-noise clusters among the scored samples), ``n_noise`` (noise samples among them)
        and ``defined``. The scores are undefined when the scored samples hold fewer than two
        classes or fewer than two (non-noise) clusters: every partition scores alike there, so
        such a result must not be ranked.

    Raises
    ------
    ValueError
        If the inputs differ in length, ``noise`` is unknown, or a computed score falls outside
        its range (a bug, never expected).

    """
    if noise not in NOISE_MODES:
        raise ValueError(f"noise must be one of {NOISE_MODES}, got {noise!r}")
    codes, _ = encode_labels(y_true)
    lab = np.asarray(labels).ravel()
    if lab.shape[0] != codes.shape[0]:
        raise ValueError(
            f"y_true and labels differ in length: {codes.shape[0]} != {lab.shape[0]}"
        )
    if lab.size and not np.issubdtype(lab.dtype, np.integer):
        if not np.all(np.isfinite(lab.astype(float))) or np.any(lab != np.round(lab)):
            raise ValueError("labels must be integers (-1 for noise)")
    lab = lab.astype(np.int64)
    keep = codes >= 0
    yk, lk = codes[keep], lab[keep]
    n_classes = int(np.unique(yk).size)
    n_clusters = int(np.unique(lk[lk >= 0]).size)
    n_noise = int(np.count_nonzero(lk < 0))
    out: dict[str, Any] = {name: math.nan for name in SCORE_NAMES}
    out.update(
        n_samples=int(yk.size),
        n_classes=n_classes,
        n_clusters=n_clusters,
        n_noise=n_noise,
        defined=bool(n_classes >= 2 and n_clusters >= 2),
    )
    if not out["defined"]:
        return out
    scored = _noise_as(lk, noise)
    table = _contingency(yk, scored)
    h, c, v = homogeneity_completeness_v(table)
    out.update(homogeneity=h, completeness=c, v_measure=v, ari=adjusted_rand(table))
    if ami:
        out["ami"] = float(adjusted_mutual_info_score(yk, scored))
    _check_ranges(out)
    return out


def _check_ranges(scores: dict[str, Any]) -> None:
    """Clip round-off at the ends of [0, 1] and raise if a score is truly out of range."""
    for name in _UNIT_SCORES:
        v = scores[name]
        if not (-_TOL <= v <= 1 + _TOL):
            raise ValueError(f"{name}={v!r} outside [0, 1]: this is a bug, please report it")
        scores[name] = min(max(v, 0.0), 1.0)
    for name in ("ari", "ami"):
        v = scores[name]
        if name == "ami" and math.isnan(v):
            continue
        if not (-1 - _TOL <= v <= 1 + _TOL):
            raise ValueError(f"{name}={v!r} outside [-1, 1]: this is a bug, please report it")
        scores[name] = min(max(v, -1.0), 1.0)
