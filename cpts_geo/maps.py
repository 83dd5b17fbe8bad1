"""Interactive regional maps: self-contained HTML, readable offline.

:func:`stage_map` draws every CPTS coloured by project stage (ordered, colour-blind-safe
palette of :data:`cpts_geo.stages.STAGE_COLORS`, legend in stage order), uncovered communes
("zones blanches") in grey with a dashed border, commune borders lighter than CPTS borders,
department borders, a tooltip per CPTS and per commune, a layer control, optional indicator
layers (choropleths classed with mapclassify), a search box for communes, a title and a
caption with the sources and vintages.

**Offline.** The page needs no network: Leaflet's JavaScript and CSS are inlined from the
installed ``xstatic-leaflet`` package, and the map code is our own small script
(``cpts_geo/static/cpts_map.js``). folium builds the page; its CDN links are removed. A
background tile layer can be asked for (``tiles="OpenStreetMap"``): it shows only when online.

**Small.** The communes form a clean coverage: they are simplified together with
:func:`shapely.coverage_simplify` in the metric CRS (neighbours keep identical borders),
CPTS and departments are dissolved from the simplified communes (their borders fall exactly
on commune borders), then coordinates are quantised on a grid of 1/``scale`` degree and
written as delta-encoded variable-length integers in printable characters. Default
tolerance: 80 m for a region, 300 m beyond 10 000 communes.

**Safe.** Names are user input: the page inserts them as text (``textContent``), never as
HTML, and the embedded JSON cannot close its ``<script>``. No personal data is written: only
CPTS (name, stage, tier, population, communes) and communes (name, code, population).
"""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cpts_geo._french import formatted
from cpts_geo.stages import STAGE_COLORS, STAGES

__all__ = ["UNCOVERED_COLOR", "stage_map", "indicator_layer", "save_map", "encode_geometry"]

#: Fill of uncovered communes (zones blanches): a neutral grey outside the stage palette.
UNCOVERED_COLOR = "#d9d9d9"
UNCOVERED_BORDER = "#737373"

_TEXT = {
    "stage": "Étape", "tier": "Taille", "population": "Population", "n_communes": "Communes",
    "id": "Identifiant", "code": "Code INSEE", "cpts": "CPTS", "uncovered": "Zone blanche (non couverte)",
    "legend_title": "Étape du projet de CPTS", "search": "Chercher une commune…",
    "layer_cpts": "CPTS par étape", "layer_outlines": "Limites des CPTS", "layer_communes": "Communes",
    "layer_uncovered": "Communes non couvertes", "layer_departments": "Départements",
    "missing": "non disponible",
}


def _static(name: str) -> str:
    return (resources.files("cpts_geo") / "static" / name).read_text(encoding="utf-8")


def _leaflet() -> tuple[str, str]:
    try:
        import xstatic.pkg.leaflet as xleaflet
    except ImportError as err:  # pragma: no cover - a dependency of the package
        raise ImportError("Le paquet xstatic-leaflet est requis pour les cartes hors ligne : "
                          "pip install xstatic-leaflet") from err
    base = Path(xleaflet.BASE_DIR)
    return (base / "leaflet.js").read_text(encoding="utf-8"), (base / "leaflet.css").read_text(encoding="utf-8")


def _raw_element(tag: str, text: str) -> folium.Element:
    """An inline <script> or <style> that branca's templating leaves untouched."""
    return folium.Element(f"<{tag}>{{% raw %}}{text}{{% endraw %}}</{tag}>")


def _zigzag_chars(values: np.ndarray) -> str:
    """Variable-length encoding of signed integers in characters 63–126."""
    out = []
    for v in values.tolist():
        v = ~(v << 1) if v < 0 else (v << 1)
        while v >= 0x20:
            out.append(chr((0x20 | (v & 0x1F)) + 63))
            v >>= 5
        out.append(chr(v + 63))
    return "".join(out)


