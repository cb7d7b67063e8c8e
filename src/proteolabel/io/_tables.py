"""Open a tabular file once and read only the columns a reader needs.

Every reader works on a :class:`Table`, whatever the container: delimited text (CSV, TSV,
``.txt``; optionally compressed: ``.gz``, ``.bz2``, ``.xz``, or a ``.zip`` of one file),
Excel, parquet, an R data file or an in-memory frame.
Text tables are checked before they are read: encoding (UTF-8 with or without BOM, UTF-16,
cp1252/Latin-1 fallback), delimiter, quoting, blank lines, duplicate headers and ragged rows.
A table with a header but no data rows is an error.
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
from contextlib import contextmanager
from dataclasses import dataclass, field
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
_MAX_FIELD = min(sys.maxsize, 2**31 - 1)
#: Irregular records compared between quoted and unquoted reading (see ``TextTable._scan``).
_MAX_WATCHED = 10_000

#: Codec error handler (for ``errors=``) that reads each byte of an invalid UTF-8 sequence
#: as cp1252 (Latin-1 for the five bytes cp1252 leaves undefined).
CP1252_FALLBACK = "proteolabel.cp1252_fallback"
_CP1252 = tuple(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256))


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "".join(_CP1252[b] for b in exc.object[exc.start:exc.end]), exc.end


codecs.register_error(CP1252_FALLBACK, _cp1252_fallback)


#: Compression suffixes of text files, read transparently (a ``.zip`` must hold one file).
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zip")


def _compression(path: str) -> str:
    """Return the compression suffix of ``path`` (``".gz"``...), or ``""``."""
    name = Path(path).name.lower()
    return next((c for c in COMPRESSION_SUFFIXES if name.endswith(c)), "")


def _suffix(path: str) -> str:
    """Return the file type suffix of ``path``, under any compression suffix."""
    name = Path(path).name.lower()
    compression = _compression(name)
    if compression:
        name = name[: -len(compression)]
    return Path(name).suffix


def _zip_member(path: str) -> str:
    """Return the one file in a zip archive; an archive of several (or none) is an error."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            names = [i.filename for i in archive.infolist() if not i.is_dir()
                     and not i.filename.startswith("__MACOSX/")]
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path}: is not a readable zip archive ({exc}).") from None
    if len(names) != 1:
        raise ValueError(
            f"{path}: a zip archive must hold exactly one table, but it holds "
            f"{names[:10] or 'nothing'}{' ...' if len(names) > 10 else ''}; unpack it and "
            "give the file you mean."
        )
    return names[0]


def _open_bytes(path: str):
    """Open a (possibly compressed) file for reading bytes."""
    compression = _compression(str(path))
    if compression == ".gz":
        return gzip.open(path, "rb")
    if compression == ".bz2":
        import bz2

        return bz2.open(path, "rb")
    if compression == ".xz":
        import lzma

        return lzma.open(path, "rb")
    if compression == ".zip":
        import zipfile

        archive = zipfile.ZipFile(path)
        member = archive.open(_zip_member(path))
        archive.close()  # the open member keeps the file open until it is closed itself
        return member
    return open(path, "rb")


