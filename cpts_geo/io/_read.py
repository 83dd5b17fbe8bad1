"""The one reader of user tables: CSV/TXT, XLSX, Parquet/GeoParquet, GeoPackage and other OGR files.

Everything a user gives (registry, supply, flows, costs, population, indicators) is read here,
so that encodings, separators, sheets, layers and row numbers follow one set of rules:

- **CSV/TXT**: encoding detected (UTF-8, UTF-8 with BOM, UTF-16 with BOM as Excel's « Texte
  Unicode » writes it, Windows-1252); a UTF-8 file holding a few Windows-1252 lines (two files
  pasted together) is decoded *line by line* and those lines are reported
  (:attr:`ReadTable.recoded_lines`), so that no accent turns into mojibake silently. Separator
  detected among ``;`` ``,`` tab ``|`` (or given), and Excel's ``sep=;`` first line honoured.
  The apostrophe our CSV writer puts before a cell starting like a formula (``'=1+1``) is
  removed (:func:`cpts_geo.io.files.restore_cells`): a file we wrote reads back as written.
- **XLSX**: the sheet holding the table (its headers recognised for ``kind``) is chosen; when
  several sheets look like it, or several sheets and none does, the reader refuses and lists
  them (``sheet=``, ``--feuille``). Merged cells are spread over their range, a header may sit
  below a title (in the first 50 filled rows, blank rows not counted) or span two rows; a
  sheet with cells but no header recognised is said so, never called empty. A formula with no
  computed value (a workbook written by a script) is not an empty cell: its text (``=1/2``) is
  kept and its place is listed in :attr:`ReadTable.formulas`.
- **GeoPackage, Shapefile, GeoJSON…, GeoParquet**: a file with several layers is refused with
  the list (``layer=``, ``--couche``); never the first one silently.
- **Parquet**: read as is.

Cells of CSV and XLSX files come out as text (numbers of a workbook written without a
trailing ``.0``: ``59350``, ``0.5``); typed formats keep their types.

**Row numbers** are those a spreadsheet shows: the header is row 1 and the first data row is
row 2, blank lines count as lines (they are not returned as rows: an empty line holds no data),
a quoted cell spanning several lines gives its record the number of its first line; the
``sep=`` line, which Excel hides, is not counted; a workbook keeps its sheet's own row numbers.
Parquet and OGR features are numbered from 1.

Every mistake in the input is a :class:`cpts_geo.errors.ValidationError` in French (empty file,
row with too many fields, unknown format, a CSV renamed ``.xlsx``…), never a raw library error.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cpts_geo.domain.headers import REQUIRED, SEPARATOR_NAMES, ReadTable, recognise_headers
from cpts_geo.errors import ValidationError
from cpts_geo.io.files import restore_cells

if TYPE_CHECKING:
    from openpyxl.workbook.workbook import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

__all__ = [
    "SEPARATORS",
    "ReadTable",
    "read_table",
]

#: Separators a CSV file may use, in the order ties are broken.
SEPARATORS = (";", "\t", ",", "|")


_CSV = {".csv", ".txt", ".tsv", ".tab"}


_XLSX = {".xlsx", ".xlsm"}


_PARQUET = {".parquet", ".geoparquet", ".pq"}


_OGR = {".gpkg", ".shp", ".geojson", ".json", ".fgb", ".gml", ".kml", ".sqlite", ".dbf", ".tab"}






_MAX_HEADER_ROWS = 50  # a workbook's header is looked for in its first filled rows (titles, notes above)






def _refuse(summary: str, problems: Iterable[Mapping] | None = None) -> ValidationError:
    return ValidationError(summary, problems if problems is not None else [{"problem": summary}])


# --------------------------------------------------------------------------- format


def _sniff(head: bytes) -> str:
    """What the first bytes of a file look like, in French (for error messages)."""
    if head.startswith(b"PK"):
        return "une archive ZIP (classeur .xlsx ?)"
    if head.startswith(b"SQLite format 3"):
        return "une base SQLite (GeoPackage .gpkg ?)"
    if head.startswith(b"PAR1"):
        return "un fichier Parquet (.parquet ?)"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "un ancien classeur Excel (.xls ?)"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF8)):
        return "du texte (CSV ?)"
    if head and b"\x00" not in head[:4096]:
        return "du texte (CSV ?)"
    return "un format inconnu"



def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _CSV and suffix != ".tab":
        return "csv"
    if suffix in _XLSX:
        return "xlsx"
    if suffix in _PARQUET:
        return "parquet"
    if suffix in _OGR:
        return "ogr"
    with open(path, "rb") as fh:
        head = fh.read(4096)
    looks = _sniff(head)
    if suffix == ".xls":
        raise _refuse(f"{path.name} : l'ancien format Excel .xls n'est pas lu ; enregistrez le fichier "
                      "en .xlsx ou en CSV depuis Excel.", [{"problem": "format .xls non lu"}])
    if suffix in (".ods", ".fods"):
        raise _refuse(f"{path.name} : le format OpenDocument ({suffix}) n'est pas lu ; dans LibreOffice, "
                      "« Fichier > Enregistrer sous » au format Excel .xlsx ou CSV.",
                      [{"problem": f"format {suffix} non lu"}])
    if not suffix:
        raise _refuse(f"« {path.name} » n'a pas d'extension : son format ne peut être choisi sans "
                      f"deviner (son contenu ressemble à {looks}) ; renommez-le en .csv, .xlsx, "
                      ".gpkg ou .parquet.", [{"problem": "fichier sans extension"}])
    raise _refuse(f"{path.name} : format « {suffix} » non lu (son contenu ressemble à {looks}) ; "
                  "formats lus : CSV/TXT, XLSX, Parquet, GeoPackage, Shapefile, GeoJSON.",
                  [{"problem": f"format {suffix} non lu"}])


# --------------------------------------------------------------------------- CSV


def _codec(encoding: str) -> str:
    """The Python codec for an encoding name as users type it (``Windows-1252``, ``utf8``)."""
    key = encoding.strip().lower().replace("_", "-")
    aliases = {"windows-1252": "cp1252", "ansi": "cp1252", "latin1": "latin-1", "iso-8859-1": "latin-1",
               "utf8": "utf-8", "utf-8-bom": "utf-8-sig", "utf16": "utf-16", "unicode": "utf-16"}
    key = aliases.get(key, key)
    try:
        codecs.lookup(key)
    except LookupError:
        raise _refuse(f"encodage « {encoding} » inconnu ; encodages courants : utf-8, utf-8-sig, "
                      "utf-16, windows-1252, latin-1.") from None
    return key



def _line_of(raw: bytes, pos: int) -> int:
    return raw.count(b"\n", 0, pos) + 1



def _decode(raw: bytes, encoding: str | None, name: str) -> tuple[str, str, tuple[int, ...]]:
    """Decode a text file; return the text, the codec and the lines read as Windows-1252."""
    if encoding is not None:
        enc = _codec(encoding)
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError as err:
            at = _line_of(raw, err.start) if not enc.startswith("utf-16") else None
            raise _refuse(
                f"{name} : le fichier n'est pas en {encoding}"
                + (f" (ligne {at})" if at else "")
                + " ; laissez l'encodage être détecté (sans --encodage / encoding=) ou donnez le bon.",
                [{"row": at, "problem": f"octets illisibles en {encoding}"}]) from None
        return text.lstrip("\ufeff"), enc, ()
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16").lstrip("\ufeff"), "utf-16", ()
        except UnicodeDecodeError:
            raise _refuse(f"{name} : fichier UTF-16 tronqué ou abîmé ; réenregistrez-le depuis Excel "
                          "(« CSV UTF-8 »).") from None
    head = raw[:4096]
    if len(head) >= 4 and head.count(b"\x00") * 4 >= len(head):  # UTF-16 without its BOM
        enc = "utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"
        try:
            return raw.decode(enc), enc, ()
        except UnicodeDecodeError:
            pass
    enc = "utf-8-sig" if raw.startswith(codecs.BOM_UTF8) else "utf-8"
    try:
        return raw.decode(enc), enc, ()
    except UnicodeDecodeError:
        pass
    # Not UTF-8 as a whole: UTF-8 with some Windows-1252 lines, or Windows-1252 throughout.
    lines = raw.split(b"\n")
    utf8_accents = False
    bad_lines = []
    for i, line in enumerate(lines):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8_accents = True
        except UnicodeDecodeError:
            bad_lines.append(i)
    if utf8_accents:
        out = []
        bad = set(bad_lines)
        for i, line in enumerate(lines):
            if i in bad:
                out.append(_decode_1252(line))
            else:
                out.append(line.decode("utf-8"))
        text = "\n".join(out)
        return (text.lstrip("\ufeff"), enc, tuple(i + 1 for i in bad_lines))
    try:
        return raw.decode("cp1252"), "cp1252", ()
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1", ()



def _decode_1252(line: bytes) -> str:
    try:
        return line.decode("cp1252")
    except UnicodeDecodeError:
        return line.decode("latin-1")



def _count_outside_quotes(line: str, sep: str) -> int:
    if '"' not in line:
        return line.count(sep)
    n, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            n += 1
    return n



def _detect_sep(header: str, sample: list[str]) -> str:
    counts = {s: _count_outside_quotes(header, s) for s in SEPARATORS}
    best = max(counts.values())
    if not best:  # one column: a separator that does not occur
        text = "\n".join(sample)
        return next((s for s in SEPARATORS if s not in text), ";")
    tied = [s for s in SEPARATORS if counts[s] == best]
    if len(tied) == 1:
        return tied[0]
    # the same count in the header: the one whose rows have as many fields as the header

    def fits(s: str) -> int:
        return sum(_count_outside_quotes(line, s) == best for line in sample if line.strip())

    return max(tied, key=fits)



def _csv_records(body: str, sep: str, first_line: int) -> tuple[list[list[str]], list[int]]:
    """Records of a CSV body with the file line each starts on (blank lines give ``[]``)."""
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=sep, quotechar='"', strict=False)
    records, starts = [], []
    previous = 0
    try:
        for rec in reader:
            records.append(rec)
            starts.append(first_line + previous)
            previous = reader.line_num
    except csv.Error as err:
        raise _refuse(f"ligne {first_line + previous} illisible : {err}") from None
    return records, starts



def _blank(table: pd.DataFrame) -> np.ndarray:
    """Rows whose cells are all empty or spaces."""
    if not len(table.columns):
        return np.ones(len(table), dtype=bool)
    filled = np.zeros(len(table), dtype=bool)
    for k in range(table.shape[1]):
        todo = np.flatnonzero(~filled)  # the rows not yet known to hold something
        if not len(todo):
            break
        values = table.iloc[:, k] if len(todo) == len(table) else table.iloc[todo, k]
        text = (values if pd.api.types.is_string_dtype(values.dtype) else values.astype("string")).str.strip()
        filled[todo] = (text.notna() & (text != "")).to_numpy(dtype=bool, na_value=False)
    return ~filled



def _unique_headers(headers: list) -> list[str]:
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, h in enumerate(headers):
        name = "" if h is None else str(h).strip()
        if not name or name.startswith("Unnamed: "):
            name = f"colonne_{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        out.append(name)
    return out



def _read_csv(path: Path, *, sep: str | None, encoding: str | None) -> ReadTable:
    raw = path.read_bytes()
    name = path.name
    text, enc, recoded = _decode(raw, encoding, name)
    if "\n" not in text and "\r" in text:  # old Mac line ends
        text = text.replace("\r", "\n")
    if not text.strip():
        raise _refuse(f"{name} : le fichier est vide ; il doit avoir une ligne d'en-tête et des lignes "
                      "de données.", [{"problem": "fichier vide"}])
    lines = text.split("\n", 64)
    offset = 0  # physical lines before the header that do not count as spreadsheet rows
    m = re.fullmatch(r"\s*sep=(.)\s*", lines[0].rstrip("\r"))
    if m:
        given = m.group(1)
        sep = sep or given
        text = text.split("\n", 1)[1] if "\n" in text else ""
        lines = lines[1:]
        offset = -1  # Excel hides the sep= line: the header shows as row 1
        if not text.strip():
            raise _refuse(f"{name} : le fichier n'a que sa ligne « sep={given} » ; il est vide.",
                          [{"problem": "fichier vide"}])
    if recoded:
        recoded = tuple(r + offset for r in recoded)
    # blank lines above the header count as rows
    lead = 0
    while lead < len(lines) and not lines[lead].strip():
        lead += 1
    if lead:
        text = text.split("\n", lead)[lead]
        lines = lines[lead:]
    header_row = lead + 1
    if sep is not None and sep.lower() in ("tab", "tabulation", "\\t"):
        sep = "\t"
    if sep is None:
        sep = _detect_sep(lines[0].rstrip("\r"), [ln.rstrip("\r") for ln in lines[1:21]])
    elif len(sep) != 1:
        raise _refuse(f"séparateur « {sep} » : un seul caractère attendu (« ; », « , », tabulation, « | »).")
    try:
        # header=None: the header line sets the number of fields, so that any longer line is
        # an error (pandas would otherwise take a first column as index, or drop extra fields)
        table = _parse_fast(text, sep)
        n_lines = text.count("\n") + (0 if text.endswith("\n") else 1)
        if len(table) != n_lines:  # a quoted cell spans lines: number the records one by one
            raise pd.errors.ParserError("multi-line records")
        headers = [None if pd.isna(h) else h for h in table.iloc[0].tolist()]
        table = table.iloc[1:].reset_index(drop=True)
        table.columns = _unique_headers(headers)
        rows = np.arange(header_row + 1, header_row + 1 + len(table), dtype="int64")
    except (pd.errors.ParserError, ValueError, csv.Error):
        table, rows = _parse_slowly(text, sep, header_row, name)
    except pd.errors.EmptyDataError:
        raise _refuse(f"{name} : le fichier est vide.", [{"problem": "fichier vide"}]) from None
    if "'" in text and re.search(r"'[=+\-@\t\r]", text):  # a CSV we wrote: our formula guard undone
        table = restore_cells(table)
        table.columns = _unique_headers(list(table.columns))
    blank = _check_separators(table, rows, sep, _blank(table), name)
    keep = ~blank
    read = ReadTable(table[keep].reset_index(drop=True), rows[keep], str(path), "csv",
                     encoding=enc, separator=sep, header_row=header_row,
                     recoded_lines=tuple(r for r in recoded if r >= header_row))
    return _no_control_characters(read, text=text)



def _parse_fast(text: str, sep: str) -> pd.DataFrame:
    """Every record of ``text`` (the header line first), cells as text, blank lines as empty
    records: pyarrow's parser when no line is blank (it skips them), pandas' C parser otherwise
    or when pyarrow refuses a line (one with fewer fields)."""
    data = io.BytesIO(text.encode("utf-8"))
    options = {"sep": sep, "header": None, "dtype": str, "keep_default_na": False, "na_values": [""],
               "quotechar": '"', "encoding": "utf-8"}
    if "\n\n" not in text and "\n\r\n" not in text:
        try:
            import pyarrow as pa

            try:
                return pd.read_csv(data, engine="pyarrow", **options)
            except (pd.errors.ParserError, pa.ArrowInvalid, ValueError):
                data.seek(0)
        except ImportError:  # pragma: no cover - pyarrow is a dependency
            pass
    return pd.read_csv(data, engine="c", skip_blank_lines=False, low_memory=False, **options)



def _parse_slowly(text: str, sep: str, header_row: int, name: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The CSV parsed record by record (line numbers of every record; rows with too many fields
    listed, all at once)."""
    records, starts = _csv_records(text, sep, header_row)
    header, body, body_rows = records[0], records[1:], starts[1:]
    width = len(header)
    too_many = [(r, len(rec)) for rec, r in zip(body, body_rows) if len(rec) > width
                and any(c.strip() for c in rec[width:])]
    if too_many:
        raise ValidationError(
            f"{name} : {len(too_many)} ligne(s) ont plus de champs que l'en-tête ({width}) ; un "
            f"séparateur « {sep if sep != chr(9) else 'tabulation'} » de trop dans une cellule ? "
            "Mettez la cellule entre guillemets ou retirez le séparateur",
            [{"row": r, "problem": f"{n} champs au lieu de {width}"} for r, n in too_many])
    cells = [[(c if c != "" else None) for c in (rec + [""] * (width - len(rec)))[:width]] for rec in body]
    table = pd.DataFrame(cells, columns=_unique_headers(header), dtype=object)
    return table, np.asarray(body_rows, dtype="int64")



