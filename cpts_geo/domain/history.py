"""Commune codes over time: clean the codes users type, map old codes to today's communes.

Commune codes change every 1 January (communes nouvelles, code changes, rare splits). Files
written years ago carry old codes. This module owns the two operations every reader needs:

- :func:`normalize_codes` turns what a spreadsheet gives (``1001``, ``" 59350 "``,
  ``59350.0``, ``"2a004"``) into INSEE codes, reporting each repair;
- :func:`remap_codes` maps each code to a commune of the embedded layer (COG 2025): a
  commune déléguée or associée goes to its parent commune, a code found in an INSEE passage
  table goes to its current successor, a municipal arrondissement is kept or rolled up to its
  city. Every change and every code that cannot be mapped is reported; nothing is guessed
  (a code split between several current communes is *not* mapped).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple, TypeAlias

import numpy as np
import pandas as pd

from cpts_geo.data.communes import arrondissement_codes
from cpts_geo.domain.codes import CODE_DTYPE, arrondissement_parent, as_codes, is_insee_code
from cpts_geo.domain.communes import load_communes, load_former_communes
from cpts_geo.domain.french import fold
from cpts_geo.errors import ValidationError

__all__ = [
    "HISTORY_YEARS",
    "REMAP_KINDS",
    "Rebased",
    "closest_names",
    "code_history",
    "cog_codes",
    "passage_links",
    "rebase_counts",
    "remap_codes",
]

#: What a ``passage=`` argument may be: a table read by :func:`cpts_geo.io.read_passage_table`,
#: links ``{old code: {successor codes}}``, or a path (refused with the name of the reader to use).
Passage: TypeAlias = "pd.DataFrame | Mapping[str, set[str]] | str | Path | None"

#: COG vintages covered by the embedded INSEE passage table (gescodgeo 2025.1).
HISTORY_YEARS = tuple(range(2008, 2026))


_LATEST = HISTORY_YEARS[-1]


_REPORT_COLUMNS = ["row", "code", "new_code", "name", "new_name", "reason", "kind"]
#: The kinds of a remapped or unresolved code, in the ``kind`` column of the report of :func:`remap_codes`.
REMAP_KINDS = ("arrondissement", "commune déléguée", "ancien code", "scission", "code mal formé", "code inconnu",
               "code vide")



def _successors(code: str, links: dict[str, set[str]], current: set[str]) -> set[str]:
    """Follow passage links from ``code`` to current codes (all of them, for splits)."""
    found: set[str] = set()
    stack, seen = [code], {code}
    while stack:
        c = stack.pop()
        nxt = links.get(c)
        if c != code and c in current:
            found.add(c)
            continue
        if not nxt:
            continue
        for n in nxt:
            if n not in seen:
                seen.add(n)
                stack.append(n)
    return found


# --- INSEE's passage table 2008-2025 (gescodgeo), embedded ---------------------------------


@lru_cache(maxsize=1)
def _gescodgeo() -> pd.DataFrame:
    from cpts_geo.data.communes import data_file

    table = pd.read_parquet(data_file("gescodgeo.parquet"))
    # plain Python strings: hash-table lookups (isin, merge) are much faster on them
    codes = [c for c in table.columns if c.startswith("COM_")]
    table[codes] = table[codes].astype(object)
    return table



def _check_year(year: int) -> int:
    if year not in HISTORY_YEARS:
        raise ValueError(
            f"Millésime du COG {year!r} non couvert : la table de passage INSEE embarquée "
            f"va de {HISTORY_YEARS[0]} à {HISTORY_YEARS[-1]}."
        )
    return int(year)



@lru_cache(maxsize=len(HISTORY_YEARS))
def _pairs(year: int) -> pd.DataFrame:
    """Links from the codes of COG ``year`` that changed to the codes of the latest COG.

    One row per (``code``, ``new_code``) with ``weight`` (INSEE's population of the new
    commune, gescodgeo's POP_GEO of the latest vintage) and ``share`` (the weight over the
    weights of all the new communes of that code: 1 unless the code was split).
    """
    g = _gescodgeo()
    p = g[[f"COM_{year}", f"COM_{_LATEST}", f"POP_GEO_{_LATEST}"]]
    p = p.drop_duplicates(p.columns[:2].tolist()).copy()
    p.columns = ["code", "new_code", "weight"]
    total = p.groupby("code")["weight"].transform("sum")
    n = p.groupby("code")["weight"].transform("size")
    p["share"] = np.where(total > 0, p["weight"] / total.where(total > 0, 1), 1 / n)
    p["year"] = year
    return p.sort_values(["code", "new_code"], ignore_index=True)



@lru_cache(maxsize=1)
def _history() -> pd.DataFrame:
    """For every code that ever existed since 2008 and is no longer current: its links from
    the last vintage in which it existed."""
    current = set(_gescodgeo()[f"COM_{_LATEST}"])
    frames = [_pairs(y) for y in HISTORY_YEARS[:-1]]
    long = pd.concat(frames, ignore_index=True)
    long = long[~long["code"].isin(current)]
    last = long.groupby("code")["year"].transform("max")
    return long[long["year"] == last].reset_index(drop=True)



def cog_codes(year: int) -> pd.Index:
    """The commune codes of one COG vintage (2008–2025), from INSEE's passage table.

    Municipal arrondissements are not communes and are not listed.

    Parameters
    ----------
    year : int
        The COG vintage, 2008 to 2025.

    Returns
    -------
    pandas.Index
        The five-character commune codes of that vintage.

    Examples
    --------
    >>> "61042" in cog_codes(2015), "61042" in cog_codes(2016)
    (True, False)
    >>> len(cog_codes(2025))
    34875
    """
    return _cog_codes(_check_year(year))



@lru_cache(maxsize=len(HISTORY_YEARS))  # every vintage: with_population scans them all
def _cog_codes(year: int) -> pd.Index:
    from cpts_geo.data.communes import read_embedded

    g = _gescodgeo()
    layer = read_embedded("communes.parquet").index.astype(object)
    kept = layer[~layer.isin(g[f"COM_{_LATEST}"])]
    return pd.Index(sorted(set(kept) | set(g[f"COM_{year}"])), name="code", dtype=object)



def code_history(codes: Iterable[str], *, cog: int | None = None) -> pd.DataFrame:
    """Today's commune(s) of old commune codes, from INSEE's passage table 2008–2025.

    Parameters
    ----------
    codes : iterable of str
        Commune codes (clean them with :func:`normalize_codes`).
    cog : int, optional
        The COG vintage the codes are written in. By default each code is read in the
        last vintage in which it existed.

    Returns
    -------
    pandas.DataFrame
        One row per (``code``, ``new_code``) for the codes that changed (codes unchanged
        since 2008, or unknown, are absent), with ``share`` (INSEE's population weight of
        ``new_code`` among the communes the code was split into; 1 when it was not split)
        and ``year`` (the vintage read). A code with several rows was split: never pick one
        of them silently.

    Examples
    --------
    >>> code_history(["61042", "59350"])[["code", "new_code", "share"]].values.tolist()
    [['61042', '61345', 1.0]]
    """
    wanted = pd.Index(pd.unique(pd.Series(list(codes), dtype="string").dropna()))
    if cog is None:
        table = _history()
    else:
        table = _pairs(_check_year(cog))
        table = table[(table["code"] != table["new_code"])
                      | (table.groupby("code")["new_code"].transform("size") > 1)]
    return table[table["code"].isin(wanted)].reset_index(drop=True)



class Rebased(NamedTuple):
    """Counts re-based onto today's communes, with what was done to them."""

    #: The counts, indexed by today's commune code (text).
    table: pd.DataFrame
    #: One row per old code that changed: ``code``, ``new_code``, ``share``, ``reason``
    #: (« fusion », « changement de code », « scission : répartie selon la population »).
    report: pd.DataFrame
    #: Codes found neither in the COG asked for nor in INSEE's history (``code``).
    unknown: pd.Index



