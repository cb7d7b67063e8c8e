from __future__ import annotations

import json
import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

from proteolabel.studies import (
    STUDIES,
    class_sep_for,
    empirical_snr,
    group_separation,
    make_groups,
    make_round_groups,
    run_study,
    summarize_study,
)

matplotlib.use("Agg")

# ------------------------------------------------------------------ signal to noise, checked


@pytest.mark.parametrize("k", [1, 3, 6])
@pytest.mark.parametrize("snr", [0.5, 2.0, 6.0])
def test_unit_snr_is_class_sep_over_unit_within_group_sd(k, snr):
    g = min(4, 2**k)
    X, y, info = make_groups(20_000, n_features=12, n_informative=k, n_groups=g, snr=snr,
                             scale=False, random_state=1, return_info=True)
    assert info.class_sep == snr
    inf = info.informative
    # Group centres sit on the hypercube vertices +-class_sep ...
    for grp in range(g):
        centre = X[y == grp][:, inf].mean(axis=0)
        np.testing.assert_allclose(centre, snr * info.vertices[grp], atol=0.05)
    # ... and the within-group noise of every informative feature is standard normal.
    resid = X[:, inf] - snr * info.vertices[y]
    np.testing.assert_allclose(resid.std(axis=0), 1.0, atol=0.03)
    np.testing.assert_allclose(resid.mean(axis=0), 0.0, atol=0.03)
    noise = np.delete(X, inf, axis=1)
    np.testing.assert_allclose(noise.std(axis=0), 1.0, atol=0.03)
    # The measured signal to noise equals the definition, before and after scaling to [0, 1].
    assert empirical_snr(X, y, info) == pytest.approx(snr, rel=0.03)
    Xs, ys, info_s = make_groups(20_000, n_features=12, n_informative=k, n_groups=g, snr=snr,
                                 random_state=1, return_info=True)
    assert Xs.min() == 0.0 and Xs.max() == 1.0
    assert empirical_snr(Xs, ys, info_s) == pytest.approx(empirical_snr(X, y, info), rel=1e-9)


def test_make_classification_within_holds_snr_on_average():
    k, snr = 6, 2.0
    assert class_sep_for(snr, k, "make_classification") == pytest.approx(snr * math.sqrt(2))
    measured = []
    for seed in range(6):
        X, y, info = make_groups(6000, n_features=10, n_informative=k, snr=snr,
                                 within="make_classification", random_state=seed,
                                 return_info=True)
        measured.append(empirical_snr(X, y, info))
    assert np.mean(measured) == pytest.approx(snr, rel=0.12)


def test_make_groups_contract():
    X, y = make_groups(103, n_features=20, n_informative=2, n_groups=4, random_state=0)
    assert X.shape == (103, 20) and y.shape == (103,)
    assert np.bincount(y).min() >= 25
    X2, y2 = make_groups(103, n_features=20, n_informative=2, n_groups=4, random_state=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    with pytest.raises(ValueError, match="hypercube"):
        make_groups(100, n_features=20, n_informative=1, n_groups=4)
    with pytest.raises(ValueError, match="within"):
        make_groups(100, n_features=20, within="other")


def test_group_separation_on_known_geometry():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 5000)
    Z = rng.standard_normal((10_000, 2))
    Z[y == 1, 0] += 6.0
    s = group_separation(Z, y, rng=0)
    assert s["centre_distance"] == pytest.approx(6.0, abs=0.1)
    assert s["within_sd"] == pytest.approx(1.0, abs=0.03)
    assert s["separation"] == pytest.approx(6.0, rel=0.05)
    assert s["silhouette"] > 0.6


def test_round_groups_are_distinct():
    for seed in range(5):
        X, y = make_round_groups(500, 5, random_state=seed)
        centres = np.stack([X[y == g].mean(axis=0) for g in range(5)])
        d = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
        assert d[np.triu_indices(5, 1)].min() > 5.0


# ------------------------------------------------------------------ every study, tiny grid

TINY = dict(sizes=(60,), informative=(2,), snr=(6.0,), seeds=2, epochs=2, n_features=16,
            n_jobs=1, progress=False)

