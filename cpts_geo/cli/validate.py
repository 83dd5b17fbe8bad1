"""``cpts-geo valider``: check a registry against the rules and say what to fix."""

from __future__ import annotations

import argparse

from cpts_geo.cli.options import _check
from cpts_geo.cli.report import _print_report, _printable


def run(args: argparse.Namespace) -> int:
    """Run ``cpts-geo valider``.

    Parameters
    ----------
    args : argparse.Namespace
        The options parsed by :func:`cpts_geo.cli.main.main`.

    Returns
    -------
    int
        The exit code: 0 on success (user mistakes raise and are printed by ``main``).
    """
    reg, checked, _ = _check(args)
    m = checked.membership
    print(f"Registre valide : {len(checked.cpts)} CPTS, {m['code'].nunique()} communes, "
          f"{len(reg.registry)} lignes lues.")
    if reg.ignored:
        print(_printable(f"Colonnes ignorées : {', '.join(reg.ignored)}"))
    _print_report(checked.report, registry=args.registry)
    return 0
