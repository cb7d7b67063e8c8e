"""Tool outputs in forms the other tests do not cover (second adversarial pass)."""

from __future__ import annotations

import numpy as np
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


def test_diann_matrix_unknown_annotation_columns_are_not_runs(tmp_path):
    # DIA-NN 2.x pg_matrix layout, plus annotation columns a later version might add
    frame = pd.DataFrame({
        "Protein.Group": ["P12345", "Q99999;Q88888"], "Protein.Names": ["A", "B"],
        "Genes": ["G1", "G2;G3"], "Extra.Score": [0.5, 0.7],
        "First.Protein.Description": ["one", "two"], "N.Sequences": [3, 1],
        "N.Proteotypic.Sequences": [2, 1], "Protein.Evidence.Level": [1, 2],
        r"D:\data\run_1.raw": [1e6, 2e5], r"D:\data\run_2.raw": [1.1e6, 3e5],
    })
    path = tmp_path / "report.pg_matrix.tsv"
    frame.to_csv(path, sep="\t", index=False)
    adata = read(path)
    assert list(adata.obs_names) == ["run_1", "run_2"]
    assert any("Protein.Evidence.Level" in m and "Extra.Score" in m
               for m in adata.uns[UNS_READ]["messages"])
    # runs that are themselves named with dots stay runs
    runs = frame.drop(columns=["Extra.Score", "Protein.Evidence.Level"]).rename(
        columns={r"D:\data\run_1.raw": "Ctrl.A", r"D:\data\run_2.raw": "Ctrl.B"})
    runs.to_csv(path, sep="\t", index=False)
    assert list(read(path).obs_names) == ["Ctrl.A", "Ctrl.B"]


def test_diann_pr_matrix_library_index_is_not_a_run(tmp_path):
    frame = pd.DataFrame({
        "Protein.Group": ["P12345", "P12345"], "Protein.Ids": ["P12345"] * 2,
        "Genes": ["G1"] * 2, "Stripped.Sequence": ["AAAK", "CCCK"],
        "Modified.Sequence": ["AAAK", "CCCK"], "Precursor.Charge": [2, 2],
        "Precursor.Id": ["AAAK2", "CCCK2"], "Precursor.Lib.Index": [10, 11],
        "run_1.raw": [1.0, 2.0], "run_2.raw": [3.0, 4.0],
    })
    path = tmp_path / "report.pr_matrix.tsv"
    frame.to_csv(path, sep="\t", index=False)
    adata = read(path)
    assert list(adata.obs_names) == ["run_1", "run_2"]
    assert adata.to_df()["P12345"].tolist() == [3.0, 7.0]


def _diann2_rows(channels: tuple[str, ...]) -> pd.DataFrame:
    rows = []
    for run in ("R1", "R2"):
        for pg, pre in (("P12345", "AAAK2"), ("P12345", "CCCK2"), ("Q99999", "DDDK2")):
            for k, ch in enumerate(channels):
                rows.append({"Run.Index": int(run[1]) - 1, "Run": run, "Channel": ch,
                             "Precursor.Id": f"{pre}{ch}", "Protein.Ids": pg,
                             "Protein.Group": pg, "Genes": "G", "Decoy": 0, "Q.Value": 0.001,
                             "PG.Q.Value": 0.001, "Lib.Q.Value": 0.001, "Lib.PG.Q.Value": 0.001,
                             "Precursor.Quantity": 10.0 * (k + 1),
                             "PG.MaxLFQ": 1e6 * int(run[1]) * (k + 1)})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("suffix", [".parquet", ".tsv"])
