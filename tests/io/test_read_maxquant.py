from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import DATA

from proteolabel._constants import LAYER_N_VALUES, UNS_READ
from proteolabel.io import read

NAFLD = DATA / "nafld-plasma-maxquant" / "proteinGroups.txt"
DIUBI = DATA / "ubiquitin-dep-maxquant" / "DiUbi_proteinGroups.tsv"
EVIDENCE = DATA / "proteobench-diann-maxquant" / "MaxQuant_2_5_1_evidence_sample.txt"


def read_nafld(**kw):
    with (pytest.warns(UserWarning, match="fragments of an over-long cell"),
          pytest.warns(UserWarning, match="have a contaminant-database member.*APOA1")):
        return read(NAFLD, **kw)


def test_nafld_excerpt_quirks():
    adata = read_nafld()
    info = adata.uns[UNS_READ]
    assert info["format"] == "maxquant"
    assert adata.n_obs == 48
    assert adata.obs_names[0] == "1_31_C6" and adata.obs_names[-1] == "1_78_G5"
    assert "Unnamed: 0" not in adata.var_names and "0" not in adata.var_names
    assert info["dropped"]["malformed_rows"] == 2  # lines 90-91: pieces of an over-long cell
    # 1 group flagged '+' by MaxQuant, 3 more with an unflagged CON__ member (reported apart)
    assert info["dropped"]["decoy"] >= 2 and info["dropped"]["contaminant"] == 1
    assert info["dropped"]["contaminant_member"] == 3
    assert info["dropped"]["only_identified_by_site"] >= 1
    assert not any(v.startswith(("REV__", "CON__")) for p in adata.var_names for v in p.split(";"))
    assert any("trailing empty fields" in m for m in info["messages"])
    assert info["missing_tokens"]["0.0"] > 0


def test_nafld_values_match_pandas():
    adata = read_nafld()
    ref = pd.read_csv(NAFLD, sep="\t", low_memory=False).set_index("Protein IDs")
    ref = ref.filter(like="LFQ intensity ").replace(0, np.nan)
    ref.columns = [c.replace("LFQ intensity ", "") for c in ref.columns]
    for protein in adata.var_names[:10]:
        np.testing.assert_array_equal(adata[:, protein].X.ravel(), ref.loc[protein].to_numpy())


def test_dotted_names_rda_and_tsv_agree():
    tsv = read(DIUBI)
    rda = read(DATA / "ubiquitin-dep-maxquant" / "DiUbi_excerpt.rda")
    assert tsv.uns[UNS_READ]["format"] == rda.uns[UNS_READ]["format"] == "maxquant"
    assert tsv.n_obs == 30 and list(tsv.obs_names[:4]) == ["control1", "control2", "control3",
                                                          "K11_1"]
    assert list(tsv.obs_names) == list(rda.obs_names)
    assert list(tsv.var_names) == list(rda.var_names)
    np.testing.assert_array_equal(tsv.X, rda.X)
    assert tsv.uns[UNS_READ]["dropped"] == {"decoy": 4, "contaminant": 4,
                                           "only_identified_by_site": 4}


def test_ibaq_and_intensity_quantities(tmp_path):
    ibaq = read(DIUBI, quantity="ibaq")
    assert ibaq.uns[UNS_READ]["quantity"].startswith("iBAQ")
    assert ibaq.n_obs == 30
    lfq = read(DIUBI)
    shared = ibaq.var_names[:5]
    assert not np.array_equal(np.nan_to_num(ibaq[:, shared].X), np.nan_to_num(lfq[:, shared].X))
    with pytest.raises(ValueError, match=r"no 'Intensity <sample>' columns found.*LFQ intensity"):
        read(DIUBI, quantity="intensity")
    with pytest.raises(ValueError, match="unknown MaxQuant quantity"):
        read(DIUBI, quantity="spectral")


def test_lfq_missing_falls_back_with_warning(tmp_path):
    frame = pd.read_csv(DIUBI, sep="\t", dtype=str, keep_default_na=False)
    frame = frame.drop(columns=[c for c in frame.columns if c.startswith("LFQ.")])
    frame.to_csv(tmp_path / "proteinGroups.txt", sep="\t", index=False)
    with pytest.warns(UserWarning, match="no 'LFQ intensity' columns"):
        adata = read(tmp_path / "proteinGroups.txt")
    assert adata.uns[UNS_READ]["quantity"].startswith("iBAQ")


