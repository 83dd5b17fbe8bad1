"""One parser for numbers as French users type them.

Accepted, with any spaces (ordinary, no-break ``\\u00a0``, narrow no-break ``\\u202f``, thin)
or apostrophes as thousands separators: ``1234``, ``1 234``, ``1 234,5``, ``1.234,5``,
``1,234.5``, ``12,5``, ``12.5``, ``-3``, ``1e3``, ``inf`` (returned as such: callers refuse
infinite values with their own words). A percentage (``12,5 %``) only where the caller allows
it (``percent=True``), as a share (0,125). Anything else (words, ``nan``, ``1,2,3``,
badly grouped thousands such as ``1 23``, a formula ``=1/2`` with no computed value) is
*unreadable*: the caller names its row.

The rules for the two separators:

- a comma and a dot: the last one is the decimal separator, the other one groups thousands;
- only commas: one comma is the decimal separator (``12,5``); several are unreadable;
- only dots: one dot is the decimal point (``12.5``, as programs write); several group
  thousands (``1.234.567``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import pandas as pd

from cpts_geo.domain.french import number

__all__ = [
    "WholeNumbers",
    "parse_counts",
    "parse_number",
    "parse_numbers",
    "parse_whole_numbers",
    "thousands_notice",
]

_SPACES = re.compile(r"[\s\u00a0\u202f\u2009\u2007'’]")


_GROUPED = re.compile(r"^[+-]?\d{1,3}([\s\u00a0\u202f\u2009\u2007'’]\d{3})+([.,]\d*)?$")


_PLAIN = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$|^[+-]?inf(inity)?$", re.IGNORECASE)



def _one(text: str, percent: bool) -> float:
    """The value of one non-empty text, NaN if unreadable."""
    text = text.strip()
    share = False
    if percent and text.endswith("%"):
        text, share = text[:-1].strip(), True
    if _SPACES.search(text):
        if not _GROUPED.match(text):
            return np.nan
        text = _SPACES.sub("", text)
    comma, dot = text.count(","), text.count(".")
    if comma and dot:
        if text.rfind(",") > text.rfind("."):  # 1.234,5
            if comma > 1:
                return np.nan
            text = text.replace(".", "").replace(",", ".")
        else:  # 1,234.5
            if dot > 1:
                return np.nan
            text = text.replace(",", "")
    elif comma:
        if comma > 1:
            return np.nan
        text = text.replace(",", ".")
    elif dot > 1:
        if not re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+", text):
            return np.nan
        text = text.replace(".", "")
    if not _PLAIN.match(text):
        return np.nan
    value = float(text)
    return value / 100 if share else value



def parse_number(text: object, *, percent: bool = False) -> float:
    """One number written the French way; NaN when empty, ``ValueError`` when unreadable.

    Parameters
    ----------
    text : str, number or None
        The cell; a number (not a boolean) is taken as it is.
    percent : bool, default False
        Accept ``12,5 %`` as the share 0.125; otherwise a ``%`` is unreadable.

    Returns
    -------
    float
        The number; NaN when ``text`` is ``None``, NaN or blank (``inf`` stays infinite).

    Raises
    ------
    ValueError
        ``text`` is not a number by the rules of this module (message in French).

    Examples
    --------
    >>> parse_number("1 234,5"), parse_number("1.234,5"), parse_number("0,65")
    (1234.5, 1234.5, 0.65)
    >>> parse_number("12,5 %", percent=True)
    0.125
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return np.nan
    if isinstance(text, (int, float, np.integer, np.floating)) and not isinstance(text, bool):
        return float(text)
    text = str(text)
    if not text.strip():
        return np.nan
    value = _one(text, percent)
    if np.isnan(value):
        raise ValueError(f"nombre illisible : {text!r}")
    return value



