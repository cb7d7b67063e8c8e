"""Figures of the studies: the median over seeds with the range of the seeds around it.

Panel functions take ``ax=None`` and return the axes; figure functions take the study's table
(and, where they draw latents, the latents of :func:`proteolabel.studies.compute_study`) and
return a :class:`matplotlib.figure.Figure`. Nothing here selects a backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: What the measures mean, for axis labels.
LABELS = {
    "centre_distance": "distance between group centres\n(latent units, mean over pairs)",
    "separation": "closest centres / within-group sd",
    "silhouette": "silhouette of the true groups",
    "dbscan_v_measure": "V-measure, DBSCAN at best eps",
    "n_informative": "informative features",
    "snr": "signal to noise (class_sep / within-group sd)",
    "n_samples": "samples",
}


def _axes(ax: Axes | None, figsize=(5.0, 4.0)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _curves(df: pd.DataFrame, x: str, y: str, by: str, logx: bool) -> tuple[np.ndarray, np.ndarray]:
    """Each seed's curve on a common x: shared x values as they are, else interpolated."""
    per = []
    for _, g in df.groupby(by, sort=True):
        g = g[[x, y]].dropna(subset=[x]).groupby(x, sort=True)[y].mean()
        per.append(g)
    xs = [tuple(p.index) for p in per]
    if all(v == xs[0] for v in xs):
        grid = np.asarray(xs[0], dtype=float)
        ys = np.stack([p.to_numpy(dtype=float) for p in per])
        return grid, ys
    lo = max(min(v) for v in xs)
    hi = min(max(v) for v in xs)
    if not hi > lo:
        lo, hi = min(min(v) for v in xs), max(max(v) for v in xs)
    grid = np.geomspace(lo, hi, 200) if logx and lo > 0 else np.linspace(lo, hi, 200)
    ys = []
    for p in per:
        px = p.index.to_numpy(dtype=float)
        py = p.to_numpy(dtype=float)
        ok = np.isfinite(py)
        yi = np.interp(grid, px[ok], py[ok]) if ok.sum() >= 2 else np.full(grid.size, np.nan)
        yi[(grid < px.min()) | (grid > px.max())] = np.nan
        ys.append(yi)
    return grid, np.stack(ys)


def spread(
    df: pd.DataFrame,
    x: str,
    y: str,
    *,
    hue: str | None = None,
    seed: str = "seed",
    ax: Axes | None = None,
    logx: bool = False,
    points: bool = True,
    color: Any = None,
    label: str | None = None,
) -> Axes:
    """Median of ``y`` over seeds against ``x``, the band from the lowest to the highest seed.

    Parameters
    ----------
    df
        One row per run (and per ``x``).
    x
        Column on the horizontal axis.
    y
        Column on the vertical axis.
    hue
        Column that splits the curves (one colour each).
    seed
        Column that identifies the repeats.
    ax
        Axes to draw on (a new figure when None).
    logx
        Logarithmic x axis.
    points
        Also draw every seed's value as a small dot (for grids shared by all seeds).
    color
        Colour when ``hue`` is None.
    label
        Legend label when ``hue`` is None.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    """
    import matplotlib as mpl

    ax = _axes(ax)
    groups = [(None, df)] if hue is None else list(df.groupby(hue, sort=True))
    cmap = mpl.colormaps["viridis"]
    for i, (level, g) in enumerate(groups):
        if g[y].notna().sum() == 0:
            continue
        c = color if hue is None else cmap(i / max(len(groups) - 1, 1) * 0.9)
        lab = label if hue is None else f"{level:g}" if isinstance(level, float) else str(level)
        xs, ys = _curves(g, x, y, seed, logx)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
                med = np.nanmedian(ys, axis=0)
                lo, hi = np.nanmin(ys, axis=0), np.nanmax(ys, axis=0)
        (line,) = ax.plot(xs, med, color=c, lw=1.8, label=lab, marker="o" if points else None,
                          ms=3)
        if ys.shape[0] > 1:
            ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
        if points and ys.shape[0] > 1:
            for row in ys:
                ax.plot(xs, row, ls="none", marker=".", ms=3, color=line.get_color(), alpha=0.6)
    if logx:
        xv = pd.to_numeric(df[x], errors="coerce").to_numpy(dtype=float)
        xv = xv[np.isfinite(xv)]
        if xv.size and xv.min() > 0:
            ax.set_xscale("log")
        else:  # a 0 on the axis (snr 0: no signal) has no place on a log scale
            pos = xv[xv > 0]
            ax.set_xscale("symlog", linthresh=float(pos.min()) if pos.size else 1.0)
    ax.set_xlabel(LABELS.get(x, x))
    ax.set_ylabel(LABELS.get(y, y))
    return ax


