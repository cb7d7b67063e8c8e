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

**The argument.** Take ``a, b`` with ``lambda(a) >= lambda(b)``; induction on the pair
``(mr(a, b), d(a, b))`` in lexicographic order.

(i) If ``d(a, b) < lambda(a)``, ``b`` is strictly closer to ``a`` than ``a``'s
    ``min_samples``-th neighbour, so it is among those neighbours: a **kNN edge**.
(ii) Otherwise ``mr(a, b) = d(a, b)``. Suppose a point ``c`` lies in the open *lune* of
     ``(a, b)`` (``d(a, c) < d(a, b)`` and ``d(c, b) < d(a, b)``). If ``lambda(c) <= d(a, b)``,
     the edges ``(a, c)`` and ``(c, b)`` weigh ``<= d(a, b)`` and are strictly shorter, so by
     induction they are joined by light enough paths. If ``lambda(c) > d(a, b)``, ``a`` and
     ``b`` are strictly closer to ``c`` than ``lambda(c)``, so both are among ``c``'s nearest
     neighbours: a **shadow edge** of ``c`` (the pairs of ``c``'s neighbours strictly inside
     ``lambda(c)`` whose lune holds ``c``, with ``max(lambda(a), lambda(b)) <= d(a, b) <=
     lambda(c)``).
(iii) Otherwise the lune is empty: ``(a, b)`` is an edge of the relative neighbourhood graph
      (RNG), which every Delaunay triangulation contains.

This is why Delaunay plus kNN alone is not enough: a sparse point ``c`` (large core distance)
between two dense points hides their edge from the Delaunay triangulation of all points, yet at
eps between ``d(a, b)`` and ``lambda(c)`` ``c`` is not core while ``a`` and ``b`` are directly
density-connected. The shadow edges restore exactly those pairs.

**RNG edges in 2-D without triangulating everything.** Split the directions around each point
``a`` into 6 cones of 60 degrees. Query ``a``'s ``K`` nearest neighbours (24, then 64 for the
points that need it) and let ``R(a)`` be the ``K``-th distance. If ``(a, b)`` is an RNG edge
and another point ``c`` in the same cone as ``b`` were clearly closer to ``a``
(``d(a, c) (1 + 1e-9) < d(a, b)``), the angle ``c a b <= 60`` degrees would give
``d(c, b)^2 <= d(a, b)^2 - d(a, c) (d(a, b) - d(a, c)) < d(a, b)^2``, putting ``c`` in the lune.
So ``b`` is within a factor ``1 + 1e-9`` of the nearest point of its cone:

* if ``d(a, b) < R(a)`` (or ``< R(b)``), ``b`` is in ``a``'s list: a **cone edge** (every list
  point within that factor of its cone's nearest);
* otherwise ``a``'s cone towards ``b`` holds no list point clearly inside ``R(a)``, and the
  same holds for ``b``. Call *open* the points with such an empty cone. Both ends are open,
  the lune is empty of all points and so of open ones, and ``(a, b)`` is an RNG edge, hence
  a Delaunay edge, of the open points: a **Delaunay edge of the open points** (usually under
  1% of the points).

