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
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from cpts_geo._french import fold
from cpts_geo.communes import INSEE_CODE_PATTERN, is_insee_code, load_arrondissements, load_communes, load_former_communes

__all__ = ["normalize_codes", "remap_codes", "read_passage_table", "closest_names"]

_REPORT_COLUMNS = ["row", "code", "new_code", "name", "new_name", "reason"]
_CLEAN = re.compile(INSEE_CODE_PATTERN)


def _as_text(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else str(value)
    text = str(value).replace("\u00a0", " ").strip()
    if re.fullmatch(r"\d+\.0+", text):
        text = text.split(".")[0]
    if re.fullmatch(r"2[ab]\d{3}", text, flags=re.IGNORECASE):
        text = text.upper()
    return text


def _normalize_one(value) -> tuple[str | None, str | None]:
    text = _as_text(value)
    if text is None or text == "":
        return None, "code vide"
    reason = None
    if isinstance(value, str):
        stripped = value.replace("\u00a0", " ").strip()
        if stripped != value:
            reason = "espaces retirés"
        elif stripped != text:
            reason = "majuscules (2A/2B)"
    if re.fullmatch(r"\d{4}", text):
        text = "0" + text
        reason = "zéro initial restauré"
    elif isinstance(value, (float, np.floating)) and reason is None:
        reason = "nombre converti en texte"
    return text, reason


def normalize_codes(values: pd.Series | Iterable) -> tuple[pd.Series, pd.DataFrame]:
    """Clean commune codes as typed in a spreadsheet.

    Strips spaces (also non-breaking ones), upper-cases ``2a``/``2b``, turns numbers
    (``59350``, ``59350.0``) into text and restores the leading zero lost by codes of
    departments 01–09 read as integers (``1001`` → ``"01001"``: four digits can only be
    that). Anything else is left as given, for :func:`remap_codes` to report.

    Parameters
    ----------
    values : Series or iterable
        The codes, in the order of the user's rows.

    Returns
    -------
    codes : pandas.Series
        Cleaned codes (string dtype, ``<NA>`` for empty cells), aligned with ``values``.
    report : pandas.DataFrame
        One row per value that was changed or is empty: ``row`` (1-based position),
        ``code`` (as given), ``new_code``, ``reason``.

    Examples
    --------
    >>> codes, report = normalize_codes([1001, " 59350 ", "2a004", "80021"])
    >>> codes.tolist()
    ['01001', '59350', '2A004', '80021']
    >>> report["reason"].tolist()
    ['zéro initial restauré', 'espaces retirés', 'majuscules (2A/2B)']
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values))
    out: list[str | None] = []
    rows = []
    seen: dict = {}
    for pos, value in enumerate(series.tolist(), start=1):
        if isinstance(value, str) and _CLEAN.fullmatch(value):  # the usual case: nothing to do
            out.append(value)
            continue
        key = (type(value), value) if not (isinstance(value, float) and np.isnan(value)) else None
        if key is not None and key in seen:
            text, reason = seen[key]
        else:
            text, reason = _normalize_one(value)
            if key is not None:
                seen[key] = (text, reason)
        out.append(text)
        if reason:
            rows.append((pos, value, text, reason))
    codes = pd.Series(out, index=series.index, dtype="string", name=series.name)
    report = pd.DataFrame(rows, columns=["row", "code", "new_code", "reason"])
    return codes, report


def read_passage_table(passage: pd.DataFrame | str | Path) -> dict[str, set[str]]:
    """Read an INSEE commune passage table into ``{old code: {successor codes}}``.

    Three layouts are recognised:

    - long tables of successive vintages (INSEE / COGugaison: ``code_from``, ``code_to``
      and optionally ``from_year``, ``to_year``, ``variant``); only forward links are used;
    - wide tables with one column per vintage (INSEE ``CODGEO_2024``, ``CODGEO_2025``…,
      or ``COM_2008`` … ``COM_2025``): each older code maps to the code of the latest one;
    - two columns ``old_code``/``new_code`` (or ``ancien_code``/``nouveau_code``).

    Examples
    --------
    >>> table = pd.DataFrame({"COM_2018": ["05120", "05001"], "COM_2025": ["05001", "05001"]})
    >>> read_passage_table(table)["05120"]
    {'05001'}
    """
    if not isinstance(passage, pd.DataFrame):
        from cpts_geo.io import read_table

        passage = read_table(Path(passage)).table  # CSV, XLSX, Parquet: encoding, separator detected
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


def remap_codes(
    codes: pd.Series | Iterable[str],
    *,
    communes: pd.DataFrame | None = None,
    passage: pd.DataFrame | str | Path | dict | None = None,
    plm: str = "keep",
) -> tuple[pd.Series, pd.DataFrame]:
    """Map commune codes to the communes of today (the commune layer's codes).

    In order: a code of the layer is kept; a municipal arrondissement is kept
    (``plm="keep"``) or replaced by its city (``plm="city"``); a commune déléguée or
    associée goes to its parent commune; a code of the passage table goes to its unique
    current successor. A code split between several current communes, or found nowhere,
    is not mapped (``<NA>``) and is reported.

    Parameters
    ----------
    codes : Series or iterable of str
        INSEE codes (clean them first with :func:`normalize_codes`).
    communes : DataFrame, optional
        The layer whose index holds today's codes; default: all of France, embedded.
    passage : DataFrame, path or dict, optional
        An INSEE passage table (see :func:`read_passage_table`) for codes the embedded
        table of former communes does not know.
    plm : {"keep", "city"}, default "keep"
        What to do with arrondissements of Paris, Lyon, Marseille (751xx, 6938x, 132xx).

    Returns
    -------
    codes : pandas.Series
        Today's codes, aligned with the input; ``<NA>`` where a code cannot be mapped.
    report : pandas.DataFrame
        One row per changed or unmapped code: ``row`` (1-based position), ``code``,
        ``new_code``, ``name``, ``new_name``, ``reason``.

    Examples
    --------
    >>> new, report = remap_codes(["59350", "05120", "75112", "99999"], plm="city")
    >>> new.tolist()
    ['59350', '05001', '75056', <NA>]
    >>> report[["code", "new_code", "reason"]].values.tolist()
    [['05120', '05001', 'commune déléguée'], ['75112', '75056', 'arrondissement → commune'], ['99999', <NA>, 'code inconnu']]
    """
    if plm not in ("keep", "city"):
        raise ValueError(f"plm doit valoir 'keep' ou 'city', pas {plm!r}.")
    series = codes if isinstance(codes, pd.Series) else pd.Series(list(codes))
    series = series.astype("string")
    layer = communes if communes is not None else load_communes(crs=None)
    names = dict(zip(layer.index, layer["name"])) if "name" in layer.columns else {}
    current = set(layer.index)
    arm = load_arrondissements(crs=None)
    arm_parent = dict(zip(arm.index, arm["parent"]))
    names.update({c: n for c, n in zip(arm.index, arm["name"]) if c not in names})
    former = load_former_communes()
    former = former[former["code"] != former["parent"]]
    # A code déléguée in several parents (rare) would be ambiguous: keep all parents.
    former_parent: dict[str, set[str]] = {}
    former_kind: dict[str, str] = {}
    for code, parent, kind, name in former[["code", "parent", "kind", "name"]].itertuples(index=False):
        former_parent.setdefault(code, set()).add(parent)
        former_kind[code] = f"commune {kind}"
        names.setdefault(code, name)
    if passage is None:
        links: dict[str, set[str]] = {}
    elif isinstance(passage, dict):
        links = passage
    else:
        links = read_passage_table(passage)

    mapping: dict[str, tuple[str | None, str | None]] = {}
    for code in pd.unique(series.dropna()):
        if code in current:
            if plm == "city" and code in arm_parent and arm_parent[code] in current:
                mapping[code] = (arm_parent[code], "arrondissement → commune")
            else:
                mapping[code] = (code, None)
        elif code in arm_parent:
            if plm == "city":
                mapping[code] = (arm_parent[code], "arrondissement → commune")
            else:
                mapping[code] = (code, None)
        elif code in former_parent and len(former_parent[code] & current) == 1:
            mapping[code] = ((former_parent[code] & current).pop(), former_kind[code])
        else:
            targets = _successors(code, links, current) if links else set()
            if len(targets) == 1:
                mapping[code] = (targets.pop(), "table de passage")
            elif len(targets) > 1:
                mapping[code] = (None, "scission : plusieurs communes actuelles ("
                                 + ", ".join(sorted(targets)) + ")")
            elif not is_insee_code([code])[0]:
                mapping[code] = (None, "code INSEE mal formé")
            else:
                mapping[code] = (None, "code inconnu")

    new = series.map(lambda c: mapping[c][0] if c is not pd.NA and c in mapping else None)
    new = new.astype("string")
    rows = []
    for pos, code in enumerate(series.tolist(), start=1):
        if code is pd.NA or code is None:
            rows.append((pos, code, pd.NA, pd.NA, pd.NA, "code vide"))
            continue
        target, reason = mapping[code]
        if reason is None:
            continue
        rows.append((pos, code, target if target else pd.NA, names.get(code, pd.NA),
                     names.get(target, pd.NA) if target else pd.NA, reason))
    report = pd.DataFrame(rows, columns=_REPORT_COLUMNS)
    report["new_code"] = report["new_code"].astype("string")
    return new, report


def closest_names(
    name: str, communes: pd.DataFrame, *, n: int = 3, cutoff: float = 0.6
) -> list[tuple[str, str]]:
    """The communes whose name is closest to ``name`` (accents and case ignored).

    Used to help a user fix an unknown code: suggestions only, never applied.

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
