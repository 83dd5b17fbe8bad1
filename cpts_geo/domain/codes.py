"""Commune codes: their shape, their cleaning, their department and city, and fast look-ups.

The one owner of the INSEE code rules (:data:`INSEE_CODE_PATTERN`, :func:`is_insee_code`,
:func:`normalize_codes`), of the department of a code (:func:`department_of`) and of the
Paris/Lyon/Marseille arrondissements (:func:`arrondissement_parent`, :func:`city_of`).

**One code dtype.** A commune code is text in :data:`CODE_DTYPE` (pandas' ``str``: text backed
by pyarrow, a missing code is NaN) wherever it enters or leaves the domain: the embedded layer,
every reader (through :func:`normalize_codes`, which cleans, or :func:`as_codes`, which only
declares) and the domain's results hold their codes in it.

Look-ups of codes (:func:`is_in`, :func:`positions`, :func:`unify`, :func:`text_array`) hash
text once with pyarrow: pandas hashes object strings one by one, and its ``get_indexer`` and
``isin`` on Arrow text convert the values first; on the tens of thousands of commune codes of a
national table that is most of the time of an otherwise integer computation. They fall back to
pandas, with the same result, when the labels are not all text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cpts_geo.data.communes import arrondissement_codes

if TYPE_CHECKING:
    import pyarrow as pa

#: An INSEE commune code: five digits, or 2A/2B and three digits for Corsica. The one copy of the rule.
INSEE_CODE_PATTERN = r"\d{5}|2[AB]\d{3}"


_CODE_RE = re.compile(rf"^(?:{INSEE_CODE_PATTERN})$")


#: The dtype of commune codes at the domain boundary: pandas' ``str`` (text backed by pyarrow,
#: NaN for a missing code), the dtype of the embedded layer and of pandas 3's readers.
CODE_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)


__all__ = [
    "CODE_DTYPE",
    "as_codes",
    "department_of",
    "is_insee_code",
    "normalize_codes",
]


def text_array(values: Iterable[object]) -> pa.Array | pa.ChunkedArray | None:
    """``values`` (labels) as a pyarrow ``large_string`` array, or ``None`` when they are not
    all text (missing values allowed). A pyarrow array is taken as it is: convert a column
    once and pass its array to several look-ups.

    Parameters
    ----------
    values : Index, Series, array-like, pyarrow.Array or pyarrow.ChunkedArray
        The labels.

    Returns
    -------
    pyarrow.Array, pyarrow.ChunkedArray or None
        The labels cast to ``large_string`` (a chunked array stays chunked); ``None`` when
        they are not all text (numbers, mixed types…).

    Examples
    --------
    >>> text_array(pd.Index(["59350", "62041"])).to_pylist()
    ['59350', '62041']
    >>> text_array(pd.Index([59350, 62041])) is None
    True
    """
    import pyarrow as pa

    if isinstance(values, pd.Index | pd.Series):
        values = values.array
    if isinstance(values, pa.Array | pa.ChunkedArray):  # already converted
        arr = values
    else:
        try:
            arr = pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    return arr.cast(pa.large_string())



def positions(index: pd.Index, values: Iterable[object]) -> np.ndarray:
    """``index.get_indexer(values)`` (-1 where absent) for a unique ``index``.

    Parameters
    ----------
    index : pandas.Index
        Unique labels to look in.
    values : Index, Series, array-like or pyarrow array
        Labels to look up.

    Returns
    -------
    numpy.ndarray of int64
        The position in ``index`` of each of ``values``, -1 where absent (pyarrow when both
        are text and ``index`` has no missing value, pandas otherwise).

    Examples
    --------
    >>> positions(pd.Index(["a", "b", "c"]), pd.Series(["c", "x", "a"])).tolist()
    [2, -1, 0]
    """
    import pyarrow.compute as pc

    where, labels = text_array(index), text_array(values)
    if where is None or labels is None or where.null_count:
        if hasattr(values, "to_pylist"):  # a pyarrow array
            values = np.asarray(values.to_pylist(), dtype=object)
        return index.get_indexer(values)
    found = pc.index_in(labels, value_set=where)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)



def is_in(values: Iterable[object], labels: Iterable[object]) -> np.ndarray:
    """Whether each of ``values`` is one of ``labels``, as a boolean array (missing: False).

    ``labels`` may be a few codes or a whole index (a set, list, Index, Series or array).

    Parameters
    ----------
    values : Index, Series, array-like or pyarrow array
        The labels to test.
    labels : iterable
        The labels to look for: a set, dict keys, list, tuple, Index, Series, numpy or
        pyarrow array.

    Returns
    -------
    numpy.ndarray of bool
        One flag per value of ``values``; a missing value is False unless ``labels`` holds a
        missing value too.

    Examples
    --------
    >>> is_in(pd.Index(["75056", "59350"]), ["75056", "69123"]).tolist()
    [True, False]
    >>> is_in(pd.Series(["59350", None]), {"59350"}).tolist()
    [True, False]
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(labels, pd.Index | pd.Series | np.ndarray | pa.Array | pa.ChunkedArray | list | tuple):
        labels = list(labels)  # a set, a dict's keys…
    text, label_text = text_array(values), text_array(labels)
    if text is None or label_text is None:
        return np.asarray(pd.Index(values, dtype=object).isin(pd.Index(labels, dtype=object)))
    found = pc.is_in(text, value_set=label_text)
    return found.fill_null(False).to_numpy(zero_copy_only=False)



