"""Writing tables for French Excel users: CSV and XLSX, and the comparison of two registries."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cpts_geo.domain.compare import RegistryComparison
from cpts_geo.domain.french import fold, number
from cpts_geo.domain.text import CONTROL_CHARACTERS, printable
from cpts_geo.domain.vocabulary import CHANGE_HEADERS
from cpts_geo.errors import ValidationError
from cpts_geo.io.files import _FORMULA_START, atomic_path, whole_numbers
from cpts_geo.io.formats import _disk_space, table_format

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell
    from openpyxl.worksheet.worksheet import Worksheet

__all__ = [
    "EXCEL_CELL_LIMIT",
    "matches_path",
    "write_comparison",
    "write_matches",
    "write_table",
    "write_xlsx",
]


def _matches_table(comparison: RegistryComparison) -> pd.DataFrame:
    """How the CPTS of the two registries were matched, with French headers."""
    return comparison.matches.assign(jaccard=comparison.matches["jaccard"].round(3)).rename(columns={
        "old_id": "Identifiant (ancien)", "new_id": "Identifiant (nouveau)", "old_name": "Nom (ancien)",
        "new_name": "Nom (nouveau)", "jaccard": "Communes en commun (Jaccard)",
        "matched_by": "Rapprochement"})



def matches_path(path: str | Path) -> Path:
    """Where the matching of the CPTS goes beside a CSV or a layer of changes:
    ``<nom>_rapprochement.csv``.

    Parameters
    ----------
    path : str or Path
        The file of changes (``.csv``, ``.gpkg``…).

    Returns
    -------
    Path
        ``<nom>_rapprochement.csv`` in the same folder.

    Examples
    --------
    >>> matches_path("sorties/changements.gpkg").name
    'changements_rapprochement.csv'
    """
    path = Path(path)
    return path.with_name(f"{path.stem}_rapprochement.csv")



def write_matches(comparison: RegistryComparison, path: str | Path) -> Path:
    """Write how the CPTS of the two registries were matched (CSV for French Excel), e.g.
    beside a layer of changes (:func:`matches_path`): one row per CPTS of either file, its
    identifier and name in each, the share of communes in common and how they were matched.

    Parameters
    ----------
    comparison : RegistryComparison
        The result of :func:`compare_registries`.
    path : str or Path
        The CSV to write (atomically; inside an :func:`cpts_geo.io.files.output_set`, with the set).

    Returns
    -------
    Path
        The file written.
    """
    from cpts_geo.io.files import write_csv

    return write_csv(_matches_table(comparison), path, index=False)



def write_comparison(comparison: RegistryComparison, path: str | Path) -> Path:
    """Write the changes with French headers, and how the CPTS were matched: CSV for French Excel
    (the changes at ``path``, the matching at :func:`matches_path`, both or neither), or XLSX
    (two sheets: changes and CPTS matching, shares as numbers); text cells formula-safe.

    Parameters
    ----------
    comparison : RegistryComparison
        The result of :func:`compare_registries`.
    path : str or Path
        ``.csv``/``.txt`` (two tables, French Excel conventions) or ``.xlsx``/``.xlsm``
        (sheets « Changements » and « Rapprochement des CPTS »); anything else is refused.

    Returns
    -------
    Path
        The file of changes written.
    """
    from cpts_geo.io.files import output_set, write_csv

    path = Path(path)
    table = comparison.changes.rename(columns=CHANGE_HEADERS)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        table = _shares_as_numbers(comparison.changes).rename(columns=CHANGE_HEADERS)
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_xlsx(path, {"Changements": table, "Rapprochement des CPTS": _matches_table(comparison)},
                          index=False)
    if suffix not in (".csv", ".txt"):
        raise ValueError(f"{path.name} : format de sortie non pris en charge ; choisissez .csv ou .xlsx.")
    with output_set():
        write_csv(table, path, index=False)
        write_matches(comparison, matches_path(path))
    return path



def _shares_as_numbers(changes: pd.DataFrame) -> pd.DataFrame:
    """The changes with the shares before and after (« part modifiée ») as numbers, for a
    workbook (the table holds them as French text, beside stages and names)."""
    from cpts_geo.domain.numbers import parse_number

    out = changes.copy()
    share = (out["change"] == "part modifiée").to_numpy()
    for col in ("old_value", "new_value"):
        values = out[col].astype(object).to_numpy().copy()
        values[share] = [parse_number(v) if isinstance(v, str) else v for v in values[share]]
        out[col] = pd.Series(values, index=out.index, dtype=object)
    return out


# --------------------------------------------------------------------------- tables

#: The most characters an Excel cell holds (Excel cuts the rest).
EXCEL_CELL_LIMIT = 32_767

#: Date written in every XLSX (document properties, zip entries): the same bytes run to run.
_FIXED_DATE = (2000, 1, 1, 0, 0, 0)



def _reproducible(path: Path) -> None:
    """Rewrite the workbook at ``path`` so that the same content gives the same bytes: every zip
    entry dated :data:`_FIXED_DATE`, the document's creation and modification dates too."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as src:
        entries = [(info, src.read(info.filename)) for info in src.infolist()]
    stamp = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format(*_FIXED_DATE).encode()
    with zipfile.ZipFile(path, "w") as out:
        for info, data in entries:
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)\b[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
            fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            fixed.create_system = 3
            out.writestr(fixed, data)



def _sheet_name(name: str, taken: set[str]) -> str:
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in str(name)).strip("'")[:31] or "Feuille"
    base, i = clean, 2
    while clean.lower() in taken:
        clean = f"{base[:28]} {i}"
        i += 1
    taken.add(clean.lower())
    return clean



