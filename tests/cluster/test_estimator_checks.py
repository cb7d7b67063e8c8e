import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from proteolabel.cluster import EpsSearch


# The common checks fit without y, which takes the unsupervised path and warns by design.
@pytest.mark.filterwarnings("ignore::proteolabel.cluster.NoTuneSamplesWarning")  # and its subclass DegenerateTuneWarning
@parametrize_with_checks([EpsSearch()])
def test_sklearn_compatible(estimator, check):
    check(estimator)
