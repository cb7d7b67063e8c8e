"""Clustering the latent space: DBSCAN with eps tuned on tune samples, and its alternatives.

* :class:`EpsSearch` - a scikit-learn clusterer: DBSCAN at the eps of maximum V-measure on the
  labelled "tune" samples (an unsupervised rule, with a warning, without them).
* :func:`eps_grid`, :func:`dbscan_sweep`, :class:`DBSCANPath` - every eps's exact DBSCAN labels
  from one neighbour query and one mutual-reachability minimum spanning tree.
* :func:`score_partition` - homogeneity, completeness, V-measure, ARI, AMI with noise handled.
* :func:`compare_clusterers` and :data:`CLUSTERERS` - the method's benchmark of clusterers.
* :func:`consensus_labels` - labels and per-sample agreement across several latents.

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
