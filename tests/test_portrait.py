"""The CPTS portrait (issue 16): every printed figure is the library's, bad input says what to do,
user text stays text, and the page prints."""

from __future__ import annotations

import html as htmllib
import json
import re
import shutil
import subprocess
import warnings
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

import cpts_geo
from cpts_geo.domain.french import number, percent
from cpts_geo.domain.funding import aci_funding, early_mission_aid
from cpts_geo.errors import ValidationError
from cpts_geo.io.portrait import read_ages, read_indicators
from cpts_geo.render import portrait as P

SEP = P.SEP
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--proxy-server=127.0.0.1:9",
         "--host-resolver-rules=MAP * ~NOTFOUND"]


@pytest.fixture(scope="module")
def ctx():
    return P.portrait_context()


@pytest.fixture(scope="module")
def hdf01(ctx):
    return P.build_portrait("HDF-01", context=ctx)


class _Figures(HTMLParser):
    """Collects the text of every ``data-fig`` span and of every numeric cell."""

    def __init__(self):
        super().__init__()
        self.figs, self.cells, self._stack = {}, [], []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        self._stack.append((tag, a.get("data-fig"), a.get("class"), []))

    def handle_endtag(self, tag):
        while self._stack:
            t, fig, cls, text = self._stack.pop()
            joined = "".join(text)
            if fig is not None:
                self.figs[fig] = joined
            if t == "td" and cls == "n":
                self.cells.append(joined)
            if self._stack:
                self._stack[-1][3].append(joined if fig is None else f"[[{joined}]]")
            if t == tag:
                break

    def handle_data(self, data):
        if self._stack:
            self._stack[-1][3].append(data)


def _parse(text: str) -> _Figures:
    parser = _Figures()
    parser.feed(text)
    return parser


# --------------------------------------------------------------------------- defaults
def test_default_portrait_sections_and_illustrative_banner(hdf01):
    keys = [s.key for s in hdf01.sections]
    assert keys == ["identite", "carte", "financement", "population", "accessibilite", "sources", "annexe"]
    text = P.render_html(hdf01)
    assert "Registre ILLUSTRATIF" in text
    assert "<script" not in text
    assert "http://" not in text.replace("http-equiv", "")
    assert text.count("data:image/png;base64,") == 1


def test_every_printed_figure_is_the_library_value(ctx, hdf01):
    parsed = _parse(P.render_html(hdf01))
    # every figure printed is one of the portrait's, with the same text
    assert parsed.figs
    assert set(parsed.figs) == set(hdf01.figures)
    for key, text in parsed.figs.items():
        assert text == hdf01.figures[key].text, key
    # no number printed in a numeric cell outside a figure
    for cell in parsed.cells:
        assert re.fullmatch(r"(\[\[[^\]]*\]\])?|secret|", cell), cell
    # and the figures are the library's
    terr = ctx.territories.loc["HDF-01"]
    assert parsed.figs["population.cpts.layer"] == number(terr["population"], sep=SEP)
    assert parsed.figs["area.cpts"] == number(terr["area_km2"], 1, sep=SEP) + SEP + "km²"
    tier = int(terr["tier"])
    first, later = aci_funding(tier), aci_funding(tier, year="later")
    assert parsed.figs["aci.7.first"] == number(first.loc["Total", "Total"], sep=SEP) + SEP + "€"
    assert parsed.figs["aci.7.later"] == number(later.loc["Total", "Total"], sep=SEP) + SEP + "€"
    assert parsed.figs["aci.early"] == number(early_mission_aid(tier), sep=SEP) + SEP + "€"
    member = ctx.checked.membership[ctx.checked.membership["cpts_id"] == "HDF-01"]
    com = ctx.communes.loc[member["code"]]
    for code, pop in com["population"].items():
        assert parsed.figs[f"commune.{code}.population"] == number(pop, sep=SEP)


def test_published_apl_figures_equal_the_drees_file(hdf01, shared_data):
    drees = pd.read_csv(shared_data / "apl" / "apl_mg_2023_communes.csv", dtype={"code_insee": str})
    drees22 = pd.read_csv(shared_data / "apl" / "apl_mg_2022_communes.csv", dtype={"code_insee": str})
    figs = hdf01.figures
    codes = [k.split(".")[1] for k in figs if k.startswith("commune.")]
    mine = drees[drees["code_insee"].isin(codes)]
    assert len(mine) == len(codes)  # no code change in these communes since 2023

    def mean(t):
        return (t["apl_generalistes"] * t["pop_standardisee"]).sum() / t["pop_standardisee"].sum()

    assert figs["apl.cpts.2023"].text == number(mean(mine), 2, sep=SEP)
    assert figs["apl.France.2023"].text == number(mean(drees), 2, sep=SEP)
    assert figs["apl.France.2022"].text == number(mean(drees22), 2, sep=SEP)
    aisne = drees[drees["code_insee"].str.startswith("02")]
    assert figs["apl.dep:02.2023"].text == number(mean(aisne), 2, sep=SEP)
    below = mine.loc[mine["apl_generalistes"] < 2.5, "pop_totale"].sum() / mine["pop_totale"].sum()
    assert figs["apl.cpts.share_below"].text == percent(below, 1, sep=SEP)
    assert figs["population.cpts.2021"].text == number(mine["pop_totale"].sum(), sep=SEP)
    low = mine.sort_values("apl_generalistes").iloc[0]
    assert figs[f"apl.commune.{low['code_insee']}"].text == number(low["apl_generalistes"], 2, sep=SEP)
    index = mine["pop_standardisee"].sum() / mine["pop_totale"].sum()
    assert figs["demand_index.cpts"].text == number(index, 3, sep=SEP)


