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
from proteolabel.io._names import (
    SAMPLE_PREFIXES,
    canonical,
    find_column,
    normalize_sample_name,
)
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


def name_key(column: object) -> str:
    """Return the form of a column name that hints are compared with, whole.

    :func:`~proteolabel.io._names.canonical` plus: units in brackets or parentheses are
    dropped and other punctuation becomes a space, so ``"Mol. weight [kDa]"`` gives
    ``"mol weight"`` and ``"Razor + unique peptides"`` gives ``"razor unique peptides"``.
    """
    text = re.sub(r"\[[^\]]*\]|\([^)]*\)", " ", str(column))
    return re.sub(r"[^0-9a-z]+", " ", canonical(text)).strip()


def _keys(*names: str) -> frozenset[str]:
    return frozenset(name_key(n) for n in names)


def _id_names(bases: Sequence[str]) -> frozenset[str]:
    suffixes = ("", "s", " id", " ids", " name", " names", " number", " no", " nr", " code",
                " identifier", " label")
    return _keys(*(b + s for b in bases for s in suffixes))


#: Column names that say a column holds sample ids; such a column is an id column even when
#: its values are numbers (patient 101, 102, ...).
_SAMPLE_ID_NAMES = _id_names((
    "sample", "run", "replicate", "file", "raw file", "subject", "patient", "participant",
    "donor", "specimen", "individual",
)) | _keys("sampleid", "filename", "run name", "sample name")
#: Column names that say a column holds protein ids (numeric Entrez ids, too).
_PROTEIN_ID_NAMES = _id_names((
    "protein", "protein group", "protein accession", "accession", "uniprot", "uniprot accession",
    "majority protein", "leading protein", "leading razor protein", "gene", "gene symbol",
    "entrez", "entrez gene", "ensembl", "ensembl gene",
)) | _keys("pg", "protein groups")
#: Weaker hints: an id column of unknown kind. Such a column is not read as values either,
#: but it says samples are in rows (``label``) or columns (``id``, ``feature``) only when it
#: holds text.
_WEAK_SAMPLE_NAMES = _keys("label")
_WEAK_PROTEIN_NAMES = _keys("id", "feature", "features")
_ID_NAMES = _SAMPLE_ID_NAMES | _PROTEIN_ID_NAMES | _WEAK_SAMPLE_NAMES | _WEAK_PROTEIN_NAMES

