"""Integer codes of commune columns and grouping on integer keys (private helpers).

Also the municipal arrondissements of Paris, Lyon and Marseille as the flows see them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from cpts_geo.errors import ValidationError


def factorize_codes(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (-1 for missing) and unique labels (object array) of a code column.

    Parameters
    ----------
    series : pandas.Series
        A column of codes; a categorical column is read from its codes without factorizing.

    Returns
    -------
    codes : numpy.ndarray
        One integer per row: the position of its label in ``uniques``, -1 where missing.
    uniques : numpy.ndarray
        The labels (object array): the categories (as text unless they already are) of a
        categorical column, otherwise the distinct values in order of first appearance.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = series.cat.categories
        if pd.api.types.infer_dtype(categories, skipna=False) != "string":
            categories = categories.astype(str)
        return series.array.codes, np.asarray(categories, dtype=object)
    codes, uniques = pd.factorize(series)  # fast for Arrow-backed strings
    return codes, np.asarray(uniques, dtype=object)



def first_rows(codes: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """Smallest row number of each code ``0..n-1`` (``codes`` is -1 where missing).

    Parameters
    ----------
    codes : numpy.ndarray
        Integer code of each row, -1 where missing (ignored).
    rows : numpy.ndarray
        Row number of each row, same length as ``codes``.
    n : int
        The number of codes.

    Returns
    -------
    numpy.ndarray
        ``n`` int64 values: the smallest row number carrying each code, the largest int64
        where no row does.
    """
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    ok = codes >= 0
    np.minimum.at(first, codes[ok], rows[ok].astype(np.int64))
    return first



def _sorted_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, int]:
    """Integer codes of ``values`` in their sorted order (-1 where missing), and their number."""
    try:
        codes, uniq = pd.factorize(values, sort=True)
    except TypeError:  # values of mixed types cannot be sorted
        codes, uniq = pd.factorize(values)
    return np.asarray(codes, dtype=np.int64), len(uniq)



def _combine(codes: Sequence[np.ndarray], sizes: Sequence[int]) -> tuple[np.ndarray, int]:
    """One int64 key per row from several integer codes (-1 = missing, sorted last), and the
    number of possible keys.

    The key sorts like the tuple of codes; a very large key space is compressed first.
    """
    key = np.zeros(len(codes[0]), dtype=np.int64)
    span = 1
    for c, size in zip(codes, sizes):
        c = np.where(c < 0, size, c).astype(np.int64)
        if span * (size + 1) >= 2**62:
            key, uniq = pd.factorize(key, sort=True)
            key, span = key.astype(np.int64), len(uniq)
        key = key * (size + 1) + c
        span *= size + 1
    return key, span



def _groups(key: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """Group rows by an integer key (from :func:`_combine`), sorting instead of hashing.

    Returns the rows in key order (stable) and the start of each group in that order.
    The row position is packed into the key so that one ``np.sort`` of integers (much
    faster than ``argsort``) does the work when the key space allows it.
    """
    n = len(key)
    bits = max(int(n).bit_length(), 1)
    if span < 2 ** (62 - bits):
        packed = np.sort((key << bits) | np.arange(n, dtype=np.int64))
        order, ordered = packed & ((1 << bits) - 1), packed >> bits
    else:
        order = np.argsort(key, kind="stable")
        ordered = key[order]
    new = np.empty(n, dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    return order, np.flatnonzero(new)



def group_by(columns: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Group rows by the values of several columns (integer keys, not strings).

    The rows in the sorted order of the values (missing last) and the start of each group.
    Values of mixed types, which cannot be sorted, are taken in order of first appearance.

    Parameters
    ----------
    columns : sequence of array-like
        The columns to group by, all of the same length; the first sorts first.

    Returns
    -------
    order : numpy.ndarray
        The row positions ordered by group (stable: in row order within a group).
    starts : numpy.ndarray
        The position in ``order`` where each group starts.
    """
    parts = [_sorted_codes(c) for c in columns]
    return _groups(*_combine([c for c, _ in parts], [n for _, n in parts]))



@lru_cache(maxsize=1)
def _arrondissements() -> pd.DataFrame:
    """The municipal arrondissements of Paris, Lyon, Marseille: ``name`` and ``parent`` city.

    Read from the embedded layer without its geometries and populations (the table of codes
    is all the flows need).
    """
    import pyarrow.parquet as pq

    from cpts_geo.data.communes import data_file

    frame = pq.read_table(data_file("arrondissements.parquet"), columns=["code", "name", "parent"]).to_pandas()
    if "code" in frame.columns:
        frame = frame.set_index("code")
    frame.index = pd.Index(frame.index.astype(str), name="code")
    return frame[["name", "parent"]]



def _split_cities(codes: pd.Series | np.ndarray | Iterable[object]) -> set[str]:
    """Cities (75056, 69123, 13055) divided by arrondissement in ``codes``."""
    parent = _arrondissements()["parent"].to_dict()
    values = pd.unique(np.asarray(pd.Series(codes).dropna().astype(str), dtype=object))
    return {parent[c] for c in values if c in parent}



def check_sum(volume: np.ndarray, rows: np.ndarray | None, message: str, *, column: str | None = None) -> None:
    """Raise a :class:`ValidationError` naming the rows whose volumes make the total overflow.

    Volumes that are each finite (``1e308``) can add up to infinity, which every rate would
    turn into NaN, shown as « secret statistique »: the rows that can cause it (a volume of
    at least the largest float divided by the number of rows) are named instead.
    Nothing is checked when a volume is itself NaN or infinite (reported elsewhere).

    Parameters
    ----------
    volume : numpy.ndarray
        The volumes (float64).
    rows : numpy.ndarray or None
        The row numbers to name (default: 1-based positions).
    message : str
        The start of the French error message.
    column : str, optional
        The column named in each problem.

    Returns
    -------
    None
        When the total is finite.

    Raises
    ------
    ValidationError
        The total overflows; one problem per row that can cause it (at most 1000).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(np.sum(volume))
    if np.isfinite(total) or not np.isfinite(volume).all():
        return
    limit = np.finfo(np.float64).max / max(len(volume), 1)
    big = np.flatnonzero(np.abs(volume) >= limit)
    rows = np.arange(1, len(volume) + 1) if rows is None else np.asarray(rows)
    raise ValidationError(
        f"{message} : leur somme dépasse le plus grand nombre représentable (≈ 1,8 × 10^308) ; "
        "vérifiez l'unité ou corrigez ces lignes",
        [{"row": int(rows[p]), "code": None, "column": column,
          "problem": f"volume {f'{volume[p]:.6g}'.replace('.', ',')} trop grand pour être additionné"}
         for p in big[:1000]])



def as_floats(values: pd.Series) -> np.ndarray:
    """A volume column as float64 (NaN for missing), without a copy when it already is.

    Parameters
    ----------
    values : pandas.Series
        A numeric volume column (nullable dtypes accepted).

    Returns
    -------
    numpy.ndarray
        The volumes as float64, NaN where missing.
    """
    if values.dtype == np.float64:
        return values.to_numpy()
    return values.to_numpy(dtype="float64", na_value=np.nan)



def _categorical(codes: np.ndarray, categories: pd.Index | np.ndarray) -> pd.Categorical:
    """Codes (-1 = missing) of distinct labels as a categorical column: one integer per row."""
    return pd.Categorical.from_codes(
        codes, dtype=pd.CategoricalDtype(pd.Index(np.asarray(categories, dtype=object), dtype=object)),
        validate=False)
