"""The reader registry and :func:`read`, which infers the format and dispatches."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anndata as ad
import pandas as pd

from proteolabel._constants import MISSING_TOKENS
from proteolabel.io._tables import ExcelTable, Table, _suffix, open_table
from proteolabel.io._values import ReadContext

#: ``sniff(file_name, columns) -> score``: 0 = not this format, 1 = certainly this format.
Sniffer = Callable[[str, Sequence[str]], float]


@dataclass(frozen=True)
class ReaderSpec:
    """One registered format.

    Attributes
    ----------
    name
        The format name passed as ``read(..., format=name)``.
    load
        ``load(table, ctx, **options) -> AnnData`` for table formats (``tabular=True``), or
        ``load(path, ctx, **options) -> AnnData`` for formats that open the file themselves.
    sniff
        Scores a file name and header for format inference; ``None``: never inferred.
    description
        One line shown in error messages and ``--help``.
    suffixes
        File extensions that belong to this format alone (e.g. ``.h5ad``, ``.mztab``).
    tabular
        Whether ``load`` receives an opened :class:`~proteolabel.io._tables.Table`.

    """

    name: str
    load: Callable[..., ad.AnnData]
    sniff: Sniffer | None = None
    description: str = ""
    suffixes: tuple[str, ...] = ()
    tabular: bool = True
    options: tuple[str, ...] = field(default=())


#: Every known format by name. Add one with :func:`register_reader`.
READERS: dict[str, ReaderSpec] = {}


def register_reader(
    name: str,
    load: Callable[..., ad.AnnData] | None = None,
    *,
    sniff: Sniffer | None = None,
    description: str = "",
    suffixes: Sequence[str] = (),
    tabular: bool = True,
    replace: bool = False,
):
    """Register a reader under ``name``; usable as a decorator.

    Parameters
    ----------
    name
        Format name for ``read(path, format=name)``.
    load
        ``load(table_or_path, ctx, **options) -> anndata.AnnData``. A tabular reader receives
        an opened table (``table.columns``, ``table.read(columns)``) and a
        :class:`~proteolabel.io._values.ReadContext` to record what it did; a non-tabular one
        receives the path. Build the result with
        :func:`proteolabel.io._build.build_anndata` to get the standard ``uns["read"]``.
    sniff
        ``sniff(file_name, columns) -> float`` in [0, 1] for format inference.
    description
        One line describing the format.
    suffixes
        File extensions that identify this format by themselves.
    tabular
        Whether ``load`` takes an opened table (True) or the path (False).
    replace
        Allow replacing an existing reader of that name.

    Returns
    -------
    callable
        ``load`` itself (so the function can be used as a decorator).

    """

    def decorate(func: Callable[..., ad.AnnData]) -> Callable[..., ad.AnnData]:
        if name in READERS and not replace:
            raise ValueError(f"a reader named {name!r} is already registered; pass replace=True")
        params = inspect.signature(func).parameters
        options = tuple(
            p for p, v in params.items()
            if v.kind is inspect.Parameter.KEYWORD_ONLY
        )
        READERS[name] = ReaderSpec(
            name=name, load=func, sniff=sniff, description=description,
            suffixes=tuple(s.lower() for s in suffixes), tabular=tabular, options=options,
        )
        return func

    return decorate if load is None else decorate(load)


def known_formats() -> str:
    """Return the registered formats as ``name (description)`` lines."""
    return "\n".join(f"  {spec.name}: {spec.description}" for spec in READERS.values())


def _unknown(fmt: str) -> ValueError:
    from proteolabel._utils import suggest

    return ValueError(
        f"unknown format {fmt!r}{suggest(fmt, READERS)}. Known formats:\n{known_formats()}\n"
        "Use format 'infer' (the default) to detect it from the file."
    )


def infer_format(path: str, table: Table | None) -> tuple[str, float]:
    """Return the best-matching format name and its score for a file (and its header)."""
    suffix = _suffix(path)
    for spec in READERS.values():
        if suffix and suffix in spec.suffixes:
            return spec.name, 1.0
    if table is None:
        raise ValueError(
            f"{path}: cannot infer the format from the extension {suffix!r}. Pass format=... "
            f"with one of:\n{known_formats()}"
        )
    if getattr(table, "perseus", {}).get("Type") is not None:
        # a matrix saved by Perseus (a '#!{Type}' row): processed, whatever tool it came from
        return "generic", 1.0
    name = Path(path).name
    best, score = "", 0.0
    for spec in READERS.values():
        if spec.sniff is None or not spec.tabular:
            continue
        s = float(spec.sniff(name, table.columns))
        if s > score:
            best, score = spec.name, s
    if not best:
        raise ValueError(
            f"{path}: no reader recognises this file (columns: {table.columns[:20]}). "
            f"Pass format=... with one of:\n{known_formats()}"
        )
    return best, score


_TABLE_OPTIONS = ("sheet", "delimiter", "encoding", "r_object", "header_row")
#: Options that apply to every format, table or not.
_VALUE_OPTIONS = ("decimal",)


def read(
    path: str | Path | pd.DataFrame,
    format: str = "infer",
    *,
    quantity: str | None = None,
    samples_in: str = "auto",
    missing_tokens: Sequence[str] | None = None,
    **reader_options,
) -> ad.AnnData:
    """Read a quantification file into a samples x proteins AnnData.

    Parameters
    ----------
    path
        The file: a tool report (MaxQuant, DIA-NN, Spectronaut, FragPipe, Skyline, mzTab), a
        generic table (CSV, TSV, XLSX, parquet, R ``.rda``), an ``.h5ad``, or a DataFrame.
    format
        ``"infer"`` (from the file name and header columns) or one of :data:`READERS`. An
        explicit format always wins over inference.
    quantity
        Which quantity to read, for formats that hold several (MaxQuant ``"lfq"`` (default),
        ``"intensity"``, ``"ibaq"``; DIA-NN ``"maxlfq"`` (default) or ``"precursor"``;
        FragPipe ``"maxlfq"`` or ``"intensity"``; Spectronaut ``"fg"`` or ``"pg"``; Skyline
        ``"total_area"`` or ``"area"``); an exact column name also works.
    samples_in
        Generic wide tables: ``"rows"``, ``"columns"`` or ``"auto"`` (detected from names).
    missing_tokens
        Cell texts that mean "missing" (case-insensitive). Default:
        :data:`proteolabel._constants.MISSING_TOKENS`; 0 is always missing.
    **reader_options
        Options of the chosen reader (for example ``keep_contaminants=True``,
        ``id_column="Gene"``, ``sheet="data"``, ``q_value=0.05``). Unknown options are an
        error listing the accepted ones. Without ``sheet``, a workbook is read from its first
        sheet, or from its only sheet that looks like a data table when the first does not
        (a message says so). Any format also takes ``decimal=","`` or ``decimal="."``: the
        decimal mark of its numbers, the other mark then separating thousands. By default
        it is inferred per column, and a column whose every comma value looks like
        ``"1,234"`` (decimal comma or thousands separator) is an error asking for it.

    Returns
    -------
    anndata.AnnData
        ``X``: float64 linear intensities, NaN = missing; ``obs_names``: normalised sample
        names (:func:`~proteolabel.io.normalize_sample_name`); ``var_names``: protein-group
        keys as written by the tool; ``obs``: sample annotations found in the file;
        ``layers["n_values"]``: values summed per cell (long formats); ``uns["read"]``: what
        was read and dropped (see :func:`proteolabel.io._build.read_record`).

    Raises
    ------
    ValueError
        Unknown format (the message lists the known ones), unreadable cells, duplicate
        samples, missing columns; each message names the file and what to change.

    """
    tokens = tuple(MISSING_TOKENS if missing_tokens is None else missing_tokens)
    table_opts = {k: reader_options.pop(k) for k in _TABLE_OPTIONS if k in reader_options}
    suffix_of = "" if isinstance(path, pd.DataFrame) else _suffix(str(path))
    for opt, suffixes, what in (("sheet", (".xlsx", ".xlsm", ".xls"), "Excel workbooks"),
                                ("r_object", (".rda", ".rdata", ".rds"), "R data files")):
        if opt in table_opts and suffix_of not in suffixes:
            raise ValueError(f"{path}: option {opt} applies to {what} only, not to a "
                             f"{suffix_of or 'table'} file.")
    decimal = reader_options.pop("decimal", None)
    display = "<DataFrame>" if isinstance(path, pd.DataFrame) else str(path)
    if format != "infer" and format not in READERS:
        spelled = {n.lower().replace("-", "_"): n for n in READERS}
        if format.lower().replace("-", "_") not in spelled:
            raise _unknown(format)
        format = spelled[format.lower().replace("-", "_")]  # MaxQuant, DIA-NN_pg ... accepted

    spec = READERS.get(format) if format != "infer" else None
    table: Table | None = None
    suffix = "" if isinstance(path, pd.DataFrame) else _suffix(display)
    if spec is None:
        if not any(suffix in s.suffixes for s in READERS.values() if not s.tabular) or not suffix:
            table = _open(path, table_opts)
        fmt, _ = infer_format(display, table)
        if fmt == "generic" and {"sample_column", "value_column"} <= set(reader_options):
            fmt = "generic_long"
        spec = READERS[fmt]
    elif spec.tabular:
        table = _open(path, table_opts)

    ctx = ReadContext(path=display, format=spec.name, missing_tokens=tokens, decimal=decimal,
                      takes_log_base="log_base" in spec.options)
    if table is not None:
        ctx.messages.extend(table.notes)
    options = dict(reader_options)
    accepted = set(spec.options)
    if "quantity" in accepted:
        options["quantity"] = quantity
    elif quantity is not None:
        raise ValueError(f"format {spec.name!r} has no quantity choice (got quantity={quantity!r})")
    if "samples_in" in accepted:
        options["samples_in"] = samples_in
    unknown = set(options) - accepted
    if unknown:
        raise ValueError(
            f"format {spec.name!r} does not take option(s) {sorted(unknown)}; it accepts "
            f"{sorted(accepted)} (and, for any table: {list(_TABLE_OPTIONS + _VALUE_OPTIONS)})."
        )
    _check_option_values(spec, options, display)
    source = table if spec.tabular else display
    try:
        return spec.load(source, ctx, **options)
    except ValueError as exc:
        if isinstance(table, ExcelTable) and table.sheet_hint():
            raise ValueError(f"{exc}{table.sheet_hint()}") from exc
        if format != "infer" and table is not None:
            try:
                guess, _ = infer_format(display, table)
            except ValueError:
                guess = None
            if guess and guess != spec.name:
                raise ValueError(
                    f"{exc}\nThis file looks like format {guess!r} ({READERS[guess].description}), "
                    f"not {spec.name!r}: drop --format (format='infer') or pass "
                    f"--format {guess}."
                ) from exc
        raise


def _check_option_values(spec: ReaderSpec, options: dict, where: str) -> None:
    """Refuse option values of the wrong kind, naming the option (no silent truthiness)."""
    params = inspect.signature(spec.load).parameters
    for name, value in options.items():
        if name not in params or value is None:
            continue
        default = params[name].default
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ValueError(f"{where}: option {name} takes true or false, got {value!r}.")
        if (isinstance(default, int | float) and not isinstance(default, bool)
                and not isinstance(value, int | float)):
            raise ValueError(f"{where}: option {name} takes a number, got {value!r}.")
        if "q_value" in name and isinstance(value, int | float) and not 0 < value <= 1:
            raise ValueError(
                f"{where}: option {name}={value!r} is not a q-value, which lies in (0, 1] "
                f"(for a 5 % threshold give {name}=0.05)."
            )


def _open(path, table_opts: dict) -> Table:
    """Open a table; in a workbook read without a ``sheet``, pass over sheets of notes."""
    table = open_table(path, **table_opts)
    if isinstance(table, ExcelTable) and table_opts.get("sheet") is None:
        table = table.with_data_sheet()
    return table
