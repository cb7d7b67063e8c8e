from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _synthetic import blobs_and_stripes

from proteolabel.cluster import CLUSTERERS, compare_clusterers


@pytest.fixture(scope="module")
def small():
    X, y = blobs_and_stripes(n_per_group=120, seed=0)
    rng = np.random.default_rng(0)
    y_tune = y.copy()
    y_tune[rng.random(len(y)) > 0.4] = None
    return X, y, y_tune


@pytest.fixture(scope="module")
def comparison(small):
    X, y, y_tune = small
    return compare_clusterers(X, y_tune, y, random_state=0)


def test_every_registered_method_reports_a_row(comparison, small):
    X, _, _ = small
    t = comparison.table
    assert list(t.index) == list(CLUSTERERS)
    for col in ("tune_homogeneity", "tune_completeness", "tune_v_measure", "tune_ari",
                "tune_ami", "heldout_v_measure", "heldout_ari", "heldout_ami", "silhouette",
                "n_clusters", "noise_fraction", "seconds", "status", "notes", "params"):
        assert col in t.columns
    for name, lab in comparison.labels.items():
        assert lab.shape == (X.shape[0],), name
    assert (t["seconds"] >= 0).all()
    assert set(t["status"]) <= {"ok", "did not converge"}
    assert t["noise_fraction"].between(0, 1).all()


def test_eval_never_scores_tune_samples(comparison, small):
    _, y, y_tune = small
    t = comparison.table
    n_tune = int(pd.notna(y_tune).sum())
    assert (t["tune_n"] == n_tune).all()
    assert (t["heldout_n"] == len(y) - n_tune).all()


def test_dbscan_beats_kmeans_on_stripes(comparison):
    t = comparison.table
    assert t.loc["dbscan", "heldout_v_measure"] >= 0.9
    assert t.loc["kmeans", "heldout_v_measure"] < t.loc["dbscan", "heldout_v_measure"] - 0.15
    assert t.loc["dbscan", "n_clusters"] == 5


def test_curves_and_parameter_rules(comparison):
    k_curve = comparison.curves["kmeans"]
    assert list(k_curve.columns) == ["k", "silhouette"] and k_curve["k"].min() == 2
    assert comparison.params["kmeans"]["k"] == int(
        k_curve.loc[k_curve["silhouette"].idxmax(), "k"])
    assert "bic" in comparison.curves["gaussian_mixture"]
    assert comparison.params["agglomerative"] == {"k": 5, "k_rule": "tune classes"}
    assert "v_measure" in comparison.curves["dbscan"]


def test_same_random_state_same_table(small):
    X, y, y_tune = small
    methods = ["kmeans", "gaussian_mixture", "affinity_propagation"]
    a = compare_clusterers(X, y_tune, y, methods=methods, random_state=7)
    b = compare_clusterers(X, y_tune, y, methods=methods, random_state=7)
    pd.testing.assert_frame_equal(a.table.drop(columns="seconds"),
                                  b.table.drop(columns="seconds"))
    for m in methods:
        np.testing.assert_array_equal(a.labels[m], b.labels[m])


def test_without_labels_and_non_convergence_reported(small):
    X, _, _ = small
    res = compare_clusterers(X, methods=["dbscan", "agglomerative"], random_state=0)
    t = res.table
    assert t["tune_n"].eq(0).all() and t["tune_v_measure"].isna().all()
    assert "tune samples" in t.loc["dbscan", "notes"]
    assert res.params["agglomerative"]["k_rule"] == "silhouette"
    # affinity propagation that cannot converge says so plainly
    from proteolabel.cluster import _compare

    spec = _compare.CLUSTERERS["affinity_propagation"]
    ctx = {"random_state": 0}
    lines = np.column_stack([np.arange(30.0), np.zeros(30)])
    out = spec.run(lines, ctx)
    if out.status != "ok":
        assert out.status == "did not converge"
        assert "did not converge" in out.notes[0]


def test_failures_do_not_stop_the_loop(monkeypatch, small):
    from proteolabel.cluster import _compare

    def boom(X, ctx):
        raise RuntimeError("kaput")

    spec = _compare.ClustererSpec(boom, "nothing")
    monkeypatch.setitem(_compare.CLUSTERERS, "broken", spec)
    X, y, y_tune = small
    res = compare_clusterers(X, y_tune, y, methods=["broken", "hdbscan"])
    assert res.table.loc["broken", "status"] == "failed: kaput"
    assert (res.labels["broken"] == -1).all()
    assert res.table.loc["hdbscan", "status"] == "ok"


def test_unknown_method_and_bad_lengths(small):
    X, y, _ = small
    with pytest.raises(ValueError, match="unknown methods"):
        compare_clusterers(X, methods=["nope"])
    with pytest.raises(ValueError, match="entries"):
        compare_clusterers(X, y[:5], methods=["kmeans"])
