"""French presentation of what users read: numbers, percentages, tables for Excel.

One place for the conventions: decimal comma, thousands separated by a space, a space before
``%``, and CSV files that French Excel opens as numbers (``;``, decimal comma, UTF-8 with BOM
so that accents show).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["fold", "formatted", "number", "percent", "whole_numbers", "write_csv"]


# typographic characters NFKD does not turn into ASCII: kept as separators or letters
_TYPOGRAPHIC = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "´": "'", "`": "'", "–": "-", "—": "-",
                              "‑": "-", "œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})


def fold(text) -> str:
    """``text`` for matching names: lower case, no accents, words separated by one space.

    Examples
    --------
    >>> fold("Provence-Alpes-Côte d'Azur"), fold("Lettre d’intention"), fold("Cœur–de–Ville")
    ('provence alpes cote d azur', 'lettre d intention', 'coeur de ville')
    """
    text = unicodedata.normalize("NFKD", str(text).translate(_TYPOGRAPHIC)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def number(x, decimals: int | None = 0, *, sep: str = " ") -> str:
    """``x`` written the French way: ``1 234,5``.

    ``decimals=None`` keeps the significant digits only (like ``{:g}``, without exponent for
    ordinary magnitudes); ``sep`` is the thousands separator (a narrow no-break space in HTML).
    Missing values give an empty string.

    Examples
    --------
    >>> number(6003283)
    '6 003 283'
    >>> number(4.6744, 3)
    '4,674'
    >>> number(1.1, None), number(0.5, None), number(184.919, None)
    ('1,1', '0,5', '184,919')
    """
    if x is None or x is pd.NA or (isinstance(x, (float, np.floating)) and np.isnan(x)):
        return ""
    if decimals is None:
        text = f"{float(x):,.6f}".rstrip("0").rstrip(".")
        return formatted(text, "{}", sep=sep)
    return formatted(x, f"{{:,.{decimals}f}}", sep=sep)


def formatted(x, fmt: str, *, sep: str = " ") -> str:
    """``x`` written with a Python format (``"{:,.1f}"``), then put the French way: the
    thousands separator becomes ``sep``, the decimal point a comma.

    Examples
    --------
    >>> formatted(7371.26, "{:,.1f}", sep="\u202f")
    '7\u202f371,3'
    """
    text = fmt.format(x)
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", sep)


def percent(x, decimals: int | None = 1, *, sep: str = " ") -> str:
    """A share (0–1) as a French percentage: ``11,8 %``.

    Examples
    --------
    >>> percent(0.1182), percent(1, 0)
    ('11,8 %', '100 %')
    """
    text = number(100 * x, decimals, sep=sep) if not pd.isna(x) else ""
    return f"{text} %" if text else ""


def whole_numbers(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` whose float columns holding only whole numbers are integers.

    A count read as ``34.0`` is written ``34``, not ``34,0`` (empty cells stay empty).

    Examples
    --------
    >>> whole_numbers(pd.DataFrame({"n": [34.0, None], "x": [0.5, 1.0]})).dtypes.tolist()
    [Int64Dtype(), dtype('float64')]
    """
    out = table.copy()
    for col in range(out.shape[1]):
        values = out.iloc[:, col]
        if pd.api.types.is_float_dtype(values.dtype):
            finite = values.dropna().to_numpy(dtype=float)
            if len(finite) and np.isfinite(finite).all() and (finite == np.round(finite)).all() \
                    and np.abs(finite).max() < 2**53:
                out.isetitem(col, values.astype("Int64"))
    return out


def write_csv(table: pd.DataFrame, path: str | Path, *, index: bool | None = None) -> Path:
    """Write ``table`` as a CSV that French Excel opens with its numbers and accents.

    ``;`` between fields, decimal comma, whole numbers without ``,0``, UTF-8 with BOM. ``index=None`` writes the index
    unless it is a plain range. The parent folder is created. Text cells that start like a
    formula (``= + - @``) are neutralised; the file is written atomically.

    Examples
    --------
    >>> import tempfile, os
    >>> path = write_csv(pd.DataFrame({"Surface (km²)": [718.29]}), os.path.join(tempfile.mkdtemp(), "t.csv"))
    >>> path.read_text(encoding="utf-8-sig").splitlines()
    ['Surface (km²)', '718,29']
    """
    from cpts_geo._files import atomic_path, neutralise_cells

    path = Path(path)
    if index is None:
        index = not isinstance(table.index, pd.RangeIndex)
    with atomic_path(path) as tmp:
        neutralise_cells(whole_numbers(table)).to_csv(tmp, sep=";", decimal=",", encoding="utf-8-sig", index=index)
    return path
