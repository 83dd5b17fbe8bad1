"""The published DREES APL to general practitioners (2022, 2023), embedded.

The *accessibilité potentielle localisée* (APL) is the DREES two-step floating catchment
measure, in consultations per inhabitant per year. The tables are embedded as product data
(Licence Ouverte 2.0, attribution « DREES »; see ``data/communes/SOURCES.md``), one row per
commune of the COG of that year, Paris, Lyon and Marseille by municipal arrondissement.

This module owns reading those tables and aggregating them over a territory the way DREES
recommends: the mean of the communes' APL weighted by the standardised population, and the
share of the (total) population living below a threshold.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

__all__ = [
    "APL_SOURCE",
    "APL_YEARS",
    "UNDERSERVED_THRESHOLD",
    "load_apl",
]

#: Years of the embedded DREES tables.
APL_YEARS = (2022, 2023)


#: Attribution to print next to any figure taken from these tables.
APL_SOURCE = "DREES, APL aux médecins généralistes (Licence Ouverte 2.0)"


#: Below this many consultations per inhabitant per year, a commune is under-served (DREES).
UNDERSERVED_THRESHOLD = 2.5


#: Population vintage DREES used for each APL year (INSEE population municipale).
POPULATION_VINTAGE = {2022: 2020, 2023: 2021}


#: COG vintage of the commune codes of each APL year.
COG_VINTAGE = {2022: 2022, 2023: 2023}



@lru_cache(maxsize=1)
def _table() -> pd.DataFrame:
    from cpts_geo.data.communes import data_file

    return pd.read_parquet(data_file("apl_mg.parquet"))



def load_apl(year: int = 2023) -> pd.DataFrame:
    """Return the DREES APL to general practitioners of ``year``, one row per commune.

    Parameters
    ----------
    year : int, default 2023
        2022 (population 2020, COG 2022) or 2023 (population 2021, COG 2023).

    Returns
    -------
    DataFrame
        Indexed by commune code (text, COG of ``year``; arrondissements for Paris, Lyon,
        Marseille), with ``name``, ``apl``, ``apl_under65`` (APL counting only GPs under
        65), ``pop_standardised`` (population weighted by age-specific consumption) and
        ``population`` (population municipale). A copy: changing it changes nothing here.

    Examples
    --------
    >>> apl = load_apl(2023)
    >>> int(apl.loc["59350", "population"])
    236710
    >>> len(apl)
    34954
    """
    if year not in APL_YEARS:
        allowed = ", ".join(str(y) for y in APL_YEARS)
        raise ValueError(f"Année d'APL {year!r} non disponible : années embarquées {allowed}.")
    table = _table()
    out = table[table["year"] == year].drop(columns="year").set_index("code")
    out.index.name = "code"
    return out.copy()