class Table:
    """A table whose header is known and whose columns can be read on demand."""

    #: Whether cells come as text that still needs parsing (text files) or as typed values.
    typed: bool = False

    def __init__(self, path: str, columns: Sequence[object]) -> None:
        self.path = str(path)
        self.columns = [str(c) for c in columns]
        self.notes: list[str] = []
        # positions by name, built once: wide tables have tens of thousands of columns
        self._positions: dict[str, int] = {}
        self._repeated: dict[str, list[int]] = {}
        for i, c in enumerate(self.columns):
            if c in self._positions:
                self._repeated.setdefault(c, [self._positions[c] + 1]).append(i + 1)
            else:
                self._positions[c] = i

    # -- header checks -------------------------------------------------------------------
    def require_unique(self, names: Sequence[str]) -> None:
        """Raise if one of ``names`` appears more than once in the header."""
        if not self._repeated:
            return
        for name in dict.fromkeys(names):
            where = self._repeated.get(name)
            if where:
                pos = ", ".join(str(w) for w in where)
                raise ValueError(
                    f"{self.path}: the header {name!r} appears {len(where)} times (columns "
                    f"{pos}, counting from 1). Each sample needs its own column name; rename "
                    "the copies (pandas would silently call the second one "
                    f"{name + '.1'!r})."
                )

    def position(self, name: str) -> int:
        """Return the position of a (unique) column."""
        try:
            return self._positions[name]
        except KeyError:
            raise ValueError(f"{self.path}: no column {name!r}.") from None

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
        if len(frame) == 0:
            raise _no_rows(self.path, "the table", self.columns)
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
        if self._file.metadata.num_rows == 0:
            raise _no_rows(self.path, "the file", self.columns)

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

    def __init__(self, path: str, sheet: str | int | None = None, *,
                 header_row: int | None = None) -> None:
        self.header_row = header_row
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
        at, skipped = self._header_position(path, raw)
        header = [
            str(h).strip() if str(h).strip() else f"Unnamed: {i}"
            for i, h in enumerate(raw.iloc[at].tolist())
        ]
        super().__init__(path, header)
        if skipped:
            self.notes.append(
                f"the header is on row {at + 1} of sheet {chosen!r}; {len(skipped)} row(s) "
                f"above it that are not part of the table (a title or notes, e.g. row "
                f"{skipped[0][0]}: {skipped[0][1]!r}) were skipped (choose the header row with "
                "--option header_row=N on the command line or header_row=N in Python)")
        body = raw.iloc[at + 1:].reset_index(drop=True)
        # drop rows that are entirely empty (Excel often leaves formatted blank rows)
        blank = pd.Series((body.to_numpy(dtype=object) == "").all(axis=1), index=body.index)
        if blank.any():
            self.notes.append(f"{int(blank.sum())} empty rows of the sheet were skipped")
            body = body.loc[~blank].reset_index(drop=True)
        self._body = body
        if len(names) > 1:
            self.notes.append(f"read sheet {chosen!r} of {names}")

    def _header_position(self, path: str, raw: pd.DataFrame) -> tuple[int, list]:
        """Return the header's row position and the filled rows above it ``(row, text)``.

        The header is the first row that is not a ``#`` comment or a title (see
        :func:`_table_row`) and has filled rows below it; rows above it (a title, notes in
        one cell) are skipped. When the row below
        it names columns that the header leaves empty (a header over two rows, as merged
        cells give), that is an error: the names cannot be chosen without guessing. With
        ``header_row`` the header is that row and nothing is guessed.
        """
        cells = raw.iloc[: _EXCEL_PREAMBLE + 2].to_numpy(dtype=object)
        text = [[str(v).strip() for v in row] for row in cells]
        if self.header_row is not None:
            if self.header_row > raw.shape[0]:
                raise ValueError(f"{path}: header_row={self.header_row}, but sheet "
                                 f"{self.sheet!r} has {raw.shape[0]} rows.")
            return self.header_row - 1, []
        filled = [i for i, row in enumerate(text) if any(row)]
        first = filled[0] if filled else 0
        at = next((i for i in filled[: _EXCEL_PREAMBLE + 1] if _table_row(text[i])), first)
        if not any(i > at for i in filled):
            at = first  # no table below it (a sheet of notes): nothing to skip
        skipped = [(i + 1, " ".join(v for v in text[i] if v)[:80]) for i in filled if i < at]
        below = at + 1
        if below < len(text) and _second_header(text[at], cells[below], cells[below + 1:]):
            names = [v for v, h in zip(text[below], text[at], strict=True) if v and not h]
            raise ValueError(
                f"{path}: the header of sheet {self.sheet!r} spans rows {at + 1} and "
                f"{below + 1} (row {below + 1} names columns that row {at + 1} leaves empty: "
                f"{names[:5]}), as merged header cells give; proteolabel reads one header "
                f"row. Pass header_row={below + 1} to read row {below + 1} as the header "
                f"(CLI: --option header_row={below + 1}), or edit the sheet so that one row "
                "names every column."
            )
        return at, skipped

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
        table = ExcelTable(self.path, found[0], header_row=self.header_row)
        table.notes.insert(0, f"sheet {self.sheet!r} does not look like a data table, so sheet "
                              f"{found[0]!r} was read, the only one of {self.sheet_names} that "
                              "does (choose another with --option sheet=NAME on the command "
                              "line or sheet=NAME in Python)")
        return table

    def read(self, columns, ctx=None, *, value_columns=()):
        if self._body.shape[0] == 0:
            # raised here, not on opening, so that a first sheet of notes can be passed over
            # (read() adds the sheet hint to errors raised while loading)
            raise _no_rows(self.path, f"sheet {self.sheet!r}", self.columns)
        self.require_unique(columns)
        out = self._body.iloc[:, [self.position(c) for c in columns]].copy()
        out.columns = list(columns)
        return out


#: Rows looked at above a sheet's header for a title or notes.
_EXCEL_PREAMBLE = 50


