"""Two-step floating catchment accessibility (2SFCA, E2SFCA) and its inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpts_geo.accessibility import (
    DREES_AGE_WEIGHTS,
    DREES_AGE_WEIGHTS_2022,
    DREES_DECAY,
    accessibility,
    accessibility_table,
    enhanced_two_step_fca,
    estimate_costs,
    gaussian_weight,
    gravity_weight,
    standardised_population,
    step_weight,
    territory_accessibility,
    travel_minutes,
    two_step_fca,
)
from cpts_geo.errors import ValidationError


def _hospital_costs():
    """The pysal/access hospital example, written from its definition."""
    far = {frozenset("13"): 40, frozenset("23"): 40, frozenset("12"): 80}
    rows = [(o, d, 1 if o == d else far[frozenset(o + d)]) for o in "123" for d in "123"]
    return pd.DataFrame(rows, columns=["origin", "destination", "minutes"])


def test_pysal_access_hospital_example():
    demand = pd.Series([100, 50, 10], index=list("123"))
    supply = pd.Series([15, 20, 100], index=list("123"))
    # pairs kept when cost < 61, weight cost ** -1 (gravity, scale 1, alpha -1)
    acc = two_step_fca(demand, supply, _hospital_costs(), max_cost=61,
                       weight=gravity_weight(1, -1))
    assert acc.to_numpy() == pytest.approx([0.331444, 0.579828, 7.286418], abs=1e-6)
    assert (acc * demand).sum() / demand.sum() == pytest.approx(135 / 160)


def test_weights_match_definitions():
    step = step_weight(DREES_DECAY)
    assert step(np.array([0, 9.99, 10, 10.01, 15, 19, 20, 20.5])).tolist() == pytest.approx(
        [1, 1, 1, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 0])
    assert gaussian_weight(20)(np.array([20.0]))[0] == pytest.approx(np.exp(-0.5))
    assert gravity_weight(2, -2, min_cost=1)(np.array([0.0, 4.0])).tolist() == [4.0, 0.25]


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 12), st.integers(0, 2**32 - 1), st.sampled_from(["none", "step", "gauss"]))
def test_weighted_mean_equals_total_supply_over_demand(n, seed, kind):
    """Property: when every supply point has demand in reach, sum_i P_i A_i = sum_j S_j."""
    rng = np.random.default_rng(seed)
    codes = [f"c{i}" for i in range(n)]
    demand = pd.Series(rng.uniform(1, 1000, n), index=codes)
    supply = pd.Series(rng.integers(0, 20, n).astype(float), index=codes)
    o, d = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    minutes = rng.uniform(0, 30, (n, n))
    minutes[np.arange(n), np.arange(n)] = 0.0  # every point reaches itself: demand in reach
    keep = rng.uniform(size=(n, n)) < 0.6
    keep[np.arange(n), np.arange(n)] = True
    costs = pd.DataFrame({"origin": np.array(codes)[o[keep]],
                          "destination": np.array(codes)[d[keep]], "minutes": minutes[keep]})
    weight = {"none": None, "step": step_weight(DREES_DECAY), "gauss": gaussian_weight(10)}[kind]
    acc = two_step_fca(demand, supply, costs, weight=weight, max_cost=30, quiet=True)
    assert (acc * demand).sum() / demand.sum() == pytest.approx(supply.sum() / demand.sum(),
                                                                rel=1e-9)


def test_e2sfca_defaults_to_drees_bands():
    costs = pd.DataFrame({"origin": ["a", "a", "b", "b"], "destination": ["a", "b", "a", "b"],
                          "minutes": [0, 25, 25, 0]})
    acc = enhanced_two_step_fca(pd.Series({"a": 100.0, "b": 50.0}),
                                pd.Series({"a": 10.0, "b": 0.0}), costs, quiet=True)
    assert acc.tolist() == [0.1, 0.0]  # b is 25 minutes away: DREES weight 0


def test_catchment_without_supply_is_zero_and_said():
    costs = pd.DataFrame({"origin": ["a", "b"], "destination": ["a", "b"], "minutes": [0, 0]})
    with pytest.warns(UserWarning, match="sans aucune offre à portée : accessibilité 0"):
        acc = two_step_fca(pd.Series({"a": 50.0, "b": 30.0}), pd.Series({"a": 10.0, "b": 0.0}),
                           costs)
    assert acc.tolist() == [0.2, 0.0]
    assert acc.attrs["no_supply"] == ["b"]


def test_supply_without_demand_is_reported():
    costs = pd.DataFrame({"origin": ["a", "b"], "destination": ["a", "b"], "minutes": [0, 0]})
    with pytest.warns(UserWarning, match="qu'aucune demande n'atteint"):
        acc = two_step_fca(pd.Series({"a": 2.0, "b": 0.0}), pd.Series({"a": 10.0, "b": 3.0}),
                           costs)
    assert np.isfinite(acc).all() and acc.attrs["unreached_supply"] == ["b"]


def test_location_missing_from_cost_table_is_unknown_not_zero():
    costs = pd.DataFrame({"origin": ["a"], "destination": ["a"], "minutes": [0]})
    with pytest.warns(UserWarning, match="absent\\(s\\) de la table des temps \\(b\\)"):
        acc = two_step_fca(pd.Series({"a": 50.0, "b": 10.0}), pd.Series({"a": 10.0}), costs)
    assert acc["a"] == 0.2 and np.isnan(acc["b"])
    assert acc.attrs["not_in_costs"] == ["b"]


def test_bad_cost_table_lists_every_row():
    costs = pd.DataFrame({"origin": ["a", "a", "b", "b"], "destination": ["a", "a", "b", "a"],
                          "minutes": [0, 3, -2, None]})
    with pytest.raises(ValidationError) as err:
        two_step_fca(pd.Series({"a": 1.0, "b": 1.0}), pd.Series({"a": 1.0}), costs)
    problems = err.value.problems
    assert set(problems["row"].astype(str)) == {"2, 3", "4", "5"}
    text = " ".join(problems["problem"])
    assert "négatif" in text and "en double" in text and "manquant" in text


def test_missing_cost_column_is_named():
    with pytest.raises(ValidationError, match="colonnes origine, destination, minutes"):
        two_step_fca(pd.Series({"a": 1.0}), pd.Series({"a": 1.0}),
                     pd.DataFrame({"from": ["a"], "to": ["a"], "time": [1]}))


def test_negative_or_missing_supply_rejected():
    costs = pd.DataFrame({"origin": ["a"], "destination": ["a"], "minutes": [0]})
    with pytest.raises(ValidationError) as err:
        two_step_fca(pd.Series({"a": 1.0}), pd.Series({"a": -1.0, "b": np.nan}), costs)
    assert err.value.problems["code"].tolist() == ["a", "b"]


def test_travel_minutes_grow_with_distance():
    minutes = travel_minutes(np.array([0.0, 1.0, 5.0, 10.0, 20.0]))
    assert (np.diff(minutes) > 0).all() and minutes[0] == 1.0
    faster = travel_minutes(np.array([10.0]), assumptions={"speed_max_kmh": 90})
    assert faster[0] < minutes[3]


def test_estimated_costs_metric_and_symmetric(hdf_communes):
    somme = hdf_communes[hdf_communes["department"] == "80"]
    costs = estimate_costs(somme, max_minutes=20)
    assert (costs["minutes"] < 20).all()
    assert set(costs["origin"]) == set(somme.index)  # every commune reaches itself
    pairs = costs.set_index(["origin", "destination"])["minutes"].sort_index()
    back = costs.set_index(["destination", "origin"])["minutes"]
    back.index.names = ["origin", "destination"]
    assert pairs.to_numpy() == pytest.approx(back.sort_index().to_numpy())
    # Amiens–Abbeville: 40 km as the crow flies, out of reach in 20 minutes
    assert not ((costs["origin"] == "80021") & (costs["destination"] == "80001")).any()
    # Amiens–Longueau (next door, 7 km between their points): in reach, in the first bands
    assert pairs[("80021", "80489")] < 15
    slower = estimate_costs(somme, max_minutes=20,
                            assumptions={"speed_min_kmh": 25, "speed_max_kmh": 45})
    assert len(slower) < len(costs)
    assert hdf_communes.crs.to_epsg() == 4326  # the caller's layer is not reprojected
    with pytest.raises(ValueError, match="pas de CRS"):
        estimate_costs(somme.set_crs(None, allow_override=True))


def test_commune_without_geometry_is_unknown_not_zero(hdf_communes):
    somme = hdf_communes[hdf_communes["department"] == "80"].copy()
    somme.loc["80001", "geometry"] = None
    counts = pd.DataFrame({"médecin généraliste": [300.0]}, index=pd.Index(["80021"]))
    with pytest.warns(UserWarning, match="sans géométrie \\(80001\\)"):
        out = accessibility(counts, somme, quiet=True)
    assert np.isnan(out.loc["80001", "médecin généraliste"])
    assert out["médecin généraliste"].notna().sum() == len(somme) - 1


def test_accessibility_and_territory_aggregation(hdf_communes):
    somme = hdf_communes[hdf_communes["department"] == "80"]
    supply = pd.DataFrame({"code": ["80021", "80001"], "profession": ["généraliste"] * 2,
                           "count": [150.0, 30.0]})
    from cpts_geo.professionals import read_professionals

    table = read_professionals(supply, communes=somme)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = accessibility(table, somme)
    gp = out["médecin généraliste"]
    assert out.index.name == "code" and len(out) == len(somme)
    assert (gp >= 0).all()
    assert (gp * out["demand"]).sum() == pytest.approx(180.0)  # all supply reaches demand
    assert gp["80021"] > gp.median()
    mem = pd.DataFrame({"code": somme.index, "cpts_id": somme["epci"].to_numpy(), "share": 1.0})
    terr = territory_accessibility(gp, mem, weights=out["demand"], threshold=1e-3)
    amiens_epci = somme.loc["80021", "epci"]
    sub = out.loc[mem.loc[mem["cpts_id"] == amiens_epci, "code"]]
    assert terr.loc[amiens_epci, "accessibility"] == pytest.approx(
        (sub["médecin généraliste"] * sub["demand"]).sum() / sub["demand"].sum())
    assert (terr["share_below"].between(0, 1)).all()
    assert terr["n_communes"].sum() == len(somme)
    assert "share_below" not in territory_accessibility(gp, mem, weights=out["demand"]).columns
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        apl_like = accessibility(table, somme, activity=5000)
    assert apl_like["médecin généraliste"].to_numpy() == pytest.approx(5000 * gp.to_numpy())
    assert apl_like.attrs["unit"] == "consultations par habitant et par an"
    french = accessibility_table(terr)
    assert french.index.name == "CPTS"
    assert {"Accessibilité (moyenne pondérée)",
            "Part de la population sous le seuil (%)"} <= set(french.columns)


def test_methods_plain_and_weighted(hdf_communes):
    somme = hdf_communes[hdf_communes["department"] == "80"]
    counts = pd.DataFrame({"infirmier": [5.0]}, index=pd.Index(["80021"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for weight in ("drees", None, gaussian_weight(10), gravity_weight(1, -1, min_cost=1)):
            acc = accessibility(counts, somme, professions=None, weight=weight)["infirmier"]
            assert np.isfinite(acc).all() and acc["80021"] > 0


def test_supply_outside_layer_is_listed(hdf_communes):
    somme = hdf_communes[hdf_communes["department"] == "80"]
    counts = pd.DataFrame({"infirmier": [5.0, 1.0]}, index=pd.Index(["59350", "80021"]))
    with pytest.raises(ValidationError, match="absentes de la couche") as err:
        accessibility(counts, somme, professions=None)
    assert err.value.problems["code"].tolist() == ["59350"]


def test_age_weights_are_the_drees_ones(shared_data):
    import openpyxl

    book = openpyxl.load_workbook(shared_data / "apl" / "drees_apl_mg_2022_2023.xlsx",
                                  read_only=True)
    rows = [r for r in book["Paramètres"].iter_rows(values_only=True)
            if isinstance(r[0], str) and ("ans" in r[0]) and isinstance(r[1], float)]
    assert [r[1] for r in rows] == list(DREES_AGE_WEIGHTS_2022.values())
    assert [r[2] for r in rows] == list(DREES_AGE_WEIGHTS.values())


def test_standardised_population_reproduces_drees(shared_data):
    ages = pd.read_csv(shared_data / "population_age" / "pop1b_2021_occitanie_top25_single_year.csv",
                       dtype={"CODGEO": str})
    ages["n"] = ages["Nb_H"] + ages["Nb_F"]
    ours = standardised_population(ages, code="CODGEO", age="Age", count="n")
    apl = pd.read_csv(shared_data / "apl" / "apl_mg_2023_communes.csv", dtype={"code_insee": str})
    drees = apl.set_index("code_insee")["pop_standardisee"].reindex(ours.index)
    assert len(ours) == 25 and drees.notna().all()
    assert ((ours / drees - 1).abs() < 0.01).all()


def test_apl_rank_correlation_hdf(shared_data):
    """E2SFCA with BPE 2018 GPs vs the published DREES APL 2022 (ranks, Hauts-de-France)."""
    from scipy.stats import spearmanr

    from cpts_geo.cog import remap_codes
    from cpts_geo.communes import load_communes
    from cpts_geo.professionals import read_bpe

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        communes = load_communes()
        communes = communes[~communes["department"].str.startswith("97")]
        bpe = read_bpe(shared_data / "health_professionals" / "bpe2018_sante_communes.csv",
                       professions=["médecin généraliste"], communes=communes, unknown="report",
                       passage=shared_data / "cog_passage" / "gescodgeo_table_passage_2008_2025.csv")
        out = accessibility(bpe, communes)
        apl = pd.read_csv(shared_data / "apl" / "apl_mg_2022_communes.csv",
                          dtype={"code_insee": str})
        new, _ = remap_codes(apl["code_insee"], communes=communes, plm="city")
    # the rejected BPE rows are the overseas communes, outside this mainland layer
    assert bpe.attrs["rejected"]["code"].str.startswith("97").all()
    apl["code"] = new.to_numpy()
    apl = apl.dropna(subset=["code"])
    apl["w"] = apl["apl_generalistes"] * apl["pop_standardisee"]
    grouped = apl.groupby("code")[["w", "pop_standardisee"]].sum()
    ref = grouped["w"] / grouped["pop_standardisee"]
    both = pd.concat([out["médecin généraliste"].rename("ours"), ref.rename("apl"),
                      communes["region"]], axis=1, join="inner").dropna()
    hdf = both[both["region"] == "32"]
    assert len(hdf) > 3700
    assert spearmanr(hdf["ours"], hdf["apl"])[0] >= 0.65
