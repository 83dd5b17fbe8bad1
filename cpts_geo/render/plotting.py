"""Print maps with matplotlib: stage map, tier map, indicator choropleth.

The parameters follow the HTML renderer (:mod:`cpts_geo.render.maps`) and geopandas' ``plot``:
``column``, ``cmap``, ``scheme``, ``k``, ``legend``, ``legend_kwds`` (``title``: the legend
title; ``fmt``: the number format), ``classification_kwds``, ``ax`` (``None`` makes a figure;
the axes are returned). Colours and classes come from :mod:`cpts_geo.render.style`, shared with the
HTML maps (this module does not import folium). Maps are drawn in the metric CRS of the
communes (Lambert-93 for mainland France), with a scale bar, a title and a source caption.
Stage and tier maps label every CPTS inside its territory without overlaps
(:func:`cpts_geo.render.labels.place_labels`: the name, on one or two lines, or a number listed beside
the map when the name does not fit). :func:`save_figure` writes PNG, SVG or PDF at print
resolution.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from cpts_geo.domain.communes import load_communes
>>> from cpts_geo.io.registry import load_example_registry
>>> from cpts_geo.domain.registry import validate_registry
>>> from cpts_geo.domain.territories import build_territories
>>> hdf = load_communes(region="32")
>>> checked = validate_registry(load_example_registry(), hdf)
>>> ax = plot_stages(build_territories(checked, hdf, parts=False))
>>> [t.get_text() for t in ax.get_legend().get_texts()][:2]
['Dynamique identifiée', "Lettre d'intention validée"]
"""

from __future__ import annotations

import itertools
import textwrap
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cpts_geo.domain.codes import is_in, is_insee_code
from cpts_geo.domain.crs import metric_crs, reproject, require_crs
from cpts_geo.domain.metadata import layer_metadata
from cpts_geo.domain.tiers import TIER_LABELS
from cpts_geo.render.style import (
    MISSING_COLOR,
    SHARED_BORDER,
    SHARED_LABEL,
    TIER_COLORS,
    UNCOVERED_BORDER,
    UNCOVERED_COLOR,
    classify,
    french_number,
    legend_options,
    map_membership,
    shared_text,
    shared_units,
    territory_fill,
    vocabulary_caption,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection, PathCollection
    from matplotlib.figure import Figure
    from matplotlib.legend import Legend
    from matplotlib.path import Path as MplPath
    from matplotlib.text import Text

__all__ = [
    "label_territories",
    "plot_indicator",
    "plot_stages",
    "plot_tiers",
    "save_figure",
]


_A4 = 8.27  # inches: the print maps are A4-wide squares


def _axes(ax: Axes | None) -> Axes:
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(_A4, _A4))  # A4 width
    ax.set_axis_off()
    ax.set_aspect("equal")
    return ax



def _map_figure(territories: gpd.GeoDataFrame, *, dpi: int, column: str = "name") -> Axes:
    """The axes of a print map of ``territories`` to be written at ``dpi`` by :func:`save_figure`.

    The map sits where ``plt.subplots(figsize=(8.27, 8.27))`` puts it, laid out as on that
    figure (the same map, legend, list and caption as :func:`plot_stages` draws there, and
    :func:`save_figure` breaks the caption where savefig would), in a figure wide enough for the
    legend and the list of numbered CPTS on its right: :func:`save_figure` then measures and
    draws the text once, at the resolution of the file (the tight box of the map lies inside
    the figure). The width is estimated from the number of CPTS and the length of their names,
    every CPTS counted as numbered (an underestimate only costs a second measurement); beyond
    30 million pixels at ``dpi``, the figure is the A4 square (no larger image in memory than
    savefig's).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = territories[column].astype(str) if column in territories else territories.index.astype(str)
    longest = max((len(n) for n in names), default=0) + len(str(len(names))) + 2
    column_pts = longest * _LIST_SIZE * 0.55 + 8  # as _number_list steps from column to column
    lines = max(5, int(0.77 * _A4 * 72 * 0.5 / (_LIST_SIZE * 1.25)) - 1)  # under a legend of half the map
    room = max(3.8, (0.02 * 0.775 * _A4 * 72 + -(-len(names) // lines) * column_pts) / 72 + 0.3)
    width = 0.9 * _A4 + room
    if width * _A4 * dpi * dpi > 30e6:  # too large an image: the A4 figure, measured twice
        width = _A4
    fig = Figure(figsize=(width, _A4))  # at matplotlib's resolution until written, as plt.subplots
    FigureCanvasAgg(fig)
    _LAID_OUT[fig] = _A4
    return fig.add_axes((0.125 * _A4 / width, 0.11, 0.775 * _A4 / width, 0.77))



def _metric(gdf: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    require_crs(gdf, "La couche")
    return reproject(gdf, crs)



def _crs_for(territories: gpd.GeoDataFrame, communes: gpd.GeoDataFrame | None) -> Any:
    base = communes if communes is not None else territories
    if base.index.name == "cpts_id" or not is_insee_code(base.index.astype(str).to_series()).all():
        return "EPSG:2154" if not (base.crs and base.crs.is_projected) else base.crs
    return metric_crs(base)



def _polygon_paths(geoms: np.ndarray) -> tuple[list[MplPath], np.ndarray]:
    """One compound matplotlib ``Path`` per geometry with polygons, and the positions of those
    geometries (missing, empty or non-polygonal ones draw nothing).

    Vectorised: the codes of every ring are set at once; shells and holes are wound in
    opposite directions (holes stay holes, as geopandas draws them).
    """
    from matplotlib.path import Path as MplPath

    parts, part_geom = shapely.get_parts(np.asarray(geoms, dtype=object), return_index=True)
    polygon = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
    parts, part_geom = shapely.orient_polygons(parts[polygon]), part_geom[polygon]
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    if not len(xy):
        return [], np.zeros(0, dtype=np.int64)
    owner = part_geom[ring_part][ring]  # in order: the paths follow the geometries
    new_ring = np.r_[True, ring[1:] != ring[:-1]]
    codes = np.full(len(xy), MplPath.LINETO, dtype=MplPath.code_type)
    codes[new_ring] = MplPath.MOVETO
    codes[np.r_[new_ring[1:], True]] = MplPath.CLOSEPOLY
    cuts = np.flatnonzero(owner[1:] != owner[:-1]) + 1
    paths = [MplPath(v, c, readonly=True) for v, c in zip(np.split(xy, cuts), np.split(codes, cuts))]
    return paths, owner[np.r_[0, cuts]]



def _ring_lines(geoms: np.ndarray) -> list[np.ndarray]:
    """The rings of (multi)polygons, and the (multi)linestrings, as coordinate arrays."""
    parts = shapely.get_parts(np.asarray(geoms, dtype=object))
    kind = shapely.get_type_id(parts)
    lines = np.concatenate([shapely.get_rings(parts[kind == shapely.GeometryType.POLYGON]),
                            parts[(kind == shapely.GeometryType.LINESTRING)
                                  | (kind == shapely.GeometryType.LINEARRING)]])
    xy, line = shapely.get_coordinates(lines, return_index=True)
    return np.split(xy, np.flatnonzero(line[1:] != line[:-1]) + 1) if len(xy) else []



def _add_polygons(ax: Axes, geoms: np.ndarray, *, facecolor: str | Sequence[Any] | np.ndarray, gid: str,
                  **style: Any) -> PathCollection:
    """Draw (multi)polygons as one collection (``facecolor``: one colour, or one per geometry).

    What geopandas' ``plot`` draws, without its redrawing of the whole figure after each layer.
    """
    from matplotlib.collections import PathCollection

    paths, drawn = _polygon_paths(geoms)
    if not isinstance(facecolor, str):
        facecolor = np.asarray(facecolor)[drawn]
    collection = PathCollection(paths, facecolors=facecolor, gid=gid, zorder=1, **style)
    ax.add_collection(collection, autolim=True)
    return collection



def _add_lines(ax: Axes, geoms: np.ndarray, *, gid: str, **style: Any) -> LineCollection:
    """Draw the borders of (multi)polygons, or (multi)linestrings, as one line collection."""
    from matplotlib.collections import LineCollection

    collection = LineCollection(_ring_lines(geoms), gid=gid, **style)
    ax.add_collection(collection, autolim=True)
    return collection



def _department_borders(com: gpd.GeoDataFrame, clean: bool) -> np.ndarray:
    """The outline of each department of the communes ``com``, as lines (in department order).

    A clean coverage (the embedded communes) is dissolved with GEOS' coverage union, which
    only drops the shared borders; other layers with a full union. The lines are normalised
    (start and direction) as geopandas draws them, so that their dashes fall where they did.
    """
    geoms = com.geometry.to_numpy()
    union = shapely.coverage_union_all if clean else shapely.union_all
    outlines = [union(geoms[rows]) for _, rows in sorted(com.groupby("department").indices.items())]
    return shapely.normalize(shapely.boundary(np.array(outlines, dtype=object)))



def _draw_map(ax: Axes) -> None:
    """Frame the map on what was drawn (as geopandas does), then fit the axes to the equal
    aspect, before anything is placed from the axes' scale (labels, legend, scale bar)."""
    ax.autoscale_view()
    ax.apply_aspect()



