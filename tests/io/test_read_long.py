"""Long-report readers: Skyline, DIA-NN, Spectronaut, generic long."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import CASES, DATA

from proteolabel._constants import LAYER_N_VALUES, UNS_READ
from proteolabel.io import read

SKYLINE = DATA / "skyline-msstats-spikein" / "skyline_input.csv"
DIANN = DATA / "proteobench-diann-maxquant" / "DIANN_1.9_beta_sample_report.tsv"
RAPA = DATA / "rapamycin-spectronaut-precursors"


# --- Skyline -----------------------------------------------------------------------------------


def test_skyline_msstats_form():
    adata = read(SKYLINE)
    info = adata.uns[UNS_READ]
    assert info["format"] == "skyline"
    assert adata.n_obs == 15
    assert adata.obs_names[0] == "121219_S_CCES_01_01_LysC_Try_1to10_Mixt_1_1"  # .raw dropped
    assert adata.obs["Condition"].tolist()[:3] == ["Mix1"] * 3
    assert sorted(set(adata.obs["Condition"])) == ["Mix1", "Mix2", "Mix3", "Mix4", "Mix5"]
    ref = pd.read_csv(SKYLINE, na_values=["#N/A"])
    ref["run"] = ref["File.Name"].str.replace(".raw", "", regex=False)
    want = ref.groupby(["run", "Protein.Name"])["Area"].sum(min_count=1).unstack()
    got = adata.to_df()
    np.testing.assert_allclose(got.to_numpy(), want.loc[got.index, got.columns].to_numpy())
    counts = ref.groupby(["run", "Protein.Name"])["Area"].count().unstack()
    np.testing.assert_array_equal(adata.layers[LAYER_N_VALUES],
                                  counts.loc[got.index, got.columns].to_numpy())
    assert info["missing_tokens"].get("#n_a", 0) == int(ref["Area"].isna().sum())


def test_skyline_transition_export_with_totals(tmp_path):
    # a transition-level export in Skyline's own names: Total Area repeats on every transition
    rows = []
    for rep in ("A 1", "B 1"):
        for pep, total in (("PEPTIDEK", 900.0), ("OTHERR", 100.0)):
            for ion, area in (("y4", total / 3), ("y5", 2 * total / 3)):
                rows.append({"Protein Name": "P1", "Peptide Sequence": pep, "Replicate Name": rep,
                             "Precursor Charge": 2, "Fragment Ion": ion,
                             "Isotope Label Type": "light", "Area": area, "Total Area": total})
        rows.append({"Protein Name": "P1", "Peptide Sequence": "PEPTIDEK", "Replicate Name": rep,
                     "Precursor Charge": 2, "Fragment Ion": "y4", "Isotope Label Type": "heavy",
                     "Area": 5e6, "Total Area": 5e6})
    pd.DataFrame(rows).to_csv(tmp_path / "sky.csv", index=False)
    by_area = read(tmp_path / "sky.csv")
    assert by_area.uns[UNS_READ]["quantity"].startswith("Area")
    np.testing.assert_allclose(by_area.X.ravel(), [1000, 1000])  # heavy standard left out
    assert by_area.uns[UNS_READ]["dropped"]["rows_isotope_label"] == 2
    by_total = read(tmp_path / "sky.csv", quantity="total_area")
    np.testing.assert_allclose(by_total.X.ravel(), [1000, 1000])  # each total counted once
    with_heavy = read(tmp_path / "sky.csv", isotope_label=None)
    np.testing.assert_allclose(with_heavy.X.ravel(), [1000 + 5e6] * 2)


# --- DIA-NN ------------------------------------------------------------------------------------


def _diann_ref(quantity="PG.MaxLFQ"):
    ref = pd.read_csv(DIANN, sep="\t")
    ref = ref[(ref["Q.Value"] <= 0.01) & (ref["PG.Q.Value"] <= 0.01)]
    ref = ref.assign(v=ref[quantity].replace(0, np.nan))
    agg = "max" if quantity.startswith("PG.") else "sum"
    return ref.groupby(["Run", "Protein.Group"])["v"].agg(agg).unstack() if agg == "max" else (
        ref.groupby(["Run", "Protein.Group"])["v"].sum(min_count=1).unstack())


def test_diann_report_maxlfq():
    adata = read(DIANN)
    info = adata.uns[UNS_READ]
    assert info["format"] == "diann"
    assert info["quantity"].startswith("PG.MaxLFQ")
    assert adata.n_obs == 6
    assert all(n.startswith("LFQ_Orbitrap_AIF_Condition_") for n in adata.obs_names)
    assert info["dropped"]["rows_pg_q_value"] > 0
    want = _diann_ref()
    got = adata.to_df()
    np.testing.assert_allclose(got.to_numpy(), want.loc[got.index, got.columns].to_numpy())


def test_diann_precursor_sum_and_filters_off():
    adata = read(DIANN, quantity="precursor")
    want = _diann_ref("Precursor.Quantity")
    got = adata.to_df()
    np.testing.assert_allclose(got.to_numpy(), want.loc[got.index, got.columns].to_numpy())
    loose = read(DIANN, q_value=None, pg_q_value=None)
    assert "rows_pg_q_value" not in loose.uns[UNS_READ]["dropped"]
    assert loose.n_vars >= adata.n_vars


def test_diann_parquet_and_small_batches_agree(tmp_path):
    pytest.importorskip("pyarrow")
    frame = pd.read_csv(DIANN, sep="\t")
    frame.to_parquet(tmp_path / "report.parquet")
    tsv = read(DIANN, batch_rows=37)
    pq = read(tmp_path / "report.parquet", batch_rows=50)
    assert pq.uns[UNS_READ]["format"] == "diann"
    assert list(tsv.obs_names) == list(pq.obs_names)
    assert list(tsv.var_names) == list(pq.var_names)
    np.testing.assert_allclose(tsv.X, pq.X)
    np.testing.assert_array_equal(tsv.layers[LAYER_N_VALUES], pq.layers[LAYER_N_VALUES])
    assert tsv.uns[UNS_READ]["dropped"] == pq.uns[UNS_READ]["dropped"]


def test_diann_runs_from_file_name(tmp_path):
    frame = pd.read_csv(DIANN, sep="\t").drop(columns=["Run"])
    frame.to_csv(tmp_path / "report.tsv", sep="\t", index=False)
    adata = read(tmp_path / "report.tsv")
    assert sorted(adata.obs_names) == sorted(read(DIANN).obs_names)


# --- Spectronaut --------------------------------------------------------------------------------


def _rapa_ref(path):
    ref = pd.read_csv(path, sep="\t")
    ref = ref[~ref["eg_is_decoy"]]
    return ref.groupby(["r_file_name", "pg_protein_accessions"])["fg_quantity"].sum(
        min_count=1).unstack()


@pytest.mark.parametrize(
    "name, n", [("rapamycin_10uM.tsv", 8), ("rapamycin_dose_response.tsv", 36)]
)
def test_spectronaut_snake_case(name, n):
    adata = read(RAPA / name)
    info = adata.uns[UNS_READ]
    assert info["format"] == "spectronaut"
    assert adata.n_obs == n
    assert "r_condition" in adata.obs
    want = _rapa_ref(RAPA / name)
    got = adata.to_df()
    np.testing.assert_allclose(got.to_numpy(), want.loc[got.index, got.columns].to_numpy())


def test_spectronaut_dotted_names_and_decoys(tmp_path):
    frame = pd.read_csv(RAPA / "rapamycin_10uM.tsv", sep="\t")
    frame = frame.rename(columns={
        "r_condition": "R.Condition", "r_file_name": "R.FileName",
        "pg_protein_accessions": "PG.ProteinAccessions", "eg_is_decoy": "EG.IsDecoy",
        "eg_precursor_id": "EG.PrecursorId", "fg_quantity": "FG.Quantity",
        "pep_is_proteotypic": "PEP.IsProteotypic", "pep_stripped_sequence": "PEP.StrippedSequence",
    })
    frame["R.FileName"] = frame["R.FileName"] + ".raw"
    frame.loc[0, "EG.IsDecoy"] = True
    frame["FG.Quantity"] = frame["FG.Quantity"].astype(object)
    frame.loc[1, "FG.Quantity"] = "Filtered"
    frame.to_csv(tmp_path / "Report.tsv", sep="\t", index=False)
    adata = read(tmp_path / "Report.tsv")
    info = adata.uns[UNS_READ]
    assert info["format"] == "spectronaut" and adata.n_obs == 8
    assert adata.obs_names[0] == "control_01"
    assert info["dropped"]["rows_decoy"] == 1
    assert info["missing_tokens"]["filtered"] == 1
    assert set(adata.obs["R.Condition"]) == {"control", "rapamycin"}


def test_spectronaut_pivot(tmp_path):
    frame = pd.DataFrame({
        "PG.ProteinGroups": ["P1;P2", "P3", "P4"],
        "PG.Genes": ["A", "B", "C"],
        "[1] 20240101_ctrl_1.raw.PG.Quantity": ["1234,5", "Filtered", "NaN"],
        "[2] 20240101_trt_1.raw.PG.Quantity": ["2000", "150,25", "NaN"],
    })
    frame.to_csv(tmp_path / "pivot.tsv", sep="\t", index=False)
    adata = read(tmp_path / "pivot.tsv")
    assert adata.uns[UNS_READ]["format"] == "spectronaut"
    assert list(adata.obs_names) == ["20240101_ctrl_1", "20240101_trt_1"]
    assert list(adata.var_names) == ["P1;P2", "P3"]
    np.testing.assert_array_equal(adata.X, [[1234.5, np.nan], [2000, 150.25]])
    assert adata.uns[UNS_READ]["dropped_proteins"]["no_values"] == ["P4"]


# --- generic long ------------------------------------------------------------------------------


def test_generic_long_named_columns(tmp_path):
    frame = pd.read_csv(CASES / "BR-08" / "skyline_peptide_areas.csv")
    frame.columns = ["prot", "pep", "who", "val"]
    frame.to_csv(tmp_path / "long.csv", index=False)
    adata = read(tmp_path / "long.csv", sample_column="who", protein_column="prot",
                 value_column="val")
    assert adata.uns[UNS_READ]["format"] == "generic_long"
    sky = read(CASES / "BR-08" / "skyline_peptide_areas.csv")
    np.testing.assert_array_equal(adata.X, sky.X)
    with pytest.raises(ValueError, match="value_column"):
        read(tmp_path / "long.csv", format="generic_long", sample_column="who",
             protein_column="prot")


def test_diann_pr_matrix_summed(tmp_path):
    frame = pd.DataFrame({
        "Protein.Group": ["P12345", "P12345", "Q99999;Q88888"],
        "Genes": ["A", "A", "B"],
        "Precursor.Id": ["AAK2", "CCK3", "DDR2"],
        "D:\\x\\r1.raw": [100.0, 50.0, np.nan],
        "D:\\x\\r2.raw": [np.nan, 70.0, 0.0],
    })
    frame.to_csv(tmp_path / "report.pr_matrix.tsv", sep="\t", index=False)
    adata = read(tmp_path / "report.pr_matrix.tsv")
    assert adata.uns[UNS_READ]["format"] == "diann_pr"
    assert list(adata.obs_names) == ["r1", "r2"]
    np.testing.assert_array_equal(adata.X, [[150.0], [70.0]])
    np.testing.assert_array_equal(adata.layers[LAYER_N_VALUES], [[2], [1]])
    assert adata.uns[UNS_READ]["dropped_proteins"]["no_values"] == ["Q99999;Q88888"]


def test_maxquant_peptides_txt(tmp_path):
    frame = pd.DataFrame({
        "Sequence": ["AAAK", "CCCR", "DDDK", "EEEK"],
        "Proteins": ["P12345", "P12345;P67890", "CON__P02768", "REV__P11111"],
        "Leading razor protein": ["P12345", "P12345", "CON__P02768", "REV__P11111"],
        "Intensity": [3.0, 3.0, 3.0, 3.0],
        "Intensity S1": [1000.0, 0.0, 5.0, 7.0],
        "Intensity S2": [2000.0, 300.0, 5.0, 7.0],
        "Reverse": ["", "", "", "+"],
        "Potential contaminant": ["", "", "+", ""],
    })
    frame.to_csv(tmp_path / "peptides.txt", sep="\t", index=False)
    adata = read(tmp_path / "peptides.txt")
    info = adata.uns[UNS_READ]
    assert info["format"] == "maxquant_evidence"
    assert list(adata.obs_names) == ["S1", "S2"] and list(adata.var_names) == ["P12345"]
    np.testing.assert_array_equal(adata.X, [[1000.0], [2300.0]])
    np.testing.assert_array_equal(adata.layers[LAYER_N_VALUES], [[1], [2]])
    assert info["dropped"]["rows_decoy"] == 1 and info["dropped"]["rows_contaminant"] == 1


def test_accumulator_batches_sum_and_max():
    from proteolabel.io._build import LongAccumulator
    from proteolabel.io._values import ReadContext

    s = np.array(["a", "a", "b", "b", "a", "c"], dtype=object)
    p = np.array(["x", "x", "x", "y", "y", "y"], dtype=object)
    v = np.array([1.0, 2.0, np.nan, 5.0, np.nan, np.nan])
    whole = LongAccumulator("sum")
    whole.add(s, p, v)
    parts = LongAccumulator("sum")
    for i in range(0, 6, 2):
        parts.add(s[i:i + 2], p[i:i + 2], v[i:i + 2])
    for acc in (whole, parts):
        matrix, counts, samples, proteins = acc.result()
        assert samples == ["a", "b", "c"] and proteins == ["x", "y"]
        np.testing.assert_array_equal(matrix, [[3.0, np.nan], [np.nan, 5.0], [np.nan, np.nan]])
        np.testing.assert_array_equal(counts, [[2, 0], [0, 1], [0, 0]])
    top = LongAccumulator("max")
    top.add(s[:2], p[:2], [7.0, 7.0])
    top.add(s[:2], p[:2], [7.0, 9.0])
    ctx = ReadContext("x")
    matrix, counts, _, _ = top.result(ctx, "PG.MaxLFQ")
    assert matrix[0, 0] == 9.0 and counts[0, 0] == 4
    assert any("differed" in m for m in ctx.messages)
