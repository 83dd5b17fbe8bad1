"""Writing the layers and tables users open in QGIS, Excel and PostGIS.

One place for every output format, chosen by the file's extension and never by surprise:

* **layers** (:func:`write_layers`): GeoPackage ``.gpkg`` (for QGIS: metric CRS, French field
  names with French aliases, the stage as text plus its rank, styles embedded in the
  ``layer_styles`` table so that QGIS opens the CPTS coloured by stage with their legend and
  labels, metadata in the layer description and ``gpkg_metadata``, byte-identical for the same
  input), GeoParquet 1.1 ``.parquet`` (with its bbox covering column), GeoJSON ``.geojson``
  (EPSG:4326 as the specification requires) and, only when asked for, Shapefile ``.shp``;
* **tables** (:func:`write_table`, :func:`write_xlsx`): CSV for French Excel (``;``, decimal comma,
  integers without ``,0``) or an Excel workbook (one sheet per table, codes as text, numbers as
  numbers, frozen header row);
* **PostGIS** (:func:`write_postgis`, :func:`read_postgis_registry`): tables ``cpts``,
  ``communes`` and ``appartenance`` in a schema, where the database itself enforces "one commune,
  one CPTS".

Field names are French, ASCII and at most 10 characters (:data:`LAYER_FIELDS`), so that the
same names hold in a Shapefile; each has a French alias (:data:`FIELD_ALIASES`) that QGIS shows.

Every file is written through :func:`cpts_geo._files.atomic_path` and every text cell of a
spreadsheet through :func:`cpts_geo._files.neutralise_cells`.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple
from xml.sax.saxutils import escape, quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from cpts_geo._files import atomic_path, neutralise_cells
from cpts_geo._french import whole_numbers
from cpts_geo.stages import NOT_GIVEN, STAGE_COLORS, STAGES

__all__ = [
    "CHANGE_FIELDS",
    "FIELD_ALIASES",
    "LAYER_FIELDS",
    "LAYER_FORMATS",
    "TABLE_FORMATS",
    "OutputError",
    "WrittenLayers",
    "check_writable",
    "layer_format",
    "layer_style_qml",
    "layer_tables",
    "read_postgis_registry",
    "table_format",
    "write_layers",
    "write_postgis",
    "write_table",
    "write_xlsx",
]

#: Layer formats, by extension.
LAYER_FORMATS = {".gpkg": "GeoPackage", ".parquet": "GeoParquet", ".geojson": "GeoJSON",
                 ".shp": "Shapefile"}
#: Table formats, by extension.
TABLE_FORMATS = {".csv": "CSV (point-virgule, virgule décimale)", ".xlsx": "classeur Excel"}

#: Field names of the layers: ``{column of the library: field of the file}``. French, ASCII and
#: at most 10 characters (the Shapefile limit), the same in every format.
LAYER_FIELDS = {
    "cpts_id": "id_cpts",
    "code": "code_insee",
    "name": "nom",
    "stage": "etape",
    "stage_rank": "rang_etape",
    "tier": "taille",
    "population": "population",
    "pop_standardised": "pop_std",
    "population_2016": "pop_2016",
    "n_communes": "n_communes",
    "departments": "depts",
    "regions": "regions",
    "area_km2": "surf_km2",
    "single_part": "un_tenant",
    "n_parts": "n_parties",
    "parts": "parties",
    "missing_population": "sans_pop",
    "department": "dep",
    "department_name": "nom_dep",
    "region": "region",
    "region_name": "nom_region",
    "epci": "epci",
    "epci_name": "nom_epci",
    "parent": "commune",
    "cpts_name": "nom_cpts",
    "share": "part_cpts",
    "cpts_all": "cpts_liste",
    "covered": "couverte",
}

#: Field names of the ``changements`` layer (changes between two registries, see
#: :func:`cpts_geo.compare.changes_layer`).
CHANGE_FIELDS = {
    "change": "changement", "code": "code_insee", "commune": "nom", "old_id": "id_avant",
    "old_cpts": "cpts_avant", "new_id": "id_apres", "new_cpts": "cpts_apres", "old_value": "avant",
    "new_value": "apres",
}

#: French alias of each field, as QGIS shows it (attribute table, forms, identify).
FIELD_ALIASES = {
    "id_cpts": "Identifiant CPTS", "code_insee": "Code commune", "nom": "Nom", "etape": "Étape",
    "rang_etape": "Rang de l'étape (1 à 5)", "taille": "Taille (niveau ACI)",
    "population": "Population municipale", "n_communes": "Nombre de communes",
    "pop_std": "Population standardisée (DREES)", "pop_2016": "Population municipale 2016",
    "depts": "Départements", "regions": "Régions", "surf_km2": "Superficie (km²)",
    "un_tenant": "D'un seul tenant", "n_parties": "Nombre de parties", "parties": "Parties",
    "sans_pop": "Communes sans population", "dep": "Département", "nom_dep": "Nom du département",
    "region": "Région", "nom_region": "Nom de la région", "epci": "EPCI", "nom_epci": "Nom de l'EPCI",
    "commune": "Commune (des arrondissements)", "nom_cpts": "Nom de la CPTS",
    "part_cpts": "Part de la commune en CPTS", "cpts_liste": "CPTS (toutes)", "couverte": "Couverte",
    "changement": "Changement", "id_avant": "Identifiant (ancien)", "cpts_avant": "CPTS (ancien registre)",
    "id_apres": "Identifiant (nouveau)", "cpts_apres": "CPTS (nouveau registre)", "avant": "Avant",
    "apres": "Après",
}

#: Grey of the zones blanches (communes in no CPTS), and of a CPTS without a stage.
BLANK_COLOR = "#bdbdbd"
NO_STAGE = NOT_GIVEN  # « Étape non renseignée », owned by cpts_geo.stages
_NO_STAGE_COLOR = STAGE_COLORS[NOT_GIVEN]
#: Written as every ``last_change`` of a GeoPackage when no registry date is given.
_FIXED_DATE = "2000-01-01T00:00:00.000Z"


class OutputError(OSError):
    """An output cannot be written (folder missing or read-only, disk full, database refused)."""


class WrittenLayers(NamedTuple):
    """What :func:`write_layers` wrote."""

    #: Files written (one GeoPackage, or one file per layer for the single-layer formats).
    paths: list[Path]
    #: ``{layer name: CRS}`` of every layer written.
    layers: dict[str, pyproj.CRS]
    #: One French sentence stating the CRS chosen, for the user.
    note: str


# --------------------------------------------------------------------------- checks


def _extension(path: str | Path) -> str:
    return Path(path).suffix.lower()


def layer_format(path: str | Path, *, shapefile: bool = True) -> str:
    """The layer format of ``path`` from its extension; a French error for any other.

    Parameters
    ----------
    path : str or Path
        The file to write.
    shapefile : bool, default True
        Accept ``.shp`` (False where a Shapefile cannot hold the output).

    Returns
    -------
    str
        ``"GeoPackage"``, ``"GeoParquet"``, ``"GeoJSON"`` or ``"Shapefile"``.

    Examples
    --------
    >>> layer_format("territoires.gpkg")
    'GeoPackage'
    >>> layer_format("territoires.csv")
    Traceback (most recent call last):
    ...
    ValueError: territoires.csv : extension « .csv » non prise en charge pour des couches ; formats possibles : .gpkg (GeoPackage), .parquet (GeoParquet), .geojson (GeoJSON), .shp (Shapefile).
    """
    ext = _extension(path)
    allowed = {k: v for k, v in LAYER_FORMATS.items() if shapefile or k != ".shp"}
    if ext not in allowed:
        listed = ", ".join(f"{k} ({v})" for k, v in allowed.items())
        raise ValueError(f"{Path(path).name} : extension « {ext or '(aucune)'} » non prise en charge "
                         f"pour des couches ; formats possibles : {listed}.")
    return allowed[ext]


def table_format(path: str | Path) -> str:
    """The table format of ``path`` (``.csv`` or ``.xlsx``); a French error for any other.

    Parameters
    ----------
    path : str or Path
        The file to write.

    Returns
    -------
    str
        The French name of the format, as listed in :data:`TABLE_FORMATS`.

    Examples
    --------
    >>> table_format("financement.xlsx")
    'classeur Excel'
    """
    ext = _extension(path)
    if ext not in TABLE_FORMATS:
        listed = ", ".join(f"{k} ({v})" for k, v in TABLE_FORMATS.items())
        raise ValueError(f"{Path(path).name} : extension « {ext or '(aucune)'} » non prise en charge "
                         f"pour un tableau ; formats possibles : {listed}.")
    return TABLE_FORMATS[ext]


_OS_REASONS = {
    errno.ENOSPC: "disque plein",
    errno.EDQUOT: "quota disque dépassé",
    errno.EACCES: "droits d'écriture insuffisants",
    errno.EPERM: "droits d'écriture insuffisants",
    errno.EROFS: "système de fichiers en lecture seule",
    errno.ENOTDIR: "un fichier porte le nom d'un des dossiers du chemin",
    errno.ENOENT: "dossier introuvable",
    errno.EEXIST: "un fichier porte le nom d'un des dossiers du chemin",
}


def os_reason(err: OSError) -> str:
    """A short French reason for an operating-system error (disk full, read-only…).

    Parameters
    ----------
    err : OSError
        The error raised by the operating system.

    Returns
    -------
    str
        A French reason for the known ``errno`` values, else the system's own message.

    Examples
    --------
    >>> os_reason(OSError(errno.ENOSPC, "No space left on device"))
    'disque plein'
    """
    return _OS_REASONS.get(err.errno, err.strerror or str(err)) if err.errno is not None \
        else err.strerror or str(err)


def check_writable(*paths: str | Path) -> None:
    """Check, before any computing, that each of ``paths`` can be written.

    The folder is created when missing (as the writers do); a small file is created and
    removed in it. Raises :class:`OutputError` with one French sentence otherwise. An existing
    file under the final name is left untouched.

    Parameters
    ----------
    *paths : str or Path
        The files that will be written.

    Returns
    -------
    None

    Raises
    ------
    OutputError
        The folder cannot be created or written, or a path is a folder.

    Examples
    --------
    >>> import tempfile, os
    >>> check_writable(os.path.join(tempfile.mkdtemp(), "sortie", "t.gpkg"))
    """
    for path in paths:
        folder = Path(path).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=".cpts_geo_test.", dir=folder)
            try:
                os.write(fd, b"0" * 4096)
            finally:
                os.close(fd)
                os.unlink(name)
        except OSError as err:
            raise OutputError(f"Impossible d'écrire dans le dossier {folder} ({os_reason(err)}) : "
                              "choisissez un autre dossier de sortie.") from None
        if Path(path).is_dir():
            raise OutputError(f"{path} est un dossier : donnez un nom de fichier.")


# --------------------------------------------------------------------------- layers


def _stage_text(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    rank = {s: i for i, s in enumerate(STAGES, start=1)}
    text = values.astype("string")
    return text.fillna(NO_STAGE), text.map(rank).astype("Int64")


def _frenched(frame: gpd.GeoDataFrame, index_name: str) -> gpd.GeoDataFrame:
    out = frame.copy()
    out.index = out.index.rename(index_name)
    out = out.reset_index()
    if "stage" in out.columns:
        text, rank = _stage_text(out["stage"])
        pos = out.columns.get_loc("stage")
        out["stage"] = text
        out.insert(pos + 1, "stage_rank", rank)
    for col in out.columns:
        if col == out.geometry.name:
            continue
        dtype = out[col].dtype
        if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(dtype):
            out[col] = out[col].astype("string")
    out = out.rename(columns={c: LAYER_FIELDS.get(c, c) for c in out.columns if c != out.geometry.name})
    return out.rename_geometry("geometry") if out.geometry.name != "geometry" else out


def _metric_of_rows(departments: pd.Series) -> pd.Series:
    """The metric CRS of each row from its (first) department (codes joined by ", ")."""
    from cpts_geo.communes import department_crs

    first = departments.fillna("").astype(str).str.split(",").str[0].str.strip()
    return pd.Series(department_crs(first).to_numpy(), index=departments.index)


def _crs_label(crs: pyproj.CRS) -> str:
    epsg = crs.to_epsg()
    return f"{crs.name} (EPSG:{epsg})" if epsg else crs.name


def layer_tables(
    territories: gpd.GeoDataFrame | None,
    communes: gpd.GeoDataFrame | None = None,
    *,
    changes: gpd.GeoDataFrame | None = None,
    crs=None,
    geographic: bool = False,
) -> tuple[dict[str, gpd.GeoDataFrame], str]:
    """The layers to write, with French field names, each in its CRS; and the CRS sentence.

    By default every layer is in the metric CRS of its communes (Lambert-93 for mainland
    France, see :func:`cpts_geo.communes.metric_crs`); when the territories mix mainland France
    and overseas departments, each CRS gets its own layers, suffixed with its departments
    (``cpts``, ``cpts_971_972``…), unless ``crs`` names one CRS for all. ``geographic=True``
    (GeoJSON) writes EPSG:4326.

    Parameters
    ----------
    territories : GeoDataFrame or None
        The CPTS territories (:func:`cpts_geo.territories.build_territories`).
    communes : GeoDataFrame, optional
        The communes with their CPTS (:func:`cpts_geo.territories.communes_with_cpts`); the
        communes in no CPTS also become the ``zones_blanches`` layer.
    changes : GeoDataFrame, optional
        The layer of :func:`cpts_geo.compare.changes_layer`.
    crs : optional
        One CRS (anything :class:`pyproj.CRS` accepts) for every layer instead of the metric CRS
        of each department.
    geographic : bool, default False
        Write EPSG:4326 (as GeoJSON requires).

    Returns
    -------
    layers : dict of str to GeoDataFrame
        The layers by name, French field names.
    note : str
        A French sentence naming the CRS of the layers.

    Examples
    --------
    >>> from cpts_geo.territories import build_territories, communes_with_cpts
    >>> from cpts_geo.communes import load_communes
    >>> reg = pd.DataFrame({"cpts_id": ["A"], "stage": ["5"], "commune_code": ["80021"]})
    >>> layers, note = layer_tables(build_territories(reg, load_communes(departments="80")))
    >>> list(layers), layers["cpts"].crs.to_epsg(), list(layers["cpts"].columns[:4])
    (['cpts'], 2154, ['id_cpts', 'nom', 'etape', 'rang_etape'])
    >>> note
    'Couches en RGF93 v1 / Lambert-93 (EPSG:2154).'
    """
    from cpts_geo.communes import department_of, reproject

    terr = _frenched(territories, "cpts_id") if territories is not None else None
    com = blank = None
    if communes is not None:
        com = _frenched(communes, "code")
        covered = com["couverte"].astype(bool) if "couverte" in com else pd.Series(False, index=com.index)
        drop = [c for c in ("id_cpts", "nom_cpts", "etape", "rang_etape", "part_cpts", "cpts_liste",
                            "couverte") if c in com]
        blank = com[~covered].drop(columns=drop)
    chg = None
    if changes is not None:
        chg = changes.reset_index(drop=True).rename(columns=CHANGE_FIELDS)
        for col in chg.columns:
            if col != chg.geometry.name:
                chg[col] = chg[col].astype("string")
    if geographic or crs is not None:
        target = pyproj.CRS("EPSG:4326") if geographic else pyproj.CRS(crs)
        layers = {"cpts": terr, "communes": com, "zones_blanches": blank, "changements": chg}
        reprojected = {k: v.to_crs(target) for k, v in layers.items() if v is not None}
        if not reprojected:
            raise ValueError("aucune couche à écrire")
        return reprojected, f"Couches en {_crs_label(target)}" + (
            " (GeoJSON : coordonnées géographiques, comme l'exige la norme)." if geographic else
            " (choisi par l'utilisateur).")
    groups: dict[str, dict[str, gpd.GeoDataFrame]] = {}

    def split(name, frame, crs_of_rows):
        if frame is None:
            return
        for mcrs, rows in frame.groupby(crs_of_rows.to_numpy(), sort=False).groups.items():
            groups.setdefault(mcrs, {})[name] = reproject(frame.loc[rows], mcrs)

    if terr is not None:
        split("cpts", terr, _metric_of_rows(terr["depts"]))
    for name, frame in (("communes", com), ("zones_blanches", blank), ("changements", chg)):
        if frame is not None:
            deps = department_of(frame["code_insee"].fillna("00000"))
            split(name, frame, _metric_of_rows(deps))
    out: dict[str, gpd.GeoDataFrame] = {}
    mainland = "EPSG:2154"
    names = []
    for mcrs in sorted(groups, key=lambda c: (c != mainland, c)):
        if mcrs == mainland or len(groups) == 1:
            suffix = ""
        else:
            deps = set()
            for frame in groups[mcrs].values():
                col = frame["depts"] if "depts" in frame else department_of(frame["code_insee"].dropna())
                deps |= {d.strip() for v in col.dropna() for d in str(v).split(",")}
            suffix = "_" + "_".join(sorted(deps))
        for name, frame in groups[mcrs].items():
            out[name + suffix] = frame
        names.append(f"{_crs_label(pyproj.CRS(mcrs))}" + (f" pour les couches *{suffix}" if suffix else ""))
    if not out:
        raise ValueError("aucune couche à écrire")
    if len(groups) > 1:
        note = ("Territoires en métropole et outre-mer : une série de couches par projection métrique — "
                + " ; ".join(names) + ". Pour une seule série, choisissez une projection avec --crs.")
    else:
        note = f"Couches en {names[0] if names else 'RGF93 v1 / Lambert-93 (EPSG:2154)'}."
    return out, note


def _rgb(color: str) -> str:
    color = color.lstrip("#")
    return ",".join(str(int(color[i:i + 2], 16)) for i in (0, 2, 4)) + ",255"


def _fill_symbol(name: str, color: str, *, outline: str = "#232323", width: float = 0.26) -> str:
    return (f'<symbol type="fill" name={quoteattr(name)} alpha="1" clip_to_extent="1" force_rhr="0">'
            '<layer class="SimpleFill" enabled="1" locked="0" pass="0"><Option type="Map">'
            f'<Option type="QString" name="color" value="{_rgb(color)}"/>'
            '<Option type="QString" name="joinstyle" value="bevel"/>'
            f'<Option type="QString" name="outline_color" value="{_rgb(outline)}"/>'
            '<Option type="QString" name="outline_style" value="solid"/>'
            f'<Option type="QString" name="outline_width" value="{width}"/>'
            '<Option type="QString" name="outline_width_unit" value="MM"/>'
            '<Option type="QString" name="style" value="solid"/>'
            '</Option></layer></symbol>')


def _labeling(field: str, size: float) -> str:
    return ('<labeling type="simple"><settings calloutType="simple">'
            f'<text-style fieldName={quoteattr(field)} isExpression="0" fontSize="{size}" '
            'fontSizeUnit="Point" fontFamily="Sans Serif" textColor="35,35,35,255" textOpacity="1" '
            'namedStyle="Normal" fontWeight="50" fontItalic="0" multilineAlign="3">'
            '<text-buffer bufferDraw="1" bufferSize="0.8" bufferSizeUnits="MM" '
            'bufferColor="255,255,255,255" bufferOpacity="0.8"/></text-style>'
            '<text-format wrapChar="" autoWrapLength="18" multilineHeight="1" plussign="0"/>'
            '<placement placement="1" fitInPolygonOnly="0" priority="5" centroidWhole="1" '
            'centroidInside="1" dist="0" offsetType="0"/>'
            '<rendering obstacle="1" displayAll="0" scaleVisibility="0" drawLabels="1" '
            'minFeatureSize="0" limitNumLabels="0" upsidedownLabels="0" mergeLines="0"/>'
            '</settings></labeling>')


def layer_style_qml(kind: str, fields: list[str]) -> str:
    """The QGIS style (QML) of a layer: ``kind`` is ``"cpts"``, ``"communes"`` or ``"zones_blanches"``.

    CPTS (and communes) are a categorised renderer on ``etape`` with the five stages in their
    order (colours of :data:`cpts_geo.stages.STAGE_COLORS`) and a grey class for communes in no
    CPTS; zones blanches are grey. CPTS are labelled with their name. Every field gets its French
    alias.

    Parameters
    ----------
    kind : str
        ``"cpts"``, ``"communes"``, ``"zones_blanches"`` or ``"changements"``.
    fields : list of str
        The layer's field names, each given its French alias.

    Returns
    -------
    str
        The QML document.

    Examples
    --------
    >>> import xml.etree.ElementTree as ET
    >>> root = ET.fromstring(layer_style_qml("cpts", ["id_cpts", "nom", "etape"]))
    >>> [c.get("label") for c in root.iter("category")][:2]
    ['Dynamique identifiée', "Lettre d'intention validée"]
    """
    parts = ['<!DOCTYPE qgis PUBLIC \'http://mrcc.com/qgis.dtd\' \'SYSTEM\'>',
             f'<qgis version="3.28.0" styleCategories="AllStyleCategories" '
             f'labelsEnabled="{1 if kind == "cpts" else 0}">']
    if kind == "changements":
        from cpts_geo.compare import CHANGES

        palette = ["#1b9e77", "#d95f02", "#7570b3", "#66a61e", "#e7298a", "#e6ab02", "#a6761d", "#666666"]
        cats = "".join(f'<category symbol="{i}" value={quoteattr(v)} label={quoteattr(v)} render="true"/>'
                       for i, v in enumerate(CHANGES))
        syms = "".join(_fill_symbol(str(i), palette[i % len(palette)], outline="#232323", width=0.3)
                       for i in range(len(CHANGES)))
        parts.append('<renderer-v2 type="categorizedSymbol" attr="changement" symbollevels="0" '
                     f'enableorderby="0" forceraster="0"><categories>{cats}</categories>'
                     f'<symbols>{syms}</symbols></renderer-v2>')
    elif kind == "zones_blanches":
        parts.append('<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">'
                     f'<symbols>{_fill_symbol("0", BLANK_COLOR, outline="#969696", width=0.1)}</symbols>'
                     '</renderer-v2>')
    else:
        classes = [(s, s, STAGE_COLORS[s]) for s in STAGES] + [(NO_STAGE, NO_STAGE, _NO_STAGE_COLOR)]
        if kind == "communes":
            classes.append(("", "Hors CPTS (zone blanche)", BLANK_COLOR))
        outline, width = ("#232323", 0.4) if kind == "cpts" else ("#969696", 0.1)
        cats = "".join(f'<category symbol="{i}" value={quoteattr(v)} label={quoteattr(lab)} render="true"/>'
                       for i, (v, lab, _) in enumerate(classes))
        syms = "".join(_fill_symbol(str(i), col, outline=outline, width=width)
                       for i, (_, _, col) in enumerate(classes))
        parts.append('<renderer-v2 type="categorizedSymbol" attr="etape" symbollevels="0" '
                     f'enableorderby="0" forceraster="0"><categories>{cats}</categories>'
                     f'<symbols>{syms}</symbols></renderer-v2>')
    if kind == "cpts":
        parts.append(_labeling("nom", 9))
    aliases = "".join(f'<alias field={quoteattr(f)} index="{i}" name={quoteattr(FIELD_ALIASES.get(f, f))}/>'
                      for i, f in enumerate(fields))
    parts.append(f"<aliases>{aliases}</aliases>")
    parts.append("<layerGeometryType>2</layerGeometryType></qgis>")
    return "".join(parts)


def _style_sld(kind: str, layer: str) -> str:
    def rule(title, color, value=None):
        flt = ("" if value is None else
               '<ogc:Filter><ogc:PropertyIsEqualTo><ogc:PropertyName>etape</ogc:PropertyName>'
               f'<ogc:Literal>{escape(value)}</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter>')
        return (f"<se:Rule><se:Name>{escape(title)}</se:Name><se:Description><se:Title>{escape(title)}"
                f"</se:Title></se:Description>{flt}<se:PolygonSymbolizer><se:Fill><se:SvgParameter "
                f'name="fill">{color}</se:SvgParameter></se:Fill><se:Stroke><se:SvgParameter '
                'name="stroke">#232323</se:SvgParameter></se:Stroke></se:PolygonSymbolizer></se:Rule>')

    if kind == "changements":
        return ""  # the QML is the style QGIS reads; no SLD for this layer
    rules = ([rule("Zone blanche", BLANK_COLOR)] if kind == "zones_blanches" else
             [rule(s, STAGE_COLORS[s], s) for s in STAGES] + [rule(NO_STAGE, _NO_STAGE_COLOR, NO_STAGE)])
    return ('<?xml version="1.0" encoding="UTF-8"?><StyledLayerDescriptor version="1.1.0" '
            'xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc" '
            'xmlns:se="http://www.opengis.net/se"><NamedLayer>'
            f"<se:Name>{escape(layer)}</se:Name><UserStyle><se:Name>{escape(layer)}</se:Name>"
            f"<se:FeatureTypeStyle>{''.join(rules)}</se:FeatureTypeStyle></UserStyle></NamedLayer>"
            "</StyledLayerDescriptor>")


def _kind(layer: str) -> str:
    for kind in ("zones_blanches", "communes", "cpts", "changements"):
        if layer.startswith(kind):
            return kind
    return "autre"


_STYLE_TABLE = """CREATE TABLE layer_styles (
 id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256),
 f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT,
 styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
 update_time DATETIME)"""


def _add_styles(path: Path, layers: Mapping[str, gpd.GeoDataFrame], date: str) -> None:
    con = sqlite3.connect(path)
    try:
        con.execute(_STYLE_TABLE)
        con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
                    "VALUES ('layer_styles', 'attributes', 'layer_styles', "
                    "'Styles QGIS des couches', ?)", (date,))
        for name, frame in layers.items():
            kind = _kind(name)
            if kind == "autre":
                continue
            fields = [c for c in frame.columns if c != frame.geometry.name]
            con.execute("INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                        "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
                        "owner, ui, update_time) VALUES ('', '', ?, 'geom', ?, ?, ?, 1, ?, '', '', ?)",
                        (name, name, layer_style_qml(kind, fields), _style_sld(kind, name),
                         {"zones_blanches": "Style cpts_geo : zones blanches en gris",
                          "changements": "Style cpts_geo : changements par nature"}.get(
                              kind, "Style cpts_geo : CPTS par étape"), date))
        con.commit()
    finally:
        con.close()


def _metadata_text(territories: gpd.GeoDataFrame, communes, registry: str | None,
                   registry_date: str | None) -> dict[str, str]:
    from cpts_geo import __version__
    from cpts_geo.communes import layer_metadata

    # the territories' metadata first, the communes' for what it does not say
    layers = [layer_metadata(f) for f in (territories, communes) if f is not None]

    def known(field: str):
        return next((getattr(m, field) for m in layers if getattr(m, field)), None)

    meta = {"Producteur": f"cpts_geo {__version__}"}
    if known("source"):
        meta["Source des communes"] = str(known("source"))
    if known("population_vintage"):
        meta["Millésime de population"] = str(known("population_vintage"))
    if known("cog_vintage"):
        meta["Millésime du COG"] = str(known("cog_vintage"))
    if registry:
        meta["Registre"] = str(registry)
    if registry_date:
        meta["Date du registre"] = str(registry_date)
    return meta


@contextlib.contextmanager
def _gdal_date(date: str) -> Iterator[None]:
    import pyogrio

    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": date})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})


_DESCRIPTIONS = {"cpts": "Territoires des CPTS", "communes": "Communes et leur CPTS",
                 "zones_blanches": "Communes hors CPTS (zones blanches)",
                 "changements": "Changements de CPTS par commune"}


def write_layers(
    path: str | Path,
    territories: gpd.GeoDataFrame | None,
    communes: gpd.GeoDataFrame | None = None,
    *,
    changes: gpd.GeoDataFrame | None = None,
    crs=None,
    registry: str | None = None,
    registry_date: str | None = None,
    shapefile: bool = False,
) -> WrittenLayers:
    """Write the layers ``cpts``, ``communes``, ``zones_blanches`` (and ``changements``).

    Parameters
    ----------
    path : path
        ``.gpkg`` (all layers in one file, styled for QGIS), ``.parquet`` (GeoParquet 1.1),
        ``.geojson`` (EPSG:4326) or ``.shp`` (only with ``shapefile=True``). The single-layer
        formats write ``cpts`` at ``path`` and the other layers beside it
        (``<nom>_communes.parquet``…). Any other extension is refused.
    territories : GeoDataFrame or None
        Output of :func:`cpts_geo.territories.build_territories` (``None``: no ``cpts`` layer).
    communes : GeoDataFrame, optional
        Output of :func:`cpts_geo.territories.communes_with_cpts` (gives ``communes`` and
        ``zones_blanches``).
    changes : GeoDataFrame, optional
        Changes between two registries (:func:`cpts_geo.compare.changes_layer`), written as
        ``changements`` (fields :data:`CHANGE_FIELDS`), coloured by kind of change.
    crs : optional
        One CRS for every layer (default: the metric CRS of each part of France, see
        :func:`layer_tables`).
    registry, registry_date : str, optional
        Name and date of the registry, written in the layers' metadata.
    shapefile : bool, default False
        Allow ``.shp`` (field names of at most 10 characters: see :data:`LAYER_FIELDS`).

    Returns
    -------
    WrittenLayers
        The files, the CRS of each layer and a French sentence stating the CRS.

    Examples
    --------
    >>> import tempfile, os
    >>> from cpts_geo.territories import build_territories
    >>> from cpts_geo.communes import load_communes
    >>> reg = pd.DataFrame({"cpts_id": ["A"], "stage": ["5"], "commune_code": ["80021"]})
    >>> out = write_layers(os.path.join(tempfile.mkdtemp(), "t.gpkg"),
    ...                    build_territories(reg, load_communes(departments="80")))
    >>> out.paths[0].name, out.layers["cpts"].to_epsg()
    ('t.gpkg', 2154)
    """
    path = Path(path)
    kind = layer_format(path, shapefile=shapefile)
    layers, note = layer_tables(territories, communes, changes=changes, crs=crs,
                                geographic=kind == "GeoJSON")
    meta = _metadata_text(territories, communes, registry, registry_date)
    date = (f"{registry_date}T00:00:00.000Z" if registry_date and len(str(registry_date)) == 10
            else _FIXED_DATE)
    with _write_errors(path):
        return _write_layers(path, kind, layers, note, meta, date)


@contextlib.contextmanager
def _write_errors(path: Path) -> Iterator[None]:
    """GDAL's and SQLite's write errors (disk full, read-only…) as one French :class:`OutputError`."""
    import pyogrio.errors

    try:
        yield
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyogrio.errors.FieldError, pyogrio.errors.GeometryError, sqlite3.Error) as err:
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        low = text.lower()
        reason = ("disque plein" if "full" in low or "space" in low else
                  "lecture seule" if "read-only" in low or "readonly" in low else text)
        raise OutputError(f"Écriture de {path} impossible ({reason}) ; aucun fichier partiel "
                          "n'a été laissé.") from None


@contextlib.contextmanager
def _disk_space(path: Path) -> Iterator[None]:
    """Say « disque plein » when a writer fails on a full disk (GDAL only says the commit failed);
    checked while the temporary file still fills the disk."""
    import shutil

    try:
        yield
    except OutputError:
        raise
    except Exception:
        try:
            full = shutil.disk_usage(path.parent).free < 1_000_000
        except OSError:
            full = False
        if full:
            raise OutputError(f"Écriture de {path} impossible (disque plein) ; aucun fichier partiel "
                              "n'a été laissé.") from None
        raise


def _write_layers(path: Path, kind: str, layers, note: str, meta, date: str) -> WrittenLayers:
    written: list[Path] = []
    if kind == "GeoPackage":
        with atomic_path(path) as tmp, _disk_space(path), _gdal_date(date):
            for i, (name, frame) in enumerate(layers.items()):
                desc = _DESCRIPTIONS.get(_kind(name), name) + " — " + " ; ".join(
                    f"{k} : {v}" for k, v in meta.items())
                # GeoPackage 1.2: read without a warning by the QGIS/GDAL versions still in service
                options = {"dataset_options": {"VERSION": "1.2"}} if i == 0 else {}
                frame.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio",
                              layer_options={"DESCRIPTION": desc, "IDENTIFIER": name,
                                             "GEOMETRY_NAME": "geom", "FID": "fid"},
                              layer_metadata=meta, **options)
            _add_styles(tmp, layers, date)
        written.append(path)
    else:
        # every file to a temporary name first; all renamed only once all are complete
        moves: list[tuple[Path, Path]] = []  # Shapefile sidecars (.dbf, .shx, .prj, .cpg)
        try:
            with contextlib.ExitStack() as stack:
                first = next(iter(layers))
                for name, frame in layers.items():
                    target = path if name == first else path.with_name(f"{path.stem}_{name}{path.suffix}")
                    tmp = stack.enter_context(atomic_path(target))
                    stack.enter_context(_disk_space(target))
                    if kind == "GeoParquet":
                        frame = frame.copy()
                        frame.attrs = {}
                        frame.to_parquet(tmp, index=False, schema_version="1.1.0", write_covering_bbox=True)
                    elif kind == "GeoJSON":
                        frame.to_file(tmp, driver="GeoJSON", engine="pyogrio",
                                      layer_options={"RFC7946": "YES", "WRITE_NAME": "NO"})
                    else:
                        frame.to_file(tmp, driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8")
                        moves += [(side, target.with_suffix(side.suffix))
                                  for side in tmp.parent.glob(tmp.stem + ".*") if side != tmp]
                    written.append(target)
        except BaseException:
            for side, _ in moves:
                side.unlink(missing_ok=True)
            raise
        for side, target in moves:
            os.replace(side, target)
    return WrittenLayers(written, {k: v.crs for k, v in layers.items()}, note)


# --------------------------------------------------------------------------- tables


def _sheet_name(name: str, taken: set[str]) -> str:
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in str(name)).strip("'")[:31] or "Feuille"
    base, i = clean, 2
    while clean.lower() in taken:
        clean = f"{base[:28]} {i}"
        i += 1
    taken.add(clean.lower())
    return clean


def _decimals(values: np.ndarray) -> int:
    for d in range(7):
        if np.allclose(values, np.round(values, d), rtol=0, atol=1e-9):
            return d
    return 6


def write_xlsx(path: str | Path, sheets: Mapping[str, pd.DataFrame] | pd.DataFrame, *,
               index: bool | None = None) -> Path:
    """Write tables as an Excel workbook, one sheet per table.

    Codes and every text stay text cells (``01091`` keeps its zero), numbers are number cells
    with a French-ready format (thousands grouped, the decimals of the data), the header row is
    frozen and bold, columns are as wide as their content. Text cells that start like a
    formula are neutralised. ``index=None`` writes the index unless it is a plain range.

    Parameters
    ----------
    path : str or Path
        The workbook to write (atomically: a temporary file, then renamed).
    sheets : DataFrame or mapping of str to DataFrame
        One table (sheet « tableau ») or the tables by sheet name (shortened to Excel's 31
        characters, made unique).
    index : bool, optional
        Write the index; by default only when it is not a plain range.

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> import tempfile, os
    >>> table = pd.DataFrame({"Code commune": ["01091"], "Population": [1234]})
    >>> path = write_xlsx(os.path.join(tempfile.mkdtemp(), "t.xlsx"), {"communes": table})
    >>> pd.read_excel(path, dtype={"Code commune": str})["Code commune"].tolist()
    ['01091']
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    if isinstance(sheets, pd.DataFrame):
        sheets = {"tableau": sheets}
    wb = Workbook()
    wb.remove(wb.active)
    taken: set[str] = set()
    for name, table in sheets.items():
        ws = wb.create_sheet(_sheet_name(name, taken))
        keep_index = not isinstance(table.index, pd.RangeIndex) if index is None else index
        frame = table.reset_index() if keep_index else table.reset_index(drop=True)
        frame = neutralise_cells(whole_numbers(pd.DataFrame(frame)))
        headers = [str(c) for c in frame.columns]
        ws.append(headers)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        formats: list[str | None] = []
        for col in frame.columns:
            values = frame[col]
            if pd.api.types.is_bool_dtype(values.dtype):
                formats.append(None)
            elif pd.api.types.is_integer_dtype(values.dtype):
                formats.append("#,##0")
            elif pd.api.types.is_float_dtype(values.dtype):
                finite = values.dropna().to_numpy(dtype=float)
                finite = finite[np.isfinite(finite)]
                d = _decimals(finite) if len(finite) else 2
                formats.append("#,##0" + ("." + "0" * d if d else ""))
            else:
                formats.append("@")
        widths = [len(h) for h in headers]
        for row in frame.itertuples(index=False, name=None):
            cells: list = []
            for j, value in enumerate(row):
                if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
                    cells.append(None)
                    continue
                if isinstance(value, (np.bool_, bool)):
                    value = "oui" if value else "non"
                elif isinstance(value, np.integer):
                    value = int(value)
                elif isinstance(value, np.floating):
                    value = float(value)
                elif not isinstance(value, (int, float, str)):
                    value = str(value)
                cells.append(value)
                widths[j] = max(widths[j], len(str(value)) + (2 if formats[j] != "@" else 0))
            ws.append(cells)
        for j, fmt in enumerate(formats, start=1):
            if fmt:
                for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                    if cell.value is not None:
                        if fmt == "@":
                            cell.data_type = "s"
                        cell.number_format = fmt
            ws.column_dimensions[get_column_letter(j)].width = min(max(widths[j - 1] + 2, 8), 60)
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = ws.dimensions
    if not wb.sheetnames:
        wb.create_sheet("tableau")
    import datetime

    fixed = datetime.datetime(2000, 1, 1)
    wb.properties.creator = "cpts_geo"
    wb.properties.created = wb.properties.modified = fixed
    path = Path(path)
    with atomic_path(path) as tmp, _disk_space(path):
        wb.save(tmp)
    return path


