"""DIA-NN: ``report.pg_matrix.tsv`` and the long ``report.tsv`` / ``report.parquet``.

The long report is aggregated in row batches from only the columns needed, so a report
larger than memory still aggregates (parquet batches come straight from pyarrow).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import anndata as ad
import numpy as np
import pandas as pd

from proteolabel.io._build import RUN_DUPLICATE_HINT, LongAccumulator, build_anndata, flag_mask
from proteolabel.io._names import canonical, find_column, normalize_sample_name
from proteolabel.io._registry import register_reader
from proteolabel.io._tables import DEFAULT_BATCH_ROWS, ParquetTable, Table
from proteolabel.io._values import ReadContext, parse_numeric

#: Annotation columns of DIA-NN matrices (see :func:`run_columns` for the others).
PG_MATRIX_ANNOTATIONS = frozenset(canonical(c) for c in (
    "Protein.Group", "Protein.Ids", "Protein.Names", "Genes", "First.Protein.Description",
    "N.Sequences", "N.Proteotypic.Sequences", "N.Proteins", "Proteotypic", "Protein.Q.Value",
    "Q.Value", "Global.Q.Value", "PG.Q.Value", "Global.PG.Q.Value", "Lib.Q.Value",
    "Lib.PG.Q.Value", "GG.Q.Value",
))
#: More annotation columns of the precursor matrix.
PR_MATRIX_ANNOTATIONS = PG_MATRIX_ANNOTATIONS | frozenset(canonical(c) for c in (
    "Stripped.Sequence", "Modified.Sequence", "Precursor.Charge", "Precursor.Id",
    "Precursor.Lib.Index", "Lib.Index", "Precursor.Mz", "Decoy",
))
#: How DIA-NN names its own columns: capitalised words joined by dots (``Precursor.Lib.Index``).
_DIANN_STYLE = re.compile(r"^[A-Z][A-Za-z]*(?:\.[A-Z][A-Za-z]*)+$")


def run_columns(columns: Sequence[str], known: frozenset[str], ctx: ReadContext) -> list[str]:
    r"""Return the run columns of a DIA-NN matrix.

    DIA-NN writes its annotation columns first and the runs after them. Besides the known
    annotations (``known``, by canonical name), a column is an annotation when it stands
    before the last known one, or when it leads the columns after it, is named in DIA-NN's
    style (``Precursor.Lib.Index``, ``N.Proteins``) and a later column is not (runs are file
    names such as ``D:\data\run_1.raw``), so that an annotation column added by a newer
    DIA-NN version does not become a sample. Such columns are named in a message.
    """
    columns = list(columns)
    is_known = [canonical(c) in known for c in columns]
    last = max((i for i, k in enumerate(is_known) if k), default=-1)
    unknown_before = [c for c, k in zip(columns[:last], is_known[:last], strict=True) if not k]
    rest = [c for c, k in zip(columns[last + 1:], is_known[last + 1:], strict=True) if not k]
    lead = 0
    while lead < len(rest) and _DIANN_STYLE.match(rest[lead]):
        lead += 1
    extra = unknown_before + (rest[:lead] if lead < len(rest) else [])
    if extra:
        ctx.note(f"column(s) {extra} read as annotations, not runs: DIA-NN writes its "
                 "annotation columns before the run columns, and these are named like them")
    return [c for c in rest if c not in extra]
#: ``quantity`` names of the long report: (column, aggregation).
DIANN_QUANTITIES: dict[str, tuple[str, str]] = {
    "maxlfq": ("PG.MaxLFQ", "max"),
    "pg": ("PG.Quantity", "max"),
    "pg_normalised": ("PG.Normalised", "max"),
    "precursor": ("Precursor.Quantity", "sum"),
    "precursor_normalised": ("Precursor.Normalised", "sum"),
}


def _sniff_pg(name: str, columns: Sequence[str]) -> float:
    if find_column(columns, "Protein.Group") is None:
        return 0.0
    if find_column(columns, "Precursor.Id", "Run", "File.Name") is not None:
        return 0.0
    if find_column(columns, "Genes", "Protein.Names", "First.Protein.Description"):
        return 0.95
    return 0.5


def _sniff_pr(name: str, columns: Sequence[str]) -> float:
    if find_column(columns, "Protein.Group") is None or find_column(columns, "Run", "File.Name"):
        return 0.0
    return 0.96 if find_column(columns, "Precursor.Id") is not None else 0.0


def _sniff_report(name: str, columns: Sequence[str]) -> float:
    if find_column(columns, "Protein.Group") is None:
        return 0.0
    if find_column(columns, "Run", "File.Name") and find_column(columns, "Precursor.Id"):
        return 1.0
    return 0.0


@register_reader(
    "diann_pg",
    sniff=_sniff_pg,
    description="DIA-NN report.pg_matrix.tsv (protein groups x runs)",
)
def read_diann_pg(
    table: Table,
    ctx: ReadContext,
    *,
    keep_decoys: bool = False,
    keep_contaminants: bool = False,
) -> ad.AnnData:
    """Read a DIA-NN protein-group matrix.

    Run columns are full file paths in DIA-NN's output; samples are named by their base
    name without extension. Empty cells, ``0`` and ``0.0`` are all missing.

    Parameters
    ----------
    table
        The opened file.
    ctx
        The read record.
    keep_decoys, keep_contaminants
        Keep protein groups with a decoy/contaminant id prefix.

    Returns
    -------
    anndata.AnnData
        See :func:`proteolabel.io.read`.

    """
    key = find_column(table.columns, "Protein.Group")
    runs = run_columns(table.columns, PG_MATRIX_ANNOTATIONS, ctx)
    if not runs:
        raise ctx.error(f"no run columns besides the annotations; columns are {table.columns}")
    var_cols = [c for c in (find_column(table.columns, v) for v in ("Genes", "Protein.Names"))
                if c]
    frame = table.read([key, *runs, *var_cols], ctx, value_columns=runs)
    ctx.quantity = "pg_matrix values (MaxLFQ as written by DIA-NN)"
    matrix = np.column_stack([parse_numeric(frame[c], c, ctx) for c in runs])
    samples = [normalize_sample_name(c) for c in runs]
    keep = [r for r, k in (("decoy", keep_decoys), ("contaminant", keep_contaminants)) if k]
    return build_anndata(
        ctx, matrix.T, samples, frame[key].astype(str).str.strip().tolist(),
        var=frame[var_cols], keep=keep, sample_origins=runs,
    )


@register_reader(
    "diann_pr",
    sniff=_sniff_pr,
    description="DIA-NN report.pr_matrix.tsv (precursors x runs), summed per protein group",
)
def read_diann_pr(
    table: Table,
    ctx: ReadContext,
    *,
    keep_decoys: bool = False,
    keep_contaminants: bool = False,
) -> ad.AnnData:
    """Read a DIA-NN precursor matrix and sum the precursors of each protein group per run.

    Parameters
    ----------
    table
        The opened file.
    ctx
        The read record.
    keep_decoys, keep_contaminants
        Keep protein groups with a decoy/contaminant id prefix.

    Returns
    -------
    anndata.AnnData
        See :func:`proteolabel.io.read`; ``layers["n_values"]`` counts the precursors summed.

    """
    key = find_column(table.columns, "Protein.Group")
    runs = run_columns(table.columns, PR_MATRIX_ANNOTATIONS, ctx)
    if not runs:
        raise ctx.error(f"no run columns besides the annotations; columns are {table.columns}")
    frame = table.read([key, *runs], ctx, value_columns=runs)
    ctx.quantity = "pr_matrix precursor quantities (summed per protein group)"
    acc = LongAccumulator("sum")
    proteins = frame[key].astype(str).str.strip().to_numpy()
    for col in runs:  # keyed on the header as written; names are normalised afterwards
        values = parse_numeric(frame[col], col, ctx)
        acc.add(np.full(len(values), col, dtype=object), proteins, values)
    matrix, counts, headers, names = acc.result(ctx)
    keep = [r for r, k in (("decoy", keep_decoys), ("contaminant", keep_contaminants)) if k]
    return build_anndata(ctx, matrix, [normalize_sample_name(h) for h in headers], names,
                         n_values=counts, keep=keep, sample_origins=headers)


def _resolve_quantity(table: Table, ctx: ReadContext, quantity: str | None) -> tuple[str, str]:
    name = (quantity or "maxlfq").lower()
    if name in DIANN_QUANTITIES:
        wanted, mode = DIANN_QUANTITIES[name]
    else:
        wanted, mode = quantity, ("sum" if "precursor" in canonical(quantity) else "max")
    col = find_column(table.columns, wanted)
    if col is None:
        hint = ""
        if canonical(wanted) in ("pg quantity", "pg normalised"):
            hint = (" DIA-NN 2 reports no longer hold PG.Quantity and PG.Normalised: read "
                    "quantity='maxlfq' (PG.MaxLFQ) or 'precursor' (Precursor.Quantity summed).")
        raise ctx.error(
            f"no quantity column {wanted!r}; choose one of {sorted(DIANN_QUANTITIES)} or a "
            f"column name.{hint} Columns are {table.columns}."
        )
    return col, mode


@register_reader(
    "diann",
    sniff=_sniff_report,
    description="DIA-NN long report (report.tsv / report.parquet), aggregated to protein groups",
)
def read_diann(
    table: Table,
    ctx: ReadContext,
    *,
    quantity: str | None = None,
    q_value: float | None = 0.01,
    pg_q_value: float | None = 0.01,
    lib_q_value: float | None = 0.01,
    lib_pg_q_value: float | None = 0.01,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    channel: str | None = None,
    keep_decoys: bool = False,
    keep_contaminants: bool = False,
) -> ad.AnnData:
    """Read a DIA-NN long report and aggregate it to protein groups per run.

    Rows are filtered the way DIA-NN filters the rows behind its own matrices: run-specific
    precursor and protein-group q-values (``Q.Value``, ``PG.Q.Value``) and, when the report
    has them, the library q-values (``Lib.Q.Value``, ``Lib.PG.Q.Value``: global q-values of
    the library entry, which DIA-NN's documentation asks to filter on when match-between-runs
    or an empirical library was used), each at 1 % by default. A filter whose column is
    missing is skipped with a message. Each removed row is counted once, under the first
    filter it fails, in ``uns["read"]["dropped"]`` (``rows_q_value``, ``rows_pg_q_value``,
    ``rows_lib_q_value``, ``rows_lib_pg_q_value``, ``rows_decoy``). A run whose rows are all
    removed stays in the result as a sample without values, with a warning.

    Parameters
    ----------
    table
        The opened file (TSV or parquet).
    ctx
        The read record.
    quantity
        ``"maxlfq"`` (``PG.MaxLFQ``, the default: a protein-level value repeated on each
        precursor row, taken once), ``"pg"`` (``PG.Quantity``), ``"precursor"`` (the sum of
        ``Precursor.Quantity`` over precursors), ``"precursor_normalised"``, or a column name.
    q_value, pg_q_value
        Keep rows with ``Q.Value`` / ``PG.Q.Value`` at most this (default 1 %); ``None``
        turns a filter off. Removed rows are counted as ``rows_q_value``/``rows_pg_q_value``.
    lib_q_value, lib_pg_q_value
        Keep rows with ``Lib.Q.Value`` / ``Lib.PG.Q.Value`` at most this (default 1 %, as
        DIA-NN does for its matrices); ``None`` turns a filter off. Removed rows are counted
        as ``rows_lib_q_value``/``rows_lib_pg_q_value``.
    batch_rows
        Rows per batch; memory grows with the number of (run, protein) cells, not rows.
    channel
        Multiplexed runs (plexDIA: a ``Channel`` column with more than one label): read the
        rows of this channel only; the others are counted as ``rows_channel``. Without it such
        a report is an error, since the channels of a run are different samples and must not
        be added up.
    keep_decoys, keep_contaminants
        Keep rows with ``Decoy`` set (DIA-NN 2) and decoy/contaminant id prefixes.

    Returns
    -------
    anndata.AnnData
        See :func:`proteolabel.io.read`; ``layers["n_values"]`` counts the precursor rows
        behind each cell.

    """
    value, mode = _resolve_quantity(table, ctx, quantity)
    ctx.quantity = (f"{value} (one value per run and protein group)" if mode == "max"
                    else f"{value} (summed over precursors)")
    run = find_column(table.columns, "Run")
    from_file = run is None
    if from_file:
        run = find_column(table.columns, "File.Name")
    prot = find_column(table.columns, "Protein.Group")
    filters: list[tuple[str, str, float]] = []
    for col_name, limit, reason in (("Q.Value", q_value, "rows_q_value"),
                                    ("PG.Q.Value", pg_q_value, "rows_pg_q_value"),
                                    ("Lib.Q.Value", lib_q_value, "rows_lib_q_value"),
                                    ("Lib.PG.Q.Value", lib_pg_q_value, "rows_lib_pg_q_value")):
        if limit is None:
            continue
        col = find_column(table.columns, col_name)
        if col is None:
            ctx.note(f"no {col_name} column: that filter was not applied")
        else:
            filters.append((col, reason, float(limit)))
            ctx.note(f"rows kept with {col} <= {limit:g}")
    decoy = None if keep_decoys else find_column(table.columns, "Decoy")
    channels = _Channels(find_column(table.columns, "Channel"), channel, ctx)
    needed = list(dict.fromkeys([run, prot, value, *[f[0] for f in filters],
                                 *([decoy] if decoy else []), *channels.columns]))
    acc = LongAccumulator(mode)
    if isinstance(table, ParquetTable):
        batches = _arrow_batches(table, needed, batch_rows)
    else:
        batches = table.iter_batches(needed, ctx, value_columns=[value], batch_rows=batch_rows)
    for offset, frame in batches:
        _add_batch(acc, frame, offset, run, prot, value, filters, decoy, channels, ctx)
    channels.finish()
    matrix, counts, runs, proteins = acc.result(ctx, value)
    samples = [normalize_sample_name(r) for r in runs]
    keep = [r for r, k in (("decoy", keep_decoys), ("contaminant", keep_contaminants)) if k]
    return build_anndata(ctx, matrix, samples, proteins, n_values=counts, keep=keep,
                         sample_origins=runs, what=f"{run!r} value",
                         duplicate_hint=RUN_DUPLICATE_HINT,
                         filtered_out=acc.filtered_out())


def _arrow_batches(table: ParquetTable, columns: list[str], batch_rows: int):
    """Yield batches as frames whose string columns are categorical (cheap in memory)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    offset = 0
    for batch in table.iter_arrow(columns, batch_rows):
        data = {}
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                column = pc.dictionary_encode(column)
            data[name] = column.to_pandas()
        frame = pd.DataFrame(data)
        yield offset, frame
        offset += len(frame)


