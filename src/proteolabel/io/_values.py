"""Turn cells into numbers: missing tokens, decimal commas, zeros; and the per-read record."""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from proteolabel._constants import MISSING_TOKENS

#: How many dropped protein ids are kept per reason in ``uns["read"]["dropped_proteins"]``.
MAX_LISTED_DROPPED = 50

#: Key under which empty cells are counted in ``uns["read"]["missing_tokens"]``.
BLANK_KEY = "blank"

_THOUSANDS = re.compile(r"^[+-]?\d{1,3}([,.' ]\d{3})+([.,]\d+)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+(?:[eE][+-]?\d+)?$")
#: "1,234": a decimal comma (1.234) or a thousands separator (1234); nothing tells which.
_AMBIGUOUS_COMMA = re.compile(r"^[+-]?[1-9]\d{0,2},\d{3}$")
#: Numbers grouped in thousands by "," (decimal point) or by "." (decimal comma).
_GROUPED_COMMA = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?(?:[eE][+-]?\d+)?$")
_GROUPED_POINT = re.compile(r"^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d*)?(?:[eE][+-]?\d+)?$")
#: Values of ``decimal``: the decimal mark, or None to infer it per column.
DECIMAL_MARKS = (None, ",", ".")


def token_key(token: str) -> str:
    """Return the key a missing token is counted under.

    Tokens are matched case-insensitively and counted in lower case; the empty cell is counted
    as ``"blank"``; ``/`` is written as ``_`` (``"#N/A"`` -> ``"#n_a"``) so that the record can
    be stored in an ``.h5ad`` file, whose keys cannot hold ``/``.
    """
    token = token.strip().lower()
    return BLANK_KEY if token == "" else token.replace("/", "_")


@dataclass
class ReadContext:
    """Everything one call of ``read`` learns and records while loading a file.

    Readers add to it; :func:`proteolabel.io._build.build_anndata` turns it into
    ``adata.uns["read"]``.
    """

    path: str
    format: str = ""
    missing_tokens: tuple[str, ...] = MISSING_TOKENS
    quantity: str | None = None
    token_counts: Counter = field(default_factory=Counter)
    zero_count: int = 0
    dropped: Counter = field(default_factory=Counter)
    dropped_proteins: dict[str, list[str]] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)
    token_display: dict[str, str] = field(default_factory=dict)
    #: The decimal mark of the file's numbers: ``","`` or ``"."`` (the other one is then a
    #: thousands separator), or None to infer it per column (see :func:`parse_numeric`).
    decimal: str | None = None
    #: Whether the reader takes a ``log_base`` option (set by ``read``), for messages.
    takes_log_base: bool = False
    #: Whether values were given on a log scale and turned linear (``log_base=...``).
    log_base_applied: bool = False

    def __post_init__(self) -> None:
        # an empty cell is missing whatever the list says, as 0 is: it holds no number
        self._tokens = frozenset(t.strip().lower() for t in self.missing_tokens) | {""}
        if self.decimal not in DECIMAL_MARKS:
            raise ValueError(f"decimal must be ',' or '.' (or None to infer it), not "
                             f"{self.decimal!r}")

    @property
    def tokens(self) -> frozenset[str]:
        """The configured missing tokens, stripped and lower-cased."""
        return self._tokens

    def note(self, message: str) -> None:
        """Record a human-readable line in ``uns["read"]["messages"]``."""
        self.messages.append(message)

    def warn(self, message: str, stacklevel: int = 4) -> None:
        """Issue a ``UserWarning`` and record it in ``uns["read"]["warnings"]``."""
        self.warnings.append(message)
        warnings.warn(f"{self.path}: {message}", UserWarning, stacklevel=stacklevel)

    def drop(self, reason: str, ids: Iterable[object], count: int | None = None) -> None:
        """Count dropped features (or rows, with ``count``) under ``reason``."""
        ids = [str(i) for i in ids]
        n = len(ids) if count is None else int(count)
        if n == 0:
            return
        self.dropped[reason] += n
        if ids:
            listed = self.dropped_proteins.setdefault(reason, [])
            listed.extend(ids[: max(0, MAX_LISTED_DROPPED - len(listed))])

    def token_fix(self, text: str) -> str:
        """Say how to read ``text`` as missing: the missing-token list to pass, in full.

        ``missing_tokens`` replaces the default list, so the fix repeats the tokens in use
        and the default ones.
        """
        known = [*self.missing_tokens, *MISSING_TOKENS]
        # zeros are read as missing whatever the list says: no need to repeat them
        tokens = [t for t in dict.fromkeys(t.strip() for t in known) if t and not _is_zero(t)]
        tokens = [t for t in tokens if t.lower() != text.strip().lower()] + [text.strip()]
        listed = ",".join(tokens)
        return (f"if {text.strip()!r} means 'missing', pass missing_tokens={tokens!r} "
                f"(CLI: --missing-tokens '{listed}'; the option replaces the default list, "
                "so it repeats it)")

    def error(self, message: str) -> ValueError:
        """Return a ``ValueError`` whose text starts with the file name."""
        return ValueError(f"{self.path}: {message}")


