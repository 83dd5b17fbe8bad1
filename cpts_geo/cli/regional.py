"""``cpts-geo rapport``: the regional diagnosis of a region or of departments, as one A4 page."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING

from cpts_geo.cli.options import _columns_for, _outputs_first, _passage, _reading, _stages

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from cpts_geo.domain.registry import CheckedRegistry
    from cpts_geo.indicators.supply import SupplyRead


def dates_of(paths: list[str], given: list[str] | None) -> list[str]:
    """The date of each listing: given, or read in its file name (``2024-06``, ``2024``), or its name.

    Parameters
    ----------
    paths : list of str
        The listings' files.
    given : list of str or None
        The dates given with ``--dates``.

    Returns
    -------
    list of str
        One date (or label) per listing.

    Raises
    ------
    ValueError
        When ``--dates`` does not give one date per listing.
    """
    if given:
        if len(given) != len(paths):
            raise ValueError(f"--dates : {len(given)} date(s) pour {len(paths)} registre(s) ; donnez-en une par "
                             "registre, dans le même ordre.")
        return list(given)
    out = []
    for path in paths:
        found = re.search(r"(\d{4}(?:[-_]\d{2}(?:[-_]\d{2})?)?)", Path(path).stem)
        out.append(found.group(1).replace("_", "-") if found else Path(path).stem)
    return out


def _registry(path: str | None, args: argparse.Namespace, france: gpd.GeoDataFrame) -> CheckedRegistry:
    """A listing given on the command line (« exemple » or nothing: the illustrative registry), read
    with --colonnes, --feuille… and checked with --etape, --etapes and --passage, like every command."""
    import warnings

    from cpts_geo.domain.registry import validate_registry
    from cpts_geo.io.registry import example_registry, read_registry_report

    if path in (None, "exemple"):
        read = example_registry()
    elif not Path(str(path)).exists():
        raise FileNotFoundError(f"Fichier introuvable : {path}")
    else:
        read = read_registry_report(str(path), columns=_columns_for(args, "registry"), **_reading(args))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # each listing's corrections: cpts-geo valider
        return validate_registry(read, france, passage=_passage(args), stage_default=getattr(args, "etape", None),
                                 stages=_stages(args))


def supply_source(path: str, read: SupplyRead) -> str:
    """What the page cites for a supply file: its name, its format and its vintage when its name says it.

    Parameters
    ----------
    path : str
        The file given with ``--offre``.
    read : SupplyRead
        What :func:`cpts_geo.io.supply.read_supply` read.

    Returns
    -------
    str
        For instance « fichier bpe2018_sante_communes.csv (Base permanente des équipements de l'INSEE),
        millésime 2018 d'après le nom du fichier ».
    """
    name = Path(path).name
    kind = "Base permanente des équipements de l'INSEE" if read.format == "bpe" else \
        "table commune / profession / effectif"
    year = re.search(r"(?<!\d)((?:19|20)\d{2})(?!\d)", Path(path).stem)
    vintage = f"millésime {year.group(1)} d'après le nom du fichier" if year else \
        "millésime non indiqué (le nom du fichier ne le dit pas)"
    return f"fichier {name} ({kind}), {vintage}"


def _supply(args: argparse.Namespace, france: gpd.GeoDataFrame) -> tuple[SupplyRead | None, pd.DataFrame | None]:
    """--offre and --temps read (each said on screen), or ``None``."""
    import warnings

    from cpts_geo.cli.options import _read_supply
    from cpts_geo.domain.french import number

    if args.supply is None:
        return None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rows set aside: said below
        supply = _read_supply(args, france)
    other, empty = supply.other_equipment_rows, supply.rows_empty
    print(f"Offre lue : {number(supply.file_rows)} lignes dans le fichier, {number(supply.rows_used)} retenue(s), "
          f"{number(supply.rows_rejected)} écartée(s) (code absent de la couche des communes)"
          + (f", {number(other)} d'autres équipements (hors professions)" if other else "")
          + (f", {number(empty)} sans effectif (cellules vides ou à 0)" if empty else "") + ".")
    if args.temps is None:
        return supply, None
    from cpts_geo.io.costs import read_costs

    costs = read_costs(args.temps, sep=args.sep, sheet=args.feuille)
    print(f"Temps de trajet : {args.temps} ({number(len(costs))} paires de communes), au lieu des temps "
          "estimés à partir des distances.")
    return supply, costs


def run(args: argparse.Namespace) -> int:
    """Run ``cpts-geo rapport``.

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
    from cpts_geo.indicators.regional import COSTS_NEED_SUPPLY
    from cpts_geo.render.report import regional_report

    if args.temps is not None and args.supply is None:
        raise ValueError(COSTS_NEED_SUPPLY)
    region = None if args.departments else region_code(args.region or "32")
    out = Path(args.output) if args.output else Path(f"rapport-{region or '-'.join(args.departments)}.html")
    _outputs_first(out, *([out.with_suffix(".pdf")] if args.pdf else []))
    france = load_communes(crs=None)
    registry = _registry(args.registry, args, france)
    history = [_registry(p, args, france) for p in args.historique] if args.historique else None
    supply, costs = _supply(args, france)
    res = regional_report(registry, out, region=region, departments=args.departments,
                          previous=_registry(args.precedent, args, france) if args.precedent else None,
                          previous_name=Path(args.precedent).name if args.precedent else None,
                          history=history, dates=dates_of(args.historique, args.dates) if history else None,
                          pdf=args.pdf, map=not args.sans_carte, communes=france, supply=supply, costs=costs,
                          supply_source=supply_source(args.supply, supply) if supply is not None else None,
                          costs_source=f"fichier {Path(args.temps).name}" if costs is not None else None)
    figs = res.figures
    print(f"Rapport écrit : {res.path} ({figs['cpts.n'].text} CPTS, {figs['coverage.covered.share'].text} de la "
          f"population couverte, {figs['zones.n'].text} zone(s) blanche(s), financement ACI maximal "
          f"{figs['funding.total'].text}).")
    if "gp.area.density" in figs:
        print(f"Médecins généralistes pour 10 000 habitants : {figs['gp.area.density'].text} dans le territoire, "
              f"{figs['gp.france.density'].text} en France ; densité et accessibilité de chaque CPTS dans le "
              "rapport.")
    if res.pdf is not None:
        print(f"PDF écrit : {res.pdf}")
    if res.message:
        print(res.message)
    return 0
