"""Open a tabular file once and read only the columns a reader needs.

Every reader works on a :class:`Table`, whatever the container: delimited text (CSV, TSV,
``.txt``; optionally gzip-compressed), Excel, parquet, an R data file or an in-memory frame.
Text tables are checked before they are read: encoding (UTF-8 with or without BOM, UTF-16,
Latin-1 fallback), delimiter, duplicate headers and ragged rows.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import sys
import warnings
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from proteolabel._utils import optional_import
from proteolabel.io._values import ReadContext

TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".tab", ".xls.txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
PARQUET_SUFFIXES = (".parquet", ".pq")
RDATA_SUFFIXES = (".rda", ".rdata", ".rds")

#: Rows read per batch when a reader aggregates a long table in pieces.
DEFAULT_BATCH_ROWS = 1_000_000

_SNIFF_BYTES = 1 << 16
_SNIFF_LINES = 50


def _suffix(path: str) -> str:
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return Path(name).suffix


def _open_bytes(path: str):
    return gzip.open(path, "rb") if str(path).lower().endswith(".gz") else open(path, "rb")


class Table:
    """A table whose header is known and whose columns can be read on demand."""

    #: Whether cells come as text that still needs parsing (text files) or as typed values.
    typed: bool = False

    def __init__(self, path: str, columns: Sequence[object]) -> None:
        self.path = str(path)
        self.columns = [str(c) for c in columns]
        self.notes: list[str] = []

    # -- header checks -------------------------------------------------------------------
    def require_unique(self, names: Sequence[str]) -> None:
        """Raise if one of ``names`` appears more than once in the header."""
        for name in dict.fromkeys(names):
            where = [i + 1 for i, c in enumerate(self.columns) if c == name]
            if len(where) > 1:
                pos = ", ".join(str(w) for w in where)
                raise ValueError(
                    f"{self.path}: the header {name!r} appears {len(where)} times (columns "
                    f"{pos}, counting from 1). Each sample needs its own column name; rename "
                    "the copies (pandas would silently call the second one "
                    f"{name + '.1'!r})."
                )

    def position(self, name: str) -> int:
        """Return the position of a (unique) column."""
        return self.columns.index(name)

    # -- reading ---------------------------------------------------------------------------
    def read(self, columns: Sequence[str], ctx: ReadContext | None = None, *,
             value_columns: Sequence[str] = ()) -> pd.DataFrame:
        """Read ``columns`` (all rows) into a frame whose columns are those names."""
        raise NotImplementedError

    def iter_batches(
        self, columns: Sequence[str], ctx: ReadContext | None = None, *,
        value_columns: Sequence[str] = (), batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> Iterator[tuple[int, pd.DataFrame]]:
        """Yield ``(first_row, frame)`` batches of ``columns``; default: one batch."""
        yield 0, self.read(columns, ctx, value_columns=value_columns)


class FrameTable(Table):
    """A table held in memory (an R data frame, a DataFrame passed by the caller)."""

    typed = True

    def __init__(self, path: str, frame: pd.DataFrame) -> None:
        super().__init__(path, frame.columns)
        self.frame = frame

    def read(self, columns, ctx=None, *, value_columns=()):
        self.require_unique(columns)
        out = self.frame.iloc[:, [self.position(c) for c in columns]].copy()
        out.columns = list(columns)
        return out.reset_index(drop=True)


class ParquetTable(Table):
    """A parquet file, read column-wise and in row batches with pyarrow."""

    typed = True

    def __init__(self, path: str) -> None:
        pq = optional_import("pyarrow.parquet", "parquet")
        self._file = pq.ParquetFile(path)
        super().__init__(path, self._file.schema_arrow.names)

    def read(self, columns, ctx=None, *, value_columns=()):
        self.require_unique(columns)
        table = self._file.read(columns=list(dict.fromkeys(columns)))
        return table.to_pandas()[list(columns)]

    def iter_arrow(self, columns: Sequence[str], batch_rows: int = DEFAULT_BATCH_ROWS):
        """Yield pyarrow record batches of ``columns`` (for memory-bounded aggregation).

        Text columns come dictionary-encoded (codes plus the distinct values), which keeps a
        batch of run and protein names small.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.require_unique(columns)
        schema = self._file.schema_arrow
        text = [c for c in columns
                if pa.types.is_string(schema.field(c).type)
                or pa.types.is_large_string(schema.field(c).type)]
        source = pq.ParquetFile(self.path, read_dictionary=text) if text else self._file
        meta = source.metadata
        for group in range(meta.num_row_groups):
            # one row group at a time: pyarrow's iter_batches over a whole file keeps what it
            # has decoded, so its memory grows with the file
            if meta.row_group(group).num_rows <= 2 * batch_rows:
                table = source.read_row_group(group, columns=list(columns))
                yield from table.to_batches(max_chunksize=batch_rows)
                del table
            else:
                yield from source.iter_batches(batch_size=batch_rows, row_groups=[group],
                                               columns=list(columns))

    def iter_batches(self, columns, ctx=None, *, value_columns=(), batch_rows=DEFAULT_BATCH_ROWS):
        offset = 0
        for batch in self.iter_arrow(columns, batch_rows):
            frame = batch.to_pandas()
            yield offset, frame
            offset += len(frame)


