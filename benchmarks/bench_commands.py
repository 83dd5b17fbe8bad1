"""Whole commands on a national registry, each beside its reference (issue 30).

Run: ``python benchmarks/bench_commands.py [--commandes financement portrait …] [--repeat N]``
(``--region 44`` for the region of the issue: 149 portraits a run; the default, Corse (94, 19
CPTS), shows the same selection cost in a few minutes). It measures the code of this checkout.

The national registry is built from the embedded communes (``cpts_geo.load_communes()``): one
CPTS per EPCI (``epci`` column), and each of the four communes without an EPCI (islands) a CPTS
of its own, 1 257 CPTS over all of France, overseas included (the registry of issue 30). The
registry of a region alone is its CPTS with a commune in the region, whole.

Each figure is a whole process (interpreter start, imports, reading, work, writing), run
``--repeat`` times alternately with its reference after one warm-up run of each; the script
prints the medians, the median of the pairwise ratios (min and max), the processor time of the
command (children's user + system: on a shared machine the wall time also counts the waiting
for a core) and the verdict against the goal:

- ``financement``: ``cpts-geo financement --registre <national>`` against the bare start-up
  ``import cpts_geo; cpts_geo.load_communes()``; goal, a ratio of at most 1,5 (flat in the
  number of CPTS). The same command on the registry of the region is printed too.
- ``portrait``: ``cpts-geo portrait <national> --region R`` against ``cpts-geo portrait
  <registry of R> --region R`` (both into a new folder each run, maps included unless
  ``--sans-carte``); goal, a ratio of at most 1,2.
- ``territoires``: ``cpts-geo territoires <national> -o t.gpkg`` against a hand-written script
  (``pandas.read_csv`` of the registry, ``GeoDataFrame.dissolve`` of the embedded communes by
  CPTS, ``to_file`` GeoPackage); goal, a ratio of at most 2 (the command writes more: CSV
  table, styles, zones blanches).
- ``valider``: ``cpts-geo valider <national>`` against the bare start-up plus the same
  validation in one process (``read_registry`` + ``validate_registry``): what the command
  pays beyond its work.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # this checkout's cpts_geo, not an installed one

#: The command line of this checkout (``python -m cpts_geo.cli.main`` warns about runpy).
CLI = "import sys; from cpts_geo.cli.main import main; sys.exit(main())"
START_UP = "import cpts_geo; cpts_geo.load_communes()"
DISSOLVE = """
import sys, warnings, geopandas as gpd, pandas as pd
import cpts_geo
warnings.simplefilter("ignore")
reg = pd.read_csv(sys.argv[1], sep=";", dtype=str)
communes = cpts_geo.load_communes()
t = communes[["geometry"]].join(reg.set_index("commune_code")[["cpts_id", "cpts_name"]], how="inner")
t.dissolve(by="cpts_id", method="coverage").to_file(sys.argv[2], driver="GPKG")
"""
VALIDATE = """
import sys, warnings
import cpts_geo
from cpts_geo.domain.registry import validate_registry
from cpts_geo.io.registry import read_registry
warnings.simplefilter("ignore")
validate_registry(read_registry(sys.argv[1]), cpts_geo.load_communes())
"""
GOALS = {"financement": 1.5, "portrait": 1.2, "territoires": 2.0}


def registries(folder: Path, region: str) -> tuple[Path, Path, int, int]:
    """Write the national registry and that of ``region`` alone; return their paths and sizes."""
    import pandas as pd

    from cpts_geo import load_communes

    communes = load_communes(crs=None)
    alone = communes["epci"].isna()
    group = communes["epci"].astype(object).where(~alone, "C" + communes.index.to_series().astype(object))
    names = communes["epci_name"].astype(object).where(~alone, communes["name"].astype(object))
    reg = pd.DataFrame({"cpts_id": "CPTS-" + group.to_numpy(dtype=object),
                        "cpts_name": "CPTS " + names.to_numpy(dtype=object), "stage": "ACI signé",
                        "commune_code": communes.index.to_numpy(dtype=object),
                        "commune_name": communes["name"].to_numpy(dtype=object)})
    national = folder / "registre_national.csv"
    reg.to_csv(national, sep=";", index=False)
    inside = set(reg.loc[(communes["region"] == region).to_numpy(), "cpts_id"])
    regional = folder / f"registre_region_{region}.csv"
    reg[reg["cpts_id"].isin(inside)].to_csv(regional, sep=";", index=False)
    return national, regional, reg["cpts_id"].nunique(), len(inside)


#: The environment of the processes timed: their bytecode cached (in a folder of the run) as an
#: installed package has it, even where PYTHONDONTWRITEBYTECODE is set (it would compile every
#: module of the checkout at each run, which the start-up, importing fewer of them, pays less).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _run(args: list[str], cwd: Path = ROOT) -> tuple[float, float]:
    """Run one whole process; return its wall time and processor time (s)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=ENV)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"Échec de {' '.join(args)} :\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _pair(a, b, repeat: int, *, fresh: Path | None = None) -> dict:
    """Alternate two commands ``repeat`` times (after one warm-up each); ``a``/``b`` are
    functions of a run number giving the argument list (a new output folder per run)."""
    _run(a(-1)), _run(b(-1))
    wa, wb, ca, cb = [], [], [], []
    for i in range(repeat):
        w, c = _run(a(i))
        wa.append(w)
        ca.append(c)
        w, c = _run(b(i))
        wb.append(w)
        cb.append(c)
        if fresh is not None:  # the outputs of the run: not kept (disk space)
            for child in fresh.iterdir():
                if child.is_dir() and child.name.startswith("sortie-"):
                    shutil.rmtree(child)
    ratios = [x / y for x, y in zip(wa, wb)]
    return {"a": statistics.median(wa), "b": statistics.median(wb), "cpu_a": statistics.median(ca),
            "cpu_b": statistics.median(cb), "ratio": statistics.median(ratios), "min": min(ratios),
            "max": max(ratios), "cpu_ratio": statistics.median(ca) / statistics.median(cb)}


