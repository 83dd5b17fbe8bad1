"""The perimeter editor: page data computed by the library, and the page driven in Chromium.

The browser tests click communes like a user (Playwright, Debian chromium, no network), compare
the panel with the library's figures for the same communes, export the drafts, validate the CSV
with the CLI, reload and import. Screenshots are written to ``tmp_path`` to be looked at.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import shapely
from chromium import CHROMIUM, FLAGS, browser_only

from cpts_geo.domain.communes import load_communes
from cpts_geo.domain.funding import aci_funding
from cpts_geo.domain.metadata import layer_metadata
from cpts_geo.domain.registry import validate_registry
from cpts_geo.domain.territories import build_territories
from cpts_geo.io.registry import load_example_registry
from cpts_geo.render.editor import _apl_on_layer, _tier_breakpoints, editor_data, perimeter_editor

# five neighbouring communes of the Oise outside every CPTS of the illustrative registry
FIVE = ["60054", "60652", "60256", "60512", "60196"]


def test_tier_breakpoints_come_from_tier_of():
    assert _tier_breakpoints() == [[0, 1], [40_000, 2], [80_000, 3], [175_001, 4]]


def test_editor_data_sums_to_the_library_figures(hdf_communes):
    data = editor_data(hdf_communes, load_example_registry())
    c = data["communes"]
    pos = [c["c"].index(code) for code in FIVE]
    reg = pd.DataFrame({"cpts_id": "B", "stage": "1", "commune_code": FIVE})
    terr = build_territories(reg, hdf_communes)
    assert sum(c["p"][i] for i in pos) == int(terr.loc["B", "population"])
    assert sum(c["a"][i] for i in pos) == pytest.approx(float(terr.loc["B", "area_km2"]), abs=0.005)
    assert data["funding"] == {str(t): float(aci_funding(t).loc["Total", "Total"]) for t in (1, 2, 3, 4)}
    assert all(c["o"][i] == -1 for i in pos)
    # APL: the library's weighted mean over the DREES rows of those communes
    from cpts_geo.data.apl import load_apl
    from cpts_geo.indicators.accessibility import territory_accessibility

    _, rows = _apl_on_layer(hdf_communes.sort_index(), 2023)
    used = rows[rows["layer_code"].isin(FIVE)]
    apl = load_apl(2023)
    lib = territory_accessibility(apl["apl"], pd.DataFrame({"code": used["code"], "cpts_id": "B", "share": 1.0}),
                                  weights=apl["pop_standardised"]).table
    page = sum(c["wv"][i] for i in pos) / sum(c["w"][i] for i in pos)
    assert page == pytest.approx(float(lib.loc["B", "accessibility"]), rel=1e-12)


@pytest.fixture(scope="module")
def editor_page(tmp_path_factory, shared_data):
    from cpts_geo.io.supply import read_bpe

    hdf = load_communes(region="32")
    import warnings

    with warnings.catch_warnings():  # read against France, as the CLI does: the supply around the region is kept
        warnings.simplefilter("ignore")
        supply = read_bpe(shared_data / "health_professionals" / "bpe2018_sante_communes.csv",
                          communes=load_communes(), unknown="report")
    checked = validate_registry(load_example_registry(), hdf)
    path = perimeter_editor(hdf, checked, tmp_path_factory.mktemp("editeur") / "editeur.html", supply=supply)
    return path, hdf, checked, supply


@pytest.mark.slow
@browser_only
def test_editor_like_a_user(editor_page, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright pour Python absent")
    from cpts_geo.cli import main
    from cpts_geo.data.apl import load_apl
    from cpts_geo.indicators.accessibility import territory_accessibility
    from cpts_geo.indicators.density import density

    path, hdf, checked, supply = editor_page
    metric = hdf.to_crs(2154)
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM,
                                                       args=FLAGS, headless=True, accept_downloads=True,
                                                       viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        page.wait_for_function("window.CptsEditor && CptsEditor.instance() !== null")
        # zoom on the five communes, then click each one with the mouse
        lonlat = [shapely.get_point(shapely.maximum_inscribed_circle(metric.geometry[c], 10), 0) for c in FIVE]
        pts = pd.Series(lonlat, index=FIVE)
        import geopandas as gpd

        ll = gpd.GeoSeries(pts.to_numpy(), crs=2154).to_crs(4326)
        page.evaluate("""(b) => { CptsEditor.instance().map.fitBounds(b, {padding: [80, 80], animate: false}); }""",
                      [[float(ll.y.min()), float(ll.x.min())], [float(ll.y.max()), float(ll.x.max())]])
        page.wait_for_timeout(200)
        for lat, lon in zip(ll.y, ll.x):
            xy = page.evaluate("(p) => { const q = CptsEditor.instance().map.latLngToContainerPoint(p); return [q.x, q.y]; }",
                               [float(lat), float(lon)])
            page.mouse.click(xy[0], xy[1])
        state = page.evaluate("CptsEditor.instance().state()")
        assert sorted(state["drafts"][0]["communes"]) == sorted(FIVE)
        values = page.evaluate("""() => Array.from(document.querySelectorAll('.editor-figures .editor-val'))
                                   .map(e => [e.parentNode.firstChild.textContent, e.textContent, e.dataset.value])""")
        panel = {k.rstrip(" :"): (text, value) for k, text, value in values}
        # the library for the same communes
        reg = pd.DataFrame({"cpts_id": "B", "stage": "1", "commune_code": FIVE})
        terr = build_territories(reg, hdf)
        vintage = layer_metadata(hdf).population_vintage
        assert int(panel[f"Population ({vintage})"][1]) == int(terr.loc["B", "population"])
        assert panel[f"Population ({vintage})"][0].replace("\u202f", " ") == \
            f"{int(terr.loc['B', 'population']):,}".replace(",", " ")
        assert int(panel["Taille"][1]) == int(terr.loc["B", "tier"])
        assert float(panel["Financement ACI maximal (par an)"][1]) == \
            float(aci_funding(int(terr.loc["B", "tier"])).loc["Total", "Total"])
        assert float(panel["Superficie"][1]) == pytest.approx(float(terr.loc["B", "area_km2"]), abs=0.005)
        assert int(panel["Continuité"][1]) == int(terr.loc["B", "n_parts"])
        apl = load_apl(2023)
        _, rows = _apl_on_layer(hdf.sort_index(), 2023)
        used = rows[rows["layer_code"].isin(FIVE)]
        lib = territory_accessibility(apl["apl"], pd.DataFrame({"code": used["code"], "cpts_id": "B", "share": 1.0}),
                                      weights=apl["pop_standardised"]).table
        assert float(panel["APL médecins généralistes 2023"][1]) == pytest.approx(
            float(lib.loc["B", "accessibility"]), rel=1e-9)
        # professionals and densities, as density() gives them
        import warnings

        with warnings.catch_warnings():  # the references (France, region) are not compared here
            warnings.simplefilter("ignore", UserWarning)
            lib_d = density(supply.table[supply.table["code"].isin(hdf.index)], hdf,
                            membership=pd.DataFrame({"code": FIVE, "cpts_id": "B", "share": 1.0})).table
        shown = page.evaluate("""() => Array.from(document.querySelectorAll('.editor-professions .editor-val'))
                                  .map(e => [e.parentNode.firstChild.textContent.replace(' : ', ''),
                                             +e.dataset.count, e.dataset.density])""")
        assert shown
        for name, count, dens in shown:
            row = lib_d.loc[("B", name)]
            assert count == pytest.approx(float(row["count"]))
            assert float(dens) == pytest.approx(float(row["density"]), rel=1e-9)
        page.screenshot(path=str(tmp_path / "editeur-cinq-communes.png"))
        # a commune of a registry CPTS: explicit action, recorded as a conflict
        taken = checked.membership["code"].iloc[0]
        page.evaluate("(c) => CptsEditor.instance().clickCode(c)", taken)
        assert page.locator(".editor-pending").count() == 1
        page.click(".editor-take")
        assert page.locator(".editor-conflict").count() == 1
        assert taken in page.locator(".editor-conflict").text_content()
        # a second draft with a name that must stay text
        page.click(".editor-new")
        page.fill(".editor-name", "<b>Brouillon</b> =2+3")
        page.press(".editor-name", "Enter")
        page.evaluate("(c) => CptsEditor.instance().clickCode(c)", "60570")
        # export, validate with the CLI
        with page.expect_download() as info:
            page.click(".editor-export")
        csv = tmp_path / "brouillons.csv"
        info.value.save_as(csv)
        raw = csv.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        assert b";" in raw.splitlines()[0]
        assert main(["valider", str(csv), "--region", "32"]) == 0
        # reload: nothing lost
        page.reload()
        page.wait_for_function("window.CptsEditor && CptsEditor.instance() !== null")
        assert page.locator(".editor-draft").count() == 2
        assert page.locator(".editor-draft").nth(1).text_content().startswith("<b>Brouillon</b> =2+3")
        assert page.locator("b").count() == 0
        # import into a fresh browser storage restores the drafts
        page.evaluate("window.localStorage.clear()")
        page.reload()
        page.wait_for_function("window.CptsEditor && CptsEditor.instance() !== null")
        assert page.locator(".editor-draft").count() == 0
        page.set_input_files(".editor-import input", str(csv))
        page.wait_for_function("CptsEditor.instance().state().drafts.length === 2")
        state = page.evaluate("CptsEditor.instance().state()")
        assert sorted(state["drafts"][0]["communes"]) == sorted([*FIVE, taken])
        assert state["drafts"][1]["name"] == "<b>Brouillon</b> =2+3"
        page.screenshot(path=str(tmp_path / "editeur-importe.png"))
        assert errors == []
        context.close()


def test_cli_editeur_writes_the_page(tmp_path, capsys):
    from cpts_geo.cli import main

    out = tmp_path / "e.html"
    assert main(["editeur", "--departements", "80", "-o", str(out)]) == 0
    assert out.exists()
    assert "CptsEditor.start(" in out.read_text(encoding="utf-8")
    assert "Éditeur de périmètres écrit" in capsys.readouterr().out
    assert main(["editeur", "-o", str(tmp_path / "x.html")]) != 0
    assert not (tmp_path / "x.html").exists()


def test_same_input_same_editor_bytes(tmp_path):
    import hashlib

    somme = load_communes(departments="80")
    a = perimeter_editor(somme, None, tmp_path / "a.html")
    b = perimeter_editor(somme, None, tmp_path / "b.html")
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()


# --- lasso ------------------------------------------------------------------------------------

def _launch(p, tmp_path):
    return p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM, args=FLAGS,
                                                headless=True, viewport={"width": 1280, "height": 900})


def _draw_ring(page, centre, radius, *, steps=48):
    """Press, drag a circle of ``radius`` pixels around ``centre`` (container pixels), release;
    return the ring drawn, in container pixels."""
    import math

    box = page.locator("#cpts-editor-map").bounding_box()
    ring = [(centre[0] + radius * math.cos(2 * math.pi * k / steps), centre[1] + radius * math.sin(2 * math.pi * k / steps))
            for k in range(steps + 1)]
    page.mouse.move(box["x"] + ring[0][0], box["y"] + ring[0][1])
    page.mouse.down()
    for x, y in ring[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y)
    return ring


def _inside_ring(page, ring, points_3857):
    """Communes whose point on surface lies inside the drawn ring, by shapely, in Web Mercator
    (where Leaflet's screen is an affine image): the page's point-in-polygon is not used."""
    from pyproj import Transformer

    lat_lon = page.evaluate("(r) => r.map(p => { const q = CptsEditor.instance().map.containerPointToLatLng(p);"
                            " return [q.lat, q.lng]; })", [list(p) for p in ring])
    tr = Transformer.from_crs(4326, 3857, always_xy=True)
    xs, ys = tr.transform([q[1] for q in lat_lon], [q[0] for q in lat_lon])
    polygon = shapely.Polygon(list(zip(xs, ys)))
    return sorted(points_3857.index[shapely.contains_xy(polygon, points_3857["x"], points_3857["y"])])


def _panel(page):
    values = page.evaluate("""() => Array.from(document.querySelectorAll('.editor-figures .editor-val'))
                               .map(e => [e.parentNode.firstChild.textContent, e.dataset.value])""")
    return {k.rstrip(" :"): v for k, v in values}


@browser_only
def test_point_in_polygon_of_the_page_matches_shapely(tmp_path):
    """The page's own even-odd test against shapely on random star-shaped rings (simple polygons)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright pour Python absent")
    import numpy as np

    from cpts_geo.render.maps import _static

    rng = np.random.default_rng(17)
    cases = []
    for _ in range(40):
        k = int(rng.integers(3, 30))
        angles = np.sort(rng.uniform(0, 2 * np.pi, k))
        radii = rng.uniform(5, 100, k)
        ring = np.column_stack([200 + radii * np.cos(angles), 300 + radii * np.sin(angles)]).round(3)
        pts = rng.uniform([90, 190], [310, 410], (60, 2)).round(3)
        cases.append((ring.tolist(), pts.tolist()))
    with sync_api.sync_playwright() as p:
        context = _launch(p, tmp_path)
        page = context.new_page()
        page.set_content(f"<script>{_static('editor.js')}</script>")
        got = page.evaluate("(cases) => cases.map(c => c[1].map(q => CptsEditor.rules.pointInPolygon(q[0], q[1], c[0])))",
                            cases)
        context.close()
    for (ring, pts), page_says in zip(cases, got):
        polygon = shapely.Polygon(ring)
        assert polygon.is_valid
        expected = [bool(v) for v in shapely.contains_xy(polygon, [q[0] for q in pts], [q[1] for q in pts])]
        assert page_says == expected


@pytest.mark.slow
@browser_only
def test_lasso_like_a_user(editor_page, tmp_path):
    """Draw lassos with the mouse: free communes join the draft; those of a registry CPTS wait for
    « Prendre quand même » and are then recorded as conflicts; « Lasso : retirer » takes them out."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright pour Python absent")
    from pyproj import Transformer

    path, hdf, checked, _ = editor_page
    points = shapely.point_on_surface(hdf.geometry.to_crs(4326).to_numpy())
    x, y = Transformer.from_crs(4326, 3857, always_xy=True).transform(shapely.get_x(points), shapely.get_y(points))
    merc = pd.DataFrame({"x": x, "y": y}, index=hdf.index)
    owner = checked.membership.set_index("code")["cpts_id"]
    vintage = layer_metadata(hdf).population_vintage

    def library(codes):
        terr = build_territories(pd.DataFrame({"cpts_id": "B", "stage": "1", "commune_code": codes}), hdf)
        return int(terr.loc["B", "population"])

    with sync_api.sync_playwright() as p:
        context = _launch(p, tmp_path)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        page.wait_for_function("window.CptsEditor && CptsEditor.instance() !== null")
        centre_ll = Transformer.from_crs(3857, 4326, always_xy=True).transform(*merc.loc[FIVE].mean())
        page.evaluate("(c) => { CptsEditor.instance().map.setView(c, 11, {animate: false}); }", [centre_ll[1], centre_ll[0]])
        page.wait_for_timeout(200)
        centre = page.evaluate("(c) => { const q = CptsEditor.instance().map.latLngToContainerPoint(c); return [q.x, q.y]; }",
                               [centre_ll[1], centre_ll[0]])
        # 1. « Lasso : ajouter », a ring around free communes only
        page.click(".editor-tool[data-mode=add]")
        ring = _draw_ring(page, centre, 80)
        page.mouse.up()
        first = _inside_ring(page, ring, merc)
        assert len(first) >= 4
        assert not set(first) & set(owner.index)
        state = page.evaluate("CptsEditor.instance().state()")
        assert sorted(state["drafts"][0]["communes"]) == first
        panel = _panel(page)
        assert int(panel["Communes"]) == len(first)
        assert int(panel[f"Population ({vintage})"]) == library(first)
        assert page.locator(".editor-pending").count() == 0
        # 2. Shift+drag in « Clic » mode, a wider ring crossing registry CPTS: explicit conflicts
        page.click(".editor-tool[data-mode=click]")
        page.keyboard.down("Shift")
        ring = _draw_ring(page, centre, 140)
        page.screenshot(path=str(tmp_path / "editeur-lasso-trace.png"))
        page.mouse.up()
        page.keyboard.up("Shift")
        second = _inside_ring(page, ring, merc)
        taken = sorted(set(second) & set(owner.index))
        free = sorted(set(second) - set(taken))
        assert taken
        assert set(first) < set(free)
        state = page.evaluate("CptsEditor.instance().state()")
        assert sorted(state["drafts"][0]["communes"]) == free  # never taken silently
        assert page.locator(".editor-pending li").count() == len(taken)
        assert int(_panel(page)[f"Population ({vintage})"]) == library(free)
        page.screenshot(path=str(tmp_path / "editeur-lasso-conflits.png"))
        page.click(".editor-take")
        state = page.evaluate("CptsEditor.instance().state()")
        assert sorted(state["drafts"][0]["communes"]) == second
        conflicts = state["drafts"][0]["conflicts"]
        assert sorted(c["code"] for c in conflicts) == taken
        names = checked.cpts["name"] if "name" in checked.cpts.columns else pd.Series(dtype=str)
        for c in conflicts:
            assert str(names.get(owner[c["code"]], owner[c["code"]])) in c["from"]
        assert page.locator(".editor-conflict").count() == len(taken)
        panel = _panel(page)
        assert int(panel["Communes"]) == len(second)
        assert int(panel[f"Population ({vintage})"]) == library(second)
        # 3. a second draft lassoing the first draft's communes: they are another draft's, so pending
        page.click(".editor-new")
        page.click(".editor-tool[data-mode=add]")
        ring = _draw_ring(page, centre, 40)
        page.mouse.up()
        small = _inside_ring(page, ring, merc)
        assert small
        state = page.evaluate("CptsEditor.instance().state()")
        assert state["drafts"][1]["communes"] == []
        assert page.locator(".editor-take").count() == 1
        page.click(".editor-cancel")
        # 4. « Lasso : retirer » on the first draft
        page.locator(".editor-draft").nth(0).click()
        page.click(".editor-tool[data-mode=remove]")
        ring = _draw_ring(page, centre, 40)
        page.mouse.up()
        assert _inside_ring(page, ring, merc) == small
        state = page.evaluate("CptsEditor.instance().state()")
        assert sorted(state["drafts"][0]["communes"]) == sorted(set(second) - set(small))
        assert int(_panel(page)[f"Population ({vintage})"]) == library(sorted(set(second) - set(small)))
        # Shift+drag adds them back, Shift+Alt+drag takes them out again (in « Clic » mode)
        page.click(".editor-tool[data-mode=click]")
        page.keyboard.down("Shift")
        _draw_ring(page, centre, 40)
        page.mouse.up()
        assert sorted(page.evaluate("CptsEditor.instance().state()")["drafts"][0]["communes"]) == second
        page.keyboard.down("Alt")
        _draw_ring(page, centre, 40)
        page.mouse.up()
        page.keyboard.up("Alt")
        page.keyboard.up("Shift")
        rest = sorted(set(second) - set(small))
        assert sorted(page.evaluate("CptsEditor.instance().state()")["drafts"][0]["communes"]) == rest
        # in a lasso mode, a click without a drag still toggles one commune
        page.click(".editor-tool[data-mode=add]")
        code = rest[0]
        lon, lat = shapely.get_coordinates(points[hdf.index.get_loc(code)])[0]
        xy = page.evaluate("(p) => { const q = CptsEditor.instance().map.latLngToContainerPoint(p); return [q.x, q.y]; }",
                           [float(lat), float(lon)])
        box = page.locator("#cpts-editor-map").bounding_box()
        page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])
        assert code not in page.evaluate("CptsEditor.instance().state()")["drafts"][0]["communes"]
        assert errors == []
        context.close()


# --- supply outside the page ---------------------------------------------------------------------

def _outside_neighbours_by_library(codes, hdf):
    """Communes outside the region sharing a border line with one of ``codes``
    (:func:`cpts_geo.domain.communes.adjacency` on the embedded layer of France)."""
    from cpts_geo.domain.communes import adjacency

    france = load_communes()
    around = france[france.intersects(hdf.loc[codes].union_all().buffer(0.01))]
    pairs = adjacency(around)
    pairs = pairs[pairs["code"].isin(codes) & ~pairs["neighbour"].isin(hdf.index)]
    line = shapely.length(shapely.intersection(around.geometry.loc[pairs["code"]].to_numpy(),
                                               around.geometry.loc[pairs["neighbour"]].to_numpy())) > 0
    return sorted(set(pairs.loc[line, "neighbour"]))


def _border_draft(data, owned):
    """Three free communes of the Oise on the region's limit whose neighbours outside have supply."""
    c, b = data["communes"], data["beyond"]
    totals = [sum(col[k] for col in b["counts"]) for k in range(len(b["c"]))]
    picked = [code for i, code in enumerate(c["c"]) if code.startswith("60") and code not in owned
              and any(k >= 0 and totals[k] > 0 for k in data["edge"][i])]
    return picked[:3]


def test_editor_data_says_what_supply_lies_beyond_the_page(editor_page):
    from cpts_geo.indicators.supply import supply_on_layer

    _, hdf, checked, read = editor_page
    supply = read.table
    data = editor_data(hdf, checked, supply=read)
    b = data["beyond"]
    assert b["known"]
    assert b["rows"] == int((~supply["code"].isin(hdf.index)).sum())
    draft = _border_draft(data, set(checked.membership["code"]))
    assert len(draft) == 3
    pos = [data["communes"]["c"].index(code) for code in draft]
    page_outside = sorted({b["c"][k] for i in pos for k in data["edge"][i]})
    assert page_outside == _outside_neighbours_by_library(draft, hdf)
    # the professionals there, as the library counts them; none of them in the draft's figures
    lib = supply_on_layer(supply[supply["code"].isin(page_outside)], pd.Index(page_outside)).sum()
    for p, name in enumerate(data["professions"]["names"]):
        page = sum(b["counts"][p][b["c"].index(code)] for code in page_outside)
        assert page == float(lib.get(name, 0.0))
    assert sum(lib) > 0
    # an interior commune touches nothing outside
    assert all(data["edge"][data["communes"]["c"].index(code)] == [] for code in FIVE)
    # a supply that stops at the region's limit says nothing beyond: the page says so
    inner = editor_data(hdf, None, supply=supply[supply["code"].isin(hdf.index)])
    assert not inner["beyond"]["known"]
    assert inner["edge"][pos[0]] == [-1]


@pytest.mark.slow
@browser_only
def test_panel_states_the_supply_counted_and_beyond(editor_page, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright pour Python absent")
    from cpts_geo.indicators.supply import supply_on_layer

    path, hdf, checked, read = editor_page
    supply = read.table
    data = editor_data(hdf, checked, supply=read)
    draft = _border_draft(data, set(checked.membership["code"]))
    outside = _outside_neighbours_by_library(draft, hdf)
    inside = supply_on_layer(supply[supply["code"].isin(draft)], pd.Index(draft)).sum()
    beyond = supply_on_layer(supply[supply["code"].isin(outside)], pd.Index(outside)).sum()
    with sync_api.sync_playwright() as p:
        context = _launch(p, tmp_path)
        page = context.new_page()
        page.goto(path.as_uri())
        page.wait_for_function("window.CptsEditor && CptsEditor.instance() !== null")
        page.evaluate("(codes) => codes.forEach(c => CptsEditor.instance().clickCode(c))", draft)
        scope = page.locator(".editor-supply-scope").text_content()
        assert scope == f"Chiffres des communes du brouillon seulement ({len(draft)}) : l'offre d'une commune " \
                        "voisine n'y est pas comptée."
        note = page.locator(".editor-beyond")
        assert note.count() == 1
        assert sorted(note.get_attribute("data-communes").split(",")) == outside
        assert f"touche {len(outside)} commune(s) voisine(s) hors de la zone" in note.text_content()
        assert "Île-de-France" in note.text_content()
        shown = page.evaluate("""() => Array.from(document.querySelectorAll('.editor-professions .editor-val'))
                                  .map(e => [e.parentNode.firstChild.textContent.replace(' : ', ''),
                                             +e.dataset.count, +e.dataset.beyond, e.textContent])""")
        for name, count, out, text in shown:
            assert count == float(inside.get(name, 0.0))
            assert out == float(beyond.get(name, 0.0))
            assert ("hors zone, non compté(s)" in text) == (out > 0)
        page.locator(".editor-professions").screenshot(path=str(tmp_path / "editeur-offre-hors-zone.png"))
        # an interior draft: the scope is stated, nothing beyond
        page.click(".editor-new")
        page.evaluate("(codes) => codes.forEach(c => CptsEditor.instance().clickCode(c))", FIVE[:1])
        assert page.locator(".editor-beyond").count() == 0
        assert page.locator(".editor-supply-scope").count() == 1
        context.close()


def test_cli_editeur_offre_keeps_the_supply_around_the_zone(tmp_path, capsys, shared_data):
    import json
    import re

    from cpts_geo.cli import main

    out = tmp_path / "somme.html"
    bpe = shared_data / "health_professionals" / "bpe2018_sante_communes.csv"
    assert main(["editeur", "--departements", "80", "--offre", str(bpe), "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert re.search(r"Offre de soins : [\d  ]+ lignes \(commune × profession\) dans la zone ; [\d  ]+ hors de la "
                     r"zone, non comptées \(celles des communes voisines sont signalées", said)
    text = out.read_text(encoding="utf-8")
    data = json.loads(text.split('id="cpts-editor-data">', 1)[1].split("</script>", 1)[0])
    assert data["beyond"]["known"]
    # the Somme borders the Aisne, the Nord, the Oise, the Pas-de-Calais and the Seine-Maritime
    assert {c[:2] for c in data["beyond"]["c"]} == {"02", "59", "60", "62", "76"}


@browser_only
def test_lasso_conflict_list_keeps_registry_names_as_text(tmp_path):
    """A CPTS name from the registry shown in the lasso's list of conflicts stays text."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright pour Python absent")
    payload = "<img src=x onerror=\"window.__pwned=1\">{{7*7}}"
    somme = load_communes(departments="80")
    reg = pd.DataFrame({"cpts_id": ["X", "X"], "cpts_name": [payload] * 2, "stage": ["ACI signé"] * 2,
                        "commune_code": ["80021", "80001"]})
    path = perimeter_editor(somme, validate_registry(reg, somme), tmp_path / "e.html")
    with sync_api.sync_playwright() as p:
        context = _launch(p, tmp_path)
        page = context.new_page()
        page.goto(path.as_uri())
        page.wait_for_function("window.CptsEditor && CptsEditor.instance() !== null")
        page.evaluate("() => { CptsEditor.instance().lassoCodes(['80021', '80001', '80002']); }")
        items = page.locator(".editor-pending li").all_text_contents()
        assert len(items) == 2
        assert all(payload in t for t in items)
        page.click(".editor-take")
        assert all(payload in t for t in page.locator(".editor-conflict").all_text_contents())
        assert page.locator("img[src='x']").count() == 0
        assert page.evaluate("window.__pwned") is None
        context.close()


# --- communes without geometry, CPTS reaching outside the page (issue 30) --------------------------

def _page_data(path):
    import json

    text = Path(path).read_text(encoding="utf-8")
    return json.loads(text.split('id="cpts-editor-data">', 1)[1].split("</script>", 1)[0])


CANTAL_WITHOUT_GEOMETRY = ["15031", "15035", "15047", "15171"]


def test_cli_editeur_lists_the_communes_without_geometry(tmp_path, capsys):
    """The Cantal holds four communes without geometry in the source: the page lists them."""
    from cpts_geo.cli import main

    out = tmp_path / "cantal.html"
    assert main(["editeur", "--departements", "15", "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "4 commune(s) sans géométrie dans la source, non dessinées, listées dans le panneau" in said
    assert "15031 Celles" in said
    c = _page_data(out)["communes"]
    assert sorted(c["c"][i] for i in c["ng"]) == CANTAL_WITHOUT_GEOMETRY
    assert all(c["a"][i] is None and c["g"][i] == [] for i in c["ng"])


@pytest.mark.slow
def test_cli_editeur_on_the_region_holding_them(tmp_path, capsys):
    from cpts_geo.cli import main

    out = tmp_path / "ara.html"
    assert main(["editeur", "--region", "84", "-o", str(out)]) == 0
    assert "4 commune(s) sans géométrie" in capsys.readouterr().out
    c = _page_data(out)["communes"]
    assert sorted(c["c"][i] for i in c["ng"]) == CANTAL_WITHOUT_GEOMETRY


@browser_only
def test_a_commune_without_geometry_is_added_from_the_panel(tmp_path):
    """Listed in the panel, added and removed there; the figures are the library's."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright pour Python absent")
    cantal = load_communes(departments="15")
    path = perimeter_editor(cantal, None, tmp_path / "cantal.html")
    draft = ["15030", "15031"]  # Chalvignac and Celles (without geometry)
    terr = build_territories(pd.DataFrame({"cpts_id": "B", "commune_code": draft}), cantal)
    with sync_api.sync_playwright() as p:
        context = _launch(p, tmp_path)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        page.wait_for_function("window.CptsEditor && CptsEditor.instance() !== null")
        rows = page.locator(".editor-no-geometry-row")
        assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.code)")) == CANTAL_WITHOUT_GEOMETRY
        page.evaluate("(c) => CptsEditor.instance().clickCode(c)", "15030")
        page.locator(".editor-no-geometry-row[data-code='15031'] button").click()
        assert sorted(page.evaluate("CptsEditor.instance().state()")["drafts"][0]["communes"]) == draft
        panel = _panel(page)
        vintage = layer_metadata(cantal).population_vintage
        assert int(panel[f"Population ({vintage})"]) == int(terr.loc["B", "population"])
        assert float(panel["Superficie"]) == pytest.approx(float(terr.loc["B", "area_km2"]), abs=0.005)
        assert int(panel["Continuité"]) == int(terr.loc["B", "n_parts"])
        assert "sans géométrie, superficie non comptée" in page.locator(".editor-figures").text_content()
        assert page.locator(".editor-no-geometry-row[data-code='15031'] button").text_content() == "Retirer"
        page.locator(".editor-no-geometry-row[data-code='15031'] button").click()
        assert page.evaluate("CptsEditor.instance().state()")["drafts"][0]["communes"] == ["15030"]
        page.screenshot(path=str(tmp_path / "editeur-cantal.png"))
        assert errors == []
        context.close()


def _crossing_registry(tmp_path):
    """A CPTS inside the Maine-et-Loire, one in Loire-Atlantique only, one across the border."""
    reg = pd.DataFrame({"Identifiant CPTS": ["A", "A", "B", "C", "C"],
                        "Nom de la CPTS": ["CPTS d'Angers", "CPTS d'Angers", "CPTS de Nantes", "CPTS des Mauges",
                                           "CPTS des Mauges"],
                        "Code INSEE": ["49007", "49015", "44109", "49092", "44003"]})
    path = tmp_path / "registre_national.csv"
    reg.to_csv(path, sep=";", index=False, encoding="utf-8-sig")
    return path


def test_cli_editeur_keeps_a_registry_reaching_outside_the_area(tmp_path, capsys):
    """As « carte » does: the registry may hold communes outside the area (« hors zone »)."""
    from cpts_geo.cli import main

    out = tmp_path / "e.html"
    assert main(["editeur", str(_crossing_registry(tmp_path)), "--departements", "49", "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "1 CPTS du registre sans commune dans la zone de l'éditeur, non affichée(s) : B." in said
    assert "1 CPTS à cheval sur la limite de la zone : leurs 1 commune(s) hors zone" in said
    data = _page_data(out)
    assert [(c["id"], c["out"]) for c in data["cpts"]] == [("A", 0), ("C", 1)]
    c = data["communes"]
    assert c["o"][c["c"].index("49092")] == 1
    assert "44003" not in c["c"]
    # the Python API: a registry table is checked against France, not against the page
    api = editor_data(load_communes(departments="49"), pd.read_csv(tmp_path / "registre_national.csv", sep=";",
                                                                   dtype=str, encoding="utf-8-sig"))
    assert [(x["id"], x["out"]) for x in api["cpts"]] == [("A", 0), ("C", 1)]


# --- cities by arrondissement, the registry drawn (issue 25) ---------------------------------------

def _marseille_registry(tmp_path):
    """Marseille by arrondissement in two CPTS (13201 in none), without stage, and Aix whole."""
    arms = [f"132{k:02d}" for k in range(2, 17)]
    reg = pd.DataFrame({"cpts_id": ["M1"] * 2 + ["M2"] * 13 + ["AIX"],
                        "cpts_name": ["CPTS Marseille Centre"] * 2 + ["CPTS Marseille Nord et Sud"] * 13
                        + ["CPTS du Pays d'Aix"],
                        "commune_code": [*arms, "13001"], "stage": [""] * 15 + ["ACI signé"]})
    path = tmp_path / "marseille.csv"
    reg.to_csv(path, sep=";", index=False)
    return path


def test_cli_editeur_draws_marseille_by_arrondissement_as_the_registry_does(tmp_path, capsys):
    from cpts_geo.cli import main

    out = tmp_path / "bdr.html"
    assert main(["editeur", str(_marseille_registry(tmp_path)), "--departements", "13", "-o", str(out)]) == 0
    assert "Par arrondissement municipal : Marseille." in capsys.readouterr().out
    data = _page_data(out)
    c = data["communes"]
    assert "13055" not in c["c"]
    assert {f"132{k:02d}" for k in range(1, 17)} <= set(c["c"])
    ids = [x["id"] for x in data["cpts"]]
    assert ids == ["AIX", "M1", "M2"]
    assert c["o"][c["c"].index("13201")] == -1
    assert c["o"][c["c"].index("13202")] == ids.index("M1")
    assert c["o"][c["c"].index("13216")] == ids.index("M2")
    arm = load_communes(departments="13", arrondissements=True)
    assert c["p"][c["c"].index("13201")] == int(arm.loc["13201", "population"])
    assert data["cities"]["13055"]["units"] == [c["c"].index(f"132{k:02d}") for k in range(1, 17)]
    # every colour in the legend; each CPTS outlined and named
    assert data["stages"][0] == "Étape non renseignée"
    assert all(g for g in data["outlines"]["g"])
    assert data["outlines"]["labels"]["text"] == ["du Pays d'Aix", "Marseille Centre", "Marseille Nord et Sud"]
    # the APL of an arrondissement is its own DREES row
    from cpts_geo.data.apl import load_apl

    apl = load_apl(2023).loc["13201"]
    assert c["wv"][c["c"].index("13201")] == pytest.approx(float(apl["apl"] * apl["pop_standardised"]))


def test_cli_editeur_arrondissements_option(tmp_path):
    from cpts_geo.cli import main

    out = tmp_path / "rhone.html"
    assert main(["editeur", "--departements", "69", "--arrondissements", "-o", str(out)]) == 0
    codes = _page_data(out)["communes"]["c"]
    assert "69381" in codes
    assert "69123" not in codes
    assert main(["editeur", "--departements", "69", "-o", str(out)]) == 0
    codes = _page_data(out)["communes"]["c"]
    assert "69123" in codes
    assert "69381" not in codes


@browser_only
def test_marseille_in_the_editor_like_a_user(tmp_path):
    """A click on a Marseille arrondissement of a CPTS asks first; a free one adds its own people."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright pour Python absent")
    from cpts_geo.cli import main

    out = tmp_path / "bdr.html"
    assert main(["editeur", str(_marseille_registry(tmp_path)), "--departements", "13", "-o", str(out)]) == 0
    arm = load_communes(departments="13", arrondissements=True)
    with sync_api.sync_playwright() as p:
        context = _launch(p, tmp_path)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(out.as_uri())
        page.wait_for_function("window.CptsEditor && CptsEditor.instance() !== null")
        page.evaluate("(c) => CptsEditor.instance().clickCode(c)", "13201")
        assert int(_panel(page)[f"Population ({layer_metadata(arm).population_vintage})"]) == \
            int(arm.loc["13201", "population"])
        page.evaluate("(c) => CptsEditor.instance().clickCode(c)", "13202")
        assert "CPTS Marseille Centre" in page.locator(".editor-pending").text_content()
        page.click(".editor-take")
        assert "CPTS Marseille Centre" in page.locator(".editor-conflict").text_content()
        assert int(_panel(page)["Communes"]) == 1  # two arrondissements of one city: one commune
        legend = page.locator(".editor-legend .cpts-legend-label").all_text_contents()
        assert "Étape non renseignée" in legend
        assert "Contour et nom d'une CPTS existante" in legend
        assert any(t.startswith("Brouillon 1") for t in legend)
        assert page.locator("path.editor-outline").count() == 3
        page.evaluate("() => CptsEditor.instance().map.setView([43.3, 5.4], 12, {animate: false})")
        page.wait_for_timeout(200)
        labels = page.locator(".editor-label").all_text_contents()
        assert "Marseille Nord et Sud" in " ".join(labels).replace("\n", " ")
        page.screenshot(path=str(tmp_path / "editeur-marseille.png"))
        assert errors == []
        context.close()


# --- a national page: encoded lists, a canvas ---------------------------------------------------------

@browser_only
def test_page_decodes_neighbours_and_points_as_python_encoded_them(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright pour Python absent")
    import numpy as np

    from cpts_geo.render.editor import _encoded_lists, _encoded_points, _neighbours, _points
    from cpts_geo.render.maps import _static

    somme = load_communes(departments="80").sort_index()
    lists = _neighbours(somme)
    rng = np.random.default_rng(5)
    lists += [sorted(set(rng.integers(0, 40_000, int(k)).tolist())) for k in rng.integers(0, 12, 50)]
    points = _points(somme)
    origin = (1.37, 49.57)
    with sync_api.sync_playwright() as p:
        context = _launch(p, tmp_path)
        page = context.new_page()
        page.set_content(f"<script>{_static('editor.js')}</script>")
        got = page.evaluate("(enc) => enc.map((s, i) => CptsEditor.decode.list(s, i))", _encoded_lists(lists))
        q = page.evaluate("(s) => CptsEditor.decode.numbers(s)", _encoded_points(points, origin, 1e5))
        context.close()
    assert got == [sorted(v) for v in lists]
    xy = np.cumsum(np.array(q).reshape(-1, 2), axis=0) / 1e5 + origin
    assert np.abs(xy - np.array(points)).max() < 1e-5


@browser_only
def test_a_page_of_many_communes_draws_on_a_canvas_and_clicks_work(tmp_path, monkeypatch):
    """Above 10 000 communes the page draws as the national stage map does (here with the
    threshold lowered to the Somme): clicks with the mouse still pick the commune."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright pour Python absent")
    import cpts_geo.render.editor as editor

    monkeypatch.setattr(editor, "_MANY", 100)
    somme = load_communes(departments="80")
    path = perimeter_editor(somme, None, tmp_path / "canvas.html")
    data = _page_data(path)
    assert data["canvas"]
    assert data["scale"] == 5000.0
    metric = somme.to_crs(2154)
    code = "80021"
    inside = shapely.get_point(shapely.maximum_inscribed_circle(metric.geometry[code], 10), 0)
    import geopandas as gpd

    ll = gpd.GeoSeries([inside], crs=2154).to_crs(4326).iloc[0]
    with sync_api.sync_playwright() as p:
        context = _launch(p, tmp_path)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        page.wait_for_function("window.CptsEditor && CptsEditor.instance() !== null")
        assert page.locator("#cpts-editor-map canvas").count() >= 1
        assert page.locator("path.editor-commune").count() == 0
        page.evaluate("(c) => { CptsEditor.instance().map.setView(c, 11, {animate: false}); }", [ll.y, ll.x])
        page.wait_for_timeout(200)
        xy = page.evaluate("(p) => { const q = CptsEditor.instance().map.latLngToContainerPoint(p); return [q.x, q.y]; }",
                           [ll.y, ll.x])
        box = page.locator("#cpts-editor-map").bounding_box()
        page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])
        assert page.evaluate("CptsEditor.instance().state()")["drafts"][0]["communes"] == [code]
        page.mouse.move(box["x"] + xy[0] + 2, box["y"] + xy[1] + 2)
        page.wait_for_selector(".leaflet-tooltip")
        assert "Amiens" in page.locator(".leaflet-tooltip").text_content()
        assert errors == []
        context.close()


def test_cli_editeur_reads_the_supply_by_arrondissement_where_the_page_is(tmp_path, shared_data):
    import warnings

    from cpts_geo.cli import main
    from cpts_geo.errors import CptsGeoWarning
    from cpts_geo.io.supply import read_bpe

    bpe = shared_data / "health_professionals" / "bpe2018_sante_communes.csv"
    out = tmp_path / "bdr.html"
    assert main(["editeur", str(_marseille_registry(tmp_path)), "--departements", "13", "--offre", str(bpe),
                 "-o", str(out)]) == 0
    data = _page_data(out)
    c, prof = data["communes"], data["professions"]
    gp = prof["counts"][prof["names"].index("médecin généraliste")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arm = read_bpe(bpe, communes=load_communes(arrondissements=True), unknown="report").table
    expected = arm[(arm["code"] == "13201") & (arm["profession"] == "médecin généraliste")]["count"].sum()
    assert gp[c["c"].index("13201")] == expected > 0
    # a supply given for the whole city on a page by arrondissement: said, not silently lost
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = read_bpe(bpe, communes=load_communes(), unknown="report")
    page = load_communes(departments="13", arrondissements=True)
    with pytest.warns(CptsGeoWarning, match=r"ville entière \(13055\)"):
        editor_data(page, None, supply=whole)


def test_page_from_its_template_keeps_user_text_as_data(tmp_path):
    """The page comes from ``templates/editor.html``: the title is escaped text, the data a JSON
    block that a ``</script>`` in a user's text cannot close, the scripts our own."""
    import re

    somme = load_communes(departments="80")
    name = "</script><script>window.__pwned=1</script><!--"
    reg = pd.DataFrame({"cpts_id": ["X"], "cpts_name": [name], "stage": ["ACI signé"], "commune_code": ["80021"]})
    out = perimeter_editor(somme, reg, tmp_path / "e.html", title="<b>Somme</b> & co")
    text = out.read_text(encoding="utf-8")
    assert "<title>&lt;b&gt;Somme&lt;/b&gt; &amp; co</title>" in text
    assert len(re.findall(r"<script\b", text)) == len(re.findall(r"</script>", text)) == 4
    data = _page_data(out)
    assert data["cpts"][0]["name"] == name
    assert data["title"] == "<b>Somme</b> & co"
    assert text.rstrip().endswith(
        '<script>CptsEditor.start(JSON.parse(document.getElementById("cpts-editor-data").textContent));</script>\n'
        "</body>\n</html>")
