"""CPTS territories: dissolve communes into territories, measure the coverage of a region.

The chain is ``registry → validate_registry → build_territories``:

>>> hdf = load_communes(region="32")
>>> terr = build_territories(load_example_registry(), hdf)
>>> len(terr), terr.index.name
(59, 'cpts_id')

A territory's **population** is the sum of the population municipale of its communes
(vintage in :func:`~cpts_geo.domain.metadata.layer_metadata`), each counted with its share when the commune is
declared split between several CPTS. A split commune is part of the *geometry* of each of
its CPTS (the registry says how people are shared, not where the line runs), so its area
counts in each of them too.

**Dissolving.** The embedded commune layer is a clean polygonal coverage (neighbours share
identical borders), so territories are dissolved as a coverage: no sliver holes. Its shared
borders are precomputed (``data/communes/topology.parquet``, :mod:`cpts_geo.domain._topology`): a
territory of embedded communes is dissolved from them, the same geometry as
:func:`shapely.coverage_union_all` in about a third of its time; a territory with another unit
(an arrondissement, a commune split between CPTS, any commune of a user's clean layer) goes
through :func:`shapely.coverage_union_all`. A
user layer that is not known to be clean is dissolved with :func:`shapely.union_all` in
the metric CRS, then holes smaller than ``sliver_area`` (default 1 ha; slivers between
simplified borders are a few hundred m²) are filled, unless another commune lies in them
(a real enclave is never filled). The same filling applies to the few gaps under 1 ha left
between communes of the embedded layer. The source itself has 56 larger holes (0.02–35 km², listed in
``data/communes/build_report.csv``): they are not attributed to any commune and stay holes.

**Coverage** of a region (:func:`coverage`, :func:`communes_with_cpts`): every commune of
the layer is either covered (it has a CPTS) or uncovered ("zone blanche"), never both,
never neither; covered plus uncovered population is the total.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from cpts_geo.domain.codes import arrondissement_parent, is_in, positions, text_array
from cpts_geo.domain.communes import load_communes
from cpts_geo.domain.crs import _project, require_crs
from cpts_geo.domain.french import percent
from cpts_geo.domain.metadata import layer_metadata, set_layer_metadata
from cpts_geo.domain.registry import CheckedRegistry, validate_registry
from cpts_geo.domain.units import unit_layer
from cpts_geo.domain.vocabulary import TERRITORY_HEADERS

if TYPE_CHECKING:
    import pyarrow as pa

    from cpts_geo.domain.history import Passage
    from cpts_geo.domain.registry import RegistryRead

__all__ = [
    "EXAMPLE_NOTE",
    "build_territories",
    "communes_with_cpts",
    "coverage",
    "membership",
    "population_headers",
    "summary_table",
    "territory_parts",
]

#: How the embedded example registry must be introduced wherever it appears.
EXAMPLE_NOTE = (
    "Registre ILLUSTRATIF : compositions fictives construites à partir des EPCI des "
    "Hauts-de-France (59 CPTS dont 32 reconnues, comme dans le guide URPS) ; ce ne sont pas "
    "les périmètres réels des CPTS."
)

#: A registry as the functions of this module take it: a table, a read or a validated one.
Registry: TypeAlias = "pd.DataFrame | RegistryRead | CheckedRegistry"





def _checked(registry: Registry, communes: pd.DataFrame | None, passage: Passage,
             check_names: bool) -> CheckedRegistry:
    if isinstance(registry, CheckedRegistry):
        return registry
    return validate_registry(registry, communes, passage=passage, check_names=check_names)



def membership(registry: Registry, communes: pd.DataFrame | None = None, *, passage: Passage = None,
               check_names: bool = True) -> pd.DataFrame:
    """The validated membership table: ``code``, ``cpts_id``, ``share`` (one row per pair).

    Parameters
    ----------
    registry : DataFrame, CheckedRegistry, str or Path
        A registry (table or file) or an already validated one.
    communes : DataFrame, optional
        The commune layer to validate against (default: the embedded communes).
    passage : optional
        An INSEE passage table for old codes (see :func:`cpts_geo.io.history.read_passage_table`).
    check_names : bool, default True
        Check commune names against their codes.

    Returns
    -------
    DataFrame
        One row per (commune, CPTS) pair.

    Examples
    --------
    >>> m = membership(load_example_registry(), load_communes(region="32"))
    >>> list(m.columns[:3])
    ['code', 'cpts_id', 'share']
    """
    return _checked(registry, communes, passage, check_names).membership






def _dissolve(geoms: np.ndarray, groups: np.ndarray, n: int, clean: bool) -> np.ndarray:
    """The union of ``geoms`` by group (``groups``: 0..n-1; an empty polygon for a group
    without geometry), with a coverage union when the layer is a clean coverage."""
    order = np.argsort(groups, kind="stable")
    bounds = np.searchsorted(groups[order], np.arange(n + 1))
    sizes = np.diff(bounds)
    union = shapely.coverage_union_all if clean else shapely.union_all
    out = np.empty(n, dtype=object)
    out[sizes == 0] = shapely.Polygon()
    # one call per size class instead of one per group: the groups of up to 1, 2, 4, 8…
    # members as the rows of a grid padded with None (which the union ignores)
    width = np.left_shift(1, np.ceil(np.log2(np.maximum(sizes, 1))).astype(np.int64))
    for w in np.unique(width[sizes > 0]):
        sel = np.flatnonzero((width == w) & (sizes > 0))
        k = sizes[sel]
        within = np.arange(int(k.sum())) - np.repeat(np.cumsum(k) - k, k)
        grid = np.full((len(sel), int(w)), None, dtype=object)
        grid[np.repeat(np.arange(len(sel)), k), within] = geoms[order[np.repeat(bounds[sel], k) + within]]
        out[sel] = union(grid, axis=1)
    return out



def _embedded_union(codes: pd.Series | pa.Array, geoms: np.ndarray, crs: pyproj.CRS | None, group: np.ndarray,
                    n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The union by ``group`` of members that are embedded communes, from their shared borders.

    Returns ``(geometries, done)`` (see :func:`cpts_geo.domain._topology.dissolve`: a territory with
    a member that is not an unchanged embedded commune is not done), or None when no member is
    one or the borders are not embedded.
    """
    from cpts_geo.data.communes import read_embedded
    from cpts_geo.domain._topology import dissolve, embedded_topology
    from cpts_geo.domain.communes import embedded_rows

    topology = embedded_topology()
    if topology is None:
        return None
    rows = embedded_rows(codes, geoms, crs)
    if (rows < 0).all():
        return None
    return dissolve(topology, read_embedded("communes.parquet").geometry.to_numpy(), rows, group, n)