def _numbers(values: pd.Series) -> np.ndarray:
    """Parse a filter column (q-values); unreadable cells become NaN and fail the filter."""
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        values = values.astype(str).str.strip().str.replace(",", ".", regex=False)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


class _Channels:
    """The ``Channel`` column of a DIA-NN report: refuse to add up channels, or keep one."""

    def __init__(self, column: str | None, wanted: str | None, ctx: ReadContext) -> None:
        # a channel given on the command line as a number (--option channel=1) arrives as int
        wanted = None if wanted is None else str(wanted).strip()
        self.column, self.wanted, self.ctx = column, wanted, ctx
        self.columns = [column] if column else []
        self.seen: set[str] = set()
        if column is None and wanted is not None:
            raise ctx.error(f"channel={wanted!r} was given but the report has no Channel "
                            "column; leave channel unset.")

    def rows(self, frame: pd.DataFrame) -> np.ndarray | None:
        """Return the rows of the wanted channel (None: all), checking the labels seen."""
        if self.column is None:
            return None
        labels = frame[self.column].astype(object).where(frame[self.column].notna(), "")
        labels = labels.astype(str).str.strip()
        self.seen.update(labels.unique().tolist())
        named = sorted(self.seen - {""})
        if self.wanted is None:
            if len(named) > 1:
                raise self.ctx.error(
                    f"the report holds several channels in its {self.column!r} column "
                    f"({named}; a multiplexed, e.g. plexDIA, experiment). The channels of a "
                    "run are different samples, so they are not added up: pass channel="
                    f"{named[0]!r} (CLI: --option channel={named[0]}) to read one channel."
                )
            return None
        return labels.eq(self.wanted.strip()).to_numpy()

    def finish(self) -> None:
        if self.wanted is None or self.column is None:
            return
        if self.wanted.strip() not in self.seen:
            raise self.ctx.error(f"no rows of channel {self.wanted!r}; the report's channels "
                                 f"are {sorted(self.seen - {''}) or ['(empty)']}.")
        self.ctx.note(f"rows of channel {self.wanted!r} read (column {self.column!r})")


