"""Readers of professional supply: generic table and INSEE BPE."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cpts_geo.errors import CptsGeoWarning, ValidationError
from cpts_geo.indicators.supply import BPE_PROFESSIONS, PROFESSIONS, parse_professions, supply_by_commune
from cpts_geo.io.supply import read_bpe, read_professionals


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def test_profession_variants():
    got = parse_professions(["MÉDECIN GÉNÉRALISTE", "medecins generalistes", "IDE", "D301",
                             "Masseur kinésithérapeute", "chirurgiens-dentistes"])
    assert got.tolist() == ["médecin généraliste", "médecin généraliste", "infirmier",
                            "pharmacie", "masseur-kinésithérapeute", "chirurgien-dentiste"]
    assert BPE_PROFESSIONS["D233"] == "masseur-kinésithérapeute"
    assert "sage-femme" in PROFESSIONS


def test_unknown_professions_listed_with_accepted_names():
    with pytest.raises(ValidationError, match=r"(?s)profession inconnue « plombier ».*"
                       r"professions acceptées : médecin généraliste") as err:
        parse_professions(["infirmier", "plombier", "astrologue", "plombier"])
    probs = err.value.problems
    assert probs["row"].tolist() == ["3, 5", "4"]


def test_generic_table_all_problems_at_once(tmp_path):
    path = tmp_path / "pros.csv"
    path.write_text(
        "commune;métier;nb\n"
        "59350;généraliste;3\n"
        "59350;plombier;1\n"
        "80021;infirmier;-2\n"
        "99999;infirmier;1\n"
        "80021;kiné;deux\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="Table des professionnels invalide") as err:
        read_professionals(path, code="commune", profession="métier", count="nb")
    probs = err.value.problems
    assert probs["row"].astype(str).tolist() == ["3", "4", "5", "6"]
    text = " ".join(probs["problem"])
    assert "plombier" in text
    assert "négatif" in text
    assert "code inconnu" in text
    assert "non numérique « deux »" in text


def test_missing_columns():
    with pytest.raises(ValidationError, match="colonne « count » absente"):
        read_professionals(pd.DataFrame({"code": ["59350"], "profession": ["infirmier"]}))


def test_remap_reported_not_dropped():
    table = pd.DataFrame({"code": [" 59350", "75112", "05120", 1001],
                          "profession": ["infirmier"] * 4, "count": ["1", "2", "3,5", "1"],
                          "etp": ["0.5", "", "1", "1"]})
    before = table.copy()
    with pytest.warns(CptsGeoWarning, match="rattachée"), \
            pytest.warns(CptsGeoWarning, match="2 code\\(s\\) commune réparé\\(s\\)"):
        read = read_professionals(table, fte="etp")
    pd.testing.assert_frame_equal(table, before)  # caller's data untouched
    out = read.table
    assert out["code"].tolist() == ["59350", "75056", "05001", "01001"]
    assert out["count"].tolist() == [1.0, 2.0, 3.5, 1.0]
    assert pd.isna(out["fte"].iloc[1])
    reasons = read.remapped.set_index("code")["reason"]
    assert reasons["75112"] == "arrondissement → commune"
    assert reasons["05120"] == "commune déléguée"


def test_unknown_codes_reported_when_asked():
    table = pd.DataFrame({"code": ["59350", "99999"], "profession": ["infirmier"] * 2,
                          "count": [1, 1]})
    with pytest.raises(ValidationError, match="ligne 3, code 99999 : code inconnu"):
        read_professionals(table)
    with pytest.warns(UserWarning, match="1 ligne\\(s\\) écartée\\(s\\)"):
        out = read_professionals(table, unknown="report")
    assert out.table["code"].tolist() == ["59350"]
    assert out.rejected[["row", "code"]].values.tolist() == [[3, "99999"]]
    assert (out.file_rows, out.rows_used, out.rows_rejected, out.rows_empty) == (2, 1, 1, 0)


def test_bpe_long_format(tmp_path):
    path = tmp_path / "bpe.csv"
    path.write_text("REG;DEP;DEPCOM;DCIRIS;AN;TYPEQU;NB_EQUIP\n"
                    "32;59;59350;59350_0101;2018;D201;2\n"
                    "32;59;59350;59350_0102;2018;D201;3\n"
                    "32;59;59350;59350_0102;2018;B101;1\n"
                    "84;69;69381;69381_0101;2018;D232;4\n", encoding="utf-8")
    out = _quiet(read_bpe, path)
    assert out.table["row"].tolist() == [2, 3, 5]
    assert out.other_equipment_rows == 1
    wide = supply_by_commune(out)
    assert wide.loc["59350", "médecin généraliste"] == 5
    assert wide.loc["69123", "infirmier"] == 4  # Lyon 1er → Lyon
    only = _quiet(read_bpe, path, professions=["infirmiers"])
    assert only.table["profession"].unique().tolist() == ["infirmier"]


def test_bpe_negative_count():
    bpe = pd.DataFrame({"DEPCOM": ["59350", "59009"], "TYPEQU": ["D201", "D232"],
                        "NB_EQUIP": ["2", "-1"]})
    with pytest.raises(ValidationError, match="ligne 3, code 59009 : NB_EQUIP négatif"):
        read_bpe(bpe)


def test_real_bpe_2018(shared_data):
    path = shared_data / "health_professionals" / "bpe2018_sante_communes.csv"
    passage = shared_data / "cog_passage" / "gescodgeo_table_passage_2008_2025.csv"
    out = _quiet(read_bpe, path, passage=passage)
    assert len(out.rejected) == 0
    wide = supply_by_commune(out)
    # national totals of the SOURCE.md survive remapping (nothing lost)
    assert wide["médecin généraliste"].sum() == 61594
    assert wide["infirmier"].sum() == 97678
    assert wide["pharmacie"].sum() == 24457
    assert wide.loc["59350", "médecin généraliste"] == 303
    # Paris arrondissements rolled up
    assert "75056" in wide.index
    assert not wide.index.str.startswith("751").any()
    # without a passage table, INSEE's embedded code history maps the same old codes
    out2 = _quiet(read_bpe, path, unknown="report")
    assert len(out2.rejected) == 0
    assert out2.table["count"].sum() == out.table["count"].sum()


def test_readme_professionals_example_reads(tmp_path):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "docs" / "guide" / "offre.md").read_text(encoding="utf-8")
    block = re.search(r"```text\n(code;profession;effectif.*?)```", readme, re.S).group(1)
    path = tmp_path / "professionnels.csv"
    path.write_text(block, encoding="utf-8")
    table = read_professionals(path, count="effectif").table
    assert table["profession"].tolist() == ["médecin généraliste", "infirmier",
                                            "masseur-kinésithérapeute"]
    assert table["row"].tolist() == [2, 3, 4]


def test_wide_bpe_blank_cells_are_zero_and_bad_cells_listed(tmp_path):
    path = tmp_path / "bpe_large.csv"
    path.write_text("CODGEO;D201;D232;D301\n59350;303;;98\n80021;;12;\n80001;1,5;0;\n",
                    encoding="utf-8")
    read = _quiet(read_bpe, path)
    out = read.table
    assert out[["row", "code", "profession", "count"]].values.tolist() == [
        [2, "59350", "médecin généraliste", 303.0], [2, "59350", "pharmacie", 98.0],
        [3, "80021", "infirmier", 12.0], [4, "80001", "médecin généraliste", 1.5]]
    assert read.file_rows == 3
    assert read.rows_used == 3
    assert read.rows_empty == 0
    bad = pd.DataFrame({"CODGEO": ["59350", "80021", "80001"], "D201": ["2", "x", None],
                        "D232": [float("nan"), 2, "-1"]})
    with pytest.raises(ValidationError, match="Table des professionnels invalide") as err:
        read_bpe(bad)
    text = str(err.value)
    assert "ligne 3, code 80021 : effectif (colonne D201) non numérique « x »" in text
    assert "ligne 4, code 80001 : effectif (colonne D232) négatif" in text


def test_bpe_without_any_known_equipment_is_announced():
    bpe = pd.DataFrame({"DEPCOM": ["59350", "59350"], "TYPEQU": ["D265", "D279"],
                        "NB_EQUIP": ["300", "200"]})
    with pytest.warns(UserWarning, match="Aucune ligne d'offre retenue.*D265, D279"):
        out = read_bpe(bpe)
    assert len(out.table) == 0
    assert out.other_equipment_rows == 2
    assert out.rows_empty == 0


def test_bpe_long_exact_duplicates_are_announced():
    bpe = pd.DataFrame({"DEPCOM": ["59350", "59350", "59350"], "DCIRIS": ["59350_0101"] * 3,
                        "TYPEQU": ["D201", "D201", "D232"], "NB_EQUIP": ["3", "3", "1"]})
    with pytest.warns(UserWarning, match="1 ligne\\(s\\) de la BPE répètent.*lignes 2 et 3"):
        out = read_bpe(bpe)
    assert out.table["count"].sum() == 7  # kept and summed, as announced
    assert out.duplicates[["row", "first_row", "code", "typequ"]].values.tolist() == [
        [3, 2, "59350", "D201"]]


def test_rejected_rows_keep_profession_and_count_and_each_row_is_reported_once():
    bpe = pd.DataFrame({"CODGEO": ["59350", "99999", "75112"], "D201": ["1", "2", "3"],
                        "D232": ["4", "5", "6"]})
    out = _quiet(read_bpe, bpe, unknown="report")
    rejected = out.rejected
    assert rejected[["row", "code", "profession", "count"]].values.tolist() == [
        [3, "99999", "médecin généraliste", 2.0], [3, "99999", "infirmier", 5.0]]
    remapped = out.remapped
    assert remapped[["row", "code", "new_code"]].values.tolist() == [[4, "75112", "75056"]]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        read_bpe(bpe, unknown="report")
    assert any(str(w.message).startswith("1 ligne(s) écartée(s)") for w in record)


def test_missing_fte_is_an_error_when_used():
    from cpts_geo.indicators.supply import supply_on_layer

    table = pd.DataFrame({"code": ["80021", "80021"], "profession": ["infirmier"] * 2,
                          "count": [1, 1], "etp": ["0,5", ""]})
    supply = read_professionals(table, fte="etp")  # a blank FTE may be read…
    assert pd.isna(supply.table["fte"].iloc[1])
    with pytest.raises(ValidationError, match="ligne 3, code 80021 : ETP manquant"):
        supply_on_layer(supply, pd.Index(["80021"]), value="fte")  # …never counted as 0
    assert supply_on_layer(supply, pd.Index(["80021"])).loc["80021", "infirmier"] == 2


def test_supply_given_directly_goes_through_the_same_checks():
    from cpts_geo.indicators.supply import supply_on_layer

    codes = pd.Index(["80021", "80001"])
    table = pd.DataFrame({"code": ["80021", "80021", "80021"],
                          "profession": ["infirmier", "kiné", "Infirmier"], "count": [1.0, 3.0, 5.0]})
    wide = supply_on_layer(table, codes)
    assert wide.loc["80021"].to_dict() == {"infirmier": 6.0, "masseur-kinésithérapeute": 3.0}
    bad = pd.DataFrame({"code": ["80021", "80001", "80001"], "profession": ["infirmier", "infirmier", "plombier"],
                        "count": [np.nan, -3.0, 1.0]})
    with pytest.raises(ValidationError) as err:
        supply_on_layer(bad, codes)
    text = str(err.value)
    assert "ligne 2, code 80021 : effectif manquant" in text
    assert "ligne 3, code 80001 : effectif négatif" in text
    assert "plombier" in text
    # counts indexed by commune: column names as users type them
    counts = pd.DataFrame({"généraliste": [40.0]}, index=pd.Index(["80021"], name="code"))
    got = supply_on_layer(counts, codes, professions=["médecin généraliste"])
    assert got["médecin généraliste"].tolist() == [40.0, 0.0]
    with pytest.raises(ValidationError, match="colonne « boulanger » : profession inconnue"):
        supply_on_layer(pd.DataFrame({"boulanger": [1.0]}, index=["80021"]), codes)
    with pytest.raises(ValidationError, match=r"code 80021 : effectif \(infirmier\) infini"):
        supply_on_layer(pd.DataFrame({"infirmier": [np.inf]}, index=["80021"]), codes)
    with pytest.raises(ValidationError, match=r"(?s)absentes de la table d'offre.*aucune offre de « sage-femme »"):
        supply_on_layer(table, codes, professions=["infirmier", "sages-femmes"])
    with pytest.raises(ValidationError, match="Aucune offre reconnue"):
        supply_on_layer(table.iloc[:0], codes)


def test_read_supply_tells_the_formats_apart_and_reads_once(tmp_path):
    from cpts_geo.indicators.supply import SupplyRead
    from cpts_geo.io.supply import read_supply

    wide = tmp_path / "bpe_large.csv"
    wide.write_text("CODGEO;D201;D232\n59350;3;\n80021;0;\n", encoding="utf-8")
    read = read_supply(wide)
    assert isinstance(read, SupplyRead)
    assert read.format == "bpe"
    assert (read.file_rows, read.rows_used, read.rows_empty) == (2, 1, 1)  # a row of 0 and blanks
    assert "séparateur « ; »" in read.reading
    table = tmp_path / "pros.csv"
    table.write_text("commune;nb;profession\n59350;2;kiné\n", encoding="utf-8")
    read = read_supply(table, code="commune", count="nb")
    assert read.format == "table"
    assert read.table["profession"].tolist() == ["masseur-kinésithérapeute"]
    assert len(read.duplicates) == 0
    assert read.other_equipment_rows == 0
    with pytest.raises(ValidationError, match="BPE"):
        read_supply(table, format="bpe")
    with pytest.raises(FileNotFoundError, match="Fichier des professionnels introuvable"):
        read_supply(tmp_path / "absent.csv")
    with pytest.raises(ValueError, match="format='xls'"):
        read_supply(table, format="xls")


def test_missing_columns_are_named_as_the_caller_names_them():
    from cpts_geo.io.supply import read_supply

    frame = pd.DataFrame({"code": ["59350"], "profession": ["infirmier"], "valeur": [1]})  # a header no synonym knows
    with pytest.raises(ValidationError, match="colonne « count » absente \\(count='count'\\)"):
        read_supply(frame)
    with pytest.raises(ValidationError) as err:
        read_supply(frame, count="nb", names={"count": "--effectif"})
    assert "colonne « nb » absente (--effectif nb)" in str(err.value)
    assert "count=" not in str(err.value)


def test_reports_are_fields_and_warnings_say_where():
    from cpts_geo.indicators.supply import supply_report_tables, supply_table

    bpe = pd.DataFrame({"DEPCOM": ["59350", "75112", "99999", "59350"],
                        "TYPEQU": ["D201", "D201", "D232", "D201"], "NB_EQUIP": ["1", "2", "3", "1"]})
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        read = read_bpe(bpe, unknown="report")
    texts = [str(w.message) for w in record]
    assert texts
    assert not any("attrs" in t for t in texts)
    assert any("champ remapped du résultat" in t for t in texts)
    assert any("champ rejected du résultat" in t for t in texts)
    assert any("champ duplicates du résultat" in t for t in texts)
    assert all(w.filename == __file__ for w in record)  # the warnings point at the caller
    assert (read.rows_used, read.rows_remapped, read.rows_rejected) == (3, 1, 1)
    assert supply_table(read) is read.table
    tables = supply_report_tables(read)
    assert tables["lignes_ecartees"][["Ligne", "Code donné", "Profession", "Effectif"]].values.tolist() == [
        [4, "99999", "infirmier", 3.0]]
    assert tables["codes_rattaches"][["Ligne", "Code donné", "Code actuel"]].values.tolist() == [
        [3, "75112", "75056"]]
    # a reading goes wherever a supply table is expected
    assert supply_by_commune(read).equals(supply_by_commune(read.table))


def test_an_arrondissement_whose_city_is_outside_the_layer_is_set_aside():
    from cpts_geo.domain.communes import load_communes

    hdf = load_communes(region="32")
    table = pd.DataFrame({"code": ["80021", "75112"], "profession": ["infirmier"] * 2, "count": [1, 2]})
    read = _quiet(read_professionals, table, communes=hdf, unknown="report")
    assert read.table["code"].tolist() == ["80021"]
    assert len(read.remapped) == 0
    assert read.rejected[["row", "code", "count", "problem"]].values.tolist() == [
        [3, "75112", 2.0, "arrondissement de 75056, commune hors de la couche étudiée"]]
    with pytest.raises(ValidationError, match="ligne 3, code 75112 : arrondissement de 75056"):
        read_professionals(table, communes=hdf)


def test_a_supply_table_with_french_headers_is_read_without_naming_its_columns():
    """« Code INSEE ; Profession ; Effectif » (the synonyms the reader knows) needed code=, count=… before."""
    import pandas as pd

    from cpts_geo.io.supply import read_supply

    table = pd.DataFrame({"Code INSEE": ["80021", "80001"], "Profession": ["médecin généraliste"] * 2,
                          "Effectif": ["300", "40"]})
    read = read_supply(table, unknown="report")
    assert read.table["count"].tolist() == [300.0, 40.0]
    assert read.table["code"].tolist() == ["80021", "80001"]
