"""Real datasets shipped with proteolabel."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: Label column of the bundled Alzheimer CSF cohort used by the demo (collection site).
DEMO_LABEL_COLUMN = "_collection site"
#: Share of the labelled demo samples used to tune eps (the rest measure the result).
DEMO_TUNE_FRACTION = 0.3


def alzheimer_csf_path() -> Path:
    """Path of the bundled ``Alzheimer.xlsx`` (210 CSF proteomes, 4 collection sites).

    Source: MannLabs/OmicLearn (Apache-2.0), from Bader et al., Mol Syst Biol 2020 (PXD016278);
    see the README.md beside the file.
    """
    ref = resources.files("proteolabel") / "data" / "alzheimer-csf-omiclearn" / "Alzheimer.xlsx"
    return Path(str(ref))


def alzheimer_csf():
    """Read the bundled Alzheimer CSF cohort as AnnData (linear intensities, NaN = missing).

    Sample metadata (``_collection site``, ``_primary biochemical AD classification``, ...) are
    in ``obs``.
    """
    from proteolabel.io import read

    return read(alzheimer_csf_path(), format="generic", samples_in="rows")
