"""Readers for the supply of health professionals per commune.

Two inputs are read into one **supply table** (a plain DataFrame, one row per input row kept):

- a generic table: commune code, profession, count, and optionally FTE (``fte``, *ETP*) or
  activity, and age (:func:`read_professionals`);
- INSEE's *Base permanente des équipements* (BPE), in its official long format
  (``DEPCOM``, ``TYPEQU``, ``NB_EQUIP``, ``;``-separated) or pivoted wide with one column per
  equipment type (``D201…``) (:func:`read_bpe`). Equipment codes map to professions through
  :data:`BPE_PROFESSIONS`.

The supply table has the columns ``row`` (row number in the user's file: the header is row 1,
so the first data row is row 2), ``code`` (today's commune code), ``source_code`` (the code as
given), ``profession`` (a label of :data:`PROFESSIONS`), ``count`` (float) and, when given,
``fte`` and ``age``. Codes are cleaned (:func:`cpts_geo.cog.normalize_codes`) and mapped to
today's communes (:func:`cpts_geo.cog.remap_codes`, arrondissements of Paris, Lyon and
Marseille rolled up to their city). The readers return a :class:`SupplyRead`: the supply
table with its reports as fields. Every code change is listed in ``remapped`` and announced by
a warning (one line per input row). A row whose code cannot be mapped is an error
(``unknown="raise"``) or is set aside in ``rejected`` with its row number, its profession and
its count (``unknown="report"``): never dropped silently. ``file_rows`` holds the number of
data rows of the file (a wide BPE row gives one supply line per profession). A
:class:`SupplyRead` can be given as is wherever a supply table is expected
(:func:`supply_on_layer`, :func:`supply_by_commune`, density, accessibility, the editor, the
portrait).

The FTE column may have blanks when read; using it (``value="fte"`` in
:func:`supply_on_layer`, hence in density and accessibility) then is an error listing those
rows: a missing FTE is never counted as 0.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from cpts_geo._french import fold, number
from cpts_geo.cog import normalize_codes, remap_codes
from cpts_geo.errors import CptsGeoWarning, ValidationError
from cpts_geo.io import ReadTable, parse_numbers, read_table

__all__ = [
    "BPE_PROFESSIONS",
    "PROFESSIONS",
    "SUPPLY_FORMATS",
    "SupplyRead",
    "parse_professions",
    "read_bpe",
    "read_professionals",
    "read_supply",
    "supply_by_commune",
    "supply_in",
    "supply_on_layer",
    "supply_report_tables",
    "supply_table",
]

#: BPE equipment code (``TYPEQU``) → profession label. Source: INSEE, BPE, domain D
#: "Santé et action sociale" (liberal practitioners counted at their place of practice;
#: ``D301`` counts pharmacies, not pharmacists).
BPE_PROFESSIONS: dict[str, str] = {
    "D201": "médecin généraliste",
    "D202": "cardiologue",
    "D203": "dermatologue",
    "D206": "gastro-entérologue",
    "D207": "psychiatre",
    "D208": "ophtalmologue",
    "D209": "oto-rhino-laryngologiste",
    "D210": "pédiatre",
    "D211": "pneumologue",
    "D212": "radiologue",
    "D213": "stomatologue",
    "D214": "gynécologue",
    "D221": "chirurgien-dentiste",
    "D231": "sage-femme",
    "D232": "infirmier",
    "D233": "masseur-kinésithérapeute",
    "D235": "orthophoniste",
    "D236": "orthoptiste",
    "D237": "pédicure-podologue",
    "D238": "audioprothésiste",
    "D239": "ergothérapeute",
    "D240": "psychomotricien",
    "D242": "diététicien",
    "D243": "psychologue",
    "D301": "pharmacie",
}

#: The accepted profession labels, in the order of the BPE codes.
PROFESSIONS: tuple[str, ...] = tuple(BPE_PROFESSIONS.values())

#: The formats :func:`read_supply` reads: ``"bpe"`` (INSEE's BPE, long or wide), ``"table"``
#: (a generic table, :func:`read_professionals`), ``"auto"`` (told apart by the columns).
SUPPLY_FORMATS: tuple[str, ...] = ("auto", "bpe", "table")

class SupplyRead(NamedTuple):
    """A supply table as read by :func:`read_professionals`, :func:`read_bpe` or
    :func:`read_supply`, with its reports.

    It can be given as is wherever a supply table is expected (:func:`supply_on_layer`,
    :func:`supply_by_commune`, :func:`cpts_geo.density.density`,
    :func:`cpts_geo.accessibility.accessibility`, the editor, the portrait).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     read = read_professionals(pd.DataFrame({"code": ["59350", "75112"],
    ...                                             "profession": ["kiné", "kiné"], "count": [3, 1]}))
    >>> read.table["code"].tolist(), read.rows_used, read.rows_remapped
    (['59350', '75056'], 2, 1)
    """

    #: The supply table: ``row`` (row of the user's file), ``code`` (today's commune),
    #: ``source_code``, ``profession``, ``count`` and, when read, ``fte`` and ``age``.
    table: pd.DataFrame
    #: Codes changed, one row per input row: ``row``, ``code``, ``new_code``, ``name``,
    #: ``new_name``, ``reason`` (repairs such as a lost leading zero, former codes,
    #: arrondissements rolled up to their city).
    remapped: pd.DataFrame
    #: Supply lines set aside (``unknown="report"``): ``row``, ``code``, ``profession``,
    #: ``count``, ``problem`` (a row of the wide BPE gives one line per profession).
    rejected: pd.DataFrame
    #: Rows of the long BPE repeating another row's commune, IRIS and equipment type (kept and
    #: summed): ``row``, ``first_row``, ``code``, ``typequ``; empty for other formats.
    duplicates: pd.DataFrame
    #: Rows of the long BPE of other equipment (not professionals): not supply, not rejected.
    other_equipment_rows: int
    #: Data rows of the file (or of the DataFrame given).
    file_rows: int
    #: How the file was read, in French (sheet, encoding, separator…; the format, such as
    #: ``"DataFrame"``, when there is nothing else to say).
    reading: str = ""
    #: The format read: ``"bpe"`` or ``"table"``.
    format: str = "table"

    @property
    def rows_used(self) -> int:
        """File rows giving at least one supply line."""
        return int(self.table["row"].nunique())

    @property
    def rows_rejected(self) -> int:
        """File rows set aside (code absent from the commune layer)."""
        return int(self.rejected["row"].nunique())

    @property
    def rows_remapped(self) -> int:
        """File rows whose code was changed to today's commune."""
        return int(self.remapped["row"].nunique())

    @property
    def rows_empty(self) -> int:
        """File rows without any count (blank cells or 0): neither used nor rejected."""
        return max(self.file_rows - self.rows_used - self.rows_rejected
                   - self.other_equipment_rows, 0)