class ExcelTable(Table):
    """One sheet of an Excel workbook (read whole, once)."""

    typed = True

    def __init__(self, path: str, sheet: str | int | None = None) -> None:
        try:
            with warnings.catch_warnings():
                # openpyxl complains about workbook extensions it does not use; not our business.
                warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
                with pd.ExcelFile(path, engine=_excel_engine(path)) as book:
                    names = [str(n) for n in book.sheet_names]
                    chosen = _sheet_name(path, names, sheet)
                    raw = book.parse(chosen, header=None, dtype=object, na_filter=False)
        except ImportError as exc:  # e.g. .xls without xlrd
            raise ImportError(f"{path}: cannot open this Excel file: {exc}") from exc
        except (ValueError, KeyError) as exc:
            if str(exc).startswith(f"{path}:"):
                raise
            raise ValueError(f"{path}: cannot read sheet {sheet!r}: {exc}") from exc
        #: The sheet read and all sheets of the workbook.
        self.sheet, self.sheet_names = chosen, names
        #: Whether the sheet read has a header and numbers below it (see
        #: :func:`_looks_like_data`); only worked out when there are other sheets.
        self.looks_like_data = len(names) < 2 or _looks_like_data(raw)
        if raw.shape[0] == 0:
            raise ValueError(f"{path}: sheet {chosen!r} is empty.{self.sheet_hint()}")
        header = [
            str(h).strip() if str(h).strip() else f"Unnamed: {i}"
            for i, h in enumerate(raw.iloc[0].tolist())
        ]
        super().__init__(path, header)
        body = raw.iloc[1:].reset_index(drop=True)
        # drop rows that are entirely empty (Excel often leaves formatted blank rows)
        blank = pd.Series((body.to_numpy(dtype=object) == "").all(axis=1), index=body.index)
        if blank.any():
            self.notes.append(f"{int(blank.sum())} empty rows of the sheet were skipped")
            body = body.loc[~blank].reset_index(drop=True)
        self._body = body
        if len(names) > 1:
            self.notes.append(f"read sheet {chosen!r} of {names}")

    def sheet_hint(self) -> str:
        """Return the sentence that errors about this table end with.

        It names the sheet read and the others, and says how to choose one; it is empty for
        a workbook of one sheet.
        """
        if len(self.sheet_names) < 2:
            return ""
        others = [n for n in self.sheet_names if n != self.sheet]
        what = "" if self.looks_like_data else ", which does not look like a data table"
        return (f" (read sheet {self.sheet!r}{what}; the workbook also has {others}: choose "
                "one with --option sheet=NAME on the command line or sheet=NAME in Python)")

    def with_data_sheet(self) -> ExcelTable:
        """Return this table, or the workbook's only data-like sheet when this one is not.

        Used when no sheet was asked for: a first sheet of notes ("Info", "README") before
        the data is passed over, with a message saying so.
        """
        if self.looks_like_data or len(self.sheet_names) < 2:
            return self
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
            with pd.ExcelFile(self.path, engine=_excel_engine(self.path)) as book:
                found = [n for n in self.sheet_names if n != self.sheet and _looks_like_data(
                    book.parse(n, header=None, dtype=object, na_filter=False))]
        if len(found) != 1:
            return self
        table = ExcelTable(self.path, found[0])
        table.notes.insert(0, f"sheet {self.sheet!r} does not look like a data table, so sheet "
                              f"{found[0]!r} was read, the only one of {self.sheet_names} that "
                              "does (choose another with --option sheet=NAME on the command "
                              "line or sheet=NAME in Python)")
        return table

    def read(self, columns, ctx=None, *, value_columns=()):
        self.require_unique(columns)
        out = self._body.iloc[:, [self.position(c) for c in columns]].copy()
        out.columns = list(columns)
        return out


