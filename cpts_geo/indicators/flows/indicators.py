"""Flow indicators of CPTS: retention, leakage, attraction, self-containment; coherence flags."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cpts_geo.domain.codes import CODE_DTYPE, as_codes, is_in, unify
from cpts_geo.domain.communes import adjacency
from cpts_geo.domain.french import number
from cpts_geo.errors import CptsGeoWarning, ValidationError
from cpts_geo.indicators.flows.codes import _arrondissements, as_floats, check_sum, factorize_codes
from cpts_geo.indicators.flows.prepare import commune_units
from cpts_geo.indicators.flows.table import _table

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from cpts_geo.indicators.flows.prepare import PreparedFlows
    from cpts_geo.indicators.flows.table import FlowsRead

#: Label of the area outside every CPTS in indicator tables.
UNCOVERED = "hors CPTS"



class _Members:
    """A checked membership on integer codes.

    ``code``: each row's commune (index into ``labels``, its distinct codes in order of first
    appearance; -1 where missing); ``unit``: each row's CPTS (index into ``cpts``, in order of
    first appearance); ``share``: each row's share (1 where not given); ``code_text``,
    ``cpts_text``: the two columns as text.
    """

    __slots__ = ("code", "code_text", "cpts", "cpts_text", "labels", "share", "unit")
    code: np.ndarray
    labels: pd.Index
    unit: np.ndarray
    cpts: pd.Index
    share: np.ndarray
    code_text: pd.api.extensions.ExtensionArray
    cpts_text: pd.api.extensions.ExtensionArray



def _members(membership: pd.DataFrame) -> _Members:
    """Check a membership table (every problem in one :class:`ValidationError`) and code it
    with integers: no string is compared twice."""
    missing = [c for c in ("code", "cpts_id") if c not in membership.columns]
    if missing:
        raise ValueError(
            "membership doit avoir les colonnes code, cpts_id (et share) : colonne(s) "
            + ", ".join(missing) + " absente(s). Construisez-la avec "
            "cpts_geo.domain.territories.membership(registre).")
    m = _Members()
    m.code_text = membership["code"].astype("str").array
    m.cpts_text = membership["cpts_id"].astype("str").array
    code, m.labels = pd.factorize(m.code_text)
    m.code = np.asarray(code, dtype=np.int64)
    m.labels = pd.Index(m.labels)
    unit, cpts = pd.factorize(m.cpts_text, use_na_sentinel=False)
    m.unit, m.cpts = np.asarray(unit, dtype=np.int64), pd.Index(cpts, name="cpts_id")
    share = (membership["share"].to_numpy(dtype="float64", na_value=np.nan)
             if "share" in membership.columns else np.ones(len(membership)))
    m.share = np.where(np.isnan(share), 1.0, share)
    problems = []
    for pos in np.flatnonzero((m.share <= 0) | (m.share > 1)):
        problems.append({"row": pos + 1, "code": m.code_text[pos],
                         "problem": f"part {number(m.share[pos], None)} hors de ]0, 1]"})
    given = m.code >= 0
    total = np.bincount(m.code[given], weights=m.share[given], minlength=len(m.labels))
    over = np.flatnonzero(total > 1 + 1e-9)
    for i in sorted(over, key=lambda i: m.labels[i]):
        problems.append({"row": None, "code": m.labels[i],
                         "problem": f"parts cumulées {number(total[i], None)} > 1 (CPTS : "
                                    + ", ".join(m.cpts_text[m.code == i]) + ")"})
    if problems:
        raise ValidationError(
            "Table d'appartenance invalide : chaque part doit être dans ]0, 1] et les parts "
            "d'une commune ne peuvent dépasser 1", problems)
    return m



def _check_membership(membership: pd.DataFrame) -> pd.DataFrame:
    """A checked membership as a table: ``code``, ``cpts_id`` (text), ``share`` (1 where not
    given)."""
    m = _members(membership)
    return pd.DataFrame({"code": m.code_text, "cpts_id": m.cpts_text, "share": m.share})



class _Units:
    """Flows expanded to (origin unit, destination unit, weight) integer arrays.

    Units ``0..K-1`` are the CPTS (``cpts``), ``-1`` is "outside every CPTS"; ``o_com`` and
    ``d_com`` index ``codes`` (every commune code seen).
    """

    __slots__ = ("codes", "cpts", "d_com", "d_unit", "o_com", "o_unit", "total", "w")
    codes: pd.Index
    cpts: pd.Index
    o_com: np.ndarray
    d_com: np.ndarray
    o_unit: np.ndarray
    d_unit: np.ndarray
    w: np.ndarray
    total: float


_PLM = None



def _plm_codes() -> tuple[dict, frozenset]:
    """Parent city of each arrondissement, and every arrondissement or divided city code."""
    global _PLM
    if _PLM is None:
        parent = _arrondissements()["parent"].to_dict()
        _PLM = (parent, frozenset(parent) | frozenset(parent.values()))
    return _PLM



def _match_cities(codes: pd.Index, o_map: np.ndarray, d_map: np.ndarray,
                  m_map: np.ndarray) -> tuple[pd.Index, np.ndarray, np.ndarray, np.ndarray]:
    """Flow codes at the level of the membership for Paris, Lyon and Marseille.

    ``codes``: every code of the flows' origins, destinations and membership; ``o_map``,
    ``d_map``, ``m_map``: the position in ``codes`` of the distinct codes of each. An
    arrondissement whose city is a member as a whole counts as that city (flows kept by
    arrondissement, membership by city): it leaves ``codes`` and the maps point to its city.
    The reverse cannot be undone: a flow given for a whole city that the membership divides
    by arrondissement stays outside every CPTS, with a warning.
    """
    parent, plm = _plm_codes()
    hit = np.flatnonzero(is_in(codes, sorted(plm)))
    if not len(hit):
        return codes, o_map, d_map, m_map
    at = dict(zip(codes[hit], hit.tolist()))
    member = np.zeros(len(codes), dtype=bool)
    member[m_map] = True
    roll = {p: at[parent[c]] for c, p in at.items()
            if c in parent and parent[c] in at and member[at[parent[c]]] and not member[p]}
    divided = {parent[c] for c, p in at.items() if c in parent and member[p]}
    names = {"75056": "Paris", "69123": "Lyon", "13055": "Marseille"}
    for side in (o_map, d_map):
        seen = np.zeros(len(codes), dtype=bool)
        seen[side] = True
        whole = sorted(c for c in divided if c in at and seen[at[c]] and not member[at[c]])
        if whole:
            warnings.warn(
                "Flux donnés pour " + ", ".join(f"{names.get(c, c)} entière ({c})" for c in whole)
                + " alors que l'appartenance la découpe par arrondissement : ces flux sont comptés "
                "hors CPTS. Préparez les flux avec prepare_flows(..., membership=...), qui garde les "
                "arrondissements.", CptsGeoWarning, stacklevel=4)
    if not roll:
        return codes, o_map, d_map, m_map
    city = np.arange(len(codes))
    city[list(roll)] = list(roll.values())
    o_map, d_map = city[o_map], city[d_map]
    # the rolled-up arrondissements leave the codes, which keep their order of first appearance
    used = pd.unique(np.concatenate([o_map, d_map, m_map]))
    new = np.full(len(codes), -1, dtype=np.int64)
    new[used] = np.arange(len(used))
    return codes[used], new[o_map], new[d_map], new[m_map]



class _Coded:
    """A flow table and a membership on integer codes: the common start of every indicator.

    ``o``, ``d``: commune of each row's ends (indices into ``codes``, every commune code seen);
    ``w``: volumes; ``cpts``: the CPTS (units ``0..K-1``; ``-1`` is outside every CPTS);
    ``m_com``, ``m_unit``, ``m_share``: the membership rows; ``simple``: the unit of each
    commune that is whole in one CPTS or uncovered (``-1``; split communes too), ``split``:
    communes shared between units (CSR ``start``/``count`` into ``e_unit``/``e_share``, the
    uncovered remainder included).
    """

    __slots__ = ("codes", "count", "cpts", "d", "e_share", "e_unit", "m_com", "m_share", "m_unit",
                 "o", "simple", "split", "start", "total", "w")
    codes: pd.Index
    cpts: pd.Index
    o: np.ndarray
    d: np.ndarray
    w: np.ndarray
    m_com: np.ndarray
    m_unit: np.ndarray
    m_share: np.ndarray
    simple: np.ndarray
    split: np.ndarray
    count: np.ndarray
    start: np.ndarray
    e_unit: np.ndarray
    e_share: np.ndarray
    total: float



def _coded(flows: pd.DataFrame | FlowsRead | PreparedFlows, membership: pd.DataFrame) -> _Coded:
    flows = _table(flows)
    missing = [c for c in ("origin", "destination", "volume") if c not in flows.columns]
    if missing:
        raise ValueError("Table de flux sans colonne(s) " + ", ".join(missing)
                         + " : lisez-la avec read_flows() ou read_mobpro().")
    m = _members(membership)
    w = as_floats(flows["volume"])
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValidationError(
            "Volumes manquants, infinis ou négatifs dans la table de flux : lisez-la avec "
            "read_flows(), qui signale les lignes en cause",
            [{"row": int(p) + 1, "problem": "volume invalide"}
             for p in np.flatnonzero(~np.isfinite(w) | (w < 0))[:1000]])
    check_sum(w, None, "Volumes trop grands dans la table de flux")
    o_codes, o_uniq = factorize_codes(flows["origin"])
    d_codes, d_uniq = factorize_codes(flows["destination"])
    if (len(o_codes) and min(int(o_codes.min()), int(d_codes.min())) < 0) or (m.code < 0).any():
        empty = np.flatnonzero((o_codes < 0) | (d_codes < 0))
        raise ValidationError(
            "Codes commune vides dans la table de flux ou d'appartenance : lisez les flux avec "
            "read_flows(), qui signale les lignes en cause",
            [{"row": int(p) + 1, "problem": "code vide"} for p in empty[:1000]]
            or [{"problem": "code vide dans la table d'appartenance"}])
    codes, (o_map, d_map, m_map) = unify([o_uniq, d_uniq, m.labels])
    codes, o_map, d_map, m_map = _match_cities(codes, o_map, d_map, m_map)
    c = _Coded()
    # the origins come first in ``codes``: their map is the identity unless cities were rolled up
    c.o = o_codes if np.array_equal(o_map, np.arange(len(o_map))) else o_map[o_codes]
    c.d = d_map[d_codes]
    c.w, c.codes = w, codes
    c.cpts = m.cpts
    c.m_com = m_map[m.code]
    c.m_unit = m.unit
    c.m_share = m.share
    n = len(codes)
    covered = np.bincount(c.m_com, weights=c.m_share, minlength=n)
    n_mem = np.bincount(c.m_com, minlength=n)
    # one unit per commune: its CPTS (whole commune) or -1 (uncovered)
    c.simple = np.full(n, -1, dtype=np.int64)
    whole = c.m_share >= 1 - 1e-12
    c.simple[c.m_com[whole]] = c.m_unit[whole]
    c.split = (n_mem > 1) | ((n_mem == 1) & (covered < 1 - 1e-12))
    # CSR of the units of split communes, with the uncovered remainder
    rest = np.flatnonzero(c.split & (covered < 1 - 1e-12))
    in_split = c.split[c.m_com]
    e_com = np.concatenate([c.m_com[in_split], rest])
    e_unit = np.concatenate([c.m_unit[in_split], np.full(len(rest), -1)])
    e_share = np.concatenate([c.m_share[in_split], 1 - covered[rest]])
    order = np.argsort(e_com, kind="stable")
    e_com, c.e_unit, c.e_share = e_com[order], e_unit[order], e_share[order]
    c.count = np.where(c.split, np.bincount(e_com, minlength=n), 1)
    c.start = np.zeros(n, dtype=np.int64)
    c.start[c.split] = np.searchsorted(e_com, np.flatnonzero(c.split))
    c.total = float(w.sum())
    return c



def _expand_rows(c: _Coded, rows: np.ndarray,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rows ``rows`` (touching a split commune) expanded to one row per (origin unit,
    destination unit): commune ends, units and weights (volume × share × share)."""
    so, sd, sw = c.o[rows], c.d[rows], c.w[rows]
    for side in ("o", "d"):
        com = so if side == "o" else sd
        k = c.count[com]
        rep = np.repeat(np.arange(len(com)), k)
        within = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
        is_split = c.split[com][rep]
        idx = c.start[com][rep] + within
        unit = np.where(is_split, c.e_unit[np.where(is_split, idx, 0)], c.simple[com][rep])
        frac = np.where(is_split, c.e_share[np.where(is_split, idx, 0)], 1.0)
        so, sd, sw = so[rep], sd[rep], sw[rep] * frac
        if side == "o":
            ou = unit
        else:
            ou = ou[rep]
            du = unit
    return so, sd, ou, du, sw



