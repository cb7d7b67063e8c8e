"""The whole job: read -> preprocess -> embed -> tune eps -> cluster -> write outputs."""

from __future__ import annotations

import json
import logging
import platform
import time
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from proteolabel import _constants as K

log = logging.getLogger(__name__)


@dataclass
class RunConfig:
    """Every parameter of one run (written to ``run.json``)."""

    input: str
    labels: str | None = None
    out: str = "proteolabel_out"
    format: str = "infer"
    quantity: str | None = None
    samples_in: str = "auto"
    label_column: str | None = None
    sample_column: str | None = None
    tune_fraction: float = 1.0
    min_samples: int = 10
    n_eps: int = 100
    top_n: int | None = 1296
    scale: str = "max"
    low_value_threshold: float = 0.05
    min_observations: int = 1
    epochs: int = 500
    batch_size: int = 128
    learning_rate: float = 1e-3
    beta: float = 1.0
    kl_warmup_epochs: int = 0
    n_latent: int = 2
    device: str = "auto"
    precision: str = "float32"
    seed: int = 0
    progress: bool = True
    reader_options: dict[str, Any] = field(default_factory=dict)
    classifier: bool = True
    consensus_runs: int = 0


@dataclass
class RunResult:
    """What :func:`run` returns: the annotated AnnData, the fitted parts and the run record.

    ``label_model`` is the :class:`~proteolabel._label_model.LabelModel` trained on the
    clusters (``None`` with ``classifier=False`` or fewer than two clusters).
    """

    adata: ad.AnnData
    embedder: Any
    search: Any
    preprocessor: Any
    info: dict[str, Any]
    out: Path | None
    label_model: Any = None


def attach_labels(
    adata: ad.AnnData,
    labels: str | Path | pd.Series | None,
    *,
    label_column: str | None = None,
    sample_column: str | None = None,
) -> str | None:
    """Put known labels into ``obs["label"]`` from a label file, a Series or an obs column.

    Returns a short description of where the labels came from (``None`` if there are none).
    """
    from proteolabel.io import read_labels

    if labels is None:
        if label_column is None:
            return None
        if label_column not in adata.obs:
            ann = [c for c in adata.obs.columns if c not in (K.OBS_EXCLUDED, K.OBS_EXCLUDED_REASON)]
            from proteolabel._utils import suggest

            raise ValueError(
                f"label column {label_column!r} is not an annotation column of the input"
                f"{suggest(label_column, ann)}; it has: {ann or 'none'}. Give a label file with "
                "--labels, or one of those columns."
            )
        series = adata.obs[label_column]
        source = f"input column {label_column!r}"
    elif isinstance(labels, pd.Series):
        series = labels
        source = "labels given as a Series"
    else:
        series = read_labels(
            labels, sample_column=sample_column, label_column=label_column,
            samples=list(adata.obs_names),
        )
        source = f"label file {str(labels)!r}" + (f", column {label_column!r}" if label_column else "")
    series = series.reindex(adata.obs_names)
    values = series.astype(object).where(series.notna(), None)
    values = values.map(_label_text)
    if K.OBS_LABEL in adata.obs and label_column != K.OBS_LABEL:
        adata.obs[K.OBS_LABEL + "_input"] = adata.obs[K.OBS_LABEL]
    adata.obs[K.OBS_LABEL] = pd.Categorical(values)
    return source