def _add_batch(acc, frame, offset, run, prot, value, filters, decoy, channels, ctx) -> None:
    acc.register(_codes(frame[run], np.ones(len(frame), dtype=bool))[1])  # before any filter
    rows = np.ones(len(frame), dtype=bool)
    wanted = channels.rows(frame)
    if wanted is not None:
        other = rows & ~wanted
        if other.any():
            ctx.drop("rows_channel", [], count=int(other.sum()))
            rows &= ~other
    for col, reason, limit in filters:
        bad = rows & ~(_numbers(frame[col]) <= limit)
        if bad.any():
            ctx.drop(reason, [], count=int(bad.sum()))
            rows &= ~bad
    if decoy is not None:
        flagged = rows & flag_mask(frame[decoy])
        if flagged.any():
            ctx.drop("rows_decoy", [], count=int(flagged.sum()))
            rows &= ~flagged
    kept = frame[value] if rows.all() else frame[value][rows].reset_index(drop=True)
    values = parse_numeric(kept, value, ctx, row_offset=offset)
    s_codes, s_labels = _codes(frame[run], rows)
    p_codes, p_labels = _codes(frame[prot], rows)
    acc.add_codes(s_labels, s_codes, p_labels, p_codes, values)


def _codes(values: pd.Series, rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Return integer codes and their labels for the kept rows (categoricals stay cheap)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        # only the labels of the kept rows, in their order of first appearance, as for text
        # columns: a protein whose rows were all filtered out is not a protein without values
        codes, used = pd.factorize(values.cat.codes.to_numpy()[rows])
        categories = [str(c).strip() for c in values.cat.categories]
        labels = [categories[u] if u >= 0 else "" for u in used]
        return codes, labels
    codes, uniques = pd.factorize(values.to_numpy(dtype=object)[rows])
    labels = [str(u).strip() for u in uniques]
    if (codes < 0).any():  # an empty cell: an empty name, refused later with the others
        labels.append("")
        codes = np.where(codes < 0, len(labels) - 1, codes)
    return codes, labels
