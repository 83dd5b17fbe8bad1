"""Pictures of the regional map and of the portrait for the README and the documentation site.

Both come from the illustrative registry embedded in the package, rendered by headless Chromium
(Debian's ``chromium`` through Playwright, no network):

- ``carte-hauts-de-france.png``: the page ``cpts-geo carte`` writes, zoomed once on a CPTS, the
  mouse over it (its tooltip);
- ``portrait-page1.png``: the first page of the portrait of HDF-01, printed to PDF by Chromium
  and turned into a picture by ``pdftoppm`` (poppler-utils).

    python docs/images.py [FOLDER]        # FOLDER: docs/ by default

The editor's picture is made by ``docs/editeur_perimetres.py`` (it needs the BPE file), the
GeoPackage's by ``docs/apercu_geopackage.py`` and ``docs/apercu_geopackage_qgis.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--proxy-server=127.0.0.1:9",
         "--host-resolver-rules=MAP * ~NOTFOUND"]
MAP_CPTS = "HDF-40"        # the CPTS under the mouse on the map picture
PORTRAIT_CPTS = "HDF-01"   # the CPTS of the portrait picture


def _small_png(picture: Path) -> None:
    """Rewrite a PNG with 128 colours (a third of the size; maps and pages have few colours).

    Parameters
    ----------
    picture : Path
        The PNG, rewritten in place.

    Returns
    -------
    None
    """
    from PIL import Image

    with Image.open(picture) as im:
        small = im.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(picture, optimize=True)


def map_picture(browser, folder: Path, picture: Path) -> None:
    """Write the picture of the regional map.

    Parameters
    ----------
    browser : playwright BrowserContext
        A Chromium context.
    folder : Path
        A working folder.
    picture : Path
        The PNG to write.

    Returns
    -------
    None
    """
    from cpts_geo.cli.main import main

    html = folder / "hauts-de-france.html"
    if main(["carte", "-o", str(html), "--sans-png"]) != 0:
        raise SystemExit("cpts-geo carte a échoué")
    page = browser.new_page()
    page.set_viewport_size({"width": 1100, "height": 760})
    page.goto(html.as_uri())
    page.wait_for_function("window.CptsMap !== undefined && CptsMap.instance() !== null")
    point = page.evaluate("""(id) => {
        const m = CptsMap.instance().map; let target = null;
        m.eachLayer(l => { if (l.getTooltip && l.options.className === 'cpts-polygon'
                               && l.getTooltip()._content().textContent.includes('Identifiant : ' + id)) target = l; });
        m.setView(target.getCenter(), m.getZoom() + 1, {animate: false});
        const p = m.latLngToContainerPoint(target.getCenter()); return [p.x, p.y]; }""", MAP_CPTS)
    page.wait_for_timeout(500)
    page.mouse.move(point[0], point[1])
    page.mouse.move(point[0] + 2, point[1] + 2)
    page.wait_for_timeout(300)
    page.screenshot(path=str(picture))
    page.close()
    _small_png(picture)


def portrait_picture(browser, folder: Path, picture: Path) -> None:
    """Write the picture of the first page of a portrait, printed by Chromium.

    Parameters
    ----------
    browser : playwright BrowserContext
        A Chromium context.
    folder : Path
        A working folder.
    picture : Path
        The PNG to write.

    Returns
    -------
    None
    """
    import cpts_geo

    result = cpts_geo.portrait(PORTRAIT_CPTS, folder / "portrait.html")
    page = browser.new_page()
    page.goto(Path(result.html).as_uri())
    page.wait_for_load_state("load")
    page.emulate_media(media="print")
    pdf = folder / "portrait.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True, prefer_css_page_size=True)
    page.close()
    subprocess.run(["pdftoppm", "-f", "1", "-l", "1", "-r", "80", "-png", "-singlefile", str(pdf),
                    str(picture.with_suffix(""))], check=True)
    _small_png(picture)


def main(folder: str = "docs") -> None:
    """Write both pictures into ``folder``.

    Parameters
    ----------
    folder : str
        Where to write ``carte-hauts-de-france.png`` and ``portrait-page1.png``.

    Returns
    -------
    None
    """
    out = Path(folder)
    work = Path(tempfile.mkdtemp(prefix="cpts_geo_images_"))
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(str(work / "profil"), executable_path=CHROMIUM, args=FLAGS,
                                                       headless=True)
        map_picture(browser, work, out / "carte-hauts-de-france.png")
        portrait_picture(browser, work, out / "portrait-page1.png")
        browser.close()
    shutil.rmtree(work, ignore_errors=True)
    print(f"Images écrites : {out / 'carte-hauts-de-france.png'}, {out / 'portrait-page1.png'}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
