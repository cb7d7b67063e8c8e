import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from proteolabel.preprocessing import Preprocessor

DATA = Path(__file__).resolve().parents[1] / "data"

BR12 = pd.DataFrame(
    {
        "PX_NORMAL": [1024, 2048, 4096, 8192],
        "PX_CONST": [5000, 5000, 5000, 5000],
        "PX_SINGLE": [800, np.nan, 0, np.nan],
        "PX_ALLZERO": [0, 0, 0, 0],
        "PX_TWOVAL": [300, 300, 1200, np.nan],
    },
    index=["smp_01", "smp_02", "smp_03", "smp_04"],
    dtype=float,
)


# scikit-learn's checks use small random values, mostly <= 1 (log2 <= 0, which the default
# log2 scaling rightly drops as unscalable); the checks run on the linear variant.
@parametrize_with_checks([Preprocessor(log2=False, top_n=None)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_br12_matches_shared_case_file():
    df = pd.read_csv(DATA / "cases" / "BR-12" / "matrix.csv", index_col=0)
    pd.testing.assert_frame_equal(df.astype(float), BR12, check_names=False)


def test_br12_max_scaling():
    p = Preprocessor()
    Z = pd.DataFrame(p.fit_transform(BR12), index=BR12.index, columns=p.get_feature_names_out())
    assert list(Z.columns) == ["PX_NORMAL", "PX_CONST", "PX_SINGLE", "PX_TWOVAL"]
    np.testing.assert_allclose(Z["PX_NORMAL"], [10 / 13, 11 / 13, 12 / 13, 1.0])
    r = math.log2(300) / math.log2(1200)
    assert r == pytest.approx(0.804474, abs=1e-6)
    np.testing.assert_allclose(Z["PX_TWOVAL"], [r, r, 1.0, 0.0])  # missing -> fill 0
    np.testing.assert_allclose(Z["PX_CONST"], 1.0)
    np.testing.assert_allclose(Z["PX_SINGLE"], [1.0, 0.0, 0.0, 0.0])
    assert np.isfinite(Z.to_numpy()).all()
    assert (Z.to_numpy() >= 0).all() and (Z.to_numpy() <= 1).all()
    rep = p.report_
    assert rep["dropped"] == {"no_observations": 1}
    drop = next(s for s in rep["steps"] if s["step"] == "drop_unscalable")
    assert drop["proteins"]["no_observations"] == ["PX_ALLZERO"]


def test_br12_no_runtime_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Preprocessor().fit_transform(BR12)
        Preprocessor(scale="minmax").fit(BR12.drop(columns=["PX_CONST", "PX_SINGLE"]))


def test_br12_min_observations_option_drops_single_value_proteins():
    p = Preprocessor(min_observations=2).fit(BR12)
    assert "PX_SINGLE" not in p.get_feature_names_out()
    assert p.report_["dropped"]["too_few_observations"] == 1


def test_br12_minmax_scaling_and_zero_is_data():
    p = Preprocessor(scale="minmax")
    with pytest.warns(UserWarning, match="max == min"):
        Z = p.fit_transform(BR12)
    names = list(p.get_feature_names_out())
    assert names == ["PX_NORMAL", "PX_TWOVAL"]
    assert p.report_["dropped"] == {"no_observations": 1, "no_variance": 2}
    np.testing.assert_allclose(Z[:, 0], [0, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(Z[:, 1], [0, 0, 1, 0])
    # the scaled minimum is data, not missing: it is not counted as filled
    fill = next(s for s in p.report_["steps"] if s["step"] == "fill_missing")
    assert fill["n_filled"] == 1  # only PX_TWOVAL in smp_04


def test_non_positive_max_is_dropped_not_divided():
    X = pd.DataFrame({"A": [0.5, 0.25, 1.0], "B": [100.0, 200.0, 400.0]})
    p = Preprocessor()
    Z = p.fit_transform(X)
    assert list(p.get_feature_names_out()) == ["B"]
    assert p.report_["dropped"] == {"non_positive_max": 1}
    assert np.isfinite(Z).all()


def test_threshold_zeroes_low_values_and_counts_them():
    X = pd.DataFrame({"A": [2.0, 2.0**20, 2.0**0.5]})  # log2: 1, 20, 0.5 -> 0.05, 1, 0.025
    p = Preprocessor()
    Z = p.fit_transform(X)
    np.testing.assert_allclose(Z[:, 0], [0.05, 1.0, 0.0])
    thr = next(s for s in p.report_["steps"] if s["step"] == "threshold")
    assert thr["n_set_to_zero"] == 1


def test_top_n_keeps_most_abundant_in_input_order():
    X = pd.DataFrame({"low": [10.0, 12.0], "high": [1e6, 2e6], "mid": [1e3, np.nan], "mid2": [900.0, 1e3]})
    p = Preprocessor(top_n=2)
    p.fit(X)
    # mean with missing as 0: low 11, high 1.5e6, mid 500, mid2 950
    assert list(p.get_feature_names_out()) == ["high", "mid2"]
    assert p.report_["dropped"] == {"not_in_top_n": 2}


def test_transform_new_data_uses_training_maxima_and_clips():
    X = pd.DataFrame({"A": [2.0**4, 2.0**8], "B": [2.0**10, 2.0**5]})
    p = Preprocessor().fit(X)
    new = pd.DataFrame({"A": [2.0**16, np.nan], "B": [2.0**5, 2.0**10]})
    Z, rep = p.transform_with_report(new)
    np.testing.assert_allclose(Z, [[1.0, 0.5], [0.0, 1.0]])
    np.testing.assert_array_equal(Z, p.transform(new))
    assert rep["n_clipped"] == 1
    assert rep["n_filled"] == 1


def test_round_trip_through_dict():
    p = Preprocessor(top_n=3).fit(BR12)
    q = Preprocessor.from_dict(p.to_dict())
    np.testing.assert_array_equal(p.transform(BR12), q.transform(BR12))
    assert list(q.get_feature_names_out()) == list(p.get_feature_names_out())


def test_infinite_input_is_an_error_naming_the_protein():
    X = pd.DataFrame({"A": [1.0, np.inf], "B": [3.0, 4.0]})
    with pytest.raises(ValueError, match="'A' in sample 1"):
        Preprocessor().fit(X)
