"""Map layers of flows: flow lines between commune centroids, CPTS retention polygons."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from cpts_geo.domain.codes import is_in
from cpts_geo.domain.french import number
from cpts_geo.domain.metadata import layer_metadata
from cpts_geo.errors import CptsGeoWarning
from cpts_geo.indicators.flows.codes import _arrondissements
from cpts_geo.indicators.flows.indicators import _check_membership, _names_of, cpts_flow_indicators
from cpts_geo.indicators.flows.prepare import commune_units
from cpts_geo.indicators.flows.secrecy import SECRECY_THRESHOLD, mask_secrecy
from cpts_geo.indicators.flows.table import _table

if TYPE_CHECKING:
    import geopandas as gpd


class FlowLines(NamedTuple):
    """The lines of :func:`flow_lines` and the flows that got no line."""

    #: EPSG:4326, one LineString per flow, largest first: ``origin``, ``origin_name``,
    #: ``destination``, ``destination_name``, ``volume``, ``masked``.
    lines: Any  # geopandas.GeoDataFrame (geopandas is imported lazily)
    #: Flows without a line: ``origin``, ``destination``, ``volume`` (masked like the lines),
    #: ``reason`` (inside the commune, end outside the layer, commune without geometry).
    left_out: pd.DataFrame



def _points(communes: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Centroids of the communes computed in their metric CRS, returned in EPSG:4326.

    Mainland and each overseas department are projected with their own metric CRS.
    """
    from cpts_geo.domain.codes import department_of
    from cpts_geo.domain.crs import metric_crs, require_crs

    require_crs(communes)
    geo = communes[[communes.geometry.name]]
    deps = department_of(pd.Series(geo.index.astype(str))).to_numpy()
    parts = []
    for dep in pd.unique(deps):
        part = geo[deps == dep]
        parts.append(part.to_crs(metric_crs(part)).geometry.centroid.to_crs("EPSG:4326"))
    return pd.concat(parts).reindex(geo.index)



def _with_arrondissements(communes: pd.DataFrame, codes: Iterable[str]) -> pd.DataFrame:
    """The layer plus the municipal arrondissements among ``codes`` that it lacks."""
    from cpts_geo.domain.communes import load_arrondissements

    wanted = _arrondissements().index
    wanted = wanted[is_in(wanted, codes) & ~is_in(wanted, communes.index)]
    if not len(wanted):
        return communes
    arm = load_arrondissements(crs=communes.crs).loc[wanted]
    keep = [c for c in communes.columns if c in arm.columns or c == communes.geometry.name]
    return pd.concat([communes, arm[keep]])



def flow_lines(
    flows: pd.DataFrame,
    communes: gpd.GeoDataFrame,
    *,
    top: int | None = 200,
    min_volume: float = 0.0,
    threshold: float | None = SECRECY_THRESHOLD,
) -> FlowLines:
    """Main flows as lines between commune centroids, for a flow map.

    Flows inside a commune (origin = destination) have no line and are left out, as are
    flows with an end outside ``communes`` or on a commune without geometry (a warning says
    so); ``left_out`` lists them (``origin``, ``destination``, ``volume``,
    ``reason``; volumes masked like the lines). Arrondissements of Paris, Lyon and Marseille
    found in the flows are placed at their own centroid. Volumes under the secrecy
    ``threshold`` are masked (``<NA>``, column ``masked``); their lines are kept so the map
    shows that a flow exists.

    Parameters
    ----------
    flows : DataFrame
        A flow table (``origin``, ``destination``, ``volume``), e.g. from :func:`prepare_flows`.
    communes : GeoDataFrame
        The communes whose centroids are the line ends (any CRS; centroids are computed in
        the metric CRS).
    top : int or None, default 200
        Keep only the ``top`` largest flows (``None``: all).
    min_volume : float, default 0
        Keep only flows of at least this volume.
    threshold : float or None, default 10
        Statistical secrecy threshold (``None``: no masking).

    Returns
    -------
    FlowLines
        ``lines``: a GeoDataFrame in EPSG:4326, one LineString per flow, largest first:
        ``origin``, ``origin_name``, ``destination``, ``destination_name``, ``volume``,
        ``masked``; ``left_out``: the flows without a line and why.

    Examples
    --------
    >>> from cpts_geo.domain.communes import load_communes
    >>> layer = load_communes(departments="61")
    >>> flows = pd.DataFrame({"origin": ["61143", "61497", "61001"],
    ...                       "destination": ["61001", "61001", "61001"], "volume": [80.0, 5.0, 9.0]})
    >>> lines, left_out = flow_lines(flows, layer)
    >>> lines[["origin", "volume", "masked"]].values.tolist()
    [['61143', 80.0, False], ['61497', <NA>, True]]
    """
    import geopandas as gpd
    import shapely

    table = _table(flows)[["origin", "destination", "volume"]].copy()
    table["origin"] = table["origin"].astype(str)
    table["destination"] = table["destination"].astype(str)
    table = table.groupby(["origin", "destination"], sort=False)["volume"].sum().reset_index()
    ends = np.union1d(table["origin"], table["destination"])
    communes = _with_arrondissements(communes, ends)
    used = is_in(communes.index, ends)
    pts = _points(communes[used])
    code_index = pts.index.astype(str)
    located = code_index[np.isfinite(pts.x.to_numpy()) & np.isfinite(pts.y.to_numpy())]
    inner = table["origin"] == table["destination"]
    known = table["origin"].isin(code_index) & table["destination"].isin(code_index)
    outside = ~inner & ~known
    no_geom = ~inner & known & ~(table["origin"].isin(located) & table["destination"].isin(located))
    if outside.any():
        warnings.warn(
            f"{int(outside.sum())} flux (volume {number(table.loc[outside, 'volume'].sum(), None)}) ont une "
            "extrémité hors de la couche communale : pas de ligne pour eux.", CptsGeoWarning, stacklevel=2)
    if no_geom.any():
        missing = sorted(set(table.loc[no_geom, ["origin", "destination"]].to_numpy().ravel())
                         - set(located))
        warnings.warn(
            f"{int(no_geom.sum())} flux (volume {number(table.loc[no_geom, 'volume'].sum(), None)}) ont une "
            f"extrémité sans géométrie dans la couche communale ({', '.join(missing[:10])}"
            f"{' …' if len(missing) > 10 else ''}) : pas de ligne pour eux, voir left_out.",
            CptsGeoWarning, stacklevel=2)
    reason = np.select([inner, outside, no_geom], ["flux interne à la commune",
                       "extrémité hors de la couche communale", "commune sans géométrie"], "")
    left_out = (table.assign(reason=reason)[inner | outside | no_geom]
                .sort_values(["origin", "destination"]).reset_index(drop=True))
    if threshold is not None and len(left_out):
        left_out = mask_secrecy(left_out, threshold=threshold)
    table = table[~inner & known & ~no_geom & (table["volume"] >= min_volume) & (table["volume"] > 0)]
    table = table.sort_values(["volume", "origin", "destination"],
                              ascending=[False, True, True], kind="stable")
    if top is not None:
        table = table.head(top)
    xy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
    pos = pd.Series(np.arange(len(code_index)), index=code_index)
    a = xy[pos[table["origin"]].to_numpy()]
    b = xy[pos[table["destination"]].to_numpy()]
    coords = np.stack([a, b], axis=1) if len(table) else np.empty((0, 2, 2))
    lines = shapely.linestrings(coords) if len(table) else []
    names = _names_of(communes)
    out = gpd.GeoDataFrame({
        "origin": table["origin"].to_numpy(),
        "origin_name": [names.get(c) for c in table["origin"]],
        "destination": table["destination"].to_numpy(),
        "destination_name": [names.get(c) for c in table["destination"]],
        "volume": table["volume"].to_numpy(),
    }, geometry=lines, crs="EPSG:4326")
    if threshold is not None:
        masked = mask_secrecy(pd.DataFrame(out.drop(columns="geometry")), threshold=threshold)
        out["volume"] = masked["volume"].array
        out["masked"] = masked["masked"].to_numpy()
    else:
        out["masked"] = False
    return FlowLines(out.reset_index(drop=True), left_out)



