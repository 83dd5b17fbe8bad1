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
Marseille rolled up to their city); every change is listed in ``attrs["remapped"]`` and
announced by a warning. A row whose code cannot be mapped is an error (``unknown="raise"``) or
is set aside in ``attrs["rejected"]`` with its row number (``unknown="report"``): never
dropped silently.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from cpts_geo._french import number
from cpts_geo.cog import normalize_codes, remap_codes
from cpts_geo.errors import ValidationError

__all__ = [
    "BPE_PROFESSIONS",
    "PROFESSIONS",
    "parse_professions",
    "read_bpe",
    "read_professionals",
    "supply_by_commune",
    "supply_on_layer",
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


def _fold(text: str) -> str:
    """Lower case, no accents, single spaces, no plural ``s`` at the end of words."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    words = re.sub(r"[\s\-_'’.]+", " ", text.lower()).split()
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words)


_LOOKUP: dict[str, str] = {
    **{_fold(label): label for label in PROFESSIONS},
    **{code.lower(): label for code, label in BPE_PROFESSIONS.items()},
    **{_fold(alias): label for alias, label in _ALIASES.items()},
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
    out = [None if pd.isna(v) else _LOOKUP.get(_fold(v)) for v in series.tolist()]
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


def _read_table(data, sep: str | None) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data.copy()
    path = Path(data)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xls"):
        return pd.read_excel(path, dtype=str)
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if sep is None:
        return pd.read_csv(path, dtype=str, sep=None, engine="python", encoding="utf-8-sig")
    return pd.read_csv(path, dtype=str, sep=sep, encoding="utf-8-sig")


def _numbers(values: pd.Series, rows: np.ndarray, codes: pd.Series, what: str,
             problems: list[dict], *, required: bool, upper: float | None = None) -> pd.Series:
    """Parse numbers (French decimal comma accepted); record missing/negative/non-numeric."""
    text = values.astype("string").str.strip().str.replace("\u00a0", "").str.replace(",", ".")
    num = pd.to_numeric(text, errors="coerce").astype("float64")
    for pos in np.flatnonzero(num.isna().to_numpy()):
        given = values.iloc[pos]
        if pd.isna(given) or str(given).strip() == "":
            if required:
                problems.append({"row": int(rows[pos]), "code": codes.iloc[pos],
                                 "problem": f"{what} manquant : indiquez un nombre ≥ 0"})
        else:
            problems.append({"row": int(rows[pos]), "code": codes.iloc[pos],
                             "problem": f"{what} non numérique « {given} » : indiquez un nombre ≥ 0"})
    neg = np.flatnonzero((num < 0).to_numpy())
    for pos in neg:
        problems.append({"row": int(rows[pos]), "code": codes.iloc[pos],
                         "problem": f"{what} négatif ({number(num.iloc[pos], None)}) : un effectif est ≥ 0"})
    if upper is not None:
        for pos in np.flatnonzero((num > upper).to_numpy()):
            problems.append({"row": int(rows[pos]), "code": codes.iloc[pos],
                             "problem": f"{what} invalide ({number(num.iloc[pos], None)}) : attendu entre 0 et {number(upper, None)}"})
    return num


def _finish(frame: pd.DataFrame, rows: np.ndarray, raw_codes: pd.Series, professions: pd.Series,
            counts: pd.Series, extra: Mapping[str, pd.Series], problems: list[dict], *,
            communes, passage, unknown: str) -> pd.DataFrame:
    """Clean and remap codes, raise gathered problems, build the supply table."""
    if unknown not in ("raise", "report"):
        raise ValueError(f"unknown doit valoir 'raise' ou 'report', pas {unknown!r}.")
    codes, fixes = normalize_codes(raw_codes.reset_index(drop=True))
    new, report = remap_codes(codes, communes=communes, passage=passage, plm="city")
    unmapped = report[report["new_code"].isna()]
    rejected = pd.DataFrame({"row": rows[unmapped["row"].to_numpy() - 1] if len(unmapped) else [],
                             "code": unmapped["code"].to_numpy(),
                             "problem": unmapped["reason"].to_numpy()})
    # a row of the wide BPE gives one line per profession: report each input row once
    rejected = rejected.drop_duplicates(["row", "code"], ignore_index=True)
    if unknown == "raise":
        for rec in rejected.itertuples(index=False):
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
    changed = report[report["new_code"].notna()].copy()
    if len(changed):
        changed["row"] = rows[changed["row"].to_numpy() - 1]
    if len(fixes):
        warnings.warn(f"{len(fixes)} code(s) commune réparé(s) (espaces, zéro initial) : "
                      "voir attrs['remapped']", stacklevel=3)
        fixes = fixes.assign(row=rows[fixes["row"].to_numpy() - 1])
        changed = pd.concat([fixes.assign(name=pd.NA, new_name=pd.NA), changed], ignore_index=True)
    n_moved = int(report["new_code"].notna().sum())
    if n_moved:
        reasons = report.loc[report["new_code"].notna(), "reason"].value_counts()
        warnings.warn(
            f"{n_moved} ligne(s) rattachée(s) à la commune actuelle ("
            + ", ".join(f"{n} {r}" for r, n in reasons.items()) + ") : voir attrs['remapped']",
            stacklevel=3)
    out = out[out["code"].notna()].reset_index(drop=True)
    if len(rejected):
        warnings.warn(f"{len(rejected)} ligne(s) écartée(s) : code absent de la couche des "
                      "communes (voir attrs['rejected'])", stacklevel=3)
    out.attrs["remapped"] = changed.reset_index(drop=True)
    out.attrs["rejected"] = rejected
    return out


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
) -> pd.DataFrame:
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
        set the rows aside in ``attrs["rejected"]`` (with a warning).

    Returns
    -------
    pandas.DataFrame
        The supply table (see the module docstring); ``attrs["remapped"]`` lists every
        changed code.

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
    >>> supply[["code", "profession", "count"]].values.tolist()
    [['59350', 'médecin généraliste', 303.0], ['59350', 'infirmier', 222.0], ['80021', 'masseur-kinésithérapeute', 40.0]]
    """
    frame = _read_table(data, sep)
    wanted = {"code": code, "profession": profession, "count": count}
    if fte:
        wanted["fte"] = fte
    if age:
        wanted["age"] = age
    missing = [col for col in wanted.values() if col not in frame.columns]
    if missing:
        raise ValidationError(
            "Colonnes manquantes dans la table des professionnels : nommez-les avec "
            "code=, profession=, count=",
            [{"problem": f"colonne « {m} » absente ; colonnes présentes : "
                         + ", ".join(map(str, frame.columns))} for m in missing])
    frame = frame.reset_index(drop=True)
    rows = np.arange(2, len(frame) + 2)
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
    return _finish(frame, rows, raw_codes, labels, counts, extra, problems,
                   communes=communes, passage=passage, unknown=unknown)


def read_bpe(
    data: pd.DataFrame | str | Path,
    *,
    professions: Iterable[str] | None = None,
    communes: pd.DataFrame | None = None,
    passage=None,
    unknown: str = "raise",
    sep: str | None = None,
) -> pd.DataFrame:
    """Read INSEE's BPE (long ``DEPCOM;TYPEQU;NB_EQUIP`` or wide ``D201…`` columns).

    Rows of equipment types that are not professions (schools, shops, hospitals…) are
    not supply: they are counted in ``attrs["other_equipment_rows"]``, not reported as
    errors. The long format may hold one row per IRIS: rows are kept (``row``), sum them
    with :func:`supply_by_commune`.

    Parameters
    ----------
    data : DataFrame or path
        The BPE file (``;``-separated in INSEE's release) or a frame.
    professions : iterable of str, optional
        Keep only these professions (any spelling accepted by :func:`parse_professions`).
    communes, passage, unknown, sep
        As in :func:`read_professionals`.

    Returns
    -------
    pandas.DataFrame
        The supply table; in the wide format ``row`` is the row of the commune and each
        profession with a non-zero count gives one row.

    Examples
    --------
    >>> bpe = pd.DataFrame({"DEPCOM": ["59350", "59350", "75112", "59350"],
    ...                     "TYPEQU": ["D201", "D232", "D201", "A101"],
    ...                     "NB_EQUIP": ["303", "222", "150", "4"]})
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     supply = read_bpe(bpe)
    >>> supply[["code", "profession", "count"]].values.tolist()
    [['59350', 'médecin généraliste', 303.0], ['59350', 'infirmier', 222.0], ['75056', 'médecin généraliste', 150.0]]
    >>> supply.attrs["other_equipment_rows"]
    1
    """
    frame = _read_table(data, sep if sep is not None or isinstance(data, pd.DataFrame) else None)
    keep = None if professions is None else set(parse_professions(list(professions)))
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
        rows = np.arange(2, len(frame) + 2)
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
        out = _finish(sub, rows[mask], raw_codes, labels[mask].astype("string"), counts, {},
                      problems, communes=communes, passage=passage, unknown=unknown)
        out.attrs["other_equipment_rows"] = other
        return out
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
    long["_row"] = long.index.to_numpy() + 2
    num = pd.to_numeric(long["_n"].astype("string").str.strip(), errors="coerce")
    long = long[(num != 0).to_numpy()].sort_values(["_row"], kind="stable").reset_index(drop=True)
    rows = long["_row"].to_numpy()
    raw_codes = long[code_col].astype("string")
    counts = _numbers(long["_n"], rows, raw_codes, "effectif", problems, required=True)
    labels = long["_col"].map(wide).astype("string")
    out = _finish(long, rows, raw_codes, labels, counts, {}, problems,
                  communes=communes, passage=passage, unknown=unknown)
    out.attrs["other_equipment_rows"] = 0
    return out


def supply_by_commune(
    supply: pd.DataFrame, *, professions: Iterable[str] | None = None, value: str = "count"
) -> pd.DataFrame:
    """Sum a supply table to one row per commune and one column per profession.

    Parameters
    ----------
    supply : DataFrame
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
    if professions is None:
        present = set(supply["profession"].dropna())
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
    supply: pd.DataFrame | pd.Series,
    codes: pd.Index,
    *,
    professions: Iterable[str] | None = None,
    value: str = "count",
    layer: str = "couche des communes",
) -> pd.DataFrame:
    """Supply per commune of a layer: one row per code of ``codes``, one column per profession.

    ``supply`` is a supply table (:func:`read_professionals`, :func:`read_bpe`) or counts
    already indexed by commune code with one column per profession. A commune of the layer
    without supply gets 0; supply in a commune absent from the layer is an error listing
    every such code (nothing is dropped silently).

    Examples
    --------
    >>> supply = pd.DataFrame({"code": ["59350"], "profession": ["kiné"], "count": [3.0]})
    >>> supply_on_layer(read_professionals(supply), pd.Index(["59350", "59009"])).to_dict()
    {'masseur-kinésithérapeute': {'59350': 3.0, '59009': 0.0}}
    """
    if isinstance(supply, pd.DataFrame) and {"code", "profession", "count"} <= set(supply.columns):
        if value not in supply.columns:
            raise ValueError(f"value={value!r} : colonne absente de la table d'offre "
                             f"(colonnes : {', '.join(map(str, supply.columns))}).")
        wide = supply_by_commune(supply, professions=professions, value=value)
    else:
        wide = supply.to_frame() if isinstance(supply, pd.Series) else supply.copy()
        if professions is not None:
            wide = wide[list(professions)]
        wide.index = wide.index.astype("string")
        wide.index.name = "code"
        wide = wide.astype("float64")
    codes = pd.Index(codes).astype("string")
    outside = wide.index.difference(codes)
    if len(outside):
        raise ValidationError(
            f"Offre dans des communes absentes de la {layer} : remappez les codes "
            "(read_bpe / read_professionals) ou élargissez la couche",
            [{"code": c, "problem": f"commune de l'offre absente de la {layer}"}
             for c in outside])
    out = wide.reindex(codes, fill_value=0.0)
    out.index.name = "code"
    return out
