"""Commune codes over time: cleaning and remapping, on real INSEE passage tables."""

from __future__ import annotations

import pandas as pd
import pytest

from cpts_geo.domain.codes import normalize_codes
from cpts_geo.domain.history import closest_names, remap_codes
from cpts_geo.io.history import read_passage_table


def test_normalize_codes_reports_each_repair():
    codes, report = normalize_codes(pd.Series([1001, "59350 ", 59350.0, "2b033", None, "abc"]))
    assert codes.fillna("<vide>").tolist() == ["01001", "59350", "59350", "2B033", "<vide>", "abc"]
    assert report.set_index("row")["reason"].to_dict() == {
        1: "zéro initial restauré",
        2: "espaces retirés",
        3: "nombre converti en texte",
        4: "majuscules (2A/2B)",
        5: "code vide",
    }


def test_remap_keeps_current_and_reports_the_rest():
    new, report = remap_codes(pd.Series(["80021", "05120", "13201", "12345", "ABCDE"]))
    assert new.fillna("").tolist() == ["80021", "05001", "13201", "", ""]
    assert report["code"].tolist() == ["05120", "12345", "ABCDE"]
    assert report["reason"].tolist() == ["commune déléguée", "code inconnu", "code INSEE mal formé"]
    assert report.iloc[0]["new_name"] == "Abriès-Ristolas"
    assert report.iloc[0]["name"] == "Ristolas"


def test_remap_plm_city():
    new, report = remap_codes(["69381", "75056"], plm="city")
    assert new.tolist() == ["69123", "75056"]
    assert report["reason"].tolist() == ["arrondissement → commune"]


def test_passage_table_formats():
    long = pd.DataFrame({"from_year": [2015, 2016], "to_year": [2016, 2015],
                         "code_from": ["A", "B"], "code_to": ["B", "A"]})
    assert read_passage_table(long) == {"A": {"B"}}
    simple = pd.DataFrame({"old_code": ["A"], "new_code": ["C"]})
    assert read_passage_table(simple) == {"A": {"C"}}
    with pytest.raises(ValueError, match="Table de passage non reconnue"):
        read_passage_table(pd.DataFrame({"x": [1]}))


def test_split_is_reported_not_guessed():
    links = {"99001": {"59350", "59009"}}
    new, report = remap_codes(["99001"], passage=links)
    assert new.isna().all()
    assert report["reason"].iloc[0].startswith("scission : plusieurs communes actuelles (59009, 59350)")


def test_real_mobpro_codes_with_insee_passage_tables(shared_data):
    """MOBPRO Orne codes (COG ≤ 2014) all map to today's communes with the real tables."""
    flows = pd.read_csv(shared_data / "flows" / "mobpro_sample_orne_cogugaison.csv", dtype=str)
    codes = pd.Series(pd.unique(pd.concat([flows["COMMUNE"], flows["DCLT"]])))
    _alone, rep_alone = remap_codes(codes)
    # INSEE's history 2008-2025 is embedded: without any passage table only 99999 is unknown
    assert rep_alone.loc[rep_alone["new_code"].isna(), "code"].tolist() == ["99999"]
    assert rep_alone["reason"].str.startswith("ancien code (table de passage INSEE").sum() == 14
    from cpts_geo.io.history import read_passage_table

    gescodgeo = read_passage_table(shared_data / "cog_passage" / "gescodgeo_table_passage_2008_2025.csv")
    _new, report = remap_codes(codes, passage=gescodgeo)
    unknown = report.loc[report["new_code"].isna(), "code"].tolist()
    assert unknown == ["99999"]  # workplace abroad, not a commune
    assert (report["reason"] == "table de passage").sum() == 14
    cogugaison = read_passage_table(shared_data / "cog_passage" / "cog_passage_tables_1968_2024.csv")
    _new2, report2 = remap_codes(codes, passage=cogugaison)
    # COGugaison stops at 2024 and misses a change of 1 January 2025 (72287): the embedded
    # INSEE history completes it
    assert set(report2.loc[report2["new_code"].isna(), "code"]) == {"99999"}
    assert report2.loc[report2["code"] == "72287", "reason"].iloc[0].startswith("ancien code")


def test_closest_names_suggests(hdf_communes):
    assert closest_names("LILLE", hdf_communes, n=1) == [("59350", "Lille")]
    assert closest_names("Abbevile", hdf_communes, n=1) == [("80001", "Abbeville")]
