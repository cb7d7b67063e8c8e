"""Shared steps after a table is parsed: filters, long-to-wide aggregation, the AnnData."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence

import anndata as ad
import numpy as np
import pandas as pd

from proteolabel._constants import LAYER_N_VALUES, UNS_READ
from proteolabel.io._values import ReadContext, missing_summary

#: A protein group with a member starting with one of these is a decoy (MaxQuant ``REV__``,
#: FragPipe/Philosopher ``rev_``, OpenSWATH/Skyline ``DECOY_``). Matched case-sensitively.
DECOY_PREFIXES: tuple[str, ...] = ("REV__", "rev_", "DECOY_", "decoy_")
#: A protein group with a member starting with one of these is a contaminant (MaxQuant
#: ``CON__``, FragPipe/Philosopher ``contam_``, the ``Cont_`` tag of common contaminant FASTAs).
CONTAMINANT_PREFIXES: tuple[str, ...] = ("CON__", "contam_", "Cont_")

#: Reasons a feature can be removed, in the order they are attributed (one reason each).
FEATURE_FILTERS: tuple[str, ...] = (
    "decoy", "contaminant", "contaminant_member", "only_identified_by_site",
)

_FLAG_TRUE = frozenset({"+", "true", "t", "yes", "y", "1", "1.0", "x"})


def flag_mask(values: pd.Series) -> np.ndarray:
    """Return True where a flag column is set (``+``, ``True``, ``1``, ``yes``...)."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.fillna(False).to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.fillna(0).to_numpy() != 0
    return values.astype(str).str.strip().str.lower().isin(_FLAG_TRUE).to_numpy()


def member_mask(keys: Sequence[str], prefixes: Sequence[str]) -> np.ndarray:
    """Return True for protein groups with any ``;``-separated member starting with a prefix.

    FASTA-style members (``sp|REV__P1|...``) are checked after their database tag too.
    """
    prefixes = tuple(prefixes)
    out = np.zeros(len(keys), dtype=bool)
    for i, key in enumerate(keys):
        for member in str(key).split(";"):
            member = member.strip()
            if member.startswith(prefixes):
                out[i] = True
                break
            if "|" in member and member.split("|", 2)[1].startswith(prefixes):
                out[i] = True
                break
    return out


def _warn_contaminant_members(ctx, matrix, proteins, mask, var) -> None:
    """Warn about groups removed for a contaminant member the tool did not flag."""
    idx = np.flatnonzero(mask)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-missing columns
        level = np.nanmean(matrix[:, idx], axis=0) if matrix.size else np.zeros(idx.size)
    observed = (~np.isnan(matrix[:, idx])).sum(axis=0) if matrix.size else np.zeros(idx.size)
    order = idx[np.argsort(-np.nan_to_num(level, nan=-np.inf))]
    genes = None
    if var is not None:
        for col in var.columns:
            if str(col).lower().replace("_", " ") in ("gene names", "gene name", "genes"):
                genes = var[col].reset_index(drop=True)
    shown = []
    for i in order[:5]:
        members = str(proteins[i]).split(";")
        name = members[0] + (f";... ({len(members)} members)" if len(members) > 1 else "")
        if genes is not None and isinstance(genes.iloc[i], str) and genes.iloc[i].strip():
            name += f" {genes.iloc[i].split(';')[0]}"
        shown.append(name)
    ctx.warn(
        f"{idx.size} protein groups have a contaminant-database member (CON__...) but are not "
        f"flagged as contaminants by the tool; {int((observed > 0).sum())} of them hold values. "
        f"They are removed like the flagged ones (counted as 'contaminant_member'); the most "
        f"abundant: {shown}. Such groups are often sample proteins that share peptides with "
        "the contaminant database (serum albumin, apolipoproteins in plasma); to keep them pass "
        "keep_contaminant_members=True (CLI: --option keep_contaminant_members=true)."
    )


