"""Generic tables: wide matrices (CSV, TSV, XLSX, parquet, R data), long tables and ``.h5ad``."""

from __future__ import annotations

import re
from collections.abc import Sequence

import anndata as ad
import numpy as np
import pandas as pd

from proteolabel.io._build import (
    RUN_DUPLICATE_HINT,
    LongAccumulator,
    build_anndata,
    run_keys,
    sample_annotations,
)
from proteolabel.io._names import canonical, find_column, normalize_sample_name
from proteolabel.io._registry import register_reader
from proteolabel.io._tables import Table
from proteolabel.io._values import (
    _THOUSANDS,
    ReadContext,
    classify_columns,
    looks_numeric,
    parse_numeric,
    parse_numeric_frame,
)

#: Prefix that marks a column of a wide table as a sample annotation (OmicLearn convention).
ANNOTATION_PREFIX = "_"
#: Name of generated sample names when a samples-in-rows table has no sample column.
GENERATED_SAMPLE_NAME = "sample_{:0{width}d}"

_SAMPLE_HINTS = frozenset(canonical(h) for h in (
    "sample", "samples", "sample name", "sample id", "sampleid", "run", "run name", "replicate",
    "replicate name", "file", "file name", "filename", "raw file", "subject", "patient", "label",
))
_PROTEIN_HINTS = frozenset(canonical(h) for h in (
    "protein", "proteins", "protein id", "protein ids", "protein group", "protein groups",
    "protein name", "protein names", "accession", "accessions", "uniprot", "uniprot id",
    "majority protein ids", "leading protein", "gene", "genes", "gene name", "gene names",
    "feature", "features", "pg", "protein accession", "id",
))
#: Numeric columns of a proteins-in-rows table that are annotations, not samples.
_NUMERIC_ANNOTATION_HINTS = (
    "peptides", "peptide count", "count", "length", "score", "q value", "qvalue", "pep",
    "coverage", "mol weight", "mass", "charge", "probability", "n sequences",
    "n proteotypic", "razor", "unique", "id",
)
_INDEX_HEADER = re.compile(r"^(Unnamed: ?\d+|)$")
_ACCESSION = re.compile(
    r"^(?:(?:sp|tr)\|)?(?:REV__|CON__|rev_|contam_)?(?:"
    r"[OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9](?:[A-Z][A-Z0-9]{2}[0-9]){1,2}|ENS[A-Z]*P\d+"
    r")(?:-\d+)?(?:\||;|$)"
)


def looks_like_protein(name: object) -> bool:
    """Say whether a string looks like a protein (group) id: UniProt, Ensembl, FASTA header."""
    return bool(_ACCESSION.match(str(name).strip()))


def _share(values: Sequence[object], test) -> float:
    values = [v for v in values if str(v).strip()]
    return (sum(bool(test(v)) for v in values) / len(values)) if values else 0.0


def _is_index(name: str, values: pd.Series) -> bool:
    """Say whether a column is a pandas/R row index: unnamed header and 0..n-1 or 1..n."""
    if not _INDEX_HEADER.match(name) and name != "X":
        return False
    nums = pd.to_numeric(values, errors="coerce")
    if nums.isna().any() or len(nums) == 0:
        return False
    start = nums.iloc[0]
    return bool(start in (0, 1) and (nums.to_numpy() == np.arange(len(nums)) + start).all())


def _classify(frame: pd.DataFrame, ctx: ReadContext) -> dict[str, str]:
    """Label each column: 'index', 'annotation' (_-prefixed), 'numeric', 'mixed' or 'text'."""
    stats = classify_columns(frame, ctx.tokens)
    kinds: dict[str, str] = {}
    for col in frame.columns:
        if col.startswith(ANNOTATION_PREFIX):
            kinds[col] = "annotation"
        elif _is_index(col, frame[col]):
            kinds[col] = "index"
        elif stats.at[col, "all_numeric"]:
            kinds[col] = "numeric"
        else:
            kinds[col] = "mixed" if stats.at[col, "share"] >= 0.5 else "text"
    return kinds