def _label_text(v: Any) -> str | None:
    """Return a known label as text: None for missing or blank, whole numbers without ``.0``.

    A column of integer labels with a gap is read as floats (1.0, NaN, 2.0); its labels are
    still ``"1"`` and ``"2"``, as written in the file.
    """
    if v is None:
        return None
    if isinstance(v, float | np.floating):
        if not np.isfinite(v):
            return None
        if float(v).is_integer():
            return str(int(v))
    text = str(v)
    return None if text.strip() == "" else text


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("proteolabel", "numpy", "pandas", "scikit-learn", "scipy", "torch", "anndata"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:  # pragma: no cover
            out[pkg] = "not installed"
    return out


def run(config: RunConfig | None = None, adata: ad.AnnData | None = None, **kwargs: Any) -> RunResult:
    """Run the whole job on one input and (if ``config.out`` is set) write every output.

    Parameters
    ----------
    config
        The run's parameters; or give them as keyword arguments (``input=...``, ``labels=...``).
    adata
        An already-read AnnData (linear intensities) to use instead of reading ``config.input``.
    **kwargs
        The fields of :class:`RunConfig`, when ``config`` is not given.

    Returns
    -------
    RunResult

    """
    from proteolabel import pp, tl
    from proteolabel.io import read

    if config is None:
        cfg = RunConfig(**kwargs)
    else:  # keyword arguments override the config's fields (never silently ignored)
        unknown = sorted(set(kwargs) - {f.name for f in fields(RunConfig)})
        if unknown:
            raise TypeError(f"run() got unknown RunConfig field(s) {unknown}")
        cfg = replace(config, **kwargs)
    if cfg.seed is None:  # draw one, and record it, so that the run can be repeated
        from proteolabel._utils import seed_from_random_state

        cfg = replace(cfg, seed=seed_from_random_state(None))
        log.info("no seed given: drew seed %d (pass it to repeat this run)", cfg.seed)
    from proteolabel.models import resolve_device

    resolve_device(cfg.device)  # an unusable device fails now, not after reading and training
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if adata is None:
        log.info("reading %s", cfg.input)
        adata = read(cfg.input, format=cfg.format, quantity=cfg.quantity,
                     samples_in=cfg.samples_in, **cfg.reader_options)
    else:
        adata = adata.copy()  # the caller's AnnData is left as it was
    timings["read"] = time.perf_counter() - t0
    n_input = adata.n_obs
    label_source = attach_labels(
        adata, cfg.labels, label_column=cfg.label_column, sample_column=cfg.sample_column
    )

    t = time.perf_counter()
    adp = pp.preprocess(
        adata, top_n=cfg.top_n, scale=cfg.scale, low_value_threshold=cfg.low_value_threshold,
        min_observations=cfg.min_observations,
    )
    timings["preprocess"] = time.perf_counter() - t
    n_used = int((~adp.obs[K.OBS_EXCLUDED].to_numpy(bool)).sum())
    if n_used < 2:
        raise ValueError(
            f"only {n_used} sample(s) have observed values after preprocessing; the VAE needs at "
            "least 2"
        )
    if cfg.min_samples > n_used:  # checked before training: DBSCAN could find no cluster
        raise ValueError(
            f"min_samples={cfg.min_samples} is more than the {n_used} samples used "
            f"({adp.n_obs - n_used} of {adp.n_obs} excluded): DBSCAN needs min_samples samples "
            "within eps of a sample for any cluster. Use --min-samples "
            f"{min(n_used, max(2, n_used // 2))} or less (min_samples=... in Python)."
        )

    log.info("preprocessed: %d samples x %d proteins (of %d); training the VAE for %d epochs",
             adp.n_obs, adp.n_vars, adata.n_vars, cfg.epochs)
    t = time.perf_counter()
    embedder = tl.embed(
        adp, random_state=cfg.seed, verbose=cfg.progress, epochs=cfg.epochs,
        batch_size=cfg.batch_size, learning_rate=cfg.learning_rate, beta=cfg.beta,
        kl_warmup_epochs=cfg.kl_warmup_epochs, n_latent=cfg.n_latent, device=cfg.device,
        precision=cfg.precision,
    )
    timings["embed"] = time.perf_counter() - t

    t = time.perf_counter()
    has_labels = K.OBS_LABEL in adp.obs and adp.obs[K.OBS_LABEL].notna().any()
    if has_labels:
        tl.select_tune(adp, fraction=cfg.tune_fraction, rng=cfg.seed)
        tune_counts = adp.obs.loc[adp.obs[K.OBS_TUNE].to_numpy(bool), K.OBS_LABEL].value_counts()
        tune_counts = tune_counts[tune_counts > 0]
        if tune_counts.size >= 2 and tune_counts.max() == 1:
            warnings.warn(
                f"every one of the {tune_counts.size} tune groups has a single tune sample: "
                "V-measure then cannot reward putting a group's samples together (completeness "
                "is 1 whatever the clusters), so eps is chosen by homogeneity alone. Use a larger "
                "--tune-fraction (at least 2 tune samples per group).",
                UserWarning,
                stacklevel=2,
            )
    else:
        adp.obs[K.OBS_TUNE] = False
    log.info("VAE trained in %.1f s (final loss %.4g); sweeping eps", timings["embed"],
             adp.uns[K.UNS_VAE]["final_loss"])
    search = tl.tune_eps(adp, min_samples=cfg.min_samples, n_eps=cfg.n_eps)
    timings["cluster"] = time.perf_counter() - t

    if cfg.consensus_runs >= 2:
        log.info("consensus: training %d more VAEs with other seeds", cfg.consensus_runs - 1)
        t = time.perf_counter()
        tl.consensus(
            adp, cfg.consensus_runs, random_state=cfg.seed, min_samples=cfg.min_samples,
            n_eps=cfg.n_eps, verbose=cfg.progress, epochs=cfg.epochs,
            batch_size=cfg.batch_size, learning_rate=cfg.learning_rate, beta=cfg.beta,
            kl_warmup_epochs=cfg.kl_warmup_epochs, n_latent=cfg.n_latent, device=cfg.device,
            precision=cfg.precision,
        )
        timings["consensus"] = time.perf_counter() - t

    tune_mask = adp.obs[K.OBS_TUNE].to_numpy(bool)
    labelled = (adp.obs[K.OBS_LABEL].notna().to_numpy() if has_labels
                else np.zeros(adp.n_obs, bool))
    # an excluded sample is neither tuned on nor scored: it does not count as held out
    heldout_mask = labelled & ~tune_mask & ~adp.obs[K.OBS_EXCLUDED].to_numpy(bool)
    metrics = {
        "tune": tl.score(adp, tune_mask) if has_labels else None,
        "heldout": tl.score(adp, heldout_mask) if has_labels else None,
        "all_labelled": tl.score(adp, labelled) if has_labels else None,
    }
    if has_labels and not heldout_mask.any():
        metrics["heldout_note"] = (
            "every labelled sample was used for tuning, so no held-out score exists; "
            "use --tune-fraction < 1 to keep some labelled samples for an honest check"
        )
    clusters = adp.obs[K.OBS_CLUSTER].to_numpy()
    info: dict[str, Any] = {
        "config": asdict(cfg),
        "seed": cfg.seed,
        "versions": _versions(),
        "label_source": label_source,
        "counts": {
            "samples_in_input": int(n_input),
            "samples_used": n_used,
            "samples_excluded": int(adp.obs[K.OBS_EXCLUDED].sum()),
            "proteins_in_input": int(adata.n_vars),
            "proteins_used": int(adp.n_vars),
            "labelled_samples": int(labelled.sum()),
            "tune_samples": int(tune_mask.sum()),
            "heldout_samples": int(heldout_mask.sum()),
            "labelled_excluded": int((labelled & adp.obs[K.OBS_EXCLUDED].to_numpy(bool)).sum()),
            "clusters": len(set(clusters[clusters >= 0])),
            "noise_samples": int(adp.obs[K.OBS_NOISE].sum()),
        },
        "dropped": {
            "read": dict(adata.uns.get(K.UNS_READ, {}).get("dropped", {})),
            "preprocess": dict(adp.uns[K.UNS_PREPROCESS]["dropped"]),
        },
        "read": adata.uns.get(K.UNS_READ, {}),
        "preprocess": adp.uns[K.UNS_PREPROCESS],
        "vae": {k: v for k, v in adp.uns[K.UNS_VAE].items() if k != "history"},
        "eps": float(search.eps_),
        "min_samples": int(cfg.min_samples),
        "eps_supervised": bool(adp.uns[K.UNS_EPS_SEARCH]["supervised"]),
        "eps_search": _eps_record(adp.uns[K.UNS_EPS_SEARCH]),
        "consensus": ({k: v for k, v in adp.uns["consensus"].items()}
                      if "consensus" in adp.uns else None),
        "metrics": metrics,
        "timings_s": timings,
    }
    from proteolabel.pp import preprocessor_from_adata

    pre = preprocessor_from_adata(adp)
    result = RunResult(adp, embedder, search, pre, info, None)
    if cfg.classifier:
        log.info("training the classifier on the clusters")
        t = time.perf_counter()
        info["classifier"] = _train_label_model(result, cfg)
        timings["classifier"] = time.perf_counter() - t
    if cfg.out:
        t = time.perf_counter()
        result.out = write_outputs(result, Path(cfg.out))
        info["timings_s"]["write"] = time.perf_counter() - t
        info["timings_s"]["total"] = time.perf_counter() - t0
        (result.out / "run.json").write_text(json.dumps(_jsonable(info), indent=2))
    else:
        info["timings_s"]["total"] = time.perf_counter() - t0
    return result


def _eps_record(uns: Mapping[str, Any]) -> dict[str, Any]:
    """Describe the eps choice for run.json: how it was made, and how stable it is."""
    scores = uns.get("scores", {}) or {}
    return {
        "rule": ("maximum V-measure on the tune samples" if uns.get("supervised")
                 else f"unsupervised {uns.get('unsupervised_rule', 'knee')!r} rule"),
        "had_tune_samples": bool(uns.get("had_tune_samples", False)),
        "n_eps": int(uns.get("n_eps", 0)),
        "eps_range": [float(np.min(uns["sweep"]["eps"])), float(np.max(uns["sweep"]["eps"]))]
        if "sweep" in uns else None,
        "stability": scores.get("stability"),
        "stability_note": "mean ARI between the labels at the chosen eps and at its two "
                          "neighbouring grid values (1: the labels do not change)",
        # the counts are over all samples clustered; the scores over the tune samples only
        "scores_at_chosen_eps": {
            "n_clusters_all_samples": scores.get("n_clusters"),
            "n_noise_all_samples": scores.get("n_noise"),
            **{f"{k}_tune_samples": scores.get(k)
               for k in ("v_measure", "homogeneity", "completeness", "ari", "ami")},
        },
    }


def _train_label_model(result: RunResult, cfg: RunConfig) -> dict[str, Any]:
    """Train the classifier on the clusters (``result.label_model``); return its record."""
    from proteolabel._label_model import LabelModel
    from proteolabel.models._classifier import MLPLabelClassifier

    n_clusters = result.info["counts"]["clusters"]
    if n_clusters < 2:
        reason = (f"the run found {n_clusters} cluster(s); a classifier needs at least 2 to "
                  "learn from, so no model to label new samples was trained")
        log.warning("classifier not trained: %s", reason)
        return {"trained": False, "reason": reason}
    clf = MLPLabelClassifier(random_state=cfg.seed, device=cfg.device, verbose=cfg.progress)
    model = LabelModel.from_run(result, classifier=clf, random_state=cfg.seed)
    result.label_model = model
    rep = model.report
    return {
        "trained": True,
        "cv": rep["cv"],
        "agreement": rep["agreement"],
        "cluster_to_label": {str(k): v for k, v in model.cluster_to_label.items()},
        "matching": model.matching,
        "classifier": rep["classifier"],
        "unlike_rule": rep["unlike_rule"],
        "training_samples_far": rep["training_samples_far"],
    }


def _jsonable(o: Any) -> Any:
    if isinstance(o, Mapping):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        return [_jsonable(v) for v in o.tolist()]
    if isinstance(o, np.generic):
        return _jsonable(o.item())
    if isinstance(o, float) and not np.isfinite(o):
        return None
    if isinstance(o, Path):
        return str(o)
    return o


def _h5ad_safe(o: Any) -> Any:
    """Make ``uns`` content writable to h5ad (no None, no nested lists of mixed types)."""
    if isinstance(o, Mapping):
        return {str(k): _h5ad_safe(v) for k, v in o.items()}
    if o is None:
        return "None"
    if isinstance(o, list | tuple):
        if all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in o) and o:
            return np.asarray(o)
        if all(isinstance(v, str) for v in o) and o:
            return np.asarray(o, dtype=object)
        if not o:
            return np.asarray([], dtype=float)
        return {str(i): _h5ad_safe(v) for i, v in enumerate(o)}
    return o


