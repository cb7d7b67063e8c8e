"""Containers and table layouts the other tests do not cover (second adversarial pass)."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile

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