def unify(parts: Sequence) -> tuple[pd.Index, list[np.ndarray]]:
    """Every distinct label of several arrays of distinct labels, in order of first
    appearance (like ``pd.unique`` of their concatenation), and the position of each array's
    labels in it.

    Parameters
    ----------
    parts : sequence of array-like
        The arrays (lists, Index, Series, numpy or pyarrow arrays), each without duplicates.

    Returns
    -------
    labels : pandas.Index
        The distinct labels of all the parts, in order of first appearance (string dtype when
        the parts are all text).
    positions : list of numpy.ndarray of int64
        For each part, the position in ``labels`` of each of its labels.

    Examples
    --------
    >>> labels, (a, b) = unify([["x", "y"], ["y", "z"]])
    >>> list(labels), a.tolist(), b.tolist()
    (['x', 'y', 'z'], [0, 1], [1, 2])
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays = [text_array(p) for p in parts]
    sizes = np.cumsum([len(p) for p in parts])[:-1]
    if any(a is None for a in arrays):
        objects = [np.asarray(p, dtype=object) for p in parts]
        labels = pd.Index(pd.unique(np.concatenate(objects)))
        return labels, [labels.get_indexer(p) for p in objects]
    encoded = pc.dictionary_encode(pa.concat_arrays(arrays))
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return pd.Index(pd.array(encoded.dictionary, dtype="str")), np.split(codes, sizes)


_CLEAN = re.compile(INSEE_CODE_PATTERN)



def _as_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else str(value)
    text = str(value).replace("\u00a0", " ").strip()
    if re.fullmatch(r"\d+\.0+", text):
        text = text.split(".")[0]
    if re.fullmatch(r"2[ab]\d{3}", text, flags=re.IGNORECASE):
        text = text.upper()
    return text



def _normalize_one(value: object) -> tuple[str | None, str | None]:
    text = _as_text(value)
    if text is None or text == "":
        return None, "code vide"
    reason = None
    if isinstance(value, str):
        stripped = value.replace("\u00a0", " ").strip()
        if stripped != value:
            reason = "espaces retirés"
        elif re.fullmatch(r"\d+\.0+", stripped):
            reason = "nombre converti en texte"
        elif stripped != text:
            reason = "majuscules (2A/2B)"
    if re.fullmatch(r"\d{4}", text):
        text = "0" + text
        reason = "zéro initial restauré"
    elif isinstance(value, (float, np.floating)) and reason is None:
        reason = "nombre converti en texte"
    return text, reason



def as_codes(values: pd.Index | pd.Series | Iterable[object]) -> pd.Index | pd.Series:
    """Codes already clean, in :data:`CODE_DTYPE` (the values returned as they are when they
    already are; cleaning what users typed is :func:`normalize_codes`'s).

    Parameters
    ----------
    values : Index, Series or iterable of str
        Commune codes (text; ``None`` or NaN where missing).

    Returns
    -------
    Index or Series
        An Index for an Index (its name kept), otherwise a Series (the index and name of a
        Series kept), in :data:`CODE_DTYPE`.

    Examples
    --------
    >>> as_codes(["59350", None]).tolist(), as_codes(pd.Index(["2A004"], dtype=object)).dtype
    (['59350', nan], <StringDtype(na_value=nan)>)
    """
    if isinstance(values, (pd.Index, pd.Series)):
        return values if values.dtype == CODE_DTYPE else values.astype(CODE_DTYPE)
    return pd.Series(list(values), dtype=object).astype(CODE_DTYPE)



def normalize_codes(values: pd.Series | Iterable) -> tuple[pd.Series, pd.DataFrame]:
    """Clean commune codes as typed in a spreadsheet.

    Strips spaces (also non-breaking ones), upper-cases ``2a``/``2b``, turns numbers
    (``59350``, ``59350.0``) into text and restores the leading zero lost by codes of
    departments 01–09 read as integers (``1001`` → ``"01001"``: four digits can only be
    that). Anything else is left as given, for :func:`remap_codes` to report.

    Parameters
    ----------
    values : Series or iterable
        The codes, in the order of the user's rows.

    Returns
    -------
    codes : pandas.Series
        Cleaned codes (:data:`CODE_DTYPE`, NaN for empty cells), aligned with ``values``.
    report : pandas.DataFrame
        One row per value that was changed or is empty: ``row`` (1-based position),
        ``code`` (as given), ``new_code``, ``reason``.

    Examples
    --------
    >>> codes, report = normalize_codes([1001, " 59350 ", "2a004", "80021"])
    >>> codes.tolist()
    ['01001', '59350', '2A004', '80021']
    >>> report["reason"].tolist()
    ['zéro initial restauré', 'espaces retirés', 'majuscules (2A/2B)']
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values))
    values_list = series.tolist()
    # The usual case, vectorised: text that is already a clean code needs nothing.
    clean = series.astype("string").str.fullmatch(_CLEAN.pattern).fillna(False).to_numpy(dtype=bool)
    if not isinstance(series.dtype, pd.StringDtype):  # 59350 as a number is not clean text
        clean &= np.fromiter((isinstance(v, str) for v in values_list), dtype=bool,
                             count=len(values_list))
    if clean.all():
        codes = pd.Series(series.to_numpy(dtype=object), index=series.index, dtype=CODE_DTYPE,
                          name=series.name)
        return codes, pd.DataFrame(columns=["row", "code", "new_code", "reason"])
    out: list[str | None] = []
    rows = []
    seen: dict = {}
    for pos, (value, ok) in enumerate(zip(values_list, clean.tolist()), start=1):
        if ok:
            out.append(value)
            continue
        key = (type(value), value) if not (isinstance(value, float) and np.isnan(value)) else None
        if key is not None and key in seen:
            text, reason = seen[key]
        else:
            text, reason = _normalize_one(value)
            if key is not None:
                seen[key] = (text, reason)
        out.append(text)
        if reason:
            rows.append((pos, value, text, reason))
    codes = pd.Series(out, index=series.index, dtype=CODE_DTYPE, name=series.name)
    report = pd.DataFrame(rows, columns=["row", "code", "new_code", "reason"])
    return codes, report





