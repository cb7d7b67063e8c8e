"""End-to-end: the pipeline and the CLI on small real files, determinism, label handling."""

from __future__ import annotations

import json
import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import DATA

from proteolabel import pp, tl
from proteolabel._pipeline import RunConfig, run
from proteolabel.cli import main
from proteolabel.cluster import DegenerateTuneWarning

NAFLD = DATA / "nafld-plasma-maxquant"
SKYLINE = DATA / "skyline-msstats-spikein" / "skyline_input.csv"
# The NAFLD file was re-saved by pandas; a few over-long cells broke into fragment lines, which
# the MaxQuant reader skips with this warning (and counts).
# Runs of a few epochs are expected to leave the latent collapsed (the warning is tested on its own).
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*too few fields:UserWarning"),
    pytest.mark.filterwarnings("ignore:.*have a contaminant-database member:UserWarning"),
    pytest.mark.filterwarnings("ignore:.*posterior collapse:UserWarning"),
    # runs of a few epochs leave the latent means barely separated (tested on its own below)
    pytest.mark.filterwarnings("ignore:.*barely told apart:UserWarning"),
]


def _run_cli(args):
    res = CliRunner().invoke(main, ["-q", *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res


def test_cli_run_maxquant_with_label_file_writes_everything(tmp_path):
    out = tmp_path / "out"
    res = _run_cli([
        "run", str(NAFLD / "proteinGroups.txt"), "--labels", str(NAFLD / "metadata.xlsx"),
        "--label-column", "disease", "--sample-column", "sample", "--out", str(out),
        "--epochs", "20", "--min-samples", "3", "--tune-fraction", "0.5", "--seed", "1",
    ])
    assert "clusters" in res.output
    for name in ("labels.csv", "latent.csv", "eps_sweep.csv", "result.h5ad", "run.json",
                 "latent.png", "eps_sweep.png", "training_loss.png", "training_history.csv"):
        assert (out / name).stat().st_size > 0, name
    for name in ("preprocessor.json", "vae_config.json", "vae_weights.pt", "clusters.json"):
        assert (out / "model" / name).exists(), name
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    labels = pd.read_csv(out / "labels.csv")
    meta = pd.read_excel(NAFLD / "metadata.xlsx", engine="calamine")
    assert sorted(labels["sample"]) == sorted(meta["sample"])  # every input sample, once
    assert list(labels.columns[:5]) == ["sample", "cluster", "is_noise", "is_tune", "label"]
    assert (labels["is_noise"] == (labels["cluster"] == -1)).all()
    # each named cluster carries the label most of its tune samples carry
    for c, named in labels.dropna(subset=["cluster_label"]).groupby("cluster")["cluster_label"]:
        counts = labels[(labels["cluster"] == c) & labels["is_tune"]]["label"].value_counts()
        top = sorted(counts[counts == counts.max()].index)
        assert c >= 0 and named.nunique() == 1 and named.iloc[0] == top[0]  # ties: first name
    assert labels.loc[labels["is_noise"], "cluster_label"].isna().all()
    # stratified half of each label tunes eps
    per = labels.groupby("label")["is_tune"].agg(["sum", "size"])
    assert ((per["sum"] - per["size"] / 2).abs() <= 0.5).all()

    info = json.loads((out / "run.json").read_text())
    for part in ("tune", "heldout"):
        m = info["metrics"][part]
        for key in ("v_measure", "homogeneity", "completeness", "ari"):
            assert key in m
        assert m["n_samples"] == 24  # half of the 48 labelled samples on each side
    assert info["counts"]["samples_in_input"] == 48
    assert info["dropped"]["read"]["decoy"] >= 1
    assert info["config"]["seed"] == 1
    assert info["versions"]["torch"]
    assert info["eps"] > 0

    h5 = ad.read_h5ad(out / "result.h5ad")
    assert h5.obsm["X_vae"].shape == (48, 2)
    assert set(h5.obs["cluster"]) == set(labels["cluster"])
    assert "eps_search" in h5.uns and "preprocess" in h5.uns


def test_cli_run_skyline_with_input_annotation_labels(tmp_path):
    out = tmp_path / "sky"
    _run_cli(["run", str(SKYLINE), "--label-column", "Condition", "--out", str(out),
              "--epochs", "5", "--min-samples", "2", "--no-classifier"])
    labels = pd.read_csv(out / "labels.csv")
    assert len(labels) == 15
    assert labels["label"].value_counts().to_dict() == {f"Mix{i}": 3 for i in range(1, 6)}
    assert labels["is_tune"].all()  # default: every labelled sample tunes
    info = json.loads((out / "run.json").read_text())
    assert info["metrics"]["heldout"]["n_samples"] == 0
    assert "heldout_note" in info["metrics"]


def test_unknown_label_names_are_listed(tmp_path):
    lab = tmp_path / "labels.csv"
    pd.DataFrame({"sample": ["1_31_C6", "no_such_sample", "other_missing"],
                  "group": ["a", "b", "c"]}).to_csv(lab, index=False)
    res = CliRunner().invoke(main, ["-q", "run", str(NAFLD / "proteinGroups.txt"), "--labels",
                                    str(lab), "--label-column", "group", "--out",
                                    str(tmp_path / "o"), "--epochs", "2"])
    assert res.exit_code != 0
    assert "no_such_sample" in res.output and "other_missing" in res.output
    assert "Traceback" not in res.output


def test_unknown_label_column_of_input_is_a_clear_error(tmp_path):
    res = CliRunner().invoke(main, ["-q", "run", str(SKYLINE), "--label-column", "Nope",
                                    "--out", str(tmp_path / "o"), "--epochs", "2"])
    assert res.exit_code != 0
    assert "'Nope'" in res.output and "Condition" in res.output


def _small_run(seed):
    return run(RunConfig(input=str(NAFLD / "proteinGroups.txt"), labels=str(NAFLD / "metadata.xlsx"),
                         label_column="disease", sample_column="sample", epochs=15,
                         min_samples=3, out=None, seed=seed, progress=False,
                         classifier=False))


def test_same_seed_same_latent_and_labels():
    a, b = _small_run(7), _small_run(7)
    np.testing.assert_array_equal(a.adata.obsm["X_vae"], b.adata.obsm["X_vae"])
    np.testing.assert_array_equal(a.adata.obs["cluster"], b.adata.obs["cluster"])
    assert a.info["eps"] == b.info["eps"]
    c = _small_run(8)
    assert not np.allclose(a.adata.obsm["X_vae"], c.adata.obsm["X_vae"])


def test_tune_eps_warns_about_small_groups_at_the_callers_line():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 6)  # groups of 6 < min_samples 10
    adata = ad.AnnData(np.zeros((24, 1), dtype=np.float32))
    adata.obsm["X_vae"] = np.array([[0, 0], [5, 0], [0, 5], [5, 5]])[y] + 0.2 * rng.standard_normal((24, 2))
    adata.obs["label"] = pd.Categorical([f"g{v}" for v in y])
    tl.select_tune(adata, fraction=0.5, rng=0)
    with pytest.warns(UserWarning, match="every one of the 4 known groups has fewer") as rec:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DegenerateTuneWarning)
            tl.tune_eps(adata, min_samples=10)
    assert all(w.filename == __file__ for w in rec if "fewer labelled" in str(w.message))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tl.tune_eps(adata, min_samples=3)
    assert not [w for w in caught if "fewer labelled" in str(w.message)]
    assert len(set(adata.obs["cluster"]) - {-1}) == 4


