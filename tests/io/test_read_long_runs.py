"""Long readers: runs emptied by filters stay as samples; runs are keyed as written; DIA-NN's
library q-value filters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from proteolabel._constants import LAYER_N_VALUES, UNS_READ
from proteolabel.io import read

# --- DIA-NN report.tsv / report.parquet ----------------------------------------------------------


def diann_report(runs=("R1", "R2", "R3"), q=None, lib_q=None, lib_pg_q=None, paths=None):
    """A DIA-NN 1.9 main report: two protein groups x two precursors per run."""
    rows = []
    for r, run in enumerate(runs):
        for prot, maxlfq in (("P12345", 1000.0 * (r + 1)), ("Q99999;Q88888", 50.0 * (r + 1))):
            for p, seq in enumerate(("AAAGLTEK", "CCDLSTR")):
                rows.append({
                    "File.Name": (paths[r] if paths else f"D:\\data\\{run}.raw"),
                    "Run": run, "Protein.Group": prot, "Protein.Ids": prot,
                    "Protein.Names": "N", "Genes": "G", "PG.Quantity": maxlfq,
                    "PG.Normalised": maxlfq, "PG.MaxLFQ": maxlfq,
                    "Modified.Sequence": seq, "Stripped.Sequence": seq,
                    "Precursor.Id": f"{seq}2", "Precursor.Charge": 2,
                    "Q.Value": 0.001, "PEP": 0.001, "Global.Q.Value": 0.001,
                    "Protein.Q.Value": 0.001, "PG.Q.Value": 0.001, "Global.PG.Q.Value": 0.001,
                    "Precursor.Quantity": 100.0 + p, "Precursor.Normalised": 100.0 + p,
                    "Lib.Q.Value": 0.001, "Lib.PG.Q.Value": 0.001,
                })
    frame = pd.DataFrame(rows)
    for overrides, col in ((q, "Q.Value"), (lib_q, "Lib.Q.Value"), (lib_pg_q, "Lib.PG.Q.Value")):
        for i, v in (overrides or {}).items():
            frame.loc[i, col] = v
    return frame


def write_diann(frame, tmp_path, kind):
    if kind == "parquet":
        pytest.importorskip("pyarrow")
        path = tmp_path / "report.parquet"
        frame.to_parquet(path)
    else:
        path = tmp_path / "report.tsv"
        frame.to_csv(path, sep="\t", index=False)
    return path


@pytest.mark.parametrize("kind", ["tsv", "parquet"])
def test_diann_run_with_every_row_filtered_stays_as_empty_sample(tmp_path, kind):
    frame = diann_report(runs=("R1", "R2", "R3", "R4"))
    frame.loc[frame["Run"] == "R4", "Q.Value"] = 0.2  # a failed run
    path = write_diann(frame, tmp_path, kind)
    with pytest.warns(UserWarning, match=r"1 of 4 samples had every row removed .*\['R4'\]"):
        adata = read(path, batch_rows=5)
    info = adata.uns[UNS_READ]
    assert list(adata.obs_names) == ["R1", "R2", "R3", "R4"]
    assert list(adata.var_names) == ["P12345", "Q99999;Q88888"]
    np.testing.assert_array_equal(
        adata.X, [[1000, 50], [2000, 100], [3000, 150], [np.nan, np.nan]])
    np.testing.assert_array_equal(adata.layers[LAYER_N_VALUES][3], [0, 0])
    assert info["dropped"] == {"rows_q_value": 4}
    assert info["n_samples"] == 4


def test_diann_tsv_and_parquet_agree_on_filtered_runs(tmp_path):
    frame = diann_report(runs=("R1", "R2", "R3"))
    frame.loc[frame["Run"] == "R1", "Q.Value"] = 0.5  # the first run, so the order matters
    frame.loc[frame["Protein.Group"] == "Q99999;Q88888", "Lib.PG.Q.Value"] = 0.5
    with pytest.warns(UserWarning, match=r"\['R1'\]"):
        tsv = read(write_diann(frame, tmp_path, "tsv"))
    with pytest.warns(UserWarning, match=r"\['R1'\]"):
        pq = read(write_diann(frame, tmp_path, "parquet"))
    assert list(tsv.obs_names) == list(pq.obs_names) == ["R1", "R2", "R3"]
    assert list(tsv.var_names) == list(pq.var_names) == ["P12345"]
    np.testing.assert_array_equal(tsv.X, pq.X)
    np.testing.assert_array_equal(tsv.X, [[np.nan], [2000], [3000]])
    for adata in (tsv, pq):  # a protein filtered away is counted by its rows, not as no_values
        assert adata.uns[UNS_READ]["dropped"] == {"rows_q_value": 4, "rows_lib_pg_q_value": 4}
        assert adata.uns[UNS_READ]["dropped_proteins"] == {}


@pytest.mark.parametrize("kind", ["tsv", "parquet"])
def test_diann_library_q_values_filter_like_diann(tmp_path, kind):
    # rows 0 and 1: R1's two P12345 precursors; row 6: R2's first Q99999 precursor
    frame = diann_report(lib_q={0: 0.05}, lib_pg_q={1: 0.02, 6: 0.3})
    path = write_diann(frame, tmp_path, kind)
    adata = read(path, quantity="precursor")
    info = adata.uns[UNS_READ]
    assert info["dropped"] == {"rows_lib_q_value": 1, "rows_lib_pg_q_value": 2}
    assert "rows kept with Lib.Q.Value <= 0.01" in info["messages"]
    assert "rows kept with Lib.PG.Q.Value <= 0.01" in info["messages"]
    assert list(adata.obs_names) == ["R1", "R2", "R3"]
    # proteins in order of their first kept row: R1 lost both P12345 precursors
    assert list(adata.var_names) == ["Q99999;Q88888", "P12345"]
    # R2/Q99999 kept only its second precursor (101)
    np.testing.assert_array_equal(adata.X, [[201, np.nan], [101, 201], [201, 201]])
    np.testing.assert_array_equal(adata.layers[LAYER_N_VALUES], [[2, 0], [1, 2], [2, 2]])
    assert info["dropped_proteins"] == {}  # a filtered precursor is not a protein without values
    loose = read(path, quantity="precursor", lib_q_value=None, lib_pg_q_value=0.5)
    assert loose.uns[UNS_READ]["dropped"] == {}
    assert list(loose.var_names) == ["P12345", "Q99999;Q88888"]
    np.testing.assert_array_equal(loose.X, [[201, 201]] * 3)


def test_diann_library_filters_skipped_without_columns(tmp_path):
    frame = diann_report().drop(columns=["Lib.Q.Value", "Lib.PG.Q.Value"])
    adata = read(write_diann(frame, tmp_path, "tsv"))
    messages = adata.uns[UNS_READ]["messages"]
    assert "no Lib.Q.Value column: that filter was not applied" in messages
    assert "no Lib.PG.Q.Value column: that filter was not applied" in messages
    assert adata.uns[UNS_READ]["dropped"] == {}


def test_diann_pr_matrix_runs_with_one_base_name_refused(tmp_path):
    frame = pd.DataFrame({
        "Protein.Group": ["P12345", "Q99999"], "Genes": ["A", "B"],
        "Precursor.Id": ["AAK2", "CCK3"],
        "D:\\b1\\S01.raw": [100.0, 50.0], "D:\\b2\\S01.raw": [70.0, 20.0],
    })
    frame.to_csv(tmp_path / "report.pr_matrix.tsv", sep="\t", index=False)
    with pytest.raises(ValueError, match=r"report.pr_matrix.tsv: sample name 'S01' occurs 2 "
                       r"times \(headers 'D:\\\\b1\\\\S01.raw', 'D:\\\\b2\\\\S01.raw'"):
        read(tmp_path / "report.pr_matrix.tsv")


# --- Spectronaut ---------------------------------------------------------------------------------


def spectronaut_report(files):
    """A Spectronaut normal report: 2 precursors x 2 fragments for 2 protein groups per run."""
    rows = []
    for k, (condition, file) in enumerate(files):
        for prot in ("P12345", "Q99999;Q88888"):
            for prec, quantity in (("_AAAK_.2", 1000.0), ("_CCCR_.3", 500.0)):
                for ion in ("y3", "y4"):
                    rows.append({
                        "R.Condition": condition, "R.FileName": file, "R.Replicate": k + 1,
                        "PG.ProteinGroups": prot, "PG.Quantity": 1500.0, "PG.Qvalue": 0.001,
                        "EG.PrecursorId": prec, "EG.Qvalue": 0.001, "EG.IsDecoy": "False",
                        "FG.Quantity": quantity * (k + 1), "F.FrgIon": ion, "F.PeakArea": 10.0,
                    })
    return pd.DataFrame(rows)


def test_spectronaut_run_with_every_row_filtered_stays(tmp_path):
    frame = spectronaut_report([("ctrl", "S1"), ("trt", "S2"), ("trt", "S3")])
    frame.loc[frame["R.FileName"] == "S3", "EG.Qvalue"] = 0.5
    frame.to_csv(tmp_path / "Report.tsv", sep="\t", index=False)
    with pytest.warns(UserWarning, match=r"1 of 3 samples had every row removed .*\['S3'\]"):
        adata = read(tmp_path / "Report.tsv")
    info = adata.uns[UNS_READ]
    assert list(adata.obs_names) == ["S1", "S2", "S3"]
    np.testing.assert_array_equal(adata.X, [[1500, 1500], [3000, 3000], [np.nan, np.nan]])
    assert info["dropped"] == {"rows_q_value": 8}
    assert adata.obs["R.Condition"].tolist() == ["ctrl", "trt", "trt"]  # kept for the empty run


def test_spectronaut_runs_with_one_base_name_refused(tmp_path):
    frame = spectronaut_report([("ctrl", "D:\\b1\\S01.raw"), ("trt", "D:\\b2\\S01.raw")])
    frame.to_csv(tmp_path / "Report.tsv", sep="\t", index=False)
    with pytest.raises(ValueError, match=r"Report.tsv: sample name 'S01' occurs 2 times \("
                       r"'R.FileName' values "
                       r"'D:\\\\b1\\\\S01.raw', 'D:\\\\b2\\\\S01.raw'.*sample_column="):
        read(tmp_path / "Report.tsv")


# --- generic long --------------------------------------------------------------------------------


def test_generic_long_runs_with_one_base_name_refused(tmp_path):
    pd.DataFrame({
        "sample_id": ["a/S1.raw", "b/S1.raw", "c/S2.raw"],
        "protein": ["P12345"] * 3,
        "intensity": [100, 200, 300],
    }).to_csv(tmp_path / "long.csv", index=False)
    with pytest.raises(ValueError, match=r"long.csv: sample name 'S1' occurs 2 times \("
                       r"'sample_id' values 'a/S1.raw', 'b/S1.raw' at positions 1, 2\)"):
        read(tmp_path / "long.csv", format="generic_long", sample_column="sample_id")
    # distinct runs that only differ in spelling around the name are still one sample each
    adata = read(tmp_path / "long.csv", format="generic_long", sample_column="protein",
                 protein_column="sample_id", value_column="intensity")
    assert list(adata.obs_names) == ["P12345"]


# --- Skyline -------------------------------------------------------------------------------------


def skyline_transitions(replicates, modified=True, mz=False):
    """A Skyline transition report: P1 has one precursor, P2 a peptide with and without an
    oxidised methionine; light and heavy rows; Total Area repeats on each transition row."""
    rows = []
    for rep, file in replicates:
        for prot, pep, forms in (("sp|P1|A_HUMAN", "AAAGLTEK", [("AAAGLTEK", 409.7)]),
                                 ("sp|P2|B_HUMAN", "MVVDLSTR",
                                  [("MVVDLSTR", 461.7), ("M[+16]VVDLSTR", 469.7)])):
            for form, (mod, precursor_mz) in enumerate(forms):
                for label in ("light", "heavy"):
                    for ion, area in (("precursor", 100.0), ("y4", 10.0), ("y5", 20.0)):
                        row = {"Protein Name": prot, "Peptide Sequence": pep,
                               "Peptide Modified Sequence": mod,
                               "Precursor Mz": precursor_mz + (4 if label == "heavy" else 0),
                               "Precursor Charge": 2, "Isotope Label Type": label,
                               "Replicate Name": rep, "File Name": file, "Fragment Ion": ion,
                               "Area": area if label == "light" else 5.0,
                               "Total Area": 130.0 + 70 * form if label == "light" else 999.0}
                        rows.append(row)
    frame = pd.DataFrame(rows)
    if not modified:
        frame = frame.drop(columns=["Peptide Modified Sequence"])
    if not mz:
        frame = frame.drop(columns=["Precursor Mz"])
    return frame


REPLICATES = [("Ctrl 1", "C:\\runs\\b1\\S01.raw"), ("Ctrl 2", "C:\\runs\\b2\\S01.raw"),
              ("Trt 1", "C:\\runs\\b1\\S03.raw")]


@pytest.mark.parametrize("modified, mz", [(True, False), (False, True), (True, True)])
def test_skyline_total_area_once_per_precursor(tmp_path, modified, mz):
    skyline_transitions(REPLICATES, modified, mz).to_csv(tmp_path / "sky.csv", index=False)
    adata = read(tmp_path / "sky.csv", quantity="total_area")
    info = adata.uns[UNS_READ]
    assert list(adata.obs_names) == ["Ctrl 1", "Ctrl 2", "Trt 1"]
    assert list(adata.var_names) == ["sp|P1|A_HUMAN", "sp|P2|B_HUMAN"]
    # P2: the unmodified (130) and the oxidised (200) precursor, each counted once
    np.testing.assert_array_equal(adata.X, [[130, 330]] * 3)
    np.testing.assert_array_equal(adata.layers[LAYER_N_VALUES], [[1, 2]] * 3)
    assert info["dropped"] == {"rows_isotope_label": 27}
    assert "18 repeated Total Area rows (one per transition) counted once per precursor" in (
        info["messages"])
    assert info["warnings"] == []


def test_skyline_total_area_without_modified_sequence(tmp_path):
    # only 'Peptide Sequence': the two forms of MVVDLSTR share every key column
    skyline_transitions(REPLICATES, modified=False).to_csv(tmp_path / "sky.csv", index=False)
    with pytest.warns(UserWarning, match=r"3 precursor keys .* hold the same transition "
                      r"\('Fragment Ion'\) more than once"):
        adata = read(tmp_path / "sky.csv", quantity="total_area")
    np.testing.assert_array_equal(adata.X, [[130, 330]] * 3)
    np.testing.assert_array_equal(adata.layers[LAYER_N_VALUES], [[1, 2]] * 3)
    by_area = read(tmp_path / "sky.csv")  # transition areas need no de-duplication
    np.testing.assert_array_equal(by_area.X, [[130, 260]] * 3)


def test_skyline_files_with_one_base_name_refused(tmp_path):
    frame = skyline_transitions(REPLICATES).drop(columns=["Replicate Name"])
    frame.to_csv(tmp_path / "sky.csv", index=False)
    with pytest.raises(ValueError, match=r"sky.csv: sample name 'S01' occurs 2 times \("
                       r"'File Name' values 'C:\\\\runs\\\\b1\\\\S01.raw', "
                       r"'C:\\\\runs\\\\b2\\\\S01.raw' at positions 1, 2\).*Replicate Name"):
        read(tmp_path / "sky.csv")


def test_skyline_replicate_with_every_row_filtered_stays(tmp_path):
    frame = skyline_transitions(REPLICATES)
    frame.loc[frame["Replicate Name"] == "Trt 1", "Isotope Label Type"] = "heavy"
    frame.to_csv(tmp_path / "sky.csv", index=False)
    with pytest.warns(UserWarning, match=r"1 of 3 samples had every row removed "
                      r".*\['Trt 1'\]"):
        adata = read(tmp_path / "sky.csv")
    assert list(adata.obs_names) == ["Ctrl 1", "Ctrl 2", "Trt 1"]
    np.testing.assert_array_equal(adata.X, [[130, 260], [130, 260], [np.nan, np.nan]])
    assert adata.uns[UNS_READ]["dropped"] == {"rows_isotope_label": 9 * 2 + 18}
    assert adata.obs["File Name"].tolist()[2] == "C:\\runs\\b1\\S03.raw"


def test_rows_without_a_run_name_refused(tmp_path):
    frame = spectronaut_report([("ctrl", "S1"), ("trt", "S2")])
    frame.loc[3, "R.FileName"] = ""
    frame.to_csv(tmp_path / "Report.tsv", sep="\t", index=False)
    with pytest.raises(ValueError, match=r"Report.tsv: some rows have an empty 'R.FileName' "
                       r"value, so they belong to no sample: fill in the run names"):
        read(tmp_path / "Report.tsv")
    report = diann_report()
    report.loc[5, "Run"] = ""
    with pytest.raises(ValueError, match=r"report.tsv: some rows have an empty 'Run' value"):
        read(write_diann(report, tmp_path, "tsv"))
