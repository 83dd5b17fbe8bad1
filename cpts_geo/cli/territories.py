"""``cpts-geo territoires``: build the territories of a registry and write them for QGIS, Excel, PostGIS."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cpts_geo.cli.options import _check, _in_area, _registry_date, _same_file, _study_area
from cpts_geo.cli.report import _commune_table, _print_report, _report_table
from cpts_geo.domain.french import number, percent

if TYPE_CHECKING:
    import geopandas as gpd

    from cpts_geo.domain.registry import CheckedRegistry
    from cpts_geo.io.layers import WrittenLayers


def run(args: argparse.Namespace) -> int:
    """Run ``cpts-geo territoires``.

    Parameters
    ----------
    args : argparse.Namespace
        The options parsed by :func:`cpts_geo.cli.main.main`.

    Returns
    -------
    int
        The exit code: 0 on success (user mistakes raise and are printed by ``main``).
    """
    from cpts_geo.domain.territories import build_territories, communes_with_cpts

    out, table_path = _checked_outputs(args)
    _, checked, communes = _check(args)
    communes = _study_area(args, checked, communes)
    layer = communes_with_cpts(checked, communes)
    terr = build_territories(checked, communes)
    written, rows = _write_outputs(args, out, table_path, checked, terr, layer)
    plural = "s" if len(terr) > 1 else ""
    names = ", ".join(written.layers)
    where = ", ".join(str(p) for p in written.paths)
    print(f"{len(terr)} territoire{plural} écrit{plural} dans {where} (couches {names}) et "
          f"{table_path}.")
    print(written.note)
    if out.suffix.lower() == ".shp":
        print("Shapefile : noms de champs de 10 caractères au plus (voir le guide, page « Sorties : QGIS, Excel, PostGIS »).")
    if rows is not None:
        print(f"PostGIS : schéma {args.schema}, {number(rows['cpts'])} CPTS, {number(rows['communes'])} "
              f"communes, {number(rows['appartenance'])} lignes d'appartenance (EPSG:{rows['srid']}).")
    _print_coverage(args, checked, communes, layer)
    several = terr[~terr["single_part"]]
    if len(several):
        print(f"Territoires en plusieurs morceaux ({len(several)}) :")
        for cid, rec in several.iterrows():
            print(f"  - {cid} {rec['name']} : {rec['parts']}")
    _print_report(checked.report, registry=args.registry)
    return 0


def _checked_outputs(args: argparse.Namespace) -> tuple[Path, Path]:
    """The layer file and the table file, each checked before any computing: extension, input
    not overwritten, folder writable; the PostGIS connection, rights and tables too."""
    from cpts_geo.io.formats import check_writable, layer_format, table_format

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
    if args.postgis:  # connection, rights, tables there and whose: said before the computing
        from cpts_geo.io.postgis import check_postgis

        check_postgis(args.postgis, schema=args.schema, replace=args.remplacer)
    return out, table_path


def _write_outputs(args: argparse.Namespace, out: Path, table_path: Path, checked: CheckedRegistry,
                   terr: gpd.GeoDataFrame, layer: gpd.GeoDataFrame) -> tuple[WrittenLayers, dict[str, Any] | None]:
    """Write the layers, the table and the PostGIS tables, all or nothing; return what the
    layers' writer says and the rows written in PostGIS (None without PostGIS)."""
    import warnings

    from cpts_geo.domain.territories import summary_table
    from cpts_geo.errors import CptsGeoWarning
    from cpts_geo.io.files import output_set
    from cpts_geo.io.layers import write_layers
    from cpts_geo.io.tables import write_table

    rows = None
    # the files stay under temporary names until the database is written too: all or nothing
    with output_set():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CptsGeoWarning)  # said in written.note, printed by run
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
        if args.postgis:
            from cpts_geo.io.postgis import write_postgis

            rows = write_postgis(args.postgis, terr, layer, schema=args.schema, replace=args.remplacer,
                                 membership=checked.membership)
    return written, rows


def _print_coverage(args: argparse.Namespace, checked: CheckedRegistry, communes: gpd.GeoDataFrame,
                    layer: gpd.GeoDataFrame) -> None:
    """Print the coverage by stage and the zones blanches of the area asked for only (its rows
    of the layer already made)."""
    from cpts_geo.domain.territories import coverage, population_headers

    cov = coverage(checked, _in_area(args, communes), layer=_in_area(args, layer))
    table = cov.copy()
    for col in ("n_cpts", "n_communes", "population"):
        table[col] = table[col].map(number)
    table["share_population"] = table["share_population"].map(percent)
    table = table.rename(columns=population_headers(communes))
    table.index.name = "Étape"
    print(table.to_string())