def _expand(flows: pd.DataFrame, membership: pd.DataFrame) -> _Units:
    """Every flow at the level of units (a row per CPTS pair for split communes)."""
    c = _coded(flows, membership)
    u = _Units()
    u.cpts, u.codes, u.total = c.cpts, c.codes, c.total
    touched = c.split[c.o] | c.split[c.d]
    if not touched.any():
        u.o_com, u.d_com, u.w = c.o, c.d, c.w
        u.o_unit, u.d_unit = c.simple[c.o], c.simple[c.d]
        return u
    keep = np.flatnonzero(~touched)
    so, sd, ou, du, sw = _expand_rows(c, np.flatnonzero(touched))
    u.o_com, u.d_com = np.concatenate([c.o[keep], so]), np.concatenate([c.d[keep], sd])
    u.o_unit = np.concatenate([c.simple[c.o[keep]], ou])
    u.d_unit = np.concatenate([c.simple[c.d[keep]], du])
    u.w = np.concatenate([c.w[keep], sw])
    return u



def _sum_by(index: np.ndarray, weights: np.ndarray, minlength: int) -> np.ndarray:
    """``np.bincount`` with weights, always float (also when ``index`` is empty)."""
    return np.bincount(index, weights=weights, minlength=minlength).astype(np.float64, copy=False)