def is_insee_code(codes: pd.Series | Iterable[str]) -> np.ndarray:
    """Whether each value is a well-formed INSEE commune code (5 characters, ``2A``/``2B``).

    Integers and codes that lost their leading zero are *not* INSEE codes.

    Parameters
    ----------
    codes : Series or iterable
        The values to test.

    Returns
    -------
    numpy.ndarray of bool
        One flag per value.

    Examples
    --------
    >>> is_insee_code(["59350", "2A004", "1001", 59350]).tolist()
    [True, True, False, False]
    """
    values = codes if isinstance(codes, pd.Series) else pd.Series(list(codes), dtype=object)
    try:
        matched = values.str.fullmatch(INSEE_CODE_PATTERN)
    except AttributeError:  # no text at all (integers…)
        return np.zeros(len(values), dtype=bool)
    return matched.fillna(False).to_numpy(dtype=bool)



def department_of(codes: pd.Series) -> pd.Series:
    """Department code of INSEE commune codes (3 characters for overseas, 2 otherwise).

    Parameters
    ----------
    codes : Series
        INSEE commune (or arrondissement) codes.

    Returns
    -------
    Series
        The department codes, same index.

    Examples
    --------
    >>> department_of(pd.Series(["59350", "97411", "2A004"])).tolist()
    ['59', '974', '2A']
    """
    codes = pd.Series(codes, dtype="string")
    return codes.str[:2].where(~codes.str.startswith("97"), codes.str[:3]).astype(str)



def arrondissement_parent() -> pd.Series:
    """The city of each municipal arrondissement: the one owner of the Paris/Lyon/Marseille rule.

    Paris (75056), Lyon (69123) and Marseille (13055) are divided into municipal
    arrondissements (751xx, 6938x, 132xx); a registry, a flow table or a supply table may
    give either level. Everything that rolls an arrondissement up to its city, or asks
    whether a city is given by arrondissement, goes through this table (or :func:`city_of`).

    Returns
    -------
    Series
        The city code (``75056``, ``69123``, ``13055``) indexed by arrondissement code.

    Examples
    --------
    >>> parent = arrondissement_parent()
    >>> parent["75112"], parent["69381"], parent["13214"], len(parent)
    ('75056', '69123', '13055', 45)
    """
    return arrondissement_codes()["parent"].copy()



def city_of(codes: pd.Series | Iterable[str]) -> pd.Series:
    """``codes`` with each arrondissement replaced by its city (other codes unchanged).

    Parameters
    ----------
    codes : Series or iterable of str
        Commune or arrondissement codes.

    Returns
    -------
    Series
        The codes with arrondissements rolled up; the index of ``codes`` when it is a Series.

    Examples
    --------
    >>> city_of(["75112", "59350", "69381"]).tolist()
    ['75056', '59350', '69123']
    """
    values = codes if isinstance(codes, pd.Series) else pd.Series(list(codes), dtype=object)
    parents = values.map(arrondissement_codes()["parent"])
    return parents.astype(object).where(parents.notna(), values).astype(values.dtype)
