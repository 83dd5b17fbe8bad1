"""The command line, called through ``main(argv)`` as a user would type it."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from cpts_geo.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_communes_summary(capsys):
    assert main(["communes", "--region", "32"]) == 0
    out = capsys.readouterr().out
    assert "Communes (région 32) : 3 782" in out
    assert "Population municipale 2021 : 5 995 292" in out
    assert "60694 Les Hauts-Talican : population 2021 estimée : part 61,9 %" in out


def test_unknown_region_is_a_readable_error(capsys):
    assert main(["communes", "--region", "33"]) == 2
    assert "Région inconnue" in capsys.readouterr().err


def test_version_and_show_versions(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert re.match(r"cpts_geo \d", capsys.readouterr().out)
    assert main(["show-versions"]) == 0
    assert "geopandas" in capsys.readouterr().out


def test_readme_commands_are_what_ci_runs():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    test_command = 'python -m pip install -e ".[test]" && python -m pytest'
    assert test_command in readme
    assert test_command in ci
    assert "python -m pip install . && cpts-geo carte" in readme


def test_validate_example_and_a_bad_registry(capsys, tmp_path):
    assert main(["validate", "--region", "32"]) == 0
    out = capsys.readouterr().out
    assert "Registre ILLUSTRATIF" in out
    assert "Registre valide : 59 CPTS, 3220 communes" in out
    bad = tmp_path / "registre.csv"
    bad.write_text("cpts_id;etape;code_commune\nA;ACI signé;59350\nB;Asociation créée;59350\n",
                   encoding="utf-8")
    assert main(["validate", str(bad), "--region", "32"]) == 2
    err = capsys.readouterr().err
    assert "ligne 3 : étape « Asociation créée » non reconnue" in err
    assert "commune Lille revendiquée par plusieurs CPTS : A (ligne 2), B (ligne 3)" in err


def test_territories_writes_geopackage_and_csv(capsys, tmp_path):
    out_path = tmp_path / "cpts.gpkg"
    reg = tmp_path / "registre.csv"
    reg.write_text("cpts_id;etape;code_commune\nA;5;80021\nA;5;02026\n", encoding="utf-8")
    assert main(["territories", str(reg), "-o", str(out_path)]) == 0
    out = capsys.readouterr().out
    assert out_path.exists()
    assert out_path.with_suffix(".csv").exists()
    assert "1 territoire écrit dans" in out
    assert "ligne 3 : 02026 Artonges → 02458 (commune déléguée)" in out
    assert "Non couvert" in out


def test_carte_and_batch(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    reg = tmp_path / "registre.csv"
    reg.write_text("cpts_id;cpts_name;etape;code_commune\nA;CPTS <Amiens>;5;80021\nA;CPTS <Amiens>;5;80001\n"
                   "B;CPTS Beauvais;2;60057\n", encoding="utf-8")
    out = tmp_path / "carte.html"
    assert main(["carte", str(reg), "--region", "32", "-o", str(out), "--no-png"]) == 0
    assert out.exists()
    assert out.stat().st_size < 1_500_000
    assert "Carte écrite" in capsys.readouterr().out
    maps = tmp_path / "maps"
    assert main(["batch", str(reg), "--out", str(maps), "--departements", "--no-png"]) == 0
    first = capsys.readouterr().out
    assert "[1/3] Hauts-de-France : carte écrite" in first
    assert {p.name for p in maps.iterdir()} >= {"hauts-de-france.html", "60-oise.html", "80-somme.html",
                                                "index.html", "synthese.csv", "manifest.json"}
    assert main(["batch", str(reg), "--out", str(maps), "--departements", "--no-png"]) == 0
    assert capsys.readouterr().out.count("carte inchangée") == 3
    index = (maps / "index.html").read_text(encoding="utf-8")
    assert 'href="80-somme.html"' in index
    two = tmp_path / "deux.csv"
    two.write_text("cpts_id;etape;code_commune\nA;5;80021\nB;5;75056\n", encoding="utf-8")
    assert main(["carte", str(two), "-o", str(out), "--no-png"]) == 2
    assert "plusieurs régions (11, 32)" in capsys.readouterr().err


@pytest.mark.slow
def test_offre_generic_table_reports_every_row(tmp_path, capsys):
    supply = tmp_path / "professionnels.csv"
    supply.write_text("commune;métier;nb\n59350;généraliste;300\n99999;kiné;2\n80021;infirmière;40\n",
                      encoding="utf-8")
    out = tmp_path / "offre.csv"
    assert main(["offre", str(supply), "--code", "commune", "--profession", "métier",
                 "--effectif", "nb", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2 lignes retenues" in text
    assert "1 écartée(s)" in text
    rejected = (tmp_path / "offre_lignes_ecartees.csv").read_text(encoding="utf-8-sig")
    assert "3;99999" in rejected  # file row 3, never dropped silently
    table = pd.read_csv(out, sep=";", decimal=",", encoding="utf-8-sig", dtype={"Département": str})
    assert set(table["Profession"]) == {"médecin généraliste", "infirmier"}
    assert table["CPTS"].nunique() == 59
    lille = table[(table["CPTS"] == "HDF-17") & (table["Profession"] == "médecin généraliste")]
    assert lille["Professionnels"].iloc[0] == 150  # Lille is shared 0.5 / 0.5 in the example
    assert "Accessibilité E2SFCA (20 min, pour 10 000 hab.)" in table.columns


def test_offre_unknown_profession_is_a_readable_error(tmp_path, capsys):
    supply = tmp_path / "professionnels.csv"
    supply.write_text("code;profession;count\n80021;boulanger;1\n", encoding="utf-8")
    assert main(["offre", str(supply), "-o", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "ligne 2" in err
    assert "boulanger" in err
    assert "médecin généraliste" in err


def test_perimetres_on_orne_mobpro(shared_data, tmp_path, capsys):
    out = tmp_path / "prop.csv"
    assert main(["perimetres", str(shared_data / "flows" / "mobpro_sample_orne_cogugaison.csv"),
                 "--mobpro", "--departments", "61",
                 "--passage", str(shared_data / "cog_passage" / "gescodgeo_table_passage_2008_2025.csv"),
                 "--taille-min", "5000", "--taille-cible", "20000", "--autonomie-cible", "0.7",
                 "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "rien n'est appliqué" in text
    proposed = pd.read_csv(out, sep=";", encoding="utf-8-sig", dtype=str)
    assert proposed["commune_code"].nunique() == len(proposed) == 381  # every Orne commune, once
    assert main(["validate", str(out), "--departments", "61"]) == 0  # readable as a registry
    areas = pd.read_csv(tmp_path / "prop_zones.csv", sep=";", decimal=",", encoding="utf-8-sig")
    assert (areas["Autonomie (min. demande, offre)"] >= 0.6).all()  # French headers


def test_help_and_usage_errors_in_french(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage : cpts-geo")
    assert "afficher cette aide et quitter" in out
    assert "positional arguments" not in out
    assert "show this help" not in out
    with pytest.raises(SystemExit) as exit_:
        main(["financement", "--taille", "trois"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert ("cpts-geo financement : erreur : argument --taille/--tier : valeur invalide : 'trois' "
            "(attendu : un nombre entier)") in err
    with pytest.raises(SystemExit):
        main(["flux"])
    assert "arguments obligatoires manquants : FLUX" in capsys.readouterr().err


def test_english_command_names_still_work(capsys):
    """The French commands are the documented ones; the English names of the first release remain aliases."""
    assert main(["funding", "--tier", "1"]) == 0
    english = capsys.readouterr().out
    assert main(["financement", "--taille", "1"]) == 0
    assert capsys.readouterr().out == english


def test_output_in_a_windows_code_page_does_not_fail(tmp_path):
    """Redirected output on Windows is cp1252, which has no '→': the report still prints."""
    import os
    import subprocess
    import sys

    registry = tmp_path / "registre.csv"
    registry.write_text("cpts_id;stage;commune_code\nA;ACI signé;1001\nA;ACI signé;02026\n", encoding="utf-8")
    env = {**os.environ, "PYTHONIOENCODING": "cp1252"}
    run = subprocess.run([sys.executable, "-m", "cpts_geo.cli.main", "validate", str(registry)],
                         capture_output=True, env=env)
    assert run.returncode == 0, run.stderr.decode("cp1252")
    out = run.stdout.decode("cp1252")
    assert "ligne 3 : 02026 Artonges -> 02458 (commune déléguée)" in out


@pytest.mark.slow
def test_offre_says_what_users_must_know(tmp_path, capsys):
    supply = tmp_path / "bpe_large.csv"
    supply.write_text("CODGEO;D201;D232;D301\n15014;30;;9\n15031;;2;\n99999;1;1;0\n75112;3;4;\n",
                      encoding="utf-8")
    registry = tmp_path / "registre.csv"  # 15031… have no geometry in the embedded layer
    registry.write_text("cpts_id;cpts_name;etape;code_commune\n"
                        "T1;Sans géométrie;5;15031\nT1;Sans géométrie;5;15035\n"
                        "T1;Sans géométrie;5;15047\nT1;Sans géométrie;5;15171\n"
                        "T2;Aurillac;5;15014\nT2;Aurillac;5;15187\n", encoding="utf-8")
    out = tmp_path / "offre.csv"
    assert main(["offre", str(supply), str(registry), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert ("Offre lue : 4 lignes dans le fichier, 3 lignes retenues (5 lignes d'offre, une par "
            "commune et profession), 1 rattachée(s) à la commune actuelle, 1 écartée(s)") in text
    assert "T1 Sans géométrie : 0,0 ; inconnue" in text
    assert "À noter :" in text
    assert ("4 commune(s) des CPTS d'accessibilité inconnue (sans géométrie ou sans temps de "
            "trajet : 15031, 15035, 15047, 15171)") in text
    assert "références calculées sur une offre partielle" in text
    assert re.search(r"infirmier : \d+ commune\(s\) des CPTS sans aucune offre à moins de 20 minutes", text)
    rejected = pd.read_csv(tmp_path / "offre_lignes_ecartees.csv", sep=";", decimal=",",
                           encoding="utf-8-sig", dtype={"Code donné": str})
    assert rejected[["Ligne", "Code donné", "Profession", "Effectif"]].values.tolist() == [
        [4, "99999", "médecin généraliste", 1.0], [4, "99999", "infirmier", 1.0]]
    remapped = pd.read_csv(tmp_path / "offre_codes_rattaches.csv", sep=";", encoding="utf-8-sig",
                           dtype=str)
    assert remapped[["Ligne", "Code donné", "Code actuel"]].values.tolist() == [["5", "75112", "75056"]]


def test_offre_options_are_checked_in_their_own_words(tmp_path, capsys):
    supply = tmp_path / "professionnels.csv"
    supply.write_text("code;profession;valeur\n80021;kiné;40\n", encoding="utf-8")  # a header no synonym knows
    assert main(["offre", str(supply), "--minutes", "30", "-o", str(tmp_path / "o.csv")]) == 2
    assert "--minutes 30 : choisissez une portée" in capsys.readouterr().err
    assert main(["offre", str(supply), "--professions", "plombier", "-o", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "Option --professions" in err
    assert "« plombier »" in err
    assert "ligne" not in err
    assert main(["offre", str(supply), "-o", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "colonne « count » absente (--effectif count)" in err
    assert "count=" not in err


def test_valider_problems_by_kind_and_the_complete_list_next_to_the_registry(tmp_path, capsys):
    bad = tmp_path / "registre.csv"
    rows = ["cpts_id;etape;code_commune", "C;Asociation;80021", "A;;59350", "B;ACI signé;59350"]
    rows += [f"D;1;9999{i}" for i in range(8)]
    bad.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(["valider", str(bad)]) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[1] == "10 problème(s) :"
    assert lines[2] == "chevauchement : 1"  # an overlap is the first thing printed
    assert "code inconnu : 8" in err
    assert "… et 3 autre(s)" in err
    assert "étape : 1" in err
    assert err.index("chevauchement") < err.index("code inconnu") < err.index("étape :")
    listed = tmp_path / "registre_problemes.csv"
    assert f"Liste complète des problèmes : {listed}" in err
    table = pd.read_csv(listed, sep=";", encoding="utf-8-sig", dtype=str)
    assert list(table.columns) == ["Ligne(s)", "Code commune", "Type", "Problème"]
    assert len(table) == 10
    assert not re.search(r"\.problems|columns=|load_communes|\w+\(\)", err)


def test_valider_never_overwrites_a_problems_file_not_ours_and_removes_its_stale_list(tmp_path, capsys):
    bad = tmp_path / "registre.csv"
    bad.write_text("cpts_id;etape;code_commune\nA;5;99999\n", encoding="utf-8")
    mine = tmp_path / "registre_problemes.csv"
    mine.write_text("Mes notes;à garder\nne pas effacer;1\n", encoding="utf-8")
    assert main(["valider", str(bad)]) == 2
    err = capsys.readouterr().err
    assert mine.read_text(encoding="utf-8") == "Mes notes;à garder\nne pas effacer;1\n"
    ours = tmp_path / "registre_problemes_2.csv"
    assert (f"Liste complète des problèmes : {ours} (« registre_problemes.csv » existe et n'a pas été écrit "
            "par cpts_geo : laissé tel quel)") in err
    assert pd.read_csv(ours, sep=";", encoding="utf-8-sig", dtype=str)["Code commune"].tolist() == ["99999"]
    # a second run writes over our own list, not a third file
    assert main(["valider", str(bad)]) == 2
    capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registre.csv", "registre_problemes.csv",
                                                          "registre_problemes_2.csv"]
    # the registry fixed: our list is stale and removed, the user's file stays
    bad.write_text("cpts_id;etape;code_commune\nA;5;80021\n", encoding="utf-8")
    assert main(["valider", str(bad)]) == 0
    out = capsys.readouterr().out
    assert f"Ancienne liste des problèmes supprimée : {ours} (le registre est valide)." in out
    assert not ours.exists()
    assert mine.exists()
    # our list under its own name, then the registry fixed: removed too
    mine.unlink()
    bad.write_text("cpts_id;etape;code_commune\nA;5;99999\n", encoding="utf-8")
    assert main(["valider", str(bad)]) == 2
    assert mine.exists()
    bad.write_text("cpts_id;etape;code_commune\nA;5;80021\n", encoding="utf-8")
    assert main(["valider", str(bad)]) == 0
    assert not mine.exists()


def test_valider_beside_a_read_only_registry_says_why_in_french(tmp_path, capsys):
    import subprocess

    folder = tmp_path / "lecture_seule"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True)
    if done.returncode:
        pytest.skip(f"montage tmpfs impossible ici ({done.stderr.decode().strip()})")
    try:
        bad = folder / "registre.csv"
        bad.write_text("cpts_id;etape;code_commune\nA;5;99999\n", encoding="utf-8")
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        assert main(["valider", str(bad)]) == 2
        err = capsys.readouterr().err
        assert (f"Liste complète des problèmes non écrite ({folder / 'registre_problemes.csv'} : système de "
                "fichiers en lecture seule).") in err
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def test_drawn_perimeters_geopackage_is_read_by_the_command_line(tmp_path, capsys):
    """All of France spans several metric CRS: only the communes under the perimeters are used."""
    import geopandas as gpd
    from shapely.geometry import box

    from cpts_geo.domain.communes import load_communes

    somme = load_communes(departments="80", crs="EPSG:2154")
    amiens = somme.loc[["80021", "80001", "80016"]].union_all().buffer(-10)
    other = somme.loc[["80002", "80003"]].union_all().buffer(-10)
    drawn = gpd.GeoDataFrame({"cpts_id": ["A", "B"], "cpts_name": ["CPTS Amiens", "CPTS B"],
                              "stage": ["ACI signé", "Association créée"]}, geometry=[amiens, other], crs=2154)
    path = tmp_path / "perimetres.gpkg"
    drawn.to_file(path, layer="perimetres", driver="GPKG")
    assert main(["valider", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Périmètres dessinés : 2 CPTS, 5 communes rattachées" in out
    assert "Registre valide : 2 CPTS, 5 communes" in out
    assert main(["territoires", str(path), "-o", str(tmp_path / "t.gpkg")]) == 0
    capsys.readouterr()
    # a perimeter drawn at sea touches no commune: said, never a CRS error
    sea = tmp_path / "mer.gpkg"
    gpd.GeoDataFrame({"cpts_id": ["O"], "stage": ["ACI signé"]}, geometry=[box(-30, 40, -29, 41)],
                     crs=4326).to_file(sea, layer="p", driver="GPKG")
    assert main(["valider", str(sea)]) == 2
    captured = capsys.readouterr()
    assert "entité 1, O : ne touche aucune commune" in captured.out
    assert "projections" not in captured.err
    assert "Le registre est vide" in captured.err


def test_listing_without_stage_through_valider_territoires_and_carte(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    reg = tmp_path / "ars.csv"
    reg.write_text("Identifiant CPTS;Nom de la CPTS;Code INSEE\nA;CPTS Amiens;80021\nA;CPTS Amiens;80001\n"
                   "B;CPTS Beauvais;60057\n", encoding="utf-8")
    assert main(["valider", str(reg)]) == 0
    assert main(["valider", str(reg), "--etape", "ACI signé"]) == 0
    out = capsys.readouterr().out
    assert "Étape « ACI signé » donnée aux CPTS sans étape : 3 ligne(s) remplie(s)." in out
    gpkg = tmp_path / "t.gpkg"
    assert main(["territoires", str(reg), "-o", str(gpkg)]) == 0
    assert "Étape non renseignée" in capsys.readouterr().out
    html = tmp_path / "carte.html"
    assert main(["carte", str(reg), "-o", str(html), "--sans-png"]) == 0
    assert "Étape non renseignée" in html.read_text(encoding="utf-8")
    assert main(["valider", str(reg), "--etape", "ACI signe pas"]) == 2
    assert "étape « ACI signe pas » non reconnue" in capsys.readouterr().err


def test_many_corrections_are_summarised_by_kind(tmp_path, capsys):
    reg = tmp_path / "registre.csv"
    lines = ["cpts_id;etape;code_commune"] + ["A;1;80021"] * 30 + ["A;1;2691"] * 30
    reg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["valider", str(reg)]) == 0
    out = capsys.readouterr().out
    assert "doublon : 58 ligne(s)" in out
    assert "zéro initial restauré : 30 ligne(s)" in out
    assert len(out.splitlines()) < 20
    ours = tmp_path / "registre_corrections.csv"
    assert ours.exists()
    # the registry cleaned: the complete list is stale and removed; a file not ours never is
    reg.write_text("cpts_id;etape;code_commune\nA;1;80021\n", encoding="utf-8")
    assert main(["valider", str(reg)]) == 0
    assert f"Ancienne liste des corrections supprimée : {ours}" in capsys.readouterr().out
    assert not ours.exists()
    ours.write_text("mes corrections\n", encoding="utf-8")
    reg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["valider", str(reg)]) == 0
    assert "« registre_corrections.csv » existe et n'a pas été écrit par cpts_geo" in capsys.readouterr().out
    assert ours.read_text(encoding="utf-8") == "mes corrections\n"
    assert (tmp_path / "registre_corrections_2.csv").exists()


def test_carte_by_arrondissement_and_a_region_without_cpts(tmp_path, capsys):
    reg = tmp_path / "arr1.csv"
    reg.write_text("cpts_id;cpts_name;etape;code_commune\nL1;CPTS Lyon 1;5;69381\nL1;CPTS Lyon 1;5;69382\n"
                   "L2;CPTS Lyon 2;3;69383\n", encoding="utf-8")
    html = tmp_path / "lyon.html"
    assert main(["carte", str(reg), "-o", str(html), "--sans-png"]) == 0
    out = capsys.readouterr().out
    assert "2 CPTS" in out
    assert "CPTS Lyon 2" in html.read_text(encoding="utf-8")
    assert main(["carte", str(reg), "--region", "11", "-o", str(html), "--sans-png"]) == 2
    err = capsys.readouterr().err
    assert "Aucune CPTS du registre n'a de commune dans la région 11 ; régions du registre : 84." in err
    assert "plusieurs régions ()" not in err


def test_colonnes_and_etapes_a_listing_as_it_comes(tmp_path, capsys):
    """A listing with its own headers and its own stage words: --colonnes maps the headers, the
    unknown words are listed once each with a mapping file to fill, which --etapes then reads;
    the wording as published is kept in the outputs beside the stage."""
    listing = tmp_path / "liste.csv"
    listing.write_text("N° de la structure;Libellé;Statut projet;Commune (INSEE)\n"
                       "1;CPTS Nord;Phase 3;93001\n1;CPTS Nord;Phase 3;93005\n"
                       "2;CPTS Sud;Phase 1;93006\n2;CPTS Sud;Phase 1;93007\n"
                       "3;CPTS Est;en fonctionnement;93008\n", encoding="utf-8")
    columns = "cpts_id=N° de la structure,cpts_name=Libellé,stage=Statut projet,commune_code=Commune (INSEE)"
    assert main(["valider", str(listing), "--colonnes", columns]) == 2
    err = capsys.readouterr().err
    assert "lignes 2, 3 : étape « Phase 3 » non reconnue" in err
    assert "lignes 4, 5 : étape « Phase 1 » non reconnue" in err
    template = tmp_path / "liste_etapes.csv"
    assert f"Correspondance des étapes à compléter : {template}" in err
    table = pd.read_csv(template, sep=";", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert table.iloc[:, 0].tolist() == ["Phase 3", "Phase 1"]
    assert set(table.iloc[:, 1]) == {""}
    # filled by the user: never overwritten by a later run
    template.write_text("étape telle que publiée;étape\nPhase 1;1\n", encoding="utf-8")
    assert main(["valider", str(listing), "--colonnes", columns, "--etapes", str(template)]) == 2
    err = capsys.readouterr().err
    assert "Phase 3" in err
    assert "Phase 1 »" not in err
    assert "laissée telle quelle" in err
    assert template.read_text(encoding="utf-8") == "étape telle que publiée;étape\nPhase 1;1\n"
    template.write_text("étape telle que publiée;étape\nPhase 1;1\nPhase 2;Association créée\n"
                        "Phase 3;Projet de santé validé\n", encoding="utf-8")
    out_csv = tmp_path / "territoires.csv"
    assert main(["territoires", str(listing), "--colonnes", columns, "--etapes", str(template),
                 "-o", str(tmp_path / "t.gpkg"), "--tableau", str(out_csv)]) == 0
    out = capsys.readouterr().out
    assert "4 étapes, moins que les 5 du guide" in out
    summary = pd.read_csv(out_csv, sep=";", encoding="utf-8-sig", dtype=str)
    assert summary[["Étape", "Étape telle que publiée"]].values.tolist() == [
        ["Projet de santé validé", "Phase 3"], ["Dynamique identifiée", "Phase 1"], ["ACI signé", "en fonctionnement"]]
    # a header that is not in the file, a field that is not one: said, nothing guessed
    assert main(["valider", str(listing), "--colonnes", "cpts_id=N° structure"]) == 2
    assert "« N° structure » (cpts_id)" in capsys.readouterr().err
    assert main(["valider", str(listing), "--colonnes", "identifiant=N° de la structure"]) == 2
    assert "colonnes possibles : " in capsys.readouterr().err


def test_colonnes_one_syntax_for_the_flow_table_too(tmp_path, capsys):
    registry = tmp_path / "registre.csv"
    registry.write_text("cpts_id;code_commune\nA;61001\nA;61002\nB;61006\n", encoding="utf-8")
    flows = tmp_path / "flux.csv"
    flows.write_text("Commune de domicile;Lieu des soins;Nb patients\n61001;61001;120\n61002;61001;30\n"
                     "61006;61001;25\n61006;61006;50\n", encoding="utf-8")
    out = tmp_path / "indicateurs.csv"
    assert main(["flux", str(flows), str(registry), "-o", str(out)]) == 2
    assert '--colonnes "origin=' in capsys.readouterr().err
    assert main(["flux", str(flows), str(registry), "-o", str(out), "--colonnes",
                 "origin=Commune de domicile,destination=Lieu des soins,volume=Nb patients"]) == 0
    assert "B B : rétention 66,7 %" in capsys.readouterr().out


def test_control_characters_refused_before_any_output_and_never_printed_raw(tmp_path, capsys):
    """A NUL passed `valider` and crashed every XLSX writer after the GeoPackage was written; an
    escape sequence in a name reached the terminal."""
    reg = tmp_path / "registre.csv"
    reg.write_bytes(b"cpts_id;nom_cpts;etape;code_commune\nA;CPTS A\x00;5;80021\n"
                    b"B;\"CPTS \x1b]0;titre\x07\x1b[2J\";5;80001\n")
    assert main(["valider", str(reg)]) == 2
    captured = capsys.readouterr()
    for text in (captured.out, captured.err):
        assert "\x1b" not in text
        assert "\x00" not in text
        assert "\x07" not in text
    assert "ligne 2 : colonne « nom_cpts » : caractère de contrôle U+0000" in captured.err
    assert "ligne 3 : colonne « nom_cpts » : caractères de contrôle U+0007, U+001B" in captured.err
    assert "CPTS ␛]0;titre␇␛[2J" in captured.err
    out = tmp_path / "sorties" / "t.gpkg"
    assert main(["territoires", str(reg), "-o", str(out), "--tableau", str(out.with_suffix(".xlsx"))]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
    # a user's text in any other message is shown the same way
    assert main(["valider", str(tmp_path / "registre\x1b[2J.csv")]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err
    assert "registre␛[2J.csv" in err



def test_the_stage_mapping_file_is_named_without_raw_control_characters(tmp_path, capsys):
    """The mapping file to fill is named after the registry: an escape sequence in that name
    reached the terminal in « relancez avec --etapes … » and « laissée telle quelle »."""
    listing = tmp_path / "liste\x1b[2J.csv"
    listing.write_text("cpts_id;etape;code_commune\nA;Phase 3;93001\n", encoding="utf-8")
    assert main(["valider", str(listing)]) == 2
    err = capsys.readouterr().err
    assert "--etapes" in err
    assert "liste␛[2J_etapes.csv" in err
    assert "\x1b" not in err
    assert main(["valider", str(listing)]) == 2  # the mapping is there now: left as it is
    err = capsys.readouterr().err
    assert "laissée telle quelle" in err
    assert "\x1b" not in err


def test_file_names_given_as_options_are_printed_without_raw_control_characters(tmp_path, capsys):
    """--etapes, --population and the files comparer writes were printed as typed: an escape
    sequence in a file name reached the terminal."""
    mapping = tmp_path / "etapes\x1b[2J.csv"
    mapping.write_text("étape telle que publiée;étape\nPhase 1;1\n", encoding="utf-8")
    population = tmp_path / "pop\x1b[2J.csv"
    population.write_text("code;population\n80021;100\n80001;200\n", encoding="utf-8")
    registry = tmp_path / "registre.csv"
    registry.write_text("cpts_id;etape;code_commune\nA;Phase 1;80021\nA;Phase 1;80001\n", encoding="utf-8")
    assert main(["valider", str(registry), "--etapes", str(mapping), "--population", str(population),
                 "--millesime-population", "2022"]) == 0
    out = capsys.readouterr().out
    assert "etapes␛[2J.csv" in out
    assert "pop␛[2J.csv" in out
    assert "\x1b" not in out
    assert main(["comparer", str(registry), str(registry), "--etapes", str(mapping),
                 "-o", str(tmp_path / "changements\x1b[2J.csv")]) == 0
    out = capsys.readouterr().out
    assert "changements␛[2J.csv" in out
    assert "changements␛[2J_rapprochement.csv" in out
    assert "\x1b" not in out
    # the outputs of offre and perimetres, and the files written beside them
    supply = tmp_path / "bpe.csv"
    supply.write_text("CODGEO;D201\n80021;30\n80001;2\n99999;1\n", encoding="utf-8")
    assert main(["offre", str(supply), str(registry), "--etapes", str(mapping),
                 "-o", str(tmp_path / "offre\x1b[2J.csv")]) == 0
    out = capsys.readouterr().out
    assert "écrites dans " in out
    assert "offre␛[2J_lignes_ecartees.csv" in out
    assert "\x1b" not in out
    flows = tmp_path / "flux.csv"
    flows.write_text("origine;destination;volume\n61001;61001;120\n61002;61001;30\n61006;61006;50\n",
                     encoding="utf-8")
    assert main(["perimetres", str(flows), "--departements", "61", "-o", str(tmp_path / "prop\x1b[2J.csv")]) == 0
    out = capsys.readouterr().out
    assert "prop␛[2J_zones.csv" in out
    assert "\x1b" not in out

def test_printed_tables_and_lines_show_control_characters_visibly():
    from cpts_geo.cli.report import _printable

    table = pd.DataFrame({"Nom": ["CPTS \x1b[31mRouge", None], "Total": [1, 2]},
                         index=pd.Index(["\x9b2J", "B"], name="id"))
    shown = _printable(table).to_string()
    assert "\x1b" not in shown
    assert "\x9b" not in shown
    assert "CPTS ␛[31mRouge" in shown
    assert "<U+009B>2J" in shown
    assert _printable("ligne\rréécrite") == "ligne␍réécrite"
