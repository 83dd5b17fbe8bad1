"""Readers for the supply of health professionals per commune (INSEE BPE, a user's table)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pandas as pd

from cpts_geo.domain.codes import as_codes, normalize_codes
from cpts_geo.domain.history import remap_codes
from cpts_geo.domain.numbers import parse_counts, parse_numbers
from cpts_geo.errors import CptsGeoWarning, ValidationError
from cpts_geo.indicators.supply import (
    BPE_PROFESSIONS,
    SUPPLY_FORMATS,
    SupplyRead,
    option_professions,
    parse_professions,
)
from cpts_geo.io._read import ReadTable, read_table
from cpts_geo.io.history import read_passage_table

#: A passage table as the readers take it (:func:`cpts_geo.io.history.read_passage_table`), or none.
_PassageFile: TypeAlias = "pd.DataFrame | str | Path | dict[str, set[str]] | None"

__all__ = [
    "read_bpe",
    "read_professionals",
    "read_supply",
]


def _read(data: pd.DataFrame | str | Path, *, sheet: str | int | None, sep: str | None,
          encoding: str | None) -> ReadTable:
    """The user's table through the one reader (:func:`cpts_geo.io._read.read_table`)."""
    return read_table(data, kind="supply", sheet=sheet, sep=sep, encoding=encoding)



def _read_table(data: pd.DataFrame | str | Path, sep: str | None = None) -> pd.DataFrame:
    """The table only (kept for callers of the former helper; use :func:`cpts_geo.io._read.read_table`)."""
    return read_table(data, sep=sep).table