def _scale_bar(ax: Axes, *, length_km: float | None = None) -> None:
    """A scale bar in the lower right corner (the axes are in metres)."""
    from matplotlib.patches import Rectangle

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    width = x1 - x0
    if length_km is None:  # the largest round length under a fifth of the map's width
        nice = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500]
        length_km = max([n for n in nice if n * 1000 <= width / 5] or [1])
    length = length_km * 1000
    xs = x1 - width * 0.05 - length
    ys = y0 + (y1 - y0) * 0.04
    h = (y1 - y0) * 0.008
    ax.add_patch(Rectangle((xs, ys), length / 2, h, facecolor="black", edgecolor="black", lw=0.6,
                           gid="scale-bar"))
    ax.add_patch(Rectangle((xs + length / 2, ys), length / 2, h, facecolor="white", edgecolor="black",
                           lw=0.6, gid="scale-bar"))
    ax.text(xs + length / 2, ys + 2.2 * h, f"{length_km:g} km", ha="center", va="bottom", fontsize=8,
            gid="scale-bar-label")



def _unit(ax: Axes) -> float:
    """Map units per point of the axes (equal aspect: the limiting direction)."""
    ax.apply_aspect()
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    bbox = ax.get_window_extent()
    dpi = ax.figure.dpi
    return float(max((x1 - x0) / (bbox.width * 72 / dpi), (y1 - y0) / (bbox.height * 72 / dpi)))



def _draw_label(ax: Axes, x: float, y: float, text: str, kind: str, size: float, cid: object) -> Text:
    """One CPTS label: ``gid="cpts-label"``, the CPTS id as ``url``, a white halo."""
    import matplotlib.patheffects as pe

    t = ax.text(x, y, text, ha="center", va="center", fontsize=size, parse_math=False,
                fontweight="bold" if kind == "short" else "normal", color="#111111",
                linespacing=1.0, gid="cpts-label", zorder=10, clip_on=True)
    t.set_url(str(cid))
    t.set_path_effects([pe.withStroke(linewidth=1.6, foreground="white")])
    return t



