"""Two-step floating catchment accessibility (2SFCA, E2SFCA) and its inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpts_geo.errors import CptsGeoWarning, ValidationError
from cpts_geo.indicators.accessibility import (
    DREES_AGE_WEIGHTS,
    DREES_AGE_WEIGHTS_2022,
    DREES_DECAY,
    StepWeight,
    TwoStepFCA,
    _fast_codes,
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
                       weight=gravity_weight(1, -1)).values
    assert acc.to_numpy() == pytest.approx([0.331444, 0.579828, 7.286418], abs=1e-6)
    assert (acc * demand).sum() / demand.sum() == pytest.approx(135 / 160)


def test_weights_match_definitions():
    # DREES: "moins de 10 minutes" → 1, [10, 15) → 2/3, [15, 20) → 1/3, 20 and more → 0
    step = step_weight(DREES_DECAY)
    assert step(np.array([0, 9.99, 10, 10.01, 15, 19, 20, 20.5])).tolist() == pytest.approx(
        [1, 1, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 0, 0])
    # pysal/access's step_fn: a bound belongs to the band below it
    upper = step_weight(DREES_DECAY, closed="upper")
    assert upper(np.array([0, 9.99, 10, 10.01, 15, 19, 20, 20.5])).tolist() == pytest.approx(
        [1, 1, 1, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 0])
    assert gaussian_weight(20)(np.array([20.0]))[0] == pytest.approx(np.exp(-0.5))
    assert gravity_weight(2, -2, min_cost=1)(np.array([0.0, 4.0])).tolist() == [4.0, 0.25]


def test_step_weight_says_what_it_applies():
    w = step_weight(DREES_DECAY, closed="upper")
    assert isinstance(w, StepWeight)
    assert callable(w)
    assert w.steps == DREES_DECAY
    assert w.closed == "upper"
    assert w.uncertainty is None
    assert step_weight(DREES_DECAY, uncertainty=0.1).uncertainty == 0.1
    assert step_weight(DREES_DECAY, uncertainty=0).uncertainty is None  # 0: the exact steps
    with pytest.raises(ValueError, match="closed doit valoir"):
        step_weight(DREES_DECAY, closed="both")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="dictionnaire"):
        step_weight({})
    with pytest.raises(ValueError, match="positifs"):
        step_weight({10: -1})


def test_reports_are_fields_and_warnings_name_them():
    """Every list is a field of the result; each warning names the field that holds it."""
    costs = pd.DataFrame({"origin": ["01001", "01002", "01009", "99999"],
                          "destination": ["01001", "01003", "01009", "99999"],
                          "minutes": [25.0, 5.0, 1.0, 1.0]})
    demand = pd.Series({"01001": 10.0, "01002": 10.0, "01003": 10.0, "01009": 0.0})
    supply = pd.Series({"01001": 1.0, "01002": 0.0, "01003": 0.0, "01009": 1.0})
    with pytest.warns(CptsGeoWarning) as record:
        result = two_step_fca(demand, supply, costs, weight=step_weight(DREES_DECAY))
    assert isinstance(result, TwoStepFCA)
    assert result.capped_self == ["01001"]
    assert result.not_in_costs == ["01003"]
    assert result.no_self_pair == ["01002"]
    assert result.unreached_supply == ["01009"]
    assert result.no_supply == ["01002"]  # 01009 has supply of its own, even without demand
    assert result.unknown_origins == ["99999"]
    assert result.unknown_destinations == ["99999"]
    messages = [str(w.message) for w in record]
    assert not any("attrs" in m for m in messages)
    for name in ("capped_self", "not_in_costs", "no_self_pair", "unreached_supply", "no_supply"):
        assert any(f"liste dans le champ {name} du résultat" in m for m in messages), name
    assert any("listes dans les champs unknown_origins et unknown_destinations du résultat" in m
               for m in messages)


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
    acc = two_step_fca(demand, supply, costs, weight=weight, max_cost=30, quiet=True).values
    assert (acc * demand).sum() / demand.sum() == pytest.approx(supply.sum() / demand.sum(),
                                                                rel=1e-9)


def test_e2sfca_defaults_to_drees_bands():
    costs = pd.DataFrame({"origin": ["a", "a", "b", "b"], "destination": ["a", "b", "a", "b"],
                          "minutes": [0, 25, 25, 0]})
    acc = enhanced_two_step_fca(pd.Series({"a": 100.0, "b": 50.0}),
                                pd.Series({"a": 10.0, "b": 0.0}), costs, quiet=True)
    assert acc.values.tolist() == [0.1, 0.0]  # b is 25 minutes away: DREES weight 0


def test_catchment_without_supply_is_zero_and_said():
    costs = pd.DataFrame({"origin": ["a", "b"], "destination": ["a", "b"], "minutes": [0, 0]})
    with pytest.warns(UserWarning, match="sans aucune offre à portée : accessibilité 0"):
        acc = two_step_fca(pd.Series({"a": 50.0, "b": 30.0}), pd.Series({"a": 10.0, "b": 0.0}),
                           costs)
    assert acc.values.tolist() == [0.2, 0.0]
    assert acc.no_supply == ["b"]


def test_supply_without_demand_is_reported():
    costs = pd.DataFrame({"origin": ["a", "b"], "destination": ["a", "b"], "minutes": [0, 0]})
    with pytest.warns(UserWarning, match="qu'aucune demande n'atteint"):
        acc = two_step_fca(pd.Series({"a": 2.0, "b": 0.0}), pd.Series({"a": 10.0, "b": 3.0}),
                           costs)
    assert np.isfinite(acc.values).all()
    assert acc.unreached_supply == ["b"]


def test_location_missing_from_cost_table_is_unknown_not_zero():
    costs = pd.DataFrame({"origin": ["a"], "destination": ["a"], "minutes": [0]})
    with pytest.warns(UserWarning, match="absent\\(s\\) de la table des temps \\(b\\)"):
        acc = two_step_fca(pd.Series({"a": 50.0, "b": 10.0}), pd.Series({"a": 10.0}), costs)
    assert acc.values["a"] == 0.2
    assert np.isnan(acc.values["b"])
    assert acc.not_in_costs == ["b"]


def test_bad_cost_table_lists_every_row():
    costs = pd.DataFrame({"origin": ["a", "a", "b", "b"], "destination": ["a", "a", "b", "a"],
                          "minutes": [0, 3, -2, None]})
    with pytest.raises(ValidationError) as err:
        two_step_fca(pd.Series({"a": 1.0, "b": 1.0}), pd.Series({"a": 1.0}), costs)
    problems = err.value.problems
    assert set(problems["row"].astype(str)) == {"2, 3", "4", "5"}
    text = " ".join(problems["problem"])
    assert "négatif" in text
    assert "en double" in text
    assert "manquant" in text


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
    assert (np.diff(minutes) > 0).all()
    assert minutes[0] == 1.0
    faster = travel_minutes(np.array([10.0]), assumptions={"speed_max_kmh": 90})
    assert faster[0] < minutes[3]


def test_estimated_costs_metric_and_symmetric(hdf_communes):
    somme = hdf_communes[hdf_communes["department"] == "80"]
    estimated = estimate_costs(somme, max_minutes=20)
    costs = estimated.costs
    assert estimated.unlocated == []
    assert estimated.assumptions["detour"] == 1.3
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
    assert len(slower.costs) < len(costs)
    assert slower.assumptions["speed_max_kmh"] == 45
    assert hdf_communes.crs.to_epsg() == 4326  # the caller's layer is not reprojected
    with pytest.raises(ValueError, match="pas de CRS"):
        estimate_costs(somme.set_crs(None, allow_override=True))


def test_estimated_costs_are_accepted_as_they_are(hdf_communes):
    somme = hdf_communes[hdf_communes["department"] == "80"]
    estimated = estimate_costs(somme)
    demand = somme["population"].astype(float).fillna(0.0)
    supply = pd.Series(0.0, index=somme.index)
    supply["80021"] = 300.0
    given = enhanced_two_step_fca(demand, supply, estimated, max_cost=20, quiet=True).values
    table = enhanced_two_step_fca(demand, supply, estimated.costs, max_cost=20, quiet=True).values
    assert given.equals(table)
    counts = pd.DataFrame({"médecin généraliste": [300.0]}, index=pd.Index(["80021"]))
    acc = accessibility(counts, somme, costs=estimated, quiet=True)  # a given table: exact bands
    assert acc.table.equals(accessibility(counts, somme, costs=estimated.costs, quiet=True).table)
    assert acc.assumptions is None
    assert len(acc.costs_remapped) == 0
    assert acc.costs_unknown == []


def test_commune_without_geometry_is_unknown_not_zero(hdf_communes):
    somme = hdf_communes[hdf_communes["department"] == "80"].copy()
    somme.loc["80001", "geometry"] = None
    counts = pd.DataFrame({"médecin généraliste": [300.0]}, index=pd.Index(["80021"]))
    with pytest.warns(CptsGeoWarning, match="sans géométrie \\(80001\\)"), \
            pytest.warns(CptsGeoWarning, match="absent\\(s\\) de la table des temps \\(80001\\)"):
        out = accessibility(counts, somme, quiet=True)
    assert np.isnan(out.table.loc["80001", "médecin généraliste"])
    assert out.table["médecin généraliste"].notna().sum() == len(somme) - 1
    assert out.unlocated == ["80001"]
    assert out.not_in_costs == ["80001"]


def test_accessibility_and_territory_aggregation(hdf_communes):
    somme = hdf_communes[hdf_communes["department"] == "80"]
    supply = pd.DataFrame({"code": ["80021", "80001"], "profession": ["généraliste"] * 2,
                           "count": [150.0, 30.0]})
    from cpts_geo.io.supply import read_professionals

    table = read_professionals(supply, communes=somme)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = accessibility(table, somme).table
    gp = out["médecin généraliste"]
    assert out.index.name == "code"
    assert len(out) == len(somme)
    assert (gp >= 0).all()
    assert (gp * out["demand"]).sum() == pytest.approx(180.0)  # all supply reaches demand
    assert gp["80021"] > gp.median()
    mem = pd.DataFrame({"code": somme.index, "cpts_id": somme["epci"].to_numpy(), "share": 1.0})
    result = territory_accessibility(gp, mem, weights=out["demand"], threshold=1e-3)
    terr = result.table
    assert result.threshold == 1e-3
    assert result.unknown == []
    amiens_epci = somme.loc["80021", "epci"]
    sub = out.loc[mem.loc[mem["cpts_id"] == amiens_epci, "code"]]
    assert terr.loc[amiens_epci, "accessibility"] == pytest.approx(
        (sub["médecin généraliste"] * sub["demand"]).sum() / sub["demand"].sum())
    assert (terr["share_below"].between(0, 1)).all()
    assert terr["n_communes"].sum() == len(somme)
    assert "share_below" not in territory_accessibility(gp, mem, weights=out["demand"]).table.columns
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        apl_like = accessibility(table, somme, activity=5000)
    assert apl_like.table["médecin généraliste"].to_numpy() == pytest.approx(5000 * gp.to_numpy())
    assert apl_like.unit == "consultations par habitant et par an"
    french = accessibility_table(result)
    assert french.equals(accessibility_table(terr))
    assert french.index.name == "CPTS"
    assert {"Accessibilité (moyenne pondérée)",
            "Part de la population sous le seuil (%)"} <= set(french.columns)


def test_methods_plain_and_weighted(hdf_communes):
    somme = hdf_communes[hdf_communes["department"] == "80"]
    counts = pd.DataFrame({"infirmier": [5.0]}, index=pd.Index(["80021"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for weight in ("drees", None, gaussian_weight(10), gravity_weight(1, -1, min_cost=1)):
            acc = accessibility(counts, somme, professions=None, weight=weight).table["infirmier"]
            assert np.isfinite(acc).all()
            assert acc["80021"] > 0


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
    assert len(ours) == 25
    assert drees.notna().all()
    assert ((ours / drees - 1).abs() < 0.01).all()


@pytest.mark.slow
def test_apl_rank_correlation_hdf(shared_data):
    """E2SFCA with BPE 2018 GPs vs the published DREES APL 2022 (ranks, Hauts-de-France)."""
    from scipy.stats import spearmanr

    from cpts_geo.domain.communes import load_communes
    from cpts_geo.domain.history import remap_codes
    from cpts_geo.io.supply import read_bpe

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        communes = load_communes()
        communes = communes[~communes["department"].str.startswith("97")]
        bpe = read_bpe(shared_data / "health_professionals" / "bpe2018_sante_communes.csv",
                       professions=["médecin généraliste"], communes=communes, unknown="report",
                       passage=shared_data / "cog_passage" / "gescodgeo_table_passage_2008_2025.csv")
        out = accessibility(bpe, communes).table
        apl = pd.read_csv(shared_data / "apl" / "apl_mg_2022_communes.csv",
                          dtype={"code_insee": str})
        new, _ = remap_codes(apl["code_insee"], communes=communes, plm="city")
    # the rejected BPE rows are the overseas communes, outside this mainland layer
    assert bpe.rejected["code"].str.startswith("97").all()
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


def test_territory_mean_leaves_unknown_values_out():
    values = pd.Series([3.0, np.nan, 1.0], index=["a", "b", "c"])
    weights = pd.Series([100.0, 100.0, 50.0], index=["a", "b", "c"])
    m = pd.DataFrame({"code": ["a", "b", "c"], "cpts_id": ["X", "X", "Y"], "share": 1.0})
    with pytest.warns(UserWarning, match="1 commune\\(s\\) d'accessibilité inconnue \\(b\\)"):
        result = territory_accessibility(values, m, weights=weights, threshold=2.5)
    out = result.table
    x = out.loc["X"]
    assert x["accessibility"] == 3.0  # not (3 + 0) / 2
    assert x["n_communes_unknown"] == 1
    assert x["population_unknown"] == 100.0
    assert x["n_communes_below"] == 0
    assert x["share_below"] == 0.0
    assert out.loc["Y", "n_communes_unknown"] == 0
    assert result.unknown == ["b"]
    with pytest.warns(UserWarning, match="inconnue"):
        blank = territory_accessibility(pd.Series([np.nan], index=["a"]), m.iloc[:1],
                                        weights=weights)
    assert np.isnan(blank.table.loc["X", "accessibility"])


def test_own_supply_is_always_in_reach():
    demand = pd.Series({"a": 100.0})
    supply = pd.Series({"a": 2.0})
    far = pd.DataFrame({"origin": ["a"], "destination": ["a"], "minutes": [25.0]})
    with pytest.warns(UserWarning, match="trajet interne.*juste sous la limite") as record:
        acc = enhanced_two_step_fca(demand, supply, far, max_cost=20)
    assert acc.values["a"] == pytest.approx(0.02)  # its own 2 professionals for its 100 people
    assert acc.capped_self == ["a"]
    assert acc.no_supply == []
    assert not any("sans aucune offre" in str(w.message) for w in record)
    assert far["minutes"].tolist() == [25.0]  # caller's table untouched
    # a table without the pair of a location with itself: said, by name
    costs = pd.DataFrame({"origin": ["a", "b"], "destination": ["b", "a"], "minutes": [5.0, 5.0]})
    with pytest.warns(UserWarning, match="sans paire avec lui-même.*\\(a, b\\)"):
        acc = two_step_fca(pd.Series({"a": 10.0, "b": 10.0}), pd.Series({"a": 1.0, "b": 0.0}),
                           costs, quiet=True)
    assert acc.no_self_pair == ["a", "b"]


def test_guyane_communes_reach_their_own_professionals():
    from cpts_geo.domain.communes import load_communes

    guyane = load_communes(departments="973")
    counts = pd.DataFrame({"médecin généraliste": [18.0, 19.0]},
                          index=pd.Index(["97304", "97311"]))  # Kourou, Saint-Laurent-du-Maroni
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        acc = accessibility(counts, guyane)
    gp = acc.table["médecin généraliste"]
    assert gp["97304"] > 0
    assert gp["97311"] > 0
    assert not {"97304", "97311"} & set(acc.no_supply["médecin généraliste"])
    assert {"97304", "97311"} <= set(acc.capped_self)
    assert any("trajet interne" in str(w.message) for w in record)


def test_no_supply_is_per_profession():
    costs = pd.DataFrame({"origin": ["a", "b"], "destination": ["a", "b"], "minutes": [1, 1]})
    supply = pd.DataFrame({"gp": [1.0, 0.0], "dentiste": [0.0, 0.0]}, index=["a", "b"])
    with pytest.warns(UserWarning, match="sans aucune offre") as record:
        acc = two_step_fca(pd.Series({"a": 100.0, "b": 100.0}), supply, costs)
    assert acc.no_supply == {"gp": ["b"], "dentiste": ["a", "b"]}
    messages = [str(w.message) for w in record]
    assert any(m.startswith("gp : 1 lieu(x) sans aucune offre") for m in messages)
    assert any(m.startswith("dentiste : 2 lieu(x) sans aucune offre") for m in messages)


def test_drees_bands_closed_at_their_lower_bound():
    costs = pd.DataFrame({"origin": ["a", "b", "c", "d"], "destination": ["s"] * 4,
                          "minutes": [9.99, 10.0, 15.0, 20.0]})
    demand = pd.Series({"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0})
    supply = pd.Series({"s": 2.0})
    acc = enhanced_two_step_fca(demand, supply, costs, quiet=True).values
    ratio = 2.0 / (1 + 2 / 3 + 1 / 3)  # d, at 20 minutes, is out of reach
    assert acc.tolist() == pytest.approx([ratio, 2 / 3 * ratio, 1 / 3 * ratio, 0.0])
    pysal_like = enhanced_two_step_fca(demand, supply, costs, quiet=True,
                                       weight=step_weight(DREES_DECAY, closed="upper")).values
    assert pysal_like["b"] == pysal_like["a"]  # pysal/access: 10 minutes is in the first band


def test_cost_table_codes_and_values_are_cleaned_or_rejected():
    costs = pd.DataFrame({"origin": [1001, 1002], "destination": [1001, 1002], "minutes": ["1,5", "2"]})
    demand = pd.Series({"01001": 100.0, "01002": 100.0})
    supply = pd.Series({"01001": 1.0, "01002": 0.0})
    with pytest.warns(UserWarning, match="réparé\\(s\\).*1001 → 01001"):
        acc = two_step_fca(demand, supply, costs, quiet=True)
    assert acc.values.tolist() == [0.01, 0.0]
    assert acc.not_in_costs == []
    assert acc.repaired_codes == [(1001, "01001"), (1002, "01002")]
    bad = pd.DataFrame({"origin": ["a", "b"], "destination": ["a", "b"], "minutes": [np.inf, 2.0]})
    with pytest.raises(ValidationError, match="ligne 2, code a → a : temps de trajet infini"):
        two_step_fca(pd.Series({"a": 1.0, "b": 1.0}), pd.Series({"a": 1.0, "b": 1.0}), bad)
    fine = pd.DataFrame({"origin": ["a", "b"], "destination": ["a", "b"], "minutes": [1.0, 2.0]})
    with pytest.raises(ValidationError, match="code a : demande manquante, infinie ou négative"):
        two_step_fca(pd.Series({"a": np.inf, "b": 1.0}), pd.Series({"a": 1.0, "b": 1.0}), fine)


def test_accessibility_maps_cost_codes_to_todays_communes():
    from cpts_geo.domain.communes import load_communes

    paris = load_communes(departments="75")
    costs = pd.DataFrame({"origin": ["75101", "75102", "99999"],
                          "destination": ["75101", "75101", "99999"], "minutes": [2.0, 4.0, 1.0]})
    counts = pd.DataFrame({"infirmier": [10.0]}, index=pd.Index(["75056"]))
    with pytest.warns(CptsGeoWarning) as record:
        acc = accessibility(counts, paris, professions=None, costs=costs, quiet=True)
    messages = " ".join(str(w.message) for w in record)
    assert "rattaché(s) à la commune actuelle (75101 → 75056, 75102 → 75056)" in messages
    assert "1 paire(s) fusionnée(s)" in messages
    assert "absent(s) de la couche des communes (99999)" in messages
    assert acc.costs[["origin", "destination", "minutes"]].values.tolist() == [
        ["75056", "75056", 3.0]]
    assert acc.costs_unknown == ["99999"]
    assert acc.assumptions is None
    assert acc.costs_remapped["new_code"].tolist() == ["75056", "75056"]
    # demand: the layer's standardised population (DREES)
    assert acc.table.loc["75056", "infirmier"] == pytest.approx(10.0 / paris.loc["75056", "pop_standardised"])


def test_accessibility_demand_codes_are_mapped_or_rejected():
    from cpts_geo.domain.communes import load_communes

    ain = load_communes(departments="01")
    demand = ain["population"].astype(float).drop("01033")
    demand.index = demand.index.astype(str)
    old = pd.concat([demand, pd.Series({"01091": 5000.0})])  # a code merged into 01033 in 2019
    counts = pd.DataFrame({"médecin généraliste": [10.0]}, index=pd.Index(["01033"]))
    with pytest.warns(UserWarning, match="01091 → 01033"):
        acc = accessibility(counts, ain, demand=old, quiet=True)
    assert acc.table.loc["01033", "demand"] == 5000.0  # Châtillon-en-Michaille's demand, now in Valserhône
    assert acc.demand_remapped["new_code"].tolist() == ["01033"]
    with pytest.raises(ValidationError) as err:
        accessibility(counts, ain, demand=pd.concat([old, pd.Series({"99999": 1e6, "01033": 1.0})]),
                      quiet=True)
    text = str(err.value)
    assert "code 99999 : code inconnu : pas une commune de la couche" in text
    assert "code 01033 : demande donnée pour la commune et aussi pour ses anciens codes" in text


def test_messages_quote_cells_as_users_read_them_never_a_numpy_repr():
    from cpts_geo.domain.communes import load_communes

    ain = load_communes(departments="01")
    demand = ain["population"].astype(float)
    demand.iloc[0], demand.iloc[1] = np.nan, -3.0
    counts = pd.DataFrame({"médecin généraliste": [10.0]}, index=pd.Index(["01033"]))
    with pytest.raises(ValidationError) as err:
        accessibility(counts, ain, demand=demand, quiet=True)
    text = str(err.value)
    assert f"code {ain.index[0]} : demande invalide (vide)" in text
    assert f"code {ain.index[1]} : demande invalide (-3)" in text
    with pytest.raises(ValueError, match=r"^activity=nan : "):
        accessibility(counts, ain, activity=np.float64("nan"), quiet=True)
    costs = pd.DataFrame({"origin": ["01033", "01033"], "destination": ["01033", "01004"],
                          "minutes": [0.0, np.nan]})
    with pytest.raises(ValidationError) as err:
        accessibility(counts, ain, costs=costs, quiet=True)
    assert "temps de trajet manquant ou non numérique (vide)" in str(err.value)
    ages = pd.DataFrame({"code": ["01033"] * 2, "age": [3, np.nan], "count": [np.int64(-5), 1]})
    with pytest.raises(ValidationError) as err:
        standardised_population(ages)
    assert "âge invalide (vide)" in str(err.value)
    assert "effectif invalide (-5)" in str(err.value)
    for text in (str(err.value),):
        assert "np." not in text


def test_estimated_costs_split_overseas_whatever_the_crs():
    from cpts_geo.domain.communes import load_communes

    layer = load_communes(departments=["80", "974"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        degrees = estimate_costs(layer).costs
        lambert = estimate_costs(layer.to_crs(2154)).costs
    reunion = [c[c["origin"].str.startswith("974") & (c["origin"] != c["destination"])]
               for c in (degrees, lambert)]
    assert len(reunion[1]) == len(reunion[0]) == 78
    assert reunion[1]["km"].to_numpy() == pytest.approx(reunion[0]["km"].to_numpy())


def test_drees_reach_beyond_20_minutes_is_said_to_have_no_effect(hdf_communes):
    somme = hdf_communes[hdf_communes["department"] == "80"]
    counts = pd.DataFrame({"médecin généraliste": [300.0]}, index=pd.Index(["80021"]))
    with pytest.warns(UserWarning, match="max_minutes=30 : les paliers DREES donnent un poids nul"):
        wide = accessibility(counts, somme, max_minutes=30, quiet=True).table
    narrow = accessibility(counts, somme, quiet=True).table
    assert wide["médecin généraliste"].to_numpy() == pytest.approx(narrow["médecin généraliste"].to_numpy())


def _random_commune_table(seed: int, n: int = 40):
    """A cost table on clean commune codes (2A/2B included), demand and supply."""
    rng = np.random.default_rng(seed)
    codes = np.array([f"{d}{i:03d}" for d, i in zip(rng.choice(["01", "2A", "2B", "59", "80"], n),
                                                     rng.choice(1000, n, replace=False))])
    codes = np.unique(codes)
    n = len(codes)
    o, d = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    keep = (rng.uniform(size=(n, n)) < 0.5) | (o == d)
    costs = pd.DataFrame({"origin": codes[o[keep]], "destination": codes[d[keep]],
                          "minutes": np.where(o[keep] == d[keep], 1.0,
                                              rng.uniform(0, 25, int(keep.sum())))})
    demand = pd.Series(rng.uniform(0, 1000, n), index=codes)
    supply = pd.Series(rng.integers(0, 5, n).astype(float), index=codes)
    return costs, demand, supply


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clean_codes_fast_path_equals_general_path(seed):
    """Clean text codes are read straight from their bytes: same values as any other column."""
    costs, demand, supply = _random_commune_table(seed)
    fast = enhanced_two_step_fca(demand, supply, costs, max_cost=20, quiet=True).values
    shuffled = costs.sample(frac=1.0, random_state=seed)  # not sorted: duplicates checked by hash
    as_object = shuffled.astype({"origin": object, "destination": object})
    as_object.loc[as_object.index[0], "origin"] = " " + as_object["origin"].iloc[0]  # repaired
    as_category = costs.astype({"origin": "category", "destination": "category"})
    assert _fast_codes(costs, "origin", "destination") is not None
    assert _fast_codes(as_category, "origin", "destination") is not None
    assert _fast_codes(as_object, "origin", "destination") is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for other in (shuffled, as_object, as_category):
            again = enhanced_two_step_fca(demand, supply, other, max_cost=20, quiet=True).values
            assert np.allclose(again.to_numpy(), fast.to_numpy(), rtol=1e-12, atol=0)


def test_fast_path_still_finds_duplicates_and_unknown_codes():
    costs = pd.DataFrame({"origin": ["2A004", "2B033", "2A004", "59350"],
                          "destination": ["2A004", "2B033", "2A004", "59350"],
                          "minutes": [1.0, 2.0, 3.0, 1.0]})
    demand = pd.Series({"2A004": 10.0, "2B033": 10.0})
    with pytest.raises(ValidationError, match=r"lignes? 2, 4.*2A004 → 2A004.*paire en double"):
        two_step_fca(demand, pd.Series({"2A004": 1.0}), costs)
    acc = two_step_fca(demand, pd.Series({"2A004": 1.0, "2B033": 0.0}), costs.drop(index=2),
                       quiet=True)
    assert acc.unknown_origins == ["59350"]
    assert acc.unknown_destinations == ["59350"]
    assert acc.values.tolist() == pytest.approx([0.1, 0.0])


def test_byte_reading_of_codes_agrees_with_the_insee_rule():
    from cpts_geo.domain.codes import is_insee_code
    from cpts_geo.indicators.accessibility import _arrow_strings, _base12, _decode12, _encode12

    values = ["59350", "2A004", "2B033", "2C004", "3A004", "1001", "01001 ", "5935O", "97411",
              "00000", "2a004", "é1234", "2AA04", "20004"]
    keys = _encode12(pd.Index(values, dtype="string"))
    assert ((keys >= 0) == is_insee_code(pd.Series(values))).all()
    good = [v for v in values if is_insee_code(pd.Series([v]))[0]]
    assert _decode12(_base12(_arrow_strings(pd.Series(good, dtype="string")))).tolist() == good
    for v in values:
        one = _base12(_arrow_strings(pd.Series([v], dtype="string")))
        assert (one is not None) == bool(is_insee_code(pd.Series([v]))[0]), v


def test_uncertain_step_weight_closed_form():
    """Expected DREES weight of a time known up to a log-normal factor exp(N(0, σ²))."""
    from scipy.stats import norm

    sigma = 0.1
    w = step_weight(DREES_DECAY, uncertainty=sigma)
    # at a bound, half of that step is lost: w(10) = 1/3 (1/2) + 1/3 Φ(ln 1.5/σ) + 1/3 Φ(ln 2/σ)
    expected = (0.5 + norm.cdf(np.log(1.5) / sigma) + norm.cdf(np.log(2) / sigma)) / 3
    assert w(np.array([10.0]))[0] == pytest.approx(expected, rel=1e-12)
    # one step of height 1: the probability that the real time is under the bound
    one = step_weight({20: 1.0}, uncertainty=0.2)
    c = np.array([20.0, 20 * np.exp(0.2), 20 * np.exp(-0.4)])
    assert one(c) == pytest.approx([0.5, norm.cdf(-1), norm.cdf(2)], rel=1e-12)
    # zero minutes: every step kept; NaN or negative: no weight; far: almost none
    assert w(np.array([0.0, np.nan, -1.0])).tolist() == [1.0, 0.0, 0.0]
    far = 20 * np.exp(3 * sigma)
    assert w(np.array([far]))[0] == pytest.approx(
        (norm.cdf(-3) + norm.cdf(np.log(15 / far) / sigma) + norm.cdf(np.log(10 / far) / sigma)) / 3,
        rel=1e-12)
    assert w(np.array([far]))[0] < 5e-4
    # it tends to the exact steps when σ → 0 (away from the bounds)
    times = np.array([5.0, 12.0, 17.0, 25.0])
    assert step_weight(DREES_DECAY, uncertainty=1e-4)(times) == pytest.approx(
        step_weight(DREES_DECAY)(times), abs=1e-12)
    with pytest.raises(ValueError, match="écart-type"):
        step_weight(DREES_DECAY, uncertainty=-0.1)


def test_uncertain_weights_in_the_three_area_example():
    """pysal/access's three areas with the smoothed DREES bands, computed by hand."""
    from scipy.stats import norm

    demand = pd.Series([100.0, 50.0, 10.0], index=list("123"))
    supply = pd.Series([15.0, 20.0, 100.0], index=list("123"))
    costs = _hospital_costs().assign(minutes=lambda t: t["minutes"].replace({40: 12, 80: 18}))
    sigma = 0.15
    acc = enhanced_two_step_fca(demand, supply, costs, weight=step_weight(DREES_DECAY, uncertainty=sigma)).values

    def w(c):
        return sum(norm.cdf((np.log(b) - np.log(c)) / sigma) for b in (10, 15, 20)) / 3

    W = np.array([[w(1), w(18), w(12)], [w(18), w(1), w(12)], [w(12), w(12), w(1)]])
    ratio = supply.to_numpy() / (W.T @ demand.to_numpy())
    assert acc.to_numpy() == pytest.approx(W @ ratio, rel=1e-12)


