import numpy as np
import pytest
from scipy.special import expit
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import validate_data

from proteolabel.models import VAEEmbedder

# Checks that feed values outside [0, 1] (or NaN/inf) to fit: the VAE's binary cross-entropy
# needs inputs within [0, 1], so VAEEmbedder refuses them with a ValueError on purpose.
_OUT_OF_RANGE = "VAEEmbedder needs inputs within [0, 1] (binary cross-entropy) and refuses others"


def _expected_failures(est):
    # Each of these checks fits on data outside [0, 1] (measured: every failure is the
    # "X must lie within [0, 1]" ValueError); VAEEmbedder refuses such data on purpose.
    names = [
        "check_dict_unchanged",
        "check_dont_overwrite_parameters",
        "check_estimators_dtypes",
        "check_estimators_fit_returns_self",
        "check_estimators_overwrite_params",
        "check_estimators_pickle",
        "check_estimators_pickle(readonly_memmap=True)",
        "check_f_contiguous_array_estimator",
        "check_fit2d_1feature",
        "check_fit2d_predict1d",
        "check_fit_check_is_fitted",
        "check_fit_idempotent",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
        "check_pipeline_consistency",
        "check_readonly_memmap_input",
        "check_transformer_data_not_an_array",
        "check_transformer_general",
        "check_transformer_general(readonly_memmap=True)",
        "check_transformer_preserve_dtypes",
    ]
    return {n: _OUT_OF_RANGE for n in names}


@parametrize_with_checks(
    [VAEEmbedder(epochs=2, batch_size=8, encoder_layers=(8,), random_state=0)],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


class _SquashedInputVAE(VAEEmbedder):
    """VAEEmbedder with its input mapped into [0, 1] by a logistic function (tests only).

    scikit-learn's common checks feed arbitrary real values, which VAEEmbedder rightly refuses
    (above). With this one-line input map, every check runs against the rest of the estimator
    (validation, fitted attributes, pickling, idempotence, sample-order and subset invariance,
    feature counts, dtypes) and must pass: none is expected to fail.
    """

    def _validate_input(self, X, reset):
        X = validate_data(self, X, dtype=np.float32, reset=reset,
                          **({"ensure_min_samples": 2} if reset else {}))
        return expit(X).astype(np.float32)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = False  # any real input is mapped into [0, 1]
        return tags


@parametrize_with_checks([_SquashedInputVAE(epochs=2, batch_size=8, encoder_layers=(8,), random_state=0)])
def test_sklearn_checks_pass_on_unit_interval_input(estimator, check):
    check(estimator)


def _data(n=60, p=30, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.random((3, p))
    y = np.repeat(np.arange(3), n // 3)
    X = np.clip(centres[y] + 0.05 * rng.standard_normal((n, p)), 0, 1).astype(np.float32)
    return X, y


def test_same_seed_same_latent_different_seed_different():
    X, _ = _data()
    a = VAEEmbedder(epochs=15, random_state=3).fit(X).transform(X)
    b = VAEEmbedder(epochs=15, random_state=3).fit(X).transform(X)
    c = VAEEmbedder(epochs=15, random_state=4).fit(X).transform(X)
    assert a.shape == (60, 2)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_rejects_input_outside_unit_interval_and_nan():
    X, _ = _data()
    with pytest.raises(ValueError, match=r"within \[0, 1\]"):
        VAEEmbedder(epochs=1).fit(X * 3)
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"non-finite|NaN"):
        VAEEmbedder(epochs=1).fit(X)


def test_latent_separates_clear_groups():
    from sklearn.metrics import silhouette_score

    X, y = _data(n=150, p=40)
    Z = VAEEmbedder(epochs=150, random_state=0).fit(X).transform(X)
    assert silhouette_score(Z, y) > 0.5


def test_save_load_round_trip(tmp_path):
    X, _ = _data()
    est = VAEEmbedder(epochs=5, random_state=1).fit(X)
    est.save(tmp_path / "m")
    again = VAEEmbedder.load(tmp_path / "m")
    np.testing.assert_array_equal(est.transform(X), again.transform(X))
    assert again.get_params()["epochs"] == 5
