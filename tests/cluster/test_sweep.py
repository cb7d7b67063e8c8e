"""The fast sweep equals direct DBSCAN, and the MST it rests on is exact."""

from __future__ import annotations

import os

import numpy as np
import pytest
from _dbscan_ref import assert_same_dbscan
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.cluster import DBSCAN

from proteolabel.cluster import DBSCANPath, dbscan_sweep, eps_grid
from proteolabel.cluster._mst import build_density_graph

# Small by default to keep the suite fast; raise it for a deeper search, e.g.
# PROTEOLABEL_HYPOTHESIS_EXAMPLES=2000 pytest tests/cluster/test_sweep.py
SETTINGS = settings(
    max_examples=int(os.environ.get("PROTEOLABEL_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

coords = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def point_sets(draw):
    """Random 2-D points: generic, on a coarse lattice (duplicates, ties, collinear triples),
    exactly collinear, or clusters with repeated points."""
    n = draw(st.integers(1, 70))
    kind = draw(st.sampled_from(["generic", "lattice", "collinear", "duplicates"]))
    if kind == "generic":
        X = draw(arrays(np.float64, (n, 2), elements=coords))
    elif kind == "lattice":
        X = draw(arrays(np.int8, (n, 2), elements=st.integers(0, 4))).astype(float)
    elif kind == "collinear":
        t = draw(arrays(np.float64, n, elements=coords))
        a, b = draw(coords), draw(coords)
        X = np.column_stack([t, a * t + b])
    else:
        base = draw(arrays(np.float64, (max(1, n // 3), 2), elements=coords))
        pick = draw(arrays(np.int64, n, elements=st.integers(0, base.shape[0] - 1)))
        X = base[pick]
    return X


def _eps_values(X, min_samples, extra):
    try:
        grid = list(eps_grid(X, min_samples, n_eps=6))
    except ValueError:  # fewer samples than min_samples
        grid = []
    return np.array(grid + extra)


@SETTINGS
@given(X=point_sets(), min_samples=st.integers(1, 12),
       extra=st.lists(st.floats(0.001, 25), max_size=3))
def test_fast_sweep_equals_direct_dbscan(X, min_samples, extra):
    eps = _eps_values(X, min_samples, extra)
    if eps.size == 0:
        return
    labels = dbscan_sweep(X, eps, min_samples)
    assert labels.shape == (eps.size, X.shape[0])
    for e, lab in zip(eps, labels, strict=True):
        assert_same_dbscan(X, e, min_samples, lab)


@SETTINGS
@given(X=point_sets(), min_samples=st.integers(1, 12))
def test_mst_weights_equal_reference_prim(X, min_samples):
    # The MST weights of a graph are unique: equal multisets show the candidate graph held an
    # MST of the complete mutual-reachability graph.
    fast = build_density_graph(X, min_samples)
    ref = build_density_graph(X, min_samples, method="prim")
    np.testing.assert_allclose(np.sort(fast.w), np.sort(ref.w), rtol=1e-12)


def _hidden_edge_gadgets(seed: int, n_gadgets: int = 8, m_side: int = 5):
    """Two points whose Gabriel disk holds a sparse point c with lambda(c) > d(a, b): their
    edge is not in the Delaunay triangulation of all points, yet DBSCAN joins them directly
    at eps in [d(a, b), lambda(c))."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(n_gadgets):
        ang = np.pi + rng.uniform(-0.6, 0.6, m_side)
        r = rng.uniform(0.8, 0.95, m_side)
        left = np.column_stack([r * np.cos(ang), r * np.sin(ang)])
        ang = rng.uniform(-0.6, 0.6, m_side)
        r = rng.uniform(0.8, 0.95, m_side)
        right = np.column_stack([1 + r * np.cos(ang), r * np.sin(ang)])
        c = [[0.5 + rng.normal(0, 0.02), rng.normal(0, 0.05)]]
        P = np.concatenate([[[0.0, 0.0], [1.0, 0.0]], left, right, c])
        th = rng.uniform(0, 2 * np.pi)
        R = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
        parts.append(P @ R.T * rng.uniform(0.5, 2) + rng.uniform(-40, 40, 2))
    return np.concatenate(parts), m_side + 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hidden_delaunay_edges_are_found(seed):
    X, k = _hidden_edge_gadgets(seed)
    fast = build_density_graph(X, k)
    ref = build_density_graph(X, k, method="prim")
    np.testing.assert_allclose(np.sort(fast.w), np.sort(ref.w), rtol=1e-12)
    # and DBSCAN itself agrees at eps where the hidden edges matter
    eps = np.linspace(0.5, 2.0, 7)
    for e, lab in zip(eps, dbscan_sweep(X, eps, k), strict=True):
        assert_same_dbscan(X, e, k, lab)


def test_larger_cloud_with_open_points_matches_direct():
    # Enough points for both cone passes and the Delaunay of open points to be used.
    rng = np.random.default_rng(5)
    X = np.concatenate([
        rng.normal((0, 0), 0.3, (700, 2)),
        rng.normal((3, 1), 0.6, (500, 2)),
        rng.uniform(-3, 6, (150, 2)),
        np.repeat(rng.normal((5, 5), 0.01, (5, 2)), 4, axis=0),
    ])
    eps = eps_grid(X, 10, n_eps=12)
    for e, lab in zip(eps, dbscan_sweep(X, eps, 10), strict=True):
        assert_same_dbscan(X, e, 10, lab)


@pytest.mark.parametrize("dim", [1, 3])
def test_other_dimensions(dim):
    rng = np.random.default_rng(dim)
    X = np.concatenate([rng.normal(0, 1, (60, dim)), rng.normal(4, 0.5, (60, dim))])
    eps = eps_grid(X, 5, n_eps=8)
    for e, lab in zip(eps, dbscan_sweep(X, eps, 5), strict=True):
        assert_same_dbscan(X, e, 5, lab)


def test_labels_numbered_like_sklearn_without_border_ambiguity():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 0.2, (80, 2)), rng.normal(3, 0.2, (80, 2))])
    X = X[rng.permutation(len(X))]
    lab = DBSCANPath(X, 5).labels(0.5)
    np.testing.assert_array_equal(lab, DBSCAN(eps=0.5, min_samples=5).fit(X).labels_)


def test_eps_order_is_kept_and_direct_method_agrees():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 2))
    eps = np.array([0.5, 0.1, 0.3])
    fast = dbscan_sweep(X, eps, 5)
    for e, lab in zip(eps, fast, strict=True):
        assert_same_dbscan(X, e, 5, lab)
    assert dbscan_sweep(X, eps, 5, method="direct").shape == (3, 200)


def test_grid_spans_the_data_scale():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 2))
    path = DBSCANPath(X, 10)
    grid = path.grid(50)
    assert grid.shape == (50,) and np.all(np.diff(grid) > 0)
    assert grid[0] == pytest.approx(path.core_distances_.min(), rel=1e-8)
    # geometric spacing: constant ratio
    ratio = grid[1:] / grid[:-1]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)
    # at the top every sample is a core point of one cluster; just below, not
    assert set(path.labels(grid[-1])) == {0}
    assert np.all(path.core_distances_ <= grid[-1])
    below = np.nextafter(path.merge_eps_, 0)
    all_core = np.all(path.core_distances_ <= below)
    assert not (all_core and set(path.labels(below)) == {0})
    diameter = np.max(np.linalg.norm(X[:, None] - X[None], axis=-1))
    assert grid[-1] <= diameter * (1 + 1e-8)
    lin = eps_grid(X, 10, 20, spacing="linear")
    np.testing.assert_allclose(np.diff(lin), np.diff(lin)[0], rtol=1e-9)


def test_grid_with_zero_core_distance_starts_at_zero():
    X = np.repeat([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]], 4, axis=0)
    grid = eps_grid(X, 3, 5)
    assert grid[0] == 0 and np.all(np.diff(grid) > 0)


def test_too_few_samples_is_reported_with_parameters():
    X = np.random.default_rng(0).normal(size=(5, 2))
    with pytest.raises(ValueError, match="no clusters found at any eps with min_samples=10"):
        eps_grid(X, 10)
    # the sweep itself still answers: everything is noise
    assert (dbscan_sweep(X, [0.5, 5.0], 10) == -1).all()


def test_bad_arguments():
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match="min_samples"):
        dbscan_sweep(X, [1.0], 0)
    with pytest.raises(ValueError, match="eps"):
        dbscan_sweep(X, [-1.0], 2)
    with pytest.raises(ValueError, match="method"):
        dbscan_sweep(X, [1.0], 2, method="nope")
    with pytest.raises(ValueError, match="spacing"):
        eps_grid(X, 2, spacing="nope")
