"""Property test: random small tables written in each format read back identically."""

from __future__ import annotations

import tempfile
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proteolabel._constants import MISSING_TOKENS, UNS_READ
from proteolabel.io import read


def _ok_name(name: str) -> bool:
    try:
        float(name)
        return False
    except ValueError:
        return name.lower() not in MISSING_TOKENS


names = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_ -]{0,8}[A-Za-z0-9]\Z").filter(_ok_name)
accession = st.from_regex(r"\A[OPQ][0-9][A-Z0-9]{3}[0-9]\Z")
keys = st.lists(accession, min_size=1, max_size=2, unique=True).map(";".join)
value = st.one_of(st.floats(1e3, 1e10, allow_nan=False), st.just(np.nan))


@st.composite
def tables(draw):
    samples = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    proteins = draw(st.lists(keys, min_size=1, max_size=5, unique_by=lambda k: k.split(";")[0]))
    proteins = list(dict.fromkeys(proteins))
    matrix = np.array([[draw(value) for _ in proteins] for _ in samples], dtype=float)
    empty = np.isnan(matrix).all(axis=1)
    matrix[empty, 0] = 12345.678  # every sample keeps a value (else a warning, tested elsewhere)
    return pd.DataFrame(matrix, index=samples, columns=proteins)


def _write_wide_rows(frame, path):
    out = frame.rename_axis("sample").reset_index()
    if path.suffix == ".xlsx":
        out.to_excel(path, index=False)
    elif path.suffix == ".parquet":
        out.to_parquet(path)
    else:
        out.to_csv(path, sep="\t" if path.suffix == ".tsv" else ",", index=False)


def _write_wide_columns(frame, path):
    frame.T.rename_axis("Protein IDs").reset_index().to_csv(
        path, sep="\t" if path.suffix == ".tsv" else ",", index=False)


def _write_maxquant(prefix):
    def write(frame, path):
        out = pd.DataFrame({"Protein IDs": frame.columns})
        for s in frame.index:
            out[f"{prefix}{s}"] = frame.loc[s].fillna(0).to_numpy()
        for flag in ("Reverse", "Potential contaminant", "Only identified by site"):
            out[flag.replace(" ", "." if "." in prefix else " ")] = ""
        out.to_csv(path, sep="\t", index=False)
    return write


def _write_diann_pg(frame, path):
    out = pd.DataFrame({"Protein.Group": frame.columns, "Genes": "G"})
    for s in frame.index:
        out[f"D:\\runs\\batch 1\\{s}.raw"] = frame.loc[s].to_numpy()
    out.to_csv(path, sep="\t", index=False)


def _write_fragpipe(frame, path):
    out = pd.DataFrame({"Protein": frame.columns, "Protein ID": frame.columns,
                        "Protein Probability": 1.0})
    for s in frame.index:
        out[f"{s} Intensity"] = frame.loc[s].fillna(0).to_numpy() * 2
        out[f"{s} MaxLFQ Intensity"] = frame.loc[s].fillna(0).to_numpy()
    out.to_csv(path, sep="\t", index=False)


def _write_spectronaut_pivot(frame, path):
    out = pd.DataFrame({"PG.ProteinGroups": frame.columns})
    for i, s in enumerate(frame.index, start=1):
        out[f"[{i}] {s}.raw.PG.Quantity"] = frame.loc[s].astype(object).where(
            frame.loc[s].notna(), "Filtered").to_numpy()
    out.to_csv(path, sep="\t", index=False)


def _long(frame):
    rows = frame.stack(future_stack=True).rename("v").reset_index()
    rows.columns = ["s", "p", "v"]
    # split each cell into two peptide rows whose sum is the cell (second may be missing)
    first = rows.assign(pep="PEPTIDEA", v=rows["v"])
    second = rows.assign(pep="PEPTIDEB", v=np.nan)
    return pd.concat([first, second], ignore_index=True)


def _write_skyline(frame, path):
    rows = _long(frame)
    out = pd.DataFrame({"Protein Name": rows["p"], "Peptide Sequence": rows["pep"],
                        "Replicate Name": rows["s"],
                        "Total Area": rows["v"].astype(object).where(rows["v"].notna(), "#N/A")})
    out.to_csv(path, index=False)


def _write_diann_long(frame, path):
    rows = _long(frame).dropna(subset=["v"])
    out = pd.DataFrame({"File.Name": "C:\\x\\" + rows["s"] + ".raw", "Run": rows["s"],
                        "Protein.Group": rows["p"], "Precursor.Id": rows["pep"] + "2",
                        "Precursor.Quantity": rows["v"], "PG.MaxLFQ": rows["v"],
                        "Q.Value": 0.001, "PG.Q.Value": 0.002})
    if path.suffix == ".parquet":
        out.to_parquet(path)
    else:
        out.to_csv(path, sep="\t", index=False)


def _write_generic_long(frame, path):
    rows = _long(frame)
    rows.rename(columns={"s": "who", "p": "what", "v": "how much"}).to_csv(path, index=False)


def _write_h5ad(frame, path):
    ad.AnnData(frame.fillna(0).to_numpy(), obs=pd.DataFrame(index=list(frame.index)),
               var=pd.DataFrame(index=list(frame.columns))).write_h5ad(path)


CASES = {
    "generic_rows_csv": (_write_wide_rows, "t.csv", "generic", {}),
    "generic_rows_tsv": (_write_wide_rows, "t.tsv", "generic", {}),
    "generic_rows_xlsx": (_write_wide_rows, "t.xlsx", "generic", {}),
    "generic_rows_parquet": (_write_wide_rows, "t.parquet", "generic", {}),
    "generic_columns_csv": (_write_wide_columns, "t.csv", "generic", {}),
    "maxquant_spaced": (_write_maxquant("LFQ intensity "), "proteinGroups.txt", "maxquant", {}),
    "maxquant_dotted": (_write_maxquant("LFQ.intensity."), "proteinGroups.txt", "maxquant", {}),
    "diann_pg": (_write_diann_pg, "report.pg_matrix.tsv", "diann_pg", {}),
    "fragpipe": (_write_fragpipe, "combined_protein.tsv", "fragpipe", {}),
    "spectronaut_pivot": (_write_spectronaut_pivot, "pivot.tsv", "spectronaut", {}),
    "skyline": (_write_skyline, "sky.csv", "skyline", {}),
    "diann_tsv": (_write_diann_long, "report.tsv", "diann", {}),
    "diann_parquet": (_write_diann_long, "report.parquet", "diann", {"quantity": "precursor"}),
    "generic_long": (_write_generic_long, "long.csv", "generic_long",
                     {"sample_column": "who", "protein_column": "what",
                      "value_column": "how much"}),
    "h5ad": (_write_h5ad, "t.h5ad", "h5ad", {}),
}


@pytest.mark.parametrize("case", list(CASES))
@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(frame=tables())
def test_round_trip(case, frame):
    writer, filename, fmt, options = CASES[case]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / filename
        writer(frame, path)
        adata = read(path, **options)
    assert adata.uns[UNS_READ]["format"] == fmt
    expected = frame.loc[:, ~frame.isna().all(axis=0)]
    got = adata.to_df()
    assert sorted(got.index) == sorted(expected.index)
    assert sorted(got.columns) == sorted(expected.columns)
    got = got.loc[expected.index, expected.columns]
    if filename.endswith(".xlsx"):  # Excel keeps about 15 significant digits
        np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-14)
    else:
        np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
