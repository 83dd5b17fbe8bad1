"""``cpts-geo editeur --temps``: the user's travel times in the editor page (issue 28).

The page shows the DREES APL as published (the DREES' own times); with a supply (``--offre``) and
a table of travel times (``--temps``, read by :func:`cpts_geo.io.costs.read_costs`), it adds the
E2SFCA accessibility of each profession computed with those times. The per-commune figures
embedded, and the panel's figure for a draft clicked in Chromium, equal
:func:`cpts_geo.indicators.accessibility.accessibility` with ``costs=`` the same table,
aggregated by :func:`cpts_geo.indicators.accessibility.territory_accessibility`.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from chromium import CHROMIUM, FLAGS

from cpts_geo.domain.communes import load_communes

#: Amiens and communes around it
DRAFT = ["80021", "80001", "80049", "80088", "80112"]
PROFESSIONS = ["médecin généraliste", "infirmier"]


def _data(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    return json.loads(text.split('id="cpts-editor-data">', 1)[1].split("</script>", 1)[0])


@pytest.fixture(scope="module")
def somme_times(tmp_path_factory, shared_data):
    """The Somme page written by the CLI with a supply and a distancier in Metric's layout
    (``idSrc;idDst;duree``, decimal comma): times of 3 min + 1 min per km between the points of
    the communes within reach of the Somme, up to 20 km, and a supply of two professions."""
    from cpts_geo.cli import main
    from cpts_geo.indicators.accessibility import within_reach

    folder = tmp_path_factory.mktemp("editeur-temps")
    france = load_communes()
    near = within_reach(load_communes(departments="80").index, france)
    xy = shapely.get_coordinates(shapely.point_on_surface(near.geometry.to_crs(2154).to_numpy()))
    from scipy.spatial import cKDTree

    pairs = cKDTree(xy).query_pairs(20_000.0, output_type="ndarray")
    pairs = np.vstack([pairs, pairs[:, ::-1], np.repeat(np.arange(len(xy))[:, None], 2, axis=1)])
    km = np.hypot(*(xy[pairs[:, 0]] - xy[pairs[:, 1]]).T) / 1000
    codes = near.index.to_numpy()
    times = pd.DataFrame({"idSrc": codes[pairs[:, 0]], "idDst": codes[pairs[:, 1]],
                          "duree": [f"{3 + k:.2f}".replace(".", ",") for k in km]})
    costs_csv = folder / "distancier.csv"
    times.to_csv(costs_csv, sep=";", index=False)
    bpe = pd.read_csv(shared_data / "health_professionals" / "bpe2018_sante_communes.csv", dtype=str)
    supply_csv = folder / "offre.csv"
    bpe.loc[bpe["code_commune"].isin(codes), ["code_commune", "reg", "dep", "D201_medecin_omnipraticien",
                                              "D232_infirmier"]].to_csv(supply_csv, index=False)
    out = folder / "somme.html"
    assert main(["editeur", "--departements", "80", "--offre", str(supply_csv), "--temps", str(costs_csv),
                 "-o", str(out)]) == 0
    return out, costs_csv, supply_csv, near


def _library(costs_csv, supply_csv, near):
    """The library's E2SFCA with the same table, on the same communes."""
    from cpts_geo.indicators.accessibility import accessibility
    from cpts_geo.io.costs import read_costs
    from cpts_geo.io.supply import read_supply

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        supply = read_supply(supply_csv, communes=load_communes())
        return accessibility(supply.table[supply.table["code"].isin(near.index)], near,
                             costs=read_costs(costs_csv), professions=None, per=10_000, quiet=True)


def test_cli_editeur_temps_embeds_the_accessibility_of_those_times(somme_times):
    path, costs_csv, supply_csv, near = somme_times
    data = _data(path)
    access = data["access"]
    assert costs_csv.name in access["title"]
    assert "E2SFCA" in access["title"]
    acc = _library(costs_csv, supply_csv, near).table
    codes = data["communes"]["c"]
    assert set(PROFESSIONS) <= set(access["names"])
    demand = np.array([np.nan if v is None else v for v in access["w"]])
    np.testing.assert_allclose(demand, acc["demand"].reindex(codes).to_numpy(), rtol=1e-12)
    for p, name in enumerate(access["names"]):
        vw = np.array([np.nan if v is None else v for v in access["vw"][p]])
        expected = acc[name].reindex(codes).to_numpy()
        np.testing.assert_allclose(np.where(demand > 0, vw / np.where(demand > 0, demand, 1), np.nan),
                                   np.where(demand > 0, expected, np.nan), rtol=1e-12, equal_nan=True)
        assert np.isfinite(expected).all()


def test_cli_editeur_temps_needs_the_supply(tmp_path, capsys, somme_times):
    from cpts_geo.cli import main

    out = tmp_path / "e.html"
    assert main(["editeur", "--departements", "80", "--temps", str(somme_times[1]), "-o", str(out)]) != 0
    said = capsys.readouterr()
    assert "--temps sert à l'accessibilité E2SFCA des professionnels : donnez aussi l'offre de soins" in \
        said.out + said.err
    assert not out.exists()


def test_cli_editeur_temps_says_the_communes_without_times(tmp_path, capsys, somme_times):
    from cpts_geo.cli import main

    _, costs_csv, supply_csv, _ = somme_times
    few = tmp_path / "sans-amiens.csv"
    table = pd.read_csv(costs_csv, sep=";", dtype=str)
    table[(table["idSrc"] != "80021") & (table["idDst"] != "80021")].to_csv(few, sep=";", index=False)
    out = tmp_path / "e.html"
    assert main(["editeur", "--departements", "80", "--offre", str(supply_csv), "--temps", str(few),
                 "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "Temps de trajet : " in said
    assert "1 commune(s) de la page sans temps de trajet dans la table fournie" in said
    assert "80021" in said
    data = _data(out)
    at = data["communes"]["c"].index("80021")
    assert all(v[at] is None for v in data["access"]["vw"])


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium absent (/usr/bin/chromium)")
def test_panel_accessibility_equals_the_library_with_those_times(somme_times, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright pour Python absent")
    from cpts_geo.indicators.accessibility import territory_accessibility

    path, costs_csv, supply_csv, near = somme_times
    acc = _library(costs_csv, supply_csv, near).table
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        page.wait_for_function("window.CptsEditor && CptsEditor.instance() !== null")
        for code in DRAFT:
            page.evaluate("(c) => CptsEditor.instance().clickCode(c)", code)
        shown = page.evaluate("""() => Array.from(document.querySelectorAll('.editor-access .editor-val'))
                                 .map(e => [e.parentNode.firstChild.textContent.replace(' : ', ''), e.dataset.value,
                                            e.textContent])""")
        title = page.locator(".editor-access h3").text_content()
        times = page.locator(".editor-times").text_content()
        page.screenshot(path=str(tmp_path / "editeur-temps.png"))
        browser.close()
    assert errors == []
    assert costs_csv.name in title
    assert "DREES" in times
    member = pd.DataFrame({"code": DRAFT, "cpts_id": "B", "share": 1.0})
    assert {name for name, _, _ in shown} >= set(PROFESSIONS)
    for name, value, text in shown:
        lib = territory_accessibility(acc[name], member, weights=acc["demand"]).table.loc["B", "accessibility"]
        assert float(value) == pytest.approx(float(lib), rel=1e-12)
        from cpts_geo.domain.french import number

        assert text == number(float(lib), 1, sep="\u202f")