def _check_separators(table: pd.DataFrame, rows: np.ndarray, sep: str, blank: np.ndarray,
                      name: str) -> np.ndarray:
    """Refuse rows written with another separator than the file's (all in the first cell).

    Returns ``blank`` with the rows made of other separators only (``;;;`` in a ``,`` file:
    an empty line as Excel writes it) marked blank too.
    """
    if table.shape[1] < 2 or not len(table):
        return blank
    blank = blank.copy()
    first = table.iloc[:, 0]
    if not pd.api.types.is_string_dtype(first.dtype):
        first = first.astype("string")
    rest_empty = _blank(table.iloc[:, 1:])
    problems: list[dict[str, Any]] = []
    need = min(3, table.shape[1])
    for pos in np.flatnonzero(rest_empty & ~blank & first.notna().to_numpy(dtype=bool)):
        if not str(first.iat[pos]).translate({ord(c): None for c in SEPARATORS}).strip():
            blank[pos] = True  # ";;;" in a "," file: an empty line as Excel writes it
    # a whole line written with another separator lands in the first cell (and, when it holds
    # the file's separator too, in the next ones)
    seen: set[int] = set()
    others = [o for o in SEPARATORS if o != sep]
    maybe = first.str.contains("[" + re.escape("".join(others)) + "]", regex=True).fillna(False)
    maybe = maybe.to_numpy(dtype=bool)
    if not maybe.any():
        return blank
    for other in others:
        pieces = np.ones(len(first))
        pieces[maybe] = first[maybe].str.count(re.escape(other)).fillna(0).to_numpy() + 1
        hits = ((pieces >= need) & rest_empty) | (pieces >= table.shape[1])
        for pos in np.flatnonzero(hits & ~blank):
            if pos in seen:
                continue
            seen.add(int(pos))
            cell = str(first.iat[pos])
            problems.append({"row": int(rows[pos]),
                             "problem": f"ligne écrite avec le séparateur {SEPARATOR_NAMES[other]} au "
                                        f"lieu de {SEPARATOR_NAMES[sep]} : « {cell[:60]} »"})
    problems.sort(key=lambda p: int(p["row"]))
    if problems:
        raise ValidationError(
            f"{name} : {len(problems)} ligne(s) n'utilisent pas le séparateur du fichier "
            f"({SEPARATOR_NAMES[sep]}) ; réécrivez-les avec celui de l'en-tête", problems)
    return blank


