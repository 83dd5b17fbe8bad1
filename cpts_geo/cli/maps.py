"""``cpts-geo carte``: the regional map (HTML and PNG), coloured by stage, tier, CPTS or an indicator."""

from __future__ import annotations

import argparse

from cpts_geo.cli.options import _checked_for_maps, _outputs_first
from cpts_geo.domain.french import number


def run(args: argparse.Namespace) -> int:
    """Run ``cpts-geo carte``.

    Parameters
    ----------
    args : argparse.Namespace
        The options parsed by :func:`cpts_geo.cli.main.main`.

    Returns
    -------
    int
        The exit code: 0 on success (user mistakes raise and are printed by ``main``).
    """
    import time
    from pathlib import Path

    from cpts_geo.domain.codes import city_of
    from cpts_geo.domain.communes import region_code
    from cpts_geo.render.batch import area_maps, slug
    from cpts_geo.render.style import check_color

    t0 = time.perf_counter()
    check_color(args.couleur)
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
                    communes=france if getattr(args, "population", None) else None, column=args.couleur)
    print(f"Carte écrite : {out} ({number(res['size_mb'], 1)} Mo, {res['n_cpts']} CPTS, "
          f"{number(res['n_communes'])} communes)")
    if res["png"]:
        print(f"Carte imprimable écrite : {res['png']}")
    print(f"Terminé en {number(time.perf_counter() - t0, 1)} s.")
    return 0



