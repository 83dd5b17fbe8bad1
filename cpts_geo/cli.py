"""Command line: ``cpts-geo``, a thin layer over the library.

Each sub-command is a function ``_cmd_<name>(args) -> int``; messages are in French.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from cpts_geo._french import number, percent, write_csv

__all__ = ["main"]


def _decimal(text: str) -> float:
    """A number given on the command line, with a decimal comma or point (0,65 or 0.65)."""
    from cpts_geo.io import parse_number

    try:
        value = parse_number(text)
    except ValueError:
        value = float("nan")
    if value != value:  # empty or unreadable
        raise argparse.ArgumentTypeError(f"nombre attendu, pas {text!r}")
    return value


def _reading(args: argparse.Namespace) -> dict:
    """How to read the user's tables: --feuille, --couche, --sep, --encodage."""
    return {"sheet": getattr(args, "feuille", None), "layer": getattr(args, "couche", None),
            "sep": getattr(args, "sep", None), "encoding": getattr(args, "encodage", None)}


def _said(what: str, read: str | None) -> None:
    """Tell how a file was read: « Registre lu : feuille « CPTS », encodage … »."""
    if read:
        print(f"{what} lu : {read}.")


def _cmd_communes(args: argparse.Namespace) -> int:
    from cpts_geo.communes import layer_metadata, layer_report, load_communes

    communes = load_communes(region=args.region, departments=args.departments)
    where = f"région {args.region}" if args.region else "France entière"
    if args.departments:
        where += f", départements {', '.join(args.departments)}"
    pop = communes["population"]
    print(f"Communes ({where}) : {number(len(communes))}")
    meta = layer_metadata(communes)
    print(f"Population municipale {meta.population_vintage} : {number(pop.sum())}")
    print(f"Code officiel géographique : {meta.cog_vintage}")
    print(f"Source : {meta.source}")
    report = layer_report(communes)
    if len(report):
        print(f"Problèmes connus de la couche ({len(report)}) :")
        for rec in report.itertuples(index=False):
            print(f"  - {rec.code} {rec.name} : {rec.problem}")
    else:
        print("Problèmes connus de la couche : aucun")
    return 0


def _load_layer(args: argparse.Namespace):
    """All the communes of France (a CPTS may cross a region border), with --population."""
    from cpts_geo.communes import load_communes

    france = load_communes()
    if getattr(args, "population", None):
        france = _own_population(args, france)
    return france


def _own_population(args: argparse.Namespace, communes):
    """Replace the layer's population by the table of --population, saying what was done."""
    from cpts_geo.communes import with_population

    if not getattr(args, "millesime_population", None):
        raise ValueError("--population : donnez aussi le millésime de ces populations avec "
                         "--millesime-population AAAA (ex. 2022), il est indiqué dans chaque résultat.")
    res = with_population(communes, args.population, vintage=args.millesime_population,
                          cog=getattr(args, "cog_population", None))
    given = int(res.communes["population"].notna().sum())
    print(f"Population municipale {res.vintage} lue dans {args.population} (codes du COG {res.cog}) : "
          f"{number(given)} communes renseignées.")
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


def _few(values, n: int = 5) -> str:
    values = [str(v).strip() for v in values]
    return ", ".join(values[:n]) + (f" … ({number(len(values))} en tout)" if len(values) > n else "")


def _read_any_registry(args: argparse.Namespace, communes):
    """Read REGISTRY (a table of (CPTS, commune) rows, or CPTS polygons) as a RegistryRead."""
    from pathlib import Path

    from cpts_geo.registry import RegistryRead, read_perimeters, read_registry_report, registry_from_perimeters
    from cpts_geo.territories import example_registry

    if args.registry in (None, "exemple"):
        example = example_registry()
        print(example.note)
        return example
    path = Path(args.registry)
    options = _reading(args)
    if path.suffix.lower() in (".gpkg", ".shp", ".geojson", ".json"):
        import pyogrio

        from cpts_geo.io import read_table

        layer = read_table(path, layer=options["layer"]).layer  # several layers: --couche
        info = pyogrio.read_info(path, layer=layer)
        if info.get("geometry_type") and "Polygon" in str(info["geometry_type"]):
            from cpts_geo.registry import recognise_column

            if "commune_code" not in {recognise_column(f) for f in info["fields"]}:
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    reg, cut, without, _ = registry_from_perimeters(read_perimeters(path, layer=layer),
                                                                    communes)
                print(f"Périmètres dessinés : {reg['cpts_id'].nunique()} CPTS, "
                      f"{len(reg)} communes rattachées (≥ 50 % de leur surface).")
                if len(without):
                    print(f"Périmètres sans aucune commune ({len(without)}, ils ne couvrent la moitié "
                          "d'aucune commune) :")
                    for rec in without.itertuples(index=False):
                        print(f"  - entité {rec.row}, {rec.cpts_id} : au plus {percent(rec.largest_share, 1)} "
                              f"d'une commune ({rec.code})")
                if len(cut):
                    print(f"Communes coupées entre plusieurs périmètres ({len(cut)}) :")
                    for rec in cut.itertuples(index=False):
                        print(f"  - {rec.code} {rec.name} : {rec.shares}")
                return RegistryRead(reg, source=path.name, reading=f"couche « {layer} »" if layer else "",
                                    recognised={})
        options["layer"] = layer
    read = read_registry_report(path, **options)
    _said("Registre", read.reading)
    return read


def _validated(args: argparse.Namespace, reg, communes):
    """validate_registry for the CLI: on failure, the complete list of problems is written next
    to the registry (``<registre>_problemes.csv``) and the error says where."""
    import warnings
    from pathlib import Path

    from cpts_geo.errors import ValidationError
    from cpts_geo.registry import validate_registry

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the report printed afterwards lists every repair
            checked = validate_registry(reg, communes, passage=args.passage,
                                        stage_default=getattr(args, "etape", None))
    except ValidationError as err:
        if args.registry not in (None, "exemple") and len(err.problems):
            source = Path(args.registry)
            target = source.with_name(f"{source.stem}_problemes.csv")
            try:
                write_csv(_problems_table(err.problems), target, index=False)
                err.problems_file = target
            except OSError as os_err:
                err.problems_file_error = f"{target} : {os_err.strerror or os_err}"
        raise
    filled = checked.report["reason"].astype(str).str.startswith("étape non renseignée remplie")
    if filled.any():
        print(f"Étape « {args.etape} » donnée aux CPTS sans étape : {number(int(filled.sum()))} "
              "ligne(s) remplie(s).")
    return checked


def _problems_table(problems):
    """The problems of a ValidationError with French headers, for the problems file."""
    table = problems.copy()
    if "kind" not in table:
        table["kind"] = ""
    table = table[["row", "code", "kind", "problem"]]
    return table.rename(columns={"row": "Ligne(s)", "code": "Code commune", "kind": "Type",
                                 "problem": "Problème"})


def _print_problems(err, *, per_kind: int = 5) -> None:
    """A ValidationError for a CLI user: the count per kind, the first problems of each kind,
    and where the complete list was written."""
    problems = err.problems
    print(f"Erreur : {err.summary}", file=sys.stderr)
    if not len(problems):
        return
    import pandas as pd

    kinds = problems["kind"].fillna("") if "kind" in problems.columns else pd.Series("", index=problems.index)
    print(f"{number(len(problems))} problème(s) :", file=sys.stderr)
    for kind, grp in problems.groupby(kinds.to_numpy(), sort=False):
        if kind:
            print(f"{kind} : {number(len(grp))}", file=sys.stderr)
        for rec in grp.head(per_kind).itertuples(index=False):
            where = []
            if isinstance(rec.row, str) or not _missing(rec.row):
                where.append(f"{'lignes' if isinstance(rec.row, str) and ',' in rec.row else 'ligne'} {rec.row}")
            if not _missing(rec.code):
                where.append(f"code {rec.code}")
            prefix = ", ".join(where)
            print(f"  - {prefix + ' : ' if prefix else ''}{rec.problem}", file=sys.stderr)
        if len(grp) > per_kind:
            print(f"  … et {number(len(grp) - per_kind)} autre(s)", file=sys.stderr)
    if err.problems_file:
        print(f"Liste complète des problèmes : {err.problems_file}", file=sys.stderr)
    elif err.problems_file_error:
        print(f"Liste complète des problèmes non écrite ({err.problems_file_error}).", file=sys.stderr)


