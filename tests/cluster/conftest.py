from __future__ import annotations

import pytest
from _synthetic import blobs_and_stripes


@pytest.fixture(scope="module")
def latent():
    return blobs_and_stripes()
