"""The checks of :func:`cpts_geo.domain.registry.validate_registry`, one small function each.

Each ``_parse_*`` function reads one column of the registry and returns its values with the
problems found; each ``_check_*`` function checks one rule on the parsed table and returns
the problems it found (and, for the repairs, the report rows). Nothing here raises:
:func:`cpts_geo.domain.registry.validate_registry` gathers every problem and raises once.

A problem is a dict with ``row`` (file row, or rows joined by ``", "``), ``code``, ``problem``
(the French message) and ``kind`` (the French name of its kind, see :data:`KINDS`: the CLI
counts problems per kind and the error lists them by severity).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cpts_geo.domain.codes import as_codes, is_in, normalize_codes
from cpts_geo.domain.french import fold, number
from cpts_geo.domain.text import control_problems, printable

if TYPE_CHECKING:
    from cpts_geo.domain.history import Passage
    from cpts_geo.domain.stages import StageMapping

#: Kinds of problems, most severe first: the order in which they are listed.
KINDS = (
    "chevauchement",
    "code inconnu",
    "code vide",
    "identifiant vide",
    "caractère de contrôle",
    "doublon contradictoire",
    "étape",
    "part",
    "nom de commune",
    "hors de la couche",
    "CPTS",
)


_RANK = {k: i for i, k in enumerate(KINDS)}


#: Columns of a registry's report; ``kind`` is a code (one of :data:`CORRECTION_KINDS`), ``reason`` its French text.
REPORT_COLUMNS = ["row", "code", "new_code", "name", "new_name", "reason", "kind"]
#: What a registry's report may say was done, as codes a program groups by (never by the French text).
CORRECTION_KINDS = ("zéro initial restauré", "espaces retirés", "nombre converti en texte", "majuscules (2A/2B)",
                    "arrondissement", "commune déléguée", "ancien code", "arrondissement (colonne)",
                    "IRIS", "étape remplie", "même nom", "doublon", "part seule", "identifiant nettoyé")



@dataclass(frozen=True)
class Reference:
    """What the registry is checked against."""

    layer: pd.DataFrame                 # the commune layer the territories are built on
    france: pd.DataFrame                # every commune of the embedded layer
    arm_parent: dict                    # arrondissement code → city code
    names: pd.Series                    # code → official name (communes and arrondissements)
    name_of: dict                       # the same, as a dict (faster one by one)



def by_severity(problems: list[dict]) -> list[dict]:
    """``problems`` ordered by kind (:data:`KINDS`), keeping the order found within a kind."""
    return sorted(problems, key=lambda p: _RANK.get(p.get("kind", ""), len(KINDS)))



def shown(value: object) -> str:
    """A cell as the user typed it, for a message (``nan`` for a float NaN, never its repr)."""
    if isinstance(value, (float, np.floating)):
        return number(float(value), None) if np.isfinite(value) else str(float(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return printable(value)



def _lookup(series: pd.Series, keys: np.ndarray) -> np.ndarray:
    """``series[keys]`` as Python objects, ``None`` for a missing key (hash look-up of Python
    strings: pandas' Arrow-string reindexing is slow on a million keys)."""
    index = _object_index(series.index)
    pos = index.get_indexer(pd.Index(np.asarray(keys, dtype=object), dtype=object))
    values = np.append(series.to_numpy(dtype=object), np.array([None], dtype=object))
    return values[pos]



def _object_index(index: pd.Index) -> pd.Index:
    """``index`` with Python strings (pandas' Arrow strings are slow to look up one by one)."""
    return index if index.dtype == object else pd.Index(index.to_numpy(dtype=object, na_value=None))



def _empty_mask(values: pd.Series) -> np.ndarray:
    """Which cells are empty, deciding once per distinct value."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    empty_u = np.fromiter((_is_empty(v) for v in np.asarray(uniques, dtype=object)), dtype=bool,
                          count=len(uniques))
    return (codes < 0) | (empty_u[np.where(codes < 0, 0, codes)] if len(uniques) else True)



def _is_empty(v: object) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) or \
        (isinstance(v, str) and not v.strip())



def _text(values: pd.Series) -> pd.Series:
    """Cells as stripped NFC text (``None`` when empty): an accent typed NFD is the same."""
    out: list[str | None] = []
    for v in values.tolist():
        if _is_empty(v):
            out.append(None)
        elif isinstance(v, (float, np.floating)) and float(v).is_integer():
            out.append(str(int(v)))
        else:
            out.append(unicodedata.normalize("NFC", str(v).strip()))
    return pd.Series(out, index=values.index, dtype=object)



def _clean_text(v: object) -> str | None:
    if isinstance(v, str):
        v = v.strip()
        if not v:
            return None
        return v if v.isascii() else unicodedata.normalize("NFC", v)
    if _is_empty(v):
        return None
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return unicodedata.normalize("NFC", str(v).strip())



def _text_fast(values: pd.Series) -> pd.Series:
    """:func:`_text` on the distinct values only (ids and names repeat on many rows)."""
    return _text_distinct(values)[0]



def _text_distinct(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """:func:`_text_fast`, and whether each row's text was changed by the cleaning (spaces
    around it removed, accents normalised), judged once per distinct value."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    given = uniques.tolist()
    clean = np.array([_clean_text(v) for v in given], dtype=object)
    touched = np.fromiter((isinstance(u, str) and c is not None and c != u for u, c in zip(given, clean)),
                          dtype=bool, count=len(given))
    none = np.array(None, dtype=object)
    at = np.where(codes < 0, 0, codes)
    out = np.where(codes < 0, none, clean[at] if len(clean) else none)
    changed = (codes >= 0) & (touched[at] if len(touched) else False)
    return pd.Series(out, index=values.index, dtype=object), changed