def retention_layer(
    flows: pd.DataFrame,
    membership: pd.DataFrame,
    communes: gpd.GeoDataFrame,
    *,
    threshold: float | None = SECRECY_THRESHOLD,
) -> gpd.GeoDataFrame:
    """CPTS polygons with their flow indicators, for a retention choropleth.

    Each CPTS polygon is the union of its member communes found in ``communes`` (a split
    commune is drawn in each of its CPTS; arrondissements of Paris, Lyon and Marseille are
    taken from :func:`commune_units`). Indicators are those of
    :func:`cpts_flow_indicators`, masked by :func:`mask_secrecy` unless ``threshold=None``.

    Parameters
    ----------
    flows : DataFrame
        Prepared flows (``origin``, ``destination``, ``volume``).
    membership : DataFrame
        One row per commune and CPTS (``code``, ``cpts_id``, optionally ``share``).
    communes : GeoDataFrame
        The commune layer the polygons are drawn from.
    threshold : float or None, default SECRECY_THRESHOLD
        Statistical-secrecy threshold passed to :func:`mask_secrecy`; None shows every value.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by ``cpts_id``, EPSG:4326, indicator columns, ``masked`` and ``geometry``.

    Examples
    --------
    >>> from cpts_geo.domain.communes import load_communes
    >>> layer = load_communes(departments="61")
    >>> flows = pd.DataFrame({"origin": ["61143", "61143", "61001"],
    ...                       "destination": ["61001", "61143", "61001"], "volume": [80.0, 20.0, 90.0]})
    >>> members = pd.DataFrame({"code": ["61001", "61143"], "cpts_id": ["A", "A"]})
    >>> float(retention_layer(flows, members, layer).loc["A", "retention"])
    1.0
    """
    import geopandas as gpd
    import shapely

    indicators = cpts_flow_indicators(flows, membership)
    if threshold is not None:
        indicators = mask_secrecy(indicators, threshold=threshold)
    mem = _check_membership(membership)
    communes = commune_units(communes, mem["code"])
    geoms = communes.geometry
    clean = layer_metadata(communes).clean_coverage
    shapes: list = []
    for cpts_id in indicators.index:
        codes = mem.loc[mem["cpts_id"] == cpts_id, "code"]
        parts = geoms.reindex(codes.to_numpy()).dropna().to_numpy()
        if len(parts) == 0:
            shapes.append(None)
        elif clean:
            shapes.append(shapely.coverage_union_all(parts))
        else:
            shapes.append(shapely.union_all(parts))
    out = gpd.GeoDataFrame(indicators, geometry=shapes, crs=communes.crs)
    return out.to_crs("EPSG:4326")
