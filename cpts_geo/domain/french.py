"""French presentation of what users read: numbers, percentages, tables for Excel.

One place for the conventions: decimal comma, thousands separated by a space, a space before
``%``, and CSV files that French Excel opens as numbers (``;``, decimal comma, UTF-8 with BOM
so that accents show).
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

__all__ = [
    "fold",
    "formatted",
    "number",
    "percent",
]

# typographic characters NFKD does not turn into ASCII: kept as separators or letters
_TYPOGRAPHIC = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "´": "'", "`": "'", "–": "-", "—": "-",
                              "‑": "-", "œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})



def fold(text: object) -> str:
    """``text`` for matching names: lower case, no accents, words separated by one space.

    Parameters
    ----------
    text : object
        A name (any value, converted with ``str``).

    Returns
    -------
    str
        ``text`` in ASCII lower case (typographic apostrophes, dashes and ligatures turned into
        ASCII), each run of characters other than letters and digits replaced by one space,
        no leading or trailing space.

    Examples
    --------
    >>> fold("Provence-Alpes-Côte d'Azur"), fold("Lettre d’intention"), fold("Cœur–de–Ville")
    ('provence alpes cote d azur', 'lettre d intention', 'coeur de ville')
    """
    text = unicodedata.normalize("NFKD", str(text).translate(_TYPOGRAPHIC)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()



def number(x: float | np.number | None, decimals: int | None = 0, *, sep: str = " ") -> str:
    """``x`` written the French way: ``1 234,5``.

    ``decimals=None`` keeps the significant digits only (like ``{:g}``, without exponent for
    ordinary magnitudes); ``sep`` is the thousands separator (a narrow no-break space in HTML).
    Missing values give an empty string.

    Parameters
    ----------
    x : number or None
        The value; ``None``, ``pd.NA`` and NaN are missing.
    decimals : int or None, default 0
        Number of decimals; ``None`` keeps the significant digits (at most 6 decimals).
    sep : str, default " "
        Thousands separator.

    Returns
    -------
    str
        ``x`` with a decimal comma and ``sep`` between thousands; ``""`` when ``x`` is missing.

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



def formatted(x: object, fmt: str, *, sep: str = " ") -> str:
    """``x`` written with a Python format (``"{:,.1f}"``), then put the French way: the
    thousands separator becomes ``sep``, the decimal point a comma.

    Parameters
    ----------
    x : object
        The value to format.
    fmt : str
        A :meth:`str.format` template with one field, e.g. ``"{:,.1f}"``.
    sep : str, default " "
        What each comma of the formatted text becomes.

    Returns
    -------
    str
        ``fmt.format(x)`` with its commas replaced by ``sep`` and its dots by commas.

    Examples
    --------
    >>> formatted(7371.26, "{:,.1f}", sep="\u202f")
    '7\u202f371,3'
    """
    text = fmt.format(x)
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", sep)



def percent(x: float | np.number | None, decimals: int | None = 1, *, sep: str = " ") -> str:
    """A share (0–1) as a French percentage: ``11,8 %``.

    Parameters
    ----------
    x : number or None
        The share (1 is 100 %); missing values (``None``, ``pd.NA``, NaN) give ``""``.
    decimals : int or None, default 1
        Decimals of the percentage, as for :func:`number`.
    sep : str, default " "
        Thousands separator, as for :func:`number`.

    Returns
    -------
    str
        ``100 * x`` written by :func:`number` followed by `` %``; ``""`` when ``x`` is missing.

    Examples
    --------
    >>> percent(0.1182), percent(1, 0)
    ('11,8 %', '100 %')
    """
    text = number(100 * x, decimals, sep=sep) if x is not None and not pd.isna(x) else ""
    return f"{text} %" if text else ""
