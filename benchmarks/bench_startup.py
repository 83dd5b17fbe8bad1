"""Start-up of whole processes: loading the commune layer, and the command line's help.

Run: ``python benchmarks/bench_startup.py [--repeat N]``. Each figure is a whole process
(interpreter start, imports, work), run N times alternately with its reference, and quoted as
the median of the N runs and the median of the N pairwise ratios:

- ``import cpts_geo; cpts_geo.load_communes()`` against ``import geopandas;
  geopandas.read_parquet(<the same embedded file>)``: goal, a ratio of at most 1,25;
- ``cpts-geo --help`` (``python -m cpts_geo.cli.main --help``) against a bare ``python -c
  pass``, and whether it imported geopandas (goal: never).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's cpts_geo, not an installed one

LOAD = "import cpts_geo; cpts_geo.load_communes()"
READ = "import geopandas; geopandas.read_parquet({path!r})"
HELP = ("import sys, io, contextlib\nfrom cpts_geo.cli.main import main\n"
        "try:\n    with contextlib.redirect_stdout(io.StringIO()):\n        main(['--help'])\n"
        "except SystemExit:\n    pass\nprint('geopandas' in sys.modules)")


def _run(code: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=HERE.parent)
    return time.perf_counter() - t0, out.stdout.strip()


def _pair(a: str, b: str, repeat: int) -> tuple[list[float], list[float], str]:
    _run(a), _run(b)  # warm the file cache
    ta, tb, said = [], [], ""
    for _ in range(repeat):
        t, said = _run(a)
        ta.append(t)
        tb.append(_run(b)[0])
    return ta, tb, said


def _fr(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}".replace(".", ",")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args(argv)
    from cpts_geo.data.communes import data_file

    path = str(data_file("communes.parquet"))
    ta, tb, _ = _pair(LOAD, READ.format(path=path), args.repeat)
    ratios = [a / b for a, b in zip(ta, tb)]
    ratio = statistics.median(ratios)
    print(f"load_communes() (processus entier)    : {_fr(statistics.median(ta))} s ; "
          f"référence geopandas.read_parquet : {_fr(statistics.median(tb))} s ; "
          f"ratio {_fr(ratio)} (min {_fr(min(ratios))}, max {_fr(max(ratios))}) ; "
          f"objectif ≤ 1,25 : {'atteint' if ratio <= 1.25 else 'non atteint'}")
    th, tp, said = _pair(HELP, "pass", args.repeat)
    print(f"cpts-geo --help (processus entier)    : {_fr(statistics.median(th))} s ; "
          f"python seul : {_fr(statistics.median(tp))} s ; geopandas importé : "
          f"{'oui (objectif non atteint)' if said == 'True' else 'non (objectif atteint)'}")
    print(f"{args.repeat} exécutions alternées de chaque commande ; médianes.")


if __name__ == "__main__":
    main()
