"""The maps as a person uses them, driven in headless Chromium with Playwright (no network).

Hover a CPTS and read its tooltip; check that communes do not catch the mouse at regional zoom;
payloads in every user-text field of every page the package writes stay inert. Screenshots
are written next to the test's temporary files (``tmp_path``) to be looked at.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() or shutil.which("chromium") is None,
    reason="chromium absent (/usr/bin/chromium) : installez le paquet Debian « chromium » pour ces tests",
)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--proxy-server=127.0.0.1:9",
         "--host-resolver-rules=MAP * ~NOTFOUND"]
PAYLOAD = "<img src=x onerror=\"window.__pwned=1;document.title='pwned'\">{{ 7*7 }}"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright pour Python absent")
    with sync_api.sync_playwright() as p:
        profile = tmp_path_factory.mktemp("chromium-profile")
        context = p.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, args=FLAGS,
                                                       headless=True, viewport={"width": 1280, "height": 900})
        yield context
        context.close()


def open_page(browser, path: Path, *, width=1280, height=900):
    page = browser.new_page()
    page.set_viewport_size({"width": width, "height": height})
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.goto(path.as_uri())
    page.wait_for_function("window.CptsMap !== undefined && CptsMap.instance() !== null || document.readyState === 'complete'")
    return page


def test_hovering_a_cpts_shows_the_cpts_not_a_commune(browser, hdf_map, tmp_path):
    path, terr, _ = hdf_map
    page = open_page(browser, path)
    # the middle of a large CPTS's label anchor: a real mouse move, through every pane
    cid = terr["area_km2"].idxmax()
    name = terr.loc[cid, "name"]
    box = page.evaluate("""(name) => {
        const m = CptsMap.instance().map; let out = null;
        m.eachLayer(l => { if (l.getTooltip && l.options.className === 'cpts-polygon') {
            const c = l.getTooltip()._content(); if (c.firstChild.textContent === name) {
              const p = m.latLngToContainerPoint(l.getCenter()); out = [p.x, p.y]; } } });
        return out; }""", name)
    page.mouse.move(box[0], box[1])
    page.mouse.move(box[0] + 2, box[1] + 2)
    tip = page.locator(".leaflet-tooltip").last.text_content()
    assert tip.startswith(name), tip
    assert "Étape : " in tip
    assert "Taille : " in tip
    assert "Population (2021) : " in tip
    assert "Financement ACI maximal : " in tip
    assert "€ par an" in tip
    assert "Code INSEE" not in tip
    # a click tells the commune under the mouse
    page.mouse.click(box[0] + 2, box[1] + 2)
    popup = page.locator(".leaflet-popup-content").text_content()
    assert "Code INSEE : " in popup
    assert name in popup
    labels = page.locator(".cpts-label").count()
    assert labels == len(terr)
    assert page.locator(".cpts-legend").count() == 1
    page.screenshot(path=str(tmp_path / "survol.png"))
    # zoomed in, the commune answers the mouse, with its CPTS
    page.evaluate("() => { CptsMap.instance().map.setZoom(CptsMap.instance().detailZoom, {animate: false}); }")
    page.wait_for_timeout(200)
    page.mouse.move(640, 450)
    page.mouse.move(642, 452)
    tip = page.locator(".leaflet-tooltip").last.text_content()
    assert "Code INSEE : " in tip
    assert page.errors == []


def test_indicator_legend_follows_its_layer_and_small_screen(browser, tmp_path):
    from cpts_geo.domain.communes import load_communes
    from cpts_geo.domain.registry import validate_registry
    from cpts_geo.domain.territories import build_territories, communes_with_cpts
    from cpts_geo.io.registry import load_example_registry
    from cpts_geo.render.maps import indicator_layer, save_map, stage_map

    hdf = load_communes(region="32")
    checked = validate_registry(load_example_registry(), hdf)
    terr = build_territories(checked, hdf, parts=False)
    spec = indicator_layer(terr.assign(d=terr["population"] / terr["area_km2"]), "d", name="Densité",
                           reference={"Région": 189.0, "France": 105.0})
    path = save_map(stage_map(terr, communes_with_cpts(checked, hdf), membership=checked.membership,
                              indicators=[spec]), tmp_path / "ind.html")
    page = open_page(browser, path, width=900, height=650)
    assert page.locator(".cpts-legend").count() == 1
    page.evaluate("""() => { const m = CptsMap.instance().map; document.querySelectorAll(
        '.leaflet-control-layers-overlays label').forEach(l => { const t = l.textContent.trim();
        const i = l.querySelector('input'); if ((t === 'Densité') !== i.checked) { i.click(); } }); }""")
    titles = page.locator(".cpts-legend-title").all_text_contents()
    assert titles == ["Densité"]
    # the title box fits a small screen and leaves the map visible
    title = page.locator(".cpts-title").bounding_box()
    assert title["width"] < 900 * 0.36
    page.screenshot(path=str(tmp_path / "indicateur-900x650.png"))
    assert page.errors == []


@pytest.mark.slow
def test_payloads_in_every_user_text_field_stay_inert(browser, tmp_path):
    from cpts_geo.domain.communes import load_communes
    from cpts_geo.domain.registry import validate_registry
    from cpts_geo.domain.territories import build_territories, communes_with_cpts
    from cpts_geo.render.batch import batch_maps
    from cpts_geo.render.maps import indicator_layer, save_map, stage_map

    somme = load_communes(departments="80")
    reg = pd.DataFrame({"cpts_id": ["X"], "cpts_name": [PAYLOAD], "stage": ["ACI signé"],
                        "commune_code": ["80021"]})
    checked = validate_registry(reg, somme)
    terr = build_territories(checked, somme)
    layer = communes_with_cpts(checked, somme)
    layer.loc["80001", "name"] = "</script><script>window.__pwned=2</script>"
    spec = indicator_layer(terr.assign(v=1.0, name=PAYLOAD), "v", name=PAYLOAD,
                           legend_kwds={"title": PAYLOAD}, reference={PAYLOAD: 1.0})
    pages = [save_map(stage_map(terr, layer, membership=checked.membership, title=PAYLOAD, subtitle=PAYLOAD,
                                caption=[PAYLOAD], indicators=[spec], fond="https://x.example/{z}/{x}/{y}.png",
                                fond_attribution=PAYLOAD), tmp_path / "carte.html")]
    batch_maps(checked, tmp_path / "lot", png=False, progress=lambda *_: None)
    pages.append(tmp_path / "lot" / "index.html")
    try:
        from cpts_geo.render.editor import perimeter_editor
    except ImportError:
        perimeter_editor = None
    if perimeter_editor is not None:
        pages.append(perimeter_editor(somme, checked, tmp_path / "editeur.html"))
    for path in pages:
        page = open_page(browser, path)
        title = page.title()
        n_elements = page.evaluate("document.querySelectorAll('script, iframe, object, embed').length")
        page.wait_for_timeout(300)
        page.evaluate("""() => { document.querySelectorAll('.leaflet-control-layers-overlays input')
                                 .forEach(i => { if (!i.checked) { i.click(); } }); }""")
        page.mouse.move(640, 450)
        page.wait_for_timeout(100)
        assert page.evaluate("window.__pwned") is None, path
        assert page.title() == title, path
        assert title != "pwned", path
        assert page.locator("img[src='x']").count() == 0, path
        assert page.evaluate("document.querySelectorAll('script, iframe, object, embed').length") == n_elements, path
        if path.name == "carte.html":
            assert page.title().startswith("<img")
            assert page.locator(".cpts-title-main").text_content() == PAYLOAD
            assert PAYLOAD in page.locator(".leaflet-control-layers-overlays").text_content()
        page.close()


def test_a_listing_without_stages_neighbours_never_share_a_fill(browser, ars_export, tmp_path):
    """The 70-CPTS map as the browser draws it: the fill of every CPTS polygon read from the page,
    no two neighbours alike, the legend without an empty class."""
    from cpts_geo.cli import main

    path, _, _, neighbours = ars_export
    out = tmp_path / "pays-de-la-loire.html"
    assert main(["carte", str(path), "-o", str(out), "--sans-png"]) == 0
    page = open_page(browser, out)
    fills = page.evaluate("""() => {
        const out = {}; const m = CptsMap.instance().map;
        m.eachLayer(l => { if (l.getTooltip && l.options.className === 'cpts-polygon') {
            const c = l.getTooltip()._content(); const id = c.lastChild.lastChild.textContent;
            out[id] = getComputedStyle(l.getElement()).fill; } });
        return out; }""")
    assert len(fills) == 70
    assert len(set(fills.values())) >= 4
    assert not [p for p in neighbours if len({fills[c] for c in p}) == 1]
    legend = page.locator(".cpts-legend-label").all_text_contents()
    assert legend == ["70 CPTS (étape non renseignée) : une couleur par CPTS, différente de ses voisines",
                      "Zone blanche (non couverte)"]
    assert not page.errors
    page.screenshot(path=str(tmp_path / "sans-etapes.png"))
    print(tmp_path / "sans-etapes.png")


@pytest.mark.slow
def test_a_shared_commune_is_one_striped_polygon_naming_its_cpts(browser, tmp_path):
    """Nice shared by three CPTS: three overlapping polygons, the others named by id; now one polygon,
    striped with the three colours, its tooltip giving each CPTS by name with its share."""
    from test_real_listing import ROWS

    from cpts_geo.cli import main

    listing = tmp_path / "export.csv"
    pd.DataFrame(ROWS, columns=["N° CPTS", "Nom CPTS", "Code INSEE", "Code arrondissement", "Part"]).to_csv(
        listing, sep=";", index=False, encoding="utf-8")
    out = tmp_path / "paca.html"
    assert main(["carte", str(listing), "--region", "93", "-o", str(out), "--sans-png"]) == 0
    page = open_page(browser, out)
    shared = page.evaluate("""() => {
        const out = []; const m = CptsMap.instance().map;
        m.eachLayer(l => { if (l.getTooltip && l.options.className === 'shared-polygon') {
            out.push({text: l.getTooltip()._content().textContent, fill: l.getElement().getAttribute('fill'),
                      stripes: document.querySelectorAll(l.getElement().getAttribute('fill').slice(4, -1)
                                                         + ' rect').length}); } });
        return out; }""")
    nice = [s for s in shared if s["text"].startswith("Nice")]
    assert len(nice) == 1
    assert nice[0]["stripes"] == 3
    for part in ("CPTS Nice Ouest : 40,0 %", "CPTS Nice Est : 35,0 %", "CPTS Nice Nord : 25,0 %"):
        assert part in nice[0]["text"]
    legend = page.locator(".cpts-legend-label").all_text_contents()
    assert "Commune partagée entre CPTS (rayée de leurs couleurs)" in legend
    page.evaluate("CptsMap.instance().map.setView([43.72, 7.25], 12, {animate: false})")
    page.wait_for_timeout(300)
    assert not page.errors
    page.screenshot(path=str(tmp_path / "nice.png"))
    print(tmp_path / "nice.png")
