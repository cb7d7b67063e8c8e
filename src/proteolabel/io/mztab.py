"""mzTab 1.0 protein sections, parsed with pyteomics (the ``mztab`` extra)."""

from __future__ import annotations

import re
import warnings

import anndata as ad
import numpy as np
import pandas as pd

from proteolabel._utils import optional_import
from proteolabel.io._build import build_anndata
from proteolabel.io._names import normalize_sample_name
from proteolabel.io._registry import register_reader
from proteolabel.io._tables import detect_encoding
from proteolabel.io._values import ReadContext, parse_numeric

_ABUNDANCE = {
    "assay": re.compile(r"^protein_abundance_assay\[(\d+)\]$"),
    "study_variable": re.compile(r"^protein_abundance_study_variable\[(\d+)\]$"),
}
_REF = re.compile(r"(ms_run|assay)\[(\d+)\]")


def _assay_name(index: int, assays, runs) -> str:
    """Name an assay by its MS run file (base name), else ``assay[i]``."""
    assay = dict(assays.get(index, {})) if assays else {}
    ref = _REF.search(str(assay.get("ms_run_ref", "")))
    if ref and runs:
        location = dict(runs.get(int(ref.group(2)), {})).get("location")
        if location:
            return normalize_sample_name(str(location))
    return f"assay[{index}]"


@register_reader(
    "mztab",
    description="mzTab 1.0 protein section (protein_abundance_assay[n]); needs pyteomics",
    suffixes=(".mztab",),
    tabular=False,
)
def read_mztab(
    path: str,
    ctx: ReadContext,
    *,
    quantity: str | None = None,
    keep_decoys: bool = False,
    keep_contaminants: bool = False,
) -> ad.AnnData:
    """Read the protein table of an mzTab file.

    Parameters
    ----------
    path
        The ``.mzTab`` file.
    ctx
        The read record.
    quantity
        ``"assay"`` (``protein_abundance_assay[n]``, one sample per assay, named by its MS
        run file; the default) or ``"study_variable"`` (one sample per study variable,
        named by its description).
    keep_decoys, keep_contaminants
        Keep decoy/contaminant protein groups (by id prefix).

    Returns
    -------
    anndata.AnnData
        See :func:`proteolabel.io.read`. ``var`` keeps ``description`` and
        ``ambiguity_members``.

    """
    mztab = optional_import("pyteomics.mztab", "mztab")
    level = (quantity or "assay").lower()
    if level not in _ABUNDANCE:
        raise ctx.error(f"unknown mzTab quantity {quantity!r}; choose 'assay' or "
                        "'study_variable'.")
    with warnings.catch_warnings(), open(path, encoding=detect_encoding(path)) as handle:
        warnings.simplefilter("ignore")  # pyteomics' own notes on optional metadata
        tab = mztab.MzTab(handle)
    table = tab.protein_table
    if table is None or len(table) == 0:
        raise ctx.error("the mzTab file has no protein section (PRH/PRT lines).")
    table = table.reset_index(drop="accession" in table.columns)
    cols = [(c, int(m.group(1))) for c in table.columns if (m := _ABUNDANCE[level].match(c))]
    if not cols:
        raise ctx.error(f"no protein_abundance_{level}[n] columns in the protein section.")
    ctx.quantity = f"protein_abundance_{level}"
    if level == "assay":
        names = [_assay_name(i, tab.assays, tab.ms_runs) for _, i in cols]
    else:
        variables = tab.study_variables or {}
        names = [str(dict(variables.get(i, {})).get("description") or f"study_variable[{i}]")
                 for _, i in cols]
    frame = table[[c for c, _ in cols]].astype(object)
    frame = frame.where(frame.notna(), "null")
    matrix = np.column_stack([parse_numeric(frame[c].astype(str), c, ctx) for c, _ in cols])
    var_cols = [c for c in ("description", "ambiguity_members") if c in table.columns]
    var = table[var_cols].astype(object).where(table[var_cols].notna(), None)
    keep = [r for r, k in (("decoy", keep_decoys), ("contaminant", keep_contaminants)) if k]
    proteins = table["accession"].astype(str).str.strip().tolist()
    return build_anndata(ctx, matrix.T, names, proteins, var=pd.DataFrame(var), keep=keep,
                         sample_origins=[c for c, _ in cols])
