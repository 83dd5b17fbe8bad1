"""Territorial units: what a CPTS is made of.

A unit is a commune, or a municipal arrondissement of Paris, Lyon or Marseille where a
registry gives that city by arrondissement (a part of a commune given by a share is the
commune itself, with its ``share`` in the membership table). Every step that turns a
membership into geometry or figures (territories, coverage, flows, maps) takes its units from
:func:`unit_layer`.
"""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import pandas as pd

from cpts_geo.domain.communes import load_arrondissements
from cpts_geo.domain.metadata import layer_metadata, set_layer_metadata

__all__ = ["unit_layer"]


def unit_layer(communes: gpd.GeoDataFrame, codes: Iterable[str]) -> gpd.GeoDataFrame:
    """The commune layer, with the cities that ``codes`` give by arrondissement replaced by them.

    Parameters
    ----------
    communes : GeoDataFrame
        A commune layer indexed by INSEE code.
    codes : iterable of str
        The codes of a membership: communes, and arrondissements (751xx, 6938x, 132xx).

    Returns
    -------
    GeoDataFrame
        ``communes`` itself when every code is one of its communes; otherwise a copy where
        each city with an arrondissement among ``codes`` is replaced by all its
        arrondissements (same columns, same metadata).

    Examples
    --------
    >>> units = unit_layer(load_communes(departments="13"), ["13201", "13055"])
    >>> "13055" in units.index, "13201" in units.index, int(units.index.str.startswith("132").sum())
    (False, True, 16)
    """
    wanted = set(codes)
    missing = wanted - set(communes.index.astype(object))  # a set of Arrow strings is built value by value
    if not missing:
        return communes
    arm = load_arrondissements(crs=communes.crs)
    arm = arm[arm.index.isin(missing)]
    cities = set(arm["parent"])
    arm = load_arrondissements(crs=communes.crs)
    arm = arm[arm["parent"].isin(cities)]
    keep = [c for c in communes.columns if c in arm.columns or c == communes.geometry.name]
    out = pd.concat([communes[~communes.index.isin(cities)], arm[keep]])
    return set_layer_metadata(out, layer_metadata(communes), inplace=True)