def cluster_labels(adata: ad.AnnData, ties: bool = False):
    """Name each cluster by the known label most of its tune samples carry.

    Returns ``{cluster: label}``; with ``ties=True`` also the set of clusters whose name was a
    tie between labels.
    """
    # Only tune samples decide (the labels the method is given), so that the held-out samples
    # still measure the result honestly; a cluster without tune samples is not named. Ties go
    # to the alphabetically first label (see _label_model.match_clusters_to_labels).
    from proteolabel._label_model import match_clusters_to_labels

    obs = adata.obs
    if K.OBS_LABEL not in obs:
        return ({}, set()) if ties else {}
    clusters = obs[K.OBS_CLUSTER].astype(int).to_numpy()
    clusters = np.where(obs[K.OBS_EXCLUDED].to_numpy(bool), -1, clusters)
    labels = obs[K.OBS_LABEL].astype(object).to_numpy()
    labels = np.array([None if pd.isna(v) else str(v) for v in labels], dtype=object)
    rows = [r for r in match_clusters_to_labels(clusters, labels, obs[K.OBS_TUNE].to_numpy(bool))
            if r["source"] == "tune"]
    names = {r["cluster"]: r["label"] for r in rows}
    return (names, {r["cluster"] for r in rows if r["tie"]}) if ties else names


