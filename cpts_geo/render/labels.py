"""Placing CPTS labels inside their territory, without overlaps (HTML and print maps).

The method (greedy placement with collision boxes, as in classic cartographic label placement):

1. Candidate anchors inside each territory, best first: the centre of its largest inscribed
   circle (the *pole of inaccessibility*, GEOS ``MaximumInscribedCircle``, the polylabel idea),
   then :func:`shapely.point_on_surface`, then the pole of each other part.
2. Candidate texts, best first: the name on one line, the name on two lines (cut at the space
   nearest the middle), then a short id (a number listed in a legend).
3. Names first, largest territories first: a name is placed at the first anchor where its box
   lies inside the territory and overlaps no box already placed. Then numbers for the others,
   smallest territories first (they have the fewest places), at the first anchor or point of a
   grid inside the territory where the number's box overlaps nothing. A territory where nothing
   fits gets its number at its pole anyway, marked ``overlap=True`` (the HTML map leaves such a
   label out at that zoom; print maps keep it).

Box sizes are estimated from the number of characters (``char_width`` × font size per
character, ``line_height`` × font size per line), in the map's units (``unit`` map units per
point or pixel), so the same code serves a Leaflet zoom level and a matplotlib figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely

CHAR_WIDTH = 0.62


LINE_HEIGHT = 1.25

# A label placed: x, y, text, kind and its box.
_Choice = tuple[float, float, Any, str, shapely.Geometry]



def label_text(name: str) -> str:
    """The name as written on the map: without a leading « CPTS » (the map is about CPTS).

    Parameters
    ----------
    name : str
        The CPTS name (any value, converted with ``str``).

    Returns
    -------
    str
        The name stripped of surrounding spaces and of a leading ``CPTS `` (any case); the
        whole name when nothing would be left.

    Examples
    --------
    >>> label_text("CPTS du Vermandois"), label_text("CPTS")
    ('du Vermandois', 'CPTS')
    """
    name = str(name).strip()
    rest = name[5:].strip() if name[:5].upper() == "CPTS " else ""
    return rest or name



def _two_lines(text: str) -> str | None:
    words = text.split(" ")
    if len(words) < 2:
        return None
    mid = len(text) / 2
    cuts = np.cumsum([len(w) + 1 for w in words[:-1]]) - 1
    i = int(np.argmin(np.abs(cuts - mid)))
    return " ".join(words[: i + 1]) + "\n" + " ".join(words[i + 1:])



def _box(x: float, y: float, text: str, size: float) -> shapely.Polygon:
    lines = text.split("\n")
    w = (max(len(line) for line in lines) * CHAR_WIDTH + 0.4) * size
    h = (len(lines) * LINE_HEIGHT + 0.2) * size
    return shapely.box(x - w / 2, y - h / 2, x + w / 2, y + h / 2)



def anchors(geoms: Iterable[shapely.Geometry | None]) -> list[list[tuple[float, float]]]:
    """Candidate label points inside each (multi)polygon, best first.

    Parameters
    ----------
    geoms : iterable of shapely (multi)polygons
        The territories (``None`` or empty allowed).

    Returns
    -------
    list of list of (float, float)
        For each geometry, its candidate points: the pole of inaccessibility of its largest
        part, then a :func:`shapely.point_on_surface` of that part, then the poles of the next
        largest parts (four parts at most); an empty list for a missing or empty geometry.
    """
    out: list[list[tuple[float, float]]] = []
    for geom in geoms:
        if geom is None or geom.is_empty:
            out.append([])
            continue
        parts = sorted(shapely.get_parts(geom), key=lambda p: -p.area)
        tol = max(np.sqrt(parts[0].area) / 200, 1e-9)
        pts = []
        for i, part in enumerate(parts[:4]):
            centre = shapely.get_point(shapely.maximum_inscribed_circle(part, tol), 0)
            pts.append((centre.x, centre.y))
            if i == 0:
                pos = shapely.point_on_surface(part)
                pts.append((pos.x, pos.y))
        out.append(pts)
    return out



def place_labels(geoms: Iterable[shapely.Geometry | None], names: Sequence[Any], short: Sequence[Any], *,
                 unit: float, size: float = 9.0,
                 candidates: list[list[tuple[float, float]]] | None = None,
                 grids: dict[int, list[tuple[float, float]]] | None = None) -> pd.DataFrame:
    """Place one label per territory; return ``x``, ``y``, ``text``, ``kind``, ``overlap``.

    Parameters
    ----------
    geoms : array of (multi)polygons, in a projected CRS
    names, short : sequences of str
        Full labels and short ids (same order as ``geoms``).
    unit : float
        Map units per point (or pixel).
    size : float
        Font size, in points (or pixels).
    candidates : list, optional
        Precomputed :func:`anchors` (reused across zoom levels).
    grids : dict, optional
        A cache of the fallback grid points of each territory (reused across zoom levels).

    Returns
    -------
    pandas.DataFrame
        One row per territory (same order); ``kind`` is ``"name"``, ``"name2"`` (two lines)
        or ``"short"``; empty geometries get ``kind=None``.

    Examples
    --------
    >>> out = place_labels([shapely.box(0, 0, 100, 50)], ["CPTS A"], ["1"], unit=1.0)
    >>> out[["text", "kind", "overlap"]].to_dict("records")
    [{'text': 'CPTS A', 'kind': 'name', 'overlap': False}]
    """
    geoms = list(geoms)
    cands = anchors(geoms) if candidates is None else candidates
    grids = {} if grids is None else grids
    areas = np.array([g.area if g is not None else 0.0 for g in geoms])
    s = size * unit
    placed = np.full((len(geoms), 4), np.nan)  # x0, y0, x1, y1 of the boxes placed so far
    rows: list[dict] = [{"x": np.nan, "y": np.nan, "text": None, "kind": None, "overlap": False} for _ in geoms]

    def attempt(i: int, text: Any, kind: str) -> _Choice | None:
        geom = geoms[i]
        assert geom is not None  # only territories with anchors are tried
        gx0, gy0, gx1, gy1 = geom.bounds
        if kind == "short" and i not in grids:
            grids[i] = _grid(geom)
        points = cands[i] + (grids[i] if kind == "short" else [])
        for x, y in points:
            box = _box(x, y, str(text), s)
            bx0, by0, bx1, by1 = box.bounds
            if kind != "short" and (bx1 - bx0 > gx1 - gx0 or by1 - by0 > gy1 - gy0):
                return None  # larger than the territory itself: no anchor can hold it
            inside = shapely.contains_xy(geom, x, y) if kind == "short" else geom.contains(box)
            if inside and not _collides(placed, box):
                return (x, y, text, kind, box)
        return None

    def keep(i: int, choice: _Choice, overlap: bool = False) -> None:
        placed[i] = choice[4].bounds
        rows[i] = {"x": choice[0], "y": choice[1], "text": choice[2], "kind": choice[3], "overlap": overlap}

    # 1. names, largest territories first (they have room)
    for i in np.argsort(-areas, kind="stable"):
        if not cands[i]:
            continue
        shapely.prepare(geoms[i])
        for text, kind in [(names[i], "name"), (_two_lines(str(names[i])), "name2")]:
            choice = attempt(i, text, kind) if text else None
            if choice:
                keep(i, choice)
                break
    # 2. numbers for the others, smallest first (they have the fewest places)
    for i in np.argsort(areas, kind="stable"):
        if not cands[i] or rows[i]["kind"] is not None:
            continue
        choice = attempt(i, short[i], "short")
        if choice is None:
            x, y = cands[i][0]
            keep(i, (x, y, short[i], "short", _box(x, y, str(short[i]), s)), overlap=True)
        else:
            keep(i, choice)
    return pd.DataFrame(rows)



def _grid(geom: shapely.Geometry, n: int = 7) -> list[tuple[float, float]]:
    """Points of a regular grid inside ``geom``, nearest its pole first (more room for a number)."""
    x0, y0, x1, y1 = geom.bounds
    xs, ys = np.meshgrid(np.linspace(x0, x1, n + 2)[1:-1], np.linspace(y0, y1, n + 2)[1:-1])
    xs_flat, ys_flat = xs.ravel(), ys.ravel()
    inside = shapely.contains_xy(geom, xs_flat, ys_flat)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    order = np.argsort((xs_flat[inside] - cx) ** 2 + (ys_flat[inside] - cy) ** 2)
    return list(zip(xs_flat[inside][order].tolist(), ys_flat[inside][order].tolist()))



def _collides(placed: np.ndarray, box: shapely.Geometry) -> bool:
    """Whether ``box`` overlaps a box already placed (rows of NaN are not placed yet)."""
    x0, y0, x1, y1 = box.bounds
    hit = (placed[:, 0] < x1) & (placed[:, 2] > x0) & (placed[:, 1] < y1) & (placed[:, 3] > y0)
    return bool(hit.any())



def crowded_groups(geoms: Sequence[shapely.Geometry | None] | np.ndarray, placed: pd.DataFrame, *, span: float,
                   gap: float = 0.03, most: float = 0.2,
                   small: float = 0.06) -> list[tuple[tuple[float, float, float, float], list[int]]]:
    """Small areas whose labels do not fit: where a print map draws an inset (a zoomed frame).

    The small territories (at most ``small × span`` across) whose name did not fit (a number, or
    a label overlapping another) are grouped when they lie within ``gap × span`` of each other; a
    group of two or more whose extent is at most ``most × span`` is a crowded area (Marseille by
    arrondissement on a regional map; never a whole region of numbered CPTS).
    Its frame is a square around the group, a little larger; every territory whose label point
    lies in the frame is labelled in the inset.

    Parameters
    ----------
    geoms : sequence of shapely (multi)polygons
        The territories, in a projected CRS.
    placed : DataFrame
        :func:`place_labels` of those territories on the map.
    span : float
        The extent of the map (its largest side, in the territories' units).
    gap, most, small : float
        As above, in fractions of ``span``.

    Returns
    -------
    list of (frame, territories)
        Largest group first: the frame ``(x0, y0, x1, y1)`` and the positions of the territories
        labelled in it.

    Examples
    --------
    >>> boxes = [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(50, 50, 100, 100)]
    >>> placed = pd.DataFrame({"x": [0.5, 1.5, 75], "y": [0.5, 0.5, 75], "kind": ["short", "short", "name"],
    ...                        "overlap": [False, True, False]})
    >>> [(tuple(round(v, 2) for v in frame), members) for frame, members in crowded_groups(boxes, placed, span=100)]
    [((-0.15, -0.65, 2.15, 1.65), [0, 1])]
    """
    kind = placed["kind"].to_numpy(dtype=object)
    bounds = shapely.bounds(np.asarray(geoms, dtype=object))
    tiny = np.nan_to_num(np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1]), nan=np.inf) \
        <= small * span
    crowded = np.flatnonzero(((kind == "short") | placed["overlap"].to_numpy(dtype=bool)) & tiny)
    if len(crowded) < 2:
        return []
    arr = np.asarray(geoms, dtype=object)[crowded]
    a, b = shapely.STRtree(arr).query(arr, predicate="dwithin", distance=gap * span)
    component = _components(len(crowded), a, b)
    xs, ys = placed["x"].to_numpy(dtype=float), placed["y"].to_numpy(dtype=float)
    out = []
    for c in np.unique(component):
        members = crowded[component == c]
        if len(members) < 2:
            continue
        x0, y0, x1, y1 = (float(v) for v in shapely.total_bounds(np.asarray(geoms, dtype=object)[members]))
        side = max(x1 - x0, y1 - y0) * 1.15
        if side > most * span:
            continue
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        frame = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
        inside = np.flatnonzero((xs >= frame[0]) & (xs <= frame[2]) & (ys >= frame[1]) & (ys <= frame[3]))
        out.append((frame, sorted(set(inside.tolist()) | set(members.tolist()))))
    return sorted(out, key=lambda g: -len(g[1]))



def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The connected component of each of ``n`` nodes linked by the pairs ``(a, b)``."""
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for i, j in zip(a.tolist(), b.tolist()):
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return np.array([root(i) for i in range(n)])