# --------------------------------------------------------------------------- XLSX


def _cell_text(value: object) -> str | None:
    """A workbook cell as text (numbers without a trailing ``.0``)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "VRAI" if value else "FAUX"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if np.isnan(value):
            return None
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)



def _sheet_values(ws: Worksheet) -> list[list]:
    values = [list(r) for r in ws.iter_rows(min_row=1, min_col=1, max_row=ws.max_row,
                                            max_col=ws.max_column, values_only=True)]
    # A merged cell holds its value in its top-left cell only: spread it over the range.
    for rng in ws.merged_cells.ranges:
        if rng.min_row - 1 >= len(values):
            continue
        top = values[rng.min_row - 1][rng.min_col - 1]
        for r in range(rng.min_row - 1, min(rng.max_row, len(values))):
            for c in range(rng.min_col - 1, rng.max_col):
                if c < len(values[r]):
                    values[r][c] = top
    return values



def _filled(row: Iterable[object]) -> bool:
    return any(v is not None and (not isinstance(v, str) or v.strip()) for v in row)



def _header_candidates(values: list[list], kind: str | None, columns: Mapping[str, str] | None,
                       ) -> tuple[int, int, list[str | None]] | None:
    """``(score, row index, headers)`` of the best header of a sheet."""
    if kind is None:
        for r, row in enumerate(values):
            if _filled(row):
                return (1, r, [_cell_text(h) for h in row])
        return None
    best = None
    required = REQUIRED.get(kind, ())
    filled = [r for r in range(len(values)) if _filled(values[r])][:_MAX_HEADER_ROWS]
    for r in filled:  # blank rows above the header do not count
        candidates = [values[r]]
        if r > 0:  # two header rows: a merged group ("Commune") above sub-headers ("Code")
            candidates.append([
                f"{a} {b}" if a not in (None, "") and b not in (None, "") and a != b
                else (b if b not in (None, "") else a)
                for a, b in zip(values[r - 1], values[r])
            ])
        for headers in candidates:
            headers = [None if h is None else str(_cell_text(h)).strip() for h in headers]
            found = set(recognise_headers(headers, kind, columns=columns).values())
            score = len(found) + 2 * sum(f in found for f in required)
            if found and (best is None or score > best[0]):
                best = (score, r, headers)
    return best



def _has_formulas(path: Path) -> bool:
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                with zf.open(info) as fh:
                    data = fh.read()
                if b"<f>" in data or b"<f " in data or b":f>" in data or b":f " in data:
                    return True
    return False



def _pick_sheet(wb: Workbook, sheet: str | int, name: str) -> list[Worksheet]:
    names = [ws.title for ws in wb.worksheets]
    if isinstance(sheet, int) and not isinstance(sheet, bool):
        if not -len(names) <= sheet < len(names):
            raise _refuse(f"{name} : pas de feuille n° {sheet} ; feuilles : "
                          + ", ".join(f"« {n} »" for n in names) + ".")
        return [wb.worksheets[sheet]]
    if sheet in names:
        return [wb[sheet]]
    folded = {n.strip().casefold(): n for n in names}
    if str(sheet).strip().casefold() in folded:
        return [wb[folded[str(sheet).strip().casefold()]]]
    if str(sheet).strip().isdigit() and 1 <= int(str(sheet).strip()) <= len(names):
        return [wb.worksheets[int(str(sheet).strip()) - 1]]  # --feuille 2: the second sheet
    raise _refuse(f"{name} : pas de feuille « {sheet} » ; feuilles du classeur : "
                  + ", ".join(f"« {n} »" for n in names) + ".",
                  [{"problem": f"feuille « {sheet} » absente"}])



def _read_xlsx(path: Path, *, sheet: str | int | None, kind: str | None,
               columns: Mapping[str, str] | None) -> ReadTable:
    name = path.name
    wb, formulas_wb = _open_workbook(path)
    sheets = _pick_sheet(wb, sheet, name) if sheet is not None else list(wb.worksheets)
    found = []
    for ws in sheets:
        values = _sheet_values(ws)
        best = _header_candidates(values, kind, columns)
        if best is not None:
            found.append((best, ws, values))
    if not found:
        filled = [ws for ws in sheets if any(_filled(row) for row in _sheet_values(ws))]
        if filled and kind is not None:  # cells, but no header recognised: say so, never « vide »
            expected = ", ".join(f"« {f} »" for f in REQUIRED.get(kind, ()))
            listed = ", ".join(f"« {ws.title} »" for ws in filled)
            raise _refuse(
                f"{name} : aucune ligne d'en-tête reconnue dans les {_MAX_HEADER_ROWS} premières lignes "
                f"remplies de la feuille{'s' if len(filled) > 1 else ''} {listed}"
                + (f" (colonnes attendues : {expected})" if expected else "")
                + " ; mettez l'en-tête au-dessus des données, ou nommez les colonnes avec --colonnes "
                  "(columns= en Python).",
                [{"problem": f"feuille « {ws.title} » : aucun en-tête reconnu"} for ws in filled])
        raise _refuse(f"Le classeur {name} est vide" + (f" (feuille « {sheets[0].title} »)" if sheet is not None
                                                      else "") + ".",
                      [{"problem": "aucune cellule remplie"}])
    (_, r, headers), ws, values = _table_sheet(found, kind, columns, name)
    names = _unique_headers(headers)
    formulas = _formula_cells(formulas_wb[ws.title], r, values, names) if formulas_wb is not None else set()
    width = len(names)
    body = []
    body_rows = []
    extra = []
    for i in range(r + 1, len(values)):
        row = values[i]
        if len(row) > width and _filled(row[width:]):
            extra.append(i + 1)
        if _filled(row[:width]):
            body.append([_cell_text(v) for v in row[:width]])
            body_rows.append(i + 1)
    if extra:
        raise ValidationError(
            f"{name} (feuille « {ws.title} ») : des cellules sont remplies à droite de la dernière "
            "colonne nommée ; donnez-leur un en-tête ou videz-les",
            [{"row": k, "problem": "cellule remplie sous un en-tête vide"} for k in extra])
    table = pd.DataFrame(body, columns=names, dtype=object) if body else \
        pd.DataFrame({n: pd.Series([], dtype=object) for n in names})
    fields = recognise_headers(names, kind, columns=columns) if kind else {}
    return ReadTable(table, np.asarray(body_rows, dtype="int64"), str(path), "xlsx", sheet=ws.title,
                     header_row=r + 1, fields=fields, formulas=frozenset(formulas))



def _open_workbook(path: Path) -> tuple[Workbook, Workbook | None]:
    """The workbook with its cell values, and with its formulas when it holds any; a file that
    is not a workbook is refused with what it looks like."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    name = path.name
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as fh:
            looks = _sniff(fh.read(4096))
        raise _refuse(f"{name} n'est pas un classeur Excel (.xlsx) valide : son contenu ressemble à "
                      f"{looks} ; s'il s'agit d'un CSV, renommez-le en .csv.",
                      [{"problem": "classeur illisible"}])
    try:
        wb = openpyxl.load_workbook(path, data_only=True)
        formulas_wb = openpyxl.load_workbook(path, data_only=False) if _has_formulas(path) else None
    except (KeyError, ValueError, TypeError, IndexError, OSError, zipfile.BadZipFile,
            InvalidFileException) as err:  # what openpyxl raises on a broken workbook
        raise _refuse(f"{name} : classeur Excel illisible ({type(err).__name__}) ; ouvrez-le dans Excel "
                      "et réenregistrez-le en .xlsx, ou en CSV.",
                      [{"problem": "classeur illisible"}]) from None
    return wb, formulas_wb



