"""A linear layer whose CPU matrix products run through NumPy's BLAS.

On some CPUs PyTorch's bundled BLAS is markedly slower than the OpenBLAS that NumPy ships for the
shapes of this VAE (measured in ``benchmarks/bench_training.py``). ``NumpyLinearFunction`` computes
the forward and both backward products with ``numpy.matmul`` on zero-copy views of the tensors, and
everything else (bias, activations, loss, optimiser) stays in PyTorch. It is used only for float32
tensors on the CPU; anything else falls back to ``torch.nn.functional.linear``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


class NumpyLinearFunction(torch.autograd.Function):
    """``y = x @ W.T + b`` with the products done by NumPy (float32, CPU)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None):
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        xn = x.detach().numpy()
        wn = weight.detach().numpy()
        out = np.matmul(xn, wn.T)
        y = torch.from_numpy(out)
        if bias is not None:
            y.add_(bias.detach())
        return y

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, weight = ctx.saved_tensors
        g = grad_out.contiguous().numpy()
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = torch.from_numpy(np.matmul(g, weight.detach().numpy()))
        if ctx.needs_input_grad[1]:
            gw = torch.from_numpy(np.matmul(g.T, x.detach().numpy()))
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = grad_out.sum(dim=0)
        return gx, gw, gb


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.linear`` through NumPy's BLAS where it applies (CPU float32 under autograd)."""
    if (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and x.dim() == 2
        and not torch.is_autocast_enabled("cpu")
    ):
        return NumpyLinearFunction.apply(x.contiguous(), weight, bias)
    return F.linear(x, weight, bias)


class NumpyBlasLinear(torch.nn.Linear):
    """``nn.Linear`` whose CPU float32 products go through NumPy's BLAS (same parameters)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)


def use_numpy_blas(module: torch.nn.Module, enable: bool = True) -> torch.nn.Module:
    """Switch every ``nn.Linear`` of ``module`` to (or back from) :class:`NumpyBlasLinear`."""
    for m in module.modules():
        if type(m) is torch.nn.Linear and enable:
            m.__class__ = NumpyBlasLinear
        elif type(m) is NumpyBlasLinear and not enable:
            m.__class__ = torch.nn.Linear
    return module
