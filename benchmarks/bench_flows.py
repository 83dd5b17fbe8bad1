"""Patient flows at national scale: the ``flux`` command and the library chain, from CSV and Parquet.

Run: ``python benchmarks/bench_flows.py`` (about 10 minutes; ``--sizes 1000000`` for a
shorter run, ``--parties commande`` for the command only). It measures the code of this
checkout.

**The command (issue 30).** ``cpts-geo flux FLUX REGISTRE -o indicateurs.csv`` as a user runs
it — a whole process: start-up, reading and validating the registry, reading the flows,
preparing them, the indicators, the leakage destinations, the coherence flags (communes whose
residents go to another CPTS, zones blanches with the adjacent CPTS suggested) and writing the
four files — against a hand-written pandas script doing the core of it: ``pandas.read_csv``
(or ``read_parquet``) of the same file and of the registry, ``groupby`` of the repeated pairs,
then the residents', inside and delivered volumes of each CPTS (shares applied at both ends) by
``merge`` + ``groupby``, retention, leakage and attraction written to a CSV. Both are whole
processes, run ``--repeat`` times alternately after a warm-up run of each; the script prints
the medians (wall and processor time of the process), the median of the pairwise ratios and the
verdict against the goal of issue 30: a ratio of at most 1,0 from CSV and from Parquet.

**The library chain (issue 19)**, for 10 million rows: :func:`cpts_geo.io.flows.read_flows` →
:func:`cpts_geo.indicators.flows.prepare.prepare_flows` →
:func:`cpts_geo.indicators.flows.indicators.cpts_flow_indicators` under 8 s from CSV, under 5 s
from Parquet, under 2 GB of peak memory; and the indicators called on a prepared table of 1
million rows under 0.2 s per call. Its reference is DuckDB, an independent implementation
installed only for the benchmark (``python -m pip install -r benchmarks/requirements-flows.txt``;
cpts_geo does not depend on it; without it, this part is timed without its reference).

The table is synthetic and reproducible (seed 2026), gravity-like: each of the ~34 800
communes of France sends flows to its *k* nearest communes (itself included), with a volume
proportional to population / (1 + distance in km)² and a log-normal noise; 1 % of the rows are
repeated with another volume (pairs that ``prepare_flows`` sums). The membership groups
communes by EPCI into CPTS, leaves one EPCI in five uncovered and splits the 20 largest
covered communes in two halves between two CPTS (the slow path of the attribution by share);
it is written as a registry (CSV, shares with a decimal comma) for the command. The table is
written once to CSV (``;``, text codes) and Parquet in a temporary folder.

Each chain run is a fresh interpreter (``peak`` = ``ru_maxrss`` of that process: reading the
membership, then the chain); the script prints the median of ``--repeat`` runs (3), the CPU
time of the process beside the wall time (the machine is shared: the load average is
printed; under load the wall time is inflated, the CPU time much less — it adds up the
threads of pyarrow's readers, so on an idle machine the wall time is at most about it), and
the ratio of both to each goal. DuckDB computes the same sums (residents', inside and
delivered volume of each CPTS, shares applied at both ends) from the same files, timed the
same way; the results must agree to a relative 1e-9.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

GOALS = {"csv": 8.0, "parquet": 5.0}
COMMAND_GOAL = 1.0
PEAK_GOAL_MB = 2048
FIXED_GOAL = 0.2

GENERATE = """
import numpy as np, pandas as pd, pyarrow as pa, pyarrow.csv as pacsv
from scipy.spatial import cKDTree
from cpts_geo.domain.communes import load_communes
from cpts_geo.domain.crs import to_metric

