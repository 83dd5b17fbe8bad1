"""Perimeter proposals (Coombes–Bond validity, greedy grouping) and their diff with the map."""

from __future__ import annotations

import warnings

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from cpts_geo.indicators.perimeters import compare_perimeters, propose_perimeters, validity


def _row_of_squares(codes, populations):
    """Unit squares side by side (a | b | c | …) in Lambert-93: each touches the next."""
    geoms = [shapely.box(i * 1000, 0, (i + 1) * 1000, 1000) for i in range(len(codes))]
    return gpd.GeoDataFrame({"name": [c.upper() for c in codes], "population": populations},
                            geometry=geoms, crs="EPSG:2154",
                            index=pd.Index(codes, name="code"))


def _flows(pairs):
    return pd.DataFrame(pairs, columns=["origin", "destination", "volume"])


PARAMS = {"min_sc": 0.6, "target_sc": 0.8, "min_size": 100, "target_size": 300}


def test_validity_trade_off_line():
    v = validity([0.8, 0.6, 0.7, 0.7, 0.9], [100, 300, 200, 150, 50], **PARAMS)
    # (100, 0.8) and (300, 0.6) are on the line; at 200 the requirement is 0.7
    assert v[:3].tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert v[3] == pytest.approx(0.7 / 0.75)
    assert v[4] == pytest.approx(0.5)  # too small, whatever its self-containment


def test_validity_parameters_checked():
    with pytest.raises(ValueError, match="min_sc ≤ target_sc"):
        validity([0.5], [10], min_sc=0.8, target_sc=0.7)
    with pytest.raises(ValueError, match="min_size ≤ target_size"):
        validity([0.5], [10], min_size=500, target_size=100)


def test_two_basins_closed_form():
    layer = _row_of_squares(list("abcd"), [60, 60, 60, 60])
    flows = _flows([("a", "a", 40), ("a", "b", 50), ("a", "c", 10),
                    ("b", "b", 90), ("b", "c", 10),
                    ("c", "c", 50), ("c", "d", 40), ("c", "b", 10),
                    ("d", "d", 80), ("d", "c", 20)])
    result = propose_perimeters(flows, layer, **PARAMS)
    reg = result.registry
    assert reg.columns.tolist() == ["cpts_id", "cpts_name", "stage", "commune_code",
                                    "commune_name", "share"]
    assert reg.groupby("cpts_id")["commune_code"].agg(list).to_dict() == {
        "PROP-001": ["a", "b"], "PROP-002": ["c", "d"]}
    assert (reg["stage"] == "Dynamique identifiée").all()
    assert reg["share"].isna().all()
    areas = result.areas
    assert areas["valid"].all()
    # {a, b}: residents 200, inside 180, delivered 190 (+10 from c)
    assert areas.loc["PROP-001", "demand_sc"] == pytest.approx(0.9)
    assert areas.loc["PROP-001", "supply_sc"] == pytest.approx(180 / 190)
    assert areas.loc["PROP-001", "size"] == 120


def test_island_stays_invalid_with_a_note():
    layer = _row_of_squares(list("ab"), [50, 50])
    island = gpd.GeoDataFrame({"name": ["I"], "population": [10]},
                              geometry=[shapely.box(10_000, 0, 11_000, 1000)], crs="EPSG:2154",
                              index=pd.Index(["i"], name="code"))
    layer = pd.concat([layer, island])
    flows = _flows([("a", "a", 50), ("a", "b", 50), ("b", "b", 100), ("i", "i", 5), ("i", "a", 5)])
    with pytest.warns(UserWarning, match="ne respectent pas les seuils"):
        result = propose_perimeters(flows, layer, **PARAMS)
    areas = result.areas.set_index("name")
    island_area = areas.loc["Proposition 2 (I)"]
    assert not island_area["valid"]
    assert "sans voisine" in island_area["note"]
    assert result.registry.groupby("cpts_id").size().tolist() == [2, 1]


