"""A listing shaped like a real ARS regional export, through every command a user runs (issue 25).

Built from the embedded layer (never anyone's listing): CPTS made of Marseille arrondissements in the
ARS two-column layout (13055 in the commune column, the arrondissement beside it), Nice shared by
three CPTS and Toulon by two (declared shares), one CPTS whose only commune is shared, a Lyon CPTS
and a Paris CPTS by arrondissement, and ordinary CPTS; no stage column. Every CPTS must be present in
every output, with the figures computed here independently.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pandas as pd
import pytest

import cpts_geo
from cpts_geo.cli import main
from cpts_geo.domain.tiers import tier_of

pytestmark = pytest.mark.slow

#: (cpts_id, name, commune code, arrondissement code, share)
ROWS = [
    # Marseille by arrondissement, ARS layout; 13201 in no CPTS
    ("M1", "CPTS Marseille Centre", "13055", "13202", None), ("M1", "CPTS Marseille Centre", "13055", "13203", None),
    ("M2", "CPTS Marseille Nord", "13055", "13215", None), ("M2", "CPTS Marseille Nord", "13055", "13216", None),
    ("M3", "CPTS Marseille Sud", "13055", "13208", None), ("M3", "CPTS Marseille Sud", "13055", "13209", None),
    ("A1", "CPTS Pays d'Aubagne", "13005", None, None), ("A1", "CPTS Pays d'Aubagne", "13022", None, None),
    # Nice shared by three CPTS; N3's only commune is Nice
    ("N1", "CPTS Nice Ouest", "06088", None, "0,40"), ("N1", "CPTS Nice Ouest", "06123", None, None),
    ("N2", "CPTS Nice Est", "06088", None, "0,35"), ("N2", "CPTS Nice Est", "06149", None, None),
    ("N3", "CPTS Nice Nord", "06088", None, "0,25"),
    # Toulon shared by two
    ("T1", "CPTS Toulon Ouest", "83137", None, "0,5"), ("T1", "CPTS Toulon Ouest", "83126", None, None),
    ("T2", "CPTS Toulon Est", "83137", None, "0,5"), ("T2", "CPTS Toulon Est", "83069", None, None),
    # Lyon and Paris by arrondissement
    ("L1", "CPTS Lyon Presqu'île", "69381", None, None), ("L1", "CPTS Lyon Presqu'île", "69382", None, None),
    ("P1", "CPTS Paris 12", "75112", None, None),
]
IDS = sorted({r[0] for r in ROWS})


@pytest.fixture(scope="module")
def france():
    return cpts_geo.load_communes(crs=None)


@pytest.fixture(scope="module")
def listing(tmp_path_factory):
    folder = tmp_path_factory.mktemp("listing")
    frame = pd.DataFrame(ROWS, columns=["N° CPTS", "Nom CPTS", "Code INSEE", "Code arrondissement", "Part"])
    path = folder / "export_ars.csv"
    frame.to_csv(path, sep=";", index=False, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def expected(france):
    """Each CPTS's population, computed here from the embedded figures and the declared shares."""
    arm = cpts_geo.load_arrondissements(crs=None)
    pop = pd.concat([france["population"], arm["population"]]).astype(float)
    out: dict[str, float] = {}
    for cid, _name, code, arr, share in ROWS:
        unit = arr or code
        part = float(share.replace(",", ".")) if share else 1.0
        out[cid] = out.get(cid, 0.0) + pop[unit] * part
    return pd.Series(out).round()


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


