"""Rebuild the embedded DREES APL tables and INSEE's gescodgeo passage table.

Usage (from the repository root, with the project's test data folder next to the checkout)::

    python data/communes/build_drees.py [SHARED_DATA_DIR]      # default: ../shared/data

Reads, and never modifies:

- ``apl/apl_mg_2022_communes.csv`` and ``apl/apl_mg_2023_communes.csv``: the DREES APL to
  general practitioners per commune (COG of that year, Paris/Lyon/Marseille by municipal
  arrondissement), Licence Ouverte 2.0, attribution DREES;
- ``cog_passage/gescodgeo_table_passage_2008_2025.csv``: INSEE's own passage table
  (package gescodgeo 2025.1, MIT licence).

Writes, next to this script:

- ``apl_mg.parquet``: one row per (year, commune): ``year``, ``code``, ``name``, ``apl``,
  ``apl_under65``, ``pop_standardised``, ``population`` (INSEE population municipale of
  the vintage DREES used: 2020 for APL 2022, 2021 for APL 2023);
- ``gescodgeo.parquet``: the passage table as given (codes as text, weights as float).

Values are not changed; the build is deterministic (same bytes on every run).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
YEARS = (2022, 2023)


def build(shared: Path) -> None:
    frames = []
    for year in YEARS:
        raw = pd.read_csv(shared / "apl" / f"apl_mg_{year}_communes.csv",
                          dtype={"code_insee": str, "commune": str})
        if (raw["annee"] != year).any():
            sys.exit(f"apl_mg_{year}_communes.csv: column annee is not {year} everywhere")
        frames.append(pd.DataFrame({
            "year": raw["annee"].astype("int16"),
            "code": raw["code_insee"],
            "name": raw["commune"],
            "apl": raw["apl_generalistes"].astype("float64"),
            "apl_under65": raw["apl_generalistes_moins65"].astype("float64"),
            "pop_standardised": raw["pop_standardisee"].astype("float64"),
            "population": raw["pop_totale"].astype("int64"),
        }))
    apl = pd.concat(frames, ignore_index=True).sort_values(["year", "code"], ignore_index=True)
    if apl.duplicated(["year", "code"]).any():
        sys.exit("duplicated (year, code) in the APL tables")
    apl.to_parquet(HERE / "apl_mg.parquet", index=False, compression="zstd")

    passage = pd.read_csv(shared / "cog_passage" / "gescodgeo_table_passage_2008_2025.csv", dtype=str)
    for col in passage.columns:
        if col.startswith("POP_GEO_"):
            passage[col] = pd.to_numeric(passage[col]).astype("float64")
    passage.to_parquet(HERE / "gescodgeo.parquet", index=False, compression="zstd")

    for name in ("apl_mg.parquet", "gescodgeo.parquet"):
        digest = hashlib.sha256((HERE / name).read_bytes()).hexdigest()
        print(f"{name}: {(HERE / name).stat().st_size:,} bytes, sha256 {digest}")


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "shared" / "data"
    build(root)