def label_territories(ax: Axes, territories: gpd.GeoDataFrame, *, size: float = 6.5, column: str = "name",
                      number_list: bool = True, inset: bool = False,
                      land: np.ndarray | None = None) -> list[Text]:
    """Label each territory inside itself, without overlaps; return the text artists.

    Names are placed by :func:`cpts_geo.render.labels.place_labels` from the axes' current scale; a
    territory too small for its name gets a number, and the numbers are listed under the
    legend (``number_list``). With ``inset``, a small crowded area whose names do not fit
    (Marseille by arrondissement on a regional map, :func:`cpts_geo.render.labels.crowded_groups`)
    is drawn again, zoomed, in an inset placed in the freest corner of the map and linked to its
    place by a frame and two lines; its territories are labelled there (two areas at most).
    Each text artist has ``gid="cpts-label"`` and its CPTS id as ``url``; an inset has
    ``gid="cpts-inset"``.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes already holding the map (in the territories' CRS).
    territories : GeoDataFrame
        In the axes' CRS, indexed by CPTS id.
    size : float, default 6.5
        Font size in points.
    column : str, default "name"
        The label of each territory.
    number_list : bool, default True
        List the numbered territories beside the map.
    inset : bool, default False
        Draw crowded small areas in an inset (see above).
    land : array of geometries, optional
        What the map draws (the communes), to find a free corner for an inset (default: the
        territories).

    Returns
    -------
    list of matplotlib.text.Text
        Empty when ``territories`` is (nothing is drawn).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> label_territories(ax, gpd.GeoDataFrame(geometry=[]))
    []
    >>> plt.close(fig)
    """
    from cpts_geo.render.labels import label_text, place_labels

    if len(territories) == 0:
        return []
    names = [label_text(n) for n in territories[column].astype(str)] if column in territories else \
        [str(i) for i in territories.index]
    short = [str(i + 1) for i in range(len(territories))]
    geoms = territories.geometry.to_numpy()
    placed = place_labels(geoms, names, short, unit=_unit(ax), size=size)
    insets = _insets(ax, geoms, placed, land) if inset else []
    moved = {i for _, members in insets for i in members}
    kinds = placed["kind"].tolist()
    ids = territories.index.tolist()
    texts = [_draw_label(ax, rec.x, rec.y, rec.text, rec.kind, size, cid)
             for i, (cid, rec) in enumerate(zip(ids, placed.itertuples()))
             if rec.text is not None and i not in moved]
    for box, members in insets:
        frame = shapely.box(*_limits(box))
        inner = place_labels(shapely.intersection(geoms[members], frame), [names[i] for i in members],
                             [short[i] for i in members], unit=_unit(box), size=size)
        for i, rec in zip(members, inner.itertuples()):
            kinds[i] = rec.kind
            if rec.text is not None:
                texts.append(_draw_label(box, rec.x, rec.y, rec.text, rec.kind, size, ids[i]))
    numbered = [(s, n) for s, n, k in zip(short, territories[column].astype(str) if column in territories
                                          else territories.index.astype(str), kinds) if k == "short"]
    if number_list and numbered:
        _number_list(ax, numbered)
    return texts



def _limits(ax: Axes) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)`` of the axes' view."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    return float(x0), float(y0), float(x1), float(y1)



#: The side of an inset, in fractions of the map's axes.
_INSET_SIZE = 0.36


#: The most of an inset's area that may hide the map (a map filling its frame gets no inset).
_MOST_HIDDEN = 0.45



def _insets(ax: Axes, geoms: np.ndarray, placed: pd.DataFrame,
            land: np.ndarray | None) -> list[tuple[Axes, list[int]]]:
    """The insets of the crowded areas of a map (two at most, each in a free corner)."""
    from cpts_geo.render.labels import crowded_groups

    x0, y0, x1, y1 = _limits(ax)
    groups = crowded_groups(geoms, placed, span=max(x1 - x0, y1 - y0))[:2]
    if not groups:
        return []
    land = geoms if land is None else land
    tree = shapely.STRtree(land)
    taken: list[shapely.Geometry] = []
    out = []
    for frame, members in groups:
        corner = _free_corner(ax, tree, land, frame, placed, taken)
        if corner is None:
            break
        box = ax.inset_axes(corner, gid="cpts-inset")
        box.set_xlim(frame[0], frame[2])
        box.set_ylim(frame[1], frame[3])
        box.set_aspect("equal")
        box.set_xticks([])
        box.set_yticks([])
        box.set_facecolor("white")
        _copy_layers(ax, box)
        ax.indicate_inset_zoom(box, edgecolor="#333333", alpha=0.9, linewidth=0.8)
        taken.append(_corner_area(ax, corner))
        out.append((box, members))
    return out



def _corner_area(ax: Axes, corner: tuple[float, float, float, float]) -> shapely.Geometry:
    """The rectangle ``corner`` (axes fraction: x, y, width, height) in data coordinates."""
    to_data = ax.transAxes + ax.transData.inverted()
    (a, b), (c, d) = to_data.transform([(corner[0], corner[1]), (corner[0] + corner[2], corner[1] + corner[3])])
    return shapely.box(a, b, c, d)



def _free_corner(ax: Axes, tree: shapely.STRtree, land: np.ndarray, frame: tuple[float, float, float, float],
                 placed: pd.DataFrame, taken: list[shapely.Geometry]) -> tuple[float, float, float, float] | None:
    """The corner of the map where an inset hides the least: least land under it, never the
    crowded area itself, another inset, the scale bar (lower right, kept above it), a label,
    nor more than :data:`_MOST_HIDDEN` of its area in land (None when no corner is that free)."""
    bbox = ax.get_window_extent()
    w = _INSET_SIZE
    h = w * bbox.width / bbox.height  # a square on the page
    if h > 0.6:
        h, w = 0.6, 0.6 * bbox.height / bbox.width
    pad = 0.01
    corners = [(pad, 1 - pad - h), (1 - pad - w, 1 - pad - h), (pad, pad), (1 - pad - w, 0.1)]
    area = shapely.box(*frame)
    points = shapely.points(placed["x"].to_numpy(dtype=float), placed["y"].to_numpy(dtype=float))
    best, best_score = None, np.inf
    for x, y in corners:
        rect = _corner_area(ax, (x, y, w, h))
        if rect.intersects(area) or any(rect.intersects(t) for t in taken):
            continue
        hits = tree.query(rect, predicate="intersects")
        score = float(shapely.area(shapely.intersection(land[hits], rect)).sum()) / rect.area
        score += float(shapely.contains(rect, points).sum())  # a label under the inset: avoid
        if score < best_score and score <= _MOST_HIDDEN:
            best, best_score = (x, y, w, h), score
    return best



