"""``cpts-geo comparer``: what changed between two registries."""

from __future__ import annotations

import argparse

from cpts_geo.cli.options import _load_layer, _passage
from cpts_geo.domain.french import number


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

    from cpts_geo.domain.compare import CHANGES, compare_registries
    from cpts_geo.io.formats import LAYER_FORMATS, check_writable
    from cpts_geo.io.tables import write_comparison

    layer_out = bool(args.output) and Path(args.output).suffix.lower() in LAYER_FORMATS
    if args.output:
        check_writable(args.output)  # before any computing
    communes = _load_layer(args)
    for name in (args.ancien, args.nouveau):
        if not Path(name).exists():
            raise FileNotFoundError(f"Fichier introuvable : {name}")
    from cpts_geo.io.registry import read_registry

    result = compare_registries(read_registry(args.ancien), read_registry(args.nouveau), communes,
                                passage=_passage(args))
    m = result.matches
    both = m.dropna(subset=["old_id", "new_id"])
    print(f"{number(len(both))} CPTS retrouvée(s) dans les deux registres, "
          f"{number(int(m['new_id'].isna().sum()))} dissoute(s), {number(int(m['old_id'].isna().sum()))} "
          "créée(s).")
    renamed = both[(both["old_id"].astype(str) != both["new_id"].astype(str))
                   | (both["old_name"].astype(str) != both["new_name"].astype(str))]
    if len(renamed):
        print(f"Rapprochées malgré un identifiant ou un nom différent ({number(len(renamed))}) :")
        for rec in renamed.head(10).itertuples(index=False):
            print(f"  - {rec.old_id} {rec.old_name} = {rec.new_id} {rec.new_name} ({rec.matched_by})")
        if len(renamed) > 10:
            print(f"  … et {number(len(renamed) - 10)} autre(s)")
    if not len(result.changes):
        print("Aucun changement.")
    else:
        print(f"Changements ({number(len(result.changes))}) :")
        for kind in CHANGES:
            if result.summary[kind]:
                print(f"  {kind} : {number(int(result.summary[kind]))}")
    if layer_out:
        import warnings

        from cpts_geo.domain.compare import changes_layer
        from cpts_geo.errors import CptsGeoWarning
        from cpts_geo.io.layers import write_layers

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CptsGeoWarning)  # said in written.note, printed below
            written = write_layers(args.output, None, changes=changes_layer(result, communes), shapefile=True)
        print(f"Couche des changements écrite : {', '.join(map(str, written.paths))} "
              f"(couches {', '.join(written.layers)}). {written.note}")
    elif args.output:
        out = write_comparison(result, args.output)
        print(f"Tableau des changements écrit : {out}")
    return 0
