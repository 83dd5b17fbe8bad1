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

Every file is written through :func:`cpts_geo.io.files.atomic_path` and every text cell of a
spreadsheet through :func:`cpts_geo.io.files.neutralise_cells`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple
from xml.sax.saxutils import escape, quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from cpts_geo.domain.codes import positions
from cpts_geo.domain.french import number
from cpts_geo.domain.metadata import layer_metadata
from cpts_geo.domain.stages import NOT_GIVEN, STAGE_COLORS, STAGES, own_words
from cpts_geo.domain.territories import summary_table
from cpts_geo.errors import CptsGeoWarning
from cpts_geo.io.files import atomic_path, replace_when_done
from cpts_geo.io.formats import OutputError, _disk_space, layer_format

__all__ = [
    "CHANGE_FIELDS",
    "FIELD_ALIASES",
    "LAYER_FIELDS",
    "SHAPEFILE_TEXT_LIMIT",
    "WrittenLayers",
    "layer_style_qml",
    "layer_tables",
    "write_layers",
    "write_territories",
]

#: Field names of the layers: ``{column of the library: field of the file}``. French, ASCII and
#: at most 10 characters (the Shapefile limit), the same in every format.
LAYER_FIELDS = {
    "cpts_id": "id_cpts",
    "code": "code_insee",
    "name": "nom",
    "stage": "etape",
    "stage_rank": "rang_etape",
    "published_stage": "etape_pub",
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
    "n_cpts": "n_cpts",
    "covered": "couverte",
}


#: Field names of the ``changements`` layer (changes between two registries, see
#: :func:`cpts_geo.domain.compare.changes_layer`).
CHANGE_FIELDS = {
    "change": "changement", "code": "code_insee", "commune": "nom", "old_id": "id_avant",
    "old_cpts": "cpts_avant", "new_id": "id_apres", "new_cpts": "cpts_apres", "old_value": "avant",
    "new_value": "apres",
}


#: French alias of each field, as QGIS shows it (attribute table, forms, identify).
FIELD_ALIASES = {
    "id_cpts": "Identifiant CPTS", "code_insee": "Code commune", "nom": "Nom", "etape": "Étape",
    "rang_etape": "Rang de l'étape (1 à 5)", "etape_pub": "Étape telle que publiée", "taille": "Taille (niveau ACI)",
    "population": "Population municipale", "n_communes": "Nombre de communes",
    "pop_std": "Population standardisée (DREES)", "pop_2016": "Population municipale 2016",
    "depts": "Départements", "regions": "Régions", "surf_km2": "Superficie (km²)",
    "un_tenant": "D'un seul tenant", "n_parties": "Nombre de parties", "parties": "Parties",
    "sans_pop": "Communes sans population", "dep": "Département", "nom_dep": "Nom du département",
    "region": "Région", "nom_region": "Nom de la région", "epci": "EPCI", "nom_epci": "Nom de l'EPCI",
    "commune": "Commune (des arrondissements)", "nom_cpts": "Nom de la CPTS",
    "part_cpts": "Part de la commune en CPTS", "cpts_liste": "CPTS (toutes)", "n_cpts": "Nombre de CPTS", "couverte": "Couverte",
    "changement": "Changement", "id_avant": "Identifiant (ancien)", "cpts_avant": "CPTS (ancien registre)",
    "id_apres": "Identifiant (nouveau)", "cpts_apres": "CPTS (nouveau registre)", "avant": "Avant",
    "apres": "Après",
}


#: Grey of the zones blanches (communes in no CPTS), and of a CPTS without a stage.
BLANK_COLOR = "#bdbdbd"


NO_STAGE = NOT_GIVEN  # « Étape non renseignée », owned by cpts_geo.domain.stages


_NO_STAGE_COLOR = STAGE_COLORS[NOT_GIVEN]


#: Written as every ``last_change`` of a GeoPackage when no registry date is given.
_FIXED_DATE = "2000-01-01T00:00:00.000Z"



class WrittenLayers(NamedTuple):
    """What :func:`write_layers` wrote."""

    #: Files written (one GeoPackage, or one file per layer for the single-layer formats).
    paths: list[Path]
    #: ``{layer name: CRS}`` of every layer written.
    layers: dict[str, pyproj.CRS]
    #: One French sentence stating the CRS chosen, for the user.
    note: str


# --------------------------------------------------------------------------- layers