#: Whole names (after :func:`name_key`) of numeric protein annotations that a proteins-in-rows
#: table may hold next to its sample columns (MaxQuant, Perseus, FragPipe, Proteome Discoverer
#: style exports). Matched whole, never as a part, so a sample called ``Score_High_1`` or
#: ``CSF_Lipid`` is never one of them.
_PROTEIN_ANNOTATION_NAMES = _keys(
    "peptides", "peptide", "peptide count", "peptide counts", "number of peptides",
    "num peptides", "n peptides", "nr peptides", "# peptides", "unique peptides",
    "razor peptides", "razor + unique peptides", "unique + razor peptides", "total peptides",
    "combined total peptides", "iBAQ peptides", "ibaq peptides", "psms", "# psms",
    "number of psms",
    "sequence coverage", "unique sequence coverage", "unique + razor sequence coverage",
    "coverage", "mol. weight", "molecular weight", "mw", "mass", "protein mass",
    "sequence length", "sequence lengths", "length", "protein length", "score",
    "protein score", "q-value", "qvalue", "pep", "posterior error probability",
    "probability", "protein probability", "top peptide probability", "charge", "count",
    "ms/ms count", "spectral count", "spectral counts", "total spectral count",
    "unique spectral count", "razor spectral count", "combined spectral count",
    "combined unique spectral count", "combined total spectral count", "number of proteins",
    "protein count", "n sequences", "n proteotypic sequences", "n proteotypic",
    "isoelectric point", "pi", "calc. pi",
)
#: Whole names of numeric sample annotations (clinical and design variables) that a
#: samples-in-rows table may hold without the ``_`` prefix; also every name starting with
#: ``age`` as a word (``Age at CSF collection``).
_SAMPLE_ANNOTATION_NAMES = _keys(
    "age", "bmi", "body mass index", "mmse", "mmse score", "moca", "moca score", "cdr",
    "cdr score", "weight", "height", "sex", "gender", "batch", "plate", "fraction", "visit",
    "time point", "timepoint", "time", "day", "days", "year", "years", "education",
    "years of education", "group", "class", "condition", "status", "diagnosis",
    "injection order", "run order",
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


def _is_sample_annotation_name(column: str) -> bool:
    key = name_key(column)
    return key in _SAMPLE_ANNOTATION_NAMES or key.startswith("age ")


#: A column holding numbers and at most this many different other texts is a measurement
#: column with unreadable cells (``<LOD``, ``n.d.``), even when most of its cells are such.
_MAX_TOKEN_TEXTS = 3


def _classify(frame: pd.DataFrame, ctx: ReadContext) -> tuple[dict[str, str], set[str]]:
    """Label each column: 'index', 'annotation' (_-prefixed), 'numeric', 'mixed' or 'text'.

    'mixed': mostly numbers, or numbers among at most :data:`_MAX_TOKEN_TEXTS` different
    texts (a sample with many ``<LOD`` cells); reading such a column as values is an error
    naming the text, never a silent move to the annotations.

    A column named like an id column (``sample``, ``patient``, ``run``, ``protein``,
    ``accession``, ``gene``, ``id``, ...) is 'text' even when its cells are numbers; those
    columns are returned too.
    """
    stats = classify_columns(frame, ctx.tokens)
    kinds: dict[str, str] = {}
    numeric_ids = []
    for col in frame.columns:
        if col.startswith(ANNOTATION_PREFIX):
            kinds[col] = "annotation"
        elif _is_index(col, frame[col]):
            kinds[col] = "index"
        elif name_key(col) in _ID_NAMES:
            kinds[col] = "text"
            if stats.at[col, "share"] >= 0.5:
                numeric_ids.append(col)
        elif stats.at[col, "all_numeric"]:
            kinds[col] = "numeric"
        else:
            share = stats.at[col, "share"]
            # numbers among a few repeated texts ('<LOD', 'n.d.'): a measurement column whose
            # texts need a decision, not a text annotation
            token_like = share > 0 and stats.at[col, "n_texts"] <= _MAX_TOKEN_TEXTS
            kinds[col] = "mixed" if share >= 0.5 or token_like else "text"
    if numeric_ids:
        ctx.note(f"column(s) {numeric_ids} hold numbers but are named like id columns: read as "
                 "ids, not as values")
    return kinds, set(numeric_ids)


def _id_text(values: pd.Series) -> pd.Series:
    """Write id cells as text: text as it is (stripped), whole numbers without ``.0``."""
    def one(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return str(v).strip()
    return values.map(one).astype(object)


def _role(column: str, strong_only: bool = False) -> str | None:
    """Return the layout a column's name implies: 'rows' (sample ids), 'columns' (protein ids).

    With ``strong_only``, the weak names (``id``, ``label``, ``feature``) imply nothing.
    """
    key = name_key(column)
    if key in _SAMPLE_ID_NAMES or (not strong_only and key in _WEAK_SAMPLE_NAMES):
        return "rows"
    if key in _PROTEIN_ID_NAMES or (not strong_only and key in _WEAK_PROTEIN_NAMES):
        return "columns"
    return None


def _pick_id(columns: Sequence[str], strong: frozenset[str], weak: frozenset[str],
             numeric_ids: set[str]) -> str | None:
    """Return the first column named like a strong id, else like a weak one that holds text."""
    for col in columns:
        if name_key(col) in strong:
            return col
    for col in columns:
        if name_key(col) in weak and col not in numeric_ids:
            return col
    return None


def _detect_layout(frame: pd.DataFrame, kinds: dict[str, str], id_column: str | None,
                   ctx: ReadContext, numeric_ids: set[str]) -> str:
    numeric = [c for c, k in kinds.items() if k in ("numeric", "mixed")]
    text = [c for c, k in kinds.items() if k == "text"]
    if any(c.startswith(ANNOTATION_PREFIX) for c in kinds):
        return "rows"
    first = id_column or (text[0] if text else None)
    if first is not None:
        layout = _role(first, strong_only=first in numeric_ids)
        if layout is not None:
            return layout
        if _share(_id_text(frame[first]).head(200), looks_like_protein) >= 0.5:
            return "columns"
    if id_column is None:
        for col in text[1:]:
            layout = _role(col, strong_only=True)
            if layout is not None:
                return layout
    if numeric and _share(numeric, looks_like_protein) >= 0.5:
        return "rows"
    if numeric and _share(numeric, lambda c: normalize_sample_name(c) != str(c).strip()) >= 0.5:
        return "columns"  # run-file names such as S1.raw as headers
    raise ctx.error(
        "cannot tell whether samples are rows or columns (no '_' annotation columns, no "
        "'sample'/'protein' id column, no protein accessions in the header or first column). "
        "If this is a table of protein intensities, say which: --samples-in rows|columns on "
        "the command line (samples_in='rows' in Python), and --option id_column=NAME if needed."
    )


#: Rows looked at when judging a column by its values (enough for a median and a count).
_PEEK_ROWS = 2000


def _peek(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, np.ndarray]:
    """Read columns' numbers for a look at them only (no counting, no errors); NaN if not.

    Only the first :data:`_PEEK_ROWS` rows are read; decimal commas are understood.
    """
    columns = list(columns)
    block = frame[columns].iloc[:_PEEK_ROWS]
    flat = pd.Series(block.to_numpy(dtype=object).ravel(order="F"), dtype=object)
    numbers = pd.to_numeric(flat, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    retry = np.flatnonzero(np.isnan(numbers))
    if retry.size:
        cells = flat.iloc[retry]
        comma = cells.map(lambda v: isinstance(v, str) and "," in v).to_numpy(dtype=bool)
        if comma.any():
            text = cells[comma].str.strip().str.replace(",", ".", regex=False)
            numbers[retry[comma]] = pd.to_numeric(text, errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan)
    numbers = numbers.reshape(block.shape, order="F")
    return {c: numbers[:, j] for j, c in enumerate(columns)}


def _typical(values: np.ndarray) -> float:
    present = values[np.isfinite(values) & (values > 0)]
    return float(np.median(present)) if present.size else np.nan


def _like_measurements(values: np.ndarray, reference: float) -> bool:
    """Say whether a column's values look like those of the measured columns.

    That is: the same order of magnitude as ``reference`` (the typical value of the other
    columns), and some cells missing, as intensities have; counts, scores, ages do not.
    """
    own = _typical(values)
    if not (np.isfinite(own) and np.isfinite(reference)):
        return False
    missing = ~np.isfinite(values) | (values == 0)
    return bool(abs(np.log10(own / reference)) < 1 and missing.any())


def _split_named_annotations(frame: pd.DataFrame, columns: Sequence[str], is_named,
                             peeked: dict[str, np.ndarray] | None = None,
                             ) -> tuple[list[str], list[str], float]:
    """Find the columns whose names ``is_named`` marks as annotations.

    Returns those whose values do not look like the other columns' (annotations), those whose
    values do (kept as measurements, with a warning), and the typical value of the others
    (computed only when some column is named so, or when ``peeked`` gives every column's
    values).
    """
    named = [c for c in columns if is_named(c)]
    if not named and peeked is None:
        return [], [], np.nan
    peeked = peeked if peeked is not None else _peek(frame, columns)
    typical = [_typical(peeked[c]) for c in columns if c not in named]
    typical = [t for t in typical if np.isfinite(t)]
    reference = float(np.median(typical)) if typical else np.nan
    like = [c for c in named if _like_measurements(peeked[c], reference)]
    return [c for c in named if c not in like], like, reference


def _raise_mixed(frame: pd.DataFrame, col: str, ctx: ReadContext) -> None:
    _, _, bad = looks_numeric(frame[col], ctx.tokens)
    cells = frame[col].astype(str).str.strip()
    rows = np.flatnonzero(cells.eq(bad).to_numpy()) if bad is not None else np.empty(0)
    where = (f" (data row {int(rows[0]) + 1}"
             f"{f', and {rows.size - 1} more' if rows.size > 1 else ''})") if rows.size else ""
    if bad is not None and _THOUSANDS.match(bad):
        raise ctx.error(f"column {col!r} holds {bad!r}{where}, a number written with "
                        "thousands separators; export the table without them.")
    raise ctx.error(
        f"column {col!r} holds numbers but also the text {bad!r}{where}: "
        f"{ctx.token_fix(str(bad))}; otherwise fix the cell, or list the column in "
        "annotation_columns if it is not a measurement."
    )


def _values(frame: pd.DataFrame, cols: Sequence[str], ctx: ReadContext,
            log_base: float | None) -> np.ndarray:
    if not cols:
        return np.empty((len(frame), 0))
    out = parse_numeric_frame(frame[list(cols)], ctx, allow_negative=log_base is not None)
    return _unlog(out, ctx, log_base)


def _unlog(matrix: np.ndarray, ctx: ReadContext, log_base: float | None) -> np.ndarray:
    """Turn log values into linear intensities when ``log_base`` is given.

    A table that only looks logged is warned about, for every format, by
    :func:`~proteolabel.io._build.build_anndata`.
    """
    if log_base is not None:
        ctx.note(f"values were on a log{log_base:g} scale and were turned into linear "
                 f"intensities ({log_base:g} ** value)")
        ctx.log_base_applied = True
        return np.power(float(log_base), matrix)
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
    protein_columns: Sequence[str] | None = None,
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
        column is called ``sample``/``patient``/``run``/..., or the headers are protein
        accessions; columns when the id column is called ``protein``/``accession``/``gene``/...
        or holds accessions, or when the headers are run file names. A column named like an
        id column is read as ids even when its cells are numbers (patients 101, 102, ...).
    id_column
        Samples in rows: the column of sample names (default: the first column named like
        ``sample``/``patient``/``run`` with unique values, else the first text column with
        unique values; if none, samples are named ``sample_001``, ... by row). Samples in
        columns: the protein key column (default: the first column named like
        ``protein``/``accession``/``gene``, else the first text column).
    sample_columns
        Samples in columns: the sample columns (default: every numeric column except those
        named like a protein annotation, such as ``Peptides``, ``Score``, ``Mol. weight
        [kDa]`` (whole names only), whose values do not look like the sample columns';
        such columns go to ``var`` with a warning).
    protein_columns
        Samples in rows: the protein columns (default: every numeric column except those
        named like a clinical or design variable, such as ``Age``, ``BMI``, ``MMSE``,
        ``Batch``, whose values do not look like the protein columns'; such columns go to
        ``obs`` with a warning).
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
    kinds, numeric_ids = _classify(frame, ctx)
    for col in annotation_columns:
        kinds[col] = "annotation"
    ignored = [c for c, k in kinds.items() if k == "index" and c != id_column]
    if ignored:
        ctx.note(f"row-index column(s) {ignored} ignored")
    layout = samples_in
    perseus_obs = None
    types = getattr(table, "perseus", {}).get("Type")
    prefixes: tuple[str, ...] = ()
    if types is not None and samples_in != "rows" and sample_columns is None:
        sample_columns, perseus_obs, prefixes = _perseus_samples(table, types, ctx)
        layout = "columns"
    elif samples_in == "auto":
        layout = _detect_layout(frame, kinds, id_column, ctx, numeric_ids)
        ctx.note(f"samples are in {layout} (detected; pass samples_in=... to override)")
    keep = [r for r, k in (("decoy", keep_decoys), ("contaminant", keep_contaminants)) if k]
    if layout == "rows":
        return _rows_layout(frame, kinds, ctx, id_column, protein_columns, log_base, keep,
                            numeric_ids)
    return _columns_layout(frame, kinds, ctx, id_column, sample_columns, log_base, keep,
                           numeric_ids, obs=perseus_obs, prefixes=prefixes)


def _perseus_samples(table: Table, types: list[str], ctx: ReadContext):
    """Return the sample columns of a Perseus matrix and its per-sample annotation rows.

    Perseus writes a ``#!{Type}`` row under the header: ``E`` marks an expression (sample)
    column; ``N`` numeric, ``T`` text, ``C`` categorical and ``M`` multi-numeric columns are
    protein annotations. Categorical annotation rows (``#!{C:Group}``) give the samples'
    annotations.
    """
    columns = table.columns
    kind = dict(zip(columns, (t.strip() for t in types), strict=False))
    samples = [c for c in columns if kind.get(c) == "E"]
    if not samples:
        raise ctx.error(
            "this is a Perseus matrix (a '#!{Type}' row under the header) but no column is of "
            "type E (expression); pass sample_columns=[...] to name the sample columns.")
    ctx.note(f"Perseus matrix: the {len(samples)} expression (type E) columns are the samples; "
             "the other columns are protein annotations")
    position = {c: i for i, c in enumerate(columns)}
    rows = {}
    for key, values in table.perseus.items():
        if key.startswith("C:") and len(values) >= len(columns):
            rows[key[2:].strip() or key] = [values[position[c]].strip() or None for c in samples]
    obs = pd.DataFrame(rows) if rows else None
    if rows:
        ctx.note(f"Perseus annotation row(s) {list(rows)} kept as sample annotations")
    shared = [p for p in SAMPLE_PREFIXES
              if all(c.lower().startswith(p.lower()) and len(c) > len(p) for c in samples)]
    if shared:
        ctx.note(f"sample names are the column names without {shared[0]!r}")
    return samples, obs, tuple(shared[:1])


def _report_excluded(ctx: ReadContext, message: str) -> None:
    """Report a column left out of the values as a warning and in the read record."""
    ctx.note(message)
    ctx.warn(message, stacklevel=5)


def _rows_layout(frame, kinds, ctx, id_column, protein_columns, log_base, keep,
                 numeric_ids) -> ad.AnnData:
    text = [c for c, k in kinds.items() if k == "text" and c not in (protein_columns or ())]
    repeated = []
    if id_column is None:
        ids = {c: _id_text(frame[c]) for c in text}
        unique_text = [c for c in text if ids[c].ne("").all() and ids[c].is_unique]
        hinted = _pick_id(unique_text, _SAMPLE_ID_NAMES, _WEAK_SAMPLE_NAMES, numeric_ids)
        id_column = hinted or (unique_text or [None])[0]
        repeated = [c for c in text if name_key(c) in _SAMPLE_ID_NAMES and c not in unique_text]
    if id_column is None:
        width = max(3, len(str(len(frame))))
        names = [GENERATED_SAMPLE_NAME.format(i + 1, width=width) for i in range(len(frame))]
        if repeated:
            # a column named as the sample ids that cannot name the samples: say why, loudly,
            # since labels keyed by those ids will not match the generated names
            why = _why_not_ids(frame[repeated[0]])
            ctx.warn(
                f"column {repeated[0]!r} is named like the sample ids but {why}"
                f", so it cannot name the samples: they are named {names[0]} ... {names[-1]} by "
                f"row, and {repeated[0]!r} is kept as an annotation in obs. If each row is a "
                "different sample, make the ids unique; if rows are repeated measurements of "
                "one sample, that column is not a sample id (pass id_column=... to use "
                "another)."
            )
        ctx.note(f"no sample-name column: samples named {names[0]} ... {names[-1]} by row")
        origins = None
    else:
        origins = _id_text(frame[id_column]).tolist()
        names = [normalize_sample_name(n) for n in origins]
        ctx.note(f"sample names from column {id_column!r}")
    if protein_columns is None:
        proteins = [c for c, k in kinds.items() if k in ("numeric", "mixed") and c != id_column]
        named, like, _ = _split_named_annotations(frame, proteins, _is_sample_annotation_name)
        if named:
            for col in named:
                kinds[col] = "annotation"
            proteins = [c for c in proteins if c not in named]
            _report_excluded(ctx, (
                f"numeric column(s) {named} not read as proteins: named like sample "
                "annotations (age, BMI, batch, ...) and unlike the protein columns' values, "
                "they are kept in obs. Pass protein_columns=[...] to choose the proteins."))
        if like:
            ctx.warn(f"column(s) {like} are named like sample annotations but hold values like "
                     "the protein columns' (with missing cells); they are read as proteins. "
                     "Pass annotation_columns=[...] if they are not.")
    else:
        proteins = list(protein_columns)
        missing = [c for c in proteins if c not in frame.columns]
        if missing:
            raise ctx.error(f"protein column(s) {missing} not found; columns are "
                            f"{list(frame.columns)[:30]}")
        if id_column in proteins:
            raise ctx.error(f"column {id_column!r} is the sample-name column and cannot also "
                            "be a protein column; pass id_column=... to choose another")
        left = [c for c, k in kinds.items() if k in ("numeric", "mixed")
                and c != id_column and c not in proteins]
        for col in left:
            kinds[col] = "annotation"
        if left:
            ctx.note(f"numeric column(s) {left[:30]} are not in protein_columns; kept in obs")
    for col in proteins:
        if kinds[col] in ("mixed", "text") and col not in numeric_ids:
            _raise_mixed(frame, col, ctx)
    if not proteins:
        raise ctx.error(f"no numeric protein columns; columns are {list(frame.columns)[:30]}"
                        f"{_ids_hint(numeric_ids, 'protein_columns')}")
    obs_cols = [c for c, k in kinds.items()
                if k in ("annotation", "text") and c != id_column and c not in proteins]
    matrix = _values(frame, proteins, ctx, log_base)
    ctx.quantity = "values as given (samples in rows)"
    obs = frame[obs_cols] if obs_cols else None
    if obs_cols:
        ctx.note(f"{len(obs_cols)} sample annotation columns kept in obs: {obs_cols[:12]}")
    return build_anndata(ctx, matrix, names, [c.strip() for c in proteins], obs=obs, keep=keep,
                         sample_origins=origins, what="row", feature_what="column")


def _why_not_ids(values: pd.Series) -> str:
    """Say why a column cannot name samples: its first repeated value, or its empty cells."""
    ids = _id_text(values)
    empty = np.flatnonzero(ids.eq("").to_numpy())
    repeated = ids[ids.ne("") & ids.duplicated(keep=False)]
    if len(repeated):
        value = repeated.iloc[0]
        rows = [int(i) + 1 for i in np.flatnonzero(ids.eq(value).to_numpy())]
        return (f"holds {value!r} in {len(rows)} rows (data rows {rows[:5]}"
                f"{' ...' if len(rows) > 5 else ''})")
    return f"is empty in {empty.size} rows (first at data row {int(empty[0]) + 1})"


def _columns_layout(frame, kinds, ctx, id_column, sample_columns, log_base, keep,
                    numeric_ids, obs=None, prefixes=()) -> ad.AnnData:
    text = [c for c, k in kinds.items() if k == "text" and c not in (sample_columns or ())]
    if id_column is None:
        hinted = _pick_id(text, _PROTEIN_ID_NAMES, _WEAK_PROTEIN_NAMES, numeric_ids)
        id_column = hinted or (text or [None])[0]
    if id_column is None:
        raise ctx.error("no protein id column (a text column) found; name it with id_column=...")
    named: list[str] = []
    if sample_columns is None:
        candidates = [c for c, k in kinds.items() if k in ("numeric", "mixed") and c != id_column]
        peeked = _peek(frame, candidates)
        named, like, reference = _split_named_annotations(
            frame, candidates, lambda c: name_key(c) in _PROTEIN_ANNOTATION_NAMES, peeked)
        sample_columns = [c for c in candidates if c not in named]
        if not sample_columns and named:
            raise ctx.error(
                f"no sample columns: every numeric column ({named}) is named like a protein "
                "annotation. Pass sample_columns=[...] to name the samples.")
        if named:
            _report_excluded(ctx, (
                f"numeric column(s) {named} not read as samples: named like protein "
                "annotations (peptide counts, scores, ...) and unlike the sample columns' "
                "values, they are kept in var. Pass sample_columns=[...] to choose the "
                "samples."))
        if like:
            ctx.warn(f"column(s) {like} are named like protein annotations but hold values "
                     "like the sample columns' (with missing cells); they are read as samples. "
                     "Pass sample_columns=[...] without them if they are not samples.")
        _warn_count_like(peeked, [c for c in sample_columns if c not in like], reference, ctx)
    else:
        missing = [c for c in sample_columns if c not in frame.columns]
        if missing:
            raise ctx.error(f"sample column(s) {missing} not found; columns are "
                            f"{list(frame.columns)[:30]}")
    for col in sample_columns:
        if kinds.get(col) in ("mixed", "text") and col not in numeric_ids:
            _raise_mixed(frame, col, ctx)
    if not sample_columns:
        raise ctx.error(f"no numeric sample columns; columns are {list(frame.columns)[:30]}"
                        f"{_ids_hint(numeric_ids, 'sample_columns')}")
    names = [normalize_sample_name(c, prefixes) for c in sample_columns]
    matrix = _values(frame, list(sample_columns), ctx, log_base)
    ctx.quantity = "values as given (samples in columns)"
    var_cols = [c for c, k in kinds.items()
                if (k in ("annotation", "text") or c in named) and c != id_column
                and c not in sample_columns]
    var = frame[var_cols] if var_cols else None
    proteins = _id_text(frame[id_column]).tolist()
    return build_anndata(ctx, matrix.T, names, proteins, obs=obs, var=var, keep=keep,
                         sample_origins=list(sample_columns))


def _ids_hint(numeric_ids: set[str], option: str) -> str:
    if not numeric_ids:
        return ""
    return (f". Column(s) {sorted(numeric_ids)} hold numbers but are named like id columns, so "
            f"they are not read as values; pass {option}=[...] to read them as values")


#: Values a column needs before its whole numbers mark it as count-like.
_COUNT_EVIDENCE = 10


def _warn_count_like(peeked, columns, reference, ctx) -> None:
    """Warn about sample columns that look like a protein annotation by their values alone.

    Such a column holds whole numbers only, misses nothing and lies a hundred times below
    the other columns; at least :data:`_COUNT_EVIDENCE` values are needed to judge (on a few
    values whole numbers are chance).
    """
    if len(columns) < 3 or not np.isfinite(reference):
        return
    odd = []
    for col in columns:
        values = peeked[col]
        if (values.size >= _COUNT_EVIDENCE and np.isfinite(values).all() and (values > 0).all()
                and np.array_equal(values, np.round(values))
                and _typical(values) * 100 <= reference):
            odd.append(col)
    if odd and len(odd) < len(columns):
        ctx.warn(f"column(s) {odd} hold only whole numbers with nothing missing, a hundred "
                 f"times below the other sample columns (typical value {reference:.3g}), like "
                 "a count; they are read as samples. Pass sample_columns=[...] without them "
                 "if they are annotations.")


# ---------------------------------------------------------------------------------------------


_LONG_SAMPLE = ("sample", "sample name", "sample id", "run", "run name", "replicate",
                "replicate name", "file name", "raw file", "R.FileName", "File.Name")
_LONG_PROTEIN = ("protein", "protein id", "protein ids", "protein group", "protein name",
                 "protein accession", "accession", "uniprot", "PG.ProteinGroups",
                 "Protein.Group", "gene", "gene name", "genes")
_LONG_VALUE = ("intensity", "value", "quantity", "area", "abundance", "total area")


def _sniff_long(name: str, columns: Sequence[str]) -> float:
    """Score a table with a sample, a protein and a value column (by name) as a long one."""
    found = [find_column(columns, *names) for names in (_LONG_SAMPLE, _LONG_PROTEIN,
                                                          _LONG_VALUE)]
    return 0.5 if all(found) else 0.0


@register_reader(
    "generic_long",
    sniff=_sniff_long,
    description="any long table (one row per sample and protein: sample, protein and value "
    "columns)",
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
        ``protein``/``accession`` and ``intensity``/``value``/``area`` when not given). A
        table with such a column of each kind is read as a long table when no format is
        given.
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