def _detect_layout(frame: pd.DataFrame, kinds: dict[str, str], id_column: str | None,
                   ctx: ReadContext) -> str:
    numeric = [c for c, k in kinds.items() if k in ("numeric", "mixed")]
    text = [c for c, k in kinds.items() if k == "text"]
    if any(k == "annotation" for k in kinds.values()):
        return "rows"
    first = id_column or (text[0] if text else None)
    if first is not None:
        hint = canonical(first)
        if hint in _SAMPLE_HINTS:
            return "rows"
        if hint in _PROTEIN_HINTS:
            return "columns"
        if _share(frame[first].astype(str).head(200), looks_like_protein) >= 0.5:
            return "columns"
    if numeric and _share(numeric, looks_like_protein) >= 0.5:
        return "rows"
    if numeric and _share(numeric, lambda c: normalize_sample_name(c) != str(c).strip()) >= 0.5:
        return "columns"  # run-file names such as S1.raw as headers
    raise ctx.error(
        "cannot tell whether samples are rows or columns (no '_' annotation columns, no "
        "'sample'/'protein' id column, no protein accessions in the header or first column). "
        "Pass samples_in='rows' or samples_in='columns', and id_column=... if needed."
    )


def _raise_mixed(frame: pd.DataFrame, col: str, ctx: ReadContext) -> None:
    _, _, bad = looks_numeric(frame[col], ctx.tokens)
    if bad is not None and _THOUSANDS.match(bad):
        raise ctx.error(f"column {col!r} holds {bad!r}, a number written with thousands "
                        "separators; export the table without them.")
    raise ctx.error(
        f"column {col!r} is mostly numbers but holds the text {bad!r}. Add that text to "
        "missing_tokens if it means 'missing', fix the cell, or list the column in "
        "annotation_columns if it is not a measurement."
    )


def _values(frame: pd.DataFrame, cols: Sequence[str], ctx: ReadContext,
            log_base: float | None) -> np.ndarray:
    if not cols:
        return np.empty((len(frame), 0))
    out = parse_numeric_frame(frame[list(cols)], ctx, allow_negative=log_base is not None)
    return _unlog(out, ctx, log_base)


def _unlog(matrix: np.ndarray, ctx: ReadContext, log_base: float | None) -> np.ndarray:
    if log_base is not None:
        ctx.note(f"values were on a log{log_base:g} scale and were turned into linear "
                 f"intensities ({log_base:g} ** value)")
        return np.power(float(log_base), matrix)
    present = matrix[~np.isnan(matrix)]
    if present.size >= 10 and present.max() <= 64:
        ctx.warn(
            f"all values are at most {present.max():.3g}: the table looks log-transformed. "
            "proteolabel expects linear intensities; pass log_base=2 (or the base used)."
        )
    return matrix


def _check_annotations(frame, names, ctx):
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise ctx.error(f"annotation column(s) {missing} not found; columns are "
                        f"{list(frame.columns)[:30]}")


