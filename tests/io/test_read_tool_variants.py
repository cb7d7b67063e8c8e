"""Tool outputs in forms the other tests do not cover (second adversarial pass)."""

from __future__ import annotations

import pandas as pd
import pytest

from proteolabel._constants import UNS_READ
from proteolabel.io import read


def _skyline_transitions(quantitative: list[object]) -> pd.DataFrame:
    rows = []
    for rep in ("Rep1", "Rep2"):
        for (prot, frag, area), quant in zip(
            [("P12345", "y3", 100.0), ("P12345", "y2", 50.0), ("P12345", "precursor", 1000.0),
             ("Q99999", "y4", 70.0)], quantitative, strict=True):
            rows.append({"Protein Name": prot, "Peptide Modified Sequence": "AAAK",
                         "Precursor Charge": 2, "Fragment Ion": frag, "Product Charge": 1,
                         "Replicate Name": rep, "Area": area, "Quantitative": quant})
    return pd.DataFrame(rows)


def test_skyline_non_quantitative_transitions_are_not_summed(tmp_path):
    path = tmp_path / "sky.csv"
    _skyline_transitions([True, True, False, True]).to_csv(path, index=False)
    adata = read(path)
    assert adata.to_df().loc["Rep1", "P12345"] == 150.0  # not 1150: the precursor ion is out
    assert adata.uns[UNS_READ]["dropped"]["rows_not_quantitative"] == 2
    kept = read(path, keep_non_quantitative=True)
    assert kept.to_df().loc["Rep1", "P12345"] == 1150.0


def test_skyline_quantitative_column_with_other_text_is_refused(tmp_path):
    path = tmp_path / "sky.csv"
    _skyline_transitions([True, "maybe", True, True]).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"'Quantitative' should hold True or False.*maybe"):
        read(path)
