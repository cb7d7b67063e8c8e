"""Reference check: labels equal a direct scikit-learn DBSCAN fit up to what DBSCAN leaves open."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.cluster import DBSCAN


def assert_same_dbscan(X: np.ndarray, eps: float, min_samples: int, labels: np.ndarray) -> None:
    """Assert ``labels`` is a valid DBSCAN result at ``eps`` matching scikit-learn's fit.

    Same noise set; same partition of the core points (up to renumbering); every border
    point sits in the cluster of a core point within eps (the cluster DBSCAN picks for a border
    point within reach of two clusters depends on processing order).
    """
    X = np.asarray(X, dtype=float)
    # algorithm="kd_tree": what scikit-learn uses for all but tiny inputs. Its brute-force
    # path ("auto" picks it below ~10 samples) computes distances as |a|^2 - 2ab + |b|^2, whose
    # cancellation error (relative (|x|/d)^2 * 1e-16) flips samples near eps for no reason.
    ref = DBSCAN(
        eps=max(eps, np.nextafter(0.0, 1.0)), min_samples=min_samples, algorithm="kd_tree"
    ).fit(X)
    core = np.zeros(len(X), dtype=bool)
    core[ref.core_sample_indices_] = True
    lab = np.asarray(labels)
    np.testing.assert_array_equal(
        lab == -1, ref.labels_ == -1, err_msg=f"noise differs at eps={eps}"
    )
    # core partition equal up to renumbering: a bijection between labels on core points
    pairs = set(zip(lab[core].tolist(), ref.labels_[core].tolist(), strict=True))
    ours = {a for a, _ in pairs}
    theirs = {b for _, b in pairs}
    assert len(pairs) == len(ours) == len(theirs), f"core partition differs at eps={eps}"
    # labels are consecutive 0..k-1 (plus -1)
    used = np.unique(lab[lab >= 0])
    np.testing.assert_array_equal(used, np.arange(used.size))
    # border points: in the cluster of some core point within eps
    border = np.flatnonzero(~core & (lab >= 0))
    if border.size:
        d = cdist(X[border], X[core])
        core_lab = lab[core]
        for row, b in enumerate(border):
            near = core_lab[d[row] <= eps]
            assert lab[b] in set(near.tolist()), f"border point {b} misassigned at eps={eps}"
