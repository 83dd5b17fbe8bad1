"""Validating registries: 10 000, 100 000 and 1 000 000 rows with overlaps everywhere, and the
national registry validated then built.

Run: ``python benchmarks/bench_registry.py`` (``--quick`` skips the million rows). Goals (issues
15 and 19): a registry of 1 000 000 rows whose communes are all claimed several times is
validated (every overlap listed, with every claimant, in one error) in under 30 s, and the time
grows about linearly with the rows; the national registry (34 746 communes of mainland France
and Corsica grouped by EPCI into 1 234 territories) is validated and built in under 1.0 s in
all. Medians of several runs. The reference beside each figure is the least any validation has
to do on the same rows: pandas' ``groupby(code).nunique()`` of the claimants (it finds the
overlapping communes, without names, rows or claimants); figures measured before this work are
quoted from the issues (16 min 31 s for the million rows, 1.15 s for the national validation).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np
import pandas as pd

from cpts_geo.domain.communes import load_communes
from cpts_geo.domain.registry import validate_registry
from cpts_geo.domain.territories import build_territories
from cpts_geo.errors import ValidationError


def median_time(fn, repeat: int) -> tuple[float, object]:
    """Median wall time of ``repeat`` runs (the CPU time of the same runs is kept in CPU)."""
    times, cpu, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    CPU.append(statistics.median(cpu))
    return statistics.median(times), out


CPU: list[float] = []


def overlapping_registry(n_rows: int, france: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """``n_rows`` rows: CPTS of 30 communes drawn at random, so that most communes are claimed
    by several CPTS once the registry is large; names typed as INSEE writes them."""
    rng = np.random.default_rng(seed)
    codes = france.index.to_numpy()
    pick = rng.integers(0, len(codes), n_rows)
    cpts = np.arange(n_rows) // 30
    return pd.DataFrame({"cpts_id": [f"C{c:06d}" for c in cpts], "cpts_name": [f"CPTS {c}" for c in cpts],
                         "stage": "ACI signé", "commune_code": codes[pick],
                         "commune_name": france["name"].to_numpy()[pick]})


def validate_until_error(registry: pd.DataFrame, france) -> int:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            validate_registry(registry, france)
    except ValidationError as err:
        return len(err.problems)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="sans le registre d'un million de lignes")
    args = parser.parse_args()
    france = load_communes(crs=None)
    validate_until_error(overlapping_registry(1000, france), france)  # warm caches
    print("Registres avec chevauchements partout (médianes) :")
    print(f"charge de la machine (1 min) : {os.getloadavg()[0]:.1f} pour {os.cpu_count()} cœurs")
    print(f"{'lignes':>10} {'cpts_geo':>10} {'(CPU)':>8} {'référence':>10} {'problèmes':>10}  {'par ligne':>10}")
    sizes = [10_000, 100_000] + ([] if args.quick else [1_000_000])
    per_row = {}
    for n in sizes:
        reg = overlapping_registry(n, france)
        repeat = 3
        t, n_problems = median_time(lambda reg=reg: validate_until_error(reg, france), repeat)
        cpu = CPU[-1]
        t_ref, _ = median_time(lambda reg=reg: reg.groupby("commune_code")["cpts_id"].nunique().gt(1).sum(), 3)
        per_row[n] = t / n
        print(f"{n:>10,} {t:>9.2f}s {cpu:>7.2f}s {t_ref:>9.3f}s {n_problems:>10,}  {1e6 * t / n:>8.2f}µs")
    if 1_000_000 in per_row:
        t1m = per_row[1_000_000] * 1_000_000
        print(f"1 000 000 lignes : {t1m:.1f} s (objectif < 30 s, rapport à l'objectif {t1m / 30:.2f} ; "
              f"avant : 16 min 31 s)")
    print(f"linéarité : temps par ligne à {max(per_row):,} lignes / à 10 000 lignes = "
          f"{per_row[max(per_row)] / per_row[10_000]:.2f} (1 = linéaire)")

    mainland = france[~france["department"].isin(["971", "972", "973", "974", "976"])]
    group = mainland["epci"].fillna("C" + pd.Series(mainland.index, index=mainland.index))
    national = pd.DataFrame({"cpts_id": group.to_numpy(), "cpts_name": mainland["epci_name"].fillna(
        mainland["name"]).to_numpy(), "stage": "ACI signé", "commune_code": mainland.index,
        "commune_name": mainland["name"].to_numpy()})
    layer = load_communes()
    layer = layer[layer.index.isin(mainland.index)]
    print(f"\nRegistre national : {len(national):,} communes, {national['cpts_id'].nunique():,} territoires")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_val, checked = median_time(lambda: validate_registry(national, layer), 5)
    cpu_val = CPU[-1]
    t_build, _ = median_time(lambda: build_territories(checked, layer, parts=False), 3)
    cpu_build = CPU[-1]
    t_ref, _ = median_time(lambda: national.groupby("commune_code")["cpts_id"].nunique().gt(1).sum(), 5)
    print(f"validation seule          : {t_val:6.3f} s, CPU {cpu_val:.3f} s (avant : 1,15 s ; "
          f"référence groupby : {t_ref:.3f} s)")
    print(f"construction (validé)     : {t_build:6.3f} s, CPU {cpu_build:.3f} s")
    total = t_val + t_build
    print(f"validation + construction : {total:6.3f} s (objectif < 1,0 s, rapport à l'objectif {total:.2f})")


if __name__ == "__main__":
    main()