def _stage_text(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    text = values.astype("string")
    codes = positions(pd.Index(STAGES), text)  # -1: not one of the five stages
    rank = pd.Series(pd.arrays.IntegerArray(codes + 1, codes < 0), index=values.index)
    return text.fillna(NO_STAGE), rank



def _frenched(frame: gpd.GeoDataFrame, index_name: str) -> gpd.GeoDataFrame:
    out = frame.copy(deep=False)  # (columns replaced below, never changed in place)
    out.index = out.index.rename(index_name)
    out = out.reset_index()
    if "published_stage" in out.columns and not own_words(out["published_stage"]):
        out = out.drop(columns="published_stage")  # the guide's words: the stage itself
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
    from cpts_geo.domain.crs import department_crs

    codes, uniques = pd.factorize(departments.fillna(""))  # each distinct value once
    first = [str(d).split(",")[0].strip() for d in uniques]
    crs = department_crs(first).to_numpy(dtype=object)
    return pd.Series(crs[codes] if len(crs) else np.array([], dtype=object), index=departments.index)



def _crs_label(crs: pyproj.CRS) -> str:
    epsg = crs.to_epsg()
    return f"{crs.name} (EPSG:{epsg})" if epsg else crs.name



def layer_tables(
    territories: gpd.GeoDataFrame | None,
    communes: gpd.GeoDataFrame | None = None,
    *,
    changes: gpd.GeoDataFrame | None = None,
    crs: str | int | pyproj.CRS | None = None,
    geographic: bool = False,
) -> tuple[dict[str, gpd.GeoDataFrame], str]:
    """The layers to write, with French field names, each in its CRS; and the CRS sentence.

    By default every layer is in the metric CRS of its communes (Lambert-93 for mainland
    France, see :func:`cpts_geo.domain.crs.metric_crs`); when the territories mix mainland France
    and overseas departments, each CRS gets its own layers, suffixed with its departments
    (``cpts``, ``cpts_971_972``…), unless ``crs`` names one CRS for all. ``geographic=True``
    (GeoJSON) writes EPSG:4326.

    Parameters
    ----------
    territories : GeoDataFrame or None
        The CPTS territories (:func:`cpts_geo.domain.territories.build_territories`).
    communes : GeoDataFrame, optional
        The communes with their CPTS (:func:`cpts_geo.domain.territories.communes_with_cpts`); the
        communes in no CPTS also become the ``zones_blanches`` layer.
    changes : GeoDataFrame, optional
        The layer of :func:`cpts_geo.domain.compare.changes_layer`.
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
    >>> from cpts_geo.domain.territories import build_territories, communes_with_cpts
    >>> from cpts_geo.domain.communes import load_communes
    >>> reg = pd.DataFrame({"cpts_id": ["A"], "stage": ["5"], "commune_code": ["80021"]})
    >>> layers, note = layer_tables(build_territories(reg, load_communes(departments="80")))
    >>> list(layers), layers["cpts"].crs.to_epsg(), list(layers["cpts"].columns[:4])
    (['cpts'], 2154, ['id_cpts', 'nom', 'etape', 'rang_etape'])
    >>> note
    'Couches en RGF93 v1 / Lambert-93 (EPSG:2154).'
    """
    terr = _frenched(territories, "cpts_id") if territories is not None else None
    com, blank = _commune_layers(communes)
    chg = _changes_layer(changes)
    if geographic or crs is not None:
        target = pyproj.CRS("EPSG:4326") if geographic else pyproj.CRS(crs)
        layers = {"cpts": terr, "communes": com, "zones_blanches": blank, "changements": chg}
        reprojected = {k: v.to_crs(target) for k, v in layers.items() if v is not None}
        if not reprojected:
            raise ValueError("aucune couche à écrire")
        return reprojected, f"Couches en {_crs_label(target)}" + (
            " (GeoJSON : coordonnées géographiques, comme l'exige la norme)." if geographic else
            " (choisi par l'utilisateur).")
    return _by_metric_crs(_metric_groups(terr, com, blank, chg))



def _commune_layers(communes: gpd.GeoDataFrame | None) -> tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None]:
    """The ``communes`` layer with French field names and the ``zones_blanches`` layer (the
    communes in no CPTS, without the CPTS fields)."""
    if communes is None:
        return None, None
    com = _frenched(communes, "code")
    covered = com["couverte"].astype(bool) if "couverte" in com else pd.Series(False, index=com.index)
    drop = [c for c in ("id_cpts", "nom_cpts", "etape", "rang_etape", "etape_pub", "part_cpts", "cpts_liste",
                        "n_cpts",
                        "couverte") if c in com]
    return com, com[~covered].drop(columns=drop)



