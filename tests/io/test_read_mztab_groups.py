"""mzTab: the member rows of OpenMS protein groups are not counted as dropped proteins."""

from __future__ import annotations

import numpy as np
import pytest

from proteolabel._constants import UNS_READ
from proteolabel.io import read

OPENMS_MZTAB = """\
MTD\tmzTab-version\t1.0.0
MTD\tmzTab-mode\tSummary
MTD\tmzTab-type\tQuantification
MTD\tdescription\tOpenMS-style protein groups
MTD\tprotein_search_engine_score[1]\t[MS, MS:1001171, Mascot:score, ]
MTD\tms_run[1]-location\tfile:///C:/data/run_A.raw
MTD\tms_run[2]-location\tfile:///C:/data/run_B.raw
MTD\tprotein-quantification_unit\t[PRIDE, PRIDE:0000393, Relative quantification unit, ]
MTD\tassay[1]-quantification_reagent\t[MS, MS:1002038, unlabeled sample, ]
MTD\tassay[1]-ms_run_ref\tms_run[1]
MTD\tassay[2]-quantification_reagent\t[MS, MS:1002038, unlabeled sample, ]
MTD\tassay[2]-ms_run_ref\tms_run[2]
MTD\tstudy_variable[1]-assay_refs\tassay[1]
MTD\tstudy_variable[1]-description\tcontrol
MTD\tstudy_variable[2]-assay_refs\tassay[2]
MTD\tstudy_variable[2]-description\ttreated

PRH\taccession\tdescription\ttaxid\tspecies\tdatabase\tdatabase_version\tsearch_engine\t\
best_search_engine_score[1]\tambiguity_members\tmodifications\tprotein_coverage\t\
protein_abundance_assay[1]\tprotein_abundance_assay[2]\topt_global_result_type
"""


def _prt(accession, members, a1, a2, kind):
    return (f"PRT\t{accession}\tprotein {accession}\t9606\tHomo sapiens\tUniProt\t2024_01\t"
            f"[MS, MS:1001207, Mascot, ]\t50\t{members}\tnull\t0.5\t{a1}\t{a2}\t{kind}\n")


def test_mztab_protein_details_rows_are_not_dropped_proteins(tmp_path):
    pytest.importorskip("pyteomics")
    text = OPENMS_MZTAB + "".join([
        _prt("P12345", "null", "null", "null", "protein_details"),
        _prt("P12346", "null", "null", "null", "protein_details"),
        _prt("P12345", "P12345,P12346", "1000.5", "2000", "indistinguishable_protein_group"),
        _prt("Q99999", "null", "null", "null", "protein_details"),
        _prt("Q99999", "Q99999", "15", "5", "single_protein"),
        _prt("O00001", "null", "null", "null", "protein_details"),
        _prt("O00001", "O00001", "null", "null", "single_protein"),  # really without values
    ])
    (tmp_path / "openms.mzTab").write_text(text)
    adata = read(tmp_path / "openms.mzTab")
    info = adata.uns[UNS_READ]
    assert list(adata.obs_names) == ["run_A", "run_B"]
    assert list(adata.var_names) == ["P12345", "Q99999"]
    np.testing.assert_array_equal(adata.X, [[1000.5, 15], [2000, 5]])
    assert info["dropped"] == {"no_values": 1}
    assert info["dropped_proteins"] == {"no_values": ["O00001"]}
    assert info["missing_tokens"] == {"null": 2}  # the skipped rows' cells are not counted
    assert any(m.startswith("4 PRT rows skipped") for m in info["messages"])

