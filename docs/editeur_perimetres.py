"""Pictures of the perimeter editor for the README, taken in headless Chromium (no network).

A draft of the Aisne on the limit of the region drawn with the lasso, a second lasso being drawn; the
panel states that the professionals counted are those of the draft's communes, and shows apart
those of the neighbouring communes outside the region (« hors zone »). An optional second
picture is the whole supply part of the panel.

    python docs/editeur_perimetres.py BPE.csv docs/editeur-perimetres.png [offre.png]
"""

from __future__ import annotations

import math
import sys
import tempfile
import warnings
from pathlib import Path

from playwright.sync_api import sync_playwright

from cpts_geo.domain.communes import load_communes
from cpts_geo.domain.registry import validate_registry
from cpts_geo.io.registry import load_example_registry
from cpts_geo.io.supply import read_bpe
from cpts_geo.render.editor import perimeter_editor

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--proxy-server=127.0.0.1:9"]


def ring(page, centre, radius, steps=48, release=True):
    box = page.locator("#cpts-editor-map").bounding_box()
    pts = [(centre[0] + radius * math.cos(2 * math.pi * k / steps), centre[1] + radius * math.sin(2 * math.pi * k / steps))
           for k in range(steps + 1)]
    page.mouse.move(box["x"] + pts[0][0], box["y"] + pts[0][1])
    page.mouse.down()
    for x, y in pts[1:] if release else pts[1:int(steps * 0.8)]:
        page.mouse.move(box["x"] + x, box["y"] + y)
    if release:
        page.mouse.up()


def main(bpe: str, picture: str, supply_picture: str | None = None) -> None:
    hdf = load_communes(region="32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        supply = read_bpe(bpe, communes=load_communes(), unknown="report")
    checked = validate_registry(load_example_registry(), hdf)
    folder = Path(tempfile.mkdtemp())
    path = perimeter_editor(hdf, checked, folder / "editeur.html", supply=supply)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(folder / "profil"), executable_path="/usr/bin/chromium",
                                                       args=FLAGS, headless=True,
                                                       viewport={"width": 1100, "height": 680})
        page = context.new_page()
        page.goto(path.as_uri())
        page.wait_for_function("window.CptsEditor && CptsEditor.instance() !== null")
        page.evaluate("() => { CptsEditor.instance().map.setView([49.40, 3.80], 11, {animate: false}); }")
        page.wait_for_timeout(300)
        page.click(".editor-tool[data-mode=add]")
        ring(page, (370, 360), 110)
        if supply_picture:
            page.locator(".editor-professions").screenshot(path=supply_picture)
        page.evaluate("() => { document.getElementById('cpts-editor-panel').scrollTop = 0; }")
        ring(page, (250, 200), 70, release=False)
        page.screenshot(path=picture)
        page.mouse.up()
        context.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
