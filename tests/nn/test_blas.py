import torch

from proteolabel.nn import VAEModule
from proteolabel.nn._blas import NumpyBlasLinear, use_numpy_blas


def test_numpy_linear_matches_torch_forward_and_gradients():
    g = torch.Generator().manual_seed(0)
    a = VAEModule(30, encoder_layers=(12, 6), generator=g)
    b = VAEModule(30, encoder_layers=(12, 6))
    b.load_state_dict(a.state_dict())
    use_numpy_blas(b)
    assert sum(isinstance(m, NumpyBlasLinear) for m in b.modules()) == 6
    x = torch.rand(17, 30, generator=g)
    la = a(x, generator=torch.Generator().manual_seed(1)).loss
    lb = b(x, generator=torch.Generator().manual_seed(1)).loss
    la.backward()
    lb.backward()
    torch.testing.assert_close(la, lb)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-4, atol=1e-5)
    use_numpy_blas(b, enable=False)
    assert not any(isinstance(m, NumpyBlasLinear) for m in b.modules())


def test_numpy_linear_gradcheck_double_falls_back_to_torch():
    lin = NumpyBlasLinear(4, 3).double()
    x = torch.rand(5, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lin, (x,))
