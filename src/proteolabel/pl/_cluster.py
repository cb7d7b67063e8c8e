"""Plots of the clustering step on arrays: the eps sweep, a panel of clusterers, k curves.

Each function draws with matplotlib (imported when called), takes ``ax=None`` where it draws
one panel and returns the axes, or returns the figure for multi-panel plots. None of them
chooses a backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_NOISE_COLOUR = "#b0b0b0"
_MISSING_COLOUR = "#e6e6e6"


def _axes(ax: Axes | None, figsize=(6.0, 4.5)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def eps_sweep(
    sweep_df: pd.DataFrame,
    chosen_eps: float | None = None,
    ax: Axes | None = None,
    *,
    log_eps: bool | None = None,
    title: str | None = None,
) -> Axes:
    """Plot the number of clusters, noise and the scores against eps.

    Parameters
    ----------
    sweep_df : pandas.DataFrame
        :attr:`proteolabel.cluster.EpsSearch.sweep_` (columns ``eps``, ``n_clusters``,
        ``n_noise`` and, where present, ``homogeneity``, ``completeness``, ``v_measure``).
    chosen_eps : float, default=None
        Marked with a vertical line.
    ax : matplotlib Axes, default=None
        Where to draw (scores, left axis); a twin right axis shows the counts. A new figure
        when None.
    log_eps : bool, default=None
        Log-scaled eps axis; by default when all eps are positive and span over a factor 10.
    title : str, default=None
        Axes title.

    Returns
    -------
    matplotlib Axes
        The scores axes (the counts axes is ``ax.right_ax``).

    """
    ax = _axes(ax)
    eps = sweep_df["eps"].to_numpy(float)
    if log_eps is None:
        log_eps = bool(eps.size and eps.min() > 0 and eps.max() / eps.min() > 10)
    styles = {"homogeneity": ":", "completeness": "--", "v_measure": "-"}
    drew = False
    for col, ls in styles.items():
        if col in sweep_df and np.isfinite(sweep_df[col].to_numpy(float)).any():
            ax.plot(eps, sweep_df[col], ls, lw=2 if col == "v_measure" else 1.2,
                    label=col.replace("_", "-"))
            drew = True
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("score on tune samples" if drew else "score (no tune samples)")
    ax.set_xlabel("eps")
    right = ax.twinx()
    right.plot(eps, sweep_df["n_clusters"], color="tab:purple", lw=1, label="clusters")
    right.plot(eps, sweep_df["n_noise"], color="tab:grey", lw=1, label="noise samples")
    right.set_ylabel("clusters / noise samples")
    if log_eps:
        from matplotlib.ticker import FuncFormatter, NullFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    if chosen_eps is not None:
        ax.axvline(chosen_eps, color="k", lw=1)
        ax.annotate(f"eps = {chosen_eps:.3g}", (chosen_eps, 1.0), xytext=(3, -12),
                    textcoords="offset points", fontsize=8)
    handles = ax.get_legend_handles_labels()
    rh = right.get_legend_handles_labels()
    ax.legend(handles[0] + rh[0], handles[1] + rh[1], fontsize=8, loc="center left")
    if title:
        ax.set_title(title)
    ax.right_ax = right
    return ax


def _scatter_labels(ax: Axes, X: np.ndarray, labels: Any, title: str, s: float) -> None:
    import matplotlib.pyplot as plt

    lab = pd.Series(np.asarray(labels, dtype=object))
    missing = lab.isna() | (lab.astype(str).str.strip() == "")
    is_noise = lab.apply(lambda v: isinstance(v, int | np.integer) and v == -1)
    if missing.any():
        ax.scatter(X[missing, 0], X[missing, 1], s=s, c=_MISSING_COLOUR, lw=0)
    if is_noise.any():
        ax.scatter(X[is_noise, 0], X[is_noise, 1], s=s, c=_NOISE_COLOUR, lw=0, label="noise")
    rest = ~(missing | is_noise)
    cats = pd.unique(lab[rest].astype(str))
    cmap = plt.get_cmap("tab10" if len(cats) <= 10 else "tab20")
    for i, c in enumerate(sorted(cats, key=_natural)):
        m = (rest & (lab.astype(str) == c)).to_numpy()
        ax.scatter(X[m, 0], X[m, 1], s=s, color=cmap(i % cmap.N), lw=0, label=c)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def _natural(v: str):
    try:
        return (0, float(v), "")
    except ValueError:
        return (1, 0.0, v)


def compare_panel(
    X,
    results,
    y=None,
    *,
    methods: Sequence[str] | None = None,
    ncols: int = 3,
    s: float | None = None,
) -> Figure:
    """One latent scatter per clusterer, beside the known labels.

    Parameters
    ----------
    X : array-like of shape (n_samples, 2)
        The latent.
    results : Comparison or mapping of str to labels
        A :class:`proteolabel.cluster.Comparison` (titles then show V-measure and the number
        of clusters) or a plain ``{method: labels}`` mapping.
    y : array-like of shape (n_samples,), default=None
        Known labels, drawn first (missing labels in light grey).
    methods : sequence of str, default=None
        Which methods to draw, in order (all by default).
    ncols : int, default=3
        Panels per row.
    s : float, default=None
        Marker size (by default from the number of samples).

    Returns
    -------
    matplotlib Figure
        The panel figure.

    """
    import matplotlib.pyplot as plt

    X = np.asarray(X, dtype=float)
    labels: Mapping[str, np.ndarray] = getattr(results, "labels", results)
    table = getattr(results, "table", None)
    names = list(labels) if methods is None else list(methods)
    panels = ([("known labels", y)] if y is not None else []) + [(m, labels[m]) for m in names]
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 3.1 * nrows),
                             layout="constrained", squeeze=False)
    size = s if s is not None else float(np.clip(3000 / max(len(X), 1), 2, 25))
    for ax, (name, lab) in zip(axes.ravel(), panels, strict=False):
        title = name
        if table is not None and name in table.index:
            row = table.loc[name]
            v = row.get("eval_v_measure", np.nan)
            if not np.isfinite(v):
                v = row.get("tune_v_measure", np.nan)
            title = f"{name}: {int(row['n_clusters'])} clusters"
            if np.isfinite(v):
                title += f", V={v:.2f}"
            if row.get("status", "ok") != "ok":
                title += f"\n({row['status'][:40]})"
        _scatter_labels(ax, X, lab, title, size)
    for ax in axes.ravel()[len(panels):]:
        ax.set_axis_off()
    return fig


def silhouette_curve(
    curve: pd.DataFrame,
    chosen_k: int | None = None,
    ax: Axes | None = None,
    *,
    score: str | None = None,
    title: str | None = None,
) -> Axes:
    """Plot a model-selection score against k (silhouette for k-means, or BIC).

    Parameters
    ----------
    curve : pandas.DataFrame
        Columns ``k`` and the score, e.g. ``Comparison.curves["kmeans"]`` (``silhouette``) or
        ``Comparison.curves["gaussian_mixture"]`` (``bic``).
    chosen_k : int, default=None
        Marked with a vertical line (by default the best k: highest silhouette, lowest BIC).
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    score : str, default=None
        The score column (the first column other than ``k`` by default).
    title : str, default=None
        Axes title.

    Returns
    -------
    matplotlib Axes
        The axes drawn on.

    """
    ax = _axes(ax, figsize=(5.0, 3.8))
    score = score or next(c for c in curve.columns if c != "k")
    k = curve["k"].to_numpy()
    val = curve[score].to_numpy(float)
    ax.plot(k, val, "o-", color="tab:blue")
    if chosen_k is None and np.isfinite(val).any():
        chosen_k = int(k[np.nanargmin(val) if score == "bic" else np.nanargmax(val)])
    if chosen_k is not None:
        ax.axvline(chosen_k, color="k", lw=1, ls="--")
        ax.annotate(f"k = {chosen_k}", (chosen_k, np.nanmax(val)), xytext=(3, -10),
                    textcoords="offset points", fontsize=8)
    ax.set_xlabel("k (number of clusters)")
    ax.set_ylabel(score.replace("_", " "))
    ax.set_xticks(k)
    if score == "silhouette":
        ax.text(0.01, 0.01, "silhouette favours compact, convex clusters",
                transform=ax.transAxes, fontsize=7, color="grey", va="bottom")
    if title:
        ax.set_title(title)
    return ax
