"""Preprocessing functions on AnnData (scanpy-style): ``proteolabel.pp``."""

from __future__ import annotations

from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from proteolabel import _constants as K
from proteolabel.preprocessing import Preprocessor


def preprocess(
    adata: ad.AnnData,
    *,
    log2: bool = True,
    scale: str = "max",
    low_value_threshold: float = 0.05,
    fill_value: float = 0.0,
    top_n: int | None = 1296,
    min_observations: int = 1,
) -> ad.AnnData:
    """Apply the method's preprocessing to linear intensities and return a new AnnData.

    ``adata.X`` must hold linear intensities with NaN for missing values (what
    :func:`proteolabel.io.read` returns). See :class:`proteolabel.preprocessing.Preprocessor` for
    the steps and their order. All samples are kept; samples left with no observed value among
    the kept proteins are flagged as excluded (they carry no information for the VAE).

    Parameters
    ----------
    adata
        Samples x proteins, linear intensities (NaN = missing).
    log2, scale, low_value_threshold, fill_value, top_n, min_observations
        See :class:`~proteolabel.preprocessing.Preprocessor`.

    Returns
    -------
    A new AnnData with the kept proteins only, and

    - ``X``: the scaled matrix in [0, 1] (float32), the VAE's input;
    - ``layers["intensity"]``: the linear intensities of the kept proteins (NaN = missing);
    - ``var["max_log2"]``, ``var["mean_intensity"]``, ``var["n_observed_samples"]``;
    - ``obs["n_observed_proteins"]``, ``obs["excluded"]``, ``obs["excluded_reason"]``;
    - ``uns["preprocess"]``: the parameters, the per-step counts and the dropped proteins.

    """
    if adata.n_vars == 0:
        dropped = dict(adata.uns.get(K.UNS_READ, {}).get("dropped", {}))
        raise ValueError(
            f"the data has no protein columns ({adata.n_obs} samples x 0 proteins)"
            + (f"; reading dropped {dropped}" if dropped else "")
            + ": no protein has an observed value. Check the file (`proteolabel inspect FILE`), "
            "its quantity (--quantity) and the missing-value tokens (--missing-tokens)"
        )
    pre = Preprocessor(
        log2=log2,
        scale=scale,
        low_value_threshold=low_value_threshold,
        fill_value=fill_value,
        top_n=top_n,
        min_observations=min_observations,
    )
    X = np.asarray(adata.X, dtype=np.float64)
    frame = pd.DataFrame(X, index=adata.obs_names, columns=adata.var_names.astype(str))
    Z = pre.fit_transform(frame)
    sel = pre.selected_
    out = ad.AnnData(
        X=Z.astype(np.float32),
        obs=adata.obs.copy(),
        var=adata.var.iloc[sel].copy(),
        uns={k: v for k, v in adata.uns.items()},
    )
    raw = X[:, sel]
    out.layers[K.LAYER_INTENSITY] = raw
    if K.LAYER_N_VALUES in adata.layers:
        out.layers[K.LAYER_N_VALUES] = np.asarray(adata.layers[K.LAYER_N_VALUES])[:, sel]
    out.var[K.VAR_MAX_LOG2] = pre.scale_max_
    out.var[K.VAR_MEAN_INTENSITY] = pre.abundance_[sel]
    out.var[K.VAR_N_OBSERVED] = pre.n_observed_[sel]
    n_obs = (np.isfinite(raw) & (raw > 0)).sum(axis=1)
    out.obs[K.OBS_N_OBSERVED] = n_obs
    prior = (
        adata.obs[K.OBS_EXCLUDED].to_numpy(bool)
        if K.OBS_EXCLUDED in adata.obs
        else np.zeros(adata.n_obs, bool)
    )
    reason = (
        adata.obs[K.OBS_EXCLUDED_REASON].astype(str).to_numpy(object)
        if K.OBS_EXCLUDED_REASON in adata.obs
        else np.full(adata.n_obs, "", dtype=object)
    )
    empty = n_obs == 0
    reason = np.where(empty & ~prior, "no observed value among the kept proteins", reason)
    out.obs[K.OBS_EXCLUDED] = prior | empty
    out.obs[K.OBS_EXCLUDED_REASON] = reason
    report: dict[str, Any] = dict(pre.report_)
    report["n_samples_excluded"] = int((prior | empty).sum())
    report["excluded_samples"] = [str(s) for s in adata.obs_names[empty][:50]]
    out.uns[K.UNS_PREPROCESS] = {"params": pre.get_params(), **report}
    out.uns[K.UNS_PREPROCESS + "_state"] = _state_for_uns(pre)
    return out


def _state_for_uns(pre: Preprocessor) -> dict[str, Any]:
    d = pre.to_dict()
    d.pop("report", None)
    d["params"] = {k: ("none" if v is None else v) for k, v in d["params"].items()}
    return d


def preprocessor_from_adata(adata: ad.AnnData) -> Preprocessor:
    """Rebuild the fitted :class:`Preprocessor` that :func:`preprocess` used on ``adata``."""
    state = dict(adata.uns[K.UNS_PREPROCESS + "_state"])
    state["params"] = {k: (None if v == "none" else v) for k, v in dict(state["params"]).items()}
    for key in ("selected", "scale_max", "scale_min", "feature_names_in"):
        state[key] = list(np.asarray(state[key]).tolist())
    return Preprocessor.from_dict(state)
