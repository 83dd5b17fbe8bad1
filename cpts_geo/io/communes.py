"""Reading a user's commune layer and a user's population table."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from cpts_geo.data.communes import embedded_layer
from cpts_geo.domain.codes import CODE_DTYPE, is_insee_code, normalize_codes
from cpts_geo.domain.communes import CheckedCommunes, validate_layer
from cpts_geo.domain.headers import ReadTable
from cpts_geo.domain.history import HISTORY_YEARS, cog_codes, rebase_counts
from cpts_geo.domain.metadata import layer_metadata, set_layer_metadata
from cpts_geo.domain.numbers import parse_numbers, parse_whole_numbers, thousands_notice
from cpts_geo.domain.text import cell_text
from cpts_geo.errors import CptsGeoWarning, ValidationError
from cpts_geo.io._read import read_table

__all__ = [
    "PopulationTable",
    "check_communes",
    "read_communes",
    "with_population",
]


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
    a non-numeric or fractional population. Populations are read as every reader reads them
    (:func:`cpts_geo.domain.numbers.parse_whole_numbers`): ``1 234``, and ``1.234`` as thousands
    where the whole column writes its thousands that way (a warning says so). Invalid
    geometries are repaired with ``shapely.make_valid`` only when ``repair=True``;
    :func:`check_communes` (same parameters) lists the repaired codes and the populations read
    as thousands.

    Parameters
    ----------
    path : str or Path
        The layer file, read by :func:`cpts_geo.io._read.read_table`.
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
    #: Populations written with a dot or comma between thousands (``1.234``) and read as
    #: thousands because the whole column is written that way: ``row``, ``code``, ``given``
    #: (the text of the file), ``population`` (the number read).
    thousands: pd.DataFrame



def _population_column(read: ReadTable, given: str | None, field: str, what: str) -> str:
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
    weights), each reported. A population is a whole number: a column that writes its
    thousands with a dot or comma (``1.234``, ``12.500``) is read as thousands, reported in
    ``thousands`` (:func:`cpts_geo.domain.numbers.parse_whole_numbers`).

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
        Every row with an empty, malformed or duplicated code, or an empty, non-numeric,
        negative or fractional population (``12,5``; ``1.234`` where the column's dot is a
        decimal point), with its row number; codes of two COG vintages that describe the same
        commune twice; a table without any commune row.

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
    read = read_table(table, kind="population")
    frame, source = read.table, ("donné" if read.source == "DataFrame" else read.source)
    code_col = _population_column(read, code, "code", "des codes commune")
    pop_col = _population_column(read, population, "population", "de population")
    std_col = _population_column(read, standardised, "", "de population standardisée") \
        if standardised is not None else None
    if not len(frame):  # an empty table would give every commune an unknown population silently
        raise ValidationError(
            f"Tableau de population {source} vide : aucune ligne de commune sous l'en-tête ; "
            "donnez une ligne par commune (code, population)",
            [{"row": 2, "problem": "aucune ligne de commune sous l'en-tête"}])
    try:
        vintage = int(vintage)
    except (TypeError, ValueError):
        raise ValueError(f"Millésime de population {vintage!r} : donnez une année, ex. 2022.") from None

    rows = np.asarray(read.rows)
    codes, problems = _table_codes(frame[code_col], rows)
    figures = {"population": frame[pop_col]}
    if std_col is not None:
        figures["pop_standardised"] = frame[std_col]
    values, read_as_thousands = _table_figures(figures, rows, codes, problems)
    if problems:
        raise ValidationError(f"Tableau de population {source} refusé", problems)
    if len(read_as_thousands):
        warnings.warn(thousands_notice(f"Tableau de population {source}", read_as_thousands,
                                       "le champ thousands du résultat"), CptsGeoWarning, stacklevel=2)

    data = pd.DataFrame(values)
    data.index = pd.Index(codes.to_numpy(), dtype=CODE_DTYPE, name="code")
    row_of = pd.Series(rows, index=data.index)
    arm_parent = embedded_layer("arrondissements.parquet", 2016)["parent"]
    rebased, report, unused, cog = _rebased_figures(data, row_of, cog, arm_parent, source)

    # Paris, Lyon, Marseille: the layer's units decide; a city figure is never split.
    layer_codes = communes.index
    out_values = _city_figures(rebased, layer_codes, arm_parent, row_of, report, unused)
    _outside_layer(rebased, layer_codes, row_of, report, unused)

    out = communes.copy()
    out["population"] = out_values["population"].round().astype("Int64").array
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
                           unused_frame.sort_values("row", ignore_index=True),
                           read_as_thousands)



def _table_codes(given: pd.Series, rows: np.ndarray) -> tuple[pd.Series, list[dict]]:
    """The cleaned codes of a population table (by position) and the problems of its empty,
    malformed and repeated codes."""
    codes, _ = normalize_codes(given.reset_index(drop=True))
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
    return codes, problems



def _table_figures(figures: dict[str, pd.Series], rows: np.ndarray, codes: pd.Series,
                   problems: list[dict]) -> tuple[dict[str, pd.Series], pd.DataFrame]:
    """The figures of a population table as numbers (the population as whole numbers), their
    problems added to ``problems``; and the populations read as thousands."""
    values = {}
    read_as_thousands = pd.DataFrame({"row": pd.Series(dtype="Int64"), "code": pd.Series(dtype=object),
                                      "given": pd.Series(dtype=object), "population": pd.Series(dtype="Int64")})
    for name, raw in figures.items():
        raw = raw.reset_index(drop=True)
        label = "population" if name == "population" else "population standardisée"
        if name == "population":  # inhabitants: whole numbers, 1.234 is never 1,234 inhabitants
            whole = parse_whole_numbers(raw)
            parsed, unreadable = whole.values, whole.unreadable
            for r, c, v in zip(rows[whole.fractional], codes[whole.fractional], raw[whole.fractional]):
                problems.append({"row": r, "code": c, "problem": (
                    f"population avec une partie décimale : « {v} » ; une population est un nombre "
                    "entier d'habitants (des milliers s'écrivent 1234 ou 1 234)")})
            if whole.thousands.any():
                read_as_thousands = pd.DataFrame({
                    "row": pd.array(rows[whole.thousands], dtype="Int64"),
                    "code": codes[whole.thousands].to_numpy(dtype=object),
                    "given": raw[whole.thousands].astype(str).str.strip().to_numpy(dtype=object),
                    "population": pd.array(parsed[whole.thousands].round(), dtype="Int64")})
        else:
            parsed, unreadable = parse_numbers(raw)
        values[name] = _figure_problems(label, parsed, unreadable, raw, rows, codes, problems)
    return values, read_as_thousands



def _figure_problems(label: str, parsed: np.ndarray, unreadable: np.ndarray, raw: pd.Series,
                     rows: np.ndarray, codes: pd.Series, problems: list[dict]) -> pd.Series:
    """The numbers of one figure of a population table; its empty, non-numeric, negative and
    infinite cells added to ``problems``."""
    num = pd.Series(parsed, dtype="float64")
    blank = (num.isna() & ~unreadable).to_numpy()
    for r, c in zip(rows[blank], codes[blank]):
        problems.append({"row": r, "code": c, "problem": f"{label} vide"})
    for r, c, v in zip(rows[unreadable], codes[unreadable], raw[unreadable]):
        problems.append({"row": r, "code": c, "problem": f"{label} non numérique : {cell_text(v)}"})
    neg = (num < 0).fillna(False).to_numpy()
    for r, c, v in zip(rows[neg], codes[neg], raw[neg]):
        problems.append({"row": r, "code": c, "problem": f"{label} négative : {cell_text(v)}"})
    infinite = np.isinf(num.fillna(0).to_numpy())
    for r, c in zip(rows[infinite], codes[infinite]):
        problems.append({"row": r, "code": c, "problem": f"{label} infinie"})
    return num



def _rebased_figures(data: pd.DataFrame, row_of: pd.Series, cog: int | None, arm_parent: pd.Series,
                     source: str) -> tuple[pd.DataFrame, pd.DataFrame, list[tuple], int]:
    """The figures of a population table re-based onto today's communes: the figures, the
    report of re-based codes (with their rows), the unknown codes (``row``, ``code``,
    ``reason``) and the COG vintage of the table (``cog``, or the one most codes belong to).
    Codes of two vintages describing one commune are refused."""
    is_arm = data.index.isin(arm_parent.index)
    # object labels: pandas' Arrow strings test ``isin`` against a 35 000-code index value by value
    labels = data.index.astype(object)
    if cog is None:
        plain = labels[~is_arm]
        counts = {y: int(plain.isin(cog_codes(y)).sum()) for y in HISTORY_YEARS}
        cog = max(counts, key=lambda y: (counts[y], y))
    of_year = labels.isin(cog_codes(cog)) | is_arm
    integer = ["population"]  # a decimal part was refused above
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
    return rebased, report, unused, cog



def _city_figures(rebased: pd.DataFrame, layer_codes: pd.Index, arm_parent: pd.Series, row_of: pd.Series,
                  report: pd.DataFrame, unused: list[tuple]) -> pd.DataFrame:
    """The figures on the layer's communes: the arrondissements of a city added up when the
    layer has the city and the table gives all of them (reported in ``report``); a city
    figure never split, arrondissements or cities that cannot be used listed in ``unused``
    (both modified in place)."""
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
    return out_values



def _outside_layer(rebased: pd.DataFrame, layer_codes: pd.Index, row_of: pd.Series, report: pd.DataFrame,
                   unused: list[tuple]) -> None:
    """Rows of the table whose commune is not on the layer (another territory), added to
    ``unused`` (those already listed, or added up into their city, left as they are)."""
    consumed = set(report.loc[report["reason"] == "arrondissement additionné à sa commune", "code"])
    flagged = {u[1] for u in unused}
    extra = rebased.index.difference(layer_codes)
    extra = extra[~extra.isin(list(consumed | flagged))]
    from_old = report[report["new_code"].isin(extra)]
    itself = extra[extra.isin(row_of.index) & ~extra.isin(from_old["code"])]
    outside = "commune absente de la couche (autre territoire)"
    unused.extend((row_of[c], c, outside) for c in pd.unique(from_old["code"]))
    unused.extend((row_of[c], c, outside) for c in itself)



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
        ``communes`` (the layer), ``repaired`` (codes whose geometry was repaired) and
        ``thousands`` (populations written ``1.234`` read as thousands: ``row``, ``code``,
        ``given``, ``population``).

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
    path = Path(path)
    raw = read_table(path, layer=layer, geometry=True).table  # several layers: refused, listed
    if not isinstance(raw, gpd.GeoDataFrame):
        raise ValidationError(f"{path.name} : pas de géométries ; donnez la couche des communes en "
                              "GeoPackage, Shapefile, GeoJSON ou GeoParquet.",
                              [{"problem": "aucune géométrie"}])
    return validate_layer(
        raw,
        columns={"code": code, "name": name, "population": population,
                 "department": department, "region": region, "epci": epci},
        population_vintage=population_vintage,
        repair=repair,
        crs=crs,
        source=str(path),
    )
