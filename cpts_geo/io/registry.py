"""Reading registries (files, PostGIS, drawn perimeters) and the embedded illustrative registry."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from cpts_geo.domain.registry import (
    CheckedRegistry,
    RegistryRead,
    registry_from_read,
    registry_table,
    require_headers,
    require_perimeter_crs,
)
from cpts_geo.domain.territories import EXAMPLE_NOTE
from cpts_geo.errors import ValidationError
from cpts_geo.io._read import read_table

if TYPE_CHECKING:
    from cpts_geo.domain.stages import StageMapping

__all__ = [
    "example_registry",
    "is_example_registry",
    "load_example_registry",
    "read_perimeters",
    "read_registry",
    "read_registry_report",
    "read_stage_mapping",
    "write_stage_template",
]


def read_registry(
    source: str | Path | pd.DataFrame | RegistryRead,
    *,
    columns: Mapping[str, str] | None = None,
    sheet: str | int | None = None,
    layer: str | None = None,
    sep: str | None = None,
    encoding: str | None = None,
) -> pd.DataFrame:
    """Read a registry from CSV, XLSX, GeoPackage (or any OGR table) or a DataFrame.

    The table of :func:`read_registry_report`, which also says how the file was read.

    Parameters
    ----------
    source, columns, sheet, layer, sep, encoding
        As in :func:`read_registry_report`.

    Returns
    -------
    pandas.DataFrame
        Columns ``row`` (row number in the file) and :data:`REGISTRY_COLUMNS`, values as given
        (checked by :func:`validate_registry`), as text for CSV and XLSX files.

    Examples
    --------
    >>> raw = pd.DataFrame({"Identifiant CPTS": ["A", "A"], "Étape": ["ACI signé"] * 2,
    ...                     "Code INSEE": ["59350", "59009"]})
    >>> reg = read_registry(raw)
    >>> reg[["row", "cpts_id", "commune_code"]].values.tolist()
    [[2, 'A', '59350'], [3, 'A', '59009']]
    """
    return read_registry_report(source, columns=columns, sheet=sheet, layer=layer, sep=sep,
                                encoding=encoding).registry



def read_registry_report(
    source: str | Path | pd.DataFrame | RegistryRead,
    *,
    columns: Mapping[str, str] | None = None,
    sheet: str | int | None = None,
    layer: str | None = None,
    sep: str | None = None,
    encoding: str | None = None,
) -> RegistryRead:
    """Read a registry and say how it was read (recognised and ignored columns, encoding…).

    Parameters
    ----------
    source : path, DataFrame or RegistryRead
        Read by :func:`cpts_geo.io._read.read_table`: ``.csv``/``.txt`` (``;``, ``,``, tab or ``|``;
        UTF-8, UTF-16 or Windows-1252 as Excel writes them, detected), ``.xlsx``,
        ``.gpkg``/``.shp``/``.geojson``/``.parquet`` (attributes used; a layer of CPTS
        *polygons* goes through :func:`registry_from_perimeters` instead); or a
        ``postgresql://`` URL of a database written by :func:`cpts_geo.io.postgis.write_postgis`
        (``layer`` names the schema, default ``cpts``). A :class:`RegistryRead` is returned
        as is.
    columns : mapping, optional
        ``{header in the file: standard column}`` for headers not recognised automatically.
    sheet, layer : optional
        Sheet of a workbook (default: the one whose header is recognised; several such sheets
        are refused with their list), layer of a GeoPackage (required when it has several).
    sep, encoding : str, optional
        Force the CSV separator or encoding instead of detecting them.

    Returns
    -------
    RegistryRead
        ``registry`` (the table of :func:`read_registry`), ``source``, ``reading`` (a French
        sentence), ``recognised``, ``ignored``, ``encoding``, ``separator``, ``sheet``,
        ``header_row``, ``layer``, ``formulas``, ``recoded_lines``.

    Raises
    ------
    ValidationError
        When the identifier or commune code column cannot be found, or the file cannot be
        read without guessing (see :func:`cpts_geo.io._read.read_table`).

    Examples
    --------
    >>> raw = pd.DataFrame({"Identifiant CPTS": ["A"], "Code INSEE": ["59350"], "Remarque": ["x"]})
    >>> read = read_registry_report(raw)
    >>> read.recognised, read.ignored
    ({'Identifiant CPTS': 'cpts_id', 'Code INSEE': 'commune_code'}, ('Remarque',))
    """
    if isinstance(source, RegistryRead):
        return source
    postgis = isinstance(source, str) and source.startswith(("postgresql://", "postgres://",
                                                              "postgresql+psycopg://"))
    if postgis:
        from cpts_geo.io.postgis import read_postgis_registry

        source, layer = read_postgis_registry(str(source), schema=layer or "cpts"), None
    if isinstance(source, pd.DataFrame):
        given = registry_table(source, columns=columns)
        return given._replace(source="PostGIS") if postgis else given
    read = read_table(source, kind="registry", columns=columns, sheet=sheet, layer=layer, sep=sep,
                      encoding=encoding)
    require_headers(read.table.columns, columns, what=f"du registre {Path(str(source)).name}")
    return registry_from_read(read)



def read_perimeters(path: str | Path, *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read CPTS perimeters given as polygons (GeoPackage, Shapefile, GeoJSON, GeoParquet…).

    Read by :func:`cpts_geo.io._read.read_table`: a GeoPackage with several layers is refused with
    their list unless ``layer`` names one.

    Parameters
    ----------
    path : str or Path
        The layer file.
    layer : str, optional
        The layer of a multi-layer file (GeoPackage).

    Returns
    -------
    GeoDataFrame
        The perimeters as read, in their own CRS.

    Raises
    ------
    ValidationError
        No geometry, or no CRS (French message saying how to fix it in QGIS).
    """

    gdf = read_table(path, layer=layer, geometry=True).table
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ValidationError(
            f"{Path(path).name} : pas de géométries ; les périmètres se donnent en GeoPackage, "
            "Shapefile, GeoJSON ou GeoParquet.", [{"problem": "aucune géométrie"}])
    require_perimeter_crs(gdf, f"{Path(path).name} : la couche")
    return gdf



