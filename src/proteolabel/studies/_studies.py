"""The method's synthetic studies: what a VAE needs before groups separate, and how to cluster."""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from proteolabel.studies._data import WITHIN_MODELS, empirical_snr, make_groups, make_round_groups
from proteolabel.studies._measures import group_separation, silhouette
from proteolabel.studies._runner import EMBEDDINGS, embed, run_tasks

#: k values of the silhouette study.
SILHOUETTE_K = tuple(range(2, 11))
#: Numbers of round groups in the silhouette study.
ROUND_GROUPS = (3, 4, 5)
#: min_samples of every DBSCAN in the studies (the method's value).
MIN_SAMPLES = 10


@dataclass(frozen=True)
class Grid:
    """Default grid of a study (the full one and the reduced one of ``quick=True``)."""

    sizes: tuple[int, ...]
    informative: tuple[int, ...]
    snr: tuple[float, ...]
    epochs: int


#: Epochs of the reduced grids: enough to run every step, far too few for a trained VAE.
QUICK_EPOCHS = 10

#: Full and reduced default grids of every study.
GRIDS: dict[str, dict[str, Grid]] = {
    "samples-features": {
        "full": Grid((500, 1000, 2000, 10000), (1, 2, 3, 4, 5, 6), (6.0,), 500),
        "quick": Grid((500, 1000, 2000), (1, 2, 4, 6), (6.0,), QUICK_EPOCHS),
    },
    "snr": {
        "full": Grid((2000,), (6,), (0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0), 500),
        "quick": Grid((1000,), (6,), (1.0, 3.0, 6.0, 12.0), QUICK_EPOCHS),
    },
    "clusterers": {
        "full": Grid((2000,), (2, 3, 4, 6), (6.0,), 500),
        "quick": Grid((1000,), (2, 6), (6.0,), QUICK_EPOCHS),
    },
    "silhouette": {
        "full": Grid((2000,), (2,), (6.0,), 500),
        "quick": Grid((1000,), (2,), (6.0,), QUICK_EPOCHS),
    },
    "eps": {
        "full": Grid((2000,), (6,), (6.0,), 500),
        "quick": Grid((1000,), (6,), (6.0,), QUICK_EPOCHS),
    },
}

#: Columns that describe a setting (they come first in every table).
SETTING_COLUMNS = (
    "study", "embedding", "n_samples", "n_features", "n_informative", "n_groups", "snr", "within",
    "epochs", "seed",
)


# ------------------------------------------------------------------------------------ tasks
def _few_threads():
    """Limit BLAS/OpenMP to one thread around the clustering of 2-D points.

    More threads gain nothing on such small problems, and on a busy machine their spin-waiting
    slows them down many times.
    """
    return threadpool_limits(limits=1)


def _setting(**kw: Any) -> dict[str, Any]:
    return {k: kw[k] for k in SETTING_COLUMNS if k in kw}