def _is_number(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, np.number)):
        return bool(np.isfinite(value))
    try:
        float(str(value).strip().replace(",", "."))
    except ValueError:
        return False
    return True


def _second_header(header: list[str], row, rest) -> bool:
    """Say whether ``row`` continues a header over a second row.

    It does when it holds text only, fills a cell the header leaves empty, and numbers
    follow below it.
    """
    cells = [str(v).strip() for v in row]
    if not any(c and not h for c, h in zip(cells, header, strict=True)):
        return False
    if any(c and _is_number(v) for c, v in zip(cells, row, strict=True)):
        return False
    return any(_is_number(v) for r in rest[:20] for v in r if str(v).strip())


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

    body, present = cells[1:], filled[1:]
    numeric = np.vectorize(_is_number, otypes=[bool])(body) & present
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
    """A delimited text file: CSV, TSV or MaxQuant-style ``.txt``.

    The file is scanned once with :mod:`csv` before any column is read: the scan decides the
    encoding, whether quote characters quote fields, and which physical records are the
    header, blank lines, short rows and data rows. pandas then reads the columns with the same
    settings (``skip_blank_lines=False``), so that a row position means the same record in
    both; a count mismatch between the two is an error, never a silent shift.
    """

    typed = False

    def __init__(self, path: str, *, delimiter: str | None = None, encoding: str | None = None,
                 header_row: int | None = None):
        self.encoding = encoding or detect_encoding(path)
        #: The line of the header asked for (1-based), or None to find it (see ``_scan_once``).
        self.header_row = header_row
        #: Codec error handler: ``"strict"``, or :data:`CP1252_FALLBACK` for a UTF-8 file with
        #: a few bytes in a Windows code page.
        self.errors = "strict"
        #: Whether ``"`` quotes fields (decided by the scan, see :meth:`_scan`).
        self.quoting = True
        self._bad_lines: tuple[int, list[int], str] | None = None
        self._announced = False
        self.delimiter = delimiter or detect_delimiter(path, self.encoding)
        self.path = str(path)
        try:
            scan = self._scan(path)
        except UnicodeDecodeError as exc:
            if encoding is not None or self.encoding not in ("utf-8", "utf-8-sig"):
                raise self._decode_error(exc) from None
            self._fall_back(path)
            scan = self._scan(path)
        super().__init__(path, scan.header)
        self._lead, self._width, self._short = scan.lead, scan.width, scan.short
        self._long_empty, self._blank, self._n_records = scan.long_empty, scan.blank, scan.records
        self._first_span = scan.first_span
        self._perseus = scan.perseus_rows
        #: Perseus annotation rows (``#!{Type}``, ``#!{C:Group}``...) by name, one entry per
        #: column (the ``#!{...}`` prefix removed); they are not data rows.
        self.perseus: dict[str, list[str]] = scan.perseus
        if scan.long_line is not None:
            line, k = scan.long_line
            header_hint = ""
            if line == scan.header_line + 1 and self.header_row is None:
                header_hint = (f" If line {scan.header_line} is not the table's header (a title "
                               "or a note above it), name the header line with --option "
                               "header_row=N (header_row=N in Python).")
            raise ValueError(
                f"{path}: line {line} has {k} fields but the header has {len(scan.header)}; the "
                "extra values cannot be matched to columns. Fix that row (a stray delimiter or "
                f"an unquoted value holding {self.delimiter!r}).{header_hint}{self._span_hint()}"
            )
        if scan.records == len(scan.blank) + len(scan.perseus_rows):
            raise _no_rows(self.path, "the file", self.columns)
        if self.encoding not in ("utf-8", "utf-8-sig"):
            self.notes.append(f"read as {self.encoding}")
        if scan.preamble:
            first = scan.preamble[0][1]
            self.notes.append(
                f"the header is on line {scan.lead}; {len(scan.preamble)} line(s) above it that "
                f"are not part of the table (comments or a title, e.g. line {scan.preamble[0][0]}"
                f": {first!r}) were skipped (choose the header line with --option "
                "header_row=N on the command line or header_row=N in Python)")
        elif scan.lead > 1:
            self.notes.append(f"the header is on line {scan.lead}; the blank lines before it "
                              "were skipped")
        if scan.perseus:
            self.notes.append(
                f"{len(scan.perseus_rows)} Perseus annotation row(s) below the header "
                f"({', '.join('#!{' + k + '}' for k in scan.perseus)}) were not read as data")
        if scan.blank:
            n_blank = len(scan.blank)
            self.notes.append("1 blank line among the rows was skipped" if n_blank == 1 else
                              f"{n_blank} blank lines among the rows were skipped")
        if not self.quoting:
            self.notes.append(scan.quote_note)

    # -- decoding ----------------------------------------------------------------------------
    def _text_stream(self, path: str):
        return io.TextIOWrapper(_open_bytes(path), encoding=self.encoding, errors=self.errors,
                                newline="")

    def _fall_back(self, path: str) -> None:
        """Choose how to read a file that is not valid UTF-8.

        A file in which no non-ASCII line is valid UTF-8 is in a single-byte code page: cp1252
        (the Windows Western default; it is Latin-1 plus printable characters where Latin-1
        has control codes), or Latin-1 when a byte is undefined in cp1252. A file that is
        UTF-8 except on a few lines stays UTF-8 and only the undecodable bytes are read as
        cp1252, with a warning naming those lines.
        """
        bad, n_bad, n_good, cp1252_ok = _utf8_damage(path, self.encoding)
        if n_good:
            self.errors = CP1252_FALLBACK
            self._bad_lines = (n_bad, bad, _line_text(path, self.encoding, bad[0]))
        else:
            self.encoding = "cp1252" if cp1252_ok else "latin-1"

    def _decode_error(self, exc: UnicodeDecodeError) -> ValueError:
        where = ""
        if self.encoding.replace("_", "-").lower() in ("utf-8", "utf8", "utf-8-sig"):
            bad, _, _, _ = _utf8_damage(self.path, self.encoding)
            where = f" on line {bad[0]}" if bad else ""
        return ValueError(
            f"{self.path}: cannot be decoded as {self.encoding}{where} ({exc.reason}). Pass "
            "encoding=... with the file's encoding (for example 'cp1252', 'latin-1' or "
            "'utf-16')."
        )

    # -- scanning ----------------------------------------------------------------------------
    def _scan(self, path: str) -> _Scan:
        """Scan the file; read quote characters as text where they cannot be field quotes.

        Tools such as MaxQuant, DIA-NN, Spectronaut and FragPipe never quote their fields, so
        a ``"`` in a protein name is text; read as a CSV quote it would join the following
        lines into one row, or merge fields of one line. So when reading quotes gives
        irregular records (over several lines, too few or too many fields), the file is read
        once more with quotes as text, and each irregular record's first line is compared:

        - read as text, that line is a complete row (the header's number of fields): the
          quote cannot open a real quoted value there, which is evidence for text;
        - read as text, the line is short too, with the same number of fields: neutral (a
          row with trailing fields left out);
        - anything else (a CSV cell holding a line break or a delimiter, as CSV writers
          produce): evidence for quotes.

        Quotes are text when there is evidence for text and none for quotes, the header has
        no quote characters and no row gets extra values.
        """
        scan = self._scan_once(path, quoted=True)
        if not scan.irregular or not _holds_quote(path):
            return scan
        plain = self._scan_once(path, quoted=False, watch={w[0] for w in scan.watch})
        if plain.header != scan.header or plain.long_line is not None:
            return scan
        n = len(scan.header)
        text = quotes = 0
        for line, k, spans in scan.watch:
            k_plain = plain.watched.get(line, 0)
            if k_plain >= n:
                text += 1
            elif spans or k_plain != k:
                quotes += 1
        if not text or quotes:
            return scan
        self.quoting = False
        if scan.first_span is not None:
            start, end = scan.first_span
            what = f"a '\"' on line {start} would have joined lines {start}-{end}"
        else:
            what = (f"reading '\"' as a quote gave line {scan.first_irregular} the wrong "
                    "number of fields")
        plain.quote_note = (f"quote characters are text in this file, not field quotes "
                            f"({what}); it was read without quote handling")
        return plain

    def _scan_once(self, path: str, *, quoted: bool, watch: set[int] = frozenset()) -> _Scan:
        """Read every record once with :mod:`csv` to find its number of fields.

        Irregular records are listed in ``watch`` (up to :data:`_MAX_WATCHED`); the number of
        fields of the lines in ``watch`` is kept in ``watched``.
        """
        quoting = csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE
        with _csv_fields_unlimited(), self._text_stream(path) as handle:
            reader = csv.reader(handle, delimiter=self.delimiter, quoting=quoting)
            header, lead, header_line, preamble, pending = self._find_header(path, reader)
            n = len(header)
            scan = _Scan(header=header, lead=lead, width=n, preamble=preamble,
                         header_line=header_line)
            short = scan.short
            blank = scan.blank
            last = header_line
            index = 0
            listed = scan.watch

            def records():
                yield from pending
                for record in reader:
                    yield reader.line_num, record

            for line, row in records():
                if row and row[0].startswith("#!{") and "}" in row[0]:
                    # Perseus writes its column types and annotations as rows under the header
                    key, _, first = row[0][3:].partition("}")
                    scan.perseus.setdefault(key, [first, *row[1:]])
                    scan.perseus_rows.append(index)
                    index += 1
                    last = line
                    continue
                k = len(row)
                first = last + 1  # the record's first physical line
                spans = line > first
                last = line
                if spans:  # one record over several physical lines
                    scan.spans += 1
                    if scan.first_span is None:
                        scan.first_span = (first, line)
                elif watch and line in watch:
                    scan.watched[line] = k
                # only a row of the wrong length or with an empty first field can be blank
                if k != n or not row[0].strip():
                    if not any(f.strip() for f in row):
                        blank.append(index)
                        index += 1
                        continue
                    odd = False  # too few fields, or extra values
                    if k < n:
                        odd = True
                        entry = short.get(k)
                        if entry is None:
                            short[k] = (array("q", [index]), line)
                        else:
                            entry[0].append(index)
                    elif k > n:
                        if all(not f.strip() for f in row[n:]):
                            scan.long_empty += 1
                            scan.width = max(scan.width, k)
                        else:
                            odd = True
                            if scan.long_line is None:
                                scan.long_line = (line, k)
                    if odd and not spans and len(listed) < _MAX_WATCHED:
                        listed.append((first, k, False))
                if spans and len(listed) < _MAX_WATCHED:
                    listed.append((first, k, True))
                index += 1
            scan.records = index
        if header[0].startswith("\ufeff"):
            header[0] = header[0][1:]
        header = [h.strip() for h in header]
        # a header that itself ends with an empty name: a trailing delimiter everywhere
        while header and header[-1] == "" and len(header) > 1:
            header.pop()
        # other empty names (a row-index column written by pandas or R) get pandas' name
        scan.header = [h or f"Unnamed: {i}" for i, h in enumerate(header)]
        return scan

    #: Lines looked at above the header for comments and titles.
    _MAX_PREAMBLE = 200

    def _find_header(self, path: str, reader) -> tuple[list[str], int, int, list, list]:
        """Find the header record.

        Returns the header, the number of records up to and including it, its (last) line,
        the non-blank lines skipped above it (``(line, text)``) and the records already read past it
        (``(line, fields)``, blank ones included), which are data.

        The header is the first record that is not a comment or a title (:func:`_table_row`):
        lines above it whose only filled field is the first (a title, a note) or starting
        with ``#`` (a comment) are skipped, unless such a ``#`` line is as wide as the record
        after it and has two filled fields, which makes it a header written with a leading
        ``#``.
        When no record qualifies, the first non-blank one is the header. With ``header_row``
        the header is that record (counting every record from 1) and nothing is guessed.
        """
        buffer: list[tuple[int, list[str]]] = []  # (line, fields) of every record so far
        for row in reader:
            buffer.append((reader.line_num, row))
            if self.header_row is not None:
                if len(buffer) == self.header_row:
                    return row, len(buffer), reader.line_num, [], []
                continue
            if _table_row(row):
                break
            if len(buffer) > self._MAX_PREAMBLE:
                break
        else:
            if self.header_row is not None:
                raise ValueError(f"{path}: header_row={self.header_row}, but the file has only "
                                 f"{len(buffer)} lines.")
        nonblank = [i for i, (_, r) in enumerate(buffer) if any(f.strip() for f in r)]
        if not nonblank:
            raise ValueError(f"{path}: the file is empty.")
        last = buffer[-1][1]
        found = _table_row(last)
        at = nonblank[0]  # no record looks like a header: the first non-blank one is
        if found:
            at = len(buffer) - 1
            for i in nonblank[:-1]:
                row = buffer[i][1]
                if len(row) == len(last) and sum(1 for f in row if f.strip()) >= 2:
                    at = i  # a header with a leading '#'
                    break
        preamble = [(line, self.delimiter.join(r).strip()[:80]) for line, r in
                    (buffer[i] for i in nonblank if i < at)]
        return buffer[at][1], at + 1, buffer[at][0], preamble, buffer[at + 1:]

    def _span_hint(self) -> str:
        if self._first_span is None:
            return ""
        start, end = self._first_span
        return (f" Note: a quote character ('\"') on line {start} opens a quoted value that runs "
                f"to line {end}; if that quote is part of a name, remove it or quote the value.")

    # -- row checks ----------------------------------------------------------------------------
    def _announce(self, ctx: ReadContext | None) -> None:
        """Issue, once, the warnings the scan left for the read."""
        if self._announced:
            return
        self._announced = True
        if self._bad_lines is not None:
            n_bad, lines, text = self._bad_lines
            listed = ", ".join(str(x) for x in lines) + (" ..." if n_bad > len(lines) else "")
            _warn(ctx, self.path,
                  f"{n_bad} line(s) are not valid UTF-8 although the rest of the file is (line "
                  f"{listed}); only their undecodable bytes were read as cp1252 (Windows "
                  f"Western), e.g. line {lines[0]}: {text!r}. Check the names on those lines, "
                  "or pass encoding=... to read the whole file in one encoding.")

    def _skip_rows(self, ctx: ReadContext | None, value_columns: Sequence[str]) -> np.ndarray:
        """Return the data-row positions to skip: blank lines and fragments.

        Blank and whitespace-only lines hold nothing and are skipped (noted once when the
        file is opened). A short row that still reaches every value column only lacks
        trailing fields after them (some tools and editors trim empty trailing fields): it is
        read with blanks. A short row that ends before the first value column carries no
        quantities (e.g. a fragment of an overlong cell spilled onto its own line): it is
        skipped, counted and warned about. Any other short row would shift values between
        columns and is an error naming its line.
        """
        self._announce(ctx)
        n_header = len(self.columns)
        if self._long_empty and ctx is not None:
            ctx.warn(
                f"{self._long_empty} rows end with an extra empty field that has no header; "
                "it was ignored."
            )
        skip: list[np.ndarray] = []
        if self._blank:
            skip.append(np.frombuffer(self._blank, dtype=np.int64))
        if self._perseus:
            skip.append(np.frombuffer(self._perseus, dtype=np.int64))
        values = [self.position(c) for c in value_columns]
        if values:
            last_value, first_value = max(values), min(values)
        else:  # no value columns named: every short row is ragged
            last_value, first_value = n_header - 1, -1
        padded = 0
        fragments = 0
        for k, (rows, line) in sorted(self._short.items()):
            if k > last_value:
                padded += len(rows)
            elif k <= first_value:
                skip.append(np.frombuffer(rows, dtype=np.int64))
                fragments += len(rows)
            else:
                raise ValueError(
                    f"{self.path}: line {line} has {k} fields but the header has {n_header}: "
                    f"it stops inside the value columns ({self.columns[k]!r} and later are "
                    f"missing), so its values cannot be placed. Fix or remove that row."
                    f"{self._span_hint()}"
                )
        if ctx is not None and padded:
            ctx.note(
                f"{padded} rows had fewer fields than the header (trailing empty fields left "
                "out); the missing fields were read as blank"
            )
        if fragments and ctx is not None:
            ctx.drop("malformed_rows", [], count=fragments)
            lines = min(line for k, (_, line) in self._short.items() if k <= first_value)
            ctx.warn(
                f"{fragments} rows hold too few fields to carry any value (first at line "
                f"{lines}); they look like fragments of an over-long cell and were skipped."
            )
        if not skip:
            return np.empty(0, dtype=np.int64)
        return np.sort(np.concatenate(skip))

    def _csv_kwargs(self, columns: Sequence[str]) -> dict:
        return {
            "sep": self.delimiter,
            "encoding": self.encoding,
            "encoding_errors": self.errors,
            "quoting": csv.QUOTE_MINIMAL if self.quoting else csv.QUOTE_NONE,
            "header": None,
            "skiprows": self._lead,
            "names": list(range(self._width)),
            "usecols": [self.position(c) for c in columns],
            "dtype": str,
            "na_filter": False,
            # every record is a row, as in the scan; blank ones are dropped by position
            "skip_blank_lines": False,
            "index_col": False,
            "engine": "c",
        }

    def _frame(self, chunk: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
        chunk = chunk[[self.position(c) for c in columns]]
        chunk.columns = list(columns)
        return chunk.fillna("")

    def _chunks(self, kwargs: dict, batch_rows: int) -> Iterator[pd.DataFrame]:
        try:
            # the bytes the scan read (any compression), so that both see the same records
            with _open_bytes(self.path) as handle:
                if batch_rows:
                    with pd.read_csv(handle, chunksize=batch_rows, **kwargs) as reader:
                        yield from reader
                else:
                    yield pd.read_csv(handle, **kwargs)
        except pd.errors.ParserError as exc:
            raise ValueError(
                f"{self.path}: cannot be parsed as a {self.delimiter!r}-delimited table "
                f"({exc}).{self._span_hint()}"
            ) from exc

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
        offset = 0
        kept = 0
        for chunk in self._chunks(kwargs, batch_rows):
            n = len(chunk)
            if offset + n > self._n_records:
                raise self._disagreement(offset + n)
            if skip.size:
                lo, hi = np.searchsorted(skip, [offset, offset + n])
                if hi > lo:
                    chunk = chunk.drop(index=chunk.index[skip[lo:hi] - offset])
            frame = self._frame(chunk, columns).reset_index(drop=True)
            yield kept, frame
            offset += n
            kept += len(frame)
        if offset != self._n_records:
            raise self._disagreement(offset)

    def _disagreement(self, n_read: int) -> ValueError:
        return ValueError(
            f"{self.path}: the row scan found {self._n_records} rows but the table reader "
            f"got {n_read or 'no'}; the rows cannot be matched safely. Check the file for "
            f"unusual line breaks or quote characters.{self._span_hint()}"
        )


@dataclass
class _Scan:
    """What one pass of :mod:`csv` over a text file found."""

    header: list[str]
    #: Records up to and including the header (blank lines before it count).
    lead: int
    #: The widest row (rows with extra empty fields are wider than the header).
    width: int
    #: Data records, blank lines included (pandas' row count with ``skip_blank_lines=False``).
    records: int = 0
    blank: array = field(default_factory=lambda: array("q"))
    #: Short rows by number of fields: (data-row positions, first line number).
    short: dict[int, tuple[array, int]] = field(default_factory=dict)
    long_empty: int = 0
    #: (line, fields) of the first row with extra non-empty fields.
    long_line: tuple[int, int] | None = None
    spans: int = 0
    #: (first line, last line) of the first record written over several lines.
    first_span: tuple[int, int] | None = None
    quote_note: str = ""
    #: The (last) physical line of the header.
    header_line: int = 1
    #: Non-blank lines above the header that were skipped: (line, text).
    preamble: list[tuple[int, str]] = field(default_factory=list)
    #: Perseus annotation rows under the header (``#!{Type}...``): name -> fields.
    perseus: dict[str, list[str]] = field(default_factory=dict)
    #: Their data-row positions.
    perseus_rows: array = field(default_factory=lambda: array("q"))
    #: Irregular records: (first line, fields, whether over several lines).
    watch: list[tuple[int, int, bool]] = field(default_factory=list)
    #: Fields of the lines asked for (see ``TextTable._scan_once``).
    watched: dict[int, int] = field(default_factory=dict)

    @property
    def irregular(self) -> bool:
        return bool(self.short) or self.long_line is not None or self.spans > 0

    @property
    def n_short(self) -> int:
        return sum(len(rows) for rows, _ in self.short.values())

    @property
    def first_irregular(self) -> int | None:
        lines = [line for _, line in self.short.values()]
        if self.long_line is not None:
            lines.append(self.long_line[0])
        return min(lines) if lines else None


def _table_row(row: Sequence[str]) -> bool:
    """Say whether a record can be a table's header rather than a title or a comment.

    It can unless it starts with ``#`` or its only filled field is the first one (a title
    such as ``"Report of project X"``, also when written with trailing delimiters); an R
    header such as ``",S1"``, whose first field is empty, can.
    """
    if not row or row[0].lstrip("\ufeff \t").startswith("#"):
        return False
    filled = [i for i, f in enumerate(row) if f.strip()]
    return len(filled) >= 2 or (len(filled) == 1 and filled[0] > 0)


def _no_rows(path: str, what: str, columns: Sequence[str]) -> ValueError:
    shown = ", ".join(repr(c) for c in list(columns)[:5]) + (", ..." if len(columns) > 5 else "")
    return ValueError(
        f"{path}: {what} has a header ({len(columns)} column{'s' if len(columns) != 1 else ''}: "
        f"{shown}) but no data rows. Check "
        "that the export finished and that this is the file you meant."
    )


def _warn(ctx: ReadContext | None, path: str, message: str) -> None:
    if ctx is not None:
        ctx.warn(message, stacklevel=5)
    else:
        warnings.warn(f"{path}: {message}", UserWarning, stacklevel=5)


@contextmanager
def _csv_fields_unlimited():
    """Lift :mod:`csv`'s field size limit (128 KiB) for the block, then restore it.

    A wide table's header or a row of a long table can hold a single field far over the
    limit (a cell with thousands of run names, or a whole line when the delimiter is not yet
    known).
    """
    previous = csv.field_size_limit(_MAX_FIELD)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _holds_quote(path: str) -> bool:
    with _open_bytes(path) as handle:
        while block := handle.read(1 << 20):
            if b'"' in block:
                return True
    return False


def _utf8_damage(path: str, encoding: str) -> tuple[list[int], int, int, bool]:
    """Find the lines of a file that are not valid UTF-8.

    Returns the first few such line numbers, their number, the number of non-ASCII lines
    that are valid UTF-8, and whether every invalid line decodes as cp1252.
    """
    bad: list[int] = []
    n_bad = n_good = 0
    cp1252_ok = True
    with _open_bytes(path) as handle:
        for number, raw in enumerate(handle, 1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            if raw.isascii():
                continue
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                n_bad += 1
                if len(bad) < 5:
                    bad.append(number)
                if cp1252_ok:
                    try:
                        raw.decode("cp1252")
                    except UnicodeDecodeError:
                        cp1252_ok = False
            else:
                n_good += 1
    return bad, n_bad, n_good, cp1252_ok


def _line_text(path: str, encoding: str, number: int, limit: int = 120) -> str:
    """Return line ``number`` decoded as UTF-8 with the cp1252 fallback (for messages)."""
    with _open_bytes(path) as handle:
        for i, raw in enumerate(handle, 1):
            if i == number:
                text = raw.decode("utf-8", errors=CP1252_FALLBACK).rstrip("\r\n")
                return text if len(text) <= limit else text[:limit] + "..."
    return ""  # pragma: no cover


def detect_encoding(path: str) -> str:
    """Guess a text file's encoding from its first bytes.

    A byte-order mark decides (UTF-8 BOM, UTF-16 LE/BE); many NUL bytes without a BOM mean
    UTF-16 without BOM; otherwise UTF-8. A file that turns out not to be valid UTF-8 while it
    is scanned is read as cp1252 or Latin-1, or, when only a few lines are not UTF-8, as
    UTF-8 with those bytes read as cp1252 (see :class:`TextTable`).
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
    wins (quote characters read as quotes, then, failing that, as text), else the one that
    gives the most fields on the header line. Lines of any length are fine.
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
    with _csv_fields_unlimited():
        for quoting in (csv.QUOTE_MINIMAL, csv.QUOTE_NONE):
            counts = {sep: [len(r) for r in csv.reader(lines, delimiter=sep, quoting=quoting)]
                      for sep in order}
            for sep in order:
                widths = counts[sep]
                if widths[0] > 1 and all(w == widths[0] for w in widths[:-1]):
                    return sep
            if quoting == csv.QUOTE_MINIMAL:
                first = counts
    return max(order, key=lambda s: first[s][0])


def open_table(
    path: str | Path | pd.DataFrame,
    *,
    sheet: str | int | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    r_object: str | None = None,
    header_row: int | None = None,
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
    header_row
        Text files and Excel sheets: the line (row) of the header, counting from 1. By
        default it is found: lines of comments (``#``) or with a single filled cell (a title)
        above the table are skipped.

    """
    if isinstance(path, pd.DataFrame):
        if header_row is not None:
            raise ValueError("<DataFrame>: option header_row applies to text and Excel files "
                             "only; a DataFrame's header is its columns.")
        return FrameTable("<DataFrame>", path)
    path = str(path)
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such file.")
    if Path(path).is_dir():
        raise IsADirectoryError(f"{path}: is a directory; give the report file inside it.")
    suffix = _suffix(path)
    compression = _compression(path)
    if compression and suffix in EXCEL_SUFFIXES + PARQUET_SUFFIXES + RDATA_SUFFIXES:
        raise ValueError(f"{path}: a compressed {suffix} file cannot be read directly; "
                         f"decompress it first (only text tables may be {compression}).")
    if compression == ".zip":
        _zip_member(path)  # exactly one file, or an error naming them
    if header_row is not None and (isinstance(header_row, bool) or not isinstance(
            header_row, int) or header_row < 1):
        raise ValueError(f"{path}: header_row is the header's line number, counting from 1; "
                         f"got {header_row!r}.")
    if header_row is not None and suffix in PARQUET_SUFFIXES + RDATA_SUFFIXES:
        raise ValueError(f"{path}: option header_row applies to text and Excel files only.")
    if suffix in EXCEL_SUFFIXES:
        return ExcelTable(path, sheet, header_row=header_row)
    if suffix in PARQUET_SUFFIXES:
        return ParquetTable(path)
    if suffix in RDATA_SUFFIXES:
        return _open_rdata(path, r_object)
    return TextTable(path, delimiter=delimiter, encoding=encoding, header_row=header_row)


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