def _sheet_name(path: str, names: list[str], sheet: str | int | None) -> str:
    """Return the name of the sheet asked for (a name or a position; default the first)."""
    if sheet is None:
        return names[0]
    if isinstance(sheet, int) and not isinstance(sheet, bool):
        if -len(names) <= sheet < len(names):
            return names[sheet]
    elif str(sheet) in names:
        return str(sheet)
    raise ValueError(f"{path}: has no sheet {sheet!r}; its sheets are {names}. Choose one with "
                     "--option sheet=NAME on the command line or sheet=NAME in Python.")


def _looks_like_data(raw: pd.DataFrame) -> bool:
    """Say whether a sheet (read without header) looks like a data table.

    That is: a header row and at least one row below it, two or more columns, and a column
    whose cells below the header are numbers (at least 80% of its non-empty cells, two
    numbers in all). A sheet of notes or of key-value text is not. The first 200 rows are
    looked at.
    """
    cells = raw.iloc[:200].to_numpy(dtype=object)
    if cells.size == 0:
        return False
    filled = np.vectorize(lambda v: str(v).strip() != "", otypes=[bool])(cells)
    cells, filled = cells[filled.any(axis=1)], filled[filled.any(axis=1)]
    cells, filled = cells[:, filled.any(axis=0)], filled[:, filled.any(axis=0)]
    if cells.shape[0] < 2 or cells.shape[1] < 2:
        return False

    def number(v) -> bool:
        if isinstance(v, bool):
            return False
        if isinstance(v, (int, float, np.number)):
            return bool(np.isfinite(v))
        try:
            float(str(v).strip().replace(",", "."))
        except ValueError:
            return False
        return True

    body, present = cells[1:], filled[1:]
    numeric = np.vectorize(number, otypes=[bool])(body) & present
    n_present = present.sum(axis=0)
    share = np.where(n_present > 0, numeric.sum(axis=0) / np.maximum(n_present, 1), 0.0)
    return bool((share >= 0.8).any() and numeric.sum() >= 2)


def _excel_engine(path: str) -> str | None:
    """Use python-calamine when installed (about 10x faster than openpyxl), else pandas' pick."""
    if _suffix(path) in (".xlsx", ".xlsm"):
        try:
            import python_calamine  # noqa: F401
        except ImportError:
            return None
        return "calamine"
    return None