def test_select_tune_without_labels_says_how_to_attach_them():
    adata = ad.AnnData(np.zeros((6, 1), dtype=np.float32))
    with pytest.raises(ValueError, match=r"no 'label' column.*read_labels"):
        tl.select_tune(adata, fraction=0.5)
    assert "is_tune" not in adata.obs


def test_eps_choice_recovers_known_groups_in_a_synthetic_latent():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [4, 0], [0, 4], [4, 4]])
    y = np.repeat(np.arange(4), 50)
    Z = centres[y] + 0.3 * rng.standard_normal((200, 2))
    adata = ad.AnnData(np.zeros((200, 1), dtype=np.float32))
    adata.obsm["X_vae"] = Z
    adata.obs["label"] = pd.Categorical([f"g{v}" for v in y])
    tl.select_tune(adata, fraction=0.2, rng=0)
    tl.tune_eps(adata, min_samples=5)
    from sklearn.metrics import v_measure_score

    assert v_measure_score(y, adata.obs["cluster"]) >= 0.95
    assert len(set(adata.obs["cluster"]) - {-1}) == 4
    held = ~adata.obs["is_tune"].to_numpy()
    assert tl.score(adata, held)["v_measure"] >= 0.95


def test_preprocess_keeps_every_sample_and_flags_empty_ones():
    X = np.array([[100.0, 200.0], [np.nan, np.nan], [50.0, 400.0]])
    adata = ad.AnnData(X, obs=pd.DataFrame(index=["a", "b", "c"]),
                       var=pd.DataFrame(index=["P1", "P2"]))
    out = pp.preprocess(adata)
    assert list(out.obs_names) == ["a", "b", "c"]
    assert out.obs["excluded"].tolist() == [False, True, False]
    assert "no observed value" in out.obs.loc["b", "excluded_reason"]
    assert out.uns["preprocess"]["n_samples_excluded"] == 1
    assert np.isnan(out.layers["intensity"][1]).all()


