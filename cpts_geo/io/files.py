"""Writing files users keep: atomically, and with text cells that stay text.

Every file the package writes (HTML, PNG, PDF, CSV, XLSX, GeoPackage, manifest) goes through
:func:`atomic_path`: the writer writes a temporary file in the destination folder, which is
renamed onto the final name only once complete. A full disk, an error or Ctrl-C never leaves a
half-written file under the final name. A command writing several files wraps them in
:func:`output_set`: every file stays under its temporary name until all are complete (and the
database written, when there is one), then all are renamed; on failure none is.

:func:`neutralise_cells` applies the OWASP rule against CSV formula injection: a text cell
that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (or with apostrophes
before one of them) is prefixed with ``'``, so that Excel and LibreOffice show it as text
instead of evaluating it. :func:`restore_cells` undoes exactly that prefix, so that a CSV we
wrote reads back as the values we wrote (:func:`cpts_geo.io.read_table` calls it on every CSV).
An XLSX cell needs no prefix: :func:`cpts_geo.io.tables.write_xlsx` writes typed text cells.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "neutralise_cells",
    "neutralise_text",
    "output_set",
    "replace_when_done",
    "restore_cells",
    "restore_text",
    "whole_numbers",
    "write_csv",
]


def whole_numbers(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` whose float columns holding only whole numbers are integers.

    A count read as ``34.0`` is written ``34``, not ``34,0`` (empty cells stay empty).

    Parameters
    ----------
    table : pandas.DataFrame
        The table to write.

    Returns
    -------
    pandas.DataFrame
        A copy where each float column with at least one value, all of them finite whole
        numbers below 2**53 in absolute value, is ``Int64``; other columns unchanged.

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

    Parameters
    ----------
    table : pandas.DataFrame
        The table to write.
    path : str or Path
        The CSV file to write (replaced if it exists).
    index : bool or None, default None
        Whether to write the index; ``None`` writes it unless it is a ``RangeIndex``.

    Returns
    -------
    Path
        ``path``, written.

    Examples
    --------
    >>> import tempfile, os
    >>> path = write_csv(pd.DataFrame({"Surface (km²)": [718.29]}), os.path.join(tempfile.mkdtemp(), "t.csv"))
    >>> path.read_text(encoding="utf-8-sig").splitlines()
    ['Surface (km²)', '718,29']
    """

    path = Path(path)
    if index is None:
        index = not isinstance(table.index, pd.RangeIndex)
    with atomic_path(path) as tmp:
        neutralise_cells(whole_numbers(table)).to_csv(tmp, sep=";", decimal=",", encoding="utf-8-sig", index=index)
    return path


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


#: A text our guard wrote: an apostrophe added before (apostrophes and) a formula start.
_GUARDED = re.compile(r"^'+[=+\-@\t\r]")


#: The temporary files of the open :func:`output_set`, with their final names (``None``: no set).
_PENDING: contextvars.ContextVar[list[tuple[Path, Path]] | None] = contextvars.ContextVar(
    "cpts_geo_pending_outputs", default=None)



@contextlib.contextmanager
def output_set() -> Iterator[None]:
    """Write several files whole or not at all.

    Inside the block, every file written through :func:`atomic_path` (so every writer of the
    package) stays under its temporary name; when the block ends without error, all of them
    are renamed onto their final names, one after the other, with nothing left to compute or
    to write; when it fails (an error, a full disk, a database refusing the rows, Ctrl-C),
    every temporary file is removed and no final file is touched. Nested sets join the
    outermost one.

    Yields
    ------
    None
        The block writes its files as usual.

    Raises
    ------
    OSError
        A rename failed (the files not yet renamed are removed).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> try:
    ...     with output_set():
    ...         _ = atomic_write_text(folder / "a.txt", "un")
    ...         raise ValueError("le deuxième fichier ne peut pas être écrit")
    ... except ValueError:
    ...     pass
    >>> sorted(p.name for p in folder.iterdir())
    []
    >>> with output_set():
    ...     _ = atomic_write_text(folder / "a.txt", "un")
    ...     _ = atomic_write_text(folder / "b.txt", "deux")
    ...     print(sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")))
    []
    >>> sorted(p.name for p in folder.iterdir())
    ['a.txt', 'b.txt']
    """
    if _PENDING.get() is not None:  # joins the set already open
        yield
        return
    pending: list[tuple[Path, Path]] = []
    token = _PENDING.set(pending)
    try:
        try:
            yield
        finally:
            _PENDING.reset(token)
        for tmp, path in pending:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in pending:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise



def replace_when_done(tmp: str | Path, path: str | Path) -> None:
    """Rename a complete temporary file onto ``path``: now, or at the end of the open
    :func:`output_set` (for files written beside the one :func:`atomic_path` gave, such as a
    Shapefile's ``.dbf``).

    Parameters
    ----------
    tmp : str or Path
        The complete temporary file, in the folder of ``path``.
    path : str or Path
        Its final name.

    Returns
    -------
    None
        ``tmp`` is renamed, or will be with the rest of the set (or removed if the set fails).
    """
    pending = _PENDING.get()
    if pending is None:
        os.replace(tmp, path)
    else:
        pending.append((Path(tmp), Path(path)))



