"""``MLPLabelClassifier``: a fully connected neural network classifier (scikit-learn API)."""

from __future__ import annotations

import copy
import json
import math
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from proteolabel._utils import seed_from_random_state
from proteolabel.models._vae import resolve_device
from proteolabel.nn._classifier import ClassifierHistory, ClassifierModule, train_classifier

#: The fewest validation samples early stopping is used with (and at least one per class).
MIN_VALIDATION_SAMPLES = 10

_CONFIG = "classifier_config.json"
_WEIGHTS = "classifier_weights.pt"


def stratified_holdout(
    y: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (train, validation), taking ``round(fraction * n_c)`` of each class.

    Each class keeps at least one sample in the training part, so a class with a single sample
    is never validated on. Both parts are returned sorted.
    """
    val: list[np.ndarray] = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        k = min(round(fraction * idx.size), idx.size - 1)
        if k > 0:
            val.append(rng.choice(idx, size=k, replace=False))
    v = np.sort(np.concatenate(val)) if val else np.empty(0, dtype=np.intp)
    mask = np.ones(y.size, dtype=bool)
    mask[v] = False
    return np.flatnonzero(mask), v


class MLPLabelClassifier(ClassifierMixin, BaseEstimator):
    """Fully connected neural-network classifier (PyTorch) with early stopping and class weights.

    Built to learn the cluster labels of a run from the preprocessed protein matrix and to label
    new samples, but it is a general classifier for dense numeric data.

    The network is ``n_features -> hidden_layers[0] -> ... -> n_classes`` with ReLU and dropout
    after each hidden layer, trained with AdamW (decoupled weight decay) on the class-weighted
    cross-entropy. A stratified ``validation_fraction`` of the samples is held out; the weights
    of the epoch with the lowest validation loss are kept, and training stops early once that
    loss has not improved for ``early_stopping_patience`` epochs. The validation set is used only
    when it holds at least :data:`MIN_VALIDATION_SAMPLES` (10) samples and every class (a
    stratified share of small clusters gives a few samples, on which the "best" epoch is chance);
    otherwise all ``epochs`` run on every sample and the last weights are kept.
    ``n_validation_`` is then 0 and ``validation_note_`` says why.

    Parameters
    ----------
    hidden_layers
        Widths of the hidden layers (an empty tuple gives a linear softmax model).
    dropout
        Dropout probability after each hidden layer, in [0, 1).
    weight_decay
        AdamW's decoupled weight decay (L2-like regularisation).
    epochs
        Maximum number of passes over the training data.
    batch_size
        Samples per optimisation step.
    learning_rate
        AdamW's learning rate.
    validation_fraction
        Share of each class held out for early stopping (0: none, all samples train).
    early_stopping_patience
        Epochs without improvement of the validation loss before stopping (``None``: run all
        epochs, still keeping the best validation epoch's weights).
    class_weight
        ``"balanced"`` (weights inversely proportional to class frequencies, as scikit-learn
        computes them), a dict ``{class: weight}`` (absent classes weigh 1) or ``None``.
    device
        ``"auto"`` (a CUDA GPU when present, else the CPU), ``"cpu"``, ``"cuda"`` or
        ``"cuda:N"``. Prediction always runs on the CPU.
    random_state
        Seed of the weight initialisation, the validation split, the batch order and the
        dropout masks. The same seed gives the same model on the same machine, library versions
        and device.
    verbose
        Show a progress bar with the running losses.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
    module_ : proteolabel.nn._classifier.ClassifierModule
        The trained network (on the CPU after fitting).
    history_ : pandas.DataFrame
        One row per epoch: ``loss``, ``val_loss``, ``val_accuracy``, ``seconds``.
    n_iter_ : int
        Epochs actually run.
    best_epoch_ : int or None
        Epoch whose weights were kept (``None`` without validation: the last).
    stopped_early_ : bool
        Whether training stopped before ``epochs``.
    n_validation_ : int
        Samples held out for validation.
    validation_note_ : str
        Whether a validation set was used, and why not when it was not.
    class_weight_ : ndarray of shape (n_classes,)
        The per-class loss weights used.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of str
        Feature names, when ``X`` was a DataFrame with string column names.
    seed_ : int
        The integer seed drawn from ``random_state``.
    device_ : str
        The device the network was trained on.

    Notes
    -----
    Probabilities are computed in float64 on the CPU from the trained (float32) weights, so
    that a sample's prediction does not depend on which other samples are predicted with it.

    Examples
    --------
    >>> import numpy as np
    >>> from proteolabel.models import MLPLabelClassifier  # doctest: +SKIP
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(0, 1, (40, 5)), rng.normal(3, 1, (40, 5))])
    >>> y = np.repeat(["a", "b"], 40)
    >>> clf = MLPLabelClassifier(epochs=50, random_state=0).fit(X, y)  # doctest: +SKIP
    >>> clf.score(X, y) > 0.9  # doctest: +SKIP
    True

    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "hidden_layers": [tuple, list],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "early_stopping_patience": [Interval(Integral, 1, None, closed="left"), None],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["boolean"],
    }

    def __init__(
        self,
        hidden_layers: tuple[int, ...] = (128, 32),
        dropout: float = 0.2,
        weight_decay: float = 1e-4,
        epochs: int = 300,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        validation_fraction: float = 0.15,
        early_stopping_patience: int | None = 30,
        class_weight: str | dict | None = "balanced",
        device: str = "auto",
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = False,
    ):
        self.hidden_layers = hidden_layers
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.early_stopping_patience = early_stopping_patience
        self.class_weight = class_weight
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # -- fitting -----------------------------------------------------------------------------
    def _build(self, n_input: int, n_classes: int, generator: torch.Generator | None):
        return ClassifierModule(
            n_input, n_classes, hidden_layers=tuple(int(h) for h in self.hidden_layers),
            dropout=self.dropout, generator=generator,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the network on ``X`` (samples x features) and class labels ``y``.

        Parameters
        ----------
        X
            Array-like of shape (n_samples, n_features), finite.
        y
            Array-like of shape (n_samples,): class labels (at least two distinct).

        Returns
        -------
        self

        """
        if any(not isinstance(h, Integral) or isinstance(h, bool) or h < 1
               for h in self.hidden_layers):
            raise ValueError(
                f"hidden_layers must be positive integers, got {tuple(self.hidden_layers)!r}"
            )
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2)
        check_classification_targets(y)
        classes, y_idx = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(
                "MLPLabelClassifier needs samples of at least 2 classes, but the data contains "
                f"only one class: {classes[0]!r}"
            )
        self.classes_ = classes
        self.class_weight_ = compute_class_weight(self.class_weight, classes=classes, y=y)
        self.seed_ = seed_from_random_state(self.random_state)
        device = resolve_device(self.device)
        gen_cpu = torch.Generator().manual_seed(self.seed_)
        module = self._build(X.shape[1], classes.size, gen_cpu).to(device)
        gen = gen_cpu if device.type == "cpu" else torch.Generator(device).manual_seed(self.seed_)

        rng = np.random.default_rng(self.seed_)
        train_idx, val_idx = np.arange(y_idx.size), np.empty(0, dtype=np.intp)
        self.validation_note_ = "validation_fraction=0: no validation set"
        if self.validation_fraction > 0:
            tr, va = stratified_holdout(y_idx, self.validation_fraction, rng)
            n_min = max(MIN_VALIDATION_SAMPLES, classes.size)
            if va.size >= n_min and np.unique(y_idx[va]).size == classes.size:
                train_idx, val_idx = tr, va
                self.validation_note_ = (
                    f"{va.size} samples held out (stratified) for early stopping")
            else:
                # Early stopping on a handful of samples picks an epoch by noise and keeps a
                # barely trained network: train on every sample for all epochs instead.
                self.validation_note_ = (
                    f"no validation set: a stratified {self.validation_fraction} share would "
                    f"hold {va.size} samples and {np.unique(y_idx[va]).size} of {classes.size} "
                    f"classes (needs at least {n_min} samples and every class); every sample "
                    "trained on, the last epoch's weights kept"
                )

        def tensor(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
            return torch.tensor(a, dtype=dtype, device=device)  # copies: safe for read-only X

        x_val = tensor(X[val_idx], torch.float32) if val_idx.size else None
        y_val = tensor(y_idx[val_idx], torch.long) if val_idx.size else None
        self.module_ = module
        self.device_ = str(device)
        try:
            hist = train_classifier(
                module,
                tensor(X[train_idx], torch.float32),
                tensor(y_idx[train_idx], torch.long),
                epochs=self.epochs,
                batch_size=self.batch_size,
                learning_rate=self.learning_rate,
                weight_decay=self.weight_decay,
                class_weight=torch.tensor(self.class_weight_, dtype=torch.float32),
                x_val=x_val,
                y_val=y_val,
                early_stopping_patience=self.early_stopping_patience,
                generator=gen,
                progress=self.verbose,
            )
        finally:
            module.to("cpu")
        self.n_validation_ = int(val_idx.size)
        self._set_history(hist)
        return self

    def _set_history(self, hist: ClassifierHistory) -> None:
        self.history_ = pd.DataFrame(hist.as_dict())
        self.n_iter_ = len(hist.loss)
        self.best_epoch_ = hist.best_epoch
        self.stopped_early_ = hist.stopped_early

    # -- using -------------------------------------------------------------------------------
    def predict_proba(self, X) -> np.ndarray:
        """Predict class probabilities, shape (n_samples, n_classes), in ``classes_`` order."""
        check_is_fitted(self, "module_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        net = copy.deepcopy(self.module_).to("cpu", torch.float64).eval()
        logits = net.predict_logits(torch.tensor(X, dtype=torch.float64))
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        """Predict the most probable class of each sample, shape (n_samples,)."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_log_proba(self, X) -> np.ndarray:
        """Predict the log of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write the configuration (JSON) and the weights (a plain tensor file) to ``directory``.

        Files: ``classifier_config.json`` and ``classifier_weights.pt``. The weights are loaded
        back with ``torch.load(weights_only=True)``: no arbitrary pickles. Class labels are kept
        as integers, floats, booleans or strings (other objects come back as strings).
        """
        check_is_fitted(self, "module_")
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        params = self.get_params()
        params["random_state"] = self.seed_
        params["hidden_layers"] = [int(h) for h in self.hidden_layers]
        params["device"] = str(params["device"])
        cw = params.pop("class_weight")
        kind, classes = _encode_classes(self.classes_)
        config = {
            "params": params,
            "class_weight": (
                {"pairs": [[_plain(k), float(v)] for k, v in cw.items()]}
                if isinstance(cw, dict) else cw
            ),
            "classes": classes,
            "classes_kind": kind,
            "class_weight_used": [float(w) for w in self.class_weight_],
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": [str(f) for f in getattr(self, "feature_names_in_", [])] or None,
            "n_iter": int(self.n_iter_),
            "best_epoch": self.best_epoch_,
            "stopped_early": bool(self.stopped_early_),
            "n_validation": int(self.n_validation_),
            "validation_note": getattr(self, "validation_note_", ""),
            "device": self.device_,
            "history": {k: [_finite_or_none(v) for v in col]
                        for k, col in self.history_.to_dict(orient="list").items()},
            "torch_version": torch.__version__,
        }
        (d / _CONFIG).write_text(json.dumps(config, indent=1))
        torch.save(self.module_.state_dict(), d / _WEIGHTS)
        return d

    @classmethod
    def load(cls, directory: str | Path) -> MLPLabelClassifier:
        """Load a classifier written by :meth:`save`."""
        d = Path(directory)
        if not (d / _CONFIG).exists():
            raise FileNotFoundError(
                f"{d / _CONFIG} not found: is {d} a saved MLPLabelClassifier folder?"
            )
        config = json.loads((d / _CONFIG).read_text())
        params = dict(config["params"])
        params["hidden_layers"] = tuple(params["hidden_layers"])
        cw = config["class_weight"]
        params["class_weight"] = (
            {_key(k): v for k, v in cw["pairs"]} if isinstance(cw, dict) else cw
        )
        est = cls(**params)
        est.seed_ = int(params["random_state"])
        est.classes_ = _decode_classes(config["classes_kind"], config["classes"])
        est.class_weight_ = np.asarray(config["class_weight_used"], dtype=np.float64)
        est.n_features_in_ = int(config["n_features_in"])
        if config.get("feature_names_in"):
            est.feature_names_in_ = np.asarray(config["feature_names_in"], dtype=object)
        module = est._build(est.n_features_in_, est.classes_.size, None)
        state = torch.load(d / _WEIGHTS, map_location="cpu", weights_only=True)
        module.load_state_dict(state)
        module.eval()
        est.module_ = module
        est.device_ = config.get("device", "cpu")
        est.history_ = pd.DataFrame(
            {k: [math.nan if v is None else v for v in col]
             for k, col in config["history"].items()}
        )
        est.n_iter_ = int(config["n_iter"])
        est.best_epoch_ = config["best_epoch"]
        est.stopped_early_ = bool(config["stopped_early"])
        est.n_validation_ = int(config["n_validation"])
        est.validation_note_ = config.get("validation_note", "")
        return est


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _key(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def _finite_or_none(v: Any) -> Any:
    v = _plain(v)
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _encode_classes(classes: np.ndarray) -> tuple[str, list[Any]]:
    k = classes.dtype.kind
    if k == "b":
        return "bool", [bool(c) for c in classes]
    if k in "iu":
        return "int", [int(c) for c in classes]
    if k == "f":
        return "float", [float(c) for c in classes]
    return "str", [str(c) for c in classes]


def _decode_classes(kind: str, values: list[Any]) -> np.ndarray:
    if kind == "bool":
        return np.asarray(values, dtype=bool)
    if kind == "int":
        return np.asarray(values, dtype=np.int64)
    if kind == "float":
        return np.asarray(values, dtype=np.float64)
    return np.asarray(values, dtype=object)