def _is_zero(text: str) -> bool:
    try:
        return float(text) == 0.0
    except ValueError:
        return False


def _is_text_series(values: pd.Series) -> bool:
    return values.dtype == object or pd.api.types.is_string_dtype(values.dtype)


def parse_numeric(
    values: pd.Series,
    column: str,
    ctx: ReadContext,
    *,
    zero_is_missing: bool = True,
    allow_negative: bool = False,
    row_offset: int = 0,
) -> np.ndarray:
    """Convert one column of cells to float64 with ``NaN`` for missing values.

    Cells that are one of ``ctx.missing_tokens`` (case-insensitive, after stripping spaces)
    are missing and counted per token. Zeros are missing too (``zero_is_missing``) and counted
    under ``"0"`` unless written as another token such as ``"0.0"``. Any other text is an
    error naming the column, the value and its row.

    Decimal commas: with ``ctx.decimal`` None (the default) the decimal mark is inferred per
    column. A column whose numbers use a decimal comma (``"1234,5"``) is converted; a column
    mixing decimal commas and decimal points is an error. A column in which *every* comma
    value has one to three digits, a comma and exactly three digits (``"1,234"``,
    ``"123,456"``) is an error too, because such a comma is as likely a thousands separator
    (1234) as a decimal comma (1.234) and guessing would be off by a factor of 1000: pass
    ``decimal=","`` or ``decimal="."`` to :func:`~proteolabel.io.read` to say which. With
    ``ctx.decimal`` set, that mark is the decimal mark and the other one may only separate
    thousands (``"1.234,5"`` with ``decimal=","``, ``"1,234.5"`` with ``decimal="."``); a
    number that does not fit is an error.

    Parameters
    ----------
    values
        The cells, as text or numbers.
    column
        Column name used in messages.
    ctx
        Where counts are recorded.
    zero_is_missing
        Treat ``0`` as missing (the convention of every MS quantification tool).
    allow_negative
        Accept negative numbers (for values on a log scale); otherwise they are an error.
    row_offset
        Added to row positions in error messages (for batched reading).

    Returns
    -------
    numpy.ndarray
        Float64 values, ``NaN`` where missing.

    """
    n = len(values)
    if n == 0:
        return np.empty(0, dtype=np.float64)
    if pd.api.types.is_bool_dtype(values.dtype):
        raise ctx.error(f"column {column!r} holds true/false values, not quantities.")
    if not _is_text_series(values):
        out = values.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(out)
        if missing.any():
            ctx.token_counts["nan"] += int(missing.sum())
        return _finish(out, None, column, ctx, zero_is_missing, allow_negative, row_offset)

    raw = values.to_numpy(dtype=object)
    if ctx.decimal is not None:
        raw = _apply_decimal(raw, column, ctx, row_offset)
    try:  # Python's float(): correctly rounded, so written numbers read back bit for bit
        out = raw.astype(np.float64)
    except (ValueError, TypeError):
        out = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        ok = ~np.isnan(out)
        if ok.any():  # pandas' own parser may be off by one unit in the last place
            out[ok] = raw[ok].astype(np.float64)
    failed = np.flatnonzero(np.isnan(out))
    comma_rows: list[int] = []
    for i in failed:
        cell = raw[i]
        if cell is None or (isinstance(cell, float) and np.isnan(cell)):
            ctx.token_counts["nan"] += 1
            continue
        text = str(cell).strip()
        low = text.lower()
        if low in ctx.tokens:
            key = token_key(low)
            ctx.token_counts[key] += 1
            ctx.token_display.setdefault(key, text)
            continue
        if _DECIMAL_COMMA.match(text):
            out[i] = float(text.replace(",", "."))
            comma_rows.append(i)
            continue
        try:
            out[i] = float(text)
        except ValueError:
            if _THOUSANDS.match(text) or _GROUPED_COMMA.match(text):
                raise ctx.error(
                    f"column {column!r} holds {text!r} (row {row_offset + i + 1}), a number "
                    f"written with thousands separators; {_thousands_fix(text)}"
                ) from None
            raise ctx.error(
                f"column {column!r} should hold numbers but row {row_offset + i + 1} holds "
                f"{text!r}: {ctx.token_fix(text)}; otherwise fix the cell or choose another "
                "column."
            ) from None
    if comma_rows:
        _check_comma_column(raw, out, comma_rows, column, ctx, row_offset)
    return _finish(out, raw, column, ctx, zero_is_missing, allow_negative, row_offset)