# ---------------------------------------------------------------- parsing, column by column

def check_control_characters(reg: pd.DataFrame) -> list[dict]:
    """Cells holding a control character (a registry given as a DataFrame; files are checked
    when read)."""
    return control_problems(reg, reg["row"].to_numpy(),
                            columns=[c for c in reg.columns if c != "row"])



def _visible_spaces(text: str) -> str:
    """``text`` with its leading and trailing spaces shown (``A␠``), for a message."""
    core = text.strip()
    if not core:
        return "␠" * len(text)
    start = text.index(core[0])
    end = len(text) - len(text.rstrip())
    return "␠" * start + printable(core) + "␠" * end



def parse_ids(reg: pd.DataFrame) -> tuple[pd.Series, list[dict], pd.DataFrame]:
    """CPTS identifiers as text; an empty one is a problem. An identifier whose spaces were
    removed or whose accents were normalised (NFC) is reported once per spelling, with the
    other spellings it was merged with (``A␠`` and ``A`` are one CPTS: said, never silent)."""
    ids, changed = _text_distinct(reg["cpts_id"])
    rows = reg["row"].to_numpy()
    problems = [{"row": int(r), "problem": "identifiant de CPTS vide", "kind": "identifiant vide"}
                for r in rows[ids.isna().to_numpy()]]
    notes = []
    if changed.any():
        raw = reg["cpts_id"].to_numpy(dtype=object)
        clean = ids.to_numpy(dtype=object)
        spellings = pd.DataFrame({"row": rows, "raw": raw, "id": clean})
        spellings = spellings[spellings["id"].isin(set(clean[changed]))]
        spellings["raw"] = spellings["raw"].map(lambda v: v if isinstance(v, str) else str(v))
        for cid, grp in spellings.groupby("id", sort=False):
            by_raw = {k: list(g["row"]) for k, g in grp.groupby("raw", sort=False)}
            for spelled, where in by_raw.items():
                if spelled == cid:
                    continue
                what = []
                if spelled.strip() != spelled:
                    what.append("espaces retirés")
                if unicodedata.normalize("NFC", spelled.strip()) != spelled.strip():
                    what.append("accents normalisés")
                others = [f"« {_visible_spaces(k)} » (ligne{'s' if len(r) > 1 else ''} "
                          f"{_few_rows(r)})" for k, r in by_raw.items() if k != spelled]
                notes.append({
                    "row": int(where[0]), "code": pd.NA, "new_code": pd.NA, "name": pd.NA, "new_name": pd.NA,
                    "reason": (f"identifiant « {_visible_spaces(spelled)} » lu « {printable(cid)} » "
                               f"({', '.join(what)})"
                               + (f" aux lignes {_few_rows(where)}" if len(where) > 1 else "")
                               + (f" : réuni à la même CPTS que {', '.join(others)}" if others else "")),
                    "kind": "identifiant nettoyé"})
    return ids, problems, pd.DataFrame(notes, columns=REPORT_COLUMNS)



def _few_rows(rows: list, n: int = 5) -> str:
    listed = ", ".join(str(int(r)) for r in rows[:n])
    return listed + (f"… ({len(rows)} lignes)" if len(rows) > n else "")



