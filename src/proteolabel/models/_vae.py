"""``VAEEmbedder``: the method's variational autoencoder as a scikit-learn transformer."""

from __future__ import annotations

import json
import math
import warnings
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data

from proteolabel._utils import seed_from_random_state
from proteolabel.nn import TrainingDivergedError, TrainingHistory, VAEModule, train_vae

_CONFIG = "vae_config.json"
_WEIGHTS = "vae_weights.pt"
#: ``precision_`` for each ``precision``.
_PRECISIONS = {
    "float32": "float32",
    "mixed": "mixed: bfloat16 inputs (float32 accumulation) in the output layer's forward "
             "and backward products, float32 elsewhere",
    "bfloat16": "bfloat16: every matrix product under autocast",
}
#: What a fit sets besides ``module_`` (a new fit starts without the previous fit's).
_FITTED = ("history_", "n_epochs_", "best_epoch_", "engine_", "stopped_early_", "precision_")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"`` into CUDA when a GPU is present (else CPU); check any other device.

    Accepts ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` (and ``"mps"`` where PyTorch has
    it) or a :class:`torch.device`; anything else, or a GPU this machine lacks, is a ValueError
    that says what to use instead.
    """
    usage = "use 'auto' (a CUDA GPU when present, else the CPU), 'cpu', 'cuda' or 'cuda:N'"
    if isinstance(device, str):
        device = device.strip().lower()
    if isinstance(device, torch.device):
        dev = device
    elif device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError, ValueError) as exc:
            raise ValueError(f"device={device!r} is not a device PyTorch knows: {usage}") from exc
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was asked for but no CUDA GPU is available; use 'cpu' "
                "(--device cpu) or 'auto'"
            )
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise ValueError(
                f"device={device!r} was asked for but this machine has {n} CUDA GPU(s), "
                f"cuda:0 to cuda:{n - 1}"
            )
        return dev
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device={device!r} was asked for but MPS is not available; {usage}")
        return dev
    raise ValueError(f"device={device!r} is not supported: {usage}")


def check_unit_interval(X: np.ndarray, what: str = "X") -> None:
    """Raise a clear error unless every value of ``X`` is finite and within [0, 1]."""
    if np.isfinite(X).all() and X.size and X.min() < 0:
        check_non_negative(X, f"VAEEmbedder ({what} must lie within [0, 1])")
    if not np.all(np.isfinite(X)):
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(
            f"{what} holds a non-finite value ({X[bad[0], bad[1]]}, row {bad[0]}, column "
            f"{bad[1]}; NaN and inf are not allowed); the VAE needs a "
            "complete matrix: run proteolabel.pp.preprocess (which fills missing values) first"
        )
    lo, hi = float(X.min(initial=0.0)), float(X.max(initial=0.0))
    if lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"{what} must lie within [0, 1] for the binary cross-entropy loss, but spans "
            f"[{lo:.4g}, {hi:.4g}]; scale it first (proteolabel.pp.preprocess divides each protein "
            "by its maximum)"
        )


class VAEEmbedder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Compress samples to a low-dimensional latent space with a variational autoencoder.

    The defaults reproduce the method: encoder 120-120-16 (ReLU), a 2-D Gaussian latent, a
    decoder with one ReLU layer as wide as the input and a sigmoid output, loss = per-sample sum
    of binary cross-entropy + KL divergence to N(0, I) averaged over the batch, Adam with learning
    rate 1e-3, 500 epochs, batches of 128. ``transform`` returns the latent means.

    Parameters
    ----------
    n_latent
        Latent dimension.
    encoder_layers
        Hidden widths of the encoder.
    decoder_layers
        Hidden widths of the decoder; ``None`` means one layer as wide as the input.
    beta
        Weight of the KL term (1 is the standard VAE; lower values let the latent spread out).
    kl_warmup_epochs
        Epochs over which the KL weight rises linearly from 0 to ``beta`` (0: no warm-up).
    epochs
        Maximum number of passes over the data.
    batch_size
        Samples per optimisation step.
    learning_rate
        Adam's learning rate.
    validation_fraction
        Share of samples held out to compute a validation loss each epoch (0: none, the method's
        choice). With a validation set the weights of the best validation epoch are kept.
    early_stopping_patience
        Stop after this many epochs without improvement of the validation loss (``None``: never).
        Needs ``validation_fraction > 0``.
    device
        ``"auto"`` (a CUDA GPU when present, else the CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    precision
        ``"float32"``; ``"mixed"``: float32 everywhere except the output layer's three
        products (forward, and both of its backward pass; 90 % of the FLOPs), which take
        bfloat16 inputs with float32 accumulation (fused CPU engine with PyTorch's BLAS, on CPUs
        with AVX512-BF16 or AMX; ``engine="auto"`` and ``"fused"`` take PyTorch's BLAS for it
        on AMD CPUs too; about 1.3x faster per epoch there, see
        ``benchmarks/bench_training.py``); ``"bfloat16"``: every matrix
        product in bfloat16 (PyTorch autocast, autograd engine; for GPUs). See the README's
        "Speed and hardware" for what each changes in the results.
    engine
        How a training step's gradients are computed. ``"fused"``: a hand-written forward and
        backward pass of matrix products into fixed buffers (no autograd graph, no allocation per
        step), CPU float32 only, with the BLAS that is faster on this CPU: PyTorch's (MKL) on
        Intel and other CPUs, NumPy's OpenBLAS on AMD ones (for float32; see
        :func:`proteolabel.nn._fused_cpu.preferred_blas`); ``"fused/torch"`` and
        ``"fused/numpy"`` name the BLAS. ``"torch"``: PyTorch autograd (any device and
        precision). ``"auto"``: fused where it applies (CPU, float32), torch otherwise (GPU,
        bfloat16). ``engine_`` says which ran. All compute the gradient of the same loss with the
        same sampling noise; they agree up to floating-point rounding.
    random_state
        Seed for the weight initialisation, the shuffling, the sampling noise and the validation
        split. The same seed gives the same latent on the same machine, library versions and
        device; GPU results may differ from CPU results in the last digits.
    verbose
        Show a progress bar with the running loss.

    Attributes
    ----------
    module_ : proteolabel.nn.VAEModule
        The trained network (on the CPU after fitting).
    history_ : pandas.DataFrame
        One row per epoch: loss, reconstruction, kl, beta, val_loss, seconds.
    n_features_in_ : int
        Number of input features.
    n_epochs_ : int
        Epochs actually run.
    device_ : str
        The device the network was trained on.
    engine_ : str
        The training engine that ran: ``"fused/torch"``, ``"fused/numpy"`` or ``"autograd"``.
    precision_ : str
        What the matrix products ran in (a short description; ``precision`` names it).
    seed_ : int
        The integer seed drawn from ``random_state``.

    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_latent": [Interval(Integral, 1, None, closed="left")],
        "encoder_layers": [tuple, list],
        "decoder_layers": [tuple, list, None],
        "beta": [Interval(Real, 0, None, closed="left")],
        "kl_warmup_epochs": [Interval(Integral, 0, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "early_stopping_patience": [Interval(Integral, 1, None, closed="left"), None],
        "device": [str, torch.device],
        "precision": [StrOptions({"float32", "mixed", "bfloat16"})],
        "engine": [StrOptions({"auto", "fused", "fused/torch", "fused/numpy", "torch"})],
        "random_state": ["random_state"],
        "verbose": ["boolean"],
    }

    def __init__(
        self,
        n_latent: int = 2,
        encoder_layers: tuple[int, ...] = (120, 120, 16),
        decoder_layers: tuple[int, ...] | None = None,
        beta: float = 1.0,
        kl_warmup_epochs: int = 0,
        epochs: int = 500,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        validation_fraction: float = 0.0,
        early_stopping_patience: int | None = None,
        device: str = "auto",
        precision: str = "float32",
        engine: str = "auto",
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = False,
    ):
        self.n_latent = n_latent
        self.encoder_layers = encoder_layers
        self.decoder_layers = decoder_layers
        self.beta = beta
        self.kl_warmup_epochs = kl_warmup_epochs
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.early_stopping_patience = early_stopping_patience
        self.device = device
        self.precision = precision
        self.engine = engine
        self.random_state = random_state
        self.verbose = verbose

    # -- fitting -----------------------------------------------------------------------------
    def _build(self, n_input: int, generator: torch.Generator | None) -> VAEModule:
        return VAEModule(
            n_input,
            encoder_layers=tuple(self.encoder_layers),
            n_latent=self.n_latent,
            decoder_layers=None if self.decoder_layers is None else tuple(self.decoder_layers),
            generator=generator,
        )

    def fit(self, X, y=None):
        """Train the VAE on ``X`` (samples x features, finite, within [0, 1]).

        Parameters
        ----------
        X
            Array-like of shape (n_samples, n_features).
        y
            Ignored.

        Returns
        -------
        self

        """
        self._validate_params()
        X = self._validate_input(X, reset=True)
        if self.early_stopping_patience is not None and self.validation_fraction == 0:
            raise ValueError("early_stopping_patience needs validation_fraction > 0")
        if self.kl_warmup_epochs > self.epochs:
            warnings.warn(
                f"kl_warmup_epochs={self.kl_warmup_epochs} is more than epochs={self.epochs}: "
                f"the KL weight only reaches {self.epochs / self.kl_warmup_epochs:.2g} x beta "
                "by the last epoch, so the latent is not trained as a VAE with that beta. Use "
                f"a warm-up shorter than the training (--kl-warmup-epochs {max(1, self.epochs // 5)}, "
                "for example).",
                UserWarning,
                stacklevel=2,
            )
        self.seed_ = seed_from_random_state(self.random_state)
        device = resolve_device(self.device)
        gen_cpu = torch.Generator().manual_seed(self.seed_)
        module = self._build(X.shape[1], gen_cpu)
        module.to(device)
        gen = gen_cpu if device.type == "cpu" else torch.Generator(device).manual_seed(self.seed_)

        rng = np.random.default_rng(self.seed_)
        n_val = round(self.validation_fraction * X.shape[0])
        if self.validation_fraction > 0 and (n_val < 1 or n_val >= X.shape[0]):
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves {n_val} of "
                f"{X.shape[0]} samples for validation; it needs at least 1 on each side"
            )
        order = rng.permutation(X.shape[0]) if n_val else np.arange(X.shape[0])
        x_all = torch.from_numpy(np.ascontiguousarray(X)).to(device)
        x_train = x_all[torch.from_numpy(order[n_val:]).to(device)] if n_val else x_all
        x_val = x_all[torch.from_numpy(order[:n_val]).to(device)] if n_val else None
        autocast = torch.bfloat16 if self.precision == "bfloat16" else None
        for name in _FITTED:  # nothing of a previous fit may describe this one
            self.__dict__.pop(name, None)
        self.module_ = module
        self.device_ = str(device)
        self.precision_ = _PRECISIONS[self.precision]
        try:
            hist = train_vae(
                module,
                x_train,
                epochs=self.epochs,
                batch_size=self.batch_size,
                learning_rate=self.learning_rate,
                beta=self.beta,
                kl_warmup_epochs=self.kl_warmup_epochs,
                x_val=x_val,
                early_stopping_patience=self.early_stopping_patience,
                generator=gen,
                autocast_dtype=autocast,
                engine="autograd" if self.engine == "torch" else self.engine,
                mixed=self.precision == "mixed",
                progress=self.verbose,
            )
        except TrainingDivergedError as exc:
            # module_ holds the last good weights: the attributes describe the epochs behind them
            if exc.history is not None:
                self._set_history(exc.history)
            raise
        finally:
            module.to("cpu")
        self._set_history(hist)
        return self

    def _set_history(self, hist: TrainingHistory) -> None:
        self.history_ = pd.DataFrame(hist.as_dict())
        self.n_epochs_ = len(hist.loss)
        self.best_epoch_ = hist.best_epoch
        self.engine_ = hist.engine
        self.stopped_early_ = hist.stopped_early

    # -- using -------------------------------------------------------------------------------
    def _as_tensor(self, X) -> torch.Tensor:
        check_is_fitted(self, "module_")
        X = self._validate_input(X, reset=False)
        return torch.from_numpy(np.ascontiguousarray(X))

    def _validate_input(self, X, reset: bool) -> np.ndarray:
        """Validate ``X`` (float32, finite, feature count) and check it lies within [0, 1]."""
        kw = {"ensure_min_samples": 2} if reset else {}
        # NaN and inf are refused by check_unit_interval, whose message says how to get a
        # complete matrix (scikit-learn's generic one suggests other estimators)
        X = validate_data(self, X, dtype=np.float32, reset=reset, ensure_all_finite=False, **kw)
        check_unit_interval(X)
        return X

    @property
    def _n_features_out(self) -> int:
        """Output width, for ``get_feature_names_out`` (``vaeembedder0``, ...) and set_output."""
        check_is_fitted(self, "module_")  # unfitted: NotFittedError, an AttributeError
        return self.n_latent

    def transform(self, X) -> np.ndarray:
        """Latent means of ``X``, shape (n_samples, n_latent), float64."""
        x = self._as_tensor(X)
        return self.module_.embed(x).numpy().astype(np.float64)

    def reconstruct(self, X) -> np.ndarray:
        """Return the decoder output (probabilities in [0, 1]) at the latent means of ``X``."""
        x = self._as_tensor(X)
        return self.module_.reconstruct(x).numpy().astype(np.float64)

    def reconstruction_error(self, X) -> np.ndarray:
        """Per-sample mean binary cross-entropy between ``X`` and its reconstruction."""
        x = self._as_tensor(X).double()
        p = self.module_.reconstruct(x.float()).double().clamp(1e-7, 1 - 1e-7)
        bce = -(x * p.log() + (1 - x) * (1 - p).log()).mean(dim=1)
        return bce.numpy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.input_tags.positive_only = True
        return tags

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write the configuration (JSON) and the weights (a plain tensor file) to ``directory``.

        The weights are loaded back with ``torch.load(weights_only=True)``: no arbitrary pickles.
        """
        check_is_fitted(self, "module_")
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        params = self.get_params()
        params["random_state"] = self.seed_
        params["encoder_layers"] = list(self.encoder_layers)
        if self.decoder_layers is not None:
            params["decoder_layers"] = list(self.decoder_layers)
        params["device"] = str(params["device"])
        config = {
            "params": params,
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": [str(f) for f in getattr(self, "feature_names_in_", [])] or None,
            "n_epochs": int(self.n_epochs_),
            "best_epoch": getattr(self, "best_epoch_", None),
            "stopped_early": bool(getattr(self, "stopped_early_", False)),
            "engine": getattr(self, "engine_", "unknown"),
            # NaN (no validation loss) is not JSON: written as null, read back as NaN
            "history": {k: [_finite_or_none(v) for v in col]
                        for k, col in self.history_.to_dict(orient="list").items()},
            "torch_version": torch.__version__,
        }
        (d / _CONFIG).write_text(
            json.dumps(config, indent=1, default=_json_default, allow_nan=False)
        )
        torch.save(self.module_.state_dict(), d / _WEIGHTS)
        return d

    @classmethod
    def load(cls, directory: str | Path) -> VAEEmbedder:
        """Load an embedder written by :meth:`save`."""
        d = Path(directory)
        if not (d / _CONFIG).exists():
            raise FileNotFoundError(f"{d / _CONFIG} not found: is {d} a saved VAEEmbedder folder?")
        config = json.loads((d / _CONFIG).read_text())
        params = config["params"]
        params["encoder_layers"] = tuple(params["encoder_layers"])
        if params.get("decoder_layers") is not None:
            params["decoder_layers"] = tuple(params["decoder_layers"])
        est = cls(**params)
        est.seed_ = int(params["random_state"])
        est.n_features_in_ = int(config["n_features_in"])
        if config.get("feature_names_in"):
            est.feature_names_in_ = np.asarray(config["feature_names_in"], dtype=object)
        module = est._build(est.n_features_in_, None)
        state = torch.load(d / _WEIGHTS, map_location="cpu", weights_only=True)
        module.load_state_dict(state)
        module.eval()
        est.module_ = module
        est.device_ = "cpu"
        est.history_ = pd.DataFrame(
            {k: [math.nan if v is None else v for v in col] for k, col in config["history"].items()}
        )
        est.n_epochs_ = int(config["n_epochs"])
        best = config.get("best_epoch")  # absent in folders written before it was kept
        est.best_epoch_ = None if best is None else int(best)
        est.stopped_early_ = bool(config.get("stopped_early", False))
        est.engine_ = config.get("engine", "unknown")
        est.precision_ = _PRECISIONS[est.precision]
        return est


def _finite_or_none(v: Any) -> Any:
    v = v.item() if isinstance(v, np.generic) else v
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, float) and math.isnan(o):
        return None
    return str(o)
