"""The regional diagnosis: where a region (or a set of departments) stands with its CPTS.

What an ARS analyst hands to a regional committee, computed from a validated registry and the
commune layer of France (a CPTS may cross the region's border):

- coverage by stage (communes, population, share of the area's population);
- every CPTS touching the area: stage, communes, population, tier, maximal ACI funding, published
  APL of 2022 and 2023 (DREES, aggregated by :func:`cpts_geo.indicators.apl.aggregate_apl`), the
  density of GPs and their E2SFCA accessibility when a supply table is given
  (:func:`cpts_geo.indicators.density.cpts_supply`, with the user's travel times when given),
  whether it crosses the area's border;
- the zones blanches: groups of neighbouring uncovered communes, their population and the nearest
  CPTS;
- tiers and the total maximal ACI funding;
- with a previous listing, what changed (:func:`cpts_geo.domain.compare.compare_registries`).

:func:`coverage_over_time` gives the coverage by stage of several dated listings.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd

from cpts_geo.data.apl import APL_SOURCE, UNDERSERVED_THRESHOLD
from cpts_geo.domain.codes import city_of, is_in
from cpts_geo.domain.communes import REGIONS, region_code
from cpts_geo.domain.compare import RegistryComparison, compare_registries
from cpts_geo.domain.crs import to_metric
from cpts_geo.domain.funding import ACI_SOURCE, funding_table
from cpts_geo.domain.metadata import layer_metadata
from cpts_geo.domain.registry import CheckedRegistry
from cpts_geo.domain.stages import NOT_GIVEN
from cpts_geo.domain.territories import build_territories, communes_with_cpts, coverage
from cpts_geo.domain.units import unit_layer
from cpts_geo.indicators.apl import aggregate_apl, apl_on_units

if TYPE_CHECKING:
    from cpts_geo.indicators.density import CptsSupply
    from cpts_geo.indicators.supply import SupplyRead

__all__ = ["GP", "RegionalDiagnosis", "coverage_layers", "coverage_over_time", "regional_diagnosis"]

#: The profession of the report's density and accessibility columns.
GP = "médecin généraliste"


class RegionalDiagnosis(NamedTuple):
    """The figures of a regional diagnosis (see :func:`regional_diagnosis`)."""

    #: The area's name (« Hauts-de-France », or « départements 59, 62 »).
    area: str
    #: Region code, or ``None`` for a set of departments.
    region: str | None
    #: Department codes of the area.
    departments: tuple[str, ...]
    #: Coverage of the area by stage (``n_cpts``, ``n_communes``, ``population``,
    #: ``share_population``), the rows of :func:`cpts_geo.domain.territories.coverage`.
    coverage: pd.DataFrame
    #: One row per CPTS with a commune in the area, indexed by ``cpts_id``: ``name``, ``stage``,
    #: ``n_communes`` (all), ``n_communes_area``, ``population`` (all), ``tier``, ``funding`` (maximal
    #: annual ACI), ``apl_2022``, ``apl_2023``, ``apl_change``, ``gp_density`` (or NaN),
    #: ``gp_accessibility`` (E2SFCA of GPs per 10 000 inhabitants, or NaN), ``crosses`` (bool)
    #: and ``outside`` (departments outside the area).
    cpts: pd.DataFrame
    #: The zones blanches, one row per group of neighbouring uncovered communes: ``n_communes``,
    #: ``population``, ``main_commune``, ``main_name``, ``nearest_cpts``, ``nearest_name``,
    #: ``distance_km`` (0 when it touches the CPTS: then the neighbour with the longest shared border),
    #: ``neighbours`` (every CPTS it touches, by name); the most populated first.
    zones: pd.DataFrame
    #: Uncovered communes of the area: ``name``, ``population``, ``zone``.
    uncovered: pd.DataFrame
    #: Number of CPTS by tier (1 to 4).
    tiers: pd.Series
    #: Sum of the maximal annual ACI funding of the CPTS touching the area.
    funding_total: float
    #: Territories of those CPTS (whole, across the border), for maps.
    territories: gpd.GeoDataFrame
    #: The area's communes with their CPTS (:func:`cpts_geo.domain.territories.communes_with_cpts`).
    communes: gpd.GeoDataFrame
    #: APL of the area (``reg:<code>`` or each department) and of France, by year.
    apl_reference: pd.DataFrame
    #: What changed since a previous listing, or ``None``.
    changes: RegistryComparison | None
    #: Sources and vintages, in French, one line each.
    sources: tuple[str, ...]
    #: Density and accessibility of GPs per CPTS when a supply table was given
    #: (:func:`cpts_geo.indicators.density.cpts_supply`), else ``None``.
    gp_supply: CptsSupply | None = None
    #: GPs per 10 000 inhabitants in the area (``area``) and in France (``France``), when a
    #: supply table was given; empty otherwise.
    gp_reference: pd.Series | None = None
    #: What a person must know about the density and the accessibility, in French, one line each.
    gp_notes: tuple[str, ...] = ()
    #: ``code``, ``cpts_id``, ``share`` of the CPTS in the area (``CheckedRegistry.membership``): the CPTS
    #: of each shared commune and their shares, for maps.
    membership: pd.DataFrame | None = None


#: Why travel times alone are refused (the API's ``costs=``, the command line's ``--temps``).
COSTS_NEED_SUPPLY = (
    "Les temps de trajet (--temps, costs=) servent à l'accessibilité E2SFCA des médecins généralistes : "
    "donnez aussi le fichier de l'offre de soins (--offre, supply=), la BPE de l'INSEE par exemple. "
    "La CPTS la plus proche d'une zone blanche est mesurée entre les contours, pas en minutes.")


def _has_gp(table: pd.DataFrame | pd.Series) -> bool:
    """Whether a supply table (long with ``profession``, or one column per profession) has GPs."""
    if isinstance(table, pd.Series):
        return table.name == GP
    if "profession" in table.columns:
        return bool((table["profession"].astype(str) == GP).any())
    return GP in table.columns


class _GpFigures(NamedTuple):
    result: CptsSupply
    reference: pd.Series
    notes: tuple[str, ...]
    sources: tuple[str, ...]


def _gp_supply(supply: SupplyRead | pd.DataFrame, costs: pd.DataFrame | None, communes: gpd.GeoDataFrame,
               whole: CheckedRegistry, area: pd.Index, supply_source: str, costs_source: str) -> _GpFigures:
    """Density and E2SFCA accessibility of GPs per CPTS, the area's and France's density."""
    from cpts_geo.domain.french import number
    from cpts_geo.indicators.accessibility import DREES_DECAY, TRAVEL_ASSUMPTIONS
    from cpts_geo.indicators.density import cpts_supply, cpts_supply_notes, density
    from cpts_geo.indicators.supply import SupplyRead, supply_table

    if not _has_gp(supply_table(supply)):
        raise ValueError("Le fichier de l'offre de soins ne compte aucun médecin généraliste : la densité et "
                         "l'accessibilité du rapport portent sur eux (BPE : équipement D201).")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what concerns the CPTS is in the notes
        result = cpts_supply(supply, communes, whole.membership, names=whole.cpts["name"], professions=[GP],
                             costs=costs, quiet=True)
        members = pd.DataFrame({"code": area.astype(str), "cpts_id": "area", "share": 1.0})
        ref = density(supply, communes, membership=members, professions=[GP]).table.xs(GP, level="profession")
    reference = pd.Series({"area": float(ref.at["area", "density"]), "France": float(ref.at["area", "france_density"])})
    notes = cpts_supply_notes(result, supply if isinstance(supply, SupplyRead) else None)
    if costs is not None:
        ours = set(whole.membership["code"].astype(str))
        absent = sorted(str(c) for c in result.accessibility.not_in_costs if str(c) in ours)
        if absent:
            notes.append(f"{number(len(absent))} commune(s) des CPTS absente(s) de la table des temps de trajet "
                         f"(accessibilité inconnue) : {', '.join(absent[:10])}{' …' if len(absent) > 10 else ''}")
    meta = layer_metadata(communes)
    vintage = meta.population_vintage if meta is not None and meta.population_vintage else "(millésime inconnu)"
    given = supply_source or "fichier fourni par l'utilisateur"
    bands = " / ".join(number(w, None if w == int(w) else 3) for w in DREES_DECAY.values())
    if costs is not None:
        times = (f"temps de trajet fournis : {costs_source or 'table fournie par l’utilisateur'} "
                 f"({number(len(costs))} paires de communes)")
    else:
        a = TRAVEL_ASSUMPTIONS
        times = (f"temps de trajet estimés à partir des distances (détour {number(a['detour'], 1)}, "
                 f"{number(a['speed_min_kmh'])} à {number(a['speed_max_kmh'])} km/h, aucune table de temps "
                 "fournie)")
    sources = (f"Médecins généralistes : {given} ; densité pour 10 000 habitants, population municipale {vintage}",
               f"Accessibilité E2SFCA des médecins généralistes (poids DREES {bands} par tranche de "
               f"temps, jusqu'à {number(max(DREES_DECAY))} minutes) : {times}")
    return _GpFigures(result, reference, tuple(notes), sources)


def _area(communes: pd.DataFrame, region: str | None, departments: Iterable[str] | str | None,
          ) -> tuple[str | None, tuple[str, ...], str]:
    if region is not None and departments is None:
        code = region_code(region)
        deps = tuple(sorted(communes.loc[communes["region"] == code, "department"].dropna().unique()))
        return code, deps, REGIONS[code]
    if departments is not None and region is None:
        deps = tuple(sorted({str(d) for d in ([departments] if isinstance(departments, str) else departments)}))
        label = ("département " if len(deps) == 1 else "départements ") + ", ".join(deps)
        return None, deps, label
    raise ValueError("Donnez une région (region=) ou des départements (departments=), l'un des deux.")


def _area_units(area: gpd.GeoDataFrame, checked: CheckedRegistry) -> gpd.GeoDataFrame:
    """The territorial units of an area's communes for a registry: not the arrondissements of a
    city elsewhere (a Lyon CPTS of a national listing is no unit of Provence-Alpes-Côte d'Azur)."""
    units = unit_layer(area, checked.membership["code"])
    return units[units["department"].isin(set(area["department"].dropna())).to_numpy()]


def _commune_counts(membership: pd.DataFrame) -> pd.Series:
    """Communes of each CPTS, counted as ``n_communes`` of the territories: a city given by
    arrondissement once."""
    cities = pd.Series(city_of(membership["code"]).to_numpy(), index=membership["cpts_id"].to_numpy())
    return cities.groupby(level=0).nunique()


def _restricted(checked: CheckedRegistry, codes: pd.Index) -> CheckedRegistry:
    member = checked.membership[is_in(checked.membership["code"], codes)]
    return checked._replace(membership=member, cpts=checked.cpts.loc[checked.cpts.index.isin(member["cpts_id"])])


def _zones(uncovered: gpd.GeoDataFrame, territories: gpd.GeoDataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Groups of neighbouring uncovered communes, and the nearest CPTS of each."""
    columns = ["n_communes", "population", "main_commune", "main_name", "nearest_cpts", "nearest_name",
               "distance_km", "neighbours"]
    if not len(uncovered):
        return pd.DataFrame(columns=columns, index=pd.Index([], name="zone")), pd.Series(dtype="int64")
    metric = to_metric(uncovered[["name", "population", "geometry"]])
    parts = gpd.GeoSeries(metric.geometry.buffer(1.0).union_all(), crs=metric.crs).explode(index_parts=False)
    parts = gpd.GeoDataFrame(geometry=parts.to_numpy(), crs=metric.crs)
    points = gpd.GeoDataFrame(geometry=metric.geometry.representative_point(), crs=metric.crs)
    joined = gpd.sjoin(points, parts, predicate="within", how="left")
    zone_of = joined["index_right"].groupby(level=0).first().reindex(metric.index)
    pop = metric["population"].astype("float64").fillna(0.0)
    order = pop.groupby(zone_of).sum().sort_values(ascending=False, kind="stable").index
    number = pd.Series(np.arange(1, len(order) + 1), index=order)
    zone = zone_of.map(number).astype("int64")
    rows = []
    terr = to_metric(territories[["name", "geometry"]]) if len(territories) else None
    for z, members in metric.groupby(zone, sort=True):
        main = members["population"].astype("float64").fillna(-1).idxmax()
        near, near_name, dist, touching = None, None, np.nan, ""
        if terr is not None:
            shape = members.geometry.union_all()
            distances = terr.geometry.distance(shape)
            touch = distances[distances < 1.0].index
            if len(touch):  # the neighbour sharing the longest border
                shared = terr.geometry[touch].boundary.intersection(shape.buffer(10.0)).length
                near = shared.idxmax()
                touching = ", ".join(terr.loc[shared.sort_values(ascending=False).index, "name"].astype(str))
            else:
                near = distances.idxmin()
            near_name, dist = terr.at[near, "name"], float(distances[near]) / 1000.0
        rows.append((z, len(members), float(members["population"].astype("float64").fillna(0).sum()), main,
                     members.at[main, "name"], near, near_name, round(dist, 1), touching))
    zones = pd.DataFrame(rows, columns=["zone", *columns]).set_index("zone")
    return zones, zone


def regional_diagnosis(
    checked: CheckedRegistry,
    communes: gpd.GeoDataFrame,
    *,
    region: str | None = None,
    departments: Iterable[str] | str | None = None,
    previous: CheckedRegistry | None = None,
    gp_density: pd.Series | None = None,
    supply: SupplyRead | pd.DataFrame | None = None,
    costs: pd.DataFrame | None = None,
    supply_source: str = "",
    costs_source: str = "",
) -> RegionalDiagnosis:
    """The figures of the regional diagnosis of an area.

    Parameters
    ----------
    checked : CheckedRegistry
        The validated registry (:func:`cpts_geo.domain.registry.validate_registry`), which may
        hold CPTS outside the area (a national listing).
    communes : GeoDataFrame
        The commune layer holding every commune of the registry (all of France for a CPTS
        crossing the area's border: ``load_communes()``).
    region : str, optional
        Region code or name (``"32"``, ``"Hauts-de-France"``).
    departments : str or iterable of str, optional
        Department codes, instead of a region.
    previous : CheckedRegistry, optional
        The previous listing: what changed is compared with it.
    gp_density : Series, optional
        GPs per 10 000 inhabitants by ``cpts_id`` (e.g. from
        :func:`cpts_geo.indicators.density.density` with a membership); computed from ``supply``
        when it is given instead.
    supply : SupplyRead or DataFrame, optional
        The supply of professionals (:func:`cpts_geo.io.supply.read_supply`): the density of GPs
        and their E2SFCA accessibility per CPTS
        (:func:`cpts_geo.indicators.density.cpts_supply`), and the area's and France's density.
    costs : DataFrame, optional
        Real travel times between communes (``origin``, ``destination``, ``minutes``:
        :func:`cpts_geo.io.costs.read_costs`) for the accessibility, instead of the times
        estimated from distances. Needs ``supply`` (the zones blanches' nearest CPTS is measured
        between shapes, not in minutes).
    supply_source, costs_source : str, optional
        What to cite for the supply and the travel times (file, producer, vintage).

    Returns
    -------
    RegionalDiagnosis

    Raises
    ------
    ValueError
        ``costs`` without ``supply``, or a supply without any GP.

    Examples
    --------
    >>> france = load_communes(crs=None)
    >>> diag = regional_diagnosis(validate_registry(load_example_registry(), france), france, region="32")
    >>> diag.area, len(diag.cpts), int(diag.coverage.loc["Total", "n_communes"])
    ('Hauts-de-France', 59, 3782)
    """
    if costs is not None and supply is None:
        raise ValueError(COSTS_NEED_SUPPLY)
    code, deps, label = _area(communes, region, departments)
    in_area = communes["department"].isin(deps).to_numpy()
    area_layer = communes[in_area]
    units = _area_units(area_layer, checked)
    local = _restricted(checked, units.index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cov = coverage(local, area_layer)
        layer = communes_with_cpts(local, area_layer)
        ids = local.cpts.index
        whole = checked._replace(membership=checked.membership[checked.membership["cpts_id"].isin(ids)],
                                 cpts=checked.cpts.loc[ids])
        terr = build_territories(whole, communes)
        funding = funding_table(terr)
        apl, _unmatched = apl_on_units(communes, whole.membership)
        agg = aggregate_apl(apl, whole.membership)
    table = terr[["name", "stage", "n_communes", "population", "tier"]].copy()
    table["n_communes_area"] = _commune_counts(local.membership).reindex(table.index)
    table["funding"] = funding["Total annuel"].reindex(table.index).astype("float64")
    acc = agg["accessibility"].unstack("year") if len(agg) else pd.DataFrame()
    for year in (2022, 2023):
        table[f"apl_{year}"] = acc[year].reindex(table.index) if year in acc else np.nan
    table["apl_change"] = table["apl_2023"] - table["apl_2022"]
    gp = (_gp_supply(supply, costs, communes, whole, area_layer.index, supply_source, costs_source)
          if supply is not None else None)
    if gp is not None:
        gp_density = gp.result.table.xs(GP, level="profession")["density"]
        table["gp_accessibility"] = gp.result.table.xs(GP, level="profession")["accessibility"].reindex(table.index)
    else:
        table["gp_accessibility"] = np.nan
    table["gp_density"] = (gp_density.reindex(table.index).astype("float64") if gp_density is not None
                           else np.nan)
    dep_sets = terr["departments"].astype(str).str.split(", ")
    table["outside"] = [", ".join(d for d in ds if d not in deps) for ds in dep_sets]
    table["crosses"] = table["outside"] != ""
    uncovered = layer[~layer["covered"].to_numpy()]
    zones, zone = _zones(uncovered, terr)
    unc = pd.DataFrame({"name": uncovered["name"], "population": uncovered["population"],
                        "zone": zone.reindex(uncovered.index)})
    keys = [f"reg:{code}"] if code else [f"dep:{d}" for d in deps]
    ref = agg.loc[agg.index.get_level_values("cpts_id").isin([*keys, "France"])] if len(agg) else agg
    changes = None
    if previous is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            changes = compare_registries(_restricted(previous, units.index), local, communes)
    meta = layer_metadata(communes)
    vintage = meta.population_vintage if meta is not None else None
    sources = (
        f"Communes : {meta.source}" if meta is not None and meta.source else "Communes : couche fournie",
        f"Population municipale {vintage if vintage else '(millésime inconnu)'} ; tailles de CPTS d'après "
        "cette population",
        f"Financement ACI maximal : {ACI_SOURCE}",
        f"APL aux médecins généralistes : {APL_SOURCE} ; seuil de sous-dotation "
        f"{str(UNDERSERVED_THRESHOLD).replace('.', ',')} consultations par habitant et par an",
        *(gp.sources if gp is not None else ()),
    )
    tiers = table["tier"].value_counts().reindex([1, 2, 3, 4], fill_value=0)
    return RegionalDiagnosis(
        area=label, region=code, departments=deps, coverage=cov, cpts=table.sort_index(), zones=zones,
        uncovered=unc, tiers=tiers, funding_total=float(table["funding"].sum()), territories=terr,
        communes=layer, apl_reference=ref, changes=changes, sources=sources,
        gp_supply=gp.result if gp is not None else None, gp_reference=gp.reference if gp is not None else None,
        gp_notes=gp.notes if gp is not None else (), membership=local.membership)


def coverage_over_time(
    listings: Sequence[CheckedRegistry],
    dates: Sequence[str],
    communes: gpd.GeoDataFrame,
) -> pd.DataFrame:
    """Coverage by stage of several dated listings of one area, for the evolution chart.

    Parameters
    ----------
    listings : sequence of CheckedRegistry
        The validated listings, oldest first.
    dates : sequence of str
        Their dates (``"2023-01"``…), one per listing.
    communes : GeoDataFrame
        The area's communes.

    Returns
    -------
    DataFrame
        Indexed by date, one column of covered population per stage (the rows of
        :func:`cpts_geo.domain.territories.coverage`, « Non couvert » included), then
        ``n_cpts`` and ``share_covered``.

    Examples
    --------
    >>> hdf = load_communes(region="32", crs=None)
    >>> reg = validate_registry(load_example_registry(), hdf)
    >>> coverage_over_time([reg, reg], ["2024", "2025"], hdf)["n_cpts"].tolist()
    [59, 59]
    """
    if len(listings) != len(dates):
        raise ValueError(f"{len(listings)} registres pour {len(dates)} dates : donnez une date par registre.")
    rows = []
    for checked, date in zip(listings, dates):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cov = coverage(_restricted(checked, _area_units(communes, checked).index), communes)
        row = cov["population"].drop("Total").astype("float64")
        row["n_cpts"] = float(cov.loc["Total", "n_cpts"])
        row["share_covered"] = 1.0 - float(cov["share_population"].get("Non couvert", 0.0))
        rows.append(row.rename(str(date)))
    out = pd.DataFrame(rows)
    out.index.name = "date"
    out["n_cpts"] = out["n_cpts"].astype("int64")
    stages = [c for c in out.columns if c not in ("n_cpts", "share_covered")]
    keep = [c for c in stages if c != NOT_GIVEN or out[c].sum() > 0]
    return out[[*keep, "n_cpts", "share_covered"]]


def coverage_layers(
    listings: Sequence[CheckedRegistry],
    dates: Sequence[str],
    communes: gpd.GeoDataFrame,
) -> dict[str, gpd.GeoDataFrame]:
    """The area's communes with their CPTS in each dated listing, for the small-multiple maps.

    The same units as :func:`coverage_over_time` counts: each layer's covered communes are the
    communes that :func:`cpts_geo.domain.territories.coverage` counts as covered for that listing.

    Parameters
    ----------
    listings : sequence of CheckedRegistry
        The validated listings, oldest first.
    dates : sequence of str
        Their dates, one per listing.
    communes : GeoDataFrame
        The area's communes.

    Returns
    -------
    dict of str to GeoDataFrame
        By date, in the listings' order: :func:`cpts_geo.domain.territories.communes_with_cpts` of
        the listing restricted to the area (``covered``, ``stage``, ``cpts_id``…).

    Examples
    --------
    >>> hdf = load_communes(region="32", crs=None)
    >>> reg = validate_registry(load_example_registry(), hdf)
    >>> layers = coverage_layers([reg], ["2025"], hdf)
    >>> list(layers), len(layers["2025"]), int(layers["2025"]["covered"].sum())
    (['2025'], 3782, 3220)
    """
    if len(listings) != len(dates):
        raise ValueError(f"{len(listings)} registres pour {len(dates)} dates : donnez une date par registre.")
    if not listings:
        raise ValueError("Aucun registre : donnez au moins un registre daté.")
    out = {}
    for checked, date in zip(listings, dates):
        units = _area_units(communes, checked)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[str(date)] = communes_with_cpts(_restricted(checked, units.index), communes)
    return out
