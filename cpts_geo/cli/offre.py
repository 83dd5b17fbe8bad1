"""``cpts-geo offre``: supply of professionals, density and accessibility per CPTS."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from cpts_geo.cli.options import _check, _outputs_first, _read_supply
from cpts_geo.cli.report import _printable
from cpts_geo.domain.french import number
from cpts_geo.io.files import write_csv

if TYPE_CHECKING:
    import pandas as pd

    from cpts_geo.domain.registry import CheckedRegistry
    from cpts_geo.indicators.density import CptsSupply
    from cpts_geo.indicators.supply import SupplyRead


def run(args: argparse.Namespace) -> int:
    """Run ``cpts-geo offre``.

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

    from cpts_geo.domain.communes import load_communes
    from cpts_geo.indicators.density import cpts_supply

    # options first: a mistake is said before any reading
    minutes = _minutes(args)
    professions = _professions(args)
    out = Path(args.output)
    _outputs_first(tables=[out])

    _, checked, _ = _check(args)
    france = load_communes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # remapped, rejected and duplicated rows: reported below
        supply = _read_supply(args, france)
    out.parent.mkdir(parents=True, exist_ok=True)
    _print_supply_read(args, supply)
    _write_supply_details(supply, out)
    costs = _costs(args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # summarised below, for the communes of the CPTS
        result = cpts_supply(supply, france, checked.membership, names=checked.cpts["name"],
                             professions=professions, max_minutes=minutes, costs=costs, quiet=True)
    if costs is not None:
        _print_not_in_costs(result, checked)
    _write_and_print(result, supply, checked, out)
    return 0


def _minutes(args: argparse.Namespace) -> float:
    """The reach of --minutes (20 by default): above the fixed time of a trip, at most the
    last DREES band."""
    from cpts_geo.indicators.accessibility import DREES_DECAY, TRAVEL_ASSUMPTIONS

    low, top = TRAVEL_ASSUMPTIONS["terminal_min"], max(DREES_DECAY)
    minutes = top if args.minutes is None else args.minutes
    if not low < minutes <= top:
        raise ValueError(
            f"--minutes {number(minutes, None)} : choisissez une portée de plus de "
            f"{number(low, None)} minute (temps fixe de chaque trajet) et d'au plus "
            f"{number(top, None)} minutes : les paliers DREES donnent un poids nul à partir de "
            f"{number(top, None)} minutes, une portée plus grande serait sans effet.")
    return minutes


def _professions(args: argparse.Namespace) -> list[str] | None:
    """The professions of --professions, each once (``None`` without the option: all)."""
    from cpts_geo.errors import ValidationError
    from cpts_geo.indicators.supply import parse_professions

    if not args.professions:
        return None
    try:
        return list(dict.fromkeys(parse_professions(args.professions)))
    except ValidationError as err:
        raise ValidationError("Option --professions : profession(s) non reconnue(s)",
                              [{"problem": text} for text in err.problems["problem"]]) from None


def _print_supply_read(args: argparse.Namespace, supply: SupplyRead) -> None:
    """One sentence on the rows of PROFESSIONNELS: kept, remapped, rejected, other, empty."""
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


def _write_supply_details(supply: SupplyRead, out: Path) -> None:
    """The rows rejected, remapped… of PROFESSIONNELS, each in a CSV beside ``out``."""
    from cpts_geo.indicators.supply import supply_report_tables

    for name, table in supply_report_tables(supply).items():
        path = out.with_name(f"{out.stem}_{name}.csv")
        write_csv(table, path, index=False)
        print(_printable(f"  détail : {path}"))


def _costs(args: argparse.Namespace) -> pd.DataFrame | None:
    """The travel times of --temps, read and said (``None`` without it: times estimated)."""
    if not getattr(args, "temps", None):
        return None
    from cpts_geo.io.costs import read_costs

    costs = read_costs(args.temps)
    print(_printable(f"Temps de trajet : {args.temps} ({number(len(costs))} paires de communes), au lieu "
                     "des temps estimés à partir des distances."))
    return costs


def _print_not_in_costs(result: CptsSupply, checked: CheckedRegistry) -> None:
    """The communes of the CPTS that the table of travel times lacks (accessibility unknown)."""
    ours = set(checked.membership["code"].astype(str))
    absent = sorted(c for c in result.accessibility.not_in_costs if str(c) in ours)
    if absent:
        print(f"{len(absent)} commune(s) des CPTS absente(s) de la table des temps (accessibilité inconnue) : "
              f"{', '.join(map(str, absent[:10]))}{' …' if len(absent) > 10 else ''}")


def _write_and_print(result: CptsSupply, supply: SupplyRead, checked: CheckedRegistry, out: Path) -> None:
    """Write the table per CPTS and profession; print the general practitioners' figures and
    what users must know."""
    from cpts_geo.indicators.density import (
        DENSITY_HEADERS,
        accessibility_header,
        cpts_supply_notes,
        cpts_supply_table,
    )
    from cpts_geo.io.tables import write_table

    table = cpts_supply_table(result)
    write_table(table, out)
    print(_printable(f"Densité et accessibilité de {len(checked.cpts)} CPTS écrites dans {out}."))
    if "médecin généraliste" in result.territories:
        gp = table.xs("médecin généraliste", level="Profession")
        print("Médecins généralistes pour 10 000 habitants (densité ; accessibilité) :")
        for cid, rec in gp.iterrows():
            print(f"  - {cid} {rec['Nom']} : {number(rec[DENSITY_HEADERS['density']], 1) or 'inconnue'} ; "
                  f"{number(rec[accessibility_header(result)], 1) or 'inconnue'}")
    notes = cpts_supply_notes(result, supply)
    if notes:
        print("À noter :")
        for note in notes:
            print(f"  - {note}")
