"""Territorial units: what a CPTS is made of.

A unit is a commune, or a municipal arrondissement of Paris, Lyon or Marseille where a
registry gives that city by arrondissement, or a part of a commune: given by a share, or by a
set of IRIS (INSEE's sub-commune units), it is the commune itself with its ``share`` in the
membership table. :func:`sub_commune_units` reads the layouts of real listings that give a city
below the commune (an arrondissement column beside the commune column, IRIS codes). Every step that turns a
membership into geometry or figures (territories, coverage, flows, maps) takes its units from
:func:`unit_layer`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd

from cpts_geo.data.communes import arrondissement_codes
from cpts_geo.data.iris import IRIS_CODE_PATTERN, IRIS_VINTAGE, iris_table
from cpts_geo.domain.codes import normalize_codes
from cpts_geo.domain.communes import load_arrondissements
from cpts_geo.domain.french import number
from cpts_geo.domain.metadata import layer_metadata, set_layer_metadata

__all__ = ["SubCommuneUnits", "sub_commune_units", "unit_layer"]


def unit_layer(communes: gpd.GeoDataFrame, codes: Iterable[str]) -> gpd.GeoDataFrame:
    """The commune layer, with the cities that ``codes`` give by arrondissement replaced by them.

    Parameters
    ----------
    communes : GeoDataFrame
        A commune layer indexed by INSEE code.
    codes : iterable of str
        The codes of a membership: communes, and arrondissements (751xx, 6938x, 132xx).

    Returns
    -------
    GeoDataFrame
        ``communes`` itself when every code is one of its communes; otherwise a copy where
        each city with an arrondissement among ``codes`` is replaced by all its
        arrondissements (same columns, same metadata).

    Examples
    --------
    >>> units = unit_layer(load_communes(departments="13"), ["13201", "13055"])
    >>> "13055" in units.index, "13201" in units.index, int(units.index.str.startswith("132").sum())
    (False, True, 16)
    """
    wanted = set(codes)
    missing = wanted - set(communes.index.astype(object))  # a set of Arrow strings is built value by value
    if not missing:
        return communes
    arm = load_arrondissements(crs=communes.crs)
    arm = arm[arm.index.isin(missing)]
    cities = set(arm["parent"])
    arm = load_arrondissements(crs=communes.crs)
    arm = arm[arm["parent"].isin(cities)]
    keep = [c for c in communes.columns if c in arm.columns or c == communes.geometry.name]
    out = pd.concat([communes[~communes.index.isin(cities)], arm[keep]])
    return set_layer_metadata(out, layer_metadata(communes), inplace=True)


class SubCommuneUnits(NamedTuple):
    """A registry whose arrondissement and IRIS columns were turned into units and shares."""

    #: The registry, one row per (CPTS, unit): an arrondissement given in its own column replaces
    #: its city's code; the IRIS of one commune in one CPTS become one row with their ``share``.
    registry: pd.DataFrame
    #: Problems, as the registry checks gather them (``row``, ``code``, ``problem``, ``kind``).
    problems: list[dict]
    #: What was done, one row per file row or per (CPTS, commune) given by IRIS, in the columns of
    #: the registry's report (``row``, ``code``, ``new_code``, ``name``, ``new_name``, ``reason``).
    report: pd.DataFrame
    #: The IRIS of each CPTS: ``cpts_id``, ``iris``, ``code`` (its commune), ``population``, ``row``.
    iris: pd.DataFrame


_REPORT = ["row", "code", "new_code", "name", "new_name", "reason", "kind"]
_IRIS_RE = re.compile(rf"^{IRIS_CODE_PATTERN}$")


def _cells(values: pd.Series) -> np.ndarray:
    """Text cells cleaned of spaces and of a ``.0`` a spreadsheet added; empty → ``None``."""
    out = np.empty(len(values), dtype=object)
    for k, v in enumerate(values.to_numpy(dtype=object)):
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            out[k] = None
            continue
        text = str(v).strip().replace(" ", "").replace("\u00a0", "")
        if text.endswith(".0") and text[:-2].isdigit():
            text = text[:-2]
        out[k] = text or None
    return out


def sub_commune_units(registry: pd.DataFrame) -> SubCommuneUnits:
    """Turn a registry's arrondissement and IRIS columns into territorial units.

    Two layouts of real listings give a city below the commune:

    - **a commune column and an arrondissement column** (an ARS export: ``13055`` on every
      Marseille row, ``13208`` beside it): the arrondissement becomes the unit; it must be an
      arrondissement of the commune given (Paris 751xx, Lyon 6938x, Marseille 132xx);
    - **IRIS** (a ``code_iris`` column, or IRIS codes of 9 characters in the commune column): the
      IRIS of one commune in one CPTS become one row for that commune, whose ``share`` is the 2021
      census population of those IRIS over the population of all the commune's IRIS (INSEE,
      :func:`cpts_geo.data.iris.iris_table`), never guessed. IRIS of Paris, Lyon and Marseille
      belong to their arrondissement. An IRIS claimed by two CPTS is an overlap; an IRIS code that
      does not exist, or that is not in the commune given on its row, is a problem with its row.

    Parameters
    ----------
    registry : DataFrame
        The registry as read (``row``, ``cpts_id``, ``commune_code``… and, when the listing has
        them, ``arrondissement_code`` and ``iris_code``).

    Returns
    -------
    SubCommuneUnits
        The registry with units and shares, the problems, the report and the IRIS of each CPTS.

    Examples
    --------
    >>> reg = pd.DataFrame({"row": [2, 3], "cpts_id": ["A", "B"], "commune_code": ["13055", "13055"],
    ...                     "arrondissement_code": ["13201", "13202"]})
    >>> sub_commune_units(reg).registry["commune_code"].tolist()
    ['13201', '13202']
    """
    reg = registry.copy()
    problems: list[dict] = []
    reports: list[pd.DataFrame] = []
    if "arrondissement_code" in reg.columns and reg["arrondissement_code"].notna().any():
        reg, found, report = _arrondissement_column(reg)
        problems += found
        reports.append(report)
    codes = _cells(reg["commune_code"]) if "commune_code" in reg.columns else np.full(len(reg), None)
    iris = _cells(reg["iris_code"]) if "iris_code" in reg.columns else np.full(len(reg), None)
    in_code = np.array([i is None and _iris_like(c) for c, i in zip(codes, iris)], dtype=bool)
    iris = np.where(in_code, codes, iris)
    given = np.array([i is not None for i in iris], dtype=bool)
    empty = pd.DataFrame(columns=["cpts_id", "iris", "code", "population", "row"])
    if not given.any():
        out = pd.concat(reports, ignore_index=True) if reports else pd.DataFrame(columns=_REPORT)
        return SubCommuneUnits(reg, problems, out, empty)
    commune_of_row = np.array([None if k else c for k, c in zip(in_code, codes)], dtype=object)
    by_iris, found, report, members = _iris_rows(reg, given, iris, commune_of_row)
    problems += found
    reports.append(report)
    reg = pd.concat([reg[~given], by_iris], ignore_index=True).sort_values("row", kind="stable",
                                                                          ignore_index=True)
    return SubCommuneUnits(reg, problems, pd.concat(reports, ignore_index=True), members)


def _codes(values: pd.Series) -> np.ndarray:
    """Commune or arrondissement codes cleaned by the one rule (:func:`cpts_geo.domain.codes.normalize_codes`)."""
    clean = normalize_codes(values.reset_index(drop=True))[0]
    return np.array([None if pd.isna(c) else str(c) for c in clean], dtype=object)


def _iris_like(code: str | None) -> bool:
    """An IRIS code (9 characters), or one typed as a number that lost its leading zero (8 digits)."""
    if code is None or len(code) not in (8, 9):
        return False
    return bool(_IRIS_RE.match(code.zfill(9) if code.isdigit() else code))


def _arrondissement_column(reg: pd.DataFrame) -> tuple[pd.DataFrame, list[dict], pd.DataFrame]:
    parent = arrondissement_codes()["parent"]
    names = arrondissement_codes()["name"]
    arm = _codes(reg["arrondissement_code"])
    commune = _codes(reg["commune_code"])
    rows = reg["row"].to_numpy()
    problems, report = [], []
    new = commune.copy()
    for k in np.flatnonzero([a is not None for a in arm]).tolist():
        a, c = arm[k], commune[k]
        if a not in parent.index:
            if a == c:
                continue  # the commune repeated in the arrondissement column
            problems.append({"row": int(rows[k]), "code": a, "kind": "code inconnu", "problem":
                             f"arrondissement municipal inconnu « {a} » (attendu : Paris 75101 à 75120, "
                             "Lyon 69381 à 69389, Marseille 13201 à 13216)"})
            continue
        if c is not None and c != a and c != parent[a]:
            problems.append({"row": int(rows[k]), "code": a, "kind": "code inconnu", "problem":
                             f"l'arrondissement {a} ({names[a]}) n'est pas dans la commune {c} donnée sur "
                             f"la même ligne (sa ville est {parent[a]})"})
            continue
        new[k] = a
        if c != a:
            report.append((int(rows[k]), c, a, None, names[a],
                           "arrondissement donné dans sa propre colonne", "arrondissement (colonne)"))
    reg["commune_code"] = pd.Series(new, index=reg.index, dtype=object)
    return reg, problems, pd.DataFrame(report, columns=_REPORT)


def _iris_rows(reg: pd.DataFrame, given: np.ndarray, iris: np.ndarray, commune: np.ndarray,
               ) -> tuple[pd.DataFrame, list[dict], pd.DataFrame, pd.DataFrame]:
    table = iris_table()
    rows = reg["row"].to_numpy()
    ids = reg["cpts_id"].to_numpy(dtype=object)
    problems: list[dict] = []
    keep = []
    for k in np.flatnonzero(given).tolist():
        code = str(iris[k])
        code = code.zfill(9) if code.isdigit() else code
        if code not in table.index:
            problems.append({"row": int(rows[k]), "code": code, "kind": "code inconnu", "problem":
                             f"code IRIS inconnu « {code} » (attendu : 9 caractères, le code de la commune "
                             f"suivi de 4 chiffres, géographie {IRIS_VINTAGE + 3} de l'INSEE)"})
            continue
        unit, old = table.at[code, "commune"], table.at[code, "commune_2024"]
        c = commune[k]
        if c is not None and c not in (unit, old, arrondissement_codes()["parent"].get(unit)):
            problems.append({"row": int(rows[k]), "code": code, "kind": "code inconnu", "problem":
                             f"l'IRIS {code} n'est pas dans la commune {c} donnée sur la même ligne "
                             f"(il est dans {unit})"})
            continue
        keep.append((k, code, unit))
    members = pd.DataFrame({"pos": [k for k, _, _ in keep], "iris": [i for _, i, _ in keep],
                            "code": [u for _, _, u in keep]})
    members["cpts_id"] = ids[members["pos"].to_numpy(dtype=int)] if len(members) else []
    members["row"] = rows[members["pos"].to_numpy(dtype=int)] if len(members) else []
    members = members.drop_duplicates(["iris", "cpts_id"])  # the same IRIS twice in one CPTS: once
    twice = members[members.duplicated("iris", keep=False)]
    for code, claims in twice.groupby("iris", sort=True):
        who = ", ".join(f"{c} (ligne {r})" for c, r in zip(claims["cpts_id"], claims["row"]))
        problems.append({"row": ", ".join(map(str, sorted(claims["row"]))), "code": code, "kind": "chevauchement",
                         "problem": f"IRIS {code} (commune {claims['code'].iat[0]}) revendiqué par plusieurs "
                                    f"CPTS : {who}"})
    members = members[~members["iris"].isin(twice["iris"])]  # already an overlap: not counted twice
    members["population"] = table["population"].reindex(members["iris"]).to_numpy()
    totals = table.groupby("commune")["population"].sum()
    counts = table.groupby("commune").size()
    out_rows, report = [], []
    for (cid, unit), grp in members.groupby(["cpts_id", "code"], sort=False):
        first = int(grp["pos"].min())
        pop, total = int(grp["population"].sum()), int(totals[unit])
        whole = len(grp) == int(counts[unit])
        share = None if whole else (pop / total if total else len(grp) / int(counts[unit]))
        row = reg.iloc[first].copy()
        row["commune_code"], row["share"] = unit, share
        if "iris_code" in row.index:
            row["iris_code"] = None
        out_rows.append(row)
        what = "toute la commune" if whole else f"part {number(share, 4)}"
        report.append((int(rows[first]), unit, unit, None, None,
                       f"{len(grp)} IRIS sur {int(counts[unit])} dans la CPTS {cid} : {what} "
                       f"(population {IRIS_VINTAGE} des IRIS : {number(pop)} sur {number(total)})", "IRIS"))
    frame = pd.DataFrame(out_rows).reset_index(drop=True) if out_rows else reg.iloc[:0]
    members = members[["cpts_id", "iris", "code", "population", "row"]].reset_index(drop=True)
    return frame, problems, pd.DataFrame(report, columns=_REPORT), members