def test_unknown_cpts_suggests_close_ids_and_names(ctx):
    with pytest.raises(ValueError, match=r"HDF-1 » absente du registre ; CPTS proches : HDF-01"):
        P.build_portrait("HDF-1", context=ctx)
    with pytest.raises(ValueError, match=r"CPTS proches : HDF-17 \(CPTS Lille"):
        P.build_portrait("lille", context=ctx)
    assert P.build_portrait("cpts lille (illustratif)", context=ctx, map=False).cpts_id == "HDF-17"


def test_a_name_two_cpts_share_is_refused_with_both(tmp_path, capsys):
    registry = pd.DataFrame({"cpts_id": ["N1", "N2"], "cpts_name": ["CPTS du Val", "CPTS du val"],
                             "stage": ["ACI signé"] * 2, "commune_code": ["80021", "80001"]})
    ctx = P.portrait_context(registry)
    with pytest.raises(ValueError, match=r"« CPTS du Val » est le nom de 2 CPTS du registre : N1 \(CPTS du Val\), "
                                         r"N2 \(CPTS du val\) ; désignez-la par son identifiant"):
        P.build_portrait("CPTS du Val", context=ctx, map=False)
    assert P.build_portrait("N2", context=ctx, map=False).cpts_id == "N2"
    from cpts_geo.cli import main

    path = tmp_path / "registre.csv"
    registry.to_csv(path, sep=";", index=False)
    assert main(["portrait", str(path), "--cpts", "cpts du val", "-o", str(tmp_path / "p.html")]) == 2
    assert "N1 (CPTS du Val), N2 (CPTS du val)" in capsys.readouterr().err
    assert not (tmp_path / "p.html").exists()


# --------------------------------------------------------------------------- bad input
def test_mayotte_draft_perimeter_has_no_apl_and_says_so():
    ctx = P.portrait_context(["97611", "97608"])
    p = P.build_portrait(context=ctx, map=False)
    text = htmllib.unescape(P.render_html(p))
    assert "la DREES ne publie pas l'APL de Mayotte" in text
    assert p.figures["apl.cpts.2023"].text == "non disponible"
    assert p.figures["population.cpts.2021"].text == "non disponible"
    assert "Périmètre en projet" in text


def test_communes_without_geometry_give_no_map_but_a_portrait():
    import shapely

    layer = cpts_geo.load_communes(departments="80")
    reg = P.draft_registry(["80021", "80001"], name="Sans géométrie")
    layer.loc[["80021", "80001"], "geometry"] = shapely.Polygon()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ctx = P.portrait_context(reg, communes=layer)
    text = htmllib.unescape(P.render_html(P.build_portrait(context=ctx)))
    assert "Carte impossible" in text
    assert "pas de géométrie" in text


def test_supply_of_other_departments_only(ctx):
    supply = pd.DataFrame({"code": ["13055"], "profession": ["infirmier"], "count": [120.0]})
    p = P.build_portrait("HDF-01", context=ctx, supply=supply, map=False)
    text = htmllib.unescape(P.render_html(p))
    assert "ne contient aucune commune des départements de la CPTS" in text
    assert not [k for k in p.figures if k.startswith("density.")]


def test_supply_densities_secrecy_and_complement(ctx):
    member = ctx.checked.membership[ctx.checked.membership["cpts_id"] == "HDF-01"]
    code = member["code"].iloc[0]
    supply = pd.DataFrame({"code": [code, code, code, "59350"],
                           "profession": ["infirmier", "sage-femme", "médecin généraliste", "infirmier"],
                           "count": [40.0, 3.0, 25.0, 200.0]})
    p = P.build_portrait("HDF-01", context=ctx, supply=supply, map=False)
    figs = p.figures
    # 3 midwives: masked; the smallest other count (25 GPs) too, or the total would give it back
    assert "density.sage-femme.count" not in figs
    assert "density.médecin généraliste.count" not in figs
    assert figs["density.infirmier.count"].text == "40"
    from cpts_geo.indicators.density import density

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = density(supply, ctx.france, membership=member, reference=ctx.france).table.xs("HDF-01", level=0)
    assert figs["density.infirmier.cpts"].text == number(d.loc["infirmier", "density"], 1, sep=SEP)
    assert figs["density.infirmier.france"].text == number(d.loc["infirmier", "france_density"], 1, sep=SEP)
    html_text = P.render_html(p)
    assert html_text.count(">secret<") == 4


