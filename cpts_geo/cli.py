"""Command line: ``cpts-geo``, a thin layer over the library.

Each sub-command is a function ``_cmd_<name>(args) -> int``; messages are in French.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _cmd_communes(args: argparse.Namespace) -> int:
    from cpts_geo.communes import layer_report, load_communes

    communes = load_communes(region=args.region, departments=args.departments)
    where = f"région {args.region}" if args.region else "France entière"
    if args.departments:
        where += f", départements {', '.join(args.departments)}"
    pop = communes["population"]
    print(f"Communes ({where}) : {len(communes):n}".replace(",", " "))
    print(f"Population municipale {communes.attrs['population_vintage']} : "
          f"{int(pop.sum()):,}".replace(",", " "))
    print(f"Code officiel géographique : {communes.attrs['cog_vintage']}")
    print(f"Source : {communes.attrs['source']}")
    report = layer_report(communes)
    if len(report):
        print(f"Problèmes connus de la couche ({len(report)}) :")
        for rec in report.itertuples(index=False):
            print(f"  - {rec.code} {rec.name} : {rec.problem}")
    else:
        print("Problèmes connus de la couche : aucun")
    return 0


def _parser() -> argparse.ArgumentParser:
    from cpts_geo import __version__

    parser = argparse.ArgumentParser(
        prog="cpts-geo",
        description="Diagnostic territorial et cartographie des CPTS.",
    )
    parser.add_argument("--version", action="version", version=f"cpts_geo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMANDE")

    p = sub.add_parser("communes", help="résumé de la couche communale embarquée")
    p.add_argument("--region", help="code INSEE de la région, ex. 32")
    p.add_argument("--departments", nargs="+", metavar="DEP", help="codes de départements, ex. 59 62")
    p.set_defaults(func=_cmd_communes)

    p = sub.add_parser("show-versions", help="versions des dépendances (pour un rapport de bogue)")
    p.set_defaults(func=_cmd_show_versions)
    return parser


def _cmd_show_versions(args: argparse.Namespace) -> int:
    import importlib.metadata
    import platform

    print(f"python : {platform.python_version()} ({platform.platform()})")
    for pkg in ["cpts_geo", "geopandas", "shapely", "pyogrio", "pyproj", "pandas", "numpy",
                "scipy", "pyarrow", "folium", "mapclassify", "matplotlib", "openpyxl"]:
        try:
            version = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        print(f"{pkg} : {version}")
    import shapely

    print(f"GEOS : {shapely.geos_version_string}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``cpts-geo`` command; return its exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from cpts_geo.errors import ValidationError

    try:
        return args.func(args)
    except ValidationError as err:
        print(f"Erreur : {err}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as err:
        print(f"Erreur : {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