def _copy_layers(ax: Axes, box: Axes) -> None:
    """Draw the map's polygons and lines again in the inset ``box``: those in its view only."""
    from matplotlib.collections import LineCollection, PathCollection
    from matplotlib.transforms import Bbox

    view = Bbox.from_extents(*_limits(box))

    def kept(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
        """Per-item values (colours, widths) of the items kept; one value for all stays."""
        return values[keep] if len(values) == len(keep) and len(values) > 1 else values

    for c in list(ax.collections):
        if isinstance(c, PathCollection):
            paths = c.get_paths()
            keep = np.array([p.get_extents().overlaps(view) for p in paths], dtype=bool)
            new: PathCollection | LineCollection = PathCollection(
                [p for p, k in zip(paths, keep) if k], facecolors=kept(np.asarray(c.get_facecolor()), keep),
                edgecolors=kept(np.asarray(c.get_edgecolor()), keep),
                linewidths=kept(np.asarray(c.get_linewidth()), keep), zorder=c.get_zorder())
        elif isinstance(c, LineCollection):
            segments = c.get_segments()
            keep = np.array([Bbox.from_extents(*s.min(axis=0), *s.max(axis=0)).overlaps(view) if len(s) else False
                             for s in segments], dtype=bool)
            new = LineCollection([s for s, k in zip(segments, keep) if k],
                                 colors=kept(np.asarray(c.get_colors()), keep),
                                 linewidths=kept(np.asarray(c.get_linewidth()), keep), zorder=c.get_zorder())
            if c.get_gid() == "department-borders":
                new.set_linestyle((0, (5, 2)))
        else:
            continue
        new.set_gid(c.get_gid())
        box.add_collection(new, autolim=False)



_LIST_SIZE = 5.5  # points: the list of numbered CPTS


def _number_list(ax: Axes, numbered: list[tuple[str, str]]) -> None:
    """List numbered territories beside the map, under the legend, in as many columns as needed."""
    _side_text(ax, "CPTS numérotées sur la carte :", [f"{s}  {n}" for s, n in numbered], gid="cpts-number-list")



class _Drawn(NamedTuple):
    """What :func:`_draw_territories` drew that the legend and the labels need."""

    uncovered: bool  # zones blanches drawn
    shared: pd.DataFrame  # the shared communes (:func:`cpts_geo.render.style.shared_units`)
    labels: gpd.GeoDataFrame  # the territories, each with the geometry its label goes in



def _own_parts(terr: gpd.GeoDataFrame, com: gpd.GeoDataFrame | None, shared: pd.DataFrame,
               member: pd.DataFrame) -> tuple[np.ndarray, gpd.GeoDataFrame]:
    """Each territory without its shared communes (drawn once, apart), and the territories with
    the geometry of their label: that own part, or the shared communes when nothing else is left."""
    own = terr.geometry.to_numpy().copy()
    labels = terr.copy()
    if com is None or not len(shared):
        return own, labels
    codes = set(shared["code"])
    pairs = member[is_in(member["code"], codes)]
    geoms = com.geometry
    for cid, rows in pairs.groupby("cpts_id", sort=False):
        pos = terr.index.astype(str).get_indexer([str(cid)])[0]
        if pos < 0:
            continue
        theirs = shapely.union_all(geoms.reindex(rows["code"]).to_numpy())
        rest = shapely.difference(own[pos], theirs)
        rest = rest if shapely.area(rest) > 1e-6 * max(shapely.area(own[pos]), 1.0) else shapely.Polygon()
        own[pos] = rest
        labels.iloc[pos, labels.columns.get_loc(labels.geometry.name)] = \
            rest if not rest.is_empty else shapely.intersection(terr.geometry.iloc[pos], theirs)
    return own, labels



def _stripes(geom: shapely.Geometry, colors: list[str], width: float) -> tuple[list[shapely.Geometry], list[str]]:
    """Diagonal stripes of ``width`` (map units) over ``geom``, one colour after the other."""
    x0, y0, x1, y1 = geom.bounds
    start, stop = x0 + y0, x1 + y1
    n = max(1, int(np.ceil((stop - start) / width)))
    c = start + width * np.arange(n + 1)
    bands = shapely.polygons([[(x0, a - x0), (x1, a - x1), (x1, b - x1), (x0, b - x0)]
                              for a, b in itertools.pairwise(c.tolist())])
    cut = shapely.intersection(bands, geom)
    keep = ~shapely.is_empty(cut)
    return list(cut[keep]), [colors[i % len(colors)] for i in np.flatnonzero(keep)]



def _draw_shared(ax: Axes, com: gpd.GeoDataFrame, shared: pd.DataFrame, colors: pd.Series) -> None:
    """Each shared commune once: striped with the colours of its CPTS, outlined."""
    codes = list(dict.fromkeys(shared["code"]))
    geoms = com.geometry.reindex(codes).to_numpy()
    x0, y0, x1, y1 = shapely.total_bounds(com.geometry.to_numpy())
    width = max(x1 - x0, y1 - y0) / 160  # about 1.3 mm on an A4 map
    pieces: list[shapely.Geometry] = []
    fills: list[str] = []
    for geom, (_, rows) in zip(geoms, shared.groupby("code", sort=False)):
        palette = [str(colors.get(cid, MISSING_COLOR)) if isinstance(cid, str) else UNCOVERED_COLOR
                   for cid in rows["cpts_id"].astype(object).where(rows["cpts_id"].notna(), None)]
        cut, fill = _stripes(geom, palette, width)
        pieces += cut
        fills += fill
    if pieces:
        _add_polygons(ax, np.array(pieces, dtype=object), facecolor=fills, edgecolors="none", gid="shared-stripes")
    _add_polygons(ax, geoms, facecolor="none", edgecolors=SHARED_BORDER, linewidths=0.5, gid="shared-communes")



def _draw_territories(ax: Axes, terr: gpd.GeoDataFrame, com: gpd.GeoDataFrame | None, colors: pd.Series,
                      membership: pd.DataFrame | None, *, clean: bool) -> _Drawn:
    """The layers of a stage or tier map: zones blanches, CPTS, shared communes, borders."""
    uncovered = False
    shared = pd.DataFrame({"code": [], "cpts_id": [], "share": []})
    member = pd.DataFrame({"code": [], "cpts_id": []})
    if com is not None:
        unc = com[~com["covered"]] if "covered" in com.columns else com.iloc[:0]
        uncovered = bool(len(unc))
        if uncovered:
            _add_polygons(ax, unc.geometry.to_numpy(), facecolor=UNCOVERED_COLOR, edgecolors=UNCOVERED_BORDER,
                          linewidths=0.15, gid="uncovered")
        if "cpts_id" in com.columns:
            member = map_membership(terr, com, membership)
            shared = shared_units(com, member)
    own, labels = _own_parts(terr, com, shared, member)
    colors = colors.set_axis(terr.index.astype(str))
    _add_polygons(ax, own, facecolor=colors.to_numpy(), edgecolors="none", gid="cpts")
    if com is not None and len(shared):
        _draw_shared(ax, com, shared, colors)
    if com is not None:
        _add_lines(ax, com.geometry.to_numpy(), colors="#7f7f7f", linewidths=0.12, gid="commune-borders")
        if "department" in com.columns:
            _add_lines(ax, _department_borders(com, clean), colors="black",
                       linewidths=1.3, linestyle=(0, (5, 2)), gid="department-borders")
    shared_geoms = com.geometry.reindex(list(dict.fromkeys(shared["code"]))).to_numpy() \
        if com is not None and len(shared) else np.array([], dtype=object)
    _add_lines(ax, np.concatenate([own, shared_geoms]), colors="#262626", linewidths=0.5, gid="cpts-borders")
    return _Drawn(uncovered, shared, labels)



def _area_legend(drawn: _Drawn) -> tuple[list[Any], list[str]]:
    """The legend entries every CPTS map adds: shared communes, zones blanches."""
    from matplotlib.patches import Patch

    handles: list[Any] = []
    texts: list[str] = []
    if len(drawn.shared):
        handles.append(Patch(facecolor="white", edgecolor=SHARED_BORDER, hatch="////"))
        texts.append(SHARED_LABEL)
    if drawn.uncovered:
        handles.append(Patch(facecolor=UNCOVERED_COLOR, edgecolor=UNCOVERED_BORDER))
        texts.append("Zone blanche (non couverte)")
    return handles, texts



def _shared_list(ax: Axes, shared: pd.DataFrame, com: gpd.GeoDataFrame, names: Mapping[str, str]) -> None:
    """List each shared commune under the legend with its CPTS, by name, and their shares."""
    lines = []
    for code, rows in shared.groupby("code", sort=False):
        lines.append(f"{com.at[code, 'name']} ({code})" if "name" in com.columns else str(code))
        lines += ["   " + shared_text(names.get(str(cid), str(cid)) if isinstance(cid, str) else None, share)
                  for cid, share in zip(rows["cpts_id"].astype(object).where(rows["cpts_id"].notna(), None),
                                        rows["share"])]
    _side_text(ax, "Communes partagées entre CPTS :", lines, gid="shared-list")



def _side_top(ax: Axes) -> float:
    """Where the next block of text beside the map starts (axes fraction): under the legend and
    the blocks already there."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    top = 1.0
    boxes: list[Any] = [ax.get_legend()] if ax.get_legend() is not None else []
    boxes += [t for t in ax.texts if t.get_gid() in _SIDE_BLOCKS]
    for artist in boxes:
        box = artist.get_window_extent(renderer).transformed(ax.transAxes.inverted())
        top = min(top, float(box.y0) - 0.03)
    return top



#: The blocks of text beside the map, under the legend (each placed under the others).
_SIDE_BLOCKS = ("shared-list", "cpts-number-list")



def _side_text(ax: Axes, head: str, lines: list[str], *, gid: str) -> None:
    """A block of text beside the map, under the legend and the blocks before it, in columns."""
    fig = ax.figure
    top = _side_top(ax)
    height_pts = ax.get_window_extent().height * 72 / fig.dpi * max(top, 0.2)
    size = _LIST_SIZE
    per_col = max(5, int(height_pts / (size * 1.25)) - 1)
    x_pts = 0.0
    for start in range(0, len(lines), per_col):
        chunk = lines[start:start + per_col]
        first = head + "\n" if start == 0 else "\n"
        ax.annotate(first + "\n".join(chunk), xy=(1.02, top), xycoords="axes fraction", parse_math=False,
                    xytext=(x_pts, 0), textcoords="offset points", ha="left", va="top", fontsize=size,
                    gid=gid, annotation_clip=False)
        x_pts += max(len(line) for line in chunk) * size * 0.55 + 8



def _literal_legend(legend: Legend) -> None:
    """Legend entries and title are the registry's words: text, never mathtext (``$…$``)."""
    for text in [*legend.get_texts(), legend.get_title()]:
        text.set_parse_math(False)


def _legend_width(ax: Axes, legend_kwds: Mapping[str, Any] | None) -> None:
    """Long legend entries wrapped at ``legend_kwds["width"]`` characters, before the notes placed under
    the legend are laid out."""
    if legend_kwds and legend_kwds.get("width"):
        wrap_legend(ax, int(legend_kwds["width"]))


def wrap_legend(ax: Axes, width: int = 52) -> None:
    """Wrap the long entries and title of a map's legend on several lines, for a narrow figure.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        A map drawn by :func:`plot_stages` or :func:`plot_tiers` (nothing happens without a legend).
    width : int, default 52
        Characters per line.

    Returns
    -------
    None
    """
    legend = ax.get_legend()
    if legend is None:
        return
    for text in [*legend.get_texts(), legend.get_title()]:
        words = text.get_text()
        if len(words) > width and "\n" not in words:
            text.set_text(textwrap.fill(words, width, break_long_words=False))



def _finish(ax: Axes, *, title: str | None, caption: str | None, scale_bar: bool) -> Axes:
    if title:
        ax.set_title(title, fontsize=13, fontweight="bold", loc="left", parse_math=False)
    if scale_bar:
        _scale_bar(ax)
    if caption:
        ax.annotate(caption, xy=(0, -0.02), xycoords="axes fraction", ha="left", va="top", fontsize=7,
                    color="#333333", wrap=True, parse_math=False)
    return ax



def plot_stages(
    territories: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame | None = None,
    *,
    ax: Axes | None = None,
    column: str | None = None,
    cmap: Mapping[str, str] | str | None = None,
    scheme: str = "quantiles",
    k: int = 5,
    legend: bool = True,
    legend_kwds: Mapping[str, Any] | None = None,
    classification_kwds: Mapping[str, Any] | None = None,
    labels: bool = True,
    title: str | None = None,
    caption: str | None = None,
    scale_bar: bool = True,
    membership: pd.DataFrame | None = None,
) -> Axes:
    """Print map of CPTS coloured by project stage (or by what ``column`` says), each labelled.

    The colours and the legend are those of the HTML map (:func:`cpts_geo.render.style.territory_fill`):
    by default the stage when any is given (in the registry's own words when it has its own
    vocabulary), else each CPTS in a colour distinct from its neighbours'. The legend lists only
    the classes present, and the zones blanches when there are some. A commune shared between
    CPTS (:func:`cpts_geo.render.style.shared_units`) is drawn once, striped with the colours of
    its CPTS; the legend has an entry for it, and a list beside the map gives each shared commune
    with its CPTS by name and their shares. A CPTS made only of shared communes is labelled on them.

    Parameters
    ----------
    territories : GeoDataFrame
        From :func:`cpts_geo.domain.territories.build_territories`.
    communes : GeoDataFrame, optional
        From :func:`cpts_geo.domain.territories.communes_with_cpts`: draws commune borders (light)
        and uncovered communes (grey, "Zone blanche").
    column : str, optional
        ``"stage"`` (``"etape"``), ``"tier"`` (``"taille"``), ``"cpts"`` (neighbours never
        alike) or an indicator column of ``territories``; default: the stage when any is given,
        ``"cpts"`` otherwise.
    cmap : dict or str, optional
        Stage (or tier) → colour (default :data:`cpts_geo.domain.stages.STAGE_COLORS`), or a
        colormap name for an indicator.
    scheme, k, classification_kwds
        Classes of an indicator (mapclassify).
    legend : bool, default True
        The legend, with the uncovered communes when ``communes`` has some.
    legend_kwds : dict, optional
        ``title`` of the legend (default "Étape du projet"), ``fmt`` of an indicator's numbers,
        ``width``: characters per line of a long entry (for a narrow figure, :func:`wrap_legend`).
    labels : bool, default True
        Label each CPTS (:func:`label_territories`).
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new A4-wide figure).
    title, caption, scale_bar
        Map title, source caption, scale bar.
    membership : DataFrame, optional
        ``code``, ``cpts_id``, ``share`` (``CheckedRegistry.membership``): the CPTS of each shared
        commune and their shares (default: read from ``communes``, shares not known).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.legend_handler import HandlerTuple
    from matplotlib.patches import Patch

    ax = _axes(ax)
    crs = _crs_for(territories, communes)
    terr = _metric(territories, crs)
    fill = territory_fill(terr, column, cmap=cmap, scheme=scheme, k=k, legend_kwds=legend_kwds,
                          classification_kwds=classification_kwds)
    com = _metric(communes, crs) if communes is not None else None
    clean = communes is not None and layer_metadata(communes).clean_coverage
    drawn = _draw_territories(ax, terr, com, fill.colors, membership, clean=bool(clean))
    _draw_map(ax)
    if legend:
        handles: list[Any] = [tuple(Patch(facecolor=c, edgecolor="#555555") for c in colors) if len(colors) > 1
                              else Patch(facecolor=colors[0], edgecolor="#555555") for _, colors in fill.legend]
        texts = [label for label, _ in fill.legend]
        more_handles, more_texts = _area_legend(drawn)
        _literal_legend(ax.legend(handles=handles + more_handles, labels=texts + more_texts, title=fill.title,
                                  loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8,
                                  title_fontsize=9, handler_map={tuple: HandlerTuple(ndivide=None, pad=0)}))
        _legend_width(ax, legend_kwds)
    _side_notes(ax, drawn, com, terr, labels=labels)
    note = vocabulary_caption(terr) if fill.column == "stage" else ""
    if note:
        caption = f"{caption}\n{note}" if caption else note
    return _finish(ax, title=title, caption=caption, scale_bar=scale_bar)



def _side_notes(ax: Axes, drawn: _Drawn, com: gpd.GeoDataFrame | None, terr: gpd.GeoDataFrame, *,
                labels: bool) -> None:
    """The list of shared communes, then the labels (and the list of numbered CPTS)."""
    if com is not None and len(drawn.shared):
        names = {str(i): str(n) for i, n in terr["name"].items()} if "name" in terr else {}
        _shared_list(ax, drawn.shared, com, names)
    if labels:
        label_territories(ax, drawn.labels, inset=True,
                          land=None if com is None else com.geometry.to_numpy())



def plot_tiers(
    territories: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame | None = None,
    *,
    ax: Axes | None = None,
    column: str = "tier",
    cmap: Mapping[int, str] | None = None,
    legend: bool = True,
    legend_kwds: Mapping[str, Any] | None = None,
    labels: bool = True,
    title: str | None = None,
    caption: str | None = None,
    scale_bar: bool = True,
    membership: pd.DataFrame | None = None,
) -> Axes:
    """Print map of CPTS by size tier (1–4), each CPTS labelled.

    Uncovered communes (zones blanches) and shared communes are drawn and listed in the legend
    as on :func:`plot_stages`.

    Parameters
    ----------
    territories, communes, ax, legend, legend_kwds, labels, title, caption, scale_bar, membership
        As in :func:`plot_stages` (default legend title "Taille (niveau ACI)"; the legend lists
        the tiers present, the shared communes and the zones blanches).
    column : str, default "tier"
        Column holding the tier.
    cmap : dict, optional
        Tier → colour (default :data:`cpts_geo.render.style.TIER_COLORS`).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.patches import Patch

    ax = _axes(ax)
    colors = dict(TIER_COLORS if cmap is None else cmap)
    crs = _crs_for(territories, communes)
    terr = _metric(territories, crs)
    com = _metric(communes, crs) if communes is not None else None
    fill = pd.Series(terr[column]).map(lambda t: colors.get(int(t)) if pd.notna(t) else "#ffffff")
    clean = communes is not None and layer_metadata(communes).clean_coverage
    drawn = _draw_territories(ax, terr, com, fill, membership, clean=bool(clean))
    _draw_map(ax)
    if legend:
        present = set(pd.to_numeric(terr[column], errors="coerce").dropna().astype(int))
        handles: list[Any] = [Patch(facecolor=colors[t], edgecolor="#555555") for t in (1, 2, 3, 4) if t in present]
        texts = [TIER_LABELS[t] for t in (1, 2, 3, 4) if t in present]
        more_handles, more_texts = _area_legend(drawn)
        legend_title, _ = legend_options(legend_kwds, default_title="Taille (niveau ACI)")
        _literal_legend(ax.legend(handles=handles + more_handles, labels=texts + more_texts, title=legend_title,
                                  loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8,
                                  title_fontsize=9))
        _legend_width(ax, legend_kwds)
    _side_notes(ax, drawn, com, terr, labels=labels)
    return _finish(ax, title=title, caption=caption, scale_bar=scale_bar)



def plot_indicator(
    data: gpd.GeoDataFrame,
    column: str,
    *,
    ax: Axes | None = None,
    cmap: str = "YlOrRd",
    scheme: str | None = "quantiles",
    k: int = 5,
    legend: bool = True,
    legend_kwds: Mapping[str, Any] | None = None,
    classification_kwds: Mapping[str, Any] | None = None,
    title: str | None = None,
    caption: str | None = None,
    scale_bar: bool = True,
) -> Axes:
    """Choropleth of an indicator (density, accessibility, retention…), classes by mapclassify.

    The classes, colours and legend labels are those of the HTML layer
    (:func:`cpts_geo.render.maps.indicator_layer` with the same parameters), both from
    :func:`cpts_geo.render.style.classify`; numbers are written the French way (``12,5 – 30,0``).
    ``scheme=None`` draws a continuous colour bar instead. Missing values are drawn hatched
    white and listed in the legend as "non disponible".

    Parameters
    ----------
    data : GeoDataFrame
        Territories or communes with the indicator.
    column : str
        The indicator.
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    cmap, scheme, k, classification_kwds
        Colours and classes (see :func:`cpts_geo.render.style.classify`).
    legend : bool, default True
        Draw the legend.
    legend_kwds : dict, optional
        ``title`` (legend title, default ``column``) and ``fmt`` (number format).
    title, caption, scale_bar
        Map title, source caption, scale bar.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    legend_title, fmt = legend_options(legend_kwds, default_title=column)
    ax = _axes(ax)
    gdf = _metric(data, _crs_for(data, None))
    values = pd.to_numeric(gdf[column], errors="coerce")
    present = values.notna().to_numpy()
    known = gdf[present]
    missing = gdf[~present]
    style = {"edgecolor": "#555555", "linewidth": 0.2}
    if scheme:
        classes, colors, labels = classify(values, scheme=scheme, k=k, cmap=cmap, fmt=fmt,
                                           classification_kwds=classification_kwds)
        _add_polygons(ax, known.geometry.to_numpy(), facecolor=[colors[c] for c in classes[present]],
                      edgecolors="#555555", linewidths=0.2, gid="indicator")
        handles = [Patch(facecolor=c, edgecolor="#555555", label=lab) for c, lab in zip(colors, labels)]
    else:  # a colour bar: geopandas draws it
        known.plot(ax=ax, column=column, cmap=cmap, legend=legend, gid="indicator",
                   legend_kwds={"label": legend_title, "shrink": 0.6,
                                "format": FuncFormatter(lambda x, _: french_number(x, fmt))}, **style)
        handles = []
    if len(missing):
        _add_polygons(ax, missing.geometry.to_numpy(), facecolor="white", edgecolors="#999999", hatch="///",
                      linewidths=0.2, gid="missing")
        if scheme:
            handles.append(Patch(facecolor="white", edgecolor="#999999", hatch="///",
                                 label="non disponible"))
    _draw_map(ax)
    if legend and handles:
        _literal_legend(ax.legend(handles=handles, title=legend_title, loc="upper left", bbox_to_anchor=(1.0, 1.0),
                                  frameon=False, fontsize=8, title_fontsize=9))
    return _finish(ax, title=title, caption=caption, scale_bar=scale_bar)



def save_figure(ax: Axes | Figure, path: str | Path, *, dpi: int = 300) -> Path:
    """Write the figure of ``ax`` (or a figure) as PNG, SVG or PDF (from the suffix), atomically.

    Parameters
    ----------
    ax : matplotlib.axes.Axes or matplotlib.figure.Figure
    path : str or Path
        ``.png``, ``.svg`` or ``.pdf``.
    dpi : int, default 300
        Resolution (must be positive).

    Returns
    -------
    Path
    """
    import sys

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from cpts_geo.io.files import atomic_path

    dpi = check_dpi(dpi)
    fig = cast("Figure", ax.figure if hasattr(ax, "figure") and not hasattr(ax, "savefig") else ax)
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".png" and isinstance(fig.canvas, FigureCanvasAgg):
            _save_png(fig, tmp, dpi)
        else:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", metadata=_METADATA.get(path.suffix.lower()))
    if "matplotlib.pyplot" in sys.modules:  # a figure of pyplot: forget it (others are not pyplot's)
        sys.modules["matplotlib.pyplot"].close(fig)
    return path


_METADATA = {".png": {"Software": None}, ".svg": {"Date": None}, ".pdf": {"CreationDate": None}}



#: The figures of :func:`_map_figure` and the width (inches) their map was laid out for: wrapped
#: text (the caption) wraps there, as on a figure of that width.
_LAID_OUT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()



def _save_png(fig: Figure, path: Path, dpi: int) -> None:
    """``fig.savefig(path, dpi=dpi, bbox_inches="tight")``, drawing the figure once.

    matplotlib draws a figure twice for a tight bounding box (once to measure it, once to
    write it): here the box is measured from the artists' extents, without drawing, then the
    figure is drawn once into that box. When the box lies inside the figure (a figure of
    :func:`_map_figure`), the figure is drawn as it is and the box cut out of the image: the
    text, measured for the box, is not measured again. Wrapped text (the caption) is broken
    where savefig breaks it: at the edge of the figure (for a figure of :func:`_map_figure`,
    of the width its map was laid out for) to measure the box, at the edge of the box to draw.
    The image is written by :func:`_png`, in RGB when it is opaque (the same pixels, a quarter
    less to compress).
    """
    from matplotlib.text import Text

    wrapped = [t for t in fig.findobj(Text) if t.get_wrap() and t.get_visible()]
    texts = [t.get_text() for t in wrapped]
    resolution = fig.dpi
    try:
        path.write_bytes(_png(_tight_image(fig, dpi, wrapped, texts), dpi))
    finally:  # the figure as it was given
        for t, text in zip(wrapped, texts):
            t.set_text(text)
            t.set_wrap(True)
        fig.set_dpi(resolution)



class _Discard:
    """A file that keeps nothing: savefig draws, the image is read from the canvas."""

    def __init__(self) -> None:
        self.size = 0
        self.position = 0

    def write(self, data: bytes | memoryview) -> int:
        """Count the bytes, keep none."""
        self.size = max(self.size, self.position + len(data))
        self.position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move as a file does (from the start, the current position or the end)."""
        self.position = max(0, offset + (0, self.position, self.size)[whence])
        return self.position

    def tell(self) -> int:
        """The current position."""
        return self.position



def _tight_image(fig: Figure, dpi: int, wrapped: list[Text], texts: list[str]) -> np.ndarray:
    """The pixels of :func:`_save_png` (RGB when opaque, RGBA otherwise)."""
    import matplotlib

    fig.set_dpi(dpi)
    canvas = cast("FigureCanvasAgg", fig.canvas)  # (save_figure draws PNG on Agg canvases only)
    renderer = canvas.get_renderer()
    width, height = fig.get_size_inches()
    ours = all(t.get_horizontalalignment() == "left" and t.get_rotation() == 0 for t in wrapped)
    if ours:
        for t in wrapped:
            _wrap(t, renderer, _LAID_OUT.get(fig, width) * dpi)
    bbox = fig.get_tightbbox(renderer).padded(matplotlib.rcParams["savefig.pad_inches"])
    if ours and bbox.x0 >= 0 and bbox.y0 >= 0 and bbox.x1 <= width and bbox.y1 <= height:
        # the renderer that measured the text draws it, and the box is cut out of the image
        for t, text in zip(wrapped, texts):
            t.set_text(text)
            _wrap(t, renderer, bbox.x1 * dpi)
        canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba())
        rows, columns = int(bbox.height * dpi), int(bbox.width * dpi)  # the size savefig gives
        top, left = len(rgba) - round(bbox.y0 * dpi) - rows, round(bbox.x0 * dpi)  # the nearest whole pixel
        rgba = rgba[top:top + rows, left:left + columns]
    else:
        for t, text in zip(wrapped, texts):
            t.set_text(text)
            t.set_wrap(True)
        fig.savefig(cast(Any, _Discard()), format="rgba", dpi=dpi, bbox_inches=bbox)
        rgba = np.asarray(canvas.buffer_rgba())  # what was just drawn
    return rgba[..., :3] if rgba[..., 3].min() == 255 else rgba