def feature_reasons(
    keys: Sequence[str],
    flags: Mapping[str, np.ndarray | None] | None = None,
    *,
    use_prefixes: bool = True,
) -> dict[str, np.ndarray]:
    """Combine flag columns and id prefixes into one boolean mask per reason.

    A group with a contaminant-database member (``CON__``...) is a ``"contaminant"`` when the
    file has no contaminant flag column. When it has one, such a group that the tool did not flag
    is a ``"contaminant_member"``: counted and reported apart, since the tool judged the group a
    sample protein (plasma apolipoproteins share peptides with the contaminant database's serum
    proteins), though removed by default like the flagged ones.
    """
    n = len(keys)
    flags = dict(flags or {})
    out: dict[str, np.ndarray] = {}
    for reason in FEATURE_FILTERS:
        mask = flags.get(reason)
        out[reason] = np.zeros(n, dtype=bool) if mask is None else np.asarray(mask, bool).copy()
    if use_prefixes:
        out["decoy"] |= member_mask(keys, DECOY_PREFIXES)
        members = member_mask(keys, CONTAMINANT_PREFIXES)
        if flags.get("contaminant") is None:
            out["contaminant"] |= members
        else:
            out["contaminant_member"] |= members & ~out["contaminant"]
    return out


class LongAccumulator:
    """Aggregate (sample, protein, value) rows into a samples x proteins matrix in batches.

    ``mode="sum"`` sums the values present in each cell (an all-missing cell stays missing,
    like ``sum(min_count=1)``); ``mode="max"`` keeps the largest value present, for a
    protein-level quantity repeated on every precursor row (DIA-NN ``PG.MaxLFQ``). Both count
    the values present per cell. State is a few dense samples x proteins arrays that grow as
    new names appear, so memory depends on the number of cells, never on the number of rows.
    """

    def __init__(self, mode: str = "sum") -> None:
        if mode not in ("sum", "max"):
            raise ValueError(f"mode must be 'sum' or 'max', not {mode!r}")
        self.mode = mode
        self.samples: dict[str, int] = {}
        self.proteins: dict[str, int] = {}
        self._value = np.zeros((0, 0))
        self._count = np.zeros((0, 0), dtype=np.int32)
        self._differs = np.zeros((0, 0), dtype=bool)
        self._rows = np.zeros(0, dtype=np.int64)
        self.n_rows = 0

    def register(self, sample_labels: Sequence[object]) -> None:
        """Make ``sample_labels`` samples even if no row of theirs is added.

        Long readers register every run they see *before* their row filters, so that a run
        whose rows are all filtered out stays in the result as an all-missing sample (see
        :meth:`filtered_out`) instead of disappearing.
        """
        self._global(list(sample_labels), self.samples)

    def filtered_out(self) -> np.ndarray:
        """Return, per sample (in :attr:`samples` order), whether no row of it was added."""
        rows = np.zeros(len(self.samples), dtype=np.int64)
        rows[: self._rows.size] = self._rows
        return rows == 0

    @staticmethod
    def _global(labels: Sequence[object], table: dict[str, int]) -> np.ndarray:
        out = np.empty(len(labels), dtype=np.int64)
        for i, label in enumerate(labels):
            label = str(label)
            code = table.get(label)
            if code is None:
                code = table[label] = len(table)
            out[i] = code
        return out

    def _grow(self) -> None:
        need_s, need_p = len(self.samples), len(self.proteins)
        cap_s, cap_p = self._value.shape
        if need_s <= cap_s and need_p <= cap_p:
            return
        new_s = max(need_s, cap_s * 2 if need_s > cap_s else cap_s)
        new_p = max(need_p, cap_p * 2 if need_p > cap_p else cap_p)
        fill = 0.0 if self.mode == "sum" else -np.inf
        value = np.full((new_s, new_p), fill)
        value[:cap_s, :cap_p] = self._value
        count = np.zeros((new_s, new_p), dtype=np.int32)
        count[:cap_s, :cap_p] = self._count
        differs = np.zeros((new_s, new_p), dtype=bool)
        differs[:cap_s, :cap_p] = self._differs
        self._value, self._count, self._differs = value, count, differs

    def add_codes(self, sample_labels, sample_codes, protein_labels, protein_codes, values):
        """Add rows given as codes into small label arrays (as from ``pd.factorize``)."""
        s = self._global(sample_labels, self.samples)[np.asarray(sample_codes, dtype=np.int64)]
        p = self._global(protein_labels, self.proteins)[np.asarray(protein_codes, dtype=np.int64)]
        self._grow()
        rows = np.bincount(s, minlength=len(self.samples)) if s.size else np.zeros(0, np.int64)
        if rows.size:
            if self._rows.size < rows.size:
                self._rows = np.concatenate([self._rows, np.zeros(rows.size - self._rows.size,
                                                                  dtype=np.int64)])
            self._rows[: rows.size] += rows
        values = np.asarray(values, dtype=np.float64)
        self.n_rows += len(values)
        present = ~np.isnan(values)
        width = self._value.shape[1]
        flat = (s * width + p)[present]
        values = values[present]
        if flat.size == 0:
            return
        # ufunc.at works in place on the flat cells touched: no temporary as large as the matrix
        np.add.at(self._count.reshape(-1), flat, 1)
        if self.mode == "sum":
            np.add.at(self._value.reshape(-1), flat, values)
            return
        cells, inverse = np.unique(flat, return_inverse=True)
        high = np.full(cells.size, -np.inf)
        low = np.full(cells.size, np.inf)
        np.maximum.at(high, inverse, values)
        np.minimum.at(low, inverse, values)
        view = self._value.reshape(-1)
        before = view[cells]
        seen = np.isfinite(before)
        differs = ~np.isclose(low, high, rtol=1e-6, atol=0)
        differs |= seen & ~np.isclose(before, high, rtol=1e-6, atol=0)
        view[cells] = np.maximum(before, high)
        self._differs.reshape(-1)[cells] |= differs

    def add(self, samples, proteins, values) -> None:
        """Add rows given as label arrays."""
        s_codes, s_labels = pd.factorize(np.asarray(samples, dtype=object))
        p_codes, p_labels = pd.factorize(np.asarray(proteins, dtype=object))
        self.add_codes(list(s_labels), s_codes, list(p_labels), p_codes, values)

    def result(self, ctx: ReadContext | None = None, quantity: str = "value"):
        """Return ``(matrix, n_values, sample_names, protein_names)``."""
        self._grow()
        n_s, n_p = len(self.samples), len(self.proteins)
        counts = np.ascontiguousarray(self._count[:n_s, :n_p])
        matrix = np.where(counts > 0, self._value[:n_s, :n_p], np.nan)
        self._value = self._value[:0, :0]  # release the working copy
        if self.mode == "max" and ctx is not None:
            differ = self._differs[:n_s, :n_p] & (counts > 0)
            if differ.any():
                ctx.note(
                    f"{quantity} differed between rows of the same sample and protein in "
                    f"{int(differ.sum())} cells; the largest value was kept"
                )
        return matrix, counts, list(self.samples), list(self.proteins)


