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

**Whole commands** (issue 30; ``--commandes`` runs only them, ``--html`` only the maps above;
``--carte`` or ``--cartes`` only one of them):

- ``cpts-geo carte`` (the README's first command: the Hauts-de-France map of the illustrative
  registry, HTML and PNG at 200 dpi), run as a whole process (``python -m cpts_geo carte``),
  alternately with the same command ``--sans-png`` and with two hand-written geopandas
  scripts. The reference of the goal, :data:`REFERENCE`, is the one the issue describes: read
  the embedded communes and the registry, ``dissolve`` by CPTS, ``explore()`` coloured by stage
  and saved, ``plot()`` coloured by stage with its legend and
  ``savefig(dpi=200, bbox_inches="tight")``. :data:`REFERENCE_MAP` draws the map ``carte``
  draws (zones blanches, commune, department and CPTS borders, each CPTS named, a title), for
  comparison. Goal: a ratio to :data:`REFERENCE` of at most 1,0 (median of the pairwise ratios
  of wall times).
- ``cpts-geo cartes`` on a national registry (one CPTS per EPCI, 1 253 CPTS, all at « ACI
  signé »): the maps of the 18 regions, HTML and PNG, into a new folder each run, alternately
  with the same command ``--sans-png``. Goal: under 30 s at a load of at most 2.

Each process is timed from start to exit (wall time) and by its processor time (user + system,
``os.wait4``), after one unmeasured run of each (file cache); the one-minute load average is
read before each run and printed beside the medians. ``--avant CHECKOUT`` also runs the
commands of another checkout of the package (e.g. ``/work/main``), alternately with ours.
"""

from __future__ import annotations

import os
import statistics
import subprocess
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

HERE = Path(__file__).resolve().parent

_READ = """\
import sys

import matplotlib

matplotlib.use("Agg")
import geopandas as gpd
import matplotlib.pyplot as plt
import pandas as pd

communes_path, registry_path, html, png = sys.argv[1:5]
communes = gpd.read_parquet(communes_path)
communes = communes[communes["region"] == "32"]
registry = pd.read_csv(registry_path, sep=";", dtype=str)
members = communes.join(registry.set_index("commune_code")[["cpts_id", "cpts_name", "stage"]], how="inner")
terr = members.dissolve("cpts_id", aggfunc={"cpts_name": "first", "stage": "first", "population": "sum"})
stages = ["Dynamique identifiée", "Lettre d'intention validée", "Association créée",
          "Projet de santé validé", "ACI signé"]
terr["stage"] = pd.Categorical(terr["stage"], categories=stages, ordered=True)
m = terr.explore(column="stage", cmap="YlGnBu", tooltip=["cpts_name", "stage", "population"],
                 legend_kwds={"caption": "Étape du projet"})
m.save(html)
"""

#: The reference of ``cpts-geo carte``: the hand-written geopandas script of the issue
#: (dissolve, ``explore()`` saved, ``plot()`` by stage with its legend, ``savefig``).
REFERENCE = _READ + """\
ax = terr.to_crs(2154).plot(column="stage", cmap="YlGnBu", legend=True, figsize=(8.27, 8.27),
                            legend_kwds={"title": "Étape du projet", "loc": "upper left", "bbox_to_anchor": (1, 1)})
ax.set_axis_off()
ax.figure.savefig(png, dpi=200, bbox_inches="tight")
"""

#: The same script drawing the map ``carte`` draws: zones blanches, commune, department and
#: CPTS borders, each CPTS named at a representative point, a title.
REFERENCE_MAP = _READ + """\
metric = communes.to_crs(2154)
terr = terr.to_crs(2154)
fig, ax = plt.subplots(figsize=(8.27, 8.27))
metric[~metric.index.isin(registry["commune_code"])].plot(ax=ax, color="#d9d9d9")
terr.plot(ax=ax, column="stage", cmap="YlGnBu", legend=True,
          legend_kwds={"title": "Étape du projet", "loc": "upper left", "bbox_to_anchor": (1, 1)})
metric.boundary.plot(ax=ax, color="#7f7f7f", linewidth=0.12)
metric.dissolve("department").boundary.plot(ax=ax, color="black", linewidth=1.3, linestyle="--")
terr.boundary.plot(ax=ax, color="#262626", linewidth=0.5)
for name, point in zip(terr["cpts_name"], terr.representative_point()):
    ax.annotate(name, (point.x, point.y), ha="center", fontsize=5)
