from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import (
    adjusted_mutual_info_score,
    adjusted_rand_score,
    homogeneity_completeness_v_measure,
)

from proteolabel.cluster import labelled_mask, score_partition


def test_matches_sklearn_on_labelled_samples():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 200).astype(object)
    lab = rng.integers(0, 6, 200)
    y[::5] = None
    keep = labelled_mask(y)
    s = score_partition(y, lab)
    yk = y[keep].astype(int)
    h, c, v = homogeneity_completeness_v_measure(yk, lab[keep])
    assert s["homogeneity"] == pytest.approx(h, abs=1e-12)
    assert s["completeness"] == pytest.approx(c, abs=1e-12)
    assert s["v_measure"] == pytest.approx(v, abs=1e-12)
    assert s["ari"] == pytest.approx(adjusted_rand_score(yk, lab[keep]), abs=1e-12)
    assert s["ami"] == pytest.approx(adjusted_mutual_info_score(yk, lab[keep]), abs=1e-12)
    assert s["n_samples"] == keep.sum() and s["defined"]


def test_unlabelled_markers():
    y = np.array(["a", None, np.nan, "", "  ", "b", 0, False], dtype=object)
    np.testing.assert_array_equal(
        labelled_mask(y), [True, False, False, False, False, True, True, True]
    )


def test_noise_as_one_cluster_does_not_reward_all_noise():
    y = np.array(["a"] * 10 + ["b"] * 10, dtype=object)
    all_noise = np.full(20, -1)
    s = score_partition(y, all_noise)
    assert not s["defined"] and math.isnan(s["v_measure"])
    # mostly noise with two tiny pure clusters: singleton scoring calls it perfectly
    # homogeneous (rewarding noise); one noise cluster does not
    mostly_noise = np.full(20, -1)
    mostly_noise[[0, 1]] = 0
    mostly_noise[[10, 11]] = 1
    single = score_partition(y, mostly_noise, noise="singleton")
    as_cluster = score_partition(y, mostly_noise)
    assert single["homogeneity"] == pytest.approx(1.0)
    assert as_cluster["homogeneity"] < 0.2
    assert as_cluster["v_measure"] < single["v_measure"]
    # a perfect clustering beats one where half of a class turned noise
    good = np.r_[np.zeros(10, int), np.ones(10, int)]
    half_noise = good.copy()
    half_noise[:5] = -1
    assert score_partition(y, good)["v_measure"] == pytest.approx(1.0)
    assert score_partition(y, half_noise)["v_measure"] < 0.8


def test_degenerate_cases_are_undefined_not_errors():
    y2 = np.array(["a"] * 5 + ["b"] * 5, dtype=object)
    one_class = score_partition(["a"] * 10, np.arange(10) % 2)
    one_cluster = score_partition(y2, np.zeros(10, int))
    cluster_plus_noise = score_partition(y2, np.r_[np.zeros(5, int), -np.ones(5, int)])
    nothing = score_partition([None] * 4, [0, 1, 0, 1])
    for s in (one_class, one_cluster, cluster_plus_noise, nothing):
        assert s["defined"] is False
        assert all(math.isnan(s[k]) for k in ("homogeneity", "completeness", "v_measure", "ari"))
    assert one_class["n_classes"] == 1 and cluster_plus_noise["n_clusters"] == 1
    assert cluster_plus_noise["n_noise"] == 5


def test_scores_stay_in_range():
    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(4, 40))
        s = score_partition(rng.integers(0, 3, n), rng.integers(-1, 4, n))
        if s["defined"]:
            for k in ("homogeneity", "completeness", "v_measure"):
                assert 0.0 <= s[k] <= 1.0
            assert -1.0 <= s["ari"] <= 1.0


def test_bad_input():
    with pytest.raises(ValueError, match="length"):
        score_partition([1, 2], [0])
    with pytest.raises(ValueError, match="noise"):
        score_partition([1, 2], [0, 1], noise="drop")
