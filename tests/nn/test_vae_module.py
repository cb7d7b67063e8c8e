import math

import numpy as np
import pytest
import torch

from proteolabel.nn import TrainingDivergedError, VAEModule, train_vae


def test_shapes_follow_the_method():
    m = VAEModule(37, generator=torch.Generator().manual_seed(0))
    widths = [(lin.in_features, lin.out_features) for lin in m.modules()
              if isinstance(lin, torch.nn.Linear)]
    # encoder 37-120-120-16, heads 16->2 twice, decoder 2->37 (as wide as the input) -> 37
    assert widths == [(37, 120), (120, 120), (120, 16), (16, 2), (16, 2), (2, 37), (37, 37)]
    x = torch.rand(5, 37)
    inf = m.inference(x, generator=torch.Generator().manual_seed(1))
    assert inf["qz_m"].shape == (5, 2) and inf["z"].shape == (5, 2)
    gen = m.generative(inf["z"])
    assert gen["px"].shape == (5, 37)
    assert torch.all((gen["px"] >= 0) & (gen["px"] <= 1))


def test_loss_matches_hand_computation():
    x = torch.tensor([[1.0, 0.0], [0.5, 1.0]])
    logits = torch.zeros(2, 2)  # p = 0.5 everywhere: BCE = log 2 per element, whatever x
    mean = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    logvar = torch.tensor([[0.0, 0.0], [0.0, math.log(2.0)]])
    out = VAEModule.loss(x, {"qz_m": mean, "qz_logvar": logvar}, {"logits": logits})
    rec = 2 * math.log(2.0)  # per-sample sum over 2 features, same for both rows
    kl_row2 = -0.5 * ((1 + 0 - 1 - 1) + (1 + math.log(2.0) - 0 - 2))  # = 1 - ln2/2
    assert out.reconstruction.item() == pytest.approx(rec, rel=1e-6)
    assert out.kl.item() == pytest.approx((0.0 + kl_row2) / 2, rel=1e-6)
    assert out.loss.item() == pytest.approx(rec + (kl_row2 / 2), rel=1e-6)
    beta_out = VAEModule.loss(x, {"qz_m": mean, "qz_logvar": logvar}, {"logits": logits}, beta=0.5)
    assert beta_out.loss.item() == pytest.approx(rec + 0.5 * kl_row2 / 2, rel=1e-6)


def test_logvar_is_clamped():
    m = VAEModule(4, logvar_clamp=(-3.0, 3.0), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        m.encoder.logvar.bias.fill_(100.0)
    _, lv = m.encoder(torch.rand(3, 4))
    assert torch.all(lv <= 3.0)


def test_training_lowers_the_loss():
    g = torch.Generator().manual_seed(0)
    patterns = (torch.rand(2, 20, generator=g) > 0.5).float()
    x = patterns[torch.arange(64) % 2]  # two repeated binary patterns: learnable
    m = VAEModule(20, generator=g)
    h = train_vae(m, x, epochs=30, batch_size=16, generator=g)
    assert len(h.loss) == 30
    assert h.loss[-1] < h.loss[0] - 1.0


def test_non_finite_loss_stops_and_keeps_last_good_weights():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(32, 10, generator=g)
    m = VAEModule(10, generator=g)
    saved = {}

    def corrupt(epoch, history):
        if epoch == 2:  # after epoch 3's weights were recorded as good
            saved["w"] = [p.detach().clone() for p in m.parameters()]
            with torch.no_grad():
                m.decoder.out.weight.fill_(float("nan"))

    with pytest.raises(TrainingDivergedError, match="epoch 4"):
        train_vae(m, x, epochs=10, batch_size=8, generator=g, on_epoch_end=corrupt)
    for p, s in zip(m.parameters(), saved["w"], strict=True):
        assert torch.isfinite(p).all()
        assert torch.equal(p.detach(), s)


def test_validation_and_early_stopping_keep_best_epoch():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(80, 12, generator=g)
    m = VAEModule(12, generator=g)
    h = train_vae(m, x[:60], x_val=x[60:], epochs=200, batch_size=16, generator=g,
                  early_stopping_patience=5, learning_rate=5e-2)
    assert h.best_epoch is not None
    assert h.stopped_early
    assert len(h.val_loss) == len(h.loss) < 200
    assert h.val_loss[h.best_epoch - 1] == pytest.approx(min(h.val_loss))
    with torch.inference_mode():
        inf = m.inference(x[60:], sample=False)
        val = m.loss(x[60:], inf, m.generative(inf["z"])).loss.item()
    assert val == pytest.approx(min(h.val_loss), rel=1e-5)


def test_kl_warmup_ramps_beta():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 6, generator=g)
    h = train_vae(VAEModule(6, generator=g), x, epochs=6, batch_size=8, generator=g,
                  beta=2.0, kl_warmup_epochs=4)
    assert np.allclose(h.beta, [0.5, 1.0, 1.5, 2.0, 2.0, 2.0])
