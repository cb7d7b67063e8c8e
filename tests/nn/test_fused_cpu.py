"""The hand-written CPU training step computes what autograd computes."""

import copy

import numpy as np
import pytest
import torch

from proteolabel.models import VAEEmbedder
from proteolabel.nn import VAEModule, train_vae
from proteolabel.nn._fused_cpu import (
    FLUSH_EVERY,
    FlatAdam,
    FlatParameters,
    FusedCPUStep,
    bf16_products_supported,
    flush_tiny_moments_,
    preferred_blas,
    supports,
)


def _data(n=40, p=30, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).random((n, p), dtype=np.float32))


@pytest.mark.parametrize("blas", ["torch", "numpy"])
@pytest.mark.parametrize(
    ("enc", "dec", "clamp"),
    [
        ((20, 10), None, (-12.0, 12.0)),
        ((16,), (12, 9), (-12.0, 12.0)),
        ((), None, (-12.0, 12.0)),
        ((12,), (), (-12.0, 12.0)),  # no hidden decoder layer: latent straight to the output
        ((20, 10), None, (-0.05, 0.05)),  # most log-variances clamped: their gradient is cut
    ],
)
def test_gradients_equal_autograd(enc, dec, clamp, blas, check_grads):
    x = _data()
    ref = VAEModule(30, encoder_layers=enc, decoder_layers=dec, logvar_clamp=clamp,
                    generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref.encoder.logvar.bias.fill_(0.04)  # straddle a narrow clamp range
    mod = copy.deepcopy(ref)
    idx = torch.tensor([3, 7, 1, 30, 22, 9, 11, 0, 39, 15, 5])  # a batch smaller than the buffers
    check_grads(ref, mod, x, idx, beta=0.7, blas=blas, max_batch=16)


def test_clamped_logvar_gets_no_gradient():
    x = _data()
    mod = VAEModule(30, encoder_layers=(8,), logvar_clamp=(-1.0, 1.0),
                    generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        mod.encoder.logvar.bias.fill_(50.0)  # every log-variance far above the clamp
    step = FusedCPUStep(mod, x, max_batch=40)
    step(torch.arange(40), torch.Generator().manual_seed(0), 1.0)
    assert torch.count_nonzero(mod.encoder.logvar.weight.grad) == 0
    assert torch.count_nonzero(mod.encoder.mean.weight.grad) > 0


@pytest.mark.parametrize("engine", ["fused/torch", "fused/numpy"])
def test_training_matches_autograd_over_epochs(engine):
    x = _data(70, 30)
    a = VAEModule(30, encoder_layers=(12, 6), generator=torch.Generator().manual_seed(2))
    b = copy.deepcopy(a)
    ha = train_vae(a, x, epochs=4, batch_size=16, generator=torch.Generator().manual_seed(3),
                   engine="autograd")
    hb = train_vae(b, x, epochs=4, batch_size=16, generator=torch.Generator().manual_seed(3),
                   engine=engine)
    assert hb.engine == engine
    np.testing.assert_allclose(hb.loss, ha.loss, rtol=1e-4)
    np.testing.assert_allclose(hb.kl, ha.kl, rtol=1e-3, atol=1e-5)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pb, pa, rtol=1e-3, atol=1e-4)
    # training over, every parameter has its own storage again (no view of the flat buffer)
    ptrs = {p.untyped_storage().data_ptr() for p in b.parameters()}
    assert len(ptrs) == len(list(b.parameters()))
    assert all(p.grad is None and p.is_contiguous() for p in b.parameters())


def test_flat_parameters_share_storage_with_the_module():
    mod = VAEModule(30, encoder_layers=(8,), generator=torch.Generator().manual_seed(0))
    before = [p.detach().clone() for p in mod.parameters()]
    flat = FlatParameters(mod)
    assert flat.flat.numel() == sum(p.numel() for p in before)
    with torch.no_grad():
        flat.flat.add_(1.0)  # what the optimiser does to the flat tensor...
    for p, b in zip(mod.parameters(), before, strict=True):
        torch.testing.assert_close(p.detach(), b + 1.0)  # ...every layer sees
    mod.encoder.mean.weight.grad.fill_(2.0)
    assert float(flat.flat.grad.sum()) == 2.0 * mod.encoder.mean.weight.numel()
    flat.release()
    with torch.no_grad():
        flat.flat.add_(1.0)
    torch.testing.assert_close(mod.encoder.mean.weight.detach(), before[2] + 1.0)


def test_torch_threads_restored_even_after_an_error():
    before = torch.get_num_threads()
    x = _data(20, 30)
    mod = VAEModule(30, encoder_layers=(8,), generator=torch.Generator().manual_seed(0))

    def boom(epoch, history):
        assert torch.get_num_threads() == 1  # held to one thread while the fused step trains
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_vae(mod, x, epochs=3, batch_size=8, engine="fused/numpy", on_epoch_end=boom)
    assert torch.get_num_threads() == before


def test_fused_refuses_what_it_cannot_train():
    mod = VAEModule(30, encoder_layers=(8,), generator=torch.Generator().manual_seed(0))
    x64 = _data(10, 30).double()
    assert not supports(mod, x64)
    assert supports(mod, _data(10, 30))
    with pytest.raises(ValueError, match="engine='fused' needs"):
        train_vae(mod, x64, epochs=1, engine="fused")
    with pytest.raises(ValueError, match="engine must be"):
        train_vae(mod, _data(10, 30), epochs=1, engine="fast")


def test_embedder_engines_agree():
    X = np.random.default_rng(4).random((60, 25)).astype(np.float32)
    kw = dict(encoder_layers=(10, 6), epochs=5, batch_size=16, random_state=0, device="cpu")
    za = VAEEmbedder(engine="torch", **kw).fit_transform(X)
    fused = VAEEmbedder(engine="fused", **kw).fit(X)
    zb, zb_engine = fused.transform(X), fused.engine_
    auto = VAEEmbedder(**kw).fit(X)  # auto: fused on the CPU in float32
    np.testing.assert_allclose(zb, za, rtol=1e-3, atol=1e-4)
    assert auto.engine_ == zb_engine == f"fused/{preferred_blas()}"
    np.testing.assert_array_equal(auto.transform(X), zb)


def test_auto_engine_follows_the_cpu_vendor(monkeypatch):
    from proteolabel.nn import _fused_cpu, _training

    x = _data(24, 30)
    for vendor, expected in (
        ("AuthenticAMD", "fused/numpy"), ("GenuineIntel", "fused/torch"), ("", "fused/torch")
    ):
        monkeypatch.setattr(_fused_cpu, "cpu_vendor", lambda v=vendor: v)
        mod = VAEModule(30, encoder_layers=(8,), generator=torch.Generator().manual_seed(0))
        hist = _training.train_vae(mod, x, epochs=1, batch_size=8, engine="auto")
        assert hist.engine == expected, vendor
    # float64 data cannot take the fused step: auto falls back to autograd even on AMD
    monkeypatch.setattr(_fused_cpu, "cpu_vendor", lambda: "AuthenticAMD")
    mod = VAEModule(30, encoder_layers=(8,), generator=torch.Generator().manual_seed(0)).double()
    assert _training.train_vae(mod, x.double(), epochs=1, batch_size=8).engine == "autograd"


def test_cpu_vendor_reads_this_machine():
    from proteolabel.nn._fused_cpu import cpu_vendor

    v = cpu_vendor()
    assert isinstance(v, str)
    try:
        with open("/proc/cpuinfo") as fh:
            text = fh.read()
    except OSError:
        return
    if "vendor_id" in text:
        assert v and v in text


def _adam_pair(seed=0, n=1000):
    rng = torch.Generator().manual_seed(seed)
    a = torch.nn.Parameter(torch.randn(n, generator=rng))
    b = torch.nn.Parameter(a.detach().clone())
    return a, b, rng


def test_flat_adam_is_torch_adam_bit_for_bit():
    a, b, rng = _adam_pair()
    ref = torch.optim.Adam([a], lr=3e-3, fused=True)
    ours = FlatAdam(b, lr=3e-3)
    for _ in range(7):
        g = torch.randn(a.shape, generator=rng)
        a.grad, b.grad = g.clone(), g.clone()
        ref.step()
        ours.step()
    assert ours.fallback is None  # the direct kernel ran
    assert torch.equal(a.detach(), b.detach())
    assert not torch.equal(a.detach(), _adam_pair()[0].detach())  # and it did move


def test_flat_adam_falls_back_to_torch_adam(monkeypatch):
    a, b, rng = _adam_pair(1)
    grads = [torch.randn(a.shape, generator=rng) for _ in range(3)]
    ref = torch.optim.Adam([a], lr=1e-3, fused=True)
    for g in grads:
        a.grad = g.clone()
        ref.step()
    direct = torch._fused_adam_
    calls = []

    def refuse(*args, **kwargs):
        if not calls:  # the direct call, as another PyTorch version might refuse it
            calls.append(1)
            raise TypeError("unexpected keyword argument")
        return direct(*args, **kwargs)  # torch.optim.Adam's own call goes through

    monkeypatch.setattr(torch, "_fused_adam_", refuse)
    ours = FlatAdam(b, lr=1e-3)
    for g in grads:
        b.grad = g.clone()
        ours.step()
    assert ours.fallback is not None and calls
    assert torch.equal(a.detach(), b.detach())


_TINY = float(torch.finfo(torch.float32).tiny)  # the smallest normal float32


def _subnormal(t):
    a = t.abs()
    return int(((a > 0) & (a < _TINY)).sum())


def test_flush_tiny_moments_zeroes_only_what_is_nearly_subnormal():
    m = torch.tensor([1e-33, -1e-33, 1e-31, -5e-3, 0.0, 2e-39])
    v = torch.tensor([1e-37, 1e-35, 0.0, 1e-8, 2e-39, 3.0])
    flush_tiny_moments_(m, v)
    assert m.tolist() == pytest.approx([0.0, 0.0, 1e-31, -5e-3, 0.0, 0.0], rel=1e-6)
    assert v.tolist() == pytest.approx([0.0, 1e-35, 0.0, 1e-8, 0.0, 3.0], rel=1e-6)


def _dead_unit_run(flush_every, steps=900):
    """Adam on gradients that stop for half the entries: their first moments decay."""
    rng = torch.Generator().manual_seed(3)
    p = torch.nn.Parameter(torch.randn(2000, generator=rng))
    opt = FlatAdam(p, lr=1e-3, flush_every=flush_every)
    for t in range(steps):
        g = torch.randn(p.shape, generator=rng)
        if t >= 50:
            g[:1000] = 0.0  # half the units die
        p.grad = g
        opt.step()
    return p.detach(), opt


def test_flat_adam_keeps_moments_out_of_the_subnormal_range_without_changing_the_weights():
    kept, plain = _dead_unit_run(0)
    swept, ours = _dead_unit_run(FLUSH_EVERY)
    # without the sweep the dead units' first moments decay into subnormal floats (0.9^850)
    assert _subnormal(plain.exp_avg) > 500
    assert _subnormal(ours.exp_avg) == 0 and _subnormal(ours.exp_avg_sq) == 0
    assert int((ours.exp_avg[:1000] == 0).sum()) > 500
    assert torch.equal(kept, swept)  # the same weights bit for bit


def test_autograd_engine_sweeps_the_moments_every_flush_every_steps(monkeypatch):
    from proteolabel.nn import _training

    calls = []

    def spy(opt):
        calls.append(len(opt.state))

    monkeypatch.setattr(_training, "flush_optimizer_moments_", spy)
    mod = VAEModule(30, encoder_layers=(16,), generator=torch.Generator().manual_seed(0))
    n_params = len(list(mod.parameters()))
    train_vae(mod, _data(FLUSH_EVERY, 30), epochs=3, batch_size=1, engine="autograd",
              generator=torch.Generator().manual_seed(1))
    assert calls == [n_params] * 3  # one sweep per FLUSH_EVERY steps, over every parameter


needs_bf16 = pytest.mark.skipif(
    not bf16_products_supported(), reason="this CPU has no native bfloat16 matrix products"
)


@needs_bf16
def test_mixed_precision_gradients_are_close_to_float32():
    x = _data(64, 300)
    ref = VAEModule(300, encoder_layers=(20, 10), generator=torch.Generator().manual_seed(1))
    mod = copy.deepcopy(ref)
    idx = torch.arange(0, 64, 2)
    FusedCPUStep(ref, x, max_batch=32)(idx, torch.Generator().manual_seed(5), 1.0)
    loss, *_ = FusedCPUStep(mod, x, max_batch=32, mixed=True)(
        idx, torch.Generator().manual_seed(5), 1.0)
    loss_ref, *_ = FusedCPUStep(copy.deepcopy(ref), x, max_batch=32)(
        idx, torch.Generator().manual_seed(5), 1.0)
    # the output layer's forward product takes bfloat16 inputs too: the loss moves a little
    assert 0 < abs(loss - loss_ref) / abs(loss_ref) < 1e-2
    worst = 0.0
    for p_ref, p in zip(ref.parameters(), mod.parameters(), strict=True):
        rel = float((p.grad - p_ref.grad).norm() / (p_ref.grad.norm() + 1e-12))
        worst = max(worst, rel)
    assert 0 < worst < 1e-2  # bfloat16 rounding is there, and small
    assert torch.backends.mkldnn.matmul.fp32_precision != "bf16"  # the setting is restored


@needs_bf16
def test_mixed_precision_trains_through_the_embedder():
    X = np.random.default_rng(4).random((60, 25)).astype(np.float32)
    kw = dict(encoder_layers=(10, 6), epochs=5, batch_size=16, random_state=0, device="cpu")
    est = VAEEmbedder(precision="mixed", **kw).fit(X)
    ref = VAEEmbedder(precision="float32", **kw).fit(X)
    assert est.engine_ == "fused/torch"
    assert est.precision_.startswith("mixed: bfloat16") and ref.precision_ == "float32"
    np.testing.assert_allclose(est.history_["loss"], ref.history_["loss"], rtol=1e-2)


def test_mixed_precision_refuses_engines_that_cannot_do_it():
    x = _data(20, 30)
    mod = VAEModule(30, encoder_layers=(8,), generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="mixed precision needs"):
        train_vae(mod, x, epochs=1, engine="autograd", mixed=True)
    with pytest.raises(ValueError, match="mixed precision needs"):
        train_vae(mod, x, epochs=1, engine="fused/numpy", mixed=True)
    with pytest.raises(ValueError, match="blas='torch'"):
        FusedCPUStep(mod, x, 8, blas="numpy", mixed=True)


def test_mixed_precision_needs_bfloat16_hardware(monkeypatch):
    from proteolabel.nn import _training

    monkeypatch.setattr(_training, "bf16_products_supported", lambda: False)
    mod = VAEModule(30, encoder_layers=(8,), generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="bfloat16 instructions"):
        train_vae(mod, _data(20, 30), epochs=1, engine="fused/torch", mixed=True)