def _away_from_layer(new: pd.Series, report: pd.DataFrame,
                     communes: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """``new`` and ``report`` of :func:`remap_codes` where a code remapped to a commune outside
    ``communes`` is unmapped: an arrondissement rolled up to a city that is not in the caller's
    layer is no commune of the layer either (set aside, or an error), never kept as supply
    outside it."""
    known = as_codes(communes.index)
    away = report["new_code"].notna() & ~as_codes(report["new_code"]).isin(known)
    if not away.any():
        return new, report
    report = report.copy()
    report.loc[away, "reason"] = [
        (f"arrondissement de {target}" if str(reason).startswith("arrondissement")
         else f"{reason} ({target})") + ", commune hors de la couche étudiée"
        for reason, target in zip(report.loc[away, "reason"], report.loc[away, "new_code"])]
    new = new.copy()
    new.iloc[report.loc[away, "row"].to_numpy(dtype="int64") - 1] = pd.NA
    report.loc[away, ["new_code", "new_name"]] = pd.NA
    return new, report



def _raise_problems(problems: list[dict], rejected: pd.DataFrame | None) -> None:
    """Raise the problems of a supply table, with its ``rejected`` lines (each input row once)
    when unknown codes are errors, sorted by row; nothing when there is none."""
    if rejected is not None:
        for rec in rejected.drop_duplicates(["row", "code"]).itertuples(index=False):
            problems.append({
                "row": int(rec.row), "code": rec.code,
                "problem": f"{rec.problem} : ce code n'est pas une commune de la couche ; "
                           "corrigez-le, ou donnez une table de passage (passage=…), "
                           "ou unknown='report' pour écarter ces lignes avec un rapport"})
    if problems:
        probs = pd.DataFrame(problems)
        probs["_r"] = pd.to_numeric(probs["row"], errors="coerce")
        probs = probs.sort_values("_r", kind="stable").drop(columns="_r")
        raise ValidationError("Table des professionnels invalide : corrigez les lignes citées",
                              probs.to_dict("records"))



def _finish(rows: np.ndarray, raw_codes: pd.Series, professions: pd.Series,
            counts: pd.Series, extra: Mapping[str, pd.Series], problems: list[dict], *,
            communes: pd.DataFrame | None, passage: _PassageFile, unknown: str,
            ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Clean and remap codes, raise gathered problems, build the supply table.

    Returns the supply table, the codes changed and the lines set aside.
    """
    if unknown not in ("raise", "report"):
        raise ValueError(f"unknown doit valoir 'raise' ou 'report', pas {unknown!r}.")
    codes, fixes = normalize_codes(raw_codes.reset_index(drop=True))
    links = read_passage_table(passage) if passage is not None else None
    new, report = remap_codes(codes, communes=communes, passage=links, plm="city")
    if communes is not None:
        new, report = _away_from_layer(new, report, communes)
    unmapped = report[report["new_code"].isna()]
    pos = unmapped["row"].to_numpy(dtype="int64") - 1
    # one line per supply line set aside, with what it held (a row of the wide BPE gives one
    # line per profession: the same row number on each)
    rejected = pd.DataFrame({"row": rows[pos].astype("int64"),
                             "code": unmapped["code"].to_numpy(),
                             "profession": professions.iloc[pos].to_numpy(),
                             "count": counts.iloc[pos].to_numpy(dtype="float64"),
                             "problem": unmapped["reason"].to_numpy()})
    _raise_problems(problems, rejected if unknown == "raise" else None)
    out = pd.DataFrame({
        "row": rows.astype("int64"),
        "code": new.to_numpy(),
        "source_code": raw_codes.astype("string").to_numpy(),
        "profession": professions.to_numpy(),
        "count": counts.to_numpy(dtype="float64"),
    })
    for name, values in extra.items():
        out[name] = values.to_numpy(dtype="float64")
    out["code"] = as_codes(out["code"])
    out["source_code"] = out["source_code"].astype("string")
    out["profession"] = out["profession"].astype("string")
    # a row of the wide BPE gives one supply line per profession: each input row once below
    changed = report[report["new_code"].notna()].copy()
    if len(changed):
        changed["row"] = rows[changed["row"].to_numpy() - 1]
        changed = changed.drop_duplicates(["row", "code"])
    if len(fixes):
        fixes = fixes.assign(row=rows[fixes["row"].to_numpy() - 1]).drop_duplicates(["row", "code"])
        warnings.warn(f"{len(fixes)} code(s) commune réparé(s) (espaces, zéro initial) : "
                      "liste dans le champ remapped du résultat", CptsGeoWarning, stacklevel=4)
        changed = pd.concat([fixes.assign(name=pd.NA, new_name=pd.NA), changed], ignore_index=True)
    moved = report[report["new_code"].notna()].assign(
        row=lambda t: rows[t["row"].to_numpy(dtype="int64") - 1]).drop_duplicates(["row", "code"])
    if len(moved):
        reasons = moved["reason"].value_counts()
        warnings.warn(
            f"{len(moved)} ligne(s) rattachée(s) à la commune actuelle ("
            + ", ".join(f"{n} {r}" for r, n in reasons.items())
            + ") : liste dans le champ remapped du résultat", CptsGeoWarning, stacklevel=4)
    out = out[out["code"].notna()].reset_index(drop=True)
    if len(rejected):
        warnings.warn(f"{rejected['row'].nunique()} ligne(s) écartée(s) : code absent de la couche "
                      "des communes ; liste dans le champ rejected du résultat", CptsGeoWarning,
                      stacklevel=4)
    return out, changed.sort_values("row", kind="stable").reset_index(drop=True), rejected



def read_professionals(
    data: pd.DataFrame | str | Path,
    *,
    code: str = "code",
    profession: str = "profession",
    count: str = "count",
    fte: str | None = None,
    age: str | None = None,
    communes: pd.DataFrame | None = None,
    passage: _PassageFile = None,
    unknown: str = "raise",
    sep: str | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
) -> SupplyRead:
    """Read a generic table of professionals: commune code, profession, count.

    Parameters
    ----------
    data : DataFrame or path
        CSV (separator detected unless ``sep``), XLSX or Parquet; one row per
        (commune, profession) or per practitioner (count 1).
    code, profession, count : str
        Column names of the commune code, the profession (see :func:`parse_professions`)
        and the number of professionals.
    fte, age : str, optional
        Columns of full-time equivalents (or any activity measure, ≥ 0) and of age.
    communes : DataFrame, optional
        Commune layer whose index holds today's codes (default: all of France, embedded).
    passage : optional
        INSEE passage table for old codes (see :func:`cpts_geo.io.history.read_passage_table`).
    unknown : {"raise", "report"}, default "raise"
        What to do with codes that are not communes of the layer: raise with every row, or
        set the rows aside in the result's ``rejected`` (with a warning).
    sep, sheet, encoding : optional
        Force the CSV separator or encoding, choose the sheet of a workbook (see
        :func:`cpts_geo.io._read.read_table`: by default detected, and a workbook with several
        sheets holding such a table is refused with their list).

    Returns
    -------
    SupplyRead
        The supply table (``.table``, see the module docstring) with its reports:
        ``remapped`` lists every changed code, ``rejected`` the lines set aside,
        ``file_rows`` the data rows read.

    Raises
    ------
    ValidationError
        Every missing column, unknown profession, missing, non-numeric or negative count,
        and (``unknown="raise"``) every code absent from the commune layer.

    Examples
    --------
    >>> table = pd.DataFrame({"code": ["59350", "59350", "80021"],
    ...                       "profession": ["généraliste", "Infirmier", "kiné"],
    ...                       "count": [303, 222, 40]})
    >>> supply = read_professionals(table)
    >>> supply.table[["code", "profession", "count"]].values.tolist()
    [['59350', 'médecin généraliste', 303.0], ['59350', 'infirmier', 222.0], ['80021', 'masseur-kinésithérapeute', 40.0]]
    >>> len(supply.rejected), supply.file_rows
    (0, 3)
    """
    read = _read(data, sheet=sheet, sep=sep, encoding=encoding)
    return _professionals(read, code=code, profession=profession, count=count, fte=fte, age=age,
                          communes=communes, passage=passage, unknown=unknown)


#: How :func:`read_professionals` names its column parameters in messages.
_PARAMETERS = {"code": "code=", "profession": "profession=", "count": "count=", "fte": "fte=",
               "age": "age="}



def _professionals(read: ReadTable, *, code: str, profession: str, count: str, fte: str | None,
                   age: str | None, communes: pd.DataFrame | None, passage: _PassageFile, unknown: str,
                   names: Mapping[str, str] | None = None) -> SupplyRead:
    """:func:`read_professionals` on a table already read; ``names``: how the caller names the
    column parameters in messages (default ``code=``…)."""
    names = {**_PARAMETERS, **(names or {})}
    frame = read.table
    wanted = {"code": code, "profession": profession, "count": count}
    if fte:
        wanted["fte"] = fte
    if age:
        wanted["age"] = age
    # a column not found under the name given: the header recognised for it (« Effectif », « Code INSEE »…)
    recognised = {field: header for header, field in read.fields.items()}
    wanted = {key: col if col in frame.columns else recognised.get(key, col) for key, col in wanted.items()}
    code, profession, count = wanted["code"], wanted["profession"], wanted["count"]
    fte, age = wanted.get("fte"), wanted.get("age")
    missing = [(key, col) for key, col in wanted.items() if col not in frame.columns]
    if missing:
        raise ValidationError(
            "Colonnes manquantes dans la table des professionnels : nommez-les avec "
            + ", ".join(names[k] for k in ("code", "profession", "count")),
            [{"problem": f"colonne « {col} » absente ("
                         + (f"{names[key]}{col!r}" if names[key].endswith("=") else f"{names[key]} {col}")
                         + ") ; colonnes présentes : " + ", ".join(map(str, frame.columns))}
             for key, col in missing])
    frame = frame.reset_index(drop=True)
    rows = read.rows
    raw_codes = frame[code].astype("string")
    problems: list[dict] = []
    try:
        labels = parse_professions(frame[profession], rows=rows)
    except ValidationError as err:
        problems.extend(err.problems.to_dict("records"))
        labels = pd.Series([pd.NA] * len(frame), dtype="string")
    counts = parse_counts(frame[count], rows, raw_codes, "effectif", problems, required=True)
    extra = {}
    if fte:
        extra["fte"] = parse_counts(frame[fte], rows, raw_codes, "ETP", problems, required=False)
    if age:
        extra["age"] = parse_counts(frame[age], rows, raw_codes, "âge", problems, required=False,
                                upper=120)
    out, remapped, rejected = _finish(rows, raw_codes, labels, counts, extra, problems,
                                      communes=communes, passage=passage, unknown=unknown)
    return SupplyRead(out, remapped, rejected, _duplicates_none(), 0, len(frame),
                      read.describe(), "table")



def _duplicates_none() -> pd.DataFrame:
    return pd.DataFrame({"row": pd.Series(dtype="int64"), "first_row": pd.Series(dtype="int64"),
                         "code": pd.Series(dtype="string"), "typequ": pd.Series(dtype="string")})



def read_bpe(
    data: pd.DataFrame | str | Path,
    *,
    professions: Iterable[str] | None = None,
    communes: pd.DataFrame | None = None,
    passage: _PassageFile = None,
    unknown: str = "raise",
    sep: str | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
) -> SupplyRead:
    """Read INSEE's BPE (long ``DEPCOM;TYPEQU;NB_EQUIP`` or wide ``D201…`` columns).

    Rows of equipment types that are not professions (schools, shops, hospitals…) are
    not supply: they are counted in the result's ``other_equipment_rows``, not reported as
    errors; a file where no row is a profession (asked for) gives an empty table and a
    warning. The long format may hold one row per IRIS: rows are kept (``row``), sum them
    with :func:`supply_by_commune`; a row repeating another's ``DEPCOM``, ``DCIRIS`` and
    ``TYPEQU`` is summed too but announced by a warning and listed in
    the result's ``duplicates`` (``row``, ``first_row``, ``code``, ``typequ``).

    In the wide format, a blank cell means no equipment (like 0, INSEE leaves them blank);
    numbers may have a decimal comma; any other value is an error quoting its row and column.

    Parameters
    ----------
    data : DataFrame or path
        The BPE file (``;``-separated in INSEE's release) or a frame.
    professions : iterable of str, optional
        Keep only these professions (any spelling accepted by :func:`parse_professions`).
    communes, passage, unknown, sep, sheet, encoding
        As in :func:`read_professionals`.

    Returns
    -------
    SupplyRead
        The supply table (``.table``; in the wide format ``row`` is the row of the commune and
        each profession with a non-zero count gives one row) with its reports (``remapped``,
        ``rejected``, ``duplicates``, ``other_equipment_rows``, ``file_rows``: the data rows
        of the file).

    Examples
    --------
    >>> bpe = pd.DataFrame({"DEPCOM": ["59350", "59350", "75112", "59350"],
    ...                     "TYPEQU": ["D201", "D232", "D201", "A101"],
    ...                     "NB_EQUIP": ["303", "222", "150", "4"]})
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     supply = read_bpe(bpe)
    >>> supply.table[["code", "profession", "count"]].values.tolist()
    [['59350', 'médecin généraliste', 303.0], ['59350', 'infirmier', 222.0], ['75056', 'médecin généraliste', 150.0]]
    >>> supply.other_equipment_rows, supply.rows_remapped
    (1, 1)
    """
    read = _read(data, sheet=sheet, sep=sep, encoding=encoding)
    return _bpe(read, professions=professions, communes=communes, passage=passage, unknown=unknown)



def _bpe(read: ReadTable, *, professions: Iterable[str] | None, communes: pd.DataFrame | None,
         passage: _PassageFile, unknown: str) -> SupplyRead:
    """:func:`read_bpe` on a table already read."""
    frame, file_rows = read.table, read.rows
    keep = None if professions is None else set(option_professions(professions, "professions="))
    cols = {str(c).upper(): c for c in frame.columns}
    problems: list[dict] = []
    if "TYPEQU" in cols:
        for needed in ("DEPCOM", "NB_EQUIP"):
            if needed not in cols:
                problems.append({"problem": f"colonne « {needed} » absente du format long de la "
                                 "BPE (DEPCOM, TYPEQU, NB_EQUIP)"})
        if problems:
            raise ValidationError("Fichier BPE incomplet", problems)
        frame = frame.reset_index(drop=True)
        rows = file_rows
        typequ = frame[cols["TYPEQU"]].astype("string").str.strip().str.upper()
        labels = typequ.map(BPE_PROFESSIONS)
        mask = labels.notna().to_numpy().copy()
        if keep is not None:
            mask &= labels.isin(keep).to_numpy()
        other = int((~labels.notna()).sum())
        sub = frame[mask]
        raw_codes = sub[cols["DEPCOM"]].astype("string")
        counts = parse_counts(sub[cols["NB_EQUIP"]], rows[mask], raw_codes, "NB_EQUIP", problems,
                          required=True)
        if not len(sub):
            _warn_no_supply(typequ, keep)
        duplicates = _duplicated_rows(sub, cols, typequ[mask], rows[mask])
        out, remapped, rejected = _finish(rows[mask], raw_codes, labels[mask].astype("string"),
                                          counts, {}, problems, communes=communes, passage=passage,
                                          unknown=unknown)
        if len(duplicates):
            shown = ", ".join(f"{a} et {b}" for a, b in duplicates[["first_row", "row"]]
                              .head(3).itertuples(index=False))
            where = "DEPCOM, DCIRIS et TYPEQU" if "DCIRIS" in cols else "DEPCOM et TYPEQU"
            warnings.warn(
                f"{len(duplicates)} ligne(s) de la BPE répètent exactement une autre ligne (mêmes "
                f"{where} ; lignes {shown}…) : leurs effectifs sont additionnés ; retirez les "
                "doublons s'ils ne sont pas voulus ; liste dans le champ duplicates du résultat",
                CptsGeoWarning, stacklevel=3)
        return SupplyRead(out, remapped, rejected, duplicates, other, len(frame), read.describe(),
                          "bpe")
    # wide: one column per equipment type, named "D201" or "D201_label"
    code_col = next((cols[c] for c in ("DEPCOM", "CODE_COMMUNE", "CODGEO", "CODE_INSEE", "CODE")
                     if c in cols), None)
    wide = {}
    for c in frame.columns:
        m = re.match(r"^([A-G]\d{3})(?:_|$)", str(c).upper())
        if m and m.group(1) in BPE_PROFESSIONS:
            label = BPE_PROFESSIONS[m.group(1)]
            if keep is None or label in keep:
                wide[c] = label
    if code_col is None or not wide:
        raise ValidationError(
            "Format BPE non reconnu : attendu DEPCOM;TYPEQU;NB_EQUIP (format long INSEE) ou une "
            "colonne de code commune (DEPCOM, code_commune, CODGEO) et des colonnes D201…",
            [{"problem": "colonnes reçues : " + ", ".join(map(str, frame.columns))}])
    frame = frame.reset_index(drop=True)
    long = frame[[code_col, *wide]].melt(id_vars=code_col, var_name="_col", value_name="_n",
                                         ignore_index=False)
    long["_row"] = file_rows[long.index.to_numpy()]
    # a blank cell is no equipment (0), as a 0; a number may have a decimal comma; anything
    # else is kept here to be reported with its row by _numbers
    text = long["_n"].astype("string").str.strip()
    num = parse_numbers(long["_n"])[0]
    blank = (text.isna() | (text == "")).to_numpy()
    long = long[~blank & (num != 0)].sort_values(["_row"], kind="stable").reset_index(drop=True)
    rows = long["_row"].to_numpy()
    raw_codes = long[code_col].astype("string")
    counts = pd.Series(np.nan, index=long.index)
    for col, part in long.groupby("_col", sort=False).groups.items():
        counts[part] = parse_counts(long.loc[part, "_n"], rows[part], raw_codes[part],
                                f"effectif (colonne {col})", problems, required=True)
    labels = long["_col"].map(wide).astype("string")
    out, remapped, rejected = _finish(rows, raw_codes, labels, counts, {}, problems,
                                      communes=communes, passage=passage, unknown=unknown)
    return SupplyRead(out, remapped, rejected, _duplicates_none(), 0, len(frame), read.describe(),
                      "bpe")



def read_supply(
    data: pd.DataFrame | str | Path,
    *,
    format: str = "auto",
    code: str = "code",
    profession: str = "profession",
    count: str = "count",
    professions: Iterable[str] | None = None,
    communes: pd.DataFrame | None = None,
    passage: _PassageFile = None,
    unknown: str = "raise",
    sep: str | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    names: Mapping[str, str] | None = None,
) -> SupplyRead:
    """Read a supply file whatever its format: INSEE's BPE (long or wide) or a generic table.

    The file is read once (:func:`cpts_geo.io._read.read_table`); with ``format="auto"`` a table with
    a ``TYPEQU`` column or columns named after BPE equipment codes (``D201``…) is read as the
    BPE (:func:`read_bpe`), any other as a generic table (:func:`read_professionals`).

    Parameters
    ----------
    data : DataFrame or path
        The file (CSV, XLSX, Parquet) or a frame.
    format : {"auto", "bpe", "table"}, default "auto"
        See :data:`SUPPLY_FORMATS`.
    code, profession, count : str
        Columns of a generic table (as in :func:`read_professionals`).
    professions : iterable of str, optional
        BPE only: keep only these professions.
    communes, passage, unknown, sep, sheet, encoding
        As in :func:`read_professionals`.
    names : mapping, optional
        How to name ``code``, ``profession``, ``count`` in messages (the command line gives
        its options: ``{"count": "--effectif"}``); default the parameter names (``count=``).

    Returns
    -------
    SupplyRead
        The supply table and its reports; ``format`` says which format was read.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValidationError
        As :func:`read_bpe` and :func:`read_professionals`.

    Examples
    --------
    >>> bpe = pd.DataFrame({"CODGEO": ["59350", "80021"], "D201": ["303", ""], "D232": ["222", "40"]})
    >>> read = read_supply(bpe)
    >>> read.format, read.table["count"].tolist(), read.rows_used
    ('bpe', [303.0, 222.0, 40.0], 2)
    """
    if format not in SUPPLY_FORMATS:
        raise ValueError(f"format={format!r} : valeurs permises : {', '.join(SUPPLY_FORMATS)}.")
    if not isinstance(data, pd.DataFrame) and not Path(data).exists():
        raise FileNotFoundError(f"Fichier des professionnels introuvable : {data}")
    read = _read(data, sheet=sheet, sep=sep, encoding=encoding)
    if format == "auto":
        cols = [str(c).upper() for c in read.table.columns]
        format = "bpe" if "TYPEQU" in cols or any(re.match(r"^D\d{3}(_|$)", c) for c in cols) \
            else "table"
    if format == "bpe":
        return _bpe(read, professions=professions, communes=communes, passage=passage,
                    unknown=unknown)
    return _professionals(read, code=code, profession=profession, count=count, fte=None,
                          age=None, communes=communes, passage=passage, unknown=unknown,
                          names=names)



def _warn_no_supply(typequ: pd.Series, keep: set | None) -> None:
    """A BPE without one row of a profession asked for: say so (it is not an error yet)."""
    present = typequ.dropna().value_counts()
    health = [c for c in present.index if str(c).startswith("D")]
    which = ("des professions demandées (" + ", ".join(sorted(keep)) + ")") if keep else \
        "de BPE_PROFESSIONS (D201…)"
    warnings.warn(
        f"Aucune ligne d'offre retenue dans la BPE : aucun TYPEQU {which} parmi ses "
        f"{len(typequ)} ligne(s)"
        + (f" ; codes de santé présents mais non reconnus : {', '.join(map(str, health[:10]))} "
           "(autre nomenclature de la BPE ?)" if health else "")
        + " ; vérifiez le fichier", CptsGeoWarning, stacklevel=4)



def _duplicated_rows(sub: pd.DataFrame, cols: Mapping[str, str], typequ: pd.Series,
                     rows: np.ndarray) -> pd.DataFrame:
    """Rows of the long BPE repeating another row's commune, IRIS and equipment type."""
    key = [sub[cols["DEPCOM"]].astype("string").str.strip().to_numpy(), typequ.to_numpy()]
    if "DCIRIS" in cols:
        key.append(sub[cols["DCIRIS"]].astype("string").str.strip().to_numpy())
    keys = pd.DataFrame(dict(enumerate(key))).fillna("")
    dup = keys.duplicated(keep="first").to_numpy()
    if not dup.any():
        return _duplicates_none()
    first = keys.groupby(list(keys.columns), sort=False).ngroup().to_numpy()
    first_row = pd.Series(rows).groupby(first).transform("min").to_numpy()
    return pd.DataFrame({"row": rows[dup], "first_row": first_row[dup], "code": key[0][dup],
                         "typequ": key[1][dup]}).reset_index(drop=True)
