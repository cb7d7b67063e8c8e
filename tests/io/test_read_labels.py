from __future__ import annotations

import pandas as pd
import pytest
from conftest import DATA

from proteolabel.io import read_labels

META = DATA / "nafld-plasma-maxquant" / "metadata.xlsx"
DEP = DATA / "ubiquitin-dep-maxquant"


def test_xlsx_metadata_with_label_column():
    labels = read_labels(META, label_column="disease")
    assert len(labels) == 48
    assert labels["1_31_C6"] in {"healthy", "non-alcoholic fatty liver disease",
                                 "type 2 diabetes mellitus|non-alcoholic fatty liver disease",
                                 "liver cirrhosis", "type 2 diabetes mellitus"}
    assert labels.value_counts()["healthy"] == 10
    # matched against the data's names (with the LFQ prefix in the label file, too)
    names = [f"1_{i}_X" for i in range(3)]
    frame = pd.DataFrame({"sample": [f"LFQ intensity {n}" for n in names],
                          "disease": ["a", "b", ""]})
    got = read_labels(frame, samples=[*names, "other"])
    assert got.to_dict() == {"1_0_X": "a", "1_1_X": "b"}  # blank label dropped, subset is fine


def test_dep_design_uses_label_as_sample_and_condition_as_label():
    labels = read_labels(DEP / "DiUbi_ExpDesign.tsv")
    assert labels["control1"] == "ctrl" and labels["linear1"] == "M1" and labels["K48_2"] == "K48"
    assert len(labels) == 30
    rda = read_labels(DEP / "DiUbi_ExpDesign.rda")
    assert rda.to_dict() == labels.to_dict()
    by_replicate = read_labels(DEP / "UbiLength_ExpDesign.tsv", label_column="replicate")
    assert by_replicate["Ubi4_1"] == "1.0"  # text labels are kept as written


def test_explicit_columns_and_errors(tmp_path):
    frame = pd.DataFrame({"id": ["a", "b"], "g1": ["x", "y"], "g2": ["u", "v"]})
    with pytest.raises(ValueError, match="sample_column"):
        read_labels(frame)
    with pytest.raises(ValueError, match="label_column"):
        read_labels(frame, sample_column="id")
    assert read_labels(frame, sample_column="id", label_column="g2").to_dict() == {"a": "u",
                                                                                    "b": "v"}
    with pytest.raises(ValueError, match="no column 'nope'"):
        read_labels(frame, sample_column="nope")
    conflict = pd.DataFrame({"sample": ["a", "a"], "label": ["x", "y"]})
    with pytest.raises(ValueError, match="two labels"):
        read_labels(conflict)


def test_unmatched_names_are_all_listed(tmp_path):
    path = tmp_path / "labels.tsv"
    pd.DataFrame({"Sample": ["D:\\raw\\run_01.raw", "RUN_02", "zzz", "run_03"],
                  "Group": ["a", "b", "c", "a"]}).to_csv(path, sep="\t", index=False)
    with pytest.raises(ValueError) as err:
        read_labels(path, samples=["run_01", "run_02", "run_03"])
    text = str(err.value)
    assert "labels.tsv" in text and "2 labelled sample name(s)" in text
    assert "'RUN_02' (did you mean 'run_02'?)" in text
    assert "'zzz'" in text
    ok = read_labels(path, samples=["run_01", "RUN_02", "zzz", "run_03"])
    assert ok["run_01"] == "a"  # directory and extension dropped