def parse_numbers(values: pd.Series | Iterable[object], *, percent: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Numbers of a column as French users type them.

    Parameters
    ----------
    values : pandas.Series or sequence
        Numbers, text, or both (an XLSX column).
    percent : bool, default False
        Accept ``50 %`` as 0.5 (shares); otherwise a ``%`` is unreadable.

    Returns
    -------
    values : numpy.ndarray of float64
        The numbers; NaN where empty or unreadable (``inf`` stays infinite).
    unreadable : numpy.ndarray of bool
        True where a cell holds something that is not a number (empty cells are False).

    Examples
    --------
    >>> num, bad = parse_numbers(["1 234", "1.234,5", "1\\u202f234,5", "", "beaucoup"])
    >>> num.tolist()[:3], bad.tolist()
    ([1234.0, 1234.5, 1234.5], [False, False, False, False, True])
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    if pd.api.types.is_bool_dtype(series.dtype):
        series = series.astype(object)
    if pd.api.types.is_numeric_dtype(series.dtype):
        out = series.to_numpy(dtype="float64", na_value=np.nan)
        return out, np.zeros(len(out), dtype=bool)
    out = np.full(len(series), np.nan)
    bad = np.zeros(len(series), dtype=bool)
    obj = series.to_numpy(dtype=object)
    is_text = np.fromiter((isinstance(v, str) for v in obj), dtype=bool, count=len(obj))
    # numbers already (XLSX, object columns): taken as they are (booleans are not numbers)
    for pos in np.flatnonzero(~is_text):
        v = obj[pos]
        if v is None or v is pd.NA or v is pd.NaT:
            continue
        if isinstance(v, (bool, np.bool_)):
            bad[pos] = True
        elif isinstance(v, (int, float, np.integer, np.floating)):
            out[pos] = float(v)
        else:
            bad[pos] = True
    if is_text.any():
        text = pd.Series(obj[is_text], dtype="string").str.strip()
        empty = (text.isna() | (text == "")).to_numpy()
        # the usual case first: plain numbers, one vectorised pass
        plain = text.str.fullmatch(_PLAIN).fillna(False).to_numpy(dtype=bool)
        num = np.full(len(text), np.nan)
        if plain.any():
            num[plain] = text[plain].astype("float64").to_numpy()
        rest = np.flatnonzero(~plain & ~empty)
        if len(rest):
            given = text.to_numpy(dtype=object)
            cache: dict[str, float] = {}
            for pos in rest:
                t = given[pos]
                if t not in cache:
                    cache[t] = _one(t, percent)
                num[pos] = cache[t]
        unread = ~empty & np.isnan(num)
        out[is_text] = num
        bad[is_text] = unread
    return out, bad


class WholeNumbers(NamedTuple):
    """A column of whole numbers (inhabitants) as read by :func:`parse_whole_numbers`."""

    #: The numbers (float64); NaN where empty or unreadable.
    values: np.ndarray
    #: True where a cell holds something that is not a number.
    unreadable: np.ndarray
    #: True where the number has a decimal part (``12,5``, ``1.234`` in a column whose dot or
    #: comma is a decimal separator): the caller refuses it with its row.
    fractional: np.ndarray
    #: True where a cell such as ``1.234`` was read as thousands (1 234): the column writes
    #: its thousands that way; the caller reports it.
    thousands: np.ndarray


_THOUSANDS_FORM = re.compile(r"^[+-]?\d{1,3}(?P<sep>[.,])\d{3}(?:(?P=sep)\d{3})*$")


def parse_whole_numbers(values: pd.Series | Iterable[object]) -> WholeNumbers:
    """Whole numbers of a column (a population), where ``1.234`` may be 1 234 or 1,234.

    A single dot or comma followed by exactly three digits (``1.234``, ``2,500``) is ambiguous.
    The column decides: when every cell written with a dot or comma has the form of
    thousands (``1.234``, ``12.500``, ``1.234.567``, one separator for the whole column), the
    column writes its thousands that way and those cells are read as thousands (flagged in
    ``thousands``, for the caller's report); otherwise the separator is a decimal one and a
    number with a decimal part is flagged in ``fractional`` (never rounded, never guessed).

    Parameters
    ----------
    values : pandas.Series or sequence
        Numbers, text, or both (an XLSX column), as for :func:`parse_numbers`.

    Returns
    -------
    WholeNumbers
        The numbers and, by position, the cells unreadable, with a decimal part, or read as
        thousands.

    Examples
    --------
    >>> res = parse_whole_numbers(["1.234", "250", "12.500"])
    >>> res.values.tolist(), res.thousands.tolist()
    ([1234.0, 250.0, 12500.0], [True, False, True])
    >>> parse_whole_numbers(["1.234", "12,5", "2500"]).fractional.tolist()
    [True, True, False]
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    num, unreadable = parse_numbers(series)
    num, unreadable = num.copy(), unreadable.copy()
    thousands = np.zeros(len(num), dtype=bool)
    obj = series.to_numpy(dtype=object)
    text = np.array([v.strip() if isinstance(v, str) else "" for v in obj], dtype=object)
    separated = np.array([("." in t or "," in t) and not _SPACES.search(t) for t in text], dtype=bool)
    if separated.any():
        forms = [_THOUSANDS_FORM.match(t) for t in text[separated]]
        seps = {m.group("sep") for m in forms if m}
        if all(forms) and len(seps) == 1:
            # every separated cell is thousands-shaped with one separator: thousands
            sep = seps.pop()
            for pos in np.flatnonzero(separated):
                num[pos] = float(text[pos].replace(sep, ""))
                unreadable[pos] = False  # 1,234,567: several commas group thousands here
                # a single separator was read as a decimal one by parse_numbers
                thousands[pos] = text[pos].count(sep) == 1
    finite = np.isfinite(num)
    fractional = np.zeros(len(num), dtype=bool)
    fractional[finite] = num[finite] % 1 != 0
    return WholeNumbers(num, unreadable, fractional, thousands)



def parse_counts(values: pd.Series, rows: np.ndarray | None, codes: pd.Series, what: str,
             problems: list[dict], *, required: bool, upper: float | None = None) -> pd.Series:
    """Parse numbers (French decimal comma accepted); record missing/negative/non-numeric/infinite.

    ``rows`` are the row numbers to quote (``None``: no row, the code says where).

    Parameters
    ----------
    values : pandas.Series
        The cells, numbers or text as French users type them (see :func:`parse_numbers`).
    rows : numpy.ndarray or None
        The row number of each value, quoted in the problems; ``None`` quotes no row.
    codes : pandas.Series
        The code of each value (by position), quoted in the problems.
    what : str
        The French name of the quantity in the messages (``"effectif"``, ``"ETP"``…).
    problems : list of dict
        Where the problems are appended (modified in place): one dict per problem with
        ``row``, ``code`` and ``problem`` (in French).
    required : bool
        Whether an empty cell is a problem.
    upper : float, optional
        The largest accepted value; a larger one is a problem.

    Returns
    -------
    pandas.Series of float64
        The numbers, indexed like ``values``; NaN where empty, non-numeric or infinite.
        Negative values and values above ``upper`` are kept (they are only reported).
    """
    num = pd.Series(parse_numbers(values)[0], dtype="float64")  # French numbers: 1 234,5

    def where(pos: int | np.integer) -> dict[str, object]:
        return {"row": int(rows[pos]) if rows is not None else pd.NA, "code": codes.iloc[pos]}

    for pos in np.flatnonzero(num.isna().to_numpy()):
        given = values.iloc[pos]
        if pd.isna(given) or str(given).strip() == "":
            if required:
                problems.append({**where(pos), "problem": f"{what} manquant : indiquez un nombre ≥ 0"})
        else:
            problems.append({**where(pos),
                             "problem": f"{what} non numérique « {given} » : indiquez un nombre ≥ 0"})
    for pos in np.flatnonzero(np.isinf(num.to_numpy())):
        problems.append({**where(pos), "problem": f"{what} infini : indiquez un nombre ≥ 0"})
        num.iloc[pos] = np.nan
    neg = np.flatnonzero((num < 0).to_numpy())
    for pos in neg:
        problems.append({**where(pos),
                         "problem": f"{what} négatif ({number(num.iloc[pos], None)}) : un effectif est ≥ 0"})
    if upper is not None:
        for pos in np.flatnonzero((num > upper).to_numpy()):
            problems.append({**where(pos),
                             "problem": f"{what} invalide ({number(num.iloc[pos], None)}) : attendu entre 0 et {number(upper, None)}"})
    num.index = values.index
    return num



def thousands_notice(what: str, thousands: pd.DataFrame, field: str) -> str:
    """The notice that populations were read as thousands (``1.234`` = 1 234), in French.

    Parameters
    ----------
    what : str
        The table, as the message names it (« Couche communale communes.gpkg »).
    thousands : DataFrame
        One row per cell read as thousands: ``row`` (file row), ``given`` (the text), ``population``.
    field : str
        Where the caller lists them (« le champ thousands de check_communes »).

    Returns
    -------
    str
        One sentence with the number of cells and the first of them.

    Examples
    --------
    >>> t = pd.DataFrame({"row": [3], "given": ["1.234"], "population": [1234.0]})
    >>> thousands_notice("Tableau p.csv", t, "le champ thousands du résultat")[:60]
    'Tableau p.csv : 1 population(s) écrite(s) avec un séparateur'
    """
    first = thousands.iloc[0]
    return (f"{what} : {len(thousands)} population(s) écrite(s) avec un séparateur de milliers (« . » ou « , »), "
            f"lue(s) en milliers comme toute la colonne, ex. ligne {first['row']} : « {first['given']} » = "
            f"{number(first['population'])} habitants ; liste dans {field}")
