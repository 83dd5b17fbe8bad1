"""Processor time of a portrait with its map and PDF, over a region (issue 30).

Run: ``python benchmarks/bench_portrait_pdf.py [--repeat N] [--region 32] [--registre FICHIER]
[--avant DOSSIER]``. It measures the code of this checkout; with ``--avant``, the same command from
another checkout (e.g. ``git worktree add /tmp/avant main``) is run too, alternated with this one,
for a before/after figure in the same conditions.

Each run is a whole process, ``cpts-geo portrait [REGISTRE] --region R --pdf --forcer -o <new
folder>`` (interpreter start, imports, registry, territories, every page with its map and its
PDF), alternated with the reference, the same command without map nor PDF (``--sans-carte``):
what the pages cost beyond their figures. The processor time is the children's user + system
time (``resource.getrusage(RUSAGE_CHILDREN)``: on a shared machine the wall time also counts
the waiting for a core), divided by the number of portraits written. The script prints every
run, the medians, and the ratio to the goal: at most 1 s of processor time per portrait with
its map and PDF, on average over the region (the start-up included).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _fr(x: float, decimals: int) -> str:
    """A number the French way (``0,91``)."""
    return f"{x:.{decimals}f}".replace(".", ",")


ROOT = HERE.parent

#: The command line of this checkout (``python -m cpts_geo.cli.main`` warns about runpy).
CLI = "import sys; from cpts_geo.cli.main import main; sys.exit(main())"
GOAL_S = 1.0


def run(args: list[str], root: Path = ROOT) -> tuple[float, float]:
    """Run one whole command; its processor time (user + system of the child) and wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", CLI, *args], cwd=root, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--region", default="32")
    parser.add_argument("--registre", default=None, help="registre (défaut : le registre illustratif)")
    parser.add_argument("--avant", type=Path, default=None, help="une autre copie du projet, mesurée en alternance")
    args = parser.parse_args()
    base = ["portrait", *([args.registre] if args.registre else []), "--region", args.region, "--forcer"]
    full_cpu, full_wall, ref_cpu, ref_wall, old_cpu = [], [], [], [], []
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            if args.avant is not None:
                out = Path(tmp) / f"avant{i}"
                cpu, _ = run([*base, "--pdf", "-o", str(out)], args.avant.resolve())
                old_cpu.append(cpu / len(list(out.glob("*.pdf"))))
                print(f"essai {i + 1} : copie {args.avant} {_fr(old_cpu[-1], 2)} s de processeur par portrait", flush=True)
            out = Path(tmp) / f"pdf{i}"
            cpu, wall = run([*base, "--pdf", "-o", str(out)])
            n = len(list(out.glob("*.pdf")))
            full_cpu.append(cpu / n)
            full_wall.append(wall / n)
            cpu, wall = run([*base, "--sans-carte", "-o", str(Path(tmp) / f"bare{i}")])
            ref_cpu.append(cpu / n)
            ref_wall.append(wall / n)
            print(f"essai {i + 1} : {n} portraits ; avec carte et PDF {_fr(full_cpu[-1], 2)} s de processeur par "
                  f"portrait ({_fr(full_wall[-1], 2)} s écoulées) ; référence sans carte ni PDF "
                  f"{_fr(ref_cpu[-1], 2)} s ({_fr(ref_wall[-1], 2)} s écoulées)", flush=True)
    med, ref = statistics.median(full_cpu), statistics.median(ref_cpu)
    print(f"Portrait avec carte et PDF, région {args.region} ({n} CPTS), processeur par portrait : médiane "
          f"{_fr(med, 2)} s ({' ; '.join(_fr(c, 2) for c in full_cpu)}) ; objectif {_fr(GOAL_S, 1)} s ; "
          f"rapport mesure/objectif {_fr(med / GOAL_S, 2)}")
    print(f"Référence, même commande sans carte ni PDF : médiane {_fr(ref, 2)} s par portrait "
          f"({' ; '.join(_fr(c, 2) for c in ref_cpu)}) ; carte et PDF coûtent {_fr(med - ref, 2)} s par portrait")
    if old_cpu:
        old = statistics.median(old_cpu)
        print(f"Avant ({args.avant}), même commande en alternance : médiane {_fr(old, 2)} s par portrait "
              f"({' ; '.join(_fr(c, 2) for c in old_cpu)}) ; après/avant {_fr(med / old, 2)}")
    print(f"Temps écoulé par portrait : médiane {_fr(statistics.median(full_wall), 2)} s avec carte et PDF, "
          f"{_fr(statistics.median(ref_wall), 2)} s sans")


if __name__ == "__main__":
    main()