COLUMNS = {
    "samples-features": {"centre_distance", "separation", "silhouette", "dbscan_v_measure",
                         "snr_measured", "final_kl", "fit_seconds", "seconds"},
    "snr": {"centre_distance", "separation", "silhouette", "dbscan_v_measure", "snr"},
    "clusterers": {"clusterer", "heldout_v_measure", "tune_v_measure", "n_clusters",
                   "noise_fraction", "status", "silhouette_true"},
    "silhouette": {"dataset", "k", "silhouette"},
    "eps": {"eps", "eps_relative", "n_clusters", "n_noise", "homogeneity", "completeness",
            "v_measure", "best"},
}
SETTING = {"study", "embedding", "n_samples", "n_features", "n_informative", "n_groups", "snr",
           "within", "epochs", "seed", "warnings"}


@pytest.mark.parametrize("name", STUDIES)
def test_study_runs_on_a_tiny_grid(name, tmp_path):
    df = run_study(name, tmp_path, **TINY)
    assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    on_disk = pd.read_csv(tmp_path / f"{name}.csv")
    assert list(on_disk.columns) == list(df.columns)
    assert len(on_disk) == len(df) > 0
    assert SETTING | COLUMNS[name] <= set(df.columns)
    assert set(df.loc[df["embedding"] != "none", "seed"]) == {0, 1}
    record = json.loads((tmp_path / f"{name}.json").read_text())
    assert record["study"] == name and record["parameters"]["seeds"] == [0, 1]
    summary = summarize_study(name, on_disk)
    assert len(summary) > 0
    if name == "eps":
        assert df.groupby("seed")["best"].sum().tolist() == [1, 1]
    if name == "silhouette":
        assert set(df["dataset"]) == {"round", "stripes"}
        assert set(df["k"]) == set(range(2, 11))


TIMING = ["fit_seconds", "seconds", "warnings"]


def test_same_seed_same_table(tmp_path):
    kw = dict(TINY, seeds=(3,), epochs=3, informative=(1, 2))
    a = run_study("samples-features", tmp_path / "a", **kw)
    b = run_study("samples-features", tmp_path / "b", **kw)
    pd.testing.assert_frame_equal(a.drop(columns=TIMING), b.drop(columns=TIMING))
    assert a["n_groups"].tolist() == [2, 4]  # capped at 2 ** n_informative


def test_parallel_equals_serial(tmp_path):
    # PCA keeps the worker processes light; the VAE path is the same code with one torch
    # thread per worker.
    kw = dict(TINY, seeds=(0, 1), informative=(1, 2), embedding="pca")
    a = run_study("samples-features", tmp_path / "a", **kw)
    b = run_study("samples-features", tmp_path / "b", **{**kw, "n_jobs": 2})
    pd.testing.assert_frame_equal(a.drop(columns=TIMING), b.drop(columns=TIMING))


def test_pca_reference_separates_well_separated_groups(tmp_path):
    df = run_study("snr", tmp_path, sizes=(400,), informative=(4,), snr=(0.25, 8.0), seeds=2,
                   n_features=40, embedding="pca", n_jobs=1, progress=False)
    med = df.groupby("snr")["separation"].median()
    assert med[8.0] > 3 * med[0.25]
    assert df.loc[df["snr"] == 8.0, "dbscan_v_measure"].min() > 0.9


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="name must be one of"):
        run_study("nope", "unused")
    with pytest.raises(ValueError, match="at least 20"):
        run_study("snr", "unused", sizes=(10,))
    with pytest.raises(ValueError, match="embedding"):
        run_study("snr", "unused", embedding="umap")


def test_cli_study_command(tmp_path):
    from click.testing import CliRunner

    from proteolabel.cli import main

    cmd = main.commands["study"]
    assert tuple(cmd.params[0].type.choices) == STUDIES
    res = CliRunner().invoke(main, ["-q", "study", "eps", "--out", str(tmp_path), "--sizes", "60",
                                    "--features", "16", "--epochs", "2", "--seeds", "2",
                                    "--jobs", "1"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "eps.csv").exists() and (tmp_path / "eps.png").exists()
    assert "eps_best" in res.output
    bad = CliRunner().invoke(main, ["study", "snr", "--out", str(tmp_path), "--sizes", "5"])
    assert bad.exit_code != 0 and "at least 20" in bad.output
