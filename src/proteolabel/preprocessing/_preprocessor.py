"""``Preprocessor``: log2, per-protein scaling to [0, 1], low-value zeroing, fill, top-N."""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

_MAX_LISTED = 50


def _refuse_infinite(X) -> None:
    """Raise an error naming the protein and sample of the first infinite intensity."""
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        num = X.select_dtypes("number")
        bad = np.isinf(num.to_numpy(dtype=float))
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise ValueError(
                f"intensity of protein {num.columns[c]!r} in sample {num.index[r]!r} is infinite; "
                "intensities must be finite (or missing)"
            )
        return
    arr = np.asarray(X)
    if arr.dtype.kind == "f" and np.isinf(arr).any():
        r, c = np.argwhere(np.isinf(arr))[0]
        raise ValueError(
            f"intensity in row {r}, column {c} is infinite; intensities must be finite (or missing)"
        )


class Preprocessor(TransformerMixin, BaseEstimator):
    """Turn linear intensities (NaN = missing) into the VAE's [0, 1] input, as the method does.

    Steps, in order, each recorded in ``report_``:

    1. **missing**: values that are NaN, 0 or negative count as missing (readers already map
       0, blank and tokens such as ``#N/A`` to NaN).
    2. **log2** of the positive values (``log2=True``).
    3. **drop**: proteins that cannot be scaled are dropped and counted by reason:
       ``no_observations`` (never observed), ``too_few_observations`` (fewer than
       ``min_observations``), ``non_positive_max`` (largest log2 value <= 0, i.e. every intensity
       <= 1, so dividing by it would flip or blow up), and with ``scale="minmax"``
       ``no_variance`` (max == min: one value, or a constant).
    4. **scale** each protein: ``"max"`` (the method) divides by the protein's maximum over the
       training samples; ``"minmax"`` maps [min, max] to [0, 1]. A protein's scaled 0 is data,
       not missing.
    5. **threshold**: scaled values below ``low_value_threshold`` (0.05, the method) are set to 0.
    6. **fill** missing values with ``fill_value`` (0, the method's choice: a protein that was
       not seen reads as "absent"; this mixes "not detected" with "lowest abundance", which is
       why the share of filled values is reported).
    7. **top_n**: keep the ``top_n`` most abundant proteins (1296, the method; all if fewer),
       ranked by mean linear intensity over the training samples with missing counted as 0
       (high and consistently detected proteins first; ties broken by input order).

    On new data (``transform`` after ``fit``) the learned per-protein maxima (and minima) are
    reused; values that land outside [0, 1] are clipped and counted in ``transform_report_``.

    Parameters
    ----------
    log2
        Take log2 of the intensities before scaling (the method: True).
    scale
        ``"max"`` or ``"minmax"``.
    low_value_threshold
        Scaled values under this become 0 (``0`` disables the step).
    fill_value
        Value for missing cells after scaling, within [0, 1].
    top_n
        Number of proteins to keep; ``None`` keeps all.
    min_observations
        Proteins observed in fewer training samples are dropped (1 keeps every protein seen
        at least once, as the method does).

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Set when ``X`` is a DataFrame with string column names.
    keep_ : ndarray of bool, shape (n_features_in_,)
        Which input proteins are in the output.
    selected_ : ndarray of int
        Input column indices of the output proteins, in output order (input order).
    scale_max_ : ndarray of float, shape (n_selected,)
        Per-protein maximum (log2 scale when ``log2``) of the output proteins.
    scale_min_ : ndarray of float, shape (n_selected,)
        Per-protein minimum (used by ``"minmax"``; 0 for ``"max"``).
    abundance_ : ndarray of float, shape (n_features_in_,)
        Mean linear intensity with missing as 0, used for the top-N ranking.
    n_observed_ : ndarray of int, shape (n_features_in_,)
        Samples in which each input protein was observed.
    report_ : dict
        The steps and their counts, JSON-serialisable.

    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "log2": ["boolean"],
        "scale": [StrOptions({"max", "minmax"})],
        "low_value_threshold": [Interval(Real, 0, 1, closed="both")],
        "fill_value": [Interval(Real, 0, 1, closed="both")],
        "top_n": [Interval(Integral, 1, None, closed="left"), None],
        "min_observations": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        log2: bool = True,
        scale: str = "max",
        low_value_threshold: float = 0.05,
        fill_value: float = 0.0,
        top_n: int | None = 1296,
        min_observations: int = 1,
    ):
        self.log2 = log2
        self.scale = scale
        self.low_value_threshold = low_value_threshold
        self.fill_value = fill_value
        self.top_n = top_n
        self.min_observations = min_observations

    def _names(self, n: int) -> np.ndarray:
        names = getattr(self, "feature_names_in_", None)
        return np.asarray(names, dtype=object) if names is not None else np.array(
            [f"x{i}" for i in range(n)], dtype=object
        )

    def _to_log(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (values on the working scale with NaN for missing, observed mask)."""
        observed = np.isfinite(X) & (X > 0)
        V = np.full(X.shape, np.nan)
        if self.log2:
            np.log2(X, out=V, where=observed)
        else:
            V[observed] = X[observed]
        return V, observed

    def fit(self, X, y=None):
        """Learn which proteins to keep and their scale from training intensities.

        Parameters
        ----------
        X
            Linear intensities, shape (n_samples, n_proteins); NaN, 0 and negatives are missing.
        y
            Ignored.

        Returns
        -------
        self

        """
        self._fit(X)
        return self

    def _fit(self, X) -> np.ndarray:
        self._validate_params()
        _refuse_infinite(X)
        if hasattr(X, "columns") and len(X.columns) == 0:
            # (scikit-learn's own check fails on a DataFrame without columns, unclearly)
            raise ValueError(
                f"Found array with 0 feature(s) (shape=({len(X)}, 0)) while a minimum of 1 is "
                "required: the data has no protein columns, nothing to preprocess. Every "
                "protein of the input was missing in every sample, or was dropped when reading "
                "(see the reader's counts: `proteolabel inspect FILE`)"
            )
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        n, p = X.shape
        names = self._names(p)
        V, observed = self._to_log(X)
        n_obs = observed.sum(axis=0)
        self.n_observed_ = n_obs
        steps: list[dict[str, Any]] = []
        n_cells = int(n * p)
        n_nan = int(np.isnan(X).sum())
        n_nonpos = int((np.isfinite(X) & (X <= 0)).sum())
        steps.append({
            "step": "missing",
            "description": "NaN, 0 and negative intensities are missing",
            "n_missing": int(n_cells - observed.sum()),
            "n_nan": n_nan,
            "n_zero_or_negative": n_nonpos,
            "fraction_missing": float((n_cells - observed.sum()) / max(n_cells, 1)),
        })
        if self.log2:
            steps.append({"step": "log2", "description": "log2 of positive intensities"})

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: handled below
            vmax = np.nanmax(np.where(observed, V, -np.inf), axis=0)
            vmin = np.nanmin(np.where(observed, V, np.inf), axis=0)
        reasons = np.full(p, "", dtype=object)
        reasons[n_obs == 0] = "no_observations"
        reasons[(reasons == "") & (n_obs < self.min_observations)] = "too_few_observations"
        if self.scale == "max":
            reasons[(reasons == "") & (vmax <= 0)] = "non_positive_max"
        else:
            reasons[(reasons == "") & (vmax <= vmin)] = "no_variance"
        scalable = reasons == ""
        dropped: dict[str, int] = {}
        dropped_names: dict[str, list[str]] = {}
        for r in ("no_observations", "too_few_observations", "non_positive_max", "no_variance"):
            m = reasons == r
            if m.any():
                dropped[r] = int(m.sum())
                dropped_names[r] = [str(s) for s in names[m][:_MAX_LISTED]]
        steps.append({
            "step": "drop_unscalable",
            "description": "proteins that cannot be scaled are dropped",
            "n_dropped": int((~scalable).sum()),
            "by_reason": dropped,
            "proteins": dropped_names,
        })
        if dropped.get("no_variance"):
            warnings.warn(
                f"{dropped['no_variance']} protein(s) have a single distinct value (max == min) "
                f"and cannot be min-max scaled; they were dropped: "
                f"{', '.join(dropped_names['no_variance'][:5])}",
                UserWarning,
                stacklevel=3,
            )

        abundance = np.where(observed, np.nan_to_num(X, nan=0.0), 0.0).mean(axis=0)
        self.abundance_ = abundance
        candidates = np.flatnonzero(scalable)
        if self.top_n is not None and candidates.size > self.top_n:
            order = np.argsort(-abundance[candidates], kind="stable")
            chosen = np.sort(candidates[order[: self.top_n]])
        else:
            chosen = candidates
        if chosen.size == 0:
            raise ValueError(
                "no protein is left after dropping the ones that cannot be scaled "
                f"({dropped}); check that the input holds intensities on a linear scale"
            )
        self.selected_ = chosen
        self.keep_ = np.zeros(p, dtype=bool)
        self.keep_[chosen] = True
        self.scale_max_ = vmax[chosen].astype(np.float64)
        self.scale_min_ = (vmin[chosen] if self.scale == "minmax" else np.zeros(chosen.size)).astype(
            np.float64
        )
        steps.append({
            "step": "scale",
            "method": self.scale,
            "description": (
                "each protein divided by its maximum over samples"
                if self.scale == "max"
                else "each protein mapped from [min, max] to [0, 1]"
            ),
        })
        Z, n_low, n_fill, _ = self._scale(V[:, chosen], observed[:, chosen])
        steps.append({
            "step": "threshold",
            "value": float(self.low_value_threshold),
            "description": f"scaled values below {self.low_value_threshold} set to 0",
            "n_set_to_zero": n_low,
        })
        steps.append({
            "step": "fill_missing",
            "value": float(self.fill_value),
            "description": f"missing values set to {self.fill_value}",
            "n_filled": n_fill,
            "fraction_filled": float(n_fill / max(Z.size, 1)),
        })
        n_not_top = int(candidates.size - chosen.size)
        steps.append({
            "step": "top_n",
            "n": self.top_n,
            "ranked_by": "mean linear intensity over samples, missing counted as 0",
            "n_kept": int(chosen.size),
            "n_dropped": n_not_top,
        })
        self.report_ = {
            "n_samples": int(n),
            "n_proteins_in": int(p),
            "n_proteins_out": int(chosen.size),
            "dropped": {**dropped, **({"not_in_top_n": n_not_top} if n_not_top else {})},
            "steps": steps,
        }
        return Z

    def _scale(
        self, V: np.ndarray, observed: np.ndarray
    ) -> tuple[np.ndarray, int, int, int]:
        span = self.scale_max_ - self.scale_min_
        Z = np.zeros(V.shape)
        np.divide(V - self.scale_min_, span, out=Z, where=observed)
        n_clipped = int(((Z < 0) | (Z > 1))[observed].sum()) if self.scale == "minmax" else int(
            (Z > 1)[observed].sum()
        )
        low = observed & (Z < self.low_value_threshold)
        Z[low] = 0.0
        np.clip(Z, 0.0, 1.0, out=Z)
        Z[~observed] = self.fill_value
        return Z, int(low.sum()), int((~observed).sum()), n_clipped

    def fit_transform(self, X, y=None):
        """Fit and return the scaled training matrix, shape (n_samples, n_selected)."""
        return self._fit(X)

    def transform(self, X) -> np.ndarray:
        """Apply the learned selection and scaling to new intensities."""
        return self.transform_with_report(X)[0]

    def transform_with_report(self, X) -> tuple[np.ndarray, dict[str, int]]:
        """Like :meth:`transform`, also returning counts of zeroed, filled and clipped values."""
        check_is_fitted(self, "selected_")
        _refuse_infinite(X)
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False)
        V, observed = self._to_log(X[:, self.selected_])
        Z, n_low, n_fill, n_clip = self._scale(V, observed)
        report = {
            "n_samples": int(X.shape[0]),
            "n_set_to_zero": n_low,
            "n_filled": n_fill,
            "n_clipped": n_clip,
        }
        return Z, report

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the kept proteins, in output order."""
        check_is_fitted(self, "selected_")
        names = self._names(self.n_features_in_) if input_features is None else np.asarray(
            input_features, dtype=object
        )
        return names[self.selected_]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # -- persistence (plain JSON: no pickles) -----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return the parameters and everything learned in ``fit`` as JSON-serialisable values."""
        check_is_fitted(self, "selected_")
        return {
            "params": self.get_params(),
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": [str(s) for s in self._names(self.n_features_in_)],
            "selected": [int(i) for i in self.selected_],
            "scale_max": [float(v) for v in self.scale_max_],
            "scale_min": [float(v) for v in self.scale_min_],
            "report": self.report_,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Preprocessor:
        """Rebuild a fitted preprocessor from :meth:`to_dict`'s output."""
        est = cls(**state["params"])
        est.n_features_in_ = int(state["n_features_in"])
        est.feature_names_in_ = np.asarray(state["feature_names_in"], dtype=object)
        est.selected_ = np.asarray(state["selected"], dtype=np.intp)
        est.keep_ = np.zeros(est.n_features_in_, dtype=bool)
        est.keep_[est.selected_] = True
        est.scale_max_ = np.asarray(state["scale_max"], dtype=np.float64)
        est.scale_min_ = np.asarray(state["scale_min"], dtype=np.float64)
        est.report_ = state.get("report", {})
        return est
