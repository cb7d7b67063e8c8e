"""A hand-written training step for the VAE on the CPU: one pass of BLAS calls into fixed buffers.

Why this exists
---------------
On a laptop or workstation CPU almost all of an epoch is matrix products (90 % of the FLOPs are the
decoder's input-wide layer), so an epoch can only be as fast as the BLAS. Going through autograd
costs a lot on top of that on small CPUs: PyTorch's bundled BLAS is slower than the OpenBLAS NumPy
ships on some CPUs (1.1-1.5x on the AMD machine of ``benchmarks/bench_training.py``), every step
allocates its activations and gradients afresh, and PyTorch's and OpenBLAS's thread pools fight
for the cores when both are used in one step.

:class:`FusedCPUStep` computes exactly what ``VAEModule.forward`` followed by ``loss.backward()``
computes (the gradient of the same loss for the same weights, batch and sampling noise; a test
checks them against autograd), but

* every product is one ``numpy.matmul`` into a preallocated buffer (``out=``), the weight
  gradients written straight into the parameters' ``.grad`` tensors, which share memory with
  NumPy views;
* the reconstruction term and its gradient come from one ``exp(-|logits|)``: the binary
  cross-entropy with logits is ``softplus(l) - x l`` and
  ``sum softplus(l) = (sum l + sum |l|) / 2 + sum log(1 + exp(-|l|))``;
* no autograd graph is built.

The optimiser stays PyTorch's fused Adam on the same parameter tensors, and the sampling noise is
drawn with the same ``torch.Generator``. While it runs, PyTorch is held to one thread (it only
runs the optimiser and the noise then), so that OpenBLAS has the cores; ``train_vae`` restores the
setting afterwards.

Only the architecture ``VAEModule`` builds is supported (ReLU stacks, Gaussian latent, Bernoulli
output); :func:`supports` says whether a module qualifies.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from proteolabel.nn._module import VAEModule


def _linears(seq: nn.Module) -> list[nn.Linear]:
    out = []
    for m in seq.children():
        if isinstance(m, nn.Linear):
            out.append(m)
        elif not isinstance(m, nn.ReLU):
            raise TypeError(f"unsupported layer {type(m).__name__}")
    return out


def supports(module: nn.Module, x: torch.Tensor) -> bool:
    """Whether :class:`FusedCPUStep` can train ``module`` on ``x`` (CPU, float32, plain layers)."""
    if type(module) is not VAEModule or x.device.type != "cpu" or x.dtype != torch.float32:
        return False
    if any(p.device.type != "cpu" or p.dtype != torch.float32 for p in module.parameters()):
        return False
    try:
        _linears(module.encoder.body)
        _linears(module.decoder.body)
    except TypeError:
        return False
    return type(module.encoder.mean) is nn.Linear and type(module.decoder.out) is nn.Linear


def cpu_vendor() -> str:
    """Return the CPU's vendor string (``"AuthenticAMD"``, ``"GenuineIntel"``...) or ``""``."""
    import platform

    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    proc = platform.processor()  # Windows: "AMD64 Family 25 Model 80 Stepping 0, AuthenticAMD"
    for vendor in ("AuthenticAMD", "GenuineIntel"):
        if vendor in proc:
            return vendor
    return ""


def preferred() -> bool:
    """Whether ``engine="auto"`` should use the fused step on this CPU.

    PyTorch's CPU build does its products with Intel's MKL, which is fast on Intel CPUs and slow on
    AMD ones; NumPy's OpenBLAS is the faster library there. ``benchmarks/bench_training.py``
    measured (1296 features, batch 128, n = 10,000, s/epoch): on a 2-core AMD machine the fused
    step was the faster engine; on a 2-core Intel Sapphire Rapids machine PyTorch autograd was
    (0.53 against 0.68 s/epoch; bare products 0.38 s with MKL, 0.49 s with OpenBLAS). So the fused
    step is preferred on AMD CPUs only. The choice depends only on the machine, never on a timing,
    so that the same seed gives the same result on the same machine.
    """
    return cpu_vendor() == "AuthenticAMD"


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


