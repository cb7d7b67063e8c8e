"""MaxQuant: ``proteinGroups.txt`` and ``evidence.txt`` / ``peptides.txt``.

Both spellings of the headers are accepted: MaxQuant's own (``LFQ intensity K48_1``,
``Potential contaminant``) and the R-mangled form of files read with ``read.delim``
(``LFQ.intensity.K48_1``, ``Potential.contaminant``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import anndata as ad
import numpy as np
import pandas as pd

from proteolabel.io._build import LongAccumulator, build_anndata, flag_mask
from proteolabel.io._names import canonical, find_column, normalize_sample_name
from proteolabel.io._registry import register_reader
from proteolabel.io._tables import Table
from proteolabel.io._values import ReadContext, parse_numeric

#: Column families of proteinGroups.txt by ``quantity`` name: (regex, prefix stripped).
MAXQUANT_QUANTITIES: dict[str, re.Pattern[str]] = {
    "lfq": re.compile(r"^(LFQ[ ._]intensity[ ._])(.+)$", re.IGNORECASE),
    "intensity": re.compile(r"^(Intensity[ ._])(.+)$", re.IGNORECASE),
    "ibaq": re.compile(r"^(iBAQ[ ._])(.+)$", re.IGNORECASE),
}
_QUANTITY_LABEL = {"lfq": "LFQ intensity", "intensity": "Intensity", "ibaq": "iBAQ"}
#: Sample parts that are not samples (``iBAQ peptides``, SILAC channel totals ``Intensity L``).
_NOT_SAMPLES = frozenset({"peptides", "l", "m", "h"})

_DECOY_COLUMNS = ("Reverse", "Decoy")
_CONTAMINANT_COLUMNS = ("Potential contaminant", "Contaminant")
_SITE_COLUMNS = ("Only identified by site",)
_VAR_COLUMNS = ("Gene names", "Protein names", "Majority protein IDs")


def quantity_columns(columns: Sequence[str], quantity: str) -> list[tuple[str, str, str]]:
    """Return ``(column, prefix, sample)`` for every column of a MaxQuant quantity family."""
    pattern = MAXQUANT_QUANTITIES[quantity]
    out = []
    for col in columns:
        match = pattern.match(col)
        if not match:
            continue
        sample = match.group(2).strip()
        if sample.lower() in _NOT_SAMPLES:
            continue
        out.append((col, match.group(1), sample))
    return out


def _sniff_protein_groups(name: str, columns: Sequence[str]) -> float:
    has_id = find_column(columns, "Protein IDs", "Majority protein IDs") is not None
    has_quant = any(quantity_columns(columns, q) for q in MAXQUANT_QUANTITIES)
    if has_id and has_quant:
        return 1.0
    if has_id and "proteingroups" in name.lower():
        return 0.8
    return 0.0


def _flag_columns(table: Table, ctx: ReadContext, warn: bool = True) -> dict[str, str | None]:
    cols = {
        "decoy": find_column(table.columns, *_DECOY_COLUMNS),
        "contaminant": find_column(table.columns, *_CONTAMINANT_COLUMNS),
        "only_identified_by_site": find_column(table.columns, *_SITE_COLUMNS),
    }
    if warn and cols["decoy"] is None and cols["contaminant"] is None:
        ctx.warn(
            "none of the columns Reverse/Decoy/Potential contaminant/Contaminant exists, so "
            "decoys and contaminants are recognised only by REV__/CON__ id prefixes. Check "
            "that the file is MaxQuant's unfiltered output."
        )
    return cols


def _choose_quantity(table: Table, ctx: ReadContext, quantity: str | None):
    """Resolve ``quantity`` to a family of columns; fall back from LFQ with a warning."""
    if quantity is not None and quantity.lower() not in MAXQUANT_QUANTITIES:
        raise ctx.error(
            f"unknown MaxQuant quantity {quantity!r}; choose one of "
            f"{sorted(MAXQUANT_QUANTITIES)}."
        )
    wanted = (quantity or "lfq").lower()
    found = {q: quantity_columns(table.columns, q) for q in MAXQUANT_QUANTITIES}
    if found[wanted]:
        return wanted, found[wanted]
    present = [q for q in ("lfq", "intensity", "ibaq") if found[q]]
    if quantity is None and present:
        chosen = present[0]
        ctx.warn(
            f"no 'LFQ intensity' columns (LFQ was not run in MaxQuant); read "
            f"'{_QUANTITY_LABEL[chosen]}' columns instead. Pass quantity=... to choose."
        )
        return chosen, found[chosen]
    looked = ", ".join(f"'{_QUANTITY_LABEL[q]} <sample>'" for q in MAXQUANT_QUANTITIES)
    raise ctx.error(
        f"no '{_QUANTITY_LABEL[wanted]} <sample>' columns found. Looked for {looked} (spaced "
        f"or dotted); present families: {present or 'none'}. The file has columns "
        f"{table.columns[:30]}{' ...' if len(table.columns) > 30 else ''}."
    )


@register_reader(
    "maxquant",
    sniff=_sniff_protein_groups,
    description="MaxQuant proteinGroups.txt (LFQ intensity, Intensity or iBAQ per sample)",
)
def read_maxquant(
    table: Table,
    ctx: ReadContext,
    *,
    quantity: str | None = None,
    id_column: str | None = None,
    keep_decoys: bool = False,
    keep_contaminants: bool = False,
    keep_site_only: bool = False,
) -> ad.AnnData:
    """Read a MaxQuant ``proteinGroups.txt``.

    Parameters
    ----------
    table
        The opened file.
    ctx
        The read record.
    quantity
        ``"lfq"`` (``LFQ intensity <sample>``, the default), ``"intensity"`` or ``"ibaq"``.
        When no LFQ columns exist and ``quantity`` is not given, ``Intensity`` is read with a
        warning.
    id_column
        The protein key (default ``Protein IDs``; the whole group string, never split).
    keep_decoys, keep_contaminants, keep_site_only
        Keep rows flagged ``+`` in ``Reverse``/``Decoy``, ``Potential contaminant``/
        ``Contaminant`` (or with a ``REV__``/``CON__`` member), ``Only identified by site``.
        By default they are removed and counted in ``uns["read"]["dropped"]``.

    Returns
    -------
    anndata.AnnData
        See :func:`proteolabel.io.read`.

    """
    chosen, qcols = _choose_quantity(table, ctx, quantity)
    ctx.quantity = f"{_QUANTITY_LABEL[chosen]} ({chosen})"
    key = id_column or find_column(table.columns, "Protein IDs", "Majority protein IDs")
    if key is None or key not in table.columns:
        raise ctx.error(
            f"no protein id column {id_column or 'Protein IDs'!r}; columns are "
            f"{table.columns[:30]}"
        )
    flag_cols = _flag_columns(table, ctx)
    value_cols = [c for c, _, _ in qcols]
    var_cols = [c for c in (find_column(table.columns, v) for v in _VAR_COLUMNS) if c and c != key]
    needed = [key, *value_cols, *[c for c in flag_cols.values() if c], *var_cols]
    frame = table.read(needed, ctx, value_columns=value_cols)

    samples = [normalize_sample_name(s) for _, _, s in qcols]
    matrix = np.column_stack(
        [parse_numeric(frame[c], c, ctx) for c in value_cols]
    ) if value_cols else np.empty((len(frame), 0))
    flags = {r: (flag_mask(frame[c]) if c else None) for r, c in flag_cols.items()}
    keep = [r for r, k in (("decoy", keep_decoys), ("contaminant", keep_contaminants),
                           ("only_identified_by_site", keep_site_only)) if k]
    proteins = frame[key].astype(str).str.strip().tolist()
    var = frame[var_cols].rename(columns=lambda c: canonical(c).replace(" ", "_"))
    return build_anndata(
        ctx, matrix.T, samples, proteins, var=var, flags=flags, keep=keep,
        sample_origins=value_cols,
    )


# ---------------------------------------------------------------------------------------------
# evidence.txt / peptides.txt


def _sniff_evidence(name: str, columns: Sequence[str]) -> float:
    raw = find_column(columns, "Raw file") is not None
    seq = find_column(columns, "Sequence", "Modified sequence") is not None
    prot = find_column(columns, "Leading razor protein", "Proteins") is not None
    if raw and seq and prot and find_column(columns, "Intensity") is not None:
        return 1.0
    if seq and prot and quantity_columns(columns, "intensity") and not raw:
        if find_column(columns, "Protein IDs") is None:
            return 0.9  # peptides.txt: one 'Intensity <experiment>' column per sample
    return 0.0


@register_reader(
    "maxquant_evidence",
    sniff=_sniff_evidence,
    description="MaxQuant evidence.txt or peptides.txt, peptide intensities summed per protein",
)
def read_maxquant_evidence(
    table: Table,
    ctx: ReadContext,
    *,
    protein_column: str | None = None,
    sample_column: str | None = None,
    keep_decoys: bool = False,
    keep_contaminants: bool = False,
) -> ad.AnnData:
    """Read MaxQuant ``evidence.txt`` (long) or ``peptides.txt`` (wide), summed per protein.

    Peptide (evidence) intensities are summed per (sample, protein) over the values present;
    a protein with no value in a sample stays missing. ``layers["n_values"]`` counts the
    values summed.

    Parameters
    ----------
    table
        The opened file.
    ctx
        The read record.
    protein_column
        Protein key (default ``Leading razor protein``, else ``Proteins``).
    sample_column
        evidence.txt: the sample column (default ``Raw file``; ``Experiment`` is another
        choice). peptides.txt has one ``Intensity <experiment>`` column per sample.
    keep_decoys, keep_contaminants
        Keep rows flagged in ``Reverse``/``Decoy`` or ``Potential contaminant`` (or with a
        ``REV__``/``CON__`` protein).

    Returns
    -------
    anndata.AnnData
        See :func:`proteolabel.io.read`.

    """
    prot = protein_column or find_column(table.columns, "Leading razor protein", "Proteins")
    if prot is None or prot not in table.columns:
        raise ctx.error(f"no protein column; columns are {table.columns[:30]}")
    flag_cols = _flag_columns(table, ctx)
    flag_cols.pop("only_identified_by_site")
    flag_list = [c for c in flag_cols.values() if c]
    run = sample_column or find_column(table.columns, "Raw file")
    acc = LongAccumulator("sum")
    if run is not None and find_column(table.columns, "Intensity") is not None:
        value = find_column(table.columns, "Intensity")
        ctx.quantity = f"{value} (evidence rows summed per protein)"
        frame = table.read([prot, run, value, *flag_list], ctx, value_columns=[value])
        values = parse_numeric(frame[value], value, ctx)
        rows = _row_filter(frame, flag_cols, ctx, keep_decoys, keep_contaminants)
        samples = frame[run].map(normalize_sample_name)
        acc.add(samples[rows].to_numpy(), frame[prot][rows].to_numpy(), values[rows])
        origins = None
    else:
        qcols = quantity_columns(table.columns, "intensity")
        if not qcols:
            raise ctx.error(
                "found neither 'Raw file' + 'Intensity' (evidence.txt) nor 'Intensity <sample>' "
                f"columns (peptides.txt); columns are {table.columns[:30]}"
            )
        ctx.quantity = "Intensity <sample> (peptides summed per protein)"
        value_cols = [c for c, _, _ in qcols]
        frame = table.read([prot, *value_cols, *flag_list], ctx, value_columns=value_cols)
        rows = _row_filter(frame, flag_cols, ctx, keep_decoys, keep_contaminants)
        proteins = frame[prot][rows].to_numpy()
        for col, _, sample in qcols:
            values = parse_numeric(frame[col], col, ctx)[rows]
            acc.add(np.full(len(values), normalize_sample_name(sample), dtype=object),
                    proteins, values)
        origins = value_cols
    matrix, counts, samples, proteins = acc.result(ctx)
    empty_key = [not p.strip() or p == "nan" for p in proteins]
    if any(empty_key):
        proteins = ["" if e else p for p, e in zip(proteins, empty_key, strict=True)]
    keep = [r for r, k in (("decoy", keep_decoys), ("contaminant", keep_contaminants)) if k]
    if origins is not None and len(origins) != len(samples):
        origins = None
    return build_anndata(ctx, matrix, samples, proteins, n_values=counts, keep=keep,
                         sample_origins=origins)


def _row_filter(frame: pd.DataFrame, flag_cols, ctx: ReadContext, keep_decoys, keep_contaminants):
    """Drop rows flagged as decoy/contaminant, counting rows."""
    rows = np.ones(len(frame), dtype=bool)
    for reason, col, kept in (("decoy", flag_cols.get("decoy"), keep_decoys),
                              ("contaminant", flag_cols.get("contaminant"), keep_contaminants)):
        if col is None or kept:
            continue
        mask = flag_mask(frame[col]) & rows
        if mask.any():
            ctx.drop(f"rows_{reason}", [], count=int(mask.sum()))
            rows &= ~mask
    return rows
