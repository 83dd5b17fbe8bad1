"""Density of professionals per 10 000 inhabitants, per commune and per CPTS."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cpts_geo.errors import CptsGeoWarning, ValidationError
from cpts_geo.indicators.density import density, density_table


@pytest.fixture(scope="module")
def somme():
    from cpts_geo.domain.communes import load_communes

    return load_communes(departments="80", crs=None)


def _supply(rows):
    return pd.DataFrame(rows, columns=["code", "profession", "count"])


def test_commune_density_references_and_none(somme):
    supply = _supply([("80021", "infirmier", 134.0), ("80001", "infirmier", 1.0)])
    out = density(supply, somme, reference=somme).table
    pop = somme.loc["80021", "population"]
    amiens = out.loc[("80021", "infirmier")]
    assert amiens["density"] == pytest.approx(134 * 10_000 / pop)
    assert amiens["n_communes"] == 1
    assert amiens["n_communes_without"] == 0
    assert out["n_communes_without"].sum() == len(somme) - 2
    # references: total over total population (department = region = France here)
    total = 135 * 10_000 / somme["population"].sum()
    assert amiens["department"] == "80"
    assert amiens["region"] == "32"
    assert amiens["department_density"] == pytest.approx(total)
    assert amiens["france_density"] == pytest.approx(total)
    assert out.index.names == ["code", "profession"]


def test_cpts_density_with_shares(somme):
    supply = _supply([("80021", "pharmacie", 40.0), ("80001", "pharmacie", 1.0)])
    mem = pd.DataFrame({"code": ["80021", "80021", "80001"], "cpts_id": ["A", "B", "B"],
                        "share": [0.75, 0.25, 1.0]})
    out = density(supply, somme, membership=mem, reference=somme).table
    p_amiens = somme.loc["80021", "population"]
    a = out.loc[("A", "pharmacie")]
    assert a["population"] == pytest.approx(0.75 * p_amiens)
    assert a["density"] == pytest.approx(30 * 10_000 / (0.75 * p_amiens))
    b = out.loc[("B", "pharmacie")]
    assert b["count"] == pytest.approx(11.0)
    assert b["n_communes"] == 2
    assert b["department"] == "80"
    assert out.index.names == ["cpts_id", "profession"]


def test_zero_population_no_infinite_density(somme):
    communes = somme.copy()
    communes.loc["80001", "population"] = 0
    supply = _supply([("80001", "infirmier", 2.0)])
    with pytest.warns(UserWarning, match="sans population.*80001"):
        result = density(supply, communes, reference=communes)
    out = result.table
    assert np.isnan(out.loc[("80001", "infirmier"), "density"])
    assert not np.isinf(out["density"]).any()
    assert "80001" in result.without_population
    assert somme.loc["80001", "population"] != 0  # caller's layer untouched


def test_unknown_population_is_announced(somme):
    communes = somme.copy()
    communes["population"] = communes["population"].astype("Float64")
    communes.loc["80001", "population"] = pd.NA
    with pytest.warns(CptsGeoWarning, match="population inconnue \\(80001\\)"), \
            pytest.warns(CptsGeoWarning, match="1 unité\\(s\\) sans population \\(80001\\)"):
        result = density(_supply([("80021", "infirmier", 1.0)]), communes, reference=communes)
    assert np.isnan(result.table.loc[("80001", "infirmier"), "density"])
    assert result.unknown_population == ["80001"]
    assert result.without_population == ["80001"]


def test_density_warnings_name_the_field_holding_the_list(somme):
    communes = somme.copy()
    communes["population"] = communes["population"].astype("Float64")
    communes.loc["80001", "population"] = pd.NA
    communes.loc["80002", "population"] = 0
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        density(_supply([("80021", "infirmier", 1.0)]), communes, reference=somme)
    texts = [str(w.message) for w in record]
    for field in ("unknown_population", "population_differs", "without_population"):
        assert any(f"liste dans le champ {field} du résultat" in t for t in texts), field
    assert not any("attrs" in t for t in texts)
    assert all(w.filename == __file__ for w in record)


def test_supply_outside_reference_is_listed(somme):
    supply = _supply([("59350", "infirmier", 5.0), ("62041", "infirmier", 1.0),
                      ("80021", "infirmier", 1.0)])
    with pytest.raises(ValidationError, match="absentes de la couche de référence") as err:
        density(supply, somme, reference=somme)
    assert err.value.problems["code"].tolist() == ["59350", "62041"]


def test_membership_commune_outside_layer_is_listed(somme):
    mem = pd.DataFrame({"code": ["80021", "59350"], "cpts_id": ["A", "A"], "share": 1.0})
    with pytest.raises(ValidationError, match="Communes des CPTS absentes") as err:
        density(_supply([("80021", "infirmier", 1.0)]), somme, membership=mem, reference=somme)
    assert err.value.problems["code"].tolist() == ["59350"]


def test_unknown_profession_lists_accepted_names(somme):
    with pytest.raises(ValidationError) as err:
        density(_supply([("80021", "infirmier", 1.0)]), somme, professions=["boulanger"],
                reference=somme)
    text = str(err.value)
    assert "boulanger" in text
    assert "médecin généraliste" in text


def test_french_table(somme):
    out = density(_supply([("80021", "infirmier", 1.0)]), somme, reference=somme)
    table = density_table(out, profession="infirmier")
    assert table.index.name == "Commune"
    assert {"Densité pour 10 000 hab.", "Communes sans ce professionnel",
            "Densité du département", "Densité France"} <= set(table.columns)
    assert density_table(out.table, profession="infirmier").equals(table)
    per_1000 = density(_supply([("80021", "infirmier", 1.0)]), somme, reference=somme, per=1000)
    assert "Densité pour 1 000 hab." in density_table(per_1000).columns
    assert "Densité pour 1 000 hab." in density_table(per_1000.table, per=1000).columns


def test_real_bpe_hdf_by_epci(shared_data, hdf_communes):
    """HdF CPTS stand-ins (one per EPCI) with the national references (BPE 2018)."""
    from cpts_geo.domain.communes import load_communes
    from cpts_geo.io.supply import read_bpe

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        supply = read_bpe(shared_data / "health_professionals" / "bpe2018_sante_communes.csv",
                          professions=["médecin généraliste", "infirmier"],
                          passage=shared_data / "cog_passage" / "gescodgeo_table_passage_2008_2025.csv")
        france = load_communes(crs=None)
        mem = pd.DataFrame({"code": hdf_communes.index,
                            "cpts_id": hdf_communes["epci"].to_numpy(), "share": 1.0})
        result = density(supply, france, membership=mem)
    assert len(supply.rejected) == 0
    assert result.partial_reference is None
    assert result.population_vintage == 2021
    gp = result.table.xs("médecin généraliste", level="profession")
    assert len(gp) == hdf_communes["epci"].nunique()
    assert gp["region"].eq("32").all()
    # France: 61 594 GP practices in the BPE 2018 for 67.4 M inhabitants (2021): 9.14 / 10 000
    table = supply.table
    assert table.loc[table["profession"] == "médecin généraliste", "count"].sum() == 61_594
    assert gp["france_density"].iloc[0] == pytest.approx(
        61_594 * 1e4 / france["population"].sum())
    assert gp["region_density"].iloc[0] == pytest.approx(9.10, abs=0.01)  # 9.09 with 2016 populations
    # every HdF commune counted once: populations add up to the region's
    assert gp["population"].sum() == pytest.approx(hdf_communes["population"].sum())


def test_caller_population_is_used_and_a_different_reference_is_said(somme):
    newer = somme.copy()
    newer["population"] = newer["population"] * 2  # e.g. a newer vintage
    counts = pd.DataFrame({"infirmier": [40.0]}, index=pd.Index(["80021"], name="code"))
    with pytest.warns(UserWarning, match="La population de .* commune\\(s\\) diffère"):
        result = density(counts, newer, reference=somme)
    out = result.table
    amiens = out.loc[("80021", "infirmier")]
    assert amiens["population"] == newer.loc["80021", "population"]
    assert amiens["density"] == pytest.approx(40 * 10_000 / newer.loc["80021", "population"])
    # references on the reference layer, as documented
    assert amiens["department_density"] == pytest.approx(40 * 10_000 / somme["population"].sum())
    assert result.population_differs[:1] == [somme.index[0]]
    assert (newer["population"] == somme["population"] * 2).all()  # caller's layer untouched
    # a commune without inhabitants in the caller's layer has no density, whatever the reference
    newer.loc["80021", "population"] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = density(counts, newer, reference=somme).table
    assert np.isnan(out.loc[("80021", "infirmier"), "density"])


def test_caller_department_is_used_for_the_comparison(somme):
    layer = somme.copy()
    layer["department"] = "60"  # the caller's own attribution
    out = density(_supply([("80021", "infirmier", 1.0)]), layer, reference=somme).table
    assert out.loc[("80021", "infirmier"), "department"] == "60"


def test_supply_given_directly_is_checked(somme):
    supply = _supply([("80021", "infirmier", 1.0), ("80021", "kiné", 3.0),
                      ("80021", "Infirmier", 5.0)])
    out = density(supply, somme, reference=somme).table
    assert out.index.unique("profession").tolist() == ["infirmier", "masseur-kinésithérapeute"]
    assert out.loc[("80021", "infirmier"), "count"] == 6.0
    with pytest.raises(ValidationError) as err:
        density(_supply([("80021", "infirmier", np.nan), ("80001", "infirmier", -3.0)]), somme,
                reference=somme)
    assert err.value.problems["row"].tolist() == [2, 3]
    counts = pd.DataFrame({"infirmier": [-40.0]}, index=pd.Index(["80021"], name="code"))
    with pytest.raises(ValidationError, match="code 80021 : effectif \\(infirmier\\) négatif"):
        density(counts, somme, reference=somme)
    generalistes = pd.DataFrame({"généraliste": [40.0]}, index=pd.Index(["80021"], name="code"))
    out = density(generalistes, somme, reference=somme, professions=["médecin généraliste"]).table
    assert out.index.unique("profession").tolist() == ["médecin généraliste"]
    with pytest.raises(ValidationError, match="Aucune offre reconnue"):
        density(_supply([]), somme, reference=somme)


def test_cpts_supply_puts_density_and_accessibility_side_by_side(hdf_communes):
    """Two CPTS of the Somme: the table is density's, plus the CPTS accessibility of
    territory_accessibility; the lists are about the communes of the CPTS only."""
    from cpts_geo.indicators.accessibility import accessibility, territory_accessibility
    from cpts_geo.indicators.density import accessibility_header, cpts_supply, cpts_supply_notes, cpts_supply_table
    from cpts_geo.io.supply import read_supply

    somme = hdf_communes[hdf_communes["department"] == "80"]
    table = pd.DataFrame({"code": ["80021", "80021", "75112"],
                          "profession": ["généraliste", "infirmier", "infirmier"],
                          "count": [300, 200, 1]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        supply = read_supply(table, communes=hdf_communes, unknown="report")
    assert supply.rows_rejected == 1  # Paris (75112 → 75056) is not in Hauts-de-France
    members = pd.DataFrame({"code": ["80021", "80001", "80002"], "cpts_id": ["B", "A", "A"],
                            "share": 1.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = cpts_supply(supply, somme, members, names=pd.Series({"A": "Abbeville", "B": "Amiens"}),
                             reference=somme)
        acc = accessibility(supply, somme, professions=["médecin généraliste", "infirmier"],
                            per=10_000, quiet=True)
        gp = territory_accessibility(acc.table["médecin généraliste"], members,
                                     weights=acc.table["demand"]).table
        dens = density(supply, somme, membership=members, reference=somme).table
    out = result.table
    assert out.index.get_level_values(0).tolist() == ["A", "A", "B", "B"]  # cpts_id order
    assert out.loc[("B", "infirmier"), "name"] == "Amiens"
    assert out.loc[("B", "infirmier"), "density"] == dens.loc[("B", "infirmier"), "density"]
    assert out.loc[("A", "médecin généraliste"), "accessibility"] == pytest.approx(gp.loc["A", "accessibility"])
    assert result.max_minutes == 20
    assert result.per == 10_000
    # Abbeville (80001) has no GP within 20 minutes of Amiens: said, for the CPTS communes only
    assert "80001" in result.no_supply["médecin généraliste"]
    assert set(result.no_supply["infirmier"]) <= {"80001", "80002"}
    assert result.unknown_accessibility == []
    assert result.capped_self == []
    french = cpts_supply_table(result)
    assert list(french.columns[:2]) == ["Nom", "Professionnels"]
    assert french.columns[-1] == accessibility_header(result) == \
        "Accessibilité E2SFCA (20 min, pour 10 000 hab.)"
    assert french.index.names == ["CPTS", "Profession"]
    notes = cpts_supply_notes(result, supply)
    assert any(n.startswith("médecin généraliste : ") and "sans aucune offre à moins de 20 minutes" in n
               for n in notes)


def test_cpts_supply_accessibility_is_the_whole_layers(hdf_communes):
    """Computed on the communes within reach of the CPTS only, the accessibility of each CPTS is
    the one computed on the whole layer (no border effect, less work)."""
    from cpts_geo.indicators.accessibility import accessibility, territory_accessibility
    from cpts_geo.indicators.density import cpts_supply

    rng = np.random.default_rng(3)
    codes = hdf_communes.index.to_numpy(dtype=object)
    supply = pd.DataFrame({"code": codes, "profession": "médecin généraliste",
                           "count": rng.poisson(0.3, len(codes)).astype(float)})
    members = pd.DataFrame({"code": ["60057", "60175", "80021", "02691"], "cpts_id": ["O", "O", "S", "A"],
                            "share": 1.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = cpts_supply(supply, hdf_communes, members)
        whole = accessibility(supply, hdf_communes, per=10_000, quiet=True).table
        expected = territory_accessibility(whole["médecin généraliste"], members,
                                           weights=whole["demand"]).table["accessibility"]
    got = result.table.xs("médecin généraliste", level="profession")["accessibility"]
    np.testing.assert_allclose(got.reindex(expected.index), expected, rtol=1e-12)
    assert len(result.accessibility.table) < len(hdf_communes)  # only the communes within reach


def test_offre_with_a_distancier_equals_accessibility_with_costs(tmp_path, capsys):
    """``--temps``: a commune-to-commune table of travel times (Metric-OSRM's headers) replaces the
    estimated times, and the figures equal ``accessibility(costs=...)`` on the same table."""
    import warnings

    import cpts_geo
    from cpts_geo.cli import main
    from cpts_geo.indicators.accessibility import estimate_costs, territory_accessibility

    somme = cpts_geo.load_communes(departments="80")
    counts = pd.DataFrame({"code": ["80021", "80001", "80016"], "profession": "médecin généraliste",
                           "effectif": [300, 40, 12]})
    supply_path = tmp_path / "offre.csv"
    counts.to_csv(supply_path, sep=";", index=False)
    registry = pd.DataFrame({"cpts_id": ["A"] * 3 + ["B"] * 2, "commune_code": ["80021", "80002", "80003", "80001", "80016"]})
    reg_path = tmp_path / "registre.csv"
    registry.to_csv(reg_path, sep=";", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = estimate_costs(somme).costs
    times = est.assign(minutes=est["minutes"] * 1.3)  # a "real" distancier: 30 % slower than estimated
    distancier = tmp_path / "metric.csv"
    times.rename(columns={"origin": "idSrc", "destination": "idDst", "minutes": "duree"})[
        ["idSrc", "idDst", "duree"]].to_csv(distancier, sep=";", index=False, decimal=",")
    out = tmp_path / "offre_cpts.csv"
    assert main(["offre", str(supply_path), str(reg_path), "--temps", str(distancier),
                 "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "Temps de trajet" in said
    assert "au lieu des temps estimés" in said
    table = pd.read_csv(out, sep=";", encoding="utf-8-sig", decimal=",", dtype={"Identifiant CPTS": str})
    header = "Accessibilité E2SFCA (temps fournis, 20 min, pour 10 000 hab.)"
    assert header in table.columns
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc = cpts_geo.accessibility(counts.rename(columns={"effectif": "count"}).pivot_table(
            index="code", columns="profession", values="count", aggfunc="sum"), somme,
            costs=times[["origin", "destination", "minutes"]], per=10_000)
        member = cpts_geo.validate_registry(registry, somme).membership
        expected = territory_accessibility(acc.table["médecin généraliste"], member,
                                           weights=acc.table["demand"]).table["accessibility"]
    got = table.set_index(table.columns[0])[header]
    for cid in ("A", "B"):
        assert got[cid] == pytest.approx(expected[cid], abs=0.051)  # the CSV rounds to 0,1
