"""Comparing two registries: CPTS matched across spellings, every change listed once."""

from __future__ import annotations

import pandas as pd
import pytest

from cpts_geo.cli import main
from cpts_geo.domain.compare import CHANGES, RegistryComparison, changes_layer, compare_registries
from cpts_geo.domain.registry import validate_registry
from cpts_geo.io.registry import load_example_registry


@pytest.fixture(scope="module")
def example():
    reg = load_example_registry()
    return pd.DataFrame(reg[["cpts_id", "cpts_name", "stage", "commune_code", "share"]])


@pytest.mark.slow
def test_a_registry_against_itself_has_no_change(example, hdf_communes):
    cmp = compare_registries(example, example, hdf_communes)
    assert isinstance(cmp, RegistryComparison)
    assert len(cmp.changes) == 0
    assert cmp.summary.sum() == 0
    assert list(cmp.summary.index) == list(CHANGES)
    assert cmp.matches["new_id"].notna().all()
    assert (cmp.matches["jaccard"] == 1).all()


def test_against_an_empty_registry(example, hdf_communes):
    empty = example.iloc[:0]
    gone = compare_registries(example, empty, hdf_communes)
    assert gone.summary["CPTS dissoute"] == 59
    assert gone.summary["commune sortie de la couverture"] == 3220
    assert gone.summary.sum() == 59 + 3220
    born = compare_registries(empty, example, hdf_communes)
    assert born.summary["CPTS créée"] == 59
    assert born.summary["commune entrée dans la couverture"] == 3220


