"""Interactive regional maps: self-contained HTML, readable offline.

:func:`stage_map` draws every CPTS coloured by project stage (ordered, colour-blind-safe
palette of :data:`cpts_geo.domain.stages.STAGE_COLORS`, legend in stage order; in the registry's own
words when it has its own vocabulary), or by tier, by an indicator, or each CPTS in a colour
distinct from its neighbours' (the default when no stage is given; see
:func:`cpts_geo.render.style.territory_fill`, shared with the print map), uncovered communes
("zones blanches") in grey with a dashed border, commune borders lighter than CPTS borders,
department borders, the CPTS labels, a layer control, optional indicator layers (choropleths
classed by :func:`cpts_geo.render.style.classify`), a search box for communes, full-screen and print
buttons, a title and a caption with the sources and vintages.

**What the mouse shows.** Hovering a CPTS shows the CPTS: name, stage, tier, population with
its vintage, number of communes and the ACI funding maximum of its tier
(:func:`cpts_geo.domain.funding.aci_funding`). Communes never hide it: at regional zoom they only draw
their borders, a click on a CPTS tells the commune under the mouse; from two zoom levels
closer on, communes answer the mouse themselves (with their CPTS). Each visible layer has its
own legend (the stage legend hides with the stage layer).

**Labels.** Each CPTS is labelled inside its territory, placed for every zoom level in Python by
:func:`cpts_geo.render.labels.place_labels` (greedy placement with collision boxes; a short number,
listed under the legend, where a name does not fit).

**Offline.** The page needs no network: Leaflet's JavaScript and CSS are inlined from the
installed ``xstatic-leaflet`` package, and the map code is our own small script
(``cpts_geo/render/static/cpts_map.js``). A background map (``fond=``, see :data:`FONDS`) is optional
and shows only when online; everything else works without it.

**Small and fast.** The communes form a clean coverage: they are simplified together with
:func:`shapely.coverage_simplify` in the metric CRS (neighbours keep identical borders); for the
embedded communes that simplification of all of France is precomputed (the vertices it keeps,
``data/communes/simplified.parquet``) and only applied here. CPTS,
departments and zones blanches are dissolved from the simplified communes, then coordinates are
quantised on a grid of 1/``scale`` degree and written, in one vectorised pass
(:func:`encode_geometries`), as delta-encoded variable-length integers in printable characters.
Beyond 10 000 communes (all of France) the communes are drawn only from zoom 9 on, and only
those in view.

**Safe and deterministic.** Names and every other user text are inserted as text
(``textContent``), never as HTML or as a template; the embedded JSON cannot close its
``<script>``. The same input gives the same bytes (no random identifier). No personal data is
written: only CPTS (name, stage, tier, population, communes) and communes (name, code,
population).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple, cast

import folium
import geopandas as gpd
import jinja2
import numpy as np
import pandas as pd
import shapely

from cpts_geo.domain.codes import is_in
from cpts_geo.domain.french import fold, number
from cpts_geo.domain.metadata import layer_metadata
from cpts_geo.render.style import (
    SHARED_BORDER,
    SHARED_LABEL,
    UNCOVERED_BORDER,
    UNCOVERED_COLOR,
    TerritoryFill,
    classify,
    french_number,
    legend_options,
    map_membership,
    shared_text,
    shared_units,
    territory_fill,
    vocabulary_caption,
)

__all__ = [
    "FONDS",
    "encode_geometries",
    "encode_geometry",
    "indicator_layer",
    "save_map",
    "stage_map",
]

_IGN_WMTS = ("https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
             "&STYLE=normal&TILEMATRIXSET=PM&FORMAT={fmt}&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}")


#: Named background maps (``fond=`` / ``--fond``): name → (label, URL template, attribution).
FONDS = {
    "osm": ("OpenStreetMap", "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            "© les contributeurs d'OpenStreetMap (ODbL)"),
    "ign-plan": ("IGN Plan", _IGN_WMTS.format(layer="GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2", fmt="image/png"),
                 "© IGN – Géoplateforme, Plan IGN"),
    "ign-ortho": ("IGN Orthophotos", _IGN_WMTS.format(layer="ORTHOIMAGERY.ORTHOPHOTOS", fmt="image/jpeg"),
                  "© IGN – Géoplateforme, orthophotographies"),
}


_FOND_ALIASES = {"openstreetmap": "osm", "geoportailfrance.plan": "ign-plan", "plan": "ign-plan",
                 "geoportailfrance.orthos": "ign-ortho", "ortho": "ign-ortho"}


_TEXT = {
    "stage": "Étape", "tier": "Taille", "population": "Population", "n_communes": "Communes",
    "funding": "Financement ACI maximal", "per_year": "€ par an",
    "id": "Identifiant", "code": "Code INSEE", "cpts": "CPTS", "uncovered": "Zone blanche (non couverte)",
    "legend_title": "Étape du projet de CPTS", "search": "Chercher une commune…",
    "layer_cpts": "CPTS par étape", "layer_outlines": "Limites des CPTS", "layer_communes": "Communes",
    "layer_uncovered": "Communes non couvertes", "layer_departments": "Départements",
    "layer_labels": "Noms des CPTS", "missing": "non disponible", "numbers": "Numéros des CPTS sur la carte",
    "fullscreen": "Plein écran", "print": "Imprimer", "commune_hint": "Commune sous la souris : cliquez",
    "zoom_hint": "communes à partir d'un zoom plus proche", "fond": "Fond de carte (en ligne)",
    "shared": SHARED_LABEL, "shared_title": "commune partagée",
}



def _static(name: str) -> str:
    return (resources.files("cpts_geo.render") / "static" / name).read_text(encoding="utf-8")



def _leaflet() -> tuple[str, str]:
    try:
        import xstatic.pkg.leaflet as xleaflet
    except ImportError as err:  # pragma: no cover - a dependency of the package
        raise ImportError("Le paquet xstatic-leaflet est requis pour les cartes hors ligne : "
                          "pip install xstatic-leaflet") from err
    base = Path(xleaflet.BASE_DIR)
    css = re.sub(r"url\(images/[^)]*\)", "none", (base / "leaflet.css").read_text(encoding="utf-8"))
    return (base / "leaflet.js").read_text(encoding="utf-8"), css



class _Raw(folium.Element):
    """Text written into the page as it is, never read as a template (quick for large texts):
    the one template of the class inserts it as a value, which Jinja2 never parses."""

    _template = jinja2.Template("{{ this.text }}")

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text



class _DataScript(folium.MacroElement):
    """The script calling ``CptsMap.start`` with the map's data (``payload``, JSON text)."""

    payload: str = ""

    def render(self, **kwargs: Any) -> str:
        """Add the call to the page's script (then render the children, as folium does)."""
        root = cast(folium.Figure, self.get_root())
        parent = cast(folium.Map, self._parent)
        root.script.add_child(_Raw(f"\nCptsMap.start({parent.get_name()}, {self.payload});"), name=self.get_name())
        super().render(**kwargs)
        return ""