def labels_table(adata: ad.AnnData) -> pd.DataFrame:
    """One row per input sample.

    Columns: ``sample``, ``cluster`` (-1 = noise), ``is_noise``, ``is_tune``, ``label`` (the
    known label, where given), ``cluster_label`` (the known label the cluster stands for, from
    :func:`cluster_labels`; empty for noise and unnamed clusters), ``cluster_label_tie``
    (the cluster's tune samples were split evenly between labels; the alphabetically first
    was taken), ``excluded`` and ``excluded_reason``; after a consensus (see
    :func:`proteolabel.tl.consensus`) also ``consensus_cluster`` and ``agreement``.
    """
    obs = adata.obs
    clusters = obs[K.OBS_CLUSTER].astype(int).to_numpy()
    names, tied = cluster_labels(adata, ties=True)
    df = pd.DataFrame({
        "sample": adata.obs_names.astype(str),
        "cluster": clusters,
        "is_noise": obs[K.OBS_NOISE].astype(bool).to_numpy(),
        "is_tune": obs[K.OBS_TUNE].astype(bool).to_numpy(),
        "label": (obs[K.OBS_LABEL].astype(object).to_numpy() if K.OBS_LABEL in obs
                  else np.full(adata.n_obs, None)),
        "cluster_label": [names.get(int(c), "") for c in clusters],
        "cluster_label_tie": [int(c) in tied for c in clusters],
        **({"consensus_cluster": obs["consensus_cluster"].astype(int).to_numpy(),
            "agreement": obs["agreement"].to_numpy(float)} if "consensus_cluster" in obs else {}),
        "excluded": obs[K.OBS_EXCLUDED].astype(bool).to_numpy(),
        "excluded_reason": obs[K.OBS_EXCLUDED_REASON].astype(str).replace("nan", "").to_numpy(),
    })
    return df