def write_table(table: pd.DataFrame | Mapping[str, pd.DataFrame], path: str | Path, *,
                index: bool | None = None) -> Path:
    """Write a table as CSV for French Excel or as an XLSX workbook, by the extension of ``path``.

    CSV: ``;``, decimal comma, UTF-8 with BOM, whole numbers without ``,0``; several tables go to
    one CSV each (``<nom>_<table>.csv``, the first at ``path``). XLSX: see :func:`write_xlsx`.

    Parameters
    ----------
    table : DataFrame or mapping of str to DataFrame
        One table, or several by name.
    path : str or Path
        ``.csv`` or ``.xlsx``; anything else is refused with a French error.
    index : bool, optional
        Write the index; by default only when it is not a plain range.

    Returns
    -------
    Path
        ``path`` (for several CSV tables, the first file).

    Examples
    --------
    >>> import tempfile, os
    >>> path = write_table(pd.DataFrame({"Volume": [34.0, 2.0], "Taux": [0.5, 0.25]}),
    ...                    os.path.join(tempfile.mkdtemp(), "t.csv"))
    >>> path.read_text(encoding="utf-8-sig").splitlines()
    ['Volume;Taux', '34;0,5', '2;0,25']
    """
    from cpts_geo._french import write_csv

    path = Path(path)
    kind = table_format(path)
    if kind == "classeur Excel":
        return write_xlsx(path, table, index=index)
    tables = {"": table} if isinstance(table, pd.DataFrame) else dict(table)
    for i, (name, frame) in enumerate(tables.items()):
        from cpts_geo._french import fold

        target = path if i == 0 else path.with_name(f"{path.stem}_{fold(name).replace(' ', '_')}.csv")
        write_csv(frame, target, index=index)
    return path


