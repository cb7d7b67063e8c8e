"""Skyline long report exports (also the MSstats report form with R-dotted column names)."""

from __future__ import annotations

from collections.abc import Sequence

import anndata as ad
import numpy as np
import pandas as pd

from proteolabel.io._build import (
    RUN_DUPLICATE_HINT,
    LongAccumulator,
    build_anndata,
    flag_mask,
    run_keys,
    sample_annotations,
)
from proteolabel.io._names import find_column, normalize_sample_name
from proteolabel.io._registry import register_reader
from proteolabel.io._tables import Table
from proteolabel.io._values import ReadContext, parse_numeric

_PROTEIN = ("Protein Name", "Protein", "Protein Accession")
_PEPTIDE = ("Peptide Modified Sequence", "Peptide Sequence", "Modified Sequence",
            "Peptide Modified Sequence Monoisotopic Masses", "Peptide")
_SAMPLE = ("Replicate Name", "Replicate", "File Name")
#: ``quantity`` names of Skyline area columns.
SKYLINE_QUANTITIES: dict[str, str] = {
    "total_area": "Total Area",
    "area": "Area",
    "total_area_fragment": "Total Area Fragment",
    "total_area_ms1": "Total Area MS1",
    "normalized_area": "Normalized Area",
}
_ANNOTATIONS = ("Condition", "BioReplicate", "Sample Group", "Batch", "Replicate Name",
                "File Name", "Sample Type")
#: Columns that together identify a precursor (with the protein and the replicate/file): every
#: one present is used, so modified forms of one sequence stay apart.
_PRECURSOR_KEYS = (
    "Peptide Modified Sequence", "Peptide Modified Sequence Monoisotopic Masses",
    "Peptide Modified Sequence Average Masses", "Peptide Modified Sequence Full Names",
    "Peptide Modified Sequence Three Letter Codes", "Peptide Modified Sequence Unimod Ids",
    "Modified Sequence", "Peptide Sequence", "Peptide", "Precursor", "Precursor Mz",
    "Precursor Neutral Mass", "Precursor Charge", "Isotope Label Type",
)
#: Columns that identify a transition within its precursor.
_TRANSITION_KEYS = ("Fragment Ion", "Product Charge", "Product Mz")


def _sniff(name: str, columns: Sequence[str]) -> float:
    prot = find_column(columns, *_PROTEIN[:1])
    sample = find_column(columns, *_SAMPLE)
    area = find_column(columns, *SKYLINE_QUANTITIES.values())
    if prot and sample and area:
        return 1.0
    if (find_column(columns, *_PROTEIN) and not sample and _pivot_family(columns, None)
            and find_column(columns, *_PEPTIDE, "Precursor", "Fragment Ion")):
        return 0.9  # a report pivoted by replicate (Document Grid "Pivot Replicate Name")
    return 0.0


#: The replicate column made when a report pivoted by replicate is unpivoted.
_PIVOT_REPLICATE = "Replicate Name"


def _pivot_family(columns: Sequence[str], quantity: str | None) -> list[tuple[str, str, str]]:
    """Return ``(column, replicate, caption)`` for the area columns of a pivoted report.

    Skyline's pivot by replicate names a column ``<replicate> <caption>`` (``D103 Total
    Area``). The family is ``quantity`` (a name of :data:`SKYLINE_QUANTITIES` or a caption)
    or the first present of Area (when there are fragment rows), Total Area, and the others.
    """
    if quantity is not None:
        captions = [SKYLINE_QUANTITIES.get(quantity.lower(), quantity)]
    else:
        has_fragments = find_column(columns, "Fragment Ion") is not None
        order = ("area", "total_area") if has_fragments else ("total_area", "area")
        order += ("total_area_fragment", "total_area_ms1", "normalized_area")
        captions = [SKYLINE_QUANTITIES[q] for q in order]
    longer = sorted(SKYLINE_QUANTITIES.values(), key=len, reverse=True)
    for caption in captions:
        found = []
        for col in columns:
            # the longest caption a column ends with is its own ('X Total Area' is not 'Area')
            own = next((c for c in longer if col.endswith(" " + c) and col[: -len(c) - 1].strip()),
                       None)
            if own == caption or (own is None and quantity is not None
                                  and col.endswith(" " + caption)):
                found.append((col, col[: -len(caption) - 1].strip(), caption))
        if found:
            return found
    return []