def test_valider_and_territoires(listing, expected, tmp_path, capsys):
    assert main(["valider", str(listing)]) == 0
    out = capsys.readouterr().out
    assert f"Registre valide : {len(IDS)} CPTS" in out
    assert "Colonne « Code arrondissement » lue" in out
    gpkg = tmp_path / "t.gpkg"
    assert main(["territoires", str(listing), "-o", str(gpkg), "--tableau", str(tmp_path / "t.csv")]) == 0
    capsys.readouterr()
    import pyogrio

    layer = pyogrio.read_dataframe(gpkg, layer="cpts").set_index("id_cpts")
    assert sorted(layer.index) == IDS
    assert layer["population"].round().to_dict() == expected.to_dict()
    for cid in IDS:
        assert layer.at[cid, "taille"] == tier_of(pd.Series([expected[cid]])).iat[0]
    communes = pyogrio.read_dataframe(gpkg, layer="communes").set_index("code_insee")
    nice = communes.loc["06088"]
    assert nice["n_cpts"] == 3
    assert "N1 CPTS Nice Ouest" in nice["cpts_liste"]
    assert "N3 CPTS Nice Nord" in nice["cpts_liste"]
    assert {"13202", "13215", "13208"} <= set(communes.index)  # Marseille drawn by arrondissement


