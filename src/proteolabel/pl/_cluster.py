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

from proteolabel.pl import _style as S

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

def _axes(ax: Axes | None, figsize=(6.0, 4.5)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Start and end (inclusive) index of each run of True in ``mask``."""
    out, start = [], None
    for i, v in enumerate(mask):
        if v and start is None:
            start = i
        if not v and start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, len(mask) - 1))
    return out


def _edges(eps: np.ndarray, log: bool) -> np.ndarray:
    """Boundaries halfway between grid points (geometric halfway on a log axis)."""
    if eps.size == 1:
        return np.array([eps[0] * 0.95, eps[0] * 1.05]) if eps[0] > 0 else np.array([-0.5, 0.5])
    if log:
        le = np.log(eps)
        mid = (le[1:] + le[:-1]) / 2
        return np.exp(np.concatenate([[le[0] - (mid[0] - le[0])], mid, [le[-1] + (le[-1] - mid[-1])]]))
    mid = (eps[1:] + eps[:-1]) / 2
    return np.concatenate([[eps[0] - (mid[0] - eps[0])], mid, [eps[-1] + (eps[-1] - mid[-1])]])


def _undefined_reason(sweep_df: pd.DataFrame, undefined: np.ndarray) -> str:
    """Why the scores are undefined where ``undefined``, in words (two lines)."""
    if "n_clusters_tune" not in sweep_df:
        return "degenerate on the\ntune samples"
    few = sweep_df["n_clusters_tune"].to_numpy()[undefined] < 2
    if few.all():
        return "fewer than two clusters\namong tune samples (noise aside)"
    if not few.any():
        return "the tune samples hold\nfewer than two known labels"
    return "fewer than two clusters\nor labels among tune samples"


def eps_sweep(
    sweep_df: pd.DataFrame,
    chosen_eps: float | None = None,
    ax: Axes | None = None,
    *,
    log_eps: bool | None = None,
    title: str | None = None,
    min_samples: int | None = None,
    supervised: bool | None = None,
    n_tune: int | None = None,
    unsupervised_rule: str = "knee",
) -> Axes:
    """Plot the scores, the number of clusters and the noise against eps, in three panels.

    The panels share the eps axis: scores on the tune samples (homogeneity, completeness,
    V-measure; eps where they are undefined are hatched, with the reason in the legend), the
    number of clusters, and the number of noise samples, each for all samples and for the tune
    samples. The chosen eps is a vertical line through all three; the title says how it was
    chosen.

    Parameters
    ----------
    sweep_df : pandas.DataFrame
        :attr:`proteolabel.cluster.EpsSearch.sweep_` (columns ``eps``, ``n_clusters``,
        ``n_noise`` and, where present, ``n_clusters_tune``, ``n_noise_tune``, ``defined``,
        ``homogeneity``, ``completeness``, ``v_measure``).
    chosen_eps : float, default=None
        Marked with a vertical line.
    ax : matplotlib Axes, default=None
        Where to draw; it is split into the three panels (a new figure when None).
    log_eps : bool, default=None
        Log-scaled eps axis; by default when all eps are positive and span over a factor 10.
    title : str, default=None
        Title; by default it names min_samples, the chosen eps and how it was chosen.
    min_samples : int, default=None
        DBSCAN's min_samples of the sweep, for the title.
    supervised : bool, default=None
        Whether eps was chosen by V-measure on tune samples (False: by the unsupervised rule).
        By default inferred: supervised when the scores are defined at ``chosen_eps``.
    n_tune : int, default=None
        Number of tune samples, for the title.
    unsupervised_rule : str, default="knee"
        The rule used when eps was not chosen on tune samples, for the title.

    Returns
    -------
    matplotlib Axes
        The scores panel; ``ax.count_axes`` holds the clusters and noise panels (and
        ``ax.right_ax``, kept for old callers, is the clusters panel).

    """
    from matplotlib.patches import Patch
    from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter, NullLocator

    top, mid, bot = S.stack_axes(ax, (2.2, 1.0, 1.0), figsize=(7.0, 5.6))
    eps = sweep_df["eps"].to_numpy(float)
    if log_eps is None:
        log_eps = bool(eps.size and eps.min() > 0 and eps.max() / eps.min() > 10)
    scores = [c for c in ("homogeneity", "completeness", "v_measure") if c in sweep_df]
    finite = np.zeros(eps.size, bool)
    for c in scores:
        finite |= np.isfinite(sweep_df[c].to_numpy(float))
    defined = sweep_df["defined"].to_numpy(bool) if "defined" in sweep_df else finite
    has_tune_info = {"n_clusters_tune", "n_noise_tune"} <= set(sweep_df.columns)
    no_tune = n_tune == 0 or (n_tune is None and has_tune_info and not (
        sweep_df["n_clusters_tune"].to_numpy() + sweep_df["n_noise_tune"].to_numpy()).any())
    if supervised is None and chosen_eps is not None and eps.size:
        supervised = bool(defined[int(np.argmin(np.abs(eps - chosen_eps)))])

    # --- scores ----------------------------------------------------------------------------
    styles = {"homogeneity": (":", 1.3, "tab:blue"), "completeness": ("--", 1.3, "tab:orange"),
              "v_measure": ("-", 2.2, "tab:green")}
    for c in scores:
        ls, lw, colour = styles[c]
        if np.isfinite(sweep_df[c].to_numpy(float)).any():
            top.plot(eps, sweep_df[c], ls=ls, lw=lw, color=colour, label=c.replace("_", "-"))
    undefined = ~defined
    edges = _edges(eps, bool(log_eps))
    extra: list = []
    if not no_tune and undefined.any():
        reason = "score undefined: " + _undefined_reason(sweep_df, undefined)
        for a in (top, mid, bot):
            for i, j in _runs(undefined):
                a.axvspan(edges[i], edges[j + 1], facecolor="none", edgecolor="#c8c8c8",
                          hatch="///", lw=0, zorder=0)
        extra.append(Patch(facecolor="none", edgecolor="#c8c8c8", hatch="///", label=reason))
    top.set_ylim(-0.03, 1.05)
    top.set_ylabel("score on\ntune samples")
    if no_tune:
        top.text(0.5, 0.5, "no tune samples: no scores", transform=top.transAxes, ha="center",
                 va="center", fontsize=10, color="0.3")
    elif not defined.any():
        why = _undefined_reason(sweep_df, undefined)
        top.text(0.5, 0.5, f"scores undefined at every eps:\n{why}", transform=top.transAxes,
                 ha="center", va="center", fontsize=9, color="0.2", zorder=4,
                 bbox=dict(facecolor="white", edgecolor="0.7", boxstyle="round,pad=0.4"))

    # --- counts ----------------------------------------------------------------------------
    mid.plot(eps, sweep_df["n_clusters"], color="tab:purple", lw=2.2, alpha=0.75,
             drawstyle="steps-mid", label="all samples")
    bot.plot(eps, sweep_df["n_noise"], color="tab:purple", lw=2.2, alpha=0.75,
             drawstyle="steps-mid", label="all samples")
    if has_tune_info and not no_tune:  # black dashes stay visible where the two coincide
        mid.plot(eps, sweep_df["n_clusters_tune"], color="k", lw=1.0, ls=(0, (3, 2)),
                 drawstyle="steps-mid", label="tune samples")
        bot.plot(eps, sweep_df["n_noise_tune"], color="k", lw=1.0, ls=(0, (3, 2)),
                 drawstyle="steps-mid", label="tune samples")
    mid.set_ylabel("clusters")
    bot.set_ylabel("noise\nsamples")
    for a in (mid, bot):
        a.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True, min_n_ticks=2))
        hi = max(1.0, float(np.nanmax([ln.get_ydata().max() for ln in a.get_lines()])))
        a.set_ylim(-0.08 * hi, 1.15 * hi)
    bot.set_xlabel("eps (DBSCAN radius in the latent)")

    # --- eps axis and the choice --------------------------------------------------------------
    if log_eps:
        bot.set_xscale("log")
        ticks = S.log_ticks(float(eps.min()), float(eps.max()))
        if ticks:
            bot.xaxis.set_major_locator(FixedLocator(ticks))
        bot.xaxis.set_major_formatter(FuncFormatter(lambda v, _: S.tick_text(v)))
        bot.xaxis.set_minor_formatter(NullFormatter())
        if len(ticks) > 9:
            bot.xaxis.set_minor_locator(NullLocator())
    if eps.size:
        bot.set_xlim(edges[0], edges[-1])
    for a in (top, mid):
        a.tick_params(labelbottom=False)
    if chosen_eps is not None:
        for a in (top, mid, bot):
            a.axvline(chosen_eps, color="k", lw=1.1, zorder=3,
                      label=f"chosen eps = {chosen_eps:.3g}" if a is top else None)
    for a in (top, mid, bot):
        a.grid(alpha=0.25, lw=0.5)

    # --- legends and title ----------------------------------------------------------------
    h, lab = top.get_legend_handles_labels()
    for p in extra:
        h.append(p)
        lab.append(p.get_label())
    S.legend_outside(top, h, lab, title="on tune samples" if scores and not no_tune else None)
    h, lab = mid.get_legend_handles_labels()
    S.legend_outside(mid, h, lab, title="counted among")
    if title is None:
        head = "DBSCAN eps sweep" + (f", min_samples = {min_samples}" if min_samples else "")
        if chosen_eps is None:
            title = head
        else:
            tune = f"{n_tune} tune samples" if n_tune else "the tune samples"
            if supervised:
                how = f"chosen eps = {chosen_eps:.3g}: maximum V-measure on {tune}"
            elif no_tune:
                how = (f"chosen eps = {chosen_eps:.3g} by the unsupervised {unsupervised_rule} "
                       "rule (no tune samples)")
            else:
                how = (f"chosen eps = {chosen_eps:.3g} by the unsupervised {unsupervised_rule} "
                       f"rule\n(fallback: scores undefined at every eps on {tune})")
            title = f"{head}\n{how}"
    top.set_title(title, fontsize=10)
    top.count_axes = (mid, bot)
    top.right_ax = mid
    return top


def _scatter_labels(ax: Axes, X: np.ndarray, labels: Any, title: str, s: float, *,
                    reference: Any = None, ring: np.ndarray | None = None,
                    known: bool = False) -> tuple[list, list[str]]:
    """One panel: ``labels`` coloured like :func:`proteolabel.pl.latent` colours them.

    ``known`` marks the known-label panel (no noise; colours by label order); otherwise the
    labels are cluster ids, -1 noise, coloured to match ``reference`` (the known labels).
    Returns legend handles and texts for what was drawn.
    """
    lab = np.asarray(labels, dtype=object)
    ok = np.isfinite(X[:, :2]).all(axis=1)
    missing = S.is_missing(lab) & ok
    str_lab = lab.astype(str)
    if known:
        is_noise = np.zeros(len(lab), bool)
        order = S.label_order(np.where(ok, lab, None))
        positions: dict[str, int] = {c: i for i, c in enumerate(order)}
    else:
        is_noise = np.array([str(v) == "-1" for v in lab]) & ok & ~missing
        ref = None if reference is None else np.where(ok, np.asarray(reference, dtype=object), None)
        positions, _ = S.cluster_styles(np.where(ok & ~missing, str_lab, "-1"), ref)
    handles, texts = [], []
    for mask, colour, text in ((missing, S.MISSING_COLOUR, "no label"), (is_noise, S.NOISE_COLOUR, "noise")):
        if mask.any():
            ax.scatter(X[mask, 0], X[mask, 1], s=s, c=colour, lw=0, zorder=1)
            handles.append(S.point_handle(colour))
            texts.append(f"{text} ({mask.sum()})")
    rest = ok & ~missing & ~is_noise
    for c in sorted(positions, key=S.natural_key):
        m = rest & (str_lab == c)
        if not m.any():
            continue
        colour, marker = S.style(positions[c])
        ax.scatter(X[m, 0], X[m, 1], s=s, color=colour, marker=marker, lw=0, zorder=2)
        handles.append(S.point_handle(colour, marker))
        texts.append(S.wrap(f"{c} ({m.sum()})"))
    if ring is not None and (ring & ok).any():
        r = ring & ok
        ax.scatter(X[r, 0], X[r, 1], s=S.ring_size(s), facecolors="none",
                   edgecolors=S.RING_COLOUR, lw=0.8, zorder=3)
        handles.append(S.point_handle("none", ring=True))
        texts.append(f"tune sample (ringed), {r.sum()}")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("latent 1", fontsize=8, labelpad=2)
    ax.set_ylabel("latent 2", fontsize=8, labelpad=2)
    return handles, texts


def _fmt_param(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        return f"{float(v):.3g}"
    return str(v)


#: How the methods whose rule is not in their parameters choose them (panel titles).
_IMPLIED_RULE = {"kmeans": "by silhouette", "gaussian_mixture": "by BIC"}


def _param_text(name: str, params: Mapping[str, Any] | None) -> str:
    """E.g. ``min_samples=10, eps=0.703 (V-measure on tune samples)``."""
    if not params:
        return ""
    p = dict(params)
    rule = p.pop("eps_rule", None) or p.pop("k_rule", None) or _IMPLIED_RULE.get(name)
    keys = sorted(p, key=lambda k: (k != "min_samples", k))
    text = ", ".join(f"{k}={_fmt_param(p[k])}" for k in keys)
    if rule:
        rule = str(rule)
        text += f" ({rule if rule.startswith('by') else 'by ' + rule})"
    return text


def _n_text(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def compare_panel(
    X,
    results,
    y=None,
    *,
    methods: Sequence[str] | None = None,
    ncols: int = 3,
    s: float | None = None,
    tune=None,
) -> Figure:
    """One latent scatter per clusterer, beside the known labels.

    Colours are those of :func:`proteolabel.pl.latent`: a known label has one colour in every
    panel (and in ``latent.png``), and a cluster takes the colour of the known label that is
    its majority (where no other cluster holds more of it); other clusters get colours no label
    uses, grey is noise only. One legend, outside the panels, names the known labels.

    Parameters
    ----------
    X : array-like of shape (n_samples, 2)
        The latent.
    results : Comparison or mapping of str to labels
        A :class:`proteolabel.cluster.Comparison` (titles then show the number of clusters,
        the method's key parameters and the V-measure) or a plain ``{method: labels}`` mapping.
    y : array-like of shape (n_samples,), default=None
        Known labels, drawn first (missing labels in light grey).
    methods : sequence of str, default=None
        Which methods to draw, in order (all by default).
    ncols : int, default=3
        Panels per row.
    s : float, default=None
        Marker size (by default from the number of samples).
    tune : array-like of bool of shape (n_samples,), default=None
        Tune samples, ringed in the known-label panel.

    Returns
    -------
    matplotlib Figure
        The panel figure.

    """
    import matplotlib.pyplot as plt

    X = np.asarray(X, dtype=float)
    if X.ndim == 2 and X.shape[1] < 2:
        X = np.column_stack([X[:, 0], np.zeros(len(X))])
    labels: Mapping[str, np.ndarray] = getattr(results, "labels", results)
    table = getattr(results, "table", None)
    params = getattr(results, "params", None) or {}
    names = list(labels) if methods is None else list(methods)
    panels = ([("known labels", y, True)] if y is not None else []) + [
        (m, labels[m], False) for m in names]
    ncols = max(1, min(ncols, len(panels)))
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols + 2.3, 3.35 * nrows),
                             layout="constrained", squeeze=False)
    size = s if s is not None else float(np.clip(3000 / max(len(X), 1), 5, 25))
    ring = None if tune is None else np.asarray(tune, dtype=bool)
    legend: tuple[list, list[str]] | None = None
    noise_seen = 0
    for ax, (name, lab, known) in zip(axes.ravel(), panels, strict=False):
        lab_arr = np.asarray(lab, dtype=object)
        if known:
            title = "known labels"
        else:
            ids = {str(v) for v in lab_arr if str(v) != "-1" and not S.is_missing([v])[0]}
            n_clusters = len(ids)
            n_noise = int(sum(str(v) == "-1" for v in lab_arr))
            row = table.loc[name] if table is not None and name in table.index else None
            if row is not None and "n_clusters" in row and np.isfinite(row["n_clusters"]):
                n_clusters = int(row["n_clusters"])
            title = f"{name}: {_n_text(n_clusters, 'cluster')}"
            if n_noise:
                title += f", {n_noise} noise"
            ptext = _param_text(name, params.get(name))
            if ptext:
                title += "\n" + S.wrap(ptext, width=46, lines=2)
            if row is not None:
                v, where = row.get("heldout_v_measure", np.nan), "held-out"
                if not np.isfinite(v):
                    v, where = row.get("tune_v_measure", np.nan), "tune"
                if np.isfinite(v):
                    title += f"\nV={v:.2f} on {where} labels"
                status = str(row.get("status", "ok"))
                if status != "ok":
                    title += f"\n({S.wrap(status, width=46, lines=1)})"
            noise_seen += n_noise
        h, t = _scatter_labels(ax, X, lab, title, size, reference=y, ring=ring if known else None,
                               known=known)
        if known:
            legend = (h, t)
    for ax in axes.ravel()[len(panels):]:
        ax.set_axis_off()
    if legend is not None:
        h, t = legend
        if noise_seen:
            h.append(S.point_handle(S.NOISE_COLOUR))
            t.append("noise (clusterer panels)")
        S.legend_outside(axes[0, 0], h, t, title="known label (samples)", where=fig)
    elif noise_seen:
        S.legend_outside(axes[0, 0], [S.point_handle(S.NOISE_COLOUR)], ["noise"], where=fig)
    note = ("Colours: a known label has one colour in every panel; a cluster takes the colour of "
            "the known label that is over half of its labelled samples (each label colour goes to "
            "one cluster, the one holding most of that label); the other clusters, mixed ones "
            "included, get colours no label uses; grey is noise only."
            if y is not None else "Clusters coloured in order; grey is noise only.")
    fig.supxlabel(S.wrap(note, width=int(40 * ncols), lines=4), fontsize=8.5)
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
    better = "lower" if score == "bic" else "higher"
    ax.plot(k, val, "o-", color="tab:blue", label=f"{score.replace('_', ' ')} ({better} is better)")
    if chosen_k is None and np.isfinite(val).any():
        chosen_k = int(k[np.nanargmin(val) if score == "bic" else np.nanargmax(val)])
    if chosen_k is not None:
        ax.axvline(chosen_k, color="k", lw=1, ls="--", label=f"chosen k = {chosen_k}")
    ax.set_xlabel("k (number of clusters)")
    ax.set_ylabel(score.replace("_", " "))
    ax.set_xticks(k)
    ax.grid(alpha=0.25, lw=0.5)
    note = ("silhouette favours compact, convex clusters;\nelongated groups can get a wrong k"
            if score == "silhouette" else None)
    ax.legend(fontsize=S.LEGEND_FONTSIZE, title=note, title_fontsize=7.5, loc="best", frameon=True,
              framealpha=0.85)
    if title:
        ax.set_title(title)
    return ax
