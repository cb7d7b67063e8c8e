import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from proteolabel.cluster import EpsSearch


# The common checks fit without y (the unsupervised path, which warns by design) or with random
# y on random X (every eps degenerate: the documented fallback, which warns too). The filter
# also covers DegenerateTuneWarning, a subclass.
@pytest.mark.filterwarnings("ignore::proteolabel.cluster.NoTuneSamplesWarning")
@parametrize_with_checks([EpsSearch()])
def test_sklearn_compatible(estimator, check):
    check(estimator)