_DECIMAL_FIX = ("pass decimal=',' if the comma is the decimal mark (1,234 = 1.234) or "
                "decimal='.' if it separates thousands (1,234 = 1234); on the command line "
                "--option decimal=, or --option decimal=.")
_NUMBERISH = re.compile(r"^[+-]?[\d.,]*\d[\d.,]*(?:[eE][+-]?\d+)?$")


def _thousands_fix(text: str) -> str:
    if _GROUPED_COMMA.match(text):
        return ("pass decimal='.' to read ',' as a thousands separator (CLI: --option "
                "decimal=.), or export it without them.")
    if _GROUPED_POINT.match(text):
        return ("pass decimal=',' to read '.' as a thousands separator (CLI: --option "
                "decimal=,), or export it without them.")
    return "export it without them."


def _check_comma_column(raw, out, comma_rows, column, ctx, row_offset) -> None:
    """Refuse a column that mixes decimal commas and points, or whose commas are ambiguous."""
    first = str(raw[comma_rows[0]]).strip()
    where = f"row {row_offset + comma_rows[0] + 1}: {first!r}"
    known = ctx.extra.setdefault("decimal_comma_columns", [])
    ambiguous = str(column) not in known and all(
        _AMBIGUOUS_COMMA.match(str(raw[i]).strip()) for i in comma_rows
    )
    is_comma = np.zeros(len(raw), dtype=bool)
    is_comma[comma_rows] = True
    for i in np.flatnonzero(~is_comma & ~np.isnan(out)):
        text = str(raw[i])
        if "." in text:
            hint = (" If the commas separate thousands, pass decimal='.' (CLI: --option "
                    "decimal=.)." if ambiguous else "")
            raise ctx.error(
                f"column {column!r} mixes decimal commas ({where}) and decimal points (row "
                f"{row_offset + i + 1}: {text.strip()!r}); fix the file so one separator is "
                f"used.{hint}"
            )
    if ambiguous:
        raise ctx.error(
            f"column {column!r} holds {first!r} ({where.split(':')[0]}) and every comma value "
            "in it has exactly three digits after the comma, so the comma may be a decimal "
            "comma or a thousands separator (a factor of 1000 apart); proteolabel does not "
            f"guess. Say which: {_DECIMAL_FIX}"
        )
    if str(column) not in known:
        known.append(str(column))


def _apply_decimal(raw: np.ndarray, column: str, ctx: ReadContext, row_offset: int) -> np.ndarray:
    """Rewrite numbers written with the decimal mark ``ctx.decimal`` in Python's notation.

    The other mark may only group thousands (``"1.234.567,5"`` with ``decimal=","``); a
    number-like cell that uses it otherwise is an error. Other text is left for the caller.
    """
    mark = ctx.decimal
    other = "." if mark == "," else ","
    grouped = _GROUPED_POINT if mark == "," else _GROUPED_COMMA
    cells = pd.Series(raw, dtype=object)
    out = raw.copy()
    changed = False
    for i in np.flatnonzero(cells.str.contains(other, regex=False, na=False).to_numpy()):
        text = out[i].strip()
        if text.lower() in ctx.tokens:
            continue
        if grouped.match(text):
            text = text.replace(other, "")
            out[i] = text.replace(",", ".") if mark == "," else text
            changed = True
        elif _NUMBERISH.match(text):
            raise ctx.error(
                f"column {column!r} holds {text!r} (row {row_offset + i + 1}), which is not a "
                f"number with {mark!r} as the decimal mark and {other!r} between thousands, "
                f"as decimal={mark!r} says. Check the column, or drop the decimal option to "
                "let proteolabel infer the mark."
            )
    if mark == ",":
        for i in np.flatnonzero(cells.str.contains(",", regex=False, na=False).to_numpy()):
            text = out[i].strip()
            if _DECIMAL_COMMA.match(text):
                out[i] = text.replace(",", ".")
                changed = True
    if changed:
        key = "decimal_comma_columns" if mark == "," else "thousands_separator_columns"
        listed = ctx.extra.setdefault(key, [])
        if str(column) not in listed:
            listed.append(str(column))
    return out


