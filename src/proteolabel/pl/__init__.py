"""Plots (read-only on AnnData): ``proteolabel.pl``. Each takes ``ax=None`` and returns axes."""

from proteolabel.pl._basic import eps_search, latent, training_loss

__all__ = ["eps_search", "latent", "training_loss"]