def rebase_counts(table: pd.DataFrame, *, cog: int, integer: Iterable[str] = ()) -> Rebased:
    """Re-base counts per commune (populations…) from an old COG onto today's communes.

    Communes merged since are summed; a commune split since is apportioned between its
    successors by INSEE's population weights (gescodgeo), and reported. Codes that are not
    of COG ``cog`` are read in the last vintage in which they existed (and reported); codes
    unknown in every vintage are returned in ``unknown``, not counted. Municipal
    arrondissements (751xx, 6938x, 132xx) are kept as they are.

    Parameters
    ----------
    table : DataFrame
        Indexed by commune code, numeric columns.
    cog : int
        COG vintage of the codes (2008–2025).
    integer : iterable of str
        Columns of whole counts: split shares are rounded so that the total is kept
        (largest remainders).

    Returns
    -------
    Rebased

    Examples
    --------
    >>> old = pd.DataFrame({"population": [1000, 250]}, index=["61345", "61042"])
    >>> rebase_counts(old, cog=2015, integer=["population"]).table["population"].tolist()
    [1250]
    """
    cog = _check_year(cog)
    integer = [c for c in integer if c in table.columns]
    values = table.copy()
    values.index = pd.Index(values.index.astype(str).astype(object), name="code")
    codes = pd.Series(values.index, index=values.index, dtype=object)
    pairs = _pairs(cog)
    in_year = codes.isin(pairs["code"])
    from cpts_geo.data.communes import read_embedded

    of_year = cog_codes(cog).append(read_embedded("arrondissements.parquet").index.astype(object))
    current = cog_codes(_LATEST)
    other = ~in_year & ~codes.isin(of_year)
    today = codes[other & codes.isin(current)]
    older = codes[other & ~codes.isin(current)]
    hist = _history() if len(older) else _pairs(cog).iloc[:0]
    late = hist[hist["code"].isin(older)]
    links = pd.concat([
        pairs[pairs["code"].isin(codes[in_year])],
        late,
        pd.DataFrame({"code": today.to_numpy(), "new_code": today.to_numpy(), "share": 1.0,
                      "year": _LATEST}),
    ], ignore_index=True)
    unknown = pd.Index(codes[other & ~codes.isin(links["code"])].unique(), name="code")
    same = codes[~codes.isin(links["code"]) & ~codes.isin(unknown)]
    links = pd.concat([links, pd.DataFrame({"code": same.to_numpy(), "new_code": same.to_numpy(),
                                            "share": 1.0, "year": cog})], ignore_index=True)
    merged = links.merge(values, left_on="code", right_index=True).reset_index(drop=True)
    cols = list(values.columns)
    for col in cols:
        merged[col] = merged[col].astype("float64") * merged["share"]
    for col in integer:
        merged[col] = _round_keeping_total(merged, col)
    out = merged.groupby("new_code")[cols].sum(min_count=1)
    out.index.name = "code"
    for col in integer:
        out[col] = out[col].round().astype("Int64")

    n_targets = links.groupby("code")["new_code"].transform("size")
    n_sources = links.groupby("new_code")["code"].transform("size")
    late_codes = set(late["code"]) | set(today)
    changed = links[(links["code"] != links["new_code"]) | (n_targets > 1)
                    | links["code"].isin(late_codes)].copy()
    changed_targets = n_targets[changed.index]
    changed_sources = n_sources[changed.index]
    changed["reason"] = np.select(
        [changed_targets > 1, changed_sources > 1, changed["code"] != changed["new_code"]],
        ["scission : répartie selon la population INSEE des communes issues",
         "fusion : additionnée", "changement de code"],
        "",
    )
    late_rows = changed["code"].isin(late_codes)
    note = ("code absent du COG " + str(cog) + ", lu au COG " + changed["year"].astype(str))
    changed.loc[late_rows, "reason"] = np.where(
        changed.loc[late_rows, "reason"] == "", note[late_rows],
        note[late_rows] + " ; " + changed.loc[late_rows, "reason"])
    report = changed[["code", "new_code", "share", "reason"]].sort_values(
        ["code", "new_code"], ignore_index=True)
    return Rebased(out.sort_index(), report, unknown)



