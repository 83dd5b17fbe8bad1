"""Reading flow tables: origin–destination CSV/XLSX/Parquet files and INSEE MOBPRO records."""

from __future__ import annotations

import codecs
import io
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pandas as pd

from cpts_geo.domain.codes import CODE_DTYPE, normalize_codes
from cpts_geo.domain.french import number
from cpts_geo.domain.headers import recognise_headers
from cpts_geo.domain.numbers import parse_numbers
from cpts_geo.errors import CptsGeoWarning, ValidationError
from cpts_geo.indicators.flows.codes import as_floats, check_sum, factorize_codes, first_rows, group_by
from cpts_geo.indicators.flows.secrecy import SECRECY_THRESHOLD, french_headers, mask_secrecy
from cpts_geo.indicators.flows.table import CODE_REPORT, END_LABELS, FLOW_COLUMNS, FlowsRead, shown_value
from cpts_geo.io._read import SEPARATORS, ReadTable, read_table
from cpts_geo.io.files import write_csv

if TYPE_CHECKING:
    import pyarrow as pa

#: Given a file's headers: the columns to read, those holding commune codes, and the volume column.
_Select: TypeAlias = Callable[[list], tuple[list, list, str]]


def _recognise(headers: Sequence, columns: Mapping[str, str] | None) -> dict[str, str]:
    """Map standard names to the user's headers (synonyms: :data:`cpts_geo.domain.headers.SYNONYMS`)."""
    if columns:
        for given, std in columns.items():
            if std not in FLOW_COLUMNS:
                raise ValueError(
                    f"columns : {std!r} n'est pas une colonne de flux ; "
                    f"valeurs permises : {', '.join(FLOW_COLUMNS)}."
                )
            if given not in headers:
                raise ValueError(
                    f"columns : la colonne {given!r} est absente du fichier ; colonnes lues : "
                    + ", ".join(map(str, headers))
                )
    return {std: header for header, std in recognise_headers(headers, "flows", columns=columns).items()}



def _arrow_frame(table: pa.Table) -> pd.DataFrame:
    """A pyarrow Table as a DataFrame; dictionary columns become categories without a
    string per row (their integer indices are used as the categorical codes)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = table.unify_dictionaries()
    columns = {}
    for name, col in zip(table.column_names, table.columns):
        if not pa.types.is_dictionary(col.type):
            plain = pa.types.is_floating(col.type) or (pa.types.is_integer(col.type) and not col.null_count)
            columns[name] = col.to_numpy() if plain else col.to_pandas()
            continue
        col = col.combine_chunks() if col.num_chunks else pa.array([], col.type)
        dictionary = col.dictionary
        indices = col.indices
        codes = (pc.fill_null(indices, -1) if indices.null_count else indices).to_numpy()
        categories = pd.Index(np.asarray(dictionary.to_pylist(), dtype=object), dtype=object)
        columns[name] = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories),
                                                  validate=False)
    return pd.DataFrame(columns, copy=False)



def _arrow_csv(path: Path, *, sep: str, encoding: str, usecols: list, code_cols: Sequence,
               number_col: str | None) -> pd.DataFrame:
    """Read ``usecols`` of a CSV file with the pyarrow CSV reader: commune codes straight into
    categories (one integer code per row), the volume as a number when every cell is one
    (as text otherwise), every other column as text. Raises ``pyarrow.ArrowInvalid``."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    codes = pa.dictionary(pa.int32(), pa.string())
    types = {c: codes if c in code_cols else pa.string() for c in usecols}
    enc = "utf8" if encoding in ("utf-8", "utf-8-sig", "utf8") else encoding

    def read(volume_type: pa.DataType) -> pa.Table:
        if number_col is not None:
            types[number_col] = volume_type
        return pacsv.read_csv(
            path, read_options=pacsv.ReadOptions(encoding=enc, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=sep),
            convert_options=pacsv.ConvertOptions(include_columns=usecols, column_types=types,
                                                 null_values=[""], strings_can_be_null=True,
                                                 quoted_strings_can_be_null=True))

    try:
        table = read(pa.float64())
    except pa.ArrowInvalid as err:
        if number_col is None or "conversion error to double" not in str(err):
            raise
        table = read(pa.string())  # "1 234", "12,5": parsed by _parse_volumes
    return _arrow_frame(table)