#: French headers of the tables of :func:`supply_report_tables`.
REPORT_HEADERS = {"row": "Ligne", "code": "Code donné", "new_code": "Code actuel", "name": "Nom",
                  "new_name": "Nom actuel", "reason": "Motif", "profession": "Profession",
                  "count": "Effectif", "problem": "Problème"}


def supply_table(supply):
    """The supply table of a :class:`SupplyRead`; anything else is returned as is.

    Parameters
    ----------
    supply : SupplyRead, DataFrame or Series
        What a reader returned, or a supply given directly.

    Returns
    -------
    DataFrame or Series
        ``supply.table`` for a :class:`SupplyRead`, else ``supply``.

    Examples
    --------
    >>> frame = pd.DataFrame({"code": ["59350"], "profession": ["infirmier"], "count": [1.0]})
    >>> supply_table(frame) is frame
    True
    """
    return supply.table if isinstance(supply, SupplyRead) else supply


def supply_in(supply, codes):
    """The supply located in the communes ``codes`` (the rest is left out, not reported).

    Parameters
    ----------
    supply : SupplyRead, DataFrame or Series
        A long table (``code``, ``profession``, ``count``…) or a table indexed by commune.
    codes : iterable of str
        Commune codes.

    Returns
    -------
    DataFrame or Series
        The rows of :func:`supply_table` of ``supply`` in those communes.

    Examples
    --------
    >>> frame = pd.DataFrame({"code": ["59350", "80021"], "profession": ["infirmier"] * 2, "count": [1.0, 2.0]})
    >>> supply_in(frame, ["80021"])["count"].tolist()
    [2.0]
    """
    from cpts_geo._arrow import is_in

    supply = supply_table(supply)
    keep = pd.Index(pd.Series(list(codes), dtype=object).astype(str))
    if {"code", "profession", "count"} <= set(getattr(supply, "columns", [])):
        return supply[is_in(supply["code"].astype(str), keep)]
    return supply[is_in(supply.index.astype(str), keep)]


