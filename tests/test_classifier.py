import json

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from proteolabel.models._classifier import MLPLabelClassifier, stratified_holdout
from proteolabel.nn._classifier import ClassifierModule, train_classifier
from proteolabel.nn._training import TrainingDivergedError


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # These networks are tiny: on a busy shared machine, torch's intra-op threads only spin.
    # One thread keeps the module fast; results are the same (checked by the seed tests).
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _small(**kw):
    params = dict(hidden_layers=(16,), epochs=30, batch_size=32, learning_rate=0.01,
                  device="cpu", random_state=0)
    params.update(kw)
    return MLPLabelClassifier(**params)


# Every common check applies and passes; none is listed as an expected failure. (The array-API
# check skips itself unless SCIPY_ARRAY_API is set; the classifier takes numpy input only.)
@parametrize_with_checks([_small()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _blobs(n_per=40, p=20, k=3, sep=2.0, seed=0):
    rng = np.random.default_rng(seed)
    centres = sep * rng.standard_normal((k, p))
    y = np.repeat(np.arange(k), n_per)
    X = centres[y] + rng.standard_normal((y.size, p))
    return X, y


def test_learns_separable_classes_with_string_labels():
    X, y = _blobs()
    names = np.array(["Berlin", "Kiel", "Sweden"], dtype=object)[y]
    clf = _small(epochs=60).fit(X, names)
    assert list(clf.classes_) == ["Berlin", "Kiel", "Sweden"]
    assert clf.score(X, names) >= 0.95
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (clf.predict(X) == clf.classes_[proba.argmax(axis=1)]).all()
    # generalises: 3-fold CV accuracy on held-out folds
    assert cross_val_score(clone(clf), X, names, cv=3).mean() >= 0.9


def test_same_seed_same_model_different_seed_different():
    X, y = _blobs(seed=1)
    a = _small(random_state=3).fit(X, y).predict_proba(X)
    b = _small(random_state=3).fit(X, y).predict_proba(X)
    c = _small(random_state=4).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_prediction_does_not_depend_on_the_batch():
    X, y = _blobs(seed=2)
    clf = _small().fit(X, y)
    full = clf.predict_proba(X)
    one_by_one = np.vstack([clf.predict_proba(X[i : i + 1]) for i in range(0, X.shape[0], 7)])
    np.testing.assert_allclose(full[::7], one_by_one, rtol=1e-12, atol=1e-15)


def test_early_stopping_keeps_the_best_validation_epoch():
    X, y = _blobs(n_per=30, sep=0.6, seed=3)  # overlapping classes: validation loss turns up
    clf = _small(epochs=400, early_stopping_patience=5, learning_rate=0.05,
                 validation_fraction=0.3, dropout=0.0, weight_decay=0.0).fit(X, y)
    assert clf.stopped_early_
    assert clf.n_iter_ < 400
    assert len(clf.history_) == clf.n_iter_
    assert clf.best_epoch_ == int(np.nanargmin(clf.history_["val_loss"])) + 1
    assert clf.n_validation_ == 27  # round(0.3 * 30) of each of the 3 classes


def test_without_validation_runs_every_epoch():
    X, y = _blobs(n_per=10)
    clf = _small(epochs=12, validation_fraction=0.0).fit(X, y)
    assert clf.n_iter_ == 12 and clf.n_validation_ == 0 and clf.best_epoch_ is None
    assert clf.history_["val_loss"].isna().all()


def test_stratified_holdout_keeps_a_training_sample_per_class():
    y = np.array([0] * 10 + [1] * 3 + [2])
    tr, va = stratified_holdout(y, 0.5, np.random.default_rng(0))
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(y.size))
    assert np.bincount(y[va], minlength=3).tolist() == [5, 2, 0]
    assert set(y[tr]) == {0, 1, 2}


def test_class_weights_balanced_and_dict():
    X, y = _blobs(n_per=10)
    X, y = X[: 10 + 10 + 5], y[: 10 + 10 + 5]
    clf = _small(epochs=2).fit(X, y)
    np.testing.assert_allclose(clf.class_weight_, [25 / 30, 25 / 30, 25 / 15])
    clf = _small(epochs=2, class_weight={2: 4.0}).fit(X, y)
    np.testing.assert_allclose(clf.class_weight_, [1, 1, 4])
    clf = _small(epochs=2, class_weight=None).fit(X, y)
    np.testing.assert_allclose(clf.class_weight_, [1, 1, 1])


def test_class_weights_shift_decisions_towards_the_heavy_class():
    X, y = _blobs(n_per=40, k=2, sep=0.3, seed=5)  # hard, overlapping problem
    share = {}
    for heavy in (0, 1):
        clf = _small(epochs=40, class_weight={heavy: 20.0, 1 - heavy: 1.0}).fit(X, y)
        share[heavy] = (clf.predict(X) == heavy).mean()
    assert share[0] > 0.65 and share[1] > 0.65


@pytest.mark.parametrize(
    "labels",
    [np.array([3, 7, 11]), np.array(["a", "b", "c"], dtype=object), np.array([1.0, 2.0, 4.0])],
)
def test_save_load_roundtrip(tmp_path, labels):
    X, y = _blobs(n_per=15)
    y = labels[y]
    clf = _small(epochs=10, class_weight={y[0]: 2.0}).fit(X, y)
    clf.save(tmp_path)
    files = {p.name for p in tmp_path.iterdir()}
    assert files == {"classifier_config.json", "classifier_weights.pt"}
    # the weights are a plain state dict: loadable without unpickling arbitrary objects
    state = torch.load(tmp_path / "classifier_weights.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    json.loads((tmp_path / "classifier_config.json").read_text())
    back = MLPLabelClassifier.load(tmp_path)
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    assert back.get_params() == {**clf.get_params(), "random_state": clf.seed_}
    assert back.n_iter_ == clf.n_iter_ and len(back.history_) == len(clf.history_)


def test_load_missing_folder_says_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="saved MLPLabelClassifier"):
        MLPLabelClassifier.load(tmp_path)


@pytest.mark.parametrize("hidden", [(0,), (8, -1), (2.5,)])
def test_bad_hidden_layers(hidden):
    X, y = _blobs(n_per=5)
    with pytest.raises(ValueError, match="hidden_layers"):
        _small(hidden_layers=hidden).fit(X, y)


def test_one_class_is_refused():
    X, _ = _blobs(n_per=5)
    with pytest.raises(ValueError, match="at least 2 classes"):
        _small().fit(X, np.zeros(X.shape[0]))


def test_linear_model_without_hidden_layers():
    X, y = _blobs()
    clf = _small(hidden_layers=(), epochs=40).fit(X, y)
    assert clf.score(X, y) > 0.9


# -- the torch parts ---------------------------------------------------------------------------
def test_module_init_and_dropout_follow_the_generator():
    a = ClassifierModule(10, 3, (8,), dropout=0.5, generator=torch.Generator().manual_seed(1))
    b = ClassifierModule(10, 3, (8,), dropout=0.5, generator=torch.Generator().manual_seed(1))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    x = torch.rand(4, 10, generator=torch.Generator().manual_seed(0))
    a.train()
    ya = a(x, generator=torch.Generator().manual_seed(5))
    yb = a(x, generator=torch.Generator().manual_seed(5))
    yc = a(x, generator=torch.Generator().manual_seed(6))
    assert torch.equal(ya, yb) and not torch.equal(ya, yc)
    a.eval()
    assert torch.equal(a(x), a(x))  # no dropout in evaluation


def test_module_rejects_bad_shapes():
    with pytest.raises(ValueError, match="at least 2 classes"):
        ClassifierModule(3, 1)
    with pytest.raises(ValueError, match="dropout"):
        ClassifierModule(3, 2, dropout=1.0)


def test_training_that_diverges_keeps_the_last_good_weights():
    gen = torch.Generator().manual_seed(0)
    m = ClassifierModule(4, 2, (4,), dropout=0.0, generator=gen)
    x = torch.rand(20, 4, generator=gen)
    y = torch.randint(0, 2, (20,), generator=gen)
    calls = []

    def poison(epoch, history):
        calls.append(epoch)
        if epoch == 1:
            x[0, 0] = float("nan")

    before = {}

    def keep(epoch, history):
        poison(epoch, history)
        if epoch == 1:
            before.update({k: v.clone() for k, v in m.state_dict().items()})

    with pytest.raises(TrainingDivergedError, match="became nan in epoch 3;"):
        train_classifier(m, x, y, epochs=10, batch_size=20, generator=gen, on_epoch_end=keep)
    assert calls == [0, 1]
    for k, v in m.state_dict().items():
        assert torch.equal(v, before[k])


def test_training_refuses_empty_or_mismatched_input():
    m = ClassifierModule(3, 2, (), dropout=0.0)
    with pytest.raises(ValueError, match="empty"):
        train_classifier(m, torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="rows"):
        train_classifier(m, torch.zeros(4, 3), torch.zeros(3, dtype=torch.long))


def test_a_validation_set_too_small_to_judge_is_not_used():
    # 8 classes of 3: a stratified 15 % share holds no sample of any class -> no early stopping
    rng = np.random.default_rng(0)
    X = np.repeat(rng.random((8, 6)), 3, axis=0) + 0.01 * rng.standard_normal((24, 6))
    y = np.repeat(np.arange(8), 3)
    clf = _small(epochs=15, validation_fraction=0.15).fit(X, y)
    assert clf.n_validation_ == 0 and clf.n_iter_ == 15 and not clf.stopped_early_
    assert "no validation set" in clf.validation_note_ and "8 classes" in clf.validation_note_
    # with enough samples per class the same share is used for early stopping
    X2 = np.repeat(rng.random((2, 6)), 40, axis=0) + 0.01 * rng.standard_normal((80, 6))
    clf2 = _small(epochs=15, validation_fraction=0.15).fit(X2, np.repeat([0, 1], 40))
    assert clf2.n_validation_ == 12 and "held out" in clf2.validation_note_
