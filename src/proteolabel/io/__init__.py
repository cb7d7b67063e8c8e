"""Read quantification files from proteomics tools into AnnData.

One entry point, :func:`read`, infers the format from the file name and header and
dispatches through :data:`READERS`; :func:`register_reader` adds a format. Every reader
returns the same AnnData:

- ``X``: samples x proteins, float64, linear intensities, ``NaN`` = missing. Empty cells,
  ``0``, ``0.0``, ``NaN``, ``NA``, ``N/A``, ``#N/A``, ``Filtered`` ... (``missing_tokens``)
  are all missing.
- ``obs_names``: sample names after :func:`normalize_sample_name`; ``var_names``: the protein
  group as the tool wrote it (``P1;P2`` stays one feature).
- ``obs``: sample annotations found in the file (``_``-prefixed columns of a wide table,
  Skyline ``Condition``, Spectronaut ``R.Condition``...).
- ``layers["n_values"]`` (long formats): number of values summed into each cell.
- ``uns["read"]``: ``path``, ``format``, ``quantity``, ``n_samples``, ``n_proteins``,
  ``missing_fraction``, ``dropped`` (``{reason: count}``; protein groups for ``decoy``,
  ``contaminant``, ``only_identified_by_site``, ``no_values``, ``no_id``; input rows for
  ``rows_*`` reasons and ``malformed_rows``), ``dropped_proteins`` (``{reason: first 50
  ids}``), ``missing_tokens`` (``{token: count}``; ``blank`` for empty cells, ``/`` written
  as ``_`` so the record fits in an .h5ad file), ``messages`` and ``warnings``.

Formats: ``maxquant``, ``maxquant_evidence``, ``skyline``, ``diann``, ``diann_pg``,
``diann_pr``, ``spectronaut``, ``fragpipe``, ``fragpipe_peptide``, ``mztab``, ``generic``,
``generic_long``, ``h5ad``. Containers: delimited text (optionally compressed: ``.gz``,
``.bz2``, ``.xz`` or a ``.zip`` of one file), Excel, parquet, R ``.rda``.
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
