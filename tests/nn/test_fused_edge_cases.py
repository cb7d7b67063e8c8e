"""Edge cases where the fused CPU engine must behave as the autograd engine (and as documented)."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from proteolabel.models import VAEEmbedder
from proteolabel.nn import TrainingDivergedError, VAEModule, train_vae
from proteolabel.nn._fused_cpu import FusedCPUStep, bf16_products_supported, supports

ENGINES = ["autograd", "fused/torch", "fused/numpy"]


def _data(n=64, p=30, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).random((n, p), dtype=np.float32))


def _module(p=30, **kw):
    kw.setdefault("encoder_layers", (12, 6))
    return VAEModule(p, generator=torch.Generator().manual_seed(2), **kw)


def _params(mod):
    return [p.detach().clone() for p in mod.parameters()]


def _all_finite(mod):
    return all(bool(torch.isfinite(p).all()) for p in mod.parameters())


# -- divergence -------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("epochs", [1, 3])
def test_weights_that_overflow_in_the_last_step_are_a_divergence(engine, epochs):
    # one batch per epoch: epoch 1's loss (of the initial weights) is finite, but its one Adam
    # step with an absurd learning rate leaves the weights infinite or NaN. That is no good
    # epoch: training must not return them (epochs=1) nor restore them (epochs=3)
    x = _data()
    mod = _module()
    init = _params(mod)
    with pytest.raises(TrainingDivergedError, match="epoch 1"):
        train_vae(mod, x, epochs=epochs, batch_size=64, learning_rate=1e38, engine=engine,
                  generator=torch.Generator().manual_seed(3))
    assert _all_finite(mod)
    assert all(torch.equal(a, b) for a, b in zip(init, mod.parameters(), strict=True))


@pytest.mark.parametrize("engine", ENGINES)
def test_divergence_mid_epoch_is_reported_without_warnings(engine):
    # several batches per epoch: the weights overflow within epoch 1 (NumPy's matmul meets inf
    # and NaN there). Warnings are errors in this suite, so a RuntimeWarning from NumPy would
    # escape instead of TrainingDivergedError and leave the overflowed weights in the module
    x = _data()
    mod = _module()
    init = _params(mod)
    with pytest.raises(TrainingDivergedError):
        train_vae(mod, x, epochs=5, batch_size=16, learning_rate=1e12, engine=engine,
                  generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(a, b) for a, b in zip(init, mod.parameters(), strict=True))


def test_numpy_step_is_silent_on_overflow():
    x = _data()
    mod = _module()
    with torch.no_grad():
        mod.encoder.body[0].weight.fill_(3e38)  # the first product overflows
    loss, _, _ = FusedCPUStep(mod, x, 16, blas="numpy")(
        torch.arange(16), torch.Generator().manual_seed(0), 1.0)
    assert not np.isfinite(loss)


# -- what the fused step can train ------------------------------------------------------------
def test_frozen_parameters_stay_frozen():
    x = _data(40)
    a = _module(encoder_layers=(8,))
    for p in a.decoder.parameters():
        p.requires_grad_(False)
    b = copy.deepcopy(a)
    frozen = _params(a.decoder)
    assert not supports(a, x)  # the fused step computes and applies every gradient
    train_vae(a, x, epochs=2, batch_size=16, engine="autograd",
              generator=torch.Generator().manual_seed(1))
    hist = train_vae(b, x, epochs=2, batch_size=16, engine="auto",
                     generator=torch.Generator().manual_seed(1))
    assert hist.engine == "autograd"
    for mod in (a, b):
        assert all(torch.equal(f, p) for f, p in zip(frozen, mod.decoder.parameters(), strict=True))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


class _Doubled(nn.Linear):
    def forward(self, x):
        return 2 * super().forward(x)


def _no_bias(mod):
    mod.decoder.out = nn.Linear(mod.decoder.out.in_features, mod.decoder.out.out_features,
                                bias=False)


def _subclass_in_body(mod):
    mod.encoder.body[0] = _Doubled(30, 12)


def _subclass_logvar(mod):
    mod.encoder.logvar = _Doubled(6, 2)


def _two_linears_no_relu(mod):
    mod.encoder.body = nn.Sequential(nn.Linear(30, 12), nn.Linear(12, 6), nn.ReLU())


def _tanh(mod):
    mod.decoder.body[1] = nn.Tanh()


def _tied(mod):
    mod.encoder.logvar.weight = mod.encoder.mean.weight  # one tensor, two layers


@pytest.mark.parametrize(
    "change", [_no_bias, _subclass_in_body, _subclass_logvar, _two_linears_no_relu, _tanh, _tied]
)
def test_auto_falls_back_to_autograd_for_other_layers(change):
    x = _data(40)
    a = _module()
    change(a)
    b = copy.deepcopy(a)
    assert not supports(a, x)
    with pytest.raises(ValueError, match="needs a plain VAEModule"):
        train_vae(copy.deepcopy(a), x, epochs=1, engine="fused")
    ha = train_vae(a, x, epochs=2, batch_size=16, engine="autograd",
                   generator=torch.Generator().manual_seed(1))
    hb = train_vae(b, x, epochs=2, batch_size=16, engine="auto",
                   generator=torch.Generator().manual_seed(1))
    assert hb.engine == "autograd"
    assert hb.loss == ha.loss


needs_bf16 = pytest.mark.skipif(
    not bf16_products_supported(), reason="this CPU has no native bfloat16 matrix products"
)


@needs_bf16
@pytest.mark.parametrize("engine", ["auto", "fused"])
def test_mixed_precision_on_amd_picks_torch_blas(monkeypatch, engine):
    # AMD CPUs with AVX512-BF16 (Zen 4) run mixed precision; the NumPy BLAS that auto picks
    # there for float32 cannot, so a mixed run takes PyTorch's
    from proteolabel.nn import _fused_cpu

    monkeypatch.setattr(_fused_cpu, "cpu_vendor", lambda: "AuthenticAMD")
    hist = train_vae(_module(), _data(40), epochs=1, batch_size=16, engine=engine, mixed=True)
    assert hist.engine == "fused/torch"
    X = _data(40, 25).numpy()
    est = VAEEmbedder(precision="mixed", engine=engine, encoder_layers=(8,), epochs=2,
                      random_state=0, device="cpu").fit(X)
    assert est.engine_ == "fused/torch"
    # float32 still follows the vendor
    assert train_vae(_module(), _data(40), epochs=1, engine=engine).engine == "fused/numpy"


# -- state after training ---------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_no_gradients_left_after_training(engine):
    mod = _module()
    train_vae(mod, _data(), epochs=2, batch_size=16, engine=engine)
    assert all(p.grad is None for p in mod.parameters())


@pytest.mark.parametrize("engine", ["torch", "fused"])
def test_save_load_keeps_every_fitted_attribute(tmp_path, engine):
    X = _data(60, 25).numpy()
    est = VAEEmbedder(engine=engine, precision="float32", encoder_layers=(8,), epochs=30,
                      learning_rate=5e-2, validation_fraction=0.25, early_stopping_patience=2,
                      random_state=0, device="cpu").fit(X)
    assert est.best_epoch_ is not None and est.stopped_early_
    est.save(tmp_path / "m")
    again = VAEEmbedder.load(tmp_path / "m")
    for name in ("n_epochs_", "best_epoch_", "stopped_early_", "engine_", "precision_", "seed_",
                 "n_features_in_", "device_"):
        assert getattr(again, name) == getattr(est, name), name
    np.testing.assert_array_equal(again.transform(X), est.transform(X))


@pytest.mark.parametrize("engine", ["torch", "fused"])
def test_a_diverged_refit_leaves_no_state_of_the_previous_fit(engine):
    X = _data(64, 25).numpy()
    kw = dict(engine=engine, encoder_layers=(8,), batch_size=64, random_state=0, device="cpu")
    est = VAEEmbedder(epochs=6, **kw).fit(X)
    assert est.n_epochs_ == 6
    est.set_params(epochs=3, learning_rate=1e38, validation_fraction=0.0)
    with pytest.raises(TrainingDivergedError):
        est.fit(X)
    # the module holds the last good weights of this fit (the initial ones); what describes the
    # fit describes this one, not the six epochs before
    assert _all_finite(est.module_)
    assert est.n_epochs_ == len(est.history_) == 0
    assert est.best_epoch_ is None and not est.stopped_early_
    assert (est.engine_ == "autograd") == (engine == "torch")