def _round_keeping_total(merged: pd.DataFrame, col: str) -> pd.Series:
    """Round shares of whole counts so that each source code keeps its total."""
    exact = merged[col]
    floor = np.floor(exact.fillna(0))
    total = merged.groupby("code")[col].transform("sum").round()
    missing = (total - floor.groupby(merged["code"]).transform("sum")).fillna(0)
    order = (exact - floor).groupby(merged["code"]).rank(method="first", ascending=False)
    out = floor + (order <= missing).astype(float)
    return out.where(exact.notna())



def remap_codes(
    codes: pd.Series | Iterable[str],
    *,
    communes: pd.DataFrame | None = None,
    passage: Passage = None,
    plm: str = "keep",
    cog: int | None = None,
) -> tuple[pd.Series, pd.DataFrame]:
    """Map commune codes to the communes of today (the commune layer's codes).

    In order: a code of the layer is kept; a municipal arrondissement is kept
    (``plm="keep"``) or replaced by its city (``plm="city"``); a commune déléguée or
    associée goes to its parent commune; a code of the ``passage`` table, or else of INSEE's
    own code history 2008–2025 (embedded, package gescodgeo), goes to its unique current
    successor. A code split between several current communes, or found nowhere, is not
    mapped (``<NA>``) and is reported, a split with its candidate communes and their share
    of the population (INSEE's weights): it is never guessed.

    Parameters
    ----------
    codes : Series or iterable of str
        INSEE codes (clean them first with :func:`normalize_codes`).
    communes : DataFrame, optional
        The layer whose index holds today's codes; default: all of France, embedded.
    passage : DataFrame, path or dict, optional
        An INSEE passage table (see :func:`passage_links`; a file is read by :func:`cpts_geo.io.read_passage_table`) for codes the embedded
        table of former communes does not know.
    plm : {"keep", "city"}, default "keep"
        What to do with arrondissements of Paris, Lyon, Marseille (751xx, 6938x, 132xx).
    cog : int, optional
        COG vintage the codes were written in (2008–2025), when known: a code of that
        vintage split since then is reported even if one of its parts kept the code.

    Returns
    -------
    codes : pandas.Series
        Today's codes (:data:`cpts_geo.domain.codes.CODE_DTYPE`), aligned with the input; NaN
        where a code cannot be mapped.
    report : pandas.DataFrame
        One row per changed or unmapped code: ``row`` (1-based position), ``code``,
        ``new_code``, ``name``, ``new_name``, ``reason`` (in French) and ``kind`` (one of
        :data:`REMAP_KINDS`).

    Examples
    --------
    >>> new, report = remap_codes(["59350", "05120", "75112", "99999"], plm="city")
    >>> new.tolist()
    ['59350', '05001', '75056', nan]
    >>> report[["code", "new_code", "reason"]].values.tolist()
    [['05120', '05001', 'commune déléguée'], ['75112', '75056', 'arrondissement → commune'], ['99999', nan, 'code inconnu']]
    """
    if plm not in ("keep", "city"):
        raise ValueError(f"plm doit valoir 'keep' ou 'city', pas {plm!r}.")
    series = codes if isinstance(codes, pd.Series) else pd.Series(list(codes))
    series = as_codes(series)
    layer = communes if communes is not None else load_communes(crs=None)
    if passage is None:
        links: dict[str, set[str]] = {}
    else:
        links = passage_links(passage)

    # Work on the distinct codes only, vectorised where a code is simply current.
    position, uniques = pd.factorize(series, use_na_sentinel=True)
    uniq = np.asarray(uniques, dtype=object)
    layer_codes = layer.index if layer.index.dtype == object else \
        pd.Index(layer.index.to_numpy(dtype=object, na_value=None), dtype=object)  # (else pandas infers str)
    is_current = pd.Index(uniq, dtype=object).isin(layer_codes)
    if is_current.all() and not (position < 0).any() and cog is None and (
            plm == "keep" or not pd.Index(uniq, dtype=object).isin(arrondissement_parent().index).any()):
        # the usual case: every code is today's code (the history is not even read)
        return series.copy(), pd.DataFrame(columns=_REPORT_COLUMNS).astype({"code": CODE_DTYPE, "new_code": CODE_DTYPE})
    arm_parent, former_parent, former_kind, other_names = _embedded_history()
    is_arm = pd.Index(uniq, dtype=object).isin(list(arm_parent))
    target = uniq.copy()  # object dtype
    target[~is_current] = None
    reason = np.full(len(uniq), None, dtype=object)
    kind = np.full(len(uniq), None, dtype=object)
    current = set(layer_codes)  # object labels: a set of Arrow strings is built value by value
    if plm == "city":
        for i in np.flatnonzero(is_arm):
            code = uniq[i]
            if is_current[i] and arm_parent[code] not in current:
                continue
            target[i], reason[i], kind[i] = arm_parent[code], "arrondissement → commune", "arrondissement"
    # INSEE's own code history 2008-2025 (embedded) for the codes nothing else resolves
    unresolved = [c for c in uniq[~is_current] if c not in arm_parent
                  and not (c in former_parent and len(former_parent[c] & current) == 1)]
    history_of = {c: list(zip(g["new_code"], g["share"], g["year"]))  # (not loaded when all is current)
                  for c, g in code_history(unresolved).groupby("code", sort=False)} if unresolved else {}
    split_since = _split_since(cog, uniq) if cog is not None else {}
    name_of = (dict(zip(layer.index.to_numpy(dtype=object), layer["name"].to_numpy(dtype=object)))
               if (history_of or split_since)
               and "name" in layer.columns else {})
    for i in np.flatnonzero(~is_current):
        code = uniq[i]
        if code in arm_parent:
            if plm == "keep":
                target[i] = code
        else:
            target[i], reason[i], kind[i] = _former_code(code, former_parent.get(code, set()) & current,
                                                         former_kind.get(code), links, current,
                                                         history_of.get(code), name_of)

    for i in np.flatnonzero(pd.Index(uniq, dtype=object).isin(list(split_since))):
        target[i], reason[i] = _from_history(split_since[uniq[i]], current, name_of)
        kind[i] = "ancien code" if target[i] is not None else "scission"

    empty = position < 0
    if is_current.all() and not empty.any() and (plm == "keep" or not is_arm.any()) \
            and not split_since:
        # the usual case: every code is today's code
        return series.copy(), pd.DataFrame(columns=_REPORT_COLUMNS).astype({"code": CODE_DTYPE, "new_code": CODE_DTYPE})
    return _remapped(series, position, target, reason, kind,
                     layer["name"] if "name" in layer.columns else None, other_names)



