"""``cpts-geo portrait``: the printable portrait of one CPTS, or of every CPTS of a region."""

from __future__ import annotations

import argparse
import sys

from cpts_geo.cli.options import _flow_reading, _outputs_first, _passage, _read_supply


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
    import warnings
    from pathlib import Path

    from cpts_geo.render import portrait as P

    if not (args.cpts or args.communes or args.region_portraits or args.toutes):
        raise ValueError("Choisissez la CPTS : --cpts ID, un périmètre en projet (--communes CODE…), "
                         "ou toutes celles d'une région (--region 32, --toutes).")
    if not (args.cpts or args.communes):  # a folder that cannot be written: said before computing
        _outputs_first(Path(args.output or "portraits") / "index.html")
    registry = args.communes if args.communes else args.registry
    if args.communes:
        registry = P.draft_registry(args.communes, name=args.nom or "Projet de CPTS")
    elif args.registry in (None, "exemple"):
        registry = None
    ctx = P.portrait_context(registry, passage=_passage(args))
    if ctx.illustrative:
        from cpts_geo.domain.territories import EXAMPLE_NOTE

        print(EXAMPLE_NOTE)
    given = {"supply": args.professionnels, "flows": args.flux, "indicators": args.indicateurs, "ages": args.ages}
    options = {"secrecy": args.seuil, "rules": dict(r.split("=", 1) for r in args.regle or []),
               "sources": {k: f"fichier {Path(v).name}" for k, v in given.items() if v},
               "e2sfca": args.e2sfca, "map": not args.sans_carte}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # repairs are reported in the portrait
        if args.professionnels:
            args.supply = args.professionnels
            options["supply"] = _read_supply(args, ctx.france)
        if args.flux:
            from cpts_geo.indicators import flows as F
            from cpts_geo.io import flows as flows_io

            raw = flows_io.read_mobpro(args.flux) if args.mobpro else flows_io.read_flows(args.flux, **_flow_reading(args))
            options["flows"] = F.prepare_flows(raw, passage=_passage(args), membership=ctx.checked.membership).flows
    from cpts_geo.io.portrait import read_ages, read_indicators

    if args.indicateurs:
        options["indicators"] = read_indicators(args.indicateurs, sep=args.sep, year=args.annee_indicateurs)
    if args.ages:
        options["ages"] = read_ages(args.ages, sep=args.sep)
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
    done, same, failed = ((table["État"] == state).sum() for state in ("écrit", "inchangé", "échec"))
    print(f"{len(table)} portrait(s) ({done} écrit(s), {same} inchangé(s)"
          + (f", {failed} en échec" if failed else "") + f") ; index : {out / 'index.html'}")
    if args.pdf:
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



def _plain(text: str) -> str:
    """User text for the terminal: control characters (escape sequences) shown, not obeyed."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