def encode_geometry(geom, origin: tuple[float, float], scale: float) -> list[list[str]]:
    """Encode a (multi)polygon as a list of polygons, each a list of ring strings.

    Coordinates are quantised to ``round((x - origin) * scale)`` and each ring stores its
    first point then the differences, zigzag-encoded (the decoder is in ``cpts_map.js``).
    Rings that collapse under quantisation (fewer than 3 distinct points) are dropped.

    Examples
    --------
    >>> encode_geometry(shapely.box(0, 0, 1, 1), (0.0, 0.0), 10)
    [['S??SR??R']]
    """
    polys = []
    for part in shapely.get_parts(geom):
        if part.is_empty:
            continue
        rings = []
        for ring in [part.exterior, *part.interiors]:
            xy = np.asarray(ring.coords)[:-1, :2]
            q = np.round((xy - np.asarray(origin)) * scale).astype(np.int64)
            keep = np.ones(len(q), dtype=bool)
            keep[1:] = np.any(q[1:] != q[:-1], axis=1)
            q = q[keep]
            if len(q) < 3:
                continue
            d = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
            rings.append(_zigzag_chars(d.ravel()))
        if rings and len(rings[0]):
            polys.append(rings)
    return polys


def _simplified(communes: gpd.GeoDataFrame, tolerance: float) -> np.ndarray:
    """Simplify the commune coverage in its metric CRS, return EPSG:4326 geometries.

    Mainland France and each overseas department are simplified in their own projection.
    Communes without geometry stay empty (the map's caption lists them).
    """
    from cpts_geo.communes import _metric_crs_of, department_of

    crs_of = department_of(pd.Series(communes.index)).map(_metric_crs_of).to_numpy()
    out = np.empty(len(communes), dtype=object)
    for crs in pd.unique(crs_of):
        sel = crs_of == crs
        metric = communes.geometry[sel].to_crs(crs)
        geoms = metric.to_numpy().copy()
        present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        if tolerance > 0 and present.any():
            geoms[present] = shapely.coverage_simplify(geoms[present], tolerance)
        out[sel] = gpd.GeoSeries(geoms, crs=crs).to_crs("EPSG:4326").to_numpy()
    return out


def _french_number(x, fmt: str) -> str:
    """A number in a map: French decimal comma, narrow no-break space for thousands."""
    return formatted(x, fmt, sep="\u202f")


def classify(values, *, scheme: str = "quantiles", k: int = 5, cmap: str = "YlOrRd",
             fmt: str = "{:,.1f}") -> tuple[np.ndarray, list[str], list[str]]:
    """Classes of an indicator, shared by the HTML and the print maps.

    Returns the class of each value (``-1`` where it is missing), the colour of each class
    (``cmap`` resampled) and its French label (``"1,0 – 2,0"``, numbers written with ``fmt``).
    Classes come from :mod:`mapclassify` (``scheme``, ``k``; ``k`` is reduced when there are
    fewer distinct values).

    Examples
    --------
    >>> classes, colors, labels = classify([1.0, 2.0, None, 3.0], k=2)
    >>> classes.tolist(), labels
    ([0, 0, -1, 1], ['1,0 – 2,0', '2,0 – 3,0'])
    """
    import mapclassify
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    values = pd.to_numeric(pd.Series(values), errors="coerce").astype(float).to_numpy()
    present = ~np.isnan(values)
    classes = np.full(len(values), -1, dtype=int)
    if not present.any():
        return classes, [], []
    known = values[present]
    k = max(1, min(k, len(np.unique(known))))
    classifier = mapclassify.classify(known, scheme=scheme, k=k)
    bins = np.asarray(classifier.bins, dtype=float)
    classes[present] = np.asarray(classifier.yb, dtype=int)
    palette = colormaps[cmap].resampled(len(bins))
    colors = [to_hex(palette(i)) for i in range(len(bins))]
    lows = [float(known.min()), *bins[:-1].tolist()]
    labels = [f"{_french_number(lo, fmt)} – {_french_number(hi, fmt)}" for lo, hi in zip(lows, bins)]
    return classes, colors, labels