class TextTable(Table):
    """A delimited text file: CSV, TSV or MaxQuant-style ``.txt``."""

    typed = False

    def __init__(self, path: str, *, delimiter: str | None = None, encoding: str | None = None):
        self.encoding = encoding or detect_encoding(path)
        self.delimiter = delimiter or detect_delimiter(path, self.encoding)
        header, self._width, self._short, self._long_empty = self._scan(path)
        super().__init__(path, header)
        if self.encoding not in ("utf-8", "utf-8-sig"):
            self.notes.append(f"read as {self.encoding}")

    # -- scanning ----------------------------------------------------------------------------
    def _text_stream(self, path: str):
        return io.TextIOWrapper(_open_bytes(path), encoding=self.encoding, newline="")

    def _scan(self, path: str):
        """Read every row once with :mod:`csv` to find its number of fields.

        Returns the header, the widest row, the short rows by length (data-row indices, first
        line number) and the rows with one or more empty extra fields.
        """
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        short: dict[int, tuple[array, int]] = {}
        long_empty = 0
        try:
            with self._text_stream(path) as handle:
                reader = csv.reader(handle, delimiter=self.delimiter)
                header = None
                for row in reader:
                    if row:
                        header = row
                        break
                if header is None:
                    raise ValueError(f"{path}: the file is empty.")
                n = len(header)
                width = n
                index = 0
                for row in reader:
                    k = len(row)
                    if k == 0:
                        continue
                    if k != n:
                        if k < n:
                            entry = short.get(k)
                            if entry is None:
                                short[k] = (array("q", [index]), reader.line_num)
                            else:
                                entry[0].append(index)
                        elif all(not f.strip() for f in row[n:]):
                            long_empty += 1
                            width = max(width, k)
                        else:
                            raise ValueError(
                                f"{path}: line {reader.line_num} has {k} fields but the header "
                                f"has {n}; the extra values cannot be matched to columns. Fix "
                                "that row (a stray delimiter or an unquoted value holding "
                                f"{self.delimiter!r})."
                            )
                    index += 1
        except UnicodeDecodeError:
            if self.encoding in ("utf-8", "utf-8-sig"):
                self.encoding = "latin-1"
                return self._scan(path)
            raise
        if header and header[0].startswith("\ufeff"):
            header[0] = header[0][1:]
        header = [h.strip() for h in header]
        # a header that itself ends with an empty name: a trailing delimiter everywhere
        while header and header[-1] == "" and len(header) > 1:
            header.pop()
        # other empty names (a row-index column written by pandas or R) get pandas' name
        header = [h or f"Unnamed: {i}" for i, h in enumerate(header)]
        return header, width, short, long_empty

    # -- row checks ----------------------------------------------------------------------------
    def _skip_rows(self, ctx: ReadContext | None, value_columns: Sequence[str]) -> np.ndarray:
        """Decide what to do with rows that have fewer fields than the header.

        A short row that still reaches every value column only lacks trailing fields after
        them (some tools and editors trim empty trailing fields): it is read with blanks. A
        short row that ends before the first value column carries no quantities (e.g. a
        fragment of an overlong cell spilled onto its own line): it is skipped, counted and
        warned about. Any other short row would shift values between columns and is an error
        naming its line.
        """
        n_header = len(self.columns)
        if self._long_empty and ctx is not None:
            ctx.warn(
                f"{self._long_empty} rows end with an extra empty field that has no header; "
                "it was ignored."
            )
        if not self._short:
            return np.empty(0, dtype=np.int64)
        values = [self.position(c) for c in value_columns]
        if values:
            last_value, first_value = max(values), min(values)
        else:  # no value columns named: every short row is ragged
            last_value, first_value = n_header - 1, -1
        skip: list[np.ndarray] = []
        padded = 0
        for k, (rows, line) in sorted(self._short.items()):
            if k > last_value:
                padded += len(rows)
            elif k <= first_value:
                skip.append(np.frombuffer(rows, dtype=np.int64))
            else:
                raise ValueError(
                    f"{self.path}: line {line} has {k} fields but the header has {n_header}: "
                    f"it stops inside the value columns ({self.columns[k]!r} and later are "
                    "missing), so its values cannot be placed. Fix or remove that row."
                )
        if ctx is not None and padded:
            ctx.note(
                f"{padded} rows had fewer fields than the header (trailing empty fields left "
                "out); the missing fields were read as blank"
            )
        out = np.concatenate(skip) if skip else np.empty(0, dtype=np.int64)
        if out.size and ctx is not None:
            ctx.drop("malformed_rows", [], count=out.size)
            lines = min(line for k, (_, line) in self._short.items() if k <= first_value)
            ctx.warn(
                f"{out.size} rows hold too few fields to carry any value (first at line "
                f"{lines}); they look like fragments of an over-long cell and were skipped."
            )
        return np.sort(out)

    def _csv_kwargs(self, columns: Sequence[str]) -> dict:
        return {
            "sep": self.delimiter,
            "encoding": self.encoding,
            "header": None,
            "skiprows": 1,
            "names": list(range(self._width)),
            "usecols": [self.position(c) for c in columns],
            "dtype": str,
            "na_filter": False,
            "skip_blank_lines": True,
            "index_col": False,
            "engine": "c",
        }

    def _frame(self, chunk: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
        chunk = chunk[[self.position(c) for c in columns]]
        chunk.columns = list(columns)
        return chunk.fillna("")

    def read(self, columns, ctx=None, *, value_columns=()):
        for _, frame in self.iter_batches(columns, ctx, value_columns=value_columns,
                                          batch_rows=0):
            return frame
        raise AssertionError("unreachable")  # pragma: no cover

    def iter_batches(self, columns, ctx=None, *, value_columns=(), batch_rows=DEFAULT_BATCH_ROWS):
        columns = list(dict.fromkeys(columns))
        self.require_unique(columns)
        skip = self._skip_rows(ctx, value_columns)
        kwargs = self._csv_kwargs(columns)
        if batch_rows:
            chunks = pd.read_csv(self.path, chunksize=batch_rows, **kwargs)
        else:
            chunks = [pd.read_csv(self.path, **kwargs)]
        offset = 0
        kept = 0
        for chunk in chunks:
            n = len(chunk)
            if skip.size:
                lo, hi = np.searchsorted(skip, [offset, offset + n])
                if hi > lo:
                    chunk = chunk.drop(index=chunk.index[skip[lo:hi] - offset])
            frame = self._frame(chunk, columns).reset_index(drop=True)
            yield kept, frame
            offset += n
            kept += len(frame)
        if batch_rows == 0 and offset == 0:
            return


def detect_encoding(path: str) -> str:
    """Guess a text file's encoding from its first bytes.

    A byte-order mark decides (UTF-8 BOM, UTF-16 LE/BE); many NUL bytes without a BOM mean
    UTF-16 without BOM; otherwise UTF-8, with Latin-1 as the fallback when a byte sequence is
    not valid UTF-8 (decided while the file is scanned).
    """
    with _open_bytes(path) as handle:
        head = handle.read(_SNIFF_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head and head.count(b"\x00") > len(head) // 4:
        even = head[0::2].count(b"\x00")
        odd = head[1::2].count(b"\x00")
        return "utf-16-be" if even > odd else "utf-16-le"
    return "utf-8"


def detect_delimiter(path: str, encoding: str) -> str:
    """Choose the delimiter that splits the first lines into a constant number of fields.

    Tab, comma and semicolon are tried, tab first for ``.tsv``/``.txt`` and comma first for
    ``.csv``; the first one that gives the same number (> 1) of fields on every sampled line
    wins, else the one that gives the most fields on the header line.
    """
    lines: list[str] = []
    with io.TextIOWrapper(_open_bytes(path), encoding=encoding, errors="replace",
                          newline="") as handle:
        for line in handle:
            if line.strip():
                lines.append(line)
            if len(lines) >= _SNIFF_LINES:
                break
    if not lines:
        raise ValueError(f"{path}: the file is empty.")
    order = [",", ";", "\t"] if _suffix(path) == ".csv" else ["\t", ",", ";"]
    counts: dict[str, list[int]] = {}
    for sep in order:
        counts[sep] = [len(r) for r in csv.reader(lines, delimiter=sep)]
    for sep in order:
        widths = counts[sep]
        if widths[0] > 1 and all(w == widths[0] for w in widths[:-1]):
            return sep
    return max(order, key=lambda s: counts[s][0])


def open_table(
    path: str | Path | pd.DataFrame,
    *,
    sheet: str | int | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    r_object: str | None = None,
) -> Table:
    """Open ``path`` as a :class:`Table` chosen by its extension.

    Parameters
    ----------
    path
        A file (text, Excel, parquet, R data) or a DataFrame.
    sheet
        Excel sheet name or position (default: the first).
    delimiter, encoding
        Override the detected delimiter or encoding of a text file.
    r_object
        For an R data file holding several objects: the one to read.

    """
    if isinstance(path, pd.DataFrame):
        return FrameTable("<DataFrame>", path)
    path = str(path)
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such file.")
    if Path(path).is_dir():
        raise IsADirectoryError(f"{path}: is a directory; give the report file inside it.")
    suffix = _suffix(path)
    if suffix in EXCEL_SUFFIXES:
        return ExcelTable(path, sheet)
    if suffix in PARQUET_SUFFIXES:
        return ParquetTable(path)
    if suffix in RDATA_SUFFIXES:
        return _open_rdata(path, r_object)
    return TextTable(path, delimiter=delimiter, encoding=encoding)


def _open_rdata(path: str, r_object: str | None) -> Table:
    pyreadr = optional_import("pyreadr", "rdata")
    result = pyreadr.read_r(path)
    frames = {k: v for k, v in result.items() if isinstance(v, pd.DataFrame)}
    if not frames:
        raise ValueError(f"{path}: holds no data frame.")
    if r_object is None:
        if len(frames) > 1:
            raise ValueError(
                f"{path}: holds several data frames {sorted(frames)}; choose one with "
                "r_object=..."
            )
        r_object = next(iter(frames))
    if r_object not in frames:
        raise ValueError(f"{path}: has no object {r_object!r}; it holds {sorted(frames)}.")
    table = FrameTable(path, frames[r_object])
    table.notes.append(f"read R object {r_object!r}")
    return table