def supply_report_tables(read: SupplyRead) -> dict[str, pd.DataFrame]:
    """The reports of a reading as tables with French headers, for files next to a result.

    Parameters
    ----------
    read : SupplyRead
        What :func:`read_supply` (or :func:`read_bpe`, :func:`read_professionals`) returned.

    Returns
    -------
    dict of str to DataFrame
        ``"codes_rattaches"`` (the codes changed) and ``"lignes_ecartees"`` (the lines set
        aside), each only when it has rows; headers of :data:`REPORT_HEADERS`.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     read = read_professionals(pd.DataFrame({"code": ["75112", "99999"],
    ...                                             "profession": ["kiné"] * 2, "count": [3, 1]}),
    ...                               unknown="report")
    >>> tables = supply_report_tables(read)
    >>> list(tables), tables["lignes_ecartees"]["Ligne"].tolist()
    (['codes_rattaches', 'lignes_ecartees'], [3])
    """
    out = {}
    for name, table in (("codes_rattaches", read.remapped), ("lignes_ecartees", read.rejected)):
        if len(table):
            out[name] = table[[c for c in REPORT_HEADERS if c in table.columns]].rename(
                columns=REPORT_HEADERS)
    return out

# Other spellings users type, folded (lower case, no accents, single spaces).
_ALIASES = {
    "generaliste": "médecin généraliste",
    "medecin": "médecin généraliste",
    "mg": "médecin généraliste",
    "omnipraticien": "médecin généraliste",
    "medecin omnipraticien": "médecin généraliste",
    "medecin generaliste liberal": "médecin généraliste",
    "dentiste": "chirurgien-dentiste",
    "infirmiere": "infirmier",
    "infirmier diplome d etat": "infirmier",
    "ide": "infirmier",
    "kine": "masseur-kinésithérapeute",
    "kinesitherapeute": "masseur-kinésithérapeute",
    "sage femme": "sage-femme",
    "pharmacien": "pharmacie",
    "officine": "pharmacie",
    "podologue": "pédicure-podologue",
    "orl": "oto-rhino-laryngologiste",
    "gynecologue obstetricien": "gynécologue",
}


def _key(text: str) -> str:
    """A profession name for matching: :func:`~cpts_geo._french.fold`, without the plural
    ``s`` at the end of words."""
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") else w for w in fold(text).split())


_LOOKUP: dict[str, str] = {
    **{_key(label): label for label in PROFESSIONS},
    **{code.lower(): label for code, label in BPE_PROFESSIONS.items()},
    **{_key(alias): label for alias, label in _ALIASES.items()},
}


def _accepted_text() -> str:
    return ", ".join(PROFESSIONS) + " (ou le code BPE : " + ", ".join(BPE_PROFESSIONS) + ")"


