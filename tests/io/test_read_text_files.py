"""Text-file robustness: long lines, blank lines, stray quotes, encodings, decimal marks, empty
tables. Each test writes a small file in the tool's own format and checks numbers and names."""

from __future__ import annotations

import csv
import gzip

import numpy as np
import pandas as pd
import pytest

from proteolabel.io import read

UNS_READ = "read"
MQ_HEADER = "Protein IDs\tProtein names\tLFQ intensity S1\tLFQ intensity S2\tReverse\tPotential contaminant"


def _mq(rows: list[str]) -> str:
    return "\n".join([MQ_HEADER, *rows]) + "\n"


def _lines(path) -> list[str]:
    return path.read_text().splitlines()


# -- lines over csv's field limit (128 KiB) ---------------------------------------------------
def test_diann_matrix_with_a_header_over_the_csv_field_limit(tmp_path):
    runs = [f"D:\\Projects\\2024_plasma_cohort\\raw_files\\batch_{i // 100:02d}\\"
            f"20240101_Astral_DIA_plasma_cohort_sample_{i:05d}.raw"
            for i in range(1300)]
    header = "\t".join(["Protein.Group", "Protein.Names", "Genes", "First.Protein.Description",
                        *runs])
    assert len(header) > 131072
    rows = [
        "\t".join(["P12345", "ALBU_HUMAN", "ALB", "Albumin", *[str(1000 + i) for i in range(1300)]]),
        "\t".join(["Q99999", "XX_HUMAN", "XX", "Other", *[str(2.5 * (i + 1)) for i in range(1300)]]),
    ]
    path = tmp_path / "report.pg_matrix.tsv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    limit = csv.field_size_limit()
    adata = read(path)
    assert csv.field_size_limit() == limit  # the csv module's global limit is left as it was
    assert adata.shape == (1300, 2)
    assert list(adata.var_names) == ["P12345", "Q99999"]
    assert adata.obs_names[0] == "20240101_Astral_DIA_plasma_cohort_sample_00000"
    assert adata.obs_names[-1] == "20240101_Astral_DIA_plasma_cohort_sample_01299"
    np.testing.assert_array_equal(adata.X[:, 0], 1000 + np.arange(1300))
    np.testing.assert_array_equal(adata.X[:, 1], 2.5 * (np.arange(1300) + 1))


def test_generic_rows_over_the_csv_field_limit(tmp_path):
    proteins = [f"P{i:05d}" for i in range(20000)]
    values = np.arange(2 * 20000, dtype=np.float64).reshape(2, 20000) * 1000.0 + 0.125
    lines = ["sample," + ",".join(proteins)]
    lines += [f"S{r}," + ",".join(repr(float(v)) for v in values[r]) for r in range(2)]
    assert all(len(line) > 131072 for line in lines)
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(lines) + "\n")
    adata = read(path)
    assert list(adata.obs_names) == ["S0", "S1"]
    assert list(adata.var_names) == proteins
    np.testing.assert_array_equal(adata.X, values)


# -- blank and whitespace-only lines ----------------------------------------------------------
@pytest.mark.parametrize("blank", ["", " ", "   ", "\t\t\t\t\t", " \t "])
def test_blank_lines_in_maxquant_file_drop_no_row(tmp_path, blank):
    path = tmp_path / "proteinGroups.txt"
    path.write_text(_mq(["P1\tA\t100\t200\t\t", blank, "P2\tB\t300\t400\t\t", blank,
                         "P3\tC\t500\t600\t\t", "P4\tD\t700\t800\t\t"]))
    adata = read(path)
    assert list(adata.var_names) == ["P1", "P2", "P3", "P4"]
    assert list(adata.obs_names) == ["S1", "S2"]
    np.testing.assert_array_equal(adata.X, [[100, 300, 500, 700], [200, 400, 600, 800]])
    info = adata.uns[UNS_READ]
    assert info["dropped"] == {}
    assert "2 blank lines among the rows were skipped" in info["messages"]


