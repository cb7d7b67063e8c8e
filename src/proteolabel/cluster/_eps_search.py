"""DBSCAN whose eps is chosen by maximum V-measure on a few labelled "tune samples"."""

from __future__ import annotations

import warnings
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_consistent_length, validate_data

from proteolabel.cluster._scores import (
    NOISE_MODES,
    SCORE_NAMES,
    encode_labels,
    fast_ari,
    score_partition,
)
from proteolabel.cluster._sweep import SPACINGS, DBSCANPath

#: Tie rules for the eps of maximum V-measure; see :class:`EpsSearch`.
TIE_RULES = ("middle", "smallest", "largest")
#: Rules to choose eps without tune samples; see :class:`EpsSearch`.
UNSUPERVISED_RULES = ("knee", "stability")
#: Largest number of samples on which the label stability is computed in full.
STABILITY_MAX_SAMPLES = 20_000
_TIE_ATOL = 1e-12


class NoTuneSamplesWarning(UserWarning):
    """Eps was chosen without tune samples, by an unsupervised rule."""


class DegenerateTuneWarning(NoTuneSamplesWarning):
    """Every eps was degenerate on the tune samples; eps was chosen by the unsupervised rule."""


def _longest_run_middle(mask: np.ndarray) -> int:
    """Index of the middle (lower middle if even) of the first longest run of True."""
    idx = np.flatnonzero(mask)
    breaks = np.flatnonzero(np.diff(idx) != 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [idx.size - 1]])
    lengths = ends - starts + 1
    r = int(np.argmax(lengths))  # first longest run
    return int(idx[starts[r] + (lengths[r] - 1) // 2])


def choose_index(values: np.ndarray, defined: np.ndarray, rule: str = "middle") -> int:
    """Index of the maximum of ``values`` over ``defined`` entries, ties by ``rule``.

    Values within 1e-12 of the maximum tie. ``"middle"`` takes the middle of the longest
    contiguous run of tied maxima (the lower middle for an even run, the first run if several
    are equally long): the choice that survives small changes of eps best. ``"smallest"`` and
    ``"largest"`` take the first and last tied maximum.
    """
    vals = np.where(defined, values, -np.inf)
    best = np.max(vals)
    tied = defined & (vals >= best - _TIE_ATOL)
    if rule == "smallest":
        return int(np.flatnonzero(tied)[0])
    if rule == "largest":
        return int(np.flatnonzero(tied)[-1])
    return _longest_run_middle(tied)


def knee_eps(core_distances: np.ndarray) -> float:
    """Eps at the knee of the sorted k-distance curve.

    The core distances (distance to the ``min_samples``-th neighbour) are sorted increasingly
    and both axes scaled to [0, 1]; the knee is the point farthest below the straight line
    from the first to the last point (the "Kneedle" rule), where the curve turns from the slow
    rise of points inside clusters to the steep rise of sparse points. Ester et al. (1996)
    suggest reading eps off this curve by eye.
    """
    lam = np.sort(core_distances[np.isfinite(core_distances)])
    if lam.size < 3 or lam[-1] <= lam[0]:
        return float(lam[-1])
    x = np.linspace(0.0, 1.0, lam.size)
    y = (lam - lam[0]) / (lam[-1] - lam[0])
    return float(lam[int(np.argmax(x - y))])


class EpsSearch(ClusterMixin, BaseEstimator):
    """DBSCAN with eps chosen by maximum V-measure on tune samples.

    Sweeps eps over a grid (by default derived from the data's own distance scale, see
    :func:`proteolabel.cluster.eps_grid`), runs DBSCAN on *all* samples at each eps (exactly,
    from one kNN query and one minimum spanning tree, see
    :class:`proteolabel.cluster.DBSCANPath`), scores the labelled samples and keeps the eps of
    maximum V-measure.

    Parameters
    ----------
    min_samples : int, default=10
        DBSCAN's ``min_samples``, counting the point itself (as scikit-learn does). The
        method's default is 10.
    n_eps : int, default=100
        Number of grid points when ``eps_values`` is None.
    eps_values : array-like of float, default=None
        Explicit eps values to sweep (sorted, duplicates dropped). None derives the grid from
        the data.
    metric_tie_rule : {"middle", "smallest", "largest"}, default="middle"
        Which eps to take when several reach the maximum V-measure (within 1e-12):
        ``"middle"`` takes the middle of the longest contiguous run of tied maxima (the lower
        middle for even runs; the first run when runs are equally long), the choice most
        robust to small changes of eps; ``"smallest"``/``"largest"`` take the first/last.
    noise : {"cluster", "singleton"}, default="cluster"
        How noise among the tune samples is scored (see
        :func:`proteolabel.cluster.score_partition`). The default, one "noise" cluster, never
        rewards all-noise results.
    spacing : {"geometric", "linear"}, default="geometric"
        Spacing of the derived grid.
    unsupervised_rule : {"knee", "stability"}, default="knee"
        How eps is chosen without tune samples. ``"knee"``: the grid eps nearest (on a log
        scale) to the knee of the sorted k-distance curve (see :func:`knee_eps`).
        ``"stability"``: among eps with at least two clusters, the one whose labels agree best
        (ARI) with those at the neighbouring grid eps, ties by ``metric_tie_rule``.
    on_degenerate : {"fallback", "raise"}, default="fallback"
        What to do when every eps is degenerate on the tune samples (fewer than two classes,
        or never two clusters among them): ``"raise"`` raises a ValueError that names the
        parameters; ``"fallback"`` warns with the same message (a
        :class:`DegenerateTuneWarning`) and chooses eps by ``unsupervised_rule``, recording
        ``supervised_ = False``.
    random_state : int, RandomState instance or None, default=None
        Only used to draw the subsample on which label stability is computed when there are
        more than 20,000 samples. DBSCAN and the eps choice are deterministic.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        DBSCAN labels of all samples at ``eps_`` (-1 = noise).
    eps_ : float
        The chosen eps.
    best_index_ : int
        Row of ``sweep_`` that was chosen.
    sweep_ : pandas.DataFrame
        One row per eps: ``eps``, ``n_clusters`` and ``n_noise`` (all samples),
        ``n_clusters_tune`` and ``n_noise_tune`` (among tune samples), ``homogeneity``,
        ``completeness``, ``v_measure``, ``ari`` (NaN where undefined), ``defined``
        (the scores are defined: at least two classes and two non-noise clusters among the tune
        samples) and ``stability`` (mean ARI between the labels at this eps and at its
        neighbouring grid eps, all samples or a subsample of 20,000; noise counted as one
        label).
    scores_ : dict
        The row of ``sweep_`` at the chosen eps, as a dict, plus ``ami`` (adjusted mutual
        information on the tune samples), ``n_tune`` (tune samples) and ``supervised``.
    supervised_ : bool
        Whether eps was chosen on tune samples (False: by ``unsupervised_rule``).
    core_sample_indices_ : ndarray of shape (n_core,)
        Indices of the core samples at ``eps_``.
    components_ : ndarray of shape (n_core, n_features)
        The core samples.
    core_distances_ : ndarray of shape (n_samples,)
        Distance of each sample to its ``min_samples``-th nearest sample (itself first).
    n_features_in_ : int
        Number of features seen during fit.

    Notes
    -----
    Degenerate eps values, where the tune samples hold fewer than two classes or fall into
    fewer than two clusters, have undefined scores and are never chosen. When every eps is
    degenerate, ``fit`` raises a ValueError naming the parameters, or falls back to the
    unsupervised rule with a warning (``on_degenerate``). Without tune samples (``y``
    None or all unlabelled) eps is chosen by ``unsupervised_rule`` and a
    :class:`NoTuneSamplesWarning` says that the method recommends tune samples.

    Examples
    --------
    >>> import numpy as np
    >>> from proteolabel.cluster import EpsSearch
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(0, 0.1, (50, 2)), rng.normal(3, 0.1, (50, 2))])
    >>> y = np.array(["a"] * 50 + ["b"] * 50, dtype=object)
    >>> y[::2] = None  # only half are tune samples
    >>> search = EpsSearch(min_samples=5).fit(X, y)
    >>> int(search.labels_.max()) + 1
    2

    """

    _parameter_constraints: ClassVar[dict] = {
        "min_samples": [Interval(Integral, 1, None, closed="left")],
        "n_eps": [Interval(Integral, 1, None, closed="left")],
        "eps_values": ["array-like", None],
        "metric_tie_rule": [StrOptions(set(TIE_RULES))],
        "noise": [StrOptions(set(NOISE_MODES))],
        "spacing": [StrOptions(set(SPACINGS))],
        "unsupervised_rule": [StrOptions(set(UNSUPERVISED_RULES))],
        "on_degenerate": [StrOptions({"fallback", "raise"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        min_samples: int = 10,
        n_eps: int = 100,
        eps_values=None,
        metric_tie_rule: str = "middle",
        random_state=None,
        *,
        noise: str = "cluster",
        spacing: str = "geometric",
        unsupervised_rule: str = "knee",
        on_degenerate: str = "fallback",
    ) -> None:
        self.min_samples = min_samples
        self.n_eps = n_eps
        self.eps_values = eps_values
        self.metric_tie_rule = metric_tie_rule
        self.random_state = random_state
        self.noise = noise
        self.spacing = spacing
        self.unsupervised_rule = unsupervised_rule
        self.on_degenerate = on_degenerate

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Sweep eps, choose the best and cluster all samples at it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The latent points.
        y : array-like of shape (n_samples,), default=None
            Tune labels; ``None``, NaN and empty strings mark samples that are not tune
            samples (they are clustered but not scored). None: no tune samples.

        Returns
        -------
        self : EpsSearch
            The fitted estimator.

        """
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        n = X.shape[0]
        if y is None:
            codes = np.full(n, -1, dtype=np.int64)
        else:
            y_arr = np.asarray(y, dtype=object)
            if y_arr.ndim != 1:
                y_arr = y_arr.reshape(-1) if y_arr.ndim == 2 and 1 in y_arr.shape else y_arr
            if y_arr.ndim != 1:
                raise ValueError(f"y must be one-dimensional, got shape {np.shape(y)}")
            check_consistent_length(X, y_arr)
            codes, _ = encode_labels(y_arr)
        tune = codes >= 0
        n_tune = int(tune.sum())
        supervised = n_tune > 0

        path = DBSCANPath(X, self.min_samples)
        if not np.isfinite(path.core_distances_).any():
            path.eps_range()  # raises: no sample can be core
        if self.eps_values is None:
            grid = path.grid(self.n_eps, self.spacing)
        else:
            grid = np.unique(np.asarray(self.eps_values, dtype=np.float64).ravel())
            if grid.size == 0 or not np.all(np.isfinite(grid)) or grid[0] < 0:
                raise ValueError("eps_values must be a non-empty set of finite values >= 0")
        rng = check_random_state(self.random_state)
        sub = None
        if n > STABILITY_MAX_SAMPLES:
            sub = np.sort(rng.choice(n, STABILITY_MAX_SAMPLES, replace=False))

        rows: list[dict[str, Any]] = []
        prev = None
        ari_prev = np.full(grid.size, np.nan)
        for i, lab in enumerate(path.iter_labels(grid)):
            row: dict[str, Any] = {
                "eps": float(grid[i]),
                "n_clusters": int(lab.max()) + 1,
                "n_noise": int(np.count_nonzero(lab < 0)),
            }
            s = score_partition(codes[tune], lab[tune], noise=self.noise, ami=False)
            row["n_clusters_tune"] = s["n_clusters"]
            row["n_noise_tune"] = s["n_noise"]
            row.update({name: s[name] for name in SCORE_NAMES if name != "ami"})
            row["defined"] = s["defined"]
            rows.append(row)
            cur = lab if sub is None else lab[sub]
            if prev is not None:
                ari_prev[i] = fast_ari(prev, cur)
            prev = cur
        sweep = pd.DataFrame(rows)
        # stability: mean ARI with the labels at the neighbouring grid eps
        nxt = np.append(ari_prev[1:], np.nan)
        both = np.stack([ari_prev, nxt])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a one-point grid has no pairs
            sweep["stability"] = np.nanmean(both, axis=0) if grid.size > 1 else np.nan
        defined = sweep["defined"].to_numpy(bool)

        if supervised and not defined.any():
            msg = self._degenerate_message(sweep, codes[tune], grid)
            if self.on_degenerate == "raise":
                raise ValueError(msg)
            warnings.warn(
                f"{msg} Falling back to the unsupervised {self.unsupervised_rule!r} rule.",
                DegenerateTuneWarning,
                stacklevel=2,
            )
            supervised = False
            best = self._unsupervised_index(path, sweep)
        elif supervised:
            best = choose_index(sweep["v_measure"].to_numpy(), defined, self.metric_tie_rule)
        else:
            warnings.warn(
                "No tune samples: eps was chosen by the unsupervised "
                f"{self.unsupervised_rule!r} rule. The method chooses eps by V-measure on a "
                "few labelled tune samples; give some labels for reliable clusters (--labels or "
                "--label-column on the command line, y here).",
                NoTuneSamplesWarning,
                stacklevel=2,
            )
            best = self._unsupervised_index(path, sweep)

        self.eps_ = float(grid[best])
        self.best_index_ = int(best)
        self.sweep_ = sweep
        self.labels_ = path.labels(self.eps_)
        self.core_distances_ = path.core_distances_
        self.core_sample_indices_ = np.flatnonzero(path.core_distances_ <= self.eps_)
        self.components_ = X[self.core_sample_indices_].copy()
        self.supervised_ = bool(supervised)
        scores = sweep.iloc[best].to_dict()
        scores = {
            k: (bool(v) if k == "defined" else v.item() if hasattr(v, "item") else v)
            for k, v in scores.items()
        }
        # AMI is slow, so it is computed at the chosen eps only.
        scores["ami"] = (
            score_partition(codes[tune], self.labels_[tune], noise=self.noise)["ami"]
            if n_tune
            else float("nan")
        )
        scores.update(n_tune=n_tune, supervised=bool(supervised))
        self.scores_ = scores
        return self

    def fit_predict(self, X, y=None, **kwargs):
        """Fit and return ``labels_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The latent points.
        y : array-like of shape (n_samples,), default=None
            Tune labels, as in :meth:`fit`.
        **kwargs : dict
            Ignored; accepted for API compatibility.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Cluster labels (-1 = noise).

        """
        return self.fit(X, y).labels_

    def _unsupervised_index(self, path: DBSCANPath, sweep: pd.DataFrame) -> int:
        eps = sweep["eps"].to_numpy()
        if self.unsupervised_rule == "stability":
            ok = (sweep["n_clusters"].to_numpy() >= 2) & np.isfinite(sweep["stability"])
            if ok.any():
                return choose_index(sweep["stability"].to_numpy(), ok, self.metric_tie_rule)
        knee = knee_eps(path.core_distances_)
        if np.all(eps > 0) and knee > 0:
            return int(np.argmin(np.abs(np.log(eps) - np.log(knee))))
        return int(np.argmin(np.abs(eps - knee)))

    def _degenerate_message(self, sweep: pd.DataFrame, tune_codes: np.ndarray, grid) -> str:
        n_classes = np.unique(tune_codes).size
        where = (
            f"min_samples={self.min_samples}, {grid.size} eps values from {grid[0]:.4g} to "
            f"{grid[-1]:.4g}, {tune_codes.size} tune samples in {n_classes} classes"
        )
        if n_classes < 2:
            return (
                f"The tune samples hold fewer than two classes ({where}): no eps can be "
                "scored. Label samples of at least two classes."
            )
        most = int(sweep["n_clusters_tune"].max())
        if most == 0:
            return (
                f"no clusters found at any eps with {where}: every tune sample is noise at "
                "every eps. Lower min_samples or widen eps_values."
            )
        return (
            f"no clusters found at any eps with {where}: the tune samples never fall into "
            f"two or more clusters (at most {most}). Lower min_samples, widen eps_values or "
            "add tune samples from more groups."
        )

    def __sklearn_tags__(self):
        """Scikit-learn tags: a clusterer that accepts (and may use) ``y``."""
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        return tags
