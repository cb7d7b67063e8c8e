import dataclasses
import json
import lzma
import subprocess
import sys
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch

from proteolabel import _constants as K
from proteolabel._label_model import (
    REASON_COVERAGE,
    REASON_FAR,
    REASON_RANGE,
    REASON_UNSURE,
    LabelModel,
    UnlikeRule,
    align_proteins,
    match_clusters_to_labels,
)
from proteolabel._pipeline import RunConfig, run
from proteolabel._predict import predict_file, train_label_model
from proteolabel.models._classifier import MLPLabelClassifier

# Short training runs here are expected to leave the VAE latent collapsed; that warning is
# tested in tests/test_pipeline.py.
pytestmark = [pytest.mark.filterwarnings("ignore:.*posterior collapse:UserWarning"),
              pytest.mark.filterwarnings("ignore:.*barely told apart:UserWarning")]

EXCERPT = Path(__file__).parent / "data" / "label_model" / "alzheimer_excerpt.csv"
UBI = Path(__file__).parent / "data" / "datasets" / "ubiquitin-dep-maxquant"


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # Tiny networks: on a busy shared machine torch's intra-op threads only spin.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _excerpt() -> ad.AnnData:
    """72 real CSF proteomes (Sweden 36, Berlin 24, Magdeburg 12) x 100 proteins."""
    d = pd.read_csv(EXCERPT, index_col=0)
    site = d.pop("site").astype(object)
    return ad.AnnData(d.to_numpy(dtype=float), obs=pd.DataFrame({"site": site}, index=d.index),
                      var=pd.DataFrame(index=d.columns))


@pytest.fixture(scope="module")
def data():
    a = _excerpt()
    unseen = np.arange(a.n_obs) % 3 == 0
    return a[~unseen].copy(), a[unseen].copy()


@pytest.fixture(scope="module")
def result(data):
    train, _ = data
    return run(RunConfig(input="excerpt", label_column="site", tune_fraction=0.5, min_samples=5,
                         epochs=150, batch_size=32, out=None, progress=False), adata=train.copy())


def _clf():
    return MLPLabelClassifier(hidden_layers=(32,), epochs=150, learning_rate=3e-3,
                              random_state=0)


@pytest.fixture(scope="module")
def model(result):
    return LabelModel.from_run(result, classifier=_clf(), cv=3)


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    return model.save(tmp_path_factory.mktemp("model"))


# -- training ---------------------------------------------------------------------------------
def test_the_run_found_clusters_to_learn(result):
    clusters = result.adata.obs[K.OBS_CLUSTER].to_numpy()
    assert len(set(clusters[clusters >= 0])) >= 2


def test_report_says_it_is_cross_validated_against_clusters(model, result):
    cv = model.report["cv"]
    assert cv["defined"] and "cross-validation" in cv["method"] and cv["n_splits"] == 3
    assert "cluster" in cv["target"]
    assert cv["accuracy"] >= 0.75 and cv["balanced_accuracy"] >= 0.75
    assert len(cv["accuracy_per_fold"]) == 3
    c = model.report["classifier"]
    n = result.adata.n_obs
    assert c["n_training_samples"] + c["n_noise_left_out"] + c["n_excluded_left_out"] == n
    assert c["n_noise_left_out"] == int(result.adata.obs[K.OBS_NOISE].sum())
    assert sum(c["cluster_sizes"].values()) == c["n_training_samples"]
    assert "in-sample" in c["training_accuracy_note"]


def test_classifier_is_trained_on_the_protein_matrix_not_the_latent(model, result):
    assert model.classifier.n_features_in_ == result.adata.n_vars
    assert model.proteins == list(result.adata.var_names)