def parse_names(reg: pd.DataFrame) -> pd.Series:
    """CPTS names as NFC text (``None`` when empty)."""
    return _text_fast(reg["cpts_name"])



def parse_stage_column(reg: pd.DataFrame, mapping: StageMapping | None = None) -> tuple[pd.Series, pd.Series, pd.DataFrame, list[dict]]:
    """Stages of the rows (``<NA>`` where empty), the wordings as published and the listing's
    vocabulary (:func:`cpts_geo.domain.stages.stage_lookup`, with the user's ``mapping``); each
    unknown wording is one problem listing all its rows."""
    from cpts_geo.domain.stages import stage_lookup, unknown_message

    mapped, unknown = stage_lookup(reg["stage"].reset_index(drop=True), mapping)
    problems: list[dict] = []
    file_rows = reg["row"].to_numpy()
    for spelling, positions, closest in unknown.values():
        rows = file_rows[positions].tolist()
        problems.append({"row": int(rows[0]) if len(rows) == 1 else ", ".join(map(str, rows)), "code": pd.NA,
                         "kind": "étape", "wording": spelling, "closest": closest,
                         "problem": unknown_message(spelling, closest, len(rows))})
    stage = mapped.stage.set_axis(reg.index)
    published = mapped.published.set_axis(reg.index)
    return stage, published, mapped.vocabulary, problems



def parse_shares(reg: pd.DataFrame) -> tuple[pd.Series, list[dict]]:
    """Shares: ``0.5``, ``0,5``, ``50 %`` → 0.5; empty → NaN (the whole commune).

    Read by the one French number parser (:func:`cpts_geo.domain.numbers.parse_numbers`); ``nan``,
    ``inf``, a word or a formula without a computed value are problems naming the row.
    """
    from cpts_geo.domain.numbers import parse_numbers

    values = reg["share"]
    problems: list[dict] = []
    if values.isna().all():  # no share column, or an empty one: every commune whole
        return pd.Series(np.full(len(values), np.nan), index=values.index), problems
    out, bad = parse_numbers(pd.Series(values.to_numpy(dtype=object), dtype=object), percent=True)
    bad = bad | np.isinf(out)
    rows = reg["row"].to_numpy()
    cells = values.to_numpy(dtype=object)
    for pos in np.flatnonzero(bad).tolist():
        v = cells[pos]
        if isinstance(v, str) and v.strip().startswith("="):
            problems.append({"row": int(rows[pos]), "kind": "part", "problem":
                             f"part de population : formule « {v.strip()} » sans valeur calculée "
                             "(ouvrez le classeur dans Excel ou LibreOffice et enregistrez-le, "
                             "ou tapez la valeur)"})
        else:
            problems.append({"row": int(rows[pos]), "kind": "part", "problem":
                             f"part de population illisible : '{shown(v)}' "
                             "(attendu un nombre entre 0 et 1, ex. 0,5 ou 50 %)"})
    out = np.where(bad, np.nan, out)
    shares = pd.Series(out, index=values.index)
    for pos in np.flatnonzero(((shares <= 0) | (shares > 1)).to_numpy()).tolist():
        problems.append({"row": int(rows[pos]), "kind": "part", "problem":
                         f"part de population {number(shares.iat[pos], None)} hors de ]0, 1] "
                         "(une part est une fraction de la population de la commune)"})
    return shares, problems



