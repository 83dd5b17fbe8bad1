"""Time to write the portraits of every CPTS of Hauts-de-France (issue 16: the CPTS portrait).

Run: ``python benchmarks/bench_portrait.py`` (``--repeat N``, default 3).
Goal: the 59 portraits of the embedded (illustrative) Hauts-de-France registry, maps included,
in under 60 s on this machine, from a cold start of the batch (registry validated, territories
and APL aggregates computed once, then one page per CPTS). The reference printed beside it is the
same batch without maps, and one portrait alone (the single-CPTS command); medians of the runs,
and the ratio to the goal. The batch's processor time is printed too: on a shared machine the wall
time also counts the waiting for a core.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from cpts_geo.render import portrait as P

GOAL_S = 60.0


def batch(out: Path, *, map: bool) -> tuple[float, float, int]:
    t0, c0 = time.perf_counter(), time.process_time()
    ctx = P.portrait_context()
    table = P.portraits(out, context=ctx, region="32", map=map, force=True, progress=None)
    return time.perf_counter() - t0, time.process_time() - c0, len(table)


def one(out: Path) -> float:
    t0 = time.perf_counter()
    P.portrait("HDF-01", out / "un.html", context=P.portrait_context())
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    P._france()  # the embedded layer's first read is a cache warm-up, as in a session
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        full, cpu, bare, single = [], [], [], []
        n = 0
        for i in range(args.repeat):
            t, c, n = batch(tmp / f"full{i}", map=True)
            full.append(t)
            cpu.append(c)
            bare.append(batch(tmp / f"bare{i}", map=False)[0])
            single.append(one(tmp))
        size = sum(f.stat().st_size for f in (tmp / "full0").glob("hdf-*.html")) / n / 1e6
    med = statistics.median(full)
    print(f"Portraits des {n} CPTS des Hauts-de-France (cartes comprises) : médiane {med:.1f} s "
          f"({', '.join(f'{t:.1f}' for t in full)}) ; objectif {GOAL_S:.0f} s ; "
          f"rapport objectif/mesure {GOAL_S / med:.2f}")
    print(f"Temps processeur du lot (cartes comprises) : médiane {statistics.median(cpu):.1f} s — l'écart "
          "avec le temps écoulé mesure la charge de la machine")
    print(f"Référence, même lot sans cartes : médiane {statistics.median(bare):.1f} s ; "
          f"un portrait seul (contexte compris) : médiane {statistics.median(single):.1f} s")
    print(f"Par portrait : {med / n:.2f} s ; taille moyenne d'une page {size:.2f} Mo")


if __name__ == "__main__":
    main()
