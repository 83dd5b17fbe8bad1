"""Writing files users keep: atomically, and with text cells that stay text.

Every file the package writes (HTML, PNG, PDF, CSV, XLSX, GeoPackage, manifest) goes through
:func:`atomic_path`: the writer writes a temporary file in the destination folder, which is
renamed onto the final name only once complete. A full disk, an error or Ctrl-C never leaves a
half-written file under the final name.

:func:`neutralise_cells` applies the OWASP rule against CSV/Excel formula injection: a text cell
that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with ``'``,
so that Excel and LibreOffice show it as text instead of evaluating it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "neutralise_cells", "neutralise_text"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@contextlib.contextmanager
def atomic_path(path: str | Path, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary file keeps the final extension (writers such as GDAL or matplotlib pick the
    format from it). On any exception the temporary file is removed and ``path`` is untouched.
    The parent folder is created.

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
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_text(path: str | Path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def neutralise_text(value):
    """``value`` made safe for a spreadsheet cell: text starting like a formula gets a ``'``.

    Non-text values are returned unchanged.

    Examples
    --------
    >>> neutralise_text('=HYPERLINK("http://x","y")'), neutralise_text("-2+3"), neutralise_text(-2)
    ('\\'=HYPERLINK("http://x","y")', "'-2+3", -2)
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def neutralise_cells(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` whose text cells, text index and headers cannot run as formulas."""
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