def test_bpe_supply_real_file(ctx, shared_data):
    from cpts_geo.io.supply import read_bpe

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        supply = read_bpe(shared_data / "health_professionals" / "bpe2018_sante_communes.csv",
                          professions=["médecin généraliste", "infirmier", "pharmacie"], unknown="report")
    p = P.build_portrait("HDF-17", context=ctx, supply=supply, map=False)
    assert p.figures["density.infirmier.count"].value > 100
    assert "4. Professionnels de santé" in P.render_html(p)  # numbered 1..n: no map section here


def test_flows_not_touching_the_cpts(ctx):
    flows = pd.DataFrame({"origin": ["13055"], "destination": ["13001"], "volume": [100.0]})
    text = htmllib.unescape(P.render_html(P.build_portrait("HDF-01", context=ctx, flows=flows, map=False)))
    assert "ne contient aucun flux partant des communes de la CPTS" in text


def test_flows_indicators_and_secrecy(ctx):
    from cpts_geo.indicators.flows.indicators import cpts_flow_indicators

    member = ctx.checked.membership
    a, b = member[member["cpts_id"] == "HDF-01"]["code"].iloc[:2]
    other = member[member["cpts_id"] == "HDF-05"]["code"].iloc[0]
    flows = pd.DataFrame({"origin": [a, a, b, b], "destination": [a, other, b, "75056"],
                          "volume": [300.0, 60.0, 120.0, 4.0]})
    p = P.build_portrait("HDF-01", context=ctx, flows=flows, map=False)
    ind = cpts_flow_indicators(flows, member).loc["HDF-01"]
    assert p.figures["flows.retention"].text == percent(ind["retention"], 1, sep=SEP)
    text = htmllib.unescape(P.render_html(p))
    assert "CPTS Saint-Quentin (illustratif)" in text
    assert ">secret<" in text


def test_user_indicators_rules_and_errors(ctx):
    member = ctx.checked.membership[ctx.checked.membership["cpts_id"] == "HDF-01"]
    a, b = member["code"].iloc[:2]
    table = pd.DataFrame({"code": [a, b, a, b], "indicateur": ["Patients sans MT"] * 2 + ["Taux ALD"] * 2,
                          "valeur": ["100", "50", "0,2", "0,4"]})
    ind = read_indicators(table)
    p = P.build_portrait("HDF-01", context=ctx, indicators=ind, rules={"Taux ALD": "moyenne:population"},
                         map=False)
    pops = ctx.france.loc[[a, b], "population"].astype(float)
    expected = (0.2 * pops.iloc[0] + 0.4 * pops.iloc[1]) / pops.sum()
    keys = sorted(k for k in p.figures if k.startswith("user."))
    assert p.figures["user.0.cpts"].text == "150"
    assert p.figures["user.1.cpts"].text == number(expected, 3, sep=SEP)
    assert keys
    with pytest.raises(ValidationError, match="règle d'agrégation « médiane » inconnue"):
        P.build_portrait("HDF-01", context=ctx, indicators=ind, rules={"Taux ALD": "médiane"}, map=False)
    with pytest.raises(ValidationError, match="indicateur absent de la table"):
        P.build_portrait("HDF-01", context=ctx, indicators=ind, rules={"ALD": "somme"}, map=False)
    bad = read_indicators(pd.DataFrame({"code": ["99999"], "indicateur": ["x"], "valeur": ["1"]}))
    with pytest.raises(ValidationError, match=r"ligne 2, code 99999 : code commune inconnu"):
        P.build_portrait("HDF-01", context=ctx, indicators=bad, map=False)
    years = pd.DataFrame({"code": [a, a], "indicateur": ["x", "x"], "valeur": ["1", "2"], "annee": [2022, 2023]})
    with pytest.raises(ValidationError, match=r"plusieurs millésimes \(2022, 2023\)"):
        read_indicators(years)
    assert read_indicators(years, year=2023)["value"].tolist() == [2.0]
    with pytest.raises(ValidationError, match="valeur non numérique « beaucoup »"):
        read_indicators(pd.DataFrame({"code": [a], "indicateur": ["x"], "valeur": ["beaucoup"]}))


def test_ages_table(shared_data):
    ages = read_ages(shared_data / "population_age" / "pop1b_2021_occitanie_top25_single_year.csv")
    pctx = P.portrait_context(["31555"])
    p = P.build_portrait(context=pctx, ages=ages, map=False)
    assert p.figures["age.total"].value == pytest.approx(ages.loc[ages["code"] == "31555", "count"].sum())


PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


def _payload_registry():
    return pd.DataFrame({"cpts_id": ["X1", "X1", "X2"],
                         "cpts_name": [f"CPTS {PAYLOAD}", f"CPTS {PAYLOAD}", "Voisine </td><b>gras</b>"],
                         "stage": ["ACI signé", "ACI signé", "Association créée"],
                         "commune_code": ["80021", "80001", "80002"]})


