"""The perimeter editor of all mainland France: page size, opening time, time of a click.

Run: ``python benchmarks/bench_editor.py`` (``--runs N``, default 3; ``--registre`` adds the page
with a national registry of one CPTS per EPCI, outlined and named; ``--avant PAGE.html`` opens and
clicks, alternately with ours, an editor page written by an earlier version of the package).
Goals (issue 30): the page under 8 MB, opened in headless Chromium in under 3 s, a click
updating the panel in under 100 ms. Issue 30 measured 12.3 MB, 6.2 s and 130 ms.

Reference, opened alternately with our page in the same browser: a plain ``folium.GeoJson`` of
the same communes with a tooltip (Leaflet inlined so that it draws offline, framed on mainland
France), as ``bench_maps.py`` uses it: what a hand-written folium page of the same communes costs
to open, with none of the editor's data (figures, neighbours, lasso points).

Opening time: from navigation start to the editor's script having run (``CptsEditor.instance()``
set, or ``window.cptsEditorApi`` for a page of an earlier version; ``performance.now()`` then), and the wall time of ``page.goto`` to that moment; for the
reference, to the ``load`` event (its drawing is synchronous). A click: ``clickCode`` on ten
communes spread over France, each adding a commune to the draft, timed in the page from the
call to the end of the next frame (``requestAnimationFrame`` then a task: style, layout and
paint of the map and panel included), and the synchronous part alone. Medians are printed with
the machine's load (a shared 2-core machine: timings vary with it).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cpts_geo.domain.communes import load_communes
from cpts_geo.render.editor import perimeter_editor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_maps import CHROMIUM, FLAGS, plain_folium

GOALS = {"size": 8.0, "open": 3.0, "click": 100.0}
BEFORE = {"size": 12.3, "open": 6.2, "click": 130.0}
CLICKS = ["80021", "59350", "75056", "13055", "69123", "33063", "31555", "44109", "67482", "35238"]

#: The running editor, in our pages and in those of earlier versions (``--avant``).
READY = "(window.CptsEditor && CptsEditor.instance()) || window.cptsEditorApi"

CLICK_JS = """(codes) => Promise.all([]).then(async () => {
  const api = (window.CptsEditor && CptsEditor.instance()) || window.cptsEditorApi;
  const out = [];
  for (const c of codes) {
    out.push(await new Promise(res => {
      const t0 = performance.now();
      api.clickCode(c);
      document.getElementById('cpts-editor-panel').offsetHeight;
      const t1 = performance.now();
      requestAnimationFrame(() => setTimeout(() => res([t1 - t0, performance.now() - t0]), 0));
    }));
  }
  return out;
})"""


def measure(pages: dict[str, Path], reference: Path, runs: int) -> dict:
    from playwright.sync_api import sync_playwright

    times: dict[str, list] = {k: [] for k in [*pages, "folium"]}
    clicks: dict[str, list] = {k: [] for k in pages}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        for _ in range(runs):  # alternated: each run opens every page once
            for label, path in [*pages.items(), ("folium", reference)]:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                t0 = time.perf_counter()
                if label == "folium":
                    page.goto(path.as_uri(), wait_until="load", timeout=300_000)
                else:
                    page.goto(path.as_uri(), wait_until="commit", timeout=300_000)
                    page.wait_for_function(READY, timeout=300_000, polling=50)
                wall = time.perf_counter() - t0
                times[label].append((page.evaluate("performance.now()") / 1000, wall))
                if label != "folium":
                    clicks[label] += page.evaluate(CLICK_JS, CLICKS)
                if errors:
                    raise SystemExit(f"erreurs dans la page {label} : {errors}")
                page.close()
        browser.close()
    return {"open": {k: (statistics.median(t[0] for t in v), statistics.median(t[1] for t in v))
                     for k, v in times.items()},
            "click": {k: (statistics.median(c[0] for c in v), statistics.median(c[1] for c in v))
                      for k, v in clicks.items()}}


def main() -> None:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    tmp = Path(tempfile.mkdtemp(prefix="bench-editeur-"))
    print(f"Charge de la machine (1, 5, 15 min) : {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"pour {os.cpu_count()} cœurs ; médianes de {runs} exécutions alternées")
    communes = load_communes()
    mainland = communes[~communes.index.str.startswith("97")]
    pages = {}
    t0 = time.perf_counter()
    pages["éditeur"] = perimeter_editor(mainland, None, tmp / "editeur-france.html")
    print(f"Éditeur de la France métropolitaine : {len(mainland)} communes, écrit en "
          f"{time.perf_counter() - t0:.1f} s (une fois)")
    if "--registre" in sys.argv:
        import warnings

        registry = mainland.reset_index()[["code", "epci", "epci_name"]].dropna().rename(
            columns={"code": "commune_code", "epci": "cpts_id", "epci_name": "cpts_name"}).assign(stage="ACI signé")
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pages["éditeur + registre"] = perimeter_editor(mainland, registry, tmp / "editeur-france-registre.html")
        print(f"  avec un registre national d'une CPTS par EPCI ({registry['cpts_id'].nunique()} CPTS) : écrit en "
              f"{time.perf_counter() - t0:.1f} s (une fois)")
    if "--avant" in sys.argv:
        pages["version précédente"] = Path(sys.argv[sys.argv.index("--avant") + 1])
    reference = plain_folium(mainland, tmp / "folium-france.html")
    ref_size = reference.stat().st_size / 1e6
    if "--no-browser" in sys.argv or not Path(CHROMIUM).exists():
        for label, path in pages.items():
            size = path.stat().st_size / 1e6
            print(f"  {label} : {size:.2f} Mo (objectif {GOALS['size']:.0f} Mo : ×{size / GOALS['size']:.2f} ; "
                  f"folium.GeoJson {ref_size:.2f} Mo)")
        return
    got = measure(pages, reference, runs)
    s_ref, w_ref = got["open"]["folium"]
    for label, path in pages.items():
        size = path.stat().st_size / 1e6
        s, w = got["open"][label]
        sync, frame = got["click"][label]
        print(f"{label} :")
        print(f"  taille {size:.2f} Mo | folium.GeoJson {ref_size:.2f} Mo (×{size / ref_size:.2f}) | objectif "
              f"< {GOALS['size']:.0f} Mo : ×{size / GOALS['size']:.2f} (issue 30 : {BEFORE['size']} Mo)")
        print(f"  ouverture {s:.2f} s (goto→prêt {w:.2f} s) | folium.GeoJson {s_ref:.2f} s (goto→load {w_ref:.2f} s, "
              f"×{s / s_ref:.2f}) | objectif < {GOALS['open']:.0f} s : ×{s / GOALS['open']:.2f} "
              f"(issue 30 : {BEFORE['open']} s)")
        print(f"  clic (jusqu'à l'image suivante) {frame:.0f} ms, dont {sync:.0f} ms de script | objectif "
              f"< {GOALS['click']:.0f} ms : ×{frame / GOALS['click']:.2f} (issue 30 : {BEFORE['click']:.0f} ms)")
    print(f"Charge à la fin (1, 5, 15 min) : {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"Fichiers : {tmp}")


if __name__ == "__main__":
    main()