def test_matching_and_held_out_agreement(model, result):
    obs = result.adata.obs
    tune = obs[K.OBS_TUNE].to_numpy(bool)
    lab = obs[K.OBS_LABEL].astype(object).to_numpy()
    for row in model.matching:
        member = (obs[K.OBS_CLUSTER].to_numpy() == row["cluster"]) & tune
        if row["source"] == "tune":
            values, counts = np.unique(lab[member].astype(str), return_counts=True)
            assert row["label"] == values[np.argmax(counts)]
            assert row["tune_counts"][row["label"]] == counts.max()
    ag = model.report["agreement"]
    assert ag["defined"]
    heldout = obs[K.OBS_LABEL].notna().to_numpy() & ~tune
    assert ag["clusters"]["n_samples"] == ag["classifier"]["n_samples"] == heldout.sum()
    assert 0 <= ag["classifier"]["accuracy"] <= 1
    # on this excerpt the clusters separate Sweden from the other sites
    assert ag["clusters"]["recall_per_label"]["Sweden"] >= 0.6
    assert sum(ag["classifier"]["predictions"].values()) == heldout.sum()


def test_one_cluster_is_refused(result):
    adata = result.adata.copy()
    adata.obs[K.OBS_CLUSTER] = np.where(adata.obs[K.OBS_CLUSTER] >= 0, 0, -1)
    one = dataclasses.replace(result, adata=adata)
    with pytest.raises(ValueError, match="at least 2 clusters"):
        LabelModel.from_run(one, classifier=_clf())


