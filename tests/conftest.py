from __future__ import annotations

import lzma
import shutil
from pathlib import Path

import pytest
import torch

from proteolabel.nn._fused_cpu import FusedCPUStep

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

def _check_grads(ref, mod, x, idx, beta=0.7, blas="torch", max_batch=None, seed=5):
    """Assert one FusedCPUStep on ``mod`` gives autograd's loss terms and gradients on ``ref``.

    ``ref`` and ``mod`` are copies of one module; returns the step.
    """
    out = ref(x[idx], generator=torch.Generator().manual_seed(seed), beta=beta)
    out.loss.backward()
    step = FusedCPUStep(mod, x, max_batch=max_batch or len(idx), blas=blas)
    loss, rec, kl = step(idx, torch.Generator().manual_seed(seed), beta)
    out = type(out)(*(t.detach() for t in out))
    assert loss == pytest.approx(float(out.loss), rel=1e-5)
    assert rec == pytest.approx(float(out.reconstruction), rel=1e-5)
    assert kl == pytest.approx(float(out.kl), rel=1e-4, abs=1e-6)
    for (name, p_ref), p in zip(ref.named_parameters(), mod.parameters(), strict=True):
        scale = float(p_ref.grad.abs().max()) + 1e-12
        err = float((p_ref.grad - p.grad).abs().max())
        assert err <= 1e-5 * scale, name
    return step


@pytest.fixture
def check_grads():
    """:func:`_check_grads`: the fused step against autograd, loss terms and gradients."""
    return _check_grads
