from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import DATA

from proteolabel._constants import UNS_READ
from proteolabel.io import read


def combined_protein(tmp_path, maxlfq=True):
    frame = pd.DataFrame({
        "Protein": ["sp|P12345|AAA_HUMAN", "contam_sp|P02768|ALBU_HUMAN", "sp|Q99999|BBB_HUMAN"],
        "Protein ID": ["P12345", "P02768", "Q99999"],
        "Entry Name": ["AAA_HUMAN", "ALBU_HUMAN", "BBB_HUMAN"],
        "Gene": ["AAA", "ALB", "BBB"],
        "Protein Probability": [1.0, 1.0, 0.99],
        "Combined Spectral Count": [10, 50, 2],
        "Combined Total Intensity": [1e7, 1e9, 1e5],
    })
    for s, k in (("ctrl_1", 1.0), ("trt 1", 2.0)):
        frame[f"{s} Spectral Count"] = [5, 25, 1]
        frame[f"{s} Intensity"] = [1e6 * k, 5e8 * k, 0]
        frame[f"{s} Razor Intensity"] = [1e6 * k, 5e8 * k, 0]
        if maxlfq:
            frame[f"{s} MaxLFQ Intensity"] = [9e5 * k, 4e8 * k, 0]
            frame[f"{s} Razor MaxLFQ Intensity"] = [1, 1, 1]
    frame["Indistinguishable Proteins"] = ""
    path = tmp_path / "combined_protein.tsv"
    frame.to_csv(path, sep="\t", index=False)
    return path


def test_fragpipe_maxlfq_default(tmp_path):
    adata = read(combined_protein(tmp_path))
    info = adata.uns[UNS_READ]
    assert info["format"] == "fragpipe"
    assert info["quantity"].startswith("MaxLFQ Intensity")
    assert list(adata.obs_names) == ["ctrl_1", "trt 1"]
    assert list(adata.var_names) == ["sp|P12345|AAA_HUMAN"]
    assert info["dropped"] == {"contaminant": 1, "no_values": 1}
    np.testing.assert_array_equal(adata.X.ravel(), [9e5, 1.8e6])
    intensity = read(combined_protein(tmp_path), quantity="intensity")
    np.testing.assert_array_equal(intensity.X.ravel(), [1e6, 2e6])


def test_fragpipe_without_maxlfq_falls_back(tmp_path):
    with pytest.warns(UserWarning, match="no 'MaxLFQ Intensity' columns"):
        adata = read(combined_protein(tmp_path, maxlfq=False))
    np.testing.assert_array_equal(adata.X.ravel(), [1e6, 2e6])


def test_mztab_assays_and_study_variables():
    pytest.importorskip("pyteomics")
    adata = read(DATA / "mztab" / "proteins.mzTab")
    assert adata.uns[UNS_READ]["format"] == "mztab"
    assert list(adata.obs_names) == ["Ctrl_1", "Ctrl_2", "Trt_1"]
    assert list(adata.var_names) == ["PX00001", "PX00003"]
    np.testing.assert_array_equal(adata.X, [[1500.5, np.nan], [1200, 800], [2400, 650]])
    assert adata.uns[UNS_READ]["dropped_proteins"]["no_values"] == ["PX00004"]
    sv = read(DATA / "mztab" / "proteins.mzTab", quantity="study_variable")
    assert list(sv.obs_names) == ["control", "treated"]
