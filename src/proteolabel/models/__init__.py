"""scikit-learn estimators that wrap the PyTorch modules."""

from proteolabel.models._vae import VAEEmbedder, resolve_device

__all__ = ["VAEEmbedder", "resolve_device"]