def _has_small_holes(geoms: np.ndarray, sliver_area: float) -> np.ndarray:
    """Whether each geometry has a hole smaller than ``sliver_area`` (every ring at once)."""
    out = np.zeros(len(geoms), dtype=bool)
    parts, owner = shapely.get_parts(np.asarray(geoms, dtype=object), return_index=True)
    n_rings = shapely.get_num_interior_rings(parts)
    if not n_rings.sum():
        return out
    part = np.repeat(np.arange(len(parts)), n_rings)
    first = np.cumsum(n_rings) - n_rings
    ring = np.arange(len(part)) - np.repeat(first, n_rings)
    holes = shapely.polygons(shapely.get_interior_ring(parts[part], ring))
    out[owner[part[shapely.area(holes) < sliver_area]]] = True
    return out



def _fill_slivers(geoms: np.ndarray, all_units: np.ndarray, sliver_area: float) -> np.ndarray:
    """Fill holes smaller than ``sliver_area`` (m², metric geometries) that hold no commune."""
    tree = shapely.STRtree(all_units)
    out = []
    for g in geoms:
        polys = shapely.get_parts(g)
        fixed = []
        for p in polys:
            keep = []
            for ring in p.interiors:
                hole = shapely.Polygon(ring)
                if hole.area >= sliver_area:
                    keep.append(ring)
                    continue
                inside = tree.query(hole, predicate="intersects")
                covered = sum(shapely.intersection(all_units[i], hole).area for i in inside)
                covered -= shapely.intersection(g, hole).area
                if covered > 0.5 * hole.area:  # an enclave of another commune
                    keep.append(ring)
            fixed.append(shapely.Polygon(p.exterior, keep))
        out.append(shapely.union_all(fixed) if len(fixed) != 1 else fixed[0])
    return np.array(out, dtype=object)