def _table_sheet(found: list[tuple[tuple[int, int, list[str | None]], Worksheet, list[list]]], kind: str | None,
                 columns: Mapping[str, str] | None, name: str,
                 ) -> tuple[tuple[int, int, list[str | None]], Worksheet, list[list]]:
    """The one sheet holding the table among the filled ones (``found``: the best header of
    each, the sheet, its values): the only one, or the only one with the required columns."""
    if len(found) == 1:
        return found[0]
    required = REQUIRED.get(kind, ()) if kind else ()
    if kind is not None:
        full = [f for f in found if all(
            r in recognise_headers(f[0][2], kind, columns=columns).values() for r in required)]
    else:
        full = found
    if len(full) != 1:
        listed = ", ".join(f"« {f[1].title} »" for f in (full or found))
        why = ("plusieurs feuilles sont remplies" if kind is None
               else "plusieurs feuilles ressemblent à la table attendue" if len(full) > 1
               else "plusieurs feuilles sont remplies et aucune ne ressemble à la table attendue")
        raise _refuse(
            f"{name} : {why} ({listed}) ; choisissez-en une avec --feuille NOM (sheet= en "
            "Python), ou réunissez les lignes dans une seule feuille.",
            [{"problem": f"feuille « {f[1].title} »"} for f in (full or found)])
    return full[0]



