"""proteolabel: unsupervised labelling of mass-spectrometry proteomics samples.

Read a quantification table (:func:`proteolabel.io.read`), preprocess it (:mod:`proteolabel.pp`),
compress it with a variational autoencoder and cluster the latent space with DBSCAN whose eps is
tuned on a few labelled samples (:mod:`proteolabel.tl`), plot (:mod:`proteolabel.pl`), or do all
of it at once with :func:`proteolabel.run`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("proteolabel")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from proteolabel import pl, pp, tl
from proteolabel._label_model import LabelModel
from proteolabel._pipeline import RunConfig, RunResult, run

__all__ = ["LabelModel", "RunConfig", "RunResult", "__version__", "pl", "pp", "run", "tl"]