ax.set_title("CPTS — Hauts-de-France", loc="left")
ax.set_axis_off()
fig.savefig(png, dpi=200, bbox_inches="tight")
"""

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


def html_maps(runs: int, browser: bool) -> None:
    """The HTML maps written in-process, their size and opening time, beside plain folium."""
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


def _fr(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}".replace(".", ",")


class Run:
    """One whole process: wall time, processor time (user + system), load before it."""

    def __init__(self, cmd: list[str], cwd: Path, tmp: Path) -> None:
        env = {**os.environ, "MPLBACKEND": "Agg"}
        env.pop("PYTHONPATH", None)
        self.load = os.getloadavg()[0]
        err = tmp / "stderr.txt"
        with err.open("wb") as stderr:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
            _, status, usage = os.wait4(proc.pid, 0)
            self.wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        self.cpu = usage.ru_utime + usage.ru_stime
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, cmd))} : code {proc.returncode}\n"
                               + err.read_text(encoding="utf-8", errors="replace")[-3000:])


def _alternate(commands: dict[str, tuple[list[str], Path]], runs: int, tmp: Path,
               fresh: str | None = None) -> dict[str, list[Run]]:
    """Run each command once unmeasured, then ``runs`` rounds of all of them, alternated.

    ``fresh``: an argument of the commands replaced by a new folder at each run (outputs
    written from scratch)."""
    def argv(cmd: list[str], n: int, name: str) -> list[str]:
        if fresh is None:
            return cmd
        return [str(tmp / f"{name}-{n}") if a == fresh else a for a in cmd]

    out: dict[str, list[Run]] = {name: [] for name in commands}
    for name, (cmd, cwd) in commands.items():
        Run(argv(cmd, -1, name), cwd, tmp)
    for n in range(runs):
        for name, (cmd, cwd) in commands.items():
            out[name].append(Run(argv(cmd, n, name), cwd, tmp))
    return out


def _summary(label: str, runs: list[Run]) -> str:
    loads = sorted(r.load for r in runs)
    return (f"  {label} : {_fr(statistics.median(r.wall for r in runs))} s "
            f"(de {_fr(min(r.wall for r in runs))} à {_fr(max(r.wall for r in runs))}) ; "
            f"processeur {_fr(statistics.median(r.cpu for r in runs))} s ; "
            f"charge {_fr(loads[0], 1)} à {_fr(loads[-1], 1)}")


def _ratio(a: list[Run], b: list[Run]) -> tuple[float, float]:
    """Median of the pairwise ratios of wall times, and ratio of the median processor times."""
    wall = statistics.median(x.wall / y.wall for x, y in zip(a, b))
    return wall, statistics.median(x.cpu for x in a) / statistics.median(y.cpu for y in b)


def commands(runs: int, before: Path | None, which: tuple[str, ...] = ("carte", "cartes")) -> None:
    """``cpts-geo carte`` beside the hand-written geopandas scripts; ``cpts-geo cartes`` of 18 regions."""
    from cpts_geo.data.communes import data_file

    root = HERE.parent
    tmp = Path(tempfile.mkdtemp(prefix="bench-commandes-"))
    py = sys.executable
    print(f"Commandes entières (processus), {runs} exécutions alternées ; charge (1, 5, 15 min) au "
          f"départ : {', '.join(_fr(x, 1) for x in os.getloadavg())} pour {os.cpu_count()} cœurs")

    if "carte" in which:  # the Hauts-de-France map of the illustrative registry
        registry = root / "cpts_geo" / "data" / "registre_cpts_hdf_illustratif.csv"
        carte = [py, "-m", "cpts_geo", "carte", "-o", str(tmp / "carte" / "hauts-de-france.html")]
        todo = {"cpts-geo carte": (carte, root),
                "cpts-geo carte --sans-png": ([*carte[:-1], str(tmp / "carte-html" / "hauts-de-france.html"),
                                               "--sans-png"], root)}
        for name, script in (("script geopandas (référence)", REFERENCE),
                             ("script geopandas, même carte", REFERENCE_MAP)):
            path = tmp / f"{len(todo)}.py"
            path.write_text(script, encoding="utf-8")
            todo[name] = ([py, str(path), str(data_file("communes.parquet")), str(registry),
                           str(tmp / f"{path.stem}.html"), str(tmp / f"{path.stem}.png")], root)
        if before is not None:
            todo["version précédente, carte"] = ([*carte[:-1], str(tmp / "avant" / "hauts-de-france.html")],
                                                 before)
        res = _alternate(todo, runs, tmp)
        print("cpts-geo carte (Hauts-de-France, registre illustratif, HTML + PNG 200 ppp) :")
        for name, rs in res.items():
            print(_summary(name, rs))
        wall, cpu = _ratio(res["cpts-geo carte"], res["script geopandas (référence)"])
        png = 1 - statistics.median(r.wall for r in res["cpts-geo carte --sans-png"]) \
            / statistics.median(r.wall for r in res["cpts-geo carte"])
        print(f"  ratio à la référence : ×{_fr(wall)} (processeur ×{_fr(cpu)}) ; objectif ≤ 1,0 : "
              f"{'atteint' if wall <= 1.0 else 'non atteint'} ; part du PNG dans l'attente : {_fr(100 * png, 0)} %")
        w, c = _ratio(res["cpts-geo carte"], res["script geopandas, même carte"])
        print(f"  ratio au script qui dessine la même carte : ×{_fr(w)} (processeur ×{_fr(c)})")
        if before is not None:
            w, c = _ratio(res["cpts-geo carte"], res["version précédente, carte"])
            print(f"  par rapport à la version précédente : ×{_fr(w)} (processeur ×{_fr(c)})")

    if "cartes" in which:  # the 18 regions of a national registry, one CPTS per EPCI
        communes = load_communes(crs=None)
        national = tmp / "registre_national.csv"
        communes.reset_index()[["code", "epci", "epci_name"]].dropna().rename(
            columns={"code": "commune_code", "epci": "cpts_id", "epci_name": "cpts_name"}).assign(
            stage="ACI signé").to_csv(national, sep=";", index=False)
        cartes = [py, "-m", "cpts_geo", "cartes", str(national), "-o", "DOSSIER"]
        todo = {"cpts-geo cartes": (cartes, root), "cpts-geo cartes --sans-png": ([*cartes, "--sans-png"], root)}
        if before is not None:
            todo["version précédente, cartes"] = (cartes, before)
        res = _alternate(todo, runs, tmp, fresh="DOSSIER")
        n = communes.loc[communes["epci"].notna(), "epci"].nunique()
        print(f"cpts-geo cartes (registre national, une CPTS par EPCI : {n} CPTS, 18 régions, HTML + PNG) :")
        for name, rs in res.items():
            print(_summary(name, rs))
        t = statistics.median(r.wall for r in res["cpts-geo cartes"])
        load = statistics.median(r.load for r in res["cpts-geo cartes"])
        png = 1 - statistics.median(r.wall for r in res["cpts-geo cartes --sans-png"]) / t
        print(f"  objectif < 30 s à charge ≤ 2 : {_fr(t, 1)} s à charge {_fr(load, 1)} "
              f"(×{_fr(t / 30)} de l'objectif) : {'atteint' if t < 30 else 'non atteint'}"
              f"{'' if load <= 2 else ' (charge au-dessus de 2)'} ; part des PNG : {_fr(100 * png, 0)} %")
        if before is not None:
            w, c = _ratio(res["cpts-geo cartes"], res["version précédente, cartes"])
            print(f"  par rapport à la version précédente : ×{_fr(w)} (processeur ×{_fr(c)})")
    print(f"Charge à la fin (1, 5, 15 min) : {', '.join(_fr(x, 1) for x in os.getloadavg())} ; fichiers : {tmp}")


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--commandes", action="store_true", help="only the whole commands")
    parser.add_argument("--html", action="store_true", help="only the HTML maps written in-process")
    parser.add_argument("--carte", action="store_true", help="only the command carte")
    parser.add_argument("--cartes", action="store_true", help="only the command cartes")
    parser.add_argument("--avant", type=Path, help="another checkout whose commands are run too")
    args = parser.parse_args(argv)
    only = tuple(name for name in ("carte", "cartes") if getattr(args, name))
    if not (args.commandes or only):
        html_maps(args.runs, browser=not args.no_browser and Path(CHROMIUM).exists())
    if not args.html:
        commands(args.runs, args.avant, only or ("carte", "cartes"))


if __name__ == "__main__":
    main()