def _fr(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}".replace(".", ",")


def _say(what: str, ref: str, r: dict, goal: float | None) -> None:
    verdict = "" if goal is None else (f" ; objectif ≤ {_fr(goal, 1)} : "
                                       f"{'atteint' if r['ratio'] <= goal else 'non atteint'}")
    print(f"{what} : {_fr(r['a'])} s (processeur {_fr(r['cpu_a'])} s) ; {ref} : {_fr(r['b'])} s "
          f"(processeur {_fr(r['cpu_b'])} s) ; ratio {_fr(r['ratio'])} (min {_fr(r['min'])}, "
          f"max {_fr(r['max'])} ; en temps processeur {_fr(r['cpu_ratio'])}){verdict}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commandes", nargs="+", default=["financement", "portrait"],
                        choices=["financement", "portrait", "territoires", "valider"])
    parser.add_argument("--repeat", type=int, default=None,
                        help="exécutions alternées (défaut : 9 pour financement et valider, 3 sinon)")
    parser.add_argument("--region", default="94", help="région des portraits (défaut 94, Corse)")
    parser.add_argument("--sans-carte", action="store_true", help="portraits sans leur carte")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="bench-commandes-"))
    ENV["PYTHONPYCACHEPREFIX"] = str(folder / "bytecode")
    try:
        national, regional, n_all, n_region = registries(folder, args.region)
        print(f"Registre national : {n_all} CPTS (une par EPCI, et chaque commune sans EPCI) ; "
              f"région {args.region} : {n_region} CPTS. Machine : {os.cpu_count()} cœurs, charge "
              f"moyenne {_fr(os.getloadavg()[0])} au départ.")
        for command in args.commandes:
            repeat = args.repeat or (9 if command in ("financement", "valider") else 3)
            if command == "financement":
                r = _pair(lambda _i: ["-c", CLI, "financement", "--registre", str(national)],
                          lambda _i: ["-c", START_UP], repeat)
                _say(f"financement --registre (national, {n_all} CPTS)", "démarrage nu", r, GOALS[command])
                r = _pair(lambda _i: ["-c", CLI, "financement", "--registre", str(regional)],
                          lambda _i: ["-c", START_UP], repeat)
                _say(f"financement --registre (région {args.region}, {n_region} CPTS)", "démarrage nu", r, None)
            elif command == "portrait":
                extra = ["--sans-carte"] if args.sans_carte else []
                r = _pair(lambda i, x=extra: ["-c", CLI, "portrait", str(national), "--region", args.region, *x,
                                              "-o", str(folder / f"sortie-national-{i}")],
                          lambda i, x=extra: ["-c", CLI, "portrait", str(regional), "--region", args.region, *x,
                                              "-o", str(folder / f"sortie-region-{i}")], repeat, fresh=folder)
                _say(f"portrait --region {args.region} (registre national, {n_region} portraits"
                     f"{', sans carte' if extra else ''})", "registre de la région seul", r, GOALS[command])
            elif command == "territoires":
                r = _pair(lambda i: ["-c", CLI, "territoires", str(national), "-o",
                                     str(folder / f"sortie-cmd-{i}" / "t.gpkg")],
                          lambda i: ["-c", DISSOLVE, str(national), str(folder / f"ref-{i}.gpkg")], repeat)
                for stale in folder.glob("ref-*.gpkg"):
                    stale.unlink()
                for stale in folder.glob("sortie-cmd-*"):
                    shutil.rmtree(stale)
                _say(f"territoires (national, {n_all} CPTS)", "script read_csv + dissolve + to_file",
                     r, GOALS[command])
            else:
                r = _pair(lambda _i: ["-c", CLI, "valider", str(national)],
                          lambda _i: ["-c", VALIDATE, str(national)], repeat)
                _say(f"valider (national, {n_all} CPTS)", "démarrage + validation en un processus", r, None)
            print(f"  ({repeat} exécutions alternées de chaque commande ; médianes ; charge moyenne "
                  f"{_fr(os.getloadavg()[0])} à la fin.)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
