"""Shared look of the plots: one categorical palette, noise/missing styles, legends, axes.

Every categorical plot in :mod:`proteolabel.pl` takes its colours from here, so a known label
has the same colour in ``latent.png`` and ``compare.png``, and a cluster takes the colour of the
known label it holds most of (:func:`cluster_styles`).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Twenty distinct colours, none of them grey (grey is reserved for noise and missing labels):
#: tab10 without its grey, then the light tab20 shades without light grey, then two darker tones
#: (the scheme scanpy uses).
PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
    "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2",
    "#dbdb8d", "#9edae5", "#ad494a", "#8c6d31",
)
#: Beyond len(PALETTE) categories the colours repeat with the next marker shape.
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*")
#: DBSCAN noise (cluster -1): the only mid-grey point style.
NOISE_COLOUR = "#8f8f8f"
#: Samples without a known label: the only light-grey point style.
MISSING_COLOUR = "#d4d4d4"
#: Edge of the ring drawn around tune samples.
RING_COLOUR = "black"
#: Legend rows per column before another column is started.
LEGEND_ROWS = 18
#: Most legend entries shown; the rest are summarised in one line.
LEGEND_MAX = 54
LEGEND_FONTSIZE = 8.5


def natural_key(value: Any) -> tuple:
    """Sort key that orders ``"K6" < "K11"`` and ``"2" < "10"`` (numbers by value)."""
    parts = re.split(r"(\d+(?:\.\d+)?)", str(value).strip())
    key = []
    for p in parts:
        if not p:
            continue
        try:
            key.append((0, float(p), ""))
        except ValueError:
            key.append((1, 0.0, p.lower()))
    return tuple(key)


def style(index: int) -> tuple[str, str]:
    """Colour and marker of the category with palette position ``index``."""
    return PALETTE[index % len(PALETTE)], MARKERS[(index // len(PALETTE)) % len(MARKERS)]


def is_missing(values: Any) -> np.ndarray:
    """Mark where a label is missing (None, NaN or blank)."""
    s = pd.Series(np.asarray(values, dtype=object))
    return (s.isna() | (s.astype(str).str.strip() == "")).to_numpy()


def label_order(labels: Any) -> list[str]:
    """Return the known labels present (as strings), in the order that fixes their colours."""
    lab = np.asarray(labels, dtype=object)
    present = lab[~is_missing(lab)].astype(str)
    return sorted(set(present), key=natural_key)


def cluster_styles(clusters: Any, labels: Any | None = None) -> tuple[dict[str, int], dict[str, dict]]:
    """Palette positions for clusters, matched to the colours of the known labels.

    Each known label keeps its position in :func:`label_order`. A cluster takes the position
    (the colour) of the label that is the majority (over half) of its labelled samples, unless
    another cluster holds more samples of that label: each label colour goes to one cluster
    only. The other clusters (mixed ones included) get the positions after the labels', in
    cluster order.

    Parameters
    ----------
    clusters : array-like of shape (n_samples,)
        Cluster ids; ``-1`` is noise and is left out.
    labels : array-like of shape (n_samples,), default=None
        Known labels (missing ones ignored).

    Returns
    -------
    positions : dict of str to int
        Palette position of each cluster id (as a string).
    majority : dict of str to dict
        For clusters with labelled samples: ``label`` (the most frequent; ties: the
        alphabetically first, as ``labels.csv`` names clusters), ``count`` (its samples),
        ``n_labelled``, ``majority`` (``count`` is over half of ``n_labelled``), ``tie`` and
        ``matched`` (the cluster got that label's colour).

    """
    cl = np.asarray(clusters, dtype=object).astype(str)
    ids = sorted({c for c in cl if c != "-1"}, key=natural_key)
    order = label_order(labels) if labels is not None else []
    pos_of_label = {lab: i for i, lab in enumerate(order)}
    majority: dict[str, dict] = {}
    if order:
        lab = np.asarray(labels, dtype=object)
        has = ~is_missing(lab)
        lab_s = lab.astype(str)
        for c in ids:
            m = has & (cl == c)
            if not m.any():
                continue
            vals, counts = np.unique(lab_s[m], return_counts=True)
            # ties go to the alphabetically first label, as in labels.csv's cluster_label
            ranked = sorted(zip(vals, counts, strict=True), key=lambda t: (-t[1], str(t[0])))
            n_lab = int(m.sum())
            tie = len(ranked) > 1 and ranked[1][1] == ranked[0][1]
            majority[c] = {"label": str(ranked[0][0]), "count": int(ranked[0][1]),
                           "n_labelled": n_lab, "majority": bool(2 * ranked[0][1] > n_lab),
                           "tie": bool(tie), "matched": False}
    positions: dict[str, int] = {}
    taken: set[str] = set()
    rank = sorted((c for c in majority if majority[c]["majority"]), key=lambda c: (-majority[c]["count"],
                                           -majority[c]["count"] / majority[c]["n_labelled"],
                                           natural_key(c)))
    for c in rank:
        lab = majority[c]["label"]
        if lab not in taken:
            taken.add(lab)
            positions[c] = pos_of_label[lab]
            majority[c]["matched"] = True
    nxt = len(order)
    for c in ids:
        if c not in positions:
            positions[c] = nxt
            nxt += 1
    return positions, majority


def wrap(text: str, width: int = 30, lines: int = 3) -> str:
    """Wrap a legend label over at most ``lines`` lines."""
    return textwrap.fill(str(text), width=width, max_lines=lines, placeholder=" …",
                         break_on_hyphens=False)


def point_handle(colour: str, marker: str = "o", *, ring: bool = False, size: float = 6.5):
    """Make a legend proxy for one point style (a ring: an empty black circle)."""
    from matplotlib.lines import Line2D

    if ring:
        return Line2D([], [], ls="", marker="o", markersize=size + 1.5, markerfacecolor="none",
                      markeredgecolor=RING_COLOUR, markeredgewidth=1.0)
    return Line2D([], [], ls="", marker=marker, markersize=size, markerfacecolor=colour,
                  markeredgewidth=0, color=colour)


def legend_outside(ax: Axes, handles: Sequence, labels: Sequence[str], *, title: str | None = None,
                   where: Any = None):
    """Put a legend right of ``ax`` (never on the points), in columns when long.

    ``where`` is the artist that gets the legend (an Axes, by default ``ax``, or a Figure).
    """
    handles, labels = list(handles), list(labels)
    if len(labels) > LEGEND_MAX:
        extra = len(labels) - (LEGEND_MAX - 1)
        handles = [*handles[: LEGEND_MAX - 1], point_handle("none")]
        labels = [*labels[: LEGEND_MAX - 1], f"… and {extra} more"]
    ncols = max(1, int(np.ceil(len(labels) / LEGEND_ROWS)))
    kw = dict(frameon=False, fontsize=LEGEND_FONTSIZE, title=title, title_fontsize=LEGEND_FONTSIZE,
              ncols=ncols, handletextpad=0.3, columnspacing=1.0, borderaxespad=0.0,
              alignment="left")
    target = ax if where is None else where
    if target is ax:
        leg = ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), **kw)
    else:
        leg = target.legend(handles, labels, loc="outside right upper", **kw)
    return leg


def ring_size(s: float) -> float:
    """Marker area of the ring around a dot of area ``s``: a visible gap on small dots too."""
    return float((np.sqrt(s) + 2.8) ** 2)


def marker_size(n: int) -> float:
    """Default dot area (points^2) for ``n`` samples."""
    return float(np.clip(3000 / max(n, 1), 8, 40))


def stack_axes(ax: Axes | None, height_ratios: Sequence[float], figsize=(7.0, 5.0)) -> list[Axes]:
    """Split ``ax`` (or a new figure) into panels stacked top to bottom that share x.

    The first panel is ``ax`` itself when given (moved into the top slot), so a caller's axes
    stays the returned one.
    """
    import matplotlib.pyplot as plt

    n = len(height_ratios)
    if ax is None:
        fig, axes = plt.subplots(n, 1, figsize=figsize, layout="constrained", sharex=True,
                                 height_ratios=list(height_ratios))
        return list(np.atleast_1d(axes))
    fig = ax.figure
    spec = ax.get_subplotspec()
    if spec is not None:
        gs = spec.subgridspec(n, 1, height_ratios=list(height_ratios), hspace=0.08)
        ax.set_subplotspec(gs[0])
        return [ax] + [fig.add_subplot(gs[i], sharex=ax) for i in range(1, n)]
    x0, y0, w, h = ax.get_position().bounds  # an Axes placed by hand: split its box
    total = float(sum(height_ratios))
    out, top = [], y0 + h
    for i, r in enumerate(height_ratios):
        hh = h * r / total
        if i == 0:
            ax.set_position([x0, top - hh, w, hh * 0.9])
            out.append(ax)
        else:
            out.append(fig.add_axes([x0, top - hh, w, hh * 0.9], sharex=ax))
        top -= hh
    return out


def log_ticks(lo: float, hi: float, *, min_ticks: int = 3) -> list[float]:
    """Readable tick positions on a log axis from ``lo`` to ``hi`` (1-2-5 steps, finer if few)."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo <= 0 or hi <= lo:
        return []
    e0, e1 = int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi)))
    for subs in ((1,), (1, 2, 5), (1, 2, 3, 5), tuple(range(1, 10))):
        ticks = [m * 10.0**e for e in range(e0, e1 + 1) for m in subs]
        ticks = [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
        if len(ticks) >= min_ticks:
            return ticks
    return ticks


def tick_text(v: float) -> str:
    """Short text of a tick value: 0.0005, 0.02, 1, 2e-05."""
    return f"{v:.3g}"
