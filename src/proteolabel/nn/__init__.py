"""PyTorch parts of proteolabel: building blocks, the VAE module and its training loop.

Nothing here reads files or knows about pandas or AnnData; see :mod:`proteolabel.models` for the
scikit-learn estimator that wraps them.
"""

from proteolabel.nn._components import MLP, Decoder, Encoder
from proteolabel.nn._module import LossOutput, VAEModule
from proteolabel.nn._training import TrainingDivergedError, TrainingHistory, train_vae

__all__ = [
    "MLP",
    "Decoder",
    "Encoder",
    "LossOutput",
    "TrainingDivergedError",
    "TrainingHistory",
    "VAEModule",
    "train_vae",
]