def _raw_element(tag: str, text: str) -> folium.Element:
    """An inline <script> or <style>, written as it is."""
    return _Raw(f"<{tag}>{text}</{tag}>")



def _inert(text: str) -> str:
    """User text for an HTML context that branca also renders as a Jinja template."""
    return html.escape(str(text)).replace("{", "&#123;").replace("}", "&#125;").replace("%", "&#37;")



def _json_payload(data: object) -> str:
    # "<" cannot close the script, "%" and braces cannot open or close a template block
    return (json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            .replace("<", "\\u003c").replace("%", "\\u0025").replace("{{", "{\\u007b"))


# --- geometry encoding -----------------------------------------------------------------------

def _varint_chars(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zigzag then variable-length encoding of signed integers in characters 63–126.

    Returns the characters (uint8) and the number of characters of each value.
    """
    v = values.astype(np.int64)
    z = ((v << 1) ^ (v >> 63)).astype(np.uint64)
    nchars = np.ones(len(z), dtype=np.int64)
    rest = z >> np.uint64(5)
    while rest.any():
        nchars += rest > 0
        rest >>= np.uint64(5)
    starts = np.concatenate([[0], np.cumsum(nchars)[:-1]])
    out = np.empty(int(nchars.sum()), dtype=np.uint8)
    for j in range(int(nchars.max()) if len(nchars) else 0):
        sel = nchars > j
        chunk = (z[sel] >> np.uint64(5 * j)) & np.uint64(0x1F)
        more = (nchars[sel] - 1 > j).astype(np.uint64) * np.uint64(0x20)
        out[starts[sel] + j] = (chunk | more) + np.uint64(63)
    return out, nchars



def encode_geometries(geoms: Sequence[shapely.Geometry | None] | np.ndarray, origin: tuple[float, float],
                      scale: float) -> list[list[list[str]]]:
    """Encode many (multi)polygons at once: for each, a list of polygons of ring strings.

    Coordinates are quantised to ``round((x - origin) * scale)``; each ring stores its first
    point then the differences, zigzag-encoded in printable characters (the decoder is in
    ``cpts_map.js``). Consecutive repeated points are dropped; a ring left with fewer than 3
    points is dropped (a polygon whose exterior collapses is dropped whole). Vectorised with
    numpy: no Python loop over coordinates.

    Parameters
    ----------
    geoms : array-like of shapely geometries
        Polygons or multipolygons (None or empty allowed).
    origin : tuple of float
        ``(x0, y0)`` subtracted before quantising.
    scale : float
        Quantisation steps per unit of the coordinates.

    Returns
    -------
    list
        For each geometry, a list of polygons, each a list of ring strings (exterior first).

    Examples
    --------
    >>> encode_geometries([shapely.box(0, 0, 1, 1), None], (0.0, 0.0), 10)
    [[['S??SR??R']], []]
    """
    geoms = np.asarray(geoms, dtype=object)
    return _encode_rings(_rings_of(geoms), len(geoms), origin, scale)



class _Rings(NamedTuple):
    """Polygon rings as flat arrays (the layout of GeoArrow), each ring without its closing point."""

    xy: np.ndarray  # (n, 2) coordinates
    ring: np.ndarray  # ring number of each coordinate (0, 1, 2… in order)
    ring_part: np.ndarray  # polygon number of each ring; a polygon's first ring is its exterior
    part_geom: np.ndarray  # geometry number of each polygon



def _rings_of(geoms: np.ndarray) -> _Rings:
    """The rings of (multi)polygons; missing and empty geometries have none."""
    present = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    parts, part_geom = shapely.get_parts(geoms[present], return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    closing = np.r_[ring_of[1:] != ring_of[:-1], True] if len(ring_of) else np.zeros(0, dtype=bool)
    return _Rings(xy[~closing], ring_of[~closing], ring_part, present[part_geom])



def _encode_rings(r: _Rings, n_geoms: int, origin: tuple[float, float], scale: float) -> list[list[list[str]]]:
    """:func:`encode_geometries` from the rings of ``n_geoms`` geometries."""
    out: list[list[list[str]]] = [[] for _ in range(n_geoms)]
    n_rings = len(r.ring_part)
    if not n_rings:
        return out
    is_ext = np.r_[True, r.ring_part[1:] != r.ring_part[:-1]]
    ring_of = r.ring
    q = np.round((r.xy - np.asarray(origin)) * scale).astype(np.int64)
    first = np.r_[True, ring_of[1:] != ring_of[:-1]]
    keep = first | np.any(q != np.roll(q, 1, axis=0), axis=1)
    q, ring_of, first = q[keep], ring_of[keep], first[keep]
    counts = np.bincount(ring_of, minlength=n_rings)
    ok_ring = counts >= 3
    d = q.copy()
    d[~first] = q[~first] - q[np.flatnonzero(~first) - 1]
    chars, nchars = _varint_chars(d.ravel())
    per_point = nchars.reshape(-1, 2).sum(axis=1)
    ring_chars = np.bincount(ring_of, weights=per_point, minlength=n_rings).astype(np.int64)
    ends = np.cumsum(ring_chars)
    starts = ends - ring_chars
    text = chars.tobytes().decode("ascii")
    # a ring is written if it keeps 3 points and so does its polygon's exterior
    poly_of = np.cumsum(is_ext) - 1
    poly_ok = ok_ring[is_ext]
    written = ok_ring & poly_ok[poly_of]
    strings = [text[a:b] for a, b in zip(starts[written].tolist(), ends[written].tolist())]
    n_rings_of = np.bincount(poly_of[written], minlength=len(poly_ok))[poly_ok]
    if (n_rings_of == 1).all():
        polys = [[t] for t in strings]
    else:
        bounds = np.cumsum(n_rings_of).tolist()
        polys = [strings[a:b] for a, b in zip([0, *bounds[:-1]], bounds)]
    for g, poly in zip(r.part_geom[r.ring_part[is_ext]][poly_ok].tolist(), polys):
        out[g].append(poly)
    return out



def encode_geometry(geom: shapely.Geometry | None, origin: tuple[float, float], scale: float) -> list[list[str]]:
    """Encode one (multi)polygon as a list of polygons, each a list of ring strings.

    See :func:`encode_geometries`.

    Parameters
    ----------
    geom : shapely geometry
        A polygon or multipolygon.
    origin : tuple of float
        ``(x0, y0)`` subtracted before quantising.
    scale : float
        Quantisation steps per unit of the coordinates.

    Returns
    -------
    list of list of str
        The polygons, each a list of ring strings (exterior first).

    Examples
    --------
    >>> encode_geometry(shapely.box(0, 0, 1, 1), (0.0, 0.0), 10)
    [['S??SR??R']]
    """
    return encode_geometries([geom], origin, scale)[0]



def _quantised_bounds(geoms: np.ndarray, origin: tuple[float, float], scale: float) -> list[list[int]]:
    b = shapely.bounds(np.asarray(geoms, dtype=object))
    q = np.round((b - np.r_[origin, origin]) * scale)
    q = np.nan_to_num(q, nan=0).astype(np.int64)
    return q.tolist()


#: Tolerances (metres) whose simplification of the embedded communes is precomputed in
#: ``simplified.parquet`` (regional maps and the editor: 80; all of France: 300).
PRECOMPUTED_TOLERANCES = (80.0, 300.0)


_SIMPLIFIED_FILE = "simplified.parquet"



def _simplify_metric(communes: gpd.GeoDataFrame, tolerance: float,
                     ) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Simplify the commune coverage in its metric CRS, one group per metric CRS.

    Yields ``(crs, selection, metric, present, simplified)``: the boolean selection of the
    group's rows, their metric geometries, which of them have a geometry, and those geometries
    after :func:`shapely.coverage_simplify` (neighbours keep identical borders).
    """
    from cpts_geo.domain.codes import department_of
    from cpts_geo.domain.crs import metric_crs_of

    crs_of = department_of(pd.Series(communes.index)).map(metric_crs_of).to_numpy()
    for crs in pd.unique(crs_of):
        sel = crs_of == crs
        metric = communes.geometry[sel].to_crs(crs).to_numpy()
        present = ~(shapely.is_missing(metric) | shapely.is_empty(metric))
        simplified = shapely.coverage_simplify(metric[present], tolerance) \
            if tolerance > 0 and present.any() else metric[present]
        yield crs, sel, metric, present, simplified



def _simplified(communes: gpd.GeoDataFrame, tolerance: float) -> np.ndarray:
    """Simplify the commune coverage in its metric CRS, return EPSG:4326 geometries.

    Mainland France and each overseas department are simplified in their own projection.
    Communes without geometry stay empty (the map's caption lists them). When the communes
    are the embedded ones (same codes, identical EPSG:4326 geometries) and ``tolerance`` is one
    of :data:`PRECOMPUTED_TOLERANCES`, the vertices kept by the simplification of all of France
    are read from the embedded data instead (``data/communes/build_simplified.py``): the same
    algorithm, computed once.
    """
    return _simplified_and_rings(communes, tolerance)[0]



def _simplified_and_rings(communes: gpd.GeoDataFrame, tolerance: float) -> tuple[np.ndarray, _Rings | None]:
    """:func:`_simplified`, with the rings of the result when they come precomputed (else None)."""
    rings = _precomputed_rings(communes, tolerance)
    if rings is not None:
        return _polygons_of(rings, communes.geometry.to_numpy()), rings
    out = np.empty(len(communes), dtype=object)
    for crs, sel, metric, present, simplified in _simplify_metric(communes, tolerance):
        geoms = metric.copy()
        geoms[present] = simplified
        out[sel] = gpd.GeoSeries(geoms, crs=crs).to_crs("EPSG:4326").to_numpy()
    return out, None



def _kept_vertices(original: np.ndarray, simplified: np.ndarray) -> np.ndarray:
    """Which coordinates of ``original`` (in :func:`shapely.get_coordinates` order) ``simplified`` keeps.

    ``simplified`` must have the structure of ``original`` (same parts and rings, as
    :func:`shapely.coverage_simplify` gives) and only vertices of it. Each ring's closing
    coordinate is marked ``False`` (:func:`_keep_vertices` closes the rings again).

    Examples
    --------
    >>> square = shapely.Polygon([(0, 0), (1, 0), (2, 0), (2, 2), (0, 2)])
    >>> _kept_vertices(np.array([square]), np.array([shapely.Polygon([(0, 0), (2, 0), (2, 2), (0, 2)])]))
    array([ True, False,  True,  True,  True, False])
    """
    def rings_and_coords(geoms: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        parts = shapely.get_parts(geoms)
        rings = shapely.get_rings(parts)
        return rings, shapely.get_coordinates(rings, return_index=True)

    rings_o, (xy_o, ring_o) = rings_and_coords(original)
    rings_s, (xy_s, ring_s) = rings_and_coords(simplified)
    if len(rings_o) != len(rings_s):
        raise ValueError("la simplification a changé le nombre d'anneaux")
    key_o = pd.MultiIndex.from_arrays([ring_o, xy_o[:, 0], xy_o[:, 1]])
    key_s = pd.MultiIndex.from_arrays([ring_s, xy_s[:, 0], xy_s[:, 1]])
    closing = np.r_[ring_o[1:] != ring_o[:-1], True]
    keep = key_o.isin(key_s) & ~closing
    expected = np.bincount(ring_s, minlength=len(rings_s)) - 1
    if not np.array_equal(np.bincount(ring_o, weights=keep, minlength=len(rings_o)), expected):
        raise ValueError("les sommets gardés ne se retrouvent pas un à un dans la géométrie d'origine")
    return keep



def _keep_vertices(geoms: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Rebuild ``geoms`` (polygons, multipolygons or missing) with the coordinates ``keep`` marks.

    ``keep`` follows :func:`shapely.get_coordinates` of ``geoms`` (see :func:`_kept_vertices`);
    rings are closed again. Vectorised: no Python loop over geometries.

    Examples
    --------
    >>> square = shapely.Polygon([(0, 0), (1, 0), (2, 0), (2, 2), (0, 2)])
    >>> _keep_vertices(np.array([square, None]), np.array([1, 0, 1, 1, 1, 0], dtype=bool))[0].wkt
    'POLYGON ((0 0, 2 0, 2 2, 0 2, 0 0))'
    """
    geoms = np.asarray(geoms, dtype=object)
    present = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    parts, part_geom = shapely.get_parts(geoms[present], return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    return _polygons_of(_Rings(xy[keep], ring_of[keep], ring_part, present[part_geom]), geoms)



def _polygons_of(r: _Rings, like: np.ndarray) -> np.ndarray:
    """Geometries from rings, each of the type of its twin in ``like`` (which also gives the
    geometries without rings: missing or empty)."""
    out = np.asarray(like, dtype=object).copy()
    if not len(r.ring_part):
        return out
    polys = shapely.polygons(shapely.linearrings(r.xy, indices=r.ring), indices=r.ring_part)
    multi = shapely.get_type_id(out) == shapely.GeometryType.MULTIPOLYGON
    single = ~multi[r.part_geom]
    out[r.part_geom[single]] = polys[single]
    if not single.all():
        owners, compact = np.unique(r.part_geom[~single], return_inverse=True)
        out[owners] = shapely.multipolygons(polys[~single], indices=compact)
    return out



@lru_cache(maxsize=1)
def _vertex_flags() -> dict[str, np.ndarray] | None:
    """The embedded ``simplified.parquet`` (column → flags), or None when absent.

    One row per coordinate of the embedded communes (``communes.parquet``, in
    :func:`shapely.get_coordinates` order): ``ring_start`` and ``polygon_start`` (the first
    coordinate of a ring, of a polygon), ``keep_<tolerance>`` (vertex kept by the simplification).
    """
    import pyarrow.parquet as pq

    from cpts_geo.data.communes import data_file

    path = data_file(_SIMPLIFIED_FILE)
    if not path.exists():
        return None
    table = pq.read_table(path)
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}



def _precomputed_rings(communes: gpd.GeoDataFrame, tolerance: float) -> _Rings | None:
    """The rings of the precomputed simplification of ``communes``, or None if they are not the
    embedded communes (same codes, identical EPSG:4326 geometries) or ``tolerance`` was not
    precomputed."""
    if float(tolerance) not in PRECOMPUTED_TOLERANCES or communes.crs is None \
            or not communes.crs.equals("EPSG:4326"):
        return None
    flags = _vertex_flags()
    column = f"keep_{float(tolerance):g}"
    if flags is None or column not in flags:
        return None
    from cpts_geo.data.communes import read_embedded
    from cpts_geo.domain.communes import embedded_rows

    counts = shapely.get_num_coordinates(read_embedded("communes.parquet").geometry.to_numpy())
    base = communes.geometry.to_numpy()  # identical to the embedded geometries, checked here
    pos = embedded_rows(communes.index, base, communes.crs)
    if (pos < 0).any() or int(counts.sum()) != len(flags[column]):
        return None
    # the flags of the chosen communes' coordinates, in their order
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[pos]
    lengths = counts[pos]
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    rows = np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))
    ring_start, polygon_start, keep = (flags[name][rows] for name in ("ring_start", "polygon_start", column))
    ring = np.cumsum(ring_start) - 1
    ring_part = np.cumsum(polygon_start[ring_start]) - 1
    part_geom = np.repeat(np.arange(len(base)), lengths)[polygon_start]
    if len(part_geom) != int(shapely.get_num_geometries(base).sum()):  # pragma: no cover - checked by the tests
        return None
    return _Rings(shapely.get_coordinates(base)[keep], ring[keep], ring_part, part_geom)



def _precomputed_simplified(communes: gpd.GeoDataFrame, tolerance: float) -> np.ndarray | None:
    """The precomputed simplification of ``communes``, or None (see :func:`_precomputed_rings`)."""
    rings = _precomputed_rings(communes, tolerance)
    if rings is None:
        return None
    return _polygons_of(rings, communes.geometry.to_numpy())





# --- background maps ------------------------------------------------------------------------

def _fond(fond: str | None, attribution: str | None) -> dict | None:
    """Check a background map: a name of :data:`FONDS` or a ``{z}/{x}/{y}`` URL with attribution."""
    if fond is None or str(fond).strip() == "":
        return None
    key = str(fond).strip()
    name = _FOND_ALIASES.get(key.lower(), key.lower())
    if name in FONDS:
        label, url, attr = FONDS[name]
        return {"name": label, "url": url, "attribution": attribution or attr}
    if not re.match(r"^https?://", key):
        raise ValueError(f"Fond de carte « {fond} » inconnu : choisissez parmi {', '.join(FONDS)} "
                         "ou donnez une adresse de tuiles https://…/{z}/{x}/{y}.png avec son attribution.")
    if not all(p in key for p in ("{z}", "{x}", "{y}")):
        raise ValueError(f"Adresse de tuiles « {fond} » invalide : elle doit contenir {{z}}, {{x}} et {{y}} "
                         "(par exemple https://exemple.fr/tuiles/{z}/{x}/{y}.png).")
    if not attribution or not str(attribution).strip():
        raise ValueError("Un fond de carte personnalisé doit avoir une attribution (source et licence "
                         "des tuiles) : donnez-la avec fond_attribution=… (--fond-attribution).")
    return {"name": "Fond personnalisé", "url": key, "attribution": str(attribution)}


# --- indicator layers -----------------------------------------------------------------------

def indicator_layer(
    data: pd.DataFrame,
    column: str,
    *,
    name: str | None = None,
    scheme: str = "quantiles",
    k: int = 5,
    cmap: str = "YlOrRd",
    legend: bool = True,
    legend_kwds: Mapping | None = None,
    classification_kwds: Mapping | None = None,
    reference: pd.DataFrame | Mapping | None = None,
    label: str = "name",
) -> dict:
    """An indicator layer for :func:`stage_map`: a choropleth of ``column``.

    Parameters
    ----------
    data : DataFrame
        Indexed like the territories (CPTS ids) or the communes (INSEE codes) of the map, drawn
        with their geometry.
    column : str
        The indicator.
    name : str, optional
        Name of the layer in the layer control (default ``column``); shown as text.
    scheme, k, cmap, classification_kwds
        Classes (:func:`cpts_geo.render.style.classify`, mapclassify) and colours.
    legend : bool, default True
        A legend of the classes, shown while the layer is.
    legend_kwds : dict, optional
        ``title`` (legend title, default ``name``) and ``fmt`` (number format, default
        ``"{:,.1f}"``).
    reference : DataFrame or dict, optional
        Values to compare with in the tooltips and popups: a dict ``{"France": 9.1}`` (same for
        every feature) or a DataFrame indexed like ``data`` whose columns are the labels
        (``Département``, ``Région``, ``France``).
    label : str, default "name"
        Column naming each feature.

    Returns
    -------
    dict
        The layer's specification.

    Examples
    --------
    >>> spec = indicator_layer(pd.DataFrame({"x": [1.0, 2.0, 3.0], "name": list("abc")}), "x", k=2,
    ...                        reference={"France": 2.5})
    >>> spec["labels"], spec["features"][0]["ref"]
    (['1,0 – 2,0', '2,0 – 3,0'], [['France', '2,5']])
    """
    legend_title, fmt = legend_options(legend_kwds, default_title=name or column)
    values = pd.to_numeric(data[column], errors="coerce").astype(float)
    classes, colors, labels = classify(values, scheme=scheme, k=k, cmap=cmap, fmt=fmt,
                                       classification_kwds=classification_kwds)
    names = data[label].astype(str).to_numpy() if label in data.columns else data.index.astype(str)
    if reference is None:
        ref = pd.DataFrame(index=data.index)
    elif isinstance(reference, Mapping):
        ref = pd.DataFrame({str(k_): [v] * len(data) for k_, v in reference.items()}, index=data.index)
    else:
        ref = pd.DataFrame(reference).reindex(data.index)
    ref_text = [[[str(col), french_number(v, fmt) if pd.notna(v) else _TEXT["missing"]]
                 for col, v in row.items()] for _, row in ref.iterrows()] if len(ref.columns) \
        else [[] for _ in range(len(data))]
    feats = []
    for idx, name_, v, c, r in zip(data.index, names, values.to_numpy(), classes, ref_text):
        missing = np.isnan(v)
        feats.append({"id": str(idx), "l": str(name_),
                      "v": None if missing else float(v),
                      "t": None if missing else french_number(v, fmt),
                      "k": None if missing else int(c), "ref": r})
    return {"name": str(name or column), "title": str(legend_title), "colors": colors,
            "labels": labels, "features": feats, "has_missing": bool(values.isna().any()),
            "legend": bool(legend), "column": str(column), "scheme": scheme, "k": len(colors), "cmap": cmap}


# --- the map --------------------------------------------------------------------------------

_WEB_MERCATOR_PX0 = 2 * np.pi * 6378137.0 / 256  # metres per pixel at zoom 0



def _label_sets(cpts_geoms: Mapping[str, shapely.Geometry], names: Mapping[str, str], short: Mapping[str, str],
                bounds: list[list[float]]) -> dict[str, Any]:
    """Labels of the CPTS for a range of zoom levels around the regional view."""
    from cpts_geo.render.labels import _two_lines, anchors, place_labels

    if not cpts_geoms:
        return {"zooms": {}, "min": 0, "max": 0}
    ids = list(cpts_geoms)
    merc = gpd.GeoSeries([cpts_geoms[i] for i in ids], crs="EPSG:4326").to_crs("EPSG:3857").to_numpy()
    cands = anchors(merc)
    # the zoom at which the area fits a 900 px wide window
    (s, w), (_, e) = bounds
    width_m = abs(gpd.GeoSeries(shapely.points([w, e], [s, s]), crs="EPSG:4326").to_crs("EPSG:3857").x.diff().iloc[-1])
    width_m = max(width_m, 1.0)
    z0 = int(np.clip(np.floor(np.log2(_WEB_MERCATOR_PX0 * 900 / width_m)), 3, 12))
    zooms = {}
    # a national map is labelled from a regional zoom on
    first, last = (z0 + 2, z0 + 4) if len(ids) > 300 else (z0 - 1, z0 + 3)
    grids: dict = {}
    for z in range(first, last + 1):
        placed = place_labels(merc, [names[i] for i in ids], [short[i] for i in ids],
                              unit=_WEB_MERCATOR_PX0 / 2 ** z, size=11.0, candidates=cands,
                              grids=grids)
        pts = gpd.GeoSeries(shapely.points(placed["x"].to_numpy(), placed["y"].to_numpy()),
                            crs="EPSG:3857").to_crs("EPSG:4326")
        zooms[str(z)] = [[3 if over else {"name": 0, "name2": 1, "short": 2}.get(kind, 2),
                          round(float(p.y), 5) if p is not None and not p.is_empty else None,
                          round(float(p.x), 5) if p is not None and not p.is_empty else None]
                         for kind, over, p in zip(placed["kind"], placed["overlap"], pts)]
    return {"zooms": zooms, "min": first, "max": last, "text": [names[i] for i in ids],
            "two": [(_two_lines(names[i]) or names[i]) for i in ids]}



def _funding_maxima() -> dict[int, float]:
    from cpts_geo.domain.funding import aci_funding

    return {t: float(aci_funding(t).loc["Total", "Total"]) for t in (1, 2, 3, 4)}



def _num(x: object) -> int | float | None:
    """A number of the payload: a whole number as an integer, a missing one as None."""
    if x is None or pd.isna(x):
        return None
    value = float(x)  # type: ignore[arg-type]
    return int(value) if value.is_integer() else value



class _MapGeometry(NamedTuple):
    """The simplified communes of a map and how its coordinates are written."""

    simple: pd.Series  # simplified commune geometries (EPSG:4326), indexed like the communes
    rings: _Rings | None  # their rings, when they come precomputed
    origin: tuple[float, float]
    scale: float
    bounds: list[list[float]]  # the first view: [[south, west], [north, east]]
    centre: list[float]
    many: bool  # beyond 10 000 communes (all of France)



def _map_geometry(communes: gpd.GeoDataFrame, tolerance: float | None, scale: float | None) -> _MapGeometry:
    """Simplify the communes and choose the grid and the first view of the map."""
    many = len(communes) > 10_000
    tolerance = (300.0 if many else 80.0) if tolerance is None else float(tolerance)
    scale = (5_000.0 if many else 10_000.0) if scale is None else float(scale)
    simple_geoms, rings = _simplified_and_rings(communes, tolerance)
    simple = pd.Series(simple_geoms, index=communes.index)
    minx, miny, maxx, maxy = shapely.total_bounds(simple.to_numpy())
    origin = (round(float(minx), 4), round(float(miny), 4))
    overseas = communes.index.astype(str).str.startswith("97")
    view = shapely.total_bounds(simple[~overseas].to_numpy()) if 0 < overseas.sum() < len(overseas) \
        else (minx, miny, maxx, maxy)
    bounds = [[float(view[1]), float(view[0])], [float(view[3]), float(view[2])]]
    return _MapGeometry(simple, rings, origin, scale, bounds,
                        [float(miny + maxy) / 2, float(minx + maxx) / 2], many)



def _union_by_cpts(member: pd.DataFrame, simple: pd.Series) -> dict[str, shapely.Geometry]:
    """The union of the simplified communes of each CPTS of ``member`` (``code``, ``cpts_id``)."""
    member = member[is_in(member["code"], simple.index)]
    arr = simple.to_numpy()
    pos = simple.index.get_indexer(member["code"])
    return {str(cid): shapely.coverage_union_all(arr[pos[rows]])
            for cid, rows in member.groupby("cpts_id", sort=True).indices.items()}



class _CptsGeometry(NamedTuple):
    """The geometries of the CPTS of a map."""

    fill: dict[str, shapely.Geometry]  # what each CPTS fills: its communes not shared with another
    whole: dict[str, shapely.Geometry]  # the whole territory (indicator layers)
    label: dict[str, shapely.Geometry]  # where its label goes: its own part, else its shared communes



def _cpts_geometry(member: pd.DataFrame, shared: pd.DataFrame, simple: pd.Series) -> _CptsGeometry:
    """Each CPTS without its shared communes (drawn once, apart), its whole territory, its label's room."""
    is_shared = is_in(member["code"], shared["code"])
    fill = _union_by_cpts(member[~is_shared], simple)
    with_shared = member["cpts_id"].isin(set(member.loc[is_shared, "cpts_id"]))
    whole = {**fill, **_union_by_cpts(member[with_shared], simple)}
    label = {i: fill[i] if i in fill and not fill[i].is_empty else g for i, g in whole.items()}
    return _CptsGeometry(fill, whole, label)



def _cpts_payload(terr: gpd.GeoDataFrame, fill: TerritoryFill, geoms: list[shapely.Geometry],
                  geo: _MapGeometry) -> list[dict]:
    """The CPTS of the page: name, number, stage, colour, tier, population, funding, geometry."""
    maxima = _funding_maxima()
    encoded = encode_geometries(geoms, geo.origin, geo.scale)
    colors = fill.colors.reindex(terr.index).tolist()
    cpts = []
    for n_, (cid, rec, color) in enumerate(zip(terr.index, terr.to_dict("records"), colors)):
        tier = _num(rec.get("tier"))
        cpts.append({"id": str(cid), "name": str(rec.get("name", cid)), "short": str(n_ + 1),
                     "stage": _stage_text(rec), "f": color,
                     "tier": tier, "pop": _num(rec.get("population")), "n": _num(rec.get("n_communes")),
                     "fund": None if tier is None else number(maxima[int(tier)], 0, sep="\u202f"),
                     "g": encoded[n_]})
    return cpts



def _shared_payload(shared: pd.DataFrame, communes: gpd.GeoDataFrame, names: Mapping[str, str],
                    cpts_pos: Mapping[str, int], geo: _MapGeometry) -> list[dict]:
    """The shared communes, each once: code, name, population, every CPTS with its share, geometry.

    ``parts`` lists ``[CPTS number on the page (-1: none), name, share]`` by decreasing share.
    """
    if not len(shared):
        return []
    groups = list(shared.groupby("code", sort=False))
    codes = [code for code, _ in groups]
    encoded = encode_geometries(geo.simple.reindex(codes).to_numpy(), geo.origin, geo.scale)
    out = []
    for (code, rows), g in zip(groups, encoded):
        parts = []
        for cid, share in zip(rows["cpts_id"].tolist(), rows["share"].tolist()):
            known = cid is not None and not pd.isna(cid)
            label = shared_text(names.get(str(cid), str(cid)) if known else None, share)
            name, _, text = label.rpartition(" : ")
            parts.append([cpts_pos.get(str(cid), -1) if known else -1, name, text])
        out.append({"c": str(code), "n": str(communes.at[code, "name"]),
                    "p": _num(communes.at[code, "population"]), "parts": parts, "g": g})
    return out



def _communes_payload(communes: gpd.GeoDataFrame, cpts_pos: Mapping[str, int], shared_pos: Mapping[str, int],
                      geo: _MapGeometry) -> dict:
    """The communes of the page: code, name, population, CPTS, shared entry, box and geometry."""
    simple_arr = geo.simple.to_numpy()
    return {
        "c": [str(c) for c in communes.index.tolist()],
        "n": communes["name"].astype(str).tolist(),
        "p": [_num(p) for p in communes["population"].tolist()],
        "k": [-1 if pd.isna(c) else cpts_pos.get(str(c), -1) for c in communes["cpts_id"].tolist()],
        "s": [shared_pos.get(str(c), -1) for c in communes.index.tolist()],
        "b": _quantised_bounds(simple_arr, geo.origin, geo.scale),
        "g": encode_geometries(simple_arr, geo.origin, geo.scale) if geo.rings is None
        else _encode_rings(geo.rings, len(simple_arr), geo.origin, geo.scale),
    }



def _area_outlines(communes: gpd.GeoDataFrame, geo: _MapGeometry) -> tuple[list[dict], list[dict]]:
    """The departments' outlines and the uncovered communes (by department), encoded."""
    simple_arr = geo.simple.to_numpy()
    deps = []
    if "department" in communes.columns:
        dep_geoms = [shapely.coverage_union_all(simple_arr[pos])
                     for _, pos in sorted(communes.groupby("department").indices.items())]
        deps = [{"g": g} for g in encode_geometries(dep_geoms, geo.origin, geo.scale)]
    uncovered_mask = communes["cpts_id"].isna().to_numpy()
    unc = []
    if uncovered_mask.any():
        key = communes["department"] if "department" in communes.columns else pd.Series("", index=communes.index)
        groups = sorted(pd.Series(np.flatnonzero(uncovered_mask)).groupby(key[uncovered_mask].to_numpy()))
        unc_geoms = [shapely.coverage_union_all(simple_arr[g.to_numpy()]) for _, g in groups]
        unc = [{"g": g} for g in encode_geometries(unc_geoms, geo.origin, geo.scale)]
    return deps, unc



def _indicator_payload(indicators: list[dict] | None, whole: Mapping[str, shapely.Geometry],
                       geo: _MapGeometry) -> list[dict]:
    """The indicator layers, each feature with the geometry of its CPTS or commune."""
    out = []
    for spec in indicators or []:
        spec = dict(spec)
        feats, fgeoms = [], []
        for f in spec["features"]:
            geom = whole.get(f["id"]) if f["id"] in whole else (
                geo.simple.get(f["id"]) if f["id"] in geo.simple.index else None)
            if geom is None:
                continue
            feats.append(dict(f))
            fgeoms.append(geom)
        for f, g in zip(feats, encode_geometries(fgeoms, geo.origin, geo.scale)):
            f["g"] = g
        spec["features"] = feats
        out.append(spec)
    return out



def _title_and_caption(communes: gpd.GeoDataFrame, terr: gpd.GeoDataFrame, fill: TerritoryFill,
                       title: str | None, caption: list[str] | str | None, background: dict | None,
                       geo: _MapGeometry) -> tuple[str, list[str]]:
    """The map's title (default "CPTS — <region>") and the lines of its caption."""
    region = ""
    if "region_name" in communes.columns and communes["region_name"].nunique() == 1:
        region = str(communes["region_name"].iloc[0])
    title = str(title) if title else (f"CPTS — {region}" if region else "CPTS")
    if caption is None:
        meta = layer_metadata(communes)
        source = meta.source or (
            f"couche communale fournie, population municipale "
            f"{meta.population_vintage or 'de millésime non précisé'}")
        caption = [f"Sources : {source}. Réalisation : cpts_geo."]
    elif isinstance(caption, str):
        caption = [caption]
    lines = [str(c) for c in caption]
    note = vocabulary_caption(terr) if fill.column == "stage" else ""
    if note:
        lines.append(note)
    if background:
        lines.append(f"Fond de carte : {background['name']}, {background['attribution']}.")
    simple = geo.simple.to_numpy()
    no_geometry = communes.index[shapely.is_missing(simple) | shapely.is_empty(simple)]
    if len(no_geometry):
        lines.append(f"Communes sans géométrie dans la source, non dessinées ({len(no_geometry)}) : "
                     + ", ".join(f"{c} {communes.at[c, 'name']}" for c in no_geometry[:12])
                     + (" …" if len(no_geometry) > 12 else ""))
    return title, lines



def _page(data: dict, geo: _MapGeometry, title: str) -> folium.Map:
    """The folium map of a payload: Leaflet and our script inlined, the data script, numbered ids."""
    m = folium.Map(location=geo.centre, zoom_start=8, tiles=None,
                   control_scale=False, prefer_canvas=False, zoom_snap=0.25)
    # No CDN: Leaflet is inlined from the installed package, the rest is our own code.
    m.default_js = []
    m.default_css = []
    leaflet_js, leaflet_css = _leaflet()
    root = cast(folium.Figure, m.get_root())  # a Map's root is its Figure
    root.header.add_child(folium.Element(f"<title>{_inert(title)}</title>"), name="cpts_title")
    root.header.add_child(_raw_element("style", leaflet_css), name="leaflet_css")
    root.header.add_child(_raw_element("script", leaflet_js), name="leaflet_js")
    root.header.add_child(_raw_element("style", _static("cpts_map.css")), name="cpts_css")
    root.header.add_child(_raw_element("script", _static("cpts_map.js")), name="cpts_js")
    script = _DataScript()
    script.payload = _json_payload(data)
    m.add_child(script, name="cpts_data")
    _deterministic_ids(m)
    return m



def stage_map(
    territories: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    *,
    membership: pd.DataFrame | None = None,
    title: str | None = None,
    subtitle: str | None = None,
    caption: list[str] | str | None = None,
    indicators: list[dict] | None = None,
    fond: str | None = None,
    fond_attribution: str | None = None,
    labels: bool = True,
    tolerance: float | None = None,
    scale: float | None = None,
    column: str | None = None,
    cmap: Mapping[str, str] | str | None = None,
    scheme: str = "quantiles",
    k: int = 5,
    legend: bool = True,
    legend_kwds: Mapping[str, Any] | None = None,
    classification_kwds: Mapping[str, Any] | None = None,
) -> folium.Map:
    """The interactive map of CPTS coloured by project stage, or by what ``column`` says.

    By default the CPTS are coloured by stage when any is given (in the registry's own words
    when it has its own vocabulary), else each with a colour distinct from its neighbours';
    ``column`` chooses (``"stage"``, ``"tier"``, ``"cpts"`` or an indicator of the territories,
    as geopandas ``explore``): see :func:`cpts_geo.render.style.territory_fill`, shared with the
    print map. The legend lists only the classes present (zones blanches when there are some).
    A commune shared between CPTS (:func:`cpts_geo.render.style.shared_units`) is drawn once,
    striped with the colours of its CPTS, its tooltip listing each CPTS by name with its share;
    a CPTS made only of shared communes is labelled on them.

    Parameters
    ----------
    territories : GeoDataFrame
        From :func:`cpts_geo.domain.territories.build_territories` (``name``, ``stage``, ``tier``,
        ``population``, ``n_communes``).
    communes : GeoDataFrame
        From :func:`cpts_geo.domain.territories.communes_with_cpts` (every commune of the area,
        ``cpts_id`` ``<NA>`` for uncovered ones).
    membership : DataFrame, optional
        ``code``, ``cpts_id``, ``share`` pairs; gives shared communes to each of their CPTS
        (default: the main CPTS of each commune).
    title, subtitle : str, optional
        Shown at the top left (default title: "CPTS — <region>"); text, never markup.
    caption : str or list of str, optional
        Sources and vintages (default: the commune layer's source and vintages).
    indicators : list of dict, optional
        Layers from :func:`indicator_layer`, switchable in the layer control.
    fond : str, optional
        A background map: ``"osm"``, ``"ign-plan"``, ``"ign-ortho"`` (:data:`FONDS`) or a tile
        URL with ``{z}``, ``{x}``, ``{y}`` (then ``fond_attribution`` is required). Shown only
        when online; the map never needs it.
    fond_attribution : str, optional
        Attribution of the background map (source and licence), shown on the map.
    labels : bool, default True
        Label the CPTS.
    tolerance : float, optional
        Simplification tolerance in metres (default 80, or 300 beyond 10 000 communes).
    scale : float, optional
        Quantisation grid, in steps per degree (default 10 000, about 10 m).
    column : str, optional
        What colours the CPTS: ``"stage"`` (``"etape"``), ``"tier"`` (``"taille"``), ``"cpts"``
        (one colour per CPTS, neighbours never alike) or an indicator column of ``territories``
        (default: the stage when any is given, ``"cpts"`` otherwise).
    cmap, scheme, k, classification_kwds
        Colours (a dict for stages or tiers, a colormap name for an indicator) and classes of an
        indicator.
    legend : bool, default True
        Show the legend of the CPTS layer.
    legend_kwds : dict, optional
        ``title`` of the legend, ``fmt`` of an indicator's numbers.

    Returns
    -------
    folium.Map
        Save it with :func:`save_map`.
    """
    background = _fond(fond, fond_attribution)
    geo = _map_geometry(communes, tolerance, scale)
    membership = map_membership(territories, communes, membership)
    shared = shared_units(communes, membership)
    geoms = _cpts_geometry(membership[is_in(membership["code"], geo.simple.index)], shared, geo.simple)
    terr = territories[territories.index.astype(str).isin(list(geoms.whole))]
    # coloured on every territory given (as the print map is), drawn where they have communes
    fill = territory_fill(territories, column, cmap=cmap, scheme=scheme, k=k, legend_kwds=legend_kwds,
                          classification_kwds=classification_kwds)
    ids = [str(i) for i in terr.index]
    cpts = _cpts_payload(terr, fill, [geoms.fill.get(i, shapely.Polygon()) for i in ids], geo)
    from cpts_geo.render.labels import label_text

    label_sets = (_label_sets({i: geoms.label[i] for i in ids}, {i: label_text(c["name"]) for i, c in zip(ids, cpts)},
                              {i: c["short"] for i, c in zip(ids, cpts)}, geo.bounds)
                  if labels else None)
    cpts_pos = {c["id"]: i for i, c in enumerate(cpts)}
    names = {str(i): str(n) for i, n in territories["name"].items()} if "name" in territories else {}
    shared_entries = _shared_payload(shared, communes, names, cpts_pos, geo)
    deps, unc = _area_outlines(communes, geo)
    title, caption_lines = _title_and_caption(communes, terr, fill, title, caption, background, geo)
    vintage = layer_metadata(territories).population_vintage or layer_metadata(communes).population_vintage
    data = {
        "origin": list(geo.origin), "scale": geo.scale,
        "legend": {"title": None if fill.title is None else str(fill.title), "show": bool(legend),
                   "entries": [[str(label), list(colors)] for label, colors in fill.legend]},
        "uncoveredColor": UNCOVERED_COLOR, "uncoveredBorder": UNCOVERED_BORDER, "sharedBorder": SHARED_BORDER,
        "cpts": cpts, "shared": shared_entries,
        "communes": _communes_payload(communes, cpts_pos, {s["c"]: i for i, s in enumerate(shared_entries)}, geo),
        "departments": deps, "uncovered": unc, "indicators": _indicator_payload(indicators, geoms.whole, geo),
        "labels": label_sets, "vintage": vintage, "fond": background,
        "communeMinZoom": 9 if geo.many else None,
        "title": title, "subtitle": None if subtitle is None else str(subtitle),
        "caption": caption_lines, "text": {**_TEXT, "layer_cpts": fill.layer}, "bounds": geo.bounds,
    }
    return _page(data, geo, title)



def _stage_text(rec: Mapping) -> str | None:
    """The stage a tooltip shows: the wording as published, with the stage when it differs."""
    stage = rec.get("stage")
    stage = None if stage is None or pd.isna(stage) else str(stage)
    published = rec.get("published_stage")
    if published is None or pd.isna(published) or stage is None:
        return stage
    published = str(published)
    return published if fold(published) == fold(stage) else f"{published} ({stage})"



def _deterministic_ids(m: folium.Element) -> None:
    """Replace folium's random element ids by ids numbered in document order."""
    seen: list = []
    ids: set[int] = set()

    def walk(el: Any) -> None:
        if id(el) in ids:
            return
        ids.add(id(el))
        seen.append(el)
        for child in list(getattr(el, "_children", {}).values()):
            walk(child)
        for part in ("header", "html", "script"):
            sub = getattr(el, part, None)
            if sub is not None and hasattr(sub, "_children"):
                walk(sub)

    walk(m.get_root())
    for n, el in enumerate(seen):
        if hasattr(el, "_id"):
            el._id = f"{n:08x}"



def save_map(m: folium.Map, path: str | Path) -> Path:
    """Write the map as one self-contained HTML file, atomically; return its path.

    The same map gives the same bytes (element ids are numbered, not random).

    Parameters
    ----------
    m : folium.Map
        A map of :func:`stage_map`, :func:`indicator_map` or folium.
    path : str or Path
        The HTML file to write.

    Returns
    -------
    Path
        ``path``.
    """
    from cpts_geo.io.files import atomic_path

    path = Path(path)
    _deterministic_ids(m)
    text = m.get_root().render()
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