def _pair_sums(c: _Coded) -> np.ndarray:
    """The volume of every (origin unit, destination unit) pair, units shifted by one (0 =
    outside every CPTS), without expanding the flows: only the rows touching a split commune
    are expanded."""
    k = len(c.cpts)
    so, sd = c.simple[c.o], c.simple[c.d]
    touched = c.split[c.o] | c.split[c.d]
    plain = ~touched
    key = (so[plain] + 1) * (k + 1) + (sd[plain] + 1)
    vol = _sum_by(key, weights=c.w[plain], minlength=(k + 1) ** 2)
    if touched.any():
        _, _, ou, du, sw = _expand_rows(c, np.flatnonzero(touched))
        vol += _sum_by((ou + 1) * (k + 1) + (du + 1), weights=sw, minlength=(k + 1) ** 2)
    return vol



def _unit_sums(c: _Coded) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Residents' (by origin unit), delivered (by destination unit) and inside volumes of
    each CPTS, without expanding the flows: commune totals are spread by share, and only the
    rows touching a split commune are expanded for the inside volume."""
    k = len(c.cpts)
    n = len(c.codes)
    so, sd = c.simple[c.o], c.simple[c.d]
    touched = c.split[c.o] | c.split[c.d]
    # residents and delivered: commune totals spread over the units by share
    r_com = _sum_by(c.o, weights=c.w, minlength=n)
    d_com = _sum_by(c.d, weights=c.w, minlength=n)
    whole = ~c.split
    resident = _sum_by(c.simple[whole] + 1, weights=r_com[whole], minlength=k + 1)[1:]
    delivered = _sum_by(c.simple[whole] + 1, weights=d_com[whole], minlength=k + 1)[1:]
    split_mem = c.split[c.m_com]
    resident += _sum_by(c.m_unit[split_mem], weights=c.m_share[split_mem] * r_com[c.m_com[split_mem]],
                            minlength=k)
    delivered += _sum_by(c.m_unit[split_mem], weights=c.m_share[split_mem] * d_com[c.m_com[split_mem]],
                             minlength=k)
    same = (so == sd) & (so >= 0)
    inside = _sum_by(so[same], weights=c.w[same], minlength=k)
    if touched.any():
        _, _, ou, du, sw = _expand_rows(c, np.flatnonzero(touched))
        hit = (ou == du) & (ou >= 0)
        inside += _sum_by(ou[hit], weights=sw[hit], minlength=k)
    return resident, delivered, inside



def flow_matrix(flows: pd.DataFrame, membership: pd.DataFrame) -> pd.DataFrame:
    """Flows summed between CPTS (and the area outside every CPTS).

    Parameters
    ----------
    flows : DataFrame
        A flow table (``origin``, ``destination``, ``volume``).
    membership : DataFrame
        ``code``, ``cpts_id``, ``share`` (split communes are attributed by share).

    Returns
    -------
    pandas.DataFrame
        ``origin_cpts``, ``destination_cpts`` (a CPTS id or :data:`UNCOVERED`), ``volume``;
        one row per non-empty pair. Its total is the table's total.

    Examples
    --------
    >>> flows = pd.DataFrame({"origin": ["a", "a", "b"], "destination": ["a", "b", "c"],
    ...                       "volume": [6.0, 2.0, 1.0]})
    >>> members = pd.DataFrame({"code": ["a", "b"], "cpts_id": ["X", "Y"], "share": 1.0})
    >>> flow_matrix(flows, members).values.tolist()
    [['X', 'X', 6.0], ['X', 'Y', 2.0], ['Y', 'hors CPTS', 1.0]]
    """
    u = _coded(flows, membership)
    k = len(u.cpts)
    vol = _pair_sums(u)
    nz = np.flatnonzero(vol)
    labels = np.array([UNCOVERED, *u.cpts], dtype=object)
    out = pd.DataFrame({"origin_cpts": labels[nz // (k + 1)],
                        "destination_cpts": labels[nz % (k + 1)], "volume": vol[nz]})
    # CPTS first, in membership order, the uncovered area last
    rank = {lab: i for i, lab in enumerate([*u.cpts, UNCOVERED])}
    return (out.assign(_o=out["origin_cpts"].map(rank), _d=out["destination_cpts"].map(rank))
            .sort_values(["_o", "_d"]).drop(columns=["_o", "_d"]).reset_index(drop=True))



def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)



def cpts_flow_indicators(flows: pd.DataFrame, membership: pd.DataFrame) -> pd.DataFrame:
    """Retention, leakage, attraction and self-containment of each CPTS.

    See the module docstring for the definitions and the treatment of split communes.

    Parameters
    ----------
    flows : DataFrame
        A flow table (``origin``, ``destination``, ``volume``), e.g. from
        :func:`prepare_flows`. Duplicated pairs are simply added.
    membership : DataFrame
        ``code``, ``cpts_id``, ``share``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``cpts_id`` (membership order): ``n_communes``, ``resident_volume``,
        ``inside_volume``, ``outflow_volume``, ``delivered_volume``, ``inflow_volume``,
        ``retention``, ``leakage``, ``attraction``, ``supply_containment``,
        ``self_containment``. Rates are NaN when their denominator is 0. Mask small
        volumes with :func:`mask_secrecy` before publishing.

    Examples
    --------
    >>> flows = pd.DataFrame({"origin": ["a", "a", "b", "c"], "destination": ["a", "c", "a", "c"],
    ...                       "volume": [60.0, 40.0, 50.0, 30.0]})
    >>> members = pd.DataFrame({"code": ["a", "b"], "cpts_id": ["X", "X"], "share": 1.0})
    >>> ind = cpts_flow_indicators(flows, members)
    >>> ind.loc["X", ["resident_volume", "inside_volume", "retention", "leakage"]].tolist()
    [150.0, 110.0, 0.7333333333333333, 0.2666666666666667]
    >>> float(ind.loc["X", "attraction"])
    0.0
    """
    u = _coded(flows, membership)
    k = len(u.cpts)
    resident, delivered, inside = _unit_sums(u)
    # communes per CPTS: distinct (unit, commune) pairs of the membership
    pair = np.unique(u.m_unit.astype(np.int64) * max(len(u.codes), 1) + u.m_com)
    n_communes = np.bincount(pair // max(len(u.codes), 1), minlength=k)
    retention = _safe_div(inside, resident)
    supply = _safe_div(inside, delivered)
    out = pd.DataFrame({
        "n_communes": n_communes,
        "resident_volume": resident,
        "inside_volume": inside,
        "outflow_volume": resident - inside,
        "delivered_volume": delivered,
        "inflow_volume": delivered - inside,
        "retention": retention,
        "leakage": 1 - retention,
        "attraction": _safe_div(delivered - inside, delivered),
        "supply_containment": supply,
        "self_containment": np.fmin(retention, supply) if k else np.array([]),
    }, index=pd.Index(u.cpts.astype(str), name="cpts_id"))
    # rounding noise of split attribution
    out.loc[out["outflow_volume"].abs() < 1e-9 * max(u.total, 1), "outflow_volume"] = 0.0
    out.loc[out["inflow_volume"].abs() < 1e-9 * max(u.total, 1), "inflow_volume"] = 0.0
    return out



def _names_of(communes: pd.DataFrame | None) -> dict:
    """Names of the communes of a layer, and of the municipal arrondissements."""
    if communes is None or "name" not in communes.columns:
        return {}
    names = _arrondissements()["name"].to_dict()
    names.update(zip(communes.index.astype(str), communes["name"]))
    return names



def leakage_destinations(
    flows: pd.DataFrame,
    membership: pd.DataFrame,
    *,
    n: int = 5,
    communes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Where the residents of each CPTS go when they are cared for outside it.

    A destination is another CPTS, or a commune outside every CPTS (uncovered, or outside
    the region).

    Parameters
    ----------
    flows, membership : DataFrame
        As for :func:`cpts_flow_indicators`.
    n : int, default 5
        Number of destinations kept per CPTS (the largest).
    communes : DataFrame, optional
        Commune layer giving the names of destination communes.

    Returns
    -------
    pandas.DataFrame
        ``cpts_id``, ``rank`` (1 = largest), ``destination`` (CPTS id or commune code),
        ``kind`` (``"CPTS"`` or ``"commune hors CPTS"``), ``name``, ``volume``, ``share``
        (of the residents' volume) and ``share_of_leakage`` (of the volume leaving).

    Examples
    --------
    >>> flows = pd.DataFrame({"origin": ["a", "a", "a", "a"], "destination": ["a", "b", "c", "d"],
    ...                       "volume": [50.0, 30.0, 15.0, 5.0]})
    >>> members = pd.DataFrame({"code": ["a", "b"], "cpts_id": ["X", "Y"]})
    >>> leakage_destinations(flows, members)[["destination", "kind", "share", "share_of_leakage"]].values.tolist()
    [['Y', 'CPTS', 0.3, 0.6], ['c', 'commune hors CPTS', 0.15, 0.3], ['d', 'commune hors CPTS', 0.05, 0.1]]
    """
    u = _expand(flows, membership)
    k = len(u.cpts)
    resident = np.bincount(u.o_unit + 1, weights=u.w, minlength=k + 1)[1:]
    leak = (u.o_unit >= 0) & (u.o_unit != u.d_unit)
    dest = np.where(u.d_unit >= 0, u.d_unit, k + u.d_com)[leak]
    frame = pd.DataFrame({"o": u.o_unit[leak], "dest": dest, "volume": u.w[leak]})
    agg = frame.groupby(["o", "dest"], sort=False)["volume"].sum().reset_index()
    agg = agg[agg["volume"] > 0]
    out_total = agg.groupby("o")["volume"].transform("sum")
    agg = agg.assign(_t=out_total)
    labels = np.concatenate([u.cpts.to_numpy(dtype=object), u.codes.to_numpy(dtype=object)])
    agg["destination"] = labels[agg["dest"].to_numpy()]
    agg = agg.sort_values(["o", "volume", "destination"], ascending=[True, False, True])
    agg["rank"] = agg.groupby("o").cumcount() + 1
    agg = agg[agg["rank"] <= n]
    names = _names_of(communes)
    is_cpts = agg["dest"].to_numpy() < k
    out = pd.DataFrame({
        "cpts_id": u.cpts.to_numpy(dtype=object)[agg["o"].to_numpy()],
        "rank": agg["rank"].to_numpy(),
        "destination": agg["destination"].to_numpy(),
        "kind": np.where(is_cpts, "CPTS", "commune hors CPTS"),
        "name": [None if c else names.get(d) for c, d in zip(is_cpts, agg["destination"])],
        "volume": agg["volume"].to_numpy(),
        "share": agg["volume"].to_numpy() / resident[agg["o"].to_numpy()],
        "share_of_leakage": agg["volume"].to_numpy() / agg["_t"].to_numpy(),
    })
    return out.reset_index(drop=True)



