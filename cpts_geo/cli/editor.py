"""``cpts-geo editeur``: the perimeter editor of an area, as one HTML page."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cpts_geo.cli.options import _outputs_first, _read_any_registry, _read_supply, _validated
from cpts_geo.cli.report import _few, _print_report
from cpts_geo.domain.codes import is_in
from cpts_geo.domain.french import number

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from cpts_geo.domain.registry import CheckedRegistry
    from cpts_geo.indicators.supply import SupplyRead


def _in_page(checked: CheckedRegistry, communes: gpd.GeoDataFrame) -> CheckedRegistry:
    """The CPTS of the registry with a unit on the page (a commune, or an arrondissement of a
    city of the page); say which are left out and which have communes « hors zone »."""
    from cpts_geo.domain.codes import city_of, is_in

    member = checked.membership
    on_page = is_in(city_of(member["code"]), communes.index) | is_in(member["code"], communes.index)
    shown = member.loc[on_page, "cpts_id"].unique()
    left = checked.cpts.index[~is_in(checked.cpts.index, shown)]
    if len(left):
        print(f"{number(len(left))} CPTS du registre sans commune dans la zone de l'éditeur, non affichée(s) : "
              f"{_few(left)}.")
    beyond = member[~on_page & is_in(member["cpts_id"], shown)]
    if len(beyond):
        print(f"{number(beyond['cpts_id'].nunique())} CPTS à cheval sur la limite de la zone : leurs "
              f"{number(len(beyond))} commune(s) hors zone sont comptées à part (« hors zone » dans l'infobulle), "
              f"ex. {_few(beyond['cpts_id'].unique())}.")
    if not len(left):
        return checked
    return checked._replace(membership=member[is_in(member["cpts_id"], shown)].reset_index(drop=True),
                            cpts=checked.cpts.loc[is_in(checked.cpts.index, shown)])


def _split_cities(communes: gpd.GeoDataFrame, checked: CheckedRegistry | None) -> list[str]:
    """Names of the cities of the page drawn by arrondissement (asked, or given so by the registry)."""
    import pandas as pd

    from cpts_geo.data.communes import arrondissement_codes
    from cpts_geo.domain.codes import is_in

    arm = arrondissement_codes()
    parents = set(arm.loc[is_in(arm.index, communes.index), "parent"])
    if checked is not None:
        given = arm[is_in(arm.index, checked.membership["code"]) & is_in(arm["parent"], communes.index)]
        parents |= set(given["parent"])
    from cpts_geo.domain.communes import load_communes

    names = load_communes(crs=None)["name"] if parents else pd.Series(dtype=object)
    return [str(names.get(c, c)) for c in sorted(parents)]



def _supply(args: argparse.Namespace, communes: gpd.GeoDataFrame, checked: CheckedRegistry | None) -> SupplyRead:
    """The supply of ``--offre``, read against every commune of France and said."""
    import warnings

    from cpts_geo.domain.communes import load_communes

    # read against every commune of France: the supply of the communes around the zone is
    # kept, so that a draft touching the zone's limit is told what it does not count
    # a city drawn by arrondissement has its supply read by arrondissement
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        supply = _read_supply(args, load_communes(arrondissements=bool(_split_cities(communes, checked))))
    unknown = supply.rows_rejected  # codes that are no commune of France
    inside = is_in(supply.table["code"].astype(str), communes.index.astype(str))
    print(f"Offre de soins : {number(int(inside.sum()))} lignes (commune × profession) dans la zone"
          + (f" ; {number(int((~inside).sum()))} hors de la zone, non comptées (celles des communes voisines "
             "sont signalées dans le panneau de chaque brouillon qui les touche)" if (~inside).any() else "")
          + (f" ; {number(unknown)} ligne(s) du fichier sans commune connue, non utilisées" if unknown else "")
          + ".")
    return supply


def _costs(args: argparse.Namespace) -> pd.DataFrame | None:
    """The travel times of ``--temps`` (with ``--offre`` only), read and said."""
    if not getattr(args, "temps", None):
        return None
    if not args.supply:
        raise ValueError("--temps sert à l'accessibilité E2SFCA des professionnels : donnez aussi l'offre de soins "
                         "(--offre BPE). L'APL des médecins généralistes affiché est celui publié par la DREES, "
                         "calculé avec ses propres temps de trajet.")
    from cpts_geo.io.costs import read_costs

    costs = read_costs(args.temps)
    print(f"Temps de trajet : {args.temps} ({number(len(costs))} paires de communes) : accessibilité E2SFCA des "
          "professionnels dans le panneau, avec ces temps ; l'APL affiché reste celui de la DREES.")
    return costs


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
    from cpts_geo.errors import CptsGeoWarning
    from cpts_geo.render.batch import slug
    from cpts_geo.render.editor import perimeter_editor

    if not args.region and not args.departments:
        raise ValueError("Choisissez les communes de l'éditeur : --region 32 (code ou nom) ou --departements 59 62.")
    communes = load_communes(region=region_code(args.region) if args.region else None,
                             departments=args.departments, arrondissements=bool(getattr(args, "arrondissements", False)))
    name = (communes["region_name"].iloc[0] if args.region else "-".join(args.departments))
    out = Path(args.output) if args.output else Path("maps") / f"editeur-{slug(str(name))}.html"
    _outputs_first(out)
    costs = _costs(args)
    checked = None
    if args.registry:
        # checked against all of France: a CPTS may hold communes outside the page (« hors zone »)
        france = load_communes()
        reg = _read_any_registry(args, france)
        checked = _validated(args, reg, france)
        _print_report(checked.report, registry=args.registry)
        checked = _in_page(checked, communes)
    supply = _supply(args, communes, checked) if args.supply else None
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always", CptsGeoWarning)
        path = perimeter_editor(communes, checked, out, supply=supply, costs=costs,
                                costs_source=Path(args.temps).name if costs is not None else None)
    for w in said:
        if issubclass(w.category, CptsGeoWarning):
            print(f"À noter : {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    print(f"Éditeur de périmètres écrit : {path} ({number(path.stat().st_size / 1e6, 1)} Mo, "
          f"{number(len(communes))} communes"
          + (f", {checked.cpts.shape[0]} CPTS du registre" if checked is not None else "") + ").")
    split = _split_cities(communes, checked)
    if split:
        print(f"Par arrondissement municipal : {', '.join(split)}.")
    gone = communes.geometry.isna().to_numpy() | communes.geometry.is_empty.to_numpy()
    if gone.any():
        names = communes.index[gone] + " " + communes.loc[gone, "name"].astype(str)
        print(f"{number(int(gone.sum()))} commune(s) sans géométrie dans la source, non dessinées, listées dans "
              f"le panneau de la page (on peut les ajouter à un brouillon) : {_few(names)}.")
    print("Ouvrez-le dans un navigateur (aucune connexion nécessaire) ; les brouillons restent dans ce "
          "navigateur et s'exportent en CSV pour « cpts-geo valider ».")
    return 0
