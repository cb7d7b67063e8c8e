"""The shared break cases BR-03, BR-05, BR-08 and BR-12, asserted as their expected.md says."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import CASES

from proteolabel._constants import LAYER_N_VALUES, UNS_READ
from proteolabel.io import read, read_labels


def cell(adata, sample, protein):
    return adata[sample, protein].X.item()


# --- BR-03: MaxQuant 'Decoy' instead of 'Reverse', prefixes, groups, zeros -----------------------


def test_br03_filters_and_counts():
    adata = read(CASES / "BR-03" / "proteinGroups.txt")
    info = adata.uns[UNS_READ]
    assert info["format"] == "maxquant"
    assert info["dropped"]["decoy"] == 1
    assert info["dropped"]["contaminant"] == 2
    assert info["dropped"]["only_identified_by_site"] == 1
    assert info["dropped"]["no_values"] == 1
    assert info["dropped_proteins"]["decoy"] == ["REV__PX00004"]
    assert set(info["dropped_proteins"]["contaminant"]) == {"CON__PX90001", "PX00007;CON__PX90002"}
    assert info["dropped_proteins"]["only_identified_by_site"] == ["PX00005"]
    assert info["dropped_proteins"]["no_values"] == ["PX00006"]


def test_br03_result_matrix():
    adata = read(CASES / "BR-03" / "proteinGroups.txt")
    assert list(adata.obs_names) == ["Ctrl_1", "Ctrl_2", "Trt_1", "Trt_2"]
    assert list(adata.var_names) == ["PX00001;PX00002", "PX00003"]  # the group is one feature
    assert math.isnan(cell(adata, "Ctrl_2", "PX00003"))  # 0 became missing
    assert cell(adata, "Ctrl_1", "PX00001;PX00002") == 3100000
    assert cell(adata, "Trt_2", "PX00003") == 580000
    assert adata.X.dtype == np.float64
    assert adata.uns[UNS_READ]["quantity"].startswith("LFQ intensity")


def test_br03_reverse_column_and_prefix_without_flags(tmp_path):
    frame = pd.read_csv(CASES / "BR-03" / "proteinGroups.txt", sep="\t", dtype=str,
                        keep_default_na=False)
    # MaxQuant < 2.8 spelling: 'Reverse' instead of 'Decoy'
    frame.rename(columns={"Decoy": "Reverse"}).to_csv(tmp_path / "a.txt", sep="\t", index=False)
    assert read(tmp_path / "a.txt").uns[UNS_READ]["dropped"]["decoy"] == 1
    # no flag column at all: REV__/CON__ still caught, and a warning says the flags are missing
    no_flags = frame.drop(columns=["Decoy", "Potential contaminant"])
    no_flags.to_csv(tmp_path / "b.txt", sep="\t", index=False)
    with pytest.warns(UserWarning, match="Reverse/Decoy/Potential contaminant"):
        adata = read(tmp_path / "b.txt")
    info = adata.uns[UNS_READ]
    assert info["dropped"]["decoy"] == 1
    assert info["dropped"]["contaminant"] == 2
    assert any("Reverse/Decoy" in w for w in info["warnings"])


def test_br03_keep_options():
    adata = read(CASES / "BR-03" / "proteinGroups.txt", keep_decoys=True, keep_contaminants=True,
                 keep_site_only=True)
    assert {"REV__PX00004", "CON__PX90001", "PX00007;CON__PX90002", "PX00005"} <= set(
        adata.var_names
    )
    assert "PX00006" not in adata.var_names  # still no values


# --- BR-05: DIA-NN pg_matrix, blank / 0 / 0.0, Windows paths -------------------------------------


def test_br05_values_and_names():
    adata = read(CASES / "BR-05" / "report.pg_matrix.tsv")
    assert adata.uns[UNS_READ]["format"] == "diann_pg"
    assert list(adata.obs_names) == ["S_ctrl_01", "S_ctrl_02", "S_trt_01"]
    assert list(adata.var_names) == ["PX00001", "PX00002;PX00009", "PX00004"]
    expected = np.array([
        [152340.5, np.nan, np.nan],
        [148800.25, 35120.75, 9876.5],
        [201500, np.nan, 10400],
    ])
    np.testing.assert_array_equal(adata.X, expected)
    assert not np.isinf(adata.X).any()


def test_br05_dropped_and_report_line():
    info = read(CASES / "BR-05" / "report.pg_matrix.tsv").uns[UNS_READ]
    assert sorted(info["dropped_proteins"]["no_values"]) == ["PX00003", "PX00005"]
    assert info["dropped"] == {"no_values": 2}
    assert info["missing_tokens"] == {"0": 3, "0.0": 1, "blank": 5}
    assert "4 values were 0, 5 were blank; all treated as missing" in info["messages"]


# --- BR-08: Skyline '#N/A', replicate names with spaces, all-missing sums ------------------------


def test_br08_sums_and_missing():
    adata = read(CASES / "BR-08" / "skyline_peptide_areas.csv")
    assert adata.uns[UNS_READ]["format"] == "skyline"
    assert list(adata.obs_names) == ["Ctrl 1", "Ctrl 2", "Trt 1"]  # spaces kept
    a, b, c = "sp|PX00001|PXA_TEST", "sp|PX00002|PXB_TEST", "sp|PX00003|PXC_TEST"
    assert list(adata.var_names) == [a, b, c]
    assert cell(adata, "Ctrl 1", a) == 20000
    assert cell(adata, "Ctrl 2", a) == 14000
    assert cell(adata, "Trt 1", a) == 37000
    assert math.isnan(cell(adata, "Ctrl 1", b))  # all '#N/A': missing, not 0
    assert cell(adata, "Ctrl 2", b) == 4000
    assert math.isnan(cell(adata, "Trt 1", b))
    assert math.isnan(cell(adata, "Ctrl 1", c))  # the only value is 0
    assert cell(adata, "Ctrl 2", c) == 640
    assert cell(adata, "Trt 1", c) == 610
    np.testing.assert_allclose(np.log2([20000, 14000, 37000, 4000, 640, 610]),
                               [14.2877, 13.7731, 15.1752, 11.9658, 9.3219, 9.2527], atol=1e-4)


def test_br08_values_summed_per_cell():
    adata = read(CASES / "BR-08" / "skyline_peptide_areas.csv")
    n = pd.DataFrame(adata.layers[LAYER_N_VALUES], index=adata.obs_names, columns=adata.var_names)
    assert n.loc["Ctrl 2", "sp|PX00001|PXA_TEST"] == 1  # 1 of 2 peptides
    assert n.loc["Ctrl 1", "sp|PX00001|PXA_TEST"] == 2
    assert n.loc["Ctrl 1", "sp|PX00002|PXB_TEST"] == 0
    info = adata.uns[UNS_READ]
    assert info["missing_tokens"] == {"#n_a": 5, "0": 1}
    assert any("fewer values" in m for m in info["messages"])


def test_br08_label_names_that_do_not_match(tmp_path):
    adata = read(CASES / "BR-08" / "skyline_peptide_areas.csv")
    path = tmp_path / "labels.csv"
    pd.DataFrame({"sample": ["Ctrl_1", "Ctrl 2", "Trt1"], "group": ["c", "c", "t"]}).to_csv(
        path, index=False
    )
    with pytest.raises(ValueError) as err:
        read_labels(path, samples=adata.obs_names)
    text = str(err.value)
    assert "'Ctrl_1'" in text and "'Trt1'" in text and "labels.csv" in text
    assert "'Ctrl 1'" in text and "'Trt 1'" in text  # suggested close matches
    assert "'Ctrl 2'" not in text.split("\n")[1:3]


# --- BR-12: the reader's part (zeros/blanks missing, all-zero protein dropped) -------------------


def test_br12_reader_part():
    adata = read(CASES / "BR-12" / "matrix.csv")
    info = adata.uns[UNS_READ]
    assert info["format"] == "generic"
    assert list(adata.obs_names) == ["smp_01", "smp_02", "smp_03", "smp_04"]
    assert list(adata.var_names) == ["PX_NORMAL", "PX_CONST", "PX_SINGLE", "PX_TWOVAL"]
    assert info["dropped_proteins"]["no_values"] == ["PX_ALLZERO"]
    df = adata.to_df()
    np.testing.assert_array_equal(df["PX_NORMAL"], [1024, 2048, 4096, 8192])
    np.testing.assert_array_equal(df["PX_CONST"], [5000] * 4)
    np.testing.assert_array_equal(df["PX_SINGLE"], [800, np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(df["PX_TWOVAL"], [300, 300, 1200, np.nan])
    assert (adata.X[~np.isnan(adata.X)] > 0).all()  # log2 is safe on every present value


def test_uns_read_is_json_and_h5ad_safe(tmp_path):
    for path in (CASES / "BR-08" / "skyline_peptide_areas.csv", CASES / "BR-05" /
                 "report.pg_matrix.tsv"):
        adata = read(path)
        json.dumps(adata.uns[UNS_READ])
        adata.write_h5ad(tmp_path / "x.h5ad")
        back = read(tmp_path / "x.h5ad")
        np.testing.assert_array_equal(back.X, adata.X)
        assert list(back.obs_names) == list(adata.obs_names)