def _n_seeds(df: pd.DataFrame) -> int:
    return int(df["seed"].nunique()) if "seed" in df else 1


def _subtitle(df: pd.DataFrame) -> str:
    emb = df["embedding"].iloc[0] if "embedding" in df and len(df) else ""
    k = _n_seeds(df)
    parts = [f"{k} seeds: median, band = lowest to highest" if k != 1 else "1 seed"]
    if "n_features" in df and len(df):
        parts.append(f"{int(df['n_features'].iloc[0])} features")
    if emb == "vae":
        parts.append(f"VAE {int(df['epochs'].iloc[0])} epochs")
    elif emb:
        parts.append(str(emb))
    return "; ".join(parts)


def _figure(nrows: int, ncols: int, size=(4.2, 3.6)) -> Figure:
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    return fig


_SEPARATION_MEASURES = ("centre_distance", "separation", "silhouette", "dbscan_v_measure")


def plot_separation(df: pd.DataFrame, x: str, hue: str | None, title: str) -> Figure:
    """Four panels of group separation in the latent against ``x`` (one curve per ``hue``)."""
    fig = _figure(1, 4)
    axes = fig.subplots(1, 4)
    for ax, m in zip(axes, _SEPARATION_MEASURES, strict=True):
        spread(df, x, m, hue=hue, ax=ax, logx=x == "snr")
        if m == "separation":
            pos = df[m].to_numpy(dtype=float)
            pos = pos[np.isfinite(pos)]
            if pos.size and pos.min() > 0:
                ax.set_yscale("log")
            else:
                ax.set_yscale("symlog", linthresh=0.1)
                ax.set_ylim(bottom=0)
        if m in ("silhouette", "dbscan_v_measure"):
            ax.set_ylim(min(-0.05, ax.get_ylim()[0]), 1.02)
    if hue is not None and df[hue].nunique() > 1:
        axes[0].legend(title=LABELS.get(hue, hue), fontsize="small")
    fig.suptitle(f"{title}\n{_subtitle(df)}", fontsize="medium")
    return fig


def plot_samples_features(df: pd.DataFrame) -> Figure:
    """Draw the samples-features study: separation against informative features, per size."""
    snr = ", ".join(f"{s:g}" for s in sorted(df["snr"].unique()))
    return plot_separation(
        df, "n_informative", "n_samples",
        f"Groups in the latent against informative features (signal to noise {snr})",
    )


def plot_snr(df: pd.DataFrame) -> Figure:
    """Draw the snr study: separation against signal to noise."""
    n = ", ".join(str(v) for v in sorted(df["n_samples"].unique()))
    k = ", ".join(str(v) for v in sorted(df["n_informative"].unique()))
    hue = "n_samples" if df["n_samples"].nunique() > 1 else (
        "n_informative" if df["n_informative"].nunique() > 1 else None)
    return plot_separation(
        df, "snr", hue, f"Groups in the latent against signal to noise ({n} samples, {k} "
        "informative features)",
    )


def latent_scatter(
    Z: np.ndarray, labels: np.ndarray, *, ax: Axes | None = None, title: str | None = None
) -> Axes:
    """Scatter a 2-D latent coloured by ``labels`` (-1, DBSCAN noise, in grey).

    Parameters
    ----------
    Z
        Points, shape (n, 2).
    labels
        One label per point.
    ax
        Axes to draw on.
    title
        Panel title.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    """
    import matplotlib as mpl

    ax = _axes(ax, (4, 4))
    Z = np.asarray(Z, dtype=float)
    labels = np.asarray(labels)
    s = float(np.clip(3000 / max(len(Z), 1), 2, 20))
    noise = labels == -1
    if noise.any():
        ax.scatter(Z[noise, 0], Z[noise, 1], s=s, c="#aaaaaa", lw=0)
    cats = np.unique(labels[~noise])
    cmap = mpl.colormaps["tab10" if cats.size <= 10 else "tab20"]
    for i, c in enumerate(cats):
        m = labels == c
        ax.scatter(Z[m, 0], Z[m, 1], s=s, color=cmap(i % cmap.N), lw=0)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize="small")
    return ax