def test_existing_cpts_left_out_unless_overlap():
    layer = _row_of_squares(list("abcd"), [60, 60, 60, 60])
    flows = _flows([("a", "b", 10), ("b", "b", 10), ("c", "d", 50), ("d", "d", 50), ("c", "c", 10)])
    members = pd.DataFrame({"code": ["a", "b"], "cpts_id": ["X", "X"], "share": 1.0})
    result = propose_perimeters(flows, layer, membership=members, **PARAMS)
    assert sorted(result.registry["commune_code"]) == ["c", "d"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        everything = propose_perimeters(flows, layer, membership=members, overlap=True, **PARAMS)
    assert sorted(everything.registry["commune_code"]) == list("abcd")
    only = propose_perimeters(flows, layer, codes=["c", "d"], **PARAMS)
    assert len(only.registry) == 2
    with pytest.raises(ValueError, match="Aucune commune à regrouper"):
        propose_perimeters(flows, layer, membership=members, codes=["a"], **PARAMS)
    with pytest.raises(ValueError, match="communes absentes de la couche : zz"):
        propose_perimeters(flows, layer, codes=["zz"], **PARAMS)


def test_size_by_volume():
    layer = _row_of_squares(list("ab"), [1, 1])
    flows = _flows([("a", "a", 100), ("b", "b", 100)])
    result = propose_perimeters(flows, layer, size="volume", **PARAMS)
    assert result.areas["size"].tolist() == [100.0, 100.0]
    assert result.areas["valid"].all()
    with pytest.raises(ValueError, match="size doit valoir"):
        propose_perimeters(flows, layer, size="surface", **PARAMS)


def test_compare_perimeters():
    proposed = pd.DataFrame({"commune_code": ["a", "b", "c", "e"], "cpts_id": ["P1", "P1", "P2", "P2"]})
    current = pd.DataFrame({"code": ["a", "b", "c", "d"], "cpts_id": ["X", "X", "X", "Y"],
                            "share": 1.0})
    changes, matches = compare_perimeters(proposed, current)
    assert changes["change"].to_dict() == {
        "a": "inchangée", "b": "inchangée", "c": "inchangée", "d": "hors proposition",
        "e": "non couverte → proposée"}
    assert matches.loc["P1", "matched_cpts"] == "X"
    assert matches.loc["P1", "jaccard"] == pytest.approx(2 / 3)
    moved = pd.DataFrame({"commune_code": ["a", "b", "c"], "cpts_id": ["P1", "P1", "P2"]})
    current2 = pd.DataFrame({"code": ["a", "b", "c", "d"], "cpts_id": ["X", "X", "X", "Y"]})
    moved_changes, _ = compare_perimeters(moved, current2.assign(cpts_id=["X", "X", "Y", "Y"]))
    assert moved_changes.loc["c", "change"] == "inchangée"
    assert moved_changes.loc["c", "matched_cpts"] == "Y"
    with pytest.raises(ValueError, match="Attendu un registre"):
        compare_perimeters(pd.DataFrame({"x": [1]}), current)


def test_orne_proposals_end_to_end(shared_data):
    from cpts_geo.domain.communes import load_communes
    from cpts_geo.indicators import flows as F
    from cpts_geo.io import flows as flows_io
    from cpts_geo.io.history import read_passage_table

    raw = flows_io.read_mobpro(shared_data / "flows" / "mobpro_sample_orne_cogugaison.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flows, _ = F.prepare_flows(
            raw, passage=read_passage_table(shared_data / "cog_passage" / "gescodgeo_table_passage_2008_2025.csv"))
    layer = load_communes(departments="61")
    result = propose_perimeters(flows, layer, min_sc=0.6, target_sc=0.7,
                                min_size=5_000, target_size=20_000)
    reg = result.registry
    assert sorted(reg["commune_code"]) == sorted(layer.index)  # every commune, once
    assert result.areas["valid"].all()
    assert (result.areas["self_containment"] >= 0.6).all()
    # each proposed area is contiguous
    for _, group in reg.groupby("cpts_id"):
        union = shapely.coverage_union_all(layer.loc[group["commune_code"]].geometry.to_numpy())
        assert union.geom_type == "Polygon"
    # the registry module reads the proposal
    from cpts_geo.domain.registry import validate_registry

    checked = validate_registry(reg, layer)
    assert len(checked.membership) == len(layer)
    members = pd.DataFrame({"code": layer.index, "cpts_id": layer["epci"].to_numpy()})
    changes, matches = compare_perimeters(reg, members, communes=layer)
    assert len(changes) == len(layer)
    assert set(matches.index) == set(reg["cpts_id"])
