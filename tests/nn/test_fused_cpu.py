"""The hand-written CPU training step computes what autograd computes."""

import copy

import numpy as np
import pytest
import torch

from proteolabel.models import VAEEmbedder
from proteolabel.nn import VAEModule, train_vae
from proteolabel.nn._fused_cpu import FusedCPUStep, supports


def _data(n=40, p=30, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).random((n, p), dtype=np.float32))


@pytest.mark.parametrize(
    ("enc", "dec", "clamp"),
    [
        ((20, 10), None, (-12.0, 12.0)),
        ((16,), (12, 9), (-12.0, 12.0)),
        ((), None, (-12.0, 12.0)),
        ((20, 10), None, (-0.05, 0.05)),  # most log-variances clamped: their gradient is cut
    ],
)
def test_gradients_equal_autograd(enc, dec, clamp):
    x = _data()
    ref = VAEModule(30, encoder_layers=enc, decoder_layers=dec, logvar_clamp=clamp,
                    generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref.encoder.logvar.bias.fill_(0.04)  # straddle a narrow clamp range
    mod = copy.deepcopy(ref)
    idx = torch.tensor([3, 7, 1, 30, 22, 9, 11, 0, 39, 15, 5])  # a batch smaller than the buffers
    out = ref(x[idx], generator=torch.Generator().manual_seed(5), beta=0.7)
    out.loss.backward()
    step = FusedCPUStep(mod, x, max_batch=16)
    loss, rec, kl = step(idx, torch.Generator().manual_seed(5), 0.7)
    out = type(out)(*(t.detach() for t in out))
    assert loss == pytest.approx(float(out.loss), rel=1e-5)
    assert rec == pytest.approx(float(out.reconstruction), rel=1e-5)
    assert kl == pytest.approx(float(out.kl), rel=1e-4, abs=1e-6)
    for (name, p_ref), p in zip(ref.named_parameters(), mod.parameters(), strict=True):
        scale = float(p_ref.grad.abs().max()) + 1e-12
        err = float((p_ref.grad - p.grad).abs().max())
        assert err <= 1e-5 * scale, name


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


def test_training_matches_autograd_over_epochs():
    x = _data(70, 30)
    a = VAEModule(30, encoder_layers=(12, 6), generator=torch.Generator().manual_seed(2))
    b = copy.deepcopy(a)
    ha = train_vae(a, x, epochs=4, batch_size=16, generator=torch.Generator().manual_seed(3),
                   engine="autograd")
    hb = train_vae(b, x, epochs=4, batch_size=16, generator=torch.Generator().manual_seed(3),
                   engine="fused")
    np.testing.assert_allclose(hb.loss, ha.loss, rtol=1e-4)
    np.testing.assert_allclose(hb.kl, ha.kl, rtol=1e-3, atol=1e-5)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pb, pa, rtol=1e-3, atol=1e-4)


def test_torch_threads_restored_even_after_an_error():
    before = torch.get_num_threads()
    x = _data(20, 30)
    mod = VAEModule(30, encoder_layers=(8,), generator=torch.Generator().manual_seed(0))

    def boom(epoch, history):
        assert torch.get_num_threads() == 1  # held to one thread while the fused step trains
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_vae(mod, x, epochs=3, batch_size=8, engine="fused", on_epoch_end=boom)
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
    zb = VAEEmbedder(engine="fused", **kw).fit_transform(X)
    auto = VAEEmbedder(**kw).fit(X)  # auto picks one of the two, by the CPU
    np.testing.assert_allclose(zb, za, rtol=1e-3, atol=1e-4)
    np.testing.assert_array_equal(auto.transform(X), zb if auto.engine_ == "fused" else za)


def test_auto_engine_follows_the_cpu_vendor(monkeypatch):
    from proteolabel.nn import _fused_cpu, _training

    x = _data(24, 30)
    for vendor, expected in (("AuthenticAMD", "fused"), ("GenuineIntel", "autograd"), ("", "autograd")):
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
