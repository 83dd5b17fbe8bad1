"""One French vocabulary: the headers people read in every table the package writes or shows.

Each dictionary maps the library's column names (English) to the French headers of one kind of
table; :func:`french_headers` renames a result's columns for a notebook or a spreadsheet. The CSV,
XLSX and printed tables of the package use these same dictionaries, so a notebook shows the
headers of the files.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

__all__ = [
    "ACCESSIBILITY_HEADERS",
    "CHANGE_HEADERS",
    "CORRECTION_HEADERS",
    "DENSITY_HEADERS",
    "FLOW_HEADERS",
    "HEADERS",
    "SUPPLY_REPORT_HEADERS",
    "TERRITORY_HEADERS",
    "french_headers",
]


#: Territories, coverage and communes with their CPTS (CSV/XLSX tables, summaries).
TERRITORY_HEADERS: dict[str, str] = {
    "cpts_id": "Identifiant CPTS",
    "name": "Nom",
    "stage": "Étape",
    "published_stage": "Étape telle que publiée",
    "tier": "Taille (niveau ACI)",
    "population": "Population municipale",
    "n_communes": "Nombre de communes",
    "departments": "Départements",
    "regions": "Régions",
    "area_km2": "Superficie (km²)",
    "single_part": "D'un seul tenant",
    "n_parts": "Nombre de parties",
    "parts": "Parties",
    "missing_population": "Communes sans population",
    "n_cpts": "Nombre de CPTS",
    "share_population": "Part de la population",
    "code": "Code commune",
    "cpts_name": "Nom de la CPTS",
    "share": "Part de la commune",
    "cpts_all": "CPTS (toutes)",
}


#: Changes between two registries (:func:`cpts_geo.domain.compare.compare_registries`).
CHANGE_HEADERS: dict[str, str] = {"change": "Changement", "code": "Code commune", "commune": "Commune",
                  "old_id": "Identifiant (ancien)", "old_cpts": "CPTS (ancien registre)",
                  "new_id": "Identifiant (nouveau)", "new_cpts": "CPTS (nouveau registre)",
                  "old_value": "Avant", "new_value": "Après"}


#: Density of professionals (:func:`cpts_geo.indicators.density.density_table`).
DENSITY_HEADERS: dict[str, str] = {
    "count": "Professionnels",
    "population": "Population",
    "density": "Densité pour 10 000 hab.",
    "n_communes": "Communes",
    "n_communes_without": "Communes sans ce professionnel",
    "department": "Département",
    "department_density": "Densité du département",
    "region": "Région",
    "region_density": "Densité de la région",
    "france_density": "Densité France",
}


#: Accessibility of territories (:func:`cpts_geo.indicators.accessibility.accessibility_table`).
ACCESSIBILITY_HEADERS: dict[str, str] = {
    "accessibility": "Accessibilité (moyenne pondérée)",
    "standardised_population": "Demande (population, standardisée si fournie)",
    "population": "Population",
    "population_below": "Population sous le seuil",
    "share_below": "Part de la population sous le seuil (%)",
    "n_communes": "Communes",
    "n_communes_below": "Communes sous le seuil",
    "n_communes_unknown": "Communes d'accessibilité inconnue",
    "population_unknown": "Population d'accessibilité inconnue",
}


#: Flow tables, indicators, leaks, flags, perimeter proposals and code reports.
FLOW_HEADERS: dict[str, str] = {
    "cpts_id": "Identifiant CPTS",
    "code": "Code commune",
    "name": "Nom",
    "origin": "Commune de résidence",
    "destination": "Commune de soins",
    "origin_name": "Nom commune de résidence",
    "destination_name": "Nom commune de soins",
    "volume": "Volume",
    "profession": "Profession",
    "year": "Année",
    "n_communes": "Nombre de communes",
    "resident_volume": "Volume des résidents",
    "inside_volume": "Volume consommé dans la CPTS",
    "outflow_volume": "Volume consommé hors de la CPTS",
    "delivered_volume": "Volume réalisé dans la CPTS",
    "inflow_volume": "Volume réalisé pour des non-résidents",
    "retention": "Taux de rétention",
    "leakage": "Taux de fuite",
    "attraction": "Taux d'attraction",
    "supply_containment": "Autonomie côté offre",
    "self_containment": "Autonomie (min. demande, offre)",
    "rank": "Rang",
    "kind": "Type de destination",
    "share": "Part du volume des résidents",
    "share_of_leakage": "Part des fuites",
    "own_volume": "Volume dans sa CPTS",
    "own_share": "Part dans sa CPTS",
    "main_destination": "Destination principale",
    "main_volume": "Volume vers la destination principale",
    "main_share": "Part de la destination principale",
    "flag": "Signalement",
    "suggested_cpts": "CPTS suggérée",
    "suggested_volume": "Volume vers la CPTS suggérée",
    "suggested_share": "Part vers la CPTS suggérée",
    "suggested_adjacent": "CPTS suggérée limitrophe",
    "masked": "Masqué (secret statistique)",
    "origin_cpts": "CPTS de résidence",
    "destination_cpts": "CPTS de soins",
    "split": "Commune partagée",
    "size": "Taille",
    "demand_sc": "Autonomie côté demande",
    "supply_sc": "Autonomie côté offre",
    "validity": "Score de validité",
    "valid": "Valide (règle de Coombes–Bond)",
    "note": "Remarque",
    "current_cpts": "CPTS actuelle",
    "proposed_cpts": "Zone proposée",
    "matched_cpts": "CPTS actuelle appariée",
    "change": "Changement",
    "step": "Étape",
    "end": "Extrémité",
    "row": "Première ligne",
    "n_rows": "Nombre de lignes",
    "given_code": "Code lu",
    "new_code": "Code retenu",
    "new_name": "Nom de la commune retenue",
    "reason": "Raison",
    "records": "Nombre d'enregistrements",
}


#: Reports of a supply table read (remapped, rejected, duplicated rows).
SUPPLY_REPORT_HEADERS: dict[str, str] = {"row": "Ligne", "code": "Code donné", "new_code": "Code actuel", "name": "Nom",
                  "new_name": "Nom actuel", "reason": "Motif", "profession": "Profession",
                  "count": "Effectif", "problem": "Problème"}


#: The corrections applied to a registry (``CheckedRegistry.report``).
CORRECTION_HEADERS: dict[str, str] = {"row": "Ligne", "code": "Code donné", "new_code": "Code actuel", "name": "Nom",
                                      "new_name": "Nom actuel", "reason": "Motif", "kind": "Nature"}

#: The headers of each kind of table, by the name :func:`french_headers` takes.
HEADERS: dict[str, Mapping[str, str]] = {
    "territories": TERRITORY_HEADERS,
    "changes": CHANGE_HEADERS,
    "density": DENSITY_HEADERS,
    "accessibility": ACCESSIBILITY_HEADERS,
    "flows": FLOW_HEADERS,
    "supply_report": SUPPLY_REPORT_HEADERS,
    "corrections": CORRECTION_HEADERS,
}


def french_headers(table: pd.DataFrame, kind: str = "territories") -> pd.DataFrame:
    """A result with the French headers the package's CSV and XLSX files use, for a notebook.

    Parameters
    ----------
    table : DataFrame
        A result of the library (territories, coverage, a density, a flow table…).
    kind : str, default "territories"
        The kind of table: one of the keys of :data:`HEADERS` (``"territories"`` also serves
        coverage and communes).

    Returns
    -------
    DataFrame
        A copy with its columns (and index name) renamed; columns the vocabulary does not know
        keep their names.

    Raises
    ------
    ValueError
        When ``kind`` is not one of :data:`HEADERS`.

    Examples
    --------
    >>> cov = pd.DataFrame({"n_cpts": [3], "share_population": [0.25]}, index=pd.Index(["ACI signé"], name="stage"))
    >>> list(french_headers(cov).columns), french_headers(cov).index.name
    (['Nombre de CPTS', 'Part de la population'], 'Étape')
    """
    if kind not in HEADERS:
        raise ValueError(f"type de tableau inconnu {kind!r} ; types possibles : {', '.join(HEADERS)}.")
    headers = HEADERS[kind]
    out = table.rename(columns=headers)
    if out.index.name in headers:
        out.index = out.index.rename(headers[out.index.name])
    return out