def _melt(wide: pd.DataFrame, keys: list[str], pivot: list[tuple[str, str, str]], run: str,
          value: str) -> pd.DataFrame:
    """Turn a report pivoted by replicate into one row per (row, replicate)."""
    parts = []
    for col, replicate, _ in pivot:
        part = wide[keys].copy()
        part[run] = replicate
        part[value] = wide[col].to_numpy()
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _value_column(table: Table, ctx: ReadContext, quantity: str | None) -> str:
    if quantity is not None:
        col = find_column(table.columns, SKYLINE_QUANTITIES.get(quantity.lower(), quantity))
        if col is None:
            raise ctx.error(
                f"no area column {quantity!r}; choose one of {sorted(SKYLINE_QUANTITIES)} or a "
                f"column name. Columns are {table.columns}."
            )
        return col
    has_fragments = find_column(table.columns, "Fragment Ion") is not None
    order = ("area", "total_area") if has_fragments else ("total_area", "area")
    order += ("total_area_fragment", "total_area_ms1", "normalized_area")
    for q in order:
        col = find_column(table.columns, SKYLINE_QUANTITIES[q])
        if col is not None:
            return col
    looked = ", ".join(SKYLINE_QUANTITIES.values())
    raise ctx.error(f"no area column found (looked for {looked}); columns are {table.columns}.")


