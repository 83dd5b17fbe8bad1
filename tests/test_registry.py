"""Reading and validating CPTS registries: every bad input of the issue, with real codes."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from cpts_geo.domain.communes import load_communes
from cpts_geo.domain.registry import recognise_column, validate_registry
from cpts_geo.errors import CptsGeoWarning, ValidationError
from cpts_geo.io.registry import read_registry, read_registry_report


def reg(rows, **cols):
    """A registry from tuples (cpts_id, stage, commune_code[, commune_name[, share]])."""
    frame = pd.DataFrame(rows, columns=["cpts_id", "stage", "commune_code", "commune_name", "share"][
        : len(rows[0])] if rows else ["cpts_id", "stage", "commune_code"])
    for k, v in cols.items():
        frame[k] = v
    return frame


def test_headers_recognised():
    assert recognise_column("Code INSEE commune") == "commune_code"
    assert recognise_column("N° CPTS") is None or recognise_column("N° CPTS") == "cpts_id"
    assert recognise_column("Nom de la CPTS") == "cpts_name"
    assert recognise_column("Étape du projet") == "stage"
    assert recognise_column("Quote-part") == "share"


def test_csv_semicolon_utf8_row_numbers(tmp_path):
    path = tmp_path / "registre.csv"
    path.write_text("Identifiant CPTS;Nom de la CPTS;Étape;Code INSEE;Nom commune\n"
                    "A;CPTS de l'Amiénois;ACI signé;80021;Amiens\n"
                    "A;CPTS de l'Amiénois;ACI signé;80001;Abbeville\n", encoding="utf-8")
    read = read_registry_report(path)
    r = read.registry
    assert r["row"].tolist() == [2, 3]
    assert r["cpts_name"].iat[0] == "CPTS de l'Amiénois"
    assert read.separator == ";"
    assert read.encoding == "utf-8"
    assert r.attrs == {}  # no report travels in attrs
    pd.testing.assert_frame_equal(read_registry(path), r)


def test_csv_windows_1252_comma(tmp_path):
    path = tmp_path / "registre.csv"
    path.write_bytes("cpts_id,cpts_name,etape,code_commune,nom_commune\n"
                     "B,CPTS Sud-Aisne,Lettre d'intention validée,02168,Château-Thierry\n"
                     .encode("cp1252"))
    read = read_registry_report(path)
    assert read.encoding == "cp1252"
    assert read.separator == ","
    checked = validate_registry(read, load_communes(region="32"))  # a RegistryRead is a registry
    assert checked.cpts.at["B", "stage"] == "Lettre d'intention validée"
    assert checked.membership["code"].tolist() == ["02168"]


def test_xlsx_with_merged_header_cells(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "Registre des CPTS — Hauts-de-France"
    ws.merge_cells("A1:F1")
    ws["A2"] = "CPTS"
    ws.merge_cells("A2:C2")
    ws["D2"] = "Commune"
    ws.merge_cells("D2:E2")
    ws["F2"] = "Part"
    ws.merge_cells("F2:F3")
    for col, text in zip("ABCDE", ["Identifiant", "Nom", "Étape", "Code INSEE", "Nom"]):
        ws[f"{col}3"] = text
    ws.append(["A", "CPTS Lille", "ACI signé", 59350, "Lille", 0.5])
    ws.append(["B", "CPTS Est", "Association créée", 59350, "Lille", 0.5])
    ws.append(["B", "CPTS Est", "Association créée", 59009, "Villeneuve-d'Ascq", None])
    path = tmp_path / "registre.xlsx"
    wb.save(path)
    read = read_registry_report(path)
    r = read.registry
    assert r["row"].tolist() == [4, 5, 6]
    assert read.recognised == {
        "CPTS Identifiant": "cpts_id", "CPTS Nom": "cpts_name", "CPTS Étape": "stage",
        "Commune Code INSEE": "commune_code", "Commune Nom": "commune_name", "Part": "share"}
    checked = validate_registry(r, load_communes(region="32"))
    m = checked.membership.set_index(["code", "cpts_id"])["share"]
    assert m[("59350", "A")] == 0.5
    assert m[("59009", "B")] == 1.0


def test_empty_registry():
    with pytest.raises(ValidationError, match="Le registre est vide"):
        validate_registry(pd.DataFrame(columns=["cpts_id", "stage", "commune_code"]))


def test_missing_columns_are_named():
    with pytest.raises(ValidationError, match=r"identifiant de la CPTS.*Colonnes présentes : code, x"):
        read_registry(pd.DataFrame({"code": ["59350"], "x": [1]}))


def test_every_overlap_is_listed_with_all_claimants(hdf_communes):
    r = reg([("A", "ACI signé", "59350"), ("B", "ACI signé", "59350"), ("C", "3", "59350"),
             ("A", "ACI signé", "80021"), ("C", "3", "80021"), ("B", "ACI signé", "59009")])
    with pytest.raises(ValidationError) as err:
        validate_registry(r, hdf_communes)
    problems = err.value.problems
    assert problems["code"].tolist() == ["59350", "80021"]
    assert "commune Lille revendiquée par plusieurs CPTS : A (ligne 2), B (ligne 3), C (ligne 4)" \
        in problems["problem"].iat[0]
    assert problems["row"].iat[1] == "5, 6"


def test_declared_split_is_accepted_and_shares_checked(hdf_communes):
    ok = reg([("A", "5", "59350", "Lille", "0,6"), ("B", "5", "59350", "Lille", "40 %")])
    m = validate_registry(ok, hdf_communes).membership
    assert m["share"].tolist() == [0.6, 0.4]
    too_much = reg([("A", "5", "59350", "Lille", 0.7), ("B", "5", "59350", "Lille", 0.4)])
    with pytest.raises(ValidationError, match="somme 1,1 dépasse 1"):
        validate_registry(too_much, hdf_communes)
    bad = reg([("A", "5", "59350", "Lille", 1.5), ("B", "5", "80021", "Amiens", -0.2),
               ("B", "5", "80001", "Abbeville", "moitié")])
    with pytest.raises(ValidationError) as err:
        validate_registry(bad, hdf_communes)
    assert err.value.problems["row"].tolist() == [4, 2, 3]
    assert "illisible : 'moitié'" in err.value.problems["problem"].iat[0]
    assert "1,5 hors de ]0, 1]" in err.value.problems["problem"].iat[1]


def test_former_code_remapped_with_report(hdf_communes):
    # 02026 Artonges became a commune déléguée of 02458 Dhuys et Morin-en-Brie.
    r = reg([("A", "ACI signé", "02026", "Artonges")])
    with pytest.warns(CptsGeoWarning, match="ancien.*02026 → 02458"):
        checked = validate_registry(r, hdf_communes)
    assert checked.membership["code"].tolist() == ["02458"]
    rep = checked.report.iloc[0]
    assert (rep["row"], rep["code"], rep["new_code"], rep["name"], rep["reason"]) == (
        2, "02026", "02458", "Artonges", "commune déléguée")


def test_former_code_overlap_reported_with_original_codes(hdf_communes):
    r = reg([("A", "ACI signé", "02026"), ("B", "ACI signé", "02458")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValidationError, match=r"A \(ligne 2, code donné 02026\), B \(ligne 3\)"):
            validate_registry(r, hdf_communes)


def test_passage_table_for_codes_unknown_to_the_embedded_table(shared_data):
    r = reg([("A", "ACI signé", "05120")])  # Ristolas, now Abriès-Ristolas (05001)
    france = load_communes(departments="05")
    with pytest.warns(CptsGeoWarning, match=r"ancien.*05120 → 05001"):
        checked = validate_registry(r, france)
    assert checked.membership["code"].tolist() == ["05001"]
    from cpts_geo.io.history import read_passage_table

    passage = read_passage_table(shared_data / "cog_passage" / "gescodgeo_table_passage_2008_2025.csv")
    flows = pd.read_csv(shared_data / "flows" / "mobpro_sample_orne_cogugaison.csv", dtype=str)
    orne = load_communes(departments="61")
    from cpts_geo.domain.history import remap_codes

    _, alone = remap_codes(pd.Series(sorted(set(flows["COMMUNE"]))))
    # INSEE's code history is embedded: codes absorbed years ago need no passage table now
    old = alone.loc[alone["reason"].str.startswith("ancien code"), "code"].tolist()[:3]
    assert len(old) == 3
    r = reg([("O", "1", c) for c in old])
    with pytest.warns(CptsGeoWarning):
        alone_checked = validate_registry(r, orne)
    assert alone_checked.membership["code"].isin(orne.index).all()
    with pytest.warns(CptsGeoWarning, match="table de passage|ancien"):
        checked = validate_registry(r, orne, passage=passage)
    assert checked.membership["code"].isin(orne.index).all()
    assert (checked.report["reason"] == "table de passage").sum() == len(old)


def test_unknown_codes_with_closest_names(hdf_communes):
    r = reg([("A", "1", "59999", "Lile"), ("A", "1", "8OO21", "Amiens")])
    with pytest.raises(ValidationError) as err:
        validate_registry(r, hdf_communes)
    p = err.value.problems
    assert p["problem"].iat[0].startswith("code inconnu (nom donné : Lile ; communes proches : ")
    assert "59350 Lille" in p["problem"].iat[0]
    assert p["problem"].iat[1].startswith("code INSEE mal formé (nom donné : Amiens ; communes proches : 80021 Amiens)")


def test_name_that_does_not_match_the_code(hdf_communes):
    r = reg([("A", "1", "80021", "Abbeville"), ("A", "1", "62765", "St-Omer")])
    with pytest.raises(ValidationError) as err:
        validate_registry(r, hdf_communes)
    assert len(err.value.problems) == 1  # "St-Omer" is Saint-Omer
    assert "le nom « Abbeville » ne correspond pas au code 80021 (Amiens) ; communes de ce nom : 80001" \
        in err.value.problems["problem"].iat[0]
    assert validate_registry(r, hdf_communes, check_names=False).membership["code"].tolist() == \
        ["62765", "80021"]


def test_stage_typos_rejected_with_rows(hdf_communes):
    r = reg([("A", "Asociation créée", "80021"), ("B", "ACI SIGNE", "80001"),
             ("C", None, "59350")])
    with pytest.raises(ValidationError) as err:
        validate_registry(r, hdf_communes)
    p = err.value.problems
    assert p["row"].tolist() == [2]  # an empty stage is not an error (issue 14)
    assert "Asociation créée" in p["problem"].iat[0]
    assert p["kind"].tolist() == ["étape"]


def test_duplicate_in_one_cpts_is_kept_once(hdf_communes):
    r = reg([("A", "1", "80021"), ("A", "1", "80021"), ("A", "1", "80001")])
    with pytest.warns(CptsGeoWarning, match="en double"):
        checked = validate_registry(r, hdf_communes)
    assert checked.membership["code"].tolist() == ["80001", "80021"]
    assert checked.report["reason"].iat[0] == "doublon dans la CPTS A : ligne ignorée"
    assert checked.report["row"].iat[0] == 3


def test_codes_that_lost_their_leading_zero_and_spaces(hdf_communes):
    r = reg([("A", "1", 2691), ("A", "1", " 80021 ")])  # Saint-Quentin typed as a number
    with pytest.warns(CptsGeoWarning, match="zéro initial"):
        checked = validate_registry(r, hdf_communes)
    assert checked.membership["code"].tolist() == ["02691", "80021"]
    assert checked.report["reason"].tolist() == ["zéro initial restauré", "espaces retirés"]


def test_an_id_with_a_trailing_space_is_merged_with_a_report(hdf_communes):
    r = reg([("A", "1", "80021"), ("A ", "1", "80001"), ("A ", "1", "80016"), ("B", "1", "80002"),
             (" C", "1", "80003")])
    with pytest.warns(CptsGeoWarning, match="identifiant"):
        checked = validate_registry(r, hdf_communes)
    assert sorted(checked.cpts.index) == ["A", "B", "C"]
    ids = checked.report[checked.report["kind"] == "identifiant nettoyé"]
    assert ids["row"].tolist() == [3, 6]
    assert ids["reason"].tolist() == [
        "identifiant « A␠ » lu « A » (espaces retirés) aux lignes 3, 4 : réuni à la même CPTS que « A » (ligne 2)",
        "identifiant « ␠C » lu « C » (espaces retirés)"]
    from cpts_geo.domain._registry_checks import CORRECTION_KINDS

    assert set(checked.report["kind"]) <= set(CORRECTION_KINDS)


def test_cpts_without_commune_and_empty_ids(hdf_communes):
    r = reg([("A", "1", None), (None, "1", "80021"), ("B", "1", "80001")])
    with pytest.raises(ValidationError) as err:
        validate_registry(r, hdf_communes)
    text = str(err.value)
    assert "ligne 2 : code commune vide" in text
    assert "ligne 3 : identifiant de CPTS vide" in text
    assert "CPTS A sans aucune commune" in text


def test_commune_outside_the_layer(hdf_communes):
    r = reg([("A", "1", "75056")])
    with pytest.raises(ValidationError, match=r"département 75.*absente de la couche"):
        validate_registry(r, hdf_communes)


def test_city_whole_and_by_arrondissement_is_an_overlap():
    paris = load_communes(departments="75")
    r = reg([("A", "5", "75056"), ("B", "5", "75112"), ("B", "5", "75111")])
    with pytest.raises(ValidationError) as err:
        validate_registry(r, paris)
    p = err.value.problems
    assert len(p) == 1
    assert p["problem"].iat[0].startswith(
        "Paris donnée entière par une CPTS et par arrondissement par une autre : 2 arrondissement(s)")
    ok = reg([("A", "5", "75101"), ("B", "5", "75112"), ("B", "5", "75111")])
    assert validate_registry(ok, paris).membership["code"].tolist() == ["75101", "75111", "75112"]


def test_readme_registry_example_is_valid(tmp_path, hdf_communes):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "docs" / "guide" / "registres.md").read_text(encoding="utf-8")
    block = re.search(r"```text\n(cpts_id;.*?)```", readme, re.S).group(1)
    path = tmp_path / "registre.csv"
    path.write_text(block, encoding="utf-8")
    checked = validate_registry(read_registry(path), hdf_communes)
    assert checked.membership["share"].tolist() == [1.0, 1.0, 0.5, 0.5]


def test_official_names_with_article_are_accepted():
    """The layer has INSEE's names (« Le Havre »); an article left out or put last is accepted."""
    import warnings

    from cpts_geo.domain.communes import load_communes

    france = load_communes()
    assert france.loc[["76351", "17300", "61214"], "name"].tolist() == ["Le Havre", "La Rochelle",
                                                                        "L'Aigle"]
    reg = pd.DataFrame({"cpts_id": "A", "cpts_name": "CPTS A", "stage": "ACI signé",
                        "commune_code": ["76351", "17300", "61214", "72181"],
                        "commune_name": ["Le Havre", "Rochelle (La)", "Aigle", "LE MANS"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        checked = validate_registry(reg, france)
    assert len(checked.membership) == 4


# --- Issue 14: real ARS listings (optional stage), issue 15: nothing lost or wrong ---------------


def test_listing_without_stage_column_is_valid(hdf_communes):
    from cpts_geo.domain.stages import NOT_GIVEN

    r = pd.DataFrame({"cpts_id": ["A", "A", "B"], "commune_code": ["80021", "80001", "59350"]})
    checked = validate_registry(r, hdf_communes)
    assert checked.cpts["stage"].tolist() == [NOT_GIVEN, NOT_GIVEN]
    assert str(checked.cpts["stage"].dtype) == "category"


def test_empty_stage_cells_and_stage_default(hdf_communes):
    from cpts_geo.domain.stages import NOT_GIVEN

    r = reg([("A", None, "80021"), ("A", "", "80001"), ("B", "Association créée", "59350"),
             ("B", None, "59009")])
    checked = validate_registry(r, hdf_communes)
    assert checked.cpts["stage"].to_dict() == {"A": NOT_GIVEN, "B": "Association créée"}
    filled = validate_registry(r, hdf_communes, stage_default="aci signe")
    assert filled.cpts["stage"].to_dict() == {"A": "ACI signé", "B": "Association créée"}
    rep = filled.report[filled.report["reason"].str.startswith("étape")]
    assert rep["row"].tolist() == [2, 3]
    assert rep["reason"].iat[0] == "étape non renseignée remplie : ACI signé"
    with pytest.raises(ValidationError, match="Asociation"):
        validate_registry(r, hdf_communes, stage_default="Asociation créée")


def test_stage_not_given_in_coverage_and_funding(hdf_communes):
    from cpts_geo.domain.funding import funding_table
    from cpts_geo.domain.stages import NOT_GIVEN
    from cpts_geo.domain.territories import build_territories, coverage

    r = pd.DataFrame({"cpts_id": ["A", "A", "B"], "stage": [None, None, "ACI signé"],
                      "commune_code": ["80021", "80001", "59350"]})
    cov = coverage(r, hdf_communes)
    assert cov.loc[NOT_GIVEN, "n_cpts"] == 1
    assert cov.loc["ACI signé", "n_cpts"] == 1
    terr = build_territories(r, hdf_communes, parts=False)
    assert terr.loc["A", "stage"] == NOT_GIVEN
    money = funding_table(terr)
    assert len(money) == 2
    import matplotlib

    matplotlib.use("Agg")
    from cpts_geo.domain.stages import STAGE_COLORS
    from cpts_geo.render.plotting import plot_stages

    ax = plot_stages(terr)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == NOT_GIVEN
    assert labels[-1] == "ACI signé"
    fills = {tuple(round(c, 3) for c in fc) for coll in ax.collections for fc in coll.get_facecolors()}
    assert tuple(round(c, 3) for c in matplotlib.colors.to_rgba(STAGE_COLORS[NOT_GIVEN])) in fills


def test_problems_are_ordered_by_severity_with_their_kind(hdf_communes):
    r = reg([("A", "Asociation", "80021"), ("A", "1", "99999"), ("B", "1", "80021"),
             (None, "1", "80001")])
    with pytest.raises(ValidationError) as err:
        validate_registry(r, hdf_communes)
    kinds = err.value.problems["kind"].tolist()
    assert kinds == ["chevauchement", "code inconnu", "identifiant vide", "étape"]


def test_conflicting_duplicates_are_an_error_identical_ones_merge(hdf_communes):
    r = reg([("A", "1", "59350", "Lille", "0,3"), ("A", "1", "59350", "Lille", "0,9"),
             ("B", "1", "59350", "Lille", "0,1")])
    with pytest.raises(ValidationError) as err:
        validate_registry(r, hdf_communes)
    p = err.value.problems
    assert "doublon contradictoire" in p["kind"].tolist()
    text = p.loc[p["kind"] == "doublon contradictoire", "problem"].iat[0]
    assert "Lille listée 2 fois dans la CPTS A avec des parts différentes (0,3 ; 0,9)" in text
    assert p.loc[p["kind"] == "doublon contradictoire", "row"].iat[0] == "2, 3"
    same = reg([("A", "1", "59350", "Lille", "0,3"), ("A", "1", "59350", "Lille", "0,3"),
                ("B", "1", "59350", "Lille", "0,7")])
    with pytest.warns(CptsGeoWarning, match="en double"):
        checked = validate_registry(same, hdf_communes)
    assert checked.membership["share"].tolist() == [0.3, 0.7]
    assert (checked.report["reason"] == "doublon dans la CPTS A : ligne ignorée").sum() == 1


@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "=1/2"])
def test_share_nan_inf_or_formula_is_an_error_naming_the_row(hdf_communes, cell):
    r = reg([("A", "1", "59350", "Lille", "0,5"), ("B", "1", "59350", "Lille", cell)])
    with pytest.raises(ValidationError) as err:
        validate_registry(r, hdf_communes)
    p = err.value.problems
    p = p[p["kind"] == "part"]
    assert p["row"].tolist() == [3]
    assert "np.float64" not in str(err.value)
    if cell.startswith("="):
        assert "formule « =1/2 » sans valeur calculée" in p["problem"].iat[0]
    else:
        assert f"illisible : '{cell}'" in p["problem"].iat[0]


def test_no_numpy_repr_in_messages(hdf_communes):
    import numpy as np

    r = reg([("A", "1", "59350", "Lille", np.float64(1.5)), ("B", "1", "80021", "Amiens", "x")])
    with pytest.raises(ValidationError) as err:
        validate_registry(r, hdf_communes)
    assert "np." not in str(err.value)
    assert "1,5 hors de ]0, 1]" in str(err.value)


def test_code_typed_as_decimal_text_is_reported_as_a_number():
    from cpts_geo.domain.codes import normalize_codes

    codes, report = normalize_codes(["59350.0", "2a004", 59350.0])
    assert codes.tolist() == ["59350", "2A004", "59350"]
    assert report["reason"].tolist() == ["nombre converti en texte", "majuscules (2A/2B)",
                                         "nombre converti en texte"]


def test_nfc_and_nfd_names_are_one_name(hdf_communes):
    import unicodedata

    nfc, nfd = "CPTS de l'Amiénois", unicodedata.normalize("NFD", "CPTS de l'Amiénois")
    assert nfc != nfd
    r = pd.DataFrame({"cpts_id": ["A", "A"], "cpts_name": [nfc, nfd], "stage": "1",
                      "commune_code": ["80021", "80001"]})
    checked = validate_registry(r, hdf_communes)
    assert checked.cpts.at["A", "name"] == nfc


def test_same_cpts_name_under_two_ids_is_reported(hdf_communes):
    r = pd.DataFrame({"cpts_id": ["A", "B"], "cpts_name": ["CPTS Somme", "CPTS SOMME"], "stage": "1",
                      "commune_code": ["80021", "80001"]})
    with pytest.warns(CptsGeoWarning, match="plusieurs identifiants"):
        checked = validate_registry(r, hdf_communes)
    rep = checked.report
    assert rep["reason"].str.contains("même nom de CPTS que A").tolist() == [True]
    assert rep["row"].tolist() == [3]


def test_arrondissement_names_recognised_and_suggestions_only_when_close():
    france = load_communes(departments="13")
    ok = reg([("A", "1", "13214", "Marseille 14e Arrondissement"), ("A", "1", "13215", "Marseille 15e")])
    assert len(validate_registry(ok, france).membership) == 2
    wrong = reg([("A", "1", "13001", "Marseille 14e Arrondissement"), ("A", "1", "13002", "Allauh")])
    with pytest.raises(ValidationError) as err:
        validate_registry(wrong, france)
    p = err.value.problems["problem"].tolist()
    assert "Gasville" not in p[0]
    assert "communes de ce nom : 13214 Marseille 14e Arrondissement" in p[0]
    assert "13002 Allauch" in p[1]


def test_registry_given_only_by_arrondissement_builds_and_maps(tmp_path):
    from cpts_geo.domain.territories import communes_with_cpts
    from cpts_geo.render.batch import area_maps

    r = reg([("L1", "5", "69381"), ("L1", "5", "69382"), ("L2", "3", "69383")])
    checked = validate_registry(r)
    layer = communes_with_cpts(checked, load_communes(departments="69"))
    assert set(layer.loc[layer["covered"], "cpts_id"]) == {"L1", "L2"}
    res = area_maps(checked, region="84", html_path=tmp_path / "lyon.html", png=False)
    assert res["n_cpts"] == 2
    assert res["covered"] == 3


def test_xlsx_formula_without_computed_value_is_an_error_naming_the_row(tmp_path, hdf_communes):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["cpts_id", "stage", "commune_code", "share"])
    ws.append(["A", "5", "59350", 0.5])
    ws.append(["B", "5", "59350", "=1/2"])  # as a script writes it: no cached value
    path = tmp_path / "registre.xlsx"
    wb.save(path)
    with pytest.raises(ValidationError) as err:
        validate_registry(read_registry(path), hdf_communes)
    p = err.value.problems
    part = p[p["kind"] == "part"]
    assert part["row"].tolist() == [3]
    assert "formule « =1/2 » sans valeur calculée" in part["problem"].iat[0]


def test_row_numbers_stay_whole_when_some_problems_have_no_row():
    from cpts_geo.errors import ValidationError

    err = ValidationError("Registre refusé", [{"row": 4, "problem": "code inconnu"},
                                              {"problem": "colonne manquante"}])
    assert "ligne 4 :" in str(err)
    assert "4.0" not in str(err)
    assert err.problems["row"].tolist()[0] == 4


def test_perimeters_without_crs_get_the_one_wording():
    import geopandas as gpd
    import shapely

    from cpts_geo.domain.registry import registry_from_perimeters
    from cpts_geo.errors import ValidationError

    drawn = gpd.GeoDataFrame({"cpts_id": ["A"]}, geometry=[shapely.box(2.2, 49.8, 2.4, 50.0)])
    with pytest.raises(ValidationError, match="n'a pas de CRS"):
        registry_from_perimeters(drawn, load_communes(departments="80"))