def _missing(value) -> bool:
    import pandas as pd

    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _check(args: argparse.Namespace):
    communes = _load_layer(args)
    reg = _read_any_registry(args, communes)
    checked = _validated(args, reg, communes)
    checked = _crossing(args, checked, communes)
    return reg, checked, communes


def _area_departments(args: argparse.Namespace) -> set[str] | None:
    """The departments of --region/--departements (None when neither is given)."""
    if not (getattr(args, "region", None) or getattr(args, "departments", None)):
        return None
    from cpts_geo.communes import load_communes

    return set(load_communes(region=args.region, departments=args.departments, crs=None)["department"])


def _study_area(args: argparse.Namespace, checked, communes):
    """The communes studied: those of --region/--departements and the whole of every CPTS
    kept by :func:`_crossing` (a CPTS crossing the border is built whole); or else the
    departments the registry touches."""
    from cpts_geo._arrow import is_in
    from cpts_geo.communes import city_of

    deps = _area_departments(args)
    member = checked.membership
    if deps is None:
        deps = set(communes.loc[is_in(communes.index, member["code"]), "department"])
        return communes[is_in(communes["department"], deps)]
    codes = set(member["code"])  # _crossing kept only the CPTS with a commune in the area
    codes |= set(city_of(sorted(codes)))  # a city given by arrondissement: the city too
    return communes[is_in(communes["department"], deps) | is_in(communes.index, codes)]


def _in_area(args: argparse.Namespace, communes):
    """The communes of --region/--departements (all of ``communes`` when neither is given)."""
    deps = _area_departments(args)
    return communes if deps is None else communes[communes["department"].isin(deps)]


def _crossing(args: argparse.Namespace, checked, communes):
    """Keep the CPTS that have a commune in --region/--departements; say which cross its border."""
    import pandas as pd

    from cpts_geo.communes import department_of

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


def _correction_kind(reason: str) -> str:
    """The kind of a correction: its reason without the CPTS, codes or values it names."""
    import re

    kind = re.sub(r" (?:dans la CPTS|que) .*$", "", str(reason))
    kind = re.sub(r"\s*(?:\(.*\)|:.*)$", "", kind)
    return re.sub(r"^part \S+ déclarée.*", "part déclarée pour une seule CPTS", kind)


def _print_report(report, *, registry=None, limit: int = 20, per_kind: int = 3) -> None:
    """The corrections applied: every line when there are few; else the count per kind with a few
    examples, and the complete list next to the registry (``<registre>_corrections.csv``)."""
    from pathlib import Path

    if not len(report):
        return
    print(f"Corrections appliquées ({number(len(report))}) :")

    def line(rec) -> str:
        name = f" {rec.name}" if isinstance(rec.name, str) else ""
        new = f" → {rec.new_code}" if isinstance(rec.new_code, str) and rec.new_code != rec.code else ""
        code = "" if _missing(rec.code) else f"{rec.code}"
        return f"ligne {rec.row} : {code}{name}{new} ({rec.reason})"

    if len(report) <= limit:
        for rec in report.itertuples(index=False):
            print(f"  - {line(rec)}")
        return
    kinds = report["reason"].map(_correction_kind)
    for kind, grp in report.groupby(kinds.to_numpy(), sort=False):
        print(f"  {kind} : {number(len(grp))} ligne(s)")
        for rec in grp.head(per_kind).itertuples(index=False):
            print(f"    - {line(rec)}")
        if len(grp) > per_kind:
            print(f"    … et {number(len(grp) - per_kind)} autre(s)")
    if registry not in (None, "exemple"):
        source = Path(registry)
        target = source.with_name(f"{source.stem}_corrections.csv")
        table = report.rename(columns={"row": "Ligne", "code": "Code donné", "new_code": "Code retenu",
                                       "name": "Nom", "new_name": "Nouveau nom", "reason": "Correction"})
        try:
            write_csv(table, target, index=False)
            print(f"Liste complète des corrections : {target}")
        except OSError as err:
            print(f"Liste complète des corrections non écrite ({target} : {err.strerror or err}).")


def _cmd_validate(args: argparse.Namespace) -> int:
    reg, checked, _ = _check(args)
    m = checked.membership
    print(f"Registre valide : {len(checked.cpts)} CPTS, {m['code'].nunique()} communes, "
          f"{len(reg.registry)} lignes lues.")
    if reg.ignored:
        print(f"Colonnes ignorées : {', '.join(reg.ignored)}")
    _print_report(checked.report, registry=args.registry)
    return 0


def _same_file(a, b) -> bool:
    from pathlib import Path

    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def _registry_date(args: argparse.Namespace) -> str | None:
    """The date of the registry file (its last modification), for the layers' metadata."""
    import datetime
    from pathlib import Path

    reg = getattr(args, "registry", None)
    if reg in (None, "exemple") or "://" in str(reg) or not Path(reg).exists():
        return None
    stamp = Path(reg).stat().st_mtime
    return datetime.datetime.fromtimestamp(stamp, tz=datetime.timezone.utc).date().isoformat()


def _outputs_first(*paths, tables=()) -> None:
    """Check the outputs before any computing: a table's extension (.csv or .xlsx), and that
    every folder can be written (one French line and exit code 1 otherwise)."""
    from cpts_geo.outputs import check_writable, table_format

    for path in tables:
        table_format(path)
    check_writable(*paths, *tables)


