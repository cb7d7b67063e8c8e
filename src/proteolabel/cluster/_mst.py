"""An exact minimum spanning tree of the mutual-reachability graph, without the full matrix.

Notation: ``lambda(p)`` is the core distance of ``p`` (distance to its ``min_samples``-th
nearest sample, itself first), ``d`` the Euclidean distance and
``mr(a, b) = max(lambda(a), lambda(b), d(a, b))`` the mutual-reachability weight.

What we need is a sparse *candidate graph* ``H`` such that, for every pair ``(a, b)``, ``a``
and ``b`` are joined in ``H`` by a path whose edges all weigh ``<= mr(a, b)``. Then every
threshold of ``H`` has the same connected components as the same threshold of the complete
mutual-reachability graph, and so the MST of ``H`` is an MST of the complete graph (same
weights, same components at every threshold). Exact duplicates are merged first (they share a
core distance and join at weight ``lambda``), so below all points are distinct.

``H`` is the union of three edge sets:

1. **kNN edges**: ``(p, q)`` for ``q`` among ``p``'s ``min_samples`` nearest samples.
2. **Delaunay edges** of the (distinct) points.
3. **Shadow edges**: for each point ``c``, the pairs ``(a, b)`` of its neighbours strictly
   closer than ``lambda(c)`` with ``d(a, b) <= lambda(c)``, ``d(a, b) >= max(d(a, c),
   d(b, c))`` and ``d(a, b) >= max(lambda(a), lambda(b))``.

Why this suffices (induction on the pair ``(mr(a, b), d(a, b))`` in lexicographic order):
take ``a, b`` with ``lambda(a) >= lambda(b)``.

* If ``d(a, b) < lambda(a)``, then ``b`` is strictly closer to ``a`` than ``a``'s
  ``min_samples``-th neighbour, so it is among those neighbours: a kNN edge.
* Otherwise ``d(a, b) >= max(lambda(a), lambda(b))`` and ``mr(a, b) = d(a, b)``. If no other
  point lies in the closed disk with diameter ``ab`` (a Gabriel edge), ``(a, b)`` is a
  Delaunay edge. If some point ``c`` lies in it, then ``d(a, c) < d(a, b)`` and
  ``d(c, b) < d(a, b)``:

  - if ``lambda(c) <= d(a, b)``, both ``(a, c)`` and ``(c, b)`` weigh ``<= d(a, b)`` and are
    strictly shorter, so by induction they are joined in ``H`` by light enough paths;
  - if ``lambda(c) > d(a, b)``, then ``a`` and ``b`` are strictly closer to ``c`` than
    ``lambda(c)``, so both are among ``c``'s nearest neighbours, and ``(a, b)`` is a shadow
    edge of ``c``.

This is why Delaunay plus kNN alone is not enough: a sparse point ``c`` (large core distance)
between two dense points hides their Gabriel edge from the Delaunay triangulation of all
points, yet at eps between ``d(a, b)`` and ``lambda(c)`` ``c`` is not core and ``a, b`` are
directly density-connected. The shadow edges restore exactly those pairs, and there are at most
``(min_samples - 1) (min_samples - 2) / 2`` per point (usually far fewer pass the tests).

The shadow-edge tests are inclusive with a small relative tolerance, so round-off can only add
edges (every candidate is a real edge with its true weight, so extra edges never change the
MST's weights). The argument holds in any dimension. Delaunay comes from Qhull for 2-D and 3-D;
1-D points use consecutive sorted points (the 1-D Delaunay graph). Where Qhull cannot
triangulate (all points collinear, or it set points aside as numerically coincident) and for
more than three dimensions, an exact O(m^2)-time Prim's algorithm on the mutual-reachability
distance is used instead when there are at most ``PRIM_MAX`` distinct points; beyond that, a
collinear cloud uses the sorted order along its line, and points Qhull set aside are joined to
the Delaunay neighbours of the vertex Qhull kept for them (with a warning: exactness then holds
only up to Qhull's precision).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import Delaunay, QhullError

#: Largest number of distinct points for the quadratic Prim fallback.
PRIM_MAX = 20_000
#: Points per chunk when forming shadow edges (bounds memory: chunk * k * k floats).
_CHUNK = 32_768
_RTOL = 1e-9


def _dist(X: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between rows ``X[a]`` and ``X[b]``."""
    diff = X[a] - X[b]
    return np.sqrt(np.einsum("ij,ij->i", diff, diff))


