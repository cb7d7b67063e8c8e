"""The training loop: optimiser, KL weighting, validation, early stopping, progress."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from proteolabel.nn import _fused_cpu
from proteolabel.nn._fused_cpu import (
    BLAS,
    FlatAdam,
    FlatParameters,
    FusedCPUStep,
    bf16_products_supported,
    flush_optimizer_moments_,
    preferred_blas,
    supports,
)
from proteolabel.nn._module import VAEModule


class TrainingDivergedError(RuntimeError):
    """The loss or the weights became NaN or infinite; the module holds the last good weights.

    ``history`` holds the epochs before it (those whose loss and weights were finite).
    """

    def __init__(self, message: str, history: TrainingHistory | None = None):
        super().__init__(message)
        self.history = history


@dataclass
class TrainingHistory:
    """Per-epoch averages of the loss terms (training set, and validation set when used)."""

    loss: list[float] = field(default_factory=list)
    reconstruction: list[float] = field(default_factory=list)
    kl: list[float] = field(default_factory=list)
    beta: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    engine: str = "autograd"

    def as_dict(self) -> dict[str, list[float]]:
        """Columns of equal length, one row per epoch (validation loss NaN when not used)."""
        n = len(self.loss)
        val = self.val_loss if len(self.val_loss) == n else [math.nan] * n
        return {
            "epoch": list(range(1, n + 1)),
            "loss": self.loss,
            "reconstruction": self.reconstruction,
            "kl": self.kl,
            "beta": self.beta,
            "val_loss": val,
            "seconds": self.seconds,
        }


def _snapshot(module: torch.nn.Module, into: list[torch.Tensor] | None) -> list[torch.Tensor]:
    params = [p.detach() for p in module.parameters()]
    if into is None:
        return [p.clone() for p in params]
    for dst, src in zip(into, params, strict=True):
        dst.copy_(src)
    return into


def _finite(module: torch.nn.Module, flat: FlatParameters | None) -> bool:
    """Whether every weight is finite (one reduction, one synchronisation)."""
    if flat is not None:
        return bool(torch.isfinite(flat.flat).all())
    return bool(torch.stack([torch.isfinite(p).all() for p in module.parameters()]).all())


def _restore(module: torch.nn.Module, snapshot: list[torch.Tensor]) -> None:
    with torch.no_grad():
        for p, s in zip(module.parameters(), snapshot, strict=True):
            p.copy_(s)


def _adam(params, learning_rate: float, device: torch.device) -> torch.optim.Adam:
    params = list(params)
    if device.type in ("cuda", "cpu"):
        try:
            return torch.optim.Adam(params, lr=learning_rate, fused=True)
        except (RuntimeError, TypeError):  # pragma: no cover - older or exotic back ends
            pass
    return torch.optim.Adam(params, lr=learning_rate)  # pragma: no cover


def _autograd_epoch(module, x, perm, opt, generator, beta, batch_size, autocast_dtype,
                    steps_before, flush_every):
    """One epoch of autograd steps; returns the batch-size-weighted sums of the loss terms.

    ``steps_before``: the optimiser's steps in earlier epochs. On the CPU Adam's
    nearly-subnormal moments are swept every ``flush_every`` steps (0: never), as the fused
    engine does (see :func:`proteolabel.nn._fused_cpu.flush_tiny_moments_`).
    """
    device = x.device
    sums = torch.zeros(3, device=device)
    terms = torch.empty(3, device=device)
    for i, start in enumerate(range(0, x.shape[0], batch_size), start=steps_before + 1):
        idx = perm[start : start + batch_size]
        xb = x.index_select(0, idx)
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            out = module(xb, generator=generator, beta=beta)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
        if device.type == "cpu" and flush_every and i % flush_every == 0:
            flush_optimizer_moments_(opt)
        with torch.no_grad():
            terms[0], terms[1], terms[2] = out.loss, out.reconstruction, out.kl
        sums.add_(terms, alpha=xb.shape[0])
    return sums


def train_vae(
    module: VAEModule,
    x: torch.Tensor,
    *,
    epochs: int = 500,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    beta: float = 1.0,
    kl_warmup_epochs: int = 0,
    x_val: torch.Tensor | None = None,
    early_stopping_patience: int | None = None,
    generator: torch.Generator | None = None,
    autocast_dtype: torch.dtype | None = None,
    engine: str = "autograd",
    mixed: bool = False,
    progress: bool = False,
    on_epoch_end: Callable[[int, TrainingHistory], None] | None = None,
) -> TrainingHistory:
    """Train ``module`` on ``x`` (already on the module's device) with Adam.

    Each epoch shuffles the rows by index with ``generator`` and walks through them in batches of
    ``batch_size`` (the last batch may be smaller). The KL weight rises linearly from 0 to ``beta``
    over ``kl_warmup_epochs`` (0: ``beta`` from the start, the method's choice).

    With ``x_val`` the validation loss (latent means, no sampling noise) is computed after every
    epoch, and the weights of the epoch with the lowest validation loss are restored at the end;
    with ``early_stopping_patience`` training stops once it has not improved for that many epochs.

    ``engine`` says how a step's gradients are computed: ``"autograd"`` (PyTorch, any device),
    ``"fused"`` (:class:`proteolabel.nn._fused_cpu.FusedCPUStep`: the same gradients by
    hand-written matrix products into fixed buffers, CPU float32 only, with the BLAS
    :func:`proteolabel.nn._fused_cpu.preferred_blas` picks for this CPU; ``"fused/torch"`` or
    ``"fused/numpy"`` name it; with NumPy's, PyTorch is held to one thread meanwhile) or
    ``"auto"`` (fused where it applies, else autograd). ``history.engine`` says which ran
    (``"fused/torch"``, ``"fused/numpy"`` or ``"autograd"``).

    ``mixed`` (fused engine with PyTorch's BLAS only; ``"auto"`` and ``"fused"`` then take
    PyTorch's BLAS on any CPU): the output layer's three products (its forward product, its
    weight gradient and the gradient it passes back; 90 % of the FLOPs) take bfloat16 inputs
    with float32 accumulation and results (oneDNN); the loss, the other layers, the weights and
    Adam stay float32. oneDNN may keep very small products in float32.

    On the CPU, Adam's moments that are about to become subnormal floats are set to zero every
    ``proteolabel.nn._fused_cpu.FLUSH_EVERY`` steps (read when training starts; see
    :func:`proteolabel.nn._fused_cpu.flush_tiny_moments_`), with either engine.

    Training leaves no gradients on the parameters (``.grad`` is ``None``) with either engine.

    Raises
    ------
    TrainingDivergedError
        If an epoch's loss is not finite, or its last step left weights that are not. The module
        is left with the weights of the last epoch whose loss and weights were finite (the
        initial ones if there was none); the error's ``history`` holds those epochs.

    """
    n = x.shape[0]
    if n == 0:
        raise ValueError("cannot train on an empty matrix (0 samples)")
    device = x.device
    history = TrainingHistory()
    good = _snapshot(module, None)
    best_state: list[torch.Tensor] | None = None
    best_val = math.inf
    since_best = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc="training VAE", unit="epoch", leave=False)
    use_autocast = autocast_dtype is not None
    engines = ("auto", "autograd", "fused", *(f"fused/{lib}" for lib in BLAS))
    if engine not in engines:
        raise ValueError(f"engine must be one of {', '.join(map(repr, engines))}, not {engine!r}")
    fused_ok = not use_autocast and supports(module, x)
    if engine.startswith("fused") and not fused_ok:
        raise ValueError(
            f"engine={engine!r} needs a plain VAEModule and data on the CPU in float32 (no "
            "autocast); use engine='autograd'"
        )
    use_fused = engine.startswith("fused") or (engine == "auto" and fused_ok)
    # mixed precision needs PyTorch's BLAS (oneDNN): where the engine leaves the BLAS open, it
    # takes that one, also on CPUs whose float32 choice is NumPy's
    blas = engine.partition("/")[2] or ("torch" if mixed else preferred_blas())
    if mixed and not (use_fused and blas == "torch"):
        raise ValueError(
            "mixed precision needs the fused CPU engine with PyTorch's BLAS (engine 'auto', "
            "'fused' or 'fused/torch', data on the CPU in float32); this run would use "
            f"{'fused/' + blas if use_fused else 'autograd'}"
        )
    if mixed and not bf16_products_supported():
        raise ValueError(
            "mixed precision needs a CPU with bfloat16 instructions (AVX512-BF16 or AMX) and "
            "PyTorch's oneDNN; this one has none: use float32"
        )
    flush_every = int(_fused_cpu.FLUSH_EVERY)  # read once, when training starts
    flat = FlatParameters(module) if use_fused else None
    step = (
        FusedCPUStep(module, x, min(batch_size, n), blas=blas, mixed=mixed) if use_fused else None
    )
    opt = FlatAdam(flat.flat, learning_rate, flush_every) if flat is not None else _adam(
        module.parameters(), learning_rate, device
    )
    history.engine = f"fused/{blas}" if use_fused else "autograd"
    torch_threads = torch.get_num_threads()
    if step is not None and blas == "numpy":
        torch.set_num_threads(1)  # OpenBLAS does the products; PyTorch only the small rest
    module.train()
    try:
        for epoch in range(epochs):
            t0 = time.perf_counter()
            b = beta if kl_warmup_epochs <= 0 else beta * min(1.0, (epoch + 1) / kl_warmup_epochs)
            perm = torch.randperm(n, generator=generator, device=device)
            if step is not None:  # the fused step returns Python floats
                total = [0.0, 0.0, 0.0]
                for start in range(0, n, batch_size):
                    idx = perm[start : start + batch_size]
                    m = idx.shape[0]
                    bl, br, bk = step(idx, generator, b)
                    opt.step()
                    total[0] += bl * m
                    total[1] += br * m
                    total[2] += bk * m
                sums = torch.tensor(total, dtype=torch.float64)
            else:
                sums = _autograd_epoch(module, x, perm, opt, generator, b, batch_size,
                                       autocast_dtype, epoch * -(-n // batch_size),
                                       flush_every)
            loss, rec, kl = (sums / n).tolist()
            # the loss is that of the weights before each step: the epoch's last step can still
            # leave weights that are not finite, which would be kept as "good" otherwise
            if not (math.isfinite(loss) and _finite(module, flat)):
                _restore(module, good)
                what = f"loss became {loss}" if not math.isfinite(loss) else "weights overflowed"
                raise TrainingDivergedError(
                    f"the VAE {what} in epoch {epoch + 1}; training stopped and the weights of "
                    f"epoch {epoch} (the last with a finite loss and weights; 0: the initial "
                    "ones) were kept. Lower the learning rate, check the input scaling, or use "
                    "precision='float32'.",
                    history,
                )
            _snapshot(module, good)
            history.loss.append(loss)
            history.reconstruction.append(rec)
            history.kl.append(kl)
            history.beta.append(b)
            if x_val is not None and x_val.shape[0] > 0:
                module.eval()
                with torch.inference_mode():
                    inf = module.inference(x_val, sample=False)
                    val = float(module.loss(x_val, inf, module.generative(inf["z"]), beta=b).loss)
                module.train()
                history.val_loss.append(val)
                if val < best_val - 1e-9:
                    best_val, since_best = val, 0
                    history.best_epoch = epoch + 1
                    best_state = _snapshot(module, best_state)
                else:
                    since_best += 1
            history.seconds.append(time.perf_counter() - t0)
            if bar is not None:
                post = {"loss": f"{loss:.2f}", "kl": f"{kl:.2f}"}
                if history.val_loss:
                    post["val"] = f"{history.val_loss[-1]:.2f}"
                bar.set_postfix(post, refresh=False)
                bar.update(1)
            if on_epoch_end is not None:
                on_epoch_end(epoch, history)
            if early_stopping_patience is not None and since_best >= early_stopping_patience:
                history.stopped_early = True
                break
    finally:
        if bar is not None:
            bar.close()
        if step is not None:
            torch.set_num_threads(torch_threads)
        if flat is not None:
            flat.release()
        else:
            opt.zero_grad(set_to_none=True)  # as the fused engine: no gradients left behind
        module.eval()
    if best_state is not None:
        _restore(module, best_state)
    return history