#: Files a run writes into its output folder, and into ``model/``; a new run into the same
#: folder removes these first, so that no file of an earlier run is left beside the new ones.
RUN_FILES = ("labels.csv", "latent.csv", "eps_sweep.csv", "training_history.csv", "result.h5ad",
             "run.json", "latent.png", "eps_sweep.png", "training_loss.png")
MODEL_FILES = ("preprocessor.json", "clusters.json", "label_model.json", "vae_config.json",
               "vae_weights.pt", "classifier_config.json", "classifier_weights.pt")


def clear_previous_run(out: Path) -> list[str]:
    """Remove an earlier run's files from ``out`` (only those a run writes); return their names."""
    removed = []
    for name in RUN_FILES:
        if (out / name).is_file():
            (out / name).unlink()
            removed.append(name)
    model = out / "model"
    for name in MODEL_FILES:
        if (model / name).is_file():
            (model / name).unlink()
            removed.append(f"model/{name}")
    if removed:
        log.info("%s held an earlier run: its %d files were replaced", out, len(removed))
    return removed


def write_outputs(result: RunResult, out: Path) -> Path:
    """Write labels.csv, latent.csv, eps_sweep.csv, result.h5ad, figures and the model.

    Files an earlier run left in ``out`` are removed first (see :func:`clear_previous_run`);
    other files in the folder are left alone.
    """
    adata = result.adata
    out.mkdir(parents=True, exist_ok=True)
    clear_previous_run(out)
    labels_table(adata).to_csv(out / "labels.csv", index=False)
    Z = np.asarray(adata.obsm[K.OBSM_LATENT])
    lat = pd.DataFrame(Z, columns=[f"latent_{i + 1}" for i in range(Z.shape[1])])
    lat.insert(0, "sample", adata.obs_names.astype(str))
    lat.to_csv(out / "latent.csv", index=False)
    sweep = pd.DataFrame({k: np.asarray(v) for k, v in adata.uns[K.UNS_EPS_SEARCH]["sweep"].items()})
    sweep.to_csv(out / "eps_sweep.csv", index=False)
    pd.DataFrame({k: np.asarray(v) for k, v in adata.uns[K.UNS_VAE]["history"].items()}).to_csv(
        out / "training_history.csv", index=False
    )
    write_h5ad(adata, out / "result.h5ad")
    save_model(result, out / "model")
    write_figures(adata, out)
    return out