def plot_clusterers(df: pd.DataFrame, latents: Mapping[tuple, Any]) -> Figure:
    """Draw one row per informative setting (first seed): true groups, then every clusterer.

    Below, every clusterer's V-measure on the samples it was not tuned on, over all seeds
    (bar: median; line: range; dots: seeds).
    """
    settings = sorted(latents)
    names = list(dict.fromkeys(df["clusterer"]))
    score = "heldout_v_measure" if "heldout_v_measure" in df else "v_measure"
    ncols = len(names) + 1
    fig = _figure(len(settings) + 1, ncols, size=(2.5, 2.6))
    sub = fig.subfigures(2, 1, height_ratios=[max(len(settings), 1), 1.3])
    grid = sub[0].subplots(max(len(settings), 1), ncols, squeeze=False)
    first = df["seed"].min()
    for r, key in enumerate(settings):
        Z, y, labels = latents[key]
        k = key[0]
        latent_scatter(Z, y, ax=grid[r, 0], title=f"true groups\n{k} informative features")
        for c, name in enumerate(names, start=1):
            row = df[(df["clusterer"] == name) & (df["n_informative"] == k)
                     & (df["seed"] == first)]
            v = float(row[score].iloc[0]) if len(row) else np.nan
            nc = int(row["n_clusters"].iloc[0]) if len(row) else 0
            status = str(row["status"].iloc[0]) if len(row) and "status" in row else "ok"
            extra = "" if status in ("ok", "nan") else f"\n{status[:28]}"
            latent_scatter(Z, labels[name], ax=grid[r, c],
                           title=f"{name}\nV={v:.2f}, {nc} clusters{extra}")
    ax = sub[1].subplots(1, 1)
    ks = sorted(df["n_informative"].unique())
    width = 0.8 / max(len(ks), 1)
    for j, k in enumerate(ks):
        for i, name in enumerate(names):
            v = df[(df["clusterer"] == name) & (df["n_informative"] == k)][score]
            v = v.to_numpy(dtype=float)
            x = i - 0.4 + width * (j + 0.5)
            if np.isfinite(v).any():
                ax.bar(x, np.nanmedian(v), width=width * 0.9, color=f"C{j}",
                       label=f"{k} informative" if i == 0 else None, alpha=0.7)
                ax.plot([x, x], [np.nanmin(v), np.nanmax(v)], color="k", lw=1)
                ax.plot(np.full(v.size, x), v, ".", color="k", ms=3)
    ax.set_xticks(range(len(names)), names, fontsize="small")
    ax.set_ylabel("V-measure (samples not tuned on)")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize="small", ncols=len(ks))
    tune = df["tune_fraction"].iloc[0] if "tune_fraction" in df else np.nan
    ax.set_title(f"V-measure over {_n_seeds(df)} seeds (bar: median, line: range); tuned on "
                 f"a stratified {tune:.0%} of the samples", fontsize="small")
    fig.suptitle(f"Clusterers on the latent of {int(df['n_groups'].iloc[0])} groups "
                 f"({_subtitle(df)})", fontsize="medium")
    return fig