# -- predicting -------------------------------------------------------------------------------
def test_prediction_table(model, data):
    _, unseen = data
    df = model.predict(unseen)
    assert len(df) == unseen.n_obs
    classes = [int(c) for c in model.classes]
    expected = (["sample", "predicted_cluster", "predicted_label", "probability"]
                + [f"p_cluster_{c}" for c in classes] + ["latent_1", "latent_2"])
    assert list(df.columns[: len(expected)]) == expected
    for col in ("latent_cluster", "distance_to_training", "n_observed_proteins",
                "unlike_training", "unlike_reason"):
        assert col in df
    proba = df[[f"p_cluster_{c}" for c in classes]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(df["probability"], proba.max(axis=1))
    assert set(df["predicted_cluster"]) <= set(classes)
    assert all(df["predicted_label"][i] == model.cluster_to_label[c]
               for i, c in enumerate(df["predicted_cluster"]))
    assert (df["unlike_training"] == (df["unlike_reason"] != "")).all()
    # real samples from the same cohort are mostly not "unlike the training data"
    assert df["unlike_training"].mean() <= 0.25


def test_predicted_site_of_unseen_samples(model, data):
    _, unseen = data
    df = model.predict(unseen)
    truth = unseen.obs["site"].to_numpy()
    sweden = truth == "Sweden"
    assert (df["predicted_label"].to_numpy()[sweden] == "Sweden").mean() >= 0.6
    assert (df["predicted_label"].to_numpy()[~sweden] != "Sweden").mean() >= 0.6


def test_training_samples_come_back_where_they_were(model, result, data):
    train, _ = data
    df = model.predict(train)
    Z = np.asarray(result.adata.obsm[K.OBSM_LATENT])
    np.testing.assert_allclose(df[["latent_1", "latent_2"]].to_numpy(), Z, rtol=1e-5, atol=1e-6)
    X = np.asarray(result.adata.X)
    np.testing.assert_array_equal(df["predicted_cluster"], model.classifier.predict(X))
    assert list(df["sample"]) == list(train.obs_names)


def test_sample_names_are_kept_exactly(model, data):
    _, unseen = data
    odd = unseen[:4].copy()
    names = [" padded ", "Zürich-01", "42", "a;b,c\"d"]
    odd.obs_names = names
    df = model.predict(odd)
    assert list(df["sample"]) == names
    frame = pd.DataFrame(np.asarray(odd.X), index=names, columns=odd.var_names)
    pd.testing.assert_frame_equal(model.predict(frame), df)


def test_missing_proteins_are_filled_and_extra_ones_ignored(model, data):
    _, unseen = data
    proteins = list(unseen.var_names)
    drop = proteins[::10]
    frame = pd.DataFrame(np.asarray(unseen.X), index=unseen.obs_names, columns=proteins)
    reduced = frame.drop(columns=drop)
    rng = np.random.default_rng(0)
    for i in range(3):
        reduced[f"EXTRA{i}"] = rng.lognormal(20, 1, len(reduced))
    reduced = reduced[reduced.columns[::-1]]  # another column order
    df, report = model.predict_with_report(reduced)
    p = report["proteins"]
    assert p["n_missing"] == len(drop) and p["missing"] == drop
    assert p["n_extra"] == 3 and sorted(p["extra"]) == ["EXTRA0", "EXTRA1", "EXTRA2"]
    assert p["n_matched"] == len(proteins) - len(drop)
    # identical to giving the dropped proteins as missing values
    blanked = frame.copy()
    blanked[drop] = np.nan
    pd.testing.assert_frame_equal(df, model.predict(blanked))
    filled = report["preprocess"]["n_filled"]
    assert filled >= len(drop) * len(frame)
    assert (df["n_observed_proteins"] <= len(proteins) - len(drop)).all()


def test_protein_groups_match_in_any_accession_order(model, data):
    _, unseen = data
    frame = pd.DataFrame(np.asarray(unseen.X), index=unseen.obs_names, columns=unseen.var_names)
    group = next(c for c in frame.columns if ";" in c)
    renamed = frame.rename(columns={group: ";".join(reversed(group.split(";")))})
    df, report = model.predict_with_report(renamed)
    assert report["proteins"]["n_matched_by_accession_set"] == 1
    assert report["proteins"]["n_missing"] == 0
    pd.testing.assert_frame_equal(df, model.predict(frame))


def test_protein_groups_match_by_leading_accession(model, data):
    _, unseen = data
    frame = pd.DataFrame(np.asarray(unseen.X), index=unseen.obs_names, columns=unseen.var_names)
    group = next(c for c in frame.columns if ";" in c)
    other = group.split(";")[0] + ";ZZZ999"  # same leading accession, other members
    df, report = model.predict_with_report(frame.rename(columns={group: other}))
    p = report["proteins"]
    assert p["n_matched_by_leading_accession"] == 1 and p["n_missing"] == 0
    assert p["matched_by_leading_accession"] == [[group, other]]
    pd.testing.assert_frame_equal(df, model.predict(frame))


def test_few_shared_proteins_are_warned_about(model, data):
    _, unseen = data
    frame = pd.DataFrame(np.asarray(unseen.X), index=unseen.obs_names, columns=unseen.var_names)
    kept = frame.iloc[:, : max(1, frame.shape[1] // 5)]  # a fifth of the model's proteins
    with pytest.warns(UserWarning, match=r"only \d+ of the model's \d+ proteins"):
        _, report = model.predict_with_report(kept)
    assert "likely meaningless" in report["proteins"]["warning"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # most proteins there: no such warning
        _, report = model.predict_with_report(frame.iloc[:, 5:])
    assert "warning" not in report["proteins"]
    assert not [w for w in caught if "of the model's" in str(w.message)]


def test_no_shared_protein_is_an_error(model):
    frame = pd.DataFrame([[1.0, 2.0]], columns=["X1", "X2"])
    with pytest.raises(ValueError, match="none of the model's"):
        model.predict(frame)


def test_obviously_foreign_samples_are_flagged(model, data):
    _, unseen = data
    x = np.asarray(unseen.X)[0]
    foreign = pd.DataFrame(
        np.vstack([
            x,                                                       # a real sample
            x * 1e4,                                                 # another intensity scale
            np.where(np.arange(x.size) < 3, x, np.nan),              # 3 proteins observed
            np.full(x.size, np.nan),                                 # nothing observed
        ]),
        index=["real", "scaled", "sparse", "empty"], columns=unseen.var_names,
    )
    df = model.predict(foreign).set_index("sample")
    assert not df.loc["real", "unlike_training"]
    assert REASON_RANGE in df.loc["scaled", "unlike_reason"]
    assert df.loc["scaled", "share_outside_training_range"] == 1.0
    for name in ("sparse", "empty"):
        assert REASON_COVERAGE in df.loc[name, "unlike_reason"]
    assert df.loc["empty", "n_observed_proteins"] == 0
    assert df.loc[["scaled", "sparse", "empty"], "unlike_training"].all()


def test_distance_and_probability_rules(model, data):
    _, unseen = data
    base = model.predict(unseen)
    assert (base["latent_cluster"][base["distance_in_eps"] > 1] == -1).all()
    near = base["distance_in_eps"] <= 1
    assert (base["latent_cluster"][near] >= 0).all()
    strict = model.predict(unseen, rule=UnlikeRule(distance_factor=1e-9, min_probability=0.0))
    far = strict["distance_to_training"] > 1e-9 * model.eps
    assert (strict["unlike_reason"].str.contains(REASON_FAR) == far).all()
    assert not strict["unlike_reason"].str.contains(REASON_UNSURE).any()
    unsure = model.predict(unseen, rule=UnlikeRule(distance_factor=1e9, min_probability=1.0))
    expected = unsure["probability"] < 1.0
    assert (unsure["unlike_reason"].str.contains(REASON_UNSURE) == expected).all()
    assert not unsure["unlike_reason"].str.contains(REASON_FAR).any()


@pytest.mark.parametrize("bad", [{"distance_factor": 0}, {"min_probability": 1.5},
                                 {"min_coverage_factor": -0.1}, {"max_outside_fraction": 2}])
def test_rule_parameters_are_checked(bad):
    with pytest.raises(ValueError, match="out of range"):
        UnlikeRule(**bad)


# -- saving and loading -----------------------------------------------------------------------
def test_model_folder_layout(saved):
    names = {p.name for p in saved.iterdir()}
    assert names == {"label_model.json", "preprocessor.json", "clusters.json", "vae_config.json",
                     "vae_weights.pt", "classifier_config.json", "classifier_weights.pt"}
    for weights in ("vae_weights.pt", "classifier_weights.pt"):
        state = torch.load(saved / weights, weights_only=True)
        assert all(isinstance(v, torch.Tensor) for v in state.values())
    state = json.loads((saved / "label_model.json").read_text())
    assert state["format_version"] == 1 and len(state["proteins"]) == 100
    assert "torch" in state["versions"] and "proteolabel" in state["versions"]
    clusters = json.loads((saved / "clusters.json").read_text())
    assert set(clusters) >= {"eps", "min_samples", "core_points", "core_clusters",
                             "cluster_to_label", "centroids"}


def test_loaded_model_predicts_identically(model, saved, data):
    _, unseen = data
    back = LabelModel.load(saved)
    pd.testing.assert_frame_equal(back.predict(unseen), model.predict(unseen))
    assert back.cluster_to_label == model.cluster_to_label
    assert back.report["cv"] == json.loads(json.dumps(model.report["cv"]))


def test_loaded_model_predicts_identically_in_a_fresh_process(model, saved, data, tmp_path):
    _, unseen = data
    frame = pd.DataFrame(np.asarray(unseen.X), index=unseen.obs_names, columns=unseen.var_names)
    frame.to_csv(tmp_path / "new.csv")
    # same thread count as here: float32 matrix products may round differently with another one
    code = (
        "import sys, pandas as pd, torch\n"
        f"torch.set_num_threads({torch.get_num_threads()})\n"
        "from proteolabel._label_model import LabelModel\n"
        "m = LabelModel.load(sys.argv[1])\n"
        "f = pd.read_csv(sys.argv[2], index_col=0)\n"
        "m.predict(f).to_csv(sys.argv[3], index=False, float_format='%.17g')\n"
    )
    out = tmp_path / "fresh.csv"
    subprocess.run([sys.executable, "-c", code, str(saved), str(tmp_path / "new.csv"), str(out)],
                   check=True, capture_output=True)
    fresh = pd.read_csv(out, keep_default_na=False, na_values=[""])
    here = pd.read_csv(tmp_path / "new.csv", index_col=0)
    here_df = model.predict(here)
    here_df.to_csv(tmp_path / "here.csv", index=False, float_format="%.17g")
    assert (tmp_path / "here.csv").read_bytes() == out.read_bytes()
    assert len(fresh) == unseen.n_obs


def test_load_errors(tmp_path, saved):
    with pytest.raises(FileNotFoundError, match="not a label model folder"):
        LabelModel.load(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    for p in saved.iterdir():
        (bad / p.name).write_bytes(p.read_bytes())
    state = json.loads((bad / "label_model.json").read_text())
    state["format_version"] = 99
    (bad / "label_model.json").write_text(json.dumps(state))
    with pytest.raises(ValueError, match="version 99"):
        LabelModel.load(bad)


# -- the functions the CLI calls ---------------------------------------------------------------
def test_train_and_predict_file(result, data, tmp_path):
    _, unseen = data
    model = train_label_model(result, tmp_path / "model", classifier=_clf(), cv=2)
    assert model.report["cv"]["n_splits"] == 2
    frame = pd.DataFrame(np.asarray(unseen.X), index=unseen.obs_names, columns=unseen.var_names)
    frame.index.name = "sample"
    frame.to_csv(tmp_path / "new.csv")
    df, report = predict_file(tmp_path / "model", tmp_path / "new.csv", tmp_path / "pred",
                              format="generic", samples_in="rows")
    written = pd.read_csv(tmp_path / "pred" / "predictions.csv")
    assert list(written["sample"]) == list(unseen.obs_names)
    assert written["predicted_cluster"].tolist() == df["predicted_cluster"].tolist()
    saved_report = json.loads((tmp_path / "pred" / "predict.json").read_text())
    assert saved_report["n_samples"] == unseen.n_obs
    assert saved_report["proteins"]["n_missing"] == 0
    assert "cv" in saved_report["model_info"]["training"]
    assert report["unlike_training"]["rule"]["distance_factor"] == 2.0
    _, report = predict_file(tmp_path / "model", tmp_path / "new.csv", None, format="generic",
                             samples_in="rows", rule={"distance_factor": 3.0,
                                                      "min_probability": None})
    assert report["unlike_training"]["rule"]["distance_factor"] == 3.0
    assert report["unlike_training"]["rule"]["min_probability"] == model.rule.min_probability


# -- pieces -------------------------------------------------------------------------------------
def test_match_clusters_to_labels_rules():
    clusters = np.array([0, 0, 0, 1, 1, 2, 2, -1])
    labels = np.array(["a", "b", "b", "c", "d", None, "e", "a"], dtype=object)
    tune = np.array([1, 1, 0, 0, 0, 0, 0, 1], dtype=bool)
    rows = {r["cluster"]: r for r in match_clusters_to_labels(clusters, labels, tune)}
    assert set(rows) == {0, 1, 2}  # noise is never matched
    assert rows[0]["label"] == "a" and rows[0]["source"] == "tune" and rows[0]["tie"]
    assert rows[1]["label"] == "c" and rows[1]["source"] == "labelled" and rows[1]["tie"]
    assert rows[2]["label"] == "e" and rows[2]["purity"] == 1.0
    none = match_clusters_to_labels(clusters, np.full(8, None, dtype=object), tune)
    assert all(r["label"] is None and r["source"] is None for r in none)


def test_align_proteins():
    cols, rep = align_proteins(["P1", "B;A", "X"], ["A;B", "P1", "Q"])
    assert cols.tolist() == [1, 0, -1]
    assert rep["n_matched_exact"] == 1 and rep["n_matched_by_accession_set"] == 1
    assert rep["missing"] == ["Q"] and rep["extra"] == ["X"]
    with pytest.raises(ValueError, match="more than once"):
        align_proteins(["P1", "P1"], ["P1"])


def test_align_proteins_by_leading_accession():
    new = ["P12345;Q99999", "P22222;P22223", "X"]
    model = ["P12345;P12346", "P22222", "Q"]
    cols, rep = align_proteins(new, model)
    assert cols.tolist() == [0, 1, -1]
    assert rep["n_matched"] == 2 and rep["n_matched_by_leading_accession"] == 2
    assert rep["n_matched_exact"] == 0 and rep["n_matched_by_accession_set"] == 0
    assert rep["matched_by_leading_accession"] == [["P12345;P12346", "P12345;Q99999"],
                                                   ["P22222", "P22222;P22223"]]
    assert rep["missing"] == ["Q"] and rep["extra"] == ["X"]
    off, rep_off = align_proteins(new, model, by_leading_accession=False)
    assert off.tolist() == [-1, -1, -1] and rep_off["n_matched_by_leading_accession"] == 0
    # whitespace around the leading member is ignored; isoforms are distinct accessions
    cols, rep = align_proteins([" P1 ;B", "P2-2;C"], ["P1;A", "P2;C2"])
    assert cols.tolist() == [0, -1] and rep["n_matched_by_leading_accession"] == 1


def test_ambiguous_leading_accession_is_not_matched():
    # two unused new groups lead with P1
    cols, rep = align_proteins(["P1;A", "P1;B"], ["P1;C"])
    assert cols.tolist() == [-1] and rep["n_matched_by_leading_accession"] == 0
    assert rep["matched_by_leading_accession"] == []
    # two unmatched model groups lead with P1
    cols, rep = align_proteins(["P1;A"], ["P1;B", "P1;C"])
    assert cols.tolist() == [-1, -1] and rep["n_matched_by_leading_accession"] == 0
    # a new group already taken by an exact match does not count against uniqueness
    cols, rep = align_proteins(["P1;A", "P1;B"], ["P1;A", "P1;C"])
    assert cols.tolist() == [0, 1] and rep["n_matched_by_leading_accession"] == 1


def test_exact_and_accession_set_matches_come_before_leading_accession():
    # model "P1;A" is matched by name, not to "P1;B"; model "P2;A" by its accession set to
    # "A;P2", not to "P2;Z" by leading accession; what is left ("P1;C") then takes "P1;B"
    cols, rep = align_proteins(["P1;A", "P1;B", "A;P2", "P2;Z"], ["P1;A", "P2;A", "P1;C"])
    assert cols.tolist() == [0, 2, 1]
    assert rep["n_matched_exact"] == 1 and rep["n_matched_by_accession_set"] == 1
    assert rep["n_matched_by_leading_accession"] == 1
    assert rep["matched_by_leading_accession"] == [["P1;C", "P1;B"]]
    assert rep["extra"] == ["P2;Z"]


@pytest.mark.filterwarnings("ignore:.*have a contaminant-database member:UserWarning")
def test_leading_accession_matches_more_of_two_real_maxquant_runs(tmp_path):
    from proteolabel import io

    names = {}
    for run_name in ("DiUbi", "UbiLength"):
        path = tmp_path / f"{run_name}_proteinGroups.tsv"
        path.write_bytes(lzma.decompress((UBI / f"{path.name}.xz").read_bytes()))
        names[run_name] = [str(v) for v in io.read(path).var_names]
    model, new = names["DiUbi"], names["UbiLength"]
    cols_off, off = align_proteins(new, model, by_leading_accession=False)
    cols, rep = align_proteins(new, model)
    assert off["n_matched_by_leading_accession"] == 0
    assert rep["n_matched_by_leading_accession"] > 0
    assert rep["n_matched"] == off["n_matched"] + rep["n_matched_by_leading_accession"]
    assert rep["n_matched"] == (rep["n_matched_exact"] + rep["n_matched_by_accession_set"]
                                + rep["n_matched_by_leading_accession"])
    # the first two tiers are unchanged
    kept = cols_off >= 0
    assert (cols[kept] == cols_off[kept]).all()
    # each model protein gets its own new protein
    assert len(set(cols[cols >= 0].tolist())) == rep["n_matched"]
    added = np.flatnonzero((cols >= 0) & ~kept)
    assert len(added) == rep["n_matched_by_leading_accession"]
    for j in added:
        m, n = model[j].split(";"), new[cols[j]].split(";")
        assert m[0].strip() == n[0].strip()
        assert set(m) != set(n)  # otherwise the accession-set tier would have matched it
    listed = rep["matched_by_leading_accession"]
    assert 0 < len(listed) <= 50
    assert listed == [[model[j], new[cols[j]]] for j in added[: len(listed)]]


# -- the command line ----------------------------------------------------------------------------
def test_cli_run_then_predict(tmp_path):
    from click.testing import CliRunner

    from proteolabel.cli import main

    def cli(*args):
        res = CliRunner().invoke(main, ["-q", *map(str, args)], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        return res.output

    common = ["--format", "generic", "--samples-in", "rows"]
    out = cli("run", EXCERPT, "--label-column", "site", *common, "--epochs", 150,
              "--min-samples", 5, "--batch-size", 32, "--tune-fraction", 0.5, "--out",
              tmp_path / "run")
    assert "classifier (stratified" in out and "reproduces the clusters (not the known" in out
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["classifier"]["trained"] and info["classifier"]["cv"]["defined"]
    assert (tmp_path / "run" / "model" / "label_model.json").exists()
    out = cli("predict", tmp_path / "run" / "model", EXCERPT, *common, "--out",
              tmp_path / "pred", "--distance-factor", 3)
    assert "72 samples; 100 of the model's 100 proteins found" in out
    pred = pd.read_csv(tmp_path / "pred" / "predictions.csv")
    assert len(pred) == 72
    report = json.loads((tmp_path / "pred" / "predict.json").read_text())
    assert report["unlike_training"]["rule"]["distance_factor"] == 3.0
    assert "leading accession" not in out
    table = pd.read_csv(EXCERPT, index_col=0)
    group = next(c for c in table.columns if ";" in c)
    other = group.split(";")[0] + ";ZZZ999"
    table.rename(columns={group: other}).to_csv(tmp_path / "renamed.csv")
    out = cli("predict", tmp_path / "run" / "model", tmp_path / "renamed.csv", *common, "--out",
              tmp_path / "pred2")
    assert "100 of the model's 100 proteins found" in out
    assert "1 of them matched by leading accession only" in out
    report = json.loads((tmp_path / "pred2" / "predict.json").read_text())
    assert report["proteins"]["matched_by_leading_accession"] == [[group, other]]

    cli("run", EXCERPT, "--label-column", "site", *common, "--epochs", 2, "--min-samples", 5,
        "--no-classifier", "--out", tmp_path / "plain")
    assert "classifier" not in json.loads((tmp_path / "plain" / "run.json").read_text())
    assert not (tmp_path / "plain" / "model" / "label_model.json").exists()
    assert (tmp_path / "plain" / "model" / "clusters.json").exists()


def test_an_unfit_classifier_is_reported(result):
    weak = MLPLabelClassifier(hidden_layers=(4,), epochs=1, learning_rate=1e-6, random_state=0)
    with pytest.warns(UserWarning, match="reproduces only"):
        model = LabelModel.from_run(result, classifier=weak, cv=0)
    assert model.report["classifier"]["training_accuracy"] < 0.9


def test_classifier_at_chance_level_is_recognised():
    from proteolabel._label_model import classifier_at_chance

    assert classifier_at_chance({"defined": True, "balanced_accuracy": 0.50}, 2)
    assert classifier_at_chance({"defined": True, "balanced_accuracy": 0.36}, 3)
    assert not classifier_at_chance({"defined": True, "balanced_accuracy": 0.70}, 2)
    assert not classifier_at_chance({"defined": True, "balanced_accuracy": 0.45}, 3)
    assert not classifier_at_chance({"defined": False}, 2)  # nothing to judge
