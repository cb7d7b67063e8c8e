"""``LabelModel``: learn a classifier from a run's clusters, save it, and label new samples.

The chain is the method's self-supervision step: the clusters found in the VAE latent space
become the targets of a fully connected classifier trained on the preprocessed protein matrix;
the saved chain (preprocessing state, VAE, classifier, cluster-to-label mapping, training latent)
labels samples measured later, and says when a sample is unlike anything it was trained on.
"""

from __future__ import annotations

import json
import math
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold

from proteolabel import _constants as K

if TYPE_CHECKING:
    import anndata as ad

    from proteolabel._pipeline import RunResult
    from proteolabel.models import VAEEmbedder
    from proteolabel.models._classifier import MLPLabelClassifier
    from proteolabel.preprocessing import Preprocessor

#: ``format`` field of ``label_model.json``.
FORMAT = "proteolabel.label_model"
#: Version of the model folder layout; :meth:`LabelModel.load` refuses newer ones.
FORMAT_VERSION = 1
#: Files of a model folder.
LABEL_MODEL_FILE = "label_model.json"
PREPROCESSOR_FILE = "preprocessor.json"
CLUSTERS_FILE = "clusters.json"

#: Reasons of the "unlike the training data" flag, in the order they are checked.
REASON_FAR = "far_from_training_clusters"
REASON_UNSURE = "classifier_unsure"
REASON_COVERAGE = "low_protein_coverage"
REASON_RANGE = "outside_training_range"
UNLIKE_REASONS = (REASON_FAR, REASON_UNSURE, REASON_COVERAGE, REASON_RANGE)

_MAX_LISTED = 50

#: Below this share of the model's proteins found in new data, predictions come with a warning.
MIN_MATCHED_SHARE = 0.5
#: The saved classifier is reported as unreliable (a warning) when its in-sample accuracy is
#: below this, or more than 0.1 below its own cross-validated accuracy (a network that fits
#: its training samples worse than held-out folds is under-trained, not just limited).
MIN_TRAINING_ACCURACY = 0.75

#: The classifier is reported at chance level (a warning) when its cross-validated balanced
#: accuracy is at most 1 / n_clusters plus this margin.
CHANCE_MARGIN = 0.05


@dataclass(frozen=True)
class UnlikeRule:
    """When a new sample is flagged as unlike the training data (any one condition suffices).

    Parameters
    ----------
    distance_factor
        ``far_from_training_clusters``: the sample's latent position is farther than
        ``distance_factor x eps`` from every core point of the training clusters. With 1 this is
        DBSCAN's own rule for noise; the default 2 leaves room for the spread of new batches.
    min_probability
        ``classifier_unsure``: the classifier's highest class probability is below this (the
        default 0.6 means, with two clusters, anything less clear than 60:40).
    min_coverage_factor
        ``low_protein_coverage``: the sample observes fewer of the model's proteins than this
        share of the fewest any training sample observed (a sample observing none is always
        flagged).
    max_outside_fraction
        ``outside_training_range``: more than this share of the sample's observed model
        proteins lie above the training maximum of the protein (or, with ``scale="minmax"``,
        below the training minimum): the intensities are on another scale than the training.

    """

    distance_factor: float = 2.0
    min_probability: float = 0.6
    min_coverage_factor: float = 0.5
    max_outside_fraction: float = 0.5

    def __post_init__(self) -> None:
        checks = {
            "distance_factor": self.distance_factor > 0,
            "min_probability": 0 <= self.min_probability <= 1,
            "min_coverage_factor": 0 <= self.min_coverage_factor <= 1,
            "max_outside_fraction": 0 <= self.max_outside_fraction <= 1,
        }
        for name, ok in checks.items():
            value = getattr(self, name)
            if not ok or not math.isfinite(value):
                raise ValueError(
                    f"{name}={value!r} is out of range (distance_factor > 0; the others in [0, 1])"
                )

    def describe(self, eps: float, min_coverage: int | None) -> dict[str, str]:
        """One sentence per reason, with the numbers of this model."""
        cov = (
            f"it observes fewer than {self.min_coverage_factor:g} x {min_coverage} of the "
            "model's proteins (the fewest any training sample observed), or none"
            if min_coverage is not None else "it observes none of the model's proteins"
        )
        return {
            REASON_FAR: (
                f"its latent position is more than {self.distance_factor:g} x eps = "
                f"{self.distance_factor * eps:.4g} from every core point of the training clusters"
            ),
            REASON_UNSURE: (
                f"the classifier's highest class probability is below {self.min_probability:g}"
            ),
            REASON_COVERAGE: cov,
            REASON_RANGE: (
                f"more than {self.max_outside_fraction:g} of its observed model proteins lie "
                "outside the training range of the protein (above its training maximum)"
            ),
        }


# -- helpers ----------------------------------------------------------------------------------
def _versions() -> dict[str, str]:
    from proteolabel._pipeline import _versions as versions

    return versions()


def _jsonable(o: Any) -> Any:
    from proteolabel._pipeline import _jsonable as jsonable

    return jsonable(o)


def _labels_or_none(values: Any) -> np.ndarray:
    """Object array of labels as strings, ``None`` where missing or blank."""
    from proteolabel.cluster import labelled_mask

    arr = np.asarray(values, dtype=object).ravel()
    has = labelled_mask(arr)
    out = np.full(arr.size, None, dtype=object)
    out[has] = [str(v) for v in arr[has]]
    return out