@register_reader(
    "generic",
    sniff=lambda name, columns: 0.1,
    description="any wide table (CSV/TSV/XLSX/parquet/.rda): samples in rows or in columns",
)
def read_generic(
    table: Table,
    ctx: ReadContext,
    *,
    samples_in: str = "auto",
    id_column: str | None = None,
    sample_columns: Sequence[str] | None = None,
    annotation_columns: Sequence[str] = (),
    log_base: float | None = None,
    keep_decoys: bool = False,
    keep_contaminants: bool = False,
) -> ad.AnnData:
    """Read a wide samples x proteins (or proteins x samples) table.

    Parameters
    ----------
    table
        The opened file.
    ctx
        The read record.
    samples_in
        ``"rows"`` (one row per sample, one column per protein), ``"columns"`` (one row per
        protein) or ``"auto"``: rows when ``_``-prefixed annotation columns exist or the id
        column is called ``sample``/``run``/..., or the headers are protein accessions;
        columns when the id column is called ``protein``/``accession``/``gene``/... or holds
        accessions, or when the headers are run file names.
    id_column
        Samples in rows: the column of sample names (default: the first text column with
        unique values; if none, samples are named ``sample_001``, ... by row). Samples in
        columns: the protein key column (default: the first text column).
    sample_columns
        Samples in columns: the sample columns (default: every numeric column that is not a
        known annotation such as ``Peptides``).
    annotation_columns
        More columns to keep as annotations and never read as values. Columns whose name
        starts with ``_`` and text columns are annotations anyway (``obs`` for samples in
        rows, ``var`` for samples in columns).
    log_base
        The table holds log values in this base; they are turned back into linear
        intensities. By default a table whose values are all <= 64 raises a warning.
    keep_decoys, keep_contaminants
        Keep protein groups with a ``REV__``/``CON__`` (or similar) member.

    Returns
    -------
    anndata.AnnData
        See :func:`proteolabel.io.read`.

    """
    if samples_in not in ("auto", "rows", "columns"):
        raise ValueError(f"samples_in must be 'auto', 'rows' or 'columns', not {samples_in!r}")
    table.require_unique(table.columns)
    frame = table.read(table.columns, ctx)
    _check_annotations(frame, list(annotation_columns), ctx)
    if id_column is not None and id_column not in frame.columns:
        raise ctx.error(f"id column {id_column!r} not found; columns are "
                        f"{list(frame.columns)[:30]}")
    kinds = _classify(frame, ctx)
    for col in annotation_columns:
        kinds[col] = "annotation"
    ignored = [c for c, k in kinds.items() if k == "index" and c != id_column]
    if ignored:
        ctx.note(f"row-index column(s) {ignored} ignored")
    layout = samples_in if samples_in != "auto" else _detect_layout(frame, kinds, id_column, ctx)
    if samples_in == "auto":
        ctx.note(f"samples are in {layout} (detected; pass samples_in=... to override)")
    keep = [r for r, k in (("decoy", keep_decoys), ("contaminant", keep_contaminants)) if k]
    if layout == "rows":
        return _rows_layout(frame, kinds, ctx, id_column, log_base, keep)
    return _columns_layout(frame, kinds, ctx, id_column, sample_columns, log_base, keep)


def _rows_layout(frame, kinds, ctx, id_column, log_base, keep) -> ad.AnnData:
    text = [c for c, k in kinds.items() if k == "text"]
    if id_column is None:
        unique_text = [c for c in text if frame[c].astype(str).str.strip().ne("").all()
                       and frame[c].astype(str).str.strip().is_unique]
        hinted = [c for c in unique_text if canonical(c) in _SAMPLE_HINTS]
        id_column = (hinted or unique_text or [None])[0]
    if id_column is None:
        width = max(3, len(str(len(frame))))
        names = [GENERATED_SAMPLE_NAME.format(i + 1, width=width) for i in range(len(frame))]
        ctx.note(f"no sample-name column: samples named {names[0]} ... {names[-1]} by row")
        origins = None
    else:
        origins = frame[id_column].astype(str).tolist()
        names = [normalize_sample_name(n) for n in origins]
        ctx.note(f"sample names from column {id_column!r}")
    proteins = [c for c, k in kinds.items() if k in ("numeric", "mixed") and c != id_column]
    for col in proteins:
        if kinds[col] == "mixed":
            _raise_mixed(frame, col, ctx)
    if not proteins:
        raise ctx.error(f"no numeric protein columns; columns are {list(frame.columns)[:30]}")
    obs_cols = [c for c, k in kinds.items() if k in ("annotation", "text") and c != id_column]
    matrix = _values(frame, proteins, ctx, log_base)
    ctx.quantity = "values as given (samples in rows)"
    obs = frame[obs_cols] if obs_cols else None
    if obs_cols:
        ctx.note(f"{len(obs_cols)} sample annotation columns kept in obs: {obs_cols[:12]}")
    return build_anndata(ctx, matrix, names, [c.strip() for c in proteins], obs=obs, keep=keep,
                         sample_origins=origins, what="row")


