from __future__ import annotations

import lzma
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
#: Full copies of the project's public datasets (xz-compressed, byte for byte as published).
DATASETS = DATA / "datasets"


@pytest.fixture(scope="session")
def shared_data(tmp_path_factory) -> Path:
    """The public datasets, decompressed into a session folder laid out as ``shared/data``.

    Every file is the published file byte for byte (``tests/data/datasets/*/*.xz``); the Alzheimer
    cohort is the copy the package ships.
    """
    from proteolabel import datasets

    out = tmp_path_factory.mktemp("shared_data")
    for folder in sorted(p for p in DATASETS.iterdir() if p.is_dir()):
        dest = out / folder.name
        dest.mkdir()
        for f in folder.iterdir():
            if f.suffix == ".xz":
                (dest / f.stem).write_bytes(lzma.decompress(f.read_bytes()))
            else:
                shutil.copy(f, dest / f.name)
    alz = out / "alzheimer-csf-omiclearn"
    alz.mkdir()
    shutil.copy(datasets.alzheimer_csf_path(), alz / "Alzheimer.xlsx")
    return out
