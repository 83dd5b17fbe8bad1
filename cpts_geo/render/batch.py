"""Maps of an area (a region or a department) and batch mapping of a whole registry.

:func:`area_maps` writes the interactive HTML map and the print PNG of one region (or one
department) of a validated registry: CPTS reaching beyond the area are built whole, the
communes shown are those of the area. :func:`batch_maps` does it for every region present in
a registry (and optionally every department), writes an ``index.html`` linking the maps and
a CSV summary, and skips a map only when both its inputs and its own files are unchanged since
the last run: ``manifest.json`` keeps a hash of the registry rows of the area, the package
version and the parameters, and the sha256 of each file written. A map overwritten by another
one, truncated or deleted is rebuilt; an unreadable manifest is said and every map rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from cpts_geo.domain.codes import city_of, department_of, is_in
from cpts_geo.domain.communes import load_communes
from cpts_geo.domain.french import fold, percent
from cpts_geo.domain.metadata import layer_metadata
from cpts_geo.domain.registry import CheckedRegistry
from cpts_geo.domain.territories import build_territories, communes_with_cpts
from cpts_geo.io.files import atomic_write_text, output_set, write_csv

__all__ = [
    "area_maps",
    "batch_maps",
    "slug",
]

ILLUSTRATIVE_SUBTITLE = ("Registre ILLUSTRATIF (compositions fictives construites à partir des EPCI) — "
                         "ce n'est pas la carte réelle des CPTS")



def slug(text: str) -> str:
    """File-name form of a place name.

    Parameters
    ----------
    text : str
        A place name, with accents, spaces and punctuation.

    Returns
    -------
    str
        Lower-case ASCII letters and digits joined by ``-``.

    Examples
    --------
    >>> slug("Provence-Alpes-Côte d'Azur")
    'provence-alpes-cote-d-azur'
    """
    return fold(text).replace(" ", "-")



def area_maps(
    checked: CheckedRegistry,
    *,
    region: str | None = None,
    department: str | None = None,
    html_path: str | Path,
    png: bool = True,
    dpi: int = 200,
    illustrative: bool = False,
    tiles: str | None = None,
    fond: str | None = None,
    fond_attribution: str | None = None,
    communes: gpd.GeoDataFrame | None = None,
    column: str | None = None,
) -> dict:
    """Write the HTML (and PNG) stage maps of one region or department; return a summary.

    Parameters are checked before anything is written. A CPTS that crosses the border of the
    area is drawn whole. The HTML and the PNG are written together
    (:func:`cpts_geo.io.files.output_set`): when one fails, neither is left, and files of the
    same names stay as they were.

    Parameters
    ----------
    checked : CheckedRegistry
        A validated registry (:func:`cpts_geo.domain.registry.validate_registry`).
    region, department : str, optional
        The area to map: an INSEE region code (``"32"``) or a department code (``"59"``).
    html_path : str or Path
        The HTML map to write; the PNG is written beside it with the suffix ``.png``.
    png : bool, default True
        Also write the print map.
    dpi : int, default 200
        Resolution of the PNG (checked by :func:`cpts_geo.render.plotting.check_dpi`).
    illustrative : bool, default False
        The registry is illustrative: the maps carry a subtitle and a caption saying so.
    tiles : str, optional
        Former name of ``fond``.
    fond, fond_attribution : str, optional
        The optional background map of :func:`cpts_geo.render.maps.stage_map`.
    communes : GeoDataFrame, optional
        The communes of France to use (e.g. with a user's population from
        :func:`cpts_geo.io.communes.with_population`); default: the embedded layer.
    column : str, optional
        What colours the CPTS (:func:`cpts_geo.render.style.territory_fill`): ``"stage"``,
        ``"tier"``, ``"cpts"`` or an indicator; default: the stage when any is given, one colour
        per CPTS distinct from its neighbours' otherwise.

    Returns
    -------
    dict
        ``area`` (its French name), ``html`` and ``png`` (paths, ``png`` None when not
        written), ``n_cpts``, ``n_communes``, ``covered`` (communes in a CPTS),
        ``population``, ``covered_population`` and ``size_mb`` (size of the HTML file).
    """
    from cpts_geo.render.maps import _fond, save_map, stage_map
    from cpts_geo.render.plotting import check_dpi

    if png:
        check_dpi(dpi)
    if column is not None:  # a wrong choice is said before anything is computed
        from cpts_geo.render.style import check_color

        check_color(column)
    fond = fond or tiles
    _fond(fond, fond_attribution)

    france = communes
    if france is None:
        communes = load_communes(region=region, departments=department)
    else:
        codes = load_communes(region=region, departments=department, crs=None).index
        communes = france[france.index.isin(codes)]
    member_all = checked.membership
    inside = is_in(member_all["code"], communes.index) | is_in(department_of(member_all["code"]),
                                                                   communes["department"].unique())
    ids = sorted(set(member_all.loc[inside, "cpts_id"]))
    member = member_all[member_all["cpts_id"].isin(ids)]
    local = checked._replace(membership=member, cpts=checked.cpts.loc[ids])
    # a CPTS may reach beyond the area: build it whole, from all its departments
    deps = set(department_of(member["code"])) | set(communes["department"])
    everywhere = load_communes() if france is None else france  # (selecting by code: no name to look up)
    around = everywhere[everywhere["department"].isin(deps)]
    terr = build_territories(local, around, parts=False)
    # a commune of the area, or an arrondissement of one of its cities (Paris, Lyon, Marseille)
    city = city_of(member["code"])
    shown = member[city.isin(communes.index).to_numpy()]
    layer = communes_with_cpts(local._replace(membership=shown), communes)
    name = (communes["region_name"].iloc[0] if department is None
            else f"{communes['department_name'].iloc[0]} ({department})")
    title = f"CPTS — {name}"
    subtitle = ILLUSTRATIVE_SUBTITLE if illustrative else None
    html_path = Path(html_path)
    png_path = None
    with output_set():  # the HTML and the PNG both, or neither (nor a user's file replaced)
        save_map(stage_map(terr, layer, membership=shown, title=title, subtitle=subtitle, fond=fond,
                           fond_attribution=fond_attribution, column=column),
                 html_path)
        if png:
            from cpts_geo.render.plotting import _map_figure, plot_stages, save_figure

            # drawn at the resolution it is written at, with room for the legend: the text is
            # measured once, for the layout and the drawing
            ax = plot_stages(terr, layer, ax=_map_figure(terr, dpi=dpi), title=title, column=column,
                             membership=shown, caption=("Registre illustratif. " if illustrative else "")
                             + f"Sources : {layer_metadata(communes).source or 'couche communale'}.")
            png_path = save_figure(ax, html_path.with_suffix(".png"), dpi=dpi)
    return {"area": name, "html": html_path, "png": png_path, "n_cpts": len(terr),
            "n_communes": len(communes), "covered": int(layer["covered"].sum()),
            "population": int(communes["population"].sum()),
            "covered_population": int((layer["population"].fillna(0) * layer["share"]).sum()),
            "size_mb": html_path.stat().st_size / 1e6}



def _digest(checked: CheckedRegistry, area_codes: pd.Index, params: dict[str, Any]) -> str:
    from cpts_geo import __version__

    member = checked.membership[is_in(checked.membership["code"], area_codes)]
    ids = sorted(set(member["cpts_id"]))
    rows = checked.membership[checked.membership["cpts_id"].isin(ids)]
    h = hashlib.sha256()
    h.update(__version__.encode())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    h.update(rows[["code", "cpts_id", "share"]].to_csv(index=False).encode())
    h.update(checked.cpts.loc[ids].astype(str).to_csv().encode())
    return h.hexdigest()



def batch_maps(
    checked: CheckedRegistry,
    out: str | Path,
    *,
    departments: bool = False,
    png: bool = True,
    dpi: int = 200,
    force: bool = False,
    illustrative: bool = False,
    progress: Callable[[str], None] | None = print,
    communes: gpd.GeoDataFrame | None = None,
    column: str | None = None,
) -> pd.DataFrame:
    """Maps of every region (and department) present in a validated registry.

    ``out/index.html`` links every map; a map whose inputs and file are unchanged since the last
    run (``out/manifest.json``) is skipped unless ``force``.

    Parameters
    ----------
    checked : CheckedRegistry
        A validated registry (:func:`cpts_geo.domain.registry.validate_registry`).
    out : str or Path
        The output folder, created if needed.
    departments : bool, default False
        Also write one map per department.
    png : bool, default True
        Also write the print maps.
    dpi : int, default 200
        Resolution of the PNGs.
    force : bool, default False
        Rebuild every map, even those the manifest says are up to date.
    illustrative : bool, default False
        The registry is illustrative: every map says so.
    progress : callable, optional
        Called with one French line per map (default :func:`print`; None for silence).
    communes : GeoDataFrame, optional
        The communes of France to use (e.g. with a user's population); default: the
        embedded layer.
    column : str, optional
        What colours the CPTS, as in :func:`area_maps`.

    Returns
    -------
    DataFrame
        One row per map with French headers (the population header states its vintage), also
        written to ``out/synthese.csv``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    france = load_communes(crs=None) if communes is None else communes
    vintage = layer_metadata(france).population_vintage
    codes = checked.membership["code"]
    deps_of_codes = set(department_of(codes))
    areas = [("region", r) for r in sorted(set(france.loc[france["department"].isin(deps_of_codes),
                                                             "region"]))]
    if departments:
        areas += [("department", d) for d in sorted(deps_of_codes)]
    manifest_path = out / "manifest.json"
    manifest = _read_manifest(manifest_path, progress)
    rows = []
    t0 = time.perf_counter()
    for i, (kind, code) in enumerate(areas, start=1):
        sel = france[france["region"] == code] if kind == "region" else france[france["department"] == code]
        name = sel["region_name"].iloc[0] if kind == "region" else sel["department_name"].iloc[0]
        stem = slug(name) if kind == "region" else f"{code}-{slug(name)}"
        html_path = out / f"{stem}.html"
        params = {"png": png, "dpi": dpi, "illustrative": illustrative, "kind": kind, "code": code}
        if column is not None:
            params["column"] = column
        if communes is not None:  # a user's population: the maps change with it
            params["population"] = [vintage, int(pd.util.hash_pandas_object(
                sel["population"].astype("Float64"), index=True).sum() % 2**61)]
        digest = _digest(checked, sel.index, params)
        key = f"{kind}:{code}"
        found = manifest.get(key)
        entry: dict = found if isinstance(found, dict) else {}
        files = [html_path, *([html_path.with_suffix(".png")] if png else [])]
        same_inputs = entry.get("digest") == digest and isinstance(entry.get("summary"), dict)
        same_files = same_inputs and _files_match(entry.get("files"), files)
        if not force and same_files:
            summary = entry["summary"]
            status = "inchangée"
        else:
            res = area_maps(checked, region=code if kind == "region" else None,
                            department=code if kind == "department" else None, html_path=html_path,
                            png=png, dpi=dpi, illustrative=illustrative, communes=communes, column=column)
            summary = {k: (str(v.name) if isinstance(v, Path) else v) for k, v in res.items()}
            manifest[key] = {"digest": digest, "summary": summary,
                             "files": {p.name: _file_hash(p) for p in files}}
            atomic_write_text(manifest_path, json.dumps(manifest, ensure_ascii=False, indent=1))
            status = ("refaite (fichier modifié ou absent depuis la dernière fois)"
                      if same_inputs and not force else "écrite")
        if progress:
            progress(f"[{i}/{len(areas)}] {summary['area']} : carte {status} ({html_path.name}, "
                     f"{summary['n_cpts']} CPTS) — {time.perf_counter() - t0:.0f} s")
        rows.append({"Territoire": summary["area"], "Type": "région" if kind == "region" else "département",
                     "Code": code, "Carte interactive": html_path.name,
                     "Carte imprimable": summary["png"] or "",
                     "Nombre de CPTS": summary["n_cpts"], "Communes": summary["n_communes"],
                     "Communes couvertes": summary["covered"],
                     f"Population municipale {vintage}" if vintage else "Population": summary["population"],
                     "Population couverte": summary["covered_population"],
                     "Part de la population couverte": round(summary["covered_population"]
                                                             / max(summary["population"], 1), 4)})
    table = pd.DataFrame(rows)
    write_csv(table, out / "synthese.csv", index=False)
    _index(out, table, illustrative)
    return table



def _index(out: Path, table: pd.DataFrame, illustrative: bool) -> None:
    """``out/index.html``: a link to each map (template ``templates/map_index.html``, autoescaped)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("cpts_geo.render", "templates"), autoescape=select_autoescape(["html"]),
                      keep_trailing_newline=True)
    maps = [{"area": str(rec[0]), "html": str(rec[3]), "png": str(rec[4]) if rec[4] else "", "n_cpts": rec[5],
             "covered": percent(rec[10], 0)} for rec in table.itertuples(index=False)]
    page = env.get_template("map_index.html").render(maps=maps, note=ILLUSTRATIVE_SUBTITLE if illustrative else "")
    atomic_write_text(out / "index.html", page)



def _file_hash(path: Path) -> str | None:
    """sha256 of a file's content (``None`` when it is absent)."""
    if not path.is_file():
        return None
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()



def _files_match(recorded: object, files: list[Path]) -> bool:
    """Whether every output is there with the content written last time (its own hash)."""
    if not isinstance(recorded, dict):
        return False
    return all(p.is_file() and recorded.get(p.name) == _file_hash(p) for p in files)



def _read_manifest(path: Path, progress: Callable[[str], None] | None) -> dict[str, Any]:
    """The manifest of the last run; an unreadable one (truncated…) is said and ignored."""
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, OSError):
        manifest = None
    if not isinstance(manifest, dict):
        if progress:
            progress(f"{path.name} illisible (tronqué ou modifié) : toutes les cartes sont refaites.")
        return {}
    return manifest
