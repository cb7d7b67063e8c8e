"""scikit-learn estimators that wrap the PyTorch modules."""

from proteolabel.models._classifier import MLPLabelClassifier
from proteolabel.models._vae import VAEEmbedder, resolve_device

__all__ = ["MLPLabelClassifier", "VAEEmbedder", "resolve_device"]
