"""FragPipe peptide and ion tables are summed per protein."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from proteolabel._constants import LAYER_N_VALUES, UNS_READ
from proteolabel.io import read

PROTEINS = [("sp|P12345|AAA_HUMAN", "P12345"), ("sp|P12345|AAA_HUMAN", "P12345"),
            ("sp|Q99999|BBB_HUMAN", "Q99999"), ("contam_sp|P02768|ALBU_HUMAN", "P02768"),
            ("rev_sp|O00001|CCC_HUMAN", "O00001")]


def combined_peptide(tmp_path, ion=False):
    """FragPipe 20 combined_peptide.tsv (or combined_ion.tsv) with two experiments."""
    frame = pd.DataFrame({"Peptide Sequence": ["AAAGLTEK", "CCDLSTR", "MVVDLSTR", "LVNEVTEFAK",
                                               "KETPAGK"]})
    if ion:
        frame["Modified Sequence"] = frame["Peptide Sequence"]
    frame["Prev AA"], frame["Next AA"] = "K", "A"
    frame["Start"], frame["End"], frame["Peptide Length"] = 1, 8, 8
    if ion:
        frame["M/Z"], frame["Charge"] = 450.2, 2
    else:
        frame["Charges"] = "2"
    frame["Probability"], frame["Spectral Count"], frame["Intensity"] = 0.99, 3, 1e6
    frame["Assigned Modifications"] = ""
    frame["Protein"] = [p for p, _ in PROTEINS]
    frame["Protein ID"] = [i for _, i in PROTEINS]
    frame["Entry Name"], frame["Gene"], frame["Protein Description"] = "E", "G", "d"
    frame["Mapped Genes"] = ""
    frame["Mapped Proteins"] = ["", "sp|Q99999|BBB_HUMAN", "", "", ""]
    for exp, k in (("CtrlA_1", 1.0), ("TrtB_1", 2.0)):
        frame[f"{exp} Spectral Count"] = [1, 2, 1, 5, 1]
        frame[f"{exp} Intensity"] = [100 * k, 50 * k, 0 if exp == "CtrlA_1" else 70, 1e6, 9]
        frame[f"{exp} MaxLFQ Intensity"] = [110 * k, 55 * k, 0, 1e6, 9]
    path = tmp_path / ("combined_ion.tsv" if ion else "combined_peptide.tsv")
    frame.to_csv(path, sep="\t", index=False)
    return path


@pytest.mark.parametrize("ion", [False, True])
def test_fragpipe_peptide_tables_summed_per_protein(tmp_path, ion):
    adata = read(combined_peptide(tmp_path, ion))
    info = adata.uns[UNS_READ]
    assert info["format"] == "fragpipe_peptide"
    level = "ions" if ion else "peptides"
    assert info["quantity"] == f"Intensity (intensity; {level} summed per protein)"
    assert list(adata.obs_names) == ["CtrlA_1", "TrtB_1"]
    assert list(adata.var_names) == ["sp|P12345|AAA_HUMAN", "sp|Q99999|BBB_HUMAN"]
    np.testing.assert_array_equal(adata.X, [[150, np.nan], [300, 70]])
    np.testing.assert_array_equal(adata.layers[LAYER_N_VALUES], [[2, 0], [2, 1]])
    assert info["dropped"] == {"decoy": 1, "contaminant": 1}
    assert info["dropped_proteins"] == {"decoy": ["rev_sp|O00001|CCC_HUMAN"],
                                        "contaminant": ["contam_sp|P02768|ALBU_HUMAN"]}
    maxlfq = read(combined_peptide(tmp_path, ion), quantity="maxlfq")
    np.testing.assert_array_equal(maxlfq.X, [[165], [330]])  # Q99999 has no MaxLFQ value


def test_fragpipe_format_given_for_a_peptide_table(tmp_path):
    adata = read(combined_peptide(tmp_path), format="fragpipe")
    info = adata.uns[UNS_READ]
    assert info["format"] == "fragpipe_peptide"
    assert any("one row per peptide/ion" in m for m in info["messages"])
    np.testing.assert_array_equal(adata.X, [[150, np.nan], [300, 70]])
    with pytest.raises(ValueError, match=r"combined_peptide.tsv: no '<sample> Razor Intensity' "
                       r"columns .*pass quantity=\.\.\."):
        read(combined_peptide(tmp_path), quantity="razor_intensity")
