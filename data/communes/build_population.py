"""Rebuild the population municipale 2021 of the embedded communes, on COG 2025.

Usage (from the repository root, after ``build_drees.py``)::

    python data/communes/build_population.py

Reads the embedded DREES APL 2023 table (``apl_mg.parquet``: INSEE population municipale 2021
and DREES standardised population, COG 2023, Paris/Lyon/Marseille by municipal arrondissement)
and INSEE's passage table (``gescodgeo.parquet``), and writes, next to this script:

- ``population_2021.parquet``: ``code`` (today's commune or arrondissement, COG 2025),
  ``population`` (whole inhabitants) and ``pop_standardised``; merged communes summed, split
  communes apportioned by INSEE's population weights, Paris, Lyon and Marseille the sum of
  their arrondissements;
- ``population_2021_changes.csv``: one row per COG 2023 code that changed (``code``,
  ``new_code``, ``share``, ``reason``), shown by :func:`cpts_geo.domain.communes.layer_report`.

The package reads these files as they are: nothing is recomputed when a process starts.
The build is deterministic (same bytes on every run).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent


def build() -> None:
    from cpts_geo.data.apl import load_apl
    from cpts_geo.data.communes import read_embedded
    from cpts_geo.domain.history import rebase_counts

    apl = load_apl(2023)
    rebased = rebase_counts(apl[["population", "pop_standardised"]], cog=2023, integer=["population"])
    if len(rebased.unknown):
        raise SystemExit(f"codes unknown to INSEE's history: {list(rebased.unknown)}")
    table = rebased.table
    parent = read_embedded("arrondissements.parquet")["parent"]
    arm = table[table.index.isin(parent.index)]
    cities = arm.groupby(parent.reindex(arm.index).to_numpy()).sum()
    cities.index.name = "code"
    table = pd.concat([table[~table.index.isin(cities.index)], cities]).sort_index()
    out = pd.DataFrame({"code": table.index.astype(str),
                        "population": table["population"].astype("int64").to_numpy(),
                        "pop_standardised": table["pop_standardised"].astype("float64").to_numpy()})
    out.to_parquet(HERE / "population_2021.parquet", index=False, compression="zstd")
    report = rebased.report.astype({"code": str, "new_code": str, "share": "float64", "reason": str})
    report.to_csv(HERE / "population_2021_changes.csv", index=False, lineterminator="\n")
    for name in ("population_2021.parquet", "population_2021_changes.csv"):
        digest = hashlib.sha256((HERE / name).read_bytes()).hexdigest()
        print(f"{name}: {(HERE / name).stat().st_size:,} bytes, sha256 {digest}")


if __name__ == "__main__":
    build()
