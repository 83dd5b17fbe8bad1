"""Text a user gives, and text shown back: control characters.

A NUL, an escape or another control character in a cell is invisible in a spreadsheet, yet it
is refused by Excel files and PostgreSQL, silently cuts a name in a GeoPackage, a GeoJSON or a
Shapefile, and, printed in a terminal, an escape sequence can recolour, move or hide text. The
readers refuse such cells with their file rows (:func:`control_problems`); messages and printed
lines show any that reach them visibly (:func:`printable`). A cell quoted in a message is shown
as a user reads it (:func:`cell_text`): a number the French way, never a Python repr such as
``np.float64(nan)``.

Tab, line feed and carriage return are text (a cell typed on two lines in Excel) and are kept.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "CONTROL_CHARACTERS",
    "cell_text",
    "control_problems",
    "printable",
]

#: Characters refused in a user's cell: the C0 controls except tab, line feed and carriage
#: return; DEL; the C1 controls (U+0080 to U+009F, among them the one-character escape U+009B).
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


# what printable() must replace: the characters above, and a carriage return (it moves the
# cursor back over what was printed)
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")



def _visible(match: re.Match) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode control pictures: ␀, ␛…
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"<U+{code:04X}>"



def printable(text: object) -> str:
    """``text`` safe to print in a terminal or a message: control characters made visible.

    Parameters
    ----------
    text : object
        A name, an identifier, a message (converted with ``str``).

    Returns
    -------
    str
        ``text`` where every control character but tab and line feed is replaced by its Unicode
        picture (``␀``, ``␛``, ``␍``, ``␡``) or, for the C1 controls, by ``<U+009B>``; so no
        escape sequence reaches the terminal, and the user sees that the character is there.

    Examples
    --------
    >>> printable("CPTS \\x1b[31mRouge\\x1b[0m")
    'CPTS ␛[31mRouge␛[0m'
    >>> printable("Lille\\x00"), printable("deux\\nlignes")
    ('Lille␀', 'deux\\nlignes')
    """
    text = str(text)
    return _HIDDEN.sub(_visible, text) if _HIDDEN.search(text) else text



def cell_text(value: object) -> str:
    """A cell as a French message quotes it: a text between « », a number the French way, an
    empty cell as « vide »; never a Python repr (``np.float64(nan)``, ``np.int64(-5)``).

    Parameters
    ----------
    value : object
        The cell (text, number, ``None``, NaN…).

    Returns
    -------
    str
        ``« texte »`` (control characters visible, see :func:`printable`), ``-5``, ``12,5``,
        ``infini``, ``vide``.

    Examples
    --------
    >>> cell_text(np.float64("nan")), cell_text(np.int64(-5)), cell_text(12.5), cell_text("abc")
    ('vide', '-5', '12,5', '« abc »')
    >>> cell_text(float("-inf")), cell_text(None)
    ('moins l’infini', 'vide')
    """
    from cpts_geo.domain.french import number

    if value is None or value is pd.NA or value is pd.NaT:
        return "vide"
    if isinstance(value, (bool, np.bool_)):
        return "VRAI" if value else "FAUX"
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        if np.isnan(v):
            return "vide"
        if np.isinf(v):
            return "infini" if v > 0 else "moins l’infini"
        return number(v, None)
    return f"« {printable(value)} »"



def _texts(values: pd.Series) -> np.ndarray:
    return values.to_numpy(dtype=object, na_value=None)



def control_problems(table: pd.DataFrame, rows: Sequence[int] | np.ndarray, *,
                     columns: Iterable[Hashable] | None = None) -> list[dict]:
    """Every cell of ``table`` holding a control character (:data:`CONTROL_CHARACTERS`).

    Parameters
    ----------
    table : DataFrame
        A table as read (text cells are ``str``; other values are not looked at).
    rows : array-like of int
        The file row number of each row of ``table``.
    columns : iterable, optional
        The columns to look at (default: every column holding text).

    Returns
    -------
    list of dict
        One problem per cell (``row``, ``problem``, ``kind`` « caractère de contrôle »), in
        row order, naming the column, the character (``U+0000``) and the cell shown visibly.

    Examples
    --------
    >>> t = pd.DataFrame({"Nom": ["Lille", "Roubaix\\x00"], "Code": ["59350", "59512"]})
    >>> [p["row"] for p in control_problems(t, [2, 3])], control_problems(t, [2, 3])[0]["problem"]
    ([3], 'colonne « Nom » : caractère de contrôle U+0000 invisible dans « Roubaix␀ » ; supprimez-le')
    """
    rows = np.asarray(rows)
    found: list[tuple[int, int, dict]] = []
    names = list(table.columns) if columns is None else [c for c in columns if c in table.columns]
    for j, col in enumerate(names):
        values = table[col]
        if not (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
            continue
        cells = _texts(values)
        texts = [v for v in cells if isinstance(v, str)]
        if not texts or not CONTROL_CHARACTERS.search("".join(texts)):  # one search per column
            continue
        for i, value in enumerate(cells):
            match = CONTROL_CHARACTERS.search(value) if isinstance(value, str) else None
            if match:
                char = ", ".join(sorted({f"U+{ord(c):04X}" for c in CONTROL_CHARACTERS.findall(value)}))
                plural = "s" if "," in char else ""
                found.append((i, j, {
                    "row": int(rows[i]),
                    "problem": f"colonne « {printable(col)} » : caractère{plural} de contrôle {char} "
                               f"invisible{plural} dans « {printable(value)} » ; supprimez-le{plural and 's'}",
                    "kind": "caractère de contrôle"}))
    return [p for _, _, p in sorted(found, key=lambda f: (f[0], f[1]))]