@register_reader(
    "skyline",
    sniff=_sniff,
    description="Skyline long report (Protein Name, peptide, Replicate/File Name, Total Area/Area)",
)
def read_skyline(
    table: Table,
    ctx: ReadContext,
    *,
    quantity: str | None = None,
    sample_column: str | None = None,
    protein_column: str | None = None,
    isotope_label: str | None = "light",
    drop_standard_types: Sequence[str] = ("iRT",),
    keep_non_quantitative: bool = False,
    keep_decoys: bool = False,
    keep_contaminants: bool = False,
) -> ad.AnnData:
    """Read a Skyline report and sum areas per (replicate, protein).

    Every row (transition, precursor isotope, peptide) of a protein in a replicate adds its
    area to the cell; values present are summed and an all-missing cell stays missing.
    ``layers["n_values"]`` holds the number of areas summed, so partial sums are visible.
    A replicate whose rows are all removed by the filters below stays in the result as a
    sample without values, with a warning.

    Parameters
    ----------
    table
        The opened file.
    ctx
        The read record.
    quantity
        ``"area"`` (transition ``Area``; the default when a ``Fragment Ion`` column exists),
        ``"total_area"`` (``Total Area``; the default otherwise), ``"total_area_fragment"``,
        ``"total_area_ms1"``, ``"normalized_area"`` or a column name. A precursor total
        (``Total Area...``) repeated on each transition row is counted once per precursor.
        A precursor is identified by the protein, the replicate (and file), and every one of
        these columns present: peptide (modified) sequence, ``Precursor Mz``, ``Precursor
        Charge``, ``Isotope Label Type``. If those do not tell two precursors apart (the
        same transition appears twice under one key, e.g. a sequence with and without an
        oxidised methionine but no modified-sequence or m/z column), each repeat of a
        transition is taken as another precursor, with a warning.
    sample_column
        Default ``Replicate Name``, else ``File Name``. Rows are aggregated per value as
        written; sample names are base names, and two different values with the same base
        name (``b1/S01.raw``, ``b2/S01.raw``) are an error.
    protein_column
        Default ``Protein Name``, kept as written.
    isotope_label
        Keep only rows of this ``Isotope Label Type`` (``"light"``: heavy rows are spiked
        standards); ``None`` keeps all.
    drop_standard_types
        Rows whose ``Standard Type`` is one of these are removed (iRT peptides are spiked).
    keep_non_quantitative
        Keep transitions whose ``Quantitative`` column is false when transition areas
        (``Area``) are summed. By default they are removed (counted as
        ``rows_not_quantitative``), as Skyline leaves them out of its own peptide and protein
        quantities; they are typically precursor or qualifier ions.
    keep_decoys, keep_contaminants
        Keep decoy rows (``Is Decoy`` true or protein ``Decoys``) or contaminant groups.

    Returns
    -------
    anndata.AnnData
        See :func:`proteolabel.io.read`.

    """
    prot = protein_column or find_column(table.columns, *_PROTEIN)
    run = sample_column or find_column(table.columns, *_SAMPLE)
    pivot = _pivot_family(table.columns, quantity) if run is None else []
    if prot is None or (run is None and not pivot):
        raise ctx.error(
            f"needs a protein column ({'/'.join(_PROTEIN)}) and a sample column "
            f"({'/'.join(_SAMPLE)}), or one '<replicate> <area>' column per replicate (a "
            f"report pivoted by replicate); columns are {table.columns}."
        )
    if pivot:
        value, run = pivot[0][2], _PIVOT_REPLICATE
        ctx.note(f"report pivoted by replicate: {len(pivot)} '<replicate> {value}' columns "
                 f"(e.g. {pivot[0][0]!r}) read as one sample each")
    else:
        value = _value_column(table, ctx, quantity)
    ctx.quantity = f"{value} (summed per replicate and protein)"
    peptide = find_column(table.columns, *_PEPTIDE)
    label = find_column(table.columns, "Isotope Label Type")
    standard = find_column(table.columns, "Standard Type")
    decoy = find_column(table.columns, "Is Decoy")
    quantitative = find_column(table.columns, "Quantitative")
    annotations = [c for c in (find_column(table.columns, a) for a in _ANNOTATIONS)
                   if c and c != run]
    precursor_keys = [c for c in (find_column(table.columns, k) for k in _PRECURSOR_KEYS) if c]
    transition_keys = [c for c in (find_column(table.columns, k) for k in _TRANSITION_KEYS) if c]
    replicate_keys = [c for c in (find_column(table.columns, k) for k in _SAMPLE) if c]
    needed = [prot, run, value, *[c for c in (peptide, label, standard, decoy, quantitative) if c],
              *annotations, *precursor_keys, *transition_keys, *replicate_keys]
    if pivot:
        needed = [c for c in dict.fromkeys(needed) if c not in (run, value)]
        wide = table.read(list(dict.fromkeys([*needed, *(c for c, _, _ in pivot)])), ctx,
                          value_columns=[c for c, _, _ in pivot])
        frame = _melt(wide, needed, pivot, run, value)
    else:
        frame = table.read(list(dict.fromkeys(needed)), ctx, value_columns=[value])
    values = parse_numeric(frame[value], value, ctx)
    runs = run_keys(frame[run])
    acc = LongAccumulator("sum")
    acc.register(runs.unique())  # before the filters: a replicate filtered away stays, empty
    rows = np.ones(len(frame), dtype=bool)

    def _drop(mask: np.ndarray, reason: str, note: str) -> None:
        nonlocal rows
        mask = mask & rows
        if mask.any():
            ctx.drop(reason, [], count=int(mask.sum()))
            ctx.note(f"{int(mask.sum())} rows removed: {note}")
            rows &= ~mask

    if decoy and not keep_decoys:
        _drop(flag_mask(frame[decoy]), "rows_decoy", f"{decoy} is true")
    if not keep_decoys:
        _drop(frame[prot].astype(str).str.strip().eq("Decoys").to_numpy(), "rows_decoy",
              "protein 'Decoys'")
    if standard and drop_standard_types:
        types = {t.lower() for t in drop_standard_types}
        _drop(frame[standard].astype(str).str.strip().str.lower().isin(types).to_numpy(),
              "rows_standard", f"{standard} in {list(drop_standard_types)}")
    if quantitative and not keep_non_quantitative and not value.lower().startswith("total"):
        # a transition property: it matters where transition areas are summed, not for a
        # precursor total repeated on each transition row
        _drop(_false_mask(frame[quantitative], quantitative, ctx), "rows_not_quantitative",
              f"{quantitative} is false (Skyline does not quantify with these transitions; "
              "keep them with keep_non_quantitative=True)")
    if label and isotope_label is not None:
        labels = frame[label].astype(str).str.strip().str.lower()
        if not labels.eq(isotope_label.lower()).any():
            raise ctx.error(
                f"no rows with {label} {isotope_label!r}; the file has "
                f"{sorted(labels.unique())}. Pass isotope_label=None to keep all."
            )
        _drop(~labels.eq(isotope_label.lower()).to_numpy(), "rows_isotope_label",
              f"{label} is not {isotope_label!r}")
    if value.lower().startswith("total") and transition_keys:
        rows &= ~_repeated_totals(frame, rows, [run, prot, *replicate_keys, *precursor_keys],
                                  transition_keys, value, ctx)

    acc.add(runs[rows].to_numpy(), frame[prot].astype(str).str.strip()[rows].to_numpy(),
            values[rows])
    matrix, counts, names, proteins = acc.result(ctx)
    obs = sample_annotations(frame, runs, annotations, ctx, names)  # filtered runs too
    partial = _partial_cells(counts)
    if partial:
        ctx.note(
            f"{partial} cells are sums over fewer values than the same protein has in other "
            "samples (see layers['n_values'])"
        )
    keep = [r for r, k in (("decoy", keep_decoys), ("contaminant", keep_contaminants)) if k]
    return build_anndata(ctx, matrix, [normalize_sample_name(n) for n in names], proteins,
                         obs=obs, n_values=counts, keep=keep, sample_origins=names,
                         what=f"{run!r} value", filtered_out=acc.filtered_out(),
                         duplicate_hint=f"{RUN_DUPLICATE_HINT}, or choose another sample "
                         "column (sample_column=..., for example 'Replicate Name')")


