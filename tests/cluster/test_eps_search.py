from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from _synthetic import blobs_and_stripes
from sklearn.cluster import DBSCAN, KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score, v_measure_score
from threadpoolctl import threadpool_limits

from proteolabel.cluster import (
    DegenerateTuneWarning,
    EpsSearch,
    NoTuneSamplesWarning,
    choose_index,
    knee_eps,
)


@pytest.fixture(scope="module")
def latent():
    return blobs_and_stripes()


def _tune_subset(y, fraction=0.25, seed=0):
    rng = np.random.default_rng(seed)
    out = y.copy()
    out[rng.random(len(y)) > fraction] = None
    return out


def test_finds_the_true_groups_on_blobs_and_stripes(latent):
    X, y = latent
    search = EpsSearch().fit(X, _tune_subset(y))
    assert search.supervised_
    assert search.labels_.max() + 1 == 5
    assert search.scores_["v_measure"] >= 0.95
    assert v_measure_score(y, search.labels_) >= 0.95  # on all samples, noise as -1


def test_kmeans_by_silhouette_shows_the_weakness_on_stripes(latent):
    # The method's comparison: k-means with k by maximum silhouette cuts the stripes.
    X, y = latent
    with threadpool_limits(1):  # tiny work: threads only add synchronisation
        best = max(
            (silhouette_score(X, lab), k, lab)
            for k in range(2, 11)
            for lab in [KMeans(k, n_init=10, random_state=0).fit_predict(X)]
        )
    v_kmeans = v_measure_score(y, best[2])
    v_dbscan = v_measure_score(y, EpsSearch().fit(X, _tune_subset(y)).labels_)
    assert best[1] != 5
    assert v_kmeans < 0.8
    assert v_dbscan - v_kmeans > 0.2


def test_fitted_attributes_are_consistent(latent):
    X, y = latent
    s = EpsSearch(n_eps=40).fit(X, _tune_subset(y))
    cols = {"eps", "n_clusters", "n_noise", "n_clusters_tune", "n_noise_tune", "homogeneity",
            "completeness", "v_measure", "ari", "defined", "stability"}
    assert cols <= set(s.sweep_.columns) and len(s.sweep_) == 40
    assert s.eps_ == s.sweep_["eps"].iloc[s.best_index_]
    assert s.sweep_["v_measure"].iloc[s.best_index_] == pytest.approx(
        s.sweep_.loc[s.sweep_["defined"], "v_measure"].max()
    )
    ref = DBSCAN(eps=s.eps_, min_samples=10).fit(X)
    np.testing.assert_array_equal(s.core_sample_indices_, ref.core_sample_indices_)
    np.testing.assert_array_equal(s.components_, X[ref.core_sample_indices_])
    assert adjusted_rand_score(ref.labels_, s.labels_) > 0.99
    assert s.scores_["eps"] == s.eps_ and s.scores_["supervised"] is True
    assert 0 <= s.scores_["ami"] <= 1
    defined = s.sweep_[s.sweep_["defined"]]
    for col in ("homogeneity", "completeness", "v_measure"):
        assert defined[col].between(0, 1).all()
    np.testing.assert_array_equal(EpsSearch(n_eps=40).fit_predict(X, _tune_subset(y)),
                                  s.labels_)


def test_same_random_state_same_result(latent):
    X, y = latent
    yt = _tune_subset(y)
    a = EpsSearch(random_state=3).fit(X, yt)
    b = EpsSearch(random_state=3).fit(X, yt)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    pd.testing.assert_frame_equal(a.sweep_, b.sweep_)


def test_labels_in_any_form():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 0.1, (40, 2)), rng.normal(3, 0.1, (40, 2))])
    y_str = np.array(["a"] * 40 + ["b"] * 40, dtype=object)
    y_str[::3] = ""
    y_num = np.r_[np.zeros(40), np.ones(40)]
    y_num[::3] = np.nan
    ys = [y_str, y_num, pd.Series(y_str).replace("", None).tolist()]
    out = [EpsSearch(min_samples=5).fit(X, y).labels_ for y in ys]
    for lab in out:
        assert adjusted_rand_score(np.r_[np.zeros(40), np.ones(40)], lab) == 1.0


