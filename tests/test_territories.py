"""Territories from a registry, on the real commune layer."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from cpts_geo.domain.crs import to_metric
from cpts_geo.domain.registry import registry_from_perimeters, validate_registry
from cpts_geo.domain.territories import build_territories, communes_with_cpts, coverage, summary_table
from cpts_geo.errors import ValidationError
from cpts_geo.io.layers import write_territories
from cpts_geo.io.registry import example_registry, is_example_registry, load_example_registry


@pytest.fixture(scope="module")
def example(hdf_communes):
    checked = validate_registry(load_example_registry(), hdf_communes)
    return checked, build_territories(checked, hdf_communes)


def test_example_registry_is_illustrative_and_counts_like_the_guide(example):
    _checked, terr = example
    assert len(terr) == 59
    assert terr["stage"].isin(["Projet de santé validé", "ACI signé"]).sum() == 32
    ex = example_registry()
    assert ex.illustrative
    assert ex.note.startswith("Registre ILLUSTRATIF")
    assert is_example_registry(load_example_registry())
    assert load_example_registry().attrs == {}
    assert not is_example_registry(load_example_registry().iloc[:-1])
    assert terr["name"].str.endswith("(illustratif)").all()
    assert set(terr["tier"].dropna()) <= {1, 2, 3, 4}


def test_population_is_real_and_split_counted_with_share(example, hdf_communes):
    checked, terr = example
    lille = checked.membership[checked.membership["code"] == "59350"]
    assert lille["share"].tolist() == [0.5, 0.5]
    lille_cpts = lille["cpts_id"].iat[0]
    members = checked.membership[checked.membership["cpts_id"] == lille_cpts]
    pop = hdf_communes.loc[members["code"], "population"].to_numpy() * members["share"].to_numpy()
    assert terr.at[lille_cpts, "population"] == round(pop.sum())
    # Covered population: each commune counted once, split Lille counted once in total
    assert terr["population"].sum() == pytest.approx(
        hdf_communes.loc[checked.membership["code"].unique(), "population"].sum(), abs=1)


def test_figures_without_geometry_are_those_of_the_territories(example, hdf_communes):
    """geometry=False (the ACI funding of a registry): the same figures, nothing dissolved."""
    from cpts_geo.domain.metadata import layer_metadata

    checked, terr = example
    figures = build_territories(checked, hdf_communes, geometry=False)
    assert type(figures) is pd.DataFrame
    dropped = ["area_km2", "single_part", "n_parts", "parts", "geometry"]
    pd.testing.assert_frame_equal(figures, pd.DataFrame(terr.drop(columns=dropped)))
    assert layer_metadata(figures).population_vintage == layer_metadata(terr).population_vintage
    # a CPTS whose communes have no population has no tier, as with the geometry
    mayotte = pd.DataFrame({"cpts_id": ["M"], "stage": ["5"], "commune_code": ["97611"]})
    assert pd.isna(build_territories(mayotte, geometry=False).at["M", "tier"])


def test_coverage_reuses_the_layer_given(example, hdf_communes):
    """territoires passes the layer it writes to coverage: the same table as computing it again."""
    checked, _terr = example
    layer = communes_with_cpts(checked, hdf_communes)
    pd.testing.assert_frame_equal(coverage(checked, hdf_communes, layer=layer), coverage(checked, hdf_communes))


def test_tier_boundaries_from_population(hdf_communes):
    # Amiens (133 625 inhabitants in 2021; 134 057 in 2016) alone is tier 3.
    t = build_territories(pd.DataFrame({"cpts_id": ["A"], "stage": ["5"], "commune_code": ["80021"]}),
                          hdf_communes)
    assert t.at["A", "population"] == 133625
    assert t.at["A", "tier"] == 3


def test_no_sliver_holes_and_areas_match_communes(example, hdf_communes):
    checked, terr = example
    metric = to_metric(terr)
    units = to_metric(hdf_communes).geometry
    small = [shapely.Polygon(r) for geom in metric.geometry for poly in shapely.get_parts(geom)
             for r in poly.interiors if shapely.Polygon(r).area < 10_000]
    # The only small hole is a detached part of Noyelles-lès-Seclin (59437), a real exclave.
    assert len(small) == 1
    assert units.loc["59437"].intersection(small[0]).area == pytest.approx(small[0].area, rel=1e-3)
    commune_area = to_metric(hdf_communes).area / 1e6
    m = checked.membership
    expected = pd.Series(commune_area.reindex(m["code"]).to_numpy()).groupby(m["cpts_id"].to_numpy()).sum()
    np.testing.assert_allclose(terr["area_km2"].sort_index(), expected.sort_index(), rtol=1e-4)


def test_territory_in_several_parts_lists_them(hdf_communes):
    r = pd.DataFrame({"cpts_id": ["A"] * 3, "stage": ["1"] * 3,
                      "commune_code": ["80021", "80001", "59350"]})
    t = build_territories(r, hdf_communes)
    assert not t.at["A", "single_part"]
    assert t.at["A", "n_parts"] == 3
    assert t.at["A", "parts"] == "partie 1 : Lille ; partie 2 : Amiens ; partie 3 : Abbeville"
    assert t.at["A", "departments"] == "59, 80"


def test_parts_of_every_territory_hold_each_member(example, hdf_communes):
    """Each member is in a part of its own CPTS; parts are numbered by population."""
    from cpts_geo.domain.territories import territory_parts

    checked, terr = example
    multi = terr[~terr["single_part"]]
    parts = territory_parts(multi, hdf_communes, checked)
    assert parts.groupby("cpts_id").size().to_dict() == multi["n_parts"].to_dict()
    member = checked.membership
    for cid, rows in parts.groupby("cpts_id"):
        codes = [c for text in rows["communes"] for c in text.split(", ")]
        assert sorted(set(codes)) == sorted(member.loc[member["cpts_id"] == cid, "code"])
        assert rows["part"].tolist() == list(range(1, len(rows) + 1))
        pop = [hdf_communes.loc[text.split(", "), "population"].sum() for text in rows["communes"]]
        assert pop == sorted(pop, reverse=True)
        for text, largest in zip(rows["communes"], rows["largest"]):
            top = hdf_communes.loc[text.split(", ")].sort_values("population", ascending=False)
            assert largest == top["name"].iat[0]


def test_coverage_every_commune_once(example, hdf_communes):
    checked, _terr = example
    layer = communes_with_cpts(checked, hdf_communes)
    assert layer.index.equals(hdf_communes.index)
    cov = coverage(checked, hdf_communes)
    total = hdf_communes["population"].sum()
    assert cov.loc["Total", "population"] == total == 5_995_292  # 2021 (2016: 6 003 283)
    assert cov.drop(index="Total")["population"].sum() == pytest.approx(total)
    assert cov.drop(index="Total")["n_communes"].sum() == 3782
    assert cov.loc["Non couvert", "n_communes"] == (~layer["covered"]).sum() > 0
    assert cov.loc["ACI signé", "n_cpts"] == 24


def test_geopackage_and_french_csv(example, hdf_communes, tmp_path):
    checked, terr = example
    layer = communes_with_cpts(checked, hdf_communes)
    path = write_territories(tmp_path / "cpts.gpkg", terr, layer, csv=tmp_path / "cpts.csv")
    layers = dict(pyogrio.list_layers(path))
    assert set(layers) == {"cpts", "communes", "zones_blanches", "layer_styles"}
    assert pyogrio.read_info(path, layer="zones_blanches")["features"] == (~layer["covered"]).sum()
    back = pyogrio.read_dataframe(path, layer="cpts")
    assert len(back) == 59
    assert back.crs.to_epsg() == 2154
    raw = (tmp_path / "cpts.csv").read_bytes()
    assert raw.startswith("\ufeff".encode())
    assert "Étape;Taille".encode() in raw
    assert summary_table(terr)["D'un seul tenant"].isin(["oui", "non"]).all()
    # French Excel reads the numbers as numbers: decimal comma, areas to the hectare
    table = pd.read_csv(tmp_path / "cpts.csv", sep=";", decimal=",", encoding="utf-8-sig")
    assert table["Superficie (km²)"].dtype == float
    assert np.allclose(table["Superficie (km²)"], terr["area_km2"].to_numpy(), atol=0.006)


def test_user_layer_that_is_not_a_clean_coverage(hdf_communes):
    somme = hdf_communes[hdf_communes["department"] == "80"].copy()
    somme.attrs = {}  # unknown layer: union with sliver filling
    r = pd.DataFrame({"cpts_id": "A", "stage": "5",
                      "commune_code": somme.index[somme["epci"] == somme.at["80021", "epci"]]})
    fast = build_territories(r, hdf_communes)
    slow = build_territories(r, somme)
    assert slow.at["A", "area_km2"] == pytest.approx(fast.at["A", "area_km2"], rel=1e-4)
    assert slow.at["A", "n_parts"] == fast.at["A", "n_parts"] == 1


def test_perimeters_as_polygons(hdf_communes):
    somme = hdf_communes[hdf_communes["department"] == "80"]
    big = somme["epci"].value_counts().index[:3]
    per = somme[somme["epci"].isin(big)].dissolve("epci").reset_index()[["epci", "geometry"]]
    per = per.rename(columns={"epci": "cpts_id"}).assign(stage="ACI signé")
    per_m = to_metric(per.set_index("cpts_id"))
    per_m.geometry = per_m.geometry.translate(1500, 0)  # drawn 1.5 km off: communes get cut
    registry, cut, without, repaired = registry_from_perimeters(per_m.reset_index(), somme)
    assert len(registry) > 0
    assert len(cut) > 0
    assert set(registry["cpts_id"]) == set(per["cpts_id"])
    assert cut["shares"].str.contains("%").all()
    assert without.empty
    assert repaired == []
    validate_registry(registry, somme)


def test_small_and_self_intersecting_perimeters_are_never_silent(hdf_communes):
    """A perimeter covering < 5 % of every commune vanished; a bow-tie perimeter was accepted."""
    from shapely.geometry import Polygon

    somme = hdf_communes[hdf_communes["department"] == "80"]
    amiens = to_metric(somme.loc[["80021"]]).geometry.iloc[0]
    x, y = amiens.centroid.x, amiens.centroid.y
    tiny = Polygon([(x, y), (x + 300, y), (x + 300, y + 300), (x, y + 300)])
    big = amiens.buffer(-10)
    per = gpd.GeoDataFrame({"cpts_id": ["GRANDE", "PETITE"], "stage": "ACI signé"},
                           geometry=[big, tiny], crs=2154)
    with pytest.warns(UserWarning, match="PETITE"):
        result = registry_from_perimeters(per, somme)
    assert list(result.registry["cpts_id"].unique()) == ["GRANDE"]
    assert result.without_communes.to_dict("records")[0]["row"] == 2
    assert result.without_communes["code"].tolist() == ["80021"]
    bowtie = Polygon([(x, y), (x + 2000, y + 2000), (x + 2000, y), (x, y + 2000)])
    bad = gpd.GeoDataFrame({"cpts_id": ["NOEUD"], "stage": "ACI signé"}, geometry=[bowtie], crs=2154)
    with pytest.raises(ValidationError, match=r"ligne 1.*périmètre invalide \(Self-intersection"):
        registry_from_perimeters(bad, somme)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fixed = registry_from_perimeters(bad, somme, repair=True)
    assert fixed.repaired == [1]