def _formula_cells(fws: Worksheet, r: int, values: list[list], names: list[str]) -> set[tuple[int, str]]:
    """The ``(row, header)`` of the cells below the header row ``r`` holding a formula without a
    cached value; ``values`` gets the formula's text there (shown, never computed)."""
    formulas: set[tuple[int, str]] = set()
    for row in fws.iter_rows(min_row=r + 2):
        for cell in row:
            v = cell.value
            is_formula = (isinstance(v, str) and v.startswith("=")) or type(v).__name__ in (
                "ArrayFormula", "DataTableFormula")
            if is_formula and cell.row - 1 < len(values) and cell.column - 1 < len(values[cell.row - 1]) \
                    and values[cell.row - 1][cell.column - 1] is None:
                text = v if isinstance(v, str) else str(getattr(v, "text", "=?"))
                values[cell.row - 1][cell.column - 1] = text
                if cell.column - 1 < len(names):
                    formulas.add((cell.row, names[cell.column - 1]))
    return formulas


# --------------------------------------------------------------------------- Parquet, OGR


def _read_parquet(path: Path, *, geometry: bool) -> ReadTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise _refuse(f"{path.name} n'est pas un fichier Parquet lisible ({err}).",
                      [{"problem": "Parquet illisible"}]) from None
    geo = (schema.metadata or {}).get(b"geo")
    if geo is not None and geometry:
        import geopandas as gpd

        table = gpd.read_parquet(path)
    else:
        table = pd.read_parquet(path)
        if geo is not None:
            import json

            geo_cols = list(json.loads(geo).get("columns", {}))
            table = table.drop(columns=[c for c in geo_cols if c in table.columns])
    if not isinstance(table.index, pd.RangeIndex):  # an index written by pandas: a column
        table = table.reset_index()
    return ReadTable(table, np.arange(1, len(table) + 1, dtype="int64"), str(path), "parquet")