def test_financement_carte_and_comparer(listing, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    table = tmp_path / "financement.csv"
    assert main(["financement", "--registre", str(listing), "-o", str(table)]) == 0
    funding = pd.read_csv(table, sep=";", encoding="utf-8-sig", dtype={"Identifiant CPTS": str})
    assert set(IDS) <= set(funding.iloc[:, 0].astype(str))
    html = tmp_path / "carte.html"
    assert main(["carte", str(listing), "--region", "93", "-o", str(html)]) == 0
    capsys.readouterr()
    page = html.read_text(encoding="utf-8")
    for cid in IDS:
        if cid not in ("L1", "P1"):  # outside the region of the map
            assert f"CPTS {cid[0]}" in page or cid in page
    assert (tmp_path / "carte.png").exists()
    assert main(["comparer", str(listing), str(listing), "-o", str(tmp_path / "diff.csv")]) == 0
    assert "0 changement" in capsys.readouterr().out or (tmp_path / "diff.csv").exists()


def test_editeur_draws_marseille_by_arrondissement(listing, tmp_path, capsys):
    out = tmp_path / "editeur.html"
    assert main(["editeur", str(listing), "--departements", "13", "-o", str(out)]) == 0
    capsys.readouterr()
    page = out.read_text(encoding="utf-8")
    assert "13215" in page
    assert "CPTS Marseille Nord" in page


def test_portrait_toutes_with_pdf_covers_every_cpts(listing, expected, tmp_path, capsys):
    folder = tmp_path / "portraits"
    code = main(["portrait", str(listing), "--toutes", "--pdf", "--sans-carte", "-o", str(folder)])
    out = capsys.readouterr().out
    assert code == 0, out
    pages = sorted(p.name for p in folder.glob("*.html") if p.name != "index.html")
    assert len(pages) == len(IDS)
    index = (folder / "index.html").read_text(encoding="utf-8")
    for cid in IDS:
        assert cid in index
    n3 = next(folder.glob("*n3*.html")).read_text(encoding="utf-8")
    assert "CPTS Nice Nord" in n3
    shown = re.search(r'data-fig="population\.cpts[^"]*">([^<]+)<', n3)
    assert shown is not None
    assert int(re.sub(r"\D", "", shown.group(1))) == int(expected["N3"])


def test_a_cpts_holding_a_part_of_a_city_has_no_area_nor_density(listing, tmp_path, capsys):
    """N3 holds a quarter of Nice: the portrait divided that quarter's population by all of Nice's area."""
    out = tmp_path / "n3.html"
    assert main(["portrait", str(listing), "--cpts", "N3", "--sans-carte", "-o", str(out)]) == 0
    capsys.readouterr()
    page = out.read_text(encoding="utf-8")
    assert "non définie (commune partagée : Nice)" in page
    assert 'data-fig="density_pop.cpts">non disponible<' in page
    assert 'data-fig="area.cpts"' not in page


def test_rapport_of_a_region_counts_only_its_cpts(listing, tmp_path, capsys, monkeypatch):
    """Lyon and Paris CPTS by arrondissement were counted in the report of Provence-Alpes-Côte d'Azur."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    out = tmp_path / "rapport.html"
    assert main(["rapport", str(listing), "--region", "93", "--sans-carte", "-o", str(out)]) == 0
    assert "(9 CPTS," in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert "CPTS Paris 12" not in page
    assert "CPTS Lyon Presqu" not in page


def test_evolution_of_a_region_counts_only_its_cpts(listing: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The Lyon and Paris CPTS by arrondissement were counted in the coverage of Provence-Alpes-Côte d'Azur
    over time (11 CPTS instead of 9)."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    out = tmp_path / "evolution.png"
    assert main(["evolution", str(listing), str(listing), "--dates", "2024", "2025", "--region", "93",
                 "-o", str(out)]) == 0
    capsys.readouterr()
    table = pd.read_csv(out.with_suffix(".csv"), sep=";", encoding="utf-8-sig", decimal=",")
    assert table["CPTS"].tolist() == [9, 9]


#: The listing's own stage words, and the mapping an analyst writes for the two the package does not know.
OWN_WORDS = {"M1": "En fonctionnement", "M2": "Pré-projet", "M3": "En fonctionnement", "A1": "Lettre d'intention",
             "N1": "Projet de santé déposé", "N2": "En fonctionnement", "N3": "Pré-projet",
             "T1": "En fonctionnement", "T2": "Lettre d'intention", "L1": "En fonctionnement", "P1": "Pré-projet"}
MAPPING = ("étape telle que publiée;étape\nLettre d'intention;Lettre d'intention validée\n"
           "Projet de santé déposé;Association créée\n")


@pytest.fixture(scope="module")
def worded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("worded")
    frame = pd.DataFrame(ROWS, columns=["N° CPTS", "Nom CPTS", "Code INSEE", "Code arrondissement", "Part"])
    frame["Statut"] = frame["N° CPTS"].map(OWN_WORDS)
    path = folder / "export_ars_statuts.csv"
    frame.to_csv(path, sep=";", index=False, encoding="utf-8")
    mapping = folder / "etapes.csv"
    mapping.write_text(MAPPING, encoding="utf-8")
    return path, mapping


def test_portrait_rapport_and_evolution_take_the_stage_mapping(worded: tuple[Path, Path], tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A listing with its own stage words: --etapes was refused by portrait, rapport and evolution
    (« arguments non reconnus »), so such a listing could not be portrayed or reported."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    listing, mapping = worded
    out = tmp_path / "portraits"
    assert main(["portrait", str(listing), "--etapes", str(mapping), "--toutes", "--sans-carte", "-o", str(out)]) == 0
    assert "11 portrait(s) (11 écrit(s)" in capsys.readouterr().out
    page = (out / "n1.html").read_text(encoding="utf-8")
    assert "Association créée" in page
    report = tmp_path / "rapport.html"
    assert main(["rapport", str(listing), "--etapes", str(mapping), "--region", "93", "--sans-carte",
                 "-o", str(report)]) == 0
    assert "(9 CPTS," in capsys.readouterr().out
    assert "Association créée" in report.read_text(encoding="utf-8")
    chart = tmp_path / "evolution.png"
    assert main(["evolution", str(listing), str(listing), "--etapes", str(mapping), "--dates", "2024", "2025",
                 "--region", "93", "-o", str(chart)]) == 0
    capsys.readouterr()
    table = pd.read_csv(chart.with_suffix(".csv"), sep=";", encoding="utf-8-sig", decimal=",")
    assert table["CPTS"].tolist() == [9, 9]


def test_rapport_counts_a_city_once_and_names_the_previous_listing(worded: tuple[Path, Path], tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A CPTS of two Marseille arrondissements read « 2 (sur 1) » communes in the report (arrondissements
    counted in the area, the city once in all), and the previous listing was named « registre précédent »."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    listing, mapping = worded
    report = tmp_path / "rapport.html"
    assert main(["rapport", str(listing), "--etapes", str(mapping), "--region", "93", "--sans-carte",
                 "--precedent", str(listing), "-o", str(report)]) == 0
    capsys.readouterr()
    page = report.read_text(encoding="utf-8")
    assert '<span data-fig="cpts.M1.communes">1</span>' in page
    assert "(sur 1)" not in page
    assert f"Comparé au registre précédent ({listing.name})" in page
