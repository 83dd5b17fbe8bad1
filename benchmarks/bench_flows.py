"""Time and peak memory of the CPTS flow indicators on a national table (issue: patient flows).

Run: ``python benchmarks/bench_flows.py [--rows 10000000]``. Target (issue): indicators for a
national table of 10 million origin–destination rows in under 10 s and under 4 GB of memory.

The table is synthetic and reproducible (seed 2026), gravity-like: each of the 34 875 communes
of France sends flows to its *k* nearest communes (itself included), with a volume
proportional to population / (1 + distance in km)² and a log-normal noise. The membership
groups communes by EPCI into CPTS, leaves one EPCI in five uncovered and declares 20 large
communes split in two halves (the slow path of the attribution by share).

Each case runs in a fresh interpreter (``ru_maxrss`` = peak memory of the whole process,
table generation included; ``table_mb`` = memory of the flow table itself). The reference
printed beside it is the floor of any implementation: one ``np.bincount`` over the volumes.

The **whole chain** a user runs is measured too: the same table is written once to CSV
(``;``, text codes) and Parquet in a temporary folder, then, in a fresh interpreter that
only reads the membership, ``read_flows`` → ``prepare_flows`` (codes mapped to today's
communes, duplicates summed) → ``cpts_flow_indicators``; the peak memory is that of this
process alone.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

SETUP = """
import json, time, resource, warnings
import numpy as np, pandas as pd
from scipy.spatial import cKDTree
from cpts_geo.communes import load_communes, to_metric
from cpts_geo import flows as F

rows = {rows}
communes = load_communes()
pts = to_metric(communes.loc[~communes["department"].str.startswith("97")]).geometry.centroid
pts = pts[np.isfinite(pts.x.to_numpy())]  # communes without geometry have no centroid
codes = pts.index.to_numpy()
n = len(codes)
k = int(np.ceil(rows / n))
xy = np.column_stack([pts.x, pts.y])
_, nearest = cKDTree(xy).query(xy, k=k)
rng = np.random.default_rng(2026)
o = np.repeat(np.arange(n), k)
d = nearest.ravel()
dist_km = np.hypot(*(xy[o] - xy[d]).T) / 1000
pop = communes["population"].reindex(codes).fillna(0).to_numpy(dtype=float) + 1
vol = np.round(pop[o] * 0.02 / (1 + dist_km) ** 2 * rng.lognormal(0, 0.5, len(o)), 1)
o, d, vol = o[:rows], d[:rows], vol[:rows]
cat = pd.CategoricalDtype(pd.Index(codes))
flows = pd.DataFrame({{"origin": pd.Categorical.from_codes(o, dtype=cat),
                      "destination": pd.Categorical.from_codes(d, dtype=cat), "volume": vol}})
{convert}
epci = communes.loc[codes, "epci"].fillna("sans EPCI")
covered = epci[pd.to_numeric(epci, errors="coerce").fillna(0).astype("int64") % 5 != 0]
members = pd.DataFrame({{"code": covered.index, "cpts_id": covered.to_numpy(), "share": 1.0}})
big = communes.loc[covered.index, "population"].astype(float).nlargest(20).index
halves = members[members["code"].isin(big)].assign(share=0.5)
members.loc[members["code"].isin(big), "share"] = 0.5
members = pd.concat([members, halves.assign(cpts_id=halves["cpts_id"] + "-bis")], ignore_index=True)
table_mb = flows.memory_usage(deep=True).sum() / 2**20
"""

CASES = {
    "cpts_flow_indicators (codes catégoriels)": (
        "", "out = F.cpts_flow_indicators(flows, members)"),
    "cpts_flow_indicators (codes texte, dtype string)": (
        "flows['origin'] = flows['origin'].astype('string'); "
        "flows['destination'] = flows['destination'].astype('string')",
        "out = F.cpts_flow_indicators(flows, members)"),
    "flow_matrix + leakage_destinations (catégoriels)": (
        "", "out = F.flow_matrix(flows, members); out = F.leakage_destinations(flows, members)"),
    "référence : np.bincount des volumes": (
        "", "out = np.bincount(flows['origin'].cat.codes.to_numpy(), "
            "weights=flows['volume'].to_numpy())"),
}

WRITE = """
import pyarrow as pa, pyarrow.csv as pacsv
folder = {folder!r}
text = pd.DataFrame({{"origine": flows["origin"].astype(str), "destination": flows["destination"].astype(str),
                     "volume": flows["volume"]}})
