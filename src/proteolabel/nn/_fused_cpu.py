"""A hand-written training step for the VAE on the CPU: one pass of matrix products into fixed buffers.

Why this exists
---------------
On a laptop or workstation CPU almost all of an epoch is matrix products (90 % of the FLOPs are the
decoder's input-wide layer), so an epoch can only be as fast as the BLAS. Going through autograd
costs a lot on top of that on small CPUs: every step allocates its activations and gradients
afresh (large allocations are fresh pages from the OS), builds a graph, and the optimiser walks
the parameters one by one.

:class:`FusedCPUStep` computes what ``VAEModule.forward`` followed by ``loss.backward()``
computes (the gradient of the same loss for the same weights, batch and sampling noise; a test
checks them against autograd), but

* every product is one call into a preallocated buffer (``out=``), with the weight gradients
  written straight into the parameters' ``.grad`` tensors, and every elementwise step in place;
* the products are done by PyTorch's BLAS (MKL in the x86 wheels) or by NumPy's OpenBLAS, on
  views of the same memory: :func:`preferred_blas` picks the one that is faster on this CPU;
* the reconstruction term and its gradient come from one ``exp(-|logits|)`` and one sigmoid: the
  binary cross-entropy with logits is ``softplus(l) - x l`` and
  ``sum softplus(l) = (sum l + sum |l|) / 2 + sum log(1 + exp(-|l|))``;
* no autograd graph is built.

:class:`FlatParameters` puts all parameters (and their gradients) into one flat tensor so that
:class:`FlatAdam` updates them with one fused Adam kernel per step. The sampling noise is drawn
with the same ``torch.Generator`` calls as ``VAEModule.inference``. With NumPy's BLAS PyTorch is
held to one thread while training (it then runs only the small elementwise steps), so that
OpenBLAS has the cores; ``train_vae`` restores the setting afterwards.

With ``mixed=True`` the output layer's three products (its forward product and both backward
ones: 90 % of the FLOPs) take bfloat16 inputs with float32 accumulation and float32 results
(oneDNN's bfloat16 path for float32 products, on CPUs with AVX512-BF16 or AMX); the loss, the
other layers, the weights and the optimiser stay float32.

Only the architecture ``VAEModule`` builds is supported (ReLU stacks, Gaussian latent, Bernoulli
output); :func:`supports` says whether a module qualifies.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from proteolabel.nn._components import MLP, Decoder, Encoder
from proteolabel.nn._module import VAEModule


def _plain_linear(m: nn.Module) -> bool:
    return type(m) is nn.Linear and m.bias is not None


def _linears(seq: nn.Module) -> list[nn.Linear]:
    """Return the linear layers of a ``Linear, ReLU, Linear, ReLU, ...`` stack (as ``MLP`` has)."""
    if type(seq) not in (MLP, nn.Sequential):
        raise TypeError(f"unsupported stack {type(seq).__name__}")
    kids = list(seq.children())
    if len(kids) % 2:
        raise TypeError("the stack is not Linear-ReLU pairs")
    out = []
    for lin, act in zip(kids[::2], kids[1::2], strict=True):
        if not _plain_linear(lin) or type(act) is not nn.ReLU:
            raise TypeError(f"unsupported layers {type(lin).__name__}, {type(act).__name__}")
        out.append(lin)
    return out


def supports(module: nn.Module, x: torch.Tensor) -> bool:
    """Whether :class:`FusedCPUStep` can train ``module`` on ``x``.

    It needs what :class:`VAEModule` builds, unchanged: plain ``nn.Linear`` layers with biases
    and ReLUs between them, each parameter in one layer only, every parameter trainable
    (``requires_grad``; the step computes and applies every gradient), CPU and float32.
    """
    if type(module) is not VAEModule or x.device.type != "cpu" or x.dtype != torch.float32:
        return False
    params = list(module.parameters())
    if any(p.device.type != "cpu" or p.dtype != torch.float32 or not p.requires_grad
           for p in params):
        return False
    enc, dec = module.encoder, module.decoder
    if type(enc) is not Encoder or type(dec) is not Decoder:
        return False
    try:
        layers = [*_linears(enc.body), enc.mean, enc.logvar, *_linears(dec.body), dec.out]
    except TypeError:
        return False
    if not all(_plain_linear(lin) for lin in layers):
        return False
    own = [id(t) for lin in layers for t in (lin.weight, lin.bias)]
    # no tensor shared between layers (tied weights), none outside the layers
    return len(set(own)) == len(own) and set(own) == {id(p) for p in params}


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


#: The libraries :class:`FusedCPUStep` can do its matrix products with.
BLAS = ("torch", "numpy")


def preferred_blas() -> str:
    """Return the library :class:`FusedCPUStep` does its products with under ``engine="auto"``.

    PyTorch's x86 wheels do their products with Intel's MKL, which is fast on Intel CPUs and slow
    on AMD ones, where NumPy's OpenBLAS is faster. ``benchmarks/bench_training.py`` measured (1296
    features, batch 128, n = 10,000, bare products of one epoch): on a 2-core AMD machine 0.69 s
    with OpenBLAS against 0.88 s with MKL; on a 2-core Intel Sapphire Rapids machine 0.49 s with
    OpenBLAS against 0.38 s with MKL. So ``"numpy"`` on AMD CPUs, ``"torch"`` elsewhere. The
    choice depends only on the machine, never on a timing, so that the same seed gives the same
    result on the same machine.
    """
    return "numpy" if cpu_vendor() == "AuthenticAMD" else "torch"


class FlatParameters:
    """Every parameter of ``module`` as a view into one flat tensor, gradients likewise.

    The optimiser then updates one tensor: one fused Adam kernel per step instead of one per
    layer, and no per-layer bookkeeping (see :class:`FlatAdam`). Adam is elementwise, so the
    update is the same either way. :meth:`release` gives every parameter its own storage again
    (call it when training ends).
    """

    def __init__(self, module: nn.Module):
        self.params = list(module.parameters())
        with torch.no_grad():
            flat = torch.cat([p.detach().reshape(-1) for p in self.params])
        grad = torch.zeros_like(flat)
        self.flat = nn.Parameter(flat)
        self.flat.grad = grad
        offset = 0
        for p in self.params:
            n = p.numel()
            p.data = flat[offset : offset + n].view_as(p)
            p.grad = grad[offset : offset + n].view_as(p)
            offset += n

    def release(self) -> None:
        """Give every parameter its own storage again and drop the gradients."""
        for p in self.params:
            p.data = p.data.clone()
            p.grad = None


#: Adam's first moments below this (in magnitude) are set to zero: see :func:`flush_tiny_moments_`.
M_TINY = 1e-32
#: Adam's second moments below this are set to zero.
V_TINY = 1e-36
#: How many optimiser steps apart the moments are swept on the CPU (0: never; read when training
#: starts, so ``benchmarks/bench_moment_sweep.py`` can switch it off).
FLUSH_EVERY = 64


def flush_tiny_moments_(exp_avg: torch.Tensor, exp_avg_sq: torch.Tensor) -> None:
    """Set Adam's moments that are about to become subnormal floats to zero, in place.

    A parameter whose gradient is exactly zero (a unit whose ReLU never fires) keeps its first
    moment decaying by ``beta1 = 0.9`` a step, so after some 800 steps it falls below 1.2e-38,
    into the subnormal range. x86 CPUs compute on subnormal floats through a slow microcode
    path, tens of times slower than on normal ones, and every Adam step then pays for it:
    training the Alzheimer CSF data (210 x 1296) slowed down by 40 % after epoch 350, and on
    large data (80 steps an epoch) it starts after ten epochs. ``torch.set_flush_denormal``
    cannot help here: it sets only the calling thread, not PyTorch's other threads.

    Removing these values changes nothing visible: Adam moves a parameter by at most about
    ``lr * |m| / eps``, which for ``|m| < M_TINY = 1e-32`` is below 1e-24 times the learning
    rate, far under the rounding step of any float32 weight that is not itself ~0; a second
    moment under ``V_TINY = 1e-36`` adds under 1e-18 to a denominator of at least ``eps =
    1e-8``. A first moment that decays from M_TINY to the subnormal range takes 130 steps and a
    second moment ~4,400, so a sweep every :data:`FLUSH_EVERY` = 64 steps catches them all; it
    costs ~0.3 ms per sweep for the seed model (two in-place passes over 1.9 M floats).
    """
    torch.ops.aten.hardshrink.out(exp_avg, M_TINY, out=exp_avg)
    torch.nn.functional.threshold_(exp_avg_sq, V_TINY, 0.0)


class FlatAdam:
    """Adam (PyTorch's defaults: betas 0.9, 0.999, eps 1e-8, no weight decay) on one flat tensor.

    It calls the kernel ``torch.optim.Adam(..., fused=True)`` calls, ``torch._fused_adam_``,
    directly: ``Optimizer.step`` spends about 0.1 ms a step in Python around that kernel (grouping
    tensors by device, hooks, profiling records), 2 % of an epoch on the 2-core machine of
    ``benchmarks/bench_training.py``. The update is the same bit for bit (a test checks it). If
    the kernel is missing or refuses the call (another PyTorch version), the first step falls
    back to ``torch.optim.Adam(fused=True)`` itself.
    """

    def __init__(self, param: nn.Parameter, lr: float = 1e-3, flush_every: int | None = None):
        self.param, self.lr = param, float(lr)
        # every how many steps to sweep the moments (None: FLUSH_EVERY; 0: never)
        self.flush_every = FLUSH_EVERY if flush_every is None else int(flush_every)
        self.n_steps = 0
        self.exp_avg = torch.zeros_like(param, memory_format=torch.preserve_format).detach()
        self.exp_avg_sq = torch.zeros_like(self.exp_avg)
        self.steps = torch.zeros((), dtype=torch.float32)
        self.fallback: torch.optim.Adam | None = None
        self._direct = hasattr(torch, "_fused_adam_")

    def step(self) -> None:
        """Apply one Adam update from ``param.grad``."""
        self._update()
        self.n_steps += 1
        if self.flush_every and self.n_steps % self.flush_every == 0:
            if self.fallback is None:
                flush_tiny_moments_(self.exp_avg, self.exp_avg_sq)
            else:
                flush_optimizer_moments_(self.fallback)

    def _update(self) -> None:
        if self._direct:
            self.steps += 1
            try:
                torch._fused_adam_(
                    [self.param.detach()], [self.param.grad], [self.exp_avg], [self.exp_avg_sq],
                    [], [self.steps], lr=self.lr, beta1=0.9, beta2=0.999, weight_decay=0.0,
                    eps=1e-8, amsgrad=False, maximize=False,
                )
                return
            except (TypeError, RuntimeError):
                if int(self.steps) > 1:
                    raise
                self.steps -= 1
                self._direct = False
        if self.fallback is None:
            self.fallback = torch.optim.Adam([self.param], lr=self.lr, fused=True)
        self.fallback.step()


def flush_optimizer_moments_(opt: torch.optim.Optimizer) -> None:
    """:func:`flush_tiny_moments_` on every CPU parameter's moments in a ``torch.optim.Adam``."""
    for state in opt.state.values():
        m, v = state.get("exp_avg"), state.get("exp_avg_sq")
        if m is not None and v is not None and m.device.type == "cpu" and m.is_floating_point():
            flush_tiny_moments_(m, v)


def bf16_products_supported() -> bool:
    """Whether this CPU and PyTorch build run bfloat16 matrix products natively (oneDNN)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - builds without oneDNN
        return False


@contextlib.contextmanager
def _bf16_products():
    """float32 matrix products in this block take bfloat16 inputs (oneDNN); restored after."""
    mk = torch.backends.mkldnn.matmul
    before, mk.fp32_precision = mk.fp32_precision, "bf16"
    try:
        yield
    finally:
        mk.fp32_precision = before


def _relu_grad_(grad: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``grad`` where the ReLU's output ``out`` is positive, else 0, in place (as autograd does)."""
    return torch.ops.aten.threshold_backward.grad_input(grad, out, 0.0, grad_input=grad)


class _Views:
    """The first ``b`` rows of every buffer of a :class:`FusedCPUStep` (made once per size)."""

    def __init__(self, step: FusedCPUStep, b: int):
        self.xb = step.xb[:b]
        self.x_flat = self.xb.view(-1)
        self.h = [t[:b] for t in step.h]
        self.dh = [t[:b] for t in step.dh]
        self.mu, self.lv, self.lvraw, self.std, self.z, self.dz, self.dmu, self.dlv, self.elv = (
            t[:b] for t in step.latent
        )
        self.inside = step.inside[:b]
        self.noise = step.noise[:b]
        # the latent block is a few hundred numbers: NumPy's per-call cost on such small arrays
        # is under half of PyTorch's (an add on 128 x 2: 2.8 against 6.8 us on the 2-core
        # machine of benchmarks/), so it is done on NumPy views of the same memory
        self.np = {
            name: getattr(self, name).numpy()
            for name in ("mu", "lv", "lvraw", "std", "z", "dz", "dmu", "dlv", "elv", "inside",
                         "noise")
        }
        self.d = [t[:b] for t in step.d]
        self.dd = [t[:b] for t in step.dd]
        self.logits, self.work, self.g = step.logits[:b], step.work[:b], step.g[:b]
        self.logits_flat = self.logits.view(-1)
        self.dec_in = [self.z, *self.d]
        self.enc_in = [self.xb, *self.h]
        self.h_top = self.h[-1] if self.h else self.xb


class FusedCPUStep:
    """Forward, loss and backward of ``module`` for one batch, into preallocated buffers.

    Parameters
    ----------
    module
        A :class:`VAEModule` on the CPU in float32 (see :func:`supports`).
    x
        The whole training matrix (float32); batches are gathered from it by index.
    max_batch
        The largest batch that will be asked for.
    blas
        Who does the matrix products: ``"torch"`` (PyTorch's BLAS, MKL in the x86 wheels) or
        ``"numpy"`` (NumPy's OpenBLAS). :func:`preferred_blas` picks one by the CPU.

    After :meth:`__call__` every parameter's ``.grad`` holds the gradient of the batch loss.

    """

    def __init__(
        self,
        module: VAEModule,
        x: torch.Tensor,
        max_batch: int,
        blas: str = "torch",
        mixed: bool = False,
    ):
        if blas not in BLAS:
            raise ValueError(f"blas must be one of {BLAS}, not {blas!r}")
        if mixed and blas != "torch":
            raise ValueError("mixed precision needs blas='torch' (oneDNN's bfloat16 products)")
        self.blas = blas
        self.mixed = bool(mixed)
        self.module = module
        self.x = x.detach().contiguous()
        enc, dec = _linears(module.encoder.body), _linears(module.decoder.body)
        self.lo, self.hi = module.encoder.logvar_clamp
        for p in module.parameters():
            if p.grad is None or p.grad.shape != p.shape:
                p.grad = torch.zeros_like(p)

        # (weight, bias, weight.grad, bias.grad) of each layer, detached: the optimiser updates
        # the same storage in place, so these views always hold the current weights
        def parts(lin: nn.Linear) -> tuple[torch.Tensor, ...]:
            return (lin.weight.detach(), lin.bias.detach(), lin.weight.grad, lin.bias.grad)

        self.enc = [parts(lin) for lin in enc]
        self.mean, self.logvar = parts(module.encoder.mean), parts(module.encoder.logvar)
        self.dec = [parts(lin) for lin in dec]
        self.out = parts(module.decoder.out)
        m = int(max_batch)

        def buf(width: int) -> torch.Tensor:
            return torch.empty(m, width)

        self.xb = buf(self.x.shape[1])
        self.h = [buf(lin.out_features) for lin in enc]  # post-ReLU activations
        self.dh = [buf(lin.out_features) for lin in enc]
        k = module.encoder.mean.out_features
        self.latent = [buf(k) for _ in range(9)]
        self.inside = torch.empty(m, k, dtype=torch.bool)
        self.noise = buf(k)
        self.d = [buf(lin.out_features) for lin in dec]
        self.dd = [buf(lin.out_features) for lin in dec]
        n_out = module.decoder.out.out_features
        self.logits, self.work, self.g = buf(n_out), buf(n_out), buf(n_out)
        self._views: dict[int, _Views] = {}

    def _reduced(self) -> contextlib.AbstractContextManager:
        """With ``mixed``: float32 products in this block take bfloat16 inputs (oneDNN)."""
        return _bf16_products() if self.mixed else contextlib.nullcontext()

    def _mm(self, a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        if self.blas == "torch":
            return torch.mm(a, b, out=out)
        np.matmul(a.numpy(), b.numpy(), out=out.numpy())
        return out

    def _dense(self, a: torch.Tensor, layer: tuple[torch.Tensor, ...], out: torch.Tensor):
        w, bias = layer[0], layer[1]
        if self.blas == "torch":
            return torch.addmm(bias, a, w.t(), out=out)
        self._mm(a, w.t(), out)
        return out.add_(bias)

    def _grads(self, g: torch.Tensor, a: torch.Tensor, layer: tuple[torch.Tensor, ...]) -> None:
        """Weight and bias gradients of a layer given its output gradient ``g`` and input ``a``.

        The bias first: for the output layer the weight gradient's product is then followed
        straight by the next product, with no small kernel between them. (A product that streams
        the 6.7 MB output weight evicts the caches, and the first small kernels after it run
        3-6x slower than warm ones: an in-place add on 128 x 1296 took 35 us against 11 us on a
        2-core Sapphire Rapids.)
        """
        torch.sum(g, 0, out=layer[3])
        self._mm(g.t(), a, layer[2])

    def __call__(
        self, idx: torch.Tensor, generator: torch.Generator | None, beta: float
    ) -> tuple[float, float, float]:
        """One batch (rows ``idx`` of ``x``): returns ``(loss, reconstruction, kl)``, batch means.

        Overflow gives inf and NaN silently, as in PyTorch (NumPy's products would warn): the
        training loop reports it as a divergence.
        """
        with np.errstate(all="ignore"):  # the latent block and NumPy's products
            return self._step(idx, generator, beta)

    @torch.no_grad()
    def _step(
        self, idx: torch.Tensor, generator: torch.Generator | None, beta: float
    ) -> tuple[float, float, float]:
        b = int(idx.shape[0])
        v = self._views.get(b)
        if v is None:
            v = self._views[b] = _Views(self, b)
        xb = torch.index_select(self.x, 0, idx, out=v.xb)

        # encoder
        a = xb
        for layer, h in zip(self.enc, v.h, strict=True):
            a = self._dense(a, layer, h).relu_()
        self._dense(a, self.mean, v.mu)
        self._dense(a, self.logvar, v.lvraw)
        n = v.np  # NumPy views of the latent buffers
        mu, lv, lvraw, std, noise, elv = n["mu"], n["lv"], n["lvraw"], n["std"], n["noise"], n["elv"]
        np.minimum(np.maximum(lvraw, self.lo, out=lv), self.hi, out=lv)  # NaN stays NaN
        np.exp(np.multiply(lv, 0.5, out=std), out=std)
        torch.randn(v.noise.shape, generator=generator, out=v.noise)  # as VAEModule.inference
        np.add(np.multiply(std, noise, out=n["z"]), mu, out=n["z"])
        z = v.z
        np.exp(lv, out=elv)
        k = mu.shape[1]
        kl = -0.5 * (b * k + float(lv.sum()) - float(np.vdot(mu, mu)) - float(elv.sum())) / b

        # decoder
        a = z
        for layer, d in zip(self.dec, v.d, strict=True):
            a = self._dense(a, layer, d).relu_()
        with self._reduced():
            logits = self._dense(a, self.out, v.logits)

        # loss: sum softplus(l) - x.l, with softplus(l) = max(l, 0) + log(1 + exp(-|l|)) and
        # sum max(l, 0) = (sum l + sum |l|) / 2; float32 sums (pairwise), as autograd's loss
        w = torch.abs(logits, out=v.work)
        sum_abs = float(w.sum())
        sum_log = float(w.neg_().exp_().add_(1.0).log_().sum())  # exp(-|l|) is in (0, 1]
        sum_l = float(logits.sum())
        x_dot_l = float(torch.dot(v.x_flat, v.logits_flat))
        rec = (0.5 * (sum_l + sum_abs) + sum_log - x_dot_l) / b
        # gradient of the batch mean: (sigmoid(l) - x) / b
        g = torch.sigmoid(logits, out=v.g).sub_(xb).mul_(1.0 / b)

        # backward through the decoder; the output layer's two products (two thirds of the
        # backward FLOPs) in bfloat16 when asked
        grad, upstream = g, self.out
        with self._reduced():
            self._grads(g, v.dec_in[-1], self.out)
            if self.dec:
                dd = self._mm(g, self.out[0], v.dd[-1])
        for i in range(len(self.dec) - 1, -1, -1):
            if i < len(self.dec) - 1:
                dd = self._mm(grad, upstream[0], v.dd[i])
            _relu_grad_(dd, v.dec_in[i + 1])
            self._grads(dd, v.dec_in[i], self.dec[i])
            grad, upstream = dd, self.dec[i]
        self._mm(grad, upstream[0], v.dz)

        # latent: z = mu + exp(lv / 2) * noise; KL = -1/2 sum(1 + lv - mu^2 - exp(lv)) / b, so
        # d/dmu = dz + beta mu / b and d/dlv = (dz noise std + beta (exp(lv) - 1) / b) / 2
        dz, dmu, dlv, c = n["dz"], n["dmu"], n["dlv"], np.float32(beta / b)
        np.add(dz, np.multiply(mu, c, out=dmu), out=dmu)
        np.multiply(np.multiply(dz, noise, out=dlv), std, out=dlv)
        np.multiply(np.subtract(elv, 1.0, out=elv), c, out=elv)
        np.multiply(np.add(dlv, elv, out=dlv), 0.5, out=dlv)
        # the clamp passes the gradient where it left the value alone (lo <= raw <= hi)
        np.multiply(dlv, np.equal(lv, lvraw, out=n["inside"]), out=dlv)
        dmu, dlv = v.dmu, v.dlv
        self._grads(dmu, v.h_top, self.mean)
        self._grads(dlv, v.h_top, self.logvar)

        # backward through the encoder (no gradient for the input)
        if self.enc:
            dh = self._mm(dmu, self.mean[0], v.dh[-1])
            dh.addmm_(dlv, self.logvar[0])
            for i in range(len(self.enc) - 1, -1, -1):
                _relu_grad_(dh, v.enc_in[i + 1])
                self._grads(dh, v.enc_in[i], self.enc[i])
                if i > 0:
                    dh = self._mm(dh, self.enc[i][0], v.dh[i - 1])
        return rec + beta * kl, rec, kl