def _unique_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of one representative per distinct row, and each row's representative number."""
    n = X.shape[0]
    order = np.lexsort(X.T[::-1])
    Xs = X[order]
    new = np.ones(n, dtype=bool)
    if n > 1:
        new[1:] = np.any(Xs[1:] != Xs[:-1], axis=1)
    group = np.cumsum(new) - 1
    rep_of = np.empty(n, dtype=np.int64)
    rep_of[order] = group
    reps = order[new]
    return reps, rep_of


def _prim(P: np.ndarray, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact MST of the complete mutual-reachability graph by Prim's algorithm, O(m^2)."""
    m = P.shape[0]
    in_tree = np.zeros(m, dtype=bool)
    best = np.full(m, np.inf)
    parent = np.full(m, -1, dtype=np.int64)
    u = np.empty(m - 1, dtype=np.int64)
    v = np.empty(m - 1, dtype=np.int64)
    w = np.empty(m - 1, dtype=np.float64)
    cur = 0
    in_tree[0] = True
    for i in range(m - 1):
        diff = P - P[cur]
        mr = np.maximum(np.sqrt(np.einsum("ij,ij->i", diff, diff)), lam)
        np.maximum(mr, lam[cur], out=mr)
        upd = (mr < best) & ~in_tree
        best[upd] = mr[upd]
        parent[upd] = cur
        best_out = np.where(in_tree, np.inf, best)
        cur = int(np.argmin(best_out))
        u[i], v[i], w[i] = parent[cur], cur, best[cur]
        in_tree[cur] = True
    return u, v, w


def _delaunay_edges(P: np.ndarray) -> np.ndarray | None:
    """Delaunay edges (e, 2) of distinct points, or None where Qhull cannot be trusted."""
    m, d = P.shape
    if d == 1:
        o = np.argsort(P[:, 0], kind="stable")
        return np.stack([o[:-1], o[1:]], axis=1)
    if d > 3 or m <= d + 1:
        return None
    try:
        tri = Delaunay(P)
    except QhullError:
        return _collinear_edges(P)
    s = tri.simplices
    cols = [(i, j) for i in range(d + 1) for j in range(i + 1, d + 1)]
    edges = np.concatenate([s[:, [i, j]] for i, j in cols], axis=0).astype(np.int64)
    if tri.coplanar.size:
        if m <= PRIM_MAX:
            return None
        warnings.warn(
            f"Qhull set {tri.coplanar.shape[0]} near-coincident points aside; they are joined "
            "to the Delaunay neighbours of the vertex kept for them, which is exact only up to "
            "Qhull's precision.",
            RuntimeWarning,
            stacklevel=4,
        )
        indptr, nbrs = tri.vertex_neighbor_vertices
        extra = []
        for p, vert in zip(tri.coplanar[:, 0], tri.coplanar[:, 2], strict=True):
            nb = nbrs[indptr[vert] : indptr[vert + 1]]
            extra.append(np.stack([np.full(nb.size + 1, p), np.append(nb, vert)], axis=1))
        edges = np.concatenate([edges, *extra], axis=0)
    return edges


def _collinear_edges(P: np.ndarray) -> np.ndarray | None:
    """Consecutive points along the line when all points are collinear, else None."""
    if P.shape[0] <= PRIM_MAX:
        return None
    c = P - P.mean(axis=0)
    _, s, vt = np.linalg.svd(c[:: max(1, c.shape[0] // 100_000)], full_matrices=False)
    if s.size > 1 and s[1] > 1e-12 * s[0]:
        raise ValueError(
            "Qhull could not triangulate these points, and they are not collinear; "
            "please report this with the data."
        )
    o = np.argsort(c @ vt[0], kind="stable")
    return np.stack([o[:-1], o[1:]], axis=1)


def _shadow_edges(
    P: np.ndarray, lam: np.ndarray, nb: np.ndarray, nd: np.ndarray
) -> np.ndarray:
    """Shadow edges (see the module docstring) of every point, in chunks.

    ``nb``/``nd`` are each distinct point's nearest neighbours (as distinct-point numbers) and
    their distances.
    """
    m, k = nb.shape
    out = []
    iu, ju = np.triu_indices(k, 1)
    for start in range(0, m, _CHUNK):
        sl = slice(start, min(start + _CHUNK, m))
        lc = lam[sl]
        ids, dc = nb[sl], nd[sl]
        inside = (dc > 0) & (dc < lc[:, None])
        # Only chunks rows with two or more strictly-inside neighbours can contribute.
        rows = np.flatnonzero(inside.sum(axis=1) >= 2)
        if rows.size == 0:
            continue
        ids, dc, inside, lc = ids[rows], dc[rows], inside[rows], lc[rows]
        a, b = ids[:, iu], ids[:, ju]
        ok = inside[:, iu] & inside[:, ju] & (a != b)
        r, t = np.nonzero(ok)
        a, b = a[r, t], b[r, t]
        dab = _dist(P, a, b)
        tol = 1 + _RTOL
        keep = (
            (dab <= lc[r] * tol)
            & (dab * tol >= np.maximum(dc[r, iu[t]], dc[r, ju[t]]))
            & (dab * tol >= np.maximum(lam[a], lam[b]))
        )
        out.append(np.stack([a[keep], b[keep]], axis=1))
    return np.concatenate(out, axis=0) if out else np.empty((0, 2), dtype=np.int64)


def mutual_reachability_mst(
    X: np.ndarray,
    lam: np.ndarray,
    knn_idx: np.ndarray,
    knn_dist: np.ndarray,
    method: str = "auto",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact MST of the mutual-reachability graph (see the module docstring).

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Points.
    lam : ndarray of shape (n,)
        Core distances (finite).
    knn_idx, knn_dist : ndarray of shape (n, k)
        Each point's ``k = min_samples`` nearest samples (itself first) and their distances.
    method : {"auto", "prim"}, default="auto"
        ``"prim"`` forces the quadratic reference algorithm (for tests).

    Returns
    -------
    u, v, w : ndarrays of shape (n - 1,)
        Tree edges (sample indices) and their mutual-reachability weights.

    """
    n = X.shape[0]
    reps, rep_of = _unique_rows(X)
    m = reps.size
    P = X[reps]
    lam_r = lam[reps]
    if m == 1:
        ru = rv = np.empty(0, np.int64)
        rw = np.empty(0, np.float64)
    else:
        edges = None if method == "prim" else _delaunay_edges(P)
        if edges is None:
            if method != "prim" and m > PRIM_MAX:  # pragma: no cover - guarded above
                raise ValueError("no exact MST construction applies to these points")
            ru, rv, rw = _prim(P, lam_r)
        else:
            nb = rep_of[knn_idx[reps]]
            nd = knn_dist[reps]
            knn_e = np.stack([np.repeat(np.arange(m), nb.shape[1]), nb.ravel()], axis=1)
            cand = np.concatenate([edges, knn_e, _shadow_edges(P, lam_r, nb, nd)], axis=0)
            lo = np.minimum(cand[:, 0], cand[:, 1])
            hi = np.maximum(cand[:, 0], cand[:, 1])
            key = np.unique(lo[lo != hi] * m + hi[lo != hi])
            a, b = key // m, key % m
            wt = np.maximum(np.maximum(lam_r[a], lam_r[b]), _dist(P, a, b))
            # All weights are > 0 here (distinct points), as scipy's MST requires.
            g = coo_matrix((wt, (a, b)), shape=(m, m)).tocsr()
            t = minimum_spanning_tree(g).tocoo()
            if t.nnz != m - 1:  # pragma: no cover - the candidate graph is connected
                raise RuntimeError("candidate graph is not connected; please report this")
            ru, rv = t.row.astype(np.int64), t.col.astype(np.int64)
            rw = np.maximum(np.maximum(lam_r[ru], lam_r[rv]), _dist(P, ru, rv))
    # Back to sample indices; every duplicate joins its representative at its core distance.
    dup = np.flatnonzero(reps[rep_of] != np.arange(n))
    u = np.concatenate([reps[ru], dup])
    v = np.concatenate([reps[rv], reps[rep_of[dup]]])
    w = np.concatenate([rw, lam[dup]])
    return u, v, w