def test_demo_command_runs_on_the_bundled_data(tmp_path):
    out = tmp_path / "demo"
    res = _run_cli(["demo", "--out", str(out), "--epochs", "3", "--n-eps", "20",
                    "--no-classifier"])
    labels = pd.read_csv(out / "labels.csv")
    assert len(labels) == 210
    assert labels["label"].notna().sum() == 197  # 13 samples have no site
    info = json.loads((out / "run.json").read_text())
    assert info["metrics"]["heldout"]["n_samples"] > 100
    assert "heldout" in res.output


def test_compare_command_on_a_run_folder(tmp_path):
    out = tmp_path / "run"
    _run_cli(["run", str(SKYLINE), "--label-column", "Condition", "--out", str(out),
              "--epochs", "5", "--min-samples", "2", "--tune-fraction", "0.67", "--no-classifier"])
    cmp_out = tmp_path / "cmp"
    res = _run_cli(["compare", str(out), "--out", str(cmp_out), "--min-samples", "2",
                    "--methods", "dbscan,kmeans,agglomerative"])
    table = pd.read_csv(cmp_out / "compare.csv", index_col=0)
    assert list(table.index) == ["dbscan", "kmeans", "agglomerative"]
    assert {"tune_v_measure", "heldout_v_measure", "silhouette", "n_clusters", "seconds"} <= set(table)
    # the evaluation set never overlaps the tune set
    labels = pd.read_csv(out / "labels.csv")
    assert (table["tune_n"] == labels["is_tune"].sum()).all()
    assert (table["heldout_n"] == (~labels["is_tune"]).sum()).all()
    assert (cmp_out / "compare.png").read_bytes()[:4] == b"\x89PNG"
    assert "dbscan" in res.output
    # without --min-samples, the run's own setting is reused: DBSCAN gives the run's clusters
    res = _run_cli(["compare", str(out), "--out", str(tmp_path / "cmp2"), "--methods", "dbscan"])
    assert "min_samples=2, as in the run" in res.output
    again = pd.read_csv(tmp_path / "cmp2" / "compare.csv", index_col=0)
    info = json.loads((out / "run.json").read_text())
    assert again.loc["dbscan", "n_clusters"] == info["counts"]["clusters"]


def test_embed_warns_when_the_latent_collapses():
    rng = np.random.default_rng(0)
    adata = ad.AnnData(rng.random((40, 12)).astype(np.float32))
    with pytest.warns(UserWarning, match="posterior collapse"):
        tl.embed(adata, epochs=30, beta=200.0, random_state=0)
    assert adata.uns["vae"]["collapsed"] is True
    assert adata.uns["vae"]["final_kl"] < 0.05


