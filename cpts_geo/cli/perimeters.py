"""``cpts-geo perimetres``: perimeter proposals from patient flows."""

from __future__ import annotations

import argparse

from cpts_geo.cli.options import _columns_for, _outputs_first, _passage, _read_flow_table, _reading, _stages
from cpts_geo.cli.report import _printable
from cpts_geo.domain.french import number


def run(args: argparse.Namespace) -> int:
    """Run ``cpts-geo perimetres``.

    Parameters
    ----------
    args : argparse.Namespace
        The options parsed by :func:`cpts_geo.cli.main.main`.

    Returns
    -------
    int
        The exit code: 0 on success (user mistakes raise and are printed by ``main``).
    """
    import warnings
    from pathlib import Path

    from cpts_geo.domain.communes import load_communes
    from cpts_geo.domain.registry import validate_registry
    from cpts_geo.indicators import flows as F
    from cpts_geo.indicators.perimeters import compare_perimeters, propose_perimeters
    from cpts_geo.io import flows as flows_io

    if not args.region and not args.departments:
        raise ValueError("Choisissez la zone à découper : --departements 61 (ou --region 28).")
    _outputs_first(tables=[Path(args.output)])
    area = load_communes(region=args.region, departments=args.departments)
    membership = None
    if args.registre:
        from cpts_geo.io.registry import read_registry

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            membership = validate_registry(read_registry(args.registre, columns=_columns_for(args, "registry"),
                                                         **_reading(args)), load_communes(),
                                           passage=_passage(args), stages=_stages(args)).membership
        # Paris, Lyon, Marseille by arrondissement where the registry divides them
        area = F.commune_units(area, membership["code"])
        if not args.chevauchement and area.index.isin(membership["code"]).all():
            raise ValueError("Aucune commune à regrouper : toutes celles de la zone sont déjà dans une "
                             "CPTS du registre. Relancez avec --chevauchement pour les regrouper quand "
                             "même.")
    out = Path(args.output)
    table, _ = _read_flow_table(args, membership, out)
    result = propose_perimeters(table, area, membership=membership, overlap=args.chevauchement,
                                min_sc=args.min_autonomie, target_sc=args.autonomie_cible,
                                min_size=args.taille_min, target_size=args.taille_cible)
    out.parent.mkdir(parents=True, exist_ok=True)
    from cpts_geo.io.tables import write_table

    write_table(result.registry, out, index=False)  # standard registry columns: read by validate
    areas_path = flows_io.write_flow_table(result.areas, out.with_name(out.stem + "_zones.csv"),
                                    threshold=args.seuil)
    valid = int(result.areas["valid"].sum())
    print(_printable(f"{len(result.areas)} zone(s) proposée(s) ({valid} valide(s) selon la règle de "
                     f"Coombes–Bond), {len(result.registry)} communes : registre proposé dans {out} (lisible "
                     f"par « cpts-geo valider »), indicateurs dans {areas_path} (secret statistique : volumes "
                     f"< {number(args.seuil, None)} masqués). Proposition à discuter : rien n'est appliqué au "
                     "registre."))
    if membership is not None:
        changes, _ = compare_perimeters(result.registry, membership, communes=area)
        diff_path = flows_io.write_flow_table(changes, out.with_name(out.stem + "_comparaison.csv"),
                                       threshold=None)
        print(_printable(f"Comparaison avec la carte actuelle : {diff_path}"))
        for change, n in changes["change"].value_counts().items():
            print(f"  - {change} : {number(n)}")
    return 0