def _columns_layout(frame, kinds, ctx, id_column, sample_columns, log_base, keep) -> ad.AnnData:
    text = [c for c, k in kinds.items() if k == "text"]
    if id_column is None:
        hinted = [c for c in text if canonical(c) in _PROTEIN_HINTS]
        id_column = (hinted or text or [None])[0]
    if id_column is None:
        raise ctx.error("no protein id column (a text column) found; name it with id_column=...")
    if sample_columns is None:
        candidates = [c for c, k in kinds.items() if k in ("numeric", "mixed") and c != id_column]
        sample_columns = [c for c in candidates
                          if not any(h in canonical(c).split(" ") or canonical(c).endswith(h)
                                     for h in _NUMERIC_ANNOTATION_HINTS)]
        skipped = [c for c in candidates if c not in sample_columns]
        if skipped:
            ctx.note(f"numeric annotation column(s) {skipped} not read as samples "
                     "(pass sample_columns=... to override)")
    else:
        missing = [c for c in sample_columns if c not in frame.columns]
        if missing:
            raise ctx.error(f"sample column(s) {missing} not found")
    for col in sample_columns:
        if kinds.get(col) in ("mixed", "text"):
            _raise_mixed(frame, col, ctx)
    if not sample_columns:
        raise ctx.error(f"no numeric sample columns; columns are {list(frame.columns)[:30]}")
    names = [normalize_sample_name(c) for c in sample_columns]
    matrix = _values(frame, list(sample_columns), ctx, log_base)
    ctx.quantity = "values as given (samples in columns)"
    var_cols = [c for c, k in kinds.items()
                if k in ("annotation", "text") and c != id_column and c not in sample_columns]
    var = frame[var_cols] if var_cols else None
    proteins = frame[id_column].astype(str).str.strip().tolist()
    return build_anndata(ctx, matrix.T, names, proteins, var=var, keep=keep,
                         sample_origins=list(sample_columns))


# ---------------------------------------------------------------------------------------------


_LONG_SAMPLE = ("sample", "sample name", "run", "replicate", "replicate name", "file name",
                "raw file", "R.FileName", "File.Name")
_LONG_PROTEIN = ("protein", "protein id", "protein ids", "protein group", "protein name",
                 "accession", "PG.ProteinGroups", "Protein.Group")
_LONG_VALUE = ("intensity", "value", "quantity", "area", "abundance", "total area")


