"""Every eps's DBSCAN labels from structures computed once.

DBSCAN with ``min_samples`` (counting the point itself, as scikit-learn does) and radius
``eps`` is fully described by two facts:

* a point ``p`` is a *core* point exactly when its core distance ``lambda(p)``, the distance to
  its ``min_samples``-th nearest sample (itself first), is ``<= eps``;
* two core points share a cluster exactly when a chain of core points joins them with every
  step ``<= eps``; equivalently when they are joined by a path of edges whose *mutual
  reachability* weight ``mr(a, b) = max(lambda(a), lambda(b), d(a, b))`` is ``<= eps``.

So one minimum spanning tree (MST) of the mutual-reachability graph gives the core clusters of
every eps at once: keep the tree edges of weight ``<= eps``. A non-core point ``p`` is a border
point when some core point ``q`` lies within ``eps``; such a ``q`` is strictly closer than
``lambda(p)``, so it is among ``p``'s ``min_samples`` nearest neighbours, and the neighbour with
the smallest ``max(lambda(q), d(p, q))`` is a valid core point for every eps at which ``p`` is a
border point. :class:`DBSCANPath` stores these structures; :func:`dbscan_sweep` and
:func:`eps_grid` are thin functions over it. See :mod:`proteolabel.cluster._mst` for how the
MST is built exactly without the full distance matrix.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from numbers import Integral

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.cluster import DBSCAN
from sklearn.utils import check_array

from proteolabel.cluster._mst import build_density_graph

#: Spacings :func:`eps_grid` knows.
SPACINGS = ("geometric", "linear")
_NUDGE = 1 + 1e-9


def _check_min_samples(min_samples: int) -> int:
    if not isinstance(min_samples, Integral) or isinstance(min_samples, bool) or min_samples < 1:
        raise ValueError(f"min_samples must be an integer >= 1, got {min_samples!r}")
    return int(min_samples)


class DBSCANPath:
    """DBSCAN's labels at every eps, from one kNN query and one mutual-reachability MST.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Points (Euclidean distance). Built for 2-D latents (fast path: nearest-neighbour cones
        and a small Delaunay triangulation); 1-D and 3-D points are exact too (sorted order,
        full Delaunay); more dimensions use an exact quadratic-time MST, up to 20,000
        distinct points. See :mod:`proteolabel.cluster._mst` for why the MST is exact.
    min_samples : int, default=10
        DBSCAN's ``min_samples``, counting the point itself (as scikit-learn does).

    Attributes
    ----------
    core_distances_ : ndarray of shape (n_samples,)
        Distance to the ``min_samples``-th nearest sample, the point itself first (``inf`` when
        there are fewer than ``min_samples`` samples). A point is core at eps iff this is
        ``<= eps``.
    mst_ : tuple of ndarrays (u, v, w)
        Edges of a minimum spanning tree of the mutual-reachability graph, sorted by weight.
        Empty when no point can be core.
    merge_eps_ : float
        Smallest eps at which every sample is a core point of one single cluster (the largest
        MST weight); ``nan`` when no point can be core.
    border_reach_, border_to_ : ndarray of shape (n_samples,)
        For each sample, the smallest ``max(lambda(q), d(p, q))`` over its nearest neighbours
        and the neighbour ``q`` that attains it: a non-core sample is a border point of ``q``'s
        cluster at every eps ``>= border_reach_``.

    """

    def __init__(self, X, min_samples: int = 10) -> None:
        X = check_array(X, dtype=np.float64, ensure_min_samples=1)
        self.min_samples = _check_min_samples(min_samples)
        self.n_samples_ = n = X.shape[0]
        g = build_density_graph(X, self.min_samples)
        # Internally everything lives in the graph's spatially coherent order ("positions").
        perm = g.perm
        inv = np.empty(n, dtype=np.int64)
        inv[perm] = np.arange(n)
        self._perm, self._inv = perm, inv
        lam = g.core_distances
        # Border assignment: the neighbour q minimising max(lambda(q), d(p, q)).
        reach = np.maximum(lam[g.knn_idx], g.knn_dist)
        j = np.argmin(reach, axis=1)
        rows = np.arange(n)
        self._lam, self._reach, self._bto = lam, reach[rows, j], g.knn_idx[rows, j]
        order = np.argsort(g.w, kind="stable")
        self._mst = (g.u[order], g.v[order], g.w[order])
        self.core_distances_ = lam[inv]
        self.border_reach_ = self._reach[inv]
        self.border_to_ = perm[self._bto[inv]]
        self.mst_ = (perm[self._mst[0]], perm[self._mst[1]], self._mst[2])
        self.merge_eps_ = float(g.w.max()) if g.w.size else float("nan")
        if n == 1 and np.isfinite(lam[0]):
            self.merge_eps_ = float(lam[0])

    # ------------------------------------------------------------------ grid
    def eps_range(self) -> tuple[float, float]:
        """Smallest eps with a core point, and smallest eps with all samples core in one cluster.

        Raises
        ------
        ValueError
            If no sample can be a core point (fewer samples than ``min_samples``).

        """
        if not np.isfinite(self.merge_eps_):
            raise ValueError(
                f"no clusters found at any eps with min_samples={self.min_samples}: there are "
                f"only {self.n_samples_} samples, so no sample can be a core point. Lower "
                "min_samples."
            )
        return float(self.core_distances_.min()), float(self.merge_eps_)

    def grid(self, n_eps: int = 100, spacing: str = "geometric") -> np.ndarray:
        """Eps values spanning the data's own distance scale; see :func:`eps_grid`."""
        if not isinstance(n_eps, Integral) or isinstance(n_eps, bool) or n_eps < 1:
            raise ValueError(f"n_eps must be an integer >= 1, got {n_eps!r}")
        if spacing not in SPACINGS:
            raise ValueError(f"spacing must be one of {SPACINGS}, got {spacing!r}")
        lo, hi = self.eps_range()
        # Both ends are distances between samples; nudged up by one part in 1e9 so that
        # round-off (scikit-learn compares squared distances) cannot flip a sample at an end.
        lo, hi = lo * _NUDGE, hi * _NUDGE
        if n_eps == 1 or hi <= lo:
            return np.array([hi])
        if spacing == "linear":
            grid = np.linspace(lo, hi, n_eps)
        elif lo > 0:
            grid = np.geomspace(lo, hi, n_eps)
        else:
            # Some points are core at eps = 0 (min_samples duplicates): keep 0, then go
            # geometrically from the smallest positive event (core distance or MST weight).
            pos = np.concatenate([self.core_distances_, self.mst_[2]])
            pos = pos[np.isfinite(pos) & (pos > 0)]
            lo2 = float(pos.min()) * _NUDGE if pos.size else hi
            grid = np.concatenate([[0.0], np.geomspace(lo2, hi, n_eps - 1)])
        grid[0], grid[-1] = lo, hi  # exact ends despite round-off
        return grid

    # ---------------------------------------------------------------- labels
    def labels(self, eps: float) -> np.ndarray:
        """DBSCAN labels of all samples at one eps (-1 = noise), as int64."""
        return next(self.iter_labels([eps])).astype(np.int64)

    def iter_labels(self, eps_values: Sequence[float]) -> Iterator[np.ndarray]:
        """Yield the labels (int32, -1 = noise) at each eps, in the order given.

        Works through the eps values in increasing order, merging core components with the
        tree edges that become light enough, so the cost per eps is O(n) plus the new edges.
        The yielded array is a fresh array the caller may keep.
        """
        eps = np.asarray(eps_values, dtype=np.float64).ravel()
        if eps.size and (not np.all(np.isfinite(eps)) or eps.min() < 0):
            raise ValueError("eps values must be finite and >= 0")
        order = np.argsort(eps, kind="stable")
        results: dict[int, np.ndarray] = {}
        # Results are yielded in the caller's order; computed in increasing eps order. To
        # keep memory bounded when the caller's order is already increasing (the usual case),
        # yield as soon as the next expected result is ready.
        next_out = 0
        for pos_in_sorted, lab in zip(order, self._labels_increasing(eps[order]), strict=True):
            results[int(pos_in_sorted)] = lab
            while next_out in results:
                yield results.pop(next_out)
                next_out += 1

    def _labels_increasing(self, eps_sorted: np.ndarray) -> Iterator[np.ndarray]:
        n = self.n_samples_
        u, v, w = self._mst
        lam, reach, bto = self._lam, self._reach, self._bto
        comp = np.arange(n, dtype=np.int64)  # a representative position per component
        # Each representative carries the lowest sample index of its component (components
        # of two or more points hold core points only), so clusters can be numbered by their
        # lowest-index core point, as scikit-learn numbers them.
        key = self._perm
        remap = np.arange(n, dtype=np.int64)
        mark = np.zeros(n, dtype=bool)
        root_id = np.zeros(n, dtype=np.int32)
        pos = 0
        for e in eps_sorted:
            end = int(np.searchsorted(w, e, side="right"))
            if end > pos:
                # Merge the components joined by the tree edges that just became light enough.
                cu, cv = comp[u[pos:end]], comp[v[pos:end]]
                nodes, inv = np.unique(np.concatenate([cu, cv]), return_inverse=True)
                m, ne = nodes.size, end - pos
                g = coo_matrix((np.ones(ne), (inv[:ne], inv[ne:])), shape=(m, m))
                n_cl, cl = connected_components(g, directed=False)
                kmin = np.full(n_cl, np.iinfo(np.int64).max)
                np.minimum.at(kmin, cl, key[nodes])
                is_rep = key[nodes] == kmin[cl]
                rep = np.empty(n_cl, dtype=np.int64)
                rep[cl[is_rep]] = nodes[is_rep]
                remap[nodes] = rep[cl]
                comp = remap[comp]
                remap[nodes] = nodes
                pos = end
            lab = np.full(n, -1, dtype=np.int32)
            core = np.flatnonzero(lam <= e)
            if core.size:
                roots = comp[core]
                mark[roots] = True
                R = np.flatnonzero(mark)
                mark[R] = False
                root_id[R[np.argsort(key[R])]] = np.arange(R.size, dtype=np.int32)
                lab[core] = root_id[roots]
                border = np.flatnonzero((reach <= e) & (lam > e))
                lab[border] = lab[bto[border]]
            yield lab[self._inv]


