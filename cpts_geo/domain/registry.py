"""CPTS registries: read the spreadsheet users keep, check it against the rules.

A **registry** has one row per (CPTS, commune). Its standard columns are

=================  ===========================================================================
``cpts_id``        identifier of the CPTS (text), required
``cpts_name``      name of the CPTS (defaults to the identifier)
``stage``          project stage, one of :data:`cpts_geo.domain.stages.STAGES` (variants accepted)
``commune_code``   INSEE code of the commune (or of a municipal arrondissement), required
``commune_name``   name of the commune, optional, used only to cross-check the code
``share``          share of the commune's population in this CPTS, only for a commune
                   declared split between several CPTS (empty means the whole commune)
=================  ===========================================================================

French headers as typed in real files are recognised (``Identifiant CPTS``, ``Nom de la
CPTS``, ``Étape``, ``Code INSEE``, ``Nom commune``, ``Part``…; see :func:`recognise_column`),
or pass ``columns={"your header": "cpts_id", ...}``.

**Row numbers** in every report are those of the user's file as a spreadsheet shows them:
the header is row 1 in a CSV, so the first data row is row 2; in an XLSX file the sheet's own
row numbers are used (a title above the header shifts them accordingly).

:func:`validate_registry` applies the rules (one commune, one CPTS; former codes remapped with
a report; unknown codes, stage typos, bad shares rejected) and returns the *membership*
table other modules use: ``code``, ``cpts_id``, ``share``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from cpts_geo.data.communes import arrondissement_codes
from cpts_geo.domain.codes import arrondissement_parent
from cpts_geo.domain.communes import load_communes
from cpts_geo.domain.crs import require_crs
from cpts_geo.domain.french import percent
from cpts_geo.domain.headers import ReadTable, recognise_header, recognise_headers
from cpts_geo.domain.units import sub_commune_units
from cpts_geo.errors import CptsGeoWarning, ValidationError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import geopandas as gpd

    from cpts_geo.domain._registry_checks import Reference
    from cpts_geo.domain.history import Passage
    from cpts_geo.domain.stages import StageWordings

__all__ = [
    "REGISTRY_COLUMNS",
    "CheckedRegistry",
    "RegistryRead",
    "recognise_column",
    "registry_from_perimeters",
    "registry_from_read",
    "registry_table",
    "require_headers",
    "validate_registry",
]

#: The columns of a registry as read (``row`` first), the last two only in listings that give a city
#: below the commune (see :func:`cpts_geo.domain.units.sub_commune_units`).
REGISTRY_COLUMNS = ["cpts_id", "cpts_name", "stage", "commune_code", "commune_name", "share",
                    "arrondissement_code", "iris_code"]



def recognise_column(header: object) -> str | None:
    """The standard registry column a header stands for, or ``None``.

    The synonyms are those of :data:`cpts_geo.domain.headers.SYNONYMS` ``["registry"]``.

    Parameters
    ----------
    header
        A column header as read from a file (case, accents and spacing are ignored).

    Returns
    -------
    str or None
        ``"cpts_id"``, ``"cpts_name"``, ``"stage"``, ``"commune_code"``,
        ``"commune_name"``, ``"share"``, or None when the header is not a registry column.

    Examples
    --------
    >>> [recognise_column(h) for h in ["Identifiant CPTS", "Étape", "Code INSEE", "Nom commune", "Remarque"]]
    ['cpts_id', 'stage', 'commune_code', 'commune_name', None]
    """
    return recognise_header(header, "registry")



class RegistryRead(NamedTuple):
    """A registry as :func:`read_registry_report` reads it, with how it was read.

    It can be given as is wherever a registry is expected (:func:`validate_registry`,
    :func:`cpts_geo.domain.territories.build_territories`…).
    """

    #: Columns ``row`` (row number in the file) and :data:`REGISTRY_COLUMNS`, values as given.
    registry: pd.DataFrame
    #: The file name (``"DataFrame"`` for a table, ``"PostGIS"`` for a database).
    source: str
    #: How the file was read, in French (sheet, encoding, separator…).
    reading: str
    #: ``{header in the file: standard column}`` of the recognised columns.
    recognised: dict[str, str]
    #: Headers of the file that are no registry column (not used).
    ignored: tuple[str, ...] = ()
    #: Encoding, separator, sheet, header row and layer used (``None`` when not relevant).
    encoding: str | None = None
    separator: str | None = None
    sheet: str | None = None
    header_row: int | None = None
    layer: str | None = None
    #: ``(row, column)`` of XLSX formulas without a computed value (the cell holds the
    #: formula text).
    formulas: tuple[tuple[int, str], ...] = ()
    #: Lines of a UTF-8 file read as Windows-1252 (an Excel mix).
    recoded_lines: tuple[int, ...] = ()
    #: Whether the registry is illustrative (the embedded example), with the note to show.
    illustrative: bool = False
    note: str = ""



class CheckedRegistry(NamedTuple):
    """A registry that passed :func:`validate_registry`."""

    #: One row per (commune, CPTS): ``code`` (today's code), ``cpts_id``, ``share`` (1.0 unless
    #: declared split), ``rows`` (file rows, text) and ``given_codes`` (codes as given).
    membership: pd.DataFrame
    #: One row per CPTS, indexed by ``cpts_id``: ``name``, ``stage`` (one of the five, or
    #: « Étape non renseignée »), ``published_stage`` (the wording as published, an ordered
    #: categorical of the registry's vocabulary; empty when not given), ``first_row``.
    cpts: pd.DataFrame
    #: What was changed, one row per file row: ``row``, ``code``, ``new_code``, ``name``,
    #: ``new_name``, ``reason`` (code repairs, former codes remapped, duplicates removed).
    report: pd.DataFrame
    #: The stage vocabulary of the registry, one row per wording as published, in its order:
    #: ``stage`` (the package's), ``source`` (built-in vocabulary or mapping file),
    #: ``present`` (used by the registry); see :func:`cpts_geo.domain.stages.vocabulary_note`.
    vocabulary: pd.DataFrame | None = None
    #: The IRIS of each CPTS when the registry gives cities by IRIS: ``cpts_id``, ``iris``,
    #: ``code`` (its commune), ``population`` (2021), ``row``; empty otherwise.
    iris: pd.DataFrame | None = None



def validate_registry(
    registry: pd.DataFrame | RegistryRead,
    communes: pd.DataFrame | None = None,
    *,
    passage: Passage = None,
    check_names: bool = True,
    columns: Mapping[str, str] | None = None,
    stage_default: str | None = None,
    stages: StageWordings | None = None,
) -> CheckedRegistry:
    """Check a registry against the rules and return its membership table.

    Every problem of the registry is gathered and reported in one :class:`ValidationError`,
    ordered by severity (overlaps, then unknown codes, then the rest; the ``kind`` column of
    its ``problems`` table names each kind): missing identifiers, stage typos (with the
    allowed values), shares that are not numbers or outside ]0, 1], codes that are not INSEE
    codes or unknown (with the closest commune names when a name column is present), names
    that do not match their code, communes outside ``communes``, CPTS without any commune,
    the same commune listed twice in one CPTS with different shares, and **overlaps**: every
    commune claimed by two or more CPTS, with all claimants, unless all of them declare a
    share and the shares sum to at most 1.

    The stage is optional: a CPTS whose stage is not given (no stage column, or empty cells)
    gets :data:`cpts_geo.domain.stages.NOT_GIVEN` (« Étape non renseignée »), or ``stage_default``
    when given (each filled row is reported). Stages worded as in real listings are read with
    the built-in table :data:`cpts_geo.domain.stages.VOCABULARIES` and ``stages`` (the user's
    correspondence); the wording as published is kept (``cpts["published_stage"]``) and the
    registry's vocabulary returned (``vocabulary``). An unknown wording is one problem listing
    all its rows and the closest known stage.

    What is repaired, each with a report row and a warning: codes that lost their leading
    zero, carry spaces or were typed as numbers; codes of former communes (communes déléguées
    or associées, or found in ``passage``), mapped to today's commune; the same commune
    listed twice in one CPTS with the same share (kept once). Paris, Lyon and Marseille may
    be given whole or by municipal arrondissement; a city given whole by one CPTS and by
    arrondissement by another is an overlap. The same CPTS name under two identifiers is
    reported (not refused).

    Parameters
    ----------
    registry : DataFrame, RegistryRead or path
        As read by :func:`read_registry` (a raw DataFrame or a path is read first).
    communes : GeoDataFrame, optional
        The commune layer the territories are built on (default: all of France).
    passage : DataFrame, path or dict, optional
        An INSEE passage table for former codes the embedded table does not know
        (see :func:`cpts_geo.io.history.read_passage_table`).
    check_names : bool, default True
        Cross-check ``commune_name`` against the code's name (accents, case, ``St``/``Saint``
        ignored).
    columns : mapping, optional
        Headers not recognised automatically (see :func:`read_registry`).
    stage_default : str, optional
        Stage given to the CPTS whose stage is not given (e.g. ``"ACI signé"``).
    stages : mapping, DataFrame or StageMapping, optional
        Correspondence of the registry's own stage wordings, wording → stage (see
        :func:`cpts_geo.domain.stages.stage_mapping`; a file is read by
        :func:`cpts_geo.io.registry.read_stage_mapping`).

    Returns
    -------
    CheckedRegistry
        ``membership`` (``code``, ``cpts_id``, ``share``…), ``cpts`` (name, stage and stage as
        published per CPTS), ``report`` (what was changed) and ``vocabulary`` (the stage
        wordings of the registry).

    Examples
    --------
    >>> reg = pd.DataFrame({"cpts_id": ["A", "A", "B"], "stage": ["ACI signé"] * 3,
    ...                     "commune_code": ["59350", "59009", "59009"]})
    >>> validate_registry(reg)
    Traceback (most recent call last):
    ...
    cpts_geo.errors.ValidationError: Le registre ne respecte pas les règles : corrigez les lignes listées. (1 problème(s))
      - lignes 3, 4, code 59009 : commune Villeneuve-d'Ascq revendiquée par plusieurs CPTS : A (ligne 3), B (ligne 4) ; si elle est partagée entre ces CPTS, déclarez la part de chacune (colonne « part », ex. 0,5) ou ses IRIS (colonne « code_iris »)
    >>> checked = validate_registry(reg.drop(columns="stage").iloc[:2])
    >>> checked.cpts["stage"].tolist()
    ['Étape non renseignée']
    """
    from cpts_geo.domain import _registry_checks as checks
    from cpts_geo.domain.stages import UNKNOWN_ADVICE, parse_stages, stage_mapping

    reg = registry_table(registry, columns=columns).registry
    if len(reg) == 0:
        raise ValidationError(
            "Le registre est vide : aucune ligne (CPTS, commune) à lire. Vérifiez le fichier "
            "ou la feuille choisie.", [{"problem": "registre vide"}])
    if stage_default is not None:
        stage_default = str(parse_stages([stage_default]).iat[0])
    mapping = None if stages is None else stage_mapping(stages)
    ref = _reference(communes)
    units = sub_commune_units(reg)  # arrondissement and IRIS columns → units and shares
    reg = units.registry
    problems: list[dict] = list(units.problems)

    problems += checks.check_control_characters(reg)
    ids, found, id_report = checks.parse_ids(reg)
    problems += found
    stage, published, vocabulary, found = checks.parse_stage_column(reg, mapping)
    problems += found
    shares, found = checks.parse_shares(reg)
    problems += found
    clean, current, found, code_report = checks.parse_codes(reg, ref, passage)
    problems += found
    # One table of the parsed rows; text as Python objects (faster to look up than Arrow strings)
    text = {"cpts_id": ids, "cpts_name": checks.parse_names(reg), "given_code": clean, "code": current,
            "given_name": checks._text_fast(reg["commune_name"])}
    table = pd.DataFrame({"row": reg["row"].to_numpy(), "stage": stage.to_numpy(),
                          "published_stage": published.array, "share": shares.to_numpy(),
                          **{k: pd.Series(v.to_numpy(dtype=object, na_value=None), dtype=object)
                             for k, v in text.items()}})
    table = table[["row", "cpts_id", "cpts_name", "stage", "published_stage", "given_code", "code", "share",
                   "given_name"]]
    if check_names:
        problems += checks.check_names(table, ref)
    problems += checks.check_in_layer(table, ref)
    cpts, found, cpts_report = checks.cpts_table(table, stage_default)
    problems += found
    valid = table[table["cpts_id"].notna() & table["code"].notna()]
    valid, found, dup_report = checks.check_duplicates(valid, ref.names)
    problems += found
    valid = checks.expand_cities(valid, ref.arm_parent)
    problems += checks.check_overlaps(valid, cpts, ref)
    if problems:
        words = any(p.get("kind") == "étape" and p.get("wording") for p in problems)
        raise ValidationError(
            "Le registre ne respecte pas les règles : corrigez les lignes listées."
            + (f" Étapes non reconnues : {UNKNOWN_ADVICE}." if words else ""),
            checks.by_severity(problems))

    report = pd.concat([r for r in (units.report, id_report, code_report, cpts_report, dup_report,
                                    checks.lone_shares(valid, ref.names)) if len(r)]
                       or [pd.DataFrame(columns=checks.REPORT_COLUMNS)], ignore_index=True)
    report = report[checks.REPORT_COLUMNS].sort_values("row", kind="stable").reset_index(drop=True)
    _warn_repairs(report)
    return CheckedRegistry(checks.membership(valid), cpts, report, vocabulary, units.iris)



def _reference(communes: pd.DataFrame | None) -> Reference:
    from cpts_geo.domain._registry_checks import Reference

    france, arm_parent, names, name_of = _embedded_reference()
    return Reference(layer=communes if communes is not None else france, france=france,
                     arm_parent=arm_parent, names=names, name_of=name_of)



@lru_cache(maxsize=1)
def _embedded_reference() -> tuple[gpd.GeoDataFrame, dict[str, str], pd.Series, dict[str, str]]:
    france = load_communes(crs=None)
    # the names of the arrondissements only (their layer, with its geometry, is not needed)
    arm_names = arrondissement_codes()["name"].astype(france["name"].dtype)
    names = pd.concat([france["name"], arm_names])
    names = names[~names.index.duplicated()]
    # object labels: looked up many times, hashed once (pandas converts Arrow strings at each look-up)
    names.index = pd.Index(names.index.to_numpy(dtype=object), dtype=object, name=names.index.name)
    # (plain arrays first: Series.to_dict iterates Arrow strings one scalar at a time)
    name_of = dict(zip(names.index.to_numpy(dtype=object), names.to_numpy(dtype=object)))
    return france, arrondissement_parent().to_dict(), names, name_of



def _warn_repairs(report: pd.DataFrame) -> None:
    """One warning per kind of repair, for a notebook user (the report has every row)."""
    reason = report["reason"].astype(str)
    zero = report[reason == "zéro initial restauré"]
    if len(zero):
        warnings.warn(f"{len(zero)} code(s) commune sans zéro initial réparé(s) (ex. "
                      f"{zero['code'].iat[0]} → {zero['new_code'].iat[0]}) : voir le rapport.", CptsGeoWarning, stacklevel=3)
    former = report[reason.str.startswith(("commune ", "ancien code")) | (reason == "table de passage")]
    if len(former):
        warnings.warn(
            f"{len(former)} ancien(s) code(s) commune rattaché(s) à la commune actuelle "
            f"(ex. {former['code'].iat[0]} → {former['new_code'].iat[0]}) : voir le rapport.", CptsGeoWarning,
            stacklevel=3)
    dup = reason.str.startswith("doublon")
    if dup.any():
        warnings.warn(f"{int(dup.sum())} ligne(s) en double (même commune, même CPTS) ignorée(s) : "
                      "voir le rapport.", CptsGeoWarning, stacklevel=3)
    merged = report[(report["kind"] == "identifiant nettoyé") & reason.str.contains("réuni")]
    if len(merged):
        warnings.warn(f"{len(merged)} identifiant(s) de CPTS écrit(s) autrement qu'ailleurs dans le registre "
                      f"(ex. {merged['reason'].iat[0]}) : voir le rapport.", CptsGeoWarning, stacklevel=3)
    same = reason.str.startswith("même nom de CPTS")
    if same.any():
        warnings.warn(f"{int(same.sum())} nom(s) de CPTS portés par plusieurs identifiants : "
                      "voir le rapport.", CptsGeoWarning, stacklevel=3)



def require_perimeter_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries, what: str) -> None:
    """:func:`cpts_geo.domain.crs.require_crs` (its one wording), as a :class:`ValidationError`.

    Parameters
    ----------
    gdf : GeoDataFrame or GeoSeries
        The layer to check.
    what : str
        How the French message names the layer.

    Returns
    -------
    None

    Raises
    ------
    ValidationError
        ``gdf`` has no CRS (one problem, ``"SCR absent"``).
    """
    try:
        require_crs(gdf, what)
    except ValueError as err:
        raise ValidationError(str(err), [{"problem": "SCR absent"}]) from None



class PerimeterRegistry(NamedTuple):
    """What :func:`registry_from_perimeters` makes of drawn perimeters."""

    #: Standard registry columns; ``row`` is the feature number of the perimeter.
    registry: pd.DataFrame
    #: One row per cut commune: ``code``, ``name``, ``shares``, ``assigned_to``.
    cut: pd.DataFrame
    #: Perimeters that received no commune: ``row``, ``cpts_id``, ``largest_share`` (the most
    #: of one commune they cover), ``code`` of that commune.
    without_communes: pd.DataFrame
    #: Feature numbers of the perimeters repaired with ``shapely.make_valid`` (``repair=True``).
    repaired: list



def registry_from_perimeters(
    perimeters: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    min_share: float = 0.5,
    cut_share: float = 0.05,
    repair: bool = False,
) -> PerimeterRegistry:
    """Turn CPTS perimeters drawn as polygons into a registry of communes.

    A commune is assigned to the perimeter covering at least ``min_share`` (default half)
    of its area. A commune is reported as *cut* when two perimeters or more each cover at
    least ``cut_share`` (default 5 %) of it, or when a perimeter covers between
    ``cut_share`` and ``min_share`` of it: such communes need a decision (assign it, or
    declare a split with shares). Overlaps are measured in the metric CRS.

    Parameters
    ----------
    perimeters : GeoDataFrame
        One polygon per CPTS with an identifier column (and optionally name and stage),
        recognised like registry headers or mapped with ``columns``.
    communes : GeoDataFrame
        The commune layer.
    repair : bool, default False
        Invalid perimeters (self-intersecting, a bow-tie drawn by hand) are refused with their
        feature numbers; with ``repair=True`` they are repaired with ``shapely.make_valid``
        and listed in ``repaired``.

    Returns
    -------
    PerimeterRegistry
        ``registry`` (standard registry columns; ``row`` is the feature number of the
        perimeter), ``cut`` (one row per cut commune: ``code``, ``name``, ``shares`` as text
        ``id : part``, ``assigned_to`` or empty), ``without_communes`` (perimeters that cover
        at least half of no commune: nothing is silently dropped) and ``repaired``.
    """
    import geopandas as gpd

    from cpts_geo.domain.crs import to_metric

    require_perimeter_crs(perimeters, "La couche des périmètres")
    given = registry_table(pd.DataFrame(perimeters.drop(columns=perimeters.geometry.name))
                          .assign(**{"commune_code": "00000"}) if "commune_code" not in perimeters
                          else perimeters, columns=columns).registry
    perimeters, repaired = _valid_perimeters(perimeters, repair=repair)
    if not len(communes):  # nothing under the perimeters (drawn at sea, or far from the layer)
        without = pd.DataFrame({"row": np.arange(1, len(perimeters) + 1),
                                "cpts_id": given["cpts_id"].astype(str).to_numpy(),
                                "largest_share": np.nan, "code": None})
        warnings.warn(f"{len(without)} périmètre(s) ne touchent aucune commune de la couche : "
                      f"{', '.join(map(str, without['cpts_id']))}", CptsGeoWarning, stacklevel=2)
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in
                              ("row", "cpts_id", "cpts_name", "stage", "commune_code", "commune_name", "share")})
        return PerimeterRegistry(empty, pd.DataFrame(columns=["code", "name", "shares", "assigned_to"]),
                                 without, repaired)
    metric = to_metric(communes[["geometry"]])
    per = gpd.GeoDataFrame({"cpts_id": given["cpts_id"].astype(str).to_numpy(),
                            "row": np.arange(1, len(perimeters) + 1)},
                           geometry=perimeters.geometry.to_crs(metric.crs).to_numpy(), crs=metric.crs)
    inter = gpd.overlay(metric.reset_index().rename(columns={metric.index.name or "index": "code"}),
                        per, how="intersection", keep_geom_type=True)
    inter["share"] = inter.area / inter["code"].map(metric.area)
    inter = inter[inter["share"] >= 1e-6]
    best = inter.sort_values("share", ascending=False).drop_duplicates("code")
    assigned = best[best["share"] >= min_share]
    meta = given.set_index(given["cpts_id"].astype(str))
    registry = pd.DataFrame({
        "row": assigned["row"].to_numpy(),
        "cpts_id": assigned["cpts_id"].to_numpy(),
        "cpts_name": meta.loc[assigned["cpts_id"], "cpts_name"].to_numpy(),
        "stage": meta.loc[assigned["cpts_id"], "stage"].to_numpy(),
        "commune_code": assigned["code"].to_numpy(),
        "commune_name": communes.loc[assigned["code"], "name"].to_numpy() if "name" in communes else None,
        "share": np.nan,
    }).sort_values(["row", "commune_code"]).reset_index(drop=True)
    cut = _cut_communes(inter, assigned, communes, min_share=min_share, cut_share=cut_share)
    lost = per.loc[~per["cpts_id"].isin(assigned["cpts_id"]), ["row", "cpts_id"]]
    largest = inter.sort_values("share", ascending=False).drop_duplicates("cpts_id").set_index("cpts_id")
    without = pd.DataFrame({
        "row": lost["row"].to_numpy(),
        "cpts_id": lost["cpts_id"].to_numpy(),
        "largest_share": lost["cpts_id"].map(largest["share"]).to_numpy(dtype="float64"),
        "code": lost["cpts_id"].map(largest["code"]).to_numpy(dtype=object),
    })
    if len(without):
        warnings.warn(f"{len(without)} périmètre(s) ne couvrent la moitié d'aucune commune et n'ont "
                      f"aucune commune : {', '.join(map(str, without['cpts_id']))}", CptsGeoWarning, stacklevel=2)
    return PerimeterRegistry(registry, cut, without, repaired)


def _valid_perimeters(perimeters: gpd.GeoDataFrame, *, repair: bool) -> tuple[gpd.GeoDataFrame, list[int]]:
    """The perimeters, their invalid geometries repaired (``repair=True``) and the feature
    numbers repaired; perimeters without geometry, and invalid ones when not repaired, refused
    together."""
    import shapely

    geoms = perimeters.geometry
    invalid = ~(geoms.isna() | geoms.is_empty).to_numpy() & ~geoms.is_valid.to_numpy()
    missing = (geoms.isna() | geoms.is_empty).to_numpy()
    problems = [{"row": int(r) + 1, "problem": "périmètre sans géométrie"} for r in np.flatnonzero(missing)]
    if not repair:
        problems += [{"row": int(r) + 1, "problem": f"périmètre invalide ({why}) : corrigez-le dans QGIS "
                      "(Vérifier la validité) ou relancez avec repair=True"}
                     for r, why in zip(np.flatnonzero(invalid), shapely.is_valid_reason(geoms.to_numpy()[invalid]))]
    if problems:
        raise ValidationError("Périmètres refusés", problems)
    repaired = [int(r) + 1 for r in np.flatnonzero(invalid)]
    if repaired:
        perimeters = perimeters.copy()
        perimeters.loc[perimeters.index[invalid], perimeters.geometry.name] = shapely.make_valid(
            geoms.to_numpy()[invalid])
    return perimeters, repaired


def _cut_communes(inter: pd.DataFrame, assigned: pd.DataFrame, communes: gpd.GeoDataFrame, *,
                  min_share: float, cut_share: float) -> pd.DataFrame:
    """The communes cut by the perimeters (two covering ``cut_share`` or more, or one covering
    between ``cut_share`` and ``min_share``): ``code``, ``name``, ``shares``, ``assigned_to``."""
    cut_rows = []
    for code, grp in inter.groupby("code"):
        big = grp[grp["share"] >= cut_share]
        if len(big) >= 2 or ((big["share"] < min_share).any()):
            assigned_to = assigned.loc[assigned["code"] == code, "cpts_id"]
            cut_rows.append({"code": code, "name": communes.at[code, "name"] if "name" in communes else "",
                             "shares": ", ".join(f"{r.cpts_id} : {percent(r.share, 0)}" for r in
                                                 big.sort_values("share", ascending=False).itertuples()),
                             "assigned_to": assigned_to.iat[0] if len(assigned_to) else ""})
    return pd.DataFrame(cut_rows, columns=["code", "name", "shares", "assigned_to"])


def registry_from_read(read: ReadTable) -> RegistryRead:
    """The registry of a table read by :func:`cpts_geo.io.read_table` (or of a DataFrame).

    Keeps the registry's columns by their recognised headers (``read.fields``), with the file
    row number of each line, and says what was recognised and ignored.

    Parameters
    ----------
    read : ReadTable
        ``table``, ``rows``, ``fields`` and the reading details of :class:`cpts_geo.io.ReadTable`.

    Returns
    -------
    RegistryRead

    Raises
    ------
    ValidationError
        When the identifier or commune code column cannot be found.
    """
    frame, mapping = read.table, read.fields
    missing = [f for f in ("cpts_id", "commune_code") if f not in mapping.values()]
    if missing:
        labels = {"cpts_id": "identifiant de la CPTS", "commune_code": "code INSEE de la commune"}
        raise ValidationError(
            "Colonnes obligatoires introuvables dans le registre : "
            + ", ".join(labels[m] for m in missing)
            + f". Colonnes présentes : {', '.join(map(str, frame.columns))}. Indiquez-les : "
            "--colonnes \"cpts_id=En-tête de l'identifiant,commune_code=En-tête du code\" en ligne "
            "de commande, l'argument columns en Python (ou renommez-les cpts_id, "
            "commune_code).",
            [{"problem": f"colonne « {labels[m]} » absente"} for m in missing],
        )
    out = pd.DataFrame({"row": read.rows})
    inverse = {v: k for k, v in mapping.items()}
    for name in REGISTRY_COLUMNS:
        out[name] = frame[inverse[name]].array if name in inverse else None
    out = out.astype({"row": "int64"})
    return RegistryRead(
        out,
        source=read.source,
        reading=read.describe(),
        recognised={str(k): v for k, v in mapping.items()},
        ignored=tuple(str(c) for c in frame.columns if c not in mapping),
        encoding=read.encoding, separator=read.separator,
        sheet=read.sheet,
        header_row=read.header_row, layer=read.layer,
        formulas=tuple(sorted((row, mapping.get(col, col)) for row, col in read.formulas)),
        recoded_lines=tuple(read.recoded_lines),
    )


def require_headers(headers: Sequence[object], columns: Mapping[str, str] | None, *, what: str = "du registre") -> None:
    """Refuse a ``columns`` mapping naming a header the table does not have.

    Parameters
    ----------
    headers : sequence
        The headers of the table as read.
    columns : mapping, optional
        ``{header: standard column}`` chosen by the user.
    what : str
        How the message names the table.

    Returns
    -------
    None

    Raises
    ------
    ValidationError
        Listing every header given and absent, with the headers present.

    Examples
    --------
    >>> require_headers(["N° CPTS", "Code"], {"N CPTS": "cpts_id"})
    Traceback (most recent call last):
    ...
    cpts_geo.errors.ValidationError: Colonne(s) donnée(s) absente(s) du registre : « N CPTS » (cpts_id). Colonnes présentes : N° CPTS, Code. ...
    """
    present = {str(h) for h in headers}
    missing = [(h, f) for h, f in (columns or {}).items() if str(h) not in present]
    if missing:
        raise ValidationError(
            f"Colonne(s) donnée(s) absente(s) {what} : "
            + ", ".join(f"« {h} » ({f})" for h, f in missing)
            + f". Colonnes présentes : {', '.join(map(str, headers))}. Recopiez l'en-tête tel qu'il est "
            "écrit dans le fichier.",
            [{"problem": f"colonne « {h} » absente", "value": str(h)} for h, _ in missing])



def registry_table(source: pd.DataFrame | RegistryRead, *, columns: Mapping[str, str] | None = None) -> RegistryRead:
    """A registry given as a table: its headers recognised, its rows numbered as in a file.

    The in-memory half of :func:`cpts_geo.io.read_registry_report` (which also reads files and
    PostGIS): a :class:`RegistryRead` is returned as is, a table already in the standard
    columns (``row``, ``cpts_id``, ``stage``, ``commune_code``…) is kept, any other table has
    its headers recognised (:func:`cpts_geo.domain.headers.recognise_headers`) and its rows
    numbered from 2, as if it were a file with one header line.

    Parameters
    ----------
    source : DataFrame or RegistryRead
    columns : mapping, optional
        ``{header: standard column}`` for headers not recognised automatically.

    Returns
    -------
    RegistryRead

    Raises
    ------
    ValidationError
        Given a path (files are read by :func:`cpts_geo.io.read_registry`), or when the
        identifier or commune code column cannot be found.

    Examples
    --------
    >>> raw = pd.DataFrame({"Identifiant CPTS": ["A"], "Code INSEE": ["59350"], "Remarque": ["x"]})
    >>> read = registry_table(raw)
    >>> read.recognised, read.ignored, read.registry["row"].tolist()
    ({'Identifiant CPTS': 'cpts_id', 'Code INSEE': 'commune_code'}, ('Remarque',), [2])
    """
    if isinstance(source, RegistryRead):
        return source
    if not isinstance(source, pd.DataFrame):
        raise ValidationError(
            f"Registre donné par son chemin ({source}) : lisez-le d'abord avec "
            "cpts_geo.read_registry(chemin).",
            [{"problem": "registre non lu", "value": str(source)}])
    frame = pd.DataFrame(source.drop(columns=getattr(source, "_geometry_column_name", None) or [],
                                     errors="ignore"))
    if {"row", "cpts_id", "commune_code"} <= set(frame.columns) and set(REGISTRY_COLUMNS[:6]) <= set(frame.columns):
        out = frame.reindex(columns=["row", *REGISTRY_COLUMNS]).copy()
        out.attrs = {}
        return RegistryRead(out, source="DataFrame", reading="",
                            recognised={c: c for c in REGISTRY_COLUMNS},
                            ignored=tuple(str(c) for c in frame.columns if c not in ("row", *REGISTRY_COLUMNS)))
    frame = frame.reset_index(drop=True)
    require_headers(frame.columns, columns)
    fields = recognise_headers(list(frame.columns), "registry", columns=columns)
    return registry_from_read(ReadTable(frame, np.arange(2, len(frame) + 2, dtype="int64"), "DataFrame",
                                         "DataFrame", fields=fields))

