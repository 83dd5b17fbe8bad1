"""Time of the one reader of user tables (``cpts_geo.io._read.read_table``) on registry-like CSV files.

Run: ``python benchmarks/bench_read.py [ROWS …]`` (default 100 000 and 1 000 000 rows). Each
size is written once to a temporary folder (UTF-8, ``;``, six columns, one blank line every
1 000 rows so that file row numbers matter); each call is timed 3 times, alternated with the
reference ``pandas.read_csv(path, sep=";", dtype=str)`` (which knows the separator and the
encoding, skips blank lines and keeps no row number): medians and their ratio are printed.
Goal: the reader within 2× of the reference.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cpts_geo.io._read import read_table
from cpts_geo.io.registry import read_registry


def _write(path: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(1001, 95000, n)
    lines = ["Identifiant CPTS;Nom de la CPTS;Étape;Code INSEE;Nom commune;Part"]
    for i, c in enumerate(codes):
        if i and i % 1000 == 0:
            lines.append("")
        lines.append(f"C{i % 5000};CPTS n° {i % 5000};ACI signé;{c:05d};Commune {c};")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _time(call) -> float:
    t0 = time.perf_counter()
    call()
    return time.perf_counter() - t0


def main(sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for n in sizes:
            path = Path(folder) / f"registre_{n}.csv"
            _write(path, n)
            cases = {
                "read_table(kind='registry')": lambda p=path: read_table(p, kind="registry"),
                "read_registry": lambda p=path: read_registry(p),
                "référence pandas.read_csv": lambda p=path: pd.read_csv(p, sep=";", dtype=str),
            }
            times: dict[str, list[float]] = {k: [] for k in cases}
            for _ in range(3):
                for label, call in cases.items():
                    times[label].append(_time(call))
            ref = statistics.median(times["référence pandas.read_csv"])
            for label, runs in times.items():
                med = statistics.median(runs)
                print(f"{n:>9,d} lignes  {label:30s} médiane {med:6.2f} s  "
                      f"(×{med / ref:.2f} la référence ; objectif ≤ ×2)".replace(",", " "))


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