Tests on computed distances are inclusive (with a relative tolerance of 1e-9 in the shadow and
cone rules), so round-off can only add edges, and every candidate is a real edge with its true
weight, so extra edges never change the MST's weights. 1-D points use consecutive sorted points
(the 1-D RNG); 3-D points triangulate all points. Where Qhull cannot triangulate (collinear or
coincident open points), small sets use the complete graph (exact), large exactly collinear
sets use consecutive points along the line (exact), and points Qhull sets aside as numerically
coincident are joined to the Delaunay neighbours of the vertex it kept, with a warning (exact
only up to Qhull's precision). More than three dimensions use an exact O(m^2) Prim's algorithm
on the mutual-reachability distance, up to ``PRIM_MAX`` distinct points.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import Delaunay, QhullError, cKDTree

#: Largest number of distinct points for the quadratic Prim's algorithm (d > 3, fallbacks).
PRIM_MAX = 20_000
#: Largest number of open points joined by the complete graph when Qhull cannot triangulate.
COMPLETE_MAX = 2_000
#: Neighbour list lengths for the 2-D cone stage (first pass, second pass).
CONE_K = (24, 64)
#: Number of direction cones around each point (60 degrees each; the code assumes 6).
N_CONES = 6
#: Rows per chunk of neighbour queries (bounds memory: chunk * K values).
_CHUNK = 65_536
_RTOL = 1e-9
_TOL = 1 + _RTOL
_SQRT3 = float(np.sqrt(3.0))


@dataclass
class DensityGraph:
    """Core distances, nearest neighbours and the mutual-reachability MST of a point set.

    Every field refers to the points in the order ``X[perm]`` (a spatially coherent order,
    which keeps memory access local): indices are positions in that order.
    """

    perm: np.ndarray  # (n,) sample index at each position
    core_distances: np.ndarray  # (n,), inf when fewer than min_samples samples
    knn_idx: np.ndarray  # (n, k) sample indices, nearest first (the point or a duplicate)
    knn_dist: np.ndarray  # (n, k)
    u: np.ndarray  # MST edges (sample indices) ...
    v: np.ndarray
    w: np.ndarray  # ... and their mutual-reachability weights; empty if no point can be core


def _dist(X: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between rows ``X[a]`` and ``X[b]`` (column-wise gathers: faster)."""
    acc = np.zeros(a.shape, dtype=np.float64)
    for col in np.ascontiguousarray(X.T):
        diff = col.take(a) - col.take(b)
        acc += diff * diff
    return np.sqrt(acc)


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
    u = np.empty(max(m - 1, 0), dtype=np.int64)
    v = np.empty(max(m - 1, 0), dtype=np.int64)
    w = np.empty(max(m - 1, 0), dtype=np.float64)
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


def _complete_edges(ids: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(ids.size, 1)
    return np.stack([ids[i], ids[j]], axis=1)


def _rng_superset(P: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Edges (e, 2) containing every RNG edge of the points ``P[ids]`` (numbers from ``ids``).

    Delaunay edges from Qhull, with the fallbacks the module docstring lists.
    """
    Q = P[ids]
    m, d = Q.shape
    if m < 2:
        return np.empty((0, 2), dtype=np.int64)
    if d == 1:
        o = np.argsort(Q[:, 0], kind="stable")
        return np.stack([ids[o[:-1]], ids[o[1:]]], axis=1)
    if m <= d + 1:
        return _complete_edges(ids)
    try:
        tri = Delaunay(Q)
    except QhullError:
        if m <= COMPLETE_MAX:
            return _complete_edges(ids)
        return _collinear_edges(Q, ids)
    if tri.coplanar.size and m <= COMPLETE_MAX:
        return _complete_edges(ids)
    s = tri.simplices
    pairs = [(i, j) for i in range(d + 1) for j in range(i + 1, d + 1)]
    edges = np.concatenate([s[:, [i, j]] for i, j in pairs], axis=0).astype(np.int64)
    if tri.coplanar.size:
        warnings.warn(
            f"Qhull set {tri.coplanar.shape[0]} near-coincident points aside; they are joined "
            "to the Delaunay neighbours of the vertex kept for them, which is exact only up to "
            "Qhull's precision.",
            RuntimeWarning,
            stacklevel=5,
        )
        indptr, nbrs = tri.vertex_neighbor_vertices
        extra = []
        for p, vert in zip(tri.coplanar[:, 0], tri.coplanar[:, 2], strict=True):
            nb = nbrs[indptr[vert] : indptr[vert + 1]]
            extra.append(np.stack([np.full(nb.size + 1, p), np.append(nb, vert)], axis=1))
        edges = np.concatenate([edges, *extra], axis=0)
    return ids[edges]


def _collinear_edges(Q: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Consecutive points along the line, for points Qhull found collinear."""
    c = Q - Q.mean(axis=0)
    _, sv, vt = np.linalg.svd(c, full_matrices=False)
    if sv.size > 1 and sv[1] > 1e-12 * sv[0]:
        raise ValueError(
            "Qhull could not triangulate these points, and they are not collinear; "
            "please report this with the data."
        )
    o = np.argsort(c @ vt[0], kind="stable")
    return np.stack([ids[o[:-1]], ids[o[1:]]], axis=1)


def _cone_stage(X: np.ndarray, d: np.ndarray, nb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cone edges of some points from their neighbour lists, and which points are open.

    ``d``/``nb`` are the lists (distances, sample indices), nearest first, with the point
    itself (or a duplicate) at distance 0 first; entries at distance 0 are ignored. Returns
    edges as (list row, sample index) pairs and a mask of open rows.
    """
    rows = d.shape[0]
    valid = d > 0
    dx = X[:, 0].take(nb)
    dx -= dx[:, :1]
    dy = X[:, 1].take(nb)
    dy -= dy[:, :1]
    # Cones of 60 degrees: [-180, -120), [-120, -60), [-60, 0), [0, 60), [60, 120), [120, 180]
    # as 0..5, from comparisons (|angle from the x axis| >= 60 degrees <=> |dy| >= sqrt(3)|dx|).
    steep = np.abs(dy) >= _SQRT3 * np.abs(dx)
    cone = np.where(steep, 1, np.where(dx > 0, 2, 0)).astype(np.int8)
    cone += 3 * (dy >= 0).astype(np.int8)
    cone[~valid] = -1
    # Lists are sorted, so a cone's nearest point is its first entry.
    cmin = np.full((rows, N_CONES), np.inf)
    r = np.arange(rows)
    for c in range(N_CONES):
        is_c = cone == c
        j = np.argmax(is_c, axis=1)
        has = is_c[r, j]
        cmin[has, c] = d[has, j[has]]
    near = np.take_along_axis(cmin, np.maximum(cone, 0).astype(np.int64), axis=1)
    sel = valid & (d <= near * _TOL)
    rr, t = np.nonzero(sel)
    edges = np.stack([rr, nb[rr, t]], axis=1)
    # A cone is occupied when a point in it is clearly (by more than the tolerance) inside
    # the list radius; a point with an unoccupied cone is open.
    still_open = np.any(cmin * _TOL >= d[:, -1:], axis=1)
    return edges, still_open


def _shadow_edges(
    P: np.ndarray, lam: np.ndarray, nb: np.ndarray, nd: np.ndarray
) -> np.ndarray:
    """Shadow edges (see the module docstring) of every point, in chunks.

    ``nb``/``nd`` are each distinct point's ``min_samples`` nearest neighbours (as
    distinct-point numbers) and their distances.
    """
    m, k = nb.shape
    out = []
    iu, ju = np.triu_indices(k, 1)
    for start in range(0, m, _CHUNK):
        sl = slice(start, min(start + _CHUNK, m))
        lc = lam[sl]
        ids, dc = nb[sl], nd[sl]
        # A shadow pair needs both ends strictly inside lambda(c) and no sparser than c
        # (lambda(a), lambda(b) <= d(a, b) <= lambda(c)); only rows with two such can count.
        inside = (dc > 0) & (dc < lc[:, None]) & (lam[ids] <= lc[:, None] * _TOL)
        rows = np.flatnonzero(np.count_nonzero(inside, axis=1) >= 2)
        if rows.size == 0:
            continue
        ids, dc, inside, lc = ids[rows], dc[rows], inside[rows], lc[rows]
        r, t = np.nonzero(inside[:, iu] & inside[:, ju])
        a, b = ids[r, iu[t]], ids[r, ju[t]]
        dab = _dist(P, a, b)
        keep = (
            (dab <= lc[r] * _TOL)
            & (dab * _TOL >= np.maximum(dc[r, iu[t]], dc[r, ju[t]]))
            & (dab * _TOL >= np.maximum(lam[a], lam[b]))
            & (a != b)
        )
        out.append(np.stack([a[keep], b[keep]], axis=1))
    return np.concatenate(out, axis=0) if out else np.empty((0, 2), dtype=np.int64)


def _query(tree: cKDTree, Q: np.ndarray, K: int, workers: int):
    """Chunked k-nearest-neighbour query; yields (slice, distances, indices)."""
    for start in range(0, Q.shape[0], _CHUNK):
        sl = slice(start, min(start + _CHUNK, Q.shape[0]))
        dist, idx = tree.query(Q[sl], k=K, workers=workers)
        yield sl, dist.reshape(-1, K), idx.reshape(-1, K).astype(np.int64)


def build_density_graph(
    X: np.ndarray, min_samples: int, method: str = "auto", workers: int = -1
) -> DensityGraph:
    """Core distances, neighbour lists and an exact mutual-reachability MST of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Points (float64, finite).
    min_samples : int
        Neighbours counted for the core distance, the point itself first.
    method : {"auto", "prim"}, default="auto"
        ``"prim"`` forces the quadratic reference algorithm (for tests).
    workers : int, default=-1
        Threads for the neighbour queries (-1: all cores).

    Returns
    -------
    DensityGraph
        See its fields; positions refer to ``X[perm]``.

    """
    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] > 1:
        # k-d tree leaf order: neighbours end up close in memory, so gathers stay in cache.
        perm = cKDTree(X, leafsize=32).indices.astype(np.int64)
        X = np.ascontiguousarray(X[perm])
    else:
        perm = np.arange(X.shape[0], dtype=np.int64)
    return _build_in_order(X, perm, min_samples, method, workers)


def _build_in_order(
    X: np.ndarray, perm: np.ndarray, min_samples: int, method: str, workers: int
) -> DensityGraph:
    """:func:`build_density_graph` on points already in their working order."""
    n, dim = X.shape
    k = min(min_samples, n)
    tree = cKDTree(X)
    cones = method == "auto" and dim == 2 and n > 3 and min_samples <= n
    K1 = min(n, max(k, 2, CONE_K[0] if cones else 0))

    lam = np.full(n, np.inf)
    knn_i = np.empty((n, k), dtype=np.int64)
    knn_d = np.empty((n, k), dtype=np.float64)
    cone_edges: list[np.ndarray] = []
    still_open = np.zeros(n, dtype=bool)
    has_dup = False
    for sl, dist, idx in _query(tree, X, K1, workers):
        knn_i[sl], knn_d[sl] = idx[:, :k], dist[:, :k]
        has_dup = has_dup or bool(np.any(dist[:, 1:2] == 0))
        if min_samples <= n:
            lam[sl] = dist[:, k - 1]
        if cones:
            e, op = _cone_stage(X, dist, idx)
            e[:, 0] += sl.start
            cone_edges.append(e)
            still_open[sl] = op
    if min_samples > n:
        empty = np.empty(0, dtype=np.int64)
        return DensityGraph(perm, lam, knn_i, knn_d, empty, empty, np.empty(0))

    # Distinct points: P = X[reps]; rep_of maps samples to distinct-point numbers.
    if has_dup:
        reps, rep_of = _unique_rows(X)
    else:
        reps = rep_of = np.arange(n)
    m = reps.size
    P, lam_r = X[reps], lam[reps]

    if m == 1:
        ru = rv = np.empty(0, dtype=np.int64)
        rw = np.empty(0)
    elif method == "prim" or m <= 3 or dim > 3:
        if m > PRIM_MAX:
            raise ValueError(
                f"exact DBSCAN sweeps in {dim} dimensions are limited to {PRIM_MAX} distinct "
                f"points (got {m}); the latent space is meant to be 2-D"
            )
        ru, rv, rw = _prim(P, lam_r)
    else:
        nb = rep_of[knn_i[reps]]
        # kNN edges, kept from the sparser end only (the edge weighs its lambda).
        own = np.repeat(np.arange(m), k).reshape(m, k)
        mask = lam_r[nb] <= lam_r[:, None]
        parts = [np.stack([own[mask], nb[mask]], axis=1)]
        parts.append(_shadow_edges(P, lam_r, nb, knn_d[reps]))
        if cones:
            K2 = min(n, CONE_K[1])
            todo = np.flatnonzero(still_open[reps])  # distinct-point numbers
            if K2 > K1 and todo.size:
                for sl, dist, idx in _query(tree, P[todo], K2, workers):
                    e, op = _cone_stage(X, dist, idx)
                    e[:, 0] = reps[todo[sl][e[:, 0]]]
                    cone_edges.append(e)
                    still_open[reps[todo[sl]]] = op
            parts.extend(rep_of[e] for e in cone_edges)
            parts.append(_rng_superset(P, np.flatnonzero(still_open[reps])))
        else:
            parts.append(_rng_superset(P, np.arange(m)))
        ru, rv, rw = _mst_of_candidates(P, lam_r, np.concatenate(parts, axis=0))

    # Back to sample indices; every duplicate joins its representative at its core distance.
    dup = np.flatnonzero(reps[rep_of] != np.arange(n))
    u = np.concatenate([reps[ru], dup])
    v = np.concatenate([reps[rv], reps[rep_of[dup]]])
    w = np.concatenate([rw, lam[dup]])
    return DensityGraph(perm, lam, knn_i, knn_d, u, v, w)


def _mst_of_candidates(
    P: np.ndarray, lam: np.ndarray, cand: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MST (u, v, w) of the candidate edges under mutual-reachability weights."""
    m = P.shape[0]
    lo = np.minimum(cand[:, 0], cand[:, 1])
    hi = np.maximum(cand[:, 0], cand[:, 1])
    key = (lo * m + hi)[lo != hi]
    key.sort()
    if key.size:
        key = key[np.concatenate([[True], key[1:] != key[:-1]])]
    a, b = key // m, key % m
    wt = np.maximum(np.maximum(lam[a], lam[b]), _dist(P, a, b))
    # All weights are > 0 here (distinct points), as scipy's MST requires.
    g = coo_matrix((wt, (a, b)), shape=(m, m)).tocsr()
    t = minimum_spanning_tree(g).tocoo()
    if t.nnz != m - 1:  # pragma: no cover - the candidate graph is connected
        raise RuntimeError("candidate graph is not connected; please report this")
    ru, rv = t.row.astype(np.int64), t.col.astype(np.int64)
    rw = np.maximum(np.maximum(lam[ru], lam[rv]), _dist(P, ru, rv))
    return ru, rv, rw