# --------------------------------------------------------------------------- PostGIS

#: Table names written in the PostGIS schema.
POSTGIS_TABLES = ("cpts", "communes", "appartenance")


def _engine(url: str):
    try:
        import geoalchemy2  # noqa: F401  (geometry types for to_postgis)
        import sqlalchemy
    except ImportError:
        raise OutputError("PostGIS : installez l'extra « postgis » (pip install "
                          "'cpts_geo[postgis]' : SQLAlchemy, GeoAlchemy2, psycopg).") from None
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    try:
        engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 10})
        with engine.connect() as con:
            con.execute(sqlalchemy.text("SELECT 1"))
    except Exception as err:
        reason = str(getattr(err, "orig", err)).strip().splitlines()[0] if str(err) else type(err).__name__
        raise OutputError(f"Connexion à la base PostGIS impossible ({_safe_url(url)}) : {reason}. "
                          "Vérifiez l'adresse, le port, l'utilisateur et le mot de passe ; "
                          "rien n'a été écrit.") from None
    return engine


def _safe_url(url: str) -> str:
    import re

    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def _literal(text: str) -> str:
    """A SQL string literal for DDL (which takes no bound parameters); ``:`` escaped for SQLAlchemy."""
    return "'" + str(text).replace("'", "''").replace(":", "\\:") + "'"