#: How to fix two runs of a long report that normalise to one sample name.
RUN_DUPLICATE_HINT = (
    "rename the runs in the file so that their names differ after the directory and the "
    "run-file extension are dropped"
)


def check_unique_samples(
    names: Sequence[str],
    origins: Sequence[str] | None,
    ctx: ReadContext,
    what: str = "header",
    hint: str = "rename the duplicates in the file",
) -> None:
    """Raise if two samples get the same name after normalisation.

    ``origins`` are the names as written in the file (headers, or the run identifiers of a
    long report); the error names them so that the user can tell which entries collide.
    """
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        seen.setdefault(name, []).append(i)
    dups = {k: v for k, v in seen.items() if len(v) > 1}
    if not dups:
        return
    name, where = next(iter(dups.items()))
    shown = [repr(origins[i]) if origins is not None else str(i + 1) for i in where]
    raise ctx.error(
        f"sample name {name!r} occurs {len(where)} times ({what}s {', '.join(shown)} at "
        f"positions {', '.join(str(i + 1) for i in where)}). Sample names must be unique: "
        f"{hint}."
    )


def _check_unique_proteins(ctx: ReadContext, proteins: Sequence[str], keep: np.ndarray,
                           what: str) -> None:
    """Raise if a protein key occurs twice among the kept features, naming where.

    Positions count the features as the file has them (data rows from 1 below the header,
    or columns), so that the copies can be found; two rows of one protein are never summed
    or chosen between silently.
    """
    where: dict[str, list[int]] = {}
    for i, (p, k) in enumerate(zip(proteins, keep, strict=True)):
        if k:
            where.setdefault(p, []).append(i + 1)
    dups = {p: pos for p, pos in where.items() if len(pos) > 1}
    if not dups:
        return
    key, pos = next(iter(dups.items()))
    shown = ", ".join(map(str, pos[:5])) + (" ..." if len(pos) > 5 else "")
    more = (f"; {len(dups) - 1} more protein keys occur more than once, e.g. "
            f"{list(dups)[1:4]}") if len(dups) > 1 else ""
    raise ctx.error(
        f"protein key {key!r} occurs in {len(pos)} {what}s ({what}s {shown}, counting from 1"
        f"{' below the header' if what == 'data row' else ''}){more}. Each {what} must be one "
        "protein group, and values of two are not added up or chosen between: choose a "
        "unique id column (id_column=...) or remove or merge the duplicates."
    )


