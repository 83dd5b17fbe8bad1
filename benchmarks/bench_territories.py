"""Building every territory of a national registry vs ``GeoDataFrame.dissolve``.

Run: ``python benchmarks/bench_territories.py``. The registry groups all communes of
mainland France and Corsica into territories by EPCI (about 1 250), the order of magnitude
of a national CPTS map. Target (issue "registry → territories"): ``build_territories`` in at
most one third of the time of ``geopandas.GeoDataFrame.dissolve`` on the same input, in the
same run, with identical areas within 0.01 %.

Two figures are printed for cpts_geo: the dissolve alone (the geometric work, comparable
to geopandas) and the whole ``build_territories`` call (validation of the 35 000 rows:
codes, names, overlaps; population, tiers, parts; areas in Lambert-93).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from cpts_geo.communes import load_communes, to_metric
from cpts_geo.registry import validate_registry
from cpts_geo.territories import build_territories


def best_of(fn, repeat=3):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    france = load_communes()
    mainland = france[~france["department"].isin(["971", "972", "973", "974", "976"])]
    group = mainland["epci"].fillna("C" + pd.Series(mainland.index, index=mainland.index))
    registry = pd.DataFrame({"cpts_id": group.to_numpy(), "cpts_name": mainland["epci_name"].fillna(
        mainland["name"]).to_numpy(), "stage": "ACI signé", "commune_code": mainland.index})
    print(f"Registre national : {len(registry)} communes, {registry['cpts_id'].nunique()} territoires")

    t_val, checked = best_of(lambda: validate_registry(registry, mainland), repeat=1)
    t_build, ours = best_of(lambda: build_territories(checked, mainland, parts=False))
    t_all, _ = best_of(lambda: build_territories(registry, mainland, parts=False), repeat=1)
    frame = mainland.assign(cpts_id=group)[["cpts_id", "geometry"]]
    t_ref, ref = best_of(lambda: frame.dissolve("cpts_id"))

    ref_area = to_metric(ref).area.reindex(ours.index) / 1e6
    ratio = np.abs(ours["area_km2"] / ref_area - 1)
    print(f"cpts_geo build_territories (registre déjà validé) : {t_build:6.2f} s")
    print(f"cpts_geo validation du registre                   : {t_val:6.2f} s")
    print(f"cpts_geo build_territories (tout compris)         : {t_all:6.2f} s")
    print(f"référence geopandas GeoDataFrame.dissolve          : {t_ref:6.2f} s")
    print(f"rapport dissolve : {t_build / t_ref:.2f} (cible ≤ 0,33) ; "
          f"tout compris : {t_all / t_ref:.2f}")
    print(f"écart de surface max : {ratio.max():.2e} (cible < 1e-4), "
          f"territoires > 1e-4 : {(ratio > 1e-4).sum()}")


if __name__ == "__main__":
    main()
