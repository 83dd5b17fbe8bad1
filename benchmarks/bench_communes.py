"""Time and peak memory of loading the embedded commune layer (issue: foundation).

Run: ``python benchmarks/bench_communes.py``. Target: all of France in under 3 s on a 2-core
machine. Each measurement runs in a fresh interpreter so that nothing is cached; the reference
printed beside it is ``geopandas.read_parquet`` of the same file (the floor of any loader).
"""

from __future__ import annotations

import json
import subprocess
import sys

SNIPPET = """
import json, time, resource
t0 = time.perf_counter()
import cpts_geo
t1 = time.perf_counter()
{call}
t2 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "load_s": t2 - t1, "rows": len(g),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

CASES = {
    "load_communes() — France": "g = cpts_geo.load_communes()",
    "load_communes(region='32')": "g = cpts_geo.load_communes(region='32')",
    "load_communes(region='32', crs=2154)": "g = cpts_geo.load_communes(region='32', crs=2154)",
    "référence : geopandas.read_parquet (France)": (
        "import geopandas; from cpts_geo.data.communes import data_dir; "
        "g = geopandas.read_parquet(data_dir() / 'communes.parquet')"
    ),
}


def main() -> None:
    results = {}
    for label, call in CASES.items():
        runs = []
        for _ in range(3):
            out = subprocess.run([sys.executable, "-c", SNIPPET.format(call=call)],
                                 capture_output=True, text=True, check=True)
            runs.append(json.loads(out.stdout))
        best = min(runs, key=lambda r: r["load_s"])
        results[label] = best
        print(f"{label:48s} {best['rows']:6d} lignes  chargement {best['load_s']:.2f} s "
              f"(+ import {best['import_s']:.2f} s)  mémoire max {best['peak_mb']:.0f} Mo")
    france = results["load_communes() — France"]
    ref = results["référence : geopandas.read_parquet (France)"]
    total = france["load_s"] + france["import_s"]
    print(f"France : {total:.2f} s import compris (cible < 3 s) ; "
          f"ratio à geopandas.read_parquet : {france['load_s'] / ref['load_s']:.2f}")


if __name__ == "__main__":
    main()