def commune_destinations(flows: pd.DataFrame, membership: pd.DataFrame) -> pd.DataFrame:
    """For each commune of residence, the CPTS where most of its residents' care happens.

    Destinations are CPTS or :data:`UNCOVERED` (all communes outside every CPTS together).
    For a split commune, ``cpts_id`` is the CPTS with the largest share and ``own_volume``
    counts flows to any of its CPTS.

    Parameters
    ----------
    flows : DataFrame
        Prepared flows (``origin``, ``destination``, ``volume``; see :func:`prepare_flows`).
    membership : DataFrame
        One row per commune and CPTS (``code``, ``cpts_id``, optionally ``share``), e.g.
        ``CheckedRegistry.membership``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``code`` (every origin of the flows, then member communes without
        flows): ``cpts_id`` (``<NA>`` if uncovered), ``split``, ``resident_volume``,
        ``own_volume``, ``own_share``, ``main_destination``, ``main_volume``, ``main_share``.
        Ties go to the commune's own CPTS, then to the first label in alphabetical order.

    Examples
    --------
    >>> flows = pd.DataFrame({"origin": ["a", "a", "b", "b"], "destination": ["a", "b", "a", "b"],
    ...                       "volume": [30.0, 70.0, 10.0, 90.0]})
    >>> members = pd.DataFrame({"code": ["a", "b"], "cpts_id": ["X", "Y"]})
    >>> commune_destinations(flows, members)[["cpts_id", "main_destination", "main_share"]].values.tolist()
    [['X', 'Y', 0.7], ['Y', 'Y', 0.9]]
    """
    return _commune_destinations(_expand(flows, membership), _check_membership(membership))



