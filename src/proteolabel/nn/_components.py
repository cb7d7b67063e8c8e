"""Building blocks: fully connected stacks, the encoder and the decoder."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def reset_linear(layer: nn.Linear, generator: torch.Generator | None) -> None:
    """Initialise a linear layer as PyTorch does by default, drawing from ``generator``.

    PyTorch's own ``reset_parameters`` draws from the global random state; this keeps the
    initialisation a function of the estimator's seed alone.
    """
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    if layer.bias is not None:
        bound = 1.0 / math.sqrt(layer.in_features) if layer.in_features > 0 else 0.0
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


class MLP(nn.Sequential):
    """Linear + ReLU layers, ``n_in -> hidden[0] -> ... -> hidden[-1]``, ReLU after each."""

    def __init__(self, n_in: int, hidden: Sequence[int]):
        layers: list[nn.Module] = []
        width = n_in
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.ReLU()]
            width = int(h)
        super().__init__(*layers)
        self.n_out = width


class Encoder(nn.Module):
    """Map inputs to the mean and log-variance of a diagonal Gaussian over the latent space.

    Parameters
    ----------
    n_input
        Number of input features (proteins).
    hidden
        Widths of the hidden ReLU layers (the method: 120, 120, 16).
    n_latent
        Latent dimension (the method: 2).
    logvar_clamp
        The log-variance is clamped to this range, so ``exp`` can neither overflow nor vanish.

    """

    def __init__(
        self,
        n_input: int,
        hidden: Sequence[int] = (120, 120, 16),
        n_latent: int = 2,
        logvar_clamp: tuple[float, float] = (-12.0, 12.0),
    ):
        super().__init__()
        self.body = MLP(n_input, hidden)
        self.mean = nn.Linear(self.body.n_out, n_latent)
        self.logvar = nn.Linear(self.body.n_out, n_latent)
        self.logvar_clamp = logvar_clamp

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(mean, logvar)`` of q(z | x)."""
        h = self.body(x)
        lo, hi = self.logvar_clamp
        return self.mean(h), self.logvar(h).clamp(lo, hi)


class Decoder(nn.Module):
    """Map latent points to Bernoulli logits over the input features.

    The method's decoder is one ReLU layer as wide as the input, then a sigmoid output layer;
    here the output layer returns logits, and the sigmoid is applied by the caller (the loss uses
    the numerically stable ``binary_cross_entropy_with_logits``).
    """

    def __init__(self, n_latent: int, n_output: int, hidden: Sequence[int] | None = None):
        super().__init__()
        hidden = (n_output,) if hidden is None else tuple(hidden)
        self.body = MLP(n_latent, hidden)
        self.out = nn.Linear(self.body.n_out, n_output)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Return logits of p(x | z)."""
        return self.out(self.body(z))
