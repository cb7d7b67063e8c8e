from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
CASES = DATA / "cases"


def locate_shared() -> Path | None:
    """The project's shared folder: $PROTEOLABEL_SHARED, else ../shared beside the clone."""
    candidates = []
    if os.environ.get("PROTEOLABEL_SHARED"):
        candidates.append(Path(os.environ["PROTEOLABEL_SHARED"]))
    candidates.append(Path(__file__).resolve().parents[2].parent / "shared")
    for cand in candidates:
        if (cand / "data").is_dir():
            return cand
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    found = locate_shared()
    if found is None:
        pytest.skip("the shared datasets (../shared/data or $PROTEOLABEL_SHARED) are not present")
    return found / "data"
