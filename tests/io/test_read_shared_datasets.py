"""Every public dataset of the project (full copies in tests/data/datasets) loads with the right
samples and groups."""

from __future__ import annotations

import functools
import warnings

import pytest

from proteolabel._constants import UNS_READ
from proteolabel.io import read, read_labels

# (file, expected format, samples, proteins after filtering (None: not checked))
DATASETS = [
    ("nafld-plasma-maxquant/proteinGroups.txt", "maxquant", 48, None),
    ("ubiquitin-dep-maxquant/DiUbi_proteinGroups.tsv", "maxquant", 30, None),
    ("ubiquitin-dep-maxquant/DiUbi.rda", "maxquant", 30, None),
    ("ubiquitin-dep-maxquant/UbiLength_proteinGroups.tsv", "maxquant", 12, None),
    ("ubiquitin-dep-maxquant/UbiLength.rda", "maxquant", 12, None),
    ("rapamycin-spectronaut-precursors/rapamycin_dose_response.tsv", "spectronaut", 36, 40),
    ("rapamycin-spectronaut-precursors/rapamycin_dose_response.rda", "spectronaut", 36, 40),
    ("rapamycin-spectronaut-precursors/rapamycin_10uM.tsv", "spectronaut", 8, 50),
    ("rapamycin-spectronaut-precursors/rapamycin_10uM.rda", "spectronaut", 8, 50),
    ("proteobench-diann-maxquant/DIANN_1.9_beta_sample_report.tsv", "diann", 6, None),
    ("proteobench-diann-maxquant/MaxQuant_2_5_1_evidence_sample.txt", "maxquant_evidence", 6,
     None),
    ("skyline-msstats-spikein/skyline_input.csv", "skyline", 15, 5),
    ("alzheimer-csf-omiclearn/Alzheimer.xlsx", "generic", 210, 1542),
]


@functools.lru_cache(maxsize=4)
def load(path):
    with warnings.catch_warnings():
        # the NAFLD file's over-long-cell fragments are reported with a warning; checked below
        warnings.filterwarnings("ignore", message=".*fragments of an over-long cell")
        # groups with a CON__ member MaxQuant did not flag: reported, counted below
        warnings.filterwarnings("ignore", message=".*have a contaminant-database member")
        return read(path)


@pytest.mark.parametrize("name, fmt, n_samples, n_proteins", DATASETS, ids=[d[0] for d in DATASETS])
def test_dataset_loads(shared_data, name, fmt, n_samples, n_proteins):
    adata = load(shared_data / name)
    info = adata.uns[UNS_READ]
    assert info["format"] == fmt
    assert adata.n_obs == n_samples
    if n_proteins is not None:
        assert adata.n_vars == n_proteins
    assert adata.n_vars > 0 and info["missing_fraction"] < 1


def test_nafld_labels_and_drops(shared_data):
    folder = shared_data / "nafld-plasma-maxquant"
    adata = load(folder / "proteinGroups.txt")
    info = adata.uns[UNS_READ]
    assert info["dropped"]["malformed_rows"] == 362
    assert info["dropped"]["decoy"] >= 37 and info["dropped"]["contaminant"] == 81  # the flags
    assert info["dropped"]["contaminant_member"] == 33  # unflagged groups with a CON__ member
    assert info["dropped"]["only_identified_by_site"] > 0
    labels = read_labels(folder / "metadata.xlsx", label_column="disease", samples=adata.obs_names)
    assert len(labels) == 48 and labels.nunique() == 5


@pytest.mark.parametrize("name, n_groups", [("DiUbi", 10), ("UbiLength", 4)])
def test_dep_designs_match(shared_data, name, n_groups):
    folder = shared_data / "ubiquitin-dep-maxquant"
    adata = load(folder / f"{name}_proteinGroups.tsv")
    for design in (f"{name}_ExpDesign.tsv", f"{name}_ExpDesign.rda"):
        labels = read_labels(folder / design, samples=adata.obs_names)
        assert len(labels) == adata.n_obs and labels.nunique() == n_groups


def test_groups_from_annotations(shared_data):
    alz = load(shared_data / "alzheimer-csf-omiclearn" / "Alzheimer.xlsx")
    assert alz.obs["_collection site"].dropna().nunique() == 4
    assert alz.obs["_primary biochemical AD classification"].value_counts().to_dict() == {
        "biochemical control": 109, "biochemical AD": 88}
    rapa = load(shared_data / "rapamycin-spectronaut-precursors" / "rapamycin_dose_response.tsv")
    assert rapa.obs["r_condition"].nunique() == 9
    sky = load(shared_data / "skyline-msstats-spikein" / "skyline_input.csv")
    assert sky.obs["Condition"].value_counts().to_dict() == {f"Mix{i}": 3 for i in range(1, 6)}
    diann = load(shared_data / "proteobench-diann-maxquant" / "DIANN_1.9_beta_sample_report.tsv")
    groups = diann.obs_names.str.extract(r"Condition_([AB])", expand=False)
    assert groups.value_counts().to_dict() == {"A": 3, "B": 3}