def _wrap(text: Text, renderer: Any, right: float) -> None:
    """Break a left-aligned horizontal ``text`` into lines ending before ``right`` (pixels), as
    matplotlib's ``wrap=True`` does at the edge of the figure, then turn ``wrap`` off.

    The same rule (the most words that fit, one at least; the text's own line breaks kept),
    found by halving instead of word after word: a few measurements per line.
    """
    import math

    if hasattr(text, "update_positions"):  # an annotation: where its text goes, in pixels
        text.update_positions(renderer)
    room = right - text.get_transform().transform(text.get_position())[0]
    prop = text.get_fontproperties()

    def fits(words: list[str]) -> bool:
        return math.ceil(renderer.get_text_width_height_descent(" ".join(words), prop, ismath=False)[0]) <= room

    lines = []
    for line in text.get_text().split("\n"):
        words = line.split(" ")
        while words:
            lo, hi = 1, len(words)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if fits(words[:mid]) else (lo, mid - 1)
            lines.append(" ".join(words[:lo]))
            words = words[lo:]
    text.set_text("\n".join(lines))
    text.set_wrap(False)



def _png(pixels: np.ndarray, dpi: int) -> bytes:
    """A PNG file of ``pixels`` (rows × columns × 3 or 4 bytes: RGB or RGBA) at ``dpi``.

    Rows unfiltered (PNG filter 0) and compressed by zlib at level 3: for maps (flat colours,
    thin lines) both faster and smaller than Pillow's adaptive filters at level 6, as matplotlib
    writes them. The resolution is recorded (``pHYs``, pixels per metre), no text chunk.
    """
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    height, width, depth = pixels.shape
    # compressed by blocks of rows: little memory beside the image, whatever its resolution
    block = np.zeros((min(height, 256), width * depth + 1), dtype=np.uint8)  # first byte: filter none
    packer = zlib.compressobj(3)
    data = []
    for start in range(0, height, len(block)):
        n = min(len(block), height - start)
        block[:n, 1:].reshape(n, width, depth)[...] = pixels[start:start + n]
        data.append(packer.compress(block[:n].data))
    data.append(packer.flush())
    per_metre = round(dpi / 0.0254)
    return b"".join([b"\x89PNG\r\n\x1a\n",
                     chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2 if depth == 3 else 6, 0, 0, 0)),
                     chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
                     chunk(b"IDAT", b"".join(data)),
                     chunk(b"IEND", b"")])