def parse_professions(values: Iterable, *, rows: Iterable[int] | None = None) -> pd.Series:
    """Map profession names as typed by users to the labels of :data:`PROFESSIONS`.

    Case, accents, hyphens and plurals do not matter; BPE codes (``D201``) and common
    short names (``kiné``, ``IDE``, ``dentiste``) are accepted.

    Parameters
    ----------
    values : iterable
        The professions, in the order of the user's rows.
    rows : iterable of int, optional
        Row numbers to quote in errors (default: position + 1, the header being row 1).

    Returns
    -------
    pandas.Series
        The labels, aligned with ``values``.

    Raises
    ------
    ValidationError
        Listing every unknown profession with its rows and the accepted names.

    Examples
    --------
    >>> parse_professions(["Médecin généraliste", "KINÉ", "D232", "sages-femmes"]).tolist()
    ['médecin généraliste', 'masseur-kinésithérapeute', 'infirmier', 'sage-femme']
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values))
    rows = np.arange(2, len(series) + 2) if rows is None else np.asarray(list(rows))
    out = _labels(series.tolist())
    bad: dict[str, list[int]] = {}
    for value, label, row in zip(series.tolist(), out, rows):
        if label is None:
            bad.setdefault("" if pd.isna(value) else str(value), []).append(int(row))
    if bad:
        problems = [
            {"row": ", ".join(map(str, r)), "code": pd.NA,
             "problem": (f"profession inconnue « {v} »" if v else "profession vide")
             + f" ; professions acceptées : {_accepted_text()}",
             "value": v}
            for v, r in bad.items()
        ]
        raise ValidationError(
            "Professions non reconnues : corrigez-les avec un des noms acceptés", problems)
    return pd.Series(out, index=series.index, dtype="string", name="profession")


def _labels(values: list) -> list[str | None]:
    """The label of each value (``None`` if unknown or empty); each distinct value folded once."""
    seen: dict = {}
    out: list[str | None] = []
    for v in values:
        if pd.isna(v):
            out.append(None)
            continue
        if v not in seen:
            seen[v] = _LOOKUP.get(_key(v))
        out.append(seen[v])
    return out


def _option_professions(values: Iterable[str], option: str) -> list[str]:
    """Professions asked for by a parameter (no row numbers: they are not rows of a file)."""
    values = [values] if isinstance(values, str) else list(values)
    labels = _labels(values)
    bad = [v for v, label in zip(values, labels) if label is None]
    if bad:
        raise ValidationError(
            f"Professions demandées ({option}) non reconnues : utilisez un des noms acceptés",
            [{"problem": (f"profession inconnue « {v} »" if not pd.isna(v) and str(v).strip()
                          else "profession vide") + f" ; professions acceptées : {_accepted_text()}",
              "value": v} for v in dict.fromkeys(bad)])
    return list(dict.fromkeys(label for label in labels if label is not None))  # none is None here


def _read(data, *, sheet, sep, encoding) -> ReadTable:
    """The user's table through the one reader (:func:`cpts_geo.io.read_table`)."""
    return read_table(data, kind="supply", sheet=sheet, sep=sep, encoding=encoding)


def _read_table(data, sep: str | None = None) -> pd.DataFrame:
    """The table only (kept for callers of the former helper; use :func:`cpts_geo.io.read_table`)."""
    return read_table(data, sep=sep).table


def _numbers(values: pd.Series, rows: np.ndarray | None, codes: pd.Series, what: str,
             problems: list[dict], *, required: bool, upper: float | None = None) -> pd.Series:
    """Parse numbers (French decimal comma accepted); record missing/negative/non-numeric/infinite.

    ``rows`` are the row numbers to quote (``None``: no row, the code says where).
    """
    num = pd.Series(parse_numbers(values)[0], dtype="float64")  # French numbers: 1 234,5

    def where(pos):
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


