"""FragPipe (IonQuant / Philosopher): ``combined_protein.tsv`` and the peptide/ion tables.

The peptide and ion tables (``combined_peptide.tsv``, ``combined_modified_peptide.tsv``,
``combined_ion.tsv``) are summed per protein.
"""

from __future__ import annotations

from collections.abc import Sequence

import anndata as ad
import numpy as np

from proteolabel.io._build import LongAccumulator, build_anndata
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


def _quantity_families(columns: Sequence[str]) -> bool:
    return any(family_columns(columns, q) for q in ("maxlfq", "intensity", "spectral_count"))


def _is_peptide_table(columns: Sequence[str]) -> bool:
    """Say whether a FragPipe table has one row per peptide or ion (not per protein)."""
    return find_column(columns, "Peptide Sequence") is not None


def _sniff(name: str, columns: Sequence[str]) -> float:
    if _is_peptide_table(columns):
        return 0.0
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

    A peptide or ion table (a ``Peptide Sequence`` column) is passed on to
    :func:`read_fragpipe_peptide`, which sums it per protein.

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
    if _is_peptide_table(table.columns):
        ctx.note("the table has one row per peptide/ion (a 'Peptide Sequence' column): read as "
                 "format 'fragpipe_peptide', summed per protein")
        ctx.format = "fragpipe_peptide"
        return read_fragpipe_peptide(table, ctx, quantity=quantity, id_column=id_column,
                                     keep_decoys=keep_decoys, keep_contaminants=keep_contaminants)
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


def _sniff_peptide(name: str, columns: Sequence[str]) -> float:
    if not _is_peptide_table(columns) or find_column(columns, "Protein", "Protein ID") is None:
        return 0.0
    marks = find_column(columns, "Mapped Proteins", "Protein Description", "Peptide Length",
                        "Prev AA") is not None
    return 1.0 if marks and _quantity_families(columns) else 0.0


@register_reader(
    "fragpipe_peptide",
    sniff=_sniff_peptide,
    description="FragPipe combined_peptide.tsv / combined_modified_peptide.tsv / "
    "combined_ion.tsv, summed per protein",
)
def read_fragpipe_peptide(
    table: Table,
    ctx: ReadContext,
    *,
    quantity: str | None = None,
    id_column: str | None = None,
    keep_decoys: bool = False,
    keep_contaminants: bool = False,
) -> ad.AnnData:
    """Read a FragPipe peptide or ion table and sum its rows per protein.

    Each row (a peptide, modified peptide or ion) adds its value in each sample to its
    ``Protein`` (the protein FragPipe assigned it to; the other proteins listed in ``Mapped
    Proteins`` get nothing, so no value is counted twice). Values present are summed and an
    all-missing cell stays missing; ``layers["n_values"]`` counts the rows summed. For
    protein-level MaxLFQ, read FragPipe's ``combined_protein.tsv`` instead.

    Parameters
    ----------
    table
        The opened file.
    ctx
        The read record.
    quantity
        ``"intensity"`` (``<sample> Intensity``, the default), ``"maxlfq"`` (peptide-level
        ``<sample> MaxLFQ Intensity``, summed), ``"spectral_count"`` or another family of
        :data:`FRAGPIPE_QUANTITIES`.
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
    name = (quantity or "intensity").lower()
    if name not in FRAGPIPE_QUANTITIES:
        raise ctx.error(f"unknown FragPipe quantity {quantity!r}; choose one of "
                        f"{sorted(FRAGPIPE_QUANTITIES)}.")
    cols = family_columns(table.columns, name)
    if not cols:
        found = [q for q in FRAGPIPE_QUANTITIES if family_columns(table.columns, q)]
        raise ctx.error(f"no '<sample>{FRAGPIPE_QUANTITIES[name]}' columns in this FragPipe "
                        f"peptide/ion table; it has the quantities {found}: pass quantity=... "
                        "with one of them.")
    key = id_column or find_column(table.columns, "Protein", "Protein ID")
    if key is None or key not in table.columns:
        raise ctx.error(f"no protein column {id_column or 'Protein'!r}; columns are "
                        f"{table.columns[:30]}")
    level = "ions" if find_column(table.columns, "Charge", "M/Z") else "peptides"
    ctx.quantity = f"{FRAGPIPE_QUANTITIES[name].strip()} ({name}; {level} summed per protein)"
    ctx.note(f"FragPipe {level} table: each row's values summed into its {key!r} (razor "
             "assignment; 'Mapped Proteins' not used)")
    value_cols = [c for c, _ in cols]
    frame = table.read([key, *value_cols], ctx, value_columns=value_cols)
    proteins = frame[key].astype(str).str.strip().to_numpy()
    acc = LongAccumulator("sum")
    for col in value_cols:  # keyed on the column; names are normalised afterwards
        acc.add(np.full(len(frame), col, dtype=object), proteins,
                parse_numeric(frame[col], col, ctx))
    matrix, counts, headers, names = acc.result(ctx)
    sample_of = dict(cols)
    keep = [r for r, k in (("decoy", keep_decoys), ("contaminant", keep_contaminants)) if k]
    return build_anndata(ctx, matrix, [normalize_sample_name(sample_of[h]) for h in headers],
                         names, n_values=counts, keep=keep, sample_origins=headers)
