"""``cpts-geo editeur``: the perimeter editor of an area, as one HTML page."""

from __future__ import annotations

import argparse

from cpts_geo.cli.options import _passage, _read_any_registry, _read_supply, _stages
from cpts_geo.cli.report import _print_report
from cpts_geo.domain.french import number


def run(args: argparse.Namespace) -> int:
    """Run ``cpts-geo editeur``.

    Parameters
    ----------
    args : argparse.Namespace
        The options parsed by :func:`cpts_geo.cli.main.main`.

    Returns
    -------
    int
        The exit code: 0 on success (user mistakes raise and are printed by ``main``).
    """
    import warnings
    from pathlib import Path

    from cpts_geo.domain.communes import load_communes, region_code
    from cpts_geo.domain.registry import validate_registry
    from cpts_geo.render.batch import slug
    from cpts_geo.render.editor import perimeter_editor

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
            checked = validate_registry(reg, communes, passage=_passage(args), stages=_stages(args))
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