def _quoted(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


_TRIGGER = """
CREATE OR REPLACE FUNCTION {s}.une_commune_une_cpts() RETURNS trigger AS $$
DECLARE n integer; total double precision; whole integer;
BEGIN
  SELECT count(*), coalesce(sum(part), 0), count(*) FILTER (WHERE part IS NULL)
    INTO n, total, whole FROM {s}.appartenance WHERE code_insee = NEW.code_insee;
  IF n > 1 AND whole > 0 THEN
    RAISE EXCEPTION 'Une commune, une CPTS : la commune % est entière dans une CPTS et dans une autre '
      '(déclarez la part de chaque CPTS)', NEW.code_insee USING ERRCODE = 'unique_violation';
  END IF;
  IF total > 1.000001 THEN
    RAISE EXCEPTION 'Une commune, une CPTS : les parts de la commune % dépassent 100 %% (%)',
      NEW.code_insee, total USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER une_commune_une_cpts AFTER INSERT OR UPDATE ON {s}.appartenance
  FOR EACH ROW EXECUTE FUNCTION {s}.une_commune_une_cpts();
"""


def _membership_from(communes: gpd.GeoDataFrame) -> pd.DataFrame:
    covered = communes[communes["cpts_id"].notna()]
    split = covered["cpts_all"].astype("string").str.contains(",", regex=False).fillna(False)
    if bool(split.any()):
        raise ValueError("Des communes sont partagées entre plusieurs CPTS "
                         f"({', '.join(covered.index[split][:5])}) : donnez membership= (la table "
                         "d'appartenance validée) à write_postgis.")
    return pd.DataFrame({"code": covered.index.astype(str), "cpts_id": covered["cpts_id"].astype(str),
                         "share": covered["share"].astype(float)})


def write_postgis(
    url: str,
    territories: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    *,
    schema: str = "cpts",
    replace: bool = False,
    membership: pd.DataFrame | None = None,
    validate: bool = True,
) -> dict[str, int]:
    """Write the territories, the communes and their membership into a PostGIS schema.

    Tables ``cpts`` (key ``id_cpts``), ``communes`` (key ``code_insee``) and ``appartenance``
    (``code_insee``, ``id_cpts``, ``part``: empty for a whole commune) with a view
    ``zones_blanches``. Geometries are in the metric CRS (Lambert-93 for mainland France), with
    a spatial index. The database itself enforces **one commune, one CPTS**: a commune appears
    at most once as a whole commune (a unique index), and the declared shares of a commune
    split between CPTS never exceed 100 % (a constraint trigger), so that an edit made in the
    database cannot break the rule either.

    Parameters
    ----------
    url : str
        ``postgresql://user:password@host:port/database``.
    territories, communes : GeoDataFrame
        Outputs of :func:`~cpts_geo.territories.build_territories` and
        :func:`~cpts_geo.territories.communes_with_cpts`.
    schema : str, default "cpts"
        Created when missing.
    replace : bool, default False
        Replace the tables when they exist (refused otherwise).
    membership : DataFrame, optional
        The validated membership (``CheckedRegistry.membership``: ``code``, ``cpts_id``,
        ``share``); default: from ``communes`` (refused when a commune is shared).
    validate : bool, default True
        Check the membership before writing (one commune, one CPTS; shares ≤ 1).

    Returns
    -------
    dict
        Rows written per table.

    Raises
    ------
    OutputError
        Cannot connect, no rights on the schema, tables already there (without ``replace``),
        or the database refused the rows. Nothing is written then (one transaction).
    """
    import sqlalchemy

    from cpts_geo.errors import ValidationError

    engine = _engine(url)
    try:
        member = _membership_from(communes) if membership is None else membership
        member = pd.DataFrame({"code_insee": member["code"].astype(str).to_numpy(),
                               "id_cpts": member["cpts_id"].astype(str).to_numpy(),
                               "share": pd.to_numeric(member["share"]).astype(float).to_numpy()})
        counts = member.groupby("code_insee")["id_cpts"].transform("size")
        member["part"] = np.where((counts == 1) & (member["share"] >= 1.0), np.nan, member["share"])
        member = member.drop(columns="share")
        if validate:
            problems = []
            for code, grp in member.groupby("code_insee"):
                if len(grp) > 1 and (grp["part"].isna().any() or grp["part"].sum() > 1 + 1e-6):
                    problems.append({"code": code, "problem": "commune dans plusieurs CPTS ("
                                     + ", ".join(grp["id_cpts"]) + ") sans parts déclarées dont la "
                                     "somme fait au plus 100 %"})
            if problems:
                raise ValidationError("Une commune, une CPTS : chevauchements refusés avant l'écriture "
                                      "dans PostGIS", problems)
        layers, _ = layer_tables(territories, communes, crs=None)
        extra = [k for k in layers if k not in ("cpts", "communes", "zones_blanches")]
        if extra:
            raise ValueError("PostGIS : territoires en métropole et outre-mer ; écrivez chaque partie dans "
                             f"son propre schéma (couches {', '.join(extra)}).")
        terr, com = layers["cpts"], layers["communes"]
        s = _quoted(schema)
        inspector = sqlalchemy.inspect(engine)
        try:
            schemas = inspector.get_schema_names()
            existing = set(inspector.get_table_names(schema=schema)) if schema in schemas else set()
            existing |= set(inspector.get_view_names(schema=schema)) if schema in schemas else set()
        except sqlalchemy.exc.SQLAlchemyError as err:
            raise OutputError(f"PostGIS : lecture du schéma {schema} impossible ({_db_reason(err)}).") from None
        there = sorted(existing & {*POSTGIS_TABLES, "zones_blanches"})
        if there and not replace:
            raise OutputError(f"PostGIS : les tables {', '.join(there)} existent déjà dans le schéma "
                              f"{schema} ; relancez avec --remplacer (replace=True) pour les remplacer. "
                              "Rien n'a été écrit.")
        srid = terr.crs.to_epsg()
        try:
            with engine.begin() as con:
                con.execute(sqlalchemy.text(f"CREATE SCHEMA IF NOT EXISTS {s}"))
                for name in ("zones_blanches",):
                    con.execute(sqlalchemy.text(f"DROP VIEW IF EXISTS {s}.{name}"))
                for name in reversed(POSTGIS_TABLES):
                    con.execute(sqlalchemy.text(f"DROP TABLE IF EXISTS {s}.{_quoted(name)} CASCADE"))
                terr.rename_geometry("geom").to_postgis("cpts", con, schema=schema, index=False)
                com.rename_geometry("geom").to_postgis("communes", con, schema=schema, index=False)
                con.execute(sqlalchemy.text(f"ALTER TABLE {s}.cpts ADD PRIMARY KEY (id_cpts)"))
                con.execute(sqlalchemy.text(f"ALTER TABLE {s}.communes ADD PRIMARY KEY (code_insee)"))
                con.execute(sqlalchemy.text(
                    f"CREATE TABLE {s}.appartenance (code_insee text NOT NULL, id_cpts text NOT NULL "
                    f"REFERENCES {s}.cpts (id_cpts) ON UPDATE CASCADE ON DELETE CASCADE, "
                    "part double precision CHECK (part > 0 AND part <= 1), "
                    "PRIMARY KEY (code_insee, id_cpts))"))
                con.execute(sqlalchemy.text(
                    f"CREATE UNIQUE INDEX appartenance_commune_entiere ON {s}.appartenance (code_insee) "
                    "WHERE part IS NULL"))
                con.execute(sqlalchemy.text(_TRIGGER.format(s=s)))
                rows = [{"c": c, "i": i, "p": None if pd.isna(p) else float(p)}
                        for c, i, p in member[["code_insee", "id_cpts", "part"]].itertuples(index=False)]
                if rows:
                    con.execute(sqlalchemy.text(f"INSERT INTO {s}.appartenance (code_insee, id_cpts, part) "
                                                "VALUES (:c, :i, :p)"), rows)
                cols = ", ".join(f"c.{_quoted(c)}" for c in layers["zones_blanches"].columns
                                 if c != "geometry") + ", c.geom"
                con.execute(sqlalchemy.text(
                    f"CREATE VIEW {s}.zones_blanches AS SELECT {cols} FROM {s}.communes c WHERE NOT EXISTS "
                    f"(SELECT 1 FROM {s}.appartenance a WHERE a.code_insee = c.code_insee)"))
                meta = _metadata_text(territories, communes, None, None)
                note = " ; ".join(f"{k} : {v}" for k, v in meta.items())
                for name, desc in (("cpts", _DESCRIPTIONS["cpts"]), ("communes", _DESCRIPTIONS["communes"]),
                                   ("appartenance", "Une ligne par commune et CPTS ; part vide = commune "
                                                    "entière")):
                    con.execute(sqlalchemy.text(f"COMMENT ON TABLE {s}.{name} IS {_literal(desc + ' — ' + note)}"))
                for name, frame in (("cpts", terr), ("communes", com)):
                    for col in frame.columns:
                        if col in FIELD_ALIASES:
                            con.execute(sqlalchemy.text(
                                f"COMMENT ON COLUMN {s}.{name}.{_quoted(col)} IS {_literal(FIELD_ALIASES[col])}"))
        except sqlalchemy.exc.SQLAlchemyError as err:
            raise OutputError(f"PostGIS : écriture refusée par la base ({_db_reason(err)}) ; rien n'a été "
                              "écrit.") from None
        return {"cpts": len(terr), "communes": len(com), "appartenance": len(member), "srid": srid}
    finally:
        engine.dispose()


def _db_reason(err) -> str:
    orig = getattr(err, "orig", err)
    if getattr(orig, "sqlstate", None) == "42501":
        return "droits insuffisants sur le schéma ou la base : " + str(orig).strip().splitlines()[0]
    text = str((getattr(orig, "diag", None) and orig.diag.message_primary) or orig)
    return text.strip().splitlines()[0] if text.strip() else type(err).__name__


def read_postgis_registry(url: str, *, schema: str = "cpts") -> pd.DataFrame:
    """Read back a registry written by :func:`write_postgis` (one row per commune and CPTS).

    Columns ``cpts_id``, ``name``, ``stage``, ``commune_code``, ``share`` (empty for a whole
    commune), ordered by CPTS then commune; :func:`cpts_geo.registry.read_registry` reads
    ``postgresql://…`` URLs through it.

    Parameters
    ----------
    url : str
        A ``postgresql://`` URL (SQLAlchemy, driver psycopg).
    schema : str, default "cpts"
        The schema written by :func:`write_postgis`.

    Returns
    -------
    DataFrame
        The registry, ready for :func:`cpts_geo.registry.validate_registry`.

    Raises
    ------
    OutputError
        The database cannot be reached or the schema has no registry (French message).
    """
    import sqlalchemy

    engine = _engine(url)
    s = _quoted(schema)
    try:
        with engine.connect() as con:
            frame = pd.read_sql(sqlalchemy.text(
                f"SELECT a.id_cpts AS cpts_id, c.nom AS name, c.etape AS stage, a.code_insee AS "
                f"commune_code, a.part AS share FROM {s}.appartenance a JOIN {s}.cpts c USING (id_cpts) "
                "ORDER BY a.id_cpts, a.code_insee"), con)
    except sqlalchemy.exc.SQLAlchemyError as err:
        raise OutputError(f"PostGIS : lecture du registre dans le schéma {schema} impossible "
                          f"({_db_reason(err)}).") from None
    finally:
        engine.dispose()
    frame["stage"] = frame["stage"].where(frame["stage"] != NO_STAGE)
    frame["share"] = frame["share"].astype(object).where(frame["share"].notna(), None)
    return frame
