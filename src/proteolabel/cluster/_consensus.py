"""Stability of the labels across several latents (for example VAEs trained with other seeds)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from proteolabel.cluster._eps_search import EpsSearch
from proteolabel.cluster._scores import fast_ari


@dataclass
class Consensus:
    """Result of :func:`consensus_labels`.

    Attributes
    ----------
    labels : ndarray of shape (n_samples,)
        Consensus label of each sample (-1 = noise in most runs).
    agreement : ndarray of shape (n_samples,)
        Share of runs whose (aligned) label equals the consensus label, in [0, 1].
    run_labels : ndarray of shape (n_runs, n_samples)
        Each run's labels after alignment to the reference run (the first).
    pairwise_ari : pandas.DataFrame
        Adjusted Rand index between every two runs (noise counted as one label).
    eps : list of float
        The eps each run chose.

    """

    labels: np.ndarray
    agreement: np.ndarray
    run_labels: np.ndarray
    pairwise_ari: pd.DataFrame
    eps: list[float]


def align_labels(reference: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Renumber ``labels`` so that its clusters match ``reference``'s as well as possible.

    Clusters are matched one-to-one by maximum overlap (the Hungarian algorithm on the
    contingency table); clusters left unmatched get new numbers after the reference's. Noise
    (-1) stays noise.
    """
    ref = np.asarray(reference)
    lab = np.asarray(labels)
    out = np.full(lab.shape, -1, dtype=np.int64)
    ref_ids = np.unique(ref[ref >= 0])
    lab_ids = np.unique(lab[lab >= 0])
    if lab_ids.size == 0:
        return out
    overlap = np.zeros((lab_ids.size, max(ref_ids.size, 1)), dtype=np.int64)
    both = (ref >= 0) & (lab >= 0)
    if both.any() and ref_ids.size:
        li = np.searchsorted(lab_ids, lab[both])
        ri = np.searchsorted(ref_ids, ref[both])
        np.add.at(overlap, (li, ri), 1)
    rows, cols = linear_sum_assignment(-overlap)
    mapping = {}
    for r, c in zip(rows, cols, strict=True):
        if ref_ids.size and overlap[r, c] > 0:
            mapping[lab_ids[r]] = int(ref_ids[c])
    nxt = int(ref_ids.max()) + 1 if ref_ids.size else 0
    for lid in lab_ids:
        if lid not in mapping:
            mapping[lid] = nxt
            nxt += 1
    keep = lab >= 0
    out[keep] = np.vectorize(mapping.__getitem__, otypes=[np.int64])(lab[keep])
    return out


def consensus_labels(
    latents: Sequence[Any],
    y_tune=None,
    *,
    estimator: EpsSearch | None = None,
) -> Consensus:
    """Cluster each latent, align the runs and report a consensus label and its agreement.

    Parameters
    ----------
    latents : sequence of array-like of shape (n_samples, n_features)
        The same samples embedded several times (for example VAEs trained with different
        seeds), rows in the same order.
    y_tune : array-like of shape (n_samples,), default=None
        Tune labels passed to every run (see :class:`EpsSearch`).
    estimator : EpsSearch, default=None
        Template (cloned per run); ``EpsSearch()`` by default.

    Returns
    -------
    Consensus
        Consensus labels (the most frequent aligned label per sample, ties to the smallest
        label, noise counted as a label), per-sample agreement (share of runs that agree with
        it: how often the sample lands with the same group), the aligned run labels, the ARI
        between runs and each run's eps.

    """
    from sklearn.base import clone

    if len(latents) < 2:
        raise ValueError("consensus needs at least two latents")
    shapes = {np.asarray(z).shape[0] for z in latents}
    if len(shapes) != 1:
        raise ValueError(f"latents hold different numbers of samples: {sorted(shapes)}")
    template = estimator if estimator is not None else EpsSearch()
    runs, eps = [], []
    for z in latents:
        est = clone(template).fit(np.asarray(z, dtype=np.float64), y_tune)
        runs.append(est.labels_.astype(np.int64))
        eps.append(float(est.eps_))
    aligned = np.stack([runs[0]] + [align_labels(runs[0], r) for r in runs[1:]])
    n_runs = aligned.shape[0]
    ari = np.ones((n_runs, n_runs))
    for i in range(n_runs):
        for j in range(i + 1, n_runs):
            ari[i, j] = ari[j, i] = fast_ari(runs[i], runs[j])
    # Most frequent aligned label per sample (noise -1 shifted to 0 for bincount).
    shifted = aligned + 1
    width = int(shifted.max()) + 1
    counts = np.zeros((aligned.shape[1], width), dtype=np.int64)
    for r in shifted:
        counts[np.arange(r.size), r] += 1
    consensus = counts.argmax(axis=1) - 1
    agreement = counts.max(axis=1) / n_runs
    names = [f"run{i}" for i in range(n_runs)]
    return Consensus(
        labels=consensus,
        agreement=agreement,
        run_labels=aligned,
        pairwise_ari=pd.DataFrame(ari, index=names, columns=names),
        eps=eps,
    )