rows, folder = {rows}, {folder!r}
communes = load_communes()
pts = to_metric(communes.loc[~communes["department"].str.startswith("97")]).geometry.centroid
pts = pts[np.isfinite(pts.x.to_numpy())]  # communes without geometry have no centroid
codes = pts.index.to_numpy()
n = len(codes)
unique_rows = int(rows / 1.01)
k = int(np.ceil(unique_rows / n))
xy = np.column_stack([pts.x, pts.y])
_, nearest = cKDTree(xy).query(xy, k=k)
rng = np.random.default_rng(2026)
o = np.repeat(np.arange(n), k)
d = nearest.ravel()
dist_km = np.hypot(*(xy[o] - xy[d]).T) / 1000
pop = communes["population"].reindex(codes).fillna(0).to_numpy(dtype=float) + 1
vol = np.round(pop[o] * 0.02 / (1 + dist_km) ** 2 * rng.lognormal(0, 0.5, len(o)), 1)
o, d, vol = o[:unique_rows], d[:unique_rows], vol[:unique_rows]
again = rng.choice(unique_rows, rows - unique_rows, replace=False)  # repeated pairs
o, d = np.concatenate([o, o[again]]), np.concatenate([d, d[again]])
vol = np.concatenate([vol, np.round(rng.uniform(0, 50, len(again)), 1)])
text = pd.DataFrame({{"origine": codes[o], "destination": codes[d], "volume": vol}})
pacsv.write_csv(pa.Table.from_pandas(text, preserve_index=False), folder + "/flux.csv",
                write_options=pacsv.WriteOptions(delimiter=";", quoting_style="needed"))
text.to_parquet(folder + "/flux.parquet", index=False)
epci = communes.loc[codes, "epci"].fillna("sans EPCI")
covered = epci[pd.to_numeric(epci, errors="coerce").fillna(0).astype("int64") % 5 != 0]
members = pd.DataFrame({{"code": covered.index, "cpts_id": covered.to_numpy(), "share": 1.0}})
big = communes.loc[covered.index, "population"].astype(float).nlargest(20).index
halves = members[members["code"].isin(big)].assign(share=0.5)
members.loc[members["code"].isin(big), "share"] = 0.5
members = pd.concat([members, halves.assign(cpts_id=halves["cpts_id"] + "-bis")], ignore_index=True)
members.to_parquet(folder + "/membres.parquet", index=False)
share = members["share"].map(lambda x: "" if x == 1 else str(x).replace(".", ","))
pd.DataFrame({{"cpts_id": members["cpts_id"], "cpts_name": "CPTS " + members["cpts_id"], "stage": "ACI signé",
              "commune_code": members["code"], "share": share}}).to_csv(folder + "/registre.csv", sep=";",
                                                                        index=False)
print("{{}}")
"""

CHAIN = """
import json, resource, time, warnings
import pandas as pd
from cpts_geo.indicators import flows as F
from cpts_geo.io.flows import read_flows

members = pd.read_parquet({folder!r} + "/membres.parquet")
wall, cpu = time.perf_counter(), time.process_time()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # repeated pairs: reported in prepared.duplicate_rows
    raw = read_flows({path!r})
    t1 = time.perf_counter()
    prepared = F.prepare_flows(raw, membership=members)
    t2 = time.perf_counter()
    ind = F.cpts_flow_indicators(prepared, members)
t3 = time.perf_counter()
print(json.dumps({{"seconds": t3 - wall, "cpu": time.process_time() - cpu, "read": t1 - wall,
                  "prepare": t2 - t1, "indicators": t3 - t2, "rows": len(raw.flows),
                  "pairs": len(prepared.flows), "repeated": len(prepared.duplicate_rows),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "sums": ind[["resident_volume", "inside_volume", "delivered_volume"]]
                  .reset_index().values.tolist()}}))
"""

FIXED = """
import json, time, warnings
import pandas as pd
from cpts_geo.indicators import flows as F
from cpts_geo.io.flows import read_flows

members = pd.read_parquet({folder!r} + "/membres.parquet")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    table = F.prepare_flows(read_flows({folder!r} + "/flux.parquet"), membership=members).flows
calls, cpu = [], []
for _ in range({repeat}):
    t, c = time.perf_counter(), time.process_time()
    F.cpts_flow_indicators(table, members)
    calls.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
