"""How far apart the true groups lie in a latent space."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
from sklearn.metrics import silhouette_score

from proteolabel._utils import as_generator

#: Largest number of points on which a silhouette is computed in full (it costs O(n^2)).
SILHOUETTE_MAX_SAMPLES = 4000


def silhouette(
    Z: np.ndarray, labels: np.ndarray, rng: int | np.random.Generator | None = None
) -> float:
    """Silhouette of ``labels`` on ``Z``; on a random subsample above 4,000 points.

    Parameters
    ----------
    Z
        Points, shape (n_samples, n_dims).
    labels
        One label per point; negative labels (noise) are left out.
    rng
        Seed or generator for the subsample.

    Returns
    -------
    float
        The mean silhouette, NaN with fewer than two labels (or as many labels as points).

    """
    Z = np.asarray(Z, dtype=np.float64)
    labels = np.asarray(labels)
    keep = labels >= 0 if np.issubdtype(labels.dtype, np.number) else np.ones(labels.size, bool)
    Z, labels = Z[keep], labels[keep]
    n_labels = np.unique(labels).size
    if n_labels < 2 or n_labels >= labels.size:
        return math.nan
    if labels.size > SILHOUETTE_MAX_SAMPLES:
        idx = as_generator(rng).choice(labels.size, SILHOUETTE_MAX_SAMPLES, replace=False)
        Z, labels = Z[idx], labels[idx]
        if np.unique(labels).size < 2:
            return math.nan
    return float(silhouette_score(Z, labels))


def group_separation(
    Z: np.ndarray, y: np.ndarray, rng: int | np.random.Generator | None = None
) -> dict[str, float]:
    """Distances between the centres of the true groups in ``Z``, raw and relative to spread.

    Parameters
    ----------
    Z
        Latent points, shape (n_samples, n_dims).
    y
        True group of each point.
    rng
        Seed or generator for the silhouette subsample.

    Returns
    -------
    dict
        ``centre_distance`` (mean Euclidean distance between the centres of two groups, over
        all pairs: the method's measure), ``centre_distance_min`` (the closest pair),
        ``within_sd`` (pooled within-group standard deviation per latent dimension),
        ``separation`` (``centre_distance_min / within_sd``: scale-free, about ``2 * snr``
        for two unit-variance groups whose centres differ along one axis) and
        ``silhouette`` (of the true groups).

    """
    Z = np.asarray(Z, dtype=np.float64)
    y = np.asarray(y)
    groups = np.unique(y)
    centres = np.stack([Z[y == g].mean(axis=0) for g in groups])
    pairs = combinations(range(len(groups)), 2)
    dists = [float(np.linalg.norm(centres[a] - centres[b])) for a, b in pairs]
    resid = Z - centres[np.searchsorted(groups, y)]
    dof = max(Z.shape[0] - groups.size, 1)
    within_sd = float(math.sqrt(np.sum(resid**2) / (dof * Z.shape[1])))
    dmin = min(dists) if dists else math.nan
    return {
        "centre_distance": float(np.mean(dists)) if dists else math.nan,
        "centre_distance_min": dmin,
        "within_sd": within_sd,
        "separation": dmin / within_sd if within_sd > 0 else math.inf,
        "silhouette": silhouette(Z, y, rng),
    }