def test_names_with_html_are_text(tmp_path):
    ctx = P.portrait_context(_payload_registry())
    res = P.portrait("X1", tmp_path / "x.html", context=ctx)
    text = res.html.read_text(encoding="utf-8")
    parsed = _parse(text)
    assert parsed.scripts == 0
    assert "<img src=x" not in text
    assert "<b>gras" not in text
    assert htmllib.escape(PAYLOAD) in text


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium absent : installez le paquet Debian « chromium »")
def test_payload_does_not_run_in_chromium(tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    ctx = P.portrait_context(_payload_registry())
    path = P.portrait("X1", tmp_path / "x.html", context=ctx, map=False).html
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS[1:])
        page = browser.new_page()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        pwned = page.evaluate("window.__pwned")
        shown = page.inner_text("h1")
        n_img = page.evaluate("document.querySelectorAll('img').length")
        browser.close()
    assert pwned is None
    assert not dialogs
    assert PAYLOAD in shown
    assert n_img == 0
    assert all(u.startswith(("file:", "data:")) for u in requests)


@pytest.mark.skipif(CHROMIUM is None or shutil.which("pdftoppm") is None,
                    reason="chromium ou pdftoppm absent (paquets Debian chromium, poppler-utils)")
def test_print_to_pdf_in_chromium_and_pages_as_png(tmp_path, hdf01):
    page = tmp_path / "portrait.html"
    page.write_text(P.render_html(hdf01), encoding="utf-8")
    pdf = tmp_path / "portrait.pdf"
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--no-pdf-header-footer",
           f"--print-to-pdf={pdf}", page.as_uri()]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    assert pdf.stat().st_size > 50_000
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=120)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert 3 <= len(pages) <= 12
    from PIL import Image

    first = np.asarray(Image.open(pages[0]).convert("L"))
    assert (first < 128).mean() > 0.02  # text and the map, not a blank page


def test_pdf_with_weasyprint_or_help(tmp_path, ctx, monkeypatch):
    res = P.portrait("HDF-03", tmp_path / "p.html", context=ctx, pdf=True, map=False)
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        assert res.pdf is None
        assert "navigateur" in res.message
    else:
        assert res.pdf.read_bytes()[:5] == b"%PDF-"
    import builtins

    real = builtins.__import__

    def no_weasy(name, *args, **kwargs):
        if name == "weasyprint":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_weasy)
    res = P.portrait("HDF-03", tmp_path / "q.html", context=ctx, pdf=True, map=False)
    assert res.pdf is None
    assert "pip install cpts_geo[pdf]" in res.message
    assert res.html.exists()


@pytest.mark.slow
def test_region_portraits_all_written_then_skipped(tmp_path, ctx):
    lines = []
    out = tmp_path / "portraits"
    table = P.portraits(out, context=ctx, region="32", map=False, progress=lines.append)
    assert len(table) == 59
    assert (table["État"] == "écrit").all()
    assert len(list(out.glob("hdf-*.html"))) == 59
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count("<li>") == 59
    assert lines[-1].startswith("[####################] 59/59")
    again = P.portraits(out, context=ctx, region="Hauts-de-France", map=False, progress=None)
    assert (again["État"] == "inchangé").all()
    (out / "hdf-07.html").write_text("abîmé", encoding="utf-8")
    third = P.portraits(out, context=ctx, region="32", map=False, progress=None)
    assert third.set_index("Identifiant").at["HDF-07", "État"] == "écrit"
    assert (third["État"] == "écrit").sum() == 1
    assert not list(out.glob(".*"))  # no temporary file left


@pytest.mark.slow
def test_cli_portrait(tmp_path, capsys):
    from cpts_geo.cli import main

    out = tmp_path / "p.html"
    assert main(["portrait", "--cpts", "HDF-01", "-o", str(out)]) == 0
    assert "Portrait écrit" in capsys.readouterr().out
    assert "Registre ILLUSTRATIF" in out.read_text(encoding="utf-8")
    assert main(["portrait", "--cpts", "HDF-1"]) == 2
    assert "CPTS proches : HDF-01" in capsys.readouterr().err
    assert main(["portrait"]) == 2
    assert "Choisissez la CPTS" in capsys.readouterr().err
    assert main(["portrait", "--communes", "80021", "80001", "--nom", "Projet Amiens",
                 "-o", str(tmp_path / "d.html")]) == 0
    assert "Projet Amiens" in (tmp_path / "d.html").read_text(encoding="utf-8")


def test_e2sfca_when_asked(ctx):
    from cpts_geo.indicators.accessibility import accessibility, territory_accessibility

    p = P.build_portrait("HDF-01", context=ctx, e2sfca=True, map=False)
    assert "E2SFCA demandé sans fichier de professionnels" in htmllib.unescape(P.render_html(p))
    member = ctx.checked.membership[ctx.checked.membership["cpts_id"] == "HDF-01"]
    supply = pd.DataFrame({"code": [member["code"].iloc[0], "02691", "80021"],
                           "profession": ["médecin généraliste"] * 3, "count": [5.0, 60.0, 300.0]})
    p = P.build_portrait("HDF-01", context=ctx, supply=supply, e2sfca=True, map=False,
                         sources={"supply": "fichier test.csv"})
    # the values of all of France: no edge effect at the region's borders
    france = cpts_geo.load_communes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc = accessibility(supply, france, per=10_000, quiet=True).table["médecin généraliste"]
        pop = pd.to_numeric(france["population"])
        aisne = france.index[france["department"] == "02"]
        expected = territory_accessibility(
            acc, pd.concat([member[["code", "cpts_id", "share"]],
                            pd.DataFrame({"code": aisne, "cpts_id": "dep", "share": 1.0})]),
            weights=pop, population=pop).table["accessibility"]
    assert p.figures["e2sfca.cpts"].text == number(expected["HDF-01"], 1, sep=SEP)
    assert p.figures["e2sfca.dep:02"].text == number(expected["dep"], 1, sep=SEP)
    html = htmllib.unescape(P.render_html(p))
    assert "Professionnels : fichier test.csv." in html
    assert "sans effet de bord" in html