def _text_cell(cell: Cell) -> None:
    """A text cell stays text: openpyxl makes a formula of a text starting with ``=``; the
    quote prefix keeps any text starting like a formula as text when a user edits the cell."""
    if isinstance(cell.value, str):
        cell.data_type = "s"
        if cell.value.startswith(_FORMULA_START):
            cell.quotePrefix = True



def _decimals(values: np.ndarray) -> int:
    for d in range(7):
        if np.allclose(values, np.round(values, d), rtol=0, atol=1e-9):
            return d
    return 6



def _column_formats(frame: pd.DataFrame) -> list[str | None]:
    """The Excel number format of each column: none for booleans, thousands grouped for
    numbers (with the decimals of the data), text (``@``) for anything else."""
    formats: list[str | None] = []
    for col in frame.columns:
        values = frame[col]
        if pd.api.types.is_bool_dtype(values.dtype):
            formats.append(None)
        elif pd.api.types.is_integer_dtype(values.dtype):
            formats.append("#,##0")
        elif pd.api.types.is_float_dtype(values.dtype):
            finite = values.dropna().to_numpy(dtype=float)
            finite = finite[np.isfinite(finite)]
            d = _decimals(finite) if len(finite) else 2
            formats.append("#,##0" + ("." + "0" * d if d else ""))
        elif _whole_numbers(values):  # integers with missing values (an object column)
            formats.append("#,##0")
        else:
            formats.append("@")
    return formats