def _finish(out, raw, column, ctx, zero_is_missing, allow_negative, row_offset) -> np.ndarray:
    if allow_negative:
        # values on a log scale: -inf is the log of 0 (Perseus, R write -Infinity, -Inf), the
        # missing value of a linear scale
        low = np.isneginf(out)
        if low.any():
            out[low] = np.nan
            ctx.token_counts["-inf"] += int(low.sum())
            ctx.token_display.setdefault("-inf", "-Infinity")
    bad = np.isinf(out)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        text = str(raw[i]).strip() if raw is not None else str(out[i])
        hint = ("; on a log scale, -Infinity (the log of 0) is read as missing when log_base "
                "is given" if out[i] < 0 else "")
        raise ctx.error(
            f"column {column!r} holds an infinite value ({text!r}) at row {row_offset + i + 1}; "
            f"intensities must be finite: {ctx.token_fix(text)}{hint}."
        )
    if not allow_negative:
        neg = out < 0
        if neg.any():
            i = int(np.flatnonzero(neg)[0])
            raise ctx.error(
                f"column {column!r} holds a negative value ({float(out[i]):g}, row "
                f"{row_offset + i + 1}). Intensities are positive and on a linear scale. If "
                "this is a proteomics table of log-transformed intensities, pass log_base=2 "
                "(or its base; CLI: --option log_base=2); if it is not a table of protein "
                "intensities, proteolabel cannot use it."
            )
    if zero_is_missing:
        zeros = np.flatnonzero(out == 0)
        if zeros.size:
            out[zeros] = np.nan
            ctx.zero_count += int(zeros.size)
            if raw is None:
                ctx.token_counts["0"] += int(zeros.size)
            else:
                spelled = Counter(
                    c.strip().lower() if isinstance(c, str) else "0" for c in raw[zeros]
                )
                for token, count in spelled.items():
                    key = token if token in ctx.tokens else "0"
                    ctx.token_counts[token_key(key)] += int(count)
    return out


_BLOCK = "<block>"


def parse_numeric_frame(
    frame: pd.DataFrame, ctx: ReadContext, *, allow_negative: bool = False
) -> np.ndarray:
    """Apply :func:`parse_numeric` to each column; return a rows x columns float64 array.

    The whole block is parsed in one pass; a column-by-column pass runs only when the block
    needs it (decimal commas, or an error to be reported with its column).
    """
    n_rows, n_cols = frame.shape
    if n_cols == 0:
        return np.empty((n_rows, 0))
    if n_cols == 1 or all(not _is_text_series(frame[c]) for c in frame.columns):
        out = np.empty(frame.shape, dtype=np.float64)
        for j in range(n_cols):
            out[:, j] = parse_numeric(frame.iloc[:, j], str(frame.columns[j]), ctx,
                                      allow_negative=allow_negative)
        return out
    saved = (Counter(ctx.token_counts), ctx.zero_count, dict(ctx.token_display))
    flat = pd.Series(frame.to_numpy(dtype=object).ravel(order="F"), dtype=object)
    extra = {k: list(v) if isinstance(v, list) else v for k, v in ctx.extra.items()}
    try:
        values = parse_numeric(flat, _BLOCK, ctx, allow_negative=allow_negative)
        if not any(_BLOCK in v for v in ctx.extra.values() if isinstance(v, list)):
            return values.reshape(frame.shape, order="F")
    except ValueError:
        pass
    # column by column, from the state before the block pass
    ctx.token_counts, ctx.zero_count, ctx.token_display = saved
    ctx.extra = extra
    out = np.empty(frame.shape, dtype=np.float64)
    for j in range(n_cols):
        out[:, j] = parse_numeric(frame.iloc[:, j], str(frame.columns[j]), ctx,
                                  allow_negative=allow_negative)
    return out