def example_registry() -> RegistryRead:
    """The illustrative Hauts-de-France registry shipped with the package, with its flags.

    **Illustrative**: CPTS compositions are not published, so this registry is built from
    the region's EPCIs (``python data/example/build.py``) to give 59 CPTS of which 32 are
    recognised (stage "Projet de santé validé" or "ACI signé"), as counted by the URPS guide,
    and leaves some communes uncovered. It is not the real map.

    Returns
    -------
    RegistryRead
        ``registry`` (the table), ``illustrative=True`` and ``note`` (:data:`EXAMPLE_NOTE`,
        to be shown wherever the registry appears).

    Examples
    --------
    >>> ex = example_registry()
    >>> ex.registry["cpts_id"].nunique(), ex.illustrative, ex.note == EXAMPLE_NOTE
    (59, True, True)
    """
    return _example_registry()._replace(registry=_example_registry().registry.copy())



@lru_cache(maxsize=1)
def _example_registry() -> RegistryRead:
    path = resources.files("cpts_geo.data") / "registre_cpts_hdf_illustratif.csv"
    with resources.as_file(path) as p:
        read = read_registry_report(p)
    return read._replace(illustrative=True, note=EXAMPLE_NOTE, source=str(p.name))



def load_example_registry() -> pd.DataFrame:
    """The table of :func:`example_registry` (illustrative: not the real map).

    Returns
    -------
    pandas.DataFrame
        The registry as :func:`cpts_geo.io.registry.read_registry` reads it;
        :func:`is_example_registry` still recognises it.

    Examples
    --------
    >>> reg = load_example_registry()
    >>> reg["cpts_id"].nunique(), is_example_registry(reg)
    (59, True)
    """
    return example_registry().registry