def eps_grid(X, min_samples: int = 10, n_eps: int = 100, spacing: str = "geometric"):
    """Eps values for a DBSCAN sweep, derived from the data's own distance scale.

    The grid runs from the smallest core distance (the smallest eps at which any sample is a
    core point, so below it everything is noise) to the smallest eps at which every sample is
    a core point of one single cluster (the largest edge of the mutual-reachability minimum
    spanning tree; it never exceeds the data's diameter, since every core distance and every
    tree edge is a distance between two samples). Both ends are included, each raised by one
    part in 10^9 so that round-off cannot flip the sample that defines it (scikit-learn
    compares squared distances, which round differently at an exact tie).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Points.
    min_samples : int, default=10
        DBSCAN's ``min_samples`` (counting the point itself).
    n_eps : int, default=100
        Number of eps values.
    spacing : {"geometric", "linear"}, default="geometric"
        ``"geometric"`` spaces the values evenly on a log scale (a constant ratio between
        neighbours), so small scales, where dense groups separate, get as fine a resolution as
        large ones. If some samples are core at eps = 0 (``min_samples`` duplicates), the grid
        starts at 0 and continues geometrically from the smallest positive event.
        ``"linear"`` spaces them evenly.

    Returns
    -------
    ndarray of shape (n_eps,)
        Increasing eps values (a single value when both ends coincide).

    Raises
    ------
    ValueError
        If there are fewer samples than ``min_samples`` (no sample can be core).

    """
    return DBSCANPath(X, min_samples).grid(n_eps, spacing)