def _groups_latent(
    *, n_samples, n_features, n_informative, n_groups, snr, within, seed, embedding, epochs,
    device, vae_params,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    X, y, info = make_groups(
        n_samples, n_features=n_features, n_informative=n_informative, n_groups=n_groups,
        snr=snr, within=within, random_state=seed, return_info=True,
    )
    measured = empirical_snr(X, y, info)
    Z, fit = embed(
        X, embedding=embedding, epochs=epochs, random_state=seed, device=device,
        vae_params=vae_params,
    )
    fit["snr_measured"] = measured
    return Z, y, fit


def _separation_task(study: str, keep_latent: bool = False, **kw: Any) -> dict[str, Any]:
    """One setting of the samples-features or snr study: embed, then measure the groups."""
    from proteolabel.cluster import EpsSearch

    t0 = time.perf_counter()
    Z, y, fit = _groups_latent(**kw)
    row = _setting(study=study, **kw)
    row["snr_measured"] = fit["snr_measured"]
    with _few_threads():
        row.update(group_separation(Z, y, rng=kw["seed"]))
        search = EpsSearch(min_samples=MIN_SAMPLES, random_state=kw["seed"]).fit(Z, y)
    row["dbscan_v_measure"] = search.scores_["v_measure"]
    row["dbscan_n_clusters"] = int(search.scores_["n_clusters"])
    row["final_loss"] = fit["loss"]
    row["final_kl"] = fit["kl"]
    row["fit_seconds"] = fit["fit_seconds"]
    row["seconds"] = time.perf_counter() - t0
    return {"rows": [row], "latent": (Z, y) if keep_latent else None}


def _eps_task(study: str, keep_latent: bool = False, **kw: Any) -> dict[str, Any]:
    """One seed of the eps study: embed, then sweep DBSCAN's eps and score every eps."""
    from proteolabel.cluster import EpsSearch

    t0 = time.perf_counter()
    Z, y, fit = _groups_latent(**kw)
    with _few_threads():
        search = EpsSearch(min_samples=MIN_SAMPLES, random_state=kw["seed"]).fit(Z, y)
    sweep = search.sweep_
    seconds = time.perf_counter() - t0
    rows = []
    eps_top = float(sweep["eps"].max())
    for i, r in enumerate(sweep.itertuples(index=False)):
        row = _setting(study=study, **kw)
        row.update(
            snr_measured=fit["snr_measured"],
            eps_index=i,
            eps=float(r.eps),
            eps_relative=float(r.eps) / eps_top if eps_top > 0 else math.nan,
            n_clusters=int(r.n_clusters),
            n_noise=int(r.n_noise),
            noise_fraction=int(r.n_noise) / Z.shape[0],
            homogeneity=float(r.homogeneity),
            completeness=float(r.completeness),
            v_measure=float(r.v_measure),
            ari=float(r.ari),
            best=i == search.best_index_,
            final_kl=fit["kl"],
            fit_seconds=fit["fit_seconds"],
            seconds=seconds,
        )
        rows.append(row)
    return {"rows": rows, "latent": (Z, y, search.labels_) if keep_latent else None}


def _tune_labels(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Labels of a stratified share of the samples (the tune samples), None elsewhere."""
    rng = np.random.default_rng([seed, 2])
    tune = np.full(y.size, None, dtype=object)
    for g in np.unique(y):
        idx = np.flatnonzero(y == g)
        take = rng.choice(idx, max(1, round(fraction * idx.size)), replace=False)
        tune[take] = y[take]
    return tune


def _clusterers_task(
    study: str, tune_fraction: float, keep_latent: bool = False, **kw: Any
) -> dict[str, Any]:
    """One setting of the clusterers study: embed, then run every clusterer of the registry."""
    from proteolabel.cluster import compare_clusterers

    t0 = time.perf_counter()
    Z, y, fit = _groups_latent(**kw)
    with _few_threads():
        y_tune = _tune_labels(y, tune_fraction, kw["seed"])
        comp = compare_clusterers(Z, y_tune, y, random_state=kw["seed"],
                                  min_samples=MIN_SAMPLES)
        sep = group_separation(Z, y, rng=kw["seed"])
    rows = []
    for method, r in comp.table.iterrows():
        row = _setting(study=study, **kw)
        row.update(
            snr_measured=fit["snr_measured"],
            separation=sep["separation"],
            silhouette_true=sep["silhouette"],
            tune_fraction=tune_fraction,
            clusterer=str(method),
            **r.to_dict(),
            final_kl=fit["kl"],
            fit_seconds=fit["fit_seconds"],
        )
        rows.append(row)
    for row in rows:
        row["run_seconds"] = time.perf_counter() - t0
    latent = (Z, y, dict(comp.labels)) if keep_latent else None
    return {"rows": rows, "latent": latent}


def _silhouette_task(study: str, dataset: str, keep_latent: bool = False, **kw: Any) -> dict:
    """One dataset and seed of the silhouette study: k-means silhouette for every k."""
    from sklearn.cluster import KMeans

    t0 = time.perf_counter()
    seed = kw["seed"]
    setting = _setting(study=study, **kw)
    if dataset == "round":
        Z, y = make_round_groups(kw["n_samples"], kw["n_groups"], random_state=seed)
        extra: dict[str, Any] = {"snr_measured": math.nan, "final_kl": math.nan}
    else:
        Z, y, fit = _groups_latent(**kw)
        extra = {"snr_measured": fit["snr_measured"], "final_kl": fit["kl"]}
    rows = []
    with _few_threads():
        for k in SILHOUETTE_K:
            if k >= Z.shape[0]:
                break
            lab = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(Z)
            rows.append({**setting, "dataset": dataset, **extra, "k": k,
                         "silhouette": silhouette(Z, lab, seed)})
    for row in rows:
        row["seconds"] = time.perf_counter() - t0
    return {"rows": rows, "latent": (Z, y) if keep_latent else None}


# ------------------------------------------------------------------------------------ grids
def _seeds(seeds: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise ValueError(f"seeds must be at least 1, got {seeds}")
        return tuple(range(int(seeds)))
    out = tuple(int(s) for s in seeds)
    if not out:
        raise ValueError("seeds must name at least one seed")
    return out


def _groups_tasks(
    sizes, informative, snrs, seeds, common: Mapping[str, Any], n_groups: int, cap: bool
) -> list[dict[str, Any]]:
    tasks = []
    for n in sizes:
        for k in informative:
            g = min(n_groups, 2**k) if cap else n_groups
            for s in snrs:
                for seed in seeds:
                    tasks.append({**common, "n_samples": int(n), "n_informative": int(k),
                                  "n_groups": int(g), "snr": float(s), "seed": int(seed),
                                  "keep_latent": seed == seeds[0]})
    return tasks


def _cost(task: Mapping[str, Any]) -> float:
    per = task.get("n_features", 2) * max(task.get("epochs", 1), 1)
    return float(task["n_samples"]) * (per if task.get("embedding") == "vae" else 1.0)


@dataclass
class StudyResult:
    """What a study computed: the table (one row per run) and a few latents to draw."""

    table: pd.DataFrame
    latents: dict[tuple, Any]
    grid: dict[str, Any] | None = None


def _collect(tasks, outputs, keys: Callable[[Mapping[str, Any]], tuple]) -> StudyResult:
    rows, latents = [], {}
    for task, (out, warned) in zip(tasks, outputs, strict=True):
        for row in out["rows"]:
            row["warnings"] = warned
            rows.append(row)
        if out["latent"] is not None:
            latents[keys(task)] = out["latent"]
    return StudyResult(pd.DataFrame(rows), latents)


# ------------------------------------------------------------------------------------ studies
def _check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")


#: What each study computes, in one line (shown by the CLI and in the JSON record).
DESCRIPTIONS = {
    "samples-features": "distance between group centres in the latent for every sample size and "
                        "number of informative features, at fixed signal to noise",
    "snr": "distance between group centres in the latent against signal to noise",
    "clusterers": "every clusterer on the latent of four groups, beside the true groups",
    "silhouette": "k-means silhouette against k for round groups and for the stripe-shaped "
                  "groups of few informative features",
    "eps": "DBSCAN eps sweep on four groups: clusters, noise, homogeneity, completeness, "
           "V-measure against eps, and where the maximum lies",
}

#: The studies, in the order the method presents them.
STUDIES = tuple(DESCRIPTIONS)


def _run(
    name: str, tasks: list[dict], fn: Callable[..., Any], keys, n_jobs, progress
) -> StudyResult:
    outputs = run_tasks(fn, tasks, n_jobs=n_jobs, progress=progress, desc=name, cost=_cost)
    return _collect(tasks, outputs, keys)


def compute_study(
    name: str,
    *,
    sizes: Sequence[int] | None = None,
    informative: Sequence[int] | None = None,
    snr: Sequence[float] | float | None = None,
    seeds: int | Sequence[int] = (0, 1, 2),
    epochs: int | None = None,
    quick: bool = False,
    n_jobs: int | None = -1,
    progress: bool = True,
    n_features: int = 1296,
    n_groups: int = 4,
    within: str = "unit",
    embedding: str = "vae",
    device: str = "auto",
    vae_params: Mapping[str, Any] | None = None,
    tune_fraction: float = 0.1,
) -> StudyResult:
    """Run a study and return its table and latents, writing nothing; see :func:`run_study`."""
    _check_choice("name", name, STUDIES)
    _check_choice("within", within, WITHIN_MODELS)
    _check_choice("embedding", embedding, EMBEDDINGS)
    grid = GRIDS[name]["quick" if quick else "full"]
    sizes = tuple(int(n) for n in (grid.sizes if sizes is None else sizes))
    informative = tuple(int(k) for k in (grid.informative if informative is None else informative))
    if snr is None:
        snrs = grid.snr
    elif isinstance(snr, (int, float)):
        snrs = (float(snr),)
    else:
        snrs = tuple(float(s) for s in snr)
    epochs = grid.epochs if epochs is None else int(epochs)
    seeds_t = _seeds(seeds)
    if not sizes or not informative or not snrs:
        raise ValueError("sizes, informative and snr must each hold at least one value")
    if min(sizes) < 2 * MIN_SAMPLES:
        raise ValueError(f"every sample size must be at least {2 * MIN_SAMPLES}, got {min(sizes)}")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if not 0 < tune_fraction <= 1:
        raise ValueError(f"tune_fraction must lie in (0, 1], got {tune_fraction}")
    common = {"study": name, "n_features": int(n_features), "within": within,
              "embedding": embedding, "epochs": epochs, "device": device,
              "vae_params": dict(vae_params or {})}
    result = _compute(name, sizes, informative, snrs, seeds_t, common, n_groups, tune_fraction,
                      n_jobs, progress)
    result.grid = {"sizes": list(sizes), "informative": list(informative), "snr": list(snrs),
                   "seeds": list(seeds_t), "epochs": epochs}
    return result


def _compute(name, sizes, informative, snrs, seeds_t, common, n_groups, tune_fraction, n_jobs,
             progress) -> StudyResult:
    """Build the tasks of study ``name`` on the resolved grid and run them."""
    if name in ("samples-features", "snr"):
        if name == "samples-features":
            tasks = _groups_tasks(sizes, informative, snrs[:1], seeds_t, common, n_groups,
                                  cap=True)
        else:
            tasks = _groups_tasks(sizes, informative[:1], snrs, seeds_t, common, n_groups,
                                  cap=True)
        return _run(name, tasks, _separation_task,
                    lambda t: (t["n_samples"], t["n_informative"], t["snr"]), n_jobs, progress)
    if name == "eps":
        tasks = _groups_tasks(sizes[:1], informative[:1], snrs[:1], seeds_t, common, n_groups,
                              cap=False)
        for t in tasks:
            t["keep_latent"] = True
        return _run(name, tasks, _eps_task, lambda t: (t["seed"],), n_jobs, progress)
    if name == "clusterers":
        tasks = _groups_tasks(sizes[:1], informative, snrs[:1], seeds_t, common, n_groups,
                              cap=False)
        for t in tasks:
            t["tune_fraction"] = tune_fraction
        return _run(name, tasks, _clusterers_task, lambda t: (t["n_informative"],), n_jobs,
                    progress)
    # silhouette: round groups (no embedding), then the latent of few informative features
    tasks = []
    for g in ROUND_GROUPS:
        for seed in seeds_t:
            tasks.append({**common, "dataset": "round", "n_samples": sizes[0], "n_groups": g,
                          "n_features": 2, "n_informative": 2, "snr": math.nan, "within": "",
                          "epochs": 0, "seed": seed, "embedding": "none",
                          "keep_latent": seed == seeds_t[0]})
    tasks += [{**t, "dataset": "stripes"} for t in
              _groups_tasks(sizes[:1], informative[:1], snrs[:1], seeds_t, common, n_groups,
                            cap=False)]
    return _run(name, tasks, _silhouette_task,
                lambda t: (t["dataset"], t["n_groups"]), n_jobs, progress)


def run_study(
    name: str,
    out_dir: str | Path,
    *,
    sizes: Sequence[int] | None = None,
    informative: Sequence[int] | None = None,
    snr: Sequence[float] | float | None = None,
    seeds: int | Sequence[int] = (0, 1, 2),
    epochs: int | None = None,
    quick: bool = False,
    n_jobs: int | None = -1,
    progress: bool = True,
    n_features: int = 1296,
    n_groups: int = 4,
    within: str = "unit",
    embedding: str = "vae",
    device: str = "auto",
    vae_params: Mapping[str, Any] | None = None,
    tune_fraction: float = 0.1,
) -> pd.DataFrame:
    """Run one of the method's synthetic studies and write ``<name>.csv``, ``.png`` and ``.json``.

    Groups come from :func:`proteolabel.studies.make_groups` (``make_classification`` groups,
    every feature scaled to [0, 1]; signal to noise ``snr`` = ``class_sep`` over the
    within-group standard deviation of an informative feature). Each setting is repeated with
    every seed (seed ``s`` draws the data and initialises the VAE), and the figures show the
    median over seeds with the range from the lowest to the highest value.

    Each study varies some of ``sizes``, ``informative`` and ``snr`` and takes the first value
    of the others:

    ``"samples-features"``
        Every sample size in ``sizes`` x number of informative features in ``informative``, at
        the first signal to noise, with ``min(n_groups, 2 ** n_informative)`` groups.
    ``"snr"``
        Every signal to noise in ``snr`` x sample size in ``sizes``, at the first informative
        count.
    ``"clusterers"``
        ``n_groups`` groups for every informative count; every clusterer of
        :func:`proteolabel.cluster.compare_clusterers` on the latent, tuned on a stratified
        ``tune_fraction`` of the samples and scored on the rest.
    ``"silhouette"``
        k-means silhouette for k = 2..10 on 3, 4 and 5 round, well-separated groups
        (:func:`proteolabel.studies.make_round_groups`: ``make_blobs`` in 2-D, centres at
        least 6 standard deviations apart; no embedding) and on the latent of ``n_groups``
        groups with the first informative count (few informative features give
        stripe-shaped groups).
    ``"eps"``
        The DBSCAN eps sweep (:class:`proteolabel.cluster.EpsSearch`, ``min_samples=10``,
        every sample scored) on ``n_groups`` groups at the first setting of the grid.

    Parameters
    ----------
    name
        One of :data:`STUDIES`.
    out_dir
        Folder to write to (created; the study's files in it are replaced).
    sizes
        Sample sizes (default: the study's grid, see :data:`GRIDS`).
    informative
        Numbers of informative features.
    snr
        Signal to noise values.
    seeds
        The seeds, or how many (``3`` means 0, 1, 2).
    epochs
        VAE training epochs (default: the method's 500; 10 with ``quick``).
    quick
        Use the reduced default grid (smaller sizes, fewer settings, 10 epochs).
    n_jobs
        Processes for distinct settings (``None`` or -1: every core); each trains with one
        torch thread.
    progress
        Show a progress bar.
    n_features
        Features per sample (the method: 1296).
    n_groups
        Number of groups (capped at ``2 ** n_informative`` in the samples-features and snr
        studies, which cannot place more).
    within
        Within-group noise, ``"unit"`` or ``"make_classification"`` (see
        :func:`proteolabel.studies.make_groups`).
    embedding
        ``"vae"`` (the method) or ``"pca"`` (a linear reference: what the data hold).
    device
        Where the VAE trains.
    vae_params
        Further :class:`proteolabel.models.VAEEmbedder` parameters (``beta``, ...).
    tune_fraction
        ``clusterers``: the stratified share of samples whose labels are given to the
        clusterers as tune samples (DBSCAN tunes eps on them; agglomerative and spectral take
        their class count); the scores ``heldout_*`` are measured on the other samples.

    Returns
    -------
    pandas.DataFrame
        The table written to ``<name>.csv``: one row per run (per run and k for
        ``silhouette``, per run and eps for ``eps``, per run and clusterer for
        ``clusterers``), the setting first, then the measures, run times in seconds and any
        warnings raised during the run.

    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    result = compute_study(
        name, sizes=sizes, informative=informative, snr=snr, seeds=seeds, epochs=epochs,
        quick=quick, n_jobs=n_jobs, progress=progress, n_features=n_features,
        n_groups=n_groups, within=within, embedding=embedding, device=device,
        vae_params=vae_params, tune_fraction=tune_fraction,
    )
    elapsed = time.perf_counter() - t0
    table = result.table
    table.to_csv(out / f"{name}.csv", index=False)
    from proteolabel.studies._plot import plot_study

    fig = plot_study(name, table, result.latents)
    fig.savefig(out / f"{name}.png", dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)
    record = {
        "study": name,
        "description": DESCRIPTIONS[name],
        "parameters": {
            **(result.grid or {}), "quick": quick, "n_jobs": n_jobs, "n_features": n_features,
            "n_groups": n_groups, "within": within, "embedding": embedding, "device": device,
            "vae_params": dict(vae_params or {}), "tune_fraction": tune_fraction,
        },
        "runs": int(table.shape[0]),
        "seconds": elapsed,
        "python": platform.python_version(),
        "machine": platform.platform(),
    }
    from proteolabel import __version__

    record["proteolabel"] = __version__
    (out / f"{name}.json").write_text(json.dumps(record, indent=1, default=str))
    return table


def summarize_study(name: str, table: pd.DataFrame) -> pd.DataFrame:
    """Condense a study's table to its headline numbers (medians over seeds).

    Parameters
    ----------
    name
        The study.
    table
        Its table (as returned by :func:`run_study` or read from ``<name>.csv``).

    Returns
    -------
    pandas.DataFrame
        ``samples-features`` and ``snr``: per setting, the median (and for the scale-free
        separation the lowest and highest) over seeds of the separation measures.
        ``clusterers``: per clusterer and informative count, the median V-measure on the
        samples not tuned on, the median number of clusters and how many runs failed.
        ``silhouette``: per dataset, the k of maximum silhouette of every seed.
        ``eps``: per seed, the eps of maximum V-measure, the clusters found there, the scores
        there, and the range of eps at which DBSCAN finds the true number of groups.

    """
    _check_choice("name", name, STUDIES)
    if name in ("samples-features", "snr"):
        keys = ["n_samples", "n_informative", "n_groups", "snr"]
        g = table.groupby(keys)
        out = g[["centre_distance", "silhouette", "dbscan_v_measure", "final_kl"]].median()
        out.insert(1, "separation", g["separation"].median())
        out.insert(2, "separation_min", g["separation"].min())
        out.insert(3, "separation_max", g["separation"].max())
        out["seeds"] = g.size()
        return out.reset_index()
    if name == "clusterers":
        g = table.groupby(["n_informative", "clusterer"], sort=False)
        out = pd.DataFrame({
            "heldout_v_measure": g["heldout_v_measure"].median(),
            "heldout_v_measure_min": g["heldout_v_measure"].min(),
            "n_clusters": g["n_clusters"].median(),
            "not_ok": g["status"].agg(lambda s: int((s.astype(str) != "ok").sum())),
            "seeds": g.size(),
        })
        return out.reset_index()
    if name == "silhouette":
        idx = table.groupby(["dataset", "n_groups", "seed"])["silhouette"].idxmax()
        best = table.loc[idx, ["dataset", "n_groups", "seed", "k", "silhouette"]]
        return best.rename(columns={"k": "best_k", "n_groups": "true_k"}).reset_index(drop=True)
    rows = []
    for seed, g in table.groupby("seed"):
        b = g[g["best"].astype(bool)].iloc[0]
        true = g[g["n_clusters"] == g["n_groups"]]
        rows.append({
            "seed": seed, "n_groups": int(b["n_groups"]), "eps_best": b["eps"],
            "eps_best_relative": b["eps_relative"], "n_clusters_at_best": int(b["n_clusters"]),
            "noise_fraction_at_best": b["noise_fraction"], "v_measure": b["v_measure"],
            "homogeneity": b["homogeneity"], "completeness": b["completeness"],
            "eps_true_count_from": true["eps"].min() if len(true) else math.nan,
            "eps_true_count_to": true["eps"].max() if len(true) else math.nan,
        })
    return pd.DataFrame(rows)
