"""Latent scatter, training loss and the eps sweep of an AnnData result."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from proteolabel import _constants as K
from proteolabel.pl import _style as S

if TYPE_CHECKING:
    import anndata as ad
    from matplotlib.axes import Axes


def _axes(ax: Axes | None, figsize=(5.5, 4.5)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _cluster_like(adata: ad.AnnData, color: str) -> bool:
    """Tell whether a column holds cluster ids (``cluster``, ``cluster_<method>``; -1 noise)."""
    if not color.startswith(K.OBS_CLUSTER) or color not in adata.obs:
        return False
    return pd.api.types.is_integer_dtype(adata.obs[color])


def _continuous(values: pd.Series) -> bool:
    return (pd.api.types.is_float_dtype(values) and not isinstance(values.dtype, pd.CategoricalDtype)
            and values.nunique() > 12)


def latent(
    adata: ad.AnnData,
    color: str = K.OBS_CLUSTER,
    *,
    use_rep: str = K.OBSM_LATENT,
    ax: Axes | None = None,
    title: str | None = None,
    mark: str | None = K.OBS_TUNE,
    s: float | None = None,
    match_to: str | None = K.OBS_LABEL,
    legend: bool = True,
) -> Axes:
    """Scatter the 2-D latent space coloured by an ``obs`` column.

    Colours come from one shared palette (:mod:`proteolabel.pl._style`): known labels keep the
    same colour in every plot, and when colouring by a cluster column each cluster takes the
    colour of the known label (``obs[match_to]``) that is its majority, where no other cluster
    holds more of that label; the other clusters get colours no label uses. With tune samples
    (``obs["is_tune"]``) and ``match_to="label"``, only the tune samples name a cluster, as in
    ``labels.csv``'s ``cluster_label``. Noise (cluster -1)
    is the only mid-grey point, missing labels the only light-grey one. Samples where
    ``obs[mark]`` is true (the tune samples by default) are ringed. A numeric column with many
    values is drawn with a colour bar instead. The legend sits outside the axes, to the right.

    Parameters
    ----------
    adata : AnnData
        With the latent in ``obsm[use_rep]``.
    color : str, default="cluster"
        The ``obs`` column to colour by.
    use_rep : str, default="X_vae"
        ``obsm`` key of the latent.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    title : str, default=None
        Axes title (by default names the column).
    mark : str or None, default="is_tune"
        Boolean ``obs`` column of the samples to ring.
    s : float, default=None
        Dot area in points^2 (by default from the number of samples).
    match_to : str or None, default="label"
        Known-label column whose colours the clusters take; None colours clusters in order.
    legend : bool, default=True
        Draw the legend.

    Returns
    -------
    matplotlib Axes
        The axes drawn on.

    """
    ax = _axes(ax)
    Z = np.asarray(adata.obsm[use_rep], dtype=float)
    if Z.shape[1] < 2:
        Z = np.column_stack([Z[:, 0], np.zeros(len(Z))])
    ok = np.isfinite(Z[:, :2]).all(axis=1)
    values = adata.obs[color] if color in adata.obs else pd.Series(np.nan, index=adata.obs_names)
    s = s if s is not None else S.marker_size(int(ok.sum()))
    ring = adata.obs[mark].to_numpy(bool) & ok if mark and mark in adata.obs else np.zeros(adata.n_obs, bool)
    handles: list = []
    texts: list[str] = []
    leg_title = None
    if _continuous(values):
        v = values.to_numpy(float)
        fin = ok & np.isfinite(v)
        if (ok & ~fin).any():
            m = ok & ~fin
            ax.scatter(Z[m, 0], Z[m, 1], s=s, c=S.MISSING_COLOUR, linewidths=0)
            handles.append(S.point_handle(S.MISSING_COLOUR))
            texts.append(f"no value ({m.sum()})")
        sc = ax.scatter(Z[fin, 0], Z[fin, 1], s=s, c=v[fin], cmap="viridis", linewidths=0)
        ax.figure.colorbar(sc, ax=ax, label=color, shrink=0.8)
    else:
        str_vals = values.astype(object).astype(str).to_numpy()
        missing = S.is_missing(values.astype(object)) & ok
        cluster_like = _cluster_like(adata, color)
        noise = (str_vals == "-1") & ok & ~missing if cluster_like else np.zeros(adata.n_obs, bool)
        rest = ok & ~missing & ~noise
        if cluster_like:
            labels = None
            by_tune = False
            if match_to and match_to in adata.obs:
                labels = np.where(ok, adata.obs[match_to].astype(object).to_numpy(), None)
                # name clusters as labels.csv does: by the tune samples when there are any
                # (the held-out ones only measure the result)
                tune = (adata.obs[K.OBS_TUNE].to_numpy(bool)
                        if K.OBS_TUNE in adata.obs else np.zeros(adata.n_obs, bool))
                if match_to == K.OBS_LABEL and (tune & ok).any():
                    labels = np.where(tune, labels, None)
                    by_tune = True
            positions, major = S.cluster_styles(np.where(ok, str_vals, "-1"), labels)
            cats = sorted(positions, key=S.natural_key)
            leg_title = "cluster (samples)"
            if major:
                leg_title += (":\nthe known label it stands for,\ncount/tune samples" if by_tune
                              else ":\nmost frequent known label,\ncount/labelled samples")
        else:
            cats = S.label_order(np.where(rest, values.astype(object).to_numpy(), None))
            positions, major = {c: i for i, c in enumerate(cats)}, {}
            leg_title = f"{color} (samples)" if color != K.OBS_LABEL else "known label (samples)"
        for mask, colour, text in ((missing, S.MISSING_COLOUR, "no label"), (noise, S.NOISE_COLOUR, "noise")):
            if mask.any():
                ax.scatter(Z[mask, 0], Z[mask, 1], s=s, c=colour, linewidths=0, zorder=1)
                handles.append(S.point_handle(colour))
                texts.append(f"{text} ({mask.sum()})")
        for cat in cats:
            m = rest & (str_vals == cat)
            if not m.any():
                continue
            colour, marker = S.style(positions[cat])
            ax.scatter(Z[m, 0], Z[m, 1], s=s, color=colour, marker=marker, linewidths=0, zorder=2)
            handles.append(S.point_handle(colour, marker))
            text = f"{cat} ({m.sum()})"
            if cat in major:
                mj = major[cat]
                text += f": {mj['label']} {mj['count']}/{mj['n_labelled']}"
                if mj.get("tie"):
                    text += ", tie"
                elif not mj["majority"]:
                    text += ", no majority"
            texts.append(S.wrap(text))
    if ring.any():
        ax.scatter(Z[ring, 0], Z[ring, 1], s=S.ring_size(s), facecolors="none",
                   edgecolors=S.RING_COLOUR, linewidths=0.8, zorder=3)
        handles.append(S.point_handle("none", ring=True))
        what = "tune sample" if mark == K.OBS_TUNE else mark
        texts.append(f"{what} (ringed), {ring.sum()}")
    n_hidden = int((~ok).sum())
    if n_hidden:
        handles.append(S.point_handle("none"))
        texts.append(f"not shown: {n_hidden} without a latent\n(excluded samples)")
    name = "VAE latent" if use_rep == K.OBSM_LATENT else use_rep
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6))
    ax.set_xlabel(f"{name} 1")
    ax.set_ylabel(f"{name} 2")
    ax.set_title(title or f"latent space, coloured by {color}")
    if legend and handles:
        S.legend_outside(ax, handles, texts, title=leg_title)
    return ax


def training_loss(adata: ad.AnnData, *, ax: Axes | None = None, log: bool = False) -> Axes:
    """Plot the VAE loss terms per epoch from ``uns["vae"]["history"]``.

    Two panels sharing the epoch axis: the loss (train, and validation when held out) with its
    reconstruction term above, the KL term below (its own scale; the loss is reconstruction
    plus beta times KL, so the gap between the two upper curves is the lower curve times beta).

    Parameters
    ----------
    adata : AnnData
        With ``uns["vae"]["history"]`` (columns ``epoch``, ``loss``, ``reconstruction``, ``kl``
        and optionally ``val_loss`` and ``beta``).
    ax : matplotlib Axes, default=None
        Where to draw; it is split into the two panels (a new figure when None).
    log : bool, default=False
        Log-scaled loss axis.

    Returns
    -------
    matplotlib Axes
        The loss panel (the KL panel is ``ax.kl_ax``).

    """
    info = adata.uns[K.UNS_VAE]
    hist = pd.DataFrame({k: np.asarray(v) for k, v in info["history"].items()})
    top, bottom = S.stack_axes(ax, (2.0, 1.0), figsize=(7.0, 4.8))
    epoch = hist["epoch"].to_numpy()
    top.plot(epoch, hist["loss"], color="tab:blue", lw=2.2, label="loss (train)")
    top.plot(epoch, hist["reconstruction"], color="tab:orange", lw=1.2, ls=(0, (4, 2)),
             label="reconstruction term (BCE, train)")
    if "val_loss" in hist and np.isfinite(hist["val_loss"].to_numpy(float)).any():
        top.plot(epoch, hist["val_loss"], color="tab:green", lw=1.4, label="loss (validation)")
    if log:
        top.set_yscale("log")
    top.set_ylabel("loss per sample")
    beta = hist["beta"].to_numpy(float) if "beta" in hist else np.ones(len(hist))
    bottom.plot(epoch, hist["kl"], color="tab:red", lw=1.4, label="KL term")
    if not np.allclose(beta, 1.0):
        bottom.plot(epoch, beta * hist["kl"].to_numpy(float), color="tab:purple", lw=1.2,
                    ls="--", label="β · KL (the part in the loss)")
    bottom.set_ylabel("KL per sample")
    bottom.set_xlabel("epoch")
    bottom.set_ylim(bottom=min(0.0, float(np.nanmin(hist["kl"]))))
    top.tick_params(labelbottom=False)
    b = info.get("params", {}).get("beta", None)
    b_text = f"β = {float(b):g}" if b is not None and np.isfinite(float(b)) else "β"
    if not np.allclose(beta, beta[0] if beta.size else 1.0):
        b_text += " after warm-up"
    top.set_title(f"VAE training, {len(hist)} epochs: loss = reconstruction + β · KL ({b_text})",
                  fontsize=10)
    if bool(info.get("collapsed", False)):
        bottom.text(0.5, 0.9, "KL near 0: posterior collapse, the latent carries little "
                    "information", transform=bottom.transAxes, ha="center", va="top",
                    fontsize=S.LEGEND_FONTSIZE, color="tab:red")
    for a in (top, bottom):
        h, lab = a.get_legend_handles_labels()
        S.legend_outside(a, h, lab)
        a.grid(alpha=0.25, lw=0.5)
    top.kl_ax = bottom
    return top


def eps_search(adata: ad.AnnData, *, ax: Axes | None = None) -> Axes:
    """Plot the eps sweep stored in ``uns["eps_search"]`` (see :func:`proteolabel.pl.eps_sweep`).

    The title names min_samples, the chosen eps and how it was chosen: by V-measure on the tune
    samples, or by the unsupervised rule (no tune samples, or every eps degenerate on them).
    """
    from proteolabel.pl._cluster import eps_sweep

    info = adata.uns[K.UNS_EPS_SEARCH]
    sweep = pd.DataFrame({k: np.asarray(v) for k, v in info["sweep"].items()})
    scores = info.get("scores", {}) or {}
    # how eps was chosen: uns["supervised"] (results before "had_tune_samples" existed stored
    # there only whether tune samples existed; their scores["supervised"] holds the choice)
    supervised = info["supervised"] if "had_tune_samples" in info else scores.get("supervised")
    n_tune = scores.get("n_tune")
    return eps_sweep(
        sweep, float(info["eps"]), ax=ax,
        min_samples=int(info["min_samples"]) if "min_samples" in info else None,
        supervised=None if supervised is None else bool(supervised),
        n_tune=None if n_tune is None else int(n_tune),
        unsupervised_rule=str(info.get("unsupervised_rule", "knee")),
    )
