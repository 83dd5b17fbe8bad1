"""ACI funding: the guide's figures (fiche 16), the tier-4 increase, the crisis plan years."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cpts_geo.cli import main
from cpts_geo.domain.funding import (
    ACI_SOURCE,
    ACI_TABLE,
    MISSIONS,
    ACIFunding,
    aci_funding,
    aci_funding_report,
    early_mission_aid,
    funding_table,
)


@pytest.mark.parametrize(("tier", "total"), [(1, 287_500), (2, 382_500), (3, 487_500), (4, 580_000)])
def test_guide_totals(tier, total):
    assert aci_funding(tier).loc["Total", "Total"] == total
    assert ACI_TABLE[tier].sum() - ACI_TABLE.loc[("crisis", "fixed_update"), tier] == total


def test_tier4_access_is_155000_not_150000():
    t = aci_funding(4)
    access = t.loc["Mission accès aux soins (socle)"]
    assert (access["Volet fixe (moyens)"], access["Volet variable (actions et résultats)"],
            access["Total"]) == (110_000, 45_000, 155_000)


def test_increase_for_tier4_with_100_members():
    label = "Majoration 10 % (taille 4, au moins 100 membres)"
    assert label not in aci_funding(4, members=99).index
    t = aci_funding(4, members=100)
    assert t.loc[label, "Total"] == pytest.approx(0.10 * (580_000 - 90_000))
    assert t.loc["Total", "Total"] == 629_000
    for tier in (1, 2, 3):  # tiers 1-3 never get it
        assert label not in aci_funding(tier, members=500).index


def test_crisis_plan_first_year_and_later_years():
    crisis = "Mission crises sanitaires graves (socle)"
    first = aci_funding(3, year="first", crisis=False).loc[crisis]
    later = aci_funding(3, year="later", crisis=False).loc[crisis]
    assert (first["Total"], later["Total"]) == (45_000, 22_500)
    assert aci_funding(3, year="later").loc[crisis, "Total"] == 22_500 + 67_500
    assert aci_funding(3, optional_missions=False).loc["Total", "Total"] == 487_500 - 30_000 - 20_000


def test_early_mission_aid_and_bad_tiers():
    assert [early_mission_aid(t) for t in (1, 2, 3, 4)] == [15_000, 17_500, 25_000, 30_000]
    for bad in (0, 5, "trois", 2.5, None):
        with pytest.raises(ValueError, match="Taille de CPTS invalide"):
            aci_funding(bad)


def test_funding_table_from_territories():
    terr = pd.DataFrame({"name": ["A", "B", "C"], "tier": pd.array([1, 4, pd.NA], dtype="Int64"),
                         "members": [10, 150, 3]}, index=pd.Index(["a", "b", "c"], name="cpts_id"))
    table = funding_table(terr, members="members")
    assert table.loc["a", "Total annuel"] == 287_500
    assert table.loc["b", "Total annuel"] == 629_000
    assert pd.isna(table.loc["c", "Total annuel"])  # no tier, no guess


def _funding_table_one_by_one(territories, members=None, **options):
    """The former funding_table, one aci_funding call per CPTS: the reference of the fast one."""
    counts = territories[members] if isinstance(members, str) else members
    rows = []
    labels = {MISSIONS[k][0]: MISSIONS[k][1] for k in MISSIONS}
    for cid, rec in territories.iterrows():
        row = {"Identifiant CPTS": cid, "Nom": rec.get("name", pd.NA), "Étape": rec.get("stage", pd.NA),
               "Taille": rec.get("tier", pd.NA), "Population": rec.get("population", pd.NA)}
        tier = rec.get("tier")
        if tier is not None and not pd.isna(tier):
            given = None if counts is None else counts.get(cid)
            total = aci_funding(int(tier), members=None if given is None or pd.isna(given) else int(given),
                                **options)["Total"]
            row.update({"Fonctionnement": total.get(MISSIONS["operating"][0], 0.0),
                        "Missions socle": float(sum(v for k, v in total.items() if labels.get(k) == "socle")),
                        "Missions optionnelles": float(sum(v for k, v in total.items()
                                                           if labels.get(k) == "optionnelle")),
                        "Majoration": total.get("Majoration 10 % (taille 4, au moins 100 membres)", 0.0),
                        "Total annuel": total["Total"], "Aide mission précoce": float(early_mission_aid(int(tier)))})
        rows.append(row)
    cols = ["Identifiant CPTS", "Nom", "Étape", "Taille", "Population", "Fonctionnement", "Missions socle",
            "Missions optionnelles", "Majoration", "Total annuel", "Aide mission précoce"]
    return pd.DataFrame(rows, columns=cols).set_index("Identifiant CPTS")


@pytest.mark.parametrize("options", [{}, {"year": "later"}, {"crisis": False, "optional_missions": False}])
def test_funding_table_equals_one_call_per_cpts(options):
    rng = np.random.default_rng(30)
    n = 300
    tier = pd.array(rng.integers(1, 5, n), dtype="Int64")
    tier[rng.random(n) < 0.1] = pd.NA
    members = pd.Series(rng.choice([np.nan, 12, 99, 100, 250], n), index=[f"C{i}" for i in range(n)])
    terr = pd.DataFrame({"name": [f"CPTS {i}" for i in range(n)], "stage": "ACI signé", "tier": tier,
                         "population": rng.integers(1_000, 300_000, n), "members": members.to_numpy()},
                        index=pd.Index(members.index, name="cpts_id"))
    for given in (None, "members", members.iloc[::2]):
        pd.testing.assert_frame_equal(funding_table(terr, members=given, **options),
                                      _funding_table_one_by_one(terr, members=given, **options))


def test_funding_table_computes_each_tier_once(monkeypatch):
    """1 000 CPTS cost the ACI tables of their four tiers (and the increase), not 1 000 of them."""
    from cpts_geo.domain import funding

    calls = []
    real = funding.aci_funding
    monkeypatch.setattr(funding, "aci_funding", lambda *a, **k: calls.append(a) or real(*a, **k))
    terr = pd.DataFrame({"tier": pd.array([1, 2, 3, 4] * 250, dtype="Int64"), "members": [150] * 1000},
                        index=pd.Index([f"C{i}" for i in range(1000)], name="cpts_id"))
    table = funding.funding_table(terr, members="members")
    assert len(calls) <= 5
    assert table["Total annuel"].value_counts().to_dict() == {287_500: 250, 382_500: 250, 487_500: 250,
                                                               629_000: 250}


def test_cli_funding(capsys, tmp_path):
    assert main(["funding", "--tier", "3"]) == 0
    out = capsys.readouterr().out
    assert "Mission accès aux soins (socle)" in out
    assert "487 500" in out
    csv = tmp_path / "aci.csv"
    assert main(["funding", "--tier", "4", "--members", "120", "--csv", str(csv)]) == 0
    raw = csv.read_bytes()
    assert raw.startswith("\ufeff".encode())
    assert b"629000" in raw
    assert main(["funding", "--tier", "5"]) == 2
    assert "Taille de CPTS invalide" in capsys.readouterr().err
    assert main(["funding"]) == 0  # the illustrative registry
    out = capsys.readouterr().out
    assert "Registre ILLUSTRATIF" in out
    assert "HDF-54" in out


def test_funding_report_says_what_the_amounts_assume():
    f = aci_funding_report(4, members=120, year="later", crisis=False)
    assert isinstance(f, ACIFunding)
    assert (f.tier, f.members, f.year, f.crisis, f.optional_missions, f.increase) == (4, 120, "later", False, True, True)
    assert f.source == ACI_SOURCE
    assert "Avenant 2" in f.source
    pd.testing.assert_frame_equal(f.table, aci_funding(4, members=120, year="later", crisis=False))
    assert f.table.attrs == {}  # no report in attrs
    assert not aci_funding_report(4, members=99).increase


def test_funding_table_population_header_from_layer_metadata():
    from cpts_geo.domain.metadata import set_layer_metadata

    t = pd.DataFrame({"tier": [1], "population": [30_000]}, index=pd.Index(["A"], name="cpts_id"))
    assert "Population" in funding_table(t).columns
    dated = funding_table(set_layer_metadata(t, population_vintage=2021))
    assert "Population municipale 2021" in dated.columns


def test_the_funding_workbook_has_a_total_row_and_says_amounts_are_maxima(tmp_path, capsys):
    """Issue 28: no total row, no word that the amounts are maxima, in the file a finance officer opens."""
    import openpyxl

    out = tmp_path / "financement.xlsx"
    assert main(["financement", "--registre", "exemple", "-o", str(out)]) == 0
    capsys.readouterr()
    ws = openpyxl.load_workbook(out).active
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    total = next(r for r in rows if r[0] == "Total")
    col = header.index("Total annuel")
    amounts = [r[col] for r in rows[1:] if r[0] not in ("Total", "Remarque")]
    assert len(amounts) == 59
    assert total[col] == sum(amounts)
    assert "montants maximaux" in total[header.index("Nom")]
    assert rows[-1][0] == "Remarque"
    assert "maximaux" in rows[-1][header.index("Nom")]
    assert any(str(h).startswith("Population municipale 2021") for h in header)
