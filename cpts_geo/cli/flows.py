"""``cpts-geo flux``: patient-flow indicators of the CPTS of a registry."""

from __future__ import annotations

import argparse

from cpts_geo.cli.options import _check, _outputs_first, _read_flow_table, _study_area
from cpts_geo.cli.report import _printable
from cpts_geo.domain.french import number, percent


def run(args: argparse.Namespace) -> int:
    """Run ``cpts-geo flux``.

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

    import pandas as pd

    from cpts_geo.indicators import flows as F
    from cpts_geo.io import flows as flows_io
    from cpts_geo.io.files import output_set

    _outputs_first(tables=[Path(args.output)])
    _, checked, communes = _check(args)
    membership = checked.membership
    out = Path(args.output)
    # the report of codes, the indicators, the leaks and the flags: all four files or none,
    # renamed only once all are complete
    with output_set():
        table, report = _read_flow_table(args, membership, out)
        if report["new_code"].isna().any() and not args.passage:
            print("  Une table de passage INSEE (--passage) rattache les codes des communes fusionnées "
                  "depuis.")
        ind = F.cpts_flow_indicators(table, membership)
        if not (ind["resident_volume"].sum() or ind["delivered_volume"].sum()):
            print("Attention : aucun flux ne part des communes du registre ni n'y arrive ; la table de "
                  "flux et le registre portent-ils sur le même territoire ?")
        ind.insert(0, "name", checked.cpts["name"].reindex(ind.index).to_numpy())
        leaks = F.leakage_destinations(table, membership, n=5, communes=communes)
        area = _study_area(args, checked, F.commune_units(communes, membership["code"]))
        flags = F.coherence_flags(table, membership, area)
        out = flows_io.write_flow_table(ind, out, threshold=args.seuil)
        leaks_path = flows_io.write_flow_table(leaks, out.with_name(out.stem + "_fuites" + out.suffix),
                                               threshold=args.seuil)
        flags_path = flows_io.write_flow_table(flags, out.with_name(out.stem + "_signalements" + out.suffix),
                                               threshold=args.seuil)
    print(_printable(f"Indicateurs de {len(ind)} CPTS écrits dans {out} (secret statistique : volumes < "
                     f"{number(args.seuil, None)} masqués), destinations des fuites dans {leaks_path}, "
                     f"signalements ({len(flags)}) dans {flags_path}."))
    shown = F.mask_secrecy(ind, threshold=args.seuil)
    for cid, rec in shown.iterrows():
        if not ind.at[cid, "resident_volume"]:
            ret = "aucun flux de ses habitants dans la table"
        elif pd.isna(rec["retention"]):
            ret = "secret statistique"
        else:
            ret = percent(rec["retention"])
        print(_printable(f"  - {cid} {rec['name']} : rétention {ret}"))
    return 0