def test_cli_reader_options_reach_the_reader():
    br03 = str(DATA / "cases" / "BR-03" / "proteinGroups.txt")
    plain = json.loads(_run_cli(["inspect", br03, "--json"]).output)
    kept = json.loads(_run_cli(["inspect", br03, "--json", "--option", "keep_contaminants=true"]).output)
    assert "contaminant" in plain["dropped"] and "contaminant" not in kept["dropped"]
    assert kept["n_proteins"] > plain["n_proteins"]
    bad = CliRunner().invoke(main, ["-q", "inspect", br03, "--option", "q_value=0.05"])
    assert bad.exit_code != 0 and "does not take option" in bad.output and "Traceback" not in bad.output
    malformed = CliRunner().invoke(main, ["-q", "inspect", br03, "--option", "keep_decoys"])
    assert malformed.exit_code != 0 and "KEY=VALUE" in malformed.output


def test_a_second_run_into_the_same_folder_leaves_nothing_of_the_first(tmp_path):
    out = tmp_path / "out"
    cfg = dict(input=str(NAFLD / "proteinGroups.txt"), labels=str(NAFLD / "metadata.xlsx"),
               label_column="disease", epochs=3, min_samples=3, out=str(out), progress=False)
    run(RunConfig(**cfg, classifier=True))
    assert (out / "model" / "label_model.json").exists()
    (out / "notes.txt").write_text("mine")  # a user's own file
    run(RunConfig(**cfg, classifier=False))
    assert not (out / "model" / "label_model.json").exists()
    assert not (out / "model" / "classifier_weights.pt").exists()
    assert (out / "model" / "vae_weights.pt").exists() and (out / "notes.txt").read_text() == "mine"


def test_h5ad_column_names_with_slashes_round_trip(tmp_path):
    from proteolabel._pipeline import H5_SLASH, write_h5ad

    a = ad.AnnData(np.ones((3, 2)), obs=pd.DataFrame({"ratio a/b": [1.0, 2.0, 3.0]},
                                                     index=["s1", "s2", "s3"]))
    write_h5ad(a, tmp_path / "x.h5ad")  # warnings are errors: no slash warning from anndata
    back = ad.read_h5ad(tmp_path / "x.h5ad")
    new = f"ratio a{H5_SLASH}b"
    assert list(back.obs.columns) == [new] and back.uns["renamed_columns"] == {new: "ratio a/b"}
    assert list(a.obs.columns) == ["ratio a/b"]  # the caller's AnnData is left as it was


def test_groups_smaller_than_min_samples_are_warned_about():
    cfg = dict(input=str(NAFLD / "proteinGroups.txt"), labels=str(NAFLD / "metadata.xlsx"),
               label_column="disease", epochs=2, out=None, progress=False, classifier=False)
    with pytest.warns(UserWarning, match=r"5 known groups ha(s|ve) fewer labelled samples than "
                                         r"min_samples=10 .*--min-samples 4"):
        run(RunConfig(**cfg, min_samples=10))
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(RunConfig(**cfg, min_samples=4))
    assert not [w for w in caught if "fewer labelled samples than" in str(w.message)]


def test_latent_axis_share_tells_a_line_from_a_plane():
    rng = np.random.default_rng(0)
    t = rng.normal(size=200)
    line = np.c_[t, 2 * t + 1e-4 * rng.normal(size=200)]
    plane = rng.normal(size=(200, 2))
    s_line, s_plane = tl.latent_axis_share(line), tl.latent_axis_share(plane)
    assert s_line[0] > 0.999 and s_line[1] < 1e-6 and abs(sum(s_line) - 1) < 1e-12
    assert min(s_plane) > 0.4


def test_scores_on_one_sample_per_group_say_they_are_uninformative():
    a = ad.AnnData(np.zeros((4, 1)), obs=pd.DataFrame(
        {"label": ["a", "b", "c", "d"], "cluster": [0, 0, 1, 1]}, index=list("wxyz")))
    s = tl.score(a, np.ones(4, bool))
    assert s["completeness"] == pytest.approx(1.0) and s["min_per_class"] == 1
    assert "by construction" in s["note"]
    a.obs["label"] = ["a", "a", "b", "b"]
    assert "note" not in tl.score(a, np.ones(4, bool))