def test_diann_channels_are_not_added_up(tmp_path, suffix):
    path = tmp_path / f"report{suffix}"
    frame = _diann2_rows(("L", "H"))
    if suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, sep="\t", index=False)
    with pytest.raises(ValueError, match=r"several channels.*\['H', 'L'\].*channel='H'"):
        read(path)
    heavy = read(path, channel="H", quantity="precursor")
    assert heavy.to_df().loc["R1"].tolist() == [40.0, 20.0]  # 2 heavy precursors x 20
    assert heavy.uns[UNS_READ]["dropped"]["rows_channel"] == 6
    assert read(path, channel="L").to_df().loc["R2", "P12345"] == 2e6
    with pytest.raises(ValueError, match=r"no rows of channel 'M'"):
        read(path, channel="M")


def test_diann_single_channel_label_is_fine(tmp_path):
    path = tmp_path / "report.parquet"
    _diann2_rows(("",)).to_parquet(path)
    adata = read(path)
    assert adata.to_df().loc["R2", "P12345"] == 2e6
    with pytest.raises(ValueError, match="no rows of channel 'L'"):
        read(path, channel="L")


def test_spectronaut_report_with_pg_quantity_only(tmp_path):
    rows = []
    for i, run in enumerate(["S1", "S2", "S3"]):
        for pg, q in (("P12345", 1e6 * (i + 1)), ("Q99999;Q88888", 2e5), ("O00001", "Filtered")):
            rows.append({"R.Condition": "ctrl" if i < 2 else "case", "R.FileName": run,
                         "R.Replicate": i + 1, "PG.ProteinGroups": pg, "PG.Qvalue": 0.001,
                         "PG.Quantity": q})
    path = tmp_path / "Report.tsv"
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    with pytest.warns(UserWarning, match="no FG.Quantity column.*read PG.Quantity"):
        adata = read(path)
    assert adata.to_df()["P12345"].tolist() == [1e6, 2e6, 3e6]
    assert adata.uns[UNS_READ]["missing_tokens"]["filtered"] == 3
    assert any("no EG.Qvalue column" in m for m in adata.uns[UNS_READ]["messages"])
    assert adata.obs["R.Condition"].tolist() == ["ctrl", "ctrl", "case"]
    with pytest.raises(ValueError, match=r"no quantity column 'FG\.MS1Quantity'"):
        read(path, quantity="ms1")


_MZTAB_SV = """\
MTD\tmzTab-version\t1.0.0
MTD\tmzTab-mode\tSummary
MTD\tmzTab-type\tQuantification
MTD\tdescription\tstudy variables only
MTD\tms_run[1]-location\tfile:///C:/data/run_A.raw
MTD\tms_run[2]-location\tfile:///C:/data/run_B.raw
MTD\tassay[1]-ms_run_ref\tms_run[1]
MTD\tassay[2]-ms_run_ref\tms_run[2]
MTD\tstudy_variable[1]-assay_refs\tassay[1]
MTD\tstudy_variable[1]-description\tcontrol
MTD\tstudy_variable[2]-assay_refs\tassay[2]
MTD\tstudy_variable[2]-description\ttreated

PRH\taccession\tdescription\tambiguity_members\tprotein_abundance_study_variable[1]\t\
protein_abundance_stdev_study_variable[1]\tprotein_abundance_study_variable[2]\t\
protein_abundance_stdev_study_variable[2]
PRT\tP12345\tKinase\tnull\t1500.25\t10\tnull\tnull
PRT\tQ99999\tPhosphatase\tnull\t1.5E+07\t1\t300\t0
"""


def test_mztab_with_study_variable_abundances_only(tmp_path):
    pytest.importorskip("pyteomics")
    path = tmp_path / "sv.mzTab"
    path.write_text(_MZTAB_SV)
    with pytest.warns(UserWarning, match="no protein_abundance_assay"):
        adata = read(path)
    assert list(adata.obs_names) == ["control", "treated"]
    assert adata.to_df().loc["control"].tolist() == [1500.25, 1.5e7]
    with pytest.raises(ValueError, match=r"no protein_abundance_assay\[n\] columns.*it has "
                                         r"\['protein_abundance_study_variable\[n\]'\]"):
        read(path, quantity="assay")