def test_accessibility_defaults_standardised_demand_and_uncertain_times(hdf_communes):
    somme = hdf_communes[hdf_communes["department"] == "80"]
    counts = pd.DataFrame({"médecin généraliste": [300.0, 5.0]}, index=pd.Index(["80021", "80001"]))
    std = somme.assign(pop_standardised=somme["population"].astype(float) * 1.1)
    result = accessibility(counts, std, quiet=True)
    acc = result.table
    assert acc["demand"].to_numpy() == pytest.approx(std["pop_standardised"].to_numpy())
    # estimated times: expected DREES weights under σ = 0.1, over a table reaching 20 exp(0.3)
    costs = result.costs
    assert result.assumptions is not None
    assert result.assumptions["uncertainty"] == 0.1
    assert costs["minutes"].max() < 20 * np.exp(0.3)
    assert costs["minutes"].max() > 20
    dem = std["pop_standardised"]
    by_hand = enhanced_two_step_fca(dem, counts["médecin généraliste"].reindex(dem.index, fill_value=0.0),
                                    costs, max_cost=20 * np.exp(0.3), quiet=True,
                                    weight=step_weight(DREES_DECAY, uncertainty=0.1)).values
    assert acc["médecin généraliste"].to_numpy() == pytest.approx(by_hand.to_numpy(), rel=1e-12)
    # uncertainty 0: the exact bands, on a table cut at 20 minutes
    exact = accessibility(counts, std, quiet=True, assumptions={"uncertainty": 0})
    table = exact.costs
    assert (table.loc[table["origin"] != table["destination"], "minutes"] < 20).all()
    assert not np.allclose(exact.table["médecin généraliste"], acc["médecin généraliste"])