def test_no_quantity_columns_error_lists_what_was_looked_for(tmp_path):
    pd.DataFrame({"Protein IDs": ["P1"], "Score": [3]}).to_csv(tmp_path / "proteinGroups.txt",
                                                               sep="\t", index=False)
    with pytest.raises(ValueError) as err:
        read(tmp_path / "proteinGroups.txt", format="maxquant")
    text = str(err.value)
    assert "LFQ intensity <sample>" in text and "iBAQ <sample>" in text and "Score" in text


def test_text_in_value_column_is_an_error(tmp_path):
    frame = pd.read_csv(DATA / "cases" / "BR-03" / "proteinGroups.txt", sep="\t", dtype=str,
                        keep_default_na=False)
    frame.loc[1, "LFQ intensity Trt_1"] = "12x4"
    frame.to_csv(tmp_path / "proteinGroups.txt", sep="\t", index=False)
    with pytest.raises(ValueError, match=r"'LFQ intensity Trt_1'.*row 2.*'12x4'"):
        read(tmp_path / "proteinGroups.txt")


def test_duplicate_sample_headers(tmp_path):
    text = (DATA / "cases" / "BR-03" / "proteinGroups.txt").read_text()
    text = text.replace("LFQ intensity Trt_2", "LFQ intensity Trt_1", 1)
    (tmp_path / "proteinGroups.txt").write_text(text)
    with pytest.raises(ValueError, match=r"'LFQ intensity Trt_1' appears 2 times \(columns 10, 11"):
        read(tmp_path / "proteinGroups.txt")


def test_evidence_summed_per_protein():
    adata = read(EVIDENCE)
    info = adata.uns[UNS_READ]
    assert info["format"] == "maxquant_evidence"
    assert adata.n_obs == 6
    assert info["dropped"]["contaminant"] >= 1  # Cont_ leading razor proteins
    ref = pd.read_csv(EVIDENCE, sep="\t")
    ref = ref[~ref["Leading razor protein"].str.contains("Cont_")]
    expected = ref.groupby(["Experiment", "Leading razor protein"])["Intensity"].sum(min_count=1)
    expected = expected.unstack()
    for protein in adata.var_names[:15]:
        got = adata[:, protein].X.ravel()
        want = expected.loc[list(adata.obs_names), protein].to_numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12)
    counts = ref.groupby(["Experiment", "Leading razor protein"])["Intensity"].count().unstack()
    n = adata[:, adata.var_names[0]].layers[LAYER_N_VALUES].ravel()
    np.testing.assert_array_equal(n, counts.loc[list(adata.obs_names), adata.var_names[0]]
                                  .fillna(0).to_numpy())


def test_unflagged_groups_with_a_contaminant_member_are_reported_apart(tmp_path):
    # MaxQuant flagged only CON__P1; the group P2;CON__P9 is a sample protein to MaxQuant
    path = tmp_path / "proteinGroups.txt"
    path.write_text(
        "Protein IDs\tGene names\tReverse\tPotential contaminant\tLFQ intensity A\tLFQ intensity B\n"
        "CON__P1\tKRT1\t\t+\t100\t200\n"
        "P2;CON__P9\tAPOA1\t\t\t5000\t6000\n"
        "P3\tALB\t\t\t300\t400\n"
    )
    expected = r"1 protein groups have a contaminant-database member.*P2;\.\.\. \(2 members\) APOA1"
    with pytest.warns(UserWarning, match=expected):
        a = read(path)
    assert list(a.var_names) == ["P3"]
    assert a.uns["read"]["dropped"]["contaminant"] == 1
    assert a.uns["read"]["dropped"]["contaminant_member"] == 1
    kept = read(path, keep_contaminant_members=True)
    assert list(kept.var_names) == ["P2;CON__P9", "P3"]
    np.testing.assert_array_equal(kept[:, "P2;CON__P9"].X.ravel(), [5000.0, 6000.0])