def indicator_layer(
    data: pd.DataFrame,
    column: str,
    *,
    name: str | None = None,
    title: str | None = None,
    scheme: str = "quantiles",
    k: int = 5,
    cmap: str = "YlOrRd",
    legend: bool = True,
    fmt: str = "{:,.1f}",
    label: str = "name",
) -> dict:
    """An indicator layer for :func:`stage_map`: a choropleth of ``column``.

    ``data`` is indexed like the territories (CPTS ids) or the communes (INSEE codes) of the
    map and drawn with their geometry; classes come from :mod:`mapclassify` (``scheme``,
    ``k``), colours from the matplotlib colormap ``cmap``. Missing values are drawn white
    and said so in the legend.

    Examples
    --------
    >>> spec = indicator_layer(pd.DataFrame({"x": [1.0, 2.0, 3.0], "name": list("abc")}), "x", k=2)
    >>> spec["labels"]
    ['1,0 – 2,0', '2,0 – 3,0']
    """
    values = pd.to_numeric(data[column], errors="coerce").astype(float)
    classes, colors, labels = classify(values, scheme=scheme, k=k, cmap=cmap, fmt=fmt)
    names = data[label].astype(str).to_numpy() if label in data.columns else data.index.astype(str)
    feats = []
    for idx, name_, v, c in zip(data.index, names, values.to_numpy(), classes):
        missing = np.isnan(v)
        feats.append({"id": str(idx), "l": name_,
                      "v": None if missing else float(v),
                      "t": None if missing else _french_number(v, fmt),
                      "k": None if missing else int(c)})
    return {"name": name or column, "title": title or name or column, "colors": colors,
            "labels": labels, "features": feats, "has_missing": bool(values.isna().any()),
            "legend": legend, "column": column, "scheme": scheme, "k": len(colors), "cmap": cmap}


