"""Size and opening time of the interactive maps (issue: regional maps).

Run: ``python benchmarks/bench_maps.py`` (add ``--no-browser`` to skip Chromium).
Targets: the Hauts-de-France map at most 1.5 MB (reference: a plain ``folium.GeoJson`` of the
same communes, 4.7 MB in the issue); all of France's communes at most 10 MB (plain folium:
53 MB) opening in headless Chromium in under 5 s. The references are built in the same run.
Opening time: Chromium is started on the file with ``--dump-dom``; the page records
``performance.now()`` once the map's script has drawn every polygon, and the wall time of the
whole browser run is printed beside it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import folium

from cpts_geo.communes import load_communes
from cpts_geo.maps import save_map, stage_map
from cpts_geo.registry import validate_registry
from cpts_geo.territories import build_territories, communes_with_cpts, load_example_registry

PROBE = """<script>window.addEventListener("load", function () {
  var p = document.createElement("pre"); p.id = "bench";
  p.textContent = String(performance.now()) + " " + (window.cptsGeo ? window.cptsGeo.nCommunes : -1);
  document.body.appendChild(p);
});</script>"""


def plain_folium(communes, path: Path) -> Path:
    m = folium.Map(tiles=None)
    folium.GeoJson(communes[["name", "population", "geometry"]].reset_index(),
                   tooltip=folium.GeoJsonTooltip(["name", "code", "population"])).add_to(m)
    m.save(str(path))
    return path


def open_in_chromium(path: Path, tmp: Path) -> tuple[float, float, int]:
    exe = shutil.which("chromium")
    page = path.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>", 1)
    probe = tmp / ("probe-" + path.name)
    probe.write_text(page, encoding="utf-8")
    t0 = time.perf_counter()
    run = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", f"--user-data-dir={tmp / ('p-' + path.stem)}",
                          "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
                          "--window-size=1280,900", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    found = re.search(r'<pre id="bench">([\d.]+) (-?\d+)</pre>', run.stdout)
    if not found:
        return wall, float("nan"), -1
    return wall, float(found.group(1)) / 1000, int(found.group(2))


def main() -> None:
    browser = "--no-browser" not in sys.argv and shutil.which("chromium") is not None
    tmp = Path(tempfile.mkdtemp(prefix="bench-maps-"))
    rows = []
    for label, kwargs, registry in [
        ("Hauts-de-France", {"region": "32"}, load_example_registry()),
        ("France entière (DROM compris)", {}, None),
    ]:
        communes = load_communes(**kwargs)
        if registry is None:  # national map: one territory per EPCI, all at "ACI signé"
            registry = communes.reset_index()[["code", "epci"]].dropna().rename(
                columns={"code": "commune_code", "epci": "cpts_id"}).assign(stage="ACI signé")
        checked = validate_registry(registry, communes)
        terr = build_territories(checked, communes, parts=False)
        layer = communes_with_cpts(checked, communes)
        t0 = time.perf_counter()
        ours = save_map(stage_map(terr, layer, membership=checked.membership), tmp / f"{label[:6]}.html")
        t_build = time.perf_counter() - t0
        t0 = time.perf_counter()
        ref = plain_folium(layer, tmp / f"{label[:6]}-folium.html")
        t_ref = time.perf_counter() - t0
        size, ref_size = ours.stat().st_size / 1e6, ref.stat().st_size / 1e6
        print(f"{label} : {len(layer)} communes, {len(terr)} CPTS")
        print(f"  cpts_geo : {size:6.2f} Mo (écrite en {t_build:.1f} s)")
        print(f"  référence folium.GeoJson : {ref_size:6.2f} Mo (écrite en {t_ref:.1f} s) ; "
              f"rapport de taille {size / ref_size:.3f}")
        if browser:
            wall, drawn, n = open_in_chromium(ours, tmp)
            print(f"  ouverture dans Chromium headless : page chargée en {drawn:.2f} s "
                  f"({n} communes dessinées), exécution complète {wall:.2f} s")
            if label.startswith("France"):
                wall_ref, drawn_ref, _ = open_in_chromium(ref, tmp)
                print(f"  référence folium (hors ligne : Leaflet absent, rien n'est dessiné) : "
                      f"exécution {wall_ref:.2f} s")
        rows.append((label, size, ref_size))
    print(f"Cibles : Hauts-de-France ≤ 1,5 Mo ; France ≤ 10 Mo et ouverture < 5 s. Fichiers : {tmp}")


if __name__ == "__main__":
    main()