def _fast_csv(path: Path, *, sep: str | None, encoding: str | None, select: _Select) -> tuple[pd.DataFrame, np.ndarray, str] | None:
    """The columns ``select(headers)`` of a plain UTF-8 CSV file read with pyarrow's reader
    (codes as categories, volumes as numbers), or ``None`` when the file is not that simple.

    Simple means: UTF-8, the header on the first line, no ``sep=`` line, no blank line, no
    empty code, every line with the header's number of fields, every volume a plain number
    ≥ 0 or text. Its data rows are then the lines 2, 3…; any other file goes through
    :func:`cpts_geo.io._read.read_table`, which owns the encodings and the row numbers.
    """
    import mmap

    import pyarrow as pa

    if encoding is not None and codecs.lookup(encoding).name not in ("utf-8", "utf-8-sig"):
        return None
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return None
        try:
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # empty file
            return None
        with data:  # a blank line inside the file shifts the row numbers: not simple
            size = len(data)
            for blank in (b"\n\n", b"\n\r\n"):
                pos = data.find(blank)
                if 0 <= pos < size - len(blank):
                    return None
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 3:
            return None
        text = head[:err.start].decode("utf-8-sig")
    first = text.split("\n", 1)[0].rstrip("\r")
    if not first.strip() or first.strip().startswith("sep="):
        return None
    if sep is None:
        counts = {s: first.count(s) for s in SEPARATORS}
        sep = max(counts, key=lambda s: counts[s]) if max(counts.values()) else ","
    headers = list(pd.read_csv(io.StringIO(first + "\n"), sep=sep, nrows=0).columns)
    usecols, code_cols, number_col = select(headers)
    usecols = list(dict.fromkeys(usecols))
    try:
        frame = _arrow_csv(path, sep=sep, encoding="utf-8", usecols=usecols, code_cols=code_cols,
                           number_col=number_col)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None  # a faulty line, another encoding: the reader of every table says which
    if any(frame[c].isna().any() for c in code_cols):
        return None
    if number_col is not None and pd.api.types.is_float_dtype(frame[number_col].dtype):
        volume = frame[number_col].to_numpy()
        if not (np.isfinite(volume).all() and (volume >= 0).all()):
            return None  # report the cells as written
    return frame[usecols], np.arange(2, len(frame) + 2), ReadTable(
        pd.DataFrame(), np.empty(0, dtype=np.int64), str(path), "csv", encoding="utf-8", separator=sep).describe()



def _read_table(path: Path, *, sheet: str | int | None, sep: str | None, encoding: str | None, select: _Select,
                kind: str | None = None,
                ) -> tuple[pd.DataFrame, np.ndarray, str]:
    """Read the columns ``select(headers)`` of a user's file; return them and the row numbers
    of the file, and how it was read (French). ``select`` gets the file's headers and returns the columns to read, those
    holding commune codes and the volume column (or raises).

    Parquet files and plain UTF-8 CSV files are read by pyarrow with the codes as
    categories (one integer per row: national tables in seconds); every other file, and any
    CSV file with something to report, by :func:`cpts_geo.io._read.read_table`.
    """
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pq.read_schema(path)
        columns, code_cols, _ = select(list(schema.names))
        columns = list(dict.fromkeys(columns))
        text = [c for c in code_cols
                if pa.types.is_string(schema.field(c).type) or pa.types.is_large_string(schema.field(c).type)]
        # codes straight into categories: one integer code per row, strings once per commune
        frame = _arrow_frame(pq.read_table(path, columns=columns, read_dictionary=text))
        rows = np.arange(1, len(frame) + 1)
        problems = _control_problems(frame, rows)
        if problems:
            raise ValidationError(f"{path.name} : {len(problems)} cellule(s) contiennent des caractères de "
                                  "contrôle (NUL, échappement…) ; supprimez-les des lignes listées.", problems)
        return frame, rows, "Parquet"
    if suffix not in (".xlsx", ".xlsm", ".xls", ".gpkg", ".shp", ".geojson", ".fgb", ".ods"):
        fast = _fast_csv(path, sep=sep, encoding=encoding, select=select)
        if fast is not None and not _control_problems(fast[0], fast[1]):
            return fast  # otherwise the reader of every table lists those cells with their rows
    read = read_table(path, kind=kind, sheet=sheet, sep=sep, encoding=encoding)
    columns = list(dict.fromkeys(select(list(read.table.columns))[0]))
    return read.table[columns], read.rows, read.describe()