def _changes_layer(changes: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """The ``changements`` layer with French field names, every field as text."""
    if changes is None:
        return None
    chg = changes.reset_index(drop=True).rename(columns=CHANGE_FIELDS)
    for col in chg.columns:
        if col != chg.geometry.name:
            chg[col] = chg[col].astype("string")
    return chg



def _metric_groups(terr: gpd.GeoDataFrame | None, com: gpd.GeoDataFrame | None, blank: gpd.GeoDataFrame | None,
                   chg: gpd.GeoDataFrame | None) -> dict[str, dict[str, gpd.GeoDataFrame]]:
    """The rows of each layer in the metric CRS of their department, by CRS then layer name."""
    from cpts_geo.domain.codes import department_of
    from cpts_geo.domain.crs import reproject

    groups: dict[str, dict[str, gpd.GeoDataFrame]] = {}

    def split(name: str, frame: gpd.GeoDataFrame, crs_of_rows: pd.Series) -> None:
        which, crs_names = pd.factorize(crs_of_rows.to_numpy(), use_na_sentinel=False)
        for i, mcrs in enumerate(crs_names):
            rows = np.flatnonzero(which == i)  # (the rows of one CRS, in their order)
            part = frame if len(rows) == len(frame) else frame.take(rows)
            # only the geometry goes through the projection; the other columns are shared
            moved = reproject(part[[part.geometry.name]], mcrs).geometry
            part = part.copy(deep=False)
            part[part.geometry.name] = moved  # (the layer's CRS is its geometry's)
            groups.setdefault(mcrs, {})[name] = part

    if terr is not None:
        split("cpts", terr, _metric_of_rows(terr["depts"]))
    for name, frame in (("communes", com), ("zones_blanches", blank), ("changements", chg)):
        if frame is not None:
            deps = department_of(frame["code_insee"].fillna("00000"))
            split(name, frame, _metric_of_rows(deps))
    return groups



def _by_metric_crs(groups: dict[str, dict[str, gpd.GeoDataFrame]]) -> tuple[dict[str, gpd.GeoDataFrame], str]:
    """The layers named for their CRS (mainland first, unsuffixed; the others suffixed with
    their departments when there are several CRS) and the CRS sentence."""
    from cpts_geo.domain.codes import department_of

    out: dict[str, gpd.GeoDataFrame] = {}
    mainland = "EPSG:2154"
    names = []
    for mcrs in sorted(groups, key=lambda c: (c != mainland, c)):
        if mcrs == mainland or len(groups) == 1:
            suffix = ""
        else:
            deps: set[str] = set()
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
    order (colours of :data:`cpts_geo.domain.stages.STAGE_COLORS`) and a grey class for communes in no
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
        from cpts_geo.domain.compare import CHANGES

        # one colour per kind of change; what is outside the other source's field in light greys
        palette = ["#1b9e77", "#d95f02", "#7570b3", "#66a61e", "#e7298a", "#e6ab02", "#a6761d", "#666666",
                   "#cccccc", "#e5e5e5"]
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
    def rule(title: str, color: str, value: str | None = None) -> str:
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
        # a temporary file, renamed only once complete: no waiting for the disk, no journal file
        con.execute("PRAGMA synchronous = OFF")
        con.execute("PRAGMA journal_mode = MEMORY")
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



def _metadata_text(territories: gpd.GeoDataFrame | None, communes: gpd.GeoDataFrame | None, registry: str | None,
                   registry_date: str | None) -> dict[str, str]:
    from cpts_geo import __version__

    # the territories' metadata first, the communes' for what it does not say
    layers = [layer_metadata(f) for f in (territories, communes) if f is not None]

    def known(field: str) -> Any:
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
    """GDAL writes ``date`` as the date of the GeoPackage (the same bytes for the same inputs),
    and does not wait for the disk after each layer: the file is a temporary one, renamed only
    once complete (:func:`cpts_geo.io.files.atomic_path`)."""
    import pyogrio

    wanted = {"OGR_CURRENT_DATE": date, "OGR_SQLITE_SYNCHRONOUS": "OFF"}
    old = {key: pyogrio.get_gdal_config_option(key) for key in wanted}
    pyogrio.set_gdal_config_options(wanted)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(old)


_DESCRIPTIONS = {"cpts": "Territoires des CPTS", "communes": "Communes et leur CPTS",
                 "zones_blanches": "Communes hors CPTS (zones blanches)",
                 "changements": "Changements de CPTS par commune"}



def write_layers(
    path: str | Path,
    territories: gpd.GeoDataFrame | None,
    communes: gpd.GeoDataFrame | None = None,
    *,
    changes: gpd.GeoDataFrame | None = None,
    crs: str | int | pyproj.CRS | None = None,
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
        Output of :func:`cpts_geo.domain.territories.build_territories` (``None``: no ``cpts`` layer).
    communes : GeoDataFrame, optional
        Output of :func:`cpts_geo.domain.territories.communes_with_cpts` (gives ``communes`` and
        ``zones_blanches``).
    changes : GeoDataFrame, optional
        Changes between two registries (:func:`cpts_geo.domain.compare.changes_layer`), written as
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
    >>> from cpts_geo.domain.territories import build_territories
    >>> from cpts_geo.domain.communes import load_communes
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



def _write_layers(path: Path, kind: str, layers: Mapping[str, gpd.GeoDataFrame], note: str,
                  meta: Mapping[str, str], date: str) -> WrittenLayers:
    written: list[Path] = []
    if kind == "GeoPackage":
        with atomic_path(path) as tmp, _disk_space(path), _gdal_date(date):
            for i, (name, frame) in enumerate(layers.items()):
                desc = _DESCRIPTIONS.get(_kind(name), name) + " — " + " ; ".join(
                    f"{k} : {v}" for k, v in meta.items())
                # GeoPackage 1.2: read without a warning by the QGIS/GDAL versions still in service
                options = {"dataset_options": {"VERSION": "1.2"}} if i == 0 else {}
                _write_gpkg_layer(frame, tmp, name, layer_options={"DESCRIPTION": desc, "IDENTIFIER": name,
                                                                   "GEOMETRY_NAME": "geom", "FID": "fid"},
                                  layer_metadata=dict(meta), **options)
            _add_styles(tmp, layers, date)
        written.append(path)
    else:
        # every file to a temporary name first; all renamed only once all are complete
        moves: list[tuple[Path, Path]] = []  # Shapefile sidecars (.dbf, .shx, .prj, .cpg)
        shortened: dict[str, dict[str, int]] = {}  # Shapefile: texts cut, per layer and field
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
                        frame, cut = _shapefile_texts(frame)
                        if cut:
                            shortened[name] = cut
                        frame.to_file(tmp, driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8")
                        moves += [(side, target.with_suffix(side.suffix))
                                  for side in tmp.parent.glob(tmp.stem + ".*") if side != tmp]
                    written.append(target)
        except BaseException:
            for side, _ in moves:
                side.unlink(missing_ok=True)
            raise
        for side, target in moves:
            replace_when_done(side, target)
        if shortened:
            said = _shortened_note(shortened)
            warnings.warn(said, CptsGeoWarning, stacklevel=3)
            note = f"{note} {said}"
    return WrittenLayers(written, {k: v.crs for k, v in layers.items()}, note)



def _write_gpkg_layer(frame: gpd.GeoDataFrame, path: Path, name: str, **options: Any) -> None:
    """Write ``frame`` as the layer ``name`` of the GeoPackage ``path`` through GDAL's Arrow
    interface, as ``GeoDataFrame.to_file(engine="pyogrio", use_arrow=True)`` would (same fields,
    geometry type and CRS), without its conversions: the columns go to Arrow as they are (the
    text columns already are Arrow strings), the geometries to WKB once, polygons promoted to
    multipolygons where the layer mixes both (a GeoPackage layer has one geometry type)."""
    import pyarrow as pa
    import pyogrio

    geometry = frame.geometry
    geoms = geometry.to_numpy()
    kinds = shapely.get_type_id(geoms)
    present = set(np.unique(kinds[kinds >= 0]).tolist())
    if not present <= {_POLYGON, _MULTIPOLYGON} or shapely.has_z(geoms).any():
        frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio", use_arrow=True, **options)
        return
    wkb = shapely.to_wkb(geoms, byte_order=1)  # (little-endian, as shapely writes by default here)
    if present == {_POLYGON, _MULTIPOLYGON}:
        # each polygon as a multipolygon of one part: the same bytes after a multipolygon header
        single = np.flatnonzero(kinds == _POLYGON)
        wkb[single] = [_ONE_PART + w for w in wkb[single].tolist()]
    kind = "MultiPolygon" if _MULTIPOLYGON in present else "Polygon" if present else "Unknown"
    columns = [c for c in frame.columns if c != geometry.name]
    arrays = [pa.array(frame[c], from_pandas=True) for c in columns]
    arrays.append(pa.array(wkb, type=pa.binary()))
    table = pa.Table.from_arrays(arrays, names=[*columns, geometry.name])
    crs = None
    if frame.crs is not None:
        epsg = frame.crs.to_epsg()
        crs = f"EPSG:{epsg}" if epsg else frame.crs.to_wkt("WKT1_GDAL")
    pyogrio.write_arrow(table, path, layer=name, driver="GPKG", geometry_name=geometry.name,
                        geometry_type=kind, crs=crs, **options)


#: Shapely's type ids of the polygons a layer of territories or communes holds.
_POLYGON, _MULTIPOLYGON = 3, 6


#: The WKB header of a multipolygon of one part (little-endian, type 6, one polygon).
_ONE_PART = b"\x01\x06\x00\x00\x00\x01\x00\x00\x00"



#: The most bytes a Shapefile (dBase) text field holds.
SHAPEFILE_TEXT_LIMIT = 254



def _shapefile_texts(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """Texts longer than a dBase field holds, cut by us on a character (never inside one) and
    ending with « … », so that a reader sees the cut; and how many were cut per field."""
    cut: dict[str, int] = {}
    out = frame
    for col in frame.columns:
        if col == frame.geometry.name:
            continue
        values = frame[col]
        if not (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
            continue
        long = values.map(lambda v: isinstance(v, str) and len(v.encode("utf-8")) > SHAPEFILE_TEXT_LIMIT)
        long = long.fillna(False).astype(bool)
        if long.any():
            if out is frame:
                out = frame.copy()
            out[col] = values.astype(object).where(~long, values[long].map(_cut_text))
            cut[col] = int(long.sum())
    return out, cut



def _cut_text(text: str) -> str:
    room = SHAPEFILE_TEXT_LIMIT - len("…".encode())
    return text.encode("utf-8")[:room].decode("utf-8", errors="ignore") + "…"



def _shortened_note(shortened: Mapping[str, Mapping[str, int]]) -> str:
    parts = [f"couche {layer}, champ{'s' if len(fields) > 1 else ''} "
             + ", ".join(f"{field} ({number(n)})" for field, n in fields.items())
             for layer, fields in shortened.items()]
    total = sum(n for fields in shortened.values() for n in fields.values())
    return (f"Shapefile : {number(total)} texte{'s' if total > 1 else ''} de plus de "
            f"{SHAPEFILE_TEXT_LIMIT} octets, la limite d'un champ dBase, coupé{'s' if total > 1 else ''} "
            f"et terminé{'s' if total > 1 else ''} par « … » ({' ; '.join(parts)}) ; le GeoPackage (.gpkg) "
            "les garde entiers.")



def write_territories(
    path: str | Path,
    territories: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame | None = None,
    *,
    csv: str | Path | None = None,
    crs: str | int | pyproj.CRS | None = None,
    registry: str | None = None,
    registry_date: str | None = None,
    shapefile: bool = False,
) -> Path:
    """Write the layers ``cpts``, ``communes`` and ``zones_blanches`` for QGIS; return ``path``.

    The format follows the extension of ``path`` (``.gpkg``, ``.parquet``, ``.geojson``, ``.shp``
    with ``shapefile=True``; anything else is refused): see :func:`cpts_geo.io.layers.write_layers`
    for the CRS (metric by default), the French field names and the styles embedded in a
    GeoPackage. ``communes`` is the output of :func:`communes_with_cpts`; ``csv`` also writes
    :func:`summary_table` (``.csv`` for French Excel, or ``.xlsx``).

    Parameters
    ----------
    path : str or Path
        The layer file.
    territories : GeoDataFrame
        The CPTS territories (:func:`build_territories`).
    communes : GeoDataFrame, optional
        The output of :func:`communes_with_cpts`: adds the ``communes`` and ``zones_blanches`` layers.
    csv : str or Path, optional
        Also write :func:`summary_table` there.
    crs : optional
        One CRS for every layer instead of the metric CRS of each department.
    registry, registry_date : str, optional
        The registry's file name and date, written in the GeoPackage metadata.
    shapefile : bool, default False
        Accept ``.shp``.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile, os
    >>> reg = pd.DataFrame({"cpts_id": ["A"], "stage": ["5"], "commune_code": ["80021"]})
    >>> path = write_territories(os.path.join(tempfile.mkdtemp(), "t.gpkg"),
    ...                          build_territories(reg, load_communes(departments="80")))
    >>> path.name
    't.gpkg'
    """
    from cpts_geo.io.formats import layer_format, table_format
    from cpts_geo.io.tables import write_table

    layer_format(path, shapefile=shapefile)
    if csv is not None:
        table_format(csv)
    written = write_layers(path, territories, communes, crs=crs, registry=registry,
                           registry_date=registry_date, shapefile=shapefile)
    if csv is not None:
        write_table(summary_table(territories), csv, index=False)
    return written.paths[0]