@contextlib.contextmanager
def atomic_path(path: str | Path, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary file keeps the final extension (writers such as GDAL or matplotlib pick the
    format from it). On any exception the temporary file is removed and ``path`` is untouched.
    Inside an :func:`output_set`, the rename waits for the end of the set. The parent folder is
    created.

    Parameters
    ----------
    path : str or Path
        The final file.
    suffix : str, optional
        The extension of the temporary file; by default that of ``path``.

    Yields
    ------
    Path
        The temporary path, in the folder of ``path``; it does not exist yet: the writer
        creates it.

    Raises
    ------
    OSError
        Nothing was written at the temporary path (``path`` is left untouched).

    Examples
    --------
    >>> import tempfile, os
    >>> target = Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("bonjour", encoding="utf-8")
    >>> target.read_text(encoding="utf-8")
    'bonjour'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix if suffix is not None else path.suffix,
                                dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # writers that refuse an existing file (GDAL) create it themselves
    try:
        yield tmp
        if not tmp.exists():
            raise OSError(f"aucun fichier écrit pour {path}")
        replace_when_done(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise



def atomic_write_text(path: str | Path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; return the path.

    Parameters
    ----------
    path : str or Path
        The file to write (replaced if it exists; its folder is created).
    text : str
        The content.
    encoding : str, default "utf-8"
        The encoding of the file.

    Returns
    -------
    Path
        ``path``, written.
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)



def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path.

    Parameters
    ----------
    path : str or Path
        The file to write (replaced if it exists; its folder is created).
    data : bytes
        The content.

    Returns
    -------
    Path
        ``path``, written.
    """
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)



def neutralise_text(value: object) -> object:
    """``value`` made safe for a spreadsheet cell: text starting like a formula gets a ``'``.

    Non-text values are returned unchanged.

    Parameters
    ----------
    value : object
        A cell value.

    Returns
    -------
    object
        ``value`` prefixed with ``'`` when it is text starting with ``=``, ``+``, ``-``, ``@``,
        a tab or a carriage return; otherwise ``value`` itself.

    Examples
    --------
    >>> neutralise_text('=HYPERLINK("http://x","y")'), neutralise_text("-2+3"), neutralise_text(-2)
    ('\\'=HYPERLINK("http://x","y")', "'-2+3", -2)
    """
    if isinstance(value, str) and (value.startswith(_FORMULA_START) or _GUARDED.match(value)):
        return "'" + value  # an apostrophe of the user's before « = » too: restore_text removes one
    return value



def restore_text(value: object) -> object:
    """``value`` as it was before :func:`neutralise_text`: the ``'`` it added removed.

    Only that prefix is removed: an apostrophe followed by ``=``, ``+``, ``-``, ``@``, a tab or
    a carriage return (after other apostrophes, which were the user's). Any other text is the
    user's and is returned unchanged.

    Parameters
    ----------
    value : object
        A cell value read from a CSV file.

    Returns
    -------
    object
        ``value`` without its first character when our guard added it; otherwise ``value``.

    Examples
    --------
    >>> restore_text("'=1+1"), restore_text("'x"), restore_text("''=1"), restore_text(3)
    ('=1+1', "'x", "'=1", 3)
    >>> restore_text(neutralise_text("'=E")) == "'=E"
    True
    """
    if isinstance(value, str) and _GUARDED.match(value):
        return value[1:]
    return value



def restore_cells(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the prefix of :func:`neutralise_cells` removed from its text cells and headers.

    Parameters
    ----------
    table : pandas.DataFrame
        A table read from a CSV file (cells as text).

    Returns
    -------
    pandas.DataFrame
        ``table`` itself when no cell nor header holds the prefix, else a copy where every text
        cell and header went through :func:`restore_text`.

    Examples
    --------
    >>> restore_cells(pd.DataFrame({"'=a": ["'=1+1", "'b"]})).to_dict("list")
    {'=a': ['=1+1', "'b"]}
    """
    out = None
    for pos in range(table.shape[1]):
        col = table.iloc[:, pos]
        if not (col.dtype == object or pd.api.types.is_string_dtype(col.dtype)):
            continue
        guarded = col.astype("string").str.match(_GUARDED.pattern).fillna(False).to_numpy(dtype=bool)
        if guarded.any():
            out = table.copy() if out is None else out
            values = col.to_numpy(dtype=object).copy()
            values[guarded] = [v[1:] for v in values[guarded]]
            out.isetitem(pos, pd.Series(values, index=table.index, dtype=col.dtype))
    headers = [restore_text(c) for c in table.columns]
    if headers != list(table.columns):
        out = table.copy() if out is None else out
        out.columns = headers
    return table if out is None else out



def neutralise_cells(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` whose text cells, text index and headers cannot run as formulas.

    Parameters
    ----------
    table : pandas.DataFrame
        The table to write.

    Returns
    -------
    pandas.DataFrame
        A copy where every text cell (of object, string and categorical columns, the latter
        turned into object), the labels of a text index and the column headers went through
        :func:`neutralise_text`.
    """
    out = table.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):  # categories are cells too
            out[col] = out[col].astype(object)
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(neutralise_text)
    if out.index.dtype == object or pd.api.types.is_string_dtype(out.index.dtype):
        out.index = out.index.map(neutralise_text)
    out.columns = [neutralise_text(c) for c in out.columns]
    return out