def _control_problems(frame: pd.DataFrame, rows: np.ndarray) -> list[dict]:
    """Cells of a table read by a fast path holding a control character (categories looked at
    once each)."""
    from cpts_geo.domain.text import CONTROL_CHARACTERS, control_problems

    texts = {}
    for col in frame.columns:
        values = frame[col]
        if isinstance(values.dtype, pd.CategoricalDtype):
            if any(isinstance(c, str) and CONTROL_CHARACTERS.search(c) for c in values.cat.categories):
                texts[col] = values.astype(object)
        elif values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            texts[col] = values
    return control_problems(pd.DataFrame(texts), rows) if texts else []



def _parse_volumes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse volumes: numbers, or text like ``"1 234"``, ``"1 234,5"``, ``"12.5"``
    (:func:`cpts_geo.domain.numbers.parse_numbers`).

    Returns the float values (NaN where empty or unreadable) and a boolean array of these
    cells. Infinite values are returned as such (the caller rejects them).
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        out = as_floats(values)
        return out, np.isnan(out)
    arrow = getattr(values.array, "_pa_array", None)
    if arrow is not None:  # plain numbers, the usual case: one Arrow cast for the whole column
        import pyarrow as pa
        import pyarrow.compute as pc

        try:
            out = np.asarray(pc.cast(arrow, pa.float64()).to_numpy(zero_copy_only=False), dtype="float64")
            return out, np.isnan(out)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    out, _ = parse_numbers(values)
    return out, np.isnan(out)



