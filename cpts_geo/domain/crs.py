"""Coordinate reference systems: the metric CRS of each part of France and the reprojection to it.

Lambert-93 (EPSG:2154) for mainland France and Corsica, the official CRS of each overseas
department (:data:`METRIC_CRS`); lengths, areas and distances are computed there, web maps in
EPSG:4326. :func:`reproject` reprojects longitude/latitude to Lambert-93 by a numpy formula
checked against PROJ at first use, and goes through PROJ otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from cpts_geo.domain.codes import department_of

__all__ = [
    "METRIC_CRS",
    "metric_crs",
    "reproject",
    "to_metric",
]

#: Projected CRS for metric work, by department code (mainland and Corsica: Lambert-93).
METRIC_CRS = {
    "971": "EPSG:5490",  # RGAF09 / UTM 20N (Guadeloupe)
    "972": "EPSG:5490",  # RGAF09 / UTM 20N (Martinique)
    "973": "EPSG:2972",  # RGFG95 / UTM 22N (Guyane)
    "974": "EPSG:2975",  # RGR92 / UTM 40S (La Réunion)
    "976": "EPSG:4471",  # RGM04 / UTM 38S (Mayotte)
}


MAINLAND_CRS = "EPSG:2154"

# Longitude and latitude in degrees to Lambert-93 x and y.
_Forward = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]



def require_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries, what: str = "La couche communale") -> None:
    """Refuse a layer without a coordinate reference system, in the one wording users see.

    Parameters
    ----------
    gdf : GeoDataFrame or GeoSeries
        The layer to check.
    what : str, default "La couche communale"
        How the French message names the layer.

    Returns
    -------
    None

    Raises
    ------
    ValueError
        ``gdf`` has no CRS.
    """
    if gdf.crs is None:
        raise ValueError(f"{what} n'a pas de CRS (système de coordonnées) : déclarez-le avec "
                         ".set_crs(...) (ex. EPSG:2154 pour le Lambert-93) ou dans QGIS.")



def department_crs(departments: pd.Series | Iterable[str]) -> pd.Series:
    """The metric CRS of each department: Lambert-93, or the official CRS of an overseas one.

    Parameters
    ----------
    departments : Series or iterable of str
        Department codes.

    Returns
    -------
    Series
        ``"EPSG:…"`` strings, one per department (same index as a Series input).

    Examples
    --------
    >>> department_crs(["59", "2A", "974"]).tolist()
    ['EPSG:2154', 'EPSG:2154', 'EPSG:2975']
    """
    deps = pd.Series(departments, dtype=object)
    codes, uniques = pd.factorize(deps)  # each distinct department once (35 000 communes, ~100 values)
    crs = np.array([METRIC_CRS.get(d, MAINLAND_CRS) if isinstance(d, str) else MAINLAND_CRS
                    for d in uniques] + [MAINLAND_CRS], dtype=object)
    return pd.Series(crs[codes], index=deps.index)



def split_by_metric_crs(codes: pd.Series | pd.Index | Iterable[str]) -> dict[str, np.ndarray]:
    """Positions of ``codes`` (commune codes) grouped by the metric CRS they need.

    The one implementation of "each part of France in its own metric CRS": metric work over
    communes of mainland France and of overseas departments loops over this.

    Parameters
    ----------
    codes : Series, Index or iterable of str
        Commune codes.

    Returns
    -------
    dict of str to numpy.ndarray
        ``{"EPSG:…": positions of the codes in that CRS}``.

    Examples
    --------
    >>> {crs: pos.tolist() for crs, pos in split_by_metric_crs(["59350", "97411", "80021"]).items()}
    {'EPSG:2154': [0, 2], 'EPSG:2975': [1]}
    """
    crs = department_crs(department_of(pd.Series(list(codes), dtype=object))).to_numpy()
    return {c: np.flatnonzero(crs == c) for c in sorted(set(crs))}



def metric_crs_of(department: str) -> str:
    """The projected CRS for metric work in one department, as an ``"EPSG:…"`` string.

    Parameters
    ----------
    department : str
        A department code (``"59"``, ``"2A"``, ``"974"``).

    Returns
    -------
    str
        The CRS of the department in :data:`METRIC_CRS`, Lambert-93 (``"EPSG:2154"``) for any
        other code (mainland France, Corsica, or a code not listed there).

    Examples
    --------
    >>> metric_crs_of("974")
    'EPSG:2975'
    >>> metric_crs_of("2A")
    'EPSG:2154'
    """
    return METRIC_CRS.get(department, MAINLAND_CRS)



def metric_crs(communes: gpd.GeoDataFrame | pd.DataFrame) -> pyproj.CRS:
    """The projected CRS for metric work on these communes.

    Lambert-93 (EPSG:2154) for mainland France and Corsica, the official projected CRS of
    the overseas department otherwise. Raises if the communes span several of them.

    Parameters
    ----------
    communes : GeoDataFrame or DataFrame
        Communes indexed by INSEE code.

    Returns
    -------
    pyproj.CRS
        The one metric CRS of these communes.

    Raises
    ------
    ValueError
        The communes need several metric CRS (French message).

    Examples
    --------
    >>> metric_crs(load_communes(region="32")).to_epsg()
    2154
    """
    deps = pd.unique(department_of(pd.Series(communes.index)))
    crs = {metric_crs_of(d) for d in deps}
    if len(crs) != 1:
        raise ValueError(
            "Ces communes relèvent de plusieurs projections métriques "
            f"({', '.join(sorted(crs))}) : traitez la métropole et chaque DROM séparément."
        )
    return pyproj.CRS(crs.pop())



def to_metric(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return ``gdf`` in the metric CRS of its communes (see :func:`metric_crs`).

    Parameters
    ----------
    gdf : GeoDataFrame
        Communes (or anything indexed by commune code) with a CRS.

    Returns
    -------
    GeoDataFrame
        A reprojected copy.

    Examples
    --------
    >>> to_metric(load_communes(departments="80")).crs.to_epsg()
    2154
    """
    require_crs(gdf, "La couche")
    return reproject(gdf, metric_crs(gdf))



