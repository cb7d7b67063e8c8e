"""Generic wide tables: which columns are ids, samples or annotations; sample names; sheets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from proteolabel._constants import UNS_READ
from proteolabel.io import normalize_sample_name, read


@pytest.mark.parametrize(("written", "normalised"), [
    ("P01/T0", "P01/T0"),
    ("mix 1/10", "mix 1/10"),
    ("Behandlung/1", "Behandlung/1"),
    ("a\\b", "a\\b"),
    (r"C:\runs\b1\S01.raw", "S01"),
    ("C:/runs/S01.raw", "S01"),
    ("/data/plate 2/run_07.mzML", "run_07"),
    (r"\\server\share\S02.wiff2", "S02"),
    ("batch1/S03.d/", "S03"),
    ("batch1/S04.raw.PG.Quantity", "S04"),
    ("[2] out/S05.dia", "S05"),
    ("../runs/S06", "S06"),
    ("file:///data/S07", "S07"),
    ("file:///C:/data/S08.raw", "S08"),
])
def test_only_file_paths_lose_their_directory(written, normalised):
    assert normalize_sample_name(written) == normalised


def test_slashes_in_ordinary_sample_names_are_kept(tmp_path):
    path = tmp_path / "slash.csv"
    path.write_text("sample,_group,P12345,Q99999\n"
                    "P01/T0,a,100,200\nP02/T0,a,110,210\nP01/T1,b,120,220\n"
                    "mix 1/10,b,130,230\nmix 1/100,b,140,240\n")
    adata = read(path)
    assert list(adata.obs_names) == ["P01/T0", "P02/T0", "P01/T1", "mix 1/10", "mix 1/100"]
    assert list(adata.var_names) == ["P12345", "Q99999"]
    np.testing.assert_array_equal(adata.X, [[100, 200], [110, 210], [120, 220], [130, 230],
                                            [140, 240]])


def test_skyline_replicate_with_a_slash(tmp_path):
    path = tmp_path / "sky.csv"
    path.write_text("Protein Name,Peptide Sequence,Replicate Name,Total Area\n"
                    "P12345,AAAK,Kontrolle 1,1234.5\nP12345,CCCR,Kontrolle 1,10.5\n"
                    "P12345,AAAK,Behandlung/1,1200\nP12345,CCCR,Behandlung/1,30\n")
    adata = read(path)
    assert adata.uns[UNS_READ]["format"] == "skyline"
    assert list(adata.obs_names) == ["Kontrolle 1", "Behandlung/1"]
    assert list(adata.var_names) == ["P12345"]
    np.testing.assert_array_equal(adata.X, [[1245.0], [1230.0]])


@pytest.mark.parametrize("column", ["sample", "Patient", "Sample ID", "subject_id", "Run"])
def test_numeric_sample_ids_name_the_samples(tmp_path, column):
    path = tmp_path / "ids.csv"
    path.write_text(f"{column},condition,P12345,Q99999,O00001\n"
                    "101,ctrl,100,200,300\n102,ctrl,110,210,310\n205,case,120,220,320\n")
    adata = read(path)
    assert list(adata.obs_names) == ["101", "102", "205"]
    assert list(adata.var_names) == ["P12345", "Q99999", "O00001"]
    np.testing.assert_array_equal(adata.X, [[100, 200, 300], [110, 210, 310], [120, 220, 320]])
    assert list(adata.obs["condition"]) == ["ctrl", "ctrl", "case"]
    assert any(f"sample names from column {column!r}" in m
               for m in adata.uns[UNS_READ]["messages"])


def test_numeric_sample_ids_in_excel_and_parquet(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["sample", "_group", "P12345", "Q99999"])
    for row in ([101, "a", 100, 200.5], [102, "b", None, 1.2e7], [103.5, "b", 7, 300],
                ["0101", "b", 5, 6]):
        sheet.append(row)
    book.save(tmp_path / "ids.xlsx")
    adata = read(tmp_path / "ids.xlsx")
    assert list(adata.obs_names) == ["101", "102", "103.5", "0101"]
    assert list(adata.var_names) == ["P12345", "Q99999"]
    np.testing.assert_array_equal(adata.X, [[100, 200.5], [np.nan, 1.2e7], [7, 300], [5, 6]])

    pytest.importorskip("pyarrow")
    pd.DataFrame({"patient": [101.0, 102.0, 205.0], "P12345": [100.0, 200.0, 300.0],
                  "Q99999": [400.0, 500.0, 600.0]}).to_parquet(tmp_path / "ids.parquet")
    adata = read(tmp_path / "ids.parquet")
    assert list(adata.obs_names) == ["101", "102", "205"]  # not "101.0"
    assert list(adata.var_names) == ["P12345", "Q99999"]
    np.testing.assert_array_equal(adata.X, [[100, 400], [200, 500], [300, 600]])


@pytest.mark.parametrize("column", ["Protein", "Protein IDs", "Accession", "GeneID", "Gene"])
def test_numeric_protein_ids_in_a_protein_column(tmp_path, column):
    path = tmp_path / "prot.csv"
    path.write_text(f"{column},Sample_A,Sample_B\n1234,100,200\n5678,300,400\n91011,500,600\n")
    adata = read(path)
    assert list(adata.obs_names) == ["Sample_A", "Sample_B"]
    assert list(adata.var_names) == ["1234", "5678", "91011"]
    np.testing.assert_array_equal(adata.X, [[100, 300, 500], [200, 400, 600]])


def test_numeric_id_column_next_to_accession_headers_names_the_samples(tmp_path):
    path = tmp_path / "id.csv"
    path.write_text("id,P12345,Q99999\n1,100,200\n2,300,400\n")
    adata = read(path)
    assert list(adata.obs_names) == ["1", "2"]
    assert list(adata.var_names) == ["P12345", "Q99999"]
    np.testing.assert_array_equal(adata.X, [[100, 200], [300, 400]])


def test_sample_names_that_contain_annotation_words_are_samples(tmp_path):
    names = ["Plasma_Ctrl", "Plasma_Covid", "CSF_Lipid", "CSF_Fluid", "Serum_Thyroid", "ID_01",
             "Mass_Spec_Run_4", "Score_High_1", "Peptides_2", "Unique_3"]
    lines = [",".join(["Protein", "Gene", *names]),
             ",".join(["P12345", "GA", *(str(100 + 10 * j) for j in range(len(names)))]),
             ",".join(["Q99999", "GB", *(str(101 + 10 * j) for j in range(len(names)))])]
    path = tmp_path / "names.csv"
    path.write_text("\n".join(lines) + "\n")
    adata = read(path)
    assert list(adata.obs_names) == names
    assert list(adata.var_names) == ["P12345", "Q99999"]
    np.testing.assert_array_equal(adata.X[:, 0], [100 + 10 * j for j in range(len(names))])
    assert not adata.uns[UNS_READ]["warnings"]


def test_numeric_annotation_columns_are_warned_about_and_kept_in_var(tmp_path):
    path = tmp_path / "annot.csv"
    path.write_text("Protein,Peptides,Score,Mol. weight [kDa],S1,S2,S3\n"
                    "P12345,3,50.1,45.2,1e6,,3e6\nQ99999,5,20.5,120.3,2e6,2.5e6,\n"
                    "O00001,9,80,33,4e6,5e6,6e6\n")
    match = r"\['Peptides', 'Score', 'Mol. weight \[kDa\]'\] not read as samples"
    with pytest.warns(UserWarning, match=match):
        adata = read(path)
    assert list(adata.obs_names) == ["S1", "S2", "S3"]
    assert list(adata.var_names) == ["P12345", "Q99999", "O00001"]
    np.testing.assert_array_equal(adata.X, [[1e6, 2e6, 4e6], [np.nan, 2.5e6, 5e6],
                                            [3e6, np.nan, 6e6]])
    np.testing.assert_array_equal(adata.var["Peptides"].astype(float), [3, 5, 9])
    info = adata.uns[UNS_READ]
    assert any("Peptides" in m for m in info["warnings"])
    assert any("Peptides" in m for m in info["messages"])


def test_annotation_name_with_intensity_values_stays_a_sample(tmp_path):
    path = tmp_path / "score.csv"
    path.write_text("Protein,Score,S1,S2\nP12345,1.5e6,1e6,\nQ99999,,2e6,2.5e6\n"
                    "O00001,3e6,4e6,5e6\n")
    with pytest.warns(UserWarning, match=r"\['Score'\] are named like protein annotations"):
        adata = read(path)
    assert list(adata.obs_names) == ["Score", "S1", "S2"]
    np.testing.assert_array_equal(adata.X[0], [1.5e6, np.nan, 3e6])


def test_count_like_sample_column_is_read_with_a_warning(tmp_path):
    path = tmp_path / "count.csv"
    rows = "".join(f"P{i:05d},{3 + i},{1e6 * (i + 1):g},{'' if i % 4 else 2.5e6},{3e6 + i:g}\n"
                   for i in range(12))  # 12 proteins: enough whole numbers to judge
    path.write_text("Protein,nPep,S1,S2,S3\n" + rows)
    with pytest.warns(UserWarning, match=r"\['nPep'\] hold only whole numbers"):
        adata = read(path)
    assert list(adata.obs_names) == ["nPep", "S1", "S2", "S3"]
    assert adata.n_vars == 12
    short = tmp_path / "short.csv"  # three values are too few to call a column count-like
    short.write_text("Protein,nPep,S1,S2,S3\nP12345,3,1e6,,3e6\nQ99999,5,2e6,2.5e6,1e6\n"
                     "O00001,9,4e6,5e6,6e6\n")
    assert list(read(short).obs_names) == ["nPep", "S1", "S2", "S3"]
    adata = read(path, sample_columns=["S1", "S2", "S3"])
    assert list(adata.obs_names) == ["S1", "S2", "S3"]


def test_clinical_columns_of_samples_in_rows_go_to_obs(tmp_path):
    path = tmp_path / "clin.csv"
    path.write_text("sample,Age,BMI,P12345,Q99999,O00001\nA,54,22.5,1e6,2e6,\n"
                    "B,67,30.1,1.5e6,,3e6\nC,71,25,2e6,2e6,4e6\n")
    with pytest.warns(UserWarning, match=r"\['Age', 'BMI'\] not read as proteins"):
        adata = read(path)
    assert list(adata.obs_names) == ["A", "B", "C"]
    assert list(adata.var_names) == ["P12345", "Q99999", "O00001"]
    np.testing.assert_array_equal(adata.obs["Age"].astype(float), [54, 67, 71])
    np.testing.assert_array_equal(adata.X, [[1e6, 2e6, np.nan], [1.5e6, np.nan, 3e6],
                                            [2e6, 2e6, 4e6]])
    chosen = read(path, protein_columns=["P12345", "Q99999"])
    assert list(chosen.var_names) == ["P12345", "Q99999"]
    assert "O00001" in chosen.obs


def test_only_annotation_columns_is_an_error_naming_them(tmp_path):
    path = tmp_path / "none.csv"
    path.write_text("Protein,Peptides\nP12345,3\nQ99999,5\n")
    with pytest.raises(ValueError, match=r"none.csv: no sample columns.*\['Peptides'\].*"
                                         r"sample_columns="):
        read(path)


def _workbook(path, sheets):
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)


_INFO = [["This workbook was exported by LabTool"], ["Date", "2024-01-01"]]
_DATA = [["sample", "_group", "P12345", "Q99999"], ["s1", "a", 100, 200.5],
         ["s2", "b", None, 1.2e7], ["s3", "b", 7, 300]]


def test_excel_data_sheet_after_a_notes_sheet_is_found(tmp_path):
    _workbook(tmp_path / "book.xlsx", {"Info": _INFO, "Data": _DATA})
    adata = read(tmp_path / "book.xlsx")
    assert list(adata.obs_names) == ["s1", "s2", "s3"]
    assert list(adata.var_names) == ["P12345", "Q99999"]
    np.testing.assert_array_equal(adata.X, [[100, 200.5], [np.nan, 1.2e7], [7, 300]])
    messages = adata.uns[UNS_READ]["messages"]
    assert any("sheet 'Info' does not look like a data table, so sheet 'Data' was read" in m
               for m in messages)


def test_excel_error_names_the_sheet_read_and_the_others(tmp_path):
    other = [["sample", "P12345"], ["s9", 5], ["s8", 6]]
    _workbook(tmp_path / "book.xlsx", {"Info": _INFO, "Data": _DATA, "Old": other})
    match = (r"book.xlsx: cannot tell whether samples are rows or columns.*read sheet 'Info', "
             r"which does not look like a data table; the workbook also has \['Data', 'Old'\]"
             r": choose one with --option sheet=NAME on the command line or sheet=NAME")
    with pytest.raises(ValueError, match=match):
        read(tmp_path / "book.xlsx")
    adata = read(tmp_path / "book.xlsx", sheet="Data")
    assert list(adata.obs_names) == ["s1", "s2", "s3"]
    adata = read(tmp_path / "book.xlsx", sheet=2)
    assert list(adata.obs_names) == ["s9", "s8"]
    np.testing.assert_array_equal(adata.X, [[5], [6]])
    with pytest.raises(ValueError, match=r"has no sheet 'Dat'; its sheets are "
                                         r"\['Info', 'Data', 'Old'\]"):
        read(tmp_path / "book.xlsx", sheet="Dat")


def test_labels_sheet_of_text_is_still_read_first(tmp_path):
    from proteolabel.io import read_labels

    _workbook(tmp_path / "labels.xlsx", {"Labels": [["sample", "group"], ["s1", "AD"],
                                                    ["s2", "ctrl"]], "Data": _DATA})
    labels = read_labels(tmp_path / "labels.xlsx")
    assert dict(labels) == {"s1": "AD", "s2": "ctrl"}


def test_numeric_id_named_column_can_still_be_chosen_as_values(tmp_path):
    path = tmp_path / "design.tsv"
    path.write_text("label\tcondition\treplicate\nctrl_1\tctrl\t1\nctrl_2\tctrl\t2\n")
    with pytest.raises(ValueError, match=r"design.tsv: no numeric protein columns.*"
                                         r"\['replicate'\] hold numbers but are named like id "
                                         r"columns.*protein_columns="):
        read(path)
    adata = read(path, protein_columns=["replicate"])
    assert list(adata.obs_names) == ["ctrl_1", "ctrl_2"]
    assert list(adata.var_names) == ["replicate"]
    assert list(adata.obs.columns) == ["condition"]
    np.testing.assert_array_equal(adata.X, [[1], [2]])
    path = tmp_path / "cols.csv"
    path.write_text("Protein,Run,S1\nP12345,1,100\nQ99999,2,200\n")
    adata = read(path, sample_columns=["Run", "S1"])
    assert list(adata.obs_names) == ["Run", "S1"]
    np.testing.assert_array_equal(adata.X, [[1, 2], [100, 200]])
