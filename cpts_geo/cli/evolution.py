"""``cpts-geo evolution``: the coverage of an area over dated listings, as a chart and a table."""

from __future__ import annotations

import argparse
from pathlib import Path

from cpts_geo.cli.options import _outputs_first
from cpts_geo.cli.regional import _registry, dates_of


def run(args: argparse.Namespace) -> int:
    """Run ``cpts-geo evolution``.

    Parameters
    ----------
    args : argparse.Namespace
        The options parsed by :func:`cpts_geo.cli.main.main`.

    Returns
    -------
    int
        The exit code: 0 on success (user mistakes raise and are printed by ``main``).
    """

    from cpts_geo.domain.communes import load_communes, region_code
    from cpts_geo.domain.vocabulary import french_headers
    from cpts_geo.indicators.regional import coverage_over_time
    from cpts_geo.io.files import output_set
    from cpts_geo.io.tables import write_table
    from cpts_geo.render.report import evolution_chart, evolution_maps

    out = Path(args.output) if args.output else Path("evolution.png")
    if out.suffix.lower() not in (".png", ".svg"):
        raise ValueError(f"{out.name} : le graphique s'écrit en .png ou en .svg.")
    table_path = out.with_suffix(".csv")
    maps_path = maps_file(out)
    _outputs_first(out, table_path, maps_path)
    dates = dates_of(args.registries, args.dates)
    france = load_communes(crs=None)
    area = (load_communes(departments=args.departments, crs=None) if args.departments
            else load_communes(region=region_code(args.region or "32"), crs=None))
    listings = [_registry(path, args, france) for path in args.registries]
    history = coverage_over_time(listings, dates, area)
    with output_set():  # the chart, the table and the maps whole, or none of them
        evolution_chart(history, path=out)
        write_table(french_headers(history, kind="evolution").reset_index(), table_path)
        evolution_maps(listings, dates, area, path=maps_path)
    print(f"Graphique écrit : {out}\nTableau écrit : {table_path} ({len(history)} registre(s) : "
          f"{', '.join(history.index)}).\nCartes écrites : {maps_path} (une carte par registre, même étendue, "
          "mêmes couleurs).")
    return 0


def maps_file(chart: Path) -> Path:
    """The small-multiple maps written beside the chart: ``evolution.png`` → ``evolution_cartes.png``.

    Parameters
    ----------
    chart : Path
        The chart's file (``.png`` or ``.svg``).

    Returns
    -------
    Path
        The maps' file, in the chart's folder and format.
    """
    return chart.with_name(f"{chart.stem}_cartes{chart.suffix}")
