"""Shared borders of the embedded communes, computed once, to dissolve them fast.

The embedded communes form a clean polygonal coverage: two neighbours share their border
vertex for vertex. The union of a group of them (a CPTS) is then what is left of their
borders once every border with the same group on both sides is dropped, chained into rings.
GEOS' coverage union does this after finding, segment by segment, which borders are shared;
for the embedded communes that finding is done once by ``data/communes/build_topology.py``
and stored in ``data/communes/topology.parquet``.

The borders are cut into **arcs**: runs of consecutive segments of a commune's ring with the
same commune on the other side (or none: the coast, a gap of the source), cut again at the
start of each ring and at every **node**, a vertex where more than two ring positions meet or
where two communes touch at a point. Each arc keeps the commune across it.

:func:`dissolve` keeps the arcs with another group (or none) across, links each to an arc of
the same group leaving its end node, orders the rings by pointer jumping and builds rings,
polygons and multipolygons in vectorised calls. Where a group's boundary passes twice through
a node, the rings are cut there so that none touches itself (parts touching at a point, a hole
touching its shell: valid polygons, as GEOS gives them); a hole goes to the smallest part
around it. A group is left to the caller (``done`` False) when its boundary passes a node more
than twice, or when one of its communes is in another group too (a split commune) or not in the
topology.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import shapely

__all__ = [
    "Topology",
    "arcs_of",
    "dissolve",
    "embedded_topology",
    "topology_from_arcs",
]

TOPOLOGY_FILE = "topology.parquet"



@dataclass(frozen=True)
class Topology:
    """The arcs of a clean coverage (one row per arc, in coordinate order).

    Coordinates are numbered as :func:`shapely.get_coordinates` numbers those of the
    coverage's geometries, geometry after geometry (ring closings included).
    """

    start: np.ndarray       #: first coordinate of the arc
    length: np.ndarray      #: number of segments
    forward: np.ndarray     #: whether the arc runs with the group on its right
    commune: np.ndarray     #: row of the geometry it borders
    twin: np.ndarray        #: row of the geometry across it, -1 for none
    node_start: np.ndarray  #: node where the arc starts (in the direction of ``forward``)
    node_end: np.ndarray    #: node where it ends
    n_nodes: int
    coordinate_offsets: np.ndarray  #: first coordinate of each geometry, and the total at the end
    commune_arcs: np.ndarray  #: first arc of each geometry, and the number of arcs at the end



def _as_points(xy: np.ndarray) -> np.ndarray:
    """Coordinates as one structured value each (for exact equality)."""
    return np.ascontiguousarray(xy).view([("x", float), ("y", float)]).ravel()



def arcs_of(geoms: np.ndarray) -> pd.DataFrame:
    """Cut the borders of a clean coverage into arcs.

    Parameters
    ----------
    geoms : array of Polygon, MultiPolygon or None
        A valid polygonal coverage (:func:`shapely.coverage_is_valid`): neighbours share
        their borders vertex for vertex.

    Returns
    -------
    pandas.DataFrame
        One row per arc, in coordinate order: ``start`` (its first coordinate, numbered as
        :func:`shapely.get_coordinates` numbers those of ``geoms``), ``twin`` (row of the
        geometry across it, -1 for none), ``node`` (node id of its first coordinate),
        ``ring_last`` (last arc of its ring) and ``forward`` (the ring runs with its
        geometry on its right: exterior rings clockwise, holes counter-clockwise).

    Examples
    --------
    Two squares side by side: the first starts with the side they share (the other square
    across), then the rest of its ring; the second's ring is cut at its start, at (2, 0).

    >>> squares = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])
    >>> arcs_of(squares)[["start", "twin", "ring_last"]].to_numpy().tolist()
    [[0, 1, False], [1, -1, True], [5, -1, False], [7, 0, False], [8, -1, True]]
    """
    geoms = np.asarray(geoms, dtype=object)
    parts, part_geom = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    geom_of = part_geom[ring_part][ring_of]
    n = len(xy)
    last = np.r_[ring_of[1:] != ring_of[:-1], True]  # the closing coordinate of each ring
    first = np.r_[True, ring_of[1:] != ring_of[:-1]]
    seg = np.flatnonzero(~last)  # segment s runs from coordinate s to s + 1
    a, b = _as_points(xy[seg]), _as_points(xy[seg + 1])
    # a segment is shared when its reverse is in the coverage: look up (b, a) among (a, b)
    keys = pd.MultiIndex.from_arrays([a["x"], a["y"], b["x"], b["y"]])
    back = keys.get_indexer(pd.MultiIndex.from_arrays([b["x"], b["y"], a["x"], a["y"]]))
    twin = np.full(n, -2, dtype=np.int64)  # -2 at ring closings (no segment starts there)
    twin[seg] = np.where(back >= 0, geom_of[seg[np.maximum(back, 0)]], -1)
    # nodes: vertices in more than two ring positions, or in two with an unshared side
    points = _as_points(xy[~last])
    _, inverse, counts = np.unique(points, return_inverse=True, return_counts=True)
    occurrences = np.zeros(n, dtype=np.int64)
    occurrences[~last] = counts[inverse.ravel()]
    before = np.r_[-2, twin[:-1]]  # the segment ending at each vertex…
    ring_end = np.flatnonzero(last)
    before[first] = twin[ring_end - 1]  # …which for a ring's first vertex is its last segment
    node = (occurrences >= 3) | ((occurrences == 2) & ((twin == -1) | (before == -1)))
    starts = (first | node | (twin != before)) & ~last
    start = np.flatnonzero(starts)
    node_ids = np.unique(_as_points(xy[start]), return_inverse=True)[1].ravel()
    exterior = np.r_[True, ring_part[1:] != ring_part[:-1]]
    forward = shapely.is_ccw(rings) != exterior  # exteriors clockwise, holes counter-clockwise
    ring_last = np.r_[ring_of[start][1:] != ring_of[start][:-1], True]
    return pd.DataFrame({"start": start, "twin": twin[start], "node": node_ids,
                         "ring_last": ring_last, "forward": forward[ring_of[start]]})



def topology_from_arcs(arcs: pd.DataFrame, geoms: np.ndarray) -> Topology:
    """The :class:`Topology` of ``geoms`` from its arcs (:func:`arcs_of`).

    Parameters
    ----------
    arcs : DataFrame
        The arcs of ``geoms``, as :func:`arcs_of` gives them.
    geoms : array of Polygon, MultiPolygon or None
        The coverage they were cut from.

    Returns
    -------
    Topology
    """
    counts = shapely.get_num_coordinates(np.asarray(geoms, dtype=object)).astype(np.int64)
    offsets = np.r_[0, np.cumsum(counts)]
    start = arcs["start"].to_numpy(dtype=np.int64)
    ring_last = arcs["ring_last"].to_numpy(dtype=bool)
    forward = arcs["forward"].to_numpy(dtype=bool)
    node = arcs["node"].to_numpy(dtype=np.int64)
    after = np.r_[start[1:], offsets[-1]]
    length = after - start - ring_last  # a ring's last arc ends at its closing coordinate
    ring_first = np.r_[True, ring_last[:-1]]
    first_of_ring = np.maximum.accumulate(np.where(ring_first, np.arange(len(start)), 0))
    end_node = np.where(ring_last, node[first_of_ring], np.r_[node[1:], 0])
    commune = np.searchsorted(offsets, start, side="right") - 1
    return Topology(
        start=start, length=length, forward=forward, commune=commune,
        commune_arcs=np.searchsorted(commune, np.arange(len(counts) + 1)),
        twin=arcs["twin"].to_numpy(dtype=np.int64),
        node_start=np.where(forward, node, end_node), node_end=np.where(forward, end_node, node),
        n_nodes=int(node.max()) + 1 if len(node) else 0, coordinate_offsets=offsets)



@lru_cache(maxsize=1)
def embedded_topology() -> Topology | None:
    """The topology of the embedded communes (``topology.parquet``), or None when absent or
    not computed from the embedded ``communes.parquet`` (coordinate count differs)."""
    import pyarrow.parquet as pq

    from cpts_geo.data.communes import data_file, read_embedded

    path = data_file(TOPOLOGY_FILE)
    if not path.exists():
        return None
    arcs = pq.read_table(path).to_pandas()
    geoms = read_embedded("communes.parquet").geometry.to_numpy()
    topo = topology_from_arcs(arcs, geoms)
    if len(arcs) and topo.length.min() < 1:
        return None
    return topo



def dissolve(topology: Topology, geoms: np.ndarray, rows: np.ndarray, group: np.ndarray,
             n: int) -> tuple[np.ndarray, np.ndarray]:
    """The union of the geometries ``rows`` of the coverage, by ``group``.

    Parameters
    ----------
    topology : Topology
        The arcs of the coverage ``geoms``.
    geoms : array of Polygon, MultiPolygon or None
        The whole coverage (its coordinates are read for the borders kept).
    rows : array of int
        For each member, its row in ``geoms`` (-1 when it is not in the coverage).
    group : array of int
        For each member, its group, 0 to ``n - 1``.
    n : int
        Number of groups.

    Returns
    -------
    geometries : array of object
        The union of each group (an empty polygon for a group without geometry); None where
        ``done`` is False.
    done : array of bool
        The groups dissolved here. The others (boundary through a node more than twice, a
        member in another group too or not in the coverage) are left to GEOS.

    Examples
    --------
    >>> squares = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(0, 1, 1, 2)])
    >>> topo = topology_from_arcs(arcs_of(squares), squares)
    >>> out, done = dissolve(topo, squares, np.array([0, 1, 2]), np.array([0, 0, 1]), 2)
    >>> [g.area for g in out], done.tolist()
    ([2.0, 1.0], [True, True])
    """
    rows = np.asarray(rows, dtype=np.int64)
    group = np.asarray(group, dtype=np.int64)
    done = np.ones(n, dtype=bool)
    done[group[rows < 0]] = False
    label = np.full(len(topology.coordinate_offsets) - 1, -1, dtype=np.int64)
    present = rows >= 0
    label[rows[present]] = group[present]
    times = np.bincount(rows[present], minlength=len(label))
    shared = times[rows[present]] > 1  # a commune in two groups, or twice in one
    done[group[present][shared]] = False
    label[~done[np.maximum(label, 0)]] = -1

    # the arcs of the members only (those of a commune follow each other)
    members = np.flatnonzero(label >= 0)
    lo, hi = topology.commune_arcs[members], topology.commune_arcs[members + 1]
    count = hi - lo
    arcs = np.repeat(lo - np.cumsum(count) + count, count) + np.arange(int(count.sum()))
    own = label[topology.commune[arcs]]
    twin = topology.twin[arcs]
    across = np.where(twin >= 0, label[np.maximum(twin, 0)], -1)
    kept = arcs[across != own]
    owner = own[across != own]
    out = np.full(n, None, dtype=object)
    out[done] = shapely.Polygon()
    m = len(kept)
    if not m:
        return out, done

    # the coordinates of the communes kept arcs border, and where each arc's vertices are
    used = np.unique(topology.commune[kept])
    local = np.zeros(len(label), dtype=np.int64)
    if 4 * len(used) > len(label):  # most of the coverage: its coordinates, read once
        xy = _coordinates(geoms)
    else:
        xy = shapely.get_coordinates(np.asarray(geoms, dtype=object)[used])
        counts = np.diff(topology.coordinate_offsets)[used]
        local[used] = np.r_[0, np.cumsum(counts)[:-1]] - topology.coordinate_offsets[used]
    first = topology.start[kept] + local[topology.commune[kept]]
    length = topology.length[kept]
    forward = topology.forward[kept]

    # link each arc to the arc of its group leaving its end node
    key_start = owner * topology.n_nodes + topology.node_start[kept]
    key_end = owner * topology.n_nodes + topology.node_end[kept]
    order = np.argsort(key_start, kind="stable")
    sorted_keys = key_start[order]
    # (the k-th arc arriving at a node goes on with the k-th leaving it: nodes the boundary
    # passes once have one of each)
    arriving = np.argsort(key_end, kind="stable")
    if not np.array_equal(key_end[arriving], sorted_keys):
        raise ValueError("topologie incohérente : un arc ne se prolonge pas")  # not a clean coverage
    following = np.empty(m, dtype=np.int64)
    following[arriving] = order
    ring, rank = _cycles(following)
    if (sorted_keys[1:] == sorted_keys[:-1]).any():
        ring, rank = _split_at_touches(following, ring, rank, sorted_keys, order, done,
                                       topology.n_nodes)

    # the rings: each arc gives its vertices but its last (the next arc's first)
    o = np.lexsort((rank, ring))
    length, forward, first = length[o], forward[o], first[o]
    step = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
    index = np.repeat(first, length)
    if forward.all():  # (the embedded communes: every ring clockwise around its commune)
        index += step
    else:
        index += np.where(np.repeat(forward, length), step, np.repeat(length, length) - step)
    rings = shapely.linearrings(xy[index], indices=np.repeat(ring[o], length))
    ring_owner = np.empty(len(rings), dtype=np.int64)
    ring_owner[ring] = owner
    return _polygons(rings, ring_owner, out, done)


_COORDINATES: dict[int, tuple[np.ndarray, np.ndarray]] = {}



def _coordinates(geoms: np.ndarray) -> np.ndarray:
    """:func:`shapely.get_coordinates` of ``geoms``, kept for the last coverage asked (the
    embedded communes: the same array at every call)."""
    cached = _COORDINATES.get(id(geoms))
    if cached is None or cached[0] is not geoms:
        _COORDINATES.clear()
        cached = _COORDINATES[id(geoms)] = (geoms, shapely.get_coordinates(np.asarray(geoms, dtype=object)))
    return cached[1]



def _split_at_touches(following: np.ndarray, ring: np.ndarray, rank: np.ndarray, sorted_keys: np.ndarray,
                      order: np.ndarray, done: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Where a group's boundary passes twice through a node, make it two rings touching there.

    The two arcs arriving at such a node can each go on with either arc leaving it; both ways
    are rings that touch at the node without crossing. When both passes are on one ring (it
    would touch itself: invalid), the two arrivals swap their continuations, which cuts it in
    two (two parts touching at a point, or a shell and a hole touching it). A node the boundary
    passes more than twice, or a ring still passing twice, is left to GEOS (``done`` False).
    Returns the new ``(ring, rank)`` of :func:`_cycles`.
    """
    run_start = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    passes = np.diff(np.r_[run_start, len(sorted_keys)])
    done[sorted_keys[run_start[passes > 2]] // n_nodes] = False
    pair = run_start[passes == 2]
    first, second = order[pair], order[pair + 1]  # the two arcs leaving each such node
    previous = np.empty(len(following), dtype=np.int64)
    previous[following] = np.arange(len(following))
    swap = ring[first] == ring[second]
    if swap.any():
        following[previous[first[swap]]], following[previous[second[swap]]] = second[swap], first[swap]
        # only the rings cut change: number their pieces after the others
        cut = np.flatnonzero(np.isin(ring, ring[first[swap]]))
        position = np.full(len(following), -1, dtype=np.int64)
        position[cut] = np.arange(len(cut))
        piece, rank[cut] = _cycles(position[following[cut]])
        ring[cut] = ring.max() + 1 + piece
        present = np.zeros(ring.max() + 1, dtype=bool)
        present[ring] = True
        ring = (np.cumsum(present) - 1)[ring]  # numbered 0… again
        still = ring[first] == ring[second]
        done[sorted_keys[pair[still]] // n_nodes] = False
    return ring, rank



def _cycles(following: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cycles of a permutation: for each element, its cycle (0…) and its rank in it from
    the cycle's smallest element (pointer jumping: a few vectorised passes)."""
    m = len(following)
    # the smallest element of each cycle, by doubling the stretch each element has seen
    leader = np.arange(m)
    pointer = following.copy()
    while True:
        smaller = np.minimum(leader, leader[pointer])
        if np.array_equal(smaller, leader) and np.array_equal(leader[pointer], leader):
            break
        leader = smaller
        pointer = pointer[pointer]
    is_leader = leader == np.arange(m)
    previous = np.empty(m, dtype=np.int64)
    previous[following] = np.arange(m)
    rank = (~is_leader).astype(np.int64)
    pointer = np.where(is_leader, np.arange(m), previous)
    while True:
        moving = ~is_leader[pointer]
        if not moving.any():
            break
        rank[moving] += rank[pointer[moving]]
        pointer[moving] = pointer[pointer[moving]]
    return np.unique(leader, return_inverse=True)[1].ravel(), rank



def _polygons(rings: np.ndarray, ring_owner: np.ndarray, out: np.ndarray,
              done: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Polygons and multipolygons of each group from its rings (shells clockwise)."""
    n = len(out)
    out[~done] = None
    shell = ~shapely.is_ccw(rings)
    n_shells = np.bincount(ring_owner[shell], minlength=n)
    shells = np.flatnonzero(shell)
    holes = np.flatnonzero(~shell)
    # the shell of each hole: a group's only shell, or else the smallest of its shells around it
    first_shell = np.full(n, -1, dtype=np.int64)
    first_shell[ring_owner[shells][::-1]] = shells[::-1]
    parent = first_shell[ring_owner[holes]]
    several = np.flatnonzero(n_shells[ring_owner[holes]] > 1)
    if len(several):
        parent[several] = _enclosing_shells(rings, ring_owner, shells, holes[several])
    lost = parent < 0
    if lost.any():  # pragma: no cover - a hole in none of its group's shells
        done[ring_owner[holes[lost]]] = False
        out[~done] = None
    ok_shells = shells[done[ring_owner[shells]]]
    ok = done[ring_owner[holes]]
    polygon_of_shell = np.full(len(rings), -1, dtype=np.int64)
    polygon_of_shell[ok_shells] = np.arange(len(ok_shells))
    # each polygon: its shell, then its holes
    member = np.r_[ok_shells, holes[ok]]
    polygon = np.r_[polygon_of_shell[ok_shells], polygon_of_shell[parent[ok]]]
    order = np.argsort(polygon, kind="stable")
    polygons = shapely.polygons(rings[member[order]], indices=polygon[order])
    owner = ring_owner[ok_shells]
    single = n_shells[owner] == 1
    out[owner[single]] = polygons[single]
    parts = np.flatnonzero(~single)
    if len(parts):
        parts = parts[np.argsort(owner[parts], kind="stable")]
        groups, compact = np.unique(owner[parts], return_inverse=True)
        out[groups] = shapely.multipolygons(polygons[parts], indices=compact)
    return out, done



def _enclosing_shells(rings: np.ndarray, ring_owner: np.ndarray, shells: np.ndarray, holes: np.ndarray,
                      ) -> np.ndarray:
    """For each hole, the smallest shell of its group that contains it (-1 if none)."""
    shell_polygons = shapely.polygons(rings[shells])
    hole_polygons = shapely.polygons(rings[holes])
    area = shapely.area(shell_polygons)
    tree = shapely.STRtree(shell_polygons)
    hole, candidate = tree.query(hole_polygons, predicate="within")  # pairs (hole, shell around it)
    same_group = ring_owner[shells[candidate]] == ring_owner[holes[hole]]
    hole, candidate = hole[same_group], candidate[same_group]
    parent = np.full(len(holes), -1, dtype=np.int64)
    by_area = np.lexsort((area[candidate], hole))
    hole, candidate = hole[by_area], candidate[by_area]
    smallest = np.r_[True, hole[1:] != hole[:-1]]
    parent[hole[smallest]] = shells[candidate[smallest]]
    return parent
