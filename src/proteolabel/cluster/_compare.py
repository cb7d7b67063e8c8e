"""Compare clusterers on one latent: a registry of methods and one loop over it."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import (
    HDBSCAN,
    OPTICS,
    AffinityPropagation,
    AgglomerativeClustering,
    KMeans,
    SpectralClustering,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_array, check_random_state
from threadpoolctl import threadpool_limits

from proteolabel._utils import seed_from_random_state
from proteolabel.cluster._eps_search import EpsSearch
from proteolabel.cluster._scores import SCORE_NAMES, encode_labels, score_partition

#: Largest k tried by the "k by silhouette" and "k by BIC" rules.
K_MAX = 10
#: Methods whose memory grows with n^2 are skipped above this many samples.
QUADRATIC_MAX = 5_000
#: Up to this many samples the methods run on one BLAS/OpenMP thread (faster on tiny work).
SINGLE_THREAD_MAX = 50_000


@dataclass
class MethodResult:
    """What one method returns to the comparison loop."""

    labels: np.ndarray
    params: dict[str, Any]
    status: str = "ok"
    notes: list[str] = field(default_factory=list)
    curve: pd.DataFrame | None = None  # e.g. silhouette or BIC against k
    estimator: Any = None


@dataclass(frozen=True)
class ClustererSpec:
    """A registry entry: how to run a clusterer and how its parameter is picked.

    ``run(X, context)`` gets the latent and a dict with ``y_tune`` (integer codes, -1 =
    not a tune sample), ``n_classes`` (classes among tune samples), ``random_state`` (an int)
    and ``min_samples``; it returns a :class:`MethodResult`.
    """

    run: Callable[[np.ndarray, dict[str, Any]], MethodResult]
    choice: str
    uses_tune_labels: bool = False
    quadratic: bool = False


def _k_range(n: int) -> range:
    return range(2, min(K_MAX, n - 1) + 1)


def _silhouette(X: np.ndarray, labels: np.ndarray) -> float:
    """Silhouette on non-noise samples; NaN with fewer than 2 clusters or no singletons left."""
    keep = labels >= 0
    n_lab = np.unique(labels[keep]).size
    if n_lab < 2 or n_lab >= keep.sum():
        return float("nan")
    return float(silhouette_score(X[keep], labels[keep]))


def _best_k_by_silhouette(
    X: np.ndarray, make: Callable[[int], Any]
) -> tuple[int, np.ndarray, pd.DataFrame]:
    rows, best = [], None
    for k in _k_range(X.shape[0]):
        lab = make(k).fit_predict(X)
        s = _silhouette(X, lab)
        rows.append({"k": k, "silhouette": s})
        if np.isfinite(s) and (best is None or s > best[0]):
            best = (s, k, lab)
    curve = pd.DataFrame(rows, columns=["k", "silhouette"])
    if best is None:
        raise ValueError("no k in the range gave a defined silhouette")
    return best[1], best[2], curve


def _run_dbscan(X, ctx) -> MethodResult:
    y = np.where(ctx["y_tune"] >= 0, ctx["y_tune"], None) if ctx["n_tune"] else None
    est = EpsSearch(min_samples=ctx["min_samples"], random_state=ctx["random_state"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, y)
    notes = [str(w.message) for w in caught]
    rule = "V-measure on tune samples" if est.supervised_ else f"{est.unsupervised_rule} rule"
    return MethodResult(
        est.labels_,
        {"eps": est.eps_, "min_samples": ctx["min_samples"], "eps_rule": rule},
        notes=notes,
        estimator=est,
    )


def _run_hdbscan(X, ctx) -> MethodResult:
    est = HDBSCAN(
        min_cluster_size=max(2, ctx["min_samples"]), min_samples=ctx["min_samples"], copy=True
    )
    lab = est.fit_predict(X)
    return MethodResult(lab, {"min_cluster_size": ctx["min_samples"]}, estimator=est)


def _run_optics(X, ctx) -> MethodResult:
    ms = min(ctx["min_samples"], X.shape[0])
    est = OPTICS(min_samples=ms)
    return MethodResult(est.fit_predict(X), {"min_samples": ms}, estimator=est)


def _run_kmeans(X, ctx) -> MethodResult:
    rs = ctx["random_state"]
    k, lab, curve = _best_k_by_silhouette(X, lambda k: KMeans(k, n_init=10, random_state=rs))
    return MethodResult(lab, {"k": k}, curve=curve)


def _k_from_tune_or_silhouette(X, ctx, make) -> MethodResult:
    if ctx["n_classes"] >= 2:
        k = min(ctx["n_classes"], X.shape[0] - 1)
        return MethodResult(make(k).fit_predict(X), {"k": k, "k_rule": "tune classes"})
    k, lab, curve = _best_k_by_silhouette(X, make)
    return MethodResult(lab, {"k": k, "k_rule": "silhouette"}, curve=curve)


def _run_agglomerative(X, ctx) -> MethodResult:
    return _k_from_tune_or_silhouette(X, ctx, lambda k: AgglomerativeClustering(k))


def _run_spectral(X, ctx) -> MethodResult:
    rs = ctx["random_state"]
    nn = max(2, min(10, X.shape[0] - 1))

    def make(k):
        return SpectralClustering(
            k, affinity="nearest_neighbors", n_neighbors=nn, random_state=rs,
            assign_labels="cluster_qr",
        )

    return _k_from_tune_or_silhouette(X, ctx, make)


def _run_affinity(X, ctx) -> MethodResult:
    est = AffinityPropagation(random_state=ctx["random_state"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lab = est.fit_predict(X)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    converged = converged and est.n_iter_ < est.max_iter
    status = "ok" if converged else "did not converge"
    notes = [str(w.message) for w in caught]
    if not converged:
        notes.insert(0, f"AffinityPropagation did not converge in {est.max_iter} iterations")
    return MethodResult(lab, {"damping": est.damping}, status=status, notes=notes)


def _run_gmm(X, ctx) -> MethodResult:
    rs = ctx["random_state"]
    rows, best = [], None
    for k in range(1, min(K_MAX, X.shape[0] - 1) + 1):
        gm = GaussianMixture(k, random_state=rs).fit(X)
        bic = float(gm.bic(X))
        rows.append({"k": k, "bic": bic})
        if best is None or bic < best[0]:
            best = (bic, k, gm)
    return MethodResult(
        best[2].predict(X), {"k": best[1]}, curve=pd.DataFrame(rows), estimator=best[2]
    )


#: The clusterers :func:`compare_clusterers` knows: name -> how it runs and picks its parameter.
CLUSTERERS: dict[str, ClustererSpec] = {
    "dbscan": ClustererSpec(
        _run_dbscan,
        "eps by maximum V-measure on the tune samples (EpsSearch; unsupervised rule without)",
        uses_tune_labels=True,
    ),
    "hdbscan": ClustererSpec(_run_hdbscan, "min_cluster_size = min_samples (no search)"),
    "optics": ClustererSpec(_run_optics, "min_samples, xi extraction (defaults; no search)"),
    "kmeans": ClustererSpec(_run_kmeans, f"k in 2..{K_MAX} by maximum silhouette"),
    "agglomerative": ClustererSpec(
        _run_agglomerative,
        "Ward linkage; k = number of tune classes when given, else by maximum silhouette",
        uses_tune_labels=True,
    ),
    "spectral": ClustererSpec(
        _run_spectral,
        "kNN affinity; k = number of tune classes when given, else by maximum silhouette",
        uses_tune_labels=True,
        quadratic=True,
    ),
    "affinity_propagation": ClustererSpec(
        _run_affinity, "default preference (median similarity); no search", quadratic=True
    ),
    "gaussian_mixture": ClustererSpec(_run_gmm, f"k in 1..{K_MAX} by minimum BIC"),
}


@dataclass
class Comparison:
    """Result of :func:`compare_clusterers`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per method (index: method name); see :func:`compare_clusterers`.
    labels : dict of str to ndarray
        Each method's labels of all samples (-1 = noise; all -1 when the method failed).
    curves : dict of str to pandas.DataFrame
        Parameter curves: silhouette against k (``"kmeans"``, and agglomerative or spectral
        when they chose k by silhouette), BIC against k (``"gaussian_mixture"``) and the eps
        sweep (``"dbscan"``).
    params : dict of str to dict
        The parameters each method used.

    """

    table: pd.DataFrame
    labels: dict[str, np.ndarray]
    curves: dict[str, pd.DataFrame]
    params: dict[str, dict[str, Any]]


def _score_block(prefix: str, codes: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    mask = codes >= 0
    out: dict[str, Any] = {f"{prefix}_n": int(mask.sum())}
    if mask.any():
        s = score_partition(codes[mask], labels[mask])
    else:
        s = dict.fromkeys(SCORE_NAMES, float("nan"))
    out.update({f"{prefix}_{k}": s[k] for k in SCORE_NAMES})
    return out


def compare_clusterers(
    X,
    y_tune=None,
    y_eval=None,
    methods: Sequence[str] | None = None,
    random_state=None,
    *,
    min_samples: int = 10,
) -> Comparison:
    """Run several clusterers on one latent and score each against known labels.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The latent.
    y_tune : array-like of shape (n_samples,), default=None
        Tune labels (``None``/NaN/"" = not a tune sample). DBSCAN chooses eps on them;
        agglomerative and spectral clustering take their number of classes as k.
    y_eval : array-like of shape (n_samples,), default=None
        Known labels to evaluate on. Only samples labelled here and *not* tune samples are
        scored as "heldout", so no score is measured on the samples used to tune.
    methods : sequence of str, default=None
        Names from :data:`CLUSTERERS` (all when None), run in that order.
    random_state : int, RandomState instance or None, default=None
        Seeds every randomised method (one integer drawn from it).
    min_samples : int, default=10
        DBSCAN's ``min_samples``; also HDBSCAN's ``min_samples`` and ``min_cluster_size`` and
        OPTICS's ``min_samples``, so the density methods see the same scale.

    Returns
    -------
    Comparison
        ``table`` has one row per method with ``tune_*`` and ``heldout_*`` scores
        (``homogeneity``, ``completeness``, ``v_measure``, ``ari``, ``ami``, NaN where
        undefined; noise scored as one cluster) and sample counts ``tune_n``/``heldout_n``,
        ``silhouette`` (non-noise samples only), ``n_clusters``, ``noise_fraction``,
        ``seconds``, ``status`` (``ok``, ``did not converge``, ``skipped: ...`` or
        ``failed: ...``), ``uses_tune_labels``, ``choice`` (how its parameter is picked),
        ``params`` and ``notes``; plus ``labels``, ``curves`` and ``params``.

    Notes
    -----
    A method's failure never stops the others: it is reported in ``status``. Affinity
    propagation and spectral clustering need memory quadratic in n and are skipped above
    5,000 samples. Silhouette favours compact, convex clusters: on elongated groups it can
    prefer a wrong k, which is why the method tunes DBSCAN on labelled samples instead.

    """
    X = check_array(X, dtype=np.float64, ensure_min_samples=2)
    n = X.shape[0]
    names = list(CLUSTERERS) if methods is None else list(methods)
    unknown = [m for m in names if m not in CLUSTERERS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; known: {sorted(CLUSTERERS)}")

    def codes_of(y):
        if y is None:
            return np.full(n, -1, dtype=np.int64)
        arr = np.asarray(y, dtype=object).ravel()
        if arr.shape[0] != n:
            raise ValueError(f"labels have {arr.shape[0]} entries for {n} samples")
        return encode_labels(arr)[0]

    tune = codes_of(y_tune)
    ev = codes_of(y_eval)
    ev[tune >= 0] = -1  # never score on the samples used to tune
    seed = seed_from_random_state(check_random_state(random_state))
    ctx = {
        "y_tune": tune,
        "n_tune": int((tune >= 0).sum()),
        "n_classes": int(np.unique(tune[tune >= 0]).size),
        "random_state": seed,
        "min_samples": int(min_samples),
    }

    rows, labels, curves, params = [], {}, {}, {}
    for name in names:
        spec = CLUSTERERS[name]
        t0 = time.perf_counter()
        if spec.quadratic and n > QUADRATIC_MAX:
            res = MethodResult(
                np.full(n, -1), {},
                status=f"skipped: {n} samples > {QUADRATIC_MAX} (memory grows with n^2)",
            )
        else:
            try:
                # One thread for BLAS and OpenMP on small inputs: on a low-dimensional latent
                # the work per call is tiny and thread synchronisation dominates (k-means over
                # k = 2..10 on 600 samples: 0.4 s on one thread, 15 s on two busy cores).
                with warnings.catch_warnings(record=True) as caught, threadpool_limits(
                    1 if n <= SINGLE_THREAD_MAX else None
                ):
                    warnings.simplefilter("always")
                    res = spec.run(X, ctx)
                res.notes.extend(str(w.message) for w in caught)
            except Exception as exc:  # a failing method must not stop the comparison
                res = MethodResult(np.full(n, -1), {}, status=f"failed: {exc}")
        seconds = time.perf_counter() - t0
        lab = np.asarray(res.labels, dtype=np.int64)
        row: dict[str, Any] = {"method": name}
        row.update(_score_block("tune", tune, lab))
        row.update(_score_block("heldout", ev, lab))
        row.update(
            silhouette=_silhouette(X, lab),
            n_clusters=int(np.unique(lab[lab >= 0]).size),
            noise_fraction=float(np.mean(lab < 0)),
            seconds=seconds,
            status=res.status,
            uses_tune_labels=spec.uses_tune_labels,
            choice=spec.choice,
            params=", ".join(f"{k}={_fmt(v)}" for k, v in res.params.items()),
            notes="; ".join(dict.fromkeys(res.notes)),
        )
        rows.append(row)
        labels[name] = lab
        params[name] = res.params
        if res.curve is not None:
            curves[name] = res.curve
        if isinstance(res.estimator, EpsSearch):
            curves[name] = res.estimator.sweep_
    table = pd.DataFrame(rows).set_index("method")
    return Comparison(table=table, labels=labels, curves=curves, params=params)


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return f"{float(v):.4g}"
    return str(v)