def _remapped(series: pd.Series, position: np.ndarray, target: np.ndarray, reason: np.ndarray, kind: np.ndarray,
              layer_names: pd.Series | None, other_names: pd.Series) -> tuple[pd.Series, pd.DataFrame]:
    """The codes of :func:`remap_codes` from the target of each distinct code (``position``: the
    distinct code of each row, -1 when empty), and its report (names from the layer, then the
    arrondissements and former communes)."""
    empty = position < 0
    uniq_count = len(target)
    safe = np.where(empty, 0, position)
    new_values = target[safe] if uniq_count else np.full(len(series), None, dtype=object)
    new_values = np.where(empty, np.array(None, dtype=object), new_values)
    new = pd.Series(new_values, index=series.index, dtype=CODE_DTYPE, name=series.name)
    flagged = empty | (np.not_equal(reason, np.array(None, dtype=object))[safe] if uniq_count else empty)
    pos = np.flatnonzero(flagged)
    if not len(pos):
        return new, pd.DataFrame(columns=_REPORT_COLUMNS).astype({"code": CODE_DTYPE, "new_code": CODE_DTYPE})
    names = pd.concat([layer_names, other_names]) if layer_names is not None else other_names
    names = names[~names.index.duplicated(keep="first")]
    given = np.asarray(series.to_numpy(dtype=object, na_value=None))[pos]
    mapped = new_values[pos]
    why = np.where(empty[pos], "code vide", reason[safe[pos]] if uniq_count else "code vide")
    what = np.where(empty[pos], "code vide", kind[safe[pos]] if uniq_count else "code vide")
    report = pd.DataFrame({
        "row": pos + 1,
        "code": pd.array(given, dtype=CODE_DTYPE),
        "new_code": pd.array(mapped, dtype=CODE_DTYPE),
        "name": names.reindex(given).to_numpy(dtype=object),
        "new_name": names.reindex(mapped).to_numpy(dtype=object),
        "reason": why.astype(object),
        "kind": what.astype(object),
    })
    report["name"] = report["name"].where(report["code"].notna(), pd.NA)
    report["new_name"] = report["new_name"].where(report["new_code"].notna(), pd.NA)
    report = report.astype({"code": object, "name": object, "new_name": object})
    report["code"] = report["code"].where(report["code"].notna(), pd.NA)
    return new, report



