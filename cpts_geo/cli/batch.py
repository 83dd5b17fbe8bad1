"""``cpts-geo cartes``: the maps of every region or department, with an index page."""

from __future__ import annotations

import argparse

from cpts_geo.cli.options import _checked_for_maps, _outputs_first


def run(args: argparse.Namespace) -> int:
    """Run ``cpts-geo cartes``.

    Parameters
    ----------
    args : argparse.Namespace
        The options parsed by :func:`cpts_geo.cli.main.main`.

    Returns
    -------
    int
        The exit code: 0 on success (user mistakes raise and are printed by ``main``).
    """
    from pathlib import Path

    from cpts_geo.render.batch import batch_maps
    from cpts_geo.render.style import check_color

    check_color(args.couleur)
    _outputs_first(Path(args.out) / "index.html")
    checked, illustrative, france = _checked_for_maps(args)
    table = batch_maps(checked, args.out, departments=args.departements, png=not args.no_png,
                       dpi=args.dpi, force=args.force, illustrative=illustrative,
                       communes=france if getattr(args, "population", None) else None, column=args.couleur)
    print(f"{len(table)} carte(s) ; index : {args.out}/index.html ; synthèse : {args.out}/synthese.csv")
    return 0