def test_one_tune_sample_per_group_is_warned_about(tmp_path):
    ubi = DATA / "ubiquitin-dep-maxquant"
    cfg = RunConfig(input=str(ubi / "DiUbi_proteinGroups.tsv"), labels=str(ubi / "DiUbi_ExpDesign.tsv"),
                    label_column="condition", min_samples=2, tune_fraction=0.34, epochs=2, out=None,
                    progress=False, classifier=False)
    with pytest.warns(UserWarning, match="single tune sample"):
        run(cfg)


def test_compare_writes_beside_the_run_by_default(tmp_path, monkeypatch):
    out = tmp_path / "run"
    _run_cli(["run", str(SKYLINE), "--label-column", "Condition", "--out", str(out),
              "--epochs", "3", "--min-samples", "2", "--no-classifier"])
    monkeypatch.chdir(tmp_path)
    _run_cli(["compare", str(out), "--methods", "dbscan,kmeans"])
    assert (out / "compare" / "compare.csv").exists() and not (tmp_path / "proteolabel_out").exists()


def test_run_json_says_how_eps_was_chosen_and_how_stable_it_is(tmp_path):
    from proteolabel.cluster import NoTuneSamplesWarning

    with pytest.warns(NoTuneSamplesWarning):
        run(RunConfig(input=str(SKYLINE), epochs=3, min_samples=2, out=str(tmp_path / "o"),
                      progress=False, classifier=False))
    rec = json.loads((tmp_path / "o" / "run.json").read_text())["eps_search"]
    assert rec["rule"] == "unsupervised 'knee' rule" and rec["had_tune_samples"] is False
    assert 0.0 <= rec["stability"] <= 1.0 and rec["eps_range"][0] <= rec["eps_range"][1]


def test_consensus_over_seeds_adds_agreement_per_sample(tmp_path):
    import warnings

    ubi = DATA / "ubiquitin-dep-maxquant"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = run(RunConfig(input=str(ubi / "DiUbi_proteinGroups.tsv"),
                            labels=str(ubi / "DiUbi_ExpDesign.tsv"), label_column="condition",
                            min_samples=2, tune_fraction=0.67, epochs=3, consensus_runs=3,
                            out=str(tmp_path / "o"), progress=False, classifier=False))
    cons = res.info["consensus"]
    # 3 epochs leave the runs far apart: an unstable consensus says so
    unstable = [w for w in caught if "agree poorly" in str(w.message)]
    assert bool(unstable) == (not cons["stable"])
    # runs that found no structure are named, and warned about
    assert len(cons["n_clusters"]) == 3
    flat = [i + 1 for i, k in enumerate(cons["n_clusters"]) if k <= 1]
    assert set(flat) <= set(cons["runs_without_structure"])
    named = [w for w in caught if "found no structure" in str(w.message)]
    assert bool(named) == bool(cons["runs_without_structure"])
    # one random_state per run, the main run's (RunConfig's seed, 0) first
    assert cons["n_runs"] == 3 and len(cons["seeds"]) == 3 and len(cons["eps"]) == 3
    assert cons["seeds"][0] == 0 == res.info["vae"]["params"]["random_state"]
    assert -1 <= cons["mean_pairwise_ari"] <= 1
    assert cons["stable"] == (cons["mean_pairwise_ari"] >= 0.5)
    labels = pd.read_csv(tmp_path / "o" / "labels.csv")
    assert {"consensus_cluster", "agreement"} <= set(labels.columns)
    # agreement is a share of 3 runs: 1/3, 2/3 or 1
    assert set(np.round(labels["agreement"] * 3).astype(int)) <= {1, 2, 3}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = run(RunConfig(input=str(ubi / "DiUbi_proteinGroups.tsv"),
                              labels=str(ubi / "DiUbi_ExpDesign.tsv"), label_column="condition",
                              min_samples=2, tune_fraction=0.67, epochs=3, consensus_runs=3,
                              out=None, progress=False, classifier=False))
    assert again.info["consensus"]["seeds"] == cons["seeds"]  # same seed, same extra runs
    np.testing.assert_array_equal(again.adata.obs["consensus_cluster"], res.adata.obs["consensus_cluster"])


