"""Generic wide tables, text-file robustness (encodings, separators, ragged rows), h5ad."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import CASES, DATA

from proteolabel._constants import UNS_READ
from proteolabel.io import read

ALZ = DATA / "alzheimer-csf-omiclearn" / "Alzheimer_excerpt.xlsx"


def small_rows(**extra):
    data = {"sample": ["s1", "s2", "s3"], "P12345": [100.0, 0.0, 300.0],
            "Q9Y6K9;Q9Y6K9-2": [1e6, 2e6, np.nan]}
    data.update(extra)
    return pd.DataFrame(data)


def test_alzheimer_excerpt_annotations_go_to_obs():
    adata = read(ALZ)
    info = adata.uns[UNS_READ]
    assert info["format"] == "generic"
    assert adata.n_obs == 24
    assert adata.obs_names[0] == "sample_001"
    assert not any(v.startswith("_") for v in adata.var_names)
    assert "_collection site" in adata.obs and "_primary biochemical AD classification" in adata.obs
    assert set(adata.obs["_collection site"].dropna()) <= {"Berlin", "Sweden", "Magdeburg", "Kiel"}
    assert adata.obs["_age at CSF collection"].dtype.kind == "f"
    ref = pd.read_excel(ALZ)
    proteins = [c for c in ref.columns if not c.startswith("_")]
    want = ref[proteins].replace(0, np.nan)
    got = adata.to_df()
    np.testing.assert_array_equal(got.to_numpy(), want[list(got.columns)].to_numpy())
    assert any("samples are in rows" in m for m in info["messages"])


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".xlsx", ".parquet"])
def test_rows_and_columns_layouts(tmp_path, suffix):
    rows = small_rows()
    cols = rows.set_index("sample").T.rename_axis("Protein IDs").reset_index()
    for name, frame, layout in (("r", rows, "rows"), ("c", cols, "columns")):
        path = tmp_path / f"{name}{suffix}"
        if suffix == ".xlsx":
            frame.to_excel(path, index=False)
        elif suffix == ".parquet":
            frame.to_parquet(path)
        else:
            frame.to_csv(path, sep="," if suffix == ".csv" else "\t", index=False)
        adata = read(path)
        assert adata.uns[UNS_READ]["format"] == "generic", path
        assert list(adata.obs_names) == ["s1", "s2", "s3"], layout
        assert list(adata.var_names) == ["P12345", "Q9Y6K9;Q9Y6K9-2"]
        np.testing.assert_array_equal(adata.X, [[100, 1e6], [np.nan, 2e6], [300, np.nan]])
        forced = read(path, samples_in=layout)
        np.testing.assert_array_equal(forced.X, adata.X)


def test_layout_ambiguous_asks_for_samples_in(tmp_path):
    pd.DataFrame({"a": ["x", "y"], "b": [1.0, 2.0], "c": [3.0, 4.0]}).to_csv(tmp_path / "t.csv",
                                                                           index=False)
    hint = r"--samples-in rows\|columns on the command line \(samples_in='rows' in Python\)"
    with pytest.raises(ValueError, match=hint):
        read(tmp_path / "t.csv")
    adata = read(tmp_path / "t.csv", samples_in="columns", id_column="a")
    assert list(adata.obs_names) == ["b", "c"] and list(adata.var_names) == ["x", "y"]


def test_decimal_commas_and_semicolons(tmp_path):
    text = "sample;P12345;P67890\ns1;1234,5;10\ns2;0,25;2,5E+03\n"
    (tmp_path / "eu.csv").write_text(text)
    adata = read(tmp_path / "eu.csv")
    np.testing.assert_array_equal(adata.X, [[1234.5, 10], [0.25, 2500]])
    assert adata.uns[UNS_READ]["decimal_comma_columns"] == ["P12345", "P67890"]


def test_mixed_decimal_separators_is_an_error(tmp_path):
    (tmp_path / "mix.csv").write_text("sample;P12345\ns1;1234,5\ns2;17.25\n")
    with pytest.raises(ValueError, match=r"'P12345' mixes decimal commas.*1234,5.*17.25"):
        read(tmp_path / "mix.csv")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1"])
def test_encodings(tmp_path, encoding):
    text = "sample\tP12345\tP67890\nPatient Müller 1\t10\t20\nPatient Ørsted 2\t30\t\n"
    (tmp_path / "t.tsv").write_bytes(text.encode(encoding))
    adata = read(tmp_path / "t.tsv")
    assert list(adata.obs_names) == ["Patient Müller 1", "Patient Ørsted 2"]
    assert list(adata.var_names) == ["P12345", "P67890"]  # no BOM glued to the first header
    np.testing.assert_array_equal(adata.X, [[10, 20], [30, np.nan]])


def test_ragged_rows(tmp_path):
    (tmp_path / "long.tsv").write_text("sample\tP12345\tP67890\ns1\t1\t2\ns2\t3\t4\t5\n")
    with pytest.raises(ValueError, match=r"line 3 has 4 fields but the header has 3"):
        read(tmp_path / "long.tsv")
    (tmp_path / "short.tsv").write_text("sample\tP12345\tP67890\ns1\t1\t2\ns2\t3\n")
    with pytest.raises(ValueError, match=r"line 3 has 2 fields but the header has 3"):
        read(tmp_path / "short.tsv")


def test_trailing_empty_field_is_read_with_a_warning(tmp_path):
    (tmp_path / "t.tsv").write_text("sample\tP12345\tP67890\ns1\t1\t2\t\ns2\t3\t4\t\n")
    with pytest.warns(UserWarning, match="extra empty field"):
        adata = read(tmp_path / "t.tsv")
    np.testing.assert_array_equal(adata.X, [[1, 2], [3, 4]])


def test_duplicate_headers_and_duplicate_samples(tmp_path):
    (tmp_path / "d.csv").write_text("Protein IDs,S1,S2,S1\nP12345,1,2,3\n")
    with pytest.raises(ValueError, match=r"'S1' appears 2 times \(columns 2, 4"):
        read(tmp_path / "d.csv")
    (tmp_path / "e.csv").write_text("Protein IDs,S1.raw,S1.mzML\nP12345,1,2\n")
    with pytest.raises(ValueError, match=r"'S1' occurs 2 times.*'S1.raw', 'S1.mzML'"):
        read(tmp_path / "e.csv")


def test_text_in_a_numeric_column(tmp_path):
    small_rows(P67890=["5", "<LOD", "7"]).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ValueError, match=r"'P67890'.*'<LOD'.*missing_tokens"):
        read(tmp_path / "t.csv")
    adata = read(tmp_path / "t.csv", missing_tokens=["", "0", "<LOD"])
    assert np.isnan(adata[:, "P67890"].X[1, 0])
    assert adata.uns[UNS_READ]["missing_tokens"]["<lod"] == 1


def test_missing_tokens_counted_per_token(tmp_path):
    frame = pd.DataFrame({"sample": ["a", "b", "c", "d", "e", "f"],
                          "P12345": ["1", "NA", "#N/A", "NaN", "Filtered", "0.0"],
                          "P67890": ["2", "N/A", "", "0", "null", "3"]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.warns(UserWarning, match="4 samples have no value left"):
        info = read(tmp_path / "t.csv").uns[UNS_READ]
    assert info["missing_tokens"] == {"na": 1, "#n_a": 1, "nan": 1, "filtered": 1, "0.0": 1,
                                      "n_a": 1, "blank": 1, "0": 1, "null": 1}


def test_negative_values_and_log_base(tmp_path):
    small_rows(P67890=[-1.0, 2.0, 3.0]).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ValueError, match=r"negative value.*log_base"):
        read(tmp_path / "t.csv")
    logged = pd.DataFrame({"sample": ["a", "b"], "P12345": [10.0, 11.5], "P67890": [-1.0, 20.0]})
    logged.to_csv(tmp_path / "log.csv", index=False)
    adata = read(tmp_path / "log.csv", log_base=2)
    np.testing.assert_allclose(adata.X, 2.0 ** logged[["P12345", "P67890"]].to_numpy())


def test_log_looking_values_warn(tmp_path):
    frame = pd.DataFrame({"sample": [f"s{i}" for i in range(6)],
                          "P12345": np.linspace(20, 25, 6), "P67890": np.linspace(18, 30, 6)})
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.warns(UserWarning, match="looks log-transformed"):
        read(tmp_path / "t.csv")


def test_columns_layout_numeric_annotations_and_index(tmp_path):
    frame = pd.DataFrame({"Protein": ["P12345", "P67890", "CON__P02768"], "Gene": ["A", "B", "ALB"],
                          "Peptides": [3, 5, 9], "run1.raw": [1.0, 2.0, 3.0],
                          "run2.raw": [4.0, 0.0, 6.0]})
    frame.to_csv(tmp_path / "t.csv")  # with pandas' unnamed index column
    with pytest.warns(UserWarning, match=r"\['Peptides'\] not read as samples"):
        adata = read(tmp_path / "t.csv")
    assert list(adata.obs_names) == ["run1", "run2"]
    assert list(adata.var_names) == ["P12345", "P67890"]
    assert adata.uns[UNS_READ]["dropped"] == {"contaminant": 1}
    assert list(adata.var["Gene"]) == ["A", "B"]
    assert any("Peptides" in m for m in adata.uns[UNS_READ]["messages"])


def test_h5ad_round_trip(tmp_path):
    adata = read(CASES / "BR-12" / "matrix.csv")
    adata.write_h5ad(tmp_path / "m.h5ad")
    back = read(tmp_path / "m.h5ad")
    assert back.uns[UNS_READ]["format"] == "h5ad"
    np.testing.assert_array_equal(back.X, adata.X)
    assert list(back.var_names) == list(adata.var_names)


def test_dataframe_input():
    adata = read(small_rows(), format="generic")
    assert list(adata.obs_names) == ["s1", "s2", "s3"]
