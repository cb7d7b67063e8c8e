"""Sample-name normalisation and column-name matching, shared by every reader."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

#: File extensions of raw or converted MS runs, dropped from the end of a sample name
#: (case-insensitive, repeatedly, so ``run.mzML.gz`` and ``run.raw.PG.Quantity`` both give ``run``).
RUN_EXTENSIONS: tuple[str, ...] = (
    ".raw", ".d", ".mzml", ".mzxml", ".mzdata", ".mgf", ".wiff", ".wiff2", ".wiff.scan",
    ".dia", ".htrms", ".baf", ".tdf", ".ms2", ".mzb", ".gz", ".zip",
)

#: Tool suffixes after the run name (Spectronaut pivot headers end in ``.PG.Quantity``).
_TOOL_SUFFIX = re.compile(r"\.(PG|PEP|EG|FG)\.[A-Za-z0-9]+$", re.IGNORECASE)

#: Spectronaut pivot headers start with the run's position, e.g. ``[3] ``.
_RUN_POSITION = re.compile(r"^\[\d+\]\s+")

#: Quantity-column prefixes that readers strip from sample headers (spaced and R-dotted forms).
SAMPLE_PREFIXES: tuple[str, ...] = (
    "LFQ intensity ", "LFQ.intensity.", "LFQ_intensity_",
    "iBAQ ", "iBAQ.", "Intensity ", "Intensity.", "MaxLFQ Intensity ",
)


#: The start of an absolute or explicitly relative path or of a URI: ``C:\``, ``C:/``,
#: ``/``, ``\\``, ``./``, ``../``, ``~/``, ``file://``.
_PATH_START = re.compile(
    r"^(?:[A-Za-z]:[/\\]|[/\\]|\.{1,2}[/\\]|~[/\\]|[A-Za-z][A-Za-z0-9+.\-]*://)")


def looks_like_path(name: str) -> bool:
    r"""Say whether ``name`` is a file path rather than a name that happens to hold a slash.

    True when it holds ``/`` or ``\`` and either starts like a path (a drive letter, a root,
    ``./``, ``../``, ``~/``, a URI scheme such as ``file://``) or ends in a run-file extension
    (:data:`RUN_EXTENSIONS`, before any trailing separator and tool suffix such as
    ``.PG.Quantity``).

    Examples
    --------
    >>> looks_like_path(r"D:\ms\S1.raw"), looks_like_path("batch1/S1.d/")
    (True, True)
    >>> looks_like_path("P01/T0"), looks_like_path("mix 1/10")
    (False, False)

    """
    text = str(name).strip()
    if "/" not in text and "\\" not in text:
        return False
    if _PATH_START.match(text):
        return True
    last = text.rstrip("/\\")
    match = _TOOL_SUFFIX.search(last)
    if match and match.start() > 0:
        last = last[: match.start()]
    lowered = last.lower()
    return any(lowered.endswith(ext) and len(last) > len(ext) for ext in RUN_EXTENSIONS)


def normalize_sample_name(name: object, prefixes: Sequence[str] = ()) -> str:
    r"""Normalise a sample (run) name the one way every reader and ``read_labels`` use.

    The steps, in order:

    1. Surrounding white space is removed; inner spaces are kept (``"Ctrl 1"`` stays).
    2. A Spectronaut run position such as ``"[3] "`` at the start is removed.
    3. If the name looks like a file path, its directory is dropped: everything up to the
       last ``/`` or ``\\`` (trailing separators, as in ``run.d/``, are ignored first). A
       file path starts with a drive letter (``C:\\``), a root (``/``, ``\\``), ``./``,
       ``../``, ``~/`` or a URI scheme (``file://``), or ends in a run-file extension
       (:data:`RUN_EXTENSIONS`, possibly followed by a tool suffix). Other names keep their
       slashes, so ``"P01/T0"`` and ``"mix 1/10"`` stay as they are.
    4. Tool suffixes such as ``.PG.Quantity`` and run-file extensions (``.raw``, ``.d``,
       ``.mzML``, ``.wiff``, ... see :data:`RUN_EXTENSIONS`) are removed from the end,
       case-insensitively, as long as one matches and something remains.
    5. The first of ``prefixes`` that starts the name (case-insensitive) is removed, e.g.
       ``"LFQ intensity "``. Readers pass the prefix of the column family they read.

    Parameters
    ----------
    name
        The name as written by the tool (a header, a run name, a file path).
    prefixes
        Column prefixes to strip, tried in order.

    Returns
    -------
    str
        The normalised name. It is never empty when ``name`` has a non-blank part.

    Examples
    --------
    >>> normalize_sample_name(r"D:\ms\batch1\S_ctrl_01.raw")
    'S_ctrl_01'
    >>> normalize_sample_name("[1] 20200101_run_A.raw.PG.Quantity")
    '20200101_run_A'
    >>> normalize_sample_name("LFQ.intensity.K48_1", prefixes=["LFQ.intensity."])
    'K48_1'
    >>> normalize_sample_name("batch2/run_07.mzML")
    'run_07'
    >>> normalize_sample_name("mix 1/10")
    'mix 1/10'

    """
    text = str(name).strip()
    text = _RUN_POSITION.sub("", text)
    stripped = text.rstrip("/\\")
    if stripped and looks_like_path(text):
        text = re.split(r"[/\\]", stripped)[-1]
    changed = True
    while changed:
        changed = False
        match = _TOOL_SUFFIX.search(text)
        if match and match.start() > 0:
            text = text[: match.start()]
            changed = True
        lowered = text.lower()
        for ext in RUN_EXTENSIONS:
            if lowered.endswith(ext) and len(text) > len(ext):
                text = text[: -len(ext)]
                changed = True
                break
    lowered = text.lower()
    for prefix in prefixes:
        if lowered.startswith(prefix.lower()) and len(text) > len(prefix):
            text = text[len(prefix):]
            break
    return text.strip()


def canonical(column: object) -> str:
    """Return a spelling-independent form of a column name for matching.

    CamelCase is split, ``.``, ``_``, ``-`` and white space become one space and case is
    folded, so ``R.FileName``, ``r_file_name`` and ``R FileName`` all give ``"r file name"``,
    and ``Potential.contaminant`` equals ``Potential contaminant``.
    """
    text = str(column).strip()
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    text = re.sub(r"[\s._\-]+", " ", text)
    return text.strip().lower()


def find_column(columns: Iterable[str], *candidates: str) -> str | None:
    """Return the first column of ``columns`` matching one of ``candidates`` (by canonical form).

    Candidates are tried in order, so the first candidate wins over later ones.
    """
    by_canon: dict[str, str] = {}
    for col in columns:
        by_canon.setdefault(canonical(col), col)
    for cand in candidates:
        hit = by_canon.get(canonical(cand))
        if hit is not None:
            return hit
    return None
