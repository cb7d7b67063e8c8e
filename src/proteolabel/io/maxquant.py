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

from proteolabel.io._build import (
    RUN_DUPLICATE_HINT,
    LongAccumulator,
    build_anndata,
    flag_mask,
    run_keys,
)
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
#: Sample parts that are not samples (``iBAQ peptides``); SILAC channel totals such as
#: ``Intensity L`` are left out too, when the file has SILAC channels (:func:`channel_letters`).
_NOT_SAMPLES = frozenset({"peptides"})
#: SILAC channel letters of MaxQuant (light, medium, heavy).
_CHANNELS = frozenset({"l", "m", "h"})
#: The sample part of a channel column: ``L S1`` in ``Intensity L S1``.
_CHANNEL_PART = re.compile(r"^([LMH])[ ._](.+)$", re.IGNORECASE)
#: A SILAC ratio column: ``Ratio H/L``, ``Ratio H/L normalized S1``.
_RATIO = re.compile(r"^Ratio[ ._]([LMH])[/.]([LMH])\b", re.IGNORECASE)

_DECOY_COLUMNS = ("Reverse", "Decoy")
_CONTAMINANT_COLUMNS = ("Potential contaminant", "Contaminant")
_SITE_COLUMNS = ("Only identified by site",)
_VAR_COLUMNS = ("Gene names", "Protein names", "Majority protein IDs")


def quantity_columns(columns: Sequence[str], quantity: str) -> list[tuple[str, str, str]]:
    """Return ``(column, prefix, sample)`` for every column of a MaxQuant quantity family."""
    pattern = MAXQUANT_QUANTITIES[quantity]
    skip = _NOT_SAMPLES | {c.lower() for c in channel_letters(columns, quantity)}
    out = []
    for col in columns:
        match = pattern.match(col)
        if not match:
            continue
        sample = match.group(2).strip()
        if sample.lower() in skip:
            continue
        out.append((col, match.group(1), sample))
    return out


def channel_letters(columns: Sequence[str], quantity: str) -> list[str]:
    """Return the SILAC channels (``L``, ``M``, ``H``) whose totals a quantity family has.

    MaxQuant writes ``Intensity L`` / ``Intensity H`` (all experiments) only for labelled
    runs; their presence (in the family, or in the ``Intensity`` family, which every
    proteinGroups.txt has) is what marks ``LFQ intensity L S1`` as a channel column rather
    than an experiment called ``L S1``. A letter counts only when channel columns
    (``Intensity H S1``) or ratios (``Ratio H/L``) exist too: without them, ``Intensity H``
    is a label-free experiment called ``H``.
    """
    found = []
    per_experiment = set()  # letters with 'Intensity H <experiment>' columns or ratios
    for family in dict.fromkeys([quantity, "intensity"]):
        pattern = MAXQUANT_QUANTITIES[family]
        for col in columns:
            match = pattern.match(col)
            if not match:
                continue
            part = match.group(2).strip()
            if part.lower() in _CHANNELS:
                found.append(part.upper())
            elif channel := _CHANNEL_PART.match(part):
                per_experiment.add(channel.group(1).upper())
    for col in columns:
        if ratio := _RATIO.match(col):
            per_experiment.update(ratio.group(1, 2))
    # label-free experiments may be called L, M or H: only channel columns next to the
    # totals make them SILAC channels
    return sorted(set(found) & per_experiment, key="LMH".index)


def select_channel(
    qcols: list[tuple[str, str, str]],
    columns: Sequence[str],
    quantity: str,
    channel: str | None,
    ctx: ReadContext,
) -> list[tuple[str, str, str]]:
    """Keep either the per-experiment totals or one SILAC channel, never a mix of both.

    ``Intensity S1`` is the sum of the channels ``Intensity L S1`` and ``Intensity H S1``;
    reading all three would make each channel a sample of its own next to the total.
    Returns ``(column, prefix, experiment)`` triples.
    """
    label = _QUANTITY_LABEL[quantity]
    letters = channel_letters(columns, quantity)
    if not letters:
        if channel is not None:
            raise ctx.error(
                f"channel={channel!r} was given but the file has no SILAC channel columns "
                f"('{label} L <experiment>', '{label} H <experiment>'); leave channel unset."
            )
        return qcols
    totals: list[tuple[str, str, str]] = []
    by_channel: dict[str, list[tuple[str, str, str]]] = {}
    for col, prefix, sample in qcols:
        match = _CHANNEL_PART.match(sample)
        if match and match.group(1).upper() in letters:
            by_channel.setdefault(match.group(1).upper(), []).append(
                (col, prefix, match.group(2).strip()))
        else:
            totals.append((col, prefix, sample))
    shown = ", ".join(f"'{label} {c} <experiment>'" for c in letters)
    if channel is None:
        if not totals:
            raise ctx.error(
                f"the file has only SILAC channel columns ({shown}) and no per-experiment "
                f"'{label} <experiment>' totals. Pass channel='{letters[0]}' (one of "
                f"{letters}) to read one channel, or quantity='intensity' for the totals."
            )
        ctx.note(
            f"SILAC channels {letters} found: read the per-experiment totals "
            f"'{label} <experiment>' (the sum of the channels); the channel columns ({shown}) "
            "were not read. Pass channel=... to read one channel instead."
        )
        return totals
    wanted = channel.strip().upper()
    if wanted not in by_channel:
        raise ctx.error(
            f"no '{label} {wanted} <experiment>' columns; the SILAC channels of the file are "
            f"{sorted(by_channel, key='LMH'.index)}."
        )
    ctx.note(f"SILAC channel {wanted}: read the '{label} {wanted} <experiment>' columns")
    return by_channel[wanted]