def parse_codes(reg: pd.DataFrame, ref: Reference, passage: Passage) -> tuple[pd.Series, pd.Series, list[dict],
                                                                     pd.DataFrame]:
    """Codes cleaned, then mapped to today's communes.

    Returns the clean codes, today's codes (``<NA>`` when unknown), the problems (empty or
    unknown codes, with the closest names when a name is given) and the report of repairs.
    """
    from cpts_geo.domain.history import closest_names, remap_codes

    file_rows = reg["row"].to_numpy()
    clean, norm = normalize_codes(reg["commune_code"].reset_index(drop=True))
    clean.index = reg.index
    problems: list[dict] = []
    if not len(norm):
        current, remap = remap_codes(clean.reset_index(drop=True), communes=ref.france, passage=passage,
                                     plm="keep")
        if not len(remap):  # the usual case: every code clean and current
            current.index = reg.index
            return clean, current, problems, pd.DataFrame(columns=REPORT_COLUMNS)
    empty = norm["reason"] == "code vide"
    problems += [{"row": int(file_rows[r - 1]), "problem": "code commune vide", "kind": "code vide"}
                 for r in norm.loc[empty, "row"]]
    fixed = norm[~empty]
    reports = [pd.DataFrame({"row": file_rows[fixed["row"].to_numpy(dtype=int) - 1],
                             "code": fixed["code"].map(shown).to_numpy(dtype=object),
                             "new_code": fixed["new_code"].to_numpy(dtype=object),
                             "name": pd.NA, "new_name": pd.NA,
                             "reason": fixed["reason"].to_numpy(dtype=object),
                             "kind": fixed["reason"].to_numpy(dtype=object)})]  # the repair's own fixed words
    current, remap = remap_codes(clean.reset_index(drop=True), communes=ref.france, passage=passage,
                                 plm="keep")
    current.index = reg.index
    remap = remap[remap["reason"] != "code vide"]
    unknown = remap[remap["new_code"].isna()]
    given_names = reg["commune_name"]
    for rec in unknown.itertuples(index=False):
        pos = rec.row - 1
        msg = rec.reason if rec.reason.startswith("code") else f"code commune : {rec.reason}"
        gname = given_names.iat[pos]
        if not _is_empty(gname):
            near = closest_names(str(gname), ref.france, n=3)
            msg += f" (nom donné : {gname}" + (
                " ; communes proches : " + ", ".join(f"{c} {n}" for c, n in near) if near else "") + ")"
        problems.append({"row": int(file_rows[pos]), "code": rec.code, "problem": msg,
                         "kind": "code inconnu"})
    mapped = remap[remap["new_code"].notna()]
    reports.append(pd.DataFrame({"row": file_rows[mapped["row"].to_numpy(dtype=int) - 1],
                                 **{k: mapped[k].to_numpy(dtype=object) for k in REPORT_COLUMNS[1:]}}))
    return clean, current, problems, pd.concat([r for r in reports if len(r)] or [reports[0]],
                                               ignore_index=True)


# ---------------------------------------------------------------- rules on the parsed table

# Leading article of a commune name (INSEE writes "Le Havre"; some files write "Havre" or
# "Havre (Le)"): left out when names are compared.
_ARTICLE = re.compile(r"^(le|la|les|l|aux|las|los) ")


_ARTICLE_AFTER = re.compile(r" (le|la|les|l|aux|las|los)$")


_ARRONDISSEMENT = re.compile(r"\b(\d{1,2}) ?(?:e|er|eme|ieme|e me)? ?(?:arrondissement|arr|ardt)?$")



@lru_cache(maxsize=200_000)
def _folded_name(text: str) -> str:
    g = fold(unicodedata.normalize("NFC", text))
    g = re.sub(r"\bste\b", "sainte", re.sub(r"\bst\b", "saint", g))
    g = _ARTICLE_AFTER.sub("", _ARTICLE.sub("", g))
    # "Marseille 14e Arrondissement", "Marseille 14ème", "Marseille 14" are one name
    return _ARRONDISSEMENT.sub(lambda m: f"{int(m.group(1))}", g).strip()



@lru_cache(maxsize=1)
def _former_names() -> pd.DataFrame:
    from cpts_geo.domain.communes import load_former_communes

    return load_former_communes()[["code", "name"]]



def check_names(table: pd.DataFrame, ref: Reference) -> list[dict]:
    """Given commune names that match neither the code's name, its former name nor its city's.

    A suggestion is given only when it is close: a commune of exactly that name (homonyms),
    or a name that differs by a typo or two.
    """
    given = table["given_name"]
    sel = (given.notna() & table["code"].notna()).to_numpy()
    if not sel.any():
        return []
    sub = table.loc[sel, ["row", "given_code", "code", "given_name"]]
    # fast path: the name typed exactly as INSEE writes it
    official = _lookup(ref.names, sub["code"].to_numpy(dtype=object))
    sub = sub[sub["given_name"].to_numpy(dtype=object) != official]
    if not len(sub):
        return []
    pairs = sub[["code", "given_code", "given_name"]].drop_duplicates()
    former = _former_names()
    former_of = former.groupby("code")["name"].agg(list).to_dict()
    bad = set()
    for code, original, gname in pairs.itertuples(index=False):
        candidates = [ref.name_of.get(code), ref.name_of.get(original), *former_of.get(original, [])]
        if code in ref.arm_parent:
            candidates.append(ref.name_of.get(ref.arm_parent[code]))
        g = _folded_name(gname)
        if g and not any(isinstance(k, str) and _folded_name(k) == g for k in candidates):
            bad.add((code, original, gname))
    problems = []
    for rec in sub.itertuples(index=False):
        if (rec.code, rec.given_code, rec.given_name) not in bad:
            continue
        hint = _name_hint(rec.given_name, ref)
        problems.append({"row": int(rec.row), "code": rec.given_code, "kind": "nom de commune",
                         "problem": f"le nom « {rec.given_name} » ne correspond pas au code "
                                    f"{rec.given_code} ({ref.name_of.get(rec.code, '?')}){hint}"})
    return problems