def run_keys(values: pd.Series) -> pd.Series:
    """Return the run identifiers of a long table as text, exactly as written (stripped).

    Long readers aggregate on these original identifiers and normalise the sample names only
    afterwards, so that two different runs that normalise to one name are reported as a
    duplicate (:func:`check_unique_samples`) instead of being summed. Empty cells become
    ``""`` (an error in :func:`build_anndata`). Whole numbers stored as floats (a numeric
    sample column of a parquet or Excel file: ``1.0``) are written without ``.0``, as wide
    tables and :func:`~proteolabel.io.read_labels` write them, so ids ``1``, ``2`` match.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        labels = run_keys(pd.Series(values.cat.categories, dtype=object)).to_numpy(dtype=object)
        codes = values.cat.codes.to_numpy()
        out = np.where(codes >= 0, labels[np.maximum(codes, 0)] if labels.size else "", "")
        return pd.Series(out, index=values.index, dtype=object)
    if pd.api.types.is_float_dtype(values.dtype):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        whole = np.isfinite(numbers) & (numbers == np.floor(numbers))
        text = values.astype(object).where(values.notna(), "").astype(str).to_numpy(dtype=object)
        text[whole] = numbers[whole].astype(np.int64).astype(str)
        return pd.Series(text, index=values.index, dtype=object).str.strip()
    text = values.astype(object).where(values.notna(), "")
    if text.dtype == object and len(text):
        floats = text.map(lambda v: isinstance(v, float | np.floating)).to_numpy(dtype=bool)
        if floats.any():
            text = text.copy()
            text[floats] = [str(int(v)) if np.isfinite(v) and float(v).is_integer() else str(v)
                            for v in text[floats]]
    return text.astype(str).str.strip()


def _clean_annotation(frame: pd.DataFrame) -> pd.DataFrame:
    """Make annotation columns storable in .h5ad: numbers as float, the rest as text."""
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        values = frame[col]
        if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
            out[str(col)] = values
            continue
        text = values.astype(object)
        blank = text.isna() | text.astype(str).str.strip().isin(["", "nan", "NaN", "NA"])
        num = pd.to_numeric(text.where(~blank), errors="coerce")
        if (num.notna() | blank).all() and num.notna().any():
            out[str(col)] = num.astype(np.float64)
        else:
            cleaned = text.astype(str).str.strip().where(~blank, None)
            out[str(col)] = pd.Series(cleaned, index=frame.index, dtype=object)
    return out


def build_anndata(
    ctx: ReadContext,
    matrix: np.ndarray,
    samples: Sequence[str],
    proteins: Sequence[str],
    *,
    obs: pd.DataFrame | None = None,
    var: pd.DataFrame | None = None,
    n_values: np.ndarray | None = None,
    flags: Mapping[str, np.ndarray | None] | None = None,
    keep: Sequence[str] = (),
    use_prefixes: bool = True,
    sample_origins: Sequence[str] | None = None,
    what: str = "header",
    duplicate_hint: str = "rename the duplicates in the file",
    filtered_out: Sequence[bool] | None = None,
    feature_what: str = "data row",
) -> ad.AnnData:
    """Apply the common feature filters and return the AnnData every reader returns.

    Parameters
    ----------
    ctx
        The read record; becomes ``uns["read"]``.
    matrix
        Samples x proteins, float, NaN = missing (zeros already turned into NaN).
    samples, proteins
        Normalised sample names and protein keys.
    obs, var
        Sample and protein annotations (index ignored, row order as ``samples``/``proteins``).
    n_values
        Number of values summed into each cell (long readers).
    flags
        Boolean masks from flag columns, by reason (see :data:`FEATURE_FILTERS`).
    keep
        Reasons whose features are kept anyway (``"decoy"``, ``"contaminant"``,
        ``"only_identified_by_site"``).
    use_prefixes
        Also detect decoys and contaminants from id prefixes (``REV__``, ``CON__``, ...).
    sample_origins
        The headers or run names the samples came from, for error messages.
    what
        What ``sample_origins`` are (``"header"``, ``"row"``, ``"run"``), for error messages.
    duplicate_hint
        How to fix two samples with the same name, for the error message.
    feature_what
        What a protein is in the file (``"data row"``, ``"column"``), for the error about a
        protein key that occurs twice.
    filtered_out
        Long readers: per sample, whether every row of it was removed by a row filter
        (q-value, decoy, contaminant...; :meth:`LongAccumulator.filtered_out`). Such samples
        stay in the result with no values, and one warning names them.

    """
    matrix = np.asarray(matrix, dtype=np.float64)
    samples = [str(s) for s in samples]
    proteins = [str(p) for p in proteins]
    if matrix.shape != (len(samples), len(proteins)):
        raise AssertionError(f"matrix {matrix.shape} vs {len(samples)}x{len(proteins)}")
    check_unique_samples(samples, sample_origins, ctx, what, duplicate_hint)
    empty_samples = [s for s in samples if not s]
    if empty_samples and what in ("header", "row"):
        raise ctx.error("a sample has an empty name; every sample column/run needs a name.")
    if empty_samples:
        raise ctx.error(f"some rows have an empty {what}, so they belong to no sample: fill "
                        "in the run names, or choose another sample column.")
    emptied = [] if filtered_out is None else [
        s for s, out in zip(samples, filtered_out, strict=True) if out]
    if emptied:
        filters = ", ".join(f"{k} {v}" for k, v in ctx.dropped.items() if k.startswith("rows_"))
        ctx.warn(
            f"{len(emptied)} of {len(samples)} samples had every row removed by the row "
            f"filters (rows removed in all: {filters or 'none counted'}): "
            f"{emptied[:10]}{' ...' if len(emptied) > 10 else ''}. They are kept as samples "
            "without values (and excluded later); to keep their rows, loosen the filter that "
            "removed them (q_value=..., keep_decoys=True, keep_contaminants=True, ...)."
        )

    keep_cols = np.ones(len(proteins), dtype=bool)
    no_id = np.array([not p.strip() for p in proteins], dtype=bool)
    if no_id.any():
        ctx.drop("no_id", [], count=int(no_id.sum()))
        ctx.note(f"{int(no_id.sum())} rows without a protein id were removed")
        keep_cols &= ~no_id
    reasons = feature_reasons(proteins, flags, use_prefixes=use_prefixes)
    taken = no_id.copy()
    for reason in FEATURE_FILTERS:
        mask = reasons[reason] & ~taken
        taken |= reasons[reason]
        if not mask.any():
            continue
        ids = [p for p, m in zip(proteins, mask, strict=True) if m]
        if reason in keep or (reason == "contaminant_member" and "contaminant" in keep):
            ctx.note(f"{len(ids)} {reason.replace('_', ' ')} protein groups kept on request")
            continue
        if reason == "contaminant_member":
            _warn_contaminant_members(ctx, matrix, proteins, mask, var)
        ctx.drop(reason, ids)
        keep_cols &= ~mask
    observed = ~np.isnan(matrix).all(axis=0)
    empty = keep_cols & ~observed
    if empty.any():
        ctx.drop("no_values", [p for p, m in zip(proteins, empty, strict=True) if m])
        keep_cols &= observed

    kept = [p for p, k in zip(proteins, keep_cols, strict=True) if k]
    _check_unique_proteins(ctx, proteins, keep_cols, feature_what)
    X = np.ascontiguousarray(matrix[:, keep_cols])
    obs_df = pd.DataFrame(index=pd.Index(samples, name=None))
    if obs is not None and obs.shape[1]:
        obs_df = _clean_annotation(obs.reset_index(drop=True)).set_index(obs_df.index)
    var_df = pd.DataFrame(index=pd.Index(kept, name=None))
    if var is not None and var.shape[1]:
        var_df = _clean_annotation(var.reset_index(drop=True).loc[keep_cols].reset_index(drop=True))
        var_df.index = pd.Index(kept)
    adata = ad.AnnData(X=X, obs=obs_df, var=var_df)
    if n_values is not None:
        adata.layers[LAYER_N_VALUES] = np.ascontiguousarray(
            np.asarray(n_values)[:, keep_cols], dtype=np.int32
        )

    _warn_log_scale(ctx, X)
    no_value_samples = [s for s, row in zip(samples, np.isnan(X).all(axis=1), strict=True)
                        if row and s not in emptied]
    if no_value_samples and X.shape[1]:
        ctx.warn(
            f"{len(no_value_samples)} samples have no value left for any protein: "
            f"{no_value_samples[:10]}"
        )
    summary = missing_summary(ctx)
    if summary:
        ctx.messages.insert(0, summary)
    adata.uns[UNS_READ] = read_record(ctx, adata)
    return adata


#: Values present needed before "every value is small" says "log scale".
_LOG_EVIDENCE = 10
#: The largest value a log2 intensity reaches (2 ** 64 is far above any MS signal).
_LOG_MAX = 64


def _warn_log_scale(ctx: ReadContext, matrix: np.ndarray) -> None:
    """Warn when every value is at most 64: intensities on a log scale, not linear ones.

    Every tool writes linear intensities, so a tool's file that looks logged was transformed
    after the export (by Perseus, a script, ...); the message says how to read it.
    """
    if ctx.log_base_applied:
        return
    present = matrix[~np.isnan(matrix)]
    if present.size < _LOG_EVIDENCE or present.max() > _LOG_MAX:
        return
    if ctx.takes_log_base:
        fix = "pass log_base=2 (or the base used; CLI: --option log_base=2)"
    else:
        fix = (f"the {ctx.format} format holds linear intensities, so the file was probably "
               "transformed after the export (e.g. by Perseus); read it with --format generic "
               "--option log_base=2 (format='generic', log_base=2 in Python)")
    ctx.warn(f"all values are at most {present.max():.3g}: the table looks log-transformed. "
             f"proteolabel expects linear intensities; {fix}.")


def read_record(ctx: ReadContext, adata: ad.AnnData) -> dict:
    """Return the JSON-serialisable ``uns["read"]`` dictionary."""
    n = adata.n_obs * adata.n_vars
    missing = float(np.isnan(adata.X).sum() / n) if n else 0.0
    record = {
        "path": ctx.path,
        "format": ctx.format,
        "quantity": ctx.quantity or "",
        "n_samples": int(adata.n_obs),
        "n_proteins": int(adata.n_vars),
        "missing_fraction": round(missing, 6),
        "dropped": {k: int(v) for k, v in ctx.dropped.items()},
        "dropped_proteins": {k: list(v) for k, v in ctx.dropped_proteins.items()},
        "missing_tokens": {k: int(v) for k, v in sorted(ctx.token_counts.items()) if v},
        "messages": list(ctx.messages),
        "warnings": list(ctx.warnings),
    }
    for key, value in ctx.extra.items():
        record[key] = value
    json.dumps(record)  # fail here, not in the caller, if something is not serialisable
    return record


def sample_annotations(
    frame: pd.DataFrame,
    samples: pd.Series,
    columns: Sequence[str],
    ctx: ReadContext,
    order: Sequence[str],
) -> pd.DataFrame:
    """Keep the annotation ``columns`` of a long table that are constant within each sample.

    Returns a frame with one row per name in ``order``; a column that varies within a sample
    is left out with a message.
    """
    out = pd.DataFrame(index=pd.Index(list(order)))
    for col in dict.fromkeys(columns):
        if col is None or col not in frame.columns:
            continue
        values = frame[col]
        if not (pd.api.types.is_numeric_dtype(values.dtype)
                or pd.api.types.is_bool_dtype(values.dtype)):
            values = values.astype(str).str.strip().replace({"": None})
        per = pd.DataFrame({"s": samples.to_numpy(), "v": values.to_numpy()})
        n_unique = per.groupby("s", sort=False)["v"].nunique(dropna=True)
        if (n_unique > 1).any():
            ctx.note(f"column {col!r} varies within a sample, so it was not kept as annotation")
            continue
        first = per.dropna(subset=["v"]).drop_duplicates("s").set_index("s")["v"]
        out[str(col)] = first.reindex(out.index).to_numpy()
    return out