def _read_ogr(path: Path, *, layer: str | None, geometry: bool) -> ReadTable:
    import pyogrio
    import pyogrio.errors

    name = path.name
    try:
        layers = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as err:
        raise _refuse(f"{name} : fichier géographique illisible ({type(err).__name__}) ; vérifiez qu'il "
                      "s'ouvre dans QGIS.", [{"problem": "fichier illisible"}]) from None
    if not layers:
        raise _refuse(f"{name} ne contient aucune couche.", [{"problem": "aucune couche"}])
    if layer is None:
        if len(layers) > 1:
            raise _refuse(
                f"{name} contient {len(layers)} couches ("
                + ", ".join(f"« {n} »" for n in layers)
                + ") ; choisissez-en une avec --couche NOM (layer= en Python).",
                [{"problem": f"couche « {n} »"} for n in layers])
        layer = layers[0]
    elif str(layer) not in layers:
        if isinstance(layer, int) and 0 <= layer < len(layers):
            layer = layers[layer]
        else:
            raise _refuse(f"{name} : pas de couche « {layer} » ; couches : "
                          + ", ".join(f"« {n} »" for n in layers) + ".",
                          [{"problem": f"couche « {layer} » absente"}])
    try:
        table = pyogrio.read_dataframe(path, layer=str(layer), read_geometry=geometry)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyogrio.errors.FieldTypeError, pyogrio.errors.GeometryError, OSError) as err:
        raise _refuse(f"{name} : couche « {layer} » illisible ({type(err).__name__}).",
                      [{"problem": "couche illisible"}]) from None
    return ReadTable(table.reset_index(drop=True), np.arange(1, len(table) + 1, dtype="int64"),
                     str(path), "ogr", layer=str(layer))