def _travel_times(france, centre: str, radius_km: float = 25.0) -> pd.DataFrame:
    """A distancier of the communes around ``centre``: every pair within 15 km, 1.3 minute per km
    of straight line plus 2 minutes (not the package's estimate), in Metric-OSRM's headers."""
    pts = france.to_crs(2154).geometry.representative_point()
    x, y = pts.x.to_numpy(), pts.y.to_numpy()
    at = france.index.get_loc(centre)
    near = np.flatnonzero(np.hypot(x - x[at], y - y[at]) < radius_km * 1000)
    d = np.hypot(x[near, None] - x[None, near], y[near, None] - y[None, near]) / 1000
    i, j = np.nonzero(d < 15)
    codes = france.index.to_numpy()[near]
    return pd.DataFrame({"idSrc": codes[i], "idDst": codes[j],
                         "duree": [number(v, 2) for v in 2 + 1.3 * d[i, j]]})


def test_portrait_temps_uses_the_users_travel_times(ctx, tmp_path, capsys):
    """``portrait --temps``: the E2SFCA of the page is accessibility(costs=...) on the same table,
    and the page says which times it used (issue 28)."""
    from cpts_geo.cli.main import main
    from cpts_geo.indicators.accessibility import accessibility, territory_accessibility
    from cpts_geo.io.costs import read_costs

    france = cpts_geo.load_communes()
    member = ctx.checked.membership[ctx.checked.membership["cpts_id"] == "HDF-01"]
    times = _travel_times(france, member["code"].iloc[0])
    times_path = tmp_path / "distancier.csv"
    times.to_csv(times_path, sep=";", index=False)
    supply = pd.DataFrame({"code": [member["code"].iloc[0], "02691", "02722"],
                           "profession": "médecin généraliste", "count": [5.0, 60.0, 30.0]})
    supply_path = tmp_path / "offre.csv"
    supply.to_csv(supply_path, sep=";", index=False)
    out = tmp_path / "p.html"
    assert main(["portrait", "--cpts", "HDF-01", "--professionnels", str(supply_path), "--temps",
                 str(times_path), "--sans-carte", "-o", str(out)]) == 0
    assert "Temps de trajet : " in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    figs = _parse(page).figs
    costs = read_costs(times)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc = accessibility(supply, france, per=10_000, quiet=True, costs=costs).table["médecin généraliste"]
        pop = pd.to_numeric(france["population"])
        expected = territory_accessibility(acc, member[["code", "cpts_id", "share"]], weights=pop,
                                           population=pop).table["accessibility"]
        estimated = accessibility(supply, france, per=10_000, quiet=True).table["médecin généraliste"]
    assert figs["e2sfca.cpts"] == number(expected["HDF-01"], 1, sep=SEP)
    assert not np.isclose(estimated.reindex(member["code"]).mean(), acc.reindex(member["code"]).mean())
    text = htmllib.unescape(page)
    assert "temps de trajet fournis : fichier distancier.csv" in text
    assert "Temps de trajet (E2SFCA) : fichier distancier.csv." in text
    assert "temps estimés par la route" not in text
    plain = P.render_html(P.build_portrait("HDF-01", context=ctx, supply=supply, e2sfca=True, map=False))
    assert "temps estimés par la route" in htmllib.unescape(plain)


def test_portrait_temps_needs_the_supply(capsys):
    from cpts_geo.cli.main import main

    assert main(["portrait", "--cpts", "HDF-01", "--temps", "t.csv"]) == 2
    assert "donnez aussi le fichier des professionnels" in capsys.readouterr().err


def test_e2sfca_on_a_users_layer_stays_on_it():
    """A commune layer of the user's own (here the Aisne in Lambert-93) is computed on itself,
    and the page says that supply beyond it is left out."""
    aisne = cpts_geo.load_communes(departments="02").to_crs(2154)
    reg = pd.DataFrame({"cpts_id": "A", "stage": "ACI signé", "commune_code": ["02691", "02722"]})
    ctx = P.portrait_context(reg, communes=aisne)
    supply = pd.DataFrame({"code": ["02691", "80021"], "profession": "médecin généraliste", "count": [4.0, 300.0]})
    p = P.build_portrait("A", context=ctx, supply=supply, e2sfca=True, map=False)
    assert "Calculé sur la couche communale fournie" in htmllib.unescape(P.render_html(p))
    assert p.figures["e2sfca.cpts"].value > 0