def _split_since(cog: int, uniq: np.ndarray) -> dict[str, list]:
    """The codes of ``uniq`` that were codes of COG ``cog`` split since (even if one part kept the
    code), with their ``(new code, share, year)`` links."""
    pairs = _pairs(_check_year(cog))
    pairs = pairs[pairs["code"].isin(uniq)]
    pairs = pairs[pairs.groupby("code")["new_code"].transform("size") > 1]
    return {c: list(zip(g["new_code"], g["share"], g["year"])) for c, g in pairs.groupby("code", sort=False)}



def _former_code(code: str, parents: set[str], former_kind: str | None, links: dict[str, set[str]],
                 current: set[str], history: list | None, names: dict,
                 ) -> tuple[str | None, str | None, str | None]:
    """``(target, reason, kind)`` of a code that is neither today's nor an arrondissement: a
    commune déléguée or associée (``parents``: its parent communes in the layer), a code of the
    passage ``links``, of INSEE's ``history``, or not found."""
    if len(parents) == 1:
        return next(iter(parents)), former_kind, "commune déléguée"
    targets = _successors(code, links, current) if links else set()
    if not targets and history is not None:
        target, reason = _from_history(history, current, names)
        return target, reason, "ancien code" if target is not None else "scission"
    if len(targets) == 1:
        return targets.pop(), "table de passage", "ancien code"
    if len(targets) > 1:
        return None, "scission : plusieurs communes actuelles (" + ", ".join(sorted(targets)) + ")", "scission"
    if not is_insee_code([code])[0]:
        return None, "code INSEE mal formé", "code mal formé"
    return None, "code inconnu", "code inconnu"



