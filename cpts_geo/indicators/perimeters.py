"""Perimeter proposals from patient flows (Coombes–Bond style), and their diff with the map.

"Le territoire pertinent d'une CPTS est avant tout le territoire vécu" (guide, fiche 4).
:func:`propose_perimeters` groups communes into contiguous areas that keep most of their
residents' care inside, following the validity rule used to draw travel-to-work areas
(Coombes and Bond for the ONS; the LabourMarketAreas method of Eurostat and Istat):

**Validity.** An area has a self-containment *SC* = min(*I/R*, *I/D*) (inside volume over
residents' volume, and over the volume delivered in the area) and a size *S* (population by
default). Four parameters draw a trade-off line between (``target_size``, ``min_sc``) and
(``min_size``, ``target_sc``): an area is valid when *S* ≥ ``min_size`` and

    *SC* ≥ required(*S*) = ``target_sc`` − (``target_sc`` − ``min_sc``) ×
    clip((*S* − ``min_size``) / (``target_size`` − ``min_size``), 0, 1)

so a small area needs the target self-containment, a large one the minimum. The **validity
score** is min(*SC* / required(*S*), *S* / ``min_size``): 1 or more means valid.

**Greedy grouping.** Every commune starts as its own area. The least valid area is
repeatedly dissolved into the adjacent area (shared border in the commune coverage) with
which it has the strongest flow link, *T_ab² / (R_a·D_b) + T_ba² / (R_b·D_a)* (the
Coombes link; *T_ab* = volume from residents of *a* cared for in *b*). When no flow links it
to a neighbour, it joins the neighbour of largest size. An area with no neighbour left
(an island, a pocket enclosed by existing CPTS) stays as it is, marked invalid. Ties are
broken by commune code, so the result is reproducible.

The output is a *registry* (``cpts_id``, ``cpts_name``, ``stage``, ``commune_code``,
``commune_name``, ``share``) that :mod:`cpts_geo.domain.registry` and :mod:`cpts_geo.domain.territories`
read, with the stage "Dynamique identifiée". Proposals are suggestions for discussion with
the professionals; nothing is applied to the current map.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from cpts_geo.domain.communes import adjacency
from cpts_geo.errors import CptsGeoWarning
from cpts_geo.indicators.flows.prepare import commune_units

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "Proposal",
    "compare_perimeters",
    "propose_perimeters",
    "validity",
]

PROPOSAL_STAGE = "Dynamique identifiée"


_REGISTRY_COLUMNS = ["cpts_id", "cpts_name", "stage", "commune_code", "commune_name", "share"]



class Proposal(NamedTuple):
    """Result of :func:`propose_perimeters`."""

    #: One row per (proposed area, commune), standard registry columns.
    registry: pd.DataFrame
    #: One row per proposed area, indexed by ``cpts_id``: ``name``, ``n_communes``, ``size``,
    #: ``resident_volume``, ``inside_volume``, ``delivered_volume``, ``demand_sc``,
    #: ``supply_sc``, ``self_containment``, ``validity``, ``valid``, ``note``.
    areas: pd.DataFrame



def _check_params(min_sc: float, target_sc: float, min_size: float, target_size: float) -> None:
    problems = []
    if not 0 < min_sc <= target_sc <= 1:
        problems.append(f"il faut 0 < min_sc ≤ target_sc ≤ 1 (reçu {min_sc}, {target_sc})")
    if not 0 < min_size <= target_size:
        problems.append(f"il faut 0 < min_size ≤ target_size (reçu {min_size}, {target_size})")
    if problems:
        raise ValueError("Paramètres de validité incohérents : " + " ; ".join(problems)
                         + ". Valeurs usuelles : min_sc 0,6–0,7, target_sc 0,75–0,9.")



def validity(
    self_containment: npt.ArrayLike,
    size: npt.ArrayLike,
    *,
    min_sc: float = 0.6,
    target_sc: float = 0.75,
    min_size: float = 10_000,
    target_size: float = 40_000,
) -> np.ndarray:
    """Coombes–Bond validity score of areas (1 or more: valid). See the module docstring.

    Parameters
    ----------
    self_containment : array-like of float
        The self-containment *SC* of each area, 0 to 1 (see the module docstring).
    size : array-like of float
        The size *S* of each area (population by default).
    min_sc, target_sc : float, default 0.6 and 0.75
        Self-containment required at ``target_size`` and at ``min_size``: the requirement falls
        linearly from ``target_sc`` to ``min_sc`` as the size grows.
    min_size, target_size : float, default 10 000 and 40 000
        Below ``min_size`` an area cannot be valid; from ``target_size`` on, ``min_sc`` suffices.

    Returns
    -------
    numpy.ndarray
        The score of each area: the smaller of self-containment over its requirement and size
        over ``min_size``.

    Examples
    --------
    >>> validity([0.75, 0.6, 0.6, 0.9], [10_000, 40_000, 10_000, 5_000]).round(3).tolist()
    [1.0, 1.0, 0.8, 0.5]
    """
    _check_params(min_sc, target_sc, min_size, target_size)
    sc = np.asarray(self_containment, dtype="float64")
    size = np.asarray(size, dtype="float64")
    span = target_size - min_size
    t = np.clip((size - min_size) / span, 0, 1) if span > 0 else (size >= min_size).astype(float)
    required = target_sc - (target_sc - min_sc) * t
    return np.minimum(np.nan_to_num(sc) / required, size / min_size)



def _main_cpts(table: pd.DataFrame) -> pd.Series:
    """``code → cpts_id`` from a registry or a membership (largest share for split communes)."""
    code = "commune_code" if "commune_code" in table.columns else "code"
    if code not in table.columns or "cpts_id" not in table.columns:
        raise ValueError("Attendu un registre (commune_code, cpts_id) ou une table "
                         "d'appartenance (code, cpts_id) ; colonnes reçues : "
                         + ", ".join(map(str, table.columns)))
    share = (pd.to_numeric(table["share"], errors="coerce").fillna(1.0)
             if "share" in table.columns else pd.Series(1.0, index=table.index))
    frame = pd.DataFrame({"code": table[code].astype(str).to_numpy(),
                          "cpts_id": table["cpts_id"].astype(str).to_numpy(),
                          "share": share.to_numpy()})
    frame = frame.sort_values("share", ascending=False, kind="stable").drop_duplicates("code")
    return frame.set_index("code")["cpts_id"]



def propose_perimeters(
    flows: pd.DataFrame,
    communes: gpd.GeoDataFrame,
    *,
    membership: pd.DataFrame | None = None,
    codes: Iterable[str] | None = None,
    overlap: bool = False,
    min_sc: float = 0.6,
    target_sc: float = 0.75,
    min_size: float = 10_000,
    target_size: float = 40_000,
    size: str = "population",
    prefix: str = "PROP-",
) -> Proposal:
    """Group communes into contiguous areas that meet self-containment and size thresholds.

    Parameters
    ----------
    flows : DataFrame
        A flow table on today's codes (``origin``, ``destination``, ``volume``), e.g. from
        :func:`cpts_geo.indicators.flows.prepare.prepare_flows`. Flows to or from communes outside the studied
        area count as leaving it or coming into it.
    communes : GeoDataFrame
        Commune layer of the area to divide (e.g. one department), with ``name``,
        ``population`` and polygons forming a coverage (neighbours share borders). Paris,
        Lyon and Marseille are divided by municipal arrondissement when the flows or the
        membership use them (:func:`cpts_geo.indicators.flows.prepare.commune_units`).
    membership : DataFrame, optional
        Current CPTS (``code``, ``cpts_id``, ``share``); their communes are left out of the
        proposals unless ``overlap=True``. Without it every commune is grouped.
    codes : iterable of str, optional
        Restrict the proposals to these communes (e.g. the uncovered ones).
    overlap : bool, default False
        Also group communes already in a CPTS.
    min_sc, target_sc : float, default 0.6, 0.75
        Minimum and target self-containment (typical values 0.6–0.7 and 0.75–0.9).
    min_size, target_size : float, default 10 000 and 40 000
        Minimum and target size (inhabitants; tier 1 of CPTS is < 40 000). Choose them with
        the ARS: they are not set by the texts.
    size : {"population", "volume"}, default "population"
        Size measure: population municipale of the layer, or the residents' flow volume.
    prefix : str, default "PROP-"
        Prefix of the proposed identifiers (``PROP-001``…).

    Returns
    -------
    Proposal
        ``registry`` (stage "Dynamique identifiée", ``share`` empty: whole communes) and
        ``areas`` (indicators and validity of each proposed area).

    Examples
    --------
    >>> from cpts_geo.domain.communes import load_communes
    >>> layer = load_communes(departments="61").loc[["61001", "61143", "61497", "61117"]]
    >>> flows = pd.DataFrame({"origin": ["61001", "61143", "61497", "61117"],
    ...                       "destination": ["61001", "61001", "61001", "61001"],
    ...                       "volume": [100.0, 50.0, 30.0, 20.0]})
    >>> result = propose_perimeters(flows, layer, min_size=1_000, target_size=5_000)
    >>> result.registry["cpts_id"].unique().tolist(), bool(result.areas["valid"].all())
    (['PROP-001'], True)
    """
    _check_params(min_sc, target_sc, min_size, target_size)
    if size not in ("population", "volume"):
        raise ValueError(f"size doit valoir 'population' ou 'volume', pas {size!r}.")
    layer = _scope(flows, communes, membership, codes, overlap)
    codes_in = pd.Index(layer.index.astype(str))
    n = len(codes_in)
    vol = flows["volume"].to_numpy(dtype="float64")
    o = codes_in.get_indexer(flows["origin"].astype(str))
    d = codes_in.get_indexer(flows["destination"].astype(str))
    resident = np.bincount(o[o >= 0], weights=vol[o >= 0], minlength=n)
    delivered = np.bincount(d[d >= 0], weights=vol[d >= 0], minlength=n)
    both = (o >= 0) & (d >= 0)
    T = np.zeros((n, n))
    np.add.at(T, (o[both], d[both]), vol[both])
    if size == "population":
        pop = layer["population"].astype("Float64")
        if pop.isna().any():
            warnings.warn(
                f"{int(pop.isna().sum())} commune(s) sans population comptée(s) pour 0 : "
                + ", ".join(codes_in[pop.isna().to_numpy()][:10]), CptsGeoWarning, stacklevel=2)
        sizes = pop.fillna(0).to_numpy(dtype="float64")
    else:
        sizes = resident.copy()
    pairs = adjacency(layer)
    A = np.zeros((n, n), dtype=bool)
    A[codes_in.get_indexer(pairs["code"]), codes_in.get_indexer(pairs["neighbour"])] = True
    g = _Groups(T, resident, delivered, sizes, A, np.arange(n), np.ones(n, dtype=bool), np.zeros(n))
    _group(g, {"min_sc": min_sc, "target_sc": target_sc, "min_size": min_size, "target_size": target_size})

    # number areas in the order of their first commune code
    roots = pd.unique(g.label)
    order = {root: i + 1 for i, root in enumerate(roots)}
    ids = np.array([f"{prefix}{order[r]:03d}" for r in g.label], dtype=object)
    names = layer["name"].astype(str).to_numpy() if "name" in layer.columns else codes_in.to_numpy()
    pop_order = np.argsort(-np.nan_to_num(layer["population"].astype("Float64")
                                          .fillna(0).to_numpy(dtype="float64")), kind="stable")
    main_name: dict[Any, str] = {}
    for i in pop_order:
        main_name.setdefault(g.label[i], names[i])
    area_names = [f"Proposition {order[r]} ({main_name[r]})" for r in g.label]
    registry = pd.DataFrame({
        "cpts_id": ids, "cpts_name": area_names, "stage": PROPOSAL_STAGE,
        "commune_code": codes_in.to_numpy(), "commune_name": names, "share": np.nan,
    }).sort_values(["cpts_id", "commune_code"], kind="stable").reset_index(drop=True)
    areas = _areas(g, roots, order, main_name, prefix)
    bad = areas[~areas["valid"]]
    if len(bad):
        warnings.warn(
            f"{len(bad)} zone(s) proposée(s) ne respectent pas les seuils d'autonomie et de "
            "taille (" + ", ".join(bad.index[:10]) + ") : voir la colonne note.", CptsGeoWarning, stacklevel=2)
    return Proposal(registry[_REGISTRY_COLUMNS], areas)



def _scope(flows: pd.DataFrame, communes: gpd.GeoDataFrame, membership: pd.DataFrame | None,
           codes: Iterable[str] | None, overlap: bool) -> gpd.GeoDataFrame:
    """The communes (or arrondissements) to group: those of ``codes`` (default all), without the
    communes of ``membership`` unless ``overlap``."""
    used = [flows["origin"].to_numpy(dtype=object), flows["destination"].to_numpy(dtype=object)]
    if membership is not None:
        used.append(membership["code"].to_numpy(dtype=object))
    communes = commune_units(communes, pd.unique(np.concatenate(used)))
    index = communes.index.astype(str)
    scope = np.ones(len(index), dtype=bool)
    if codes is not None:
        wanted = pd.Index([str(c) for c in codes])
        absent = wanted.difference(index)
        if len(absent):
            raise ValueError("codes : communes absentes de la couche : "
                             + ", ".join(absent[:20]) + (" …" if len(absent) > 20 else ""))
        scope &= index.isin(wanted)
    if membership is not None and not overlap:
        scope &= ~index.isin(membership["code"].astype(str))
    if not scope.any():
        raise ValueError("Aucune commune à regrouper : toutes sont déjà dans une CPTS "
                         "(passez overlap=True pour les regrouper quand même).")
    return communes[scope]



@dataclass
class _Groups:
    """Areas being grouped, changed in place by :func:`_group`: flows between areas (``T``),
    residents' and delivered volumes, sizes, adjacency (``A``), the area of each commune
    (``label``), the areas left (``alive``) and their validity scores."""

    T: np.ndarray
    resident: np.ndarray
    delivered: np.ndarray
    sizes: np.ndarray
    A: np.ndarray
    label: np.ndarray
    alive: np.ndarray
    scores: np.ndarray

    def score(self, i: int, params: Mapping[str, float]) -> float:
        """The validity of area ``i`` (see :func:`validity`)."""
        inside = self.T[i, i]
        sc = min(inside / self.resident[i] if self.resident[i] > 0 else 0.0,
                 inside / self.delivered[i] if self.delivered[i] > 0 else 0.0)
        return validity([sc], [self.sizes[i]], **params)[0]



def _group(g: _Groups, params: Mapping[str, float]) -> None:
    """Merge the least valid area with its most linked neighbour until every area is valid or
    has no neighbour left (a stuck area has no live neighbour and cannot gain one)."""
    T, A = g.T, g.A
    stuck = np.zeros(len(g.label), dtype=bool)
    g.scores = np.array([g.score(i, params) for i in range(len(g.label))])
    while True:
        cand = g.alive & ~stuck & (g.scores < 1)
        if not cand.any():
            break
        masked = np.where(cand, g.scores, np.inf)
        a = int(np.argmin(masked))  # ties: first code in order
        nb = np.flatnonzero(A[a] & g.alive)
        nb = nb[nb != a]
        if len(nb) == 0:
            stuck[a] = True
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            link = (np.nan_to_num(T[a, nb] ** 2 / (g.resident[a] * g.delivered[nb]))
                    + np.nan_to_num(T[nb, a] ** 2 / (g.resident[nb] * g.delivered[a])))
        b = int(nb[np.argmax(link)]) if link.max() > 0 else int(nb[np.argmax(g.sizes[nb])])
        T[b, :] += T[a, :]
        T[:, b] += T[:, a]
        T[a, :] = 0
        T[:, a] = 0
        g.resident[b] += g.resident[a]
        g.delivered[b] += g.delivered[a]
        g.sizes[b] += g.sizes[a]
        A[b] |= A[a]
        A[:, b] |= A[:, a]
        A[b, b] = False
        A[a] = False
        A[:, a] = False
        g.alive[a] = False
        g.label[g.label == a] = b
        g.scores[b] = g.score(b, params)
        g.scores[a] = np.inf



def _areas(g: _Groups, roots: np.ndarray, order: Mapping[Any, int], main_name: Mapping[Any, str],
           prefix: str) -> pd.DataFrame:
    """One row per proposed area, indexed by ``cpts_id``: its volumes, self-containment and validity."""
    T, A = g.T, g.A
    rows = []
    for root in roots:
        inside = T[root, root]
        dem = inside / g.resident[root] if g.resident[root] > 0 else np.nan
        sup = inside / g.delivered[root] if g.delivered[root] > 0 else np.nan
        v = g.scores[root]
        note = ""
        if v < 1:
            note = ("sans voisine pour se regrouper (île ou poche entourée de CPTS)"
                    if not (A[root] & g.alive).any() else "non valide")
        rows.append({"cpts_id": f"{prefix}{order[root]:03d}",
                     "name": f"Proposition {order[root]} ({main_name[root]})",
                     "n_communes": int((g.label == root).sum()), "size": g.sizes[root],
                     "resident_volume": g.resident[root], "inside_volume": inside,
                     "delivered_volume": g.delivered[root], "demand_sc": dem, "supply_sc": sup,
                     "self_containment": np.fmin(dem, sup), "validity": v,
                     "valid": bool(v >= 1), "note": note})
    return pd.DataFrame(rows).set_index("cpts_id")



def compare_perimeters(
    proposed: pd.DataFrame,
    current: pd.DataFrame,
    *,
    communes: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Compare proposed perimeters with the current CPTS map.

    Each proposed area is matched with the current CPTS sharing the most communes with it.

    Parameters
    ----------
    proposed, current : DataFrame
        Registries (``commune_code``, ``cpts_id``) or memberships (``code``, ``cpts_id``);
        a split commune counts for its largest share.
    communes : DataFrame, optional
        Commune layer for names.

    Returns
    -------
    changes : DataFrame
        Indexed by ``code`` (every commune of either map): ``name``, ``current_cpts``,
        ``proposed_cpts``, ``matched_cpts`` (the current CPTS matched with the proposed
        area), ``change`` (French: ``"non couverte → proposée"``, ``"inchangée"``,
        ``"changement de CPTS"``, ``"hors proposition"``).
    matches : DataFrame
        Indexed by proposed ``cpts_id``: ``n_communes``, ``matched_cpts``,
        ``shared_communes``, ``jaccard`` (shared / union of the two sets of communes).

    Examples
    --------
    >>> proposed = pd.DataFrame({"commune_code": ["a", "b", "c"], "cpts_id": ["P1", "P1", "P1"]})
    >>> current = pd.DataFrame({"code": ["a", "b", "d"], "cpts_id": ["X", "X", "Y"]})
    >>> changes, matches = compare_perimeters(proposed, current)
    >>> changes["change"].tolist()
    ['inchangée', 'inchangée', 'non couverte → proposée', 'hors proposition']
    >>> float(matches.loc["P1", "jaccard"])
    0.6666666666666666
    """
    prop = _main_cpts(proposed)
    cur = _main_cpts(current)
    codes = prop.index.union(cur.index, sort=False)
    codes = pd.Index(sorted(codes))
    frame = pd.DataFrame({"current_cpts": cur.reindex(codes).to_numpy(),
                          "proposed_cpts": prop.reindex(codes).to_numpy()},
                         index=pd.Index(codes, name="code"))
    both = frame.dropna()
    counts = both.groupby(["proposed_cpts", "current_cpts"]).size().rename("shared").reset_index()
    counts = counts.sort_values(["proposed_cpts", "shared", "current_cpts"],
                                ascending=[True, False, True])
    best = counts.drop_duplicates("proposed_cpts").set_index("proposed_cpts")
    size_prop = prop.value_counts()
    size_cur = cur.value_counts()
    match_rows = []
    for pid in sorted(prop.unique()):
        if pid in best.index:
            cid, shared = best.at[pid, "current_cpts"], int(best.at[pid, "shared"])
            jac = shared / (size_prop[pid] + size_cur[cid] - shared)
        else:
            cid, shared, jac = None, 0, 0.0
        match_rows.append({"cpts_id": pid, "n_communes": int(size_prop[pid]),
                           "matched_cpts": cid, "shared_communes": shared, "jaccard": jac})
    matches = pd.DataFrame(match_rows).set_index("cpts_id")
    frame["matched_cpts"] = frame["proposed_cpts"].map(matches["matched_cpts"])
    change = np.where(
        frame["proposed_cpts"].isna(), "hors proposition",
        np.where(frame["current_cpts"].isna(), "non couverte → proposée",
                 np.where(frame["current_cpts"] == frame["matched_cpts"], "inchangée",
                          "changement de CPTS")))
    frame["change"] = change
    names = (dict(zip(communes.index.astype(str), communes["name"]))
             if communes is not None and "name" in communes.columns else {})
    frame.insert(0, "name", [names.get(c) for c in frame.index])
    return frame, matches
