"""The perimeter editor: one offline HTML page to draft CPTS perimeters commune by commune.

:func:`perimeter_editor` writes a self-contained page (Leaflet inlined, our own small script
``static/editor.js``, no network, no server) where a coordinator or an ARS analyst clicks
communes, or draws a lasso around them, to add them to, or remove them from, a draft CPTS. Several named drafts can be kept at
once; the CPTS of a registry are shown by stage. For each draft a panel shows, live:

- communes, population (with its vintage), size tier and the ACI funding maximum of that tier,
- area, departments crossed, contiguity (a draft in several pieces is flagged),
- the DREES APL to GPs (mean weighted by the standardised population), and with a supply of
  professionals (``supply=``), professionals and density per 10 000 inhabitants by profession,
  counted in the draft's own communes (the panel says so); when the draft borders communes
  outside the page, the professionals there are shown apart (« hors zone »), not counted.

**Click or lasso.** A click adds or removes one commune; a free-hand lasso (« Lasso » buttons, or
Shift+drag; Shift+Alt+drag removes) takes every commune whose point on surface (computed here)
lies inside the drawn ring (even-odd rule, the page's ``CptsEditor.rules.pointInPolygon``).

**Same figures as the library.** The page sums per-commune figures that Python computed and
embedded (population of the layer, area of each commune in its metric CRS, APL × standardised
population and standardised population of the DREES rows remapped to the layer's codes by
:func:`cpts_geo.domain.history.remap_codes`, professionals by
:func:`cpts_geo.indicators.supply.supply_on_layer`, and with the user's travel times (``costs=``)
the E2SFCA accessibility of :func:`cpts_geo.indicators.accessibility.accessibility` with its
demand). The rules it applies to those sums are the functions of ``CptsEditor.rules`` in
``static/editor.js``, one per rule, each fed with data this module evaluates from the owner
(the tier breakpoints found by bisection on :func:`cpts_geo.domain.tiers.tier_of`, the funding
maxima of :func:`cpts_geo.domain.funding.aci_funding`, the formula starts of
:func:`cpts_geo.io.files.neutralise_text`) and compared with its owner on many inputs in
Chromium by ``tests/test_editor_rules.py`` (rounding of a population, tier, funding, the DREES
weighted mean of :func:`cpts_geo.indicators.accessibility.territory_accessibility`, density of
:func:`cpts_geo.indicators.density.density`, the CSV formula guard of
:func:`cpts_geo.io.files.neutralise_cells` and :func:`cpts_geo.io.files.restore_cells`). The
tests also compare the panel with the library to the unit. Contiguity uses the commune adjacency
of :func:`cpts_geo.domain.communes.adjacency` restricted to shared borders (communes touching at
a single point do not join: the library counts such a territory in two parts).

**Which travel times.** The APL shown is the one the DREES published (its own times, from
INSEE's distancier Metric-OSRM). With ``costs=`` (``cpts-geo editeur --temps``) and a supply,
the panel adds the E2SFCA accessibility of each profession computed with those times; the page
says which times were used.

**One commune, one CPTS.** A commune already in a registry CPTS or another draft is shown as such;
taking it is an explicit action (« Prendre quand même ») recorded in the draft as a conflict.
Declared shares (``part``) are kept: a commune shared 0,5 / 0,5 is no conflict, and the panel
counts its share of population, APL weight and professionals, as the library does.

**The page's units.** A registry given as a table is checked against all of France: a CPTS may
hold communes outside the page (counted « hors zone »). A city of the page that the registry
gives by arrondissement (Paris, Lyon, Marseille) is drawn by arrondissement. The CPTS of the
registry are outlined and named; the legend lists every colour of the map. A commune without
geometry is listed in the panel, where it can be added to a draft.

**Nothing lost.** Drafts persist in the browser's ``localStorage`` under a key of the page's
content (its units and registry: pages of one region no longer share drafts); a damaged record is
repaired or set aside with a copy kept, never a blank page. They export as a registry CSV for
French Excel (``;``, UTF-8 with BOM) that ``cpts-geo valider`` accepts as is. An import adds
drafts (asking when an id is taken), can be undone, and changes nothing when a row is wrong; it
reads the file as :func:`cpts_geo.io.read_table` does (encodings, ``sep=``, row numbers) with the
header rules of :func:`cpts_geo.domain.headers.header_rules`. User text is always inserted as text,
and every look-up keyed by it in the page is a ``Map`` (an id ``__proto__`` is an id).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cpts_geo.domain.codes import is_in
from cpts_geo.domain.metadata import layer_metadata
from cpts_geo.domain.stages import STAGE_COLORS, STAGES

__all__ = [
    "editor_data",
    "editor_html",
    "perimeter_editor",
]

if TYPE_CHECKING:
    from markupsafe import Markup

    from cpts_geo.domain.registry import CheckedRegistry, RegistryRead
    from cpts_geo.indicators.supply import SupplyRead


_TEXT = {
    "title": "Éditeur de périmètres de CPTS",
    "drafts": "Brouillons", "new_draft": "Nouveau brouillon", "draft": "Brouillon",
    "name": "Nom", "delete": "Supprimer ce brouillon", "communes": "Communes",
    "population": "Population", "tier": "Taille", "funding": "Financement ACI maximal (par an)",
    "area": "Superficie", "departments": "Départements", "contiguity": "Continuité",
    "one_piece": "d'un seul tenant", "pieces": "en {n} morceaux", "apl": "APL médecins généralistes",
    "apl_unit": "consultations par habitant et par an", "apl_unknown": "communes sans APL",
    "apl_times": "APL publié par la DREES, avec ses propres temps de trajet (distancier Metric-OSRM de l'INSEE).",
    "access_unknown": "commune(s) sans temps de trajet, hors de la moyenne",
    "professionals": "Professionnels exerçant dans les communes du brouillon (densité pour 10 000 habitants)",
    "supply_scope": "Chiffres des communes du brouillon seulement ({n}) : l'offre d'une commune voisine n'y est "
    "pas comptée.",
    "beyond_known": "Le brouillon touche {k} commune(s) voisine(s) hors de la zone de cette page ({regions}) : "
    "leurs professionnels ne sont pas comptés ici ; ils sont indiqués « hors zone » par profession.",
    "beyond_none": "Le brouillon touche {k} commune(s) voisine(s) hors de la zone de cette page ({regions}) : "
    "aucun professionnel n'y exerce selon l'offre donnée.",
    "beyond_unknown": "Le brouillon touche la limite de la zone de cette page : l'offre donnée ne couvre pas les "
    "communes voisines hors zone ; leurs professionnels ne sont ni connus ni comptés.",
    "beyond_row": "{m} hors zone, non compté(s)",
    "conflicts": "Conflits (commune déjà dans une autre CPTS)", "none": "aucun",
    "export": "Exporter les brouillons (CSV)", "import": "Importer un CSV de brouillons",
    "take": "Prendre quand même", "cancel": "Annuler",
    "taken_from": "La commune {commune} appartient déjà à {owner}.",
    "registry": "CPTS du registre", "of_draft": "brouillon", "no_commune": "Cliquez des communes sur la carte.",
    "hint": "Cliquez une commune pour l'ajouter au "
    "brouillon actif ou l'en retirer ; ou entourez des communes au lasso (boutons « Lasso », ou Maj + glisser ; "
    "Maj + Alt + glisser pour retirer).", "layer_registry": "CPTS existantes (par étape)",
    "mode_click": "Clic", "mode_lasso_add": "Lasso : ajouter", "mode_lasso_remove": "Lasso : retirer",
    "lasso_hint": "Appuyez et glissez pour entourer des communes (leur point intérieur compte) ; "
    "la carte se déplace alors au clavier ou en mode « Clic ».",
    "lasso_added": "Lasso : {n} commune(s) ajoutée(s)", "lasso_already": "{n} déjà dans ce brouillon",
    "lasso_pending": "{n} déjà dans une autre CPTS ou un autre brouillon, à confirmer",
    "lasso_removed": "Lasso : {n} commune(s) retirée(s) du brouillon.",
    "taken_many": "{n} communes entourées appartiennent déjà à une autre CPTS ou à un autre brouillon :",
    "layer_drafts": "Brouillons", "free": "sans CPTS", "stage": "Étape", "active": "actif",
    "legend_outline": "Contour et nom d'une CPTS existante",
    "legend_shared": "Commune partagée entre plusieurs CPTS (pointillés)",
    "share": "part", "out_of_page": "{n} commune(s) hors zone (hors de cette carte)",
    "units": "{n} unités : arrondissements comptés dans leur ville",
    "area_no_geometry": "{n} commune(s) sans géométrie, superficie non comptée",
    "area_shared": "{n} commune(s) partagée(s) comptée(s) entière(s)",
    "shared_title": "Communes partagées (part de la population comptée)",
    "outside_title": "Codes absents de cette carte ({n}) : gardés dans le brouillon et dans l'export, non comptés "
    "ici (communes hors zone, ou anciens codes que « cpts-geo valider » ramène aux communes actuelles)",
    "no_geometry": "Communes sans géométrie dans la source, non dessinées ({n}) : ajoutez-les au brouillon actif "
    "ou retirez-les ici",
    "add": "Ajouter", "remove": "Retirer",
    "row": "ligne {r}",
    "import_hint": "Un import ajoute des brouillons (il ne remplace rien sans le demander) et se défait avec "
    "« Annuler ». Il lit les mêmes en-têtes que « cpts-geo valider ».",
    "import_failed": "Import de « {file} » refusé : aucun brouillon n'a été modifié. Corrigez ces lignes du "
    "fichier, puis importez-le de nouveau :",
    "imported": "Brouillons importés de « {file} » ({reading}).",
    "imported_outside": "{n} ligne(s) donnent une commune absente de cette carte : gardées dans les brouillons, "
    "non comptées (voir chaque brouillon).",
    "reading_encoding": "encodage {enc}", "reading_recoded": "ligne(s) {lines} en Windows-1252",
    "reading_separator": "séparateur {sep}", "reading_ignored": "colonne(s) ignorée(s) : {cols}",
    "utf16_broken": "fichier UTF-16 tronqué ou abîmé ; réenregistrez-le depuis Excel (« CSV UTF-8 »).",
    "empty_file": "le fichier est vide ; il doit avoir une ligne d'en-tête et des lignes de données.",
    "no_rows": "le fichier n'a aucune ligne de données sous son en-tête.",
    "missing_columns": "colonnes obligatoires introuvables : {missing}. Colonnes présentes : {present}. "
    "Renommez-les (ex. cpts_id, commune_code).",
    "column_cpts_id": "identifiant de la CPTS", "column_commune_code": "code INSEE de la commune",
    "too_many_fields": "{n} champs pour {m} colonnes d'en-tête (séparateur dans une cellule sans guillemets ?)",
    "empty_id": "identifiant de CPTS vide", "empty_code": "code commune vide",
    "share_formula": "part de population : formule « {v} » sans valeur calculée (tapez la valeur)",
    "share_unreadable": "part de population illisible : « {v} » (attendu un nombre entre 0 et 1, ex. 0,5 ou 50 %)",
    "share_range": "part de population {v} hors de ]0, 1] (une part est une fraction de la population de la "
    "commune)",
    "duplicate_conflict": "commune {code} listée plusieurs fois dans la CPTS {id} avec des parts différentes : "
    "gardez une seule ligne",
    "duplicate_row": "commune {code} déjà donnée pour la CPTS {id} (ligne {first}) : ligne ignorée",
    "import_taken": "{n} brouillon(s) du fichier portent l'identifiant d'un brouillon déjà présent ({ids}). "
    "Que faire ?",
    "import_replace": "Remplacer ces brouillons", "import_keep_both": "Garder les deux (importés renommés)",
    "import_cancel": "Ne pas importer", "import_cancelled": "Import abandonné : rien n'a changé.",
    "undo_import": "Annuler (rétablir les brouillons d'avant)", "import_undone": "Brouillons d'avant rétablis.",
    "deleted": "Brouillon « {name} » supprimé.",
    "storage_unreadable": "L'enregistrement des brouillons de cette page dans ce navigateur est illisible : "
    "l'éditeur repart sans brouillon ; une copie de l'enregistrement est gardée (clé « {key} »).",
    "storage_repaired": "Brouillons enregistrés dans ce navigateur abîmés, réparés : {what}. Une copie de "
    "l'enregistrement d'origine est gardée (clé « {key} »).",
    "repair_dropped": "élément {k} illisible, laissé de côté",
    "repair_communes": "brouillon « {name} » sans liste de communes, gardé vide",
    "repair_codes": "brouillon « {name} » : {n} code(s) illisible(s) laissé(s) de côté",
    "legacy": "Ce navigateur garde {n} brouillon(s) d'une version précédente de l'éditeur pour cette zone "
    "(enregistrement commun à toutes les pages de la région).",
    "legacy_take": "Les ajouter aux brouillons de cette page",
    "legacy_taken": "{n} brouillon(s) d'une version précédente ajouté(s).",
}


_SHARED_BORDER = "****1****"  # DE-9IM: the boundaries of two communes meet along a line


_POINT_SCALE = 1e5  # steps per degree of the lasso points (about a metre)


_MANY = 10_000  # communes above which the page is drawn as the national stage map is (coarser, on a canvas)



@functools.cache
def _tier_breakpoints() -> list[list[int]]:
    """``[[lowest population, tier], ...]`` read from :func:`cpts_geo.domain.tiers.tier_of` itself.

    Populations summed from communes are whole numbers; each boundary is found by bisection on
    ``tier_of`` (no threshold written here).
    """
    from cpts_geo.domain.tiers import tier_of

    def tier(p: int) -> int:
        return int(tier_of([p]).iloc[0])

    points = [[0, tier(0)]]
    hi_limit = 10_000_000
    while tier(points[-1][0]) < tier(hi_limit):
        lo, hi = points[-1][0], hi_limit
        current = tier(lo)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if tier(mid) == current:
                lo = mid
            else:
                hi = mid
        points.append([hi, tier(hi)])
    return points



def _funding_maxima() -> dict[str, float]:
    from cpts_geo.domain.funding import aci_funding

    return {str(t): float(aci_funding(t).loc["Total", "Total"]) for t in (1, 2, 3, 4)}



def _apl_on_layer(communes: pd.DataFrame, year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """DREES APL rows remapped to the layer's codes: per commune ``apl_wv`` (APL × weight) and
    ``apl_w`` (standardised population), and the table of rows used (``code``, ``layer_code``).
    """
    from cpts_geo.data.apl import load_apl
    from cpts_geo.domain.codes import department_of, is_in
    from cpts_geo.domain.history import remap_codes

    apl = load_apl(year)
    deps = set(communes["department"]) if "department" in communes.columns else set(department_of(
        pd.Series(communes.index)))
    local = apl[department_of(pd.Series(apl.index, index=apl.index)).isin(deps).to_numpy()]
    mapped, _ = remap_codes(pd.Series(local.index, index=local.index), communes=communes, plm="city")
    mapped = mapped.to_numpy(dtype=object)
    # an arrondissement drawn on the page (a city split by the registry) keeps its own row
    own = is_in(local.index, communes.index)
    mapped[own] = np.asarray(local.index, dtype=object)[own]
    rows = pd.DataFrame({"code": local.index, "layer_code": mapped,
                         "apl": local["apl"].to_numpy(), "w": local["pop_standardised"].to_numpy()})
    rows = rows[rows["layer_code"].notna() & rows["apl"].notna()]
    per = rows.assign(wv=rows["apl"] * rows["w"]).groupby("layer_code")[["wv", "w"]].sum()
    return per.reindex(communes.index), rows



def _neighbours(communes: gpd.GeoDataFrame) -> list[list[int]]:
    """Neighbours sharing a border (not only a point), as positions in the layer."""
    from cpts_geo.domain.communes import adjacency

    pairs = adjacency(communes)
    geoms = communes.geometry
    # the borders meet along a line (DE-9IM boundary/boundary of dimension 1), not at points only
    shared = shapely.relate_pattern(geoms.loc[pairs["code"]].to_numpy(), geoms.loc[pairs["neighbour"]].to_numpy(),
                                    _SHARED_BORDER)
    pairs = pairs[shared]
    pos = communes.index.get_indexer
    out: list[list[int]] = [[] for _ in range(len(communes))]
    for a, b in zip(pos(pairs["code"]), pos(pairs["neighbour"])):
        out[a].append(int(b))
    return out



def _split_communes(communes: gpd.GeoDataFrame, neighbours: list[list[int]]) -> dict:
    """The communes in several parts (islands, exclaves) and the borders of their parts, for the
    page's contiguity to count parts as :func:`cpts_geo.domain.territories.build_territories` does:
    ``n`` ``[[position, number of parts], ...]``, ``e`` ``[[position, part, position, part], ...]``
    for each pair of parts sharing a border where one commune has several parts (the part of a
    commune in one part is 0)."""
    geoms = communes.geometry.to_numpy()
    counts = shapely.get_num_geometries(geoms)
    multi = {int(i) for i in np.flatnonzero(counts > 1)}
    edges: list[list[int]] = []
    for i in sorted(multi):
        for pi, part in enumerate(shapely.get_parts(geoms[i])):
            for k in neighbours[i]:
                if k in multi and k < i:
                    continue  # that pair is written from k's side
                others = shapely.get_parts(geoms[k]) if k in multi else [geoms[k]]
                edges += [[i, pi, int(k), pk] for pk, other in enumerate(others)
                          if shapely.relate_pattern(part, other, _SHARED_BORDER)]
    return {"n": [[i, int(counts[i])] for i in sorted(multi)], "e": edges}



def _encoded_lists(lists: list[list[int]]) -> list[str]:
    """Each list of positions (of the commune at its own position) as one string: the sorted
    differences from that position, zigzag-varint encoded in printable characters (as the
    geometries are; decoded by the page's ``decodeList``)."""
    from cpts_geo.render.maps import _varint_chars

    sizes = np.array([len(v) for v in lists], dtype=np.int64)
    if not sizes.sum():
        return ["" for _ in lists]
    values = np.concatenate([np.sort(np.asarray(v, dtype=np.int64)) for v in lists if len(v)])
    owner = np.repeat(np.arange(len(lists)), sizes)
    first = np.r_[True, owner[1:] != owner[:-1]]
    deltas = np.where(first, values - owner, np.diff(values, prepend=0))
    chars, nchars = _varint_chars(deltas)
    per = np.bincount(owner, weights=nchars, minlength=len(lists)).astype(np.int64)
    ends = np.cumsum(per)
    text = chars.tobytes().decode("ascii")
    return [text[e - n:e] for e, n in zip(ends.tolist(), per.tolist())]



def _encoded_points(points: list[list[float] | None], origin: tuple[float, float], scale: float) -> str:
    """The points of the communes that have one, in order, as one string: quantised like the
    geometries (``round((x - origin) * scale)``), each point the difference from the previous one."""
    from cpts_geo.render.maps import _varint_chars

    xy = np.array([p for p in points if p is not None], dtype=float).reshape(-1, 2)
    if not len(xy):
        return ""
    q = np.round((xy - np.asarray(origin, dtype=float)) * scale).astype(np.int64)
    chars, _ = _varint_chars(np.diff(q, axis=0, prepend=0).reshape(-1))
    return chars.tobytes().decode("ascii")



def _outside_neighbours(communes: gpd.GeoDataFrame) -> pd.DataFrame:
    """Communes outside the page sharing a border with one of its communes (France's embedded
    layer, as :func:`_neighbours` counts a neighbour): ``position`` (in the page), ``code``,
    ``name``, ``region_name`` of the outside commune.
    """
    from cpts_geo.domain.codes import city_of
    from cpts_geo.domain.communes import load_communes

    france = load_communes()
    # a city drawn by arrondissement is on the page, not beyond it
    others = france[~france.index.isin(communes.index) & ~france.index.isin(city_of(communes.index.astype(str)))]
    inner = communes.geometry.to_crs(france.crs).to_numpy()
    outer = others.geometry.to_numpy()
    a, b = shapely.STRtree(outer).query(inner, predicate="intersects")
    shared = shapely.relate_pattern(inner[a], outer[b], _SHARED_BORDER)
    a, b = a[shared], b[shared]
    region = others["region_name"] if "region_name" in others.columns else pd.Series("", index=others.index)
    return pd.DataFrame({"position": a, "code": others.index[b].astype(str), "name": others["name"].iloc[b].astype(str),
                         "region_name": region.iloc[b].astype(str).to_numpy()})



def _supply_data(communes: gpd.GeoDataFrame, supply: pd.DataFrame) -> tuple[dict, dict, list[list[int]]]:
    """Professionals of the page's communes, and what the figures leave out.

    Returns the counts by profession of each page commune (:func:`supply_on_layer`); the supply
    outside the page (rows, professionals, and the neighbouring communes outside the page with
    their counts: a draft touching them is told how many professionals there it does not count);
    and for each page commune its outside neighbours (positions in that list).
    """
    import warnings

    from cpts_geo.domain.codes import city_of
    from cpts_geo.errors import CptsGeoWarning
    from cpts_geo.indicators.supply import supply_on_layer

    codes = communes.index.astype(str)
    table, rest = supply, supply.iloc[:0]
    if isinstance(supply, pd.DataFrame) and "code" in supply.columns:
        inside = is_in(supply["code"].astype(str), codes)
        table, rest = supply[inside], supply[~inside]
        split = sorted(set(city_of(list(codes))) - set(codes))  # cities drawn by arrondissement
        whole = rest[is_in(rest["code"].astype(str), split)]
        if len(whole):
            warnings.warn(f"Offre de soins donnée pour la ville entière ({', '.join(sorted(set(whole['code'])))}) "
                          "alors que la page la montre par arrondissement : ces "
                          f"{len(whole)} ligne(s) ne sont comptées dans aucun arrondissement ; lisez l'offre sur "
                          "une couche par arrondissement (load_communes(arrondissements=True)).",
                          CptsGeoWarning, stacklevel=3)
    counts = supply_on_layer(table, communes.index)
    names = [str(c) for c in counts.columns]
    prof = {"names": names, "counts": [[float(v) for v in counts[c].to_numpy()] for c in counts.columns]}
    beyond: dict = {"rows": len(rest), "known": bool(len(rest)), "c": [], "n": [], "r": [], "counts": []}
    edge: list[list[int]] = [[] for _ in range(len(communes))]
    near = _outside_neighbours(communes)
    if len(rest):
        kept = sorted(set(near["code"]))
        counted = rest[rest["profession"].astype(str).isin(names) & is_in(rest["code"].astype(str), kept)]
        if len(counted):
            by_code = supply_on_layer(counted, pd.Index(kept)).reindex(columns=names, fill_value=0.0)
        else:
            by_code = pd.DataFrame(0.0, index=kept, columns=names)
        first = near.drop_duplicates("code").set_index("code")
        beyond.update({"c": kept, "n": first.loc[kept, "name"].tolist(), "r": first.loc[kept, "region_name"].tolist(),
                       "counts": [[float(v) for v in by_code[c].to_numpy()] for c in names]})
        at = {c: k for k, c in enumerate(kept)}
        for pos, code in zip(near["position"], near["code"]):
            if at[code] not in edge[int(pos)]:
                edge[int(pos)].append(at[code])
    else:
        for pos in sorted(set(near["position"])):
            edge[int(pos)].append(-1)  # touches the zone's limit; the supply given says nothing beyond it
    return prof, beyond, edge



def _points(communes: gpd.GeoDataFrame) -> list[list[float] | None]:
    """The point of each commune that a lasso must enclose: its point on surface (always inside
    the commune, unlike a centroid), ``[lon, lat]`` in EPSG:4326 rounded to 1e-6 degree; ``None``
    for a commune without geometry.
    """
    geoms = communes.geometry.to_crs(4326).to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    out: list[list[float] | None] = [None] * len(geoms)
    points = shapely.point_on_surface(geoms[present])
    xy = np.round(shapely.get_coordinates(points), 6)
    for pos, (x, y) in zip(np.flatnonzero(present), xy):
        out[int(pos)] = [float(x), float(y)]
    return out



def _reference_layer(communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The layer a registry given as a table is checked against: all of France when the page's
    units are embedded communes or arrondissements (a CPTS may hold communes outside the page),
    the page itself otherwise (a user's own layer)."""
    from cpts_geo.data.communes import arrondissement_codes
    from cpts_geo.domain.codes import is_in
    from cpts_geo.domain.communes import load_communes

    france = load_communes(crs=None)
    known = is_in(communes.index, france.index) | is_in(communes.index, arrondissement_codes().index)
    return france if known.all() else communes



def _page_units(communes: gpd.GeoDataFrame, codes: pd.Series) -> gpd.GeoDataFrame:
    """The page's units: a city of the page that the registry gives by arrondissement
    (Paris, Lyon, Marseille) is drawn by arrondissement (:func:`cpts_geo.domain.units.unit_layer`);
    arrondissements of cities outside the page are not added."""
    from cpts_geo.domain.codes import city_of, is_in
    from cpts_geo.domain.units import unit_layer

    codes = pd.Series(pd.unique(codes.astype(str)), dtype=object)
    cities = city_of(codes)
    split = codes[(cities != codes).to_numpy() & is_in(cities, communes.index) & ~is_in(codes, communes.index)]
    return unit_layer(communes, split.tolist()) if len(split) else communes



def _page_membership(member: pd.DataFrame, units: gpd.GeoDataFrame) -> pd.DataFrame:
    """Rows of a membership on the page's units (``code``, ``cpts_id``, ``share``): a city given
    whole where the page shows its arrondissements stands for each of them, with its share."""
    from cpts_geo.data.communes import arrondissement_codes
    from cpts_geo.domain.codes import is_in

    member = member[["code", "cpts_id", "share"]]
    arm = arrondissement_codes()
    on_page = arm[is_in(arm.index, units.index)]
    whole = is_in(member["code"], on_page["parent"]) & ~is_in(member["code"], units.index)
    if whole.any():
        parts = on_page.reset_index()[["code", "parent"]].rename(columns={"code": "arm", "parent": "code"})
        extra = member[whole].merge(parts, on="code").assign(code=lambda t: t["arm"]).drop(columns="arm")
        member = pd.concat([member[~whole], extra], ignore_index=True)
    return member[is_in(member["code"], units.index)].reset_index(drop=True)



def _content_key(codes: pd.Index, member: pd.DataFrame | None) -> str:
    """The browser storage key of a page: one per content (its units and its registry), so that
    drafts made on one page never show, nor are overwritten, on another."""
    import hashlib

    h = hashlib.sha256("\n".join(codes.astype(str)).encode("utf-8"))
    if member is not None and len(member):
        rows = member.sort_values(["cpts_id", "code"])
        h.update(b"\x00" + "\n".join(f"{c}\t{k}\t{s!r}" for c, k, s in zip(
            rows["cpts_id"].astype(str), rows["code"].astype(str), rows["share"].astype(float))).encode("utf-8"))
    return "cpts-geo-editeur:v2:" + h.hexdigest()[:20]



def _outlines(simple: np.ndarray, units: pd.Index, member: pd.DataFrame, cpts: list[dict],
              bounds: list[list[float]], origin: tuple[float, float], scale: float) -> dict:
    """The outline of each registry CPTS on the page (its units dissolved, as the stage map
    draws them) and its name placed for each zoom level (:func:`cpts_geo.render.labels.place_labels`)."""
    from cpts_geo.render.labels import label_text
    from cpts_geo.render.maps import _label_sets, encode_geometries

    pos = units.get_indexer(member["code"])
    groups = member.groupby("cpts_id", sort=False).indices
    geoms = []
    for c in cpts:
        rows = groups.get(c["id"])
        parts = simple[pos[rows]] if rows is not None else np.array([], dtype=object)
        parts = parts[~(shapely.is_missing(parts) | shapely.is_empty(parts))] if len(parts) else parts
        geoms.append(shapely.coverage_union_all(parts) if len(parts) else None)
    drawn = {c["id"]: g for c, g in zip(cpts, geoms) if g is not None and not g.is_empty}
    labels = _label_sets(drawn, {i: label_text(c["name"]) for i, c in zip(drawn, (c for c in cpts
                                                                                  if c["id"] in drawn))},
                         dict.fromkeys(drawn, ""), bounds) if drawn else {"zooms": {}, "min": 0, "max": 0}
    order = {cid: k for k, cid in enumerate(drawn)}
    return {"g": encode_geometries([g if c["id"] in drawn else None for c, g in zip(cpts, geoms)], origin, scale),
            "of": [order.get(c["id"], -1) for c in cpts], "labels": labels}



def _view(simple: np.ndarray, codes: pd.Index) -> tuple[tuple[float, float], list[list[float]]]:
    """The quantisation origin of the page's geometries and the bounds first shown (the
    mainland part when the page also holds overseas communes), as ``[[south, west], [north, east]]``."""
    minx, miny, maxx, maxy = shapely.total_bounds(simple)
    origin = (round(float(minx), 4), round(float(miny), 4))
    overseas = codes.str.startswith("97")
    view = shapely.total_bounds(simple[~overseas]) if 0 < overseas.sum() < len(overseas) else (minx, miny, maxx, maxy)
    return origin, [[float(view[1]), float(view[0])], [float(view[3]), float(view[2])]]



def _metric_areas(communes: gpd.GeoDataFrame) -> np.ndarray:
    """The area of each commune (km²) in its metric CRS, as build_territories measures a territory."""
    from cpts_geo.domain.crs import split_by_metric_crs

    area = np.zeros(len(communes))
    for crs, sel in split_by_metric_crs(communes.index).items():
        area[sel] = communes.geometry.iloc[sel].to_crs(crs).area.to_numpy() / 1e6
    return area



def _registry_on_page(checked: CheckedRegistry, member: pd.DataFrame,
                      units: pd.Index) -> tuple[list[dict], list[list], np.ndarray]:
    """The registry CPTS on the page (id, name, stage, number of communes off the page), the
    units they share and the number of each unit's main CPTS (-1: none)."""
    cpts: list[dict] = []
    owner = np.full(len(units), -1)
    ids = sorted(set(member["cpts_id"]))
    number_of = {cid: n for n, cid in enumerate(ids)}
    total = checked.membership.groupby("cpts_id")["code"].nunique()
    on_page = member.groupby("cpts_id")["code"].nunique()
    for cid in ids:
        rec = checked.cpts.loc[cid]
        stage = rec.get("stage")
        outside = int(total.get(cid, 0) - on_page.get(cid, 0))
        name = rec.get("name")
        cpts.append({"id": str(cid), "name": str(cid) if name is None or pd.isna(name) else str(name),
                     "stage": None if pd.isna(stage) else str(stage), "out": max(outside, 0)})
    pos = units.get_indexer(member["code"])
    k = member["cpts_id"].map(number_of).to_numpy()
    share = member["share"].astype(float).to_numpy()
    # the main owner of a unit: its largest share (then the first CPTS by id)
    order = np.lexsort((k, -share, pos))
    first = order[np.r_[True, pos[order][1:] != pos[order][:-1]]]
    owner[pos[first]] = k[first]
    counts = np.bincount(pos, minlength=len(units))
    split = (counts[pos] > 1) | (share < 1)
    shared = [[int(p), int(q), float(s)] for p, q, s in zip(pos[split], k[split], share[split])]
    return cpts, shared, owner



def _cities(codes: pd.Index) -> dict[str, dict]:
    """The cities given by arrondissement on the page: the positions of their units."""
    from cpts_geo.domain.codes import arrondissement_parent

    parent = arrondissement_parent()
    cities: dict[str, dict] = {}
    for p, code in enumerate(codes):
        city = parent.get(code)
        if city is not None:
            cities.setdefault(str(city), {"units": []})["units"].append(p)
    return cities



def editor_data(
    communes: gpd.GeoDataFrame,
    registry: pd.DataFrame | RegistryRead | CheckedRegistry | None = None,
    *,
    supply: pd.DataFrame | SupplyRead | None = None,
    costs: pd.DataFrame | None = None,
    costs_source: str | None = None,
    apl_year: int = 2023,
    tolerance: float | None = None,
    scale: float | None = None,
) -> dict:
    """The data embedded in the editor page: per-commune figures, rules evaluated, registry.

    Parameters
    ----------
    communes : GeoDataFrame
        The communes that can be picked (e.g. ``load_communes(region="32")``). A commune without
        geometry is listed on the page (it can be added to a draft from that list), not drawn.
    registry : DataFrame, path or CheckedRegistry, optional
        Existing CPTS, shown by stage, outlined and named. A table is checked against all the
        communes of France (against ``communes`` when it is a layer of the user's own): a CPTS
        may hold communes outside the page, counted « hors zone ». A city of the page that the
        registry gives by arrondissement (Paris, Lyon, Marseille) is drawn by arrondissement.
    supply : SupplyRead or DataFrame, optional
        A supply table (:func:`cpts_geo.io.supply.read_bpe`…). Only the rows of
        ``communes`` are counted; rows of other communes are not, but those of communes sharing
        a border with the page (found in the embedded layer of France) are embedded apart
        (``beyond``, and ``edge``: the outside neighbours of each commune) so that a draft
        touching them is told what its figures leave out. A supply with no row outside the page
        (``beyond["known"]`` false) says nothing beyond the page: a draft on its limit is told so.
    costs : DataFrame, optional
        Real travel times between communes (``origin``, ``destination``, ``minutes``; read by
        :func:`cpts_geo.io.costs.read_costs`), with ``supply``: the E2SFCA accessibility of
        each profession (:func:`cpts_geo.indicators.accessibility.accessibility` with
        ``costs=``, DREES bands, 20 minutes, per 10 000 inhabitants) is embedded (``access``)
        and shown for each draft, aggregated as the library aggregates it. The DREES APL keeps
        the DREES' own times.
    costs_source : str, optional
        How the page names those times (e.g. the file's name).
    apl_year : int, default 2023
        Year of the DREES APL (:func:`cpts_geo.data.apl.load_apl`).
    tolerance, scale : float, optional
        Simplification (metres) and quantisation (steps per degree) of the drawing; by
        default those of :func:`cpts_geo.render.maps.stage_map` (80 m and 10 000, or 300 m and
        5 000 above 10 000 communes, where the page also draws on a canvas).

    Returns
    -------
    dict
        JSON-ready (no NaN: a value that is not known is ``None``).
    """
    from cpts_geo.domain.crs import require_crs
    from cpts_geo.domain.stages import legend_stages

    require_crs(communes, "La couche des communes")
    if costs is not None and supply is None:
        raise ValueError("Les temps de trajet (costs=, --temps) servent à l'accessibilité E2SFCA des professionnels : "
                         "donnez aussi l'offre de soins (supply=, --offre). L'APL affiché est celui de la DREES, "
                         "calculé avec ses propres temps.")
    checked = None
    if registry is not None:
        from cpts_geo.domain.registry import CheckedRegistry, validate_registry

        checked = registry if isinstance(registry, CheckedRegistry) else \
            validate_registry(registry, _reference_layer(communes))
        communes = _page_units(communes, checked.membership["code"])
    communes = communes.sort_index()
    drawing = _drawing(communes, tolerance, scale)
    owner = np.full(len(communes), -1)
    shared: list[list] = []
    cpts: list[dict] = []
    outlines: dict = {"g": [], "of": [], "labels": {"zooms": {}, "min": 0, "max": 0}}
    member = None
    if checked is not None:
        member = _page_membership(checked.membership, communes)
        cpts, shared, owner = _registry_on_page(checked, member, communes.index)
        outlines = _outlines(drawing.simple, communes.index, member, cpts, drawing.bounds, drawing.origin,
                             drawing.scale)
    prof: dict = {"names": [], "counts": []}
    beyond: dict = {"rows": 0, "known": False, "c": [], "n": [], "r": [], "counts": []}
    edge: list[list[int]] = []
    access = None
    if supply is not None:
        from cpts_geo.indicators.supply import supply_table

        table = supply_table(supply)
        prof, beyond, edge = _supply_data(communes, table)
        if costs is not None:
            access = _access_data(communes, table, costs, costs_source)
    region = ""
    if "region_name" in communes.columns and communes["region_name"].nunique() == 1:
        region = str(communes["region_name"].iloc[0])
    legacy = "cpts-geo-editeur:" + (str(communes["region"].iloc[0]) if "region" in communes.columns
                                    and communes["region"].nunique() == 1 else f"{len(communes)}")
    return {
        "key": _content_key(communes.index, member), "legacyKey": legacy,
        "origin": list(drawing.origin), "scale": drawing.scale, "bounds": drawing.bounds, "region": region,
        "canvas": drawing.many, "pointScale": _POINT_SCALE,
        "communes": _communes_payload(communes, drawing, apl_year, owner, shared),
        "cities": _cities(communes.index.astype(str)),
        "cpts": cpts, "outlines": outlines,
        "stages": legend_stages([c["stage"] for c in cpts]) if cpts else list(STAGES), "colors": STAGE_COLORS,
        "vintage": layer_metadata(communes).population_vintage, "aplYear": apl_year, "professions": prof,
        "beyond": beyond, "edge": edge, "access": access, **_rules_and_reading(),
    }


class _Drawing(NamedTuple):
    """How the page draws its communes: simplified geometries, quantisation, first view."""

    simple: np.ndarray
    missing: np.ndarray
    origin: tuple[float, float]
    bounds: list[list[float]]
    scale: float
    many: bool


def _drawing(communes: gpd.GeoDataFrame, tolerance: float | None, scale: float | None) -> _Drawing:
    """The drawing of the page: as the stage map draws (80 m and 10 000 steps per degree, or
    300 m and 5 000 above :data:`_MANY` communes, drawn on a canvas)."""
    from cpts_geo.render.maps import _simplified

    many = len(communes) > _MANY
    tolerance = (300.0 if many else 80.0) if tolerance is None else float(tolerance)
    simple = _simplified(communes, tolerance)
    origin, bounds = _view(simple, communes.index.astype(str))
    return _Drawing(simple, shapely.is_missing(simple) | shapely.is_empty(simple), origin, bounds,
                    (5_000.0 if many else 10_000.0) if scale is None else float(scale), many)


def _communes_payload(communes: gpd.GeoDataFrame, drawing: _Drawing, apl_year: int, owner: np.ndarray,
                      shared: list[list]) -> dict:
    """The per-commune figures of the page (codes, names, population, department, area, APL
    sums, registry owner, neighbours, lasso points, geometries)."""
    from cpts_geo.render.maps import encode_geometries

    codes = communes.index.astype(str)
    gone = drawing.missing
    area = _metric_areas(communes)
    per_apl, _ = _apl_on_layer(communes, apl_year)
    pop = pd.to_numeric(communes["population"], errors="coerce")
    neighbours = _neighbours(communes)
    return {
        "c": list(codes), "n": communes["name"].astype(str).tolist(),
        "p": [None if pd.isna(v) else int(v) for v in pop],
        "d": communes["department"].astype(str).tolist() if "department" in communes.columns
        else [c[:2] for c in codes],
        "a": [None if g else round(float(v), 6) for v, g in zip(area, gone)],
        "wv": _json_floats(per_apl["wv"]), "w": _json_floats(per_apl["w"]),
        "o": owner.astype(int).tolist(), "sh": shared,
        "nb": _encoded_lists(neighbours),
        "sp": _split_communes(communes, neighbours),
        "pt": _encoded_points([None if g else p for p, g in zip(_points(communes), gone)], drawing.origin,
                              _POINT_SCALE),
        "g": encode_geometries(drawing.simple, drawing.origin, drawing.scale),
        "ng": [int(p) for p in np.flatnonzero(gone)],
    }


def _json_floats(values: pd.Series | np.ndarray) -> list[float | None]:
    """Floats for JSON: ``None`` where unknown."""
    return [None if pd.isna(v) else float(v) for v in values]


@functools.cache
def _formula_starts() -> tuple[str, ...]:
    """The characters that make a CSV cell a formula, read from
    :func:`cpts_geo.io.files.neutralise_text` itself (no list written here)."""
    from cpts_geo.io.files import neutralise_text

    return tuple(c for c in map(chr, range(128)) if neutralise_text(c + "x") != c + "x")


def _rules_and_reading() -> dict:
    """What the page's rules and its CSV import read, evaluated from their owners: tier
    breakpoints, funding maxima, formula starts, header rules, names of encodings and separators,
    the stage of a new draft, the page's texts."""
    from cpts_geo.domain.headers import ENCODING_NAMES, SEPARATOR_NAMES, header_rules

    return {
        "tiers": _tier_breakpoints(), "funding": _funding_maxima(), "per": 10_000,
        "formulaStart": list(_formula_starts()),
        "headers": header_rules("registry"), "encodings": {"utf-8": ENCODING_NAMES["utf-8"],
                                                           "utf-8-sig": ENCODING_NAMES["utf-8-sig"],
                                                           "utf-16": ENCODING_NAMES["utf-16"],
                                                           "windows-1252": ENCODING_NAMES["cp1252"]},
        "separators": SEPARATOR_NAMES,
        "newStage": STAGES[0], "text": _TEXT,
    }


def _access_layer(communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The communes the E2SFCA of the page is computed on: those within reach of the page in
    France's embedded layer (by arrondissement where the page is), or the page itself when it is a
    user's own layer."""
    from cpts_geo.data.communes import arrondissement_codes
    from cpts_geo.domain.codes import is_in
    from cpts_geo.domain.communes import load_communes
    from cpts_geo.indicators.accessibility import within_reach

    arm = is_in(communes.index, arrondissement_codes().index)
    france = load_communes(arrondissements=bool(arm.any()))
    if not is_in(communes.index, france.index).all():
        return communes
    return within_reach(communes.index, france)


def _access_data(communes: gpd.GeoDataFrame, supply: pd.DataFrame, costs: pd.DataFrame,
                 source: str | None) -> dict:
    """The E2SFCA accessibility of the page's communes with the user's travel times
    (:func:`cpts_geo.indicators.accessibility.accessibility`, ``costs=``, per 10 000 inhabitants),
    as ``vw`` (value × demand, per profession) and ``w`` (demand) for the page's weighted mean;
    the page's communes without a time are warned about (their value is unknown)."""
    import warnings

    from cpts_geo.domain.french import number
    from cpts_geo.errors import CptsGeoWarning
    from cpts_geo.indicators.accessibility import accessibility
    from cpts_geo.indicators.supply import supply_in

    near = _access_layer(communes)
    professions = sorted(set(supply["profession"].astype(str)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # about the communes around the page: the page's are said below
        acc = accessibility(supply_in(supply, near.index), near, costs=costs[["origin", "destination", "minutes"]],
                            professions=professions,
                            per=10_000, quiet=True)
    table = acc.table.reindex(communes.index.astype(str))
    demand = table["demand"]
    unknown = communes.index[table[professions].isna().all(axis=1).to_numpy()] if professions else communes.index[:0]
    if len(unknown):
        warnings.warn(f"{number(len(unknown))} commune(s) de la page sans temps de trajet dans la table fournie : "
                      "accessibilité E2SFCA inconnue, laissée hors des moyennes du panneau ("
                      + ", ".join(map(str, unknown[:10])) + (" …" if len(unknown) > 10 else "") + ").",
                      CptsGeoWarning, stacklevel=4)
    times = f"« {source} »" if source else "table fournie"
    return {"names": professions, "w": _json_floats(demand),
            "vw": [_json_floats(table[p] * demand) for p in professions],
            "title": f"Accessibilité E2SFCA (temps de trajet fournis : {times}, {number(len(costs))} paires ; "
                     f"20 min, pour 10 000 hab.)",
            "unknown": len(unknown)}


def perimeter_editor(
    communes: gpd.GeoDataFrame,
    registry: pd.DataFrame | RegistryRead | CheckedRegistry | None = None,
    path: str | Path = "editeur.html",
    *,
    supply: pd.DataFrame | SupplyRead | None = None,
    costs: pd.DataFrame | None = None,
    costs_source: str | None = None,
    title: str | None = None,
    apl_year: int = 2023,
) -> Path:
    """Write the perimeter editor page (one offline HTML file); return its path.

    Parameters
    ----------
    communes : GeoDataFrame
        The communes that can be picked (e.g. ``load_communes(region="32")``).
    registry : DataFrame, path or CheckedRegistry, optional
        Existing CPTS, shown by stage; taking one of their communes is recorded as a conflict.
    path : str or Path
        The HTML file written (atomically).
    supply : SupplyRead or DataFrame, optional
        Professionals (:func:`cpts_geo.io.supply.read_bpe`): counts and densities by
        profession in the panel, for the draft's communes. Read it against the communes of France
        (as ``cpts-geo editeur --offre`` does) for the panel to show, apart, the professionals of
        the neighbouring communes outside the page.
    costs : DataFrame, optional
        Real travel times (:func:`cpts_geo.io.costs.read_costs`), with ``supply``: the E2SFCA
        accessibility of each profession with those times in the panel (see :func:`editor_data`).
    costs_source : str, optional
        How the page names those times (e.g. the file's name).
    title : str, optional
        Page title (text).
    apl_year : int, default 2023
        DREES APL year.

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, os
    >>> from cpts_geo.domain.communes import load_communes
    >>> out = perimeter_editor(load_communes(departments="80"), None, os.path.join(tempfile.mkdtemp(), "e.html"))
    >>> "CptsEditor.start(" in out.read_text(encoding="utf-8")
    True
    """
    from cpts_geo.io.files import atomic_path

    data = editor_data(communes, registry, supply=supply, costs=costs, costs_source=costs_source, apl_year=apl_year)
    region = ""
    if "region_name" in communes.columns and communes["region_name"].nunique() == 1:
        region = str(communes["region_name"].iloc[0])
    title = str(title) if title else (f"{_TEXT['title']} — {region}" if region else _TEXT["title"])
    data["title"] = title
    page = editor_html(data)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path



def _inert(code: str, name: str, tag: str) -> Markup:
    """Our own script or style sheet, inserted as it is: refused if it could close its element."""
    from markupsafe import Markup

    if f"</{tag}" in code.lower():
        raise ValueError(f"{name} contient « </{tag} » : il fermerait son élément dans la page.")
    return Markup(code)


def editor_html(data: dict) -> str:
    """The editor page (HTML) for the data of :func:`editor_data`, from the Jinja2 template
    ``templates/editor.html`` (autoescaped).

    The title is escaped as text; the data go into a ``<script type="application/json">`` block as
    JSON whose ``<``, ``>``, ``&`` and ``'`` are written as ``\\u003c``… (a ``</script>`` in a user's
    text cannot close it); Leaflet, ``editor.js`` and the style sheets are inlined as they are.

    Parameters
    ----------
    data : dict
        The data of :func:`editor_data`, with a ``title``.

    Returns
    -------
    str
        The page.
    """
    from jinja2 import Environment, PackageLoader, select_autoescape

    from cpts_geo.render.maps import _leaflet, _static

    env = Environment(loader=PackageLoader("cpts_geo.render", "templates"), autoescape=select_autoescape(["html"]),
                      keep_trailing_newline=True)
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "separators": (",", ":"), "allow_nan": False,
                                         "sort_keys": False}
    leaflet_js, leaflet_css = _leaflet()
    styles = [_inert(leaflet_css, "leaflet.css", "style"), _inert(_static("cpts_map.css"), "cpts_map.css", "style"),
              _inert(_static("editor.css"), "editor.css", "style")]
    scripts = [_inert(leaflet_js, "leaflet.js", "script"), _inert(_static("editor.js"), "editor.js", "script")]
    return env.get_template("editor.html").render(title=data.get("title", _TEXT["title"]), styles=styles,
                                                  scripts=scripts, data=data)
