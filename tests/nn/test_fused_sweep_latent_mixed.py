"""Probes of the moment sweep, the NumPy latent block and mixed precision's forward product."""

import copy

import numpy as np
import pytest
import torch

from proteolabel.models import VAEEmbedder
from proteolabel.nn import TrainingDivergedError, VAEModule, train_vae
from proteolabel.nn import _fused_cpu as fc
from proteolabel.nn._fused_cpu import (
    FlatAdam,
    FusedCPUStep,
    bf16_products_supported,
    flush_optimizer_moments_,
)

needs_bf16 = pytest.mark.skipif(
    not bf16_products_supported(), reason="this CPU has no native bfloat16 matrix products"
)


def _data(n=40, p=30, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).random((n, p), dtype=np.float32))


def _module(p=30, seed=1, **kw):
    kw.setdefault("encoder_layers", (12, 6))
    return VAEModule(p, generator=torch.Generator().manual_seed(seed), **kw)


def _params(mod):
    return [p.detach().clone() for p in mod.parameters()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


# -- the NumPy latent block --------------------------------------------------------------------
@pytest.mark.parametrize("blas", ["torch", "numpy"])
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("b", [1, 7])
def test_gradients_for_small_latents_and_batches(k, b, blas, check_grads):
    x = _data()
    ref = _module(n_latent=k)
    mod = copy.deepcopy(ref)
    idx = torch.arange(3, 3 + b)
    check_grads(ref, mod, x, idx, blas=blas, max_batch=16)


@pytest.mark.parametrize("clamp", [(-80.0, 80.0), (0.0, 0.0), (-0.01, 0.01)])
def test_gradients_for_wide_and_narrow_clamps(clamp, check_grads):
    x = _data()
    ref = _module(logvar_clamp=clamp)
    with torch.no_grad():
        ref.encoder.logvar.bias.fill_(0.005)
    mod = copy.deepcopy(ref)
    check_grads(ref, mod, x, torch.arange(0, 40, 3), blas="numpy")


def test_integer_and_numpy_clamp_bounds(check_grads):
    x = _data()
    for clamp in [(-1, 1), (np.float64(-0.02), np.float64(0.02)), (np.float32(-3), 3)]:
        ref = _module(logvar_clamp=clamp)
        mod = copy.deepcopy(ref)
        step = check_grads(ref, mod, x, torch.arange(10))
        assert step.latent[1].dtype == torch.float32


def test_views_of_several_batch_sizes_do_not_interfere():
    # the step keeps NumPy views per batch size: alternate sizes, each must match autograd
    x = _data()
    ref = _module(n_latent=3)
    mod = copy.deepcopy(ref)
    step = FusedCPUStep(mod, x, max_batch=16)
    for i, idx in enumerate([torch.arange(16), torch.arange(5, 10), torch.arange(16, 32),
                             torch.tensor([39]), torch.arange(2, 7)]):
        for p in ref.parameters():
            p.grad = None
        out = ref(x[idx], generator=torch.Generator().manual_seed(i), beta=1.0)
        out.loss.backward()
        loss, _, _ = step(idx, torch.Generator().manual_seed(i), 1.0)
        assert loss == pytest.approx(float(out.loss.detach()), rel=1e-5)
        for p_ref, p in zip(ref.parameters(), mod.parameters(), strict=True):
            assert float((p_ref.grad - p.grad).abs().max()) <= 1e-5 * (
                float(p_ref.grad.abs().max()) + 1e-12)


@pytest.mark.parametrize("engine", ["fused/torch", "fused/numpy"])
@pytest.mark.parametrize(("n", "bs"), [(37, 16), (5, 1), (17, 16)])
def test_partial_last_batch_training_matches_autograd(engine, n, bs):
    x = _data(n)
    a = _module(n_latent=1)
    b = copy.deepcopy(a)
    ha = train_vae(a, x, epochs=3, batch_size=bs, engine="autograd",
                   generator=torch.Generator().manual_seed(3))
    hb = train_vae(b, x, epochs=3, batch_size=bs, engine=engine,
                   generator=torch.Generator().manual_seed(3))
    np.testing.assert_allclose(hb.loss, ha.loss, rtol=1e-4)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("engine", ["autograd", "fused/torch", "fused/numpy"])
@pytest.mark.parametrize("where", ["mean", "logvar", "dec_out", "enc0"])
def test_nan_injected_mid_training_is_a_divergence(engine, where):
    x = _data()
    mod = _module()
    kept = {}

    def poison(epoch, history):
        if epoch == 1:
            kept["w"] = _params(mod)
            layer = {"mean": mod.encoder.mean, "logvar": mod.encoder.logvar,
                     "dec_out": mod.decoder.out, "enc0": mod.encoder.body[0]}[where]
            with torch.no_grad():
                layer.weight[0, 0] = float("nan")

    with pytest.raises(TrainingDivergedError, match="epoch 3") as err:
        train_vae(mod, x, epochs=5, batch_size=16, engine=engine, on_epoch_end=poison,
                  generator=torch.Generator().manual_seed(3))
    assert len(err.value.history.loss) == 2
    assert _same(kept["w"], _params(mod))  # the last good weights (before the poisoning)


@pytest.mark.parametrize("value", [float("inf"), -float("inf")])
def test_infinite_raw_logvar_is_clamped_and_its_gradient_cut(value):
    # an infinite raw log-variance: the clamp makes it finite, the gradient through it is 0
    x = _data()
    mod = _module(encoder_layers=(8,))
    with torch.no_grad():
        mod.encoder.logvar.bias.fill_(value)
    step = FusedCPUStep(mod, x, max_batch=16, blas="numpy")
    loss, _, kl = step(torch.arange(16), torch.Generator().manual_seed(0), 1.0)
    assert np.isfinite(loss) and np.isfinite(kl)
    assert torch.count_nonzero(mod.encoder.logvar.weight.grad) == 0


def test_nan_raw_logvar_gives_a_nan_loss():
    x = _data()
    mod = _module(encoder_layers=(8,))
    with torch.no_grad():
        mod.encoder.logvar.bias[0] = float("nan")
    loss, _, kl = FusedCPUStep(mod, x, max_batch=16)(
        torch.arange(16), torch.Generator().manual_seed(0), 1.0)
    assert np.isnan(loss) and np.isnan(kl)


def test_numpy_error_state_is_left_as_it_was():
    before = np.geterr()
    with np.errstate(all="raise"):
        x = _data()
        mod = _module()
        with torch.no_grad():
            mod.encoder.logvar.bias.fill_(1e30)
            mod.encoder.mean.bias.fill_(3e30)  # mu^2 overflows in the latent block
        loss, *_ = FusedCPUStep(mod, x, 16, blas="torch")(
            torch.arange(16), torch.Generator().manual_seed(0), 1.0)
        assert not np.isfinite(loss)
        assert np.geterr()["over"] == "raise"
    assert np.geterr() == before


# -- determinism -------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["auto", "autograd", "fused/torch", "fused/numpy"])
def test_same_seed_same_weights(engine):
    x = _data(50)
    runs = []
    for _ in range(2):
        mod = _module(n_latent=3)
        h = train_vae(mod, x, epochs=3, batch_size=16, engine=engine,
                      generator=torch.Generator().manual_seed(7))
        runs.append((_params(mod), h.loss))
    assert _same(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]


def test_embedder_same_seed_same_embedding():
    X = np.random.default_rng(4).random((45, 20)).astype(np.float32)
    kw = dict(encoder_layers=(10, 6), epochs=3, batch_size=16, random_state=0, device="cpu")
    a = VAEEmbedder(**kw).fit_transform(X)
    b = VAEEmbedder(**kw).fit_transform(X)
    np.testing.assert_array_equal(a, b)


# -- the moment sweep --------------------------------------------------------------------------
def _dying_decoder(p=30):
    """A model and an ``on_epoch_end`` that kills half its decoder's units after epoch 2."""
    mod = _module(p, encoder_layers=(8,), decoder_layers=(24,))

    def kill(epoch, history):
        if epoch == 1:
            with torch.no_grad():
                mod.decoder.body[0].bias[:12] = -100.0  # these ReLUs never fire again

    return mod, kill


@pytest.mark.parametrize("engine", ["autograd", "fused/torch", "fused/numpy"])
def test_sweep_leaves_the_weights_bit_identical(monkeypatch, engine):
    # 900 steps (20 an epoch, not a multiple of 64); the dead units' first moments decay from
    # step 40 on, past M_TINY and, unswept, into subnormal floats
    from proteolabel.nn import _training

    opts = []
    real_flat, real_adam = _training.FlatAdam, _training._adam

    def flat_spy(*a, **k):
        opts.append(real_flat(*a, **k))
        return opts[-1]

    def adam_spy(*a, **k):
        opts.append(real_adam(*a, **k))
        return opts[-1]

    monkeypatch.setattr(_training, "FlatAdam", flat_spy)
    monkeypatch.setattr(_training, "_adam", adam_spy)
    x = _data(40)
    out = []
    for every in (0, 64):
        monkeypatch.setattr(fc, "FLUSH_EVERY", every)
        mod, kill = _dying_decoder()
        train_vae(mod, x, epochs=45, batch_size=2, engine=engine, on_epoch_end=kill,
                  generator=torch.Generator().manual_seed(3))
        out.append(_params(mod))
    tiny = float(torch.finfo(torch.float32).tiny)
    for opt, every in zip(opts, (0, 64), strict=True):
        ms = [opt.exp_avg] if isinstance(opt, FlatAdam) else [
            s["exp_avg"] for s in opt.state.values()]
        m = torch.cat([t.reshape(-1).abs() for t in ms])
        if every == 0:
            assert int(((m > 0) & (m < tiny)).sum()) > 100  # subnormal without the sweep
        else:
            assert int(((m > 0) & (m < fc.M_TINY)).sum()) == 0 and int((m == 0).sum()) > 100
    assert _same(out[0], out[1])


def _count_sweeps(monkeypatch):
    calls = []
    real = fc.flush_tiny_moments_

    def spy(m, v):
        calls.append(m.numel())
        real(m, v)

    monkeypatch.setattr(fc, "flush_tiny_moments_", spy)
    return calls


@pytest.mark.parametrize("engine", ["autograd", "fused/torch"])
def test_sweep_counts_steps_across_epochs(monkeypatch, engine):
    # 3 steps an epoch (not a divisor of 64): 50 epochs are 150 steps, so 2 sweeps
    calls = _count_sweeps(monkeypatch)
    mod = _module()
    n_params = len(list(mod.parameters()))
    train_vae(mod, _data(40), epochs=50, batch_size=16, engine=engine,
              generator=torch.Generator().manual_seed(3))
    per_sweep = n_params if engine == "autograd" else 1
    assert len(calls) == 2 * per_sweep


def test_flat_adam_fallback_sweeps_the_fallbacks_moments(monkeypatch):
    direct = torch._fused_adam_
    refused = []

    def refuse(*args, **kwargs):
        if "grad_scale" not in kwargs:  # FlatAdam's direct call; torch.optim.Adam's goes through
            refused.append(1)
            raise RuntimeError("not supported")
        return direct(*args, **kwargs)

    monkeypatch.setattr(torch, "_fused_adam_", refuse)
    rng = torch.Generator().manual_seed(0)
    p = torch.nn.Parameter(torch.randn(300, generator=rng))
    q = torch.nn.Parameter(p.detach().clone())
    ours = FlatAdam(p, lr=1e-3, flush_every=64)
    plain = FlatAdam(q, lr=1e-3, flush_every=0)
    for t in range(900):
        g = torch.randn(p.shape, generator=rng)
        if t >= 20:
            g[:150] = 0.0
        p.grad, q.grad = g.clone(), g.clone()
        ours.step()
        plain.step()
    assert ours.fallback is not None and plain.fallback is not None and len(refused) == 2
    st = ours.fallback.state[p]
    tiny = float(torch.finfo(torch.float32).tiny)
    a = st["exp_avg"].abs()
    assert int(((a > 0) & (a < tiny)).sum()) == 0
    assert int((st["exp_avg"][:150] == 0).sum()) == 150
    b = plain.fallback.state[q]["exp_avg"].abs()
    assert int(((b > 0) & (b < tiny)).sum()) > 100  # without the sweep: subnormal
    assert torch.equal(p.detach(), q.detach())


def test_fused_training_with_the_adam_fallback(monkeypatch):
    direct = torch._fused_adam_
    refused = []

    def refuse(*args, **kwargs):
        if not refused:
            refused.append(1)
            raise TypeError("unexpected keyword argument")
        return direct(*args, **kwargs)

    x = _data(40)
    ref = _module(encoder_layers=(8,), decoder_layers=(24,))
    mod = copy.deepcopy(ref)
    train_vae(ref, x, epochs=40, batch_size=13, engine="fused/torch",
              generator=torch.Generator().manual_seed(3))
    monkeypatch.setattr(torch, "_fused_adam_", refuse)
    train_vae(mod, x, epochs=40, batch_size=13, engine="fused/torch",
              generator=torch.Generator().manual_seed(3))
    assert refused
    assert _same(_params(ref), _params(mod))


def test_flush_optimizer_moments_skips_odd_state():
    p = [torch.nn.Parameter(torch.zeros(3)) for _ in range(5)]
    opt = torch.optim.Adam(p, lr=1e-3)
    tiny = torch.tensor([1e-33, 1.0, -1e-34])
    opt.state[p[0]] = {}  # no step yet
    opt.state[p[1]] = {"exp_avg": tiny.clone()}  # no second moment
    opt.state[p[2]] = {"exp_avg": torch.tensor([0, 1, 2]), "exp_avg_sq": torch.tensor([0, 1, 2])}
    opt.state[p[3]] = {"step": torch.tensor(3.0), "exp_avg": tiny.clone(),
                       "exp_avg_sq": torch.tensor([1e-37, 1.0, 2.0])}
    opt.state[p[4]] = {"exp_avg": None, "exp_avg_sq": None}
    flush_optimizer_moments_(opt)
    assert torch.equal(opt.state[p[1]]["exp_avg"], tiny)
    assert opt.state[p[2]]["exp_avg"].tolist() == [0, 1, 2]
    assert opt.state[p[3]]["exp_avg"].tolist() == [0.0, 1.0, 0.0]
    assert opt.state[p[3]]["exp_avg_sq"].tolist() == [0.0, 1.0, 2.0]
    flush_optimizer_moments_(torch.optim.Adam(p, lr=1e-3))  # an empty state


def test_sweep_keeps_nan_first_moments():
    m = torch.tensor([float("nan"), 1e-40, float("inf")])
    v = torch.tensor([float("nan"), 1e-40, float("inf")])
    fc.flush_tiny_moments_(m, v)
    assert torch.isnan(m[0]) and m[1] == 0 and torch.isinf(m[2])
    assert torch.isinf(v[2]) and v[1] == 0  # (a NaN second moment becomes 0: m keeps the NaN)


# -- mixed precision ---------------------------------------------------------------------------
@needs_bf16
def test_mixed_restores_the_precision_setting_after_an_error(monkeypatch):
    x = _data(40, 30)
    mod = _module()
    step = FusedCPUStep(mod, x, max_batch=16, mixed=True)
    real = step._dense
    seen = []

    def boom(a, layer, out):
        if layer is step.out:
            seen.append(torch.backends.mkldnn.matmul.fp32_precision)
            raise RuntimeError("boom")
        return real(a, layer, out)

    monkeypatch.setattr(step, "_dense", boom)
    before = torch.backends.mkldnn.matmul.fp32_precision
    with pytest.raises(RuntimeError, match="boom"):
        step(torch.arange(16), torch.Generator().manual_seed(0), 1.0)
    assert seen == ["bf16"]
    assert torch.backends.mkldnn.matmul.fp32_precision == before


@needs_bf16
def test_mixed_training_error_restores_precision_and_threads():
    x = _data(40, 30)
    mod = _module()
    before = torch.backends.mkldnn.matmul.fp32_precision
    threads = torch.get_num_threads()

    def stop(epoch, history):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_vae(mod, x, epochs=3, batch_size=16, engine="fused/torch", mixed=True,
                  on_epoch_end=stop, generator=torch.Generator().manual_seed(0))
    assert torch.backends.mkldnn.matmul.fp32_precision == before
    assert torch.get_num_threads() == threads
    assert all(p.grad is None for p in mod.parameters())


@needs_bf16
def test_mixed_keeps_a_users_legacy_precision_setting():
    old = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("high")
        mod = _module()
        train_vae(mod, _data(40), epochs=2, batch_size=16, engine="fused/torch", mixed=True,
                  generator=torch.Generator().manual_seed(0))
        assert torch.get_float32_matmul_precision() == "high"
    finally:
        torch.set_float32_matmul_precision(old)


@needs_bf16
def test_mixed_forward_product_only_in_the_output_layer():
    # mixed moves the logits (the output layer's forward product) but nothing before it
    x = _data(32, 200)
    a = _module(200, encoder_layers=(20, 10))
    b = copy.deepcopy(a)
    sa = FusedCPUStep(a, x, max_batch=32)
    sb = FusedCPUStep(b, x, max_batch=32, mixed=True)
    idx = torch.arange(32)
    sa(idx, torch.Generator().manual_seed(1), 1.0)
    sb(idx, torch.Generator().manual_seed(1), 1.0)
    for i in range(len(sa.h)):
        assert torch.equal(sa.h[i], sb.h[i])
    assert all(torch.equal(u, w) for u, w in zip(sa.latent[:5], sb.latent[:5], strict=True))
    assert torch.equal(sa.d[0], sb.d[0])
    assert not torch.equal(sa.logits, sb.logits)
    torch.testing.assert_close(sb.logits, sa.logits, rtol=2e-2, atol=2e-2)
    assert torch.backends.mkldnn.matmul.fp32_precision != "bf16"  # restored after the step


@needs_bf16
def test_mixed_training_is_deterministic_and_finite():
    x = _data(37)
    runs = []
    for _ in range(2):
        mod = _module(n_latent=1)
        h = train_vae(mod, x, epochs=3, batch_size=16, engine="auto", mixed=True,
                      generator=torch.Generator().manual_seed(7))
        runs.append((_params(mod), h.loss))
    assert _same(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]
    assert all(np.isfinite(runs[0][1]))


@needs_bf16
@pytest.mark.parametrize(("dec", "bs", "k", "moves"),
                         [((), 1, 1, False), (None, 16, 3, True), ((9,), 7, 1, False)])
def test_mixed_small_shapes_train_close_to_float32(dec, bs, k, moves):
    x = _data(37)
    a = _module(decoder_layers=dec, n_latent=k)
    b = copy.deepcopy(a)
    ha = train_vae(a, x, epochs=2, batch_size=bs, engine="fused/torch",
                   generator=torch.Generator().manual_seed(3))
    hb = train_vae(b, x, epochs=2, batch_size=bs, engine="fused/torch", mixed=True,
                   generator=torch.Generator().manual_seed(3))
    assert torch.backends.mkldnn.matmul.fp32_precision != "bf16"
    np.testing.assert_allclose(hb.loss, ha.loss, rtol=2e-2)
    # oneDNN takes only large enough products: tiny ones stay float32 (mixed is then a no-op)
    assert (ha.loss != hb.loss) == moves


# -- defects -------------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["autograd", "fused/torch"])
def test_flush_every_is_read_when_training_starts(monkeypatch, engine):
    # FLUSH_EVERY is read once, when training starts, by both engines: switching it off
    # during a run changes nothing in that run.
    calls = _count_sweeps(monkeypatch)
    monkeypatch.setattr(fc, "FLUSH_EVERY", 64)

    def switch_off(epoch, history):
        if epoch == 0:
            monkeypatch.setattr(fc, "FLUSH_EVERY", 0)

    mod = _module()
    train_vae(mod, _data(40), epochs=50, batch_size=16, engine=engine, on_epoch_end=switch_off,
              generator=torch.Generator().manual_seed(3))  # 150 steps: 2 sweeps
    assert len(calls) > 0