def stage_map(
    territories: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    *,
    membership: pd.DataFrame | None = None,
    title: str | None = None,
    subtitle: str | None = None,
    caption: list[str] | str | None = None,
    indicators: list[dict] | None = None,
    tiles: str | None = None,
    tolerance: float | None = None,
    scale: float | None = None,
) -> folium.Map:
    """The interactive map of CPTS coloured by project stage.

    Parameters
    ----------
    territories : GeoDataFrame
        From :func:`cpts_geo.territories.build_territories` (``name``, ``stage``, ``tier``,
        ``population``, ``n_communes``).
    communes : GeoDataFrame
        From :func:`cpts_geo.territories.communes_with_cpts` (every commune of the area,
        ``cpts_id`` ``<NA>`` for uncovered ones).
    membership : DataFrame, optional
        ``code``, ``cpts_id`` pairs; gives split communes to each of their CPTS (default: the
        main CPTS of each commune).
    title, subtitle : str, optional
        Shown at the top left (default title: "CPTS — <region>").
    caption : str or list of str, optional
        Sources and vintages (default: the commune layer's source and vintages, and the note
        of an illustrative registry).
    indicators : list of dict, optional
        Layers from :func:`indicator_layer`, switchable in the layer control.
    tiles : str, optional
        A background tile layer (needs network when viewed; the map never requires it).
    tolerance : float, optional
        Simplification tolerance in metres (default 80, or 300 beyond 10 000 communes).
    scale : float, optional
        Quantisation grid, in steps per degree (default 10 000, about 10 m).

    Returns
    -------
    folium.Map
        Save it with :func:`save_map` (or ``.save``).
    """
    many = len(communes) > 10_000
    tolerance = (300.0 if many else 80.0) if tolerance is None else float(tolerance)
    scale = (5_000.0 if many else 10_000.0) if scale is None else float(scale)
    simple = pd.Series(_simplified(communes, tolerance), index=communes.index)
    minx, miny, maxx, maxy = shapely.total_bounds(simple.to_numpy())
    origin = (round(float(minx), 4), round(float(miny), 4))
    # initial view: mainland France when the map also holds overseas departments (reached by
    # zooming out), otherwise everything
    overseas = communes.index.astype(str).str.startswith("97")
    view = shapely.total_bounds(simple[~overseas].to_numpy()) if 0 < overseas.sum() < len(overseas) \
        else (minx, miny, maxx, maxy)

    if membership is None:
        covered = communes[communes["cpts_id"].notna()]
        membership = pd.DataFrame({"code": covered.index, "cpts_id": covered["cpts_id"].astype(str)})
    member = membership[membership["code"].isin(simple.index)]
    cpts_geoms = {cid: shapely.coverage_union_all(simple.loc[grp["code"]].to_numpy())
                  for cid, grp in member.groupby("cpts_id", sort=False)}

    def num(x):
        return None if x is None or pd.isna(x) else (int(x) if float(x).is_integer() else float(x))

    cpts = []
    for cid, rec in territories.iterrows():
        geom = cpts_geoms.get(cid)
        if geom is None:
            continue
        cpts.append({"id": str(cid), "name": str(rec.get("name", cid)),
                     "stage": None if pd.isna(rec.get("stage")) else str(rec.get("stage")),
                     "tier": num(rec.get("tier")), "pop": num(rec.get("population")),
                     "n": num(rec.get("n_communes")), "g": encode_geometry(geom, origin, scale)})
    com = []
    all_col = communes["cpts_all"] if "cpts_all" in communes.columns else pd.Series(pd.NA, index=communes.index)
    for code, name, pop, cid, every in zip(communes.index, communes["name"], communes["population"],
                                           communes["cpts_id"], all_col):
        split = isinstance(every, str) and "%" in every
        com.append({"c": str(code), "n": str(name), "p": num(pop),
                    "cpts": None if pd.isna(cid) else str(cid), "all": every if split else None,
                    "g": encode_geometry(simple[code], origin, scale)})
    deps = []
    if "department" in communes.columns:
        for _, idx in communes.groupby("department").groups.items():
            deps.append({"g": encode_geometry(shapely.coverage_union_all(simple.loc[idx].to_numpy()),
                                              origin, scale)})
    ind_out = []
    for spec in indicators or []:
        spec = dict(spec)
        feats = []
        for f in spec["features"]:
            geom = cpts_geoms.get(f["id"]) if f["id"] in cpts_geoms else (
                simple.get(f["id"]) if f["id"] in simple.index else None)
            if geom is None:
                continue
            feats.append({**f, "g": encode_geometry(geom, origin, scale)})
        spec["features"] = feats
        ind_out.append(spec)

    region = ""
    if "region_name" in communes.columns and communes["region_name"].nunique() == 1:
        region = str(communes["region_name"].iloc[0])
    title = title or (f"CPTS — {region}" if region else "CPTS")
    if caption is None:
        source = communes.attrs.get("source") or (
            f"couche communale fournie, population municipale "
            f"{communes.attrs.get('population_vintage', 'de millésime non précisé')}")
        caption = [f"Sources : {source}. Réalisation : cpts_geo."]
    elif isinstance(caption, str):
        caption = [caption]
    no_geometry = communes.index[shapely.is_missing(simple.to_numpy()) | shapely.is_empty(simple.to_numpy())]
    if len(no_geometry):
        caption = [*caption, f"Communes sans géométrie dans la source, non dessinées ({len(no_geometry)}) : "
                   + ", ".join(f"{c} {communes.at[c, 'name']}" for c in no_geometry[:12])
                   + (" …" if len(no_geometry) > 12 else "")]
    data = {
        "origin": list(origin), "scale": scale, "stages": list(STAGES), "colors": STAGE_COLORS,
        "uncoveredColor": UNCOVERED_COLOR, "uncoveredBorder": UNCOVERED_BORDER,
        "cpts": cpts, "communes": com, "departments": deps, "indicators": ind_out,
        "title": title, "subtitle": subtitle, "caption": list(caption), "text": _TEXT,
        "bounds": [[float(view[1]), float(view[0])], [float(view[3]), float(view[2])]],
    }
    # "<" cannot close the script, "%" cannot close the template's raw block (folium/branca
    # parse rendered scripts as Jinja templates; the payload is wrapped in a raw block).
    payload = (json.dumps(data, ensure_ascii=False, separators=(",", ":"))
               .replace("<", "\\u003c").replace("%", "\\u0025"))

    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=8, tiles=None,
                   control_scale=False, prefer_canvas=False, zoom_snap=0.25)
    # No CDN: Leaflet is inlined from the installed package, the rest is our own code.
    m.default_js = []
    m.default_css = []
    leaflet_js, leaflet_css = _leaflet()
    root = m.get_root()
    root.header.add_child(folium.Element(f"<title>{html.escape(title)}</title>"), name="cpts_title")
    root.header.add_child(_raw_element("style", leaflet_css), name="leaflet_css")
    root.header.add_child(_raw_element("script", leaflet_js), name="leaflet_js")
    root.header.add_child(_raw_element("style", _static("cpts_map.css")), name="cpts_css")
    root.header.add_child(_raw_element("script", _static("cpts_map.js")), name="cpts_js")
    if tiles:
        folium.TileLayer(tiles, name="Fond de carte (en ligne)").add_to(m)
    script = folium.MacroElement()
    script.payload = "{% raw %}" + payload + "{% endraw %}"
    script._template = folium.template.Template(
        "{% macro script(this, kwargs) %}\ncptsGeoMap({{ this._parent.get_name() }}, "
        "{{ this.payload }});\n{% endmacro %}")
    m.add_child(script)
    return m


def save_map(m: folium.Map, path: str | Path) -> Path:
    """Write the map as one self-contained HTML file; return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(m.get_root().render(), encoding="utf-8")
    return path