def test_module_is_callable(tmp_path):
    res = cpts_geo.portrait("HDF-03", tmp_path / "p.html", map=False)
    assert res.html.exists()
    assert res.portrait.cpts_id == "HDF-03"
    assert cpts_geo.render.portrait.portraits is P.portraits


def test_wide_indicator_table_with_names_and_file_rows(tmp_path):
    path = tmp_path / "ind.csv"
    path.write_text("Code INSEE;Nom;Patients sans MT;Taux ALD\n80021;Amiens;1 200;0,21\n80001;Abbeville;35;x\n",
                    encoding="utf-8")
    with pytest.raises(ValidationError, match=r"ligne 3, code 80001 : valeur non numérique « x » pour « Taux ALD »"):
        read_indicators(path)
    path.write_text("Code INSEE;Nom;Patients sans MT\n80021;Amiens;1 200\n", encoding="utf-8")
    assert read_indicators(path)[["row", "code", "indicator", "value"]].values.tolist() == [
        [2, "80021", "Patients sans MT", 1200.0]]


@pytest.mark.slow
def test_cli_region_folder_with_progress(tmp_path, capsys):
    from cpts_geo.cli import main

    out = tmp_path / "portraits"
    assert main(["portrait", "--region", "32", "--sans-carte", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "59/59" in printed
    assert "59 portrait(s) (59 écrit(s), 0 inchangé(s))" in printed
    assert (out / "index.html").exists()
    assert len(list(out.glob("hdf-*.html"))) == 59
    assert main(["portrait", "--region", "Bretagne", "--sans-carte", "-o", str(out)]) == 2
    assert "Aucune CPTS du registre n'a de commune dans la région 53" in capsys.readouterr().err


def _city_registry() -> pd.DataFrame:
    """Shaped like a real ARS listing (issues 25, 26): CPTS of Marseille arrondissements, Nice
    shared by three CPTS (one of them has no other commune), and ids that give one file name
    (``A``/``a``, ``É-1``/``E 1``)."""
    rows = []

    def add(cid, codes, share=None):
        rows.extend({"cpts_id": cid, "cpts_name": f"CPTS {cid}", "stage": "ACI signé", "commune_code": c,
                     "share": share} for c in codes)

    add("M1", ["13202", "13203"])
    add("M2", [f"132{i:02d}" for i in range(4, 17)])
    add("N1", ["06088"], 0.4)
    add("N2", ["06088"], 0.3)
    add("N2", ["06083"])
    add("N3", ["06088"], 0.3)
    for cid, code in (("A", "83137"), ("a", "83062"), ("É-1", "83126"), ("E 1", "83129")):
        add(cid, [code])
    return pd.DataFrame(rows)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs)["href"])


def test_portrait_file_names_are_unique_on_any_disk():
    ids = ["HDF-01", "A", "a", "É-1", "E 1", "index", "CON", "", "€", "x" * 200]
    names = P.portrait_file_names(ids)
    assert names["HDF-01"] == "hdf-01"
    assert len({n.casefold() for n in names.values()}) == len(ids)  # one file each, whatever the case
    assert names["index"] != "index"
    assert names["CON"] != "con"
    assert all(len(n) <= 90 and re.fullmatch(r"[a-z0-9-]+", n) for n in names.values())
    # the same names whatever the order, and a plain name equal to another's hashed one
    assert P.portrait_file_names(ids[::-1]) == names
    tricky = P.portrait_file_names(["A", "a", names["A"]])
    assert len(set(tricky.values())) == 3


@pytest.mark.slow
def test_region_batch_covers_every_cpts_one_file_each(tmp_path):
    """Marseille's arrondissement CPTS were left out of --region; A/a and É-1/E 1 overwrote each
    other while the count said 9 written; a CPTS made only of a shared commune crashed the map."""
    ctx = P.portrait_context(_city_registry())
    out = tmp_path / "portraits"
    table = P.portraits(out, context=ctx, region="93", map=False, progress=None)
    assert table["Identifiant"].tolist() == ["M1", "M2", "N1", "N2", "N3", "A", "a", "É-1", "E 1"]
    assert (table["État"] == "écrit").all()
    pages = sorted(p.name for p in out.glob("*.html") if p.name != "index.html")
    assert pages == sorted(table["Fichier"])
    assert len(pages) == 9
    assert len({p.casefold() for p in pages}) == 9
    links = _Links()
    links.feed((out / "index.html").read_text(encoding="utf-8"))
    assert sorted(links.links) == pages
    for rec in table.itertuples(index=False):  # each link leads to that CPTS's own page
        page = htmllib.unescape((out / rec.Fichier).read_text(encoding="utf-8"))
        assert f"<h1>{rec.Nom}</h1>" in page or f">{rec.Nom}<" in page, rec.Identifiant
    # the CPTS whose only commune is Nice, shared: its map is drawn
    res = P.portrait("N3", tmp_path / "n3.html", context=ctx)
    assert "data:image/png;base64," in res.html.read_text(encoding="utf-8")