def _label_ranks(labels: ArrayLike) -> np.ndarray:
    """The rank of each label in text order (to sort on integers as on the labels)."""
    values = np.asarray(labels, dtype=object)
    rank = np.empty(len(values), dtype=np.int64)
    rank[np.argsort(values, kind="stable")] = np.arange(len(values))
    return rank



def _commune_destinations(u: _Units, mem: pd.DataFrame) -> pd.DataFrame:
    """:func:`commune_destinations` on flows already expanded (integer keys, no text per row)."""
    k = len(u.cpts)
    main_of = (mem.sort_values("share", ascending=False, kind="stable")
               .drop_duplicates("code").set_index("code")["cpts_id"])
    n_of = mem.groupby("code")["cpts_id"].size()
    # (commune, destination unit) pairs as one integer: one group-by key, groups in order of
    # first appearance, each summed in the order of the rows (as a group-by of both columns)
    pair = u.o_com.astype(np.int64) * (k + 2) + (u.d_unit + 1)
    agg = pd.Series(u.w).groupby(pair, sort=False).sum()
    key = agg.index.to_numpy()
    c, d = key // (k + 2), key % (k + 2) - 1
    agg = pd.DataFrame({"c": c, "d": d, "w": agg.to_numpy()})
    total = agg.groupby("c")["w"].sum()
    # own volume: to any CPTS the commune belongs to
    mem_com = u.codes.get_indexer(mem["code"].to_numpy(dtype=object))
    mem_unit = u.cpts.get_indexer(mem["cpts_id"].to_numpy(dtype=object))
    mem_key = mem_com.astype(np.int64) * (k + 2) + (mem_unit + 1)
    own_mask = np.isin(key, mem_key[(mem_com >= 0) & (mem_unit >= 0)])
    own = agg[own_mask].groupby("c")["w"].sum()
    labels = np.array([*u.cpts, UNCOVERED], dtype=object)
    label_of = np.where(d >= 0, d, k)
    agg["label"] = labels[label_of]
    agg["rank"] = _label_ranks(labels)[label_of]  # ties: the first label in text order
    agg["own"] = own_mask
    best = (agg.sort_values(["c", "w", "own", "rank"], ascending=[True, False, False, True])
            .drop_duplicates("c").set_index("c"))
    origins = pd.unique(u.o_com)
    seen = set(u.codes[origins])
    codes = list(u.codes[origins]) + [c for c in main_of.index if c not in seen]
    idx = u.codes.get_indexer(codes)
    resident = total.reindex(idx).fillna(0.0).to_numpy()
    own_v = own.reindex(idx).fillna(0.0).to_numpy()
    out = pd.DataFrame({
        "cpts_id": pd.array(main_of.reindex(codes).to_numpy(), dtype="string"),
        "split": n_of.reindex(codes).fillna(0).to_numpy() > 1,
        "resident_volume": resident,
        "own_volume": np.where(main_of.reindex(codes).isna().to_numpy(), np.nan, own_v),
        "main_destination": best["label"].reindex(idx).to_numpy(),
        "main_volume": best["w"].reindex(idx).to_numpy(),
    }, index=pd.Index(codes, name="code", dtype=CODE_DTYPE))
    # uncovered communes: their "own" area is the uncovered one
    out["own_share"] = _safe_div(out["own_volume"].to_numpy(), resident)
    out["main_share"] = _safe_div(out["main_volume"].fillna(0).to_numpy(), resident)
    out.loc[resident == 0, "main_volume"] = np.nan
    return out[["cpts_id", "split", "resident_volume", "own_volume", "own_share",
                "main_destination", "main_volume", "main_share"]]