print(json.dumps({{"calls": calls, "cpu": cpu, "rows": len(table)}}))
"""

DUCKDB = """
import json, resource, time
import duckdb

source = {source!r}
members = {folder!r} + "/membres.parquet"
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
wall, cpu = time.perf_counter(), time.process_time()
con.execute(f"CREATE TABLE f AS SELECT origine AS o, destination AS d, volume AS v FROM {{source}}")
con.execute(f"CREATE TABLE m AS SELECT CAST(code AS VARCHAR) AS code, CAST(cpts_id AS VARCHAR) AS cpts_id, "
            f"share FROM read_parquet('{{members}}')")
sums = con.execute(\"\"\"
    WITH f2 AS (SELECT o, d, SUM(v) AS v FROM f GROUP BY o, d),
    res AS (SELECT m.cpts_id, SUM(f2.v * m.share) AS r FROM f2 JOIN m ON f2.o = m.code GROUP BY 1),
    dlv AS (SELECT m.cpts_id, SUM(f2.v * m.share) AS dl FROM f2 JOIN m ON f2.d = m.code GROUP BY 1),
    ins AS (SELECT mo.cpts_id, SUM(f2.v * mo.share * md.share) AS i FROM f2
            JOIN m AS mo ON f2.o = mo.code JOIN m AS md ON f2.d = md.code AND md.cpts_id = mo.cpts_id
            GROUP BY 1)
    SELECT c.cpts_id, COALESCE(r, 0), COALESCE(i, 0), COALESCE(dl, 0)
    FROM (SELECT DISTINCT cpts_id FROM m) AS c
    LEFT JOIN res USING (cpts_id) LEFT JOIN ins USING (cpts_id) LEFT JOIN dlv USING (cpts_id)
\"\"\").fetchall()
print(json.dumps({{"seconds": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "sums": [list(s) for s in sums]}}))
"""


#: The ``flux`` command of this checkout, as a user runs it.
COMMAND = "import sys; from cpts_geo.cli.main import main; sys.exit(main())"

#: The hand-written pandas script the command is compared with (arguments: flows, registry, output).
PANDAS = """
import sys
import pandas as pd

path, registry, out = sys.argv[1:4]
flows = (pd.read_parquet(path) if path.endswith(".parquet")
         else pd.read_csv(path, sep=";", dtype={"origine": str, "destination": str}))
reg = pd.read_csv(registry, sep=";", dtype=str)
m = pd.DataFrame({"code": reg["commune_code"], "cpts_id": reg["cpts_id"],
                  "share": pd.to_numeric(reg["share"].str.replace(",", "."), errors="coerce").fillna(1.0)})
f = flows.groupby(["origine", "destination"], as_index=False)["volume"].sum()
o = f.merge(m, left_on="origine", right_on="code")
resident = (o["volume"] * o["share"]).groupby(o["cpts_id"]).sum()
d = f.merge(m, left_on="destination", right_on="code")
delivered = (d["volume"] * d["share"]).groupby(d["cpts_id"]).sum()
both = o.merge(m, left_on="destination", right_on="code", suffixes=("", "_d"))
both = both[both["cpts_id"] == both["cpts_id_d"]]
inside = (both["volume"] * both["share"] * both["share_d"]).groupby(both["cpts_id"]).sum()
ind = pd.DataFrame({"resident": resident, "inside": inside, "delivered": delivered}).fillna(0.0)
ind["retention"] = ind["inside"] / ind["resident"]
ind["leakage"] = 1 - ind["retention"]
ind["attraction"] = (ind["delivered"] - ind["inside"]) / ind["delivered"]
ind.to_csv(out, sep=";", decimal=",")
"""

ROOT = Path(__file__).resolve().parents[1]


def _process(args: list[str], env: dict, cwd: str) -> tuple[float, float]:
    """One whole process: its wall time and processor time (s)."""
    import time

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode:
        print(out.stdout[-2000:], out.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"échec : {' '.join(args[:4])}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _command_vs_pandas(folder: str, kind: str, repeat: int) -> tuple[float, str]:
    """``cpts-geo flux`` against the pandas script, alternated whole processes; returns the
    median ratio and the line printed."""
    # bytecode cached as in an installed package (PYTHONDONTWRITEBYTECODE would compile every
    # module of the checkout at each run), in a folder of the run
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(Path(folder) / "bytecode")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    path, registry = str(Path(folder) / f"flux.{kind}"), str(Path(folder) / "registre.csv")
    ours = ["-c", COMMAND, "flux", path, registry, "-o", str(Path(folder) / "sortie" / "indicateurs.csv")]
    theirs = ["-c", PANDAS, path, registry, str(Path(folder) / "reference.csv")]
    _process(ours, env, folder), _process(theirs, env, folder)  # warm-up (file cache, bytecode)
    wa, wb, ca, cb = [], [], [], []
    for _ in range(repeat):
        w, c = _process(ours, env, folder)
        wa.append(w)
        ca.append(c)
        w, c = _process(theirs, env, folder)
        wb.append(w)
        cb.append(c)
    ratios = [a / b for a, b in zip(wa, wb)]
    ratio = statistics.median(ratios)
    cpu_ratio = statistics.median(ca) / statistics.median(cb)
    line = (f"{kind.upper():8s} commande flux {_fr(statistics.median(wa))} s (processeur "
            f"{_fr(statistics.median(ca))} s) ; script pandas {_fr(statistics.median(wb))} s (processeur "
            f"{_fr(statistics.median(cb))} s) ; ratio {_fr(ratio)} (min {_fr(min(ratios))}, max "
            f"{_fr(max(ratios))} ; en temps processeur {_fr(cpu_ratio)}) ; objectif ≤ "
            f"{_fr(COMMAND_GOAL, 1)} : {'atteint' if ratio <= COMMAND_GOAL else 'non atteint'}")
    return ratio, line


def _run(code: str, label: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode:
        print(out.stderr, file=sys.stderr)
        raise SystemExit(f"échec : {label}")
    return json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _fr(x: float, decimals: int = 2) -> str:
    return f"{x:,.{decimals}f}".replace(",", " ").replace(".", ",")


def _compare(ours: list, ref: list) -> float:
    """Largest relative difference between our sums and DuckDB's, CPTS by CPTS."""
    theirs = {row[0]: row[1:] for row in ref}
    if set(theirs) != {row[0] for row in ours}:
        raise SystemExit("DuckDB et cpts_geo n'ont pas les mêmes CPTS")
    worst = 0.0
    for cpts_id, *values in ours:
        for a, b in zip(values, theirs[cpts_id]):
            worst = max(worst, abs(a - b) / max(abs(b), 1e-300) if b else abs(a))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parties", nargs="+", choices=["commande", "chaine"], default=["commande", "chaine"],
                        help="la commande flux face au script pandas, la chaîne de la bibliothèque face à DuckDB")
    args = parser.parse_args()
    try:
        subprocess.run([sys.executable, "-c", "import duckdb"], check=True, capture_output=True)
        duckdb = True
    except subprocess.CalledProcessError:
        duckdb = False
        if "chaine" in args.parties:
            print("DuckDB absent (python -m pip install -r benchmarks/requirements-flows.txt) : la chaîne "
                  "est mesurée sans sa référence.")
    print(f"Charge de la machine (moyenne 1 min) au départ : {_fr(os.getloadavg()[0])} "
          f"pour {os.cpu_count()} cœurs ; médianes de {args.repeat} exécutions, chacune dans un "
          "interpréteur neuf.\n")
    verdicts = []
    for rows in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            _run(GENERATE.format(rows=rows, folder=folder), "génération")
            print(f"== {_fr(rows, 0)} lignes ==")
            if "commande" in args.parties:
                for kind in ("csv", "parquet"):
                    ratio, line = _command_vs_pandas(folder, kind, args.repeat)
                    print(line)
                    verdicts.append(f"flux {kind} {_fr(rows, 0)} lignes : ratio {_fr(ratio)} / {_fr(COMMAND_GOAL, 1)}")
            for kind in ("csv", "parquet") if "chaine" in args.parties else ():
                path = str(Path(folder) / f"flux.{kind}")
                runs = [_run(CHAIN.format(folder=folder, path=path), kind) for _ in range(args.repeat)]
                wall, cpu, peak = _median(runs, "seconds"), _median(runs, "cpu"), _median(runs, "peak_mb")
                size = Path(path).stat().st_size / 2**20
                print(f"{kind.upper():8s} ({_fr(size, 0)} Mo) chaîne cpts_geo {_fr(wall)} s (CPU {_fr(cpu)} s ; "
                      f"lecture {_fr(_median(runs, 'read'))}, préparation {_fr(_median(runs, 'prepare'))}, "
                      f"indicateurs {_fr(_median(runs, 'indicators'))}) ; pic {_fr(peak, 0)} Mo ; "
                      f"{_fr(runs[0]['pairs'], 0)} paires, {_fr(runs[0]['repeated'], 0)} lignes répétées")
                if duckdb:
                    source = (f"read_csv('{path}', delim=';', header=true, "
                              "columns={'origine': 'VARCHAR', 'destination': 'VARCHAR', 'volume': 'DOUBLE'})"
                              if kind == "csv" else f"read_parquet('{path}')")
                    refs = [_run(DUCKDB.format(folder=folder, source=source), "duckdb")
                            for _ in range(args.repeat)]
                    ref = _median(refs, "seconds")
                    diff = _compare(runs[0]["sums"], refs[0]["sums"])
                    print(f"{'':8s} DuckDB {_fr(ref)} s (CPU {_fr(_median(refs, 'cpu'))} s, pic "
                          f"{_fr(_median(refs, 'peak_mb'), 0)} Mo) ; cpts_geo / DuckDB = {_fr(wall / ref)} ; "
                          f"écart relatif maximal des sommes par CPTS {diff:.1e} "
                          f"({'conforme' if diff <= 1e-9 else 'NON CONFORME'} à 1e-9)")
                    if diff > 1e-9:
                        verdicts.append(f"{kind} {rows}: sommes différentes de DuckDB ({diff:.1e})")
                if rows == 10_000_000:
                    goal = GOALS[kind]
                    print(f"{'':8s} objectif < {_fr(goal, 0)} s : {_fr(wall / goal)} × l'objectif "
                          f"(CPU : {_fr(cpu / goal)} ×) ; pic < 2 Go : {_fr(peak / PEAK_GOAL_MB)} × l'objectif")
                    verdicts.append(f"{kind} 10 M : {_fr(wall)} s / {_fr(goal, 0)} s, pic {_fr(peak, 0)} Mo")
            if rows == 1_000_000 and "chaine" in args.parties:
                fixed = _run(FIXED.format(folder=folder, repeat=args.repeat), "coût par appel")
                med = statistics.median(fixed["calls"])
                print(f"cpts_flow_indicators sur la table préparée ({_fr(fixed['rows'], 0)} paires) : "
                      f"appels {', '.join(_fr(c, 3) for c in fixed['calls'])} s, médiane {_fr(med, 3)} s "
                      f"(CPU {_fr(statistics.median(fixed['cpu']), 3)} s) = {_fr(med / FIXED_GOAL)} × l'objectif "
                      f"de 0,2 s (CPU : {_fr(statistics.median(fixed['cpu']) / FIXED_GOAL)} ×)")
                verdicts.append(f"indicateurs 1 M : {_fr(med, 3)} s / 0,2 s")
        print()
    print(f"Charge de la machine à la fin : {_fr(os.getloadavg()[0])}.")
    print("Résumé : " + " ; ".join(verdicts))


if __name__ == "__main__":
    main()