def plot_silhouette(df: pd.DataFrame, latents: Mapping[tuple, Any]) -> Figure:
    """Top: one example of each dataset. Bottom: k-means silhouette against k, true k dashed."""
    keys = sorted(latents, key=lambda t: (t[0] != "round", t[1]))
    fig = _figure(2, len(keys), size=(3.4, 3.2))
    axes = fig.subplots(2, len(keys), squeeze=False)
    for c, (dataset, g) in enumerate(keys):
        Z, y = latents[(dataset, g)]
        sub = df[(df["dataset"] == dataset) & (df["n_groups"] == g)]
        if dataset == "round":
            name = f"{g} round groups"
        else:
            name = (f"{g} groups, {str(sub['embedding'].iloc[0]).upper()} latent\n"
                    f"({int(sub['n_informative'].iloc[0])} informative features)")
        latent_scatter(Z, y, ax=axes[0, c], title=name)
        ax = axes[1, c]
        spread(sub, "k", "silhouette", ax=ax, color="C0")
        ax.axvline(g, color="k", ls="--", lw=1)
        best = sub.loc[sub.groupby("seed")["silhouette"].idxmax(), "k"].to_numpy()
        ax.set_title(f"best k per seed: {', '.join(str(int(b)) for b in best)} (true {g})",
                     fontsize="small")
        ax.set_ylabel("k-means silhouette")
    fig.suptitle(f"k-means silhouette against k ({_subtitle(df[df['dataset'] != 'round'])})",
                 fontsize="medium")
    return fig


def plot_eps(df: pd.DataFrame, latents: Mapping[tuple, Any]) -> Figure:
    """Draw the eps sweep: clusters, noise and scores against eps, with each seed's optimum."""
    fig = _figure(1, 4)
    axes = fig.subplots(1, 4)
    g = int(df["n_groups"].iloc[0])
    x = "eps_relative"
    spread(df, x, "n_clusters", ax=axes[0], logx=True, points=False, color="C0",
           label="clusters found")
    axes[0].axhline(g, color="k", ls="--", lw=1, label=f"true groups ({g})")
    axes[0].yaxis.get_major_locator().set_params(integer=True)
    axes[0].set_ylabel("clusters (all samples)")
    axes[0].legend(fontsize="small")
    spread(df, x, "noise_fraction", ax=axes[1], logx=True, points=False, color="C7")
    axes[1].set_ylabel("noise fraction")
    for i, m in enumerate(("homogeneity", "completeness", "v_measure")):
        spread(df, x, m, ax=axes[2], logx=True, points=False, color=f"C{i + 1}", label=m)
    best = df[df["best"].astype(bool)]
    axes[2].plot(best[x], best["v_measure"], "k*", ms=9, label="maximum (per seed)")
    for ax in axes[:3]:
        for bx in best[x]:
            ax.axvline(bx, color="k", lw=0.5, alpha=0.4)
    axes[2].set_ylim(0, 1.02)
    axes[2].set_ylabel("score (all samples)")
    axes[2].legend(fontsize="small")
    for ax in axes[:3]:
        ax.set_xlabel("eps / eps at which all samples form one cluster")
    nb = ", ".join(str(int(v)) for v in best["n_clusters"])
    axes[0].set_title(f"clusters at the V-measure maximum: {nb}", fontsize="small")
    first = min(latents) if latents else None
    if first is not None:
        Z, _, lab = latents[first]
        latent_scatter(Z, lab, ax=axes[3], title=f"seed {first[0]}: DBSCAN at best eps")
    fig.suptitle(f"DBSCAN eps sweep on {g} groups ({_subtitle(df)})", fontsize="medium")
    return fig


def plot_study(name: str, table: pd.DataFrame, latents: Mapping[tuple, Any] | None = None):
    """Draw the figure of study ``name`` from its table (and latents, where it draws them).

    Parameters
    ----------
    name
        The study.
    table
        Its table (as written to ``<name>.csv``).
    latents
        The latents of :func:`proteolabel.studies.compute_study` (needed for
        ``clusterers``, ``silhouette`` and ``eps``).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    """
    latents = latents or {}
    if name == "samples-features":
        return plot_samples_features(table)
    if name == "snr":
        return plot_snr(table)
    if name == "clusterers":
        return plot_clusterers(table, latents)
    if name == "silhouette":
        return plot_silhouette(table, latents)
    if name == "eps":
        return plot_eps(table, latents)
    raise ValueError(f"unknown study {name!r}")


__all__: Sequence[str] = (
    "latent_scatter",
    "plot_clusterers",
    "plot_eps",
    "plot_samples_features",
    "plot_separation",
    "plot_silhouette",
    "plot_snr",
    "plot_study",
    "spread",
)
