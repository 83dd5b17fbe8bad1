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
    "COMMUNE_HEADERS",
    "CORRECTION_HEADERS",
    "DENSITY_HEADERS",
    "EVOLUTION_HEADERS",
    "FLOW_HEADERS",
    "HEADERS",
    "REGIONAL_HEADERS",
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


#: Communes with their CPTS (:func:`cpts_geo.domain.territories.communes_with_cpts`, the « communes »
#: CSV of ``cpts-geo territoires``): the territory headers plus the commune's own columns.
COMMUNE_HEADERS: dict[str, str] = {**TERRITORY_HEADERS, "department": "Département", "region": "Région",
                                   "epci_name": "EPCI", "cpts_id": "Identifiant CPTS",
                                   "department_name": "Nom du département", "region_name": "Nom de la région",
                                   "epci": "Code EPCI", "pop_standardised": "Population standardisée (DREES)",
                                   "population_2016": "Population municipale 2016", "covered": "Couverte"}


#: The regional diagnosis (:func:`cpts_geo.indicators.regional.regional_diagnosis`): its table of CPTS
#: (``cpts``), its zones blanches (``zones``, ``uncovered``) and its coverage, in the words of the
#: regional report.
REGIONAL_HEADERS: dict[str, str] = {
    "cpts_id": "Identifiant CPTS",
    "name": "Nom",
    "stage": "Étape",
    "n_cpts": "Nombre de CPTS",
    "n_communes": "Nombre de communes",
    "n_communes_area": "Communes dans le territoire",
    "population": "Population municipale",
    "share_population": "Part de la population",
    "tier": "Taille (niveau ACI)",
    "funding": "Financement ACI maximal annuel (€)",
    "apl_2022": "APL 2022",
    "apl_2023": "APL 2023",
    "apl_change": "Évolution de l'APL depuis 2022",
    "gp_density": "Médecins généralistes pour 10 000 hab.",
    "gp_accessibility": "Accessibilité E2SFCA aux médecins généralistes pour 10 000 hab.",
    "crosses": "Traverse la limite du territoire",
    "outside": "Départements hors du territoire",
    "zone": "Zone",
    "code": "Code commune",
    "main_commune": "Code de la commune principale",
    "main_name": "Commune principale",
    "nearest_cpts": "Identifiant de la CPTS voisine ou la plus proche",
    "nearest_name": "CPTS voisine ou la plus proche",
    "distance_km": "Distance (km)",
    "neighbours": "CPTS voisines",
}


#: Coverage over dated listings (:func:`cpts_geo.indicators.regional.coverage_over_time`, the CSV of
#: ``cpts-geo evolution``); the other columns are the stages, already in French.
EVOLUTION_HEADERS: dict[str, str] = {"date": "Date", "stage": "Étape", "n_cpts": "CPTS",
                                     "share_covered": "Part de la population couverte"}


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
    "communes": COMMUNE_HEADERS,
    "regional": REGIONAL_HEADERS,
    "evolution": EVOLUTION_HEADERS,
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
        The kind of table: one of the keys of :data:`HEADERS`: ``"territories"`` (also coverage),
        ``"communes"`` (communes with their CPTS), ``"regional"`` (the tables of a regional
        diagnosis), ``"evolution"`` (coverage over dated listings), ``"changes"``, ``"density"``,
        ``"accessibility"``, ``"flows"``, ``"supply_report"``, ``"corrections"``.

    Returns
    -------
    DataFrame
        A copy with its columns (and the names of its index and of its columns) renamed; columns
        the vocabulary does not know keep their names.

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
    if out.columns.name in headers:
        out.columns = out.columns.rename(headers[out.columns.name])
    return out
