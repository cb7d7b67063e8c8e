"""Generic wide tables: which columns are ids, samples or annotations; sample names; sheets."""

from __future__ import annotations

import numpy as np
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
