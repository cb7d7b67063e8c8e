"""The method's synthetic studies as reproducible functions (and ``proteolabel study`` commands).

How many samples, how many informative features and how much signal a VAE needs before groups
separate in its latent space; which clusterer copes with which cluster shape; where the eps
optimum lies. Each study writes a table with one row per run and a figure that shows the spread
over seeds: see :func:`run_study`.

Signal to noise is defined on the generator's parameters in :mod:`proteolabel.studies._data`
(``snr = class_sep / sigma_w``, the within-group standard deviation of an informative feature)
and measured on generated data by :func:`empirical_snr`.
"""

from proteolabel.studies._data import (
    WITHIN_MODELS,
    GroupsInfo,
    class_sep_for,
    empirical_snr,
    make_groups,
    make_round_groups,
)
from proteolabel.studies._measures import group_separation, silhouette
from proteolabel.studies._plot import latent_scatter, plot_study, spread
from proteolabel.studies._runner import EMBEDDINGS, embed
from proteolabel.studies._studies import (
    DESCRIPTIONS,
    GRIDS,
    STUDIES,
    StudyResult,
    compute_study,
    run_study,
    summarize_study,
)

__all__ = [
    "DESCRIPTIONS",
    "EMBEDDINGS",
    "GRIDS",
    "STUDIES",
    "WITHIN_MODELS",
    "GroupsInfo",
    "StudyResult",
    "class_sep_for",
    "compute_study",
    "embed",
    "empirical_snr",
    "group_separation",
    "latent_scatter",
    "make_groups",
    "make_round_groups",
    "plot_study",
    "run_study",
    "silhouette",
    "spread",
    "summarize_study",
]
