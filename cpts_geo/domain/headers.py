"""Header recognition: which standard field a user's column header stands for.

One table of synonyms per kind of user table (:data:`SYNONYMS`), compared after folding
(:func:`cpts_geo.domain.french.fold`: case, accents and punctuation ignored, words joined by ``_``),
plus a few word rules for registries (``Code INSEE commune`` → ``commune_code``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import pandas as pd

from cpts_geo.domain.french import fold

__all__ = [
    "KINDS",
    "REQUIRED",
    "SYNONYMS",
    "ReadTable",
    "header_key",
    "header_rules",
    "recognise_header",
    "recognise_headers",
]

_COMMUNE_CODE = frozenset({
    "code", "code_commune", "commune_code", "code_insee", "insee", "codgeo", "insee_com", "depcom",
    "com", "code_com", "code_geo", "cog",
})


#: Folded headers recognised exactly, for each kind of table and each standard field.
SYNONYMS: dict[str, dict[str, frozenset[str]]] = {
    "registry": {
        "cpts_id": frozenset({"cpts_id", "id_cpts", "id", "identifiant", "code_cpts", "num_cpts",
                              "numero_cpts"}),
        "cpts_name": frozenset({"cpts_name", "nom_cpts", "cpts", "nom", "name", "libelle_cpts",
                                "nom_de_la_cpts"}),
        "stage": frozenset({"stage", "etape", "stade", "statut", "avancement", "etat",
                            "etape_du_projet"}),
        "commune_code": _COMMUNE_CODE,
        "commune_name": frozenset({"commune_name", "nom_commune", "commune", "libgeo", "nom_com",
                                   "libelle_commune"}),
        "share": frozenset({"share", "part", "quote_part", "part_population",
                            "part_de_la_population"}),
        "arrondissement_code": frozenset({"arrondissement_code", "code_arrondissement", "arrondissement",
                                          "code_arm", "arm", "codgeo_arm", "code_insee_arrondissement",
                                          "code_arrondissement_municipal", "arrondissement_municipal"}),
        "iris_code": frozenset({"iris_code", "code_iris", "iris", "codeiris", "code_iris_insee", "dcomiris"}),
    },
    "supply": {
        "code": _COMMUNE_CODE,
        "profession": frozenset({"profession", "professions", "specialite", "profession_de_sante",
                                 "categorie_professionnelle", "metier"}),
        "count": frozenset({"count", "effectif", "effectifs", "nombre", "nb", "n",
                            "nombre_de_professionnels", "nb_professionnels"}),
        "fte": frozenset({"fte", "etp", "equivalent_temps_plein", "activite"}),
        "age": frozenset({"age", "age_moyen"}),
    },
    "flows": {
        "origin": frozenset({
            "origin", "origine", "origin_code", "code_origine", "residence", "commune_residence",
            "code_commune_residence", "com_residence", "code_residence", "commune_de_residence",
            "insee_residence", "depcom_residence", "com_res", "codgeo_residence", "commune",
        }),
        "destination": frozenset({
            "destination", "destination_code", "code_destination", "commune_soins",
            "commune_de_soins", "code_commune_soins", "lieu_soins", "lieu_de_soins",
            "commune_prise_en_charge", "commune_prestataire", "commune_professionnel",
            "commune_executant", "dclt", "com_soins", "commune_travail", "lieu_de_travail",
        }),
        "volume": frozenset({
            "volume", "volumes", "nb", "nombre", "n", "effectif", "effectifs", "patients",
            "nb_patients", "nombre_patients", "nombre_de_patients", "actes", "nb_actes",
            "nombre_actes", "nombre_d_actes", "consultations", "nb_consultations", "flux",
            "ipondi", "poids", "count", "weight",
        }),
        "profession": frozenset({
            "profession", "specialite", "type_soins", "type_de_soins", "care_type", "categorie",
            "profession_de_sante", "type_acte",
        }),
        "year": frozenset({"year", "annee", "millesime", "an"}),
    },
    "costs": {
        "origin": frozenset({"origin", "origine", "code_origine", "commune_origine", "from",
                             "depart", "commune_de_depart", "residence", "commune_d_origine",
                             "code_commune_origine"}),
        "destination": frozenset({"destination", "code_destination", "commune_destination", "to",
                                  "arrivee", "commune_d_arrivee", "commune_de_destination",
                                  "code_commune_destination"}),
        "minutes": frozenset({"minutes", "minute", "temps", "duree", "temps_de_trajet",
                              "duree_minutes", "temps_minutes", "time", "cost", "cout"}),
    },
    "population": {
        "code": _COMMUNE_CODE,
        "population": frozenset({"population", "pop", "pmun", "population_municipale",
                                 "pop_totale", "habitants", "nombre_d_habitants"}),
    },
    "indicators": {
        "code": _COMMUNE_CODE,
        "name": frozenset({"nom", "name", "nom_commune", "libgeo", "commune", "libelle"}),
    },
}


#: Fields a table of each kind cannot do without (used to tell which sheet holds the table).
REQUIRED: dict[str, tuple[str, ...]] = {
    "registry": ("cpts_id", "commune_code"),
    "supply": ("code",),
    "flows": ("origin", "destination"),
    "costs": ("origin", "destination", "minutes"),
    "population": ("code", "population"),
    "indicators": ("code",),
}


KINDS = tuple(SYNONYMS)



def header_key(header: object) -> str:
    """A header folded for comparison: ``"Code INSEE"`` → ``"code_insee"``.

    Parameters
    ----------
    header : object
        A column header (any value, converted with ``str``).

    Returns
    -------
    str
        The header folded by :func:`cpts_geo.domain.french.fold` (lower case, no accents or
        punctuation), words joined by ``_``.

    Examples
    --------
    >>> header_key("N° de la CPTS"), header_key("Étape du projet")
    ('n_de_la_cpts', 'etape_du_projet')
    """
    return fold(header).replace(" ", "_")



#: Word rules for registry headers not listed exactly (``Code INSEE commune``), in order: the
#: first rule whose every group shares a word with the header, and whose ``unless`` words are all
#: absent, gives the field. Data, not code, so that the editor page applies the same rules.
_REGISTRY_WORD_RULES: tuple[tuple[str, tuple[frozenset[str], ...], frozenset[str]], ...] = (
    ("commune_code", (frozenset({"commune", "communes"}), frozenset({"code", "insee", "codgeo"})), frozenset()),
    ("commune_name", (frozenset({"commune", "communes"}), frozenset({"nom", "libelle", "name", "denomination"})),
     frozenset()),
    ("commune_code", (frozenset({"insee", "codgeo", "depcom"}),), frozenset()),
    ("stage", (frozenset({"etape", "stade", "stage", "avancement"}),), frozenset()),
    ("share", (frozenset({"part", "share", "quote"}),), frozenset({"cpts"})),
    ("cpts_id", (frozenset({"cpts"}), frozenset({"id", "identifiant", "code", "numero", "num", "n"})), frozenset()),
    ("cpts_name", (frozenset({"cpts"}), frozenset({"nom", "name", "libelle", "denomination"})), frozenset()),
)



def _registry_words(key: str) -> str | None:
    """Word rules for registry headers not listed exactly (:data:`_REGISTRY_WORD_RULES`)."""
    tokens = set(key.split("_"))
    for field, groups, unless in _REGISTRY_WORD_RULES:
        if all(tokens & g for g in groups) and not tokens & unless:
            return field
    return None


_WORD_RULES: dict[str, Callable[[str], str | None]] = {"registry": _registry_words}


_WORD_RULE_DATA = {"registry": _REGISTRY_WORD_RULES}



def recognise_header(header: object, kind: str) -> str | None:
    """The standard field of ``kind`` that ``header`` stands for, or ``None``.

    Parameters
    ----------
    header : object
        A column header (``None`` for a column without one).
    kind : str
        The kind of table, one of :data:`KINDS`.

    Returns
    -------
    str or None
        The field whose synonyms (:data:`SYNONYMS`) hold the folded header, else the field
        given by the word rules of ``kind`` (registries only); ``None`` when the header is
        empty or not recognised.

    Raises
    ------
    ValueError
        ``kind`` is not one of :data:`KINDS`.

    Examples
    --------
    >>> recognise_header("Code INSEE commune", "registry"), recognise_header("ETP", "supply")
    ('commune_code', 'fte')
    """
    if kind not in SYNONYMS:
        raise ValueError(f"type de table inconnu {kind!r} ; types possibles : {', '.join(KINDS)}.")
    key = header_key(header) if header is not None else ""
    if not key:
        return None
    for field, names in SYNONYMS[kind].items():
        if key in names:
            return field
    rule = _WORD_RULES.get(kind)
    return rule(key) if rule else None



def recognise_headers(headers: Sequence, kind: str, *,
                      columns: Mapping[str, str] | None = None) -> dict:
    """Map each recognised header to its standard field (``columns`` first, then synonyms).

    Each field is taken once, by the first header that stands for it. ``columns`` maps a
    header of the file to a field; a field not of ``kind`` is an error.

    Parameters
    ----------
    headers : sequence
        The headers of the table, in order (``None`` for a column without one).
    kind : str
        The kind of table, one of :data:`KINDS`.
    columns : mapping of str to str, optional
        Header → field chosen by the user; they take precedence over the synonyms.

    Returns
    -------
    dict
        ``{header: field}`` for every header recognised (those of ``columns`` first, then
        those recognised by :func:`recognise_header`); headers not recognised are left out.

    Raises
    ------
    ValueError
        ``kind`` is not one of :data:`KINDS`, or ``columns`` names a field not of ``kind``.

    Examples
    --------
    >>> recognise_headers(["Code INSEE", "Profession", "Effectif"], "supply")
    {'Code INSEE': 'code', 'Profession': 'profession', 'Effectif': 'count'}
    """
    fields = list(SYNONYMS[kind]) if kind in SYNONYMS else None
    if fields is None:
        raise ValueError(f"type de table inconnu {kind!r} ; types possibles : {', '.join(KINDS)}.")
    explicit = dict(columns or {})
    bad = [v for v in explicit.values() if v not in fields]
    if bad:
        raise ValueError(f"columns : champ(s) inconnu(s) {bad}. Champs possibles : {', '.join(fields)}.")
    mapping: dict = {}
    taken: set[str] = set()
    for h in headers:
        if h in explicit:
            mapping[h] = explicit[h]
            taken.add(explicit[h])
    for h in headers:
        if h in mapping or h is None:
            continue
        field = recognise_header(h, kind)
        if field and field not in taken:
            mapping[h] = field
            taken.add(field)
    return mapping



def header_rules(kind: str) -> dict:
    """The rules of :func:`recognise_header` for ``kind`` as plain data (for a page script).

    A page that reads a user's table in the browser (the perimeter editor's import) applies
    these rules instead of a copy of the synonyms: fold the header as
    :func:`cpts_geo.domain.french.fold` does (``typographic`` replacements, NFKD, ASCII only,
    lower case, runs of other characters to one ``_``), look it up in ``exact``, then try the
    ``words`` rules in order.

    Parameters
    ----------
    kind : str
        The kind of table, one of :data:`KINDS`.

    Returns
    -------
    dict
        ``{"fields": [field, ...], "exact": {folded header: field}, "words": [[field,
        [[word, ...], ...], [unless word, ...]], ...], "typographic": {character: replacement}}``,
        JSON-ready, sorted (the same input gives the same bytes).

    Raises
    ------
    ValueError
        ``kind`` is not one of :data:`KINDS`.

    Examples
    --------
    >>> rules = header_rules("registry")
    >>> rules["exact"]["code_insee"], rules["words"][0][0]
    ('commune_code', 'commune_code')
    """
    from cpts_geo.domain.french import _TYPOGRAPHIC

    if kind not in SYNONYMS:
        raise ValueError(f"type de table inconnu {kind!r} ; types possibles : {', '.join(KINDS)}.")
    exact: dict[str, str] = {}
    for field, names in SYNONYMS[kind].items():
        for name in sorted(names):
            exact.setdefault(name, field)  # the first field listed wins, as in recognise_header
    words = [[field, [sorted(g) for g in groups], sorted(unless)]
             for field, groups, unless in _WORD_RULE_DATA.get(kind, ())]
    return {"fields": list(SYNONYMS[kind]), "exact": dict(sorted(exact.items())), "words": words,
            "typographic": {chr(k): v for k, v in sorted(_TYPOGRAPHIC.items())}}


ENCODING_NAMES = {
    "utf-8": "UTF-8", "utf-8-sig": "UTF-8 (avec BOM)", "utf-16": "UTF-16", "utf-16-le": "UTF-16",
    "utf-16-be": "UTF-16", "cp1252": "Windows-1252", "latin-1": "ISO-8859-1",
}



SEPARATOR_NAMES = {";": "« ; »", ",": "« , »", "\t": "tabulation", "|": "« | »"}



class ReadTable(NamedTuple):
    """A user table as read, with what was detected on the way.

    Attributes
    ----------
    table : pandas.DataFrame
        The data rows, columns as headed in the file (CSV and XLSX cells as text, ``None``
        where empty); a GeoDataFrame when read with ``geometry=True``. Index 0..n-1.
    rows : numpy.ndarray of int64
        The file row number of each row of ``table`` (see the module docstring).
    source : str
        The path read, or ``"DataFrame"``.
    format : str
        ``"csv"``, ``"xlsx"``, ``"parquet"``, ``"ogr"`` or ``"DataFrame"``.
    encoding, separator : str or None
        Of a CSV: the Python codec (``"utf-8"``, ``"utf-8-sig"``, ``"utf-16"``, ``"cp1252"``)
        and the separator.
    sheet : str or None
        The sheet of a workbook.
    header_row : int or None
        Row number of the header (1 unless a title or blank lines sit above it).
    layer : str or None
        The layer of a GeoPackage (or other OGR file).
    fields : dict
        ``{header: standard field}`` for the headers recognised (when ``kind`` was given).
    formulas : frozenset of (int, str)
        ``(row, header)`` of every XLSX formula cell without a computed value; the cell holds
        the formula text.
    recoded_lines : tuple of int
        Rows of a UTF-8 file that were not UTF-8 and were read as Windows-1252.
    """

    table: pd.DataFrame
    rows: np.ndarray
    source: str
    format: str
    encoding: str | None = None
    separator: str | None = None
    sheet: str | None = None
    header_row: int | None = None
    layer: str | None = None
    fields: Mapping[str, str] = MappingProxyType({})
    formulas: frozenset = frozenset()
    recoded_lines: tuple = ()

    def describe(self) -> str:
        """What was used to read the file, in French (for the CLI and notebooks).

        Examples
        --------
        >>> t = ReadTable(pd.DataFrame(), np.array([], "int64"), "r.csv", "csv",
        ...               encoding="cp1252", separator=";")
        >>> t.describe()
        'encodage Windows-1252, séparateur « ; »'
        """
        parts = []
        if self.sheet is not None:
            parts.append(f"feuille « {self.sheet} »"
                         + (f" (en-tête ligne {self.header_row})" if self.header_row not in (None, 1) else ""))
        if self.layer is not None:
            parts.append(f"couche « {self.layer} »")
        if self.encoding is not None:
            parts.append(f"encodage {ENCODING_NAMES.get(self.encoding, self.encoding)}")
        if self.recoded_lines:
            shown = ", ".join(map(str, self.recoded_lines[:10]))
            more = "…" if len(self.recoded_lines) > 10 else ""
            parts.append(f"ligne(s) {shown}{more} en Windows-1252")
        if self.separator is not None:
            parts.append(f"séparateur {SEPARATOR_NAMES.get(self.separator, repr(self.separator))}")
        if self.format == "csv" and self.header_row not in (None, 1):
            parts.append(f"en-tête ligne {self.header_row}")
        if self.formulas:
            parts.append(f"{len(self.formulas)} formule(s) sans valeur calculée")
        return ", ".join(parts) or self.format
