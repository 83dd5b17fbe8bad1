"""Population vintages of the embedded layer, re-basing counts across COG vintages."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from cpts_geo.data.communes import POPULATION_VINTAGE
from cpts_geo.domain.communes import layer_report, load_arrondissements, load_communes
from cpts_geo.domain.history import code_history, cog_codes, rebase_counts
from cpts_geo.domain.metadata import layer_metadata


def test_default_vintage_is_2021_for_communes_and_arrondissements():
    assert POPULATION_VINTAGE == 2021
    hdf = load_communes(region="32")
    assert layer_metadata(hdf).population_vintage == 2021
    assert "2021" in layer_metadata(hdf).source
    assert hdf.loc["59350", "population"] == 236_710  # Lille, INSEE population municipale 2021
    assert hdf.loc["59350", "population_2016"] == 232_787
    assert hdf.loc["59350", "pop_standardised"] == pytest.approx(212_571.597)
    arm = load_arrondissements()
    assert layer_metadata(arm).population_vintage == 2021
    france = load_communes()
    for city in ("75056", "69123", "13055"):  # Paris, Lyon, Marseille
        parts = arm.loc[arm["parent"] == city, "population"]
        assert len(parts) in (20, 9, 16)
        assert int(parts.sum()) == int(france.loc[city, "population"])
    assert int(france.loc["75056", "population"]) == 2_133_111
    split = load_communes(departments=["13", "69", "75"], arrondissements=True)
    assert layer_metadata(split).population_vintage == 2021
    assert int(split["population"].sum()) == int(
        load_communes(departments=["13", "69", "75"])["population"].sum())


def test_vintage_2016_keeps_the_old_figures():
    old = load_communes(region="32", population_vintage=2016)
    assert layer_metadata(old).population_vintage == 2016
    assert "2016" in layer_metadata(old).source
    assert old.loc["59350", "population"] == 232_787
    assert old["pop_standardised"].isna().all()  # no standardised population of 2016
    assert layer_metadata(load_arrondissements(population_vintage=2016)).population_vintage == 2016
    with pytest.raises(ValueError, match=r"Millésime de population 2019 non embarqué.*2016, 2021"):
        load_communes(population_vintage=2019)


def test_2021_totals_match_insee_per_region(shared_data):
    """National and per-region totals against the independent copy of INSEE's populations
    (COGugaison, COG 2024, population municipale 2021): within 0.1 %."""
    from cpts_geo.domain.codes import department_of

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
    assert "61042" in cog_codes(2015)
    assert "61042" not in cog_codes(2016)
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
    assert unknown.unknown.tolist() == ["99999"]
    assert unknown.table.empty


# --- with_population ----------------------------------------------------------------------

from cpts_geo import ValidationError  # noqa: E402
from cpts_geo.io.communes import PopulationTable, with_population  # noqa: E402


def _orne():
    return load_communes(departments="61")


@pytest.mark.slow
def test_with_population_replaces_every_figure_and_lists_missing_communes():
    layer = _orne()
    table = pd.DataFrame({"code": ["61001", "61345"], "population": [300, 2000]})
    res = with_population(layer, table, vintage=2022)
    assert isinstance(res, PopulationTable)
    assert res.vintage == 2022
    assert layer_metadata(res.communes).population_vintage == 2022
    assert "population 2022" in layer_metadata(res.communes).source
    assert res.communes.loc["61001", "population"] == 300
    # every other commune is empty, never left on 2021
    assert res.communes["population"].notna().sum() == 2
    assert set(res.missing["code"]) == set(layer.index) - {"61001", "61345"}
    assert res.communes["pop_standardised"].isna().all()
    assert res.communes.loc["61001", "population_2016"] == layer.loc["61001", "population_2016"]
    assert layer.loc["61001", "population"] != 300  # the caller's layer is not modified


@pytest.mark.slow
def test_with_population_from_a_french_csv(tmp_path):
    path = tmp_path / "pop.csv"
    path.write_text("CODGEO;PMUN\n61001;1 234\n1001;\u00a0250\n", encoding="utf-8")
    layer = load_communes(departments=["01", "61"])
    res = with_population(layer, path, vintage=2022)
    assert res.communes.loc["61001", "population"] == 1234
    assert res.communes.loc["01001", "population"] == 250


def test_with_population_rejects_bad_rows_with_row_numbers():
    table = pd.DataFrame({"code": ["61001", "61001", "61345", "61002", "6100x", "", "61003"],
                          "population": ["10", "12", "abc", "-5", "3", "4", ""]})
    with pytest.raises(ValidationError) as err:
        with_population(_orne(), table, vintage=2022)
    problems = err.value.problems
    by_problem = dict(zip(problems["problem"].str[:22], problems["row"]))
    assert by_problem["code présent plusieurs"] == "2, 3"
    assert by_problem["population non numériq"] == 4
    assert by_problem["population négative : "] == 5
    assert by_problem["code INSEE mal formé ("] == 6
    assert by_problem["code commune vide"] == 7
    assert by_problem["population vide"] == 8
    with pytest.raises(ValidationError, match="colonne de population introuvable"):
        with_population(_orne(), pd.DataFrame({"code": ["61001"], "valeur": [1]}), vintage=2022)


@pytest.mark.slow
def test_with_population_remaps_codes_of_another_cog_vintage():
    layer = _orne()
    # 61042 Saint-Cyr-la-Rosière was merged into 61345 in 2016: a table of COG 2015
    table = pd.DataFrame({"code": ["61345", "61042", "61001"], "population": [2000, 150, 300]})
    res = with_population(layer, table, vintage=2015)
    assert res.cog == 2015  # the vintage all codes belong to
    assert res.communes.loc["61345", "population"] == 2150
    assert res.remapped[["row", "code", "new_code"]].values.tolist() == [[3, "61042", "61345"]]
    # the same codes declared as COG 2025: 61042 and 61345 would count the commune twice
    with pytest.raises(ValidationError, match="deux millésimes du COG mélangés"):
        with_population(layer, table, vintage=2022, cog=2025)


def test_with_population_split_commune_is_apportioned_and_reported():
    layer = load_communes(departments="15")
    table = pd.DataFrame({"code": ["15141"], "population": [1577]})
    res = with_population(layer, table, vintage=2021, cog=2023)
    assert res.communes.loc[["15031", "15141"], "population"].tolist() == [217, 834]
    assert res.remapped["reason"].str.startswith("scission").all()
    assert len(res.remapped) == 5


@pytest.mark.slow
def test_with_population_arrondissements_never_take_a_city_figure():
    paris = load_communes(departments="75", arrondissements=True)
    arm_codes = list(paris.index)
    # a table with the city only: arrondissements stay empty, the city row is not used
    city = with_population(paris, pd.DataFrame({"code": ["75056"], "population": [2_100_000]}),
                           vintage=2022)
    assert city.communes["population"].isna().all()
    assert len(city.missing) == 20
    assert city.unused["reason"].str.contains("découpée en arrondissements").all()
    # a table by arrondissement, on a layer with the city: the city is their sum
    table = pd.DataFrame({"code": arm_codes, "population": [100] * 20})
    whole = with_population(load_communes(departments="75"), table, vintage=2022)
    assert whole.communes.loc["75056", "population"] == 2000
    assert (whole.remapped["reason"] == "arrondissement additionné à sa commune").sum() == 20
    by_arm = with_population(paris, table, vintage=2022)
    assert by_arm.communes["population"].tolist() == [100] * 20
    assert by_arm.missing.empty


@pytest.mark.slow
def test_with_population_reports_unknown_and_outside_codes():
    table = pd.DataFrame({"code": ["61001", "99999", "59350"], "population": [1, 2, 3]})
    res = with_population(_orne(), table, vintage=2022)
    reasons = dict(zip(res.unused["code"], res.unused["reason"]))
    assert reasons["99999"].startswith("code inconnu")
    assert reasons["59350"].startswith("commune absente de la couche")
    assert res.unused["row"].tolist() == [3, 4]


def test_with_population_refuses_a_decimal_part_and_names_the_row(tmp_path):
    """« 1.234 » among populations written without separator is not 1,234 inhabitants."""
    path = tmp_path / "pop.csv"
    path.write_text("code;population\n61001;300\n61002;1.234\n61005;12,5\n61006;1.000\n61007;250.0\n",
                    encoding="utf-8")
    with pytest.raises(ValidationError, match="Tableau de population") as err:
        with_population(_orne(), path, vintage=2022)
    problems = err.value.problems
    assert problems["row"].tolist() == [3, 4]
    assert problems["problem"].str.contains("partie décimale").all()
    assert "1.234" in problems["problem"].iloc[0]
    # a number cell with a decimal part too (an XLSX, a DataFrame)
    with pytest.raises(ValidationError, match="Tableau de population") as err:
        with_population(_orne(), pd.DataFrame({"code": ["61001", "61002"], "population": [300, 1.5]}),
                        vintage=2022)
    assert err.value.problems["row"].tolist() == [3]
    with pytest.raises(ValidationError) as err:  # a number quoted as users read it, never np.int64(-5)
        with_population(_orne(), pd.DataFrame({"code": ["61001"], "population": [-5]}), vintage=2022)
    assert "population négative : -5" in str(err.value)


def test_with_population_reads_a_column_written_in_thousands_and_says_so(tmp_path):
    path = tmp_path / "pop.csv"
    path.write_text("code;population\n61001;1.234\n61002;250\n61005;12.500\n61006;1.234.567\n",
                    encoding="utf-8")
    with pytest.warns(UserWarning, match="séparateur de milliers"):
        res = with_population(_orne(), path, vintage=2022)
    assert res.communes.loc[["61001", "61002", "61005", "61006"], "population"].tolist() == [
        1234, 250, 12500, 1234567]
    assert res.thousands[["row", "code", "given", "population"]].values.tolist() == [
        [2, "61001", "1.234", 1234], [4, "61005", "12.500", 12500]]
    comma = tmp_path / "virgule.csv"
    comma.write_text("code;population\n61001;1,234\n61002;2,000\n", encoding="utf-8")
    with pytest.warns(UserWarning, match="séparateur de milliers"):
        res = with_population(_orne(), comma, vintage=2022)
    assert res.communes.loc[["61001", "61002"], "population"].tolist() == [1234, 2000]
    # one value shows that the dot is a decimal point: the others are not thousands
    plain = tmp_path / "decimales.csv"
    plain.write_text("code;population\n61001;1.000\n61002;2345.000\n", encoding="utf-8")
    res = with_population(_orne(), plain, vintage=2022)
    assert res.communes.loc[["61001", "61002"], "population"].tolist() == [1, 2345]
    assert res.thousands.empty


def test_with_population_header_only_is_refused(tmp_path):
    path = tmp_path / "pop.csv"
    path.write_text("code;population\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="aucune ligne"):
        with_population(_orne(), path, vintage=2022)


# --- complete code history offline ------------------------------------------------------

from cpts_geo.domain.history import remap_codes  # noqa: E402


def test_code_absorbed_before_2016_is_remapped_without_a_passage_table():
    new, report = remap_codes(["61042", "59350"])
    assert new.tolist() == ["61345", "59350"]
    assert report.loc[0, "reason"].startswith("ancien code (table de passage INSEE")


def test_split_code_is_reported_with_candidates_never_guessed():
    new, report = remap_codes(["15141"], cog=2023)
    assert new.isna().all()
    reason = report.loc[0, "reason"]
    assert reason.startswith("scission")
    for code, name, share in [("15141", "Neussargues-Moissac", "52,9 %"), ("15031", "Celles", "13,8 %"),
                              ("15047", "Chavagnac", "5,8 %")]:
        assert f"{code} {name} {share}" in reason
    # without the vintage the code is today's commune 15141 and is kept
    assert remap_codes(["15141"])[0].tolist() == ["15141"]


def test_orne_epci_registry_written_with_2015_codes_validates(shared_data):
    """A registry of the EPCIs of Orne written with the 495 codes of COG 2015: every old
    code (communes déléguées and codes absorbed into communes nouvelles) is remapped."""
    import warnings

    from cpts_geo.domain.registry import validate_registry

    cog = pd.read_csv(shared_data / "cog_passage" / "cog_communes_pop_2015_2024.csv",
                      dtype={"CODGEO": str})
    old = cog[(cog["year"] == 2015) & cog["CODGEO"].str.startswith("61")]
    assert len(old) == 495
    france = load_communes(crs=None)
    today, _ = remap_codes(old["CODGEO"])
    assert today.notna().all()
    registry = pd.DataFrame({
        "cpts_id": france.loc[today.to_numpy(), "epci"].to_numpy(),
        "cpts_name": france.loc[today.to_numpy(), "epci_name"].to_numpy(),
        "stage": "ACI signé",
        "commune_code": old["CODGEO"].to_numpy(),
    })
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        checked = validate_registry(registry, france)
    orne_today = set(france.index[france["department"] == "61"])
    assert orne_today <= set(checked.membership["code"])
    remapped = checked.report[checked.report["reason"].str.startswith("ancien code")]
    assert len(remapped) == 7
    assert "61042" in set(remapped["code"])
    assert "code inconnu" not in set(checked.report["reason"])


# --- command line: inter-regional CPTS, --population ---------------------------------------

from cpts_geo.cli import main  # noqa: E402

_CROSSING = ("cpts_id;cpts_name;stage;commune_code\n"
             "A;CPTS du Vexin;ACI signé;60057\nA;CPTS du Vexin;ACI signé;95169\n"
             "B;CPTS de Lille;ACI signé;59350\nC;CPTS de Rouen;ACI signé;76540\n")


def test_cli_builds_a_cpts_crossing_the_region_whole(tmp_path, capsys):
    reg = tmp_path / "registre.csv"
    reg.write_text(_CROSSING, encoding="utf-8")
    out = tmp_path / "t.gpkg"
    assert main(["territoires", str(reg), "--region", "32", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "CPTS à cheval sur la limite de la zone demandée, construites en entier (1)" in text
    assert "A CPTS du Vexin : 1 commune(s) hors zone (département(s) 95, région(s) 11)" in text
    assert "sans commune dans la zone demandée, laissée(s) de côté : C" in text
    table = pd.read_csv(out.with_suffix(".csv"), sep=";", encoding="utf-8-sig", dtype=str)
    vexin = table.set_index("Identifiant CPTS").loc["A"]
    assert vexin["Départements"] == "60, 95"
    assert vexin["Régions"] == "11, 32"
    assert "Population municipale 2021" in table.columns
    # the zones blanches are those of the region asked for
    assert "Total                                   2              3 782" in text


def test_two_regions_files_validated_together_report_the_overlap(tmp_path):
    from cpts_geo.domain.registry import validate_registry
    from cpts_geo.io.registry import read_registry

    hdf = tmp_path / "hdf.csv"
    hdf.write_text("cpts_id;cpts_name;stage;commune_code\nHDF-1;CPTS du Vexin;ACI signé;60057\n"
                   "HDF-1;CPTS du Vexin;ACI signé;95169\n", encoding="utf-8")
    idf = tmp_path / "idf.csv"
    idf.write_text("cpts_id;cpts_name;stage;commune_code\nIDF-3;CPTS Vexin;ACI signé;95169\n"
                   "IDF-3;CPTS Vexin;ACI signé;95040\n", encoding="utf-8")
    both = pd.concat([read_registry(hdf), read_registry(idf)], ignore_index=True)
    with pytest.raises(ValidationError, match=r"Commeny revendiquée par plusieurs CPTS : .*HDF-1.*IDF-3"):
        validate_registry(both, load_communes(crs=None))


@pytest.mark.slow
def test_cli_population_file(tmp_path, capsys):
    reg = tmp_path / "registre.csv"
    reg.write_text(_CROSSING, encoding="utf-8")
    pop = tmp_path / "pop.csv"
    pop.write_text("code;population\n60057;1000\n95169;600\n59350;236000\n", encoding="utf-8")
    out = tmp_path / "t.gpkg"
    assert main(["territoires", str(reg), "--region", "32", "-o", str(out),
                 "--population", str(pop)]) == 2
    assert "--millesime-population" in capsys.readouterr().err
    assert main(["territoires", str(reg), "--region", "32", "-o", str(out),
                 "--population", str(pop), "--millesime-population", "2022"]) == 0
    text = capsys.readouterr().out
    assert "Population municipale 2022 lue dans" in text
    assert "commune(s) de la couche absente(s) du tableau, sans population" in text
    table = pd.read_csv(out.with_suffix(".csv"), sep=";", encoding="utf-8-sig", dtype=str)
    assert table.set_index("Identifiant CPTS").loc["A", "Population municipale 2022"] == "1600"
    bad = tmp_path / "bad.csv"
    bad.write_text("code;population\n60057;-3\n60057;12\n", encoding="utf-8")
    assert main(["territoires", str(reg), "-o", str(out), "--population", str(bad),
                 "--millesime-population", "2022"]) == 2
    err = capsys.readouterr().err
    assert "population négative" in err
    assert "lignes 2, 3" in err


def test_cli_says_populations_read_as_thousands(tmp_path, capsys):
    reg = tmp_path / "registre.csv"
    reg.write_text(_CROSSING, encoding="utf-8")
    pop = tmp_path / "pop.csv"
    pop.write_text("code;population\n60057;1.000\n95169;600\n59350;236.000\n", encoding="utf-8")
    assert main(["financement", "--registre", str(reg), "--population", str(pop),
                 "--millesime-population", "2022"]) == 0
    out = capsys.readouterr().out
    assert ("2 population(s) écrite(s) avec un séparateur de milliers (« . » ou « , »), lue(s) en "
            "milliers comme toute la colonne : ligne 2 « 1.000 » = 1 000, ligne 4 « 236.000 » = 236 000") in out
    assert re.search(r"CPTS du Vexin\s+1\s+1600\s", out)


@pytest.mark.slow
def test_batch_maps_use_the_population_given(tmp_path):
    from cpts_geo.domain.registry import validate_registry
    from cpts_geo.render.batch import batch_maps

    corse = load_communes(region="94", crs=None)
    reg = pd.DataFrame({"cpts_id": ["A", "A"], "stage": ["ACI signé"] * 2,
                        "commune_code": ["2A004", "2A006"]})
    checked = validate_registry(reg, corse)
    own = with_population(load_communes(), pd.DataFrame({"code": ["2A004", "2A006"],
                                                         "population": [70_000, 100]}),
                          vintage=2022).communes
    table = batch_maps(checked, tmp_path / "cartes", png=False, progress=None, communes=own)
    assert table["Population municipale 2022"].tolist() == [70_100]
    default = batch_maps(checked, tmp_path / "cartes2", png=False, progress=None)
    assert "Population municipale 2021" in default.columns