def _cell_value(value: object) -> object:
    """A value as an Excel cell takes it (``oui``/``non`` for booleans, Python numbers, text for
    anything else); ``None`` when missing."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (np.bool_, bool)):
        return "oui" if value else "non"
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if not isinstance(value, (int, float, str)):
        return str(value)
    return value



def _row_cells(row: tuple, i: int, title: str, headers: list[str], formats: list[str | None],
               widths: list[int], too_long: list[dict], hidden: list[dict]) -> list:
    """The cells of row ``i`` of a sheet (``None`` where empty or holding a control character),
    ``widths`` widened to their content; texts too long for a cell or holding a control
    character added to ``too_long`` and ``hidden``."""
    cells: list = []
    for j, given in enumerate(row):
        value = _cell_value(given)
        if value is None:
            cells.append(None)
            continue
        if isinstance(value, str):
            if len(value) > EXCEL_CELL_LIMIT:
                too_long.append({"row": i, "problem": f"feuille « {title} », colonne "
                                 f"« {printable(headers[j])} » : {number(len(value))} caractères"})
            if CONTROL_CHARACTERS.search(value):  # Excel cannot hold them (a NUL…)
                hidden.append({"row": i, "problem": f"feuille « {title} », colonne "
                               f"« {printable(headers[j])} » : caractère de contrôle dans "
                               f"« {printable(value[:80])} »"})
                value = None
        cells.append(value)
        widths[j] = max(widths[j], len(str(value)) + (2 if formats[j] != "@" else 0))
    return cells



def _format_columns(ws: Worksheet, formats: list[str | None], widths: list[int]) -> None:
    """The number format of each column of sheet ``ws`` (text cells typed text) and its width."""
    from openpyxl.utils import get_column_letter

    for j, fmt in enumerate(formats, start=1):
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                if cell.value is None:
                    continue
                if fmt == "@":
                    if not isinstance(cell.value, str):
                        continue  # a number among texts (a share among stages): a number cell
                    cell.data_type = "s"
                cell.number_format = fmt
        ws.column_dimensions[get_column_letter(j)].width = min(max(widths[j - 1] + 2, 8), 60)



def _write_sheet(ws: Worksheet, frame: pd.DataFrame, too_long: list[dict], hidden: list[dict]) -> None:
    """Write ``frame`` in sheet ``ws``: a bold frozen header, typed and formatted cells, columns
    as wide as their content. Texts too long for a cell, and texts holding a control character
    (left out), are added to ``too_long`` and ``hidden``."""
    from openpyxl.styles import Font

    headers = [str(c) for c in frame.columns]
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        _text_cell(cell)
    formats = _column_formats(frame)
    widths = [len(h) for h in headers]
    for i, row in enumerate(frame.itertuples(index=False, name=None), start=2):
        cells = _row_cells(row, i, ws.title, headers, formats, widths, too_long, hidden)
        ws.append(cells)
        for j, value in enumerate(cells, start=1):
            if isinstance(value, str) and value.startswith(_FORMULA_START):
                _text_cell(ws.cell(row=i, column=j))
    _format_columns(ws, formats, widths)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions



def write_xlsx(path: str | Path, sheets: Mapping[str, pd.DataFrame] | pd.DataFrame, *,
               index: bool | None = None) -> Path:
    """Write tables as an Excel workbook, one sheet per table.

    Codes and every text stay text cells (``01091`` keeps its zero), numbers are number cells
    with a French-ready format (thousands grouped, the decimals of the data), the header row is
    frozen and bold, columns are as wide as their content. A text that starts like a formula
    (``=1+1``) is a typed text cell (never a formula, no apostrophe added), quote-prefixed so that
    Excel keeps it text when it is edited. ``index=None`` writes the index unless it is a plain range. A text
    longer than an Excel cell holds (:data:`EXCEL_CELL_LIMIT` characters), or holding a control
    character, is refused rather than cut. The same tables give the same bytes (fixed document and zip dates).

    Parameters
    ----------
    path : str or Path
        The workbook to write (atomically: a temporary file, then renamed).
    sheets : DataFrame or mapping of str to DataFrame
        One table (sheet « tableau ») or the tables by sheet name (shortened to Excel's 31
        characters, made unique).
    index : bool, optional
        Write the index; by default only when it is not a plain range.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ValidationError
        Texts longer than :data:`EXCEL_CELL_LIMIT` characters or holding a control character
        (:data:`cpts_geo.domain.text.CONTROL_CHARACTERS`), each with its sheet, row and column
        (nothing is written).

    Examples
    --------
    >>> import tempfile, os
    >>> table = pd.DataFrame({"Code commune": ["01091"], "Population": [1234]})
    >>> path = write_xlsx(os.path.join(tempfile.mkdtemp(), "t.xlsx"), {"communes": table})
    >>> pd.read_excel(path, dtype={"Code commune": str})["Code commune"].tolist()
    ['01091']
    """
    from openpyxl import Workbook

    if isinstance(sheets, pd.DataFrame):
        sheets = {"tableau": sheets}
    wb = Workbook()
    wb.remove(wb.active)
    taken: set[str] = set()
    too_long: list[dict] = []
    hidden: list[dict] = []
    for name, table in sheets.items():
        ws = wb.create_sheet(_sheet_name(name, taken))
        keep_index = not isinstance(table.index, pd.RangeIndex) if index is None else index
        frame = table.reset_index() if keep_index else table.reset_index(drop=True)
        _write_sheet(ws, whole_numbers(pd.DataFrame(frame)), too_long, hidden)  # typed text cells: no apostrophe added
    if too_long:
        raise ValidationError(
            f"{Path(path).name} : une cellule Excel contient au plus {number(EXCEL_CELL_LIMIT)} caractères, "
            "Excel couperait ces textes ; écrivez ce tableau en CSV (.csv), qui les garde entiers, ou "
            "raccourcissez-les. Rien n'a été écrit.", too_long + hidden)
    if hidden:
        raise ValidationError(
            f"{Path(path).name} : des cellules contiennent des caractères de contrôle (NUL, échappement…) "
            "qu'un classeur Excel ne peut pas contenir ; retirez-les des données. Rien n'a été écrit.", hidden)
    if not wb.sheetnames:
        wb.create_sheet("tableau")
    import datetime

    fixed = datetime.datetime(2000, 1, 1)
    wb.properties.creator = "cpts_geo"
    wb.properties.created = wb.properties.modified = fixed
    path = Path(path)
    with atomic_path(path) as tmp, _disk_space(path):
        wb.save(tmp)
        _reproducible(tmp)
    return path



def _whole_numbers(values: pd.Series) -> bool:
    """Whether an object column holds only integers (and missing values), e.g. tiers with gaps."""
    given = values.dropna()
    return len(given) > 0 and all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
                                  for v in given)



def write_table(table: pd.DataFrame | Mapping[str, pd.DataFrame], path: str | Path, *,
                index: bool | None = None) -> Path:
    """Write a table as CSV for French Excel or as an XLSX workbook, by the extension of ``path``.

    CSV: ``;``, decimal comma, UTF-8 with BOM, whole numbers without ``,0``; several tables go to
    one CSV each (``<nom>_<table>.csv``, the first at ``path``). XLSX: see :func:`write_xlsx`.

    Parameters
    ----------
    table : DataFrame or mapping of str to DataFrame
        One table, or several by name.
    path : str or Path
        ``.csv`` or ``.xlsx``; anything else is refused with a French error.
    index : bool, optional
        Write the index; by default only when it is not a plain range.

    Returns
    -------
    Path
        ``path`` (for several CSV tables, the first file).

    Examples
    --------
    >>> import tempfile, os
    >>> path = write_table(pd.DataFrame({"Volume": [34.0, 2.0], "Taux": [0.5, 0.25]}),
    ...                    os.path.join(tempfile.mkdtemp(), "t.csv"))
    >>> path.read_text(encoding="utf-8-sig").splitlines()
    ['Volume;Taux', '34;0,5', '2;0,25']
    """
    from cpts_geo.io.files import write_csv

    path = Path(path)
    kind = table_format(path)
    if kind == "classeur Excel":
        return write_xlsx(path, table, index=index)
    tables = {"": table} if isinstance(table, pd.DataFrame) else dict(table)
    for i, (name, frame) in enumerate(tables.items()):

        target = path if i == 0 else path.with_name(f"{path.stem}_{fold(name).replace(' ', '_')}.csv")
        write_csv(frame, target, index=index)
    return path
