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
``fte`` and ``age``. Codes are cleaned (:func:`cpts_geo.domain.codes.normalize_codes`) and mapped to
today's communes (:func:`cpts_geo.domain.history.remap_codes`, arrondissements of Paris, Lyon and
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

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import pandas as pd

from cpts_geo.domain.codes import CODE_DTYPE, as_codes, is_in
from cpts_geo.domain.french import fold
from cpts_geo.domain.numbers import parse_counts
from cpts_geo.domain.vocabulary import SUPPLY_REPORT_HEADERS
from cpts_geo.errors import ValidationError

__all__ = [
    "BPE_PROFESSIONS",
    "PROFESSIONS",
    "SUPPLY_FORMATS",
    "SupplyRead",
    "parse_professions",
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
    :func:`supply_by_commune`, :func:`cpts_geo.indicators.density.density`,
    :func:`cpts_geo.indicators.accessibility.accessibility`, the editor, the portrait).

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





def supply_table(supply: SupplyRead | pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
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



def supply_in(supply: SupplyRead | pd.DataFrame | pd.Series, codes: Iterable[str]) -> pd.DataFrame | pd.Series:
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
        aside), each only when it has rows; headers of :data:`SUPPLY_REPORT_HEADERS`.

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
            out[name] = table[[c for c in SUPPLY_REPORT_HEADERS if c in table.columns]].rename(
                columns=SUPPLY_REPORT_HEADERS)
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
    """A profession name for matching: :func:`~cpts_geo.domain.french.fold`, without the plural
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



def option_professions(values: Iterable[str], option: str) -> list[str]:
    """Professions asked for by a parameter (no row numbers: they are not rows of a file).

    Parameters
    ----------
    values : str or iterable of str
        The professions as typed (see :func:`parse_professions`); a single string is one profession.
    option : str
        The parameter named in the French error message (``"professions="``).

    Returns
    -------
    list of str
        The labels of :data:`PROFESSIONS`, without duplicates, in the order first asked for.

    Raises
    ------
    ValidationError
        Some values are unknown or empty; one problem per distinct value.
    """
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
    table.index = as_codes(table.index)
    table.index.name = "code"
    table.columns.name = None
    return table



def _long_supply(supply: pd.DataFrame, value: str, what: str) -> pd.DataFrame:
    """A long supply table (``code``, ``profession``, ``value``) checked, one column per profession."""
    problems: list[dict] = []
    if value not in supply.columns:
        raise ValueError(f"value={value!r} : colonne absente de la table d'offre "
                         f"(colonnes : {', '.join(map(str, supply.columns))}).")
    rows = (pd.to_numeric(supply["row"], errors="coerce").to_numpy() if "row" in supply.columns
            else np.arange(2, len(supply) + 2))
    raw = as_codes(supply["code"])
    try:
        labels = parse_professions(supply["profession"].reset_index(drop=True), rows=rows)
    except ValidationError as err:
        problems.extend(err.problems.to_dict("records"))
        labels = None
    amounts = parse_counts(supply[value], rows, raw, what, problems, required=True)
    for pos in np.flatnonzero(raw.isna().to_numpy()):
        problems.append({"row": int(rows[pos]), "problem": "code commune manquant"})
    if problems:
        raise ValidationError("Table d'offre invalide : corrigez les lignes citées", problems)
    table = pd.DataFrame({"code": raw.to_numpy(), "profession": labels.to_numpy(),
                          value: amounts.to_numpy()})
    wide = supply_by_commune(table, value=value)
    return wide



def _wide_supply(supply: pd.DataFrame | pd.Series, what: str) -> pd.DataFrame:
    """Supply given per commune (one column per profession, or a named Series) checked, its
    columns named after the professions in the order of :data:`PROFESSIONS`."""
    problems: list[dict] = []
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
    index = pd.Series(as_codes(wide.index), index=wide.index)
    for code in pd.unique(index[index.duplicated()]):
        problems.append({"code": code, "problem": "commune en double dans l'index de l'offre"})
    numbers = {}
    for k, (col, label) in enumerate(zip(wide.columns, labels)):
        numbers[label or col] = parse_counts(wide.iloc[:, k], None, index, f"{what} ({col})",
                                         problems, required=True).to_numpy()
    if problems:
        raise ValidationError("Offre invalide : corrigez les colonnes et valeurs citées", problems)
    wide = pd.DataFrame(numbers, index=pd.Index(index.to_numpy(), dtype=CODE_DTYPE, name="code"))
    wide = wide[[p for p in PROFESSIONS if p in wide.columns]]
    return wide



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
    what = {"count": "effectif", "fte": "ETP"}.get(value, value)
    if isinstance(supply, pd.DataFrame) and {"code", "profession", "count"} <= set(supply.columns):
        wide = _long_supply(supply, value, what)
        source = "la table d'offre"
    else:
        wide = _wide_supply(supply, what)
        source = "l'offre"
    present = list(wide.columns)
    if professions is not None:
        asked = option_professions(professions, "professions=")
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
    codes = as_codes(pd.Index(codes))
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