class FusedCPUStep:
    """Forward, loss and backward of ``module`` for one batch, into preallocated buffers.

    Parameters
    ----------
    module
        A :class:`VAEModule` on the CPU in float32 (see :func:`supports`).
    x
        The whole training matrix (float32, C-contiguous); batches are gathered from it by index.
    max_batch
        The largest batch that will be asked for.

    After :meth:`__call__` every parameter's ``.grad`` holds the gradient of the batch loss.

    """

    def __init__(self, module: VAEModule, x: torch.Tensor, max_batch: int):
        self.module = module
        self.x = np.ascontiguousarray(_np(x))
        self.enc = _linears(module.encoder.body)
        self.mean, self.logvar = module.encoder.mean, module.encoder.logvar
        self.dec = _linears(module.decoder.body)
        self.out = module.decoder.out
        self.lo, self.hi = module.encoder.logvar_clamp
        for p in module.parameters():
            if p.grad is None or p.grad.shape != p.shape:
                p.grad = torch.zeros_like(p)
        # one activation buffer per layer output (post-ReLU), and one gradient buffer per width
        m = int(max_batch)
        self.xb = np.empty((m, self.x.shape[1]), np.float32)
        self.h = [np.empty((m, lin.out_features), np.float32) for lin in self.enc]
        self.dh = [np.empty((m, lin.out_features), np.float32) for lin in self.enc]
        k = self.mean.out_features
        self.mu, self.lv, self.lvraw = (np.empty((m, k), np.float32) for _ in range(3))
        self.std, self.z, self.dz = (np.empty((m, k), np.float32) for _ in range(3))
        self.dmu, self.dlv = np.empty((m, k), np.float32), np.empty((m, k), np.float32)
        self.noise = torch.empty(m, k)
        self.d = [np.empty((m, lin.out_features), np.float32) for lin in self.dec]
        self.dd = [np.empty((m, lin.out_features), np.float32) for lin in self.dec]
        n_out = self.out.out_features
        self.logits = np.empty((m, n_out), np.float32)
        self.work = np.empty((m, n_out), np.float32)
        self.g = np.empty((m, n_out), np.float32)
        self.mask = [np.empty((m, lin.out_features), bool) for lin in (*self.enc, *self.dec)]

    @staticmethod
    def _dense(a: np.ndarray, lin: nn.Linear, out: np.ndarray) -> np.ndarray:
        np.matmul(a, _np(lin.weight).T, out=out)
        out += _np(lin.bias)
        return out

    @staticmethod
    def _grads(g: np.ndarray, a: np.ndarray, lin: nn.Linear) -> None:
        """Weight and bias gradients of ``lin`` given its output gradient ``g`` and input ``a``."""
        np.matmul(g.T, a, out=_np(lin.weight.grad))
        np.sum(g, axis=0, out=_np(lin.bias.grad))

    def __call__(
        self, idx: torch.Tensor, generator: torch.Generator | None, beta: float
    ) -> tuple[float, float, float]:
        """One batch (rows ``idx`` of ``x``): returns ``(loss, reconstruction, kl)``, batch means."""
        b = int(idx.shape[0])
        xb = self.xb[:b]
        np.take(self.x, idx.numpy(), axis=0, out=xb)

        # encoder
        a = xb
        masks = iter(self.mask)
        for lin, h in zip(self.enc, self.h, strict=True):
            hb = self._dense(a, lin, h[:b])
            np.maximum(hb, 0.0, out=hb)
            np.greater(hb, 0.0, out=next(masks)[:b])
            a = hb
        mu = self._dense(a, self.mean, self.mu[:b])
        lvraw = self._dense(a, self.logvar, self.lvraw[:b])
        lv = np.clip(lvraw, self.lo, self.hi, out=self.lv[:b])
        std = np.exp(0.5 * lv, out=self.std[:b])
        noise = self.noise[:b]
        torch.randn(noise.shape, generator=generator, out=noise)
        z = np.multiply(std, noise.numpy(), out=self.z[:b])
        z += mu

        # decoder
        a = z
        for lin, d in zip(self.dec, self.d, strict=True):
            db = self._dense(a, lin, d[:b])
            np.maximum(db, 0.0, out=db)
            np.greater(db, 0.0, out=next(masks)[:b])
            a = db
        logits = self._dense(a, self.out, self.logits[:b])

        # loss: sum softplus(l) - x.l, with softplus(l) = max(l, 0) + log(1 + exp(-|l|))
        w = self.work[:b]
        np.abs(logits, out=w)
        sum_abs = float(w.sum(dtype=np.float64))
        np.negative(w, out=w)
        np.exp(w, out=w)  # e = exp(-|l|), in (0, 1]
        g = self.g[:b]
        np.add(w, 1.0, out=g)  # 1 + e
        sum_log = float(np.log(g, out=g).sum(dtype=np.float64))
        sum_l = float(logits.sum(dtype=np.float64))
        x_dot_l = float(np.dot(xb.ravel(), logits.ravel()))
        rec = (0.5 * (sum_l + sum_abs) + sum_log - x_dot_l) / b
        m2 = np.square(mu, out=self.dz[:b])
        elv = np.exp(lv, out=self.dmu[:b])
        kl = -0.5 * float(np.sum(1.0 + lv - m2 - elv, dtype=np.float64)) / b
        # gradient of the batch mean: (sigmoid(l) - x) / b
        torch.sigmoid(torch.from_numpy(logits), out=torch.from_numpy(g))
        g -= xb
        g *= 1.0 / b

        # backward through the decoder
        dec_in = [z, *[d[:b] for d in self.d]]
        grad = g
        self._grads(grad, dec_in[-1], self.out)
        upstream = self.out
        dec_masks = self.mask[len(self.enc) :]
        for i in range(len(self.dec) - 1, -1, -1):
            dd = self.dd[i][:b]
            np.matmul(grad, _np(upstream.weight), out=dd)
            dd *= dec_masks[i][:b]
            self._grads(dd, dec_in[i], self.dec[i])
            grad, upstream = dd, self.dec[i]
        dz = np.matmul(grad, _np(upstream.weight), out=self.dz[:b])

        # latent: z = mu + exp(lv / 2) * noise; KL = -1/2 sum(1 + lv - mu^2 - exp(lv)) / b
        dmu = np.multiply(mu, beta / b, out=self.dmu[:b])
        dmu += dz
        dlv = self.dlv[:b]
        np.multiply(dz, noise.numpy(), out=dlv)
        dlv *= std
        dlv *= 0.5
        dlv += (0.5 * beta / b) * (np.exp(lv) - 1.0)
        dlv *= (lvraw >= self.lo) & (lvraw <= self.hi)  # clamp passes the gradient inside only
        h_top = self.h[-1][:b] if self.enc else xb
        self._grads(dmu, h_top, self.mean)
        self._grads(dlv, h_top, self.logvar)

        # backward through the encoder (no gradient for the input)
        if self.enc:
            dh = self.dh[-1][:b]
            np.matmul(dmu, _np(self.mean.weight), out=dh)
            dh += dlv @ _np(self.logvar.weight)
            enc_in = [xb, *[h[:b] for h in self.h]]
            for i in range(len(self.enc) - 1, -1, -1):
                dh *= self.mask[i][:b]
                self._grads(dh, enc_in[i], self.enc[i])
                if i > 0:
                    nxt = self.dh[i - 1][:b]
                    np.matmul(dh, _np(self.enc[i].weight), out=nxt)
                    dh = nxt
        return rec + beta * kl, rec, kl