@pytest.mark.slow
def test_one_failed_portrait_never_stops_the_batch(tmp_path, capsys):
    from cpts_geo.cli import main

    registry = tmp_path / "registre.csv"
    _city_registry().to_csv(registry, sep=";", index=False)
    out = tmp_path / "portraits"
    (out / "n1.html").mkdir(parents=True)  # a folder where N1's portrait goes: it cannot be written
    assert main(["portrait", str(registry), "--region", "93", "--sans-carte", "-o", str(out)]) == 3
    captured = capsys.readouterr()
    assert "9 portrait(s) (8 écrit(s), 0 inchangé(s), 1 en échec)" in captured.out
    assert "N1 : ÉCHEC (écriture impossible (un dossier porte le nom du fichier)" in captured.out
    assert "Portraits non écrits (1) :" in captured.err
    assert (f"  - N1 CPTS N1 : écriture impossible (un dossier porte le nom du fichier) : {out / 'n1.html'}"
            in captured.err)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "8 portrait(s), 1 en échec" in index
    assert "portrait non écrit</strong> : écriture impossible" in index
    assert 'href="n1.html"' not in index
    assert len([p for p in out.glob("*.html") if p.is_file()]) == 9
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert "N1" not in manifest
    assert len(manifest) == 8
    (out / "n1.html").rmdir()  # once the folder is gone, the next run writes N1 only
    assert main(["portrait", str(registry), "--region", "93", "--sans-carte", "-o", str(out)]) == 0
    assert "9 portrait(s) (1 écrit(s), 8 inchangé(s)) ;" in capsys.readouterr().out


