"""mzTab 1.0 protein sections, parsed with pyteomics (the ``mztab`` extra)."""

from __future__ import annotations

import io
import re
import warnings

import anndata as ad
import numpy as np
import pandas as pd

from proteolabel._utils import optional_import
from proteolabel.io._build import build_anndata
from proteolabel.io._names import normalize_sample_name
from proteolabel.io._registry import register_reader
from proteolabel.io._tables import _open_bytes, detect_encoding
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
        named by its description). A file with study-variable abundances only is read from
        those, with a warning.
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
    with warnings.catch_warnings(), io.TextIOWrapper(
            _open_bytes(path), encoding=detect_encoding(path)) as handle:
        warnings.simplefilter("ignore")  # pyteomics' own notes on optional metadata
        tab = mztab.MzTab(handle)
    table = tab.protein_table
    if table is None or len(table) == 0:
        raise ctx.error("the mzTab file has no protein section (PRH/PRT lines).")
    table = table.reset_index(drop="accession" in table.columns)
    cols = [(c, int(m.group(1))) for c in table.columns if (m := _ABUNDANCE[level].match(c))]
    if not cols and quantity is None:
        # a summary file without per-assay abundances (mzTab 1.0 allows study variables only)
        other = [(c, int(m.group(1))) for c in table.columns
                 if (m := _ABUNDANCE["study_variable"].match(c))]
        if other:
            ctx.warn("the protein section has no protein_abundance_assay[n] columns; read "
                     "protein_abundance_study_variable[n] instead (one sample per study "
                     "variable, usually a condition's average over its assays).")
            level, cols = "study_variable", other
    if not cols:
        found = sorted({f"protein_abundance_{k}[n]" for k, pattern in _ABUNDANCE.items()
                        if any(pattern.match(c) for c in table.columns)})
        raise ctx.error(f"no protein_abundance_{level}[n] columns in the protein section"
                        f"{f'; it has {found}: pass quantity=...' if found else ''}.")
    ctx.quantity = f"protein_abundance_{level}"
    if level == "assay":
        names = [_assay_name(i, tab.assays, tab.ms_runs) for _, i in cols]
    else:
        variables = tab.study_variables or {}
        names = [str(dict(variables.get(i, {})).get("description") or f"study_variable[{i}]")
                 for _, i in cols]
    proteins = table["accession"].astype(str).str.strip().tolist()
    member = _member_rows(table, proteins, [c for c, _ in cols])
    if member.any():
        ctx.note(
            f"{int(member.sum())} PRT rows skipped: they describe proteins that are members of "
            "protein groups read from other rows (OpenMS-style 'protein_details' rows or "
            "rows without abundances), so they are not counted as dropped proteins"
        )
        table = table.loc[~member].reset_index(drop=True)
        proteins = [p for p, m in zip(proteins, member, strict=True) if not m]
    frame = table[[c for c, _ in cols]].astype(object)
    frame = frame.where(frame.notna(), "null")
    matrix = np.column_stack([parse_numeric(frame[c].astype(str), c, ctx) for c, _ in cols])
    var_cols = [c for c in ("description", "ambiguity_members") if c in table.columns]
    var = table[var_cols].astype(object).where(table[var_cols].notna(), None)
    keep = [r for r, k in (("decoy", keep_decoys), ("contaminant", keep_contaminants)) if k]
    return build_anndata(ctx, matrix.T, names, proteins, var=pd.DataFrame(var), keep=keep,
                         sample_origins=[c for c, _ in cols], feature_what="PRT entry")


_RESULT_TYPE = "opt_global_result_type"
_MEMBER_SPLIT = re.compile(r"[,;]\s*")


def _member_rows(table: pd.DataFrame, proteins: list[str], columns: list[str]) -> np.ndarray:
    """Mark the PRT rows that describe a member of a protein group read from another row.

    OpenMS writes one ``protein_details`` row (no abundances) for every member of a protein
    group next to the group's own row (``indistinguishable_protein_group``,
    ``single_protein``), whose accession or ``ambiguity_members`` names the member. Such a
    row is not a protein of its own and is skipped, so it is not counted as a protein without
    values; so is a row without abundances whose protein another row with abundances names.
    Every other row is kept (one without abundances is counted as ``no_values`` by the
    common filters).
    """
    n = len(proteins)
    numbers = table[columns].apply(pd.to_numeric, errors="coerce")  # a first look; 0 = missing
    has_value = (numbers.notna() & numbers.ne(0)).any(axis=1).to_numpy()
    details = np.zeros(n, dtype=bool)
    if _RESULT_TYPE in table.columns:
        kind = table[_RESULT_TYPE].astype(str).str.strip().str.lower()
        details = kind.eq("protein_details").to_numpy()
    members = pd.Series([""] * n)
    if "ambiguity_members" in table.columns:
        column = table["ambiguity_members"].astype(object)
        members = column.where(column.notna(), "").reset_index(drop=True)
    listed: dict[str, set[int]] = {}  # accession -> group rows (not protein_details) naming it
    for i in np.flatnonzero(~details):
        names = {proteins[i], *(m.strip() for m in _MEMBER_SPLIT.split(str(members.iloc[i])))}
        for name in names - {"", "null"}:
            listed.setdefault(name, set()).add(int(i))
    out = np.zeros(n, dtype=bool)
    for i in range(n):
        others = listed.get(proteins[i], set()) - {i}
        if details[i] and others:
            out[i] = True  # a member of a group that has its own row
        elif not has_value[i] and any(has_value[j] for j in others):
            out[i] = True  # an empty repeat of a protein read from another row
    return out
