"""Write time, size and opening time of the interactive maps, beside plain folium.

Run: ``python benchmarks/bench_maps.py`` (``--no-browser`` skips Chromium, ``--runs N`` sets the
number of runs, median printed; default 3). Goals (issue 17): the France map (34 875 communes)
written in under 6 s and opened in headless Chromium in under 3 s; the Hauts-de-France map at
most 1.5 MB.

Reference: a plain ``folium.GeoJson`` of the same communes with a tooltip, written by folium, with
Leaflet inlined from the installed package so that it draws offline too (folium's own page
loads Leaflet from a CDN and draws nothing without network), framed on the area with
``fit_bounds`` as our map is. For the region, the page folium gives without ``fit_bounds`` (the
whole world at zoom 1, the region a few pixels wide: Leaflet then draws almost nothing) is
also opened, the reference of the previous releases.

The France map's write time is also given for the communes simplified at run time (a layer that
is not the embedded one, e.g. read with ``read_communes``), besides the default: the embedded
communes, whose simplification is precomputed (``data/communes/simplified.parquet``).

Opening time: Chromium (``/usr/bin/chromium``, headless, no network) is driven by Playwright; the
time is from navigation start to the end of the page's scripts (``performance.now()`` at the
``load`` event: our map draws synchronously), plus the wall time of ``page.goto`` to ``load``.
The machine's load average is printed: on a shared 2-core machine, timings vary with it; the
write's processor time (``time.process_time``, one thread) is printed too, less sensitive to it.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import folium

from cpts_geo.domain.communes import load_communes
from cpts_geo.domain.registry import validate_registry
from cpts_geo.domain.territories import build_territories, communes_with_cpts
from cpts_geo.io.registry import load_example_registry
from cpts_geo.render.maps import _leaflet, save_map, stage_map

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--proxy-server=127.0.0.1:9",
         "--host-resolver-rules=MAP * ~NOTFOUND"]


def plain_folium(communes, path: Path, *, framed: bool = True) -> Path:
    m = folium.Map(tiles=None)
    folium.GeoJson(communes[["name", "population", "geometry"]].reset_index(),
                   tooltip=folium.GeoJsonTooltip(["name", "code", "population"])).add_to(m)
    if framed:
        mainland = communes[~communes.index.str.startswith("97")]
        x0, y0, x1, y1 = (mainland if len(mainland) else communes).total_bounds
        m.fit_bounds([[y0, x0], [y1, x1]])
    m.save(str(path))
    js, css = _leaflet()
    page = path.read_text(encoding="utf-8")
    import re

    page = re.sub(r'<script src="[^"]*leaflet[^"]*\.js"></script>', lambda _: f"<script>{js}</script>", page, count=1)
    page = re.sub(r'<link rel="stylesheet" href="[^"]*leaflet[^"]*\.css"/>', lambda _: f"<style>{css}</style>", page,
                  count=1)
    path.write_text(page, encoding="utf-8")
    return path


def open_times(paths: list[Path], runs: int) -> dict[Path, tuple[float, float]]:
    from playwright.sync_api import sync_playwright

    out: dict[Path, list[tuple[float, float]]] = {p: [] for p in paths}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        for _ in range(runs):
            for path in paths:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                t0 = time.perf_counter()
                page.goto(path.as_uri(), wait_until="load", timeout=300_000)
                wall = time.perf_counter() - t0
                script = page.evaluate("performance.now()") / 1000
                out[path].append((script, wall))
                page.close()
        browser.close()
    return {p: (statistics.median(v[0] for v in vals), statistics.median(v[1] for v in vals))
            for p, vals in out.items()}


def main() -> None:
    browser = "--no-browser" not in sys.argv and Path(CHROMIUM).exists()
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    tmp = Path(tempfile.mkdtemp(prefix="bench-maps-"))
    print(f"Charge de la machine (1, 5, 15 min) : {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"pour {os.cpu_count()} cœurs ; médianes de {runs} exécutions")
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
        ours = tmp / f"{label[:6]}.html"
        t_build, cpu_build = [], []
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            save_map(stage_map(terr, layer, membership=checked.membership), ours)
            t_build.append(time.perf_counter() - t0)
            cpu_build.append(time.process_time() - c0)
        ref = tmp / f"{label[:6]}-folium.html"
        t0 = time.perf_counter()
        plain_folium(layer, ref)
        t_ref = time.perf_counter() - t0
        size, ref_size = ours.stat().st_size / 1e6, ref.stat().st_size / 1e6
        write = statistics.median(t_build)
        print(f"{label} : {len(layer)} communes, {len(terr)} CPTS")
        print(f"  cpts_geo : {size:6.2f} Mo, écrite en {write:.2f} s (médiane de {', '.join(f'{t:.2f}' for t in t_build)}) ; "
              f"temps processeur {statistics.median(cpu_build):.2f} s")
        if label.startswith("France"):
            # the same map from a layer that is not the embedded one: simplified at run time
            t0 = time.perf_counter()
            with mock.patch("cpts_geo.render.maps._precomputed_rings", return_value=None):
                save_map(stage_map(terr, layer, membership=checked.membership), tmp / "France-calculee.html")
            print(f"  cpts_geo, simplification calculée à l'exécution : écrite en {time.perf_counter() - t0:.2f} s (une fois)")
        print(f"  folium.GeoJson : {ref_size:6.2f} Mo, écrite en {t_ref:.2f} s (une fois) ; "
              f"taille ×{size / ref_size:.3f}, écriture ×{write / t_ref:.2f}")
        if browser:
            world = None if label.startswith("France") else plain_folium(layer, tmp / f"{label[:6]}-folium-monde.html",
                                                                         framed=False)
            times = open_times([ours, ref] + ([world] if world else []), runs)
            (s_ours, w_ours), (s_ref, w_ref) = times[ours], times[ref]
            print(f"  ouverture dans Chromium : cpts_geo {s_ours:.2f} s (goto→load {w_ours:.2f} s) ; "
                  f"folium.GeoJson cadré {s_ref:.2f} s (goto→load {w_ref:.2f} s) ; ×{s_ours / s_ref:.2f}")
            if world:
                s_w, w_w = times[world]
                print(f"  folium.GeoJson sans cadrage (monde au zoom 1) {s_w:.2f} s (goto→load {w_w:.2f} s) ; "
                      f"×{s_ours / s_w:.2f}")
            if label.startswith("France"):
                print(f"  objectifs France : écriture {write:.2f} s / 6 s (×{write / 6:.2f}), "
                      f"ouverture {s_ours:.2f} s / 3 s (×{s_ours / 3:.2f})")
        elif label.startswith("France"):
            print(f"  objectif France : écriture {write:.2f} s / 6 s (×{write / 6:.2f})")
    print(f"Charge à la fin (1, 5, 15 min) : {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"Fichiers : {tmp}")


if __name__ == "__main__":
    main()
