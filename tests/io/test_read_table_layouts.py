"""Containers and table layouts the other tests do not cover (second adversarial pass)."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile

import numpy as np
import pandas as pd
import pytest

from proteolabel._constants import UNS_READ
from proteolabel.io import read

_CSV = "Protein,S1,S2,S3\nP12345,100,200,300\nQ99999,400,,600\nO00001,700,800,900\n"


@pytest.mark.parametrize("name", ["table.csv.zip", "table.csv.bz2", "table.csv.xz",
                                  "table.csv.gz", "export.zip"])
def test_compressed_text_tables(tmp_path, name):
    path = tmp_path / name
    data = _CSV.encode()
    if name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("table.csv", data)
            archive.writestr("__MACOSX/._table.csv", b"\x00\x05junk")
    else:
        opener = {".bz2": bz2.compress, ".xz": lzma.compress, ".gz": gzip.compress}
        path.write_bytes(opener[path.suffix](data))
    adata = read(path)
    assert list(adata.obs_names) == ["S1", "S2", "S3"]
    assert adata.to_df().loc["S3"].tolist() == [300.0, 600.0, 900.0]


def test_zip_of_several_tables_is_refused_with_their_names(tmp_path):
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", _CSV)
        archive.writestr("b.csv", _CSV)
    with pytest.raises(ValueError, match=r"exactly one table.*\['a.csv', 'b.csv'\]"):
        read(path)


def test_compressed_workbook_is_refused_clearly(tmp_path):
    book = tmp_path / "t.xlsx"
    pd.read_csv(io.StringIO(_CSV)).to_excel(book, index=False)
    path = tmp_path / "t.xlsx.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(book, "t.xlsx")
    with pytest.raises(ValueError, match=r"compressed \.xlsx file.*decompress it"):
        read(path)


def test_gzipped_mztab(tmp_path):
    pytest.importorskip("pyteomics")
    text = ("MTD\tmzTab-version\t1.0.0\nMTD\tmzTab-mode\tSummary\nMTD\tmzTab-type\t"
            "Quantification\nMTD\tms_run[1]-location\tfile:///C:/data/run_A.raw\n"
            "MTD\tassay[1]-ms_run_ref\tms_run[1]\n\n"
            "PRH\taccession\tdescription\tprotein_abundance_assay[1]\n"
            "PRT\tP12345\tKinase\t1500.25\nPRT\tQ99999\tPhosphatase\t300\n")
    path = tmp_path / "p.mzTab.gz"
    path.write_bytes(gzip.compress(text.encode()))
    adata = read(path)
    assert adata.uns[UNS_READ]["format"] == "mztab"
    assert adata.to_df().loc["run_A"].tolist() == [1500.25, 300.0]


def test_comment_and_title_lines_above_a_csv_header(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("# exported by LIMS, 2024-01-01\nProtein report of project X,,,\n\n" + _CSV)
    adata = read(path)
    assert list(adata.obs_names) == ["S1", "S2", "S3"]
    assert adata.to_df().loc["S1"].tolist() == [100.0, 400.0, 700.0]
    notes = adata.uns[UNS_READ]["messages"]
    assert any("header is on line 4" in m and "# exported by LIMS" in m for m in notes)
    # the header line can be named, and a header written with a leading '#' is a header
    assert read(path, header_row=4).to_df().equals(adata.to_df())
    path.write_text(_CSV.replace("Protein", "#Protein"))
    assert list(read(path).obs_names) == ["S1", "S2", "S3"]


def test_r_header_with_an_empty_first_field_is_not_a_title(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('"","S1"\n"P12345",1.5\n"Q99999",2.5\n')
    adata = read(path, samples_in="columns")
    assert list(adata.obs_names) == ["S1"]
    assert adata.to_df().loc["S1"].tolist() == [1.5, 2.5]


def test_header_row_option_is_checked(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(_CSV)
    with pytest.raises(ValueError, match="header_row is the header's line number"):
        read(path, header_row=0)
    with pytest.raises(ValueError, match="header_row=9, but the file has only 4 lines"):
        read(path, header_row=9)
    with pytest.raises(ValueError, match="header_row applies to text and Excel files only"):
        read(pd.read_csv(path), header_row=2)


_PERSEUS = (
    "LFQ intensity S1\tLFQ intensity S2\tLFQ intensity S3\tPeptides\tProtein IDs\tGene names\n"
    "#!{Type}E\tE\tE\tN\tT\tT\n"
    "#!{C:Group}ctrl\tctrl\tcase\t\t\t\n"
    "23.25\t24.5\tNaN\t3\tP12345\tALB\n"
    "20.5\tNaN\t21.75\t12\tQ99999\tAPOA1\n"
    "19.5\t20.25\t20.5\t7\tO00001\tFGA\n"
    "18.5\t19.25\t19.5\t7\tO00002\tFGB\n"
)


def test_perseus_matrix(tmp_path):
    path = tmp_path / "perseus.txt"
    path.write_text(_PERSEUS)
    with pytest.warns(UserWarning, match="looks log-transformed"):
        read(path)
    adata = read(path, log_base=2)
    info = adata.uns[UNS_READ]
    assert info["format"] == "generic"  # processed by Perseus: not MaxQuant's own output
    assert list(adata.obs_names) == ["S1", "S2", "S3"]
    assert adata.obs["Group"].tolist() == ["ctrl", "ctrl", "case"]
    assert adata.to_df().loc["S1", "P12345"] == 2 ** 23.25
    assert "Peptides" not in adata.obs_names and adata.n_vars == 4
    assert any("Perseus annotation row(s)" in m for m in info["messages"])


def test_logged_values_in_a_tool_format_are_warned_about(tmp_path):
    rows = [f"P{i:05d}\t{20 + i % 7}.5\t{21 + i % 5}.25\t\t" for i in range(6)]
    path = tmp_path / "proteinGroups.txt"
    path.write_text("Protein IDs\tLFQ intensity S1\tLFQ intensity S2\tReverse\t"
                    "Potential contaminant\n" + "\n".join(rows) + "\n")
    with pytest.warns(UserWarning, match=r"looks log-transformed.*--format generic --option "
                                         "log_base=2"):
        read(path)


def _book(path, rows, merge=None):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    book.save(path)


_ROWS = [["P12345", 100, 200, 300], ["Q99999", 400, None, 600], ["O00001", 700, 800, 900]]


def test_excel_title_row_above_the_header(tmp_path):
    _book(tmp_path / "t.xlsx", [["Protein quantification, project X"], [],
                                ["Protein", "S1", "S2", "S3"], *_ROWS])
    adata = read(tmp_path / "t.xlsx")
    assert list(adata.obs_names) == ["S1", "S2", "S3"]
    assert adata.to_df().loc["S3"].tolist() == [300.0, 600.0, 900.0]
    assert any("header is on row 3" in m for m in adata.uns[UNS_READ]["messages"])


def test_excel_header_over_two_merged_rows(tmp_path):
    _book(tmp_path / "m.xlsx", [["Protein", "Intensity", None, None], [None, "S1", "S2", "S3"],
                                *_ROWS], merge="B1:D1")
    with pytest.raises(ValueError, match=r"spans rows 1 and 2.*\['S2', 'S3'\].*header_row=2"):
        read(tmp_path / "m.xlsx")
    adata = read(tmp_path / "m.xlsx", header_row=2)
    assert list(adata.obs_names) == ["S1", "S2", "S3"]
    np.testing.assert_array_equal(adata.to_df().loc["S2"], [200.0, np.nan, 800.0])


def test_duplicate_protein_rows_are_refused_naming_the_rows(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("Protein,S1,S2,S3\nP12345,100,200,300\nQ99999,400,,600\n"
                    "P12345,700,800,900\nQ99999,1,2,3\nO00001,4,5,6\n")
    with pytest.raises(ValueError, match=r"'P12345' occurs in 2 data rows \(data rows 1, 3, "
                                         r"counting from 1 below the header\); 1 more protein "
                                         r"keys occur more than once, e.g. \['Q99999'\]"):
        read(path)


def test_repeated_ids_in_a_sample_column_are_warned_about(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("sample,P12345,Q99999\nA,100,200\nB,400,500\nA,700,800\n")
    with pytest.warns(UserWarning, match=r"'sample' is named like the sample ids but holds "
                                         r"'A' in 2 rows \(data rows \[1, 3\]\)"):
        adata = read(path)
    assert list(adata.obs_names) == ["sample_001", "sample_002", "sample_003"]
    assert adata.obs["sample"].tolist() == ["A", "B", "A"]  # nothing merged, nothing lost
    with pytest.raises(ValueError, match=r"sample name 'A' occurs 2 times"):
        read(path, id_column="sample")


def test_unknown_cell_text_error_gives_the_token_list_to_pass(tmp_path):
    path = tmp_path / "lod.csv"
    path.write_text("Protein,S1,S2,S3\nP12345,100,,<LOD\nQ99999,NaN,5,6\nO00001,0,8,n.d.\n")
    # S3 is mostly '<LOD'/'n.d.': it was moved to the protein annotations without a word
    with pytest.raises(ValueError, match=r"column 'S3' holds numbers but also the text '<LOD' "
                                         r"\(data row 1\)") as info:
        read(path)
    assert "pass missing_tokens=[" in str(info.value) and "'nan'" in str(info.value)
    tokens = ["nan", "<LOD", "n.d."]
    adata = read(path, missing_tokens=tokens)  # the empty cell stays missing without ''
    assert adata.uns[UNS_READ]["missing_tokens"] == {"<lod": 1, "blank": 1, "n.d.": 1,
                                                     "nan": 1, "0": 1}
    np.testing.assert_array_equal(adata.to_df().loc["S3"], [np.nan, 6.0, np.nan])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_long_table_is_inferred(tmp_path, suffix):
    frame = pd.DataFrame({"sample_id": pd.Categorical(["A", "A", "B", "B", "B"]),
                          "protein": pd.Categorical(["P12345", "Q99999", "P12345", "Q99999",
                                                     "Q99999"]),
                          "intensity": [100.0, 200.0, 300.0, 400.0, 5.0]})
    path = tmp_path / f"long{suffix}"
    frame.to_parquet(path) if suffix == ".parquet" else frame.to_csv(path, index=False)
    adata = read(path)  # was: 5 'samples' and one protein called 'intensity'
    assert adata.uns[UNS_READ]["format"] == "generic_long"
    assert list(adata.obs_names) == ["A", "B"]
    assert adata.to_df().loc["B"].tolist() == [300.0, 405.0]


def test_minus_infinity_on_a_log_scale_is_missing(tmp_path):
    path = tmp_path / "log.tsv"
    path.write_text("Protein\tS1\tS2\tS3\nP12345\t23.5\t-Infinity\t24\nQ99999\tNaN\t20\t-Inf\n")
    adata = read(path, log_base=2)
    np.testing.assert_array_equal(adata.to_df()["P12345"], [2 ** 23.5, np.nan, 2 ** 24])
    assert adata.uns[UNS_READ]["missing_tokens"]["-inf"] == 2
    with pytest.raises(ValueError, match=r"infinite value \('-Infinity'\).*log_base"):
        read(path)
    path.write_text("Protein,S1,S2\nP12345,1e6,inf\nQ99999,2,3\n")
    with pytest.raises(ValueError, match=r"infinite value \('inf'\) at row 1.*missing_tokens="):
        read(path)


def test_numeric_sample_ids_of_a_long_table_match_the_labels(tmp_path):
    from proteolabel.io import read_labels

    frame = pd.DataFrame({"sample": [1.0, 1.0, 2.0, 10.0, 10.0],
                          "protein": ["P1", "P2", "P1", "P1", "P2"],
                          "intensity": [1.0, 2.0, 3.0, 4.0, 5.0]})
    frame.to_parquet(tmp_path / "long.parquet")
    frame.assign(sample=pd.Categorical(frame["sample"])).to_parquet(tmp_path / "cat.parquet")
    pd.DataFrame({"sample": [1, 2, 10], "group": ["a", "b", "b"]}).to_csv(
        tmp_path / "labels.csv", index=False)
    for name in ("long.parquet", "cat.parquet"):
        adata = read(tmp_path / name)
        assert list(adata.obs_names) == ["1", "2", "10"]  # not '1.0', '2.0', '10.0'
        labels = read_labels(tmp_path / "labels.csv", samples=list(adata.obs_names))
        assert labels.to_dict() == {"1": "a", "2": "b", "10": "b"}


def test_two_field_title_line_points_to_header_row(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("Report of project X,2024-01-01\n" + _CSV)
    with pytest.raises(ValueError, match=r"line 2 has 4 fields.*If line 1 is not the table's "
                                         r"header.*header_row=N"):
        read(path)
    assert list(read(path, header_row=2).obs_names) == ["S1", "S2", "S3"]
