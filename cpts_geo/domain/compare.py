"""Compare two registries: what changed between last quarter's listing and this one.

The CPTS of the two files are matched even when their identifiers or names differ (an ARS
listing against a CPTS's own declaration): two CPTS are the same when they share most of
their communes (Jaccard index of their commune sets, at least ``min_jaccard``), or when they
carry the same name once case, accents, punctuation and the word « CPTS » are left out.
Each CPTS is matched at most once, the closest pairs first.

:func:`compare_registries` returns a :class:`RegistryComparison`: the table of changes (one
row per change: a commune moved from one CPTS to another, a commune entering or leaving
coverage, a CPTS created or dissolved, a stage, name or share changed), how the CPTS were
matched, and a count per kind of change. :func:`changes_layer` puts the changes on the map.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING, NamedTuple, TypeAlias

import numpy as np
import pandas as pd

from cpts_geo.domain.codes import is_in
from cpts_geo.domain.french import fold, number
from cpts_geo.domain.registry import CheckedRegistry, RegistryRead, registry_table, validate_registry

if TYPE_CHECKING:
    from collections.abc import Iterable

    import geopandas as gpd

    from cpts_geo.domain.history import Passage
    from cpts_geo.domain.stages import StageWordings

#: A registry as :func:`compare_registries` takes it.
_Registry: TypeAlias = "pd.DataFrame | RegistryRead | CheckedRegistry"

__all__ = [
    "CHANGES",
    "WRITTEN_OTHERWISE",
    "RegistryComparison",
    "changes_layer",
    "compare_registries",
]

#: Kinds of change, in the order they are listed. What lies outside the other source's field
#: (« hors du champ de l'autre source », see :func:`compare_registries`) is no change: it is
#: listed apart, so that a department's listing against a regional one reports only the
#: differences where both speak. So are the identifiers and names written otherwise for the
#: same CPTS (:data:`WRITTEN_OTHERWISE`: another identifier, even in case only; the same name
#: in other capitals, accents or punctuation): listed, never silent, but apart.
CHANGES = (
    "CPTS créée",
    "CPTS dissoute",
    "commune changée de CPTS",
    "commune entrée dans la couverture",
    "commune sortie de la couverture",
    "part modifiée",
    "étape modifiée",
    "nom modifié",
    "CPTS hors du champ de l'autre source",
    "commune hors du champ de l'autre source",
    "identifiant modifié",
    "nom réécrit",
)


_OUTSIDE = ("CPTS hors du champ de l'autre source", "commune hors du champ de l'autre source")


#: The same CPTS written otherwise in the two files (listed apart from the changes).
WRITTEN_OTHERWISE = ("identifiant modifié", "nom réécrit")


_CHANGE_COLUMNS = ["change", "code", "commune", "old_id", "old_cpts", "new_id", "new_cpts", "old_value",
                   "new_value"]





class RegistryComparison(NamedTuple):
    """What changed from one registry to the next (see :func:`compare_registries`)."""

    #: One row per change: ``change`` (one of :data:`CHANGES`), ``code`` and ``commune`` (for
    #: changes of a commune), ``old_id``/``new_id`` (identifiers in each file, joined by ``", "``
    #: for a commune of several CPTS), ``old_cpts``/``new_cpts`` (``id name`` in each file),
    #: ``old_value``/``new_value`` (stage, name or share before and after).
    changes: pd.DataFrame
    #: One row per CPTS of either file: ``old_id``, ``new_id`` (empty when created or dissolved),
    #: ``old_name``, ``new_name``, ``jaccard`` (shared communes / communes of either), ``matched_by``.
    matches: pd.DataFrame
    #: Number of changes per kind, indexed by :data:`CHANGES`.
    summary: pd.Series
    #: The two registries as validated (restricted to the area asked for, when one was).
    old: CheckedRegistry
    new: CheckedRegistry
    #: The field of each source, ``(old, new)``: the departments compared (the area asked for),
    #: or else the departments where each source has CPTS (a CPTS counts in the department of
    #: most of its communes).
    fields: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    #: Whether the two sources were restricted to an area before matching.
    restricted: bool = False



def _checked(registry: _Registry, communes: pd.DataFrame | None, passage: Passage, which: str = "",
             stages: StageWordings | None = None) -> CheckedRegistry:
    """The registry validated; an error names the registry it comes from (ancien/nouveau, its file)."""
    from cpts_geo.errors import ValidationError

    if isinstance(registry, CheckedRegistry):
        return registry
    source = PurePath(str(registry.source)).name \
        if isinstance(registry, RegistryRead) and registry.source not in ("DataFrame", "PostGIS") else ""
    try:
        return _validated(registry, communes, passage, stages)
    except ValidationError as err:
        named = ValidationError(f"Registre {which}{f' ({source})' if source else ''} : {err.summary}",
                                err.problems.to_dict("records")) if which else err
        raise named from None



def _validated(registry: pd.DataFrame | RegistryRead, communes: pd.DataFrame | None, passage: Passage,
               stages: StageWordings | None) -> CheckedRegistry:
    reg = registry_table(registry).registry
    if len(reg) == 0:  # an empty listing: every CPTS of the other one is created (or dissolved)
        from cpts_geo.domain.stages import STAGE_DTYPE

        cpts = pd.DataFrame({"name": pd.Series(dtype=object), "stage": pd.Series(dtype=STAGE_DTYPE),
                             "first_row": pd.Series(dtype="int64")}, index=pd.Index([], name="cpts_id"))
        member = pd.DataFrame({"code": pd.Series(dtype=object), "cpts_id": pd.Series(dtype=object),
                               "share": pd.Series(dtype=float), "rows": pd.Series(dtype=object),
                               "given_codes": pd.Series(dtype=object)})
        return CheckedRegistry(member, cpts, pd.DataFrame())
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the repairs are in each registry's own report
        return validate_registry(reg, communes, passage=passage, stages=stages)



def _departments(codes: pd.Series | np.ndarray) -> np.ndarray:
    """The department of each commune or arrondissement code."""
    from cpts_geo.domain.codes import department_of

    return department_of(pd.Series(np.asarray(codes, dtype=object), dtype=object)).to_numpy(dtype=object)



def _restrict(checked: CheckedRegistry, departments: set[str]) -> CheckedRegistry:
    """Only the communes of ``departments``, and the CPTS that keep one."""
    member = checked.membership
    keep = np.isin(_departments(member["code"]), list(departments))
    member = member[keep].reset_index(drop=True)
    ids = pd.unique(member["cpts_id"])
    return checked._replace(membership=member, cpts=checked.cpts.loc[checked.cpts.index.isin(ids)])



def _field(checked: CheckedRegistry) -> tuple[str, ...]:
    """The departments where a source has CPTS: each CPTS counts in the department of most of its
    communes (a CPTS crossing into a neighbouring department does not make it the source's)."""
    member = checked.membership
    if not len(member):
        return ()
    dep = pd.Series(_departments(member["code"]), index=member.index)
    home = dep.groupby(member["cpts_id"].to_numpy()).agg(lambda d: d.value_counts().index[0])
    return tuple(sorted(set(home)))



def _split_field(checked: CheckedRegistry, field: tuple[str, ...]) -> tuple[CheckedRegistry, pd.DataFrame, list]:
    """The part of a registry inside the other source's field, the membership rows outside it,
    and the CPTS with no commune inside it."""
    member = checked.membership
    inside = np.isin(_departments(member["code"]), list(field))
    outside = member[~inside]
    kept = member[inside].reset_index(drop=True)
    gone = [c for c in checked.cpts.index if c not in set(kept["cpts_id"])]
    return (checked._replace(membership=kept, cpts=checked.cpts.drop(index=gone)), outside, gone)



def _stage_value(rec: pd.Series) -> str:
    """A stage in a change row: the stage, with the wording as published when it differs."""
    stage = str(rec["stage"])
    published = rec.get("published_stage")
    if published is None or pd.isna(published) or fold(str(published)) == fold(stage):
        return stage
    return f"{published} ({stage})"



def _same_vocabulary(o: CheckedRegistry, n: CheckedRegistry) -> bool:
    """Whether the two registries word their stages with the same vocabulary."""
    def words(c: CheckedRegistry) -> set[str] | None:
        col = c.cpts.get("published_stage")
        if col is None or not isinstance(col.dtype, pd.CategoricalDtype):
            return None
        return {fold(w) for w in col.dtype.categories}

    a, b = words(o), words(n)
    return a is not None and a == b



def _name_key(name: object) -> str:
    """A CPTS name for matching: no case, accents, punctuation, « CPTS » or articles."""
    text = str(name).replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    words = fold(text).split()
    words = [w for w in words if w not in {"cpts", "communaute", "professionnelle", "territoriale", "de",
                                           "sante", "du", "des", "d", "la", "le", "les", "l"}]
    return " ".join(words)



def _match(old: CheckedRegistry, new: CheckedRegistry, min_jaccard: float) -> pd.DataFrame:
    om, nm = old.membership[["code", "cpts_id"]], new.membership[["code", "cpts_id"]]
    o_size = om.groupby("cpts_id").size()
    n_size = nm.groupby("cpts_id").size()
    pairs = om.merge(nm, on="code", suffixes=("_old", "_new")).groupby(
        ["cpts_id_old", "cpts_id_new"]).size().rename("shared").reset_index()
    pairs["jaccard"] = pairs["shared"] / (pairs["cpts_id_old"].map(o_size).to_numpy()
                                          + pairs["cpts_id_new"].map(n_size).to_numpy() - pairs["shared"])
    o_key = old.cpts["name"].map(_name_key)
    n_key = new.cpts["name"].map(_name_key)
    by_name = pd.DataFrame({"cpts_id_old": o_key.index, "key": o_key.to_numpy()}).merge(
        pd.DataFrame({"cpts_id_new": n_key.index, "key": n_key.to_numpy()}), on="key")
    by_name = by_name[by_name["key"] != ""][["cpts_id_old", "cpts_id_new"]].assign(same_name=True)
    cand = pairs.merge(by_name, on=["cpts_id_old", "cpts_id_new"], how="outer")
    cand["jaccard"] = cand["jaccard"].fillna(0.0)
    cand["same_name"] = cand["same_name"].fillna(False).astype(bool)
    cand["same_id"] = cand["cpts_id_old"].astype(str) == cand["cpts_id_new"].astype(str)
    ok = (cand["jaccard"] >= min_jaccard) | cand["same_name"] | (cand["same_id"] & (cand["jaccard"] > 0))
    cand = cand[ok].sort_values(["jaccard", "same_name", "same_id"], ascending=False, kind="stable")
    used_old, used_new, rows = set(), set(), []
    for rec in cand.itertuples(index=False):
        if rec.cpts_id_old in used_old or rec.cpts_id_new in used_new:
            continue
        used_old.add(rec.cpts_id_old)
        used_new.add(rec.cpts_id_new)
        how = []
        if rec.jaccard >= min_jaccard:
            how.append(f"communes ({number(rec.jaccard * 100, 0)} % en commun)")
        if rec.same_name:
            how.append("nom")
        if rec.same_id:
            how.append("identifiant")
        rows.append({"old_id": rec.cpts_id_old, "new_id": rec.cpts_id_new, "jaccard": rec.jaccard,
                     "matched_by": ", ".join(how) or "identifiant"})
    for cid in old.cpts.index.difference(pd.Index(list(used_old)), sort=False):
        rows.append({"old_id": cid, "new_id": pd.NA, "jaccard": 0.0, "matched_by": "CPTS dissoute"})
    for cid in new.cpts.index.difference(pd.Index(list(used_new)), sort=False):
        rows.append({"old_id": pd.NA, "new_id": cid, "jaccard": 0.0, "matched_by": "CPTS créée"})
    out = pd.DataFrame(rows, columns=["old_id", "new_id", "jaccard", "matched_by"])
    out.insert(2, "old_name", out["old_id"].map(old.cpts["name"]))
    out.insert(3, "new_name", out["new_id"].map(new.cpts["name"]))
    return out



def compare_registries(
    old: _Registry,
    new: _Registry,
    communes: pd.DataFrame | None = None,
    *,
    passage: Passage = None,
    min_jaccard: float = 0.5,
    departments: Iterable[str] | str | None = None,
    region: str | None = None,
    stages: StageWordings | None = None,
) -> RegistryComparison:
    """What changed from registry ``old`` to registry ``new``.

    Two sources often cover different areas (a department's listing against a regional one).
    With ``departments`` or ``region`` both are restricted to that area before the CPTS are
    matched. Otherwise each source's *field* is the departments where it has CPTS (each CPTS
    counting in the department of most of its communes): a commune or a whole CPTS of one source
    outside the other's field is listed as « hors du champ de l'autre source », never as a
    commune leaving or entering coverage nor as a CPTS created or dissolved (an empty registry
    has no field: everything in the other one is then created, or dissolved).

    Parameters
    ----------
    old, new : DataFrame, RegistryRead or CheckedRegistry
        The two registries (validated first when not already; an empty one is allowed). An
        error names the registry it comes from (« ancien » or « nouveau », and its file when
        read by :func:`cpts_geo.io.registry.read_registry_report`).
    communes : GeoDataFrame, optional
        The commune layer to validate against (default: all of France).
    passage : optional
        An INSEE passage table for former codes (see :func:`cpts_geo.io.history.read_passage_table`).
    min_jaccard : float, default 0.5
        Share of communes in common (of the communes of either) above which two CPTS of the two
        files are the same CPTS.
    departments : str or list of str, optional
        Compare only these departments (codes or names): both sources restricted first.
    region : str, optional
        Compare only this region (code or name): both sources restricted first.
    stages : mapping, DataFrame or StageMapping, optional
        The correspondence of stage wordings (:func:`cpts_geo.domain.stages.stage_mapping`),
        for both registries.

    Returns
    -------
    RegistryComparison
        ``changes`` (one row per change; the identifiers and names the same CPTS carries
        otherwise in the new file, in case only included, listed as :data:`WRITTEN_OTHERWISE`),
        ``matches`` (how the CPTS were paired), ``summary``
        (count per kind of change), ``fields`` (the departments of each source compared).

    Examples
    --------
    >>> a = pd.DataFrame({"cpts_id": ["A", "A", "B"], "cpts_name": ["CPTS Lille", "CPTS Lille", "Sud"],
    ...                   "stage": ["3", "3", "5"], "commune_code": ["59350", "59009", "59017"]})
    >>> b = pd.DataFrame({"cpts_id": ["L", "L", "L"], "cpts_name": "cpts de LILLE", "stage": "5",
    ...                   "commune_code": ["59350", "59009", "59017"]})
    >>> cmp = compare_registries(a, b)
    >>> cmp.changes[["change", "code", "old_cpts", "new_cpts"]].values.tolist()[:3]
    [['CPTS dissoute', None, 'B Sud', None], ['commune changée de CPTS', '59017', 'B Sud', 'L cpts de LILLE'], ['étape modifiée', None, 'A CPTS Lille', 'L cpts de LILLE']]
    >>> cmp.changes.loc[cmp.changes["change"].isin(WRITTEN_OTHERWISE), ["change", "old_value", "new_value"]].values.tolist()
    [['identifiant modifié', 'A', 'L'], ['nom réécrit', 'CPTS Lille', 'cpts de LILLE']]
    """
    o, n = _checked(old, communes, passage, "ancien", stages), _checked(new, communes, passage, "nouveau", stages)
    restricted = departments is not None or region is not None
    if restricted:
        from cpts_geo.domain.communes import load_communes

        area = set(load_communes(region=region, departments=departments, crs=None)["department"])
        o, n = _restrict(o, area), _restrict(n, area)
        fields = (tuple(sorted(area)), tuple(sorted(area)))
    else:
        fields = (_field(o), _field(n))
    full_o, full_n = o, n  # labels of every CPTS, those outside the field included
    out_o = out_n = pd.DataFrame(columns=["code", "cpts_id"])
    gone_o: list = []
    gone_n: list = []
    if not restricted and len(o.membership) and len(n.membership):
        o, out_o, gone_o = _split_field(o, fields[1])
        n, out_n, gone_n = _split_field(n, fields[0])
    matches = _match(o, n, min_jaccard)
    names = _commune_names(communes)
    rows = _created_dissolved_rows(matches, o, n)
    # outside the other source's field: listed apart, never a change of coverage
    rows += [{"change": _OUTSIDE[0], "old_id": cid, "old_cpts": _label(cid, full_o)} for cid in gone_o]
    rows += [{"change": _OUTSIDE[0], "new_id": cid, "new_cpts": _label(cid, full_n)} for cid in gone_n]
    rows += [{"change": _OUTSIDE[1], "code": rec.code, "commune": names.get(rec.code),
              "old_id": rec.cpts_id, "old_cpts": _label(rec.cpts_id, full_o)} for rec in out_o.itertuples(index=False)]
    rows += [{"change": _OUTSIDE[1], "code": rec.code, "commune": names.get(rec.code),
              "new_id": rec.cpts_id, "new_cpts": _label(rec.cpts_id, full_n)} for rec in out_n.itertuples(index=False)]
    rows += _commune_rows(o, n, matches, names)
    rows += _stage_and_name_rows(o, n, matches)
    changes = _changes_table(rows)
    summary = changes["change"].value_counts().reindex(list(CHANGES), fill_value=0).rename("n")
    if gone_o or gone_n:
        extra = pd.DataFrame({"old_id": gone_o + [pd.NA] * len(gone_n), "new_id": [pd.NA] * len(gone_o) + gone_n,
                              "jaccard": 0.0, "matched_by": _OUTSIDE[0]})
        extra.insert(2, "old_name", extra["old_id"].map(full_o.cpts["name"]))
        extra.insert(3, "new_name", extra["new_id"].map(full_n.cpts["name"]))
        matches = pd.concat([matches, extra], ignore_index=True)
    return RegistryComparison(changes, matches, summary, full_o, full_n, fields, restricted)



def _named(cid: object, checked: CheckedRegistry) -> str:
    """A CPTS in a change row: its identifier, and its name when it differs."""
    name = checked.cpts.at[cid, "name"]
    return str(cid) if name == cid else f"{cid} {name}"



def _label(cid: object, checked: CheckedRegistry) -> str | None:
    """:func:`_named`, or ``None`` for a missing identifier."""
    if cid is None or cid is pd.NA:
        return None
    return _named(cid, checked)



def _commune_names(communes: pd.DataFrame | None) -> pd.Series:
    """Code → name of every commune and arrondissement (the caller's layer first)."""
    from cpts_geo.domain.registry import _embedded_reference

    names = _embedded_reference()[2]
    if communes is not None and "name" in communes:
        names = pd.concat([communes["name"], names])
        names = names[~names.index.duplicated()]
    return names



def _created_dissolved_rows(matches: pd.DataFrame, o: CheckedRegistry, n: CheckedRegistry) -> list[dict]:
    """A change row for each CPTS of one registry that matches none of the other."""
    rows: list[dict] = []
    for rec in matches.itertuples(index=False):
        if pd.isna(rec.new_id):
            rows.append({"change": "CPTS dissoute", "old_id": rec.old_id, "old_cpts": _label(rec.old_id, o)})
        elif pd.isna(rec.old_id):
            rows.append({"change": "CPTS créée", "new_id": rec.new_id, "new_cpts": _label(rec.new_id, n)})
    return rows



def _commune_rows(o: CheckedRegistry, n: CheckedRegistry, matches: pd.DataFrame, names: pd.Series) -> list[dict]:
    """A change row for each commune entering or leaving coverage, changing CPTS or share."""
    # one key per matched CPTS: the same key in both files
    key_old = dict(zip(matches["old_id"].dropna(), matches.index[matches["old_id"].notna()]))
    key_new = dict(zip(matches["new_id"].dropna(), matches.index[matches["new_id"].notna()]))
    om = o.membership.assign(key=o.membership["cpts_id"].map(key_old))
    nm = n.membership.assign(key=n.membership["cpts_id"].map(key_new))
    both = om[["code", "key", "cpts_id", "share"]].merge(nm[["code", "key", "cpts_id", "share"]],
                                                       on=["code", "key"], how="outer",
                                                       suffixes=("_old", "_new"))
    # a commune in the same CPTS with the same share in both files gives no row: only the others are
    # walked one by one
    same = (both["cpts_id_old"].notna() & both["cpts_id_new"].notna()
            & np.isclose(both["share_old"].to_numpy(float), both["share_new"].to_numpy(float)))
    unchanged = same.groupby(both["code"]).transform("all").to_numpy(dtype=bool)
    rows: list[dict] = []
    for code, grp in both[~unchanged].groupby("code", sort=True):
        old_ids, new_ids = list(grp["cpts_id_old"].dropna()), list(grp["cpts_id_new"].dropna())
        olds = [_named(c, o) for c in old_ids]
        news = [_named(c, n) for c in new_ids]
        base = {"code": code, "commune": names.get(code), "old_id": ", ".join(map(str, old_ids)) or None,
                "new_id": ", ".join(map(str, new_ids)) or None}
        if not olds:
            rows.append({**base, "change": "commune entrée dans la couverture", "new_cpts": ", ".join(news)})
        elif not news:
            rows.append({**base, "change": "commune sortie de la couverture", "old_cpts": ", ".join(olds)})
        elif grp["cpts_id_old"].isna().any() or grp["cpts_id_new"].isna().any():
            rows.append({**base, "change": "commune changée de CPTS", "old_cpts": ", ".join(olds),
                         "new_cpts": ", ".join(news)})
        else:
            changed = grp[~np.isclose(grp["share_old"].to_numpy(float), grp["share_new"].to_numpy(float))]
            for r in changed.itertuples(index=False):
                rows.append({**base, "change": "part modifiée", "old_id": r.cpts_id_old, "new_id": r.cpts_id_new,
                             "old_cpts": _label(r.cpts_id_old, o),
                             "new_cpts": _label(r.cpts_id_new, n), "old_value": number(r.share_old, None),
                             "new_value": number(r.share_new, None)})
    return rows



def _stage_and_name_rows(o: CheckedRegistry, n: CheckedRegistry, matches: pd.DataFrame) -> list[dict]:
    """A change row for each matched CPTS whose stage (or its wording) or name changed."""
    same_words = _same_vocabulary(o, n)
    rows: list[dict] = []
    for rec in matches.dropna(subset=["old_id", "new_id"]).itertuples(index=False):
        before, after = o.cpts.loc[rec.old_id], n.cpts.loc[rec.new_id]
        reworded = same_words and fold(str(before.get("published_stage"))) != fold(str(after.get("published_stage")))
        if str(before["stage"]) != str(after["stage"]) or reworded:
            rows.append({"change": "étape modifiée", "old_id": rec.old_id, "new_id": rec.new_id,
                         "old_cpts": _label(rec.old_id, o),
                         "new_cpts": _label(rec.new_id, n), "old_value": _stage_value(before),
                         "new_value": _stage_value(after)})
        if _name_key(before["name"]) != _name_key(after["name"]) and before["name"] != rec.old_id:
            rows.append({"change": "nom modifié", "old_id": rec.old_id, "new_id": rec.new_id,
                         "old_cpts": _label(rec.old_id, o),
                         "new_cpts": _label(rec.new_id, n), "old_value": before["name"],
                         "new_value": after["name"]})
        elif str(before["name"]) != str(after["name"]) and before["name"] != rec.old_id \
                and after["name"] != rec.new_id:  # the same words, in other capitals or accents
            rows.append({"change": "nom réécrit", "old_id": rec.old_id, "new_id": rec.new_id,
                         "old_cpts": _label(rec.old_id, o), "new_cpts": _label(rec.new_id, n),
                         "old_value": before["name"], "new_value": after["name"]})
        if str(rec.old_id) != str(rec.new_id):  # case only included: an identifier is a key
            rows.append({"change": "identifiant modifié", "old_id": rec.old_id, "new_id": rec.new_id,
                         "old_cpts": _label(rec.old_id, o), "new_cpts": _label(rec.new_id, n),
                         "old_value": str(rec.old_id), "new_value": str(rec.new_id)})
    return rows



def _changes_table(rows: list[dict]) -> pd.DataFrame:
    """The change rows as a table, ordered by kind of change (:data:`CHANGES`) then code."""
    changes = pd.DataFrame(rows, columns=_CHANGE_COLUMNS).astype(object)
    changes = changes.where(changes.notna(), None)
    order = {c: i for i, c in enumerate(CHANGES)}
    return changes.sort_values(["change", "code"], key=lambda s: s.map(order) if s.name == "change"
                               else s.fillna(""), kind="stable").reset_index(drop=True)



def changes_layer(comparison: RegistryComparison, communes: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """The changes of a comparison as a GeoDataFrame, for a map.

    A change of a commune gets the commune's geometry (arrondissements of Paris, Lyon and
    Marseille included); a change of a whole CPTS (created, dissolved, stage or name) gets the
    union of the communes it lists in the file where it exists.

    Parameters
    ----------
    comparison : RegistryComparison
        From :func:`compare_registries`.
    communes : GeoDataFrame, optional
        The commune layer (default: all of France, EPSG:4326).

    Returns
    -------
    geopandas.GeoDataFrame
        The columns of ``comparison.changes`` with a geometry; a row whose communes are not in
        ``communes`` has an empty geometry.
    """
    import geopandas as gpd
    import shapely

    from cpts_geo.domain.communes import load_arrondissements, load_communes

    layer = communes if communes is not None else load_communes()
    arm = load_arrondissements(crs=layer.crs)
    geoms = pd.concat([layer.geometry, arm.geometry[~is_in(arm.index, layer.index)]])
    ch = comparison.changes
    out = np.empty(len(ch), dtype=object)
    codes = ch["code"].to_numpy(dtype=object)
    has_code = pd.notna(ch["code"]).to_numpy()
    out[has_code] = geoms.reindex(codes[has_code]).to_numpy()
    # a change of a whole CPTS: the union of its communes, in the file where it exists
    old_m = comparison.old.membership.groupby("cpts_id")["code"].agg(list)
    new_m = comparison.new.membership.groupby("cpts_id")["code"].agg(list)
    for i in np.flatnonzero(~has_code):
        new_id, old_id = ch["new_id"].iat[i], ch["old_id"].iat[i]
        codes_of = new_m.get(new_id, []) if new_id is not None else old_m.get(old_id, [])
        parts = geoms.reindex(codes_of).dropna().to_numpy()
        out[i] = shapely.union_all(parts) if len(parts) else None
    shapes = [g if g is not None and not (isinstance(g, float) and np.isnan(g)) else shapely.Polygon() for g in out]
    return gpd.GeoDataFrame(ch.copy(), geometry=gpd.GeoSeries(shapes, crs=layer.crs).to_numpy(), crs=layer.crs)
