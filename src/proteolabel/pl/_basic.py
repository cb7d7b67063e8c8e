"""Latent scatter, training loss and the eps sweep of an AnnData result."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from proteolabel import _constants as K

if TYPE_CHECKING:
    import anndata as ad
    from matplotlib.axes import Axes


def _axes(ax: Axes | None, figsize=(5.5, 4.5)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def latent(
    adata: ad.AnnData,
    color: str = K.OBS_CLUSTER,
    *,
    use_rep: str = K.OBSM_LATENT,
    ax: Axes | None = None,
    title: str | None = None,
    mark: str | None = K.OBS_TUNE,
    s: float | None = None,
) -> Axes:
    """Scatter the 2-D latent space coloured by an ``obs`` column.

    Noise (cluster -1) is drawn in grey, missing labels in light grey; samples where
    ``obs[mark]`` is true (the tune samples by default) get a black edge.
    """
    ax = _axes(ax)
    Z = np.asarray(adata.obsm[use_rep])
    if Z.shape[1] < 2:
        Z = np.column_stack([Z[:, 0], np.zeros(len(Z))])
    ok = np.isfinite(Z[:, :2]).all(axis=1)
    values = adata.obs[color] if color in adata.obs else pd.Series(np.nan, index=adata.obs_names)
    s = s if s is not None else float(np.clip(3000 / max(adata.n_obs, 1), 4, 40))
    edge = adata.obs[mark].to_numpy(bool) if mark and mark in adata.obs else np.zeros(adata.n_obs, bool)
    vals = values.to_numpy(object)
    is_missing = pd.isna(values).to_numpy() | (values.astype(str).str.strip() == "").to_numpy()
    if color == K.OBS_CLUSTER:
        is_noise = (values.astype(str) == "-1").to_numpy()
    else:
        is_noise = np.zeros(len(vals), bool)
    for mask, c, lab in ((is_missing & ok, "#dddddd", "no label"), (is_noise & ok, "#888888", "noise")):
        if mask.any():
            ax.scatter(Z[mask, 0], Z[mask, 1], s=s, c=c, label=f"{lab} ({mask.sum()})", linewidths=0)
    rest = ok & ~is_missing & ~is_noise
    cats = sorted({str(v) for v in vals[rest]}, key=lambda x: (len(x), x))
    import matplotlib as mpl

    cmap = mpl.colormaps["tab20" if len(cats) > 10 else "tab10"]
    for i, cat in enumerate(cats):
        m = rest & (values.astype(str).to_numpy() == cat)
        ax.scatter(Z[m, 0], Z[m, 1], s=s, color=cmap(i % cmap.N), label=f"{cat} ({m.sum()})",
                   linewidths=0)
    if edge.any():
        ax.scatter(Z[edge & ok, 0], Z[edge & ok, 1], s=s * 1.6, facecolors="none",
                   edgecolors="black", linewidths=0.6, label=f"{mark} ({(edge & ok).sum()})")
    ax.set_xlabel(f"{use_rep} 1")
    ax.set_ylabel(f"{use_rep} 2")
    ax.set_title(title or f"latent space, coloured by {color}")
    if len(cats) <= 20:
        ax.legend(fontsize="small", markerscale=1.5, frameon=False, loc="best")
    return ax


def training_loss(adata: ad.AnnData, *, ax: Axes | None = None, log: bool = False) -> Axes:
    """Plot the VAE loss terms per epoch from ``uns["vae"]["history"]``."""
    ax = _axes(ax)
    hist = pd.DataFrame({k: np.asarray(v) for k, v in adata.uns[K.UNS_VAE]["history"].items()})
    ax.plot(hist["epoch"], hist["loss"], label="loss (train)")
    ax.plot(hist["epoch"], hist["reconstruction"], label="reconstruction (BCE)", alpha=0.8)
    ax2 = ax.twinx()
    ax2.plot(hist["epoch"], hist["kl"], color="tab:red", label="KL (right axis)", alpha=0.8)
    ax2.set_ylabel("KL divergence")
    if "val_loss" in hist and np.isfinite(hist["val_loss"]).any():
        ax.plot(hist["epoch"], hist["val_loss"], label="loss (validation)")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss per sample")
    ax.set_title("VAE training")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize="small", frameon=False)
    return ax


def eps_search(adata: ad.AnnData, *, ax: Axes | None = None) -> Axes:
    """Plot the eps sweep stored in ``uns["eps_search"]`` (clusters, noise, scores vs eps)."""
    from proteolabel.pl._cluster import eps_sweep

    info = adata.uns[K.UNS_EPS_SEARCH]
    sweep = pd.DataFrame({k: np.asarray(v) for k, v in info["sweep"].items()})
    return eps_sweep(sweep, float(info["eps"]), ax=ax)
