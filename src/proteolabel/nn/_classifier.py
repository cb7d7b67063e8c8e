"""A fully connected classifier as a pure ``torch.nn.Module``, and its training loop.

Every random draw (weight initialisation, dropout masks, batch order) comes from a
``torch.Generator`` passed in by the caller; nothing here touches the global random state, reads
files, or knows about pandas or AnnData.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from proteolabel.nn._components import reset_linear
from proteolabel.nn._training import TrainingDivergedError


class ClassifierModule(nn.Module):
    """Linear -> ReLU -> dropout blocks, then a linear layer to one logit per class.

    Parameters
    ----------
    n_input
        Number of input features (proteins).
    n_classes
        Number of classes (at least 2).
    hidden_layers
        Widths of the hidden layers; an empty sequence gives a linear (softmax regression) model.
    dropout
        Probability of zeroing a hidden unit during training (0: no dropout).
    generator
        Random generator for the weight initialisation (``None``: PyTorch's global generator).

    Notes
    -----
    Dropout is drawn with ``torch.bernoulli(..., generator=...)`` rather than ``nn.Dropout``,
    which can only use the global generator: with a generator, training is a function of the
    caller's seed alone.

    """

    def __init__(
        self,
        n_input: int,
        n_classes: int,
        hidden_layers: Sequence[int] = (128, 32),
        dropout: float = 0.2,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got {n_classes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.n_input = int(n_input)
        self.n_classes = int(n_classes)
        self.dropout = float(dropout)
        widths = [self.n_input, *(int(h) for h in hidden_layers)]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(widths))
        self.out = nn.Linear(widths[-1], self.n_classes)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                reset_linear(m, generator)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return the logits, shape (n, n_classes); dropout is applied in training mode only."""
        h = x
        drop = self.training and self.dropout > 0
        for layer in self.hidden:
            h = F.relu(layer(h))
            if drop:
                keep = torch.full_like(h, 1.0 - self.dropout)
                h = h * torch.bernoulli(keep, generator=generator) / (1.0 - self.dropout)
        return self.out(h)

    @torch.inference_mode()
    def predict_logits(self, x: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
        """Logits of ``x`` in batches, without gradients or dropout (call ``eval()`` first)."""
        out = [self(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)]
        return torch.cat(out) if out else torch.empty(0, self.n_classes, dtype=x.dtype)


@dataclass
class ClassifierHistory:
    """Per-epoch training loss and, with a validation set, validation loss and accuracy."""

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False

    def as_dict(self) -> dict[str, list[float]]:
        """Columns of equal length, one row per epoch (validation columns NaN when not used)."""
        n = len(self.loss)
        nan = [math.nan] * n
        return {
            "epoch": list(range(1, n + 1)),
            "loss": self.loss,
            "val_loss": self.val_loss if len(self.val_loss) == n else nan,
            "val_accuracy": self.val_accuracy if len(self.val_accuracy) == n else nan,
            "seconds": self.seconds,
        }


def _copy_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def train_classifier(
    module: ClassifierModule,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int = 200,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-4,
    class_weight: torch.Tensor | None = None,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    early_stopping_patience: int | None = 20,
    generator: torch.Generator | None = None,
    progress: bool = False,
    on_epoch_end: Callable[[int, ClassifierHistory], None] | None = None,
) -> ClassifierHistory:
    """Train ``module`` on ``x`` (float) and ``y`` (class indices) with AdamW and cross-entropy.

    Each epoch shuffles the rows with ``generator`` and walks through them in batches of
    ``batch_size`` (the last batch may be smaller). ``class_weight`` (one weight per class)
    weights the cross-entropy of each sample by its class, for imbalanced classes.

    With a validation set (``x_val``, ``y_val``) the class-weighted validation loss is computed
    after every epoch; the weights of the epoch with the lowest validation loss are restored at
    the end, and with ``early_stopping_patience`` training stops once it has not improved for
    that many epochs. Without one, all ``epochs`` run and the last weights are kept.

    Parameters
    ----------
    module
        The network, already on the device of ``x``.
    x, y
        Training inputs (n, n_input) and class indices (n,) in ``[0, n_classes)``.
    epochs, batch_size, learning_rate, weight_decay
        Optimisation settings (AdamW's decoupled weight decay).
    class_weight
        Per-class weights of the loss, shape (n_classes,), or ``None`` for equal weights.
    x_val, y_val
        Optional validation set.
    early_stopping_patience
        Epochs without improvement of the validation loss before stopping (``None``: never).
    generator
        Generator for the batch order and the dropout masks.
    progress
        Show a tqdm progress bar.
    on_epoch_end
        Called as ``on_epoch_end(epoch, history)`` after every epoch.

    Returns
    -------
    ClassifierHistory

    Raises
    ------
    TrainingDivergedError
        If an epoch's loss is not finite; the module keeps the weights of the last good epoch.

    """
    n = x.shape[0]
    if n == 0:
        raise ValueError("cannot train on an empty matrix (0 samples)")
    if y.shape[0] != n:
        raise ValueError(f"x has {n} rows but y has {y.shape[0]}")
    device = x.device
    try:
        opt = torch.optim.AdamW(
            module.parameters(), lr=learning_rate, weight_decay=weight_decay,
            fused=device.type in ("cuda", "cpu"),
        )
    except (RuntimeError, TypeError):  # pragma: no cover - older or exotic back ends
        opt = torch.optim.AdamW(module.parameters(), lr=learning_rate, weight_decay=weight_decay)
    weight = None if class_weight is None else class_weight.to(device=device, dtype=x.dtype)
    use_val = x_val is not None and y_val is not None and x_val.shape[0] > 0
    history = ClassifierHistory()
    good = _copy_state(module)
    best_state: dict[str, torch.Tensor] | None = None
    best_val = math.inf
    since_best = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc="training classifier", unit="epoch", leave=False)
    module.train()
    try:
        for epoch in range(epochs):
            t0 = time.perf_counter()
            perm = torch.randperm(n, generator=generator, device=device)
            total = torch.zeros((), device=device, dtype=x.dtype)
            for start in range(0, n, batch_size):
                idx = perm[start : start + batch_size]
                logits = module(x.index_select(0, idx), generator=generator)
                loss = F.cross_entropy(logits, y.index_select(0, idx), weight=weight)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.detach() * idx.shape[0]
            epoch_loss = float(total) / n
            if not math.isfinite(epoch_loss):
                module.load_state_dict(good)
                raise TrainingDivergedError(
                    f"the classifier's loss became {epoch_loss} in epoch {epoch + 1}; training "
                    f"stopped and the weights of epoch {epoch} were kept. Lower the learning "
                    "rate or check the input for extreme values."
                )
            good = _copy_state(module)
            history.loss.append(epoch_loss)
            if use_val:
                module.eval()
                with torch.inference_mode():
                    logits = module(x_val)
                    val = float(F.cross_entropy(logits, y_val, weight=weight))
                    acc = float((logits.argmax(dim=1) == y_val).float().mean())
                module.train()
                history.val_loss.append(val)
                history.val_accuracy.append(acc)
                if val < best_val - 1e-9:
                    best_val, since_best = val, 0
                    history.best_epoch = epoch + 1
                    best_state = _copy_state(module)
                else:
                    since_best += 1
            history.seconds.append(time.perf_counter() - t0)
            if bar is not None:
                post = {"loss": f"{epoch_loss:.3f}"}
                if history.val_loss:
                    post["val"] = f"{history.val_loss[-1]:.3f}"
                    post["val_acc"] = f"{history.val_accuracy[-1]:.2f}"
                bar.set_postfix(post, refresh=False)
                bar.update(1)
            if on_epoch_end is not None:
                on_epoch_end(epoch, history)
            if (use_val and early_stopping_patience is not None
                    and since_best >= early_stopping_patience):
                history.stopped_early = True
                break
    finally:
        if bar is not None:
            bar.close()
        module.eval()
    if best_state is not None:
        module.load_state_dict(best_state)
    return history