def _channel_text(table: Table, quantity: str, channel: str | None) -> str:
    if channel is not None:
        return f", SILAC channel {channel.strip().upper()}"
    return ", per-experiment totals of the SILAC channels" if channel_letters(
        table.columns, quantity) else ""


def _note_reporter(columns: Sequence[str], ctx: ReadContext) -> None:
    reporter = [c for c in columns if canonical(c).startswith("reporter intensity")]
    if reporter:
        ctx.note(
            f"{len(reporter)} 'Reporter intensity' columns (isobaric-label channels, e.g. "
            f"{reporter[0]!r}) were not read; the per-experiment MS1 totals were"
        )


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
    keep_contaminant_members: bool = False,
    channel: str | None = None,
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
        warning. In a SILAC file the per-experiment totals (``Intensity S1``) are read, never
        the channel columns (``Intensity L S1``, ``Intensity H S1``) next to them; isobaric
        ``Reporter intensity`` columns are never read.
    id_column
        The protein key (default ``Protein IDs``; the whole group string, never split).
    keep_decoys, keep_contaminants, keep_site_only
        Keep rows flagged ``+`` in ``Reverse``/``Decoy``, ``Potential contaminant``/
        ``Contaminant`` (or with a ``REV__``/``CON__`` member), ``Only identified by site``.
        By default they are removed and counted in ``uns["read"]["dropped"]``.
    keep_contaminant_members
        Keep groups that hold a ``CON__`` member but are not flagged in ``Potential
        contaminant`` (removed by default, counted as ``contaminant_member`` and listed in a
        warning: MaxQuant judged them sample proteins, e.g. plasma apolipoproteins).
    channel
        SILAC files: read this channel (``"L"``, ``"M"`` or ``"H"``: the ``Intensity H
        <experiment>`` columns) instead of the per-experiment totals.

    Returns
    -------
    anndata.AnnData
        See :func:`proteolabel.io.read`.

    """
    chosen, qcols = _choose_quantity(table, ctx, quantity)
    qcols = select_channel(qcols, table.columns, chosen, channel, ctx)
    _note_reporter(table.columns, ctx)
    ctx.quantity = f"{_QUANTITY_LABEL[chosen]} ({chosen}{_channel_text(table, chosen, channel)})"
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
                           ("contaminant_member", keep_contaminant_members),
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
    channel: str | None = None,
) -> ad.AnnData:
    """Read MaxQuant ``evidence.txt`` (long) or ``peptides.txt`` (wide), summed per protein.

    Peptide (evidence) intensities are summed per (sample, protein) over the values present;
    a protein with no value in a sample stays missing. ``layers["n_values"]`` counts the
    values summed. Samples are MaxQuant's experiments, as in ``proteinGroups.txt``: the
    ``Experiment`` column of evidence.txt when it exists (the raw files of one experiment
    are its fractions, and are summed), else ``Raw file``; ``uns["read"]["messages"]`` says
    which. A sample whose rows are all removed as decoys or contaminants stays in the
    result without values, with a warning.

    Parameters
    ----------
    table
        The opened file.
    ctx
        The read record.
    protein_column
        Protein key (default ``Leading razor protein``, else ``Proteins``).
    sample_column
        evidence.txt: the sample column (default ``Experiment``, else ``Raw file``; pass
        ``"Raw file"`` for one sample per raw file). peptides.txt has one
        ``Intensity <experiment>`` column per sample.
    keep_decoys, keep_contaminants
        Keep rows flagged in ``Reverse``/``Decoy`` or ``Potential contaminant`` (or with a
        ``REV__``/``CON__`` protein).
    channel
        SILAC files: read this channel (``"L"``, ``"M"``, ``"H"``: the ``Intensity H``
        column of evidence.txt, the ``Intensity H <experiment>`` columns of peptides.txt)
        instead of the totals over the channels.

    Returns
    -------
    anndata.AnnData
        See :func:`proteolabel.io.read`.

    """
    prot = protein_column or find_column(table.columns, "Leading razor protein", "Proteins")
    if prot is None or prot not in table.columns:
        raise ctx.error(f"no protein column; columns are {table.columns[:30]}")
    if sample_column is not None and sample_column not in table.columns:
        raise ctx.error(f"sample column {sample_column!r} not found; columns are "
                        f"{table.columns[:30]}")
    flag_cols = _flag_columns(table, ctx)
    flag_cols.pop("only_identified_by_site")
    flag_list = [c for c in flag_cols.values() if c]
    raw = find_column(table.columns, "Raw file")
    acc = LongAccumulator("sum")
    if (sample_column or raw) is not None and find_column(table.columns, "Intensity") is not None:
        value = find_column(table.columns, "Intensity")
        if channel is not None:
            value = find_column(table.columns, f"Intensity {channel.strip().upper()}")
            if value is None:
                raise ctx.error(f"channel={channel!r} was given but there is no 'Intensity "
                                f"{channel.strip().upper()}' column; leave channel unset.")
        ctx.quantity = f"{value} (evidence rows summed per protein)"
        experiment = find_column(table.columns, "Experiment")
        run = sample_column or experiment or raw
        frame = table.read(list(dict.fromkeys([prot, run, *([raw] if raw else []), value,
                                               *flag_list])), ctx, value_columns=[value])
        runs = run_keys(frame[run])
        if sample_column is None and run == experiment:
            run, runs = _experiment_or_raw(frame, runs, experiment, raw, ctx)
        elif sample_column is None:
            ctx.note(f"samples are raw files (column {run!r}; the file has no Experiment "
                     "column)")
        else:
            ctx.note(f"samples from column {run!r}")
        acc.register(runs.unique())  # before the filters: a sample filtered away stays, empty
        values = parse_numeric(frame[value], value, ctx)
        rows = _row_filter(frame, flag_cols, ctx, keep_decoys, keep_contaminants)
        acc.add(runs[rows].to_numpy(), frame[prot][rows].to_numpy(), values[rows])
        what = f"{run!r} value"
    else:
        qcols = quantity_columns(table.columns, "intensity")
        if not qcols:
            raise ctx.error(
                "found neither 'Raw file' + 'Intensity' (evidence.txt) nor 'Intensity <sample>' "
                f"columns (peptides.txt); columns are {table.columns[:30]}"
            )
        qcols = select_channel(qcols, table.columns, "intensity", channel, ctx)
        ctx.quantity = "Intensity <experiment> (peptides summed per protein)"
        ctx.note("samples are MaxQuant experiments (one 'Intensity <experiment>' column each)")
        value_cols = [c for c, _, _ in qcols]
        frame = table.read([prot, *value_cols, *flag_list], ctx, value_columns=value_cols)
        rows = _row_filter(frame, flag_cols, ctx, keep_decoys, keep_contaminants)
        proteins = frame[prot][rows].to_numpy()
        acc.register([col for col, _, _ in qcols])
        for col, _, _ in qcols:  # keyed on the column; names are normalised afterwards
            values = parse_numeric(frame[col], col, ctx)[rows]
            acc.add(np.full(len(values), col, dtype=object), proteins, values)
        what = "column"
    matrix, counts, origins, proteins = acc.result(ctx)
    if what == "column":
        experiment_of = {col: sample for col, _, sample in qcols}
        samples = [normalize_sample_name(experiment_of[c]) for c in origins]
    else:
        samples = [normalize_sample_name(r) for r in origins]
    empty_key = [not p.strip() or p == "nan" for p in proteins]
    if any(empty_key):
        proteins = ["" if e else p for p, e in zip(proteins, empty_key, strict=True)]
    keep = [r for r, k in (("decoy", keep_decoys), ("contaminant", keep_contaminants)) if k]
    return build_anndata(ctx, matrix, samples, proteins, n_values=counts, keep=keep,
                         sample_origins=origins, what=what, filtered_out=acc.filtered_out(),
                         duplicate_hint=f"{RUN_DUPLICATE_HINT}, or choose another sample "
                         "column (sample_column=...)")


def _experiment_or_raw(frame: pd.DataFrame, runs: pd.Series, experiment: str, raw: str | None,
                       ctx: ReadContext) -> tuple[str, pd.Series]:
    """Use the Experiment column as samples, and say how raw files map to experiments."""
    blank = runs.eq("")
    if blank.all() and raw is not None:
        ctx.note(f"column {experiment!r} is empty: samples are raw files (column {raw!r})")
        return raw, run_keys(frame[raw])
    if blank.any():
        first = int(np.flatnonzero(blank.to_numpy())[0])
        raise ctx.error(
            f"column {experiment!r} is empty in {int(blank.sum())} of {len(runs)} rows (first "
            f"at data row {first + 1}), so those rows belong to no sample. Fill in the "
            f"experiment names, or pass sample_column={raw or 'Raw file'!r} for one sample "
            "per raw file."
        )
    if raw is None:
        ctx.note(f"samples are MaxQuant experiments (column {experiment!r})")
        return experiment, runs
    files = pd.DataFrame({"e": runs.to_numpy(), "f": run_keys(frame[raw]).to_numpy()})
    per = files.drop_duplicates().groupby("e", sort=False)["f"].nunique()
    n_files = int(files["f"].nunique())
    if (per > 1).any():
        ctx.note(
            f"samples are MaxQuant experiments (column {experiment!r}): {n_files} raw files "
            f"in {len(per)} experiments; the raw files of one experiment are its fractions "
            f"and were summed (pass sample_column={raw!r} for one sample per raw file)"
        )
    else:
        ctx.note(f"samples are MaxQuant experiments (column {experiment!r}; one raw file "
                 "each)")
    return experiment, runs


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
