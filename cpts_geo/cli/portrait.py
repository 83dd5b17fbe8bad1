"""``cpts-geo portrait``: the printable portrait of one CPTS, or of every CPTS of a region."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cpts_geo.cli.options import (
    _flow_reading,
    _load_layer,
    _outputs_first,
    _passage,
    _read_any_registry,
    _read_supply,
    _validated,
)

if TYPE_CHECKING:
    import pandas as pd

    from cpts_geo.render.portrait import PortraitContext


def run(args: argparse.Namespace) -> int:
    """Run ``cpts-geo portrait``.

    Parameters
    ----------
    args : argparse.Namespace
        The options parsed by :func:`cpts_geo.cli.main.main`.

    Returns
    -------
    int
        The exit code: 0 on success, 3 when some portraits of a batch failed (the others are
        written, the failed ones listed with their reason); user mistakes raise and are
        printed by ``main``.
    """
    from cpts_geo.render import portrait as P

    _check_options(args)
    ctx = _context(args)
    options = _options(args, ctx)
    if args.cpts or args.communes:
        out = Path(args.output) if args.output else None
        res = P.portrait(args.cpts, out, pdf=args.pdf, context=ctx, **options)
        print(f"Portrait écrit : {res.html}" + (f" ; PDF : {res.pdf}" if res.pdf else ""))
        if res.message:
            print(res.message)
        return 0
    out = Path(args.output or "portraits")
    table = P.portraits(out, context=ctx, region=args.region_portraits, pdf=args.pdf, force=args.force,
                        **options)
    return _summary(table, out, pdf=args.pdf)


def _check_options(args: argparse.Namespace) -> None:
    """The options that do not go together, said before any reading."""
    if not (args.cpts or args.communes or args.region_portraits or args.toutes):
        raise ValueError("Choisissez la CPTS : --cpts ID, un périmètre en projet (--communes CODE…), "
                         "ou toutes celles d'une région (--region 32, --toutes).")
    if getattr(args, "temps", None) and not args.professionnels:
        raise ValueError("--temps donne les temps de trajet de l'accessibilité E2SFCA, calculée sur l'offre : "
                         "donnez aussi le fichier des professionnels (--professionnels bpe.csv).")
    if not (args.cpts or args.communes):  # a folder that cannot be written: said before computing
        _outputs_first(Path(args.output or "portraits") / "index.html")


def _context(args: argparse.Namespace) -> PortraitContext:
    """The registry (or the draft perimeter of --communes) validated, with what its portraits share."""
    from cpts_geo.render import portrait as P

    registry: Any = None
    if args.communes:
        registry = P.draft_registry(args.communes, name=args.nom or "Projet de CPTS")
    elif args.registry not in (None, "exemple"):
        # read and checked as every command does (--colonnes, --feuille, --etape, --etapes, --passage)
        france = _load_layer(args)
        registry = _validated(args, _read_any_registry(args, france), france)
    ctx = P.portrait_context(registry, passage=_passage(args))
    if ctx.illustrative:
        from cpts_geo.domain.territories import EXAMPLE_NOTE

        print(EXAMPLE_NOTE)
    return ctx


def _options(args: argparse.Namespace, ctx: PortraitContext) -> dict[str, Any]:
    """The options of :func:`cpts_geo.render.portrait.build_portrait`: each file given read once."""
    given = {"supply": args.professionnels, "flows": args.flux, "indicators": args.indicateurs, "ages": args.ages,
             "costs": getattr(args, "temps", None)}
    options: dict[str, Any] = {
        "secrecy": args.seuil, "rules": dict(r.split("=", 1) for r in args.regle or []),
        "sources": {k: f"fichier {Path(v).name}" for k, v in given.items() if v},
        "e2sfca": args.e2sfca or bool(given["costs"]), "map": not args.sans_carte}
    options.update(_tables(args, ctx))
    return options


def _tables(args: argparse.Namespace, ctx: PortraitContext) -> dict[str, Any]:
    """The user's tables (supply, flows, indicators, ages, travel times), read once each."""
    import warnings

    from cpts_geo.io.portrait import read_ages, read_indicators

    tables: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # repairs are reported in the portrait
        if args.professionnels:
            args.supply = args.professionnels
            tables["supply"] = _read_supply(args, ctx.france)
        if args.flux:
            tables["flows"] = _flows(args, ctx)
    if args.indicateurs:
        tables["indicators"] = read_indicators(args.indicateurs, sep=args.sep, year=args.annee_indicateurs)
    if args.ages:
        tables["ages"] = read_ages(args.ages, sep=args.sep)
    if getattr(args, "temps", None):
        from cpts_geo.domain.french import number
        from cpts_geo.io.costs import read_costs

        tables["costs"] = read_costs(args.temps)
        print(f"Temps de trajet : {args.temps} ({number(len(tables['costs']))} paires de communes), au lieu "
              "des temps estimés à partir des distances.")
    return tables


def _flows(args: argparse.Namespace, ctx: PortraitContext) -> pd.DataFrame:
    """The flow table of --flux (MOBPRO detail with --mobpro), prepared on the registry's units."""
    from cpts_geo.indicators import flows as F
    from cpts_geo.io import flows as flows_io

    raw = flows_io.read_mobpro(args.flux) if args.mobpro else flows_io.read_flows(args.flux, **_flow_reading(args))
    return F.prepare_flows(raw, passage=_passage(args), membership=ctx.checked.membership).flows


def _summary(table: pd.DataFrame, out: Path, *, pdf: bool) -> int:
    """Print what a batch wrote and what failed; the exit code (3 when some failed)."""
    from cpts_geo.render import portrait as P

    done, same, failed = ((table["État"] == state).sum() for state in ("écrit", "inchangé", "échec"))
    print(f"{len(table)} portrait(s) ({done} écrit(s), {same} inchangé(s)"
          + (f", {failed} en échec" if failed else "") + f") ; index : {out / 'index.html'}")
    if pdf:
        try:
            import weasyprint  # noqa: F401
        except (ImportError, OSError):
            print(P.PDF_HELP)
    if failed:
        print(f"Portraits non écrits ({failed}) :", file=sys.stderr)
        for rec in table[table["État"] == "échec"].itertuples(index=False):
            print(f"  - {_plain(rec.Identifiant)} {_plain(rec.Nom)} : {_plain(rec.Raison)}", file=sys.stderr)
        return 3
    return 0


def _plain(text: object) -> str:
    """User text for the terminal: control characters (escape sequences) shown, not obeyed."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
