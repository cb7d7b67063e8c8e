"""Synthetic latents with known groups for the clustering tests."""

from __future__ import annotations

import numpy as np


def blobs_and_stripes(n_per_group: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D latent with five known groups of different shapes: two round blobs and three long
    parallel stripes (thin and close together, the shape k-means cuts across)."""
    rng = np.random.default_rng(seed)
    parts, labels = [], []
    for i, centre in enumerate([(-4.0, 3.0), (4.0, 3.5)]):
        parts.append(rng.normal(centre, 0.35, size=(n_per_group, 2)))
        labels += [f"blob{i}"] * n_per_group
    for j in range(3):
        x = rng.uniform(-4.5, 4.5, n_per_group)
        y = -2.0 + 0.9 * j + rng.normal(0, 0.06, n_per_group)
        parts.append(np.column_stack([x, y]))
        labels += [f"stripe{j}"] * n_per_group
    X = np.concatenate(parts)
    y = np.array(labels, dtype=object)
    order = rng.permutation(len(X))
    return X[order], y[order]
