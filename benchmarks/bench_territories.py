"""Building every territory of a national registry vs ``GeoDataFrame.dissolve``.

Run: ``python benchmarks/bench_territories.py [--repeat N] [--regions]`` (it measures the code
of this checkout; ``--regions`` adds the comparison region by region, where fixed costs of a few
milliseconds weigh more). The registry groups all communes of mainland France and Corsica into territories
by EPCI (about 1 250), the order of magnitude of a national CPTS map. Goal (issue 19): the
build of an already validated registry faster than geopandas' ``dissolve(method="coverage")``
(the same algorithm, GEOS coverage union, on the same input), with the same areas within
1e-6 relative.

Runs alternate in one process (same machine load for all): cpts_geo
``build_territories(checked, parts=False)`` (everything: population, tiers, departments,
regions, parts count, sliver check, areas in Lambert-93), geopandas
``dissolve(method="coverage")`` and the default ``dissolve()`` (unary union), and a bare
``shapely.coverage_union_all`` loop over the groups (the floor: geometry only). cpts_geo
dissolves the embedded communes from their precomputed shared borders
(``data/communes/topology.parquet``); the same build on a user's layer (the same communes in
Lambert-93: not the embedded geometries, so without those borders) is timed against
``dissolve(method="coverage")`` of that layer too. The reference areas are those of the coverage dissolve projected to Lambert-93 (not timed).
Medians are printed, with the ratio to the goal. The validation of the registry and the
whole call (validation included; then with ``parts=True``, the default, which describes the
territories in several parts) are printed too; the goal of issue 19 for validation and build
together is under 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's cpts_geo

from cpts_geo.domain.communes import load_communes
from cpts_geo.domain.crs import to_metric
from cpts_geo.domain.registry import validate_registry
from cpts_geo.domain.territories import build_territories


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--regions", action="store_true",
                        help="aussi par région (registre exemple des Hauts-de-France, EPCI d'autres régions)")
    parser.add_argument("--no-unary", action="store_true",
                        help="sans dissolve() par défaut (16 s par exécution) : les autres seulement")
    args = parser.parse_args(argv)
    france = load_communes()
    mainland = france[~france["department"].isin(["971", "972", "973", "974", "976"])]
    group = mainland["epci"].fillna("C" + pd.Series(mainland.index, index=mainland.index))
    registry = pd.DataFrame({"cpts_id": group.to_numpy(), "cpts_name": mainland["epci_name"].fillna(
        mainland["name"]).to_numpy(), "stage": "ACI signé", "commune_code": mainland.index})
    print(f"Registre national : {len(registry)} communes, {registry['cpts_id'].nunique()} territoires")
    frame = mainland.assign(cpts_id=group)[["cpts_id", "geometry"]]
    codes, uniq = pd.factorize(frame["cpts_id"])
    geoms = frame.geometry.to_numpy()
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniq) + 1))

    def floor():
        return [shapely.coverage_union_all(geoms[order[bounds[i]:bounds[i + 1]]])
                for i in range(len(uniq))]

    t0 = time.perf_counter()
    checked = validate_registry(registry, mainland)
    t_val = time.perf_counter() - t0
    # a user's layer: the same communes in Lambert-93, so not the embedded geometries (no
    # precomputed shared borders: GEOS' coverage union, as dissolve)
    mainland_l93 = mainland.to_crs(2154)
    frame_l93 = frame.to_crs(2154)
    checked_l93 = validate_registry(registry, mainland_l93)
    runs = {
        "ours": lambda: build_territories(checked, mainland, parts=False),
        "coverage": lambda: frame.dissolve("cpts_id", method="coverage"),
        "unary": lambda: frame.dissolve("cpts_id"),
        "floor": floor,
        "user": lambda: build_territories(checked_l93, mainland_l93, parts=False),
        "user_coverage": lambda: frame_l93.dissolve("cpts_id", method="coverage"),
    }
    if args.no_unary:
        del runs["unary"]
    times: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    out = {}
    load = os.getloadavg()[0]
    for _ in range(args.repeat):
        for name, fn in runs.items():
            t0, c0 = time.perf_counter(), time.process_time()
            out[name] = fn()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    t0 = time.perf_counter()
    build_territories(registry, mainland, parts=False)
    t_all = time.perf_counter() - t0
    t0 = time.perf_counter()
    build_territories(registry, mainland)  # as users call it: the parts described too
    t_parts = time.perf_counter() - t0
    med = {k: statistics.median(v) for k, v in times.items()}
    mcpu = {k: statistics.median(v) for k, v in cpu.items()}
    ours = out["ours"]
    ref_area = to_metric(out["coverage"]).area.reindex(ours.index) / 1e6
    if args.no_unary:  # (the figures of dissolve() are then those of dissolve(coverage))
        out["unary"], med["unary"], mcpu["unary"] = out["coverage"], med["coverage"], mcpu["coverage"]
    unary_area = to_metric(out["unary"]).area.reindex(ours.index) / 1e6
    rel = np.abs(ours["area_km2"] / ref_area - 1)
    rel_unary = np.abs(ours["area_km2"] / unary_area - 1)
    print(f"médianes de {args.repeat} exécutions alternées (charge de la machine, moyenne 1 min : "
          f"{load:.1f} au départ, {os.getloadavg()[0]:.1f} à la fin, pour {os.cpu_count()} cœurs ; "
          "temps écoulé, puis temps CPU du processus) :")
    print(f"  cpts_geo build_territories (registre validé)   : {med['ours']:6.3f} s, CPU {mcpu['ours']:6.3f} s")
    print(f"  geopandas dissolve(method=\"coverage\")          : {med['coverage']:6.3f} s, "
          f"CPU {mcpu['coverage']:6.3f} s")
    if not args.no_unary:
        print(f"  geopandas dissolve() (union par défaut)         : {med['unary']:6.3f} s, "
              f"CPU {mcpu['unary']:6.3f} s")
    print(f"  plancher : boucle shapely.coverage_union_all    : {med['floor']:6.3f} s, CPU {mcpu['floor']:6.3f} s")
    print(f"rapport cpts_geo ÷ dissolve(coverage) : {med['ours'] / med['coverage']:.2f} en temps écoulé, "
          f"{mcpu['ours'] / mcpu['coverage']:.2f} en temps CPU (objectif < 1) ; ÷ dissolve() : "
          f"{med['ours'] / med['unary']:.2f} ; ÷ plancher : {med['ours'] / med['floor']:.2f} "
          f"(CPU {mcpu['ours'] / mcpu['floor']:.2f})")
    print(f"écart relatif de surface max : {rel.max():.1e} avec dissolve(coverage) "
          f"(objectif ≤ 1e-6, territoires au-delà : {int((rel > 1e-6).sum())}), "
          f"{rel_unary.max():.1e} avec dissolve()")
    print(f"couche de l'utilisateur (mêmes communes en Lambert-93, sans les frontières précalculées "
          f"des communes embarquées) : cpts_geo {med['user']:.3f} s, dissolve(coverage) "
          f"{med['user_coverage']:.3f} s, rapport {med['user'] / med['user_coverage']:.2f}")
    print(f"hors objectif : validation du registre {t_val:.2f} s ; build_territories tout compris "
          f"(validation incluse) {t_all:.2f} s, avec la description des parties (par défaut) {t_parts:.2f} s")

    if args.regions:
        regional(args.repeat)


def regional(repeat: int) -> None:
    """The same comparison region by region: fixed costs weigh more on small registries."""
    from cpts_geo.io.registry import load_example_registry

    print(f"par région (médianes de {repeat}, registre validé, sans la description des parties) :")
    cases = [("Hauts-de-France, registre exemple", "32", load_example_registry())]
    cases += [(name, code, None) for name, code in
              (("Occitanie, par EPCI", "76"), ("Bretagne, par EPCI", "53"), ("La Réunion, par EPCI", "04"),
               ("Corse, par EPCI", "94"))]
    for name, code, registry in cases:
        layer = load_communes(region=code)
        if registry is None:
            group = layer["epci"].fillna("C" + pd.Series(layer.index, index=layer.index))
            registry = pd.DataFrame({"cpts_id": group.to_numpy(), "stage": "ACI signé",
                                     "commune_code": layer.index})
        checked = validate_registry(registry, layer)
        member = checked.membership
        frame = layer.loc[member["code"].to_numpy()].assign(cpts_id=member["cpts_id"].to_numpy())
        ours, theirs = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            build_territories(checked, layer, parts=False)
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            frame[["cpts_id", "geometry"]].dissolve("cpts_id", method="coverage")
            theirs.append(time.perf_counter() - t0)
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"  {name} ({len(checked.cpts)} territoires) : cpts_geo {a * 1000:.0f} ms, "
              f"dissolve(coverage) {b * 1000:.0f} ms, rapport {a / b:.2f}")


if __name__ == "__main__":
    main()