def _treated_elsewhere(dest: pd.DataFrame, mem: pd.DataFrame, min_share: float) -> pd.DataFrame:
    """The rows of ``dest`` of member communes whose residents mostly go to another CPTS (not
    one of their own) with at least ``min_share`` of their volume."""
    own_pairs = set(zip(mem["code"].to_numpy(dtype=object), mem["cpts_id"].to_numpy(dtype=object)))
    member = dest[dest["cpts_id"].notna()]
    other = member[(member["main_destination"] != member["cpts_id"])
                   & (member["main_destination"] != UNCOVERED)
                   & member["main_destination"].notna()
                   & (member["main_share"] >= min_share)]
    other_codes = other.index.to_numpy(dtype=object)
    other_dest = other["main_destination"].to_numpy(dtype=object)
    return other[np.fromiter(((c, d) not in own_pairs for c, d in zip(other_codes, other_dest)), dtype=bool,
                             count=len(other))]



def _adjacent_cpts(communes: pd.DataFrame, asked: pd.Index, mem: pd.DataFrame,
                   u: _Units) -> tuple[set[tuple[object, object]], np.ndarray]:
    """The CPTS adjacent to each commune ``asked`` (a member shares a border or a point with
    it): as ``(code, cpts_id)`` pairs, and as integer keys (commune position in ``u.codes``
    times the number of CPTS, plus the CPTS position in ``u.cpts``)."""
    k = len(u.cpts)
    pairs = adjacency(communes, codes=asked)
    pairs = pairs.merge(mem[["code", "cpts_id"]].rename(columns={"code": "neighbour", "cpts_id": "cpts"}),
                        on="neighbour")[["code", "cpts"]].drop_duplicates()
    pair_codes, pair_cpts = pairs["code"].to_numpy(dtype=object), pairs["cpts"].to_numpy(dtype=object)
    # the same pairs as integers (commune in u.codes, CPTS in u.cpts)
    pair_com, pair_unit = u.codes.get_indexer(pair_codes), u.cpts.get_indexer(pair_cpts)
    adjacent_keys = (pair_com.astype(np.int64) * max(k, 1) + pair_unit)[(pair_com >= 0) & (pair_unit >= 0)]
    return set(zip(pair_codes, pair_cpts)), adjacent_keys



