from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from proteolabel.cluster import EpsSearch, align_labels, consensus_labels


def test_align_labels_matches_by_overlap():
    ref = np.array([0, 0, 0, 1, 1, 1, -1])
    lab = np.array([5, 5, 5, 2, 2, 7, 2])
    np.testing.assert_array_equal(align_labels(ref, lab), [0, 0, 0, 1, 1, 2, 1])
    assert (align_labels(ref, np.full(7, -1)) == -1).all()


def test_consensus_over_rotated_and_jittered_latents():
    rng = np.random.default_rng(0)
    base = np.concatenate([rng.normal(c, 0.2, (60, 2)) for c in [(0, 0), (3, 0), (0, 3)]])
    truth = np.repeat([0, 1, 2], 60)
    latents = []
    for seed in range(3):
        r = np.random.default_rng(seed)
        th = r.uniform(0, 2 * np.pi)
        R = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
        latents.append(base @ R.T * r.uniform(0.5, 2) + r.normal(0, 0.02, base.shape))
    y = np.where(np.arange(180) % 4 == 0, truth, -1).astype(object)
    y[y == -1] = None
    res = consensus_labels(latents, y, estimator=EpsSearch(min_samples=5))
    assert adjusted_rand_score(truth, res.labels) > 0.95
    assert res.agreement.shape == (180,) and res.agreement.min() >= 1 / 3
    assert np.mean(res.agreement == 1.0) > 0.9
    assert res.pairwise_ari.shape == (3, 3) and np.allclose(np.diag(res.pairwise_ari), 1)
    assert len(res.eps) == 3


def test_consensus_input_checks():
    with pytest.raises(ValueError, match="at least two"):
        consensus_labels([np.zeros((5, 2))])
    with pytest.raises(ValueError, match="different numbers"):
        consensus_labels([np.zeros((5, 2)), np.zeros((6, 2))])