def test_skyline_report_pivoted_by_replicate(tmp_path):
    frame = pd.DataFrame({
        "Protein": ["sp|P12345|A_HUMAN", "sp|P12345|A_HUMAN", "sp|Q99999|B_HUMAN"],
        "Peptide": ["AAAK", "CCCK", "DDDK"],
        "Rep1 Total Area": [100.0, 200.0, "#N/A"], "Rep1 Retention Time": [10.1, 12.3, 14.0],
        "Rep2 Total Area": [110.0, 210.0, 300.0], "Ctrl 3 Total Area": [120.0, 220.0, 330.0],
    })
    path = tmp_path / "grid.csv"
    frame.to_csv(path, index=False)
    adata = read(path)
    assert adata.uns[UNS_READ]["format"] == "skyline"
    assert list(adata.obs_names) == ["Rep1", "Rep2", "Ctrl 3"]
    df = adata.to_df()
    assert df["sp|P12345|A_HUMAN"].tolist() == [300.0, 320.0, 340.0]
    assert np.isnan(df.loc["Rep1", "sp|Q99999|B_HUMAN"])
    assert adata.layers["n_values"][:, 0].tolist() == [2, 2, 2]


def test_skyline_transitions_pivoted_by_replicate(tmp_path):
    frame = pd.DataFrame({
        "Protein Name": ["P12345"] * 3, "Peptide Modified Sequence": ["AAAK"] * 3,
        "Fragment Ion": ["y3", "y2", "precursor"], "Quantitative": [True, True, False],
        "A Area": [10.0, 5.0, 100.0], "B Area": [20.0, 6.0, 200.0],
        "A Total Area": [1.0, 1.0, 1.0], "B Total Area": [2.0, 2.0, 2.0],
    })
    path = tmp_path / "grid.tsv"
    frame.to_csv(path, sep="\t", index=False)
    adata = read(path)
    assert adata.to_df()["P12345"].tolist() == [15.0, 26.0]  # transition areas
    totals = read(path, quantity="total_area")  # one precursor total, counted once
    assert totals.to_df()["P12345"].tolist() == [1.0, 2.0]


def test_maxquant_label_free_experiments_named_like_silac_channels(tmp_path):
    header = ("Protein IDs\tIntensity\tIntensity H\tIntensity L\tIntensity Ctrl\t"
              "LFQ intensity H\tLFQ intensity L\tLFQ intensity Ctrl\tReverse\t"
              "Potential contaminant\n")
    path = tmp_path / "proteinGroups.txt"
    path.write_text(header + "P12345\t600\t100\t200\t300\t100\t200\t300\t\t\n"
                    "Q99999\t60\t10\t20\t30\t10\t20\t30\t\t\n")
    adata = read(path)  # 'H' and 'L' (heart, liver) were dropped as SILAC channel totals
    assert list(adata.obs_names) == ["H", "L", "Ctrl"]
    assert adata.to_df()["P12345"].tolist() == [100.0, 200.0, 300.0]
    # with channel columns next to them, the letters are SILAC channels
    silac = header.replace("LFQ intensity Ctrl",
                           "LFQ intensity Ctrl\tIntensity L Ctrl\tIntensity H Ctrl")
    path.write_text(silac + "P12345\t600\t100\t200\t300\t100\t200\t300\t210\t90\t\t\n")
    adata = read(path)
    assert list(adata.obs_names) == ["Ctrl"]
    assert any("SILAC channels ['L', 'H']" in m for m in adata.uns[UNS_READ]["messages"])


def test_diann2_report_without_pg_quantity_says_what_to_read(tmp_path):
    path = tmp_path / "report.parquet"
    _diann2_rows(("",)).to_parquet(path)
    with pytest.raises(ValueError, match=r"DIA-NN 2 reports no longer hold PG\.Quantity.*"
                                         r"quantity='maxlfq'"):
        read(path, quantity="pg")
