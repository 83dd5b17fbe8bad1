"""``cpts-geo financement``: the maximal ACI funding of a tier, or of every CPTS of a registry."""

from __future__ import annotations

import argparse
from typing import Any

from cpts_geo.cli.options import _check, _outputs_first
from cpts_geo.cli.report import _printable
from cpts_geo.domain.french import number


def run(args: argparse.Namespace) -> int:
    """Run ``cpts-geo financement``.

    Parameters
    ----------
    args : argparse.Namespace
        The options parsed by :func:`cpts_geo.cli.main.main`.

    Returns
    -------
    int
        The exit code: 0 on success (user mistakes raise and are printed by ``main``).
    """
    from cpts_geo.domain.funding import aci_funding, early_mission_aid, funding_table

    if args.csv:
        _outputs_first(tables=[args.csv])
    options: dict[str, Any] = {"year": "later" if args.annee == "suivante" else "first",
                               "crisis": not args.sans_crise, "optional_missions": not args.sans_optionnelles}
    if args.tier is not None:
        table = aci_funding(args.tier, members=args.members, **options)
        print(f"Financement ACI annuel, CPTS de taille {args.tier} "
              f"({'1re rédaction' if options['year'] == 'first' else 'mise à jour'} du plan de crise, "
              f"{'avec' if options['crisis'] else 'sans'} survenue de crise, missions optionnelles "
              f"{'incluses' if options['optional_missions'] else 'exclues'}) :")
        print(table.map(_euros).to_string())
        print(f"Aide forfaitaire du contrat de mission précoce : {_euros(early_mission_aid(args.tier))}")
    else:
        from cpts_geo.domain.territories import build_territories

        args.passage = None
        _, checked, communes = _check(args)
        terr = build_territories(checked, communes, geometry=False)
        table = funding_table(terr, **options)
        shown = table.copy()
        for col in table.columns[4:]:  # a few distinct amounts: each formatted once
            amounts = table[col].unique()
            shown[col] = table[col].map(dict(zip(amounts, map(_euros, amounts))))
        print(_printable(shown.drop(columns=["Étape"])).to_string())
        print(f"Total : {_euros(table['Total annuel'].sum())} pour {len(table)} CPTS")
    if args.csv:
        from cpts_geo.domain.funding import funding_workbook
        from cpts_geo.io.tables import write_table

        write_table(funding_workbook(table) if args.tier is None else table, args.csv)
        print(_printable(f"Tableau écrit dans {args.csv}"))
    return 0


def _euros(amount: float) -> str:
    """An amount in euros as French readers write it (``28 000 €``), empty when there is none."""
    import pandas as pd

    return "" if pd.isna(amount) else f"{number(amount)} €"