def test_blank_lines_with_short_fragment_rows_skip_only_the_fragments(tmp_path):
    # a fragment line (too few fields to carry values) after blank lines: the right row goes
    path = tmp_path / "proteinGroups.txt"
    path.write_text(_mq(["P1\tA\t100\t200\t\t", " ", "", "P2\tB\t300\t400\t\t", "spill",
                         "P3\tC\t500\t600\t\t"]))
    with pytest.warns(UserWarning, match="first at line 6"):
        adata = read(path)
    assert list(adata.var_names) == ["P1", "P2", "P3"]
    np.testing.assert_array_equal(adata.X, [[100, 300, 500], [200, 400, 600]])
    assert adata.uns[UNS_READ]["dropped"] == {"malformed_rows": 1}


@pytest.mark.parametrize("before", ["\n", "\n\n", "  \n", "\r\n"])
def test_blank_lines_before_the_header(tmp_path, before):
    path = tmp_path / "proteinGroups.txt"
    path.write_text(before + _mq(["P1\tA\t100\t200\t\t", "P2\tB\t300\t400\t\t"]), newline="")
    adata = read(path)
    assert list(adata.var_names) == ["P1", "P2"]
    np.testing.assert_array_equal(adata.X, [[100, 300], [200, 400]])
    assert any("the header is on line" in m for m in adata.uns[UNS_READ]["messages"])

    csv_path = tmp_path / "table.csv"
    csv_path.write_text(before + "Protein,S1.raw,S2.raw\nP12345,100,200\nQ99999,300,400\n",
                        newline="")
    adata = read(csv_path)
    assert list(adata.obs_names) == ["S1", "S2"]
    assert list(adata.var_names) == ["P12345", "Q99999"]
    np.testing.assert_array_equal(adata.X, [[100, 300], [200, 400]])


# -- quote characters in files that are never quoted ------------------------------------------
def test_stray_quote_in_maxquant_file_merges_no_rows(tmp_path):
    path = tmp_path / "proteinGroups.txt"
    path.write_text(_mq(['P1\t"Fragile X\t100\t200\t\t', "P2\tKinase 2\t300\t400\t\t",
                         'P3\tsize 5" insert\t500\t600\t\t', "P4\tplain\t700\t800\t\t"]))
    adata = read(path)
    assert list(adata.var_names) == ["P1", "P2", "P3", "P4"]
    np.testing.assert_array_equal(adata.X, [[100, 300, 500, 700], [200, 400, 600, 800]])
    assert list(adata.var["protein_names"]) == ['"Fragile X', "Kinase 2", 'size 5" insert',
                                                "plain"]
    assert any("joined lines 2-4" in m for m in adata.uns[UNS_READ]["messages"])


def test_stray_quote_with_a_short_trailing_row(tmp_path):
    # a legitimately trimmed row (no trailing empty fields) does not make the quote a quote
    path = tmp_path / "proteinGroups.txt"
    path.write_text(_mq(['P1\t"Fragile X\t100\t200\t\t', "P2\tKinase 2\t300\t400",
                         'P3\tsize 5" insert\t500\t600\t\t']))
    adata = read(path)
    assert list(adata.var_names) == ["P1", "P2", "P3"]
    np.testing.assert_array_equal(adata.X, [[100, 300, 500], [200, 400, 600]])


def test_quotes_on_one_line_that_would_merge_fields(tmp_path):
    # read as CSV quotes, '"Fragile X<TAB>FMR1"' is one field and the values shift left
    path = tmp_path / "proteinGroups.txt"
    header = MQ_HEADER.replace("Protein names", "Protein names\tGene names")
    path.write_text("\n".join([header, "P1\tA\tGA\t100\t200\t\t",
                               'P2\t"Fragile X\tFMR1"\t300\t400\t\t']) + "\n")
    adata = read(path)
    assert list(adata.var_names) == ["P1", "P2"]
    np.testing.assert_array_equal(adata.X, [[100, 300], [200, 400]])
    assert list(adata.var["gene_names"]) == ["GA", 'FMR1"']
    assert any("gave line 3 the wrong number of fields" in m
               for m in adata.uns[UNS_READ]["messages"])