# --------------------------------------------------------------------------- entry point


def read_table(
    source: str | Path | pd.DataFrame,
    *,
    kind: str | None = None,
    columns: Mapping[str, str] | None = None,
    sheet: str | int | None = None,
    layer: str | None = None,
    sep: str | None = None,
    encoding: str | None = None,
    geometry: bool = False,
) -> ReadTable:
    """Read a table a user gives, whatever its format; say how it was read.

    Parameters
    ----------
    source : path or DataFrame
        ``.csv``/``.txt``/``.tsv``, ``.xlsx``/``.xlsm``, ``.parquet`` (GeoParquet too),
        ``.gpkg``/``.shp``/``.geojson``/``.fgb``…, or a DataFrame (rows numbered from 2, as if
        written with a header).
    kind : {"registry", "supply", "flows", "costs", "population", "indicators"}, optional
        What the table holds: its headers are recognised (:attr:`ReadTable.fields`) and, in a
        workbook, the sheet and header row are those where they are found.
    columns : mapping, optional
        ``{header in the file: standard field}`` for headers not recognised (with ``kind``).
    sheet : str or int, optional
        Sheet of a workbook (name, or position from 0); by default the one holding the table.
    layer : str, optional
        Layer of a GeoPackage; required when it has several.
    sep, encoding : str, optional
        Force the CSV separator or encoding instead of detecting them.
    geometry : bool, default False
        Keep the geometries of a geographic file (``table`` is then a GeoDataFrame).

    Returns
    -------
    ReadTable
        The table, the file row number of each row and what was detected.

    Raises
    ------
    FileNotFoundError
        When ``source`` does not exist.
    ValidationError
        For every input the reader cannot read without guessing, in French.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "r.csv")
    >>> _ = open(path, "wb").write("sep=;\\nCode INSEE;Nom\\n\\n59350;Lille\\n".encode("cp1252"))
    >>> t = read_table(path, kind="registry")
    >>> t.table.values.tolist(), t.rows.tolist(), t.describe()
    ([['59350', 'Lille']], [3], 'encodage UTF-8, séparateur « ; »')
    >>> t.fields
    {'Code INSEE': 'commune_code', 'Nom': 'cpts_name'}
    """
    if isinstance(source, pd.DataFrame):
        frame = pd.DataFrame(source) if not geometry else source.copy()
        if not geometry:
            frame = frame.drop(columns=getattr(source, "_geometry_column_name", None) or [],
                               errors="ignore")
        frame = frame.reset_index(drop=True)
        fields = recognise_headers(list(frame.columns), kind, columns=columns) if kind else {}
        return _no_control_characters(ReadTable(frame, np.arange(2, len(frame) + 2, dtype="int64"),
                                                "DataFrame", "DataFrame", fields=fields))
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"Fichier introuvable : {path}")
    if path.is_dir() and path.suffix.lower() not in (".gdb",):
        raise _refuse(f"{path} est un dossier, pas un fichier.", [{"problem": "dossier"}])
    fmt = _format_of(path) if not path.is_dir() else "ogr"
    if fmt != "csv" and path.stat().st_size == 0:
        raise _refuse(f"{path.name} : le fichier est vide.", [{"problem": "fichier vide"}])
    if fmt == "csv":
        out = _read_csv(path, sep=sep, encoding=encoding)  # control characters checked on its text
    elif fmt == "xlsx":
        return _no_control_characters(_read_xlsx(path, sheet=sheet, kind=kind, columns=columns))
    elif fmt == "parquet":
        out = _read_parquet(path, geometry=geometry)
    else:
        out = _read_ogr(path, layer=layer, geometry=geometry)
    if kind:

        out = out._replace(fields=recognise_headers(list(out.table.columns), kind, columns=columns))
    return out if fmt == "csv" else _no_control_characters(out)