def _flow_table(frame: pd.DataFrame, rows: np.ndarray, label: str,
                found: Mapping[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check and clean the columns ``found`` of ``frame``: the body of :func:`read_flows`.

    Codes are cleaned once per distinct value (:func:`cpts_geo.domain.codes.normalize_codes`), then
    spread to the rows.
    """
    if len(frame) == 0:
        raise ValidationError(
            f"{label} : la table de flux est vide ; donnez au moins une ligne "
            "origine, destination, volume.",
            [{"problem": "table vide"}],
        )
    problems: list[dict[str, Any]] = []
    columns: dict = {"row": rows}
    given = frame[found["volume"]]
    volume, bad = _parse_volumes(given)
    valid = ~bad & np.isfinite(volume) & (volume >= 0)
    all_valid = bool(valid.all())
    weights = volume if all_valid else np.where(valid, volume, 0.0)
    reports = []
    for end in ("origin", "destination"):
        codes, uniq = factorize_codes(frame[found[end]])
        clean, report = normalize_codes(pd.Series(uniq, dtype=object))
        # one category per clean code ("1001" and "01001" are one commune), sorted
        clean_codes, categories = pd.factorize(clean.to_numpy(dtype=object, na_value=None), sort=True)
        missing = bool(len(codes)) and int(codes.min()) < 0
        if not missing and np.array_equal(clean_codes, np.arange(len(clean_codes))):
            rows_codes = codes  # already clean and sorted: the codes as read
        elif not missing:
            rows_codes = clean_codes[codes]
        else:
            rows_codes = np.where(codes < 0, -1, clean_codes[np.maximum(codes, 0)])
        columns[end] = pd.Categorical.from_codes(
            rows_codes, dtype=pd.CategoricalDtype(pd.Index(categories, dtype=CODE_DTYPE)), validate=False)
        if len(report):
            pos = report["row"].to_numpy() - 1  # position in uniq
            used = codes >= 0
            report = report.assign(
                end=END_LABELS[end], row=first_rows(codes, rows, len(uniq))[pos],
                n_rows=np.bincount(codes[used], minlength=len(uniq))[pos],
                volume=np.bincount(codes[used], weights=weights[used], minlength=len(uniq))[pos])
            reports.append(report[CODE_REPORT])
        for pos in np.flatnonzero(rows_codes < 0):
            problems.append({"row": int(rows[pos]), "code": None, "column": found[end],
                             "problem": f"code commune vide ({END_LABELS[end]}) ; "
                                        "indiquez le code INSEE à 5 caractères"})
    for pos in np.flatnonzero(bad):
        value = given.iloc[pos]
        what = ("volume vide" if pd.isna(value) or str(value).strip() == ""
                else f"volume non numérique : {shown_value(value)}")
        problems.append({"row": int(rows[pos]), "code": None, "column": found["volume"],
                         "problem": f"{what} ; attendu un nombre ≥ 0 (ex. 1234, « 1 234 », 12,5)"})
    for pos in np.flatnonzero(np.isinf(volume)) if not all_valid else ():
        problems.append({"row": int(rows[pos]), "code": None, "column": found["volume"],
                         "problem": f"volume infini : {shown_value(given.iloc[pos])} ; attendu un nombre fini ≥ 0"})
    for pos in np.flatnonzero(np.isfinite(volume) & (volume < 0)) if not all_valid else ():
        problems.append({"row": int(rows[pos]), "code": None, "column": found["volume"],
                         "problem": f"volume négatif : {shown_value(given.iloc[pos])} ; attendu un nombre ≥ 0"})
    if problems:
        problems.sort(key=lambda p: p["row"])
        raise ValidationError(
            f"{label} : la table de flux a des lignes invalides ; corrigez-les dans le fichier "
            "puis relisez-le", problems)
    check_sum(volume, rows, f"{label} : la table de flux a des volumes trop grands",
               column=found["volume"])
    columns["volume"] = volume
    for opt in ("profession", "year"):
        if opt in found:
            values = frame[found[opt]].to_numpy()
            columns[opt] = pd.array(values, dtype="string") if opt == "profession" else values
    out = pd.DataFrame(columns, copy=False)
    code_report = (pd.concat(reports, ignore_index=True).sort_values(["row", "end"], kind="stable")
                   .reset_index(drop=True) if reports else pd.DataFrame(columns=CODE_REPORT))
    if len(code_report):
        warnings.warn(
            f"{label} : {len(code_report)} code(s) commune réparé(s) (zéro initial, espaces) sur "
            f"{number(code_report['n_rows'].sum())} ligne(s) ; voir le rapport (code_report).",
            CptsGeoWarning, stacklevel=3)
    return out, code_report



def read_flows(
    source: str | Path | pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    sheet: str | int | None = None,
    sep: str | None = None,
    encoding: str | None = None,
) -> FlowsRead:
    """Read an origin–destination table (commune of residence → commune of care).

    Headers are recognised in French or English (``origine``/``commune de résidence``,
    ``destination``/``commune de soins``, ``volume``/``patients``/``actes``/``nb``,
    ``profession``/``type de soins``, ``année``) or given with ``columns``; only these
    columns are read. Commune codes are cleaned with :func:`cpts_geo.domain.codes.normalize_codes`
    (leading zero restored, spaces removed; a warning gives the number of repairs). Volumes
    may be text with thousands separators (``"1 234"``) or decimal commas (``"12,5"``).

    Every problem is gathered and raised at once: missing codes, non-numeric, missing,
    infinite or negative volumes, an empty table. Duplicated pairs are kept here (one row
    per input row) and summed by :func:`prepare_flows`. A table with several professions
    or years is read whole: keep one with :func:`select_flows` before computing indicators.

    Parameters
    ----------
    source : path or DataFrame
        A CSV (separator and encoding detected; read with the pyarrow engine), XLSX or
        Parquet file, or a DataFrame.
    columns : mapping, optional
        ``{"your header": "origin" | "destination" | "volume" | "profession" | "year"}``.
    sheet : str or int, optional
        Sheet of an XLSX file (the first one by default).
    sep, encoding : str, optional
        Force the CSV separator or encoding.

    Returns
    -------
    FlowsRead
        ``flows``: columns ``row`` (row number in the user's file: the header is row 1 in a
        CSV or XLSX file, blank lines counted; 1-based position for a DataFrame or Parquet
        file), ``origin``, ``destination`` (Categoricals whose categories are codes in
        :data:`cpts_geo.domain.codes.CODE_DTYPE`), ``volume`` (float) and, when given,
        ``profession`` and ``year``. ``code_report``: the code repairs, one row per (end, code):
        ``end``, ``row`` (first row), ``n_rows``, ``code``, ``new_code``, ``reason``, ``volume``.
        ``source``, ``records`` (data rows read).

    Examples
    --------
    >>> table = pd.DataFrame({"Commune de résidence": ["61001", "61001"],
    ...                       "Commune de soins": ["61001", "14118"],
    ...                       "Nb patients": ["1 234", "56"]})
    >>> read_flows(table).flows[["origin", "destination", "volume"]].values.tolist()
    [['61001', '61001', 1234.0], ['61001', '14118', 56.0]]
    """
    found: dict[str, str] = {}

    def select(headers: list) -> tuple[list, list, str]:
        found.update(_recognise(headers, columns))
        missing = [c for c in ("origin", "destination", "volume") if c not in found]
        if missing:
            raise ValidationError(
                f"{label} : colonne(s) {', '.join(missing)} introuvable(s). Colonnes lues : "
                + ", ".join(map(str, headers))
                + ". Renommez-les (ex. « origine », « destination », « volume ») ou indiquez-les : "
                "--colonnes \"origin=Votre en-tête,destination=…,volume=…\" en ligne de commande, "
                "columns={'Votre en-tête': 'origin', ...} en Python.",
                [{"code": None, "problem": f"colonne {c} absente", "column": c} for c in missing],
            )
        return list(found.values()), [found["origin"], found["destination"]], found["volume"]

    if isinstance(source, pd.DataFrame):
        label = "table"
        frame, rows, reading = source[select(list(source.columns))[0]], np.arange(1, len(source) + 1), ""
    else:
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"Fichier de flux introuvable : {path}")
        label = path.name
        frame, rows, reading = _read_table(path, sheet=sheet, sep=sep, encoding=encoding, select=select,
                                           kind="flows")
    flows, report = _flow_table(frame, rows, label, found)
    return FlowsRead(flows, report, label, len(flows), reading=reading)



def read_mobpro(
    source: str | Path | pd.DataFrame,
    *,
    origin: str = "COMMUNE",
    destination: str = "DCLT",
    weight: str = "IPONDI",
    by: Sequence[str] = (),
) -> FlowsRead:
    """Read INSEE MOBPRO detail records (home → workplace) as a flow table.

    Each record is one census individual with its statistical weight; records are summed
    per (residence, workplace) pair (and ``by`` columns). Used as a stand-in for patient
    flows when these are not available. Only the needed columns are read.

    Parameters
    ----------
    source : path or DataFrame
        The MOBPRO file (CSV with ``;`` or ``,``, Parquet) or a DataFrame.
    origin, destination, weight : str
        Columns of the residence commune, workplace commune and weight.
    by : sequence of str
        Extra columns to keep as keys: one column becomes ``profession`` (e.g.
        ``["CS1"]``); several keep their names (e.g. ``["CS1", "AGEREVQ"]``).

    Returns
    -------
    FlowsRead
        ``flows``: one row per pair, sorted, codes as given (remap them with
        :func:`prepare_flows`): ``row`` (the file row of the pair's first record; the
        header is row 1), ``origin``, ``destination``, the ``by`` keys, ``volume`` and
        ``records`` (number of records summed). ``records``: the number of records read;
        ``code_report``: the code repairs (file rows); ``mobpro`` is true.

    Examples
    --------
    >>> records = pd.DataFrame({"COMMUNE": ["61001", "61001", "61001"],
    ...                         "DCLT": ["61001", "61001", "14118"], "IPONDI": [1.5, 2.0, 1.0]})
    >>> read_mobpro(records).flows.values.tolist()
    [[3, '61001', '14118', 1.0, 1], [1, '61001', '61001', 3.5, 2]]
    """
    by = list(by)
    cols = list(dict.fromkeys([origin, destination, weight, *by]))

    def select(headers: list) -> tuple[list, list, str]:
        absent = [c for c in cols if c not in headers]
        if absent:
            raise ValidationError(
                "Fichier MOBPRO : colonne(s) " + ", ".join(absent) + " absente(s) ; colonnes lues : "
                + ", ".join(map(str, headers)) + ". Passez origin=, destination=, weight=.",
                [{"problem": f"colonne {c} absente"} for c in absent])
        return cols, [origin, destination], weight

    if isinstance(source, pd.DataFrame):
        frame, rows, reading = source[select(list(source.columns))[0]], np.arange(1, len(source) + 1), ""
    else:
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"Fichier MOBPRO introuvable : {path}")
        frame, rows, reading = _read_table(path, sheet=None, sep=None, encoding=None, select=select)
    found = {"origin": origin, "destination": destination, "volume": weight}
    table, report = _flow_table(frame, rows, "Fichier MOBPRO", found)
    names = ["profession"] if len(by) == 1 else by
    for b, name in zip(by, names):
        table[name] = frame[b].reset_index(drop=True).to_numpy()
        if name == "profession":
            table[name] = table[name].astype("string")
    order, starts = group_by([table[c] for c in ("origin", "destination", *names)])
    out = table.iloc[order[starts]].reset_index(drop=True)[["row", "origin", "destination", *names]]
    out["row"] = np.minimum.reduceat(rows[order], starts)
    out["volume"] = np.add.reduceat(table["volume"].to_numpy()[order], starts)
    out["records"] = np.diff(np.append(starts, len(order)))
    return FlowsRead(out, report, "MOBPRO", len(frame), mobpro=True, reading=reading)



def write_flow_table(
    table: pd.DataFrame,
    path: str | Path,
    *,
    threshold: float | None = SECRECY_THRESHOLD,
) -> Path:
    """Write an indicator table to CSV (``;``, decimal comma, UTF-8 with BOM) or XLSX.

    Small volumes and the rates computed on them are masked first (see
    :func:`mask_secrecy`; ``threshold=None`` disables it, for internal use only), and
    headers are in French. Text cells that a spreadsheet would run as a formula (a CPTS
    named ``=HYPERLINK(...)``) are written as text (:func:`cpts_geo.io.files.neutralise_cells`);
    the file is written to a temporary file and renamed, never left half-written.

    Parameters
    ----------
    table : DataFrame
        An indicator table of this package (or any table with volume columns).
    path : path
        ``.csv`` (``;``, decimal comma, UTF-8 with BOM) or ``.xlsx``.
    threshold : float or None, default 10
        Statistical secrecy threshold.

    Returns
    -------
    pathlib.Path
        The file written.

    Examples
    --------
    >>> import tempfile, os
    >>> table = pd.DataFrame({"resident_volume": [100.0, 8.0], "retention": [0.6, 0.5]})
    >>> path = write_flow_table(table, os.path.join(tempfile.mkdtemp(), "flux.csv"))
    >>> path.read_text(encoding="utf-8-sig").splitlines()
    ['Volume des résidents;Taux de rétention;Masqué (secret statistique)', '100;0,6;non', ';;oui']
    """
    path = Path(path)
    out = table if threshold is None else mask_secrecy(table, threshold=threshold)
    out = out.copy()
    for col in out.columns:
        values = out[col]
        is_bool = pd.api.types.is_bool_dtype(values.dtype) or (
            values.dtype == object and len(values.dropna())
            and values.dropna().map(lambda x: isinstance(x, (bool, np.bool_))).all())
        if is_bool:
            out[col] = values.map(lambda x: pd.NA if pd.isna(x) else ("oui" if x else "non"))
    out = french_headers(out)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from cpts_geo.io.tables import write_xlsx

        write_xlsx(path, {path.stem: out})  # neutralised and atomic
    else:
        write_csv(out, path)  # neutralised and atomic too
    return path
