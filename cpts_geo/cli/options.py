"""What several commands read from their options: the commune layer, the registry, the study area, flows, supply."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from cpts_geo.cli.report import (
    _few,
    _print_report,
    _printable,
    _problems_table,
    _remove_lists,
    _said,
    _write_list,
)
from cpts_geo.domain.french import number, percent

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from cpts_geo.domain.registry import CheckedRegistry, RegistryRead
    from cpts_geo.domain.stages import StageMapping
    from cpts_geo.errors import ValidationError
    from cpts_geo.indicators.supply import SupplyRead


class _TableReading(TypedDict):
    """How to read a user's table: --feuille, --sep, --encodage (``None`` when not given)."""

    sheet: str | None
    sep: str | None
    encoding: str | None


class _Reading(_TableReading):
    """How to read a user's table or layer: also --couche."""

    layer: str | None


def _load_layer(args: argparse.Namespace) -> gpd.GeoDataFrame:
    """All the communes of France (a CPTS may cross a region border), with --population."""
    from cpts_geo.domain.communes import load_communes

    france = load_communes()
    if getattr(args, "population", None):
        france = _own_population(args, france)
    return france


def _own_population(args: argparse.Namespace, communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Replace the layer's population by the table of --population, saying what was done."""
    from cpts_geo.io.communes import with_population

    if not getattr(args, "millesime_population", None):
        raise ValueError("--population : donnez aussi le millésime de ces populations avec "
                         "--millesime-population AAAA (ex. 2022), il est indiqué dans chaque résultat.")
    import warnings

    named = {k: v for k, v in _columns(args).items() if k in ("code", "population")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # every report is printed below
        res = with_population(communes, args.population, vintage=args.millesime_population,
                              cog=getattr(args, "cog_population", None), **named)
    given = int(res.communes["population"].notna().sum())
    print(_printable(f"Population municipale {res.vintage} lue dans {args.population} (codes du COG {res.cog}) : "
                     f"{number(given)} communes renseignées."))
    if len(res.thousands):
        examples = ("ligne " + res.thousands["row"].astype(str) + " « " + res.thousands["given"]
                    + " » = " + res.thousands["population"].map(number))
        print(f"  {number(len(res.thousands))} population(s) écrite(s) avec un séparateur de milliers "
              f"(« . » ou « , »), lue(s) en milliers comme toute la colonne : {_few(examples)}.")
    if len(res.remapped):
        print(f"  {number(res.remapped['code'].nunique())} code(s) d'un autre millésime ramené(s) au "
              f"COG 2025, ex. {_few(res.remapped['code'] + ' → ' + res.remapped['new_code'])}.")
    if len(res.missing):
        print(f"  {number(len(res.missing))} commune(s) de la couche absente(s) du tableau, sans "
              f"population : {_few(res.missing['code'] + ' ' + res.missing['name'].fillna(''))}.")
    if len(res.unused):
        for reason, rows in res.unused.groupby("reason", sort=False):
            print(f"  {number(len(rows))} ligne(s) non utilisée(s) ({reason}) : lignes "
                  f"{_few(rows['row'].astype(str))}.")
    return res.communes


def _read_any_registry(args: argparse.Namespace, communes: gpd.GeoDataFrame) -> RegistryRead:
    """Read REGISTRY (a table of (CPTS, commune) rows, or CPTS polygons) as a RegistryRead."""
    from cpts_geo.io.registry import example_registry, read_registry_report

    if args.registry in (None, "exemple"):
        example = example_registry()
        print(example.note)
        return example
    path = Path(args.registry)
    options = _reading(args)
    if path.suffix.lower() in (".gpkg", ".shp", ".geojson", ".json"):
        from cpts_geo.io import read_table

        options["layer"] = read_table(path, layer=options["layer"]).layer  # several layers: --couche
        if _drawn(path, options["layer"]):
            return _registry_of_perimeters(args, path, options["layer"], communes)
    read = read_registry_report(path, columns=_columns_for(args, "registry"), **options)
    _said("Registre", read.reading)
    _said_columns(read)
    return read


def _drawn(path: Path, layer: str | None) -> bool:
    """Whether a layer holds CPTS drawn as polygons (without a commune code column), rather than
    a registry's rows."""
    import pyogrio

    from cpts_geo.domain.registry import recognise_column

    info = pyogrio.read_info(path, layer=layer)
    if not (info.get("geometry_type") and "Polygon" in str(info["geometry_type"])):
        return False
    return "commune_code" not in {recognise_column(f) for f in info["fields"]}


def _registry_of_perimeters(args: argparse.Namespace, path: Path, layer: str | None,
                            communes: gpd.GeoDataFrame) -> RegistryRead:
    """The registry of drawn perimeters (a commune in the CPTS covering at least half of it);
    the perimeters without a commune and the communes cut between several are said."""
    import warnings

    from cpts_geo.domain.registry import RegistryRead, registry_from_perimeters
    from cpts_geo.io.registry import read_perimeters

    perimeters = read_perimeters(path, layer=layer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        reg, cut, without, _ = registry_from_perimeters(perimeters, _under(perimeters, communes),
                                                        columns=_columns_for(args, "registry"))
    print(f"Périmètres dessinés : {reg['cpts_id'].nunique()} CPTS, "
          f"{len(reg)} communes rattachées (≥ 50 % de leur surface).")
    if len(without):
        print(f"Périmètres sans aucune commune ({len(without)}, ils ne couvrent la moitié "
              "d'aucune commune) :")
        for rec in without.itertuples(index=False):
            if rec.largest_share == rec.largest_share:  # not NaN
                print(_printable(f"  - entité {rec.row}, {rec.cpts_id} : au plus "
                                 f"{percent(rec.largest_share, 1)} d'une commune ({rec.code})"))
            else:
                print(_printable(f"  - entité {rec.row}, {rec.cpts_id} : ne touche aucune commune"))
    if len(cut):
        print(f"Communes coupées entre plusieurs périmètres ({len(cut)}) :")
        for rec in cut.itertuples(index=False):
            print(f"  - {rec.code} {rec.name} : {rec.shares}")
    return RegistryRead(reg, source=path.name, reading=f"couche « {layer} »" if layer else "",
                        recognised={})


def _under(perimeters: gpd.GeoDataFrame, communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The communes drawn perimeters can touch: those whose bounding box meets a perimeter's
    (all of France spans several metric CRS, which the overlay of perimeters cannot use).
    Perimeters without CRS or geometry are left to :func:`registry_from_perimeters` to refuse."""
    geoms = perimeters.geometry
    if perimeters.crs is None or communes.crs is None:
        return communes
    drawn = geoms[geoms.notna() & ~geoms.is_empty]
    if not len(drawn):
        return communes
    drawn = drawn.to_crs(communes.crs)
    _, hit = communes.sindex.query(drawn.to_numpy(), predicate=None)  # bounding boxes only
    return communes.iloc[sorted(set(hit.tolist()))]


def _said_columns(read: RegistryRead) -> None:
    """The columns read for cities below the commune, and the columns ignored: said before any
    check, so that a user sees them whether the registry is valid or not."""
    given = {field: _printable(header) for header, field in read.recognised.items()}
    if "arrondissement_code" in given:
        print(f"Colonne « {given['arrondissement_code']} » lue : arrondissements municipaux (Paris, Lyon, "
              "Marseille) donnés à côté du code de leur ville.")
    if "iris_code" in given:
        print(f"Colonne « {given['iris_code']} » lue : IRIS, les parts des communes partagées sont calculées "
              "avec la population 2021 des IRIS (INSEE).")
    if read.ignored:
        print(_printable(f"Colonnes ignorées : {', '.join(read.ignored)}"))


def _validated(args: argparse.Namespace, reg: RegistryRead, communes: gpd.GeoDataFrame) -> CheckedRegistry:
    """validate_registry for the CLI: on failure, the complete list of problems is written next
    to the registry (``<registre>_problemes.csv``; ``_problemes_2.csv``… when a file of that name
    is not ours, which is left as it is), and for stage wordings it does not know, the mapping
    file to fill (``<registre>_etapes.csv``, never over an existing file); the error says where.
    Once the registry is valid, our list of its problems is removed (it is stale). The
    registry's own stage vocabulary is said."""
    import warnings

    from cpts_geo.domain.registry import validate_registry
    from cpts_geo.domain.stages import vocabulary_note
    from cpts_geo.errors import ValidationError
    from cpts_geo.io.formats import os_reason

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the report printed afterwards lists every repair
            checked = validate_registry(reg, communes, passage=_passage(args),
                                        stage_default=getattr(args, "etape", None), stages=_stages(args))
    except ValidationError as err:
        if args.registry not in (None, "exemple") and "://" not in str(args.registry) and len(err.problems):
            source = Path(args.registry)
            try:
                err.problems_file, err.problems_file_kept = _write_list(
                    _problems_table(err.problems), source, "problemes")
            except OSError as os_err:
                err.problems_file_error = f"{source.with_name(source.stem + '_problemes.csv')} : {os_reason(os_err)}"
            _stage_template(err, source)
        raise
    for old in _remove_lists(args.registry, "problemes"):
        print(_printable(f"Ancienne liste des problèmes supprimée : {old} (le registre est valide)."))
    filled = checked.report["kind"] == "étape remplie"
    if filled.any():
        print(f"Étape « {args.etape} » donnée aux CPTS sans étape : {number(int(filled.sum()))} "
              "ligne(s) remplie(s).")
    note = vocabulary_note(checked.vocabulary)
    if note:
        print(_printable(note))
    return checked


def _stage_template(err: ValidationError, source: Path) -> None:
    """Write the stage mapping to fill for the unknown wordings of ``err`` beside ``source``
    (``<registre>_etapes.csv``), unless a file is already there (it may be the user's)."""
    from cpts_geo.io.registry import write_stage_template

    problems = err.problems
    if "wording" not in problems.columns:
        return
    words = problems[problems["wording"].notna()]
    if not len(words):
        return
    target = source.with_name(f"{source.stem}_etapes.csv")
    unknown = list(zip(words["wording"], words["closest"].where(words["closest"].notna(), None)))
    if target.exists():
        err.mapping_file_exists = target
        return
    try:
        err.mapping_file = write_stage_template(target, unknown)
    except OSError as os_err:
        from cpts_geo.io.formats import os_reason

        err.mapping_file_error = f"{target} : {os_reason(os_err)}"


def _columns(args: argparse.Namespace) -> dict[str, str]:
    """--colonnes « champ=en-tête,… » read once: ``{field: header}``.

    Each field must be one of the tables the command reads (``args.colonnes_kinds``); a header
    may hold commas when the next part does not look like ``champ=``.
    """
    import re

    given = getattr(args, "colonnes", None)
    if given is None:
        return {}
    if isinstance(given, dict):
        return given
    from cpts_geo.domain.headers import SYNONYMS

    kinds = getattr(args, "colonnes_kinds", ("registry",))
    fields = {f for k in kinds for f in SYNONYMS[k]}
    out: dict[str, str] = {}
    problems = []
    for part in re.split(r",(?=\s*[A-Za-z_]+\s*=)", given):
        if not part.strip():
            continue
        field, sep, header = part.partition("=")
        field, header = field.strip(), header.strip()
        if not sep or not field or not header:
            problems.append(f"« {part.strip()} » : attendu champ=en-tête")
        elif field not in fields:
            problems.append(f"« {field} » n'est pas une colonne de ce que lit la commande")
        elif field in out and out[field] != header:
            problems.append(f"« {field} » donné deux fois ({out[field]} / {header})")
        else:
            out[field] = header
    if problems:
        raise ValueError("--colonnes : " + " ; ".join(problems) + ". Syntaxe : --colonnes "
                         "\"cpts_id=N° CPTS,commune_code=Code INSEE\" ; colonnes possibles : "
                         + ", ".join(sorted(fields)) + ".")
    args.colonnes = out
    return out


def _columns_for(args: argparse.Namespace, kind: str) -> dict[str, str]:
    """The ``columns=`` of the readers (``{header: field}``) for one kind of table."""
    from cpts_geo.domain.headers import SYNONYMS

    return {header: field for field, header in _columns(args).items() if field in SYNONYMS[kind]}


def _stages(args: argparse.Namespace) -> StageMapping | None:
    """The stage mapping of --etapes, read once (``None`` without it)."""
    given = getattr(args, "etapes", None)
    if given is None or not isinstance(given, str):
        return given
    from cpts_geo.io.registry import read_stage_mapping

    args.etapes = read_stage_mapping(given)
    print(_printable(f"Correspondance des étapes lue dans {given} : {number(len(args.etapes.entries))} "
                     "libellé(s)."))
    return args.etapes


def _area_departments(args: argparse.Namespace) -> set[str] | None:
    """The departments of --region/--departements (None when neither is given)."""
    if not (getattr(args, "region", None) or getattr(args, "departments", None)):
        return None
    from cpts_geo.domain.communes import load_communes

    return set(load_communes(region=args.region, departments=args.departments, crs=None)["department"])


def _study_area(args: argparse.Namespace, checked: CheckedRegistry,
                communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The communes studied: those of --region/--departements and the whole of every CPTS
    kept by :func:`_crossing` (a CPTS crossing the border is built whole); or else the
    departments the registry touches."""
    from cpts_geo.domain.codes import city_of, is_in

    deps = _area_departments(args)
    member = checked.membership
    if deps is None:
        deps = set(communes.loc[is_in(communes.index, member["code"]), "department"])
        return communes[is_in(communes["department"], deps)]
    codes = set(member["code"])  # _crossing kept only the CPTS with a commune in the area
    codes |= set(city_of(sorted(codes)))  # a city given by arrondissement: the city too
    return communes[is_in(communes["department"], deps) | is_in(communes.index, codes)]


def _in_area(args: argparse.Namespace, communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The communes of --region/--departements (all of ``communes`` when neither is given)."""
    deps = _area_departments(args)
    return communes if deps is None else communes[communes["department"].isin(deps)]


def _crossing(args: argparse.Namespace, checked: CheckedRegistry,
              communes: gpd.GeoDataFrame) -> CheckedRegistry:
    """Keep the CPTS that have a commune in --region/--departements; say which cross its border."""
    import pandas as pd

    from cpts_geo.domain.codes import department_of

    deps = _area_departments(args)
    if deps is None:
        return checked
    member = checked.membership
    dep = department_of(member["code"])
    inside = dep.isin(deps).to_numpy()
    touching = pd.Index(pd.unique(member.loc[inside, "cpts_id"]))
    outside = checked.cpts.index.difference(touching)
    if len(outside):
        print(f"{number(len(outside))} CPTS du registre sans commune dans la zone demandée, laissée(s) "
              f"de côté : {_few(outside)}.")
    beyond = member[~inside & member["cpts_id"].isin(touching)]
    if len(beyond):
        region_of = communes.groupby("department")["region"].first()
        print(f"CPTS à cheval sur la limite de la zone demandée, construites en entier "
              f"({number(beyond['cpts_id'].nunique())}) :")
        for cid, rows in beyond.groupby("cpts_id", sort=True):
            others = sorted(set(department_of(rows["code"])))
            regions = sorted(set(region_of.reindex(others).dropna()))
            name = checked.cpts.at[cid, "name"] if "name" in checked.cpts else ""
            print(f"  - {cid} {name if isinstance(name, str) else ''} : {number(len(rows))} commune(s) hors "
                  f"zone (département(s) {', '.join(others)}, région(s) {', '.join(regions)})")
    if not len(outside):
        return checked
    return checked._replace(membership=member[member["cpts_id"].isin(touching)].reset_index(drop=True),
                            cpts=checked.cpts.loc[touching.intersection(checked.cpts.index)])


def _same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name the same file (``False`` when one cannot be resolved)."""
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def _registry_date(args: argparse.Namespace) -> str | None:
    """The date of the registry file (its last modification), for the layers' metadata."""
    import datetime

    reg = getattr(args, "registry", None)
    if reg in (None, "exemple") or "://" in str(reg) or not Path(reg).exists():
        return None
    stamp = Path(reg).stat().st_mtime
    return datetime.datetime.fromtimestamp(stamp, tz=datetime.timezone.utc).date().isoformat()


def _outputs_first(*paths: str | Path, tables: Iterable[str | Path] = ()) -> None:
    """Check the outputs before any computing: a table's extension (.csv or .xlsx), and that
    every folder can be written (one French line and exit code 1 otherwise)."""
    from cpts_geo.io.formats import check_writable, table_format

    for path in tables:
        table_format(path)
    check_writable(*paths, *tables)


def _flow_reading(args: argparse.Namespace) -> _TableReading:
    """--feuille, --sep, --encodage for a flow table (its reader has no layer)."""
    return {"sheet": getattr(args, "feuille", None), "sep": getattr(args, "sep", None),
            "encoding": getattr(args, "encodage", None)}


def _read_flow_table(args: argparse.Namespace, membership: pd.DataFrame | None,
                     out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read FLUX (table or MOBPRO), keep the chosen profession/year, map codes to today's
    communes (arrondissements kept where ``membership`` uses them); the code report is written
    to ``<output>_codes`` and summed up on screen. Returns the flow table and the report."""
    import warnings

    from cpts_geo.indicators import flows as F
    from cpts_geo.io import flows as flows_io

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # every repair is in <output>_codes, summed up below
        raw = flows_io.read_mobpro(args.flows) if args.mobpro else flows_io.read_flows(
            args.flows, columns=_columns_for(args, "flows") or None, **_flow_reading(args))
        raw = F.select_flows(raw, profession=args.profession, year=args.annee)
        prepared = F.prepare_flows(raw, passage=_passage(args), membership=membership)
    _said("Fichier des flux", raw.reading)
    codes = F.code_report(raw, prepared)  # repaired, remapped, unknown: file rows and volumes
    codes_path = (flows_io.write_flow_table(codes, out.with_name(out.stem + "_codes" + out.suffix),
                                     threshold=None) if len(codes) else None)
    print("\n".join(F.reading_summary(raw, prepared, codes_path=codes_path)))
    return prepared.flows, prepared.report


#: How the commands name the columns of a generic supply table (in messages).
_SUPPLY_OPTIONS = {"code": "--code", "profession": "--profession", "count": "--effectif"}


def _read_supply(args: argparse.Namespace, communes: gpd.GeoDataFrame) -> SupplyRead:
    """Read PROFESSIONNELS (:func:`cpts_geo.io.supply.read_supply`) and say how it was read."""
    from cpts_geo.io.supply import read_supply

    options = _flow_reading(args)  # a supply table has no layer
    columns = {key: getattr(args, name, None) for key, name in
               (("code", "code"), ("profession", "profession"), ("count", "effectif"))}
    for key, header in _columns(args).items():
        if key in columns:
            if columns[key] is not None and columns[key] != header:
                raise ValueError(f"--colonnes {key}={header} et {_SUPPLY_OPTIONS[key]} {columns[key]} "
                                 "se contredisent : donnez l'une ou l'autre.")
            columns[key] = header
    columns["format"] = getattr(args, "format", None)
    read = read_supply(args.supply, communes=communes, passage=_passage(args), unknown="report",
                       names=_SUPPLY_OPTIONS, **{k: v for k, v in columns.items() if v is not None},
                       **options)
    _said("Fichier des professionnels", read.reading)
    return read


def _checked_for_maps(args: argparse.Namespace) -> tuple[CheckedRegistry, bool, gpd.GeoDataFrame]:
    """The registry of a map command checked on all the communes of France (its corrections printed):
    the checked registry, whether it is the illustrative one, and the communes."""
    france = _load_layer(args)
    reg = _read_any_registry(args, france)
    checked = _validated(args, reg, france)
    _print_report(checked.report, registry=args.registry)
    return checked, reg.illustrative, france


def _decimal(text: str) -> float:
    """A number given on the command line, with a decimal comma or point (0,65 or 0.65)."""
    from cpts_geo.domain.numbers import parse_number

    try:
        value = parse_number(text)
    except ValueError:
        value = float("nan")
    if value != value:  # empty or unreadable
        raise argparse.ArgumentTypeError(f"nombre attendu, pas {text!r}")
    return value


def _dpi(text: str) -> int:
    """--dpi: a resolution a print map can be drawn at (checked before anything is read or
    written; :func:`cpts_geo.render.plotting.check_dpi` sets the bounds)."""
    from cpts_geo.render.plotting import check_dpi

    try:
        return check_dpi(text.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _reading(args: argparse.Namespace) -> _Reading:
    """How to read the user's tables: --feuille, --couche, --sep, --encodage."""
    return {**_flow_reading(args), "layer": getattr(args, "couche", None)}


def _check(args: argparse.Namespace) -> tuple[RegistryRead, CheckedRegistry, gpd.GeoDataFrame]:
    """REGISTRE read, checked on all the communes of France and kept to the CPTS of the area asked:
    the registry as read, the checked registry and the communes."""
    communes = _load_layer(args)
    reg = _read_any_registry(args, communes)
    checked = _validated(args, reg, communes)
    checked = _crossing(args, checked, communes)
    return reg, checked, communes


def _passage(args: argparse.Namespace) -> dict[str, set[str]] | None:
    """The passage table of --passage, read once (``None`` without it)."""
    given = getattr(args, "passage", None)
    if given is None or isinstance(given, dict):
        return given
    from cpts_geo.io.history import read_passage_table

    args.passage = read_passage_table(given)
    return args.passage