def _largest_adjacent(u: _Units, uncovered: pd.Index, adjacent_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each uncovered commune, the adjacent CPTS receiving the largest volume of its
    residents (ties: the first in text order) and that volume; ``None`` and NaN without one."""
    k = len(u.cpts)
    # volume from each uncovered commune to each CPTS (summed in the order of the rows, as a
    # group-by of the text codes would)
    n_codes = len(u.codes)
    is_uncovered = np.zeros(n_codes + 1, dtype=bool)
    pos = u.codes.get_indexer(uncovered)
    is_uncovered[pos[pos >= 0]] = True
    rows = np.flatnonzero(is_uncovered[u.o_com] & (u.d_unit >= 0))
    key = u.o_com[rows].astype(np.int64) * k + u.d_unit[rows]
    to_cpts = pd.Series(u.w[rows]).groupby(key).sum()
    near = np.isin(to_cpts.index.to_numpy(), adjacent_keys) & (to_cpts.to_numpy() > 0)
    to_cpts = to_cpts[near]
    cand = pd.DataFrame({"com": to_cpts.index.to_numpy() // max(k, 1), "unit": to_cpts.index.to_numpy() % max(k, 1),
                         "w": to_cpts.to_numpy()})
    cand["code"] = u.codes.to_numpy(dtype=object)[cand["com"].to_numpy()]
    cand["cpts"] = u.cpts.to_numpy(dtype=object)[cand["unit"].to_numpy()]
    cand = cand.assign(rank=_label_ranks(u.cpts)[cand["unit"].to_numpy()])
    # the largest volume; ties: the first CPTS in text order
    best = (cand.sort_values(["com", "w", "rank"], ascending=[True, False, True], kind="stable")
            .drop_duplicates("com").set_index("code"))
    return best["cpts"].reindex(uncovered).to_numpy(dtype=object), best["w"].reindex(uncovered).to_numpy(dtype=float)



def coherence_flags(
    flows: pd.DataFrame,
    membership: pd.DataFrame,
    communes: pd.DataFrame,
    *,
    min_share: float = 0.0,
) -> pd.DataFrame:
    """Communes whose flows do not match the CPTS map: suggestions, never applied.

    Two cases are flagged:

    - a **member commune whose residents mostly go to another CPTS** (the main destination
      of its residents' volume is a CPTS other than its own, with at least ``min_share`` of
      the volume); the suggestion is that CPTS;
    - an **uncovered commune** of ``communes`` (in no CPTS): the suggestion is the
      *adjacent* CPTS (one of its members shares a border with the commune) that receives the
      largest volume of its residents. Uncovered communes without flows to an adjacent CPTS
      are listed too, without suggestion, so that no zone blanche is forgotten.

    Parameters
    ----------
    flows, membership : DataFrame
        As for :func:`cpts_flow_indicators`.
    communes : GeoDataFrame
        The commune layer of the area studied (names, borders); it should also hold the
        member communes adjacent to it. Paris, Lyon and Marseille are replaced by their
        municipal arrondissements when the membership uses them
        (:func:`commune_units`).
    min_share : float, default 0
        Flag a member commune only if its main destination takes at least this share.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``code``: ``name``, ``cpts_id``, ``flag`` (French text),
        ``resident_volume``, ``own_volume``, ``own_share``, ``main_destination``,
        ``main_volume``, ``main_share``, ``suggested_cpts``, ``suggested_volume``,
        ``suggested_share``, ``suggested_adjacent``. Every share comes with the volume it is
        computed on, so that :func:`mask_secrecy` masks both.

    Examples
    --------
    >>> from cpts_geo.domain.communes import load_communes
    >>> layer = load_communes(departments="61").loc[["61001", "61143", "61497"]]
    >>> flows = pd.DataFrame({"origin": ["61143", "61143", "61497"],
    ...                       "destination": ["61001", "61143", "61001"],
    ...                       "volume": [80.0, 20.0, 50.0]})
    >>> members = pd.DataFrame({"code": ["61001", "61143"], "cpts_id": ["A", "B"]})
    >>> coherence_flags(flows, members, layer)[["flag", "suggested_cpts"]].values.tolist()
    [['résidents soignés surtout dans une autre CPTS', 'A'], ['commune non couverte : rattachement suggéré', 'A']]
    """
    u = _expand(flows, membership)  # once for the destinations and the volumes to each CPTS
    mem = _check_membership(membership)
    dest = _commune_destinations(u, mem)
    communes = commune_units(communes, mem["code"])
    names = _names_of(communes)
    layer_codes = pd.Index(communes.index.astype(str).to_numpy(dtype=object), dtype=object)
    member_codes = pd.Index(mem["code"].to_numpy(dtype=object), dtype=object)
    other = _treated_elsewhere(dest, mem, min_share)
    uncovered = layer_codes[~layer_codes.isin(member_codes)]
    # the CPTS adjacent to each commune asked about (a member of it shares a border or a point)
    asked = uncovered.union(pd.Index(other.index.to_numpy(dtype=object), dtype=object), sort=False)
    adjacent_pairs, adjacent_keys = _adjacent_cpts(communes, asked, mem, u)
    with_neighbour = {c for c, _ in adjacent_pairs}
    best_cpts, best_volume = _largest_adjacent(u, uncovered, adjacent_keys)
    suggested = pd.notna(best_cpts)
    has_near = np.fromiter((c in with_neighbour for c in uncovered), dtype=bool, count=len(uncovered))
    flag = np.where(suggested, "commune non couverte : rattachement suggéré",
                    np.where(has_near, "commune non couverte, aucun flux vers une CPTS limitrophe",
                             "commune non couverte, sans CPTS limitrophe"))
    out = pd.DataFrame({
        "code": np.concatenate([other.index.to_numpy(dtype=object), uncovered.to_numpy(dtype=object)]),
        "cpts_id": np.concatenate([other["cpts_id"].to_numpy(dtype=object),
                                   np.full(len(uncovered), None, dtype=object)]),
        "flag": np.concatenate([np.full(len(other), "résidents soignés surtout dans une autre CPTS",
                                        dtype=object), flag.astype(object)]),
        "suggested_cpts": np.concatenate([other["main_destination"].to_numpy(dtype=object),
                                          np.where(suggested, best_cpts, np.array(None, dtype=object))]),
        "suggested_volume": np.concatenate([other["main_volume"].to_numpy(dtype=float),
                                            np.where(suggested, best_volume, np.nan)]),
    }, columns=["code", "cpts_id", "flag", "suggested_cpts", "suggested_volume"]).set_index("code")
    out.index = as_codes(out.index)
    d = dest.reindex(out.index)
    out["name"] = [names.get(c) for c in out.index]
    out["resident_volume"] = d["resident_volume"].fillna(0.0).to_numpy()
    out["own_volume"] = d["own_volume"].to_numpy()
    out["own_share"] = d["own_share"].to_numpy()
    out["main_destination"] = d["main_destination"].to_numpy()
    out["main_volume"] = d["main_volume"].to_numpy()
    out["main_share"] = d["main_share"].to_numpy()
    out["suggested_share"] = _safe_div(out["suggested_volume"].to_numpy(dtype=float),
                                       out["resident_volume"].to_numpy())
    out["suggested_adjacent"] = [
        ((c, s) in adjacent_pairs) if isinstance(s, str) else pd.NA
        for c, s in zip(out.index, out["suggested_cpts"])]
    out["cpts_id"] = out["cpts_id"].astype("string")
    out["suggested_cpts"] = out["suggested_cpts"].astype("string")
    return out[["name", "cpts_id", "flag", "resident_volume", "own_volume", "own_share",
                "main_destination", "main_volume", "main_share", "suggested_cpts",
                "suggested_volume", "suggested_share", "suggested_adjacent"]]
