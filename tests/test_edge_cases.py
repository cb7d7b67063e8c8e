"""Edge cases a demanding user hits: tiny or empty inputs, odd labels, odd settings, the API."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from proteolabel import pp, tl
from proteolabel._pipeline import RunConfig, run
from proteolabel.cli import main
from proteolabel.io import read
from proteolabel.models import VAEEmbedder, resolve_device

pytestmark = [pytest.mark.filterwarnings("ignore:.*posterior collapse:UserWarning"),
              pytest.mark.filterwarnings("ignore:.*barely told apart:UserWarning")]

FAST = {"epochs": 2, "progress": False, "n_eps": 20}


def _intensities(n_per=(10, 10, 10), p=24, seed=0) -> pd.DataFrame:
    """Linear intensities of three groups that differ in a block of proteins each."""
    rng = np.random.default_rng(seed)
    blocks = []
    for g, n in enumerate(n_per):
        base = rng.uniform(15, 25, p)
        base[g * 6:(g + 1) * 6] += 4
        blocks.append(2 ** (base + rng.normal(0, 0.3, (n, p))))
    X = np.vstack(blocks)
    X[rng.random(X.shape) < 0.1] = np.nan
    df = pd.DataFrame(X, index=[f"S{i:03d}" for i in range(len(X))],
                      columns=[f"P{j}" for j in range(p)])
    df.index.name = "sample"
    return df


def _groups(n_per=(10, 10, 10)) -> list[str]:
    return [f"g{g}" for g, n in enumerate(n_per) for _ in range(n)]


@pytest.fixture
def data_csv(tmp_path):
    path = tmp_path / "data.csv"
    _intensities().to_csv(path)
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"sample": _intensities().index, "group": _groups()}).to_csv(labels, index=False)
    return path, labels


def _cli(args):
    return CliRunner().invoke(main, ["-q", *args])


def _one_line_error(res) -> str:
    """The CLI failed with one clear ``Error:`` line and no traceback."""
    assert res.exit_code != 0
    assert "Traceback" not in res.output
    errors = [line for line in res.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, res.output
    return errors[0]


# -- inputs -------------------------------------------------------------------------------------
def test_input_with_no_observed_value_is_a_clear_error(tmp_path):
    empty = _intensities()
    empty.iloc[:, :] = np.nan
    path = tmp_path / "empty.csv"
    empty.to_csv(path)
    with pytest.raises(ValueError, match=r"no protein columns.*no_values"):
        run(input=str(path), out=None, **FAST)
    from proteolabel.preprocessing import Preprocessor

    with pytest.raises(ValueError, match=r"0 feature.*no protein columns"):
        Preprocessor().fit(pd.DataFrame(index=["a", "b"]))
    line = _one_line_error(_cli(["run", str(path), "--epochs", "2", "--out", str(tmp_path / "o")]))
    assert "no protein columns" in line and "at least one array" not in line


def test_min_samples_above_the_sample_count_fails_before_training(monkeypatch, data_csv):
    path, _ = data_csv

    def no_training(*args, **kwargs):
        raise AssertionError("the VAE was trained although no cluster could be found")

    monkeypatch.setattr(tl, "embed", no_training)
    with pytest.raises(ValueError, match=r"min_samples=31 is more than the 30 samples.*"
                                         r"--min-samples 15"):
        run(input=str(path), min_samples=31, out=None, **FAST)


def test_excluded_labelled_samples_are_not_counted_as_held_out(data_csv):
    path, labels = data_csv
    adata = read(path)
    adata.X[:3] = np.nan  # three labelled samples with nothing observed: excluded
    res = run(input=str(path), adata=adata, labels=str(labels), label_column="group",
              min_samples=3, tune_fraction=1.0, out=None, **FAST)
    c = res.info["counts"]
    assert c["samples_excluded"] == 3 and c["labelled_excluded"] == 3
    assert c["tune_samples"] == 27
    assert c["heldout_samples"] == 0 == res.info["metrics"]["heldout"]["n_samples"]
    assert "heldout_note" in res.info["metrics"]  # every usable labelled sample tuned eps


# -- labels -------------------------------------------------------------------------------------
def test_integer_labels_with_gaps_keep_their_text(tmp_path):
    df = _intensities()
    stage = pd.array([1] * 10 + [2] * 10 + [3] * 10, dtype="Int64")
    stage[::4] = pd.NA  # a gap makes pandas read the column as floats 1.0, NaN, 2.0
    df.insert(0, "_stage", stage)
    path = tmp_path / "annotated.csv"
    df.to_csv(path)
    assert ",1," in path.read_text().splitlines()[2]  # the file says 1, not 1.0
    res = run(input=str(path), label_column="_stage", min_samples=3, tune_fraction=0.5,
              out=str(tmp_path / "o"), classifier=False, **FAST)
    assert sorted(res.adata.obs["label"].dropna().unique()) == ["1", "2", "3"]
    out = pd.read_csv(tmp_path / "o" / "labels.csv", dtype=str)
    assert set(out["label"].dropna()) == {"1", "2", "3"}
    from proteolabel._pipeline import attach_labels

    a = read(tmp_path / "annotated.csv")
    attach_labels(a, pd.Series([np.nan, 2.0, 2.5] + [1.0] * 27, index=a.obs_names))
    first = [None if pd.isna(v) else v for v in a.obs["label"].iloc[:4]]
    assert first == [None, "2", "2.5", "1"]


@pytest.mark.filterwarnings("ignore:every one of the 3 tune groups:UserWarning")
def test_one_sample_per_group_note_does_not_contradict_the_ari(data_csv):
    path, labels = data_csv
    res = run(input=str(path), labels=str(labels), label_column="group", min_samples=3,
              tune_fraction=0.01, out=None, classifier=False, **FAST)
    tune = res.info["metrics"]["tune"]
    assert tune["n_samples"] == 3 and "by construction" in tune["note"]
    assert tune["ari"] in (0.0, 1.0)
    assert "ARI is 0, or 1" in tune["note"]


# -- settings -----------------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["tpu", "cuda:x", "meta", "mps"])
def test_an_unusable_device_is_a_clear_error_before_anything_runs(tmp_path, device):
    with pytest.raises(ValueError, match=f"device='{device}'"):
        resolve_device(device)
    # checked first: before the (here missing) input is read
    with pytest.raises(ValueError, match="device="):
        run(input=str(tmp_path / "not-there.csv"), device=device, out=None)
    res = _cli(["run", __file__, "--device", device, "--out", str(tmp_path / "o")])
    assert "device=" in _one_line_error(res)


def test_device_names_are_read_in_any_case():
    assert resolve_device("CPU").type == "cpu"
    assert resolve_device(" Auto ").type in ("cpu", "cuda")


def test_a_kl_warm_up_longer_than_training_is_warned_about():
    X = np.random.default_rng(0).random((20, 6)).astype(np.float32)
    with pytest.warns(UserWarning, match=r"kl_warmup_epochs=50 is more than epochs=5.*0\.1 x"):
        VAEEmbedder(epochs=5, kl_warmup_epochs=50, random_state=0).fit(X)


def test_the_collapse_advice_suggests_a_warm_up_within_the_training(data_csv):
    path, _ = data_csv
    adp = pp.preprocess(read(path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tl.embed(adp, epochs=5, random_state=0)
    collapse = [str(w.message) for w in caught if "posterior collapse" in str(w.message)]
    assert collapse, "expected the latent of 5 epochs to collapse"
    for msg in collapse:
        if "kl_warmup_epochs=" in msg:
            n = int(msg.split("kl_warmup_epochs=")[1].split(",")[0].rstrip(")"))
            assert n <= 5 // 2


@pytest.mark.filterwarnings("ignore:No tune samples")
def test_run_keyword_arguments_override_a_config(data_csv):
    path, _ = data_csv
    cfg = RunConfig(input=str(path), epochs=3, min_samples=3, out=None, progress=False,
                    classifier=False)
    res = run(cfg, epochs=1)
    assert res.info["vae"]["n_epochs"] == 1 and res.info["config"]["epochs"] == 1
    assert cfg.epochs == 3  # the caller's config is left as it was
    with pytest.raises(TypeError, match="epoch"):
        run(cfg, epoch=1)


@pytest.mark.filterwarnings("ignore:No tune samples")
def test_run_without_a_seed_draws_one_and_records_it(data_csv):
    path, _ = data_csv
    res = run(input=str(path), seed=None, min_samples=3, out=None, classifier=False, **FAST)
    seed = res.info["seed"]
    assert isinstance(seed, int) and res.info["config"]["seed"] == seed
    again = run(input=str(path), seed=seed, min_samples=3, out=None, classifier=False, **FAST)
    np.testing.assert_array_equal(res.adata.obsm["X_vae"], again.adata.obsm["X_vae"])


# -- the API on arrays and AnnData --------------------------------------------------------------
def test_vae_embedder_names_its_output_features_and_sets_pandas_output():
    X = np.random.default_rng(0).random((20, 6)).astype(np.float32)
    est = VAEEmbedder(epochs=2, encoder_layers=(8,), random_state=0)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        est.get_feature_names_out()
    est.fit(X)
    assert list(est.get_feature_names_out()) == ["vaeembedder0", "vaeembedder1"]
    out = VAEEmbedder(epochs=2, encoder_layers=(8,), random_state=0).set_output(
        transform="pandas").fit_transform(X)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["vaeembedder0", "vaeembedder1"]


def test_vae_config_is_strict_json_and_loads_back(tmp_path):
    X = np.random.default_rng(0).random((20, 6)).astype(np.float32)
    est = VAEEmbedder(epochs=2, encoder_layers=(8,), random_state=0).fit(X)
    est.save(tmp_path)

    def refuse(token):
        raise ValueError(f"{token} is not JSON")

    config = json.loads((tmp_path / "vae_config.json").read_text(), parse_constant=refuse)
    assert config["history"]["val_loss"] == [None, None]
    back = VAEEmbedder.load(tmp_path)
    assert back.history_["val_loss"].isna().all()
    assert back.history_["val_loss"].dtype == float


def test_embed_on_unpreprocessed_data_says_to_preprocess(data_csv):
    path, _ = data_csv
    with pytest.raises(ValueError, match=r"adata\.X holds a non-finite value.*pp\.preprocess"):
        tl.embed(read(path), epochs=1)
    with pytest.raises(ValueError, match=r"non-finite.*NaN"):
        VAEEmbedder(epochs=1).fit(np.full((4, 3), np.nan))


def test_tune_eps_without_a_latent_says_to_embed_first(data_csv):
    path, _ = data_csv
    with pytest.raises(ValueError, match=r"obsm\['X_vae'\] not found.*tl\.embed"):
        tl.tune_eps(pp.preprocess(read(path)))


# -- predict, compare, study ---------------------------------------------------------------------
@pytest.fixture
def small_run(tmp_path, data_csv):
    path, labels = data_csv
    out = tmp_path / "run"
    run(input=str(path), labels=str(labels), label_column="group", min_samples=3,
        tune_fraction=0.5, out=str(out), classifier=False, **FAST)
    return out


def test_predict_with_a_run_that_trained_no_classifier_says_why(small_run, data_csv):
    path, _ = data_csv
    for folder in (small_run, small_run / "model"):
        line = _one_line_error(_cli(["predict", str(folder), str(path), "--out",
                                     str(small_run.parent / "p")]))
        assert "no classifier" in line and "--no-classifier" in line


def test_compare_methods_are_read_leniently_and_checked_first(small_run):
    res = _cli(["compare", str(small_run), "--methods", "DBSCAN, gaussian-mixture"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(small_run / "compare" / "compare.csv", index_col=0)
    assert list(table.index) == ["dbscan", "gaussian_mixture"]
    assert "silhouette.png" not in res.output  # no k-means: no silhouette curve written
    assert not (small_run / "compare" / "silhouette.png").exists()
    for bad, expect in (("dbscn", "did you mean 'dbscan'"), (" , ", "names no clusterer")):
        res = _cli(["compare", str(small_run), "--methods", bad])
        assert res.exit_code == 2 and expect in res.output and "Traceback" not in res.output


def test_study_figures_with_snr_zero_have_no_log_scale_warning():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from proteolabel.studies._plot import plot_separation

    for grid in ((0.0,), (0.0, 1.0, 2.0)):  # `study snr --snr 0` and a grid from 0
        rows = [{"snr": s, "seed": seed, "n_samples": 100, "centre_distance": 0.1 + s,
                 "separation": 0.2 + s, "silhouette": 0.1, "dbscan_v_measure": 0.2}
                for s in grid for seed in (0, 1)]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fig = plot_separation(pd.DataFrame(rows), "snr", None, "snr")
            fig.canvas.draw()
        plt.close(fig)
