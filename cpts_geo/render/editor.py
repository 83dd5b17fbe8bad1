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
lies inside the drawn ring (even-odd rule, the page's ``cptsPointInPolygon``).

**Same figures as the library.** The page does no rule of its own: it sums per-commune figures
that Python computed and embedded (population of the layer, area of each commune in its metric
CRS, APL × standardised population and standardised population of the DREES rows remapped to the
layer's codes by :func:`cpts_geo.domain.history.remap_codes`, professionals by
:func:`cpts_geo.indicators.supply.supply_on_layer`), and it reads the tier from the population
breakpoints of :func:`cpts_geo.domain.tiers.tier_of` and the funding maximum from
:func:`cpts_geo.domain.funding.aci_funding`, both evaluated here. The tests compare the panel with the
library to the unit. Contiguity uses the commune adjacency of
:func:`cpts_geo.domain.communes.adjacency` restricted to shared borders (communes touching at a single
point do not join: the library counts such a territory in two parts).

**One commune, one CPTS.** A commune already in a registry CPTS or another draft is shown as such;
taking it is an explicit action (« Prendre quand même ») recorded in the draft as a conflict.

**Nothing lost.** Drafts persist in the browser's ``localStorage`` (a reload loses nothing) and
export as a registry CSV for French Excel (``;``, UTF-8 with BOM) that ``cpts-geo valider``
accepts as is; importing that CSV restores the drafts. User text is always inserted as text.
"""

from __future__ import annotations

import functools
import html
import json
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cpts_geo.domain.metadata import layer_metadata
from cpts_geo.domain.stages import STAGE_COLORS, STAGES

__all__ = [
    "editor_data",
    "perimeter_editor",
]

if TYPE_CHECKING:
    from cpts_geo.indicators.supply import SupplyRead


_TEXT = {
    "title": "Éditeur de périmètres de CPTS",
    "drafts": "Brouillons", "new_draft": "Nouveau brouillon", "draft": "Brouillon",
    "name": "Nom", "delete": "Supprimer ce brouillon", "communes": "Communes",
    "population": "Population", "tier": "Taille", "funding": "Financement ACI maximal (par an)",
    "area": "Superficie", "departments": "Départements", "contiguity": "Continuité",
    "one_piece": "d'un seul tenant", "pieces": "en {n} morceaux", "apl": "APL médecins généralistes",
    "apl_unit": "consultations par habitant et par an", "apl_unknown": "communes sans APL",
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
    "imported": "{n} brouillon(s) importé(s).", "import_problems": "Lignes ignorées",
    "unknown_code": "code inconnu dans cette carte", "hint": "Cliquez une commune pour l'ajouter au "
    "brouillon actif ou l'en retirer ; ou entourez des communes au lasso (boutons « Lasso », ou Maj + glisser ; "
    "Maj + Alt + glisser pour retirer).", "layer_registry": "CPTS existantes (par étape)",
    "mode_click": "Clic", "mode_lasso_add": "Lasso : ajouter", "mode_lasso_remove": "Lasso : retirer",
    "lasso_hint": "Appuyez et glissez pour entourer des communes (leur point intérieur compte) ; "
    "la carte se déplace alors au clavier ou en mode « Clic ».",
    "lasso_added": "Lasso : {n} commune(s) ajoutée(s)", "lasso_already": "{n} déjà dans ce brouillon",
    "lasso_pending": "{n} déjà dans une autre CPTS ou un autre brouillon, à confirmer",
    "lasso_removed": "Lasso : {n} commune(s) retirée(s) du brouillon.",
    "taken_many": "{n} communes entourées appartiennent déjà à une autre CPTS ou à un autre brouillon :",
    "layer_drafts": "Brouillons", "free": "sans CPTS", "stage": "Étape",
}


_SHARED_BORDER = "****1****"  # DE-9IM: the boundaries of two communes meet along a line



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
    from cpts_geo.domain.codes import department_of
    from cpts_geo.domain.history import remap_codes

    apl = load_apl(year)
    deps = set(communes["department"]) if "department" in communes.columns else set(department_of(
        pd.Series(communes.index)))
    local = apl[department_of(pd.Series(apl.index, index=apl.index)).isin(deps).to_numpy()]
    mapped, _ = remap_codes(pd.Series(local.index, index=local.index), communes=communes, plm="city")
    rows = pd.DataFrame({"code": local.index, "layer_code": mapped.to_numpy(),
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



def _outside_neighbours(communes: gpd.GeoDataFrame) -> pd.DataFrame:
    """Communes outside the page sharing a border with one of its communes (France's embedded
    layer, as :func:`_neighbours` counts a neighbour): ``position`` (in the page), ``code``,
    ``name``, ``region_name`` of the outside commune.
    """
    from cpts_geo.domain.communes import load_communes

    france = load_communes()
    others = france[~france.index.isin(communes.index)]
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
    from cpts_geo.indicators.supply import supply_on_layer

    codes = communes.index.astype(str)
    table, rest = supply, supply.iloc[:0]
    if isinstance(supply, pd.DataFrame) and "code" in supply.columns:
        inside = supply["code"].astype(str).isin(codes).to_numpy()
        table, rest = supply[inside], supply[~inside]
    counts = supply_on_layer(table, communes.index)
    names = [str(c) for c in counts.columns]
    prof = {"names": names, "counts": [[float(v) for v in counts[c].to_numpy()] for c in counts.columns]}
    beyond: dict = {"rows": len(rest), "known": bool(len(rest)), "c": [], "n": [], "r": [], "counts": []}
    edge: list[list[int]] = [[] for _ in range(len(communes))]
    near = _outside_neighbours(communes)
    if len(rest):
        kept = sorted(set(near["code"]))
        counted = rest[rest["profession"].astype(str).isin(names) & rest["code"].astype(str).isin(kept)]
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



def editor_data(
    communes: gpd.GeoDataFrame,
    registry=None,
    *,
    supply: pd.DataFrame | SupplyRead | None = None,
    apl_year: int = 2023,
    tolerance: float = 80.0,
    scale: float = 10_000.0,
) -> dict:
    """The data embedded in the editor page: per-commune figures, rules evaluated, registry.

    Parameters
    ----------
    communes : GeoDataFrame
        The communes that can be picked (e.g. ``load_communes(region="32")``).
    registry : DataFrame, path or CheckedRegistry, optional
        Existing CPTS, shown by stage (validated against ``communes``).
    supply : SupplyRead or DataFrame, optional
        A supply table (:func:`cpts_geo.io.supply.read_bpe`…). Only the rows of
        ``communes`` are counted; rows of other communes are not, but those of communes sharing
        a border with the page (found in the embedded layer of France) are embedded apart
        (``beyond``, and ``edge``: the outside neighbours of each commune) so that a draft
        touching them is told what its figures leave out. A supply with no row outside the page
        (``beyond["known"]`` false) says nothing beyond the page: a draft on its limit is told so.
    apl_year : int, default 2023
        Year of the DREES APL (:func:`cpts_geo.data.apl.load_apl`).
    tolerance, scale
        Simplification (metres) and quantisation (steps per degree) of the drawing.

    Returns
    -------
    dict
        JSON-ready.
    """
    from cpts_geo.domain.crs import require_crs, split_by_metric_crs
    from cpts_geo.render.maps import _simplified, encode_geometries

    require_crs(communes, "La couche des communes")
    communes = communes.sort_index()
    codes = communes.index.astype(str)
    simple = _simplified(communes, tolerance)
    minx, miny, maxx, maxy = shapely.total_bounds(simple)
    origin = (round(float(minx), 4), round(float(miny), 4))
    # area of each commune in its metric CRS, as build_territories measures a territory
    area = np.zeros(len(communes))
    for crs, sel in split_by_metric_crs(communes.index).items():
        area[sel] = communes.geometry.iloc[sel].to_crs(crs).area.to_numpy() / 1e6
    per_apl, _ = _apl_on_layer(communes, apl_year)
    owner = pd.Series(-1, index=communes.index)
    cpts = []
    if registry is not None:
        from cpts_geo.domain.registry import CheckedRegistry, validate_registry

        checked = registry if isinstance(registry, CheckedRegistry) else validate_registry(registry, communes)
        member = checked.membership[checked.membership["code"].isin(communes.index)]
        ids = sorted(set(member["cpts_id"]))
        for n, cid in enumerate(ids):
            rec = checked.cpts.loc[cid]
            stage = rec.get("stage")
            cpts.append({"id": str(cid), "name": str(rec.get("name", cid)),
                         "stage": None if pd.isna(stage) else str(stage)})
            owner.loc[member.loc[member["cpts_id"] == cid, "code"].to_numpy()] = n
    prof: dict = {"names": [], "counts": []}
    beyond: dict = {"rows": 0, "known": False, "c": [], "n": [], "r": [], "counts": []}
    edge: list[list[int]] = []
    if supply is not None:
        from cpts_geo.indicators.supply import supply_table

        prof, beyond, edge = _supply_data(communes, supply_table(supply))
    vintage = layer_metadata(communes).population_vintage
    pop = pd.to_numeric(communes["population"], errors="coerce")
    return {
        "key": "cpts-geo-editeur:" + (str(communes["region"].iloc[0]) if "region" in communes.columns
                                      and communes["region"].nunique() == 1 else f"{len(communes)}"),
        "origin": list(origin), "scale": scale,
        "bounds": [[float(miny), float(minx)], [float(maxy), float(maxx)]],
        "communes": {
            "c": list(codes), "n": communes["name"].astype(str).tolist(),
            "p": [None if pd.isna(v) else int(v) for v in pop],
            "d": communes["department"].astype(str).tolist() if "department" in communes.columns
            else [c[:2] for c in codes],
            "a": [round(float(v), 6) for v in area],
            "wv": [None if pd.isna(v) else float(v) for v in per_apl["wv"]],
            "w": [None if pd.isna(v) else float(v) for v in per_apl["w"]],
            "o": owner.astype(int).tolist(),
            "nb": _neighbours(communes),
            "pt": _points(communes),
            "g": encode_geometries(simple, origin, scale),
        },
        "cpts": cpts, "stages": list(STAGES), "colors": STAGE_COLORS,
        "tiers": _tier_breakpoints(), "funding": _funding_maxima(),
        "vintage": vintage, "aplYear": apl_year, "professions": prof, "beyond": beyond, "edge": edge,
        "per": 10_000, "formulaStart": ["=", "+", "-", "@", "\t", "\r"],
        "newStage": STAGES[0], "text": _TEXT,
    }



def perimeter_editor(
    communes: gpd.GeoDataFrame,
    registry=None,
    path: str | Path = "editeur.html",
    *,
    supply: pd.DataFrame | SupplyRead | None = None,
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
    >>> "cptsEditor(" in out.read_text(encoding="utf-8")
    True
    """
    from cpts_geo.io.files import atomic_path
    from cpts_geo.render.maps import _leaflet, _static

    data = editor_data(communes, registry, supply=supply, apl_year=apl_year)
    region = ""
    if "region_name" in communes.columns and communes["region_name"].nunique() == 1:
        region = str(communes["region_name"].iloc[0])
    title = str(title) if title else (f"{_TEXT['title']} — {region}" if region else _TEXT["title"])
    data["title"] = title
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False) \
        .replace("<", "\\u003c")
    leaflet_js, leaflet_css = _leaflet()
    page = "".join([
        '<!DOCTYPE html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>{html.escape(title)}</title>\n",
        f"<style>{leaflet_css}</style>\n<style>{_static('cpts_map.css')}</style>\n",
        f"<style>{_static('editor.css')}</style>\n",
        f"<script>{leaflet_js}</script>\n<script>{_static('cpts_map.js')}</script>\n",
        f"<script>{_static('editor.js')}</script>\n</head>\n<body>\n",
        '<div id="cpts-editor"><div id="cpts-editor-map"></div><aside id="cpts-editor-panel"></aside></div>\n',
        f'<script type="application/json" id="cpts-editor-data">{payload}</script>\n',
        "<script>cptsEditor(JSON.parse(document.getElementById('cpts-editor-data').textContent));</script>\n",
        "</body>\n</html>\n",
    ])
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
