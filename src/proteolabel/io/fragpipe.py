"""FragPipe (IonQuant / Philosopher): ``combined_protein.tsv``."""

from __future__ import annotations

from collections.abc import Sequence

import anndata as ad
import numpy as np

from proteolabel.io._build import build_anndata
from proteolabel.io._names import find_column, normalize_sample_name
from proteolabel.io._registry import register_reader
from proteolabel.io._tables import Table
from proteolabel.io._values import ReadContext, parse_numeric

#: ``quantity`` names and the column suffix of each family.
FRAGPIPE_QUANTITIES: dict[str, str] = {
    "maxlfq": " MaxLFQ Intensity",
    "intensity": " Intensity",
    "razor_intensity": " Razor Intensity",
    "unique_intensity": " Unique Intensity",
    "spectral_count": " Spectral Count",
}
#: Sample-part endings that belong to another family with the same suffix.
_OTHER_FAMILIES = (" MaxLFQ", " Razor", " Unique", " Total", " Razor MaxLFQ", " Unique MaxLFQ")
_ANNOTATION_PREFIXES = ("Combined ", "Top Peptide", "Protein ")


def family_columns(columns: Sequence[str], quantity: str) -> list[tuple[str, str]]:
    """Return ``(column, sample)`` for every column of a FragPipe quantity family."""
    suffix = FRAGPIPE_QUANTITIES[quantity]
    out = []
    for col in columns:
        if not col.endswith(suffix) or col.startswith(_ANNOTATION_PREFIXES):
            continue
        sample = col[: -len(suffix)]
        if not sample.strip() or sample.endswith(_OTHER_FAMILIES):
            continue
        out.append((col, sample))
    return out


def _sniff(name: str, columns: Sequence[str]) -> float:
    has_id = find_column(columns, "Protein ID") is not None
    marks = find_column(columns, "Protein Probability", "Combined Spectral Count",
                        "Indistinguishable Proteins") is not None
    quant = family_columns(columns, "maxlfq") or family_columns(columns, "intensity")
    return 1.0 if has_id and marks and quant else 0.0


@register_reader(
    "fragpipe",
    sniff=_sniff,
    description="FragPipe combined_protein.tsv (MaxLFQ Intensity or Intensity per sample)",
)
def read_fragpipe(
    table: Table,
    ctx: ReadContext,
    *,
    quantity: str | None = None,
    id_column: str | None = None,
    keep_decoys: bool = False,
    keep_contaminants: bool = False,
) -> ad.AnnData:
    """Read a FragPipe ``combined_protein.tsv``.

    Parameters
    ----------
    table
        The opened file.
    ctx
        The read record.
    quantity
        ``"maxlfq"`` (``<sample> MaxLFQ Intensity``, the default; when absent, Intensity is
        read with a warning), ``"intensity"``, ``"razor_intensity"``, ``"unique_intensity"``
        or ``"spectral_count"``.
    id_column
        Protein key (default ``Protein``, which keeps the ``contam_``/``rev_`` tags; else
        ``Protein ID``).
    keep_decoys, keep_contaminants
        Keep groups with ``rev_`` / ``contam_`` ids.

    Returns
    -------
    anndata.AnnData
        See :func:`proteolabel.io.read`.

    """
    name = (quantity or "maxlfq").lower()
    if name not in FRAGPIPE_QUANTITIES:
        raise ctx.error(f"unknown FragPipe quantity {quantity!r}; choose one of "
                        f"{sorted(FRAGPIPE_QUANTITIES)}.")
    cols = family_columns(table.columns, name)
    if not cols and quantity is None and family_columns(table.columns, "intensity"):
        ctx.warn("no 'MaxLFQ Intensity' columns (MaxLFQ was off in IonQuant); read "
                 "'Intensity' columns instead. Pass quantity=... to choose.")
        name, cols = "intensity", family_columns(table.columns, "intensity")
    if not cols:
        looked = ", ".join(f"'<sample>{s}'" for s in FRAGPIPE_QUANTITIES.values())
        raise ctx.error(f"no '<sample>{FRAGPIPE_QUANTITIES[name]}' columns. Looked for "
                        f"{looked}; columns are {table.columns[:30]}.")
    ctx.quantity = f"{FRAGPIPE_QUANTITIES[name].strip()} ({name})"
    key = id_column or find_column(table.columns, "Protein", "Protein ID")
    if key is None or key not in table.columns:
        raise ctx.error(f"no protein column; columns are {table.columns[:30]}")
    value_cols = [c for c, _ in cols]
    var_cols = [c for c in (find_column(table.columns, v) for v in ("Protein ID", "Gene"))
                if c and c != key]
    frame = table.read([key, *value_cols, *var_cols], ctx, value_columns=value_cols)
    matrix = np.column_stack([parse_numeric(frame[c], c, ctx) for c in value_cols])
    samples = [normalize_sample_name(s) for _, s in cols]
    keep = [r for r, k in (("decoy", keep_decoys), ("contaminant", keep_contaminants)) if k]
    return build_anndata(ctx, matrix.T, samples, frame[key].astype(str).str.strip().tolist(),
                         var=frame[var_cols], keep=keep, sample_origins=value_cols)
