"""Build the illustrative Hauts-de-France registry: ``python data/example/build.py``.

ILLUSTRATIVE. The compositions of the region's CPTS are not published; the URPS guide only
counts 59 CPTS dynamics, 32 of them recognised (health project validated or ACI signed) and
27 projects in progress. This script makes a plausible registry with those counts from the
embedded commune layer, deterministically:

1. start from the EPCIs (92 in the region);
2. split the EPCIs above 230 000 inhabitants into contiguous groups of similar population
   by growing regions from their most populated communes (Lille is shared half and half
   between two CPTS, to show a declared split);
3. merge, repeatedly, the least populated group (below 30 000 inhabitants) into its least
   populated neighbour of the same department;
4. keep 59 groups as CPTS, the others are left uncovered ("zones blanches"), and give
   stages with fixed counts (24 ACI signé, 8 projet de santé validé, 9 association créée,
   10 lettre d'intention validée, 8 dynamique identifiée) in a seeded random order.

The result, ``cpts_geo/data/registre_cpts_hdf_illustratif.csv``, is committed in the package.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from cpts_geo.domain.communes import load_communes
from cpts_geo.domain.crs import to_metric

OUT = Path(__file__).resolve().parents[2] / "cpts_geo" / "data" / "registre_cpts_hdf_illustratif.csv"
N_CPTS = 59
STAGE_COUNTS = [("ACI signé", 24), ("Projet de santé validé", 8), ("Association créée", 9),
                ("Lettre d'intention validée", 10), ("Dynamique identifiée", 8)]
SPLIT_ABOVE = 230_000
TARGET = 170_000
MERGE_BELOW = 30_000
SEED = 32


def _neighbours(geoms) -> list[set[int]]:
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    nb: list[set[int]] = [set() for _ in range(len(geoms))]
    for i, j in zip(a, b):
        if i != j:
            nb[i].add(j)
    return nb


def _grow(members: list[int], k: int, pop, nb, pts) -> dict[int, int]:
    """Split ``members`` into ``k`` contiguous groups grown from the most populated."""
    members_set = set(members)
    seeds = sorted(members, key=lambda i: -pop[i])[:k]
    group = {s: g for g, s in enumerate(seeds)}
    size = [pop[s] for s in seeds]
    while len(group) < len(members):
        progressed = False
        for g in np.argsort(size, kind="stable"):
            frontier = sorted({j for i, gg in group.items() if gg == g for j in nb[i]}
                              & members_set - group.keys())
            if frontier:
                j = frontier[0]
                group[j] = int(g)
                size[g] += pop[j]
                progressed = True
                break
        if not progressed:  # not contiguous: attach to the nearest assigned commune
            rest = sorted(members_set - group.keys())
            done = list(group)
            for j in rest:
                d = shapely.distance(pts[j], pts[done])
                group[j] = group[done[int(np.argmin(d))]]
    return group


def build() -> pd.DataFrame:
    """The illustrative registry, built as the module docstring says (deterministic).

    Returns
    -------
    DataFrame
        One row per commune and CPTS: ``cpts_id``, ``cpts_name``, ``stage``,
        ``commune_code``, ``commune_name``, ``share`` (empty for a whole commune).
    """
    com = to_metric(load_communes(region="32"))
    codes = com.index.to_numpy()
    pop = com["population"].fillna(0).astype(int).to_numpy()
    nb = _neighbours(com.geometry.to_numpy())
    pts = shapely.point_on_surface(com.geometry.to_numpy())
    unit = pd.factorize(com["epci"])[0].copy()
    # 2. split large EPCIs
    next_id = unit.max() + 1
    for u in np.unique(unit):
        members = [int(i) for i in np.flatnonzero(unit == u)]
        total = pop[members].sum()
        if total > SPLIT_ABOVE:
            k = round(total / TARGET)
            groups = _grow(members, k, pop, nb, pts)
            for i, g in groups.items():
                if g > 0:
                    unit[i] = next_id + g - 1
            next_id += k - 1
    # 3. merge small groups into their least populated neighbour of the same department
    dep = com["department"].to_numpy()
    while True:
        upop = pd.Series(pop).groupby(unit).sum()
        small = upop[upop < MERGE_BELOW].sort_values(kind="stable")
        merged = False
        for u in small.index:
            idx = np.flatnonzero(unit == u)
            near = {unit[j] for i in idx for j in nb[i]} - {u}
            same = [v for v in near if dep[np.flatnonzero(unit == v)[0]] == dep[idx[0]]]
            cand = same or sorted(near)
            if not cand:
                continue
            v = min(cand, key=lambda v: (upop[v], v))
            unit[idx] = v
            merged = True
            break
        if not merged:
            break
    groups = pd.Series(unit, index=codes)
    upop = pd.Series(pop, index=codes).groupby(groups).sum()
    rng = np.random.default_rng(SEED)
    ids = upop.index.to_numpy()
    order = rng.permutation(len(ids))
    covered = ids[np.sort(order[:N_CPTS])]
    stages = np.concatenate([[s] * n for s, n in STAGE_COUNTS])
    stage_of = dict(zip(covered, rng.permutation(stages)))
    rows = []
    names = com["name"]
    labels = {}
    for u in covered:
        members = groups.index[groups == u]
        largest = names[members].iloc[int(pop[com.index.get_indexer(members)].argmax())]
        labels[u] = (com.loc[members, "department"].iloc[0], largest)
    ordered = sorted(covered, key=lambda u: labels[u])
    cid = {u: f"HDF-{i:02d}" for i, u in enumerate(ordered, start=1)}
    for u in ordered:
        members = sorted(groups.index[groups == u])
        for c in members:
            rows.append({"cpts_id": cid[u], "cpts_name": f"CPTS {labels[u][1]} (illustrative)",
                         "stage": stage_of[u], "commune_code": c, "commune_name": names[c],
                         "share": ""})
    reg = pd.DataFrame(rows)
    # Lille shared half and half with the CPTS of a neighbouring group, if it is covered
    lille = reg.index[reg["commune_code"] == "59350"]
    if len(lille):
        own = reg.at[lille[0], "cpts_id"]
        li = com.index.get_loc("59350")
        around = [groups.iloc[j] for j in nb[li] if groups.iloc[j] != groups["59350"] and groups.iloc[j] in cid]
        if around:
            other = cid[sorted(around)[0]]
            reg.loc[lille, "share"] = "0.5"
            first = reg[reg["cpts_id"] == other].iloc[0]
            extra = {**first.to_dict(), "commune_code": "59350", "commune_name": "Lille", "share": "0.5"}
            reg = pd.concat([reg, pd.DataFrame([extra])], ignore_index=True)
            reg = reg.sort_values(["cpts_id", "commune_code"], kind="stable").reset_index(drop=True)
            assert own != other
    reg["cpts_name"] = reg["cpts_name"].str.replace(" (illustrative)", " (illustratif)", regex=False)
    return reg


if __name__ == "__main__":
    reg = build()
    reg.to_csv(OUT, sep=";", index=False, encoding="utf-8")
    n = reg["cpts_id"].nunique()
    print(f"{OUT.name} : {len(reg)} lignes, {n} CPTS, "
          f"{reg['commune_code'].nunique()} communes couvertes")
