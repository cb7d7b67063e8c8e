"""Small shared helpers: random state handling and dependency guards."""

from __future__ import annotations

import importlib
from types import ModuleType

import numpy as np
from sklearn.utils import check_random_state


def seed_from_random_state(random_state: int | np.random.RandomState | None) -> int:
    """Draw one integer seed from a scikit-learn style ``random_state``.

    ``None`` draws from fresh OS entropy (non-reproducible, as in scikit-learn); an int always
    gives the same seed; a ``RandomState`` advances.
    """
    rs = check_random_state(random_state)
    return int(rs.randint(0, 2**31 - 1))


def as_generator(rng: int | np.random.Generator | None) -> np.random.Generator:
    """Turn an ``rng`` argument (seed, Generator or None) into a ``np.random.Generator``."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def optional_import(module: str, extra: str) -> ModuleType:
    """Import an optional dependency or raise an ImportError that names the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        package = module.split(".")[0]
        raise ImportError(
            f"{package!r} is needed for this feature: install the extra {extra!r} (in a "
            f"checkout: `pip install -e \".[{extra}]\"`; from an index: "
            f"`pip install 'proteolabel[{extra}]'`), or `pip install {package}`."
        ) from exc


def suggest(given: str, options, n: int = 3) -> str:
    """Return ``" (did you mean 'x'?)"`` for the options closest to ``given``, or ``""``.

    A case-insensitive exact match wins; otherwise :func:`difflib.get_close_matches`.
    """
    import difflib

    opts = [str(o) for o in options]
    same = [o for o in opts if o.lower() == str(given).lower()]
    close = same or difflib.get_close_matches(str(given), opts, n=n, cutoff=0.6)
    return f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