@register_reader(
    "generic_long",
    sniff=None,
    description="any long table with user-named sample, protein and value columns",
)
def read_generic_long(
    table: Table,
    ctx: ReadContext,
    *,
    sample_column: str | None = None,
    protein_column: str | None = None,
    value_column: str | None = None,
    annotation_columns: Sequence[str] = (),
    aggregate: str = "sum",
    log_base: float | None = None,
    keep_decoys: bool = False,
    keep_contaminants: bool = False,
) -> ad.AnnData:
    """Read a long table (one row per value) and aggregate per (sample, protein).

    Parameters
    ----------
    table
        The opened file.
    ctx
        The read record.
    sample_column, protein_column, value_column
        The columns to use (detected from common names such as ``sample``/``run``,
        ``protein``/``accession`` and ``intensity``/``value``/``area`` when not given).
    annotation_columns
        Columns kept in ``obs`` when they are constant within each sample.
    aggregate
        ``"sum"``: sum the values present (peptide/precursor rows; an all-missing cell stays
        missing); ``"max"``: a protein-level value repeated on each row.
    log_base
        Values are logs in this base and are turned into linear intensities.
    keep_decoys, keep_contaminants
        Keep protein groups with a decoy/contaminant id prefix.

    Returns
    -------
    anndata.AnnData
        See :func:`proteolabel.io.read`.

    """
    cols = table.columns
    sample_column = sample_column or find_column(cols, *_LONG_SAMPLE)
    protein_column = protein_column or find_column(cols, *_LONG_PROTEIN)
    value_column = value_column or find_column(cols, *_LONG_VALUE)
    for what, col in (("sample_column", sample_column), ("protein_column", protein_column),
                      ("value_column", value_column)):
        if col is None or col not in cols:
            raise ctx.error(f"{what} {col!r} not found; name it explicitly. Columns are {cols}.")
    ctx.quantity = f"{value_column} ({aggregate} per sample and protein)"
    needed = [sample_column, protein_column, value_column, *annotation_columns]
    frame = table.read(list(dict.fromkeys(needed)), ctx, value_columns=[value_column])
    values = _unlog(parse_numeric(frame[value_column], value_column, ctx,
                                  allow_negative=log_base is not None), ctx, log_base)
    samples = run_keys(frame[sample_column])  # as written; normalised after aggregation
    proteins = frame[protein_column].astype(str).str.strip()
    acc = LongAccumulator(aggregate)
    acc.add(samples.to_numpy(), proteins.to_numpy(), values)
    matrix, counts, names, prots = acc.result(ctx, value_column)
    obs = sample_annotations(frame, samples, list(annotation_columns), ctx, names)
    keep = [r for r, k in (("decoy", keep_decoys), ("contaminant", keep_contaminants)) if k]
    return build_anndata(ctx, matrix, [normalize_sample_name(n) for n in names], prots, obs=obs,
                         n_values=counts, keep=keep, sample_origins=names,
                         what=f"{sample_column!r} value",
                         duplicate_hint=f"{RUN_DUPLICATE_HINT}, or choose another sample "
                         "column (sample_column=...)")


# ---------------------------------------------------------------------------------------------


@register_reader(
    "h5ad",
    sniff=None,
    description="AnnData .h5ad (samples x proteins, linear intensities)",
    suffixes=(".h5ad",),
    tabular=False,
)
def read_h5ad(
    path: str,
    ctx: ReadContext,
    *,
    layer: str | None = None,
    log_base: float | None = None,
    keep_decoys: bool = False,
    keep_contaminants: bool = False,
) -> ad.AnnData:
    """Read an ``.h5ad`` file; the same checks as every other reader apply.

    Parameters
    ----------
    path
        The file.
    ctx
        The read record.
    layer
        Read this layer instead of ``X``.
    log_base
        ``X`` holds logs in this base; turned into linear intensities.
    keep_decoys, keep_contaminants
        Keep protein groups with a decoy/contaminant id prefix.

    Returns
    -------
    anndata.AnnData
        See :func:`proteolabel.io.read`; ``obs``, ``var`` and other ``uns`` entries are kept.

    """
    source = ad.read_h5ad(path)
    matrix = source.X if layer is None else source.layers[layer]
    if hasattr(matrix, "toarray"):
        matrix = matrix.toarray()
    matrix = np.asarray(matrix, dtype=np.float64)
    ctx.quantity = f"layers[{layer!r}]" if layer else "X"
    flat = pd.Series(matrix.ravel(order="F"))
    parsed = parse_numeric(flat, ctx.quantity, ctx, allow_negative=log_base is not None)
    parsed = _unlog(parsed.reshape(matrix.shape, order="F"), ctx, log_base)
    names = [normalize_sample_name(n) for n in source.obs_names]
    keep = [r for r, k in (("decoy", keep_decoys), ("contaminant", keep_contaminants)) if k]
    adata = build_anndata(ctx, parsed, names, list(map(str, source.var_names)),
                          obs=source.obs, var=source.var, keep=keep,
                          sample_origins=list(map(str, source.obs_names)))
    for key, value in source.uns.items():
        if key not in adata.uns:
            adata.uns[key] = value
    return adata