def _name_hint(name: str, ref: Reference) -> str:
    """Communes whose name is this one, or very close to it; empty when none is close."""
    from cpts_geo.domain.history import closest_names

    everyone = pd.DataFrame({"name": ref.names})
    near = closest_names(name, everyone, n=3, cutoff=0.85)
    return (" ; communes de ce nom : " + ", ".join(f"{c} {n}" for c, n in near)) if near else ""



def check_in_layer(table: pd.DataFrame, ref: Reference) -> list[dict]:
    """Known communes that are not in the commune layer the territories are built on."""

    # (pyarrow look-ups: the layer's 35 000 codes are not converted nor hashed by pandas)
    codes = pd.Index(table["code"].to_numpy(dtype=object), dtype=object)
    city = np.full(len(codes), None, dtype=object)
    arm = np.flatnonzero(codes.isin(list(ref.arm_parent)))
    city[arm] = [ref.arm_parent[c] for c in codes[arm]]
    arms = list(ref.arm_parent)
    arms_in_layer = pd.Index([ref.arm_parent[a] for a, there in zip(arms, is_in(arms, ref.layer.index)) if there],
                             dtype=object).unique()
    inside = (pd.isna(codes.to_numpy()) | is_in(codes, ref.layer.index) | codes.isin(arms_in_layer)
              | is_in(city, ref.layer.index))
    out = []
    dep = ref.france["department"]
    for rec in table[~inside].itertuples(index=False):
        d = dep.get(rec.code, "?")
        out.append({"row": int(rec.row), "code": rec.given_code, "kind": "hors de la couche",
                    "problem": f"commune {ref.name_of.get(rec.code, '')} (département {d}) absente de "
                               f"la couche communale fournie : ajoutez le département {d} aux "
                               "communes chargées"})
    return out



def cpts_table(table: pd.DataFrame, stage_default: str | None) -> tuple[pd.DataFrame, list[dict], pd.DataFrame]:
    """One row per CPTS (name, stage, stage as published, first row) and the problems of the
    CPTS themselves.

    A CPTS has one name and one stage (one wording as published); empty stage cells do not
    count as another stage. A CPTS without any stage gets ``stage_default`` when given (each
    filled row reported), else :data:`cpts_geo.domain.stages.NOT_GIVEN`; its published stage
    stays empty. A name used by two identifiers is reported (it is often one CPTS typed with
    two ids), not refused.
    """
    from cpts_geo.domain.stages import NOT_GIVEN, STAGE_DTYPE

    named = table[table["cpts_id"].notna()]
    by_cpts = named.groupby("cpts_id", sort=False)
    cpts = pd.DataFrame({
        "name": by_cpts["cpts_name"].first(),
        "stage": by_cpts["stage"].first(),
        "published_stage": by_cpts["published_stage"].first(),
        "first_row": by_cpts["row"].first(),
    })
    cpts["name"] = cpts["name"].fillna(pd.Series(cpts.index, index=cpts.index))
    problems: list[dict] = []
    n_names = by_cpts["cpts_name"].nunique()
    n_stages = np.maximum(by_cpts["stage"].nunique().to_numpy(), by_cpts["published_stage"].nunique().to_numpy())
    empty = by_cpts["code"].count().eq(0) & by_cpts["given_code"].count().eq(0)
    bad = cpts.index[(n_names > 1).to_numpy() | (n_stages > 1) | empty.to_numpy()]
    for cid, grp in named[named["cpts_id"].isin(bad)].groupby("cpts_id", sort=False):
        rows = ", ".join(map(str, grp["row"]))
        nm = grp["cpts_name"].dropna().unique()
        st = grp["published_stage"].dropna().astype(str).unique()
        if len(nm) > 1:
            problems.append({"row": rows, "code": pd.NA, "kind": "CPTS", "problem":
                             f"CPTS {cid} : plusieurs noms ({' / '.join(nm)}) ; un seul par identifiant"})
        if len(st) > 1:
            problems.append({"row": rows, "code": pd.NA, "kind": "CPTS", "problem":
                             f"CPTS {cid} : plusieurs étapes ({' / '.join(map(str, st))}) ; une seule "
                             "par CPTS"})
        if empty[cid]:
            problems.append({"row": rows, "code": pd.NA, "kind": "CPTS",
                             "problem": f"CPTS {cid} sans aucune commune"})
    cpts.index.name = "cpts_id"
    stage = cpts["stage"].astype(STAGE_DTYPE)
    missing = stage.isna()
    report = pd.DataFrame(columns=REPORT_COLUMNS)
    if missing.any() and stage_default is not None:
        filled = named[named["cpts_id"].isin(cpts.index[missing.to_numpy()])]
        report = pd.DataFrame({"row": filled["row"].to_numpy(), "code": filled["given_code"].to_numpy(),
                               "new_code": filled["code"].to_numpy(), "name": pd.NA, "new_name": pd.NA,
                               "reason": f"étape non renseignée remplie : {stage_default}",
                               "kind": "étape remplie"})
        stage = stage.fillna(stage_default)
    cpts["stage"] = stage.fillna(NOT_GIVEN)
    cpts["published_stage"] = cpts["published_stage"].astype(table["published_stage"].dtype)
    # The same name under two identifiers: reported, not refused.
    folded = pd.Series([fold(n) for n in cpts["name"]], index=cpts.index)
    twice = folded[folded.duplicated(keep=False) & (folded != "")]
    notes = []
    for _, ids in twice.groupby(twice, sort=False):
        first, *others = list(ids.index)
        for cid in others:
            notes.append({"row": int(cpts.at[cid, "first_row"]), "code": pd.NA, "new_code": pd.NA,
                          "name": cpts.at[cid, "name"], "new_name": pd.NA,
                          "reason": f"même nom de CPTS que {first} (ligne {cpts.at[first, 'first_row']}) "
                                    f"sous l'identifiant {cid} : s'agit-il de la même CPTS ?",
                          "kind": "même nom"})
    if notes:
        report = pd.concat([report, pd.DataFrame(notes)], ignore_index=True) if len(report) \
            else pd.DataFrame(notes)
    return cpts, problems, report