def _no_control_characters(read: ReadTable, *, text: str | None = None) -> ReadTable:
    """``read``, unless a cell or a header holds a control character: then every such cell is
    listed with its row, in one :class:`ValidationError`. ``text``: the whole text of a CSV,
    searched once first (no cell needs looking at when it is clean)."""
    from cpts_geo.domain.text import CONTROL_CHARACTERS, control_problems, printable

    if text is not None and not CONTROL_CHARACTERS.search(text):
        return read

    problems = [{"row": read.header_row or 1, "kind": "caractère de contrôle",
                 "problem": f"en-tête « {printable(h)} » : caractère de contrôle invisible ; supprimez-le"}
                for h in read.table.columns if isinstance(h, str) and CONTROL_CHARACTERS.search(h)]
    problems += control_problems(read.table, read.rows)
    if problems:
        name = Path(read.source).name if read.source != "DataFrame" else "Le tableau"
        raise ValidationError(
            f"{name} : {len(problems)} cellule(s) contiennent des caractères de contrôle (NUL, échappement…), "
            "invisibles dans un tableur mais refusés par Excel et PostGIS, ou qui tronquent les noms "
            "dans un GeoPackage : supprimez-les des lignes listées (Rechercher/Remplacer, ou "
            "=EPURAGE() dans Excel).", problems)
    return read