def _written_number(text: pd.Series) -> np.ndarray:
    """Say which texts are numbers with a decimal comma or thousands separators.

    Such cells count as numbers when columns are classified; :func:`parse_numeric` then
    reads them or says which ``decimal`` option they need.
    """
    out = text.str.match(_DECIMAL_COMMA.pattern).to_numpy(dtype=bool)
    out |= text.str.match(_GROUPED_COMMA.pattern).to_numpy(dtype=bool)
    out |= text.str.match(_GROUPED_POINT.pattern).to_numpy(dtype=bool)
    return out


def classify_columns(frame: pd.DataFrame, tokens: frozenset[str]) -> pd.DataFrame:
    """Say, for every column at once, whether it holds numbers.

    Returns
    -------
    pandas.DataFrame
        One row per column with ``all_numeric`` (every cell a number or a missing token),
        ``share`` (share of non-missing cells that are numbers), ``bad`` (one offending
        cell or None) and ``n_texts`` (how many different texts that are not numbers, among
        the first thousand).

    """
    n_rows, n_cols = frame.shape
    cols = list(frame.columns)
    flat = pd.Series(frame.to_numpy(dtype=object).ravel(order="F"), dtype=object)
    is_num_obj = flat.map(lambda v: isinstance(v, (int, float, np.number))
                          and not isinstance(v, bool)).to_numpy(dtype=bool)
    text = flat.astype(str).str.strip()
    missing = flat.isna().to_numpy() | text.str.lower().isin(tokens).to_numpy()
    numeric = is_num_obj | pd.to_numeric(text, errors="coerce").notna().to_numpy()
    rest = np.flatnonzero(~numeric & ~missing)
    if rest.size:
        numeric[rest] = _written_number(text.iloc[rest])
    present = ~missing
    ok = numeric | missing
    shape = (n_rows, n_cols)
    ok2 = ok.reshape(shape, order="F")
    present2 = present.reshape(shape, order="F")
    numeric2 = (numeric & present).reshape(shape, order="F")
    n_present = present2.sum(axis=0)
    share = np.where(n_present > 0, numeric2.sum(axis=0) / np.maximum(n_present, 1), 1.0)
    bad: list[str | None] = []
    n_texts: list[int] = []
    text2 = text.to_numpy(dtype=object).reshape(shape, order="F")
    for j in range(n_cols):
        rows = np.flatnonzero(~ok2[:, j])
        bad.append(str(text2[rows[0], j]) if rows.size else None)
        n_texts.append(len(set(text2[rows[:1000], j].tolist())))
    return pd.DataFrame(
        {"all_numeric": ok2.all(axis=0), "share": share, "bad": bad, "n_texts": n_texts},
        index=cols,
    )


def looks_numeric(values: pd.Series, tokens: frozenset[str]) -> tuple[bool, float, str | None]:
    """Say whether a column holds numbers.

    Returns
    -------
    tuple
        ``(all_numeric, numeric_share, first_bad_value)``: whether every cell is a number or a
        missing token, the share of non-missing cells that are numbers, and one offending cell.

    """
    if not _is_text_series(values):
        return (not pd.api.types.is_bool_dtype(values.dtype), 1.0, None)
    text = values.astype(str).str.strip()
    low = text.str.lower()
    present = ~low.isin(tokens) & values.notna()
    if not present.any():
        return True, 1.0, None
    num = pd.to_numeric(text[present], errors="coerce")
    ok = num.notna().to_numpy()
    if not ok.all():
        ok[~ok] = _written_number(text[present][~ok])
    ok = pd.Series(ok, index=num.index)
    share = float(ok.mean())
    bad = None if ok.all() else str(text[present][~ok].iloc[0])
    return bool(ok.all()), share, bad


def missing_summary(ctx: ReadContext) -> str | None:
    """Return the one-line summary of missing cells.

    For example ``"4 values were 0, 5 were blank; all treated as missing"``.
    """
    counts = {k: v for k, v in ctx.token_counts.items() if v}
    if not counts:
        return None
    parts: list[tuple[int, str]] = []
    zero = sum(v for k, v in counts.items() if k in ("0", "0.0"))
    if zero:
        parts.append((zero, "0"))
    if counts.get(BLANK_KEY):
        parts.append((counts[BLANK_KEY], "blank"))
    for key, value in sorted(counts.items()):
        if key not in ("0", "0.0", BLANK_KEY):
            parts.append((value, "NaN" if key == "nan" else repr(ctx.token_display.get(key, key))))
    text = ", ".join(
        f"{n} {'values ' if i == 0 else ''}were {label}" for i, (n, label) in enumerate(parts)
    )
    return f"{text}; all treated as missing"