def _majority(labels: np.ndarray) -> tuple[str | None, dict[str, int], bool]:
    """Most common label (ties: alphabetically first), the counts, and whether it was a tie."""
    counts = Counter(str(v) for v in labels if v is not None)
    if not counts:
        return None, {}, False
    top = max(counts.values())
    best = sorted(k for k, v in counts.items() if v == top)
    return best[0], dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))), len(best) > 1


def match_clusters_to_labels(
    clusters: np.ndarray, labels: np.ndarray, tune: np.ndarray
) -> list[dict[str, Any]]:
    """Match each cluster to the label most of its labelled members carry.

    The tune samples (the labels the method is given) decide first; a cluster without any
    labelled tune sample is matched on all its labelled samples instead (``source="labelled"``),
    and a cluster without any labelled sample stays unmatched (``label=None``). Ties go to the
    alphabetically first label and are marked.

    Parameters
    ----------
    clusters
        Cluster of each sample (-1 = noise, never matched).
    labels
        Known label of each sample, ``None`` where unknown.
    tune
        Which samples are tune samples.

    Returns
    -------
    One record per cluster: ``cluster``, ``n_samples``, ``label``, ``source``, ``purity``
    (share of the deciding samples that carry the label), ``tie``, ``tune_counts`` and
    ``labelled_counts``.

    """
    rows = []
    has = np.array([v is not None for v in labels], dtype=bool)
    for c in np.unique(clusters[clusters >= 0]):
        member = clusters == c
        tune_label, tune_counts, tune_tie = _majority(labels[member & tune & has])
        all_label, all_counts, all_tie = _majority(labels[member & has])
        if tune_label is not None:
            label, source, counts, tie = tune_label, "tune", tune_counts, tune_tie
        elif all_label is not None:
            label, source, counts, tie = all_label, "labelled", all_counts, all_tie
        else:
            label, source, counts, tie = None, None, {}, False
        total = sum(counts.values())
        rows.append({
            "cluster": int(c),
            "n_samples": int(member.sum()),
            "label": label,
            "source": source,
            "purity": float(counts[label] / total) if label is not None else None,
            "tie": bool(tie),
            "tune_counts": tune_counts,
            "labelled_counts": all_counts,
        })
    return rows


