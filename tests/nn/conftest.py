"""Shared checks of the hand-written CPU training step."""

import pytest
import torch

from proteolabel.nn._fused_cpu import FusedCPUStep


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
