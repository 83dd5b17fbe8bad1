"""Cities below the commune in registries: an arrondissement column, IRIS codes (issue 25)."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import cpts_geo
from cpts_geo.cli import main
from cpts_geo.data.iris import iris_table
from cpts_geo.errors import ValidationError


@pytest.fixture(scope="module")
def france():
    return cpts_geo.load_communes(crs=None)


def _validate(reg, france):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cpts_geo.validate_registry(reg, france)


def _ars_marseille() -> pd.DataFrame:
    """Marseille as an ARS export gives it: 13055 in the commune column, the arrondissement beside."""
    rows = [("M1", "CPTS Marseille Centre", "13055", "13202"), ("M1", "CPTS Marseille Centre", "13055", "13203"),
            ("M2", "CPTS Marseille Nord", "13055", "13215"), ("M2", "CPTS Marseille Nord", "13055", "13216"),
            ("A", "CPTS Aubagne", "13005", None)]
    return pd.DataFrame(rows, columns=["N° CPTS", "Nom de la CPTS", "Code INSEE", "Code arrondissement"])


def test_ars_layout_gives_arrondissement_units(france):
    checked = _validate(_ars_marseille(), france)
    assert sorted(checked.membership["code"]) == ["13005", "13202", "13203", "13215", "13216"]
    assert set(checked.membership.loc[checked.membership["cpts_id"] == "M2", "code"]) == {"13215", "13216"}
    said = checked.report[checked.report["reason"] == "arrondissement donné dans sa propre colonne"]
    assert said["row"].tolist() == [2, 3, 4, 5]
    terr = cpts_geo.build_territories(checked, france)
    arm = cpts_geo.load_arrondissements(crs=None)
    assert terr.at["M2", "population"] == arm.loc[["13215", "13216"], "population"].sum()


def test_ars_layout_problems_name_their_rows(france):
    reg = _ars_marseille()
    reg.loc[1, "Code arrondissement"] = "69381"   # a Lyon arrondissement on a Marseille row
    reg.loc[2, "Code arrondissement"] = "13299"   # no such arrondissement
    with pytest.raises(ValidationError) as err:
        _validate(reg, france)
    problems = err.value.problems
    assert problems.loc[problems["row"] == 3, "problem"].str.contains("n'est pas dans la commune 13055").all()
    assert problems.loc[problems["row"] == 4, "problem"].str.contains("arrondissement municipal inconnu").all()


def test_valider_reads_the_arrondissement_column_and_says_so(tmp_path, capsys):
    path = tmp_path / "ars.csv"
    _ars_marseille().to_csv(path, sep=";", index=False)
    assert main(["valider", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Colonne « Code arrondissement » lue" in out
    assert "Registre valide : 3 CPTS, 5 communes" in out


def test_ignored_columns_are_said_when_the_registry_is_refused(tmp_path, capsys):
    reg = _ars_marseille().assign(Remarque="x")
    reg.loc[0, "Code INSEE"] = "99999"
    reg.loc[0, "Code arrondissement"] = None
    path = tmp_path / "ars.csv"
    reg.to_csv(path, sep=";", index=False)
    assert main(["valider", str(path)]) == 2
    assert "Colonnes ignorées : Remarque" in capsys.readouterr().out


def _nice_by_iris(split=(50, 100)) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    iris = iris_table()
    codes = iris.index[iris["commune"] == "06088"].tolist()
    parts = {"N1": codes[:split[0]], "N2": codes[split[0]:split[1]], "N3": codes[split[1]:]}
    rows = [(cid, f"CPTS {cid}", "06088", code) for cid, group in parts.items() for code in group]
    rows.append(("V", "CPTS Vence", "06157", None))
    return pd.DataFrame(rows, columns=["cpts_id", "cpts_name", "commune_code", "code_iris"]), parts


def test_iris_registry_shares_are_the_iris_populations(france):
    reg, parts = _nice_by_iris()
    checked = _validate(reg, france)
    iris = iris_table()
    whole = iris.loc[iris["commune"] == "06088", "population"].sum()
    shares = checked.membership[checked.membership["code"] == "06088"].set_index("cpts_id")["share"]
    for cid, codes in parts.items():
        assert shares[cid] == pytest.approx(iris.loc[codes, "population"].sum() / whole, abs=1e-12)
    assert shares.sum() == pytest.approx(1.0)
    assert sorted(checked.iris["iris"]) == sorted(code for codes in parts.values() for code in codes)
    assert "part 0," in checked.report.loc[checked.report["code"] == "06088", "reason"].iat[0]


def test_same_city_by_shares_and_by_iris_gives_the_same_figures(france):
    by_iris, parts = _nice_by_iris(split=(20, 120))  # uneven: tiers differ between the CPTS
    checked_iris = _validate(by_iris, france)
    iris = iris_table()
    whole = iris.loc[iris["commune"] == "06088", "population"].sum()
    by_share = pd.DataFrame([(cid, f"CPTS {cid}", "06088", iris.loc[codes, "population"].sum() / whole)
                             for cid, codes in parts.items()] + [("V", "CPTS Vence", "06157", None)],
                            columns=["cpts_id", "cpts_name", "commune_code", "part"])
    checked_share = _validate(by_share, france)
    a = cpts_geo.build_territories(checked_iris, france)
    b = cpts_geo.build_territories(checked_share, france)
    pd.testing.assert_series_equal(a["population"], b["population"])
    pd.testing.assert_series_equal(a["tier"], b["tier"])
    assert a["tier"].nunique() > 1
    fa, fb = cpts_geo.funding_table(a), cpts_geo.funding_table(b)
    pd.testing.assert_frame_equal(fa, fb)


def test_iris_problems_overlap_unknown_and_wrong_commune(france):
    reg, parts = _nice_by_iris()
    extra = pd.DataFrame([("N2", "CPTS N2", "06088", parts["N1"][0]),      # an IRIS of N1 claimed by N2
                          ("N3", "CPTS N3", "06088", "060889999"),         # no such IRIS
                          ("N3", "CPTS N3", "06157", parts["N3"][0])],     # a Nice IRIS on a Vence row
                         columns=reg.columns)
    bad = pd.concat([reg, extra], ignore_index=True)
    with pytest.raises(ValidationError) as err:
        _validate(bad, france)
    problems = err.value.problems
    n = len(reg) + 2  # file rows of the extra lines: 2 + position
    overlap = problems[problems["kind"] == "chevauchement"]
    assert overlap["problem"].str.contains(f"IRIS {parts['N1'][0]}").any()
    assert len(overlap) == 1  # the claimed IRIS, not the shares it would have counted twice
    assert "N1 (ligne 2)" in overlap["problem"].iat[0]
    assert f"N2 (ligne {n})" in overlap["problem"].iat[0]
    assert problems.loc[problems["row"] == n + 1, "problem"].str.contains("code IRIS inconnu").all()
    assert problems.loc[problems["row"] == n + 2, "problem"].str.contains("n'est pas dans la commune 06157").all()


def test_iris_codes_in_the_commune_column_and_marseille_iris_go_to_their_arrondissement(france):
    iris = iris_table()
    m13208 = iris.index[iris["commune"] == "13208"].tolist()
    reg = pd.DataFrame({"cpts_id": ["S"] * len(m13208) + ["T"],
                        "commune_code": [*m13208, "13209"]})
    checked = _validate(reg, france)
    assert checked.membership.set_index("cpts_id").loc["S", "code"] == "13208"
    assert checked.membership.set_index("cpts_id").loc["S", "share"] == 1.0  # all its IRIS: the whole unit


def test_overlap_of_a_divided_city_says_how_to_share_it(france):
    reg = pd.DataFrame({"cpts_id": ["A", "B", "A", "B"], "commune_code": ["06088", "06088", "01001", "01001"]})
    with pytest.raises(ValidationError) as err:
        _validate(reg, france)
    text = err.value.problems.set_index("code")["problem"]
    assert "déclarez la part de chacune" in text["06088"]
    assert "code_iris" in text["06088"]
    assert "déclarez la part" not in text["01001"]  # a village INSEE does not divide: choose one CPTS


def test_every_cpts_of_a_shared_commune_is_listed_by_name(france):
    reg, _parts = _nice_by_iris()
    checked = _validate(reg, france)
    layer = cpts_geo.communes_with_cpts(checked, france)
    nice = layer.loc["06088"]
    assert nice["n_cpts"] == 3
    assert nice["share"] == pytest.approx(1.0)
    listed = nice["cpts_all"].split(" ; ")
    assert [entry.split(" (")[0] for entry in listed] == ["N1 CPTS N1", "N3 CPTS N3", "N2 CPTS N2"]
    assert all(entry.endswith(" %)") for entry in listed)
    assert layer.loc["06157", "cpts_all"] == "V CPTS Vence"
    assert layer.loc["06157", "n_cpts"] == 1
