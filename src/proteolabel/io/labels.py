"""Sample label files: CSV, TSV or XLSX with a sample column and a label column."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from proteolabel._utils import suggest
from proteolabel.io._names import SAMPLE_PREFIXES, canonical, normalize_sample_name
from proteolabel.io._tables import open_table

_SAMPLE_HINTS = ("sample", "samples", "sample name", "sample id", "sampleid", "run",
                 "run name", "replicate", "replicate name", "file", "file name", "filename",
                 "raw file", "name")
_LABEL_HINTS = ("label", "labels", "group", "condition", "class", "disease", "diagnosis",
                "type", "category", "cluster", "treatment")
#: Label texts that mean "no label" (the row is dropped).
BLANK_LABELS = frozenset({"", "nan", "na", "n/a", "#n/a", "null", "none"})


def _pick(columns: Sequence[str], hints: Sequence[str], exclude: Sequence[str] = ()):
    by = {canonical(c): c for c in reversed(columns) if c not in exclude}
    for hint in hints:
        if canonical(hint) in by:
            return by[canonical(hint)]
    return None


def _as_label(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_labels(
    path_or_df: str | Path | pd.DataFrame,
    *,
    sample_column: str | None = None,
    label_column: str | None = None,
    samples: Sequence[str] | None = None,
    sheet: str | int | None = None,
) -> pd.Series:
    """Read known sample labels from a CSV, TSV or XLSX file (or a DataFrame).

    Parameters
    ----------
    path_or_df
        The label file or a DataFrame.
    sample_column
        The column of sample names. Default: a column named like ``sample``, ``run``,
        ``replicate``, ``file name``; in a DEP-style design (columns ``label``, ``condition``,
        ``replicate``) the ``label`` column, which holds the column-name suffix; in a
        two-column file the first column.
    label_column
        The column of labels. Default: a column named like ``label``, ``group``,
        ``condition``, ``class``, ``disease``; in a two-column file the second column.
    samples
        The data's sample names (``adata.obs_names``). When given, label names are matched
        to them after the same normalisation as the data (the directory of a file path and
        the run-file extension dropped; a tool prefix such as ``LFQ intensity `` is also
        tried); every labelled name that matches no sample is listed in a ``ValueError``
        with close matches. Labelled samples may cover only some of the data's samples.
    sheet
        Excel sheet (default: the first).

    Returns
    -------
    pandas.Series
        Index: normalised sample names (the data's names when ``samples`` is given); values:
        label strings. Rows with a blank label are dropped.

    Raises
    ------
    ValueError
        Columns not found or ambiguous, one sample with two labels, or unmatched names.

    """
    where = "<DataFrame>" if isinstance(path_or_df, pd.DataFrame) else str(path_or_df)
    table = open_table(path_or_df, sheet=sheet)
    table.require_unique(table.columns)
    frame = table.read(table.columns)
    columns = list(frame.columns)
    for given in (sample_column, label_column):
        if given is not None and given not in columns:
            raise ValueError(
                f"{where}: no column {given!r}{suggest(given, columns)}; columns are {columns}."
            )
    canon = {canonical(c) for c in columns}
    dep_design = {"label", "condition"} <= canon and sample_column is None
    if sample_column is None:
        if dep_design:
            sample_column = _pick(columns, ["label"])
        else:
            sample_column = _pick(columns, _SAMPLE_HINTS, exclude=[label_column or ""])
        if sample_column is None and len(columns) == 2:
            sample_column = columns[0] if columns[0] != label_column else columns[1]
    if sample_column is None:
        raise ValueError(
            f"{where}: cannot tell which column holds sample names; pass sample_column=... "
            f"(columns: {columns})."
        )
    if label_column is None:
        hints = ["condition", *_LABEL_HINTS] if dep_design else list(_LABEL_HINTS)
        label_column = _pick(columns, hints, exclude=[sample_column])
        others = [c for c in columns if c != sample_column]
        if label_column is None and len(others) == 1:
            label_column = others[0]
    if label_column is None:
        raise ValueError(
            f"{where}: cannot tell which column holds the labels; pass label_column=... "
            f"(columns: {[c for c in columns if c != sample_column]})."
        )

    names = [normalize_sample_name(v) for v in frame[sample_column].map(_as_label)]
    labels = [_as_label(v) for v in frame[label_column]]
    pairs: dict[str, str] = {}
    for name, label in zip(names, labels, strict=True):
        if not name or label.lower() in BLANK_LABELS:
            continue
        if name in pairs and pairs[name] != label:
            raise ValueError(
                f"{where}: sample {name!r} has two labels, {pairs[name]!r} and {label!r}."
            )
        pairs[name] = label
    if samples is not None:
        pairs = _match(pairs, [str(s) for s in samples], where)
    series = pd.Series(pairs, dtype=object, name=str(label_column))
    series.index.name = "sample"
    return series


def _match(pairs: dict[str, str], samples: list[str], where: str) -> dict[str, str]:
    """Map labelled names onto data sample names; list every name that matches none."""
    known = set(samples)
    lowered: dict[str, list[str]] = {}
    for s in samples:
        lowered.setdefault(s.lower(), []).append(s)
    out: dict[str, str] = {}
    unmatched: list[str] = []
    for name, label in pairs.items():
        target = name if name in known else None
        if target is None:
            stripped = normalize_sample_name(name, prefixes=SAMPLE_PREFIXES)
            target = stripped if stripped in known else None
        if target is None:
            unmatched.append(name)
            continue
        if target in out and out[target] != label:
            raise ValueError(f"{where}: sample {target!r} gets two labels.")
        out[target] = label
    if unmatched:
        lines = []
        for name in unmatched:
            close = lowered.get(name.lower()) or difflib.get_close_matches(name, samples, n=3)
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            lines.append(f"  {name!r}{hint}")
        raise ValueError(
            f"{where}: {len(unmatched)} labelled sample name(s) match no sample in the data "
            f"(names are compared after normalisation: the directory of a file path and the "
            f"run-file extension dropped, inner spaces kept):\n" + "\n".join(lines)
            + f"\nThe data has {len(samples)} samples, e.g. {samples[:5]}. Correct these "
            "names in the label file, or delete their rows to go on without them."
        )
    return out
