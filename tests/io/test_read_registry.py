from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import CASES, DATA

from proteolabel._constants import UNS_READ
from proteolabel.io import READERS, read, register_reader
from proteolabel.io._build import build_anndata

INFERRED = {
    CASES / "BR-03" / "proteinGroups.txt": "maxquant",
    CASES / "BR-05" / "report.pg_matrix.tsv": "diann_pg",
    CASES / "BR-08" / "skyline_peptide_areas.csv": "skyline",
    CASES / "BR-12" / "matrix.csv": "generic",
    DATA / "ubiquitin-dep-maxquant" / "DiUbi_proteinGroups.tsv": "maxquant",
    DATA / "proteobench-diann-maxquant" / "DIANN_1.9_beta_sample_report.tsv": "diann",
    DATA / "proteobench-diann-maxquant" / "MaxQuant_2_5_1_evidence_sample.txt":
        "maxquant_evidence",
    DATA / "rapamycin-spectronaut-precursors" / "rapamycin_10uM.tsv": "spectronaut",
    DATA / "skyline-msstats-spikein" / "skyline_input.csv": "skyline",
    DATA / "alzheimer-csf-omiclearn" / "Alzheimer_excerpt.xlsx": "generic",
    DATA / "mztab" / "proteins.mzTab": "mztab",
}


def test_registry_has_the_formats():
    assert {"maxquant", "maxquant_evidence", "skyline", "diann", "diann_pg", "spectronaut",
            "fragpipe", "mztab", "generic", "generic_long", "h5ad"} <= set(READERS)


@pytest.mark.parametrize("path, fmt", list(INFERRED.items()), ids=lambda p: getattr(p, "name", p))
def test_inference(path, fmt):
    if fmt == "mztab":
        pytest.importorskip("pyteomics")
    adata = read(path)
    info = adata.uns[UNS_READ]
    assert info["format"] == fmt
    assert info["n_samples"] == adata.n_obs and info["n_proteins"] == adata.n_vars
    assert adata.X.dtype == np.float64 and isinstance(adata.X, np.ndarray)
    assert adata.obs_names.is_unique and adata.var_names.is_unique
    assert not (adata.X == 0).any() and not np.isinf(adata.X).any()
    assert 0 <= info["missing_fraction"] <= 1
    json.dumps(info)


def test_unknown_format_lists_known_ones():
    with pytest.raises(ValueError) as err:
        read(CASES / "BR-12" / "matrix.csv", format="perseus")
    for name in ("maxquant", "skyline", "generic", "diann"):
        assert name in str(err.value)


def test_explicit_format_wins():
    # a MaxQuant file read as a generic proteins-in-rows table keeps every column family
    adata = read(CASES / "BR-03" / "proteinGroups.txt", format="generic", samples_in="columns",
                 id_column="Protein IDs",
                 sample_columns=["LFQ intensity Ctrl_1", "LFQ intensity Ctrl_2"])
    assert adata.uns[UNS_READ]["format"] == "generic"
    assert list(adata.obs_names) == ["LFQ intensity Ctrl_1", "LFQ intensity Ctrl_2"]


def test_unknown_option_and_quantity():
    with pytest.raises(ValueError, match="does not take option"):
        read(CASES / "BR-03" / "proteinGroups.txt", bogus=1)
    with pytest.raises(ValueError, match="no quantity choice"):
        read(CASES / "BR-12" / "matrix.csv", quantity="lfq")


def test_unknown_extension_without_header():
    with pytest.raises(FileNotFoundError):
        read(DATA / "does-not-exist.csv")


def test_register_a_reader(tmp_path):
    def sniff(name, columns):
        return 1.0 if "MyTool Protein" in columns else 0.0

    @register_reader("mytool_test", sniff=sniff, description="test tool")
    def read_mytool(table, ctx, *, scale: float = 1.0):
        frame = table.read(table.columns, ctx)
        values = frame.drop(columns="MyTool Protein").astype(float).to_numpy() * scale
        return build_anndata(ctx, values.T, list(frame.columns[1:]),
                             frame["MyTool Protein"].tolist())

    try:
        pd.DataFrame({"MyTool Protein": ["P1", "P2"], "a": [1, 2], "b": [3, 4]}).to_csv(
            tmp_path / "x.csv", index=False)
        adata = read(tmp_path / "x.csv", scale=2.0)
        assert adata.uns[UNS_READ]["format"] == "mytool_test"
        np.testing.assert_array_equal(adata.X, [[2, 4], [6, 8]])
        with pytest.raises(ValueError, match="already registered"):
            register_reader("mytool_test", read_mytool)
    finally:
        READERS.pop("mytool_test", None)


def test_option_values_of_the_wrong_kind_are_refused(tmp_path):
    br03 = CASES / "BR-03" / "proteinGroups.txt"
    with pytest.raises(ValueError, match="keep_contaminants takes true or false, got 'banana'"):
        read(br03, keep_contaminants="banana")
    report = DATA / "proteobench-diann-maxquant" / "DIANN_1.9_beta_sample_report.tsv"
    with pytest.raises(ValueError, match="q_value takes a number"):
        read(report, q_value="abc")
    with pytest.raises(ValueError, match=r"q_value=5 is not a q-value.*q_value=0.05"):
        read(report, q_value=5)
    with pytest.raises(ValueError, match="sheet applies to Excel workbooks only"):
        read(br03, sheet="Data")


def test_a_wrong_explicit_format_names_the_format_the_file_looks_like():
    report = DATA / "proteobench-diann-maxquant" / "DIANN_1.9_beta_sample_report.tsv"
    with pytest.raises(ValueError, match=r"looks like format 'diann'.*drop --format"):
        read(report, format="maxquant")