def dbscan_sweep(X, eps_values, min_samples: int = 10, method: str = "auto") -> np.ndarray:
    """DBSCAN labels of all samples at every eps.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Points (Euclidean distance).
    eps_values : array-like of float
        The eps values, any order.
    min_samples : int, default=10
        DBSCAN's ``min_samples`` (counting the point itself).
    method : {"auto", "path", "direct"}, default="auto"
        ``"path"`` (what ``"auto"`` uses) derives every eps's labels from one kNN query and one
        mutual-reachability minimum spanning tree (:class:`DBSCANPath`); ``"direct"`` fits
        :class:`sklearn.cluster.DBSCAN` once per eps (slow; for checking).

    Returns
    -------
    ndarray of int32 of shape (n_eps, n_samples)
        Row ``i`` holds the labels at ``eps_values[i]``; ``-1`` is noise. Clusters are numbered
        by their lowest-index core point, as scikit-learn numbers them. Both methods agree up to
        the choice of cluster for a border point within reach of two clusters, which DBSCAN
        itself leaves to processing order.

    """
    eps = np.asarray(eps_values, dtype=np.float64).ravel()
    if method not in ("auto", "path", "direct"):
        raise ValueError(f"method must be 'auto', 'path' or 'direct', got {method!r}")
    min_samples = _check_min_samples(min_samples)
    if method == "direct":
        X = check_array(X, dtype=np.float64)
        out = np.empty((eps.size, X.shape[0]), dtype=np.int32)
        for i, e in enumerate(eps):
            if e <= 0:
                # scikit-learn requires eps > 0; at eps = 0 only exact duplicates are neighbours.
                e = np.nextafter(0.0, 1.0)
            out[i] = DBSCAN(eps=float(e), min_samples=min_samples).fit(X).labels_
        return out
    path = DBSCANPath(X, min_samples)
    out = np.empty((eps.size, path.n_samples_), dtype=np.int32)
    for i, lab in enumerate(path.iter_labels(eps)):
        out[i] = lab
    return out