@pytest.mark.slow
def test_real_case_ids_and_names_spelled_differently(example, hdf_communes):
    """The illustrative Hauts-de-France listing (real EPCI compositions) against a rewritten
    one: other ids, names in capitals without accents or « CPTS », communes moved, one CPTS
    dissolved, one created from uncovered communes, a stage changed."""
    new = example.copy()
    ids = sorted(new["cpts_id"].unique())
    new["cpts_id"] = new["cpts_id"].map({c: f"N{i:03d}" for i, c in enumerate(ids)})
    new["cpts_name"] = (new["cpts_name"].str.replace("CPTS ", "", regex=False).str.replace("œ", "oe").str.upper()
                        .str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii"))
    first, _second, third = ids[0], ids[1], ids[2]
    # 2 communes of the first CPTS move to the second one
    moved = example.loc[example["cpts_id"] == first, "commune_code"].iloc[:2].tolist()
    new.loc[new["commune_code"].isin(moved), ["cpts_id", "cpts_name"]] = \
        new.loc[new["cpts_id"] == "N001", ["cpts_id", "cpts_name"]].iloc[0].to_numpy()
    # the third CPTS is dissolved
    dissolved = example.loc[example["cpts_id"] == third, "commune_code"].tolist()
    new = new[new["cpts_id"] != "N002"]
    # a new CPTS on two uncovered communes, a stage changed
    uncovered = sorted(set(hdf_communes.index) - set(example["commune_code"]))[:2]
    new = pd.concat([new, pd.DataFrame({"cpts_id": "X", "cpts_name": "CPTS nouvelle", "stage": "1",
                                        "commune_code": uncovered})], ignore_index=True)
    old_stage = example.loc[example["cpts_id"] == ids[3], "stage"].iat[0]
    new_stage = "Dynamique identifiée" if old_stage != "Dynamique identifiée" else "ACI signé"
    new.loc[new["cpts_id"] == "N003", "stage"] = new_stage
    cmp = compare_registries(example, new, hdf_communes)
    s = cmp.summary
    assert s["commune changée de CPTS"] == 2
    assert s["CPTS dissoute"] == 1
    assert s["CPTS créée"] == 1
    assert s["commune sortie de la couverture"] == len(dissolved)
    assert s["commune entrée dans la couverture"] == 2
    assert s["étape modifiée"] == 1
    assert s["nom modifié"] == 0
    ch = cmp.changes
    mv = ch[ch["change"] == "commune changée de CPTS"]
    assert sorted(mv["code"]) == sorted(moved)
    assert mv["old_cpts"].str.startswith(first).all()
    assert mv["new_cpts"].str.startswith("N001").all()
    st = ch[ch["change"] == "étape modifiée"].iloc[0]
    assert (st["old_value"], st["new_value"]) == (old_stage, new_stage)
    m = cmp.matches.dropna(subset=["old_id", "new_id"])
    assert len(m) == 58
    assert (m["new_id"] == m["old_id"].map({c: f"N{i:03d}" for i, c in enumerate(ids)})).all()
    layer = changes_layer(cmp, hdf_communes)
    assert len(layer) == len(ch)
    assert layer.crs == hdf_communes.crs
    assert not layer.geometry.is_empty.any()


def test_shares_and_a_few_communes_apart(hdf_communes):
    old = pd.DataFrame({"cpts_id": ["A", "A", "A", "A", "B"], "cpts_name": ["CPTS Lille Sud"] * 4 + ["Est"],
                        "stage": "5", "commune_code": ["59350", "59343", "59378", "59009", "59350"],
                        "share": [0.5, None, None, None, 0.5]})
    new = pd.DataFrame({"cpts_id": ["S", "S", "S", "B"], "cpts_name": ["Lille-Sud"] * 3 + ["Est"],
                        "stage": "5", "commune_code": ["59350", "59343", "59378", "59350"],
                        "share": [0.6, None, None, 0.4]})
    cmp = compare_registries(old, new, hdf_communes)
    assert cmp.summary["part modifiée"] == 2
    assert cmp.summary["commune sortie de la couverture"] == 1
    part = cmp.changes[cmp.changes["change"] == "part modifiée"]
    assert sorted(part[["old_value", "new_value"]].values.tolist()) == [["0,5", "0,4"], ["0,5", "0,6"]]
    assert cmp.matches.set_index("old_id").at["A", "new_id"] == "S"


def test_ids_and_names_written_otherwise_are_listed_apart(tmp_path, capsys):
    old = tmp_path / "ancien.csv"
    new = tmp_path / "nouveau.csv"
    old.write_text("cpts_id;cpts_name;stage;commune_code\na;CPTS Lille;5;59350\na;CPTS Lille;5;59009\n"
                   "B;CPTS du Sud;5;59017\nC;Est;5;59360\n", encoding="utf-8")
    new.write_text("cpts_id;cpts_name;stage;commune_code\nA;CPTS LILLE;5;59350\nA;CPTS LILLE;5;59009\n"
                   "B;CPTS du sud;5;59017\nC;Est;5;59360\n", encoding="utf-8")
    cmp = compare_registries(pd.read_csv(old, sep=";", dtype=str), pd.read_csv(new, sep=";", dtype=str))
    listed = cmp.changes[["change", "old_value", "new_value"]].values.tolist()
    assert sorted(listed) == [["identifiant modifié", "a", "A"], ["nom réécrit", "CPTS Lille", "CPTS LILLE"],
                              ["nom réécrit", "CPTS du Sud", "CPTS du sud"]]
    out = tmp_path / "changements.csv"
    assert main(["comparer", str(old), str(new), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Aucun changement." in text  # the territories did not change…
    assert ("Mêmes CPTS écrites autrement (listées à part, leurs communes ne changent pas) :\n"
            "  identifiant modifié : 1 (a → A)\n"
            "  nom réécrit : 2 (CPTS du Sud → CPTS du sud, CPTS Lille → CPTS LILLE)") in text  # …but are said
    table = pd.read_csv(out, sep=";", encoding="utf-8-sig", dtype=str)
    assert table["Changement"].tolist() == ["identifiant modifié", "nom réécrit", "nom réécrit"]


def test_comparer_writes_the_matching_beside_csv_and_layers_and_shares_as_numbers(tmp_path, capsys):
    from openpyxl import load_workbook

    old = tmp_path / "ancien.csv"
    new = tmp_path / "nouveau.csv"
    old.write_text("cpts_id;cpts_name;stage;commune_code;share\nA;CPTS Lille Sud;5;59350;0,5\n"
                   "A;CPTS Lille Sud;5;59343;\nB;Est;5;59350;0,5\n", encoding="utf-8")
    new.write_text("cpts_id;cpts_name;stage;commune_code;share\nS;Lille-Sud;5;59350;0,6\n"
                   "S;Lille-Sud;5;59343;\nB;Est;5;59350;0,4\n", encoding="utf-8")
    expected = [["B", "B", "Est", "Est"], ["A", "S", "CPTS Lille Sud", "Lille-Sud"]]
    for name in ("changements.csv", "changements.gpkg"):
        out = tmp_path / name
        assert main(["comparer", str(old), str(new), "-o", str(out)]) == 0
        beside = tmp_path / "changements_rapprochement.csv"
        assert f"Rapprochement des CPTS écrit : {beside}" in capsys.readouterr().out
        matches = pd.read_csv(beside, sep=";", encoding="utf-8-sig", dtype=str)
        assert matches[["Identifiant (ancien)", "Identifiant (nouveau)", "Nom (ancien)",
                        "Nom (nouveau)"]].values.tolist() == expected
        beside.unlink()
    xlsx = tmp_path / "changements.xlsx"
    assert main(["comparer", str(old), str(new), "-o", str(xlsx)]) == 0
    ws = load_workbook(xlsx)["Changements"]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, (c.value for c in row))) for row in ws.iter_rows(min_row=2)]
    shares = [(r["Avant"], r["Après"]) for r in rows if r["Changement"] == "part modifiée"]
    assert sorted(shares) == [(0.5, 0.4), (0.5, 0.6)]  # numbers, not the texts « 0,5 »
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ancien.csv", "changements.csv", "changements.gpkg",
                                                          "changements.xlsx", "nouveau.csv"]


