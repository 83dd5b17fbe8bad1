"""CPTS registries: read the spreadsheet users keep, check it against the rules.

A **registry** has one row per (CPTS, commune). Its standard columns are

=================  ===========================================================================
``cpts_id``        identifier of the CPTS (text), required
``cpts_name``      name of the CPTS (defaults to the identifier)
``stage``          project stage, one of :data:`cpts_geo.stages.STAGES` (variants accepted)
``commune_code``   INSEE code of the commune (or of a municipal arrondissement), required
``commune_name``   name of the commune, optional, used only to cross-check the code
``share``          share of the commune's population in this CPTS, only for a commune
                   declared split between several CPTS (empty means the whole commune)
=================  ===========================================================================

French headers as typed in real files are recognised (``Identifiant CPTS``, ``Nom de la
CPTS``, ``Étape``, ``Code INSEE``, ``Nom commune``, ``Part``…; see :func:`recognise_column`),
or pass ``columns={"your header": "cpts_id", ...}``.

**Row numbers** in every report are those of the user's file as a spreadsheet shows them:
the header is row 1 in a CSV, so the first data row is row 2; in an XLSX file the sheet's own
row numbers are used (a title above the header shifts them accordingly).

:func:`validate_registry` applies the rules (one commune, one CPTS; former codes remapped with
a report; unknown codes, stage typos, bad shares rejected) and returns the *membership*
table other modules use: ``code``, ``cpts_id``, ``share``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from cpts_geo._french import fold, number, percent
from cpts_geo.cog import closest_names, normalize_codes, remap_codes
from cpts_geo.communes import load_arrondissements, load_communes, load_former_communes
from cpts_geo.errors import ValidationError
from cpts_geo.io import parse_numbers, read_table, recognise_header

__all__ = [
    "REGISTRY_COLUMNS",
    "CheckedRegistry",
    "read_registry",
    "recognise_column",
    "validate_registry",
    "read_perimeters",
    "registry_from_perimeters",
]

REGISTRY_COLUMNS = ["cpts_id", "cpts_name", "stage", "commune_code", "commune_name", "share"]

def recognise_column(header) -> str | None:
    """The standard registry column a header stands for, or ``None``.

    The synonyms are those of :data:`cpts_geo.io.SYNONYMS` ``["registry"]``.

    Examples
    --------
    >>> [recognise_column(h) for h in ["Identifiant CPTS", "Étape", "Code INSEE", "Nom commune", "Remarque"]]
    ['cpts_id', 'stage', 'commune_code', 'commune_name', None]
    """
    return recognise_header(header, "registry")


def read_registry(
    source: str | Path | pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    sheet: str | int | None = None,
    layer: str | None = None,
    sep: str | None = None,
    encoding: str | None = None,
) -> pd.DataFrame:
    """Read a registry from CSV, XLSX, GeoPackage (or any OGR table) or a DataFrame.

    Parameters
    ----------
    source : path or DataFrame
        Read by :func:`cpts_geo.io.read_table`: ``.csv``/``.txt`` (``;``, ``,``, tab or ``|``;
        UTF-8, UTF-16 or Windows-1252 as Excel writes them, detected), ``.xlsx``,
        ``.gpkg``/``.shp``/``.geojson``/``.parquet`` (attributes used; a layer of CPTS
        *polygons* goes through :func:`registry_from_perimeters` instead); or a
        ``postgresql://`` URL of a database written by :func:`cpts_geo.outputs.write_postgis`
        (``layer`` names the schema, default ``cpts``).
    columns : mapping, optional
        ``{header in the file: standard column}`` for headers not recognised automatically.
    sheet, layer : optional
        Sheet of a workbook (default: the one whose header is recognised; several such sheets
        are refused with their list), layer of a GeoPackage (required when it has several).
    sep, encoding : str, optional
        Force the CSV separator or encoding instead of detecting them.

    Returns
    -------
    pandas.DataFrame
        Columns ``row`` (row number in the file) and :data:`REGISTRY_COLUMNS`, values as given
        (checked by :func:`validate_registry`), as text for CSV and XLSX files. ``attrs`` tells
        the recognised columns (``recognised``), the ignored ones (``ignored``) and how the file
        was read (``read``: a French sentence; ``encoding``, ``separator``, ``sheet``,
        ``header_row``, ``layer``; ``formulas``: ``(row, column)`` of XLSX formulas without a
        computed value, whose cell holds the formula text; ``recoded_lines``).

    Raises
    ------
    ValidationError
        When the identifier or commune code column cannot be found, or the file cannot be
        read without guessing (see :func:`cpts_geo.io.read_table`).

    Examples
    --------
    >>> raw = pd.DataFrame({"Identifiant CPTS": ["A", "A"], "Étape": ["ACI signé"] * 2,
    ...                     "Code INSEE": ["59350", "59009"]})
    >>> reg = read_registry(raw)
    >>> reg[["row", "cpts_id", "commune_code"]].values.tolist()
    [[2, 'A', '59350'], [3, 'A', '59009']]
    """
    postgis = isinstance(source, str) and source.startswith(("postgresql://", "postgres://",
                                                              "postgresql+psycopg://"))
    if postgis:
        from cpts_geo.outputs import read_postgis_registry

        source, layer = read_postgis_registry(source, schema=layer or "cpts"), None
    if isinstance(source, pd.DataFrame):
        frame = pd.DataFrame(source.drop(columns=getattr(source, "_geometry_column_name", []),
                                         errors="ignore"))
        if "row" in frame.columns and set(REGISTRY_COLUMNS) <= set(frame.columns):
            out = frame[["row", *REGISTRY_COLUMNS]].copy()
            out.attrs.update(frame.attrs)
            return out
    read = read_table(source, kind="registry", columns=columns, sheet=sheet, layer=layer, sep=sep,
                      encoding=encoding)
    frame, mapping = read.table, read.fields
    missing = [f for f in ("cpts_id", "commune_code") if f not in mapping.values()]
    if missing:
        labels = {"cpts_id": "identifiant de la CPTS", "commune_code": "code INSEE de la commune"}
        raise ValidationError(
            "Colonnes obligatoires introuvables dans le registre : "
            + ", ".join(labels[m] for m in missing)
            + f". Colonnes présentes : {', '.join(map(str, frame.columns))}. Renommez-les "
            "(ex. cpts_id, commune_code) ou passez columns={'en-tête': 'cpts_id', ...}.",
            [{"problem": f"colonne « {labels[m]} » absente"} for m in missing],
        )
    out = pd.DataFrame({"row": read.rows})
    inverse = {v: k for k, v in mapping.items()}
    for name in REGISTRY_COLUMNS:
        out[name] = frame[inverse[name]].array if name in inverse else None
    out = out.astype({"row": "int64"})
    info = {"source": "PostGIS" if postgis else read.source, "read": read.describe(),
            "recognised": {str(k): v for k, v in mapping.items()},
            "ignored": [str(c) for c in frame.columns if c not in mapping]}
    for key in ("encoding", "separator", "sheet", "header_row", "layer"):
        if getattr(read, key) is not None:
            info[key] = getattr(read, key)
    if read.formulas:
        info["formulas"] = sorted((row, mapping.get(col, col)) for row, col in read.formulas)
    if read.recoded_lines:
        info["recoded_lines"] = list(read.recoded_lines)
    out.attrs.update(info)
    return out


class CheckedRegistry(NamedTuple):
    """A registry that passed :func:`validate_registry`."""

    #: One row per (commune, CPTS): ``code`` (today's code), ``cpts_id``, ``share`` (1.0 unless
    #: declared split), ``rows`` (file rows, text) and ``given_codes`` (codes as given).
    membership: pd.DataFrame
    #: One row per CPTS, indexed by ``cpts_id``: ``name``, ``stage``, ``first_row``.
    cpts: pd.DataFrame
    #: What was changed, one row per file row: ``row``, ``code``, ``new_code``, ``name``,
    #: ``new_name``, ``reason`` (code repairs, former codes remapped, duplicates removed).
    report: pd.DataFrame


def _share_values(values: pd.Series) -> tuple[pd.Series, list[int]]:
    """Parse shares: ``0.5``, ``0,5``, ``50 %`` → 0.5; empty → NA. Returns bad positions.

    The text ``nan`` and a formula without computed value (``=1/2``) are bad, not empty."""
    out, bad = parse_numbers(values, percent=True)
    return pd.Series(out, index=values.index, dtype="float64"), np.flatnonzero(bad).tolist()


# Leading article of a commune name (INSEE writes "Le Havre"; some files write "Havre" or
# "Havre (Le)"): left out when names are compared.
_ARTICLE = re.compile(r"^(le|la|les|l|aux|las|los) ")
_ARTICLE_AFTER = re.compile(r" (le|la|les|l|aux|las|los)$")


@lru_cache(maxsize=200_000)
def _folded_name(text: str) -> str:
    return _ARTICLE.sub("", fold(text))


def _names_match(given: str, *known) -> bool:
    g = fold(given)
    g = re.sub(r"\bste\b", "sainte", re.sub(r"\bst\b", "saint", g))
    g = _ARTICLE_AFTER.sub("", _ARTICLE.sub("", g))
    for k in known:
        if k is None or k is pd.NA:
            continue
        if g == _folded_name(k):
            return True
    return False


def validate_registry(
    registry,
    communes: pd.DataFrame | None = None,
    *,
    passage=None,
    check_names: bool = True,
    columns: Mapping[str, str] | None = None,
) -> CheckedRegistry:
    """Check a registry against the rules and return its membership table.

    Every problem of the registry is gathered and reported in one :class:`ValidationError`:
    missing identifiers, stage typos (with the allowed values), shares that are not numbers
    or outside [0, 1], codes that are not INSEE codes or unknown (with the closest commune
    names when a name column is present), names that do not match their code, communes
    outside ``communes``, CPTS without any commune, and **overlaps**: every commune claimed
    by two or more CPTS, with all claimants, unless all of them declare a share and the
    shares sum to at most 1.

    What is repaired, each with a report row and a warning: codes that lost their leading
    zero or carry spaces; codes of former communes (communes déléguées or associées, or found
    in ``passage``), mapped to today's commune; the same commune listed twice in one CPTS
    (kept once). Paris, Lyon and Marseille may be given whole or by municipal arrondissement;
    a city given whole by one CPTS and by arrondissement by another is an overlap.

    Parameters
    ----------
    registry : DataFrame or path
        As read by :func:`read_registry` (a raw DataFrame or a path is read first).
    communes : GeoDataFrame, optional
        The commune layer the territories are built on (default: all of France).
    passage : DataFrame, path or dict, optional
        An INSEE passage table for former codes the embedded table does not know
        (see :func:`cpts_geo.cog.read_passage_table`).
    check_names : bool, default True
        Cross-check ``commune_name`` against the code's name (accents, case, ``St``/``Saint``
        ignored).

    Returns
    -------
    CheckedRegistry
        ``membership`` (``code``, ``cpts_id``, ``share``…), ``cpts`` (name and stage per
        CPTS) and ``report`` (what was changed).

    Examples
    --------
    >>> reg = pd.DataFrame({"cpts_id": ["A", "A", "B"], "stage": ["ACI signé"] * 3,
    ...                     "commune_code": ["59350", "59009", "59009"]})
    >>> validate_registry(reg)
    Traceback (most recent call last):
    ...
    cpts_geo.errors.ValidationError: Le registre ne respecte pas les règles : corrigez les lignes listées. (1 problème(s))
      - lignes 3, 4, code 59009 : commune Villeneuve-d'Ascq revendiquée par plusieurs CPTS : A (ligne 3), B (ligne 4)
    """
    from cpts_geo.stages import STAGE_DTYPE, STAGES, parse_stages

    reg = read_registry(registry, columns=columns)
    if len(reg) == 0:
        raise ValidationError(
            "Le registre est vide : aucune ligne (CPTS, commune) à lire. Vérifiez le fichier "
            "ou la feuille choisie.", [{"problem": "registre vide"}])
    layer = communes if communes is not None else load_communes(crs=None)
    france = load_communes(crs=None)
    arm = load_arrondissements(crs=None)
    problems: list[dict] = []
    report_rows: list[dict] = []

    # Identifiers, names
    ids = reg["cpts_id"].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                             else str(v).strip() or None)
    if isinstance(reg["cpts_id"].iloc[0], (float, np.floating)):
        ids = reg["cpts_id"].map(lambda v: None if pd.isna(v) else
                                 str(int(v)) if float(v).is_integer() else str(v))
    for row in reg.loc[ids.isna(), "row"]:
        problems.append({"row": row, "problem": "identifiant de CPTS vide"})
    names = reg["cpts_name"].map(lambda v: None if v is None or pd.isna(v) else str(v).strip() or None)

    # Stages
    stage_raw = reg["stage"]
    stages = pd.Series(pd.NA, index=reg.index, dtype=STAGE_DTYPE)
    if stage_raw.notna().any():
        given = stage_raw.notna()
        try:
            stages[given] = parse_stages(stage_raw[given].reset_index(drop=True)).to_numpy()
        except ValidationError as err:
            file_rows = reg.loc[given, "row"].to_numpy()
            for rec in err.problems.to_dict("records"):
                pos = rec.get("row")
                rec["row"] = int(file_rows[int(pos) - 1]) if pos is not None and not pd.isna(pos) else pos
                problems.append(rec)
    missing_stage = reg.loc[stage_raw.isna(), "row"].tolist()
    for row in missing_stage:
        problems.append({"row": row, "problem": "étape du projet vide ; valeurs possibles : "
                         + " ; ".join(STAGES)})

    # Shares
    shares, bad = _share_values(reg["share"])
    for pos in bad:
        problems.append({"row": reg["row"].iat[pos], "problem":
                         f"part de population illisible : {reg['share'].iat[pos]!r} "
                         "(attendu un nombre entre 0 et 1, ex. 0,5 ou 50 %)"})
    out_of_range = shares.notna() & ((shares <= 0) | (shares > 1))
    for pos in np.flatnonzero(out_of_range.to_numpy()):
        problems.append({"row": reg["row"].iat[pos], "problem":
                         f"part de population {number(shares.iat[pos], None)} hors de ]0, 1] "
                         "(une part est une fraction de la population de la commune)"})

    # Codes: clean, then map to today's communes
    clean, norm_report = normalize_codes(reg["commune_code"].reset_index(drop=True))
    for rec in norm_report.to_dict("records"):
        file_row = int(reg["row"].iat[rec["row"] - 1])
        if rec["reason"] == "code vide":
            problems.append({"row": file_row, "problem": "code commune vide"})
        else:
            report_rows.append({"row": file_row, "code": rec["code"], "new_code": rec["new_code"],
                                "name": pd.NA, "new_name": pd.NA, "reason": rec["reason"]})
    repaired = norm_report[norm_report["reason"] == "zéro initial restauré"]
    if len(repaired):
        warnings.warn(
            f"{len(repaired)} code(s) commune sans zéro initial réparé(s) (ex. "
            f"{repaired['code'].iat[0]} → {repaired['new_code'].iat[0]}) : voir le rapport.",
            stacklevel=2)
    current, remap_report = remap_codes(clean, communes=france, passage=passage, plm="keep")
    given_names = reg["commune_name"]
    for rec in remap_report.to_dict("records"):
        pos = rec["row"] - 1
        file_row = int(reg["row"].iat[pos])
        if rec["reason"] == "code vide":
            continue
        if pd.isna(rec["new_code"]):
            msg = rec["reason"] if rec["reason"].startswith("code") else f"code commune : {rec['reason']}"
            gname = given_names.iat[pos]
            if gname is not None and not pd.isna(gname):
                near = closest_names(str(gname), france, n=3)
                msg += f" (nom donné : {gname}" + (
                    " ; communes proches : " + ", ".join(f"{c} {n}" for c, n in near) if near else "") + ")"
            problems.append({"row": file_row, "code": rec["code"], "problem": msg})
        else:
            report_rows.append({"row": file_row, **{k: rec[k] for k in
                                ("code", "new_code", "name", "new_name", "reason")}})
    remapped = remap_report[remap_report["new_code"].notna()]
    if len(remapped):
        warnings.warn(
            f"{len(remapped)} ancien(s) code(s) commune rattaché(s) à la commune actuelle "
            f"(ex. {remapped['code'].iat[0]} → {remapped['new_code'].iat[0]}) : voir le rapport.",
            stacklevel=2)

    # Names cross-check
    known_names = dict(zip(france.index, france["name"]))
    known_names.update(zip(arm.index, arm["name"]))
    if check_names and given_names.notna().any():
        former_names: dict[str, list] = {}
        for code, name in zip(*load_former_communes()[["code", "name"]].to_numpy().T):
            former_names.setdefault(code, []).append(name)
        arm_city = dict(zip(arm.index, arm["parent"]))
        gnames = given_names.to_numpy(dtype=object)
        now, orig = current.to_numpy(dtype=object, na_value=None), clean.to_numpy(dtype=object, na_value=None)
        for pos in np.flatnonzero(given_names.notna().to_numpy() & current.notna().to_numpy()):
            gname = str(gnames[pos]).strip()
            code, original = now[pos], orig[pos]
            candidates = [known_names.get(code), known_names.get(original),
                          *former_names.get(original, [])]
            if code in arm_city:
                candidates.append(known_names.get(arm_city[code]))
            if gname and not _names_match(gname, *candidates):
                near = closest_names(gname, france, n=3)
                hint = (" ; communes de ce nom : " + ", ".join(f"{c} {n}" for c, n in near)) if near else ""
                problems.append({"row": int(reg["row"].iat[pos]), "code": original, "problem":
                                 f"le nom « {gname} » ne correspond pas au code {original} "
                                 f"({known_names.get(code, '?')}){hint}"})

    # Communes outside the layer the territories are built on
    arm_parent = dict(zip(arm.index, arm["parent"]))
    in_layer = set(layer.index)
    layer_cities = {p for a, p in arm_parent.items() if a in in_layer}
    codes_now = current.to_numpy(dtype=object, na_value=None)
    inside = np.array([c is None or c in in_layer or c in layer_cities
                       or (c in arm_parent and arm_parent[c] in in_layer) for c in codes_now])
    for pos in np.flatnonzero(~inside):
        code = codes_now[pos]
        dep = france.at[code, "department"] if code in france.index else "?"
        problems.append({"row": int(reg["row"].iat[pos]), "code": clean.iat[pos], "problem":
                         f"commune {known_names.get(code, '')} (département {dep}) absente de la "
                         "couche communale fournie : chargez aussi ce département "
                         "(load_communes(departments=[...]))"})

    table = pd.DataFrame({
        "row": reg["row"].to_numpy(), "cpts_id": ids.to_numpy(), "cpts_name": names.to_numpy(),
        "stage": stages.to_numpy(), "given_code": clean.to_numpy(), "code": current.to_numpy(),
        "share": shares.to_numpy(),
    })

    # CPTS: one name and one stage each
    named = table[table["cpts_id"].notna()]
    by_cpts = named.groupby("cpts_id", sort=False)
    cpts = pd.DataFrame({
        "name": by_cpts["cpts_name"].first(),
        "stage": by_cpts["stage"].first(),
        "first_row": by_cpts["row"].first(),
    })
    cpts["name"] = cpts["name"].fillna(pd.Series(cpts.index, index=cpts.index))
    n_names, n_stages = by_cpts["cpts_name"].nunique(), by_cpts["stage"].nunique()
    empty = by_cpts["code"].count().eq(0) & by_cpts["given_code"].count().eq(0)
    for cid in cpts.index[(n_names > 1).to_numpy() | (n_stages > 1).to_numpy() | empty.to_numpy()]:
        grp = named[named["cpts_id"] == cid]
        rows = ", ".join(map(str, grp["row"]))
        nm, st = grp["cpts_name"].dropna().unique(), grp["stage"].dropna().unique()
        if len(nm) > 1:
            problems.append({"row": rows, "code": pd.NA, "problem":
                             f"CPTS {cid} : plusieurs noms ({' / '.join(nm)}) ; un seul par identifiant"})
        if len(st) > 1:
            problems.append({"row": rows, "code": pd.NA, "problem":
                             f"CPTS {cid} : plusieurs étapes ({' / '.join(map(str, st))}) ; une seule "
                             "par CPTS"})
        if empty[cid]:
            problems.append({"row": rows, "code": pd.NA, "problem": f"CPTS {cid} sans aucune commune"})
    cpts.index.name = "cpts_id"
    cpts["stage"] = cpts["stage"].astype(STAGE_DTYPE)

    valid = table[table["cpts_id"].notna() & table["code"].notna()]
    # Same commune twice in one CPTS: keep once, report
    dup = valid.duplicated(["cpts_id", "code", "given_code"], keep="first")
    if dup.any():
        for rec in valid[dup].itertuples(index=False):
            report_rows.append({"row": rec.row, "code": rec.given_code, "new_code": rec.code,
                                "name": known_names.get(rec.code, pd.NA), "new_name": pd.NA,
                                "reason": f"doublon dans la CPTS {rec.cpts_id} : ligne ignorée"})
        warnings.warn(f"{int(dup.sum())} ligne(s) en double (même commune, même CPTS) ignorée(s) : "
                      "voir le rapport.", stacklevel=2)
    valid = valid[~dup]

    # Expand whole PLM cities when the same city is also given by arrondissement
    city_of = valid["code"].map(arm_parent)
    split_cities = set(city_of.dropna())
    if split_cities:
        extra = []
        for rec in valid[valid["code"].isin(split_cities)].itertuples(index=False):
            for a in sorted(a for a, p in arm_parent.items() if p == rec.code):
                extra.append({**rec._asdict(), "code": a})
        valid = pd.concat([valid[~valid["code"].isin(split_cities)], pd.DataFrame(extra)],
                          ignore_index=True)

    # One commune, one CPTS
    grouped = valid.groupby("code", sort=True)
    n_claims = grouped["cpts_id"].transform("nunique")
    multi = valid[n_claims > 1]
    for code, grp in multi.groupby("code", sort=True):
        per_cpts = grp.groupby("cpts_id", sort=False)
        all_shared = grp["share"].notna().all()
        total = per_cpts["share"].max().sum()
        city = arm_parent.get(code)
        label = known_names.get(code, "")
        if all_shared and total <= 1 + 1e-9:
            continue
        claimants = ", ".join(
            f"{cid} {cpts.at[cid, 'name'] if cpts.at[cid, 'name'] != cid else ''}".strip()
            + f" (ligne {', '.join(map(str, g['row']))}"
            + (f", code donné {', '.join(sorted(set(g['given_code'])))}" if (g["given_code"] != code).any() else "")
            + (f", part {number(g['share'].iat[0], None)}" if g["share"].notna().all() else "")
            + ")"
            for cid, g in per_cpts)
        what = f"commune {label}" if not city else f"arrondissement {label}"
        if all_shared:
            problem = f"{what} partagée entre CPTS avec des parts dont la somme {number(total, None)} dépasse 1 : {claimants}"
        else:
            problem = f"{what} revendiquée par plusieurs CPTS : {claimants}"
        problems.append({"row": ", ".join(map(str, sorted(set(grp["row"])))), "code": code,
                         "problem": problem, "claimants": ", ".join(per_cpts.groups)})
    # Overlaps of PLM cities are reported per city, not once per arrondissement
    problems = _merge_plm_overlaps(problems, arm_parent, known_names)

    if problems:
        raise ValidationError(
            "Le registre ne respecte pas les règles : corrigez les lignes listées.", problems)

    valid = valid.copy()
    lone_share = valid["share"].notna() & (valid.groupby("code")["cpts_id"].transform("nunique") == 1)
    valid["share"] = valid["share"].fillna(1.0)
    for rec in valid[lone_share & (valid["share"] < 1)].itertuples(index=False):
        report_rows.append({"row": rec.row, "code": rec.given_code, "new_code": rec.code,
                            "name": known_names.get(rec.code, pd.NA), "new_name": pd.NA,
                            "reason": f"part {number(rec.share, None)} déclarée ; le reste de la commune n'est "
                                      "dans aucune CPTS"})
    # Several rows may land on one (commune, CPTS) pair (former communes of one commune
    # nouvelle): join their rows and codes; the usual case, one row per pair, stays vectorised.
    valid = valid.sort_values(["code", "cpts_id", "row"], kind="stable")
    several = valid.duplicated(["code", "cpts_id"], keep=False).to_numpy()
    single = valid[~several]
    member = pd.DataFrame({"code": single["code"].to_numpy(), "cpts_id": single["cpts_id"].to_numpy(),
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
    member = member.sort_values(["code", "cpts_id"], kind="stable").reset_index(drop=True)
    report = pd.DataFrame(report_rows, columns=["row", "code", "new_code", "name", "new_name", "reason"])
    report = report.sort_values("row", kind="stable").reset_index(drop=True)
    return CheckedRegistry(member[["code", "cpts_id", "share", "rows", "given_codes"]], cpts, report)


def _merge_plm_overlaps(problems, arm_parent, names):
    """Fold overlap problems on arrondissements of one city into one problem per city."""
    out, by_city = [], {}
    for p in problems:
        code = p.get("code")
        if isinstance(code, str) and code in arm_parent and "plusieurs CPTS" in str(p.get("problem")):
            by_city.setdefault((arm_parent[code], p.get("claimants")), []).append(p)
        else:
            out.append(p)
    for (city, _), items in by_city.items():
        arrs = sorted(p["code"] for p in items)
        first = items[0]["problem"].split(" : ", 1)[1]
        rows = sorted({r.strip() for p in items for r in str(p["row"]).split(",")}, key=int)
        out.append({"row": ", ".join(rows), "code": city, "problem":
                    f"{names.get(city, city)} donnée entière par une CPTS et par arrondissement par une "
                    f"autre : {len(arrs)} arrondissement(s) revendiqué(s) deux fois "
                    f"({', '.join(arrs)}) : {first}"})
    return out


def read_perimeters(path: str | Path, *, layer: str | None = None):
    """Read CPTS perimeters given as polygons (GeoPackage, Shapefile, GeoJSON, GeoParquet…).

    Read by :func:`cpts_geo.io.read_table`: a GeoPackage with several layers is refused with
    their list unless ``layer`` names one.
    """
    import geopandas as gpd

    gdf = read_table(path, layer=layer, geometry=True).table
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ValidationError(
            f"{Path(path).name} : pas de géométries ; les périmètres se donnent en GeoPackage, "
            "Shapefile, GeoJSON ou GeoParquet.", [{"problem": "aucune géométrie"}])
    if gdf.crs is None:
        raise ValidationError(
            f"{Path(path).name} : la couche n'a pas de système de coordonnées (SCR) ; "
            "définissez-le dans QGIS (ex. EPSG:2154) puis réessayez.", [{"problem": "SCR absent"}])
    return gdf


class PerimeterRegistry(NamedTuple):
    """What :func:`registry_from_perimeters` makes of drawn perimeters."""

    #: Standard registry columns; ``row`` is the feature number of the perimeter.
    registry: pd.DataFrame
    #: One row per cut commune: ``code``, ``name``, ``shares``, ``assigned_to``.
    cut: pd.DataFrame
    #: Perimeters that received no commune: ``row``, ``cpts_id``, ``largest_share`` (the most
    #: of one commune they cover), ``code`` of that commune.
    without_communes: pd.DataFrame
    #: Feature numbers of the perimeters repaired with ``shapely.make_valid`` (``repair=True``).
    repaired: list


def registry_from_perimeters(
    perimeters,
    communes,
    *,
    columns: Mapping[str, str] | None = None,
    min_share: float = 0.5,
    cut_share: float = 0.05,
    repair: bool = False,
) -> PerimeterRegistry:
    """Turn CPTS perimeters drawn as polygons into a registry of communes.

    A commune is assigned to the perimeter covering at least ``min_share`` (default half)
    of its area. A commune is reported as *cut* when two perimeters or more each cover at
    least ``cut_share`` (default 5 %) of it, or when a perimeter covers between
    ``cut_share`` and ``min_share`` of it: such communes need a decision (assign it, or
    declare a split with shares). Overlaps are measured in the metric CRS.

    Parameters
    ----------
    perimeters : GeoDataFrame
        One polygon per CPTS with an identifier column (and optionally name and stage),
        recognised like registry headers or mapped with ``columns``.
    communes : GeoDataFrame
        The commune layer.
    repair : bool, default False
        Invalid perimeters (self-intersecting, a bow-tie drawn by hand) are refused with their
        feature numbers; with ``repair=True`` they are repaired with ``shapely.make_valid``
        and listed in ``repaired``.

    Returns
    -------
    PerimeterRegistry
        ``registry`` (standard registry columns; ``row`` is the feature number of the
        perimeter), ``cut`` (one row per cut commune: ``code``, ``name``, ``shares`` as text
        ``id : part``, ``assigned_to`` or empty), ``without_communes`` (perimeters that cover
        at least half of no commune: nothing is silently dropped) and ``repaired``.
    """
    import geopandas as gpd
    import shapely

    from cpts_geo.communes import to_metric

    if perimeters.crs is None:
        raise ValidationError("Les périmètres n'ont pas de système de coordonnées (SCR).",
                              [{"problem": "SCR absent"}])
    attrs = read_registry(pd.DataFrame(perimeters.drop(columns=perimeters.geometry.name))
                          .assign(**{"commune_code": "00000"}) if "commune_code" not in perimeters
                          else perimeters, columns=columns)
    geoms = perimeters.geometry
    invalid = ~(geoms.isna() | geoms.is_empty).to_numpy() & ~geoms.is_valid.to_numpy()
    missing = (geoms.isna() | geoms.is_empty).to_numpy()
    problems = [{"row": int(r) + 1, "problem": "périmètre sans géométrie"} for r in np.flatnonzero(missing)]
    if not repair:
        problems += [{"row": int(r) + 1, "problem": f"périmètre invalide ({why}) : corrigez-le dans QGIS "
                      "(Vérifier la validité) ou relancez avec repair=True"}
                     for r, why in zip(np.flatnonzero(invalid), shapely.is_valid_reason(geoms.to_numpy()[invalid]))]
    if problems:
        raise ValidationError("Périmètres refusés", problems)
    repaired = [int(r) + 1 for r in np.flatnonzero(invalid)]
    if repaired:
        perimeters = perimeters.copy()
        perimeters.loc[perimeters.index[invalid], perimeters.geometry.name] = shapely.make_valid(
            geoms.to_numpy()[invalid])
    metric = to_metric(communes[["geometry"]])
    per = gpd.GeoDataFrame({"cpts_id": attrs["cpts_id"].astype(str).to_numpy(),
                            "row": np.arange(1, len(perimeters) + 1)},
                           geometry=perimeters.geometry.to_crs(metric.crs).to_numpy(), crs=metric.crs)
    inter = gpd.overlay(metric.reset_index().rename(columns={metric.index.name or "index": "code"}),
                        per, how="intersection", keep_geom_type=True)
    inter["share"] = inter.area / inter["code"].map(metric.area)
    inter = inter[inter["share"] >= 1e-6]
    best = inter.sort_values("share", ascending=False).drop_duplicates("code")
    assigned = best[best["share"] >= min_share]
    info = perimeters.reset_index(drop=True)
    meta = attrs.set_index(attrs["cpts_id"].astype(str))
    registry = pd.DataFrame({
        "row": assigned["row"].to_numpy(),
        "cpts_id": assigned["cpts_id"].to_numpy(),
        "cpts_name": meta.loc[assigned["cpts_id"], "cpts_name"].to_numpy(),
        "stage": meta.loc[assigned["cpts_id"], "stage"].to_numpy(),
        "commune_code": assigned["code"].to_numpy(),
        "commune_name": communes.loc[assigned["code"], "name"].to_numpy() if "name" in communes else None,
        "share": np.nan,
    }).sort_values(["row", "commune_code"]).reset_index(drop=True)
    del info
    cut_rows = []
    for code, grp in inter.groupby("code"):
        big = grp[grp["share"] >= cut_share]
        if len(big) >= 2 or ((big["share"] < min_share).any()):
            assigned_to = assigned.loc[assigned["code"] == code, "cpts_id"]
            cut_rows.append({"code": code, "name": communes.at[code, "name"] if "name" in communes else "",
                             "shares": ", ".join(f"{r.cpts_id} : {percent(r.share, 0)}" for r in
                                                 big.sort_values("share", ascending=False).itertuples()),
                             "assigned_to": assigned_to.iat[0] if len(assigned_to) else ""})
    cut = pd.DataFrame(cut_rows, columns=["code", "name", "shares", "assigned_to"])
    lost = per.loc[~per["cpts_id"].isin(assigned["cpts_id"]), ["row", "cpts_id"]]
    largest = inter.sort_values("share", ascending=False).drop_duplicates("cpts_id").set_index("cpts_id")
    without = pd.DataFrame({
        "row": lost["row"].to_numpy(),
        "cpts_id": lost["cpts_id"].to_numpy(),
        "largest_share": lost["cpts_id"].map(largest["share"]).to_numpy(dtype="float64"),
        "code": lost["cpts_id"].map(largest["code"]).to_numpy(dtype=object),
    })
    if len(without):
        warnings.warn(f"{len(without)} périmètre(s) ne couvrent la moitié d'aucune commune et n'ont "
                      f"aucune commune : {', '.join(map(str, without['cpts_id']))}", UserWarning, stacklevel=2)
    return PerimeterRegistry(registry, cut, without, repaired)