def build_territories(
    registry: Registry,
    communes: gpd.GeoDataFrame | None = None,
    *,
    passage: Passage = None,
    check_names: bool = True,
    sliver_area: float = 10_000.0,
    parts: bool = True,
    geometry: bool = True,
) -> gpd.GeoDataFrame:
    """Build the CPTS territories of a registry.

    Parameters
    ----------
    registry : DataFrame, path or CheckedRegistry
        A registry (see :mod:`cpts_geo.domain.registry`); it is validated first, and a
        :class:`~cpts_geo.errors.ValidationError` lists every problem (overlaps, unknown
        codes, stage typos…).
    communes : GeoDataFrame, optional
        The commune layer (default: all of France, embedded). Its CRS is kept.
    passage : optional
        An INSEE passage table for former codes (see :func:`cpts_geo.io.history.read_passage_table`).
    check_names : bool, default True
        Cross-check commune names against codes.
    sliver_area : float, default 10 000
        In m²: holes smaller than this between communes of a user layer that is not a clean
        coverage are filled when no commune lies in them.
    parts : bool, default True
        Describe the parts of territories that are not in one piece (column ``parts``).
    geometry : bool, default True
        Dissolve the territories. ``False`` gives their figures only (population, tier,
        communes, departments…), without dissolving anything: a plain DataFrame without
        ``area_km2``, ``single_part``, ``n_parts``, ``parts`` and ``geometry`` (what the ACI
        funding of a national registry needs, in a fraction of the time).

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by ``cpts_id``: ``name``, ``stage`` (ordered categorical), ``published_stage``
        (the wording as published, ordered categorical of the registry's vocabulary), ``tier`` (1–4),
        ``population`` (vintage in :func:`~cpts_geo.domain.metadata.layer_metadata`), ``n_communes``, ``departments``,
        ``regions`` (codes joined by ``", "``), ``area_km2`` (metric CRS), ``single_part``,
        ``n_parts``, ``parts`` (text, empty when in one piece), ``missing_population``
        (communes without population, text), ``geometry``. With ``geometry=False``, a
        pandas DataFrame of the same rows without the columns of the geometry.

    Examples
    --------
    >>> reg = pd.DataFrame({"cpts_id": ["A", "A", "B"], "stage": ["ACI signé", "ACI signé", "3"],
    ...                     "commune_code": ["80021", "80001", "59350"]})
    >>> t = build_territories(reg, load_communes(region="32"))
    >>> t[["stage", "population", "n_communes", "single_part"]]
                         stage  population  n_communes  single_part
    cpts_id
    A                ACI signé      156220           2        False
    B        Association créée      236710           1         True
    """
    communes = communes if communes is not None else load_communes()
    checked = _checked(registry, communes, passage, check_names)
    member = checked.membership
    # the layer itself when it holds every commune (no city given by arrondissement); codes
    # are looked up by pyarrow (pandas converts 35 000 Arrow strings for get_indexer)
    member_codes = text_array(member["code"])  # converted once for every look-up
    if member_codes is None:
        member_codes = member["code"]
    pos = positions(communes.index, member_codes)
    units = communes if (pos >= 0).all() else unit_layer(communes, member["code"])
    if units is not communes:
        pos = positions(units.index, member_codes)
    gid = positions(checked.cpts.index, member["cpts_id"])
    figures, missing, unknown, deps = _figures(checked, units, member_codes, pos, gid)
    index = pd.Index(checked.cpts.index.to_numpy(), name="cpts_id")
    meta = layer_metadata(communes)
    if not geometry:
        out = _finish(pd.DataFrame({**figures, "missing_population": missing}, index=index), checked.cpts,
                      unknown)
    else:
        area, dissolved = _dissolve_territories(units, member_codes, pos, gid, len(index), deps,
                                                clean=meta.clean_coverage, sliver_area=sliver_area)
        n_parts = shapely.get_num_geometries(dissolved.astype(object))
        out = _finish(gpd.GeoDataFrame(
            {**figures, "area_km2": area, "single_part": n_parts == 1, "n_parts": n_parts.astype("int64"),
             "parts": "", "missing_population": missing},
            geometry=gpd.GeoSeries(dissolved, crs=units.crs).to_numpy(), crs=units.crs, index=index,
        ), checked.cpts, unknown)
        if parts and (~out["single_part"]).any():
            text = _parts_text(territory_parts(out[~out["single_part"]], units, checked))
            out.loc[text.index, "parts"] = text
    # metadata of the table: the communes' population vintage and source
    return set_layer_metadata(out, inplace=True, population_vintage=meta.population_vintage,
                              cog_vintage=meta.cog_vintage, source=meta.source)



