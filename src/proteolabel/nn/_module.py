"""The variational autoencoder as a pure ``torch.nn.Module``: inference, generative, loss."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from proteolabel.nn._components import Decoder, Encoder, reset_linear


class LossOutput(NamedTuple):
    """Loss terms of one batch, each averaged over the batch.

    ``loss = reconstruction + beta * kl``; ``reconstruction`` is the per-sample sum of the binary
    cross-entropy over features and ``kl`` the per-sample KL divergence to N(0, I).
    """

    loss: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor


class VAEModule(nn.Module):
    """Fully connected VAE with a Gaussian latent and a Bernoulli (sigmoid) likelihood.

    Parameters
    ----------
    n_input
        Number of input features.
    encoder_layers
        Hidden widths of the encoder (the method: 120, 120, 16).
    n_latent
        Latent dimension (the method: 2).
    decoder_layers
        Hidden widths of the decoder; ``None`` is one layer as wide as the input (the method).
    logvar_clamp
        Range the encoder's log-variance is clamped to.
    generator
        Random generator for weight initialisation (``None``: PyTorch's global generator).

    """

    def __init__(
        self,
        n_input: int,
        encoder_layers: Sequence[int] = (120, 120, 16),
        n_latent: int = 2,
        decoder_layers: Sequence[int] | None = None,
        logvar_clamp: tuple[float, float] = (-12.0, 12.0),
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.n_input = int(n_input)
        self.n_latent = int(n_latent)
        self.encoder = Encoder(n_input, encoder_layers, n_latent, logvar_clamp)
        self.decoder = Decoder(n_latent, n_input, decoder_layers)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                reset_linear(m, generator)

    def inference(
        self, x: torch.Tensor, generator: torch.Generator | None = None, sample: bool = True
    ) -> dict[str, torch.Tensor]:
        """Encode ``x``: mean and log-variance of q(z|x) and a reparameterised sample ``z``."""
        qz_m, qz_logvar = self.encoder(x)
        if sample:
            eps = torch.randn(qz_m.shape, generator=generator, device=qz_m.device, dtype=qz_m.dtype)
            z = qz_m + torch.exp(0.5 * qz_logvar) * eps
        else:
            z = qz_m
        return {"qz_m": qz_m, "qz_logvar": qz_logvar, "z": z}

    def generative(self, z: torch.Tensor, probabilities: bool = True) -> dict[str, torch.Tensor]:
        """Decode latent points: Bernoulli logits (and, unless told not to, probabilities)."""
        logits = self.decoder(z)
        if not probabilities:  # the loss needs only the logits: skip one sigmoid per step
            return {"logits": logits}
        return {"logits": logits, "px": torch.sigmoid(logits)}

    @staticmethod
    def loss(
        x: torch.Tensor,
        inference_outputs: dict[str, torch.Tensor],
        generative_outputs: dict[str, torch.Tensor],
        beta: float = 1.0,
    ) -> LossOutput:
        """Per-sample BCE summed over features + ``beta`` x KL to N(0, I), averaged over the batch."""
        n = x.shape[0]
        logits = generative_outputs["logits"].float()
        rec = F.binary_cross_entropy_with_logits(logits, x.float(), reduction="sum") / n
        m = inference_outputs["qz_m"].float()
        lv = inference_outputs["qz_logvar"].float()
        kl = -0.5 * torch.sum(1.0 + lv - m.square() - lv.exp()) / n
        return LossOutput(rec + beta * kl, rec, kl)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None, beta: float = 1.0
    ) -> LossOutput:
        """Run inference, generative and loss on one batch."""
        inf = self.inference(x, generator=generator)
        gen = self.generative(inf["z"], probabilities=False)
        return self.loss(x, inf, gen, beta=beta)

    @torch.inference_mode()
    def embed(self, x: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
        """Latent means of ``x``, in batches, without gradients."""
        out = [self.encoder(x[i : i + batch_size])[0] for i in range(0, x.shape[0], batch_size)]
        return torch.cat(out) if out else torch.empty(0, self.n_latent, device=x.device)

    @torch.inference_mode()
    def reconstruct(self, x: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
        """Return decoder probabilities at the latent means of ``x``."""
        out = []
        for i in range(0, x.shape[0], batch_size):
            m, _ = self.encoder(x[i : i + batch_size])
            out.append(torch.sigmoid(self.decoder(m)))
        return torch.cat(out) if out else torch.empty(0, self.n_input, device=x.device)
