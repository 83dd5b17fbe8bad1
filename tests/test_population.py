"""Population vintages of the embedded layer, re-basing counts across COG vintages."""

from __future__ import annotations

import pandas as pd
import pytest

from cpts_geo.cog import code_history, cog_codes, rebase_counts
from cpts_geo.communes import (
    POPULATION_VINTAGE,
    layer_report,
    load_arrondissements,
    load_communes,
)


def test_default_vintage_is_2021_for_communes_and_arrondissements():
    assert POPULATION_VINTAGE == 2021
    hdf = load_communes(region="32")
    assert hdf.attrs["population_vintage"] == 2021
    assert "2021" in hdf.attrs["source"]
    assert hdf.loc["59350", "population"] == 236_710  # Lille, INSEE population municipale 2021
    assert hdf.loc["59350", "population_2016"] == 232_787
    assert hdf.loc["59350", "pop_standardised"] == pytest.approx(212_571.597)
    arm = load_arrondissements()
    assert arm.attrs["population_vintage"] == 2021
    france = load_communes()
    for city in ("75056", "69123", "13055"):  # Paris, Lyon, Marseille
        parts = arm.loc[arm["parent"] == city, "population"]
        assert len(parts) in (20, 9, 16)
        assert int(parts.sum()) == int(france.loc[city, "population"])
    assert int(france.loc["75056", "population"]) == 2_133_111
    split = load_communes(departments=["13", "69", "75"], arrondissements=True)
    assert split.attrs["population_vintage"] == 2021
    assert int(split["population"].sum()) == int(
        load_communes(departments=["13", "69", "75"])["population"].sum())


def test_vintage_2016_keeps_the_old_figures():
    old = load_communes(region="32", population_vintage=2016)
    assert old.attrs["population_vintage"] == 2016
    assert "2016" in old.attrs["source"]
    assert old.loc["59350", "population"] == 232_787
    assert old["pop_standardised"].isna().all()  # no standardised population of 2016
    assert load_arrondissements(population_vintage=2016).attrs["population_vintage"] == 2016
    with pytest.raises(ValueError, match=r"Millésime de population 2019 non embarqué.*2016, 2021"):
        load_communes(population_vintage=2019)


def test_2021_totals_match_insee_per_region(shared_data):
    """National and per-region totals against the independent copy of INSEE's populations
    (COGugaison, COG 2024, population municipale 2021): within 0.1 %."""
    from cpts_geo.communes import department_of

    cog = pd.read_csv(shared_data / "cog_passage" / "cog_communes_pop_2015_2024.csv",
                      dtype={"CODGEO": str})
    insee = cog[cog["year"] == 2024].set_index("CODGEO")["POP"]
    france = load_communes()
    region_of = france.groupby("department")["region"].first()
    by_dep = insee.groupby(department_of(insee.index.to_series()).to_numpy()).sum()
    expected = by_dep.groupby(region_of.reindex(by_dep.index).to_numpy()).sum()
    ours = france.groupby("region")["population"].sum()
    assert set(expected.index) == set(ours.index)
    for region, pop in expected.items():
        if pop:  # Mayotte: in neither
            assert abs(int(ours[region]) - pop) / pop < 0.001, region
    assert abs(int(ours.sum()) - insee.sum()) / insee.sum() < 0.001
    assert int(ours.sum()) == 67_408_052


def test_mayotte_and_split_communes_are_reported():
    report = layer_report(load_communes())
    no_pop = report[report["problem"].str.startswith("pas de population")]
    assert set(no_pop["code"]) == {f"976{i:02d}" for i in range(1, 18)}
    assert no_pop["problem"].str.contains("Mayotte").all()
    estimated = report[report["problem"].str.startswith("population 2021 estimée")]
    # 15141 Allanche (COG 2023) split in 2024-2025 into five communes
    assert {"15031", "15035", "15047", "15141", "15171"} <= set(estimated["code"])
    assert estimated["problem"].str.contains("15141 du COG 2023").any()
    uninhabited = report[report["problem"].str.startswith("commune sans habitant")]
    assert len(uninhabited) == 6  # the villages of Meuse destroyed in 1916


def test_cog_codes_and_code_history():
    assert "61042" in cog_codes(2015) and "61042" not in cog_codes(2016)
    assert len(cog_codes(2025)) == 34_875
    hist = code_history(["61042", "59350", "15141"])
    assert hist.loc[hist["code"] == "61042", "new_code"].tolist() == ["61345"]
    assert "15141" not in set(hist["code"])  # still a commune today
    split = code_history(["15141"], cog=2023)
    assert set(split["new_code"]) == {"15031", "15035", "15047", "15141", "15171"}
    assert split["share"].sum() == pytest.approx(1)
    with pytest.raises(ValueError, match="Millésime du COG 2030 non couvert"):
        cog_codes(2030)


def test_rebase_counts_closed_form():
    # merge: 61042 (COG 2015) into 61345; split: 15141 (COG 2023) into five communes
    table = pd.DataFrame({"population": [1000, 250, 1577], "x": [1.0, 2.0, 3.0]},
                         index=["61345", "61042", "15141"])
    out = rebase_counts(table.iloc[:2], cog=2015, integer=["population"])
    assert out.table.loc["61345", "population"] == 1250
    assert out.table.loc["61345", "x"] == 3.0
    assert set(out.report["reason"]) == {"fusion : additionnée"}
    split = rebase_counts(table.iloc[2:], cog=2023, integer=["population"])
    # weights are INSEE's 2025 populations: 217, 311, 91, 834, 124 (sum 1 577)
    assert split.table["population"].to_dict() == {
        "15031": 217, "15035": 311, "15047": 91, "15141": 834, "15171": 124}
    assert split.report["reason"].str.startswith("scission").all()
    unknown = rebase_counts(pd.DataFrame({"population": [5]}, index=["99999"]), cog=2023)
    assert unknown.unknown.tolist() == ["99999"] and unknown.table.empty