def test_run_leaves_the_callers_anndata_alone():
    from proteolabel.io import read

    a = read(SKYLINE)
    before = list(a.obs.columns)
    run(RunConfig(input="given", label_column="Condition", epochs=2, min_samples=2, out=None,
                  progress=False, classifier=False), adata=a)
    assert list(a.obs.columns) == before and "label" not in a.obs


def test_reconstruction_r2_measures_what_the_latent_reproduces():
    rng = np.random.default_rng(0)
    centres = rng.random((3, 40))
    X = np.clip(centres[np.repeat(np.arange(3), 50)] + 0.05 * rng.standard_normal((150, 40)), 0, 1)
    a = ad.AnnData(X.astype(np.float32))
    est = tl.embed(a, epochs=150, random_state=0)
    r2 = a.uns["vae"]["reconstruction_r2"]
    R = est.reconstruct(X.astype(np.float32))
    manual = 1 - ((X - R) ** 2).sum() / ((X - X.mean(axis=0)) ** 2).sum()
    assert r2 == pytest.approx(manual, rel=1e-6)
    assert r2 > 0.5  # three well separated groups: most of the variance is reproduced

    class MeanProfile:  # a "model" that gives every sample the mean profile scores 0
        def reconstruct(self, Y):
            return np.broadcast_to(X.mean(axis=0), np.shape(Y))

    assert tl.reconstruction_r2(MeanProfile(), X) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.filterwarnings("default:.*barely told apart:UserWarning")
def test_barely_separated_latent_means_are_warned_about():
    import warnings

    rng = np.random.default_rng(0)
    centres = rng.random((3, 40))
    X = np.clip(centres[np.repeat(np.arange(3), 50)] + 0.05 * rng.standard_normal((150, 40)), 0, 1)
    short = ad.AnnData(X.astype(np.float32))
    with pytest.warns(tl.WeakLatentWarning, match="barely told apart"):
        tl.embed(short, epochs=2, random_state=0)
    assert short.uns["vae"]["latent_separation"] < tl.WEAK_SEPARATION
    long = ad.AnnData(X.astype(np.float32))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tl.embed(long, epochs=150, random_state=0)
    assert long.uns["vae"]["latent_separation"] > 1.0
    assert not [w for w in caught if issubclass(w.category, tl.WeakLatentWarning)]


def test_quiet_and_verbose_flags_work_after_the_subcommand():
    import logging

    for args, level in ((["formats", "-q"], logging.WARNING), (["formats", "-vv"], logging.DEBUG),
                        (["-q", "formats"], logging.WARNING), (["formats"], logging.INFO),
                        (["formats", "--quiet"], logging.WARNING)):
        res = CliRunner().invoke(main, args, catch_exceptions=False)
        assert res.exit_code == 0, (args, res.output)
        assert "maxquant" in res.output
        assert logging.getLogger("proteolabel").level == level, args
    bad = CliRunner().invoke(main, ["formats", "--no-such-flag"])
    assert bad.exit_code != 0 and "No such option" in bad.output


def test_summary_says_when_rounding_moves_the_tune_share(tmp_path):
    ubi = DATA / "ubiquitin-dep-maxquant"  # groups of 3: round(0.5 x 3) = 2 tune samples each
    res = _run_cli(["run", str(ubi / "DiUbi_proteinGroups.tsv"), "--labels",
                    str(ubi / "DiUbi_ExpDesign.tsv"), "--label-column", "condition",
                    "--tune-fraction", "0.5", "--min-samples", "2", "--epochs", "2",
                    "--no-classifier", "--out", str(tmp_path / "o")])
    info = json.loads((tmp_path / "o" / "run.json").read_text())["counts"]
    share = info["tune_samples"] / info["labelled_samples"]
    assert abs(share - 0.5) >= 0.05
    assert f"a share of {share:.2f} for --tune-fraction 0.5" in res.output
