"""Read quantification files from proteomics tools into AnnData.

One entry point, :func:`read`, infers the format from the file name and header and
dispatches through :data:`READERS`; :func:`register_reader` adds a format. Every reader
returns the same AnnData: samples x proteins, linear intensities, NaN = missing, and a record
of what was read and dropped in ``uns["read"]``.
"""

from __future__ import annotations

from proteolabel.io import (  # noqa: F401 - importing registers the readers
    diann,
    fragpipe,
    generic,
    maxquant,
    mztab,
    skyline,
    spectronaut,
)
from proteolabel.io._names import normalize_sample_name
from proteolabel.io._registry import READERS, ReaderSpec, read, register_reader
from proteolabel.io.labels import read_labels

__all__ = [
    "READERS",
    "ReaderSpec",
    "normalize_sample_name",
    "read",
    "read_labels",
    "register_reader",
]