#: h5 stores cannot hold "/" in a column name (anndata warns now and will refuse): it is written
#: as this look-alike character, and ``uns["renamed_columns"]`` maps the new names back.
H5_SLASH = "\u2215"  # DIVISION SLASH


def write_h5ad(adata: ad.AnnData, path: Path) -> None:
    """Write ``adata`` with its ``obs``/``uns`` made h5ad-safe (strings, categoricals, arrays).

    Column names of ``obs`` and ``var`` that contain ``/`` (units such as ``ng/L``) are written
    with :data:`H5_SLASH` instead; ``uns["renamed_columns"]`` maps each new name to the original.
    """
    a = adata.copy()
    renamed = {}
    for frame in (a.obs, a.var):
        mapping = {c: str(c).replace("/", H5_SLASH) for c in frame.columns if "/" in str(c)}
        frame.rename(columns=mapping, inplace=True)
        renamed.update({v: k for k, v in mapping.items()})
    if renamed:
        a.uns["renamed_columns"] = renamed
    for c in a.obs.columns:
        if a.obs[c].dtype == object:
            a.obs[c] = pd.Categorical(a.obs[c].map(lambda v: None if pd.isna(v) else str(v)))
    for c in a.var.columns:
        if a.var[c].dtype == object:
            a.var[c] = a.var[c].astype(str)
    a.uns = _h5ad_safe(dict(a.uns))
    a.write_h5ad(path)


def save_model(result: RunResult, directory: Path) -> Path:
    """Save what is needed to place new samples: preprocessing, VAE, eps search (JSON + tensors).

    With a trained label model, also its classifier and ``label_model.json``; ``clusters.json``
    then carries the label model's cluster-to-label mapping and the cluster centroids.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "preprocessor.json").write_text(json.dumps(_jsonable(result.preprocessor.to_dict())))
    result.embedder.save(directory)
    adata = result.adata
    keep = ~adata.obs[K.OBS_EXCLUDED].to_numpy(bool)
    Z = np.asarray(adata.obsm[K.OBSM_LATENT])[keep]
    core = np.asarray(result.search.core_sample_indices_)
    clusters = adata.obs[K.OBS_CLUSTER].to_numpy()[keep]
    mapping = {str(c): lab for c, lab in cluster_labels(adata).items()}
    state = {
        "eps": float(result.search.eps_),
        "min_samples": int(result.search.min_samples),
        "core_points": Z[core].tolist(),
        "core_clusters": clusters[core].astype(int).tolist(),
        "cluster_to_label": mapping,
        "versions": _versions(),
    }
    (directory / "clusters.json").write_text(json.dumps(_jsonable(state)))
    if result.label_model is not None:
        result.label_model.save(directory)
    return directory


def write_figures(adata: ad.AnnData, out: Path) -> list[Path]:
    """Write latent.png, eps_sweep.png and training_loss.png."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from proteolabel import pl

    paths = []
    has_labels = K.OBS_LABEL in adata.obs and adata.obs[K.OBS_LABEL].notna().any()
    ncols = 2 if has_labels else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6.2 * ncols, 5.2), layout="constrained",
                             squeeze=False)
    eps = adata.uns[K.UNS_EPS_SEARCH]["eps"]
    pl.latent(adata, K.OBS_CLUSTER, ax=axes[0, 0],
              title=f"DBSCAN clusters (eps={eps:.3g}, min_samples="
                    f"{adata.uns[K.UNS_EPS_SEARCH]['min_samples']})")
    if has_labels:
        pl.latent(adata, K.OBS_LABEL, ax=axes[0, 1], title="known labels (ringed: tune samples)")
    paths.append(out / "latent.png")
    fig.savefig(paths[-1], dpi=130)
    plt.close(fig)
    for name, fn, size in (("eps_sweep.png", pl.eps_search, (7.5, 5.8)),
                           ("training_loss.png", pl.training_loss, (7, 4.6))):
        fig, ax = plt.subplots(figsize=size, layout="constrained")
        fn(adata, ax=ax)
        paths.append(out / name)
        fig.savefig(paths[-1], dpi=130)
        plt.close(fig)
    return paths