_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})
_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})


def _false_mask(values: pd.Series, column: str, ctx: ReadContext) -> np.ndarray:
    """Return True where a true/false column is false; other text is an error naming it."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return ~values.fillna(True).to_numpy(dtype=bool)
    text = values.astype(str).str.strip().str.lower()
    odd = ~text.isin(_FALSE | _TRUE | {"", "nan", "#n/a"})
    if odd.any():
        i = int(np.flatnonzero(odd.to_numpy())[0])
        raise ctx.error(f"column {column!r} should hold True or False but row {i + 1} holds "
                        f"{values.iloc[i]!r}.")
    return text.isin(_FALSE).to_numpy()


def _repeated_totals(frame: pd.DataFrame, rows: np.ndarray, keys: list[str],
                     transitions: list[str], value: str, ctx: ReadContext) -> np.ndarray:
    """Mark the kept rows that repeat a precursor total already counted.

    A precursor-level total (``Total Area``) is written on every transition row of the
    precursor; it must be summed once per precursor. Rows are one precursor when they share
    ``keys``. When a transition occurs twice under one key, the key does not tell two
    precursors apart (say, a peptide with and without an oxidised methionine and no
    modified-sequence column): the n-th occurrence of each transition is then taken as the
    n-th precursor, and a warning says so.
    """
    keys = list(dict.fromkeys(keys))
    kept = frame.loc[rows, list(dict.fromkeys([*keys, *transitions]))].astype(str)
    repeat = kept.groupby([*keys, *transitions], sort=False, dropna=False).cumcount()
    if (repeat > 0).any():
        n_groups = int(kept.loc[repeat > 0, keys].drop_duplicates().shape[0])
        ctx.warn(
            f"{n_groups} precursor keys ({', '.join(map(repr, keys))}) hold the same "
            f"transition ({', '.join(map(repr, transitions))}) more than once, so they do not "
            f"tell precursors apart; each repeat of a transition was counted as another "
            f"precursor, with its own {value}. Export 'Peptide Modified Sequence', 'Precursor "
            "Mz' and 'Product Charge' from Skyline to identify precursors and transitions "
            "exactly, or read quantity='area'."
        )
    kept = kept.assign(_repeat=repeat.to_numpy())
    dup_kept = kept.duplicated(subset=[*keys, "_repeat"]).to_numpy()
    dup = np.zeros(len(frame), dtype=bool)
    dup[np.flatnonzero(rows)] = dup_kept
    if dup.any():
        ctx.note(f"{int(dup.sum())} repeated {value} rows (one per transition) counted once "
                 "per precursor")
    return dup


def _partial_cells(counts: np.ndarray) -> int:
    """Count present cells summed over fewer values than the protein's maximum."""
    if counts.size == 0:
        return 0
    top = counts.max(axis=0, keepdims=True)
    return int(((counts > 0) & (counts < top)).sum())