def test_unclosed_quote_in_spectronaut_pivot(tmp_path):
    path = tmp_path / "Report.tsv"
    path.write_text("PG.ProteinGroups\tPG.Genes\t[1] S1.raw.PG.Quantity\t[2] S2.raw.PG.Quantity\n"
                    '"P1\tG1\t100\t200\nP2\tG2\t300\t400\n')
    adata = read(path, format="spectronaut")
    assert list(adata.obs_names) == ["S1", "S2"]
    assert list(adata.var_names) == ['"P1', "P2"]
    np.testing.assert_array_equal(adata.X, [[100, 300], [200, 400]])


def test_stray_quote_in_gzipped_diann_matrix(tmp_path):
    path = tmp_path / "report.pg_matrix.tsv.gz"
    text = ("Protein.Group\tProtein.Names\tGenes\tFirst.Protein.Description\tC:\\r\\A.raw\t"
            "C:\\r\\B.raw\n"
            'P1\tN1\tG1\t"quoted start\t1.5\t2.5\nP2\tN2\tG2\tplain\t3.5\t4.5\n'
            'P3\tN3\tG3\tends" here\t5.5\t6.5\n')
    with gzip.open(path, "wt") as handle:
        handle.write(text)
    adata = read(path)
    assert list(adata.obs_names) == ["A", "B"]
    assert list(adata.var_names) == ["P1", "P2", "P3"]
    np.testing.assert_array_equal(adata.X, [[1.5, 3.5, 5.5], [2.5, 4.5, 6.5]])