def _from_history(links: list, current: set, names: dict) -> tuple[str | None, str]:
    """Today's commune of an old code from INSEE's history; a split is never resolved."""
    from cpts_geo.domain.french import percent

    year = max(y for _, _, y in links)
    if len(links) == 1:
        target = links[0][0]
        if target in current:
            return target, f"ancien code (table de passage INSEE, code valable jusqu'au COG {year})"
        return None, (f"ancien code de {target} {names.get(target, '')}".rstrip()
                      + ", commune hors de la couche étudiée")
    candidates = ", ".join(f"{new} {names.get(new, '')} {percent(share)}".replace("  ", " ")
                           for new, share, _ in sorted(links, key=lambda x: -x[1]))
    return None, (f"scission : commune partagée depuis le COG {year + 1} entre plusieurs communes "
                  f"actuelles ({candidates} de la population) ; choisissez la bonne commune")



@lru_cache(maxsize=1)
def _embedded_history() -> tuple[dict, dict[str, set[str]], dict[str, str], pd.Series]:
    """The embedded arrondissements and former communes as look-up tables (read once)."""
    arm_names = arrondissement_codes()["name"]  # (not their layer: no geometry to decode)
    arm_parent = arrondissement_parent().to_dict()
    former = load_former_communes()
    former = former[former["code"] != former["parent"]]
    # A code déléguée in several parents (rare) would be ambiguous: keep all parents.
    former_parent: dict[str, set[str]] = {}
    former_kind: dict[str, str] = {}
    for code, parent, kind in former[["code", "parent", "kind"]].itertuples(index=False):
        former_parent.setdefault(code, set()).add(parent)
        former_kind[code] = f"commune {kind}"
    names = pd.concat([arm_names.astype(former["name"].dtype),
                       former.drop_duplicates("code").set_index("code")["name"]])
    names = names[~names.index.duplicated(keep="first")]
    return arm_parent, former_parent, former_kind, names