def check_duplicates(valid: pd.DataFrame, names: pd.Series) -> tuple[pd.DataFrame, list[dict], pd.DataFrame]:
    """The same commune twice in one CPTS: kept once when the rows agree (reported), a problem
    when they declare different shares."""
    key = ["cpts_id", "code"]
    repeated = valid.duplicated(key, keep=False).to_numpy()
    if not repeated.any():
        return valid, [], pd.DataFrame(columns=REPORT_COLUMNS)
    rep = valid[repeated]
    share_text = rep["share"].map(lambda s: "entière" if pd.isna(s) else number(s, None))
    n_shares = share_text.groupby([rep["cpts_id"], rep["code"]], sort=False).transform("nunique")
    conflict = rep[(n_shares > 1).to_numpy()]
    problems = []
    for (cid, code), grp in conflict.groupby(key, sort=False):
        values = " ; ".join(dict.fromkeys(share_text.loc[grp.index]))
        problems.append({"row": ", ".join(map(str, grp["row"])), "code": code, "kind": "doublon contradictoire",
                         "problem": f"commune {names.get(code, '')} listée {len(grp)} fois dans la CPTS "
                                    f"{cid} avec des parts différentes ({values}) : gardez une seule ligne"})
    dup = valid.duplicated(["cpts_id", "code", "given_code"], keep="first").to_numpy() \
        & ~valid.index.isin(conflict.index)
    gone = valid[dup]
    report = pd.DataFrame({"row": gone["row"].to_numpy(), "code": gone["given_code"].to_numpy(),
                           "new_code": gone["code"].to_numpy(),
                           "name": names.reindex(gone["code"].to_numpy()).to_numpy(dtype=object),
                           "new_name": pd.NA,
                           "reason": ("doublon dans la CPTS " + gone["cpts_id"].astype(str)
                                      + " : ligne ignorée").to_numpy(dtype=object), "kind": "doublon"})
    return valid[~dup], problems, report



def expand_cities(valid: pd.DataFrame, arm_parent: dict) -> pd.DataFrame:
    """A city given whole while another row gives it by arrondissement: the whole city
    stands for each of its arrondissements (so that a double claim is an overlap)."""
    city_of = valid["code"].map(arm_parent)
    split = set(city_of.dropna())
    if not split:
        return valid
    arms = pd.DataFrame(sorted((p, a) for a, p in arm_parent.items() if p in split),
                        columns=["code", "arm"])
    whole = valid[valid["code"].isin(split)]
    extra = whole.reset_index(drop=True).merge(arms, on="code", how="left", sort=False)
    extra = extra.assign(code=extra["arm"]).drop(columns="arm")
    return pd.concat([valid[~valid["code"].isin(split)], extra], ignore_index=True)



