"""Tools on AnnData (scanpy-style): embed, choose tune samples, tune eps and cluster."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from proteolabel import _constants as K
from proteolabel._utils import as_generator

log = logging.getLogger(__name__)

#: Below this final KL (nats per sample) the latent is reported as collapsed onto the prior.
COLLAPSE_KL = 0.05


def _latent(adata: ad.AnnData, use_rep: str) -> np.ndarray:
    """``adata.obsm[use_rep]``, or a clear error naming the step that writes it."""
    if use_rep not in adata.obsm:
        have = list(adata.obsm.keys())
        raise ValueError(
            f"adata.obsm[{use_rep!r}] not found (obsm holds {have or 'nothing'}): run "
            f"proteolabel.tl.embed(adata) first, or pass use_rep= the key of the latent"
        )
    return np.asarray(adata.obsm[use_rep])


def _included(adata: ad.AnnData) -> np.ndarray:
    if K.OBS_EXCLUDED in adata.obs:
        return ~adata.obs[K.OBS_EXCLUDED].to_numpy(bool)
    return np.ones(adata.n_obs, dtype=bool)


#: A consensus whose runs agree less than this (mean pairwise ARI) is reported as unstable.
STABLE_ARI = 0.5


class WeakLatentWarning(UserWarning):
    """The latent carries little information: posterior collapse, or barely separated means."""


#: Below this latent separation (see :func:`latent_separation`) a warning says the samples are
#: barely told apart in the latent (measured: 0.02-0.04 after 100 epochs on the NAFLD and DiUbi
#: cohorts, 3-30 after the method's 500 epochs and on the Alzheimer cohort).
WEAK_SEPARATION = 0.1


def latent_separation(est, X: np.ndarray) -> float:
    """Spread of the latent means over the encoder's posterior width, on the best axis.

    For each latent axis: the standard deviation of the samples' latent means divided by the
    mean posterior standard deviation ``exp(logvar / 2)``; the largest over axes is returned. Far
    below 1 the samples' posteriors overlap almost entirely (near collapse), even when the KL
    term is not small (a narrow posterior around one shared point).
    """
    import torch

    x = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    with torch.inference_mode():
        means, logvars = [], []
        for i in range(0, x.shape[0], 8192):
            m, lv = est.module_.encoder(x[i : i + 8192])
            means.append(m)
            logvars.append(lv)
    m = torch.cat(means).double().numpy()
    sd = np.exp(0.5 * torch.cat(logvars).double().numpy())
    if m.shape[0] < 2:
        return float("nan")
    return float(np.max(m.std(axis=0) / sd.mean(axis=0)))


def reconstruction_r2(est, X: np.ndarray) -> float:
    """Share of the between-sample variance of ``X`` that the VAE's reconstruction reproduces.

    ``1 - sum((X - R)^2) / sum((X - column means)^2)``, with ``R`` the decoder's output at the
    latent means (:meth:`~proteolabel.models.VAEEmbedder.reconstruct`): 1 when the latent
    reproduces every sample, 0 when it does no better than giving every sample each protein's
    mean profile (what a collapsed latent gives), below 0 when worse. NaN for fewer than 2
    samples or a matrix without variance.
    """
    X = np.asarray(X)
    if X.shape[0] < 2:
        return float("nan")
    mean = X.mean(axis=0, dtype=np.float64)
    total = residual = 0.0
    for i in range(0, X.shape[0], 8192):  # in blocks: no float64 copy of a large cohort
        block = X[i : i + 8192].astype(np.float64)
        total += float(((block - mean) ** 2).sum())
        residual += float(((block - est.reconstruct(block.astype(np.float32))) ** 2).sum())
    return float(1.0 - residual / total) if total > 0 else float("nan")


def latent_axis_share(Z: np.ndarray) -> list[float]:
    """Share of the latent's spread along each principal axis, largest first (sums to 1).

    A last share near 0 means the points lie on a line (or plane): the latent is effectively of
    lower dimension than ``n_latent``, common with the method's VAE when one difference between
    the samples dominates.
    """
    Z = np.asarray(Z, dtype=np.float64)
    if Z.shape[0] < 2:
        return [float("nan")] * Z.shape[1]
    s = np.linalg.svd(Z - Z.mean(axis=0), compute_uv=False) ** 2
    total = s.sum()
    return [float(v / total) if total > 0 else float("nan") for v in s]


def embed(
    adata: ad.AnnData,
    *,
    key_added: str = K.OBSM_LATENT,
    random_state: int | None = 0,
    verbose: bool = False,
    **vae_params: Any,
):
    """Train the VAE on ``adata.X`` and store the latent means.

    Samples flagged ``obs["excluded"]`` are left out of training and get NaN coordinates.

    Parameters
    ----------
    adata
        Preprocessed AnnData (``X`` finite, within [0, 1]); see :func:`proteolabel.pp.preprocess`.
    key_added
        Key in ``obsm`` for the latent coordinates.
    random_state
        Seed of the VAE.
    verbose
        Show a progress bar.
    **vae_params
        Other parameters of :class:`proteolabel.models.VAEEmbedder` (``epochs``, ``batch_size``,
        ``beta``, ``device``, ...).

    Returns
    -------
    The fitted :class:`~proteolabel.models.VAEEmbedder`. Writes ``obsm[key_added]`` (n_obs x
    n_latent) and ``uns["vae"]`` (parameters, device, engine, epochs run, final losses, the
    reconstruction check ``reconstruction_r2`` (see :func:`reconstruction_r2`),
    ``collapsed``, ``latent_axis_share`` (see :func:`latent_axis_share`), per-epoch history).
    Warns when the final KL term is under ``COLLAPSE_KL`` (0.05 nats per sample): the latent
    then carries almost no information about the samples.

    """
    from proteolabel.models import VAEEmbedder
    from proteolabel.models._vae import check_unit_interval

    keep = _included(adata)
    X = np.asarray(adata.X, dtype=np.float32)
    check_unit_interval(X[keep], what="adata.X")
    est = VAEEmbedder(random_state=random_state, verbose=verbose, **vae_params)
    est.fit(X[keep])
    Z = np.full((adata.n_obs, est.n_latent), np.nan)
    Z[keep] = est.transform(X[keep])
    adata.obsm[key_added] = Z
    hist = est.history_
    final_kl = float(hist["kl"].iloc[-1])
    collapsed = bool(final_kl < COLLAPSE_KL)
    if collapsed:
        tries = []
        if est.kl_warmup_epochs == 0 and est.epochs >= 5:
            # a warm-up within the training: a fifth of it, 10 epochs or more where that fits
            warm = min(max(10, est.epochs // 5), est.epochs // 2)
            tries.append(f"a KL warm-up (kl_warmup_epochs={warm}, --kl-warmup-epochs {warm})")
        if est.beta > 0.1:
            tries.append("a lower KL weight (beta=0.1, --beta 0.1)")
        tries.append("more epochs" if est.epochs < 500 else "another seed")
        warnings.warn(
            f"the VAE's latent carries almost no information: its KL term ended at {final_kl:.3g} "
            f"nats per sample (< {COLLAPSE_KL}), so the encoder maps every sample close to the prior "
            f"(posterior collapse) and clusters will mostly reflect noise. Try {', '.join(tries)}.",
            WeakLatentWarning,
            stacklevel=2,
        )
    separation = latent_separation(est, X[keep])
    recon_r2 = reconstruction_r2(est, X[keep])
    if not collapsed and separation < WEAK_SEPARATION:
        warnings.warn(
            f"the latent means of the samples spread over only {separation:.2g} of the encoder's "
            f"own posterior width (< {WEAK_SEPARATION}): under the model the samples are barely "
            "told apart, which is typical of a VAE trained too briefly "
            f"({est.n_epochs_} epochs). The clusters may still follow real differences, but check "
            "them: train longer (the method: 500 epochs) or compare seeds (--consensus-runs 5).",
            WeakLatentWarning,
            stacklevel=2,
        )
    params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in est.get_params().items()}
    params = {k: ("none" if v is None else v) for k, v in params.items()}
    params["device"] = str(params["device"])
    adata.uns[K.UNS_VAE] = {
        "params": params,
        "seed": int(est.seed_),
        "device": est.device_,
        "engine": est.engine_,
        "precision": getattr(est, "precision_", est.precision),
        "n_epochs": int(est.n_epochs_),
        "final_loss": float(hist["loss"].iloc[-1]),
        "final_reconstruction": float(hist["reconstruction"].iloc[-1]),
        "final_kl": final_kl,
        "collapsed": collapsed,
        "latent_axis_share": latent_axis_share(Z[keep]),
        "latent_separation": separation,
        "reconstruction_r2": recon_r2,
        "history": {c: hist[c].to_numpy() for c in hist.columns},
    }
    return est


def select_tune(
    adata: ad.AnnData,
    *,
    label_key: str = K.OBS_LABEL,
    fraction: float = 1.0,
    rng: int | np.random.Generator | None = 0,
    key_added: str = K.OBS_TUNE,
) -> np.ndarray:
    """Mark a stratified random ``fraction`` of the labelled samples as tune samples.

    Each label keeps ``round(fraction * n)`` of its ``n`` samples, at least one; excluded
    samples are never chosen. The other labelled samples are held out to measure the result.

    Returns
    -------
    The boolean mask, also written to ``obs[key_added]``.

    """
    if not 0 < fraction <= 1:
        raise ValueError(f"tune fraction must be in (0, 1], got {fraction}")
    gen = as_generator(rng)
    if label_key not in adata.obs:
        raise ValueError(
            f"adata.obs has no {label_key!r} column of known labels to draw tune samples from. "
            f"Attach them first, e.g. adata.obs[{label_key!r}] = read_labels('labels.csv', "
            "samples=adata.obs_names).reindex(adata.obs_names) (proteolabel.io.read_labels), or "
            "pass label_key= the obs column that holds them."
        )
    labels = adata.obs[label_key]
    has = labels.notna().to_numpy() & (labels.astype(str).str.strip() != "").to_numpy()
    has &= _included(adata)
    tune = np.zeros(adata.n_obs, dtype=bool)
    values = labels.astype(str).to_numpy()
    for cls in sorted(set(values[has])):
        idx = np.flatnonzero(has & (values == cls))
        k = max(1, round(fraction * idx.size))
        tune[np.sort(gen.choice(idx, size=k, replace=False))] = True
    adata.obs[key_added] = tune
    return tune


def _warn_small_groups(adata: ad.AnnData, label_key: str, min_samples: int) -> None:
    """Warn when a labelled group is smaller than min_samples (it cannot get its own cluster).

    A DBSCAN cluster needs a core point with ``min_samples`` points within eps, so a group
    of fewer samples can only be noise or part of a cluster of another group.
    """
    used = _included(adata)
    counts = adata.obs.loc[used, label_key].value_counts()
    counts = counts[counts > 0]
    if counts.empty or counts.min() >= min_samples:
        return
    small = counts[counts < min_samples]
    listed = ", ".join(f"{k!r} {v}" for k, v in small.sort_values().head(5).items())
    hint = max(2, int(counts.min()) // 2)
    which = (f"every one of the {counts.size} known groups has" if small.size == counts.size
             else f"{small.size} of the {counts.size} known groups have")
    warnings.warn(
        f"{which} fewer labelled samples than min_samples={min_samples} "
        f"({listed}{', ...' if small.size > 5 else ''}): DBSCAN cannot give a "
        "group smaller than min_samples a cluster of its own. For groups this small try "
        f"--min-samples {hint} (min_samples={hint}).",
        UserWarning,
        stacklevel=3,  # the caller of tune_eps
    )


def tune_eps(
    adata: ad.AnnData,
    *,
    label_key: str = K.OBS_LABEL,
    tune_key: str = K.OBS_TUNE,
    use_rep: str = K.OBSM_LATENT,
    min_samples: int = 10,
    n_eps: int = 100,
    key_added: str = K.OBS_CLUSTER,
):
    """Choose DBSCAN's eps by maximum V-measure on the tune samples and cluster all samples.

    Parameters
    ----------
    adata
        AnnData with a latent in ``obsm[use_rep]``; labels in ``obs[label_key]`` and the tune
        mask in ``obs[tune_key]`` (see :func:`select_tune`). Without tune samples, eps is chosen
        by the unsupervised rule of :class:`proteolabel.cluster.EpsSearch` (with a warning).
    label_key, tune_key
        ``obs`` columns of the known labels and of the tune mask.
    use_rep
        ``obsm`` key of the latent.
    key_added
        ``obs`` column for the cluster labels.
    min_samples
        DBSCAN's min_samples (the method: 10; counts the point itself).
    n_eps
        Number of eps values in the sweep.

    Returns
    -------
    The fitted :class:`proteolabel.cluster.EpsSearch`. Writes ``obs[key_added]`` (int, -1 =
    noise or excluded), ``obs["is_noise"]`` and ``uns["eps_search"]`` (chosen ``eps``,
    ``min_samples``, ``n_eps``, ``supervised``: whether eps was chosen by V-measure on tune
    samples, ``had_tune_samples``, ``unsupervised_rule``, the ``sweep`` table as columns, and
    the ``scores`` at the chosen eps).

    """
    from proteolabel.cluster import EpsSearch

    keep = _included(adata)
    Z = _latent(adata, use_rep)[keep]
    y = None
    if tune_key in adata.obs and label_key in adata.obs and adata.obs[tune_key].any():
        lab = adata.obs[label_key].astype(object).to_numpy()
        tune = adata.obs[tune_key].to_numpy(bool)
        y = np.where(tune & pd.notna(lab), lab, None)[keep]
    if y is not None:
        _warn_small_groups(adata, label_key, min_samples)
    search = EpsSearch(min_samples=min_samples, n_eps=n_eps)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(Z, y)
    for w in caught:  # shown at the caller's line, not inside scikit-learn's fit wrapper
        warnings.warn(w.message, stacklevel=2)
    labels = np.full(adata.n_obs, -1, dtype=int)
    labels[keep] = search.labels_
    adata.obs[key_added] = labels
    noise = np.zeros(adata.n_obs, dtype=bool)
    noise[keep] = search.labels_ == -1
    adata.obs[K.OBS_NOISE] = noise
    sweep = search.sweep_
    adata.uns[K.UNS_EPS_SEARCH] = {
        "eps": float(search.eps_),
        "min_samples": int(min_samples),
        "n_eps": int(n_eps),
        "supervised": bool(search.supervised_),
        "had_tune_samples": y is not None,
        "unsupervised_rule": search.unsupervised_rule,
        "sweep": {c: sweep[c].to_numpy() for c in sweep.columns},
        "scores": {k: _plain(v) for k, v in getattr(search, "scores_", {}).items()},
    }
    return search


def consensus(
    adata: ad.AnnData,
    n_runs: int = 5,
    *,
    random_state: int | None = 0,
    label_key: str = K.OBS_LABEL,
    tune_key: str = K.OBS_TUNE,
    use_rep: str = K.OBSM_LATENT,
    min_samples: int = 10,
    n_eps: int = 100,
    verbose: bool = False,
    **vae_params: Any,
):
    """Retrain the VAE with other seeds, cluster each latent, and report a consensus.

    The latent in ``obsm[use_rep]`` is run 0; ``n_runs - 1`` more VAEs are trained on the same
    samples with seeds drawn from ``random_state`` (and the same ``vae_params``), each latent
    is clustered by the eps search with the same tune labels, and the runs' labels are aligned
    to run 0 (see :func:`proteolabel.cluster.consensus_labels`).

    Returns
    -------
    :class:`proteolabel.cluster.Consensus`. Writes ``obs["consensus_cluster"]`` (the most
    frequent aligned cluster, -1 = noise or excluded), ``obs["agreement"]`` (share of runs that
    put the sample in that cluster: how often it lands with the same group) and
    ``uns["consensus"]`` (seeds, each run's eps, the pairwise ARI between runs and its mean).

    """
    from proteolabel.cluster import EpsSearch, consensus_labels
    from proteolabel.models import VAEEmbedder

    if n_runs < 2:
        raise ValueError(f"a consensus needs at least 2 runs, got n_runs={n_runs}")
    keep = _included(adata)
    X = np.asarray(adata.X, dtype=np.float32)[keep]
    gen = as_generator(random_state)
    seeds = [int(v) for v in gen.integers(0, 2**31 - 1, size=n_runs - 1)]
    latents = [np.asarray(adata.obsm[use_rep])[keep]]
    for seed in seeds:
        est = VAEEmbedder(random_state=seed, verbose=verbose, **vae_params).fit(X)
        latents.append(est.transform(X))
    y = None
    if tune_key in adata.obs and label_key in adata.obs and adata.obs[tune_key].any():
        lab = adata.obs[label_key].astype(object).to_numpy()
        y = np.where(adata.obs[tune_key].to_numpy(bool) & pd.notna(lab), lab, None)[keep]
    with warnings.catch_warnings():
        # every run repeats the eps search's own warnings (no tune samples...); the main run
        # has shown them once already
        warnings.simplefilter("ignore")
        res = consensus_labels(latents, y, estimator=EpsSearch(min_samples=min_samples,
                                                               n_eps=n_eps))
    cons = np.full(adata.n_obs, -1, dtype=int)
    cons[keep] = res.labels
    agree = np.full(adata.n_obs, np.nan)
    agree[keep] = res.agreement
    adata.obs["consensus_cluster"] = cons
    adata.obs["agreement"] = agree
    ari = res.pairwise_ari.to_numpy()
    off = ari[~np.eye(ari.shape[0], dtype=bool)]
    # the random_state of the run whose latent is obsm[use_rep] (None when not known)
    first = ((adata.uns.get(K.UNS_VAE) or {}).get("params") or {}).get("random_state")
    first = first if isinstance(first, (int, np.integer)) else None
    mean_ari = float(off.mean())
    all_seeds = [None if first is None else int(first), *seeds]
    # a run that found no structure (its latent collapsed to a point, or one cluster at most)
    n_found = [len(set(r.tolist()) - {-1}) for r in res.run_labels]
    spread = [float(np.ptp(z, axis=0).max()) if len(z) else 0.0 for z in latents]
    flat = [i for i in range(n_runs) if n_found[i] <= 1 or spread[i] == 0.0 or res.eps[i] == 0.0]
    if flat:
        warnings.warn(
            f"{len(flat)} of the {n_runs} consensus runs found no structure "
            f"(run {', '.join(f'{i + 1} (random_state {all_seeds[i]})' for i in flat)}: "
            f"{', '.join(f'{n_found[i]} cluster(s), latent spread {spread[i]:.2g}' for i in flat)})"
            ": their VAE latent collapsed or holds one group, which drags the agreement down. "
            "Train longer (the method: 500 epochs) or lower beta.",
            UserWarning,
            stacklevel=2,
        )
    adata.uns["consensus"] = {
        "n_runs": int(n_runs),
        # random_state of each run's VAEEmbedder, in the order of eps and pairwise_ari (the
        # first: the run of obsm[use_rep], None when unknown)
        "seeds": all_seeds,
        "n_clusters": n_found,
        "runs_without_structure": [i + 1 for i in flat],
        "stable": mean_ari >= STABLE_ARI,
        "eps": [float(e) for e in res.eps],
        "pairwise_ari": ari,
        "mean_pairwise_ari": mean_ari,
        "median_agreement": float(np.median(res.agreement)),
    }
    if mean_ari < STABLE_ARI:
        warnings.warn(
            f"the {n_runs} runs agree poorly on the clusters (mean pairwise ARI "
            f"{mean_ari:.2f} < {STABLE_ARI}): the clustering depends on the VAE's seed, so "
            "treat the labels as tentative; see each sample's 'agreement' in labels.csv and "
            "use consensus_cluster rather than cluster.",
            UserWarning,
            stacklevel=2,
        )
    return res


def score(
    adata: ad.AnnData,
    mask: np.ndarray,
    *,
    label_key: str = K.OBS_LABEL,
    cluster_key: str = K.OBS_CLUSTER,
) -> dict[str, Any]:
    """Homogeneity, completeness, V-measure and ARI of the clusters against known labels.

    Only samples in ``mask`` that carry a label are scored; noise (-1) is scored as the
    :func:`proteolabel.cluster.score_partition` documents.
    """
    from proteolabel.cluster import score_partition

    lab = adata.obs[label_key] if label_key in adata.obs else pd.Series(index=adata.obs_names)
    has = mask & lab.notna().to_numpy() & _included(adata)
    if has.sum() == 0:
        return {"n_samples": 0, "defined": False}
    y = lab.astype(str).to_numpy()[has]
    c = adata.obs[cluster_key].to_numpy()[has]
    res = {k: _plain(v) for k, v in score_partition(y, c).items()}
    res["n_samples"] = int(has.sum())
    res["n_classes"] = len(set(y))
    per_class = pd.Series(y).value_counts()
    res["min_per_class"] = int(per_class.min())
    if per_class.max() == 1:
        res["note"] = (
            "one sample per known group: completeness is 1 by construction and ARI is 0, or 1 "
            "when every sample is in a cluster of its own, so these scores say little; keep at "
            "least 2 samples of a group on each side (tune and held out) for an informative score"
        )
    return res


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def compare(
    adata: ad.AnnData,
    *,
    methods: list[str] | None = None,
    label_key: str = K.OBS_LABEL,
    tune_key: str = K.OBS_TUNE,
    use_rep: str = K.OBSM_LATENT,
    min_samples: int = 10,
    random_state: int | None = 0,
):
    """Run every clusterer of the registry on the latent and score them on known labels.

    DBSCAN tunes eps on the tune samples (``obs[tune_key]``); the other labelled samples are the
    evaluation set, so no score is measured on samples used for tuning. Excluded samples are
    left out.

    Returns
    -------
    The :class:`proteolabel.cluster.Comparison` (its ``table`` has one row per method). Writes
    ``uns["compare"]`` (the table as columns) and ``obs["cluster_<method>"]`` for each method.

    """
    from proteolabel.cluster import compare_clusterers

    keep = _included(adata)
    Z = _latent(adata, use_rep)[keep]
    lab = (adata.obs[label_key].astype(object).to_numpy() if label_key in adata.obs
           else np.full(adata.n_obs, None))
    lab = np.where(pd.notna(lab), lab, None)
    tune = (adata.obs[tune_key].to_numpy(bool) if tune_key in adata.obs
            else np.zeros(adata.n_obs, bool))
    y_tune = np.where(tune, lab, None)[keep]
    y_eval = np.where(~tune, lab, None)[keep]
    comp = compare_clusterers(Z, y_tune=y_tune, y_eval=y_eval, methods=methods,
                              random_state=random_state, min_samples=min_samples)
    for name, labels in comp.labels.items():
        col = np.full(adata.n_obs, -1, dtype=int)
        col[keep] = labels
        adata.obs[f"{K.OBS_CLUSTER}_{name}"] = col
    table = comp.table.reset_index()
    adata.uns["compare"] = {c: table[c].to_numpy() for c in table.columns}
    return comp