@pytest.mark.slow
def test_checked_registries_are_accepted(example, hdf_communes):
    checked = validate_registry(example, hdf_communes)
    assert len(compare_registries(checked, checked).changes) == 0


@pytest.mark.slow
def test_cli_comparer(tmp_path, capsys, example):
    old = tmp_path / "ancien.csv"
    new = tmp_path / "nouveau.csv"
    example.to_csv(old, sep=";", index=False)
    changed = example.copy()
    changed.loc[changed["cpts_id"] == "HDF-01", "stage"] = "Dynamique identifiée"
    changed["cpts_name"] = changed["cpts_name"].str.upper()
    changed.to_csv(new, sep=";", index=False)
    out = tmp_path / "changements.csv"
    assert main(["comparer", str(old), str(new), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "59 CPTS retrouvée(s) dans les deux registres, 0 dissoute(s), 0 créée(s)." in text
    assert "étape modifiée : 1" in text
    assert f"Tableau des changements écrit : {out}" in text
    table = pd.read_csv(out, sep=";", encoding="utf-8-sig", dtype=str)
    assert table.columns[0] == "Changement"
    assert table["Avant"].iat[0] == "ACI signé"
    xlsx = tmp_path / "changements.xlsx"
    assert main(["comparer", str(old), str(old), "--sortie", str(xlsx)]) == 0
    assert "Aucun changement." in capsys.readouterr().out
    import openpyxl

    assert openpyxl.load_workbook(xlsx).sheetnames == ["Changements", "Rapprochement des CPTS"]


# --- two sources covering different areas ---------------------------------------------------------

@pytest.fixture(scope="module")
def paca_sources(tmp_path_factory):
    """A regional listing of Provence-Alpes-Côte d'Azur (one CPTS per EPCI) and a department
    listing of the Alpes-Maritimes with its own ids and names in capitals, one commune moved to
    the neighbouring CPTS (built from the embedded communes, never a real listing)."""
    from cpts_geo.domain.communes import load_communes

    paca = load_communes(region="93", crs=None)
    regional = pd.DataFrame({"Code CPTS": "R-" + paca["epci"].astype(str).to_numpy(),
                             "Nom CPTS": ("CPTS " + paca["epci_name"].astype(str)).to_numpy(),
                             "Code commune": paca.index.to_numpy(), "Commune": paca["name"].to_numpy()})
    alpes = regional[regional["Code commune"].str.startswith("06")].copy()
    alpes["Code CPTS"] = alpes["Code CPTS"].str.replace("R-", "AM-", regex=False)
    alpes["Nom CPTS"] = alpes["Nom CPTS"].str.upper()
    # one commune given to the CPTS of the neighbouring metropolis in the new listing
    nice, cagnes = "06088", "06161"  # Villeneuve-Loubet (Sophia Antipolis) borders the metropolis
    moved = alpes.loc[alpes["Code commune"] == cagnes, "Code CPTS"].iat[0]
    assert moved != alpes.loc[alpes["Code commune"] == nice, "Code CPTS"].iat[0]
    folder = tmp_path_factory.mktemp("paca")
    regional.loc[regional["Code commune"] == cagnes, ["Code CPTS", "Nom CPTS"]] = \
        regional.loc[regional["Code commune"] == nice, ["Code CPTS", "Nom CPTS"]].iloc[0].to_numpy()
    old, new = folder / "alpes-maritimes.csv", folder / "paca.csv"
    alpes.to_csv(old, sep=";", index=False)
    regional.to_csv(new, sep=";", index=False)
    return old, new, alpes, regional


def test_a_department_against_its_region_reports_only_the_real_differences(paca_sources, capsys):
    old, new, alpes, _ = paca_sources
    assert main(["comparer", str(old), str(new), "--departements", "06"]) == 0
    out = capsys.readouterr().out
    assert "Comparaison restreinte aux départements 06" in out
    n_06 = alpes["Code CPTS"].nunique()
    assert f"{n_06} CPTS retrouvée(s) dans les deux registres, 0 dissoute(s), 0 créée(s)." in out
    assert "Changements (1) :\n  commune changée de CPTS : 1\n" in out
    assert "sortie de la couverture" not in out
    assert "hors du champ" not in out


def test_without_an_area_the_other_sources_field_is_set_apart(paca_sources):
    from cpts_geo.io.registry import read_registry_report

    old, new, _, regional = paca_sources
    cmp = compare_registries(read_registry_report(old), read_registry_report(new))
    assert cmp.fields == (("06",), ("04", "05", "06", "13", "83", "84"))
    assert not cmp.restricted
    s = cmp.summary
    others = regional.loc[~regional["Code commune"].str.startswith("06")]
    assert s["CPTS hors du champ de l'autre source"] == others["Code CPTS"].nunique()
    assert s["commune hors du champ de l'autre source"] == len(others)
    assert s["commune changée de CPTS"] == 1
    assert s[["CPTS créée", "CPTS dissoute", "commune entrée dans la couverture",
              "commune sortie de la couverture"]].sum() == 0


def test_an_error_names_the_registry_it_comes_from(paca_sources, tmp_path, capsys):
    old, new, alpes, _ = paca_sources
    typo = alpes.copy()
    typo.loc[typo["Code commune"] == "06157", "Commune"] = "Vense"  # Vence, misspelt on a public page
    bad = tmp_path / "alpes-maritimes-2021.csv"
    typo.to_csv(bad, sep=";", index=False)
    assert main(["comparer", str(bad), str(new), "--departements", "06"]) == 2
    err = capsys.readouterr().err
    assert "Erreur : Registre ancien (alpes-maritimes-2021.csv) : Le registre ne respecte pas les règles" in err
    assert "le nom « Vense » ne correspond pas au code 06157 (Vence)" in err
    headless = tmp_path / "sans-code.csv"
    headless.write_text("Code CPTS;Nom\nA;B\n", encoding="utf-8")
    assert main(["comparer", str(old), str(headless)]) == 2
    assert "Registre nouveau (sans-code.csv) : Colonnes obligatoires introuvables" in capsys.readouterr().err