#: The highest resolution of a print map, in dots per inch (600 is already print quality).
MAX_DPI = 1200

#: The most pixels a print map may have (about 400 MB of memory to draw it).
MAX_PIXELS = 100_000_000



def check_dpi(dpi: int | float | str, *, size: tuple[float, float] = (8.27, 8.27)) -> int:
    """``dpi`` as a whole number of dots per inch that a print map can be drawn at, or a French
    error (call it before writing anything).

    The resolution is at most :data:`MAX_DPI`, and the image at most :data:`MAX_PIXELS` pixels
    (matplotlib cannot draw 65 536 pixels or more on a side; 7 000 ppp on an A4 width would
    need tens of gigabytes).

    Parameters
    ----------
    dpi : int, float or str
        The resolution asked for, in dots per inch.
    size : tuple of float, default (8.27, 8.27)
        Width and height of the figure in inches (a print map: an A4 width, square).

    Returns
    -------
    int
        The resolution.

    Raises
    ------
    ValueError
        Not a positive whole number, above :data:`MAX_DPI`, or an image of more than
        :data:`MAX_PIXELS` pixels (French message).

    Examples
    --------
    >>> check_dpi(0)
    Traceback (most recent call last):
    ...
    ValueError: Résolution invalide : 0 ppp. Donnez un nombre entier de points par pouce positif (par exemple 200).
    >>> check_dpi(100_000)
    Traceback (most recent call last):
    ...
    ValueError: Résolution trop élevée : 100 000 ppp ; au plus 1 200 ppp (600 ppp suffisent pour une impression de qualité).
    """
    from cpts_geo.domain.french import number

    try:
        value = int(dpi)
    except (TypeError, ValueError, OverflowError):
        value = 0
    if value <= 0 or (isinstance(dpi, float) and not float(dpi).is_integer()):
        raise ValueError(f"Résolution invalide : {dpi} ppp. Donnez un nombre entier de points par pouce "
                         "positif (par exemple 200).")
    if value > MAX_DPI:
        raise ValueError(f"Résolution trop élevée : {number(value)} ppp ; au plus {number(MAX_DPI)} ppp "
                         "(600 ppp suffisent pour une impression de qualité).")
    width, height = (round(float(side) * value) for side in size)
    if width * height > MAX_PIXELS:
        most = int((MAX_PIXELS / (float(size[0]) * float(size[1]))) ** 0.5)
        raise ValueError(f"Image trop grande : {number(width)} × {number(height)} pixels à {number(value)} ppp "
                         f"({number(width * height / 1e6)} millions de pixels, au plus "
                         f"{number(MAX_PIXELS / 1e6)}) ; donnez au plus {number(most)} ppp.")
    return value