def test_tie_rule_takes_middle_of_longest_run():
    v = np.array([0.1, 0.9, 0.9, 0.5, 0.9, 0.9, 0.9, 0.9, 0.2])
    ok = np.ones_like(v, dtype=bool)
    assert choose_index(v, ok, "middle") == 5  # run 4..7, lower middle
    assert choose_index(v, ok, "smallest") == 1
    assert choose_index(v, ok, "largest") == 7
    ok[5] = False  # undefined entries are never chosen and break runs
    assert choose_index(v, ok, "middle") == 1
    v2 = np.array([0.3, np.nan, 0.3])
    assert choose_index(v2, np.isfinite(v2), "middle") == 0


def test_tie_rule_in_fit_on_a_plateau():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 0.05, (30, 2)), rng.normal(5, 0.05, (30, 2))])
    y = np.r_[np.zeros(30), np.ones(30)]
    s = EpsSearch(min_samples=5, n_eps=60).fit(X, y)
    perfect = np.flatnonzero(np.isclose(s.sweep_["v_measure"], 1.0))
    assert perfect.size > 3
    assert s.best_index_ == perfect[(perfect.size - 1) // 2]  # a single contiguous run here
    assert EpsSearch(min_samples=5, n_eps=60, metric_tie_rule="smallest").fit(
        X, y).best_index_ == perfect[0]


def test_no_tune_samples_warns_and_uses_the_knee():
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(c, 0.3, (150, 2)) for c in [(0, 0), (4, 0), (2, 3.5)]]
                       + [rng.uniform(-2, 6, (30, 2))])
    truth = np.repeat([0, 1, 2, -1], [150, 150, 150, 30])
    for rule in ("knee", "stability"):
        with pytest.warns(NoTuneSamplesWarning, match="tune samples"):
            s = EpsSearch(unsupervised_rule=rule).fit(X)
        assert not s.supervised_
        assert s.labels_.max() + 1 == 3
        m = truth >= 0
        assert adjusted_rand_score(truth[m], s.labels_[m]) > 0.95
        assert s.sweep_["stability"].between(-1, 1).all()
    with pytest.warns(NoTuneSamplesWarning):
        s = EpsSearch().fit(X, [None] * len(X))  # all unlabelled: same as y=None
    grid = s.sweep_["eps"].to_numpy()
    assert s.eps_ == grid[np.argmin(np.abs(np.log(grid) - np.log(knee_eps(s.core_distances_))))]


def test_knee_of_k_distance_curve():
    lam = np.r_[np.linspace(1, 1.2, 90), np.linspace(2, 10, 10)]
    assert 1.15 <= knee_eps(lam) <= 2.0


def test_degenerate_tune_samples_raise_or_fall_back_with_parameters():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))  # one blob: never two clusters among tune samples
    y = np.where(np.arange(60) % 2 == 0, "a", "b").astype(object)
    with pytest.raises(ValueError, match="no clusters found at any eps with min_samples=30"):
        EpsSearch(min_samples=30, on_degenerate="raise").fit(X, y)
    with pytest.warns(DegenerateTuneWarning, match="min_samples=30"):
        s = EpsSearch(min_samples=30).fit(X, y)
    assert not s.supervised_ and not s.sweep_["defined"].any()
    with pytest.raises(ValueError, match="fewer than two classes"):
        EpsSearch(on_degenerate="raise").fit(X, ["a"] * 60)


def test_too_few_samples_for_min_samples():
    X = np.random.default_rng(0).normal(size=(5, 2))
    with pytest.raises(ValueError, match="no clusters found at any eps with min_samples=10"):
        EpsSearch().fit(X, ["a", "b", "a", "b", "a"])


def test_explicit_eps_values_and_validation():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 0.1, (40, 2)), rng.normal(3, 0.1, (40, 2))])
    y = np.r_[np.zeros(40), np.ones(40)]
    s = EpsSearch(min_samples=5, eps_values=[2.0, 0.5, 0.5, 1.0]).fit(X, y)
    np.testing.assert_array_equal(s.sweep_["eps"], [0.5, 1.0, 2.0])
    with pytest.raises(ValueError, match="eps_values"):
        EpsSearch(eps_values=[-1.0]).fit(X, y)
    with pytest.raises(ValueError, match=r"length|inconsistent"):
        EpsSearch().fit(X, y[:10])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EpsSearch(min_samples=5, eps_values=[0.5]).fit(X, y)
