"""Rebuild ``alzheimer_excerpt.csv`` from the bundled Alzheimer CSF cohort (not part of the tests).

Run from the repository root: ``python tests/data/label_model/make_excerpt.py``. It keeps 72 of
the 210 samples (36 from Sweden, 24 from Berlin, 12 from Magdeburg, drawn with seed 0) and the
100 proteins of highest mean intensity over them (missing counted as 0), with the sample's
collection site. Values are the file's own, unchanged (blank = missing).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[2] / "src/proteolabel/data/alzheimer-csf-omiclearn/Alzheimer.xlsx"


def main() -> None:
    table = pd.read_excel(SOURCE)
    meta = [c for c in table.columns if str(c).startswith("_")]
    proteins = [c for c in table.columns if c not in meta]
    table.index = [f"sample_{i + 1:03d}" for i in range(len(table))]  # as proteolabel.io names them
    site = table["_collection site"].to_numpy(dtype=object)
    rng = np.random.default_rng(0)
    pick: list[int] = []
    for name, k in (("Sweden", 36), ("Berlin", 24), ("Magdeburg", 12)):
        pick += rng.choice(np.flatnonzero(site == name), k, replace=False).tolist()
    rows = table.iloc[np.sort(pick)]
    values = rows[proteins].apply(pd.to_numeric, errors="coerce")
    top = values.fillna(0).mean().sort_values(ascending=False, kind="stable").index[:100]
    keep = [p for p in proteins if p in set(top)]
    out = pd.concat([rows[["_collection site"]].rename(columns={"_collection site": "site"}),
                     values[keep]], axis=1)
    out.index.name = "sample"
    out.to_csv(HERE / "alzheimer_excerpt.csv")


if __name__ == "__main__":
    main()