def _agreement(truth: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Accuracy and balanced accuracy (mean recall per true label) of predicted vs true labels.

    A ``None`` prediction (noise, or a cluster without a matched label) counts as wrong.
    """
    pred = np.array(["\x00unmatched" if p is None else str(p) for p in predicted], dtype=object)
    true = np.array([str(t) for t in truth], dtype=object)
    recalls = {str(t): float(np.mean(pred[true == t] == t)) for t in np.unique(true)}
    return {
        "n_samples": int(true.size),
        "accuracy": float(np.mean(pred == true)),
        "balanced_accuracy": float(np.mean(list(recalls.values()))),
        "recall_per_label": recalls,
        "n_without_label": int(sum(p is None for p in predicted)),
    }


def cross_validate(
    estimator: Any, X: np.ndarray, y: np.ndarray, n_splits: int, random_state: int
) -> tuple[dict[str, Any], np.ndarray | None]:
    """Stratified k-fold accuracy and balanced accuracy of ``estimator`` on ``(X, y)``.

    ``n_splits`` is lowered to the size of the smallest class when needed (at least 2).

    Returns
    -------
    The report and the out-of-fold predictions (``None`` when CV was not possible).

    """
    _, counts = np.unique(y, return_counts=True)
    k = min(int(n_splits), int(counts.min()))
    if n_splits < 2:
        return {"defined": False, "reason": f"cv={n_splits}: cross-validation switched off"}, None
    if k < 2:
        return {
            "defined": False,
            "reason": f"the smallest cluster has {int(counts.min())} sample(s); stratified "
                      "cross-validation needs at least 2 per cluster",
        }, None
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=random_state)
    oof = np.empty(y.shape, dtype=y.dtype)
    acc, bacc = [], []
    for tr, te in skf.split(X, y):
        est = clone(estimator)
        if "verbose" in est.get_params():
            est.set_params(verbose=False)
        est.fit(X[tr], y[tr])
        pred = est.predict(X[te])
        oof[te] = pred
        acc.append(float(accuracy_score(y[te], pred)))
        bacc.append(float(balanced_accuracy_score(y[te], pred)))
    return {
        "defined": True,
        "method": f"stratified {k}-fold cross-validation (shuffled, seed {random_state})",
        "target": "cluster labels (noise and excluded samples left out)",
        "n_splits": k,
        "n_samples": int(y.size),
        "accuracy": float(np.mean(acc)),
        "accuracy_std": float(np.std(acc)),
        "balanced_accuracy": float(np.mean(bacc)),
        "balanced_accuracy_std": float(np.std(bacc)),
        "accuracy_per_fold": acc,
        "balanced_accuracy_per_fold": bacc,
    }, oof


def classifier_at_chance(cv_report: Mapping[str, Any], n_clusters: int) -> bool:
    """Whether a cross-validated balanced accuracy is at chance level for ``n_clusters``.

    Chance is ``1 / n_clusters``; "at chance" is at most :data:`CHANCE_MARGIN` above it.
    An undefined cross-validation is never at chance (there is nothing to judge).
    """
    if not cv_report.get("defined") or n_clusters < 2:
        return False
    bacc = float(cv_report.get("balanced_accuracy", math.nan))
    return math.isfinite(bacc) and bacc <= 1.0 / n_clusters + CHANCE_MARGIN


def _accession_key(name: str) -> frozenset[str]:
    return frozenset(p.strip() for p in str(name).split(";") if p.strip())


def _leading_accession(name: str) -> str:
    """Return a group's first ``;``-separated member, stripped (an isoform suffix is kept)."""
    return str(name).split(";", 1)[0].strip()


def align_proteins(
    new: Sequence[str], model: Sequence[str], *, by_leading_accession: bool = True
) -> tuple[np.ndarray, dict[str, Any]]:
    """Find each model protein among the new file's proteins.

    Three tiers, each on what the previous ones left unmatched:

    1. a new protein of the same name;
    2. a new protein group made of the same ``;``-separated accessions in another order (when
       exactly one has that set on each side);
    3. (``by_leading_accession``) a new protein group with the same leading accession, the
       first ``;``-separated member (``P12345;P12346`` and ``P12345;Q99999``, or ``P12345``
       and ``P12345;P12346``), when that accession leads exactly one still-unmatched model
       protein and exactly one unused new protein; it is never guessed between several.
       Isoforms are distinct accessions (``P12345-2`` does not match ``P12345``). Between
       MaxQuant runs of related experiments protein groups often differ in their minor
       members while the leading protein stays the same.

    Returns
    -------
    For each model protein the column of the new data (-1 when missing), and a report:
    counts of exact, accession-set, leading-accession and missing matches, extra proteins,
    the first names, and the first ``[model name, new name]`` pairs matched by leading
    accession (to audit them).

    """
    new = [str(s) for s in new]
    dup = [k for k, v in Counter(new).items() if v > 1]
    if dup:
        raise ValueError(
            f"the new data names {len(dup)} protein(s) more than once (e.g. {dup[:3]}); "
            "protein names must be unique to be matched to the model"
        )
    position = {name: i for i, name in enumerate(new)}
    cols = np.array([position.get(str(p), -1) for p in model], dtype=np.intp)
    exact = int((cols >= 0).sum())
    by_set = 0
    if (cols < 0).any():
        used = set(cols[cols >= 0].tolist())
        keys: dict[frozenset[str], list[int]] = {}
        for i, name in enumerate(new):
            if i not in used:
                keys.setdefault(_accession_key(name), []).append(i)
        model_keys = Counter(_accession_key(p) for p in model)
        for j in np.flatnonzero(cols < 0):
            key = _accession_key(model[j])
            cand = keys.get(key, [])
            if len(cand) == 1 and model_keys[key] == 1:
                cols[j] = cand[0]
                by_set += 1
    by_leading: list[list[str]] = []
    if by_leading_accession and (cols < 0).any():
        used = set(cols[cols >= 0].tolist())
        new_leads: dict[str, list[int]] = {}
        for i, name in enumerate(new):
            if i not in used:
                new_leads.setdefault(_leading_accession(name), []).append(i)
        unmatched = np.flatnonzero(cols < 0)
        model_leads = Counter(_leading_accession(model[j]) for j in unmatched)
        for j in unmatched:
            lead = _leading_accession(model[j])
            cand = new_leads.get(lead, [])
            if lead and len(cand) == 1 and model_leads[lead] == 1:
                cols[j] = cand[0]
                by_leading.append([str(model[j]), new[cand[0]]])
    missing = [str(model[j]) for j in np.flatnonzero(cols < 0)]
    matched = set(cols[cols >= 0].tolist())
    extra = [new[i] for i in range(len(new)) if i not in matched]
    report = {
        "n_model_proteins": len(model),
        "n_matched": int((cols >= 0).sum()),
        "n_matched_exact": exact,
        "n_matched_by_accession_set": by_set,
        "n_matched_by_leading_accession": len(by_leading),
        "matched_by_leading_accession": by_leading[:_MAX_LISTED],
        "n_missing": len(missing),
        "missing": missing[:_MAX_LISTED],
        "missing_handling": "filled as missing: the preprocessing's fill value after scaling",
        "n_extra": len(extra),
        "extra": extra[:_MAX_LISTED],
        "extra_handling": "ignored",
    }
    return cols, report


def _as_matrix(data: Any) -> tuple[list[str], list[str], np.ndarray]:
    """(sample names, protein names, linear intensities) of an AnnData or a DataFrame."""
    import anndata as ad

    if isinstance(data, ad.AnnData):
        X = data.X
        if hasattr(X, "toarray"):
            X = X.toarray()
        return (list(data.obs_names), [str(v) for v in data.var_names],
                np.asarray(X, dtype=np.float64))
    if isinstance(data, pd.DataFrame):
        bad = [c for c in data.columns if not pd.api.types.is_numeric_dtype(data[c])]
        if bad:
            raise ValueError(
                f"the DataFrame has {len(bad)} non-numeric column(s) (e.g. {bad[:3]}); give "
                "samples as rows and proteins as columns of linear intensities only"
            )
        return ([str(s) for s in data.index], [str(c) for c in data.columns],
                data.to_numpy(dtype=np.float64, na_value=np.nan))
    raise TypeError(
        f"expected an AnnData (proteolabel.io.read) or a pandas DataFrame (samples x proteins), "
        f"got {type(data).__name__}"
    )


# -- the model ----------------------------------------------------------------------------------
class LabelModel:
    """A run's clusters turned into a classifier that labels new samples.

    Build it from a finished run with :meth:`from_run`, label new data with :meth:`predict`,
    keep it with :meth:`save` and bring it back with :meth:`load`. The chain applied to a new
    sample is: match its proteins to the model's (missing ones are filled, extra ones
    ignored) -> the stored preprocessing (training maxima, threshold, fill, top-N selection)
    -> the VAE's latent position -> the classifier's cluster probabilities -> the cluster's
    label (matched by majority on known labels) -> the "unlike the training data" checks of
    :class:`UnlikeRule`.

    Parameters
    ----------
    preprocessor
        The fitted :class:`~proteolabel.preprocessing.Preprocessor` of the run.
    embedder
        The fitted :class:`~proteolabel.models.VAEEmbedder`.
    classifier
        The fitted classifier (cluster ids as classes), such as
        :class:`~proteolabel.models._classifier.MLPLabelClassifier`.
    eps
        DBSCAN's eps of the run (the latent distance scale).
    min_samples
        DBSCAN's min_samples of the run.
    core_points
        Latent positions of the training core samples, shape (n_core, n_latent).
    core_clusters
        Cluster of each core sample.
    matching
        Cluster-to-label records of :func:`match_clusters_to_labels`.
    rule
        The "unlike the training data" rule.
    min_coverage
        Fewest model proteins observed by a training sample (``None``: unknown).
    centroids
        Mean latent position of each training cluster.
    report
        What training measured (cross-validation, agreement with known labels, counts).
    versions
        Library versions that made the model.

    Attributes
    ----------
    proteins : list of str
        The model's proteins, in the order the VAE and the classifier read them.
    cluster_to_label : dict of int to str or None
        The label each cluster stands for (``None``: no labelled sample in it).
    classes : ndarray of int
        The clusters the classifier predicts, in the order of its probability columns.

    """

    def __init__(
        self,
        preprocessor: Preprocessor,
        embedder: VAEEmbedder,
        classifier: MLPLabelClassifier,
        *,
        eps: float,
        min_samples: int,
        core_points: np.ndarray,
        core_clusters: np.ndarray,
        matching: list[dict[str, Any]],
        rule: UnlikeRule | None = None,
        min_coverage: int | None = None,
        centroids: Mapping[int, Sequence[float]] | None = None,
        report: dict[str, Any] | None = None,
        versions: dict[str, str] | None = None,
    ):
        self.preprocessor = preprocessor
        self.embedder = embedder
        self.classifier = classifier
        self.eps = float(eps)
        self.min_samples = int(min_samples)
        self.core_points = np.asarray(core_points, dtype=np.float64).reshape(
            -1, int(embedder.n_latent)
        )
        self.core_clusters = np.asarray(core_clusters, dtype=np.int64)
        self.matching = list(matching)
        self.rule = rule if rule is not None else UnlikeRule()
        self.min_coverage = None if min_coverage is None else int(min_coverage)
        self.centroids = {int(k): [float(v) for v in c] for k, c in (centroids or {}).items()}
        self.report = dict(report or {})
        self.versions = dict(versions or _versions())
        if self.core_points.shape[0] == 0:
            raise ValueError("the model needs at least one training core point")
        if self.core_points.shape[0] != self.core_clusters.size:
            raise ValueError("core_points and core_clusters differ in length")

    # -- properties ---------------------------------------------------------------------------
    @property
    def proteins(self) -> list[str]:
        """The model's proteins, in the order the VAE and the classifier read them."""
        return [str(p) for p in self.preprocessor.get_feature_names_out()]

    @property
    def classes(self) -> np.ndarray:
        """Clusters the classifier predicts, in the order of its probability columns."""
        return np.asarray(self.classifier.classes_)

    @property
    def cluster_to_label(self) -> dict[int, str | None]:
        """The label each cluster stands for (``None`` when it holds no labelled sample)."""
        return {int(r["cluster"]): r["label"] for r in self.matching}

    def __repr__(self) -> str:
        mapping = ", ".join(f"{c}->{lab}" for c, lab in self.cluster_to_label.items())
        return (
            f"LabelModel({len(self.proteins)} proteins, {self.classes.size} clusters "
            f"[{mapping}], eps={self.eps:.4g})"
        )

    # -- training -----------------------------------------------------------------------------
    @classmethod
    def from_run(
        cls,
        result: RunResult,
        *,
        classifier: Any = None,
        cv: int = 5,
        rule: UnlikeRule | None = None,
        random_state: int | None = None,
        verbose: bool = False,
    ) -> LabelModel:
        """Train the classifier on a finished run's clusters and assemble the model.

        The classifier learns the cluster of each clustered sample from its preprocessed
        protein values (``result.adata.X``, not the latent); noise and excluded samples are
        left out. Before the final fit, stratified k-fold cross-validation measures how well
        the clusters can be predicted (``report["cv"]``). Where known labels exist for samples
        outside the tune set, ``report["agreement"]`` compares them with the clusters and with
        the classifier's out-of-fold predictions, both mapped to labels by the majority of each
        cluster's tune samples only (so the held-out labels never decide the mapping).

        Parameters
        ----------
        result
            What :func:`proteolabel.run` returned.
        classifier
            An unfitted classifier to clone (cluster ids are its targets); default
            :class:`~proteolabel.models._classifier.MLPLabelClassifier` seeded with
            ``random_state``.
        cv
            Number of cross-validation folds (lowered to the smallest cluster's size; < 2 skips
            cross-validation).
        rule
            The "unlike the training data" rule stored with the model.
        random_state
            Seed of the default classifier and of the fold split; default: the run's seed.
        verbose
            Show the classifier's progress bar during the final fit.

        Returns
        -------
        LabelModel

        Raises
        ------
        ValueError
            When the run found fewer than two clusters: there is nothing to classify.

        """
        from proteolabel.models._classifier import MLPLabelClassifier

        adata = result.adata
        obs = adata.obs
        seed = int(result.info.get("seed", 0) if random_state is None else random_state)
        excluded = (obs[K.OBS_EXCLUDED].to_numpy(bool) if K.OBS_EXCLUDED in obs
                    else np.zeros(adata.n_obs, bool))
        clusters = obs[K.OBS_CLUSTER].to_numpy().astype(np.int64)
        train = ~excluded & (clusters >= 0)
        found = np.unique(clusters[train])
        if found.size < 2:
            raise ValueError(
                f"the run found {found.size} cluster(s) ({int((clusters[~excluded] < 0).sum())} "
                "noise samples); a classifier needs at least 2 clusters to learn from. Try "
                "another eps search (more tune samples, a different --min-samples) or more "
                "VAE epochs."
            )
        names = [str(v) for v in adata.var_names]
        if names != [str(v) for v in result.preprocessor.get_feature_names_out()]:
            raise ValueError("result.adata's proteins differ from the preprocessor's output")

        X = np.asarray(adata.X.toarray() if hasattr(adata.X, "toarray") else adata.X,
                       dtype=np.float32)
        y = clusters[train]
        est = (MLPLabelClassifier(random_state=seed, verbose=verbose) if classifier is None
               else clone(classifier))
        cv_report, oof = cross_validate(est, X[train], y, cv, seed)
        est.fit(X[train], y)

        # latent geometry of the training clusters
        search = result.search
        keep_Z = np.asarray(adata.obsm[K.OBSM_LATENT], dtype=np.float64)[~excluded]
        core_idx = np.asarray(search.core_sample_indices_, dtype=np.intp)
        core_points = np.asarray(search.components_, dtype=np.float64)
        core_clusters = np.asarray(search.labels_, dtype=np.int64)[core_idx]
        if core_points.shape[0] != core_idx.size or not np.allclose(
            core_points, keep_Z[core_idx], equal_nan=True
        ):
            raise ValueError("result.search's core samples do not match result.adata's latent")
        all_Z = np.asarray(adata.obsm[K.OBSM_LATENT], dtype=np.float64)
        centroids = {int(c): all_Z[train & (clusters == c)].mean(axis=0).tolist() for c in found}

        # proteins observed by each training sample
        min_coverage = None
        if K.OBS_N_OBSERVED in obs:
            min_coverage = int(obs[K.OBS_N_OBSERVED].to_numpy()[~excluded].min())
        elif K.LAYER_INTENSITY in adata.layers:
            raw = np.asarray(adata.layers[K.LAYER_INTENSITY], dtype=np.float64)
            min_coverage = int((np.isfinite(raw) & (raw > 0)).sum(axis=1)[~excluded].min())

        # labels: matching and agreement
        has_labels = K.OBS_LABEL in obs
        labels = (_labels_or_none(obs[K.OBS_LABEL]) if has_labels
                  else np.full(adata.n_obs, None, dtype=object))
        tune = (obs[K.OBS_TUNE].to_numpy(bool) if K.OBS_TUNE in obs
                else np.zeros(adata.n_obs, bool))
        clusters_kept = np.where(excluded, -1, clusters)
        matching = match_clusters_to_labels(clusters_kept, labels, tune & ~excluded)
        agreement = cls._agreement_report(
            est, X, clusters_kept, labels, tune, excluded, train, oof, matching
        )

        rule = rule if rule is not None else UnlikeRule()
        model = cls(
            result.preprocessor, result.embedder, est,
            eps=float(search.eps_), min_samples=int(getattr(search, "min_samples", 0)),
            core_points=core_points, core_clusters=core_clusters, matching=matching,
            rule=rule, min_coverage=min_coverage, centroids=centroids,
        )
        train_pred = est.predict(X[train])
        train_acc = float(np.mean(train_pred == y))
        cv_acc = float(cv_report.get("accuracy", float("nan"))) if cv_report.get("defined") else math.nan
        if train_acc < MIN_TRAINING_ACCURACY or (math.isfinite(cv_acc) and train_acc < cv_acc - 0.1):
            warnings.warn(
                f"the saved classifier reproduces only {train_acc:.0%} of the clusters of the "
                f"{int(train.sum())} samples it was trained on (cross-validated accuracy: "
                f"{cv_acc:.0%}); its predictions for new "
                "samples are unreliable. More samples per cluster, or more classifier epochs, "
                "would help.",
                UserWarning,
                stacklevel=2,
            )
        at_chance = classifier_at_chance(cv_report, len(found))
        if at_chance:
            cv_bacc, chance = float(cv_report["balanced_accuracy"]), 1.0 / len(found)
            warnings.warn(
                f"the classifier's cross-validated balanced accuracy is {cv_bacc:.2f}, at chance "
                f"level for {len(found)} clusters ({chance:.2f}): on samples it has not seen it "
                "does not tell the clusters apart, so `predict` will label new samples no better "
                "than by guessing. The clusters may be too small or too alike for a classifier "
                f"({int(train.sum())} training samples); check cluster sizes in run.json.",
                UserWarning,
                stacklevel=2,
            )
        far = model._nearest_core(keep_Z)[0] > rule.distance_factor * model.eps
        cluster_sizes = {int(c): int((y == c).sum()) for c in found}
        model.report = {
            "classifier": {
                "type": type(est).__name__,
                "params": _jsonable({k: v for k, v in est.get_params().items()}),
                "input": "preprocessed protein matrix (adata.X), "
                         f"{X.shape[1]} proteins in [0, 1]",
                "n_training_samples": int(train.sum()),
                "cv_at_chance_level": bool(at_chance),
                "n_noise_left_out": int((~excluded & (clusters < 0)).sum()),
                "n_excluded_left_out": int(excluded.sum()),
                "cluster_sizes": cluster_sizes,
                "n_epochs": int(getattr(est, "n_iter_", 0)),
                "best_epoch": getattr(est, "best_epoch_", None),
                "stopped_early": bool(getattr(est, "stopped_early_", False)),
                "n_validation": int(getattr(est, "n_validation_", 0)),
                "validation": getattr(est, "validation_note_", ""),
                "training_accuracy": float(np.mean(train_pred == y)),
                "training_accuracy_note": "in-sample, on the samples it was trained on; see cv",
            },
            "cv": cv_report,
            "agreement": agreement,
            "matching_rule": (
                "each cluster gets the label most of its tune samples carry; a cluster without "
                "tune samples gets the label most of its labelled samples carry; ties go to the "
                "alphabetically first label"
            ),
            "unlike_rule": {**asdict(rule), "reasons": rule.describe(model.eps, min_coverage)},
            "training_samples_far": {
                "n": int(far.sum()),
                "share": float(far.mean()) if far.size else 0.0,
                "note": "training samples (clustered or noise) the far_from_training_clusters "
                        "rule would flag: the rule's false-alarm rate on the training data",
            },
        }
        return model

    @staticmethod
    def _agreement_report(
        est: Any,
        X: np.ndarray,
        clusters: np.ndarray,
        labels: np.ndarray,
        tune: np.ndarray,
        excluded: np.ndarray,
        train: np.ndarray,
        oof: np.ndarray | None,
        matching: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """Agreement of clusters and classifier with known labels outside the tune set."""
        has = np.array([v is not None for v in labels], dtype=bool)
        heldout = has & ~tune & ~excluded
        if not has.any():
            return {"defined": False, "note": "no known labels"}
        if not heldout.any():
            return {
                "defined": False,
                "note": "every labelled sample was a tune sample, so no held-out agreement "
                        "exists; use a tune fraction < 1 to keep labelled samples for a check",
            }
        tune_map = {r["cluster"]: r["label"] for r in matching if r["source"] == "tune"}
        truth = labels[heldout]
        by_cluster = np.array([tune_map.get(int(c)) for c in clusters[heldout]], dtype=object)
        pred_cluster = np.empty(int(heldout.sum()), dtype=np.int64)
        in_train = train[heldout]
        how = np.full(pred_cluster.size, "unseen (noise, not trained on)", dtype=object)
        if (~in_train).any():
            pred_cluster[~in_train] = est.predict(X[heldout & ~train])
        if in_train.any():
            if oof is not None:
                pos = np.flatnonzero(train)
                idx = np.searchsorted(pos, np.flatnonzero(heldout & train))
                pred_cluster[in_train] = oof[idx]
                how[in_train] = "out-of-fold (cross-validation)"
            else:
                pred_cluster[in_train] = est.predict(X[heldout & train])
                how[in_train] = "in-sample (no cross-validation possible)"
        by_classifier = np.array([tune_map.get(int(c)) for c in pred_cluster], dtype=object)
        return {
            "defined": True,
            "samples": "labelled samples outside the tune set (not excluded)",
            "mapping": "cluster -> label by the majority of the cluster's tune samples only; "
                       "clusters without tune samples count as wrong",
            "tune_mapping": {str(k): v for k, v in tune_map.items()},
            "clusters": _agreement(truth, by_cluster),
            "classifier": {
                **_agreement(truth, by_classifier),
                "predictions": dict(Counter(how.tolist())),
            },
        }

    # -- predicting ---------------------------------------------------------------------------
    def _nearest_core(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance from each latent point to its nearest training core point, and its index."""
        from scipy.spatial import cKDTree

        Z = np.asarray(Z, dtype=np.float64)
        dist = np.full(Z.shape[0], np.inf)
        idx = np.full(Z.shape[0], -1, dtype=np.intp)
        ok = np.isfinite(Z).all(axis=1)
        if ok.any():
            d, i = cKDTree(self.core_points).query(Z[ok], k=1)
            dist[ok], idx[ok] = d, i
        return dist, idx

    def _range_check(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per sample: observed model proteins, and the share of them outside the training range.

        ``raw`` holds the linear intensities of the model's proteins (NaN where missing).
        """
        pre = self.preprocessor
        observed = np.isfinite(raw) & (raw > 0)
        V = np.full(raw.shape, np.nan)
        if pre.log2:
            np.log2(raw, out=V, where=observed)
        else:
            V[observed] = raw[observed]
        outside = observed & (V > pre.scale_max_)
        if pre.scale == "minmax":
            outside |= observed & (V < pre.scale_min_)
        n_obs = observed.sum(axis=1)
        share = np.divide(outside.sum(axis=1), n_obs, out=np.zeros(raw.shape[0]),
                          where=n_obs > 0)
        return n_obs, share

    def predict_with_report(
        self, data: ad.AnnData | pd.DataFrame, *, rule: UnlikeRule | None = None
    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        """Like :meth:`predict`, also returning what was done: protein matching, counts, flags."""
        rule = rule if rule is not None else self.rule
        samples, new_proteins, values = _as_matrix(data)
        pre = self.preprocessor
        cols, protein_report = align_proteins(new_proteins, self.proteins)
        if protein_report["n_matched"] == 0:
            raise ValueError(
                f"none of the model's {len(cols)} proteins is in the new data (e.g. model "
                f"{self.proteins[:2]} vs new {new_proteins[:2]}); is it the same kind of "
                "protein identifier?"
            )
        share = protein_report["n_matched"] / max(1, len(cols))
        if share < MIN_MATCHED_SHARE:
            text = (
                f"only {protein_report['n_matched']} of the model's {len(cols)} proteins "
                f"({share:.0%}) are in the new data; the other {protein_report['n_missing']} are "
                "filled as missing, so the predictions rest on a small part of what the model "
                "learned and are likely meaningless. Is the new data from the same kind of "
                "samples, quantified with the same protein identifiers (e.g. "
                f"model {self.proteins[:2]} vs new {new_proteins[:2]})?"
            )
            protein_report["warning"] = text
            warnings.warn(text, UserWarning, stacklevel=2)
        raw = np.full((len(samples), len(cols)), np.nan)
        raw[:, cols >= 0] = values[:, cols[cols >= 0]]
        full = np.full((len(samples), int(pre.n_features_in_)), np.nan)
        full[:, pre.selected_] = raw
        frame = pd.DataFrame(full, columns=pre.feature_names_in_)
        Xp, pre_report = pre.transform_with_report(frame)
        Xp = Xp.astype(np.float32)  # what the VAE and the classifier were trained on

        latent = self.embedder.transform(Xp)
        proba = self.classifier.predict_proba(Xp)
        classes = self.classes
        predicted = classes[np.argmax(proba, axis=1)]
        mapping = self.cluster_to_label
        dist, nearest = self._nearest_core(latent)
        near_cluster = np.where(dist <= self.eps, self.core_clusters[np.maximum(nearest, 0)], -1)
        n_obs, outside = self._range_check(raw)

        flags = {
            REASON_FAR: dist > rule.distance_factor * self.eps,
            REASON_UNSURE: proba.max(axis=1) < rule.min_probability,
            REASON_COVERAGE: (n_obs == 0) | (
                n_obs < rule.min_coverage_factor * self.min_coverage
                if self.min_coverage is not None else False
            ),
            REASON_RANGE: outside > rule.max_outside_fraction,
        }
        reasons = [
            ";".join(r for r in UNLIKE_REASONS if flags[r][i]) for i in range(len(samples))
        ]
        out = pd.DataFrame({
            "sample": pd.Series(samples, dtype=object),
            "predicted_cluster": predicted.astype(np.int64),
            "predicted_label": pd.Series([mapping.get(int(c)) for c in predicted], dtype=object),
            "probability": proba.max(axis=1),
        })
        for j, c in enumerate(classes):
            out[f"p_cluster_{int(c)}"] = proba[:, j]
        for j in range(latent.shape[1]):
            out[f"latent_{j + 1}"] = latent[:, j]
        out["latent_cluster"] = near_cluster.astype(np.int64)
        out["distance_to_training"] = dist
        out["distance_in_eps"] = dist / self.eps
        out["n_observed_proteins"] = n_obs.astype(np.int64)
        out["share_outside_training_range"] = outside
        out["unlike_training"] = np.array([bool(r) for r in reasons])
        out["unlike_reason"] = pd.Series(reasons, dtype=object)

        report = {
            "n_samples": len(samples),
            "proteins": protein_report,
            "preprocess": pre_report,
            "predicted_clusters": {str(k): int(v) for k, v in
                                   sorted(Counter(predicted.tolist()).items())},
            "predicted_labels": dict(Counter(str(v) for v in out["predicted_label"])),
            "unlike_training": {
                "n": int(out["unlike_training"].sum()),
                "by_reason": {r: int(flags[r].sum()) for r in UNLIKE_REASONS},
                "rule": {**asdict(rule), "reasons": rule.describe(self.eps, self.min_coverage)},
            },
            "columns": {
                "predicted_cluster": "cluster of the highest classifier probability",
                "predicted_label": "label matched to that cluster (empty: none matched)",
                "probability": "highest class probability",
                "p_cluster_<c>": "classifier probability of cluster <c>",
                "latent_<i>": "position in the VAE latent space",
                "latent_cluster": "cluster of the nearest training core point if within eps "
                                  "(DBSCAN's rule), else -1",
                "distance_to_training": "latent distance to the nearest training core point",
                "distance_in_eps": "that distance divided by eps",
                "n_observed_proteins": "model proteins observed in the sample",
                "share_outside_training_range": "share of them above the training maximum",
                "unlike_training": "any unlike-the-training-data reason applies",
                "unlike_reason": "the reasons, ';'-separated",
            },
        }
        return out, report

    def predict(
        self, data: ad.AnnData | pd.DataFrame, *, rule: UnlikeRule | None = None
    ) -> pd.DataFrame:
        """Label new samples.

        Parameters
        ----------
        data
            Linear intensities (NaN = missing) of new samples: an AnnData as
            :func:`proteolabel.io.read` returns (samples x proteins) or a DataFrame with samples
            as rows and proteins as columns. Proteins are matched by name, accession set or
            unique leading accession (see :func:`align_proteins`); model proteins absent from
            ``data`` are treated as missing values (so they get the preprocessing's fill value),
            extra proteins are ignored.
        rule
            Override the stored "unlike the training data" rule for this call.

        Returns
        -------
        pandas.DataFrame
            One row per sample, in input order: ``sample`` (the name exactly as given),
            ``predicted_cluster``, ``predicted_label``, ``probability``, one
            ``p_cluster_<c>`` column per cluster, ``latent_1``..., ``latent_cluster``,
            ``distance_to_training``, ``distance_in_eps``, ``n_observed_proteins``,
            ``share_outside_training_range``, ``unlike_training`` and ``unlike_reason``.

        """
        return self.predict_with_report(data, rule=rule)[0]

    def predict_proba(self, data: ad.AnnData | pd.DataFrame) -> pd.DataFrame:
        """Class probabilities only: one row per sample (index: sample), one column per cluster."""
        df = self.predict(data)
        proba = df[[f"p_cluster_{int(c)}" for c in self.classes]]
        proba.index = pd.Index(df["sample"], name="sample")
        proba.columns = [int(c) for c in self.classes]
        return proba

    # -- persistence --------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write the model folder: JSON files and two plain tensor files, no pickles.

        Files: ``label_model.json`` (proteins, mapping, rule, report, versions),
        ``preprocessor.json``, ``clusters.json`` (eps, core points, mapping), ``vae_config.json``
        + ``vae_weights.pt`` and ``classifier_config.json`` + ``classifier_weights.pt``.
        """
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        (d / PREPROCESSOR_FILE).write_text(json.dumps(_jsonable(self.preprocessor.to_dict())))
        self.embedder.save(d)
        self.classifier.save(d)
        mapping = {str(c): lab for c, lab in self.cluster_to_label.items() if lab is not None}
        clusters = {
            "eps": self.eps,
            "min_samples": self.min_samples,
            "core_points": self.core_points.tolist(),
            "core_clusters": self.core_clusters.tolist(),
            "cluster_to_label": mapping,
            "centroids": {str(k): v for k, v in self.centroids.items()},
            "versions": self.versions,
        }
        (d / CLUSTERS_FILE).write_text(json.dumps(_jsonable(clusters)))
        state = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "proteins": self.proteins,
            "n_latent": int(self.embedder.n_latent),
            "classes": [int(c) for c in self.classes],
            "matching": self.matching,
            "rule": asdict(self.rule),
            "min_coverage": self.min_coverage,
            "report": self.report,
            "versions": self.versions,
            "files": sorted([LABEL_MODEL_FILE, PREPROCESSOR_FILE, CLUSTERS_FILE,
                             "vae_config.json", "vae_weights.pt",
                             "classifier_config.json", "classifier_weights.pt"]),
        }
        (d / LABEL_MODEL_FILE).write_text(json.dumps(_jsonable(state), indent=1))
        return d

    @classmethod
    def load(cls, directory: str | Path) -> LabelModel:
        """Load a model folder written by :meth:`save`."""
        from proteolabel.models import VAEEmbedder
        from proteolabel.models._classifier import MLPLabelClassifier
        from proteolabel.preprocessing import Preprocessor

        d = Path(directory)
        if not (d / LABEL_MODEL_FILE).exists() and (d / "model" / LABEL_MODEL_FILE).exists():
            d = d / "model"  # a run's output folder: its model lives in OUT/model/
        if not (d / LABEL_MODEL_FILE).exists():
            run_model = next((m for m in (d, d / "model") if (m / "vae_config.json").exists()),
                             None)
            if run_model is not None:
                run_json = run_model.parent / "run.json" if run_model.name == "model" else None
                why = ""
                if run_json is not None and run_json.exists():
                    try:
                        rec = json.loads(run_json.read_text()).get("classifier") or {}
                    except ValueError:
                        rec = {}
                    why = f" ({rec['reason']})" if rec.get("reason") else (
                        " (it was run with --no-classifier)" if not rec else "")
                raise FileNotFoundError(
                    f"{run_model} holds a run's model but no classifier to label new samples: "
                    f"that run trained none{why}. Run `proteolabel run` again without "
                    "--no-classifier, with settings that find at least two clusters"
                )
            raise FileNotFoundError(
                f"{d / LABEL_MODEL_FILE} not found: {d} is not a label model folder (a run "
                "writes one to OUT/model/ when its classifier is trained)"
            )
        state = json.loads((d / LABEL_MODEL_FILE).read_text())
        if state.get("format") != FORMAT or int(state.get("format_version", 0)) > FORMAT_VERSION:
            raise ValueError(
                f"{d / LABEL_MODEL_FILE} is format {state.get('format')!r} version "
                f"{state.get('format_version')}; this proteolabel reads {FORMAT!r} up to version "
                f"{FORMAT_VERSION}"
            )
        pre = Preprocessor.from_dict(json.loads((d / PREPROCESSOR_FILE).read_text()))
        clusters = json.loads((d / CLUSTERS_FILE).read_text())
        model = cls(
            pre,
            VAEEmbedder.load(d),
            MLPLabelClassifier.load(d),
            eps=clusters["eps"],
            min_samples=clusters["min_samples"],
            core_points=np.asarray(clusters["core_points"], dtype=np.float64),
            core_clusters=np.asarray(clusters["core_clusters"], dtype=np.int64),
            matching=state["matching"],
            rule=UnlikeRule(**{f.name: state["rule"][f.name] for f in fields(UnlikeRule)}),
            min_coverage=state.get("min_coverage"),
            centroids={int(k): v for k, v in clusters.get("centroids", {}).items()},
            report=state.get("report", {}),
            versions=state.get("versions", {}),
        )
        if model.proteins != state["proteins"]:
            raise ValueError(
                f"{d}: the proteins of preprocessor.json differ from those of label_model.json"
            )
        return model
