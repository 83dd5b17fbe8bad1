"""``cpts-geo comparer``: what changed between two registries."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cpts_geo.cli.options import _columns_for, _load_layer, _passage, _reading, _stages
from cpts_geo.cli.report import _few, _printable
from cpts_geo.domain.french import number

if TYPE_CHECKING:
    import geopandas as gpd

    from cpts_geo.domain.compare import RegistryComparison
    from cpts_geo.domain.registry import RegistryRead


def run(args: argparse.Namespace) -> int:
    """Run ``cpts-geo comparer``.

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

    from cpts_geo.domain.compare import compare_registries
    from cpts_geo.io.formats import check_writable

    if args.output:
        check_writable(args.output)  # before any computing
    communes = _load_layer(args)
    for name in (args.ancien, args.nouveau):
        if not Path(name).exists():
            raise FileNotFoundError(f"Fichier introuvable : {name}")
    olds, news = _read(args, "ancien", args.ancien), _read(args, "nouveau", args.nouveau)
    result = compare_registries(olds, news, communes, passage=_passage(args), stages=_stages(args),
                                departments=args.departments, region=args.region)
    _print_fields(result)
    _print_matches(result)
    _print_changes(result)
    if args.output:
        _write(result, args.output, communes)
    return 0


def _print_fields(result: RegistryComparison) -> None:
    """Say what both registries were compared on: the area asked, or the field of each."""
    old_field, new_field = result.fields
    if result.restricted:
        print(f"Comparaison restreinte aux départements {', '.join(old_field)} dans les deux registres.")
    elif old_field != new_field and len(result.old.membership) and len(result.new.membership):
        print(f"Champ de chaque registre (départements où il a des CPTS) : ancien {', '.join(old_field)} ; "
              f"nouveau {', '.join(new_field)}. Ce qui est hors du champ de l'autre source est compté à part, "
              "pas comme un changement ; --departements ou --region pour comparer une zone commune.")


def _print_matches(result: RegistryComparison) -> None:
    """The CPTS found in both registries, dissolved and created; those matched despite another
    identifier or name."""
    m = result.matches
    apart = m["matched_by"] == "CPTS hors du champ de l'autre source"
    both = m.dropna(subset=["old_id", "new_id"])
    print(f"{number(len(both))} CPTS retrouvée(s) dans les deux registres, "
          f"{number(int((m['new_id'].isna() & ~apart).sum()))} dissoute(s), "
          f"{number(int((m['old_id'].isna() & ~apart).sum()))} créée(s)"
          + (f", {number(int(apart.sum()))} hors du champ de l'autre source" if apart.any() else "") + ".")
    renamed = both[(both["old_id"].astype(str) != both["new_id"].astype(str))
                   | (both["old_name"].astype(str) != both["new_name"].astype(str))]
    if len(renamed):
        print(f"Rapprochées malgré un identifiant ou un nom différent ({number(len(renamed))}) :")
        for rec in renamed.head(10).itertuples(index=False):
            print(f"  - {rec.old_id} {rec.old_name} = {rec.new_id} {rec.new_name} ({rec.matched_by})")
        if len(renamed) > 10:
            print(f"  … et {number(len(renamed) - 10)} autre(s)")


def _print_changes(result: RegistryComparison) -> None:
    """The count of each kind of change; apart, what lies outside the other source's field and
    the same CPTS written otherwise (with examples)."""
    from cpts_geo.domain.compare import CHANGES, WRITTEN_OTHERWISE

    outside = result.changes["change"].str.contains("hors du champ", regex=False)
    written = result.changes["change"].isin(WRITTEN_OTHERWISE)
    apart_kinds = [k for k in CHANGES if "hors du champ" in k or k in WRITTEN_OTHERWISE]
    if not (~outside & ~written).any():
        print("Aucun changement.")
    else:
        print(f"Changements ({number(int((~outside & ~written).sum()))}) :")
        for kind in CHANGES:
            if result.summary[kind] and kind not in apart_kinds:
                print(f"  {kind} : {number(int(result.summary[kind]))}")
    if outside.any():
        print("Hors du champ de l'autre source (listés à part, ce ne sont pas des changements) :")
        for kind in CHANGES:
            if result.summary[kind] and "hors du champ" in kind:
                print(f"  {kind} : {number(int(result.summary[kind]))}")
    if written.any():
        print("Mêmes CPTS écrites autrement (listées à part, leurs communes ne changent pas) :")
        for kind in WRITTEN_OTHERWISE:
            if result.summary[kind]:
                rows = result.changes[result.changes["change"] == kind]
                examples = _few(rows["old_value"].map(_printable) + " → " + rows["new_value"].map(_printable), 3)
                print(f"  {kind} : {number(int(result.summary[kind]))} ({examples})")


def _write(result: RegistryComparison, output: str, communes: gpd.GeoDataFrame) -> None:
    """Write the changes to ``output``: a layer (with the matching of the CPTS beside it, both
    or neither) or a table, by its extension."""
    from pathlib import Path

    from cpts_geo.io.formats import LAYER_FORMATS
    from cpts_geo.io.tables import matches_path, write_comparison, write_matches

    if Path(output).suffix.lower() not in LAYER_FORMATS:
        out = write_comparison(result, output)
        print(_printable(f"Tableau des changements écrit : {out}"))
        if out.suffix.lower() in (".csv", ".txt"):
            print(_printable(f"Rapprochement des CPTS écrit : {matches_path(out)}"))
        return
    import warnings

    from cpts_geo.domain.compare import changes_layer
    from cpts_geo.errors import CptsGeoWarning
    from cpts_geo.io.files import output_set
    from cpts_geo.io.layers import write_layers

    layer = changes_layer(result, communes)
    with warnings.catch_warnings(), output_set():  # the layer and the matching, both or neither
        warnings.simplefilter("ignore", CptsGeoWarning)  # said in written.note, printed below
        written = write_layers(output, None, changes=layer, shapefile=True)
        matches = write_matches(result, matches_path(output))
    print(_printable(f"Couche des changements écrite : {', '.join(map(str, written.paths))} "
                     f"(couches {', '.join(written.layers)}). {written.note}"))
    print(_printable(f"Rapprochement des CPTS écrit : {matches}"))


def _read(args: argparse.Namespace, which: str, path: str) -> RegistryRead:
    """Read one of the two registries; an error names it (ancien or nouveau, and its file)."""
    from pathlib import Path

    from cpts_geo.errors import ValidationError
    from cpts_geo.io.registry import read_registry_report

    options = _reading(args)
    try:
        return read_registry_report(path, columns=_columns_for(args, "registry"), **options)
    except ValidationError as err:
        raise ValidationError(f"Registre {which} ({Path(path).name}) : {err.summary}",
                              err.problems.to_dict("records")) from None