def _cmd_territories(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cpts_geo.outputs import check_writable, layer_format, table_format, write_layers, write_table
    from cpts_geo.territories import (
        build_territories,
        communes_with_cpts,
        coverage,
        population_headers,
        summary_table,
    )

    # every output checked before any computing: extension, input not overwritten, folder writable
    out = Path(args.output)
    ext = out.suffix.lower()
    try:
        layer_format(out)
    except ValueError as err:
        hint = (" Pour un tableau seulement, utilisez --tableau FICHIER.xlsx (ou .csv)."
                if ext in (".csv", ".xlsx") else "")
        raise ValueError(f"{err}{hint}") from None
    table_path = Path(args.tableau) if args.tableau else out.with_suffix(".csv")
    table_format(table_path)
    for path in (out, table_path):
        if args.registry and _same_file(path, args.registry):
            raise ValueError(f"{path} est le registre lu : choisissez un autre nom de sortie.")
    check_writable(out, table_path)
    if args.postgis:
        from cpts_geo.outputs import _engine

        _engine(args.postgis).dispose()  # can we connect? said before the computing

    _, checked, communes = _check(args)
    communes = _study_area(args, checked, communes)
    layer = communes_with_cpts(checked, communes)
    terr = build_territories(checked, communes)
    written = write_layers(out, terr, layer, crs=args.crs, registry=Path(args.registry).name
                           if args.registry not in (None, "exemple") else "registre illustratif",
                           registry_date=_registry_date(args), shapefile=True)
    if table_path.suffix.lower() == ".xlsx":
        blank = layer[~layer["covered"]]
        sheets = {"territoires": summary_table(terr),
                  "communes": _commune_table(layer),
                  "zones blanches": _commune_table(blank, covered=False),
                  "problèmes": _report_table(checked.report)}
        write_table(sheets, table_path)
    else:
        write_table(summary_table(terr), table_path, index=False)
    plural = "s" if len(terr) > 1 else ""
    names = ", ".join(written.layers)
    where = ", ".join(str(p) for p in written.paths)
    print(f"{len(terr)} territoire{plural} écrit{plural} dans {where} (couches {names}) et "
          f"{table_path}.")
    print(written.note)
    if ext == ".shp":
        print("Shapefile : noms de champs de 10 caractères au plus (voir le README, « Sorties »).")
    if args.postgis:
        from cpts_geo.outputs import write_postgis

        rows = write_postgis(args.postgis, terr, layer, schema=args.schema, replace=args.remplacer,
                             membership=checked.membership)
        print(f"PostGIS : schéma {args.schema}, {number(rows['cpts'])} CPTS, {number(rows['communes'])} "
              f"communes, {number(rows['appartenance'])} lignes d'appartenance (EPSG:{rows['srid']}).")
    cov = coverage(checked, _in_area(args, communes))  # zones blanches: the area asked for only
    table = cov.copy()
    for col in ("n_cpts", "n_communes", "population"):
        table[col] = table[col].map(number)
    table["share_population"] = table["share_population"].map(percent)
    table = table.rename(columns=population_headers(communes))
    table.index.name = "Étape"
    print(table.to_string())
    several = terr[~terr["single_part"]]
    if len(several):
        print(f"Territoires en plusieurs morceaux ({len(several)}) :")
        for cid, rec in several.iterrows():
            print(f"  - {cid} {rec['name']} : {rec['parts']}")
    _print_report(checked.report, registry=args.registry)
    return 0


def _commune_table(layer, *, covered: bool = True):
    """The commune layer as a table with French headers (codes as text)."""
    import pandas as pd

    from cpts_geo.territories import FRENCH_HEADERS

    cols = ["name", "population", "department", "region", "epci_name"]
    if covered:
        cols += ["cpts_id", "cpts_name", "stage", "share", "cpts_all"]
    table = pd.DataFrame(layer[[c for c in cols if c in layer.columns]]).copy()
    if "stage" in table:
        table["stage"] = table["stage"].astype("string")
    table.index = table.index.rename("code")
    headers = {**FRENCH_HEADERS, "department": "Département", "region": "Région",
               "epci_name": "EPCI", "cpts_id": "Identifiant CPTS"}
    return table.reset_index().rename(columns=headers)


def _report_table(report):
    """The corrections of a registry with French headers."""
    headers = {"row": "Ligne", "code": "Code donné", "new_code": "Code actuel", "name": "Nom",
               "new_name": "Nom actuel", "reason": "Motif"}
    return report[[c for c in headers if c in report.columns]].rename(columns=headers)


def _flow_reading(args: argparse.Namespace) -> dict:
    """--feuille, --sep, --encodage for a flow table (its reader has no layer)."""
    options = _reading(args)
    options.pop("layer")
    return options


def _read_flow_table(args: argparse.Namespace, membership, out):
    """Read FLUX (table or MOBPRO), keep the chosen profession/year, map codes to today's
    communes (arrondissements kept where ``membership`` uses them); the code report is written
    to ``<output>_codes`` and summed up on screen. Returns the flow table and the report."""
    import warnings

    from cpts_geo import flows as F

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # every repair is in <output>_codes, summed up below
        raw = F.read_mobpro(args.flows) if args.mobpro else F.read_flows(args.flows, **_flow_reading(args))
        raw = F.select_flows(raw, profession=args.profession, year=args.annee)
        prepared = F.prepare_flows(raw, passage=args.passage, membership=membership)
    _said("Fichier des flux", raw.reading)
    codes = F.code_report(raw, prepared)  # repaired, remapped, unknown: file rows and volumes
    codes_path = (F.write_flow_table(codes, out.with_name(out.stem + "_codes" + out.suffix),
                                     threshold=None) if len(codes) else None)
    print("\n".join(F.reading_summary(raw, prepared, codes_path=codes_path)))
    return prepared.flows, prepared.report


def _cmd_flows(args: argparse.Namespace) -> int:
    from pathlib import Path

    import pandas as pd

    from cpts_geo import flows as F

    _outputs_first(tables=[Path(args.output)])
    _, checked, communes = _check(args)
    membership = checked.membership
    out = Path(args.output)
    table, report = _read_flow_table(args, membership, out)
    if report["new_code"].isna().any() and not args.passage:
        print("  Une table de passage INSEE (--passage) rattache les codes des communes fusionnées "
              "depuis.")
    ind = F.cpts_flow_indicators(table, membership)
    if not (ind["resident_volume"].sum() or ind["delivered_volume"].sum()):
        print("Attention : aucun flux ne part des communes du registre ni n'y arrive ; la table de flux "
              "et le registre portent-ils sur le même territoire ?")
    ind.insert(0, "name", checked.cpts["name"].reindex(ind.index).to_numpy())
    out = F.write_flow_table(ind, out, threshold=args.seuil)
    leaks = F.leakage_destinations(table, membership, n=5, communes=communes)
    leaks_path = F.write_flow_table(leaks, out.with_name(out.stem + "_fuites" + out.suffix),
                                    threshold=args.seuil)
    area = _study_area(args, checked, F.commune_units(communes, membership["code"]))
    flags = F.coherence_flags(table, membership, area)
    flags_path = F.write_flow_table(flags, out.with_name(out.stem + "_signalements" + out.suffix),
                                    threshold=args.seuil)
    print(f"Indicateurs de {len(ind)} CPTS écrits dans {out} (secret statistique : volumes < "
          f"{number(args.seuil, None)} masqués), destinations des fuites dans {leaks_path}, "
          f"signalements ({len(flags)}) dans {flags_path}.")
    shown = F.mask_secrecy(ind, threshold=args.seuil)
    for cid, rec in shown.iterrows():
        if not ind.at[cid, "resident_volume"]:
            ret = "aucun flux de ses habitants dans la table"
        elif pd.isna(rec["retention"]):
            ret = "secret statistique"
        else:
            ret = percent(rec["retention"])
        print(f"  - {cid} {rec['name']} : rétention {ret}")
    return 0


def _cmd_funding(args: argparse.Namespace) -> int:
    import pandas as pd

    from cpts_geo.funding import aci_funding, early_mission_aid, funding_table

    if args.csv:
        _outputs_first(tables=[args.csv])
    options: dict[str, Any] = dict(year="later" if args.annee == "suivante" else "first",
                                   crisis=not args.sans_crise, optional_missions=not args.sans_optionnelles)

    def euros(x):
        return "" if pd.isna(x) else f"{number(x)} €"

    if args.tier is not None:
        table = aci_funding(args.tier, members=args.members, **options)
        print(f"Financement ACI annuel, CPTS de taille {args.tier} "
              f"({'1re rédaction' if options['year'] == 'first' else 'mise à jour'} du plan de crise, "
              f"{'avec' if options['crisis'] else 'sans'} survenue de crise, missions optionnelles "
              f"{'incluses' if options['optional_missions'] else 'exclues'}) :")
        print(table.map(euros).to_string())
        print(f"Aide forfaitaire du contrat de mission précoce : {euros(early_mission_aid(args.tier))}")
    else:
        from cpts_geo.territories import build_territories

        args.passage = None
        _, checked, communes = _check(args)
        terr = build_territories(checked, communes, parts=False)
        table = funding_table(terr, **options)
        shown = table.copy()
        for col in table.columns[4:]:
            shown[col] = table[col].map(euros)
        print(shown.drop(columns=["Étape"]).to_string())
        print(f"Total : {euros(table['Total annuel'].sum())} pour {len(table)} CPTS")
    if args.csv:
        from cpts_geo.outputs import write_table

        write_table(table, args.csv)
        print(f"Tableau écrit dans {args.csv}")
    return 0


#: How the commands name the columns of a generic supply table (in messages).
_SUPPLY_OPTIONS = {"code": "--code", "profession": "--profession", "count": "--effectif"}


def _read_supply(args: argparse.Namespace, communes):
    """Read PROFESSIONNELS (:func:`cpts_geo.professionals.read_supply`) and say how it was read."""
    from cpts_geo.professionals import read_supply

    options = _reading(args)
    options.pop("layer")
    columns = {key: getattr(args, name, None) for key, name in
               (("code", "code"), ("profession", "profession"), ("count", "effectif"))}
    columns["format"] = getattr(args, "format", None)
    read = read_supply(args.supply, communes=communes, passage=args.passage, unknown="report",
                       names=_SUPPLY_OPTIONS, **{k: v for k, v in columns.items() if v is not None},
                       **options)
    _said("Fichier des professionnels", read.reading)
    return read


def _cmd_offre(args: argparse.Namespace) -> int:
    import warnings
    from pathlib import Path

    from cpts_geo.accessibility import DREES_DECAY, TRAVEL_ASSUMPTIONS
    from cpts_geo.communes import load_communes
    from cpts_geo.density import (
        TABLE_HEADERS,
        accessibility_header,
        cpts_supply,
        cpts_supply_notes,
        cpts_supply_table,
    )
    from cpts_geo.errors import ValidationError
    from cpts_geo.outputs import write_table
    from cpts_geo.professionals import parse_professions, supply_report_tables

    # options first: a mistake is said before any reading
    low, top = TRAVEL_ASSUMPTIONS["terminal_min"], max(DREES_DECAY)
    minutes = top if args.minutes is None else args.minutes
    if not low < minutes <= top:
        raise ValueError(
            f"--minutes {number(minutes, None)} : choisissez une portée de plus de "
            f"{number(low, None)} minute (temps fixe de chaque trajet) et d'au plus "
            f"{number(top, None)} minutes : les paliers DREES donnent un poids nul à partir de "
            f"{number(top, None)} minutes, une portée plus grande serait sans effet.")
    professions = None
    if args.professions:
        try:
            professions = list(dict.fromkeys(parse_professions(args.professions)))
        except ValidationError as err:
            raise ValidationError("Option --professions : profession(s) non reconnue(s)",
                                  [{"problem": text} for text in err.problems["problem"]]) from None
    out = Path(args.output)
    _outputs_first(tables=[out])

    _, checked, _ = _check(args)
    france = load_communes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # remapped, rejected and duplicated rows: reported below
        supply = _read_supply(args, france)
    out.parent.mkdir(parents=True, exist_ok=True)
    used, n_rejected, other, empty = (supply.rows_used, supply.rows_rejected,
                                      supply.other_equipment_rows, supply.rows_empty)
    print(f"Offre lue : {number(supply.file_rows)} lignes dans le fichier, {number(used)} lignes retenues"
          + (f" ({number(len(supply.table))} lignes d'offre, une par commune et profession)"
             if len(supply.table) != used else "")
          + f", {number(supply.rows_remapped)} rattachée(s) à la commune actuelle, "
          f"{number(n_rejected)} écartée(s) (code absent de la couche des communes"
          + ("" if args.passage or not n_rejected else " ; une table de passage INSEE, --passage, "
             "peut rattacher les anciens codes") + ")"
          + (f", {number(other)} d'autres équipements (hors professions)" if other else "")
          + (f", {number(empty)} sans effectif (cellules vides ou à 0)" if empty else "") + ".")
    for name, table in supply_report_tables(supply).items():
        path = out.with_name(f"{out.stem}_{name}.csv")
        write_csv(table, path, index=False)
        print(f"  détail : {path}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # summarised below, for the communes of the CPTS
        result = cpts_supply(supply, france, checked.membership, names=checked.cpts["name"],
                             professions=professions, max_minutes=minutes, quiet=True)
    table = cpts_supply_table(result)
    write_table(table, out)
    print(f"Densité et accessibilité de {len(checked.cpts)} CPTS écrites dans {out}.")
    if "médecin généraliste" in result.territories:
        gp = table.xs("médecin généraliste", level="Profession")
        print("Médecins généralistes pour 10 000 habitants (densité ; accessibilité) :")
        for cid, rec in gp.iterrows():
            print(f"  - {cid} {rec['Nom']} : {number(rec[TABLE_HEADERS['density']], 1) or 'inconnue'} ; "
                  f"{number(rec[accessibility_header(result)], 1) or 'inconnue'}")
    notes = cpts_supply_notes(result, supply)
    if notes:
        print("À noter :")
        for note in notes:
            print(f"  - {note}")
    return 0


def _cmd_perimetres(args: argparse.Namespace) -> int:
    import warnings
    from pathlib import Path

    from cpts_geo import flows as F
    from cpts_geo.communes import load_communes
    from cpts_geo.perimeters import compare_perimeters, propose_perimeters
    from cpts_geo.registry import validate_registry

    if not args.region and not args.departments:
        raise ValueError("Choisissez la zone à découper : --departements 61 (ou --region 28).")
    _outputs_first(tables=[Path(args.output)])
    area = load_communes(region=args.region, departments=args.departments)
    membership = None
    if args.registre:
        from cpts_geo.registry import read_registry

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            membership = validate_registry(read_registry(args.registre, **_reading(args)), load_communes(),
                                           passage=args.passage).membership
        # Paris, Lyon, Marseille by arrondissement where the registry divides them
        area = F.commune_units(area, membership["code"])
        if not args.chevauchement and area.index.isin(membership["code"]).all():
            raise ValueError("Aucune commune à regrouper : toutes celles de la zone sont déjà dans une "
                             "CPTS du registre. Relancez avec --chevauchement pour les regrouper quand "
                             "même.")
    out = Path(args.output)
    table, _ = _read_flow_table(args, membership, out)
    result = propose_perimeters(table, area, membership=membership, overlap=args.chevauchement,
                                min_sc=args.min_autonomie, target_sc=args.autonomie_cible,
                                min_size=args.taille_min, target_size=args.taille_cible)
    out.parent.mkdir(parents=True, exist_ok=True)
    from cpts_geo.outputs import write_table

    write_table(result.registry, out, index=False)  # standard registry columns: read by validate
    areas_path = F.write_flow_table(result.areas, out.with_name(out.stem + "_zones.csv"),
                                    threshold=args.seuil)
    valid = int(result.areas["valid"].sum())
    print(f"{len(result.areas)} zone(s) proposée(s) ({valid} valide(s) selon la règle de "
          f"Coombes–Bond), {len(result.registry)} communes : registre proposé dans {out} (lisible par "
          f"« cpts-geo valider »), indicateurs dans {areas_path} (secret statistique : volumes < "
          f"{number(args.seuil, None)} masqués). Proposition à discuter : rien n'est appliqué au "
          "registre.")
    if membership is not None:
        changes, _ = compare_perimeters(result.registry, membership, communes=area)
        diff_path = F.write_flow_table(changes, out.with_name(out.stem + "_comparaison.csv"),
                                       threshold=None)
        print(f"Comparaison avec la carte actuelle : {diff_path}")
        for change, n in changes["change"].value_counts().items():
            print(f"  - {change} : {number(n)}")
    return 0


def _checked_for_maps(args: argparse.Namespace):
    france = _load_layer(args)
    reg = _read_any_registry(args, france)
    checked = _validated(args, reg, france)
    _print_report(checked.report, registry=args.registry)
    return checked, reg.illustrative, france


def _cmd_carte(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from cpts_geo.batch import area_maps, slug
    from cpts_geo.communes import city_of, region_code

    t0 = time.perf_counter()
    _outputs_first(Path(args.output) if args.output else Path("maps") / "carte.html")
    checked, illustrative, france = _checked_for_maps(args)
    region = region_code(args.region) if args.region else None
    # arrondissements (Paris, Lyon, Marseille) count for their city
    cities = city_of(checked.membership["code"])
    present = set(france.loc[france.index.isin(cities), "region"])
    if region is None:
        regions = sorted(present)
        if len(regions) != 1:
            raise ValueError(f"Le registre couvre plusieurs régions ({', '.join(regions)}) : "
                             "choisissez-en une avec --region, ou utilisez « cpts-geo cartes ».")
        region = regions[0]
    elif region not in present:
        raise ValueError(f"Aucune CPTS du registre n'a de commune dans la région {region} ; régions "
                         f"du registre : {', '.join(sorted(present)) or 'aucune'}.")
    name = france.loc[france["region"] == region, "region_name"].iloc[0] \
        if (france["region"] == region).any() else region
    out = Path(args.output) if args.output else Path("maps") / f"{slug(name)}.html"
    res = area_maps(checked, region=region, html_path=out, png=not args.no_png, dpi=args.dpi,
                    illustrative=illustrative, fond=args.fond, fond_attribution=args.fond_attribution,
                    communes=france if getattr(args, "population", None) else None)
    print(f"Carte écrite : {out} ({number(res['size_mb'], 1)} Mo, {res['n_cpts']} CPTS, "
          f"{number(res['n_communes'])} communes)")
    if res["png"]:
        print(f"Carte imprimable écrite : {res['png']}")
    print(f"Terminé en {number(time.perf_counter() - t0, 1)} s.")
    return 0


def _cmd_comparer(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cpts_geo.compare import CHANGES, compare_registries, write_comparison
    from cpts_geo.outputs import LAYER_FORMATS, check_writable

    layer_out = bool(args.output) and Path(args.output).suffix.lower() in LAYER_FORMATS
    if args.output:
        check_writable(args.output)  # before any computing
    communes = _load_layer(args)
    for name in (args.ancien, args.nouveau):
        if not Path(name).exists():
            raise FileNotFoundError(f"Fichier introuvable : {name}")
    result = compare_registries(args.ancien, args.nouveau, communes, passage=args.passage)
    m = result.matches
    both = m.dropna(subset=["old_id", "new_id"])
    print(f"{number(len(both))} CPTS retrouvée(s) dans les deux registres, "
          f"{number(int(m['new_id'].isna().sum()))} dissoute(s), {number(int(m['old_id'].isna().sum()))} "
          "créée(s).")
    renamed = both[(both["old_id"].astype(str) != both["new_id"].astype(str))
                   | (both["old_name"].astype(str) != both["new_name"].astype(str))]
    if len(renamed):
        print(f"Rapprochées malgré un identifiant ou un nom différent ({number(len(renamed))}) :")
        for rec in renamed.head(10).itertuples(index=False):
            print(f"  - {rec.old_id} {rec.old_name} = {rec.new_id} {rec.new_name} ({rec.matched_by})")
        if len(renamed) > 10:
            print(f"  … et {number(len(renamed) - 10)} autre(s)")
    if not len(result.changes):
        print("Aucun changement.")
    else:
        print(f"Changements ({number(len(result.changes))}) :")
        for kind in CHANGES:
            if result.summary[kind]:
                print(f"  {kind} : {number(int(result.summary[kind]))}")
    if layer_out:
        from cpts_geo.compare import changes_layer
        from cpts_geo.outputs import write_layers

        written = write_layers(args.output, None, changes=changes_layer(result, communes), shapefile=True)
        print(f"Couche des changements écrite : {', '.join(map(str, written.paths))} "
              f"(couches {', '.join(written.layers)}). {written.note}")
    elif args.output:
        out = write_comparison(result, args.output)
        print(f"Tableau des changements écrit : {out}")
    return 0


def _cmd_editeur(args: argparse.Namespace) -> int:
    import warnings
    from pathlib import Path

    from cpts_geo.batch import slug
    from cpts_geo.communes import load_communes, region_code
    from cpts_geo.editor import perimeter_editor
    from cpts_geo.registry import validate_registry

    if not args.region and not args.departments:
        raise ValueError("Choisissez les communes de l'éditeur : --region 32 (code ou nom) ou --departements 59 62.")
    communes = load_communes(region=region_code(args.region) if args.region else None,
                             departments=args.departments)
    name = (communes["region_name"].iloc[0] if args.region else "-".join(args.departments))
    out = Path(args.output) if args.output else Path("maps") / f"editeur-{slug(str(name))}.html"
    checked = None
    if args.registry:
        reg = _read_any_registry(args, communes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            checked = validate_registry(reg, communes, passage=args.passage)
        _print_report(checked.report)
    supply = None
    if args.supply:
        # read against every commune of France: the supply of the communes around the zone is
        # kept, so that a draft touching the zone's limit is told what it does not count
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            supply = _read_supply(args, load_communes())
        unknown = supply.rows_rejected  # codes that are no commune of France
        inside = supply.table["code"].astype(str).isin(communes.index.astype(str))
        print(f"Offre de soins : {number(int(inside.sum()))} lignes (commune × profession) dans la zone"
              + (f" ; {number(int((~inside).sum()))} hors de la zone, non comptées (celles des communes voisines "
                 "sont signalées dans le panneau de chaque brouillon qui les touche)" if (~inside).any() else "")
              + (f" ; {number(unknown)} ligne(s) du fichier sans commune connue, non utilisées" if unknown else "")
              + ".")
    path = perimeter_editor(communes, checked, out, supply=supply)
    print(f"Éditeur de périmètres écrit : {path} ({number(path.stat().st_size / 1e6, 1)} Mo, "
          f"{number(len(communes))} communes"
          + (f", {checked.cpts.shape[0]} CPTS du registre" if checked is not None else "") + ").")
    print("Ouvrez-le dans un navigateur (aucune connexion nécessaire) ; les brouillons restent dans ce "
          "navigateur et s'exportent en CSV pour « cpts-geo valider ».")
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cpts_geo.batch import batch_maps

    _outputs_first(Path(args.out) / "index.html")
    checked, illustrative, france = _checked_for_maps(args)
    table = batch_maps(checked, args.out, departments=args.departements, png=not args.no_png,
                       dpi=args.dpi, force=args.force, illustrative=illustrative,
                       communes=france if getattr(args, "population", None) else None)
    print(f"{len(table)} carte(s) ; index : {args.out}/index.html ; synthèse : {args.out}/synthese.csv")
    return 0


def _cmd_portrait(args: argparse.Namespace) -> int:
    import warnings
    from pathlib import Path

    from cpts_geo import portrait as P

    if not (args.cpts or args.communes or args.region_portraits or args.toutes):
        raise ValueError("Choisissez la CPTS : --cpts ID, un périmètre en projet (--communes CODE…), "
                         "ou toutes celles d'une région (--region 32, --toutes).")
    registry = args.communes if args.communes else args.registry
    if args.communes:
        registry = P.draft_registry(args.communes, name=args.nom or "Projet de CPTS")
    elif args.registry in (None, "exemple"):
        registry = None
    ctx = P.portrait_context(registry, passage=args.passage)
    if ctx.illustrative:
        from cpts_geo.territories import EXAMPLE_NOTE

        print(EXAMPLE_NOTE)
    given = {"supply": args.professionnels, "flows": args.flux, "indicators": args.indicateurs, "ages": args.ages}
    options = {"secrecy": args.seuil, "rules": dict(r.split("=", 1) for r in args.regle or []),
               "sources": {k: f"fichier {Path(v).name}" for k, v in given.items() if v},
               "e2sfca": args.e2sfca, "map": not args.sans_carte}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # repairs are reported in the portrait
        if args.professionnels:
            args.supply = args.professionnels
            options["supply"] = _read_supply(args, ctx.france)
        if args.flux:
            from cpts_geo import flows as F

            raw = F.read_mobpro(args.flux) if args.mobpro else F.read_flows(args.flux, **_flow_reading(args))
            options["flows"] = F.prepare_flows(raw, passage=args.passage, membership=ctx.checked.membership).flows
    if args.indicateurs:
        options["indicators"] = P.read_indicators(args.indicateurs, sep=args.sep, year=args.annee_indicateurs)
    if args.ages:
        options["ages"] = P.read_ages(args.ages, sep=args.sep)
    if args.cpts or args.communes:
        out = Path(args.output) if args.output else None
        res = P.portrait(args.cpts, out, pdf=args.pdf, context=ctx, **options)
        print(f"Portrait écrit : {res.html}" + (f" ; PDF : {res.pdf}" if res.pdf else ""))
        if res.message:
            print(res.message)
        return 0
    out = Path(args.output or "portraits")
    table = P.portraits(out, context=ctx, region=args.region_portraits, pdf=args.pdf, force=args.force,
                        **options)
    done = int((table["État"] == "écrit").sum())
    print(f"{len(table)} portrait(s) ({done} écrit(s), {len(table) - done} inchangé(s)) ; "
          f"index : {out / 'index.html'}")
    if args.pdf:
        try:
            import weasyprint  # noqa: F401
        except (ImportError, OSError):
            print(P.PDF_HELP)
    return 0


#: argparse's own messages, in French (the rest of the parser's text is ours).
_ARGPARSE_FRENCH = [
    (r"the following arguments are required: (.*)", r"arguments obligatoires manquants : \1"),
    (r"unrecognized arguments: (.*)", r"arguments non reconnus : \1"),
    (r"argument (\S+): invalid choice: (.*) \(choose from (.*)\)",
     r"argument \1 : choix invalide : \2 (valeurs possibles : \3)"),
    (r"argument (\S+): invalid int value: (.*)", r"argument \1 : valeur invalide : \2 (attendu : un nombre entier)"),
    (r"argument (\S+): invalid float value: (.*)", r"argument \1 : valeur invalide : \2 (attendu : un nombre)"),
    (r"argument (\S+): expected one argument", r"argument \1 : une valeur est attendue"),
    (r"argument (\S+): expected at least one argument", r"argument \1 : au moins une valeur est attendue"),
    (r"argument (\S+): not allowed with argument (.*)", r"argument \1 : incompatible avec \2"),
    (r"ambiguous option: (\S+) could match (.*)", r"option ambiguë : \1 peut désigner \2"),
]


class _HelpFormatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, "usage : " if prefix is None else prefix)


class _Parser(argparse.ArgumentParser):
    """argparse speaking French: headings, usage line, help option and error messages."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        self._positionals.title = "arguments"
        self._optionals.title = "options"
        self.add_argument("-h", "--help", action="help", help="afficher cette aide et quitter")

    def error(self, message: str):
        import re

        for pattern, french in _ARGPARSE_FRENCH:
            message = re.sub(pattern, french, message)
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog} : erreur : {message}\n")


def _parser() -> argparse.ArgumentParser:
    from cpts_geo import __version__

    parser = _Parser(
        prog="cpts-geo",
        description="Diagnostic territorial et cartographie des CPTS.",
        epilog="Aide d'une commande : cpts-geo COMMANDE --help",
    )
    parser.add_argument("--version", action="version", version=f"cpts_geo {__version__}",
                        help="afficher la version et quitter")
    sub = parser.add_subparsers(dest="command", metavar="COMMANDE")

    p = sub.add_parser("communes", help="résumé de la couche communale embarquée")
    p.add_argument("--region", help="code INSEE ou nom de la région, ex. 32 ou Hauts-de-France")
    p.add_argument("--departements", "--departments", dest="departments", nargs="+", metavar="DEP",
                   help="codes ou noms de départements, ex. 59 62")
    p.set_defaults(func=_cmd_communes)

    def reading_args(p):
        g = p.add_argument_group("lecture des fichiers (par défaut : détectée, et dite à l'écran)")
        g.add_argument("--feuille", metavar="NOM",
                       help="feuille du classeur XLSX à lire (nom, ou numéro à partir de 1) ; "
                            "nécessaire quand plusieurs feuilles ressemblent à la table")
        g.add_argument("--couche", metavar="NOM",
                       help="couche du GeoPackage à lire ; nécessaire quand il en a plusieurs")
        g.add_argument("--sep", metavar="CAR",
                       help="séparateur du CSV : ';', ',', tab ou '|'")
        g.add_argument("--encodage", metavar="NOM",
                       help="encodage du CSV : utf-8, windows-1252, utf-16…")

    def flow_table_args(p):
        """FLUX and how to read it: shared by the commands that take a flow table."""
        p.add_argument("flows", metavar="FLUX", help="table origine–destination CSV/XLSX/Parquet "
                       "(commune de résidence, commune de soins, volume)")
        p.add_argument("--mobpro", action="store_true",
                       help="FLUX est un fichier détail MOBPRO de l'INSEE (COMMUNE, DCLT, IPONDI)")
        p.add_argument("--profession", help="ne garder que cette profession (colonne profession de FLUX)")
        p.add_argument("--annee", help="ne garder que cette année (colonne année de FLUX)")

    def stage_arg(p):
        p.add_argument("--etape", metavar="ÉTAPE",
                       help="étape donnée aux CPTS dont le registre ne dit pas l'étape, ex. « ACI signé » "
                            "(sinon : « Étape non renseignée »)")

    def registry_args(p):
        reading_args(p)
        p.add_argument("registry", nargs="?", default=None, metavar="REGISTRE",
                       help="registre CSV/XLSX/GPKG, ou périmètres (polygones) ; "
                            "par défaut le registre illustratif des Hauts-de-France")
        p.add_argument("--region", help="code INSEE ou nom de la région des communes, ex. 32")
        p.add_argument("--departements", "--departments", dest="departments", nargs="+", metavar="DEP",
                       help="codes ou noms de départements, ex. 59 62")
        p.add_argument("--passage", metavar="FICHIER",
                       help="table de passage INSEE pour les anciens codes commune (l'historique "
                            "INSEE 2008–2025 est déjà inclus)")
        stage_arg(p)
        population_args(p)

    def population_args(p):
        p.add_argument("--population", metavar="FICHIER",
                       help="vos populations (CSV/XLSX : code commune, population) à la place de la "
                            "population municipale 2021 embarquée")
        p.add_argument("--millesime-population", dest="millesime_population", type=int, metavar="AAAA",
                       help="millésime des populations de --population, ex. 2022 (obligatoire avec elle)")
        p.add_argument("--cog-population", dest="cog_population", type=int, metavar="AAAA",
                       help="millésime du COG des codes de --population (défaut : reconnu)")

    def postgis_args(p):
        p.add_argument("--postgis", metavar="URL",
                       help="écrire aussi dans PostGIS : postgresql://utilisateur:mot_de_passe@hôte/base")
        p.add_argument("--schema", default="cpts", help="schéma PostGIS (défaut cpts)")
        p.add_argument("--remplacer", action="store_true",
                       help="remplacer les tables PostGIS existantes")

    p = sub.add_parser("valider", aliases=["validate"], help="vérifier un registre de CPTS (chevauchements, codes, étapes)")
    registry_args(p)
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("territoires", aliases=["territories"], help="construire les territoires d'un registre (GeoPackage + CSV)")
    registry_args(p)
    p.add_argument("-o", "--sortie", "--output", dest="output", default="maps/territoires.gpkg", metavar="FICHIER.gpkg",
                   help="couches écrites, d'après l'extension : .gpkg (QGIS, styles inclus), .parquet "
                        "(GeoParquet), .geojson, .shp ; le résumé CSV est écrit à côté")
    p.add_argument("--tableau", metavar="FICHIER",
                   help="tableaux : .csv (résumé des territoires, pour Excel) ou .xlsx (feuilles "
                        "territoires, communes, zones blanches, problèmes) ; défaut : le CSV à côté")
    p.add_argument("--crs", metavar="CRS",
                   help="projection de toutes les couches, ex. EPSG:2154 (défaut : Lambert-93 en "
                        "métropole, la projection officielle de chaque DROM)")
    postgis_args(p)
    p.set_defaults(func=_cmd_territories)

    p = sub.add_parser("flux", aliases=["flows"], help="indicateurs de flux de patients par CPTS (rétention, fuite, attraction)")
    flow_table_args(p)
    registry_args(p)
    p.add_argument("--seuil", type=_decimal, default=10, metavar="N",
                   help="secret statistique : masquer les volumes < N (défaut 10)")
    p.add_argument("-o", "--sortie", "--output", dest="output", default="indicateurs_flux.csv", metavar="FICHIER.csv",
                   help="indicateurs par CPTS (CSV ou XLSX) ; fuites, signalements et rapport des "
                        "codes (_codes) écrits à côté")
    p.set_defaults(func=_cmd_flows)

    p = sub.add_parser("offre", help="densité et accessibilité des professionnels par CPTS (BPE ou table)")
    p.add_argument("supply", metavar="PROFESSIONNELS",
                   help="BPE de l'INSEE (DEPCOM;TYPEQU;NB_EQUIP, ou colonnes D201…) ou table "
                        "code commune / profession / effectif (CSV, XLSX, Parquet)")
    registry_args(p)
    p.add_argument("--format", choices=["auto", "bpe", "table"],
                   help="format de PROFESSIONNELS (défaut : reconnu d'après les colonnes)")
    p.add_argument("--code", help="colonne du code commune (table générique)")
    p.add_argument("--profession", help="colonne de la profession")
    p.add_argument("--effectif", help="colonne de l'effectif")
    p.add_argument("--professions", nargs="+", metavar="PROFESSION",
                   help="professions retenues (défaut : toutes celles présentes)")
    p.add_argument("--minutes", type=float,
                   help="portée de l'accessibilité en minutes, au plus 20 (défaut 20 ; paliers "
                        "DREES : poids nul à partir de 20 minutes)")
    p.add_argument("-o", "--sortie", "--output", dest="output", default="offre_cpts.csv", metavar="FICHIER.csv",
                   help="tableau par CPTS et profession (CSV pour Excel)")
    p.set_defaults(func=_cmd_offre)

    p = sub.add_parser("perimetres", help="propositions de périmètres par les flux (règle de Coombes–Bond)")
    flow_table_args(p)
    p.add_argument("--region", help="code INSEE de la région à découper")
    p.add_argument("--departements", "--departments", dest="departments", nargs="+", metavar="DEP",
                   help="départements à découper, ex. 61")
    p.add_argument("--registre", metavar="REGISTRE",
                   help="registre actuel : ses communes sont laissées hors des propositions, "
                        "et une comparaison est écrite")
    p.add_argument("--chevauchement", action="store_true",
                   help="regrouper aussi les communes déjà dans une CPTS")
    p.add_argument("--passage", metavar="FICHIER", help="table de passage INSEE des anciens codes")
    p.add_argument("--min-autonomie", type=_decimal, default=0.6, help="autonomie minimale (défaut 0,6)")
    p.add_argument("--autonomie-cible", type=_decimal, default=0.75, help="autonomie cible (défaut 0,75)")
    p.add_argument("--taille-min", type=_decimal, default=10_000,
                   help="population minimale d'une zone (défaut 10 000)")
    p.add_argument("--taille-cible", type=_decimal, default=40_000,
                   help="population cible d'une zone (défaut 40 000)")
    p.add_argument("--seuil", type=_decimal, default=10, metavar="N",
                   help="secret statistique : masquer dans les indicateurs des zones les volumes < N "
                        "(défaut 10)")
    p.add_argument("-o", "--sortie", "--output", dest="output", default="perimetres_proposes.csv", metavar="FICHIER.csv",
                   help="registre proposé (CSV) ; indicateurs des zones, comparaison et rapport des "
                        "codes écrits à côté")
    reading_args(p)
    p.set_defaults(func=_cmd_perimetres)

    p = sub.add_parser("financement", aliases=["funding"], help="financement ACI par mission (une taille, ou chaque CPTS d'un registre)")
    p.add_argument("--taille", "--tier", dest="tier", type=int, metavar="N", help="taille de la CPTS (1 à 4)")
    p.add_argument("--registre", "--registry", dest="registry", default=None, metavar="REGISTRE",
                   help="registre : un tableau par CPTS (défaut sans --taille : registre illustratif)")
    p.add_argument("--region", help="code INSEE de la région des communes")
    p.add_argument("--departements", "--departments", dest="departments", nargs="+", metavar="DEP",
                   help="codes ou noms de départements")
    p.add_argument("--membres", "--members", dest="members", type=int, help="nombre de membres (majoration de 10 %% en taille 4 dès 100)")
    p.add_argument("--annee", choices=["premiere", "suivante"], default="premiere",
                   help="année du plan de crise : 1re rédaction ou mise à jour")
    p.add_argument("--sans-crise", action="store_true", help="sans survenue de crise sanitaire grave")
    p.add_argument("--sans-optionnelles", action="store_true", help="sans les missions optionnelles")
    p.add_argument("-o", "--sortie", "--csv", dest="csv", metavar="FICHIER",
                   help="écrire le tableau : .csv (pour Excel) ou .xlsx")
    reading_args(p)
    population_args(p)
    p.set_defaults(func=_cmd_funding)

    p = sub.add_parser("comparer", aliases=["compare"],
                       help="comparer deux registres (communes déplacées, CPTS créées ou dissoutes, étapes)")
    p.add_argument("ancien", metavar="ANCIEN", help="registre de référence (ex. celui du trimestre dernier)")
    p.add_argument("nouveau", metavar="NOUVEAU", help="registre à comparer")
    p.add_argument("--region", help="code INSEE ou nom de la région des communes")
    p.add_argument("--departements", "--departments", dest="departments", nargs="+", metavar="DEP",
                   help="codes ou noms de départements")
    p.add_argument("--passage", metavar="FICHIER", help="table de passage INSEE des anciens codes")
    p.add_argument("-o", "--sortie", "--output", dest="output", metavar="FICHIER",
                   help="changements écrits : tableau (.csv pour Excel, .xlsx) ou couche changements "
                        "(.gpkg stylé pour QGIS, .parquet, .geojson, .shp)")
    p.set_defaults(func=_cmd_comparer)

    p = sub.add_parser("carte", help="carte régionale des CPTS par étape (HTML autonome + PNG)")
    p.add_argument("registry", nargs="?", default=None, metavar="REGISTRE",
                   help="registre CSV/XLSX/GPKG ou périmètres ; par défaut le registre illustratif "
                        "des Hauts-de-France")
    p.add_argument("--region", help="code INSEE ou nom de la région (déduit du registre sinon)")
    p.add_argument("--passage", metavar="FICHIER", help="table de passage INSEE des anciens codes")
    stage_arg(p)
    p.add_argument("-o", "--sortie", "--output", dest="output", metavar="FICHIER.html",
                   help="fichier HTML écrit (défaut : maps/<région>.html)")
    p.add_argument("--fond", "--tiles", dest="fond", default=None, metavar="FOND",
                   help="fond de carte en ligne facultatif (la carte reste complète hors ligne) : osm "
                        "(OpenStreetMap), ign-plan (Plan IGN), ign-ortho (orthophotos IGN), ou une adresse "
                        "de tuiles https://…/{z}/{x}/{y}.png avec --fond-attribution")
    p.add_argument("--fond-attribution", default=None, metavar="TEXTE",
                   help="source et licence d'un fond de carte personnalisé (obligatoire avec une adresse)")
    p.add_argument("--sans-png", "--no-png", dest="no_png", action="store_true", help="ne pas écrire la carte imprimable PNG")
    p.add_argument("--dpi", type=int, default=200, help="résolution du PNG (défaut 200)")
    reading_args(p)
    population_args(p)
    p.set_defaults(func=_cmd_carte)

    p = sub.add_parser("editeur", aliases=["éditeur"],
                       help="éditeur de périmètres : page HTML hors ligne pour composer des CPTS commune par commune")
    p.add_argument("registry", nargs="?", default=None, metavar="REGISTRE",
                   help="registre des CPTS existantes, affichées par étape (facultatif ; « exemple » pour "
                        "le registre illustratif)")
    p.add_argument("--region", help="code INSEE ou nom de la région, ex. 32")
    p.add_argument("--departements", "--departments", dest="departments", nargs="+", metavar="DEP",
                   help="ou des départements, ex. 59 62")
    p.add_argument("--offre", dest="supply", metavar="BPE",
                   help="offre de soins (BPE de l'INSEE ou table code / profession / effectif) : "
                        "professionnels et densités par profession dans le panneau")
    p.add_argument("--passage", metavar="FICHIER", help="table de passage INSEE des anciens codes")
    p.add_argument("-o", "--sortie", "--output", dest="output", metavar="FICHIER.html",
                   help="page écrite (défaut : maps/editeur-<région>.html)")
    p.set_defaults(func=_cmd_editeur)

    p = sub.add_parser("cartes", aliases=["batch"], help="cartes de chaque région (et département) d'un registre, avec index")
    p.add_argument("registry", nargs="?", default=None, metavar="REGISTRE",
                   help="registre ; par défaut le registre illustratif des Hauts-de-France")
    p.add_argument("-o", "--sortie", "--out", dest="out", default="maps", metavar="DOSSIER", help="dossier de sortie (défaut maps)")
    p.add_argument("--par-departement", "--departements", dest="departements", action="store_true",
                   help="aussi une carte par département")
    p.add_argument("--passage", metavar="FICHIER", help="table de passage INSEE des anciens codes")
    stage_arg(p)
    p.add_argument("--sans-png", "--no-png", dest="no_png", action="store_true", help="sans les cartes imprimables PNG")
    p.add_argument("--dpi", type=int, default=200, help="résolution des PNG (défaut 200)")
    p.add_argument("--forcer", "--force", dest="force", action="store_true",
                   help="refaire aussi les cartes inchangées")
    reading_args(p)
    population_args(p)
    p.set_defaults(func=_cmd_batch)

    p = sub.add_parser("portrait", help="portrait imprimable d'une CPTS (HTML autonome, PDF), "
                       "ou de toutes les CPTS d'une région")
    p.add_argument("registry", nargs="?", default=None, metavar="REGISTRE",
                   help="registre CSV/XLSX/GPKG ; par défaut le registre illustratif des Hauts-de-France")
    p.add_argument("--cpts", metavar="ID", help="identifiant (ou nom) de la CPTS")
    p.add_argument("--communes", nargs="+", metavar="CODE",
                   help="périmètre en projet : codes des communes (sans registre)")
    p.add_argument("--nom", help="nom du périmètre en projet (avec --communes)")
    p.add_argument("--region", dest="region_portraits", metavar="REGION",
                   help="toutes les CPTS de cette région (code ou nom), dans un dossier avec index.html")
    p.add_argument("--toutes", action="store_true", help="toutes les CPTS du registre")
    p.add_argument("--professionnels", metavar="FICHIER",
                   help="BPE de l'INSEE ou table code commune / profession / effectif (section 5)")
    p.add_argument("--format", choices=["auto", "bpe", "table"],
                   help="format du fichier des professionnels (défaut : reconnu)")
    p.add_argument("--code", help="colonne du code commune (table générique)")
    p.add_argument("--profession", help="colonne de la profession")
    p.add_argument("--effectif", help="colonne de l'effectif")
    p.add_argument("--e2sfca", action="store_true",
                   help="ajouter l'accessibilité E2SFCA calculée par cpts_geo (avec --professionnels)")
    p.add_argument("--flux", metavar="FICHIER", help="table origine–destination des patients (section 7)")
    p.add_argument("--mobpro", action="store_true", help="--flux est un fichier détail MOBPRO de l'INSEE")
    p.add_argument("--indicateurs", metavar="FICHIER",
                   help="vos indicateurs par commune : code;indicateur;valeur, ou une colonne par indicateur")
    p.add_argument("--regle", action="append", metavar="INDICATEUR=REGLE",
                   help="agrégation d'un indicateur : somme (défaut), moyenne:population ou "
                        "moyenne:AUTRE_INDICATEUR (répétable)")
    p.add_argument("--annee-indicateurs", metavar="ANNEE", help="millésime des indicateurs à retenir")
    p.add_argument("--ages", metavar="FICHIER", help="population par âge : code;age;effectif (ou INSEE Nb_H, Nb_F)")
    p.add_argument("--seuil", type=_decimal, default=10, metavar="N",
                   help="secret statistique : masquer les effectifs et volumes < N (défaut 10)")
    p.add_argument("--pdf", action="store_true", help="écrire aussi le PDF (WeasyPrint, extra [pdf])")
    p.add_argument("--sans-carte", action="store_true", help="sans la carte (section 2), plus rapide")
    p.add_argument("--passage", metavar="FICHIER", help="table de passage INSEE des anciens codes")
    p.add_argument("--forcer", "--force", dest="force", action="store_true",
                   help="refaire aussi les portraits inchangés")
    p.add_argument("-o", "--sortie", "--output", dest="output", metavar="SORTIE",
                   help="fichier HTML (une CPTS ; défaut portrait-<id>.html) ou dossier (défaut portraits)")
    reading_args(p)
    p.set_defaults(func=_cmd_portrait)

    p = sub.add_parser("show-versions", aliases=["versions"], help="versions des dépendances (pour un rapport de bogue)")
    p.set_defaults(func=_cmd_show_versions)
    return parser


def _cmd_show_versions(args: argparse.Namespace) -> int:
    import importlib.metadata
    import platform

    print(f"python : {platform.python_version()} ({platform.platform()})")
    for pkg in ["cpts_geo", "geopandas", "shapely", "pyogrio", "pyproj", "pandas", "numpy",
                "scipy", "pyarrow", "folium", "mapclassify", "matplotlib", "openpyxl",
                "weasyprint", "sqlalchemy", "geoalchemy2", "psycopg", "playwright"]:
        try:
            version = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        print(f"{pkg} : {version}")
    import pyogrio
    import pyproj
    import shapely

    print(f"GDAL : {pyogrio.__gdal_version_string__}")
    print(f"GEOS : {shapely.geos_version_string}")
    print(f"PROJ : {pyproj.proj_version_str}")
    return 0


def _plain_fallback(err: UnicodeError) -> tuple[str, int]:
    """Write what a console's code page lacks (cp1252 on Windows) as plain text: → as ->."""
    plain = {"\u2192": "->", "\u2265": ">=", "\u2264": "<=", "\u202f": " ", "\u2013": "-", "\u2014": "-"}
    assert isinstance(err, UnicodeEncodeError)
    return "".join(plain.get(ch, "?") for ch in err.object[err.start:err.end]), err.end


def _tolerant_output() -> None:
    """Never fail on a character the terminal's encoding cannot show (e.g. output redirected
    to a file on Windows, in cp1252): it is replaced, the message still gets through."""
    import codecs

    codecs.register_error("cpts_geo_plain", _plain_fallback)
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
        if encoding not in ("utf8", "utf8sig") and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="cpts_geo_plain")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``cpts-geo`` command; return its exit code.

    A user's mistake never ends in a traceback: it is printed in French on standard error.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after ``cpts-geo`` (default: those of the command line).

    Returns
    -------
    int
        0 on success; 2 for invalid input (with the list of problems); 1 when a file cannot
        be written; 130 after Ctrl-C.
    """
    _tolerant_output()
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from cpts_geo.errors import ValidationError

    try:
        return args.func(args)
    except ValidationError as err:
        _print_problems(err)
        return 2
    except (ValueError, FileNotFoundError) as err:
        print(f"Erreur : {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrompu (Ctrl-C) : aucun fichier partiel n'a été laissé.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head`: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as err:  # folder read-only, disk full, database refused: one line, nothing half-written
        from cpts_geo.outputs import OutputError, os_reason

        text = str(err) if isinstance(err, OutputError) else (
            f"écriture impossible ({os_reason(err)})" + (f" : {err.filename}" if err.filename else ""))
        print(f"Erreur : {text}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
