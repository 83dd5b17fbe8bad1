"""Size tiers of CPTS, from the population they serve.

The ACI sets four tiers (fiche 16 of the URPS guide). **Boundary rule** (the official text
does not say where exactly 80 000 falls; this rule is ours, and lives only here):

====  ==========================================
tier  population municipale
====  ==========================================
1     population < 40 000
2     40 000 ≤ population < 80 000
3     80 000 ≤ population ≤ 175 000
4     population > 175 000
====  ==========================================

>>> tier_of([39_999, 40_000, 79_999, 80_000, 175_000, 175_001, None]).tolist()
[1, 2, 2, 3, 3, 4, <NA>]
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = [
    "TIER_LABELS",
    "TIER_RULES",
    "tier_of",
]

#: French label of each tier.
TIER_LABELS = {
    1: "Taille 1 (moins de 40 000 habitants)",
    2: "Taille 2 (40 000 à 80 000 habitants)",
    3: "Taille 3 (80 000 à 175 000 habitants)",
    4: "Taille 4 (plus de 175 000 habitants)",
}


#: The boundary rule of each tier, as :func:`tier_of` applies it (for reports).
TIER_RULES = {
    1: "population < 40 000",
    2: "40 000 ≤ population < 80 000",
    3: "80 000 ≤ population ≤ 175 000",
    4: "population > 175 000",
}



def tier_of(population: Iterable | float, *, vintage: int | None = None) -> pd.Series:
    """Size tier (1–4) of each population; ``<NA>`` where the population is missing.

    Parameters
    ----------
    population : scalar or iterable
        Population municipale.
    vintage : int, optional
        Census vintage of the population; recorded as the result's metadata
        (:func:`cpts_geo.domain.metadata.layer_metadata`: tiers of the same CPTS can differ between
        vintages).

    Returns
    -------
    pandas.Series of Int64
    """
    series = population if isinstance(population, pd.Series) else pd.Series(
        np.atleast_1d(np.asarray(population, dtype=object)))
    values = pd.to_numeric(series, errors="raise").astype("Float64")
    if (values < 0).any():
        raise ValueError("Population négative : une population ne peut pas être négative.")
    tier = pd.Series(pd.NA, index=series.index, dtype="Int64", name="tier")
    known = values.notna()
    v = values[known].to_numpy(dtype=float)
    tier[known] = np.select([v < 40_000, v < 80_000, v <= 175_000], [1, 2, 3], 4)
    from cpts_geo.domain.metadata import set_layer_metadata

    return set_layer_metadata(tier, inplace=True, population_vintage=vintage)
