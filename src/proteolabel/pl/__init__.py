"""Plots (read-only): ``proteolabel.pl``. Each takes ``ax=None`` and returns what it drew on.

On AnnData: :func:`latent`, :func:`training_loss`, :func:`eps_search`. On arrays and results:
:func:`eps_sweep` (a sweep table), :func:`compare_panel` (a clusterer comparison) and
:func:`silhouette_curve`.

All take their colours from one palette (``proteolabel.pl._style``): a known label has the same
colour in every figure, a cluster takes the colour of the known label that is its majority,
grey is reserved for noise and light grey for missing labels, and legends sit outside the axes.
"""

from proteolabel.pl._basic import eps_search, latent, training_loss
from proteolabel.pl._cluster import compare_panel, eps_sweep, silhouette_curve

__all__ = [
    "compare_panel",
    "eps_search",
    "eps_sweep",
    "latent",
    "silhouette_curve",
    "training_loss",
]
