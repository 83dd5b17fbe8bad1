"""Density of professionals: per 10 000 inhabitants, per profession, per commune or per CPTS.

Each unit (a commune, or a CPTS through its membership table) is shown next to its
department, its region and France, with the number of its communes that have none of the
profession. A CPTS that crosses borders is compared with the department (and region) holding
most of its population. A unit without inhabitants has no density (``NaN``, never an
infinite one); a commune of unknown population is left out of the population sums and
announced by a warning.

Which population where: a unit's density uses the caller's ``communes`` (its ``population``,
and its ``department`` and ``region`` when it has them); the references (department, region,
France) are computed on the supply table *as given* and on a reference commune layer with its
own population (all of France, embedded, population municipale 2021, by default). When a commune's
population differs between the two layers, a warning says so: give ``reference=`` with the
same populations to compare at the same vintage. Give the national supply table for a France
reference (a warning says when the supply covers few departments of the reference layer).
The supply goes through :func:`cpts_geo.indicators.supply.supply_on_layer`, which checks
profession names and counts.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from cpts_geo.domain.codes import as_codes, is_in
from cpts_geo.domain.french import number
from cpts_geo.domain.metadata import layer_metadata
from cpts_geo.domain.vocabulary import DENSITY_HEADERS
from cpts_geo.errors import CptsGeoWarning, ValidationError

__all__ = [
    "PER",
    "CptsSupply",
    "DensityResult",
    "accessibility_header",
    "cpts_supply",
    "cpts_supply_notes",
    "cpts_supply_table",
    "density",
    "density_table",
]

if TYPE_CHECKING:
    from cpts_geo.indicators.accessibility import CommuneAccessibility, TerritoryAccessibility
    from cpts_geo.indicators.supply import SupplyRead


#: Inhabitants per unit of density by default (densities per 10 000 inhabitants).
PER = 10_000





class DensityResult(NamedTuple):
    """The densities of :func:`density` with what the computation met.

    Examples
    --------
    >>> from cpts_geo.domain.communes import load_communes
    >>> somme = load_communes(departments="80", crs=None)
    >>> counts = pd.DataFrame({"infirmier": [40.0]}, index=pd.Index(["80021"], name="code"))
    >>> result = density(counts, somme, reference=somme)
    >>> result.per, result.unknown_population, result.partial_reference
    (10000, [], None)
    """

    #: Indexed by (``code`` or ``cpts_id``, ``profession``): ``count``, ``population``,
    #: ``density``, ``n_communes``, ``n_communes_without``, ``department``,
    #: ``department_density``, ``region``, ``region_density``, ``france_density``.
    table: pd.DataFrame
    #: Inhabitants per unit of density.
    per: float
    #: Population vintage of ``communes`` (the units), when the layer states it.
    population_vintage: Any
    #: Population vintage of the reference layer, when it states it.
    reference_population_vintage: Any
    #: Communes of the units without population: out of the population sums.
    unknown_population: list[str]
    #: Communes of the reference layer without population: out of the reference populations.
    reference_unknown_population: list[str]
    #: Communes whose population differs between ``communes`` and the reference layer.
    population_differs: list[str]
    #: ``(departments with supply, departments of the reference)`` when the supply covers few
    #: of them (the France and region references are then underestimated), else ``None``.
    partial_reference: tuple[int, int] | None
    #: Units without inhabitants: no density (NaN).
    without_population: list[str]



def _ratio(count: npt.ArrayLike, population: npt.ArrayLike, per: float) -> np.ndarray:
    count = np.asarray(count, dtype="float64")
    population = np.asarray(population, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(population > 0, per * count / np.where(population > 0, population, 1.0),
                        np.nan)



def _unit_members(membership: pd.DataFrame | None, codes: pd.Index) -> tuple[pd.DataFrame, str]:
    """The communes of each unit (``code``, ``unit``, ``share``) and the name of the unit index:
    each commune of the layer, or the CPTS of ``membership`` (their communes must be in ``codes``)."""
    if membership is None:
        return pd.DataFrame({"code": codes, "unit": codes, "share": 1.0}), "code"
    m = membership[["code", "cpts_id", "share"]].rename(columns={"cpts_id": "unit"}).copy()
    m["code"] = as_codes(m["code"])
    m["unit"] = m["unit"].astype("string")
    absent = pd.unique(m.loc[~is_in(m["code"], codes), "code"])
    if len(absent):
        raise ValidationError(
            "Communes des CPTS absentes de la couche des communes : donnez une couche qui "
            "les contient", [{"code": c, "problem": "commune absente de la couche"}
                             for c in absent])
    return m, "cpts_id"



def _population_checks(pop: pd.Series, ref_pop: pd.Series, used: pd.Index) -> tuple[pd.Index, pd.Index, pd.Index]:
    """The communes ``used`` of unknown population, those of the reference, and those whose
    population differs between the layer and the reference, each said by a warning (pointing
    at the caller of :func:`density`)."""
    unknown_pop = used[pop.reindex(used).isna().to_numpy()]
    if len(unknown_pop):
        warnings.warn(
            f"{len(unknown_pop)} commune(s) de population inconnue ({', '.join(unknown_pop[:5])}) : "
            "hors des totaux de population, densité non calculée ; liste dans le champ "
            "unknown_population du résultat", CptsGeoWarning, stacklevel=3)
    ref_unknown = ref_pop.index[ref_pop.isna().to_numpy()].difference(unknown_pop)
    if len(ref_unknown):
        warnings.warn(
            f"{len(ref_unknown)} commune(s) de la couche de référence de population inconnue "
            f"({', '.join(ref_unknown[:5])}) : hors des populations de référence (département, "
            "région, France) ; liste dans le champ reference_unknown_population du résultat",
            CptsGeoWarning, stacklevel=3)
    both = pd.concat([pop.reindex(used), ref_pop.reindex(used)], axis=1).dropna()
    differs = both.index[~np.isclose(both.iloc[:, 0], both.iloc[:, 1])]
    if len(differs):
        warnings.warn(
            f"La population de {len(differs)} commune(s) diffère entre communes et la couche de "
            f"référence ({', '.join(differs[:5])}) : les densités des unités utilisent celle de "
            "communes, les densités de référence (département, région, France) celle de la "
            "référence ; donnez reference= avec les mêmes populations pour comparer au même "
            "millésime ; liste dans le champ population_differs du résultat", CptsGeoWarning,
            stacklevel=3)
    return unknown_pop, ref_unknown, differs



def _main_area(frame: pd.DataFrame, column: str) -> pd.Series:
    """The department (or region: ``column``) holding most of each unit's population (first in
    code order on ties)."""
    return (frame.groupby(["_unit", column])["_pop"].sum().reset_index()
            .sort_values(["_unit", "_pop", column], ascending=[True, False, True])
            .drop_duplicates("_unit").set_index("_unit")[column])



class _References(NamedTuple):
    """Totals of the reference layer: per department and per region (each profession and
    ``_pop``), and for France."""

    departments: pd.DataFrame
    regions: pd.DataFrame
    france_count: pd.Series
    france_population: float



def _reference_totals(counts: pd.DataFrame, ref_pop: pd.Series, dept: np.ndarray, reg: np.ndarray) -> _References:
    """The professionals and population of the reference layer per department, region and France."""
    profs = list(counts.columns)
    ref_frame = counts.assign(_pop=ref_pop.fillna(0).to_numpy(), _dep=dept, _reg=reg)
    return _References(ref_frame.groupby("_dep")[[*profs, "_pop"]].sum(),
                       ref_frame.groupby("_reg")[[*profs, "_pop"]].sum(),
                       counts.sum(), ref_pop.fillna(0).sum())



def _density_rows(counts: pd.DataFrame, pop: pd.Series, m: pd.DataFrame, layer_dep: pd.Series,
                  layer_reg: pd.Series, unit_name: str, refs: _References, per: float) -> pd.DataFrame:
    """The table of :func:`density`: one row per (unit, profession), the units' counts and
    population summed over their communes (``m``, by share), and the densities of their main
    department and region and of France."""
    profs = list(counts.columns)
    share = m["share"].to_numpy(dtype="float64")
    c = counts.reindex(m["code"]).to_numpy() * share[:, None]
    p = pop.reindex(m["code"]).fillna(0).to_numpy(dtype="float64") * share
    has_none = counts.reindex(m["code"]).to_numpy() == 0
    frame = pd.DataFrame(c, columns=profs)
    frame["_pop"] = p
    frame["_unit"] = m["unit"].to_numpy()
    frame["_dep"] = layer_dep.reindex(m["code"]).to_numpy()
    frame["_reg"] = layer_reg.reindex(m["code"]).to_numpy()
    g = frame.groupby("_unit", sort=False)
    unit_count = g[profs].sum()
    unit_pop = g["_pop"].sum()
    n_communes = g.size()
    without = pd.DataFrame(has_none, columns=profs).groupby(frame["_unit"].to_numpy(), sort=False).sum()
    main_dep, main_reg = _main_area(frame, "_dep"), _main_area(frame, "_reg")
    units = unit_count.index
    parts = []
    for prof in profs:
        d_dep = main_dep.reindex(units)
        d_reg = main_reg.reindex(units)
        part = pd.DataFrame({
            unit_name: units,
            "profession": prof,
            "count": unit_count[prof].to_numpy(),
            "population": unit_pop.reindex(units).to_numpy(),
            "density": _ratio(unit_count[prof], unit_pop.reindex(units), per),
            "n_communes": n_communes.reindex(units).to_numpy(),
            "n_communes_without": without[prof].reindex(units).to_numpy(),
            "department": d_dep.to_numpy(),
            "department_density": _ratio(refs.departments[prof].reindex(d_dep).to_numpy(),
                                         refs.departments["_pop"].reindex(d_dep).to_numpy(), per),
            "region": d_reg.to_numpy(),
            "region_density": _ratio(refs.regions[prof].reindex(d_reg).to_numpy(),
                                     refs.regions["_pop"].reindex(d_reg).to_numpy(), per),
            "france_density": float(_ratio(refs.france_count[prof], refs.france_population, per)),
        })
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    order = {u: i for i, u in enumerate(units)}
    out["_o"] = out[unit_name].map(order)
    out = out.sort_values(["_o"], kind="stable").drop(columns="_o")
    out = out.set_index([unit_name, "profession"])
    out["n_communes"] = out["n_communes"].astype("int64")
    out["n_communes_without"] = out["n_communes_without"].astype("int64")
    return out



def density(
    supply: pd.DataFrame | pd.Series | SupplyRead,
    communes: pd.DataFrame,
    *,
    membership: pd.DataFrame | None = None,
    professions: Iterable[str] | None = None,
    per: float = PER,
    reference: pd.DataFrame | None = None,
    value: str = "count",
) -> DensityResult:
    """Professionals per ``per`` inhabitants, per commune (or per CPTS) and profession.

    Parameters
    ----------
    supply : SupplyRead, DataFrame or Series
        A supply table (:func:`cpts_geo.io.supply.read_bpe`,
        :func:`~cpts_geo.io.supply.read_professionals`) or counts indexed by ``code``
        with one column per profession.
    communes : DataFrame
        The communes to report (index ``code``, column ``population``, used for the units;
        ``department`` and ``region`` if present, else the reference layer's); with
        ``membership``, the layer holding the CPTS communes.
    membership : DataFrame, optional
        ``code``, ``cpts_id``, ``share``: report per CPTS; a commune split between CPTS gives
        each its ``share`` of the population and of the professionals.
    professions : iterable of str, optional
        Default: the professions present in ``supply``.
    per : float, default 10 000
        Inhabitants per unit of density.
    reference : DataFrame, optional
        The layer for the department, region and France references, with its own
        ``population``, ``department``, ``region`` (default: all of France, embedded). Must
        contain every commune of ``supply`` and of ``communes``.
    value : {"count", "fte"}
        What to sum from a supply table.

    Returns
    -------
    DensityResult
        ``table`` is indexed by (``code`` or ``cpts_id``, ``profession``); columns ``count``,
        ``population``, ``density``, ``n_communes``, ``n_communes_without``, ``department``,
        ``department_density``, ``region``, ``region_density``, ``france_density``;
        ``.table.xs("infirmier", level="profession")`` gives one profession indexed by unit.
        The other fields say what was met: ``unknown_population`` (communes of the units
        without population), ``reference_unknown_population``, ``population_differs``
        (communes whose population differs between ``communes`` and ``reference``),
        ``partial_reference``, ``without_population`` (units without inhabitants).

    Raises
    ------
    ValidationError
        Invalid supply (see :func:`~cpts_geo.indicators.supply.supply_on_layer`); supply in
        communes absent from the reference layer; membership communes absent from
        ``communes``; no ``population`` column in ``communes``.

    Examples
    --------
    >>> from cpts_geo.domain.communes import load_communes
    >>> somme = load_communes(departments="80", crs=None)
    >>> counts = pd.DataFrame({"infirmier": [40.0]}, index=pd.Index(["80021"], name="code"))
    >>> d = density(counts, somme, reference=somme).table
    >>> amiens = d.loc[("80021", "infirmier")]
    >>> float(round(amiens["density"], 2)), int(amiens["n_communes_without"])
    (2.99, 0)
    >>> int(d.xs("infirmier", level="profession")["n_communes_without"].sum()) == len(somme) - 1
    True
    """
    from cpts_geo.domain.communes import load_communes
    from cpts_geo.indicators.supply import supply_on_layer

    ref = load_communes(crs=None) if reference is None else reference
    ref_codes = as_codes(ref.index)
    counts = supply_on_layer(supply, ref_codes, professions=professions, value=value,
                             layer="couche de référence")
    wide = counts.loc[(counts != 0).any(axis=1)]
    if "population" not in communes.columns:
        raise ValidationError("Colonne « population » absente de communes : la densité en a besoin",
                              [{"problem": "colonnes reçues : " + ", ".join(map(str, communes.columns))}])
    ref_pop = pd.Series(pd.to_numeric(ref["population"], errors="coerce").to_numpy(dtype="float64"),
                        index=ref_codes)
    deps_with = wide.index.str[:3].str.replace(r"^(\d\d)\d$", r"\1", regex=True).nunique()
    n_deps = ref["department"].nunique()
    partial = n_deps > 5 and deps_with < 0.8 * n_deps
    if partial:
        warnings.warn(
            f"L'offre ne couvre que {deps_with} des {n_deps} départements de la référence : "
            "les densités de référence (France, région) sont sous-estimées ; donnez l'offre "
            "nationale (champ partial_reference du résultat)", CptsGeoWarning, stacklevel=2)

    # references: the reference layer's population, departments and regions
    dept = ref["department"].astype("string").to_numpy()
    reg = ref["region"].astype("string").to_numpy()
    refs = _reference_totals(counts, ref_pop, dept, reg)

    # the units: the caller's layer (its population; its department and region if given)
    layer = communes
    codes = as_codes(layer.index)
    missing_layer = codes.difference(ref_codes)
    if len(missing_layer):
        raise ValidationError(
            "Communes absentes de la couche de référence : donnez reference= qui les contient",
            [{"code": c, "problem": "commune absente de la couche de référence"}
             for c in missing_layer])
    pop = pd.Series(pd.to_numeric(layer["population"], errors="coerce").to_numpy(dtype="float64"),
                    index=codes)
    layer_dep = (pd.Series(layer["department"].astype("string").to_numpy(), index=codes)
                 if "department" in layer.columns else pd.Series(dept, index=ref_codes))
    layer_reg = (pd.Series(layer["region"].astype("string").to_numpy(), index=codes)
                 if "region" in layer.columns else pd.Series(reg, index=ref_codes))
    m, unit_name = _unit_members(membership, codes)
    unknown_pop, ref_unknown, differs = _population_checks(pop, ref_pop, pd.Index(pd.unique(m["code"])))
    out = _density_rows(counts, pop, m, layer_dep, layer_reg, unit_name, refs, per)
    zero = out.index.get_level_values(0)[(out["population"] <= 0).to_numpy()].unique()
    if len(zero):
        warnings.warn(
            f"{len(zero)} unité(s) sans population ({', '.join(map(str, zero[:5]))}) : "
            "densité non calculée (NaN), pas de division par zéro ; liste dans le champ "
            "without_population du résultat", CptsGeoWarning, stacklevel=2)
    return DensityResult(
        table=out, per=per,
        population_vintage=layer_metadata(communes).population_vintage,
        reference_population_vintage=layer_metadata(ref).population_vintage,
        unknown_population=[str(c) for c in unknown_pop],
        reference_unknown_population=[str(c) for c in ref_unknown],
        population_differs=[str(c) for c in differs],
        partial_reference=(int(deps_with), int(n_deps)) if partial else None,
        without_population=[str(u) for u in zero])



def density_table(result: DensityResult | pd.DataFrame, *, profession: str | None = None,
                  digits: int = 1, per: float | None = None) -> pd.DataFrame:
    """The density result with French headers, rounded, for reports and notebooks.

    Parameters
    ----------
    result : DensityResult or DataFrame
        Output of :func:`density` (or its ``table``).
    profession : str, optional
        Keep one profession (then indexed by unit only).
    digits : int, default 1
        Decimals kept.
    per : float, optional
        Inhabitants per unit of density, for the header (default: the result's ``per``, or
        10 000 for a table).

    Returns
    -------
    pandas.DataFrame
        The table with the headers of :data:`DENSITY_HEADERS`.

    Examples
    --------
    >>> from cpts_geo.domain.communes import load_communes
    >>> somme = load_communes(departments="80", crs=None)
    >>> counts = pd.DataFrame({"infirmier": [40.0]}, index=pd.Index(["80021"], name="code"))
    >>> table = density_table(density(counts, somme, reference=somme), profession="infirmier")
    >>> list(table.columns[:3])
    ['Professionnels', 'Population', 'Densité pour 10 000 hab.']
    """
    if isinstance(result, DensityResult):
        per = result.per if per is None else per
        result = result.table
    per = PER if per is None else per
    out = result.xs(profession, level="profession") if profession is not None else result.copy()
    headers = dict(DENSITY_HEADERS)
    if per != PER:
        headers["density"] = f"Densité pour {number(per)} hab."
    num = out.select_dtypes("number").columns
    out[num] = out[num].round(digits)
    out = out.rename(columns=headers)
    names = {"code": "Commune", "cpts_id": "CPTS", "profession": "Profession"}
    out.index = out.index.set_names([names.get(n, n) for n in out.index.names])
    return out



class CptsSupply(NamedTuple):
    """Density and accessibility of professionals per CPTS, from :func:`cpts_supply`.

    The lists hold what a person must know about the communes of the CPTS only (the
    accessibility itself is computed on every commune of the layer within reach of them,
    :func:`cpts_geo.indicators.accessibility.within_reach`: the values of the whole layer, no border effect).
    """

    #: Indexed by (``cpts_id``, ``profession``), in ``cpts_id`` order: ``name`` and the columns
    #: of :func:`density`, then ``accessibility`` (E2SFCA, mean over the CPTS weighted by the
    #: standardised population, per ``per`` inhabitants).
    table: pd.DataFrame
    #: The densities and what their computation met.
    density: DensityResult
    #: The accessibility of the communes of the layer within reach of the CPTS, with its reports.
    accessibility: CommuneAccessibility
    #: The accessibility of each CPTS, per profession.
    territories: dict[str, TerritoryAccessibility]
    #: Reach of the accessibility, in minutes.
    max_minutes: float
    #: Inhabitants per unit of density and of accessibility.
    per: float
    #: Communes of the CPTS without any supply in reach (accessibility 0), per profession.
    no_supply: dict[str, list[str]]
    #: Communes of the CPTS of unknown accessibility (no geometry, no travel time): left out of
    #: the means.
    unknown_accessibility: list[str]
    #: CPTS whose accessibility is unknown (all their communes are).
    blank_accessibility: list[str]
    #: Communes of the CPTS whose estimated trip inside reached the reach: counted just under it.
    capped_self: list[str]



def cpts_supply(
    supply: pd.DataFrame | pd.Series | SupplyRead,
    communes: pd.DataFrame,
    membership: pd.DataFrame,
    *,
    names: pd.Series | None = None,
    professions: Iterable[str] | None = None,
    max_minutes: float | None = None,
    per: float = PER,
    reference: pd.DataFrame | None = None,
    costs: pd.DataFrame | None = None,
    quiet: bool = False,
) -> CptsSupply:
    """Density and accessibility (E2SFCA) of professionals per CPTS and profession, side by side.

    The density is :func:`density` per CPTS; the accessibility is
    :func:`cpts_geo.indicators.accessibility.accessibility` (DREES bands, estimated road times) on the
    communes of ``communes`` within reach of the CPTS (the values of the whole layer), aggregated
    per CPTS by
    :func:`cpts_geo.indicators.accessibility.territory_accessibility`.

    Parameters
    ----------
    supply : SupplyRead, DataFrame or Series
        The supply (:func:`cpts_geo.io.supply.read_supply`…).
    communes : GeoDataFrame
        The communes: all of France (or a wide margin around the CPTS) for the references and
        the accessibility.
    membership : DataFrame
        ``code``, ``cpts_id``, ``share`` (e.g. ``validate_registry(...).membership``).
    names : Series, optional
        CPTS names indexed by ``cpts_id`` (e.g. ``CheckedRegistry.cpts["name"]``).
    professions : iterable of str, optional
        Default: the professions present in ``supply``.
    max_minutes : float, optional
        Reach of the accessibility (default: the last DREES band, 20 minutes).
    per : float, default 10 000
        Inhabitants per unit of density and of accessibility.
    reference : DataFrame, optional
        The layer of the department, region and France references of :func:`density`
        (default: all of France, embedded).
    costs : DataFrame, optional
        Real travel times (``origin``, ``destination``, ``minutes``; e.g. INSEE's distancier
        Metric-OSRM, read by :func:`cpts_geo.io.costs.read_costs`) instead of the times estimated
        from distances; passed to :func:`~cpts_geo.indicators.accessibility.accessibility`.
    quiet : bool, default False
        Passed to :func:`~cpts_geo.indicators.accessibility.accessibility` (its warnings are about the
        communes within reach of the CPTS; the result's lists are about the CPTS).

    Returns
    -------
    CptsSupply
        The table per CPTS and profession, and what a person must know about it.

    Examples
    --------
    >>> import warnings
    >>> from cpts_geo.domain.communes import load_communes
    >>> somme = load_communes(departments="80")
    >>> counts = pd.DataFrame({"médecin généraliste": [300.0]}, index=pd.Index(["80021"], name="code"))
    >>> members = pd.DataFrame({"code": ["80021", "80001"], "cpts_id": ["A", "B"], "share": 1.0})
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     result = cpts_supply(counts, somme, members, names=pd.Series({"A": "Amiens", "B": "Abbeville"}))
    >>> result.table["name"].tolist(), result.no_supply
    (['Amiens', 'Abbeville'], {'médecin généraliste': ['80001']})
    >>> bool(result.table.loc[("A", "médecin généraliste"), "accessibility"] > 0)
    True
    """
    from cpts_geo.indicators.accessibility import DREES_DECAY, accessibility, territory_accessibility, within_reach
    from cpts_geo.indicators.supply import supply_in, supply_table

    minutes = max(DREES_DECAY) if max_minutes is None else max_minutes
    supply = supply_table(supply)
    dens = density(supply, communes, membership=membership, professions=professions, per=per,
                   reference=reference)
    profs = list(dens.table.index.unique("profession"))
    # on the communes within reach of the CPTS only: the same values as on the whole layer
    near = within_reach(pd.Index(as_codes(membership["code"])), communes, max_minutes=minutes)
    if costs is not None:  # codes cleaned and mapped on the whole layer (reported), then the pairs in reach
        from cpts_geo.indicators.accessibility import _costs_on_layer

        costs = _costs_on_layer(costs[["origin", "destination", "minutes"]], communes)[0]
        keep = costs["origin"].isin(near.index) & costs["destination"].isin(near.index)
        costs = costs[keep.to_numpy()].reset_index(drop=True)
    acc = accessibility(supply_in(supply, near.index), near, costs=costs, professions=profs, max_minutes=minutes,
                        per=per, quiet=quiet)
    terrs = {prof: territory_accessibility(acc.table[prof], membership,
                                           weights=acc.table["demand"]) for prof in profs}
    table = dens.table.copy()
    units = table.index.get_level_values(0)
    table.insert(0, "name", (names.reindex(units).to_numpy() if names is not None
                             else pd.Series(pd.NA, index=units, dtype="string").to_numpy()))
    by_prof = pd.concat([terrs[p].table["accessibility"].rename(p) for p in profs], axis=1)
    table["accessibility"] = by_prof.stack().reindex(table.index).to_numpy()
    table = table.sort_index(level=0, sort_remaining=False, kind="stable")
    ours = set(as_codes(membership["code"]))
    first = terrs[profs[0]] if profs else None
    return CptsSupply(
        table=table, density=dens, accessibility=acc, territories=terrs, max_minutes=minutes,
        per=per,
        no_supply={p: [str(c) for c in acc.no_supply.get(p, []) if str(c) in ours] for p in profs},
        unknown_accessibility=[str(c) for c in first.unknown] if first is not None else [],
        blank_accessibility=([str(c) for c in first.table.index[first.table["accessibility"].isna()]]
                             if first is not None else []),
        capped_self=[str(c) for c in acc.capped_self if str(c) in ours])



def cpts_supply_table(result: CptsSupply, *, digits: int = 1) -> pd.DataFrame:
    """The table of :func:`cpts_supply` with French headers, rounded (what ``cpts-geo offre``
    writes).

    Parameters
    ----------
    result : CptsSupply
        Output of :func:`cpts_supply`.
    digits : int, default 1
        Decimals kept.

    Returns
    -------
    pandas.DataFrame
        Indexed by (``CPTS``, ``Profession``): ``Nom``, the headers of :data:`DENSITY_HEADERS`,
        then the accessibility (its reach and unit in the header).
    """
    table = density_table(result.table.drop(columns=["name", "accessibility"]), digits=digits,
                          per=result.per)
    table[accessibility_header(result)] = result.table["accessibility"].round(digits).to_numpy()
    table.insert(0, "Nom", result.table["name"].to_numpy())
    return table



def accessibility_header(result: CptsSupply) -> str:
    """The French header of the accessibility column of :func:`cpts_supply_table`.

    Parameters
    ----------
    result : CptsSupply
        Output of :func:`cpts_supply`.

    Returns
    -------
    str
        For instance ``"Accessibilité E2SFCA (20 min, pour 10 000 hab.)"`` with times estimated from
        distances, ``"Accessibilité E2SFCA (temps fournis, 20 min, pour 10 000 hab.)"`` with a user's
        travel times.
    """
    given = "km" not in result.accessibility.costs.columns
    return (f"Accessibilité E2SFCA ({'temps fournis, ' if given else ''}{number(result.max_minutes, None)} min, "
            f"pour {number(result.per)} hab.)")



def _examples(codes: Iterable[object], n: int = 5) -> str:
    texts = [str(c) for c in codes]
    return ", ".join(texts[:n]) + (", …" if len(texts) > n else "")



def cpts_supply_notes(result: CptsSupply, supply: SupplyRead | None = None) -> list[str]:
    """What a person must know about a :func:`cpts_supply` result, in French, one line each.

    Parameters
    ----------
    result : CptsSupply
        Output of :func:`cpts_supply`.
    supply : SupplyRead, optional
        The reading of the supply, for its repeated BPE rows.

    Returns
    -------
    list of str
        Communes of the CPTS without supply in reach, of unknown accessibility, trips inside
        counted just under the reach, communes of unknown population, references on a partial
        supply, repeated BPE rows; empty when there is nothing to say.
    """
    minutes = number(result.max_minutes, None)
    notes = []
    for prof, none in result.no_supply.items():
        if none:
            notes.append(f"{prof} : {number(len(none))} commune(s) des CPTS sans aucune offre à "
                         f"moins de {minutes} minutes, accessibilité 0 ({_examples(none)})")
    unknown, blank = result.unknown_accessibility, result.blank_accessibility
    if unknown:
        notes.append(f"{number(len(unknown))} commune(s) des CPTS d'accessibilité inconnue (sans "
                     f"géométrie ou sans temps de trajet : {_examples(unknown)}) : moyennes des CPTS "
                     "calculées sans elles"
                     + (f" ; accessibilité vide pour {_examples(blank)}" if blank else ""))
    if result.capped_self:
        capped = result.capped_self
        notes.append(f"{number(len(capped))} commune(s) des CPTS très étendue(s) dont le trajet "
                     f"interne estimé atteint {minutes} minutes ({_examples(capped)}) : compté "
                     "juste sous cette portée, leur offre reste à portée de leurs habitants")
    dens = result.density
    if dens.unknown_population:
        notes.append(f"{number(len(dens.unknown_population))} commune(s) des CPTS de population "
                     f"inconnue ({_examples(dens.unknown_population)}) : hors des totaux de population")
    if dens.partial_reference:
        with_supply, n_deps = dens.partial_reference
        notes.append(f"références calculées sur une offre partielle : elle ne couvre que "
                     f"{number(with_supply)} des {number(n_deps)} départements ; les densités France "
                     "et région sont sous-estimées (donnez l'offre nationale)")
    if dens.reference_unknown_population:
        ref = dens.reference_unknown_population
        notes.append(f"références calculées sans {number(len(ref))} commune(s) de population "
                     f"inconnue ({_examples(ref)})")
    if supply is not None and len(supply.duplicates):
        pairs = [f"{a} et {b}" for a, b in supply.duplicates[["first_row", "row"]].itertuples(index=False)]
        notes.append(f"{number(len(pairs))} ligne(s) de la BPE répètent une autre ligne (mêmes "
                     f"commune, IRIS et équipement) : effectifs additionnés (lignes {_examples(pairs, 3)})")
    return notes
