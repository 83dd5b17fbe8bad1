"""``cpts-geo rapport``: the regional diagnosis of a region or of departments, as one A4 page."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from cpts_geo.cli.options import _outputs_first, _reading


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


def _registry(path, args: argparse.Namespace):
    from cpts_geo.io.registry import example_registry, read_registry_report

    if path in (None, "exemple"):
        return example_registry().registry
    if not Path(path).exists():
        raise FileNotFoundError(f"Fichier introuvable : {path}")
    return read_registry_report(path, **_reading(args))


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
    from cpts_geo.domain.communes import region_code
    from cpts_geo.render.report import regional_report

    region = None if args.departments else region_code(args.region or "32")
    out = Path(args.output) if args.output else Path(f"rapport-{region or '-'.join(args.departments)}.html")
    _outputs_first(out, *([out.with_suffix(".pdf")] if args.pdf else []))
    registry = _registry(args.registry, args)
    history = [_registry(p, args) for p in args.historique] if args.historique else None
    res = regional_report(registry, out, region=region, departments=args.departments,
                          previous=_registry(args.precedent, args) if args.precedent else None,
                          history=history, dates=dates_of(args.historique, args.dates) if history else None,
                          pdf=args.pdf, map=not args.sans_carte)
    figs = res.figures
    print(f"Rapport écrit : {res.path} ({figs['cpts.n'].text} CPTS, {figs['coverage.covered.share'].text} de la "
          f"population couverte, {figs['zones.n'].text} zone(s) blanche(s), financement ACI maximal "
          f"{figs['funding.total'].text}).")
    if res.pdf is not None:
        print(f"PDF écrit : {res.pdf}")
    if res.message:
        print(res.message)
    return 0