def test_read_ages_names_the_file_row_of_a_bad_value(tmp_path):
    """A bad age is rejected with the row number of the file, blank lines counted."""
    path = tmp_path / "ages.csv"
    path.write_text("code;age;count\n31555;3;10\n\n31555;trois;12\n", encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        read_ages(path)
    assert err.value.problems["row"].tolist() == [4]


def test_a_portrait_speaks_of_its_cpts_only_and_numbers_its_sections(ctx):
    """National caveats (DREES codes split since, other CPTS's code corrections) were printed on every
    page, and sections were numbered with gaps (1, 2, 3, 4, 6, 9)."""
    import re

    from cpts_geo.domain.history import code_history

    unmatched = sorted(set(ctx.apl_unmatched["code"].astype(str)))
    assert unmatched  # the embedded APL tables hold codes split since (15141…)
    successors = code_history(unmatched)
    for cid in ("HDF-01", "HDF-17", "HDF-40"):
        p = P.build_portrait(cid, context=ctx, map=False)
        mine = set(ctx.checked.membership.loc[ctx.checked.membership["cpts_id"] == cid, "code"])
        text = P.render_html(p)
        for code in unmatched:
            concerns = bool(set(successors.loc[successors["code"] == code, "new_code"].astype(str)) & mine)
            if not concerns:
                assert code not in text, (cid, code)
        numbers = [int(m) for m in re.findall(r"<h2[^>]*>(\d+)\. ", text)]
        assert numbers == list(range(1, len(numbers) + 1)), numbers


def test_portrait_context_takes_a_registry_read():
    """A RegistryRead (a NamedTuple, so a tuple) was taken for a list of commune codes."""
    import cpts_geo

    read = cpts_geo.example_registry()
    ctx = P.portrait_context(read)
    assert ctx.illustrative
    assert len(ctx.checked.cpts) == 59


def _census_by_hand(shares: dict[str, float], *, iris_codes=()) -> tuple[float, list[float]]:
    """Population and band shares of a territory, summed from the IRIS table directly: each
    commune (or arrondissement) by its share, plus whole IRIS."""
    from cpts_geo.data.iris import iris_table

    iris = iris_table()
    bands = ["pop_0_19", "pop_20_64", "pop_65p"]
    total = np.zeros(3)
    for code, share in shares.items():
        total += share * iris.loc[iris["commune"] == code, bands].to_numpy(dtype=float).sum(axis=0)
    total += iris.loc[list(iris_codes), bands].to_numpy(dtype=float).sum(axis=0)
    return float(total.sum()), [float(v) for v in total / total.sum()]


def _assert_census(figs: dict, key: str, expected: tuple[float, list[float]]) -> None:
    pop, shares = expected
    assert figs[f"ages2021.{key}.population"].text == number(pop, 0, sep=SEP), key
    for band, share in zip(["pop_0_19", "pop_20_64", "pop_65p"], shares):
        assert figs[f"ages2021.{key}.{band}"].text == percent(share, 1, sep=SEP), (key, band)
        assert figs[f"ages2021.{key}.{band}"].value == pytest.approx(share, abs=1e-9)


def test_census_age_structure_of_every_cpts_department_region_france():
    """Issue 25: the age structure (0–19, 20–64, 65+, census 2021) of every CPTS without any user
    file, beside its department, region and France, each summed by hand from the IRIS table:
    Nice shared by three CPTS (N3 has only its share of Nice), Marseille by arrondissement."""
    from cpts_geo.data.iris import iris_table

    ctx = P.portrait_context(_city_registry())
    iris = iris_table()
    paca = set(ctx.france.loc[ctx.france["region"] == "93", "department"])
    n2 = P.build_portrait("N2", context=ctx, map=False)
    _assert_census(n2.figures, "cpts", _census_by_hand({"06088": 0.3, "06083": 1.0}))
    n3 = P.build_portrait("N3", context=ctx, map=False)
    _assert_census(n3.figures, "cpts", _census_by_hand({"06088": 0.3}))
    m1 = P.build_portrait("M1", context=ctx, map=False)
    _assert_census(m1.figures, "cpts", _census_by_hand({"13202": 1.0, "13203": 1.0}))
    dep06 = iris["commune"].str[:2] == "06"
    _assert_census(n2.figures, "dep:06", _census_by_hand({}, iris_codes=iris.index[dep06]))
    dep13 = iris["commune"].str[:2] == "13"
    _assert_census(m1.figures, "dep:13", _census_by_hand({}, iris_codes=iris.index[dep13]))
    in_paca = iris["commune"].str[:2].isin(paca)
    _assert_census(m1.figures, "reg:93", _census_by_hand({}, iris_codes=iris.index[in_paca]))
    _assert_census(m1.figures, "France", _census_by_hand({}, iris_codes=iris.index))
    # a CPTS of Marseille arrondissements is compared with the Bouches-du-Rhône and PACA (it was not)
    assert "apl.dep:13.2023" in m1.figures
    assert "population.reg:93.2021" in m1.figures
    # and its own populations are its arrondissements' (it printed 0 and « non disponible »)
    arr = cpts_geo.load_arrondissements(crs=None).loc[["13202", "13203"]]
    assert m1.figures["population.cpts.2016"].value == arr["population_2016"].sum()
    assert m1.figures["population.cpts.2021"].value == arr["population"].sum()
    assert m1.figures["demand_index.cpts"].value == pytest.approx(
        arr["pop_standardised"].sum() / arr["population"].sum())
    page = htmllib.unescape(P.render_html(n3))
    assert "Structure par âge de la population (recensement 2021)" in page
    assert "INSEE, recensement 2021, population par IRIS" in page
    assert "compte pour sa part dans la CPTS" in page


def test_census_age_structure_of_a_city_given_by_iris():
    """A CPTS holding IRIS of Nice counts those IRIS, not a share of the whole city."""
    from cpts_geo.data.iris import iris_table

    iris = iris_table()
    nice = iris.index[iris["commune"] == "06088"].tolist()
    rows = [(cid, f"CPTS {cid}", "06088", code) for cid, group in (("N1", nice[:40]), ("N2", nice[40:]))
            for code in group] + [("V", "CPTS Vence", "06157", None)]
    reg = pd.DataFrame(rows, columns=["cpts_id", "cpts_name", "commune_code", "code_iris"])
    ctx = P.portrait_context(reg)
    p = P.build_portrait("N1", context=ctx, map=False)
    _assert_census(p.figures, "cpts", _census_by_hand({}, iris_codes=nice[:40]))
    p = P.build_portrait("V", context=ctx, map=False)
    _assert_census(p.figures, "cpts", _census_by_hand({"06157": 1.0}))


def test_footer_points_to_the_sources_section(ctx):
    """The footer said « section 9 » whatever the sections printed (issue 28: numbers follow on)."""
    p = P.build_portrait("HDF-01", context=ctx, map=False)
    n = [s.key for s in p.sections].index("sources") + 1
    assert n != 9
    assert f"sources et précautions en section {n}." in htmllib.unescape(P.render_html(p))


def test_page_is_built_by_the_autoescaped_template():
    """One Jinja2 environment, autoescaped, reading the templates shipped in the package."""
    env = P._environment()
    assert env is P._environment()
    assert env.autoescape("portrait.html")
    assert {"portrait.html", "portrait_index.html"} <= set(env.list_templates())


def test_map_is_drawn_once_at_its_printed_size(ctx, monkeypatch):
    """Issue 30: the map was drawn twice (a geopandas layer redrew the figure) into an RGBA image
    larger than printed, which the PDF engine decoded and split into two images."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    draws = []
    real = FigureCanvasAgg.draw

    def counted(self):
        draws.append(1)
        return real(self)

    monkeypatch.setattr(FigureCanvasAgg, "draw", counted)
    png = P._map_png(ctx, "HDF-05", dpi=170)
    assert len(draws) == 1
    image = Image.open(io.BytesIO(png))
    assert image.mode == "RGB"
    printed_mm = 96 * 7.6 / 4.6  # portrait.css: figure img at most 96 mm high
    assert image.size[0] == pytest.approx(170 * printed_mm / 25.4, abs=1)


def test_page_for_the_pdf_is_the_same_text_without_marks(hdf01):
    """Issue 30: the PDF is made from the page without the figures' data-fig spans (fewer boxes to
    lay out), the same text otherwise."""
    marked, plain = P.render_html(hdf01), P.render_html(hdf01, marked=False)
    assert "data-fig" not in plain
    assert re.sub(r'<span data-fig="[^"]*">([^<]*)</span>', r"\1", marked) == plain
