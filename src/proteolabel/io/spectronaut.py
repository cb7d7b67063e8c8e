"""Spectronaut: long (normal) reports and protein-group pivot reports.

Long reports name columns ``R.FileName``, ``PG.ProteinGroups``, ``EG.PrecursorId``,
``FG.Quantity``...; the snake_case form written by R tools (``r_file_name``,
``pg_protein_accessions``, ``fg_quantity``) is accepted too. Pivot reports have one
``[n] <run>.PG.Quantity`` column per run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import anndata as ad
import numpy as np

from proteolabel.io._build import (
    RUN_DUPLICATE_HINT,
    LongAccumulator,
    build_anndata,
    flag_mask,
    run_keys,
    sample_annotations,
)
from proteolabel.io._names import canonical, find_column, normalize_sample_name
from proteolabel.io._registry import register_reader
from proteolabel.io._tables import Table
from proteolabel.io._values import ReadContext, parse_numeric

_PIVOT = re.compile(r"^\[\d+\]\s*(.+)\.PG\.([A-Za-z0-9]+)$")
_PROTEIN = ("PG.ProteinGroups", "PG.ProteinAccessions", "PG.ProteinGroup")
#: ``quantity`` names of the long report: (column, aggregation).
SPECTRONAUT_QUANTITIES: dict[str, tuple[str, str]] = {
    "fg": ("FG.Quantity", "sum"),
    "precursor": ("FG.Quantity", "sum"),
    "eg": ("EG.TotalQuantity (Settings)", "sum"),
    "ms1": ("FG.MS1Quantity", "sum"),
    "ms2": ("FG.MS2Quantity", "sum"),
    "pg": ("PG.Quantity", "max"),
}
_ANNOTATIONS = ("R.Condition", "R.Replicate", "R.Fraction", "R.Label")


def _sniff(name: str, columns: Sequence[str]) -> float:
    prot = find_column(columns, *_PROTEIN)
    if prot and find_column(columns, "R.FileName"):
        return 1.0
    if any(_PIVOT.match(c) for c in columns):
        return 1.0
    return 0.0


@register_reader(
    "spectronaut",
    sniff=_sniff,
    description="Spectronaut long precursor report (R.FileName, PG.ProteinGroups, FG.Quantity) "
    "or PG pivot report ([n] run.PG.Quantity)",
)
def read_spectronaut(
    table: Table,
    ctx: ReadContext,
    *,
    quantity: str | None = None,
    sample_column: str | None = None,
    protein_column: str | None = None,
    q_value: float | None = 0.01,
    pg_q_value: float | None = 0.01,
    keep_decoys: bool = False,
    keep_contaminants: bool = False,
) -> ad.AnnData:
    """Read a Spectronaut report.

    Parameters
    ----------
    table
        The opened file.
    ctx
        The read record.
    quantity
        Long report: ``"fg"`` (``FG.Quantity`` summed over the precursors of a protein group
        in a run; the default), ``"ms1"``, ``"ms2"``, ``"eg"``, ``"pg"`` (``PG.Quantity``,
        one value per run and group) or a column name. A report exported without
        ``FG.Quantity`` is read from ``EG.TotalQuantity (Settings)``, else from
        ``PG.Quantity``, with a warning. Pivot report: the ``PG.`` quantity
        (default ``Quantity``).
    sample_column
        Default ``R.FileName``. Rows are aggregated per run as written; sample names are the
        runs' base names, and two different runs with the same base name are an error.
    protein_column
        Default ``PG.ProteinGroups``, else ``PG.ProteinAccessions``.
    q_value, pg_q_value
        Keep rows with ``EG.Qvalue`` / ``PG.Qvalue`` at most this when those columns exist.
        A run whose rows are all removed stays as a sample without values, with a warning.
    keep_decoys, keep_contaminants
        Keep rows with ``EG.IsDecoy`` true, and groups with contaminant id prefixes.

    Returns
    -------
    anndata.AnnData
        See :func:`proteolabel.io.read`.

    """
    keep = [r for r, k in (("decoy", keep_decoys), ("contaminant", keep_contaminants)) if k]
    pivot = any(_PIVOT.match(c) for c in table.columns)
    if pivot and sample_column is None and find_column(table.columns, "R.FileName") is None:
        return _read_pivot(table, ctx, quantity, protein_column, keep)
    return _read_long(table, ctx, quantity, sample_column, protein_column, q_value, pg_q_value,
                      keep_decoys, keep)


def _read_pivot(table, ctx, quantity, protein_column, keep) -> ad.AnnData:
    wanted = canonical(quantity or "Quantity")
    runs = [(c, m.group(1)) for c in table.columns
            if (m := _PIVOT.match(c)) and canonical(m.group(2)) == wanted]
    if not runs:
        found = sorted({m.group(2) for c in table.columns if (m := _PIVOT.match(c))})
        raise ctx.error(f"no '[n] <run>.PG.{quantity or 'Quantity'}' columns; found PG "
                        f"quantities {found}.")
    key = protein_column or find_column(table.columns, *_PROTEIN)
    if key is None:
        raise ctx.error(f"no protein column ({'/'.join(_PROTEIN)}); columns are {table.columns}")
    value_cols = [c for c, _ in runs]
    var_cols = [c for c in (find_column(table.columns, "PG.Genes"),) if c]
    frame = table.read([key, *value_cols, *var_cols], ctx, value_columns=value_cols)
    ctx.quantity = f"PG.{quantity or 'Quantity'} (pivot report)"
    matrix = np.column_stack([parse_numeric(frame[c], c, ctx) for c in value_cols])
    samples = [normalize_sample_name(c) for c in value_cols]
    return build_anndata(ctx, matrix.T, samples, frame[key].astype(str).str.strip().tolist(),
                         var=frame[var_cols], keep=keep, sample_origins=value_cols)


def _read_long(table, ctx, quantity, sample_column, protein_column, q_value, pg_q_value,
               keep_decoys, keep) -> ad.AnnData:
    run = sample_column or find_column(table.columns, "R.FileName")
    prot = protein_column or find_column(table.columns, *_PROTEIN)
    if run is None or prot is None:
        raise ctx.error(
            f"needs R.FileName and one of {'/'.join(_PROTEIN)}; columns are {table.columns}"
        )
    name = (quantity or "fg").lower()
    wanted, mode = SPECTRONAUT_QUANTITIES.get(name, (quantity, "sum"))
    value = find_column(table.columns, wanted)
    if value is None and quantity is None:
        # a report exported without FG.Quantity: the precursor total, else the protein value
        for other in ("eg", "pg"):
            col = find_column(table.columns, SPECTRONAUT_QUANTITIES[other][0])
            if col is not None:
                value, mode = col, SPECTRONAUT_QUANTITIES[other][1]
                ctx.warn(f"no {wanted} column (the report was exported without it); read "
                         f"{col} instead. Pass quantity=... to choose another column.")
                break
    if value is None:
        raise ctx.error(f"no quantity column {wanted!r}; choose one of "
                        f"{sorted(SPECTRONAUT_QUANTITIES)} or a column name. Columns are "
                        f"{table.columns}.")
    precursor = find_column(table.columns, "EG.PrecursorId", "FG.Id", "FG.PrecursorId")
    decoy = find_column(table.columns, "EG.IsDecoy")
    qcols = [(find_column(table.columns, "EG.Qvalue"), q_value, "rows_q_value"),
             (find_column(table.columns, "PG.Qvalue"), pg_q_value, "rows_pg_q_value")]
    for (col, limit, _), name in zip(qcols, ("EG.Qvalue", "PG.Qvalue"), strict=True):
        if col is None and limit is not None:
            ctx.note(f"no {name} column: that filter was not applied (Spectronaut's own "
                     "filtering, e.g. 'Filtered' cells, is what the report holds)")
    qcols = [(c, lim, r) for c, lim, r in qcols if c is not None and lim is not None]
    annotations = [c for c in (find_column(table.columns, a) for a in _ANNOTATIONS) if c]
    needed = [run, prot, value, *[c for c in (precursor, decoy) if c],
              *[c for c, _, _ in qcols], *annotations]
    frame = table.read(list(dict.fromkeys(needed)), ctx, value_columns=[value])
    ctx.quantity = (f"{value} (summed over precursors)" if mode == "sum"
                    else f"{value} (one value per run and protein group)")
    runs = run_keys(frame[run])
    acc = LongAccumulator(mode)
    acc.register(runs.unique())  # before the filters: a run filtered away stays, empty
    rows = np.ones(len(frame), dtype=bool)
    if decoy is not None and not keep_decoys:
        flagged = flag_mask(frame[decoy])
        if flagged.any():
            ctx.drop("rows_decoy", [], count=int(flagged.sum()))
            rows &= ~flagged
    for col, limit, reason in qcols:
        q = parse_numeric(frame[col].where(rows, "1"), col, _scratch(ctx), zero_is_missing=False)
        bad = rows & ~(q <= limit)
        if bad.any():
            ctx.drop(reason, [], count=int(bad.sum()))
            rows &= ~bad
        ctx.note(f"rows kept with {col} <= {limit:g}")
    if precursor is not None and canonical(value).startswith(("fg ", "eg ")):
        dup = frame.assign(_run=runs).duplicated(subset=["_run", prot, precursor]).to_numpy()
        dup &= rows
        if dup.any():
            ctx.note(f"{int(dup.sum())} repeated precursor rows (one per fragment) counted once")
            rows &= ~dup
    sub = frame[rows].reset_index(drop=True)
    sub_runs = runs[rows].reset_index(drop=True)
    values = parse_numeric(sub[value], value, ctx)
    acc.add(sub_runs.to_numpy(), sub[prot].astype(str).str.strip().to_numpy(), values)
    matrix, counts, names, proteins = acc.result(ctx, value)
    obs = sample_annotations(frame, runs, annotations, ctx, names)  # filtered runs too
    return build_anndata(ctx, matrix, [normalize_sample_name(n) for n in names], proteins,
                         obs=obs, n_values=counts, keep=keep, sample_origins=names,
                         what=f"{run!r} value",
                         duplicate_hint=f"{RUN_DUPLICATE_HINT}, or choose another sample "
                         "column (sample_column=...)",
                         filtered_out=acc.filtered_out())


def _scratch(ctx: ReadContext) -> ReadContext:
    """Return a throw-away context so that filter columns do not add to the missing counts."""
    return ReadContext(path=ctx.path, missing_tokens=ctx.missing_tokens)
