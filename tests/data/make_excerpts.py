"""Rebuild the small real-data excerpts under tests/data from the shared datasets.

Run from the repository root: ``python tests/data/make_excerpts.py [SHARED_DIR]``. Each
excerpt keeps the source file's bytes line by line (header plus chosen rows), so the format
quirks stay as the tools wrote them. Not part of the test run.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def keep_lines(src: Path, dst: Path, numbers: list[int]) -> None:
    """Write the header and the given 1-based line numbers of ``src`` to ``dst``."""
    text = lines(src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(b"".join([text[0], *[text[n - 1] for n in numbers]]))


def keep_rows(src: Path, dst: Path, predicate, sep: str) -> None:
    """Keep the header and every line whose parsed row satisfies ``predicate``."""
    text = lines(src)
    frame = pd.read_csv(src, sep=sep, dtype=str, keep_default_na=False)
    chosen = [i + 1 for i in frame.index[predicate(frame)]]  # +1: header line
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(b"".join([text[0], *[text[i] for i in chosen]]))


def main(shared: Path) -> None:
    data = shared / "data"
    # MaxQuant proteinGroups re-saved by pandas: trimmed trailing fields, flags, and two
    # fragment lines (90, 91) of an over-long cell.
    nafld = data / "nafld-plasma-maxquant"
    keep_lines(nafld / "proteinGroups.txt", HERE / "nafld-plasma-maxquant" / "proteinGroups.txt",
               [*range(2, 61), 89, 90, 91, 2551, 2552])
    shutil.copyfile(nafld / "metadata.xlsx", HERE / "nafld-plasma-maxquant" / "metadata.xlsx")
    shutil.copyfile(nafld / "LICENSE-alphastats.txt",
                    HERE / "nafld-plasma-maxquant" / "LICENSE-alphastats.txt")

    ubi = data / "ubiquitin-dep-maxquant"
    out = HERE / "ubiquitin-dep-maxquant"
    flags = ["Reverse", "Potential.contaminant", "Only.identified.by.site"]

    def first_and_flagged(f):
        keep = f.index < 60
        for flag in flags:
            flagged = f[flag].eq("+")
            keep |= flagged & (flagged.cumsum() <= 4)
        return keep

    keep_rows(ubi / "DiUbi_proteinGroups.tsv", out / "DiUbi_proteinGroups.tsv",
              first_and_flagged, "\t")
    for name in ("DiUbi_ExpDesign.tsv", "UbiLength_ExpDesign.tsv", "DiUbi_ExpDesign.rda"):
        shutil.copyfile(ubi / name, out / name)
    # the same excerpt as an R data file (written by pyreadr, dotted names kept)
    import pyreadr

    excerpt = pd.read_csv(out / "DiUbi_proteinGroups.tsv", sep="\t")
    pyreadr.write_rdata(str(out / "DiUbi_excerpt.rda"), excerpt, df_name="DiUbi")

    rapa = data / "rapamycin-spectronaut-precursors"
    out = HERE / "rapamycin-spectronaut-precursors"
    for name in ("rapamycin_10uM.tsv", "rapamycin_dose_response.tsv"):
        keep_rows(rapa / name, out / name,
                  lambda f: f["pg_protein_accessions"].isin(
                      sorted(f["pg_protein_accessions"].unique())[:2]), "\t")
    shutil.copyfile(rapa / "LICENSE-protti.txt", out / "LICENSE-protti.txt")

    bench = data / "proteobench-diann-maxquant"
    out = HERE / "proteobench-diann-maxquant"
    keep_rows(bench / "DIANN_1.9_beta_sample_report.tsv", out / "DIANN_1.9_beta_sample_report.tsv",
              lambda f: f.index < 180, "\t")
    keep_rows(bench / "MaxQuant_2_5_1_evidence_sample.txt",
              out / "MaxQuant_2_5_1_evidence_sample.txt",
              lambda f: (f.index < 150) | f["Proteins"].str.contains("Cont_"), "\t")

    sky = data / "skyline-msstats-spikein"
    keep_rows(sky / "skyline_input.csv", HERE / "skyline-msstats-spikein" / "skyline_input.csv",
              lambda f: f["Protein.Name"].isin(sorted(f["Protein.Name"].unique())[:2]), ",")

    alz = data / "alzheimer-csf-omiclearn"
    out = HERE / "alzheimer-csf-omiclearn"
    out.mkdir(parents=True, exist_ok=True)
    frame = pd.read_excel(alz / "Alzheimer.xlsx")
    proteins = [c for c in frame.columns if not c.startswith("_")][:40]
    meta = [c for c in frame.columns if c.startswith("_")]
    frame.iloc[:24][proteins + meta].to_excel(out / "Alzheimer_excerpt.xlsx", index=False)
    shutil.copyfile(alz / "LICENSE-OmicLearn.txt", out / "LICENSE-OmicLearn.txt")


if __name__ == "__main__":
    default = os.environ.get("PROTEOLABEL_SHARED", str(HERE.parents[2] / "shared"))
    main(Path(sys.argv[1] if len(sys.argv) > 1 else default))
