"""MaxQuant samples: experiments (not fractions) in evidence.txt, SILAC totals in proteinGroups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from proteolabel._constants import LAYER_N_VALUES, UNS_READ
from proteolabel.io import read

EVIDENCE_COLUMNS = ["Sequence", "Modified sequence", "Proteins", "Leading proteins",
                    "Leading razor protein", "Raw file", "Experiment", "Fraction", "Charge",
                    "Type", "Intensity", "Reverse", "Potential contaminant", "id"]


def evidence(raw_files, experiments=None):
    """An evidence.txt: per raw file two P1 peptides, a decoy, a contaminant."""
    rows = []
    for k, raw in enumerate(raw_files):
        for seq, prot, intensity, rev, con in (
            ("AAAK", "P12345", 100.0, "", ""), ("CCCR", "P12345", 50.0, "", ""),
            ("DDDK", "REV__P99999", 10.0, "+", ""), ("EEEK", "CON__P02768", 999.0, "", "+"),
        ):
            rows.append({"Sequence": seq, "Modified sequence": f"_{seq}_", "Proteins": prot,
                         "Leading proteins": prot, "Leading razor protein": prot,
                         "Raw file": raw,
                         "Experiment": experiments[k] if experiments else "",
                         "Fraction": k + 1, "Charge": 2, "Type": "MULTI-MSMS",
                         "Intensity": intensity * (k + 1), "Reverse": rev,
                         "Potential contaminant": con, "id": len(rows)})
    frame = pd.DataFrame(rows, columns=EVIDENCE_COLUMNS)
    if experiments is None:
        frame = frame.drop(columns=["Experiment", "Fraction"])
    return frame


def test_evidence_fractions_summed_per_experiment(tmp_path):
    frame = evidence(["S1_F01", "S1_F02", "S2_F01", "S2_F02"], ["S1", "S1", "S2", "S2"])
    frame.to_csv(tmp_path / "evidence.txt", sep="\t", index=False)
    adata = read(tmp_path / "evidence.txt")
    info = adata.uns[UNS_READ]
    assert info["format"] == "maxquant_evidence"
    assert list(adata.obs_names) == ["S1", "S2"]
    assert list(adata.var_names) == ["P12345"]
    np.testing.assert_array_equal(adata.X, [[150 + 300], [450 + 600]])
    np.testing.assert_array_equal(adata.layers[LAYER_N_VALUES], [[4], [4]])
    assert info["dropped"] == {"rows_decoy": 4, "rows_contaminant": 4}
    assert ("samples are MaxQuant experiments (column 'Experiment'): 4 raw files in 2 "
            "experiments; the raw files of one experiment are its fractions and were summed "
            "(pass sample_column='Raw file' for one sample per raw file)") in info["messages"]
    by_file = read(tmp_path / "evidence.txt", sample_column="Raw file")
    assert list(by_file.obs_names) == ["S1_F01", "S1_F02", "S2_F01", "S2_F02"]
    np.testing.assert_array_equal(by_file.X.ravel(), [150, 300, 450, 600])
    assert "samples from column 'Raw file'" in by_file.uns[UNS_READ]["messages"]


def test_evidence_without_experiment_uses_raw_files(tmp_path):
    evidence(["R1", "R2"]).to_csv(tmp_path / "evidence.txt", sep="\t", index=False)
    adata = read(tmp_path / "evidence.txt")
    assert list(adata.obs_names) == ["R1", "R2"]
    np.testing.assert_array_equal(adata.X.ravel(), [150, 300])
    assert ("samples are raw files (column 'Raw file'; the file has no Experiment column)"
            in adata.uns[UNS_READ]["messages"])


def test_evidence_partly_empty_experiment_refused(tmp_path):
    evidence(["R1", "R2"], ["E1", ""]).to_csv(tmp_path / "evidence.txt", sep="\t", index=False)
    with pytest.raises(ValueError, match=r"evidence.txt: column 'Experiment' is empty in 4 of 8 "
                       r"rows .*sample_column='Raw file'"):
        read(tmp_path / "evidence.txt")


def test_evidence_sample_with_only_filtered_rows_stays(tmp_path):
    frame = evidence(["R1", "R2", "R3"], ["E1", "E2", "E3"])
    frame.loc[frame["Raw file"] == "R3", "Potential contaminant"] = "+"
    frame.to_csv(tmp_path / "evidence.txt", sep="\t", index=False)
    with pytest.warns(UserWarning, match=r"1 of 3 samples had every row removed .*"
                      r"\['E3'\]"):
        adata = read(tmp_path / "evidence.txt")
    assert list(adata.obs_names) == ["E1", "E2", "E3"]
    np.testing.assert_array_equal(adata.X.ravel(), [150, 300, np.nan])
    # R3's decoy row counts as a decoy, its two P12345 rows (now flagged) as contaminants
    assert adata.uns[UNS_READ]["dropped"] == {"rows_decoy": 3, "rows_contaminant": 3 + 2}


def test_evidence_experiments_with_one_base_name_refused(tmp_path):
    frame = evidence(["R1", "R2"], ["D:\\b1\\S1", "D:\\b2\\S1"])
    frame.to_csv(tmp_path / "evidence.txt", sep="\t", index=False)
    with pytest.raises(ValueError, match=r"evidence.txt: sample name 'S1' occurs 2 times \("
                       r"'Experiment' values 'D:\\\\b1\\\\S1', 'D:\\\\b2\\\\S1'"):
        read(tmp_path / "evidence.txt")


def test_peptides_txt_columns_with_one_base_name_refused(tmp_path):
    pd.DataFrame({
        "Sequence": ["AAAK", "CCCR"], "Proteins": ["P12345", "P12345"],
        "Leading razor protein": ["P12345", "P12345"],
        "Intensity a/S1.raw": [1.0, 2.0], "Intensity b/S1.raw": [3.0, 4.0],
        "Reverse": ["", ""], "Potential contaminant": ["", ""],
    }).to_csv(tmp_path / "peptides.txt", sep="\t", index=False)
    with pytest.raises(ValueError, match=r"sample name 'S1' occurs 2 times \(columns "
                       r"'Intensity a/S1.raw', 'Intensity b/S1.raw'"):
        read(tmp_path / "peptides.txt", format="maxquant_evidence")


# --- proteinGroups.txt with SILAC channels -----------------------------------------------------


def silac_protein_groups(tmp_path, totals=True, lfq=False):
    frame = pd.DataFrame({
        "Protein IDs": ["P12345", "Q99999", "CON__P02768"],
        "Majority protein IDs": ["P12345", "Q99999", "CON__P02768"],
        "Intensity": [600, 90, 5], "Intensity L": [300, 30, 2], "Intensity H": [300, 60, 3],
    })
    for exp, (light, heavy) in (("S1", ([100, 10, 1], [200, 20, 1])),
                                ("S2", ([200, 20, 1], [100, 40, 2]))):
        if totals:
            frame[f"Intensity {exp}"] = [a + b for a, b in zip(light, heavy, strict=True)]
        frame[f"Intensity L {exp}"] = light
        frame[f"Intensity H {exp}"] = heavy
        if lfq:
            frame[f"LFQ intensity L {exp}"] = light
            frame[f"LFQ intensity H {exp}"] = heavy
        frame[f"Ratio H/L {exp}"] = [2.0, 2.0, 1.0]
        frame[f"Reporter intensity corrected 1 {exp}"] = [7, 7, 7]
    frame["Reverse"] = ""
    frame["Potential contaminant"] = ["", "", "+"]
    frame.to_csv(tmp_path / "proteinGroups.txt", sep="\t", index=False)
    return tmp_path / "proteinGroups.txt"


def test_silac_protein_groups_read_experiment_totals(tmp_path):
    adata = read(silac_protein_groups(tmp_path), quantity="intensity")
    info = adata.uns[UNS_READ]
    assert list(adata.obs_names) == ["S1", "S2"]
    assert list(adata.var_names) == ["P12345", "Q99999"]
    np.testing.assert_array_equal(adata.X, [[300, 30], [300, 60]])
    assert info["quantity"] == "Intensity (intensity, per-experiment totals of the SILAC channels)"
    assert any(m.startswith("SILAC channels ['L', 'H'] found: read the per-experiment totals")
               for m in info["messages"])
    assert any("'Reporter intensity' columns" in m for m in info["messages"])
    assert info["dropped"] == {"contaminant": 1}
    heavy = read(silac_protein_groups(tmp_path), quantity="intensity", channel="H")
    assert list(heavy.obs_names) == ["S1", "S2"]
    np.testing.assert_array_equal(heavy.X, [[200, 20], [100, 40]])
    assert heavy.uns[UNS_READ]["quantity"] == "Intensity (intensity, SILAC channel H)"


def test_silac_without_totals_asks_for_a_channel(tmp_path):
    path = silac_protein_groups(tmp_path, totals=False, lfq=True)
    with pytest.raises(ValueError, match=r"proteinGroups.txt: the file has only SILAC channel "
                       r"columns .*Pass channel='L'"):
        read(path)
    light = read(path, channel="l")
    np.testing.assert_array_equal(light.X, [[100, 10], [200, 20]])
    with pytest.raises(ValueError, match=r"no 'LFQ intensity M <experiment>' columns"):
        read(path, channel="M")