def reproject(gdf: gpd.GeoDataFrame, crs: str | int | pyproj.CRS) -> gpd.GeoDataFrame:
    """``gdf.to_crs(crs)``, with longitude/latitude to Lambert-93 computed by numpy (checked
    against PROJ to 1e-6 m at first use, PROJ otherwise): several times faster on the
    communes of France.

    Parameters
    ----------
    gdf : GeoDataFrame
        A layer with a CRS.
    crs : pyproj.CRS or str
        The CRS wanted.

    Returns
    -------
    GeoDataFrame
        A reprojected copy (its metadata kept).

    Examples
    --------
    >>> somme = load_communes(departments="80")
    >>> moved = reproject(somme, "EPSG:2154")
    >>> moved.crs.to_epsg(), bool((moved.geometry.distance(somme.to_crs(2154).geometry) < 1e-6).all())
    (2154, True)
    """
    require_crs(gdf, "La couche")
    target = pyproj.CRS(crs)
    out = gdf.copy(deep=False)  # (copy-on-write: the columns are shared until one changes)
    name = gdf.geometry.name
    out[name] = gpd.GeoSeries(_project(gdf.geometry.to_numpy(), gdf.crs, target), index=gdf.index, crs=target)
    return out.set_crs(target, allow_override=True)



def _lambert93_formula() -> _Forward | None:
    """Lambert-93 (EPSG:2154) from longitude and latitude in degrees, in numpy, or ``None``.

    The conformal conic projection of the GRS80 ellipsoid that PROJ applies from EPSG:4326
    (no datum shift: RGF93 is taken equal to WGS84), written with numpy's vector
    functions, which is three times faster than PROJ's point by point loop. It is used only
    after checking that it gives PROJ's coordinates within 1e-6 m on points spread over
    mainland France and Corsica (``None`` otherwise: PROJ is used).
    """
    a, flat = 6378137.0, 1 / 298.257222101
    e = np.sqrt(2 * flat - flat * flat)
    lat1, lat2, lat0, lon0 = np.radians([44.0, 49.0, 46.5, 3.0])

    def m(p: Any) -> Any:
        return np.cos(p) / np.sqrt(1 - (e * np.sin(p)) ** 2)

    def log_t(p: Any) -> Any:
        s = np.sin(p)
        return np.log(np.tan(np.pi / 4 - p / 2)) - (e / 2) * np.log((1 - e * s) / (1 + e * s))

    n = (np.log(m(lat1)) - np.log(m(lat2))) / (log_t(lat1) - log_t(lat2))
    big_f = m(lat1) / (n * np.exp(n * log_t(lat1)))
    rho0 = a * big_f * np.exp(n * log_t(lat0))

    def forward(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rho = a * big_f * np.exp(n * log_t(np.radians(lat)))
        theta = n * (np.radians(lon) - lon0)
        return 700000.0 + rho * np.sin(theta), 6600000.0 + rho0 - rho * np.cos(theta)

    lon, lat = np.meshgrid(np.linspace(-5.5, 10.0, 32), np.linspace(41.0, 51.5, 32))
    x, y = forward(lon.ravel(), lat.ravel())
    px, py = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True).transform(
        lon.ravel(), lat.ravel())
    return forward if max(np.abs(x - px).max(), np.abs(y - py).max()) < 1e-6 else None


_LAMBERT93: list[Any] = []



def _project(geoms: np.ndarray, crs: str | int | pyproj.CRS, to: str | int | pyproj.CRS) -> np.ndarray:
    """Geometries (an array) from ``crs`` to ``to``: Lambert-93 from longitude and latitude
    through :func:`_lambert93_formula` when it agrees with PROJ, PROJ otherwise."""
    src, dst = pyproj.CRS(crs), pyproj.CRS(to)
    if src == dst:
        return geoms
    if not _LAMBERT93:
        _LAMBERT93.extend([pyproj.CRS("EPSG:4326"), pyproj.CRS("EPSG:2154"), _lambert93_formula()])
    wgs84, lambert93, forward = _LAMBERT93
    if forward is not None and src == wgs84 and dst == lambert93 and not shapely.has_z(geoms).any():
        xy = shapely.get_coordinates(geoms)
        x, y = forward(xy[:, 0], xy[:, 1])
        return shapely.set_coordinates(np.array(geoms, dtype=object), np.column_stack([x, y]))
    return gpd.GeoSeries(geoms, crs=src).to_crs(dst).to_numpy()
