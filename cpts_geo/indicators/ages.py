"""Age structure of territories (0–19, 20–64, 65 years and more) from INSEE's 2021 census by IRIS.

Every commune and municipal arrondissement of France has its population by age band in the
embedded IRIS table (:func:`cpts_geo.data.iris.iris_table`): a territory's structure is the sum
over its units, a commune shared between CPTS counted by its share, or by its IRIS when the
registry gives the city by IRIS (:attr:`cpts_geo.domain.registry.CheckedRegistry.iris`). No user
file is needed. Source and vintage: :data:`AGE_SOURCE`, :data:`cpts_geo.data.iris.IRIS_VINTAGE`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pandas as pd

from cpts_geo.data.iris import IRIS_SOURCE, iris_table
from cpts_geo.domain.codes import is_in, positions

__all__ = ["AGE_BANDS", "AGE_SOURCE", "AgeStructure", "age_structure", "unit_ages"]

#: The census age bands of the IRIS table: column → label as printed.
AGE_BANDS = {"pop_0_19": "0 à 19 ans", "pop_20_64": "20 à 64 ans", "pop_65p": "65 ans et plus"}

#: The source of the age structure, as cited in outputs.
AGE_SOURCE = f"INSEE, recensement 2021, population par IRIS ({IRIS_SOURCE})"


class AgeStructure(NamedTuple):
    """The age structure of territories, and the codes it could not count."""

    #: Indexed by territory: ``population`` (the sum of the bands), one column per band of
    #: :data:`AGE_BANDS` (inhabitants, a shared commune by its share) and ``share_<band>``
    #: (fraction of ``population``).
    table: pd.DataFrame
    #: The rows of the membership whose code has no IRIS (``code``, ``cpts_id``): left out.
    missing: pd.DataFrame


@lru_cache(maxsize=2)
def unit_ages(*, cities: bool = True) -> pd.DataFrame:
    """Population by age band of every commune and municipal arrondissement (census 2021).

    Parameters
    ----------
    cities : bool, default True
        Also give Paris, Lyon and Marseille as a whole (``75056``, ``69123``, ``13055``: the sum
        of their arrondissements, which carry their IRIS); ``False`` gives each inhabitant
        once (to sum departments, regions, France).

    Returns
    -------
    DataFrame
        Indexed by commune or arrondissement code (text), one column per band of
        :data:`AGE_BANDS` (floats). The same object on every call: copy it before changing it.

    Examples
    --------
    >>> ages = unit_ages()
    >>> int(ages.loc["13055"].sum()) == int(ages.loc[[f"132{i:02d}" for i in range(1, 17)]].to_numpy().sum())
    True
    """
    iris = iris_table()
    leaf = iris.groupby("commune", sort=True)[list(AGE_BANDS)].sum().astype("float64")
    leaf.index = leaf.index.astype(object)
    leaf.index.name = "code"
    if not cities:
        return leaf
    from cpts_geo.domain.codes import arrondissement_parent

    parent = arrondissement_parent()
    arr = leaf.index[leaf.index.isin(parent.index)]
    city = leaf.loc[arr].groupby(parent.reindex(arr).to_numpy()).sum()
    return pd.concat([leaf, city.drop(index=city.index.intersection(leaf.index))])


def age_structure(membership: pd.DataFrame, *, iris: pd.DataFrame | None = None) -> AgeStructure:
    """Age structure of territories (CPTS, departments…) from the 2021 census by IRIS.

    Parameters
    ----------
    membership : DataFrame
        ``code`` (commune or arrondissement), ``cpts_id`` (the territory) and ``share`` (of the
        commune's population in the territory; 1 when absent), as
        :attr:`cpts_geo.domain.registry.CheckedRegistry.membership`.
    iris : DataFrame, optional
        The IRIS of each territory (``cpts_id``, ``iris``, ``code``), as
        :attr:`cpts_geo.domain.registry.CheckedRegistry.iris`: a commune a territory holds by
        IRIS counts the population of those IRIS, not its share of the commune.

    Returns
    -------
    AgeStructure
        ``table`` indexed by territory (in their first order), ``missing`` the codes without IRIS.

    Examples
    --------
    >>> m = pd.DataFrame({"code": ["01001", "06088"], "cpts_id": ["A", "B"], "share": [1.0, 0.5]})
    >>> t = age_structure(m).table
    >>> int(t.at["A", "population"]), round(float(t.at["B", "share_pop_65p"]), 3)
    (832, 0.238)
    """
    ages = unit_ages()
    m = membership[["code", "cpts_id"]].copy()
    m["share"] = membership["share"].to_numpy(dtype="float64") if "share" in membership else 1.0
    order = pd.unique(m["cpts_id"])
    parts = []
    if iris is not None and len(iris):
        by_iris = iris[["cpts_id", "iris", "code"]]
        held = pd.MultiIndex.from_frame(by_iris[["cpts_id", "code"]].astype(object))
        m = m[~pd.MultiIndex.from_frame(m[["cpts_id", "code"]].astype(object)).isin(held)]
        counts = iris_table()[list(AGE_BANDS)].reindex(by_iris["iris"].to_numpy()).astype("float64")
        parts.append(counts.groupby(by_iris["cpts_id"].to_numpy()).sum())
    known = is_in(m["code"], ages.index)  # (hashed by pyarrow: pandas' isin of text walks the index in Python)
    missing = m.loc[~known, ["code", "cpts_id"]].reset_index(drop=True)
    m = m[known]
    counts = ages.to_numpy()[positions(ages.index, m["code"])] * m["share"].to_numpy()[:, None]
    parts.append(pd.DataFrame(counts, columns=list(AGE_BANDS)).groupby(m["cpts_id"].to_numpy()).sum())
    table = pd.concat(parts).groupby(level=0).sum().reindex(order).fillna(0.0)
    table.insert(0, "population", table[list(AGE_BANDS)].sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        for band in AGE_BANDS:
            table[f"share_{band}"] = (table[band] / table["population"]).where(table["population"] > 0)
    return AgeStructure(table, missing)
