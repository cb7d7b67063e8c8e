"""Clustering the latent space: DBSCAN with eps tuned on tune samples, and its alternatives.

Nothing here imports torch or anndata or reads files: it works on arrays.
"""

from proteolabel.cluster._compare import CLUSTERERS, ClustererSpec, Comparison, compare_clusterers
from proteolabel.cluster._consensus import Consensus, align_labels, consensus_labels
from proteolabel.cluster._eps_search import (
    DegenerateTuneWarning,
    EpsSearch,
    NoTuneSamplesWarning,
    choose_index,
    knee_eps,
)
from proteolabel.cluster._scores import labelled_mask, score_partition
from proteolabel.cluster._sweep import DBSCANPath, dbscan_sweep, eps_grid

__all__ = [
    "CLUSTERERS",
    "ClustererSpec",
    "Comparison",
    "Consensus",
    "DBSCANPath",
    "DegenerateTuneWarning",
    "EpsSearch",
    "NoTuneSamplesWarning",
    "align_labels",
    "choose_index",
    "compare_clusterers",
    "consensus_labels",
    "dbscan_sweep",
    "eps_grid",
    "knee_eps",
    "labelled_mask",
    "score_partition",
]