def test_quoted_cells_of_a_csv_still_work(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('Protein,Note,S1.raw,S2.raw\nP12345,"two\nlines, and a comma",100,200\n'
                    'Q99999,"say ""hi""",300,400\n')
    adata = read(path, samples_in="columns", id_column="Protein")
    assert list(adata.var_names) == ["P12345", "Q99999"]
    assert list(adata.var["Note"]) == ["two\nlines, and a comma", 'say "hi"']
    np.testing.assert_array_equal(adata.X, [[100, 300], [200, 400]])


def test_stray_quote_in_a_broken_file_is_an_error_naming_the_lines(tmp_path):
    path = tmp_path / "proteinGroups.txt"
    path.write_text(_mq(['P1\t"Fragile X\t100\t200\t\t', "P2\tB\t300\t400\t\t",
                         'P3\tC" x\t500\t600\t\t', "P4\tD\t700\t800\t9\t\t1"]))
    with pytest.raises(ValueError, match=r"proteinGroups.txt: line 5 has 7 fields.*"
                                         r"quote character .* on line 2 .* to line 4"):
        read(path)


# -- encodings ------------------------------------------------------------------------------
def test_cp1252_file_keeps_its_punctuation(tmp_path):
    header = MQ_HEADER.replace("S1", "Probe–1").replace("S2", "Probe‘2’")
    path = tmp_path / "proteinGroups.txt"
    path.write_bytes((header + "\nP1\tKinase €\t100\t200\t\t\n").encode("cp1252"))
    adata = read(path)
    assert list(adata.obs_names) == ["Probe–1", "Probe‘2’"]
    assert list(adata.var["protein_names"]) == ["Kinase €"]
    np.testing.assert_array_equal(adata.X, [[100], [200]])
    assert "read as cp1252" in adata.uns[UNS_READ]["messages"]


def test_byte_undefined_in_cp1252_falls_back_to_latin1(tmp_path):
    path = tmp_path / "proteinGroups.txt"
    path.write_bytes((MQ_HEADER.replace("S1", "Müller") + "\nP1\tx\x81y\t100\t200\t\t\n")
                     .encode("latin-1"))
    adata = read(path)
    assert list(adata.obs_names) == ["Müller", "S2"]
    assert list(adata.var["protein_names"]) == ["x\x81y"]
    assert "read as latin-1" in adata.uns[UNS_READ]["messages"]


def test_utf8_file_with_a_few_cp1252_bytes_is_not_redecoded(tmp_path):
    header = MQ_HEADER.replace("S1", "Müller_1").replace("S2", "Müller_2").encode("utf-8")
    rows = ["P1\tKinase 5 µg\t100\t200\t\t".encode("latin-1"),
            "P2\tZürich ok\t300\t400\t\t".encode(),
            "P3\t10 – 20\t500\t600\t\t".encode("cp1252")]
    path = tmp_path / "proteinGroups.txt"
    path.write_bytes(b"\n".join([header, *rows]) + b"\n")
    with pytest.warns(UserWarning, match=r"2 line\(s\) are not valid UTF-8.*line 2, 4"):
        adata = read(path)
    assert list(adata.obs_names) == ["Müller_1", "Müller_2"]
    assert list(adata.var_names) == ["P1", "P2", "P3"]
    assert list(adata.var["protein_names"]) == ["Kinase 5 µg", "Zürich ok", "10 – 20"]
    np.testing.assert_array_equal(adata.X, [[100, 300, 500], [200, 400, 600]])
    assert any("not valid UTF-8" in w for w in adata.uns[UNS_READ]["warnings"])


def test_explicit_encoding_that_does_not_fit_is_an_error(tmp_path):
    path = tmp_path / "proteinGroups.txt"
    path.write_bytes((MQ_HEADER + "\nP1\tµ\t100\t200\t\t\n").encode("latin-1"))
    with pytest.raises(ValueError, match=r"proteinGroups.txt: cannot be decoded as utf-8 on "
                                         r"line 2.*encoding="):
        read(path, encoding="utf-8")


# -- decimal commas and thousands separators ------------------------------------------------
THOUSANDS = 'Protein,S1.raw,S2.raw\nP12345,"1,234","12,345"\nQ99999,"123,456","5,120"\n' \
            'O00001,"2,048",999\n'


def test_ambiguous_commas_are_an_error_naming_the_column_and_the_option(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(THOUSANDS)
    with pytest.raises(ValueError, match=r"t.csv: column 'S1.raw' holds '1,234' \(row 1\).*"
                                         r"decimal=','.*decimal='.'"):
        read(path)


@pytest.mark.parametrize(("decimal", "expected"), [
    (".", [[1234, 123456, 2048], [12345, 5120, 999]]),
    (",", [[1.234, 123.456, 2.048], [12.345, 5.12, 999]]),
])
def test_decimal_option_settles_ambiguous_commas(tmp_path, decimal, expected):
    path = tmp_path / "t.csv"
    path.write_text(THOUSANDS)
    adata = read(path, decimal=decimal)
    assert list(adata.obs_names) == ["S1", "S2"]
    assert list(adata.var_names) == ["P12345", "Q99999", "O00001"]
    np.testing.assert_array_equal(adata.X, expected)
    key = "thousands_separator_columns" if decimal == "." else "decimal_comma_columns"
    assert adata.uns[UNS_READ][key] == ["S1.raw", "S2.raw"]


def test_decimal_option_reads_grouped_numbers(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('Protein,S1.raw\nP12345,"1,234,567.5"\nQ99999,"12,345"\n')
    adata = read(path, decimal=".")
    np.testing.assert_array_equal(adata.X, [[1234567.5, 12345]])
    eu = tmp_path / "eu.csv"
    eu.write_text("Protein;S1.raw\nP12345;1.234.567,5\nQ99999;12,25\n")
    np.testing.assert_array_equal(read(eu, decimal=",").X, [[1234567.5, 12.25]])
    with pytest.raises(ValueError, match=r"column 'S1.raw' holds '1.234.567,5' \(row 1\), which "
                                         r"is not a number with '.' as the decimal mark"):
        read(eu, decimal=".")


def test_one_unambiguous_decimal_comma_settles_the_column(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("sample;P12345;P67890\ns1;1,234;2,048\ns2;123,4;5,120\n")
    with pytest.raises(ValueError, match="column 'P67890' holds '2,048'"):  # still ambiguous
        read(path)
    path.write_text("sample;P12345;P67890\ns1;1,234;2,048\ns2;123,4;5,12\n")
    adata = read(path)
    assert list(adata.obs_names) == ["s1", "s2"]
    assert list(adata.var_names) == ["P12345", "P67890"]
    np.testing.assert_array_equal(adata.X, [[1.234, 2.048], [123.4, 5.12]])


def test_ambiguous_commas_in_maxquant_file(tmp_path):
    path = tmp_path / "proteinGroups.txt"
    path.write_text(_mq(["P1\tA\t1,500\t2,250\t\t", "P2\tB\t3,125\t4,000\t\t"]))
    with pytest.raises(ValueError, match=r"column 'LFQ intensity S1' holds '1,500'"):
        read(path)
    adata = read(path, decimal=",")
    np.testing.assert_array_equal(adata.X, [[1.5, 3.125], [2.25, 4.0]])


def test_unknown_decimal_mark_is_an_error(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(THOUSANDS)
    with pytest.raises(ValueError, match="decimal must be"):
        read(path, decimal=";")


# -- no data rows ---------------------------------------------------------------------------
@pytest.mark.parametrize("rows", ["", "\n\n", "  \n\t\t\t\t\t\n"])
def test_maxquant_header_without_rows_is_an_error(tmp_path, rows):
    path = tmp_path / "proteinGroups.txt"
    path.write_text(MQ_HEADER + "\n" + rows)
    with pytest.raises(ValueError, match=r"proteinGroups.txt: the file has a header \(6 columns: "
                                         r"'Protein IDs'.*but no data rows"):
        read(path)


def test_other_containers_without_rows_are_an_error(tmp_path):
    frame = pd.DataFrame({"Protein": pd.Series([], dtype=str),
                          "S1.raw": pd.Series([], dtype=float)})
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ValueError, match=r"t.csv: the file has a header .* but no data rows"):
        read(tmp_path / "t.csv")
    pytest.importorskip("pyarrow")
    frame.to_parquet(tmp_path / "t.parquet")
    with pytest.raises(ValueError, match=r"t.parquet: the file has a header .* no data rows"):
        read(tmp_path / "t.parquet")
    with pytest.raises(ValueError, match=r"<DataFrame>: the table has a header .* no data rows"):
        read(frame)


def test_excel_sheet_without_rows_is_an_error(tmp_path):
    pytest.importorskip("openpyxl")
    path = tmp_path / "t.xlsx"
    pd.DataFrame({"Protein": pd.Series([], dtype=str)}).to_excel(path, index=False)
    with pytest.raises(ValueError, match=r"t.xlsx: sheet 'Sheet1' has a header .* no data rows"):
        read(path)


def test_excel_notes_sheet_without_rows_is_passed_over(tmp_path):
    pytest.importorskip("openpyxl")
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"Title only": []}).to_excel(writer, sheet_name="Info", index=False)
        pd.DataFrame({"Protein": ["P12345", "Q99999"], "S1.raw": [1.0, 2.0],
                      "S2.raw": [3.0, 4.0]}).to_excel(writer, sheet_name="Data", index=False)
    adata = read(path)
    assert list(adata.obs_names) == ["S1", "S2"]
    assert list(adata.var_names) == ["P12345", "Q99999"]
    np.testing.assert_array_equal(adata.X, [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match=r"sheet 'Info' has a header \(1 column: 'Title only'\) "
                                         r"but no data rows") as info:
        read(path, sheet="Info")
    assert str(info.value).count("read sheet 'Info'") == 1