pacsv.write_csv(pa.Table.from_pandas(text, preserve_index=False), folder + "/flux.csv",
                write_options=pacsv.WriteOptions(delimiter=";", quoting_style="needed"))
text.to_parquet(folder + "/flux.parquet", index=False)
members.to_parquet(folder + "/membres.parquet", index=False)
print(json.dumps({{"rows": len(text)}}))
"""

CHAIN = """
import json, time, resource, warnings
import pandas as pd
from cpts_geo import flows as F

members = pd.read_parquet({folder!r} + "/membres.parquet")
t0 = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    raw = F.read_flows({path!r})
    t1 = time.perf_counter()
    table, report = F.prepare_flows(raw, membership=members)
    t2 = time.perf_counter()
    out = F.cpts_flow_indicators(table, members)
t3 = time.perf_counter()
print(json.dumps({{"seconds": t3 - t0, "read": t1 - t0, "prepare": t2 - t1, "indicators": t3 - t2,
                  "rows": len(raw), "pairs": len(table),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

RUN = """
t0 = time.perf_counter()
{call}
t1 = time.perf_counter()
print(json.dumps({{"seconds": t1 - t0, "rows": len(flows), "table_mb": table_mb,
                  "n_cpts": int(members["cpts_id"].nunique()),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def _run(code: str, label: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        print(out.stderr, file=sys.stderr)
        raise SystemExit(f"échec : {label}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _target(seconds: float, peak_mb: float) -> str:
    return f"{seconds / 10:.2f} × l'objectif de 10 s ; {peak_mb / 4096:.2f} × l'objectif de 4 Go"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    results = {}
    for label, (convert, call) in CASES.items():
        code = SETUP.format(rows=args.rows, convert=convert) + RUN.format(call=call)
        runs = [_run(code, label) for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["seconds"])
        results[label] = best
        rows = f"{best['rows']:,}".replace(",", " ")
        print(f"{label:52s} {best['seconds']:7.2f} s   pic mémoire processus "
              f"{best['peak_mb']:7.0f} Mo   ({rows} lignes, table {best['table_mb']:.0f} Mo, "
              f"{best['n_cpts']} CPTS)")
    chains = {}
    with tempfile.TemporaryDirectory() as folder:
        _run(SETUP.format(rows=args.rows, convert="") + WRITE.format(folder=folder), "écriture")
        for kind in ("csv", "parquet"):
            path = str(Path(folder) / f"flux.{kind}")
            label = f"chaîne complète, {kind.upper()} ({Path(path).stat().st_size / 2**20:.0f} Mo)"
            runs = [_run(CHAIN.format(folder=folder, path=path), label) for _ in range(args.repeat)]
            best = min(runs, key=lambda r: r["seconds"])
            chains[label] = best
            rows = f"{best['rows']:,}".replace(",", " ")
            print(f"{label:52s} {best['seconds']:7.2f} s   pic mémoire processus "
                  f"{best['peak_mb']:7.0f} Mo   ({rows} lignes ; lecture {best['read']:.2f} s, "
                  f"préparation {best['prepare']:.2f} s, indicateurs {best['indicators']:.2f} s)")
    main_case = results["cpts_flow_indicators (codes catégoriels)"]
    ref = results["référence : np.bincount des volumes"]
    print("\nObjectif de l'issue : < 10 s et < 4 Go pour 10 millions de lignes.")
    print(f"Indicateurs seuls (catégoriels) : {main_case['seconds']:.2f} s = "
          f"{_target(main_case['seconds'], main_case['peak_mb'])} ; "
          f"{main_case['seconds'] / max(ref['seconds'], 1e-9):.0f} × la référence bincount.")
    for label, best in chains.items():
        print(f"Chaîne read_flows → prepare_flows → cpts_flow_indicators, {label.split(', ')[1]} : "
              f"{best['seconds']:.2f} s = {_target(best['seconds'], best['peak_mb'])}.")


if __name__ == "__main__":
    main()
