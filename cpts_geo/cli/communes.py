"""``cpts-geo communes``: the embedded commune layer of an area, its vintages and known problems."""

from __future__ import annotations

import argparse

from cpts_geo.domain.french import number


def run(args: argparse.Namespace) -> int:
    """Run ``cpts-geo communes``.

    Parameters
    ----------
    args : argparse.Namespace
        The options parsed by :func:`cpts_geo.cli.main.main`.

    Returns
    -------
    int
        The exit code: 0 on success (user mistakes raise and are printed by ``main``).
    """
    from cpts_geo.domain.communes import layer_report, load_communes
    from cpts_geo.domain.metadata import layer_metadata

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
