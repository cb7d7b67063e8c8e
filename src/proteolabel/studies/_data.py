"""Synthetic groups for the studies: ``make_classification`` groups scaled to [0, 1].

Signal to noise
---------------
Every study states its signal in one number, ``snr``, defined on the generator's parameters:

    snr = class_sep / sigma_w

``class_sep`` is :func:`sklearn.datasets.make_classification`'s parameter: the group centres sit
on distinct vertices of the hypercube ``[-class_sep, class_sep] ** n_informative``. ``sigma_w`` is
the within-group standard deviation of one informative feature. So on every informative axis on
which two groups differ, their centres lie ``2 * snr`` within-group standard deviations apart
(a discriminability d' of ``2 * snr``), and two groups that differ on ``m`` axes have centres
``2 * snr * sqrt(m) * sigma_w`` apart. The uninformative features are standard normal noise. Scaling
each feature to [0, 1] is affine per feature, so it leaves ``snr`` unchanged.

``within="unit"`` (the default) makes ``sigma_w = 1`` exactly: the informative features of each
group are its centre plus independent standard normal noise, and ``class_sep = snr``.
``make_classification`` itself multiplies each group's noise by a random matrix ``A`` with
entries uniform on [-1, 1] (a "random covariance"), which makes ``sigma_w`` random: the variance
of feature ``j`` in group ``g`` is ``sum_i A_g[i, j] ** 2``, ``n_informative / 3`` in expectation,
and for one or two informative features it can be anything from near 0 to 1 or 2.
``within="make_classification"`` keeps those draws (the method's own data) and sets
``class_sep = snr * sqrt(n_informative / 3)``, so ``snr`` holds for the root-mean-square
``sigma_w`` in expectation. :func:`empirical_snr` measures ``snr`` on generated data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import make_blobs, make_classification

from proteolabel._utils import seed_from_random_state

#: Within-group noise models of :func:`make_groups`.
WITHIN_MODELS = ("unit", "make_classification")


@dataclass(frozen=True)
class GroupsInfo:
    """What :func:`make_groups` generated, beside ``X`` and ``y``.

    Attributes
    ----------
    informative : ndarray of int
        Columns of ``X`` that carry the group signal.
    vertices : ndarray of shape (n_groups, n_informative)
        The hypercube vertex of each group, in units of ``class_sep`` (entries -1 or +1), column
        ``i`` belonging to feature ``informative[i]``.
    class_sep : float
        The ``make_classification`` parameter used.
    snr : float
        The signal to noise asked for (see the module documentation).
    within : str
        The within-group noise model.
    seed : int
        The integer seed drawn from ``random_state``.

    """

    informative: np.ndarray
    vertices: np.ndarray
    class_sep: float
    snr: float
    within: str
    seed: int


def class_sep_for(snr: float, n_informative: int, within: str = "unit") -> float:
    """``make_classification``'s ``class_sep`` that gives signal to noise ``snr``.

    Parameters
    ----------
    snr
        Signal to noise: ``class_sep`` over the within-group standard deviation of an
        informative feature (see the module documentation).
    n_informative
        Number of informative features.
    within
        ``"unit"``: unit within-group noise, so ``class_sep = snr``. ``"make_classification"``:
        the generator's random covariance, whose root-mean-square standard deviation is
        ``sqrt(n_informative / 3)``.

    Returns
    -------
    float
        The ``class_sep`` to pass.

    """
    if within not in WITHIN_MODELS:
        raise ValueError(f"within must be one of {WITHIN_MODELS}, got {within!r}")
    if not (math.isfinite(snr) and snr >= 0):
        raise ValueError(f"snr must be a finite number >= 0, got {snr!r}")
    if within == "unit":
        return float(snr)
    return float(snr * math.sqrt(n_informative / 3.0))


def max_groups(n_informative: int) -> int:
    """Most groups ``make_classification`` can place: one per hypercube vertex, ``2 ** k``."""
    return 2 ** int(n_informative)


def _minmax(X: np.ndarray) -> np.ndarray:
    lo = X.min(axis=0)
    span = X.max(axis=0) - lo
    span[span == 0] = 1.0
    X -= lo
    X /= span
    return X


def make_groups(
    n_samples: int,
    *,
    n_features: int = 1296,
    n_informative: int = 6,
    n_groups: int = 4,
    snr: float = 6.0,
    within: str = "unit",
    scale: bool = True,
    random_state: int | np.random.RandomState | None = None,
    return_info: bool = False,
):
    """Equal-sized groups from ``make_classification``, each feature scaled to [0, 1].

    The method's synthetic data: ``make_classification`` with ``n_informative`` informative
    features, no redundant or repeated ones, one cluster per group, no label noise, then every
    feature min-max scaled to [0, 1]. Rows and columns are shuffled. ``snr`` is defined in the
    module documentation (:mod:`proteolabel.studies._data`).

    Parameters
    ----------
    n_samples
        Number of samples (split as evenly as possible among the groups).
    n_features
        Total number of features (the method: 1296).
    n_informative
        Features that carry the group signal.
    n_groups
        Number of groups; at most ``2 ** n_informative``.
    snr
        Signal to noise: ``class_sep`` over the within-group standard deviation of an
        informative feature.
    within
        ``"unit"`` (independent standard normal noise within each group, so the standard
        deviation is exactly 1) or ``"make_classification"`` (the generator's own random
        covariance, as the method used it).
    scale
        Min-max scale every feature to [0, 1] (the VAE's input range).
    random_state
        Seed for every draw.
    return_info
        Also return a :class:`GroupsInfo`.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
        The samples.
    y : ndarray of shape (n_samples,), int
        The group of each sample (0 to ``n_groups - 1``).
    info : GroupsInfo
        Only with ``return_info=True``.

    Raises
    ------
    ValueError
        If the groups do not fit on the hypercube or the sizes are inconsistent.

    """
    if within not in WITHIN_MODELS:
        raise ValueError(f"within must be one of {WITHIN_MODELS}, got {within!r}")
    if n_informative < 1 or n_informative > n_features:
        raise ValueError(
            f"n_informative must be between 1 and n_features={n_features}, got {n_informative}"
        )
    if n_groups < 2:
        raise ValueError(f"n_groups must be at least 2, got {n_groups}")
    if n_groups > max_groups(n_informative):
        raise ValueError(
            f"{n_groups} groups do not fit on the {n_informative}-dimensional hypercube "
            f"(at most 2 ** {n_informative} = {max_groups(n_informative)}); use more informative "
            "features or fewer groups"
        )
    if n_samples < n_groups:
        raise ValueError(f"n_samples={n_samples} is fewer than n_groups={n_groups}")
    seed = seed_from_random_state(random_state)
    class_sep = class_sep_for(snr, n_informative, within)
    common = dict(
        n_samples=n_samples,
        n_informative=n_informative,
        n_redundant=0,
        n_repeated=0,
        n_classes=n_groups,
        n_clusters_per_class=1,
        flip_y=0.0,
        shift=0.0,
        scale=1.0,
        shuffle=False,
        random_state=seed,
    )
    # Two draws with the same seed and class_sep 1 and 2 differ only by the group centres (the
    # random stream depends on neither class_sep nor the number of noise features, which are
    # drawn last), so their difference is each sample's hypercube vertex (+-1), exactly, and
    # what is left is the within-group part. class_sep is then applied here (any value >= 0).
    X, y = make_classification(n_features=n_features, class_sep=1.0, **common)
    X2, y2 = make_classification(n_features=n_informative, class_sep=2.0, **common)
    if not np.array_equal(y, y2):  # pragma: no cover - would mean scikit-learn changed
        raise RuntimeError("make_classification's random stream changed; please report this")
    sign = np.rint(X2 - X[:, :n_informative])
    within_part = X[:, :n_informative] - sign
    rng = np.random.default_rng([seed, 1])
    if within == "unit":
        within_part = rng.standard_normal((n_samples, n_informative))
    X[:, :n_informative] = class_sep * sign + within_part
    vertices = np.stack([sign[np.flatnonzero(y == g)[0]] for g in range(n_groups)])
    rows = rng.permutation(n_samples)
    cols = rng.permutation(n_features)
    X = X[np.ix_(rows, cols)]
    y = y[rows]
    informative = np.flatnonzero(cols < n_informative)
    vertices = vertices[:, cols[informative]]  # column i of vertices <-> informative[i]
    if scale:
        X = _minmax(X)
    if not return_info:
        return X, y
    info = GroupsInfo(
        informative=informative,
        vertices=vertices,
        class_sep=class_sep,
        snr=float(snr),
        within=within,
        seed=seed,
    )
    return X, y, info


def empirical_snr(X: np.ndarray, y: np.ndarray, info: GroupsInfo) -> float:
    """Measure the signal to noise of generated data, as defined in the module documentation.

    For each informative feature on which the groups' vertices differ, ``class_sep`` is
    estimated as half the difference between the mean of the samples whose group sits at
    ``+class_sep`` and of those at ``-class_sep``, and ``sigma_w`` as the pooled within-group
    standard deviation. The result is ``1 / sqrt(mean(sigma_w ** 2 / class_sep ** 2))`` over those
    features: ``class_sep`` over the root-mean-square ``sigma_w``, each feature in its own units,
    so the measure does not change when features are scaled.

    Parameters
    ----------
    X
        Samples from :func:`make_groups`.
    y
        Their groups.
    info
        The :class:`GroupsInfo` returned with them.

    Returns
    -------
    float
        The measured signal to noise (NaN if no feature separates any groups).

    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    groups = np.unique(y)
    rel_var = []
    for i, j in enumerate(info.informative):
        sign = info.vertices[y, i]
        if np.all(sign > 0) or np.all(sign < 0):
            continue  # every group on the same side: this feature separates none of them
        x = X[:, j]
        half = (x[sign > 0].mean() - x[sign < 0].mean()) / 2.0
        resid = x.copy()
        for g in groups:
            m = y == g
            resid[m] -= x[m].mean()
        var = np.sum(resid**2) / (x.size - groups.size)
        rel_var.append(var / half**2)
    if not rel_var:
        return math.nan
    return float(1.0 / math.sqrt(np.mean(rel_var)))


def make_round_groups(
    n_samples: int,
    n_groups: int,
    *,
    n_features: int = 2,
    min_distance: float = 6.0,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Round, well-separated groups in a latent-like space (:func:`sklearn.datasets.make_blobs`).

    Unit-variance Gaussian groups whose centres are drawn uniformly in [-10, 10] per axis
    (``make_blobs``'s box), redrawn until every two centres are at least ``min_distance``
    apart, so the groups are distinct (with ``make_blobs``'s own draws two groups often
    overlap, which changes the true number of groups).

    Parameters
    ----------
    n_samples
        Number of samples.
    n_groups
        Number of groups.
    n_features
        Dimension of the space (2: like the VAE latent).
    min_distance
        Smallest distance between two centres, in within-group standard deviations.
    random_state
        Seed.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The points.
    y : ndarray of shape (n_samples,)
        Their groups.

    Raises
    ------
    ValueError
        If no such centres were found in 10,000 draws (too many groups for the distance).

    """
    seed = seed_from_random_state(random_state)
    rng = np.random.default_rng([seed, 3])
    for _ in range(10_000):
        centres = rng.uniform(-10.0, 10.0, size=(n_groups, n_features))
        d = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
        if n_groups < 2 or d[np.triu_indices(n_groups, 1)].min() >= min_distance:
            break
    else:
        raise ValueError(
            f"could not place {n_groups} centres at least {min_distance} apart in [-10, 10]^"
            f"{n_features}; lower min_distance"
        )
    X, y = make_blobs(n_samples=n_samples, centers=centres, random_state=seed)
    return X, y