def closest_names(
    name: str, communes: pd.DataFrame, *, n: int = 3, cutoff: float = 0.6
) -> list[tuple[str, str]]:
    """The communes whose name is closest to ``name`` (accents and case ignored).

    Used to help a user fix an unknown code: suggestions only, never applied.

    Parameters
    ----------
    name : str
        The name the user gave.
    communes : DataFrame
        Communes indexed by code, with a ``name`` column.
    n : int, default 3
        At most this many suggestions.
    cutoff : float, default 0.6
        Minimum :func:`difflib.get_close_matches` similarity, between 0 and 1.

    Returns
    -------
    list of (code, name)

    Examples
    --------
    >>> closest_names("Amien", load_communes(region="32"), n=1)
    [('80021', 'Amiens')]
    """
    folded = pd.Series([fold(v) for v in communes["name"]], index=communes.index)
    target = fold(name)
    exact = folded[folded == target]
    if len(exact):
        return [(c, communes.at[c, "name"]) for c in exact.index[:n]]
    matches = difflib.get_close_matches(target, folded.unique().tolist(), n=n, cutoff=cutoff)
    out = []
    for m in matches:
        for c in folded.index[folded == m]:
            out.append((c, communes.at[c, "name"]))
    return out[:n]


def passage_links(passage: pd.DataFrame | Mapping[str, set[str]] | str | Path) -> dict[str, set[str]]:
    """Read an INSEE commune passage table into ``{old code: {successor codes}}``.

    Three layouts are recognised:

    - long tables of successive vintages (INSEE / COGugaison: ``code_from``, ``code_to``
      and optionally ``from_year``, ``to_year``, ``variant``); only forward links are used;
    - wide tables with one column per vintage (INSEE ``CODGEO_2024``, ``CODGEO_2025``…,
      or ``COM_2008`` … ``COM_2025``): each older code maps to the code of the latest one;
    - two columns ``old_code``/``new_code`` (or ``ancien_code``/``nouveau_code``).

    Parameters
    ----------
    passage : DataFrame or dict
        The table (a file is read by :func:`cpts_geo.io.read_passage_table`), or links
        already read (returned as they are).

    Raises
    ------
    ValidationError
        Given a path: the domain reads no file, the message names the reader.

    Returns
    -------
    dict of str to set of str
        Each old commune code and the current codes it became (several for a split).

    Examples
    --------
    >>> table = pd.DataFrame({"COM_2018": ["05120", "05001"], "COM_2025": ["05001", "05001"]})
    >>> passage_links(table)["05120"]
    {'05001'}
    """
    if isinstance(passage, Mapping):
        return dict(passage)
    if not isinstance(passage, pd.DataFrame):
        raise ValidationError(
            f"Table de passage donnée par son chemin ({passage}) : lisez-la d'abord avec "
            "cpts_geo.read_passage_table(chemin) et passez le résultat (passage=...).",
            [{"problem": "table de passage non lue", "value": str(passage)}])
    cols = {c.lower(): c for c in passage.columns}
    links: dict[str, set[str]] = {}

    def add(old: pd.Series, new: pd.Series) -> None:
        frame = pd.DataFrame({"old": old.astype("string"), "new": new.astype("string")}).dropna()
        frame = frame[frame["old"] != frame["new"]].drop_duplicates()
        for o, n in frame.itertuples(index=False):
            links.setdefault(o, set()).add(n)

    if "code_from" in cols and "code_to" in cols:
        table = passage
        if "from_year" in cols and "to_year" in cols:
            years = table[[cols["from_year"], cols["to_year"]]].apply(pd.to_numeric)
            table = table[(years.iloc[:, 0] < years.iloc[:, 1]).to_numpy()]
        if "variant" in cols and (table[cols["variant"]] == "cogugaison").any():
            table = table[table[cols["variant"]] == "cogugaison"]
        add(table[cols["code_from"]], table[cols["code_to"]])
        return links
    wide = {}
    for c in passage.columns:
        m = re.fullmatch(r"(?:CODGEO|COM|DEPCOM)_?(\d{4})", str(c), flags=re.IGNORECASE)
        if m:
            wide[int(m.group(1))] = c
    if len(wide) >= 2:
        latest = wide[max(wide)]
        for year, col in wide.items():
            if year != max(wide):
                add(passage[col], passage[latest])
        return links
    for old, new in (("old_code", "new_code"), ("ancien_code", "nouveau_code")):
        if old in cols and new in cols:
            add(passage[cols[old]], passage[cols[new]])
            return links
    raise ValueError(
        "Table de passage non reconnue : colonnes attendues code_from/code_to, "
        "CODGEO_AAAA (une par millésime) ou old_code/new_code ; colonnes reçues : "
        + ", ".join(map(str, passage.columns))
    )