def _finish(frame: pd.DataFrame, rows: np.ndarray, raw_codes: pd.Series, professions: pd.Series,
            counts: pd.Series, extra: Mapping[str, pd.Series], problems: list[dict], *,
            communes, passage, unknown: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Clean and remap codes, raise gathered problems, build the supply table.

    Returns the supply table, the codes changed and the lines set aside.
    """
    if unknown not in ("raise", "report"):
        raise ValueError(f"unknown doit valoir 'raise' ou 'report', pas {unknown!r}.")
    codes, fixes = normalize_codes(raw_codes.reset_index(drop=True))
    new, report = remap_codes(codes, communes=communes, passage=passage, plm="city")
    if communes is not None:
        # an arrondissement rolled up to a city that is not in the caller's layer is no
        # commune of the layer either: set aside (or an error), never kept as supply outside it
        known = pd.Index(communes.index.astype("string"))
        away = report["new_code"].notna() & ~report["new_code"].astype("string").isin(known)
        if away.any():
            report = report.copy()
            report.loc[away, "reason"] = [
                (f"arrondissement de {target}" if str(reason).startswith("arrondissement")
                 else f"{reason} ({target})") + ", commune hors de la couche étudiée"
                for reason, target in zip(report.loc[away, "reason"], report.loc[away, "new_code"])]
            new = new.copy()
            new.iloc[report.loc[away, "row"].to_numpy(dtype="int64") - 1] = pd.NA
            report.loc[away, ["new_code", "new_name"]] = pd.NA
    unmapped = report[report["new_code"].isna()]
    pos = unmapped["row"].to_numpy(dtype="int64") - 1
    # one line per supply line set aside, with what it held (a row of the wide BPE gives one
    # line per profession: the same row number on each)
    rejected = pd.DataFrame({"row": rows[pos].astype("int64"),
                             "code": unmapped["code"].to_numpy(),
                             "profession": professions.iloc[pos].to_numpy(),
                             "count": counts.iloc[pos].to_numpy(dtype="float64"),
                             "problem": unmapped["reason"].to_numpy()})
    if unknown == "raise":
        # each input row once in the error
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
    out = pd.DataFrame({
        "row": rows.astype("int64"),
        "code": new.to_numpy(),
        "source_code": raw_codes.astype("string").to_numpy(),
        "profession": professions.to_numpy(),
        "count": counts.to_numpy(dtype="float64"),
    })
    for name, values in extra.items():
        out[name] = values.to_numpy(dtype="float64")
    out["code"] = out["code"].astype("string")
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
    passage=None,
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
        INSEE passage table for old codes (see :func:`cpts_geo.cog.read_passage_table`).
    unknown : {"raise", "report"}, default "raise"
        What to do with codes that are not communes of the layer: raise with every row, or
        set the rows aside in the result's ``rejected`` (with a warning).
    sep, sheet, encoding : optional
        Force the CSV separator or encoding, choose the sheet of a workbook (see
        :func:`cpts_geo.io.read_table`: by default detected, and a workbook with several
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
                   age: str | None, communes, passage, unknown: str,
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
    counts = _numbers(frame[count], rows, raw_codes, "effectif", problems, required=True)
    extra = {}
    if fte:
        extra["fte"] = _numbers(frame[fte], rows, raw_codes, "ETP", problems, required=False)
    if age:
        extra["age"] = _numbers(frame[age], rows, raw_codes, "âge", problems, required=False,
                                upper=120)
    out, remapped, rejected = _finish(frame, rows, raw_codes, labels, counts, extra, problems,
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
    passage=None,
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


def _bpe(read: ReadTable, *, professions, communes, passage, unknown: str) -> SupplyRead:
    """:func:`read_bpe` on a table already read."""
    frame, file_rows = read.table, read.rows
    keep = None if professions is None else set(_option_professions(professions, "professions="))
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
        counts = _numbers(sub[cols["NB_EQUIP"]], rows[mask], raw_codes, "NB_EQUIP", problems,
                          required=True)
        if not len(sub):
            _warn_no_supply(typequ, keep)
        duplicates = _duplicated_rows(sub, cols, typequ[mask], rows[mask])
        out, remapped, rejected = _finish(sub, rows[mask], raw_codes, labels[mask].astype("string"),
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
        counts[part] = _numbers(long.loc[part, "_n"], rows[part], raw_codes[part],
                                f"effectif (colonne {col})", problems, required=True)
    labels = long["_col"].map(wide).astype("string")
    out, remapped, rejected = _finish(long, rows, raw_codes, labels, counts, {}, problems,
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
    passage=None,
    unknown: str = "raise",
    sep: str | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    names: Mapping[str, str] | None = None,
) -> SupplyRead:
    """Read a supply file whatever its format: INSEE's BPE (long or wide) or a generic table.

    The file is read once (:func:`cpts_geo.io.read_table`); with ``format="auto"`` a table with
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


def supply_by_commune(
    supply: pd.DataFrame | SupplyRead, *, professions: Iterable[str] | None = None,
    value: str = "count",
) -> pd.DataFrame:
    """Sum a supply table to one row per commune and one column per profession.

    Parameters
    ----------
    supply : DataFrame or SupplyRead
        A supply table (:func:`read_professionals`, :func:`read_bpe`).
    professions : iterable of str, optional
        Columns to return (default: the professions present, in :data:`PROFESSIONS` order).
    value : {"count", "fte"}
        What to sum.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``code``; 0 where a commune has none of a profession.

    Examples
    --------
    >>> supply = pd.DataFrame({"code": ["59350", "59350", "80021"],
    ...                        "profession": ["infirmier", "infirmier", "pharmacie"],
    ...                        "count": [2.0, 3.0, 1.0]})
    >>> supply_by_commune(supply)
           infirmier  pharmacie
    code
    59350        5.0        0.0
    80021        0.0        1.0
    """
    supply = supply_table(supply)
    if professions is None:
        present = set(supply["profession"].dropna().unique())  # (a few values, not every row)
        professions = [p for p in PROFESSIONS if p in present]
    else:
        professions = list(parse_professions(list(professions)))
    table = supply.pivot_table(index="code", columns="profession", values=value,
                               aggfunc="sum", fill_value=0.0, observed=True)
    table = table.reindex(columns=professions, fill_value=0.0).astype("float64")
    table.index = table.index.astype("string")
    table.index.name = "code"
    table.columns.name = None
    return table


def supply_on_layer(
    supply: pd.DataFrame | pd.Series | SupplyRead,
    codes: pd.Index,
    *,
    professions: Iterable[str] | None = None,
    value: str = "count",
    layer: str = "couche des communes",
) -> pd.DataFrame:
    """Supply per commune of a layer: one row per code of ``codes``, one column per profession.

    ``supply`` is a supply table (:func:`read_professionals`, :func:`read_bpe` or their
    ``.table``, or any frame
    with ``code``, ``profession``, ``count``) or counts already indexed by commune code with one
    column per profession (a Series is one profession: its name). This is the one check every
    supply goes through before a density or an accessibility: profession names as
    :func:`parse_professions` accepts them (``"kiné"``, ``"Infirmier"``, ``"D232"``; two columns
    for the same profession are an error), counts (or ``value``) ≥ 0, finite and not missing
    (0 if none; a missing FTE is not counted as 0). Every problem is listed in one
    :class:`~cpts_geo.errors.ValidationError` (with the file row when the table has a ``row``
    column, else position + 2 as for a file with a header). A supply with no profession, or
    without a profession asked for in ``professions``, is an error too.

    A commune of the layer without supply gets 0; supply in a commune absent from the layer is
    an error listing every such code (nothing is dropped silently).

    Parameters
    ----------
    supply : SupplyRead, DataFrame or Series
        The supply (see above).
    codes : Index
        The commune codes of the layer.
    professions : iterable of str, optional
        Professions to keep (default: all those present).
    value : {"count", "fte"}
        What to sum from a supply table.
    layer : str
        How to name the layer in messages.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``code`` (the codes of ``codes``), one float column per profession.

    Raises
    ------
    ValidationError
        Listing every problem of the supply.

    Examples
    --------
    >>> supply = pd.DataFrame({"code": ["59350"], "profession": ["kiné"], "count": [3.0]})
    >>> supply_on_layer(supply, pd.Index(["59350", "59009"])).to_dict()
    {'masseur-kinésithérapeute': {'59350': 3.0, '59009': 0.0}}
    """
    supply = supply_table(supply)
    problems: list[dict] = []
    what = {"count": "effectif", "fte": "ETP"}.get(value, value)
    if isinstance(supply, pd.DataFrame) and {"code", "profession", "count"} <= set(supply.columns):
        if value not in supply.columns:
            raise ValueError(f"value={value!r} : colonne absente de la table d'offre "
                             f"(colonnes : {', '.join(map(str, supply.columns))}).")
        rows = (pd.to_numeric(supply["row"], errors="coerce").to_numpy() if "row" in supply.columns
                else np.arange(2, len(supply) + 2))
        raw = supply["code"].astype("string")
        try:
            labels = parse_professions(supply["profession"].reset_index(drop=True), rows=rows)
        except ValidationError as err:
            problems.extend(err.problems.to_dict("records"))
            labels = None
        amounts = _numbers(supply[value], rows, raw, what, problems, required=True)
        for pos in np.flatnonzero(raw.isna().to_numpy()):
            problems.append({"row": int(rows[pos]), "problem": "code commune manquant"})
        if problems:
            raise ValidationError("Table d'offre invalide : corrigez les lignes citées", problems)
        table = pd.DataFrame({"code": raw.to_numpy(), "profession": labels.to_numpy(),
                              value: amounts.to_numpy()})
        wide = supply_by_commune(table, value=value)
        source = "la table d'offre"
    else:
        wide = supply.to_frame() if isinstance(supply, pd.Series) else supply.copy()
        if isinstance(supply, pd.Series) and supply.name is None:
            problems.append({"problem": "série d'offre sans nom : nommez-la d'après la profession "
                             "(ex. .rename(\"médecin généraliste\"))"})
        labels = _labels([str(c) for c in wide.columns])
        for col, label in zip(wide.columns, labels):
            if label is None and not (isinstance(supply, pd.Series) and supply.name is None):
                problems.append({"problem": f"colonne « {col} » : profession inconnue ; "
                                 f"professions acceptées : {_accepted_text()}"})
        for label in {lab for lab in labels if lab is not None}:
            same = [str(c) for c, lab in zip(wide.columns, labels) if lab == label]
            if len(same) > 1:
                problems.append({"problem": f"colonnes {', '.join(f'« {c} »' for c in same)} : "
                                 f"la même profession ({label}) ; gardez-en une"})
        index = pd.Series(wide.index.astype("string"), index=wide.index)
        for code in pd.unique(index[index.duplicated()]):
            problems.append({"code": code, "problem": "commune en double dans l'index de l'offre"})
        numbers = {}
        for k, (col, label) in enumerate(zip(wide.columns, labels)):
            numbers[label or col] = _numbers(wide.iloc[:, k], None, index, f"{what} ({col})",
                                             problems, required=True).to_numpy()
        if problems:
            raise ValidationError("Offre invalide : corrigez les colonnes et valeurs citées", problems)
        wide = pd.DataFrame(numbers, index=pd.Index(index.to_numpy(), dtype="string", name="code"))
        wide = wide[[p for p in PROFESSIONS if p in wide.columns]]
        source = "l'offre"
    present = list(wide.columns)
    if professions is not None:
        asked = _option_professions(professions, "professions=")
        absent = [p for p in asked if p not in present]
        if absent:
            raise ValidationError(
                f"Professions demandées absentes de {source} : retirez-les de professions= ou "
                "apportez leur offre",
                [{"problem": f"aucune offre de « {p} » ; professions présentes : "
                             + (", ".join(present) or "aucune")} for p in absent])
        wide = wide[asked]
    if not wide.shape[1]:
        raise ValidationError(
            f"Aucune offre reconnue dans {source} : il faut au moins une profession",
            [{"problem": "aucune ligne ni colonne de profession ; vérifiez le fichier (BPE : "
                         "TYPEQU D201… ; table : code, profession, effectif)"}])
    codes = pd.Index(codes).astype("string")
    outside = wide.index.difference(codes)
    if len(outside):
        raise ValidationError(
            f"Offre dans des communes absentes de la {layer} : remappez les codes "
            "(read_bpe / read_professionals) ou élargissez la couche",
            [{"code": c, "problem": f"commune de l'offre absente de la {layer}"}
             for c in outside])
    out = wide.reindex(codes, fill_value=0.0).astype("float64")
    out.index.name = "code"
    out.columns.name = None
    return out