def _figures(checked: CheckedRegistry, units: pd.DataFrame, member_codes: pd.Series | pa.Array,
             pos: np.ndarray, gid: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """The figures of each CPTS (name, stage, tier, population, communes, departments, regions),
    the communes without population of each (text), whether no population is known at all,
    and the department name of each membership row."""
    from cpts_geo.domain.tiers import tier_of

    member, cpts = checked.membership, checked.cpts
    n = len(cpts)
    population_column = units["population"]
    if not pd.api.types.is_numeric_dtype(population_column):
        population_column = population_column.astype("Float64")
    pop = population_column.to_numpy(dtype=float, na_value=np.nan)[pos]
    weighted = pop * member["share"].to_numpy()
    population = np.bincount(gid, weights=np.nan_to_num(weighted), minlength=n)
    no_pop = np.isnan(pop)
    missing = pd.Series(member["code"].to_numpy()[no_pop]).groupby(gid[no_pop]).agg(", ".join) \
        if no_pop.any() else pd.Series(dtype=object)
    n_communes = _commune_counts(member, member_codes, pos, len(units), gid, n)
    dep_codes, dep_names = _column_codes(units, "department", pos)
    reg_codes, reg_names = _column_codes(units, "region", pos)
    figures = {
        "name": cpts["name"].to_numpy(),
        "stage": cpts["stage"].to_numpy(),
        "published_stage": _published(cpts).to_numpy(),
        "tier": tier_of(pd.Series(population)).to_numpy(),
        "population": np.round(population).astype("int64"),
        "n_communes": n_communes.to_numpy().astype("int64"),
        "departments": _joined(gid, dep_codes, dep_names, n).to_numpy(),
        "regions": _joined(gid, reg_codes, reg_names, n).to_numpy(),
    }
    unknown = (np.round(population) == 0) & (np.bincount(gid[no_pop], minlength=n) > 0)
    return figures, missing.reindex(range(n), fill_value="").to_numpy(), unknown, dep_names[dep_codes]



def _distinct(gid: np.ndarray, codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values per territory, as integers (no text group-by on 35 000 rows):
    ``(territory, value)`` pairs sorted by territory, then by value."""
    pair = np.sort(gid.astype(np.int64) * (size + 1) + codes)
    pair = pair[np.r_[True, pair[1:] != pair[:-1]]] if len(pair) else pair
    return pair // (size + 1), pair % (size + 1)



def _commune_counts(member: pd.DataFrame, member_codes: pd.Series | pa.Array, pos: np.ndarray, n_units: int,
                    gid: np.ndarray, n: int) -> pd.Series:
    """The number of communes of each territory: a commune counted once per territory, a city
    given by arrondissement once (the rows of the layer number the communes when no
    arrondissement is given)."""
    arm_parent = arrondissement_parent()
    if (pos >= 0).all() and not is_in(member_codes, arm_parent.index).any():
        owner, _ = _distinct(gid, pos, n_units)
    else:
        code_int, code_uniq = pd.factorize(member["code"])
        city_uniq = pd.Series(code_uniq, dtype=object)
        arm = arm_parent.index.get_indexer(city_uniq) >= 0
        if arm.any():
            city_uniq[arm] = arm_parent.reindex(city_uniq[arm]).to_numpy(dtype=object)
            city_of, city_names = pd.factorize(city_uniq)
            code_int, code_uniq = city_of[code_int], city_names
        owner, _ = _distinct(gid, code_int, len(code_uniq))
    return pd.Series(np.bincount(owner, minlength=n))



def _column_codes(units: pd.DataFrame, column: str, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The value of ``column`` for each member row, as ``(integer codes, their texts)``."""
    if column not in units:
        return np.zeros(len(pos), dtype=np.int64), np.array([""], dtype=object)
    codes, uniq = pd.factorize(units[column], sort=True, use_na_sentinel=False)
    return codes[pos], np.asarray(uniq, dtype=object).astype(str)



def _joined(gid: np.ndarray, codes: np.ndarray, names: np.ndarray, n: int) -> pd.Series:
    """The distinct values of each territory, sorted and joined by ``", "``."""
    owner, code = _distinct(gid, codes, len(names))  # sorted by territory, then by value
    text = names[code]
    out = np.full(n, "", dtype=object)
    count = np.bincount(owner, minlength=n)
    first = np.searchsorted(owner, np.arange(n))
    one = count[owner] == 1
    out[owner[one]] = text[one]  # one value: no join (most territories)
    for g in np.flatnonzero(count > 1):
        out[g] = ", ".join(text[first[g]:first[g] + count[g]])
    return pd.Series(out)



def _finish(out: pd.DataFrame, cpts: pd.DataFrame, unknown: np.ndarray) -> pd.DataFrame:
    """The dtypes of the territory table; no tier where no population is known at all."""
    out["stage"] = out["stage"].astype(cpts["stage"].dtype)
    out["published_stage"] = out["published_stage"].astype(_published(cpts).dtype)
    out["tier"] = out["tier"].astype("Int64")
    if unknown.any():  # no population known at all: no tier
        out.loc[unknown, "tier"] = pd.NA
    return out



def _territory_crs(gid: np.ndarray, deps: np.ndarray, n: int) -> pd.Series:
    """The metric CRS of each territory: that of the department of its first row."""
    from cpts_geo.domain.crs import metric_crs_of

    first_row = np.full(n, -1)
    first_row[gid[::-1]] = np.arange(len(gid))[::-1]  # the first row of each territory
    terr_dep = pd.Series(np.where(first_row >= 0, deps[first_row], None), dtype=object)
    dep_crs = {d: metric_crs_of(d) for d in set(terr_dep) if isinstance(d, str)}
    return pd.Series([dep_crs.get(d, "EPSG:2154") if isinstance(d, str) else "EPSG:2154"
                      for d in terr_dep], dtype=object)



def _dissolve_territories(units: gpd.GeoDataFrame, member_codes: pd.Series | pa.Array, pos: np.ndarray,
                          gid: np.ndarray, n: int, deps: np.ndarray, *, clean: bool,
                          sliver_area: float) -> tuple[np.ndarray, np.ndarray]:
    """The area (km², metric CRS) and the geometry (the layer's CRS) of each territory.

    Metric work, one projection per metric CRS (mainland and each overseas department).
    """
    every = units.geometry.to_numpy()  # (each access to .geometry builds a GeoSeries)
    geoms = every[pos]
    crs = units.crs
    terr_crs = _territory_crs(gid, deps, n)
    area = np.zeros(n)
    dissolved = np.empty(n, dtype=object)
    require_crs(units)
    # the embedded communes are dissolved from their precomputed shared borders
    fast = _embedded_union(member_codes, geoms, units.crs, gid, n) if clean else None
    for mcrs, sel in terr_crs.groupby(terr_crs).groups.items():
        sel = np.asarray(sel)
        rows = np.isin(gid, sel)
        local = pd.Index(sel).get_indexer(gid[rows])
        # dissolve in the layer's CRS, then project only the (much lighter) territories
        if fast is None:
            union = _dissolve(geoms[rows], local, len(sel), clean)
        else:
            union = fast[0][sel]
            left = np.flatnonzero(~fast[1][sel])  # the territories left to GEOS
            if len(left):
                relabel = np.full(len(sel), -1)
                relabel[left] = np.arange(len(left))
                keep = relabel[local] >= 0
                union[left] = _dissolve(geoms[rows][keep], relabel[local[keep]], len(left), clean)
        metric = _project(union, crs, mcrs)
        small = _has_small_holes(metric, sliver_area)
        if small.any():
            _fill_small_holes(union, metric, small, every, crs, mcrs, sliver_area)
        area[sel] = shapely.area(metric) / 1e6
        dissolved[sel] = union
    return area, dissolved



def _fill_small_holes(union: np.ndarray, metric: np.ndarray, small: np.ndarray, every: np.ndarray,
                      crs: pyproj.CRS, mcrs: str, sliver_area: float) -> None:
    """Fill the slivers of the territories ``small`` in place, in ``metric`` (their metric
    geometries) and in ``union`` (the same in the layer's CRS)."""
    same = pyproj.CRS(crs) == pyproj.CRS(mcrs)
    # communes near those territories (by their boxes first: no tree of every commune)
    box = shapely.bounds(every)
    lo, hi = shapely.bounds(union[small]).min(axis=0)[:2], shapely.bounds(union[small]).max(axis=0)[2:]
    close = np.flatnonzero((box[:, 2] >= lo[0]) & (box[:, 0] <= hi[0])
                           & (box[:, 3] >= lo[1]) & (box[:, 1] <= hi[1]))
    near = close[shapely.STRtree(every[close]).query(union[small], predicate="intersects")[1]]
    unit_metric = _project(every[np.unique(near)], crs, mcrs)
    metric[small] = _fill_slivers(metric[small], unit_metric, sliver_area)
    union[small] = metric[small] if same else \
        gpd.GeoSeries(metric[small], crs=mcrs).to_crs(crs).to_numpy()



def _units_of(communes: gpd.GeoDataFrame, codes: pd.Series) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """The units of ``codes`` (:func:`cpts_geo.domain.units.unit_layer`: the layer itself when
    it holds every code) and the position of each code there (-1 where absent)."""
    where = positions(communes.index, codes)
    if (where >= 0).all():
        return communes, where
    units = unit_layer(communes, codes)
    return units, positions(units.index, codes)



def _parts_text(desc: pd.DataFrame) -> pd.Series:
    """The ``parts`` text of each territory in several pieces (:func:`territory_parts`)."""
    text = [f"partie {part} : {largest}" + (f" et {n - 1} autre(s)" if n > 1 else "")
            for part, largest, n in zip(desc["part"].tolist(), desc["largest"].tolist(),
                                        desc["n_communes"].tolist())]
    return pd.Series(text, index=desc.index, dtype=object).groupby(
        desc["cpts_id"].to_numpy(dtype=object), sort=False).agg(" ; ".join)



def territory_parts(territories: gpd.GeoDataFrame, communes: gpd.GeoDataFrame,
                    registry: CheckedRegistry | pd.DataFrame) -> pd.DataFrame:
    """The separate parts of territories: one row per (CPTS, part).

    Columns ``cpts_id``, ``part`` (1 = the most populated), ``n_communes``, ``largest``
    (most populated commune), ``communes`` (codes joined by ``", "``).

    Parameters
    ----------
    territories : GeoDataFrame
        The CPTS territories (:func:`build_territories`).
    communes : GeoDataFrame
        The commune layer they were built from.
    registry : CheckedRegistry or DataFrame
        The validated registry they were built from, or its membership table (``code``,
        ``cpts_id``).

    Returns
    -------
    DataFrame
        One row per part of each CPTS, columns as above.
    """
    member = registry.membership if isinstance(registry, CheckedRegistry) else registry
    columns = ["cpts_id", "part", "n_communes", "largest", "communes"]
    if territories.crs is not None and communes.crs is not None and territories.crs != communes.crs:
        raise ValueError("territories and communes must share a CRS")
    units, unit = _units_of(communes, member["code"])
    terr = positions(territories.index, member["cpts_id"])
    sub = member[terr >= 0]
    unit = unit[terr >= 0]
    terr = terr[terr >= 0]
    if not len(sub):
        return pd.DataFrame(columns=columns)
    codes = sub["code"].to_numpy(dtype=object)
    # a commune in several pieces (exclaves) belongs to every part holding one of them
    pieces, piece_member = shapely.get_parts(units.geometry.to_numpy()[unit], return_index=True)
    parts, part_terr = shapely.get_parts(territories.geometry.to_numpy(), return_index=True)
    part_first = np.searchsorted(part_terr, np.arange(len(territories)))
    hit_piece, hit_part = shapely.STRtree(parts).query(shapely.point_on_surface(pieces), predicate="intersects")
    own = part_terr[hit_part] == terr[piece_member[hit_piece]]  # a part of the member's own CPTS
    pairs = pd.DataFrame({"member": piece_member[hit_piece][own], "part": hit_part[own]}).drop_duplicates()
    pairs = pairs.sort_values(["part", "member"], kind="stable")
    population = units["population"].astype("Float64").fillna(0).to_numpy(dtype=float)[unit]
    names = units["name"].to_numpy(dtype=object)[unit]
    m = pairs["member"].to_numpy()
    pairs["population"] = population[m]
    pairs["code"] = codes[m]
    grouped = pairs.groupby("part", sort=True)
    largest = pairs.loc[grouped["population"].idxmax(), ["part", "member"]].set_index("part")["member"]
    table = pd.DataFrame({
        "population": grouped["population"].sum(),
        "n_communes": grouped.size(),
        "largest": names[largest.to_numpy()],
        "communes": grouped["code"].agg(", ".join),
    })
    table["terr"] = part_terr[table.index]
    table["rank"] = table.index - part_first[table["terr"].to_numpy()]
    table = table.sort_values(["terr", "population", "rank"], ascending=[True, False, True], kind="stable")
    out = pd.DataFrame({
        "cpts_id": territories.index.to_numpy(dtype=object)[table["terr"].to_numpy()],
        "part": table.groupby("terr", sort=False).cumcount().to_numpy() + 1,
        "n_communes": table["n_communes"].to_numpy().astype("int64"),
        "largest": table["largest"].to_numpy(),
        "communes": table["communes"].to_numpy(),
    })
    return out[columns]



def _published(cpts: pd.DataFrame) -> pd.Series:
    """The stage as published of each CPTS (a registry checked before it was kept: empty)."""
    if "published_stage" in cpts.columns:
        return cpts["published_stage"]
    return pd.Series(pd.Categorical([None] * len(cpts), categories=[], ordered=True), index=cpts.index)



def communes_with_cpts(registry: Registry, communes: gpd.GeoDataFrame, *, passage: Passage = None,
                       check_names: bool = True) -> gpd.GeoDataFrame:
    """The commune layer with the CPTS of each commune (``<NA>`` for uncovered communes).

    Adds ``cpts_id`` (the CPTS with the largest share), ``cpts_name``, ``stage``,
    ``published_stage`` (the stage as the registry words it), ``share``
    (share of the commune in CPTS, summed over all its CPTS), ``cpts_all`` (every CPTS with its
    name and its share, largest first, separated by « ; »: ``N1 CPTS Nice Ouest (34,7 %) ; N3 …``),
    ``n_cpts`` (how many CPTS claim the commune) and ``covered`` (bool). Every commune of ``communes`` is
    there exactly once.

    Parameters
    ----------
    registry : DataFrame, CheckedRegistry, str or Path
        A registry (table or file) or an already validated one.
    communes : GeoDataFrame
        The commune layer.
    passage : optional
        An INSEE passage table for old codes.
    check_names : bool, default True
        Check commune names against their codes.

    Returns
    -------
    GeoDataFrame
        ``communes`` with the columns above, same index and order.

    Examples
    --------
    >>> c = communes_with_cpts(load_example_registry(), load_communes(region="32"))
    >>> len(c), bool(c["covered"].any()), bool((~c["covered"]).any())
    (3782, True, True)
    """
    checked = _checked(registry, communes, passage, check_names)
    member = checked.membership
    units, unit = _units_of(communes, member["code"])
    # every (commune, CPTS) pair by commune, the largest share first, then by CPTS id: the
    # first pair of a commune gives its main CPTS
    ids = member["cpts_id"].to_numpy(dtype=object)
    id_rank, _ = pd.factorize(ids, sort=True)
    shares = member["share"].to_numpy(dtype=float)
    order = np.lexsort((id_rank, -shares, unit))
    order = order[unit[order] >= 0]  # (a code outside the layer has no row there)
    unit, ids, shares = unit[order], ids[order], shares[order]
    gid = positions(checked.cpts.index, ids)
    first = np.r_[True, unit[1:] != unit[:-1]] if len(unit) else np.zeros(0, dtype=bool)
    n = len(units)
    main = np.full(n, -1)
    main[unit[first]] = np.flatnonzero(first)  # the pair of each covered commune
    claims = np.bincount(unit, minlength=n)
    out = units.copy(deep=False)  # (new columns only: the caller's layer is not changed)
    pick = np.where(main >= 0, main, len(ids))  # past the end: no CPTS (a registry may have no pair here)
    out["cpts_id"] = pd.array(np.append(ids, np.array([None], dtype=object))[pick], dtype="string")
    cpts_row = np.append(gid, np.array([-1]))[pick]
    published = _published(checked.cpts)
    out["cpts_name"] = pd.array(checked.cpts["name"].array.take(cpts_row, allow_fill=True), dtype="string")
    out["stage"] = pd.Series(checked.cpts["stage"].array.take(cpts_row, allow_fill=True),
                             index=out.index).astype(checked.cpts["stage"].dtype)
    out["published_stage"] = pd.Series(published.array.take(cpts_row, allow_fill=True),
                                       index=out.index).astype(published.dtype)
    out["share"] = _shares(unit, shares, claims)
    out["cpts_all"] = pd.array(_cpts_all(checked.cpts, unit, ids, gid, shares, claims), dtype="string")
    out["n_cpts"] = claims.astype("int64")
    out["covered"] = out["cpts_id"].notna().to_numpy()
    return out



def _shares(unit: np.ndarray, shares: np.ndarray, claims: np.ndarray) -> np.ndarray:
    """The share of each commune in CPTS: its one share, or the sum of its shares (pandas' sum,
    whose rounding the tables written before kept), 0 for a commune in no CPTS."""
    total = np.zeros(len(claims))
    alone = claims[unit] == 1
    total[unit[alone]] = shares[alone]
    if not alone.all():
        several = pd.Series(shares[~alone]).groupby(unit[~alone]).sum()
        total[several.index.to_numpy()] = several.to_numpy()
    return total



def _cpts_all(cpts: pd.DataFrame, unit: np.ndarray, ids: np.ndarray, gid: np.ndarray, shares: np.ndarray,
              claims: np.ndarray) -> np.ndarray:
    """Every CPTS of each commune with its share, largest first (pairs sorted so), separated by
    « ; »; the CPTS alone for a commune wholly in one CPTS (most of them); None in no CPTS."""
    names = cpts["name"].to_numpy(dtype=object, na_value=None)
    cpts_ids = cpts.index.to_numpy(dtype=object)
    # « id name », or the id alone when the CPTS has no name or is named by its id
    named = np.array([c if n is None or n == c else f"{c} {n}" for c, n in zip(cpts_ids, names)], dtype=object)
    labels = np.where(gid >= 0, named[np.maximum(gid, 0)] if len(named) else ids, ids)
    out = np.full(len(claims), None, dtype=object)
    alone = (claims[unit] == 1) & (shares >= 1)
    out[unit[alone]] = labels[alone]
    parts: dict[int, list[str]] = {}
    for u, who, s in zip(unit[~alone].tolist(), labels[~alone].tolist(), shares[~alone].tolist()):
        parts.setdefault(u, []).append(f"{who} ({percent(s, 1 if s < 0.995 else 0)})" if s < 1 else who)
    for u, texts in parts.items():
        out[u] = " ; ".join(texts)
    return out



def coverage(registry: Registry, communes: gpd.GeoDataFrame, *, passage: Passage = None,
             check_names: bool = True, layer: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """Coverage of the communes by CPTS, by project stage.

    One row per stage, then ``Non couvert`` (uncovered) and ``Total``; columns ``n_cpts``,
    ``n_communes`` (a split commune counts for its main CPTS), ``population`` (split
    communes counted with their shares; the part of a commune in no CPTS counts as
    uncovered) and ``share_population``. Covered plus uncovered equals the total.

    Parameters
    ----------
    registry : DataFrame, CheckedRegistry, str or Path
        A registry (table or file) or an already validated one.
    communes : GeoDataFrame
        The commune layer, with ``population``.
    passage : optional
        An INSEE passage table for old codes.
    check_names : bool, default True
        Check commune names against their codes.
    layer : GeoDataFrame, optional
        :func:`communes_with_cpts` of this registry on these communes, when it is already
        computed (a command that writes it too): it is not computed again.

    Returns
    -------
    DataFrame
        Indexed by stage (French labels), columns as above.

    Examples
    --------
    >>> cov = coverage(load_example_registry(), load_communes(region="32"))
    >>> int(cov.loc["Total", "population"]), int(cov.loc["Total", "n_communes"])
    (5995292, 3782)
    """
    from cpts_geo.domain.stages import NOT_GIVEN, STAGES

    checked = _checked(registry, communes, passage, check_names)
    if layer is None:
        layer = communes_with_cpts(checked, communes)
    pop = layer["population"].astype("Float64").fillna(0).to_numpy(dtype=float)
    member = checked.membership
    # the pairs of a CPTS of the registry and a commune of the layer
    mpos, gid = positions(layer.index, member["code"]), positions(checked.cpts.index, member["cpts_id"])
    keep = (mpos >= 0) & (gid >= 0)
    mpos, gid = mpos[keep], gid[keep]
    mpop = pop[mpos] * member["share"].to_numpy(dtype=float)[keep]
    cpts_stage = checked.cpts["stage"].astype(str).to_numpy(dtype=object)
    by_stage_pop = pd.Series(mpop).groupby(cpts_stage[gid]).sum()
    with_communes = np.zeros(len(checked.cpts), dtype=bool)
    with_communes[gid] = True
    layer_stage = layer["stage"]
    rows: list[dict[str, Any]] = []
    shown = [NOT_GIVEN, *STAGES] if (checked.cpts["stage"] == NOT_GIVEN).any() else STAGES
    for stage in shown:
        rows.append({
            "stage": stage,
            "n_cpts": int(((cpts_stage == stage) & with_communes).sum()),
            "n_communes": int((layer_stage == stage).sum()),
            "population": float(by_stage_pop.get(stage, 0.0)),
        })
    covered_pop = sum(r["population"] for r in rows)
    total_pop = float(pop.sum())
    rows.append({"stage": "Non couvert", "n_cpts": 0, "n_communes": int((~layer["covered"]).sum()),
                 "population": total_pop - covered_pop})
    rows.append({"stage": "Total", "n_cpts": int(with_communes.sum()),
                 "n_communes": len(layer), "population": total_pop})
    out = pd.DataFrame(rows).set_index("stage")
    out.index.name = "stage"
    out["population"] = out["population"].round(1)
    out["share_population"] = (out["population"] / total_pop).round(4) if total_pop else 0.0
    return out



def summary_table(territories: gpd.GeoDataFrame) -> pd.DataFrame:
    """The territories as a table with French headers (for a CSV or a report).

    Parameters
    ----------
    territories : GeoDataFrame
        The CPTS territories (:func:`build_territories`).

    Returns
    -------
    DataFrame
        The territories without geometry, French headers (the population header with its vintage);
        « Étape telle que publiée » beside « Étape » when the registry words its stages its own way.

    Examples
    --------
    >>> t = build_territories(load_example_registry(), load_communes(region="32"))
    >>> summary_table(t).columns[:3].tolist()
    ['Identifiant CPTS', 'Nom', 'Étape']
    """
    from cpts_geo.domain.stages import own_words

    table = pd.DataFrame(territories.drop(columns=territories.geometry.name)).reset_index()
    if "published_stage" in table and not own_words(table["published_stage"]):
        table = table.drop(columns="published_stage")  # the guide's words: the stage itself
    table["single_part"] = table["single_part"].map({True: "oui", False: "non"})
    table["area_km2"] = table["area_km2"].round(2)
    return table.rename(columns=population_headers(territories))



def population_headers(table: pd.DataFrame) -> dict[str, str]:
    """:data:`TERRITORY_HEADERS` with the population vintage of ``table`` in the population header.

    Parameters
    ----------
    table : DataFrame
        A table whose layer metadata (:func:`cpts_geo.domain.metadata.layer_metadata`) may state a
        population vintage.

    Returns
    -------
    dict of str to str
        Library column names to French headers.

    Examples
    --------
    >>> t = set_layer_metadata(pd.DataFrame({"population": [1]}), population_vintage=2021)
    >>> population_headers(t)["population"]
    'Population municipale 2021'
    """
    headers = dict(TERRITORY_HEADERS)
    vintage = layer_metadata(table).population_vintage
    if vintage:
        headers["population"] = f"Population municipale {vintage}"
    return headers