def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each run of equal values in sorted ``keys``."""
    if not len(keys):
        return np.array([], dtype=int), np.array([], dtype=int)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return starts, np.r_[starts[1:], len(keys)]



def _divided(code: str) -> bool:
    """Whether INSEE divides a commune (or arrondissement) into several IRIS: a city that CPTS can share."""
    from cpts_geo.data.iris import iris_counts

    return int(iris_counts().get(code, 1)) > 1


def check_overlaps(valid: pd.DataFrame, cpts: pd.DataFrame, ref: Reference) -> list[dict]:
    """Every commune claimed by two CPTS or more, with every claimant, unless all of them
    declare a share and the shares sum to at most 1. Vectorised: rows sorted once, each
    commune and each (commune, CPTS) pair a run of rows."""
    n_claims = valid.groupby("code", sort=False)["cpts_id"].transform("nunique")
    multi = valid[(n_claims > 1).to_numpy()]
    if not len(multi):
        return []
    code_id, code_u = pd.factorize(multi["code"].to_numpy(dtype=object), sort=True)
    cid_id, cid_u = pd.factorize(multi["cpts_id"].to_numpy(dtype=object), sort=True)
    row = multi["row"].to_numpy()
    order = np.lexsort((row, cid_id, code_id))
    code_id, cid_id, row = code_id[order].astype(np.int64), cid_id[order].astype(np.int64), row[order]
    code = np.asarray(code_u, dtype=object)[code_id]
    cid = np.asarray(cid_u, dtype=object)[cid_id]
    given = multi["given_code"].to_numpy(dtype=object)[order]
    share = multi["share"].to_numpy(dtype=float)[order]
    # one claim per (commune, CPTS)
    p_start, p_end = _runs(code_id * (int(cid_id.max()) + 1) + cid_id)
    names = _lookup(cpts["name"], np.asarray(cid_u, dtype=object))[cid_id[p_start]]
    claim_code = code[p_start]
    claim_id = cid[p_start]
    has_share = ~np.logical_or.reduceat(np.isnan(share), p_start)
    with np.errstate(invalid="ignore"):
        max_share = np.fmax.reduceat(share, p_start)
    other_code = np.logical_or.reduceat(given != code, p_start)
    several = (p_end - p_start) > 1
    rows_text = row.astype(str)
    rows_of = rows_text[p_start].tolist()
    given_of: list[str | None] = [None] * len(p_start)
    for k in np.flatnonzero(several | other_code).tolist():
        s0, s1 = p_start[k], p_end[k]
        rows_of[k] = ", ".join(rows_text[s0:s1].tolist())
        given_of[k] = ", ".join(sorted(set(given[s0:s1])))
    share_text = [number(x, None) if h else "" for x, h in zip(max_share.tolist(), has_share.tolist())]
    texts = [
        f"{who if nm == who or nm is None else f'{who} {nm}'} (ligne {r}"
        + (f", code donné {g}" if o else "") + (f", part {st}" if h else "") + ")"
        for who, nm, r, g, o, h, st in zip(claim_id.tolist(), names.tolist(), rows_of, given_of,
                                           other_code.tolist(), has_share.tolist(), share_text)
    ]
    # one problem per commune
    c_start, c_end = _runs(code_id[p_start])
    order_rows = np.lexsort((row, code_id))
    r_row = row[order_rows]
    r_start, r_end = _runs(code_id[order_rows])
    problems = []
    for (s0, s1), (q0, q1) in zip(zip(c_start.tolist(), c_end.tolist()), zip(r_start.tolist(), r_end.tolist())):
        c = claim_code[s0]
        shared = bool(has_share[s0:s1].all())
        total = float(max_share[s0:s1].sum()) if shared else np.nan
        if shared and total <= 1 + 1e-9:
            continue
        claimants = ", ".join(texts[s0:s1])
        label = ref.name_of.get(c, "")
        what = f"arrondissement {label}" if c in ref.arm_parent else f"commune {label}"
        if shared:
            problem = (f"{what} partagée entre CPTS avec des parts dont la somme {number(total, None)} "
                       f"dépasse 1 : {claimants}")
        else:
            problem = f"{what} revendiquée par plusieurs CPTS : {claimants}"
            if _divided(c):
                problem += (" ; si elle est partagée entre ces CPTS, déclarez la part de chacune (colonne "
                            "« part », ex. 0,5) ou ses IRIS (colonne « code_iris »)")
        problems.append({"row": ", ".join(map(str, dict.fromkeys(r_row[q0:q1].tolist()))), "code": c,
                         "problem": problem, "claimants": ", ".join(map(str, claim_id[s0:s1])),
                         "kind": "chevauchement"})
    return _merge_city_overlaps(problems, ref)



def _merge_city_overlaps(problems: list[dict], ref: Reference) -> list[dict]:
    """Fold overlap problems on arrondissements of one city into one problem per city."""
    out: list[dict] = []
    by_city: dict[tuple, list[dict]] = {}
    for p in problems:
        code = p.get("code")
        if code in ref.arm_parent and "plusieurs CPTS" in p["problem"]:
            by_city.setdefault((ref.arm_parent[code], p.get("claimants")), []).append(p)
        else:
            out.append(p)
    for (city, _), items in by_city.items():
        arrs = sorted(p["code"] for p in items)
        first = items[0]["problem"].split(" : ", 1)[1]
        rows = sorted({r.strip() for p in items for r in str(p["row"]).split(",")}, key=int)
        out.append({"row": ", ".join(rows), "code": city, "kind": "chevauchement", "problem":
                    f"{ref.name_of.get(city, city)} donnée entière par une CPTS et par arrondissement par une "
                    f"autre : {len(arrs)} arrondissement(s) revendiqué(s) deux fois "
                    f"({', '.join(arrs)}) : {first}"})
    return out



def lone_shares(member: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    """Report rows for a share below 1 declared by the only CPTS of a commune."""
    if not member["share"].notna().any():
        return pd.DataFrame(columns=REPORT_COLUMNS)
    lone = member["share"].notna() & (member.groupby("code")["cpts_id"].transform("nunique") == 1)
    part = member[(lone & (member["share"] < 1)).to_numpy()]
    return pd.DataFrame({
        "row": part["row"].to_numpy(), "code": part["given_code"].to_numpy(),
        "new_code": part["code"].to_numpy(),
        "name": names.reindex(part["code"].to_numpy()).to_numpy(dtype=object), "new_name": pd.NA,
        "reason": [f"part {number(s, None)} déclarée ; le reste de la commune n'est dans aucune CPTS"
                   for s in part["share"]],
        "kind": "part seule",
    })



def membership(valid: pd.DataFrame) -> pd.DataFrame:
    """One row per (commune, CPTS): several rows may land on one pair (former communes of one
    commune nouvelle): their rows and codes are joined. The usual case stays vectorised."""
    valid = valid.assign(share=valid["share"].fillna(1.0))
    # sorted by code, CPTS, row: on integer keys (the sorted factorisation keeps the text order)
    code_key = pd.factorize(valid["code"], sort=True)[0].astype(np.int64)
    id_key = pd.factorize(valid["cpts_id"], sort=True)[0].astype(np.int64)
    order = np.lexsort((valid["row"].to_numpy(), id_key, code_key))
    valid = valid.iloc[order]
    pair = code_key[order] * (int(id_key.max(initial=0)) + 1) + id_key[order]
    same_as_next = np.r_[pair[1:] == pair[:-1], False]
    several = same_as_next | np.r_[False, same_as_next[:-1]]
    single = valid[~several]
    member = pd.DataFrame({"code": pd.Series(single["code"].to_numpy(), dtype=object),
                           "cpts_id": single["cpts_id"].to_numpy(),
                           "share": single["share"].to_numpy(),
                           "rows": single["row"].astype(str).to_numpy(),
                           "given_codes": single["given_code"].to_numpy()})
    if several.any():
        joined = (valid[several].groupby(["code", "cpts_id"], sort=False)
                  .agg(share=("share", "max"),
                       rows=("row", lambda r: ", ".join(map(str, sorted(set(r))))),
                       given_codes=("given_code", lambda c: ", ".join(sorted(set(c)))))
                  .reset_index())
        member = pd.concat([member, joined], ignore_index=True)
        member = member.sort_values(["code", "cpts_id"], kind="stable")  # (the rest is sorted)
    member = member.reset_index(drop=True)
    member["code"] = as_codes(member["code"])
    return member[["code", "cpts_id", "share", "rows", "given_codes"]]