def is_example_registry(registry: RegistryRead | pd.DataFrame | object) -> bool:
    """Whether ``registry`` is the illustrative example registry (its flag, or its rows).

    A :class:`~cpts_geo.domain.registry.RegistryRead` says it itself; a table is compared with the
    example's rows (CPTS and commune codes), so the flag is not lost with the table; a
    :class:`~cpts_geo.domain.registry.CheckedRegistry` by its membership (the same pairs of CPTS
    and commune codes as the example's), so the flag is not lost through the validation either.

    Parameters
    ----------
    registry : RegistryRead, DataFrame, CheckedRegistry or anything else
        A registry as given to :func:`build_territories` (anything else is not the example).

    Returns
    -------
    bool

    Examples
    --------
    >>> is_example_registry(load_example_registry()), is_example_registry(pd.DataFrame())
    (True, False)
    """
    if isinstance(registry, RegistryRead):
        return registry.illustrative or is_example_registry(registry.registry)
    if isinstance(registry, CheckedRegistry):
        member = registry.membership
        return _same_pairs(member[["cpts_id", "given_codes" if "given_codes" in member.columns else "code"]])
    if not isinstance(registry, pd.DataFrame) or not {"cpts_id", "commune_code"} <= set(registry.columns):
        return False
    ref = _example_registry().registry
    if len(registry) != len(ref):
        return False
    pairs = registry[["cpts_id", "commune_code"]].astype(str).reset_index(drop=True)
    return bool(pairs.equals(ref[["cpts_id", "commune_code"]].astype(str).reset_index(drop=True)))


def _same_pairs(pairs: pd.DataFrame) -> bool:
    """Whether (CPTS, commune code) pairs, in any order, are those of the example registry."""
    ref = _example_registry().registry
    if len(pairs) != len(ref):
        return False
    ours = set(map(tuple, pairs.astype(str).to_numpy().tolist()))
    return ours == set(map(tuple, ref[["cpts_id", "commune_code"]].astype(str).to_numpy().tolist()))



def read_stage_mapping(
    source: str | Path | pd.DataFrame,
    *,
    sheet: str | int | None = None,
    sep: str | None = None,
    encoding: str | None = None,
) -> StageMapping:
    """Read a user's correspondence of stage wordings (``--etapes FICHIER.csv``).

    Two columns, the stage as published then the stage of the guide (one of the five, its
    number 1–5, or « Étape non renseignée »), below a header line; other columns are ignored
    (the template of :func:`write_stage_template` has a third one, the suggestion). A file
    whose first line is already a correspondence (its second cell is a stage) is read
    without a header. Checked by :func:`cpts_geo.domain.stages.stage_mapping`.

    Parameters
    ----------
    source : path or DataFrame
        CSV (any separator and encoding Excel writes), XLSX or Parquet, read by
        :func:`cpts_geo.io.read_table`.
    sheet, sep, encoding : optional
        As in :func:`cpts_geo.io.read_table`.

    Returns
    -------
    StageMapping
        The pairs in the file's order.

    Raises
    ------
    ValidationError
        Every bad row of the file (empty or unknown stage, a wording mapped twice), with its
        file row number.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "etapes.csv")
    >>> _ = open(path, "w", encoding="utf-8").write("étape publiée;étape\\nphase 3;ACI signé\\n")
    >>> read_stage_mapping(path).entries
    (('phase 3', 'ACI signé'),)
    """
    from cpts_geo.domain.french import fold
    from cpts_geo.domain.stages import parse_stages, stage_mapping
    from cpts_geo.errors import ValidationError as _Error

    read = read_table(source, sheet=sheet, sep=sep, encoding=encoding)
    table = pd.DataFrame(read.table)
    rows = list(read.rows)
    name = Path(source).name if not isinstance(source, pd.DataFrame) else "DataFrame"
    if len(table.columns) >= 2:
        header = [str(c) for c in table.columns[:2]]
        try:
            parse_stages([header[1]])
            headless = fold(header[1]) != fold("étape")
        except _Error:
            headless = False
        if headless:  # no header line: the first line is a correspondence
            first = pd.DataFrame([dict(zip(table.columns, [*header, *[None] * (len(table.columns) - 2)]))])
            table = pd.concat([first, table], ignore_index=True)
            rows = [int(read.header_row or 1), *rows]
    table.insert(0, "row", rows)
    return stage_mapping(table, source=name)



def write_stage_template(path: str | Path, unknown: Iterable[tuple[str, str | None]]) -> Path:
    """Write the stage mapping file to fill for unknown wordings (CSV for French Excel).

    Parameters
    ----------
    path : str or Path
        The CSV file to write (atomically).
    unknown : iterable of (str, str or None)
        Each unknown wording with the closest known stage (written as a suggestion only:
        the stage column is left empty for the user to fill).

    Returns
    -------
    Path
        ``path``.
    """
    from cpts_geo.domain.stages import mapping_template
    from cpts_geo.io.files import write_csv

    path = Path(path)
    write_csv(mapping_template(unknown), path, index=False)
    return path
