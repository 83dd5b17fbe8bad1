"""The CPTS portrait: the printable territorial diagnosis of one CPTS, or of every CPTS of a region.

The « premiers éléments de diagnostic territorial » of a lettre d'intention (fiche 4 of the URPS
Hauts-de-France guide) and the pré-diagnostic of the réunion d'information territoriale (fiche 5),
as one self-contained HTML page (no network, prints on A4) and, with WeasyPrint, a PDF.

Every figure comes from a library function; this module only chooses, orders and prints them:

1. identity: :func:`cpts_geo.domain.territories.build_territories` (population, tier from
   :func:`cpts_geo.domain.tiers.tier_of` with :data:`cpts_geo.domain.tiers.TIER_RULES`, area, departments),
   neighbouring CPTS and zones blanches from :func:`cpts_geo.domain.territories.communes_with_cpts`;
2. a print map drawn by :func:`cpts_geo.render.plotting.plot_stages`;
3. ACI funding: :func:`cpts_geo.domain.funding.aci_funding`, :func:`cpts_geo.domain.funding.early_mission_aid`;
4. population, density of population and the DREES age-standardised demand index;
5. professionals: :func:`cpts_geo.indicators.density.density` on a supply table read by
   :mod:`cpts_geo.indicators.supply`, small counts masked;
6. accessibility to GPs: the published DREES APL (:func:`cpts_geo.data.apl.load_apl`), aggregated by
   :func:`cpts_geo.indicators.accessibility.territory_accessibility` as DREES recommends;
7. patient flows: :func:`cpts_geo.indicators.flows.indicators.cpts_flow_indicators`,
   :func:`~cpts_geo.indicators.flows.indicators.leakage_destinations`, :func:`~cpts_geo.indicators.flows.secrecy.mask_secrecy`;
8. the user's own indicators (:func:`read_indicators`, :func:`aggregate_indicators`);
9. sources, vintages and caveats of what was used.

The work shared by the portraits of a region (territories, APL aggregates) is done once, in
:func:`portrait_context`. ``cpts_geo.portrait("HDF-01")`` is :func:`portrait`.

>>> ctx = portrait_context()
>>> p = build_portrait("HDF-01", context=ctx, map=False)
>>> p.name, p.illustrative
('CPTS Bohain-en-Vermandois (illustratif)', True)
>>> p.figures["population.cpts.layer"].text
'50\\xa0867'
"""

from __future__ import annotations

import base64
import dataclasses
import difflib
import hashlib
import html
import io
import json
import re
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from cpts_geo.domain.codes import is_in, normalize_codes
from cpts_geo.domain.french import fold, number, percent
from cpts_geo.errors import ValidationError
from cpts_geo.indicators.apl import aggregate_apl, apl_on_units
from cpts_geo.indicators.secrecy import protect_total, small_counts
from cpts_geo.io.files import atomic_path, atomic_write_text
from cpts_geo.io.history import read_passage_table

__all__ = [
    "AGE_BANDS",
    "Figure",
    "Portrait",
    "PortraitContext",
    "aggregate_indicators",
    "build_portrait",
    "draft_registry",
    "portrait",
    "portrait_context",
    "portrait_file_names",
    "portrait_tables",
    "portraits",
    "render_html",
    "write_pdf",
]

if TYPE_CHECKING:  # imported when needed only (a portrait starts fast)
    import geopandas as gpd
    from jinja2 import Environment
    from markupsafe import Markup

    from cpts_geo.domain.metadata import LayerMetadata
    from cpts_geo.domain.registry import CheckedRegistry
    from cpts_geo.indicators.supply import SupplyRead


#: Thousands separator in the portrait (a no-break space: numbers never break across lines).
SEP = "\u00a0"


#: Age bands of the population-by-age table (lower bounds; the last is open).
AGE_BANDS = (0, 15, 30, 45, 60, 75)


#: Aggregation rules of user indicators: French and English spellings.
_RULES = {"somme": "sum", "sum": "sum", "total": "sum",
          "moyenne": "mean", "mean": "mean", "moyenne ponderee": "mean"}


_DRAFT_ID = "PROJET"


#: The tables a portrait takes as options (hashed by content in a batch, not as parameters).
_TABLES = ("supply", "flows", "indicators", "ages", "costs")


#: A block of a section: its kind then its content (see :class:`Section`).
Block = tuple[Any, ...]


# --------------------------------------------------------------------------- figures
class Figure(NamedTuple):
    """One printed figure: its key, the library value, and its text as printed."""

    key: str
    value: float | None
    text: str



def _fig(figures: dict[str, Figure], key: str, value: Any, decimals: int | None = 0, *, kind: str = "number",
         unit: str = "") -> Figure:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        text = "non disponible"
        value = None
    elif kind == "percent":
        text = percent(value, decimals, sep=SEP)
    else:
        text = number(value, decimals, sep=SEP)
    if unit and value is not None:
        text = f"{text}{SEP}{unit}"
    f = Figure(key, None if value is None else float(value), text)
    figures[key] = f
    return f



def _plain_text(value: object) -> str:
    """A cell as plain text: figures by their printed text."""
    if isinstance(value, list):
        return "".join(_plain_text(x) for x in value)
    return value.text if isinstance(value, Figure) else str(value)



@dataclass(frozen=True)
class Table:
    """A table of the portrait: French headers, cells of text or :class:`Figure`."""

    caption: str
    headers: tuple
    rows: tuple
    numeric: tuple = ()
    long: bool = False
    classes: tuple = ()


    def to_frame(self) -> pd.DataFrame:
        """The table as printed (French headers, French numbers as text), for a notebook."""
        frame = pd.DataFrame([[_plain_text(v) for v in row] for row in self.rows], columns=list(self.headers))
        return frame.set_index(self.headers[0])



@dataclass(frozen=True)
class Section:
    """A section: a title and blocks (``("p", text)``, ``("note", text)``, ``("notice", text)``,
    ``("facts", [(label, text or Figure)])``, ``("table", Table)``, ``("figure", uri, caption)``,
    ``("list", [text])``)."""

    key: str
    title: str
    blocks: tuple
    page_break: bool = False



@dataclass(frozen=True)
class Portrait:
    """The portrait of one CPTS: sections ready to print, every figure, and the reports.

    ``figures`` maps a key (``"apl.cpts.2023"``…) to the :class:`Figure` printed;
    ``reports`` holds what was remapped or left out (APL codes without commune…), as tables.
    """

    cpts_id: str
    name: str
    illustrative: bool
    sections: tuple
    figures: dict = field(default_factory=dict)
    reports: dict = field(default_factory=dict)
    sources: tuple = ()


# --------------------------------------------------------------------------- context
class PortraitContext(NamedTuple):
    """What every portrait of a registry shares, computed once by :func:`portrait_context`."""

    checked: CheckedRegistry
    communes: gpd.GeoDataFrame
    territories: gpd.GeoDataFrame
    layer: gpd.GeoDataFrame
    france: pd.DataFrame
    apl: pd.DataFrame
    apl_unmatched: pd.DataFrame
    units: pd.DataFrame
    illustrative: bool
    draft: bool



def draft_registry(codes: Iterable[str], *, name: str = "Projet de CPTS",
                   stage: str = "Dynamique identifiée") -> pd.DataFrame:
    """A registry of one draft perimeter (a list of commune codes), id ``PROJET``.

    Parameters
    ----------
    codes : iterable of str
        The INSEE codes of the draft's communes.
    name : str, default "Projet de CPTS"
        The name printed on the portrait.
    stage : str, default "Dynamique identifiée"
        The stage given to the draft.

    Returns
    -------
    DataFrame
        Registry columns ``cpts_id``, ``cpts_name``, ``stage``, ``commune_code``, one row per code.

    Examples
    --------
    >>> draft_registry(["80021", "80001"], name="Projet Amiens")[["cpts_id", "commune_code"]].values.tolist()
    [['PROJET', '80021'], ['PROJET', '80001']]
    """
    codes = [str(c).strip() for c in codes]
    if not codes:
        raise ValueError("Périmètre vide : donnez au moins un code commune (ex. 80021).")
    return pd.DataFrame({"cpts_id": _DRAFT_ID, "cpts_name": name, "stage": stage,
                         "commune_code": codes})



def _metadata(frame: pd.DataFrame) -> LayerMetadata:
    """:func:`cpts_geo.domain.metadata.layer_metadata`, imported when needed."""
    from cpts_geo.domain.metadata import layer_metadata

    return layer_metadata(frame)



@lru_cache(maxsize=1)
def _france() -> pd.DataFrame:
    from cpts_geo.domain.communes import load_communes
    from cpts_geo.domain.crs import split_by_metric_crs
    from cpts_geo.domain.metadata import layer_metadata, set_layer_metadata

    france = load_communes()
    area = np.full(len(france), np.nan)
    for crs, pos in split_by_metric_crs(france.index).items():  # one metric CRS per DROM
        area[pos] = france.geometry.iloc[pos].to_crs(crs).area.to_numpy() / 1e6
    out = pd.DataFrame(france.drop(columns="geometry"))
    out["area_km2"] = area
    # object labels, like the registry's codes: a look-up of a few codes in 35 000 Arrow
    # strings with codes of another dtype converts the whole index every time
    out.index = out.index.astype(object)
    return set_layer_metadata(out, layer_metadata(france), inplace=True)









def portrait_context(
    registry: Any = None,
    *,
    communes: gpd.GeoDataFrame | None = None,
    passage: Any = None,
    check_names: bool = True,
) -> PortraitContext:
    """Validate a registry and compute what its portraits share (territories, APL aggregates).

    Parameters
    ----------
    registry : DataFrame, path, CheckedRegistry or list of codes, optional
        The registry (default: the embedded illustrative Hauts-de-France registry); a list of
        commune codes is a draft perimeter (:func:`draft_registry`).
    communes : GeoDataFrame, optional
        The commune layer (default: the embedded layer of the departments the registry touches).
    passage : optional
        INSEE passage table for former codes of the registry.

    Returns
    -------
    PortraitContext
    """
    from cpts_geo.domain.codes import department_of
    from cpts_geo.domain.communes import load_communes
    from cpts_geo.domain.registry import CheckedRegistry, RegistryRead, validate_registry
    from cpts_geo.domain.territories import build_territories, communes_with_cpts
    from cpts_geo.io.registry import is_example_registry, load_example_registry, read_registry

    illustrative = registry is None
    draft = False
    if registry is None:
        registry = load_example_registry()
    elif isinstance(registry, (list, tuple, pd.Index, pd.Series)) \
            and not isinstance(registry, (RegistryRead, CheckedRegistry)):  # NamedTuples are tuples too
        registry = draft_registry(list(registry))
        draft = True
    elif isinstance(registry, (str, Path)):
        registry = read_registry(registry)
    if isinstance(registry, RegistryRead):
        illustrative, registry = is_example_registry(registry), registry.registry
    if isinstance(registry, pd.DataFrame):
        illustrative = illustrative or is_example_registry(registry)
        draft = draft or set(registry.get("cpts_id", pd.Series(dtype=str)).astype(str)) == {_DRAFT_ID}
    france = _france()
    if communes is None:
        if isinstance(registry, CheckedRegistry):
            codes = registry.membership["code"]
        else:
            from cpts_geo.domain.registry import recognise_column

            col = next((c for c in registry.columns if recognise_column(c) == "commune_code"), None)
            codes = normalize_codes(registry[col])[0].astype(str) if col else pd.Series([], dtype=str)
        deps = sorted(set(department_of(pd.Series(codes, dtype="string")).dropna()) & set(france["department"]))
        communes = load_communes(departments=deps) if deps else load_communes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # repairs are in checked.report
        checked = registry if isinstance(registry, CheckedRegistry) else validate_registry(
            registry, communes, passage=read_passage_table(passage) if passage is not None else None,
            check_names=check_names)
        territories = build_territories(checked, communes, parts=False)
        layer = communes_with_cpts(checked, communes)
    apl, unmatched = apl_on_units(france, checked.membership)
    units = aggregate_apl(apl, checked.membership)
    return PortraitContext(checked, communes, territories, layer, france, apl, unmatched, units,
                           illustrative, draft)



def _suggest(cpts_id: str, cpts: pd.DataFrame) -> str:
    import re

    ids = [str(i) for i in cpts.index]

    def bare(text: str) -> str:  # "HDF-01" and "hdf 1" alike
        return re.sub(r"\b0+(\d)", r"\1", fold(text))

    near = [i for i in ids if bare(i) == bare(cpts_id)]
    near += [i for i, n in zip(ids, cpts["name"].astype(str)) if fold(cpts_id) and fold(cpts_id) in fold(n)]
    near += difflib.get_close_matches(str(cpts_id), ids, n=3, cutoff=0.5)
    names = {fold(n): i for i, n in zip(ids, cpts["name"].astype(str))}
    near += [names[n] for n in difflib.get_close_matches(fold(cpts_id), list(names), n=3, cutoff=0.5)]
    near = list(dict.fromkeys(near))[:4]
    if not near:
        return f"identifiants du registre : {', '.join(ids[:5])}{'…' if len(ids) > 5 else ''}"
    return "CPTS proches : " + ", ".join(f"{i} ({cpts.at[i, 'name']})" for i in near)



def _resolve(cpts_id: str | None, ctx: PortraitContext) -> str:
    cpts = ctx.checked.cpts
    if cpts_id is None and ctx.draft:
        return _DRAFT_ID
    if cpts_id in cpts.index:
        return str(cpts_id)
    by_name: dict[str, list] = {}
    for i, n in cpts["name"].items():
        if isinstance(n, str) and n.strip():
            by_name.setdefault(fold(n), []).append(i)
    same = by_name.get(fold(cpts_id), []) if cpts_id is not None else []
    if len(same) > 1:  # never one of them picked silently
        listed = ", ".join(f"{i} ({cpts.at[i, 'name']})" for i in same)
        raise ValueError(f"« {cpts_id} » est le nom de {len(same)} CPTS du registre : {listed} ; "
                         "désignez-la par son identifiant.")
    if same:
        return same[0]
    raise ValueError(f"CPTS « {cpts_id} » absente du registre ; {_suggest(str(cpts_id), cpts)}.")


# --------------------------------------------------------------------------- sections
def _main_area(codes_pop: pd.DataFrame, column: str) -> str:
    by = codes_pop.groupby(column)["w"].sum().sort_values(ascending=False, kind="stable")
    return str(by.index[0]) if len(by) else ""



def _touching(frame: gpd.GeoDataFrame, geom: Any) -> gpd.GeoDataFrame:
    """The rows of ``frame`` whose geometry intersects ``geom``, in their order: through the
    spatial index of ``frame`` (built once, kept by geopandas for the whole batch), not by
    testing each of the 35 000 communes or 1 250 territories of a national registry."""
    hits = frame.sindex.query(geom, predicate="intersects")
    return frame.iloc[np.sort(hits)]



def _identity(ctx: PortraitContext, cid: str, figs: dict[str, Figure], srcs: list[Any]) -> tuple[Section, Table]:
    from cpts_geo.domain.codes import positions
    from cpts_geo.domain.tiers import TIER_LABELS, TIER_RULES

    t = ctx.territories.loc[cid]
    vintage = _metadata(ctx.territories).population_vintage
    member = ctx.checked.membership[ctx.checked.membership["cpts_id"] == cid]
    # (a pyarrow look-up: pandas' intersection converts the layer's 35 000 codes at each call)
    found = positions(ctx.layer.index, member["code"])
    com = ctx.layer.iloc[np.unique(found[found >= 0])]  # in the layer's order
    facts: list[tuple[str, Any]] = [("Identifiant", str(cid)), ("Étape du projet", str(t["stage"]))]
    pop = _fig(figs, "population.cpts.layer", t["population"])
    facts.append((f"Population municipale {vintage}", pop))
    if pd.notna(t["tier"]):
        tier = int(t["tier"])
        facts.append(("Taille (niveau ACI)", [f"{TIER_LABELS[tier]} : règle {TIER_RULES[tier]}, "
                      f"appliquée à la population municipale {vintage} (", pop, " habitants)"]))
    else:
        facts.append(("Taille (niveau ACI)", "non déterminée : population inconnue"))
    facts.append(("Communes", _fig(figs, "communes.cpts", t["n_communes"])))
    shared = member.loc[(member["share"] < 1).to_numpy(), "code"]
    if len(shared):  # a part of a commune has no contour: its area is not the commune's
        names = ", ".join(str(ctx.layer.at[c, "name"]) if c in ctx.layer.index else str(c) for c in shared)
        facts.append(("Superficie", f"non définie (commune partagée : {names})"))
    else:
        facts.append(("Superficie", _fig(figs, "area.cpts", t["area_km2"], 1, unit="km²")))
    dep_names, reg_names = _area_names() if ctx.france is _france() else _area_names_of(ctx.france)
    dep_text = ", ".join(f"{dep_names[d]} ({d})" if d in dep_names else d
                         for d in str(t["departments"]).split(", ") if d)
    reg_text = ", ".join(f"{reg_names.get(r, r)} ({r})" for r in str(t["regions"]).split(", ") if r)
    facts.append(("Départements", dep_text))
    facts.append(("Régions", reg_text))
    geom = ctx.territories.geometry.loc[cid]
    terr = ctx.territories
    near = _touching(terr, geom).drop(index=cid, errors="ignore") if not geom.is_empty else terr.iloc[:0]
    if len(near):
        facts.append(("CPTS voisines", "; ".join(f"{n} ({s})" for n, s in zip(near["name"], near["stage"]))))
    else:
        facts.append(("CPTS voisines", "aucune dans le registre" if not ctx.draft else
                      "aucun registre fourni (périmètre en projet)"))
    white = _touching(ctx.layer, geom) if not geom.is_empty else ctx.layer.iloc[:0]
    white = white[~white["covered"]]
    if len(white):
        shown = ", ".join(white.sort_values("population", ascending=False)["name"].astype(str).head(12))
        more = f" et {len(white) - 12} autre(s)" if len(white) > 12 else ""
        wf = _fig(figs, "white.n", len(white))
        wp = _fig(figs, "white.population", white["population"].sum())
        facts.append(("Zones blanches limitrophes", [wf, " commune(s), ", wp, f" habitants : {shown}{more}"]))
    else:
        facts.append(("Zones blanches limitrophes", "aucune commune non couverte ne touche le territoire"))
    blocks: list[Block] = [("facts", facts)]
    if t.get("missing_population"):
        blocks.append(("notice", f"Communes sans population connue : {t['missing_population']}."))
    if geom.is_empty:
        blocks.append(("notice", "Aucune géométrie pour les communes de ce territoire : pas de carte, "
                       "ni de voisines, ni de superficie."))
    srcs.append(f"Communes : {_metadata(ctx.communes).source or 'couche communale'}.")
    rows: list[tuple[Any, ...]] = []
    shares = member.set_index("code")["share"]
    for code, rec in com.sort_values("population", ascending=False).iterrows():
        share = shares.get(code, 1.0)
        rows.append((str(code), str(rec["name"]),
                     _fig(figs, f"commune.{code}.population", rec["population"]),
                     str(rec["department"]), "" if share >= 1 else percent(share, 0, sep=SEP)))
    annex = Table(f"Communes de la CPTS (population municipale {vintage}), les plus peuplées d'abord",
                  ("Code", "Commune", "Population", "Département", "Part dans la CPTS"), tuple(rows),
                  numeric=(2, 4), long=True)
    return Section("identite", "1. Identité du territoire", tuple(blocks)), annex



def _map_section(ctx: PortraitContext, cid: str, *, dpi: int) -> Section:
    geom = ctx.territories.geometry.loc[cid]
    if geom.is_empty:
        return Section("carte", "2. Carte", (("notice", "Carte impossible : les communes de ce "
                                                       "territoire n'ont pas de géométrie."),))
    data = _map_png(ctx, cid, dpi=dpi)
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    caption = ("La CPTS (contour rouge épais) et ses voisines, colorées par étape ; zones blanches en gris ; "
               "limites des départements en tirets. " + ("Registre illustratif. " if ctx.illustrative else "")
               + f"Sources : {_metadata(ctx.communes).source or ''}.")
    return Section("carte", "2. Carte", (("figure", uri, caption),))



#: The map's figure (inches: the layout of its legend and labels) and its printed size on the
#: A4 page (``figure img`` of ``portrait.css``: at most 96 mm high, so 158.6 mm wide).
_MAP_FIGSIZE = (7.6, 4.6)
_MAP_PRINTED_WIDTH_MM = 96 * 7.6 / 4.6


def _map_png(ctx: PortraitContext, cid: str, *, dpi: int = 170) -> bytes:
    """The print map of one CPTS and its surroundings, drawn by :func:`cpts_geo.render.plotting.plot_stages`.

    The image has the pixels of its printed size at ``dpi`` (no larger image for the PDF engine
    to decode and re-encode), drawn once, opaque RGB (the engine splits an alpha channel into a
    second image)."""
    import shapely
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from cpts_geo.domain.crs import metric_crs_of
    from cpts_geo.render.plotting import _add_lines, _scale_bar, label_territories, plot_stages

    # the metric CRS of the territory's department (a CPTS made only of a commune shared with
    # other CPTS has no commune of its own in the layer)
    crs = metric_crs_of(str(ctx.territories.at[cid, "departments"]).split(", ")[0])
    layer, terr = _metric_layers(ctx, crs)  # projected once for the whole batch
    tm = terr.loc[[cid]]
    x0, y0, x1, y1 = tm.total_bounds
    half = max(x1 - x0, y1 - y0) * 0.6 + 3000  # the CPTS and a margin
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    view = shapely.box(cx - half * 1.16, cy - half, cx + half * 1.16, cy + half)
    around = _touching(layer, view)
    near = _touching(terr, view)
    # a Figure outside pyplot: geopandas' plt.draw() after each layer then redraws nothing
    fig = Figure(figsize=_MAP_FIGSIZE)  # labels placed at matplotlib's figure dpi, as savefig does
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.01, 0.01, 0.69, 0.98))  # the legend goes right of the map, in the figure
    plot_stages(near, around, ax=ax, legend=True, labels=False, scale_bar=False,  # sources: caption
                membership=ctx.checked.membership,  # the shares of a shared commune
                legend_kwds={"width": 26})  # the legend has the right 30 % of the figure
    ax.set_xlim(view.bounds[0], view.bounds[2])
    ax.set_ylim(view.bounds[1], view.bounds[3])
    _add_lines(ax, tm.geometry.to_numpy(), colors="#d7301f", linewidths=2.4, gid="cpts-studied")
    ax.apply_aspect()  # the axes fitted to the view before labels are placed from their scale
    shown = near.set_geometry(near.geometry.intersection(view))  # labels inside the view
    others = shown.drop(index=cid, errors="ignore")
    others = others[~others.geometry.is_empty]
    label_territories(ax, others)
    import matplotlib.patheffects as pe

    from cpts_geo.render.labels import label_text

    spot = tm.geometry.iloc[0].representative_point()
    ax.text(spot.x, spot.y, label_text(str(tm["name"].iloc[0])), ha="center", va="center", fontsize=9,
            fontweight="bold", color="#7f0000", zorder=11, gid="cpts-studied-label",
            path_effects=[pe.withStroke(linewidth=2.6, foreground="white")])
    _scale_bar(ax)
    return _png(canvas, dpi * _MAP_PRINTED_WIDTH_MM / 25.4 / _MAP_FIGSIZE[0])


def _metric_layers(ctx: PortraitContext, crs: Any) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The context's commune layer and territories in ``crs``, projected once per context and
    CRS (with their spatial index): the surroundings of every map of a batch are cut from them."""
    from cpts_geo.domain.crs import reproject

    key = str(crs)
    if _METRIC_CACHE.get("ctx") is not ctx:
        _METRIC_CACHE.clear()
        _METRIC_CACHE["ctx"] = ctx
    if key not in _METRIC_CACHE:
        _METRIC_CACHE[key] = (reproject(ctx.layer, crs), reproject(ctx.territories, crs))
    return _METRIC_CACHE[key]  # type: ignore[return-value]


_METRIC_CACHE: dict[str, object] = {}


def _png(canvas: Any, dpi: float) -> bytes:
    """The canvas drawn once at ``dpi``, as an opaque RGB PNG (quickly compressed)."""
    from PIL import Image

    canvas.figure.set_dpi(dpi)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba[..., :3])).save(buf, format="png", compress_level=3)
    return buf.getvalue()



def _funding(ctx: PortraitContext, cid: str, figs: dict[str, Figure], srcs: list[Any]) -> Section:
    from cpts_geo.domain.funding import ACI_SOURCE, aci_funding, early_mission_aid

    tier = ctx.territories.at[cid, "tier"]
    if pd.isna(tier):
        return Section("financement", "3. Financement ACI", (
            ("notice", "Taille inconnue (population manquante) : pas de montant."),))
    tier = int(tier)
    first = aci_funding(tier)
    later = aci_funding(tier, year="later")
    rows: list[tuple[Any, ...]] = []
    for i, mission in enumerate(first.index):
        rec = first.loc[mission]
        k = f"aci.{i}"
        rows.append((str(mission), _fig(figs, f"{k}.fixed", rec.iloc[0], unit="€"),
                     _fig(figs, f"{k}.variable", rec.iloc[1], unit="€"),
                     _fig(figs, f"{k}.first", rec.iloc[2], unit="€"),
                     _fig(figs, f"{k}.later", later.loc[mission, "Total"], unit="€")))
    table = Table(f"Montants annuels maximaux, CPTS de taille {tier} (ACI, avenant 2)",
                  ("Mission", "Volet fixe (moyens)", "Volet variable (actions et résultats)",
                   "Total 1re année", "Total années suivantes"), tuple(rows), numeric=(1, 2, 3, 4),
                  classes=tuple("total" if m == "Total" else "" for m in first.index))
    aid = _fig(figs, "aci.early", early_mission_aid(tier), unit="€")
    blocks = (("table", table),
              ("p", ["Aide forfaitaire du contrat de mission précoce (CPTS en structuration qui "
                     "s'engage à déposer son projet de santé dans les 9 mois) : ", aid, "."]),
              ("note", "Maximums : volet variable entièrement atteint, survenue d'une crise sanitaire "
                       "grave (volet variable de la mission crises), missions optionnelles comprises. "
                       "1re année : 1re rédaction du plan de crise ; années suivantes : mise à jour du "
                       "plan (volet fixe plus bas). Taille 4 avec au moins 100 membres : majoration de "
                       "10 % des missions, non comptée ici."))
    srcs.append(f"Financement : {ACI_SOURCE}.")
    return Section("financement", "3. Financement ACI", blocks, page_break=True)



@lru_cache(maxsize=1)
def _area_names() -> tuple[dict, dict]:
    return _area_names_of(_france())



def _area_names_of(f: pd.DataFrame) -> tuple[dict, dict]:
    """The name of each department and region of ``f`` (the first row of each)."""
    deps = f.drop_duplicates("department")
    regs = f.drop_duplicates("region")
    return (dict(zip(deps["department"], deps["department_name"])),
            dict(zip(regs["region"], regs["region_name"])))



def _unit_labels(ctx: PortraitContext, cid: str) -> list[tuple[str, str]]:
    """The CPTS's main department and region (most population), with their names."""
    if _UNIT_CACHE.get("ctx") is ctx and _UNIT_CACHE.get("cid") == cid:  # the context is kept: no id reuse
        return _UNIT_CACHE["value"]
    value = _unit_labels_of(ctx, cid)
    _UNIT_CACHE.update(ctx=ctx, cid=cid, value=value)
    return value


_UNIT_CACHE: dict = {}


_AREA_CACHE: dict = {}  # population sums of departments, regions and France for one context



def _unit_labels_of(ctx: PortraitContext, cid: str) -> list[tuple[str, str]]:
    from cpts_geo.domain.codes import city_of

    member = ctx.checked.membership[ctx.checked.membership["cpts_id"] == cid]
    f = ctx.france
    # an arrondissement is in the department and region of its city (the layer holds the city)
    codes = city_of(pd.Series(member["code"].to_numpy(dtype=object), dtype=object)).to_numpy()
    pop = pd.to_numeric(f["population"], errors="coerce").reindex(codes).fillna(0).to_numpy()
    frame = pd.DataFrame({"w": pop * member["share"].to_numpy(),
                          "department": f["department"].reindex(codes).to_numpy(),
                          "region": f["region"].reindex(codes).to_numpy()})
    frame = frame.dropna(subset=["department"])
    dep = _main_area(frame, "department")
    reg = _main_area(frame, "region")
    names, rnames = _area_names()
    return [(cid, str(ctx.checked.cpts.at[cid, "name"])),
            (f"dep:{dep}", f"{names.get(dep, dep)} ({dep})" if dep else ""),
            (f"reg:{reg}", f"{rnames.get(reg, reg)}" if reg else ""),
            ("France", "France")]



def _population(ctx: PortraitContext, cid: str, figs: dict[str, Figure], srcs: list[Any],
                ages: pd.DataFrame | None) -> Section:
    from cpts_geo.data.apl import POPULATION_VINTAGE

    units = [(u, lab) for u, lab in _unit_labels(ctx, cid) if lab]
    f = ctx.france
    layer_vintage = _metadata(ctx.territories).population_vintage
    cur_year = POPULATION_VINTAGE[2023]
    # previous vintage: the layer's population, or its population_2016 once the layer is newer
    prev_col = "population_2016" if layer_vintage != 2016 and "population_2016" in f.columns else "population"
    vintage = 2016 if prev_col == "population_2016" else layer_vintage
    member = ctx.checked.membership[ctx.checked.membership["cpts_id"] == cid]
    from_layer = layer_vintage == cur_year and "pop_standardised" in f.columns
    if _AREA_CACHE.get("ctx") is not ctx:  # the context is kept: no id reuse
        _AREA_CACHE.clear()
        _AREA_CACHE.update(ctx=ctx, sums={})
    area_sums = _AREA_CACHE["sums"]

    def layer_pop() -> pd.Series:
        return pd.to_numeric(f["population"], errors="coerce")

    def layer_std() -> pd.Series:
        return pd.to_numeric(f["pop_standardised"], errors="coerce")

    rows: list[tuple[Any, ...]] = []
    for u, label in units:
        sel = None
        if u == cid:
            prev = ctx.territories.at[cid, "population"] if prev_col == "population" else float(
                (_unit_column(ctx, prev_col).reindex(member["code"]).fillna(0).to_numpy()
                 * member["share"].to_numpy()).sum())
            # a CPTS holding a part of a shared commune has no defined area: no density
            area = np.nan if (member["share"] < 1).any() else ctx.territories.at[cid, "area_km2"]
        elif u in area_sums:  # a department, region or France: the same for every CPTS of the context
            prev, area, cur, std = area_sums[u]
        else:
            sel = f if u == "France" else f[f["department"] == u[4:]] if u.startswith("dep:") \
                else f[f["region"] == u[4:]]
            prev = pd.to_numeric(sel[prev_col], errors="coerce").sum()
            area = sel["area_km2"].sum()
            cur = float(layer_pop().reindex(sel.index).sum()) if from_layer else np.nan
            std = float(layer_std().reindex(sel.index).sum()) if from_layer else np.nan
            area_sums[u] = (prev, area, cur, std)
        if from_layer:  # the layer holds the current population and the DREES standardised one
            if u == cid:
                w = member["share"].to_numpy()
                mine = _unit_column(ctx, "population").reindex(member["code"])
                cur = float((mine.fillna(0).to_numpy() * w).sum())
                std = float((_unit_column(ctx, "pop_standardised").reindex(member["code"]).fillna(0).to_numpy()
                             * w).sum())
                known = bool(mine.notna().any())
            else:
                known = True
            if not known or not std:
                cur, std = (cur if known else np.nan), np.nan
        else:  # a layer of an older vintage: the population published with the APL 2023
            agg: Any = ctx.units.loc[(u, 2023)] if (u, 2023) in ctx.units.index else None
            known = agg is not None and agg["population"] - agg["population_unknown"] > 0
            cur = agg["population"] if known else np.nan
            std = agg["standardised_population"] if known else np.nan
        k = "cpts" if u == cid else u
        rows.append((label, _fig(figs, f"population.{k}.{vintage}", prev),
                     _fig(figs, f"population.{k}.{cur_year}", cur),
                     _fig(figs, f"population.{k}.change", (cur / prev - 1) if prev else np.nan, 1,
                          kind="percent"),
                     _fig(figs, f"density_pop.{k}", cur / area if area else np.nan, 1),
                     _fig(figs, f"demand_index.{k}", std / cur if cur else np.nan, 3)))
    table = Table("Population, densité et demande de soins",
                  ("Territoire", f"Population {vintage}", f"Population {cur_year}",
                   f"Évolution {vintage}–{cur_year}", f"Habitants par km² ({cur_year})",
                   "Indice de demande standardisé"), tuple(rows), numeric=(1, 2, 3, 4, 5),
                  classes=("unit",) + ("",) * (len(rows) - 1))
    blocks: list[Block] = [("table", table), *_population_notes(member, rows, vintage, cur_year)]
    blocks += _census_ages(ctx, cid, figs, srcs)
    if ages is not None:
        blocks.append(("table", _age_table(ctx, cid, ages, figs)))
        srcs.append(f"Population par âge : {_given(srcs, 'ages')}.")
    srcs.append(f"Population {cur_year} et population standardisée : DREES, APL 2023 (Licence Ouverte 2.0).")
    return Section("population", "4. Population", tuple(blocks))



def _unit_column(ctx: PortraitContext, column: str) -> pd.Series:
    """A column of the communes of France, with the arrondissements of the context's layer (a
    registry by arrondissement: the layer of France holds their city only); once per context."""
    key = f"column:{column}"
    if _AREA_CACHE.get("ctx") is ctx and key in _AREA_CACHE:
        return _AREA_CACHE[key]
    values = pd.to_numeric(ctx.france[column], errors="coerce")
    if column in ctx.layer.columns:
        extra = ctx.layer.index[~ctx.layer.index.isin(values.index)]
        if len(extra):
            values = pd.concat([values, pd.to_numeric(ctx.layer.loc[extra, column], errors="coerce")])
    if _AREA_CACHE.get("ctx") is ctx:
        _AREA_CACHE[key] = values
    return values



def _population_notes(member: pd.DataFrame, rows: list[tuple[Any, ...]],
                      vintage: int | None, cur_year: int) -> list[Block]:
    """The notes under the population table: what the figures are, a density not defined, a
    population not published, a tier that depends on the vintage."""
    from cpts_geo.domain.tiers import tier_of

    blocks: list[Block] = [("note", f"Population {vintage} : population municipale de la couche communale (INSEE). "
                       f"Population {cur_year} : population municipale {cur_year} publiée avec l'APL 2023 "
                       "de la DREES, rattachée aux communes actuelles. Indice de demande : population "
                       "standardisée par l'âge de la DREES (consommation de soins de médecine générale par "
                       "âge) ÷ population ; au-dessus de 1, une population qui consomme plus que la "
                       "moyenne (plus âgée). Le département et la région sont ceux qui rassemblent le plus "
                       "d'habitants de la CPTS.")]
    if (member["share"] < 1).any():
        blocks.append(("note", "Densité de la CPTS non définie : elle tient une part d'une commune partagée "
                       "entre plusieurs CPTS, dont la superficie n'est pas connue (les contours des IRIS ne "
                       "sont pas disponibles) ; la densité de la commune entière est celle de sa ligne dans "
                       "les tableaux communaux."))
    if rows and rows[0][2].value is None:
        blocks.append(("notice", f"Population {cur_year} et indice de demande non disponibles : les "
                       "communes de la CPTS ne figurent pas dans les tables de la DREES (Mayotte n'y est "
                       "pas)."))
    if rows and rows[0][2].value is not None and rows[0][1].value is not None:
        t_prev, t_cur = tier_of([rows[0][1].value, rows[0][2].value]).tolist()
        if t_prev != t_cur:
            blocks.append(("notice", f"Taille {t_cur} avec la population {cur_year}, taille {t_prev} avec la "
                           f"population {vintage} : la taille dépend du millésime retenu."))
    return blocks



def _area_ages(ctx: PortraitContext) -> pd.DataFrame:
    """The census age structure of every department and region, and of France (``dep:59``,
    ``reg:32``, ``France``), computed once per context."""
    from cpts_geo.domain.codes import city_of, department_of
    from cpts_geo.indicators.ages import age_structure, unit_ages

    if _AGES_CACHE.get("ctx") is ctx:
        return _AGES_CACHE["value"]
    leaf = pd.Series(unit_ages(cities=False).index, dtype=object)
    region = city_of(leaf).map(ctx.france["region"].astype(object))
    m = pd.concat([pd.DataFrame({"code": leaf, "cpts_id": "dep:" + department_of(leaf).astype(object)}),
                   pd.DataFrame({"code": leaf, "cpts_id": "reg:" + region}).dropna(),
                   pd.DataFrame({"code": leaf, "cpts_id": "France"})], ignore_index=True)
    value = age_structure(m.assign(share=1.0)).table
    _AGES_CACHE.update(ctx=ctx, value=value)
    return value


_AGES_CACHE: dict[str, object] = {}



def _census_ages(ctx: PortraitContext, cid: str, figs: dict[str, Figure], srcs: list) -> list[Block]:
    """The age structure (0–19, 20–64, 65+, census 2021 by IRIS) of the CPTS beside its department,
    its region and France, for every CPTS (no user file)."""
    from cpts_geo.indicators.ages import AGE_BANDS, AGE_SOURCE, age_structure

    member = ctx.checked.membership[ctx.checked.membership["cpts_id"] == cid]
    iris = ctx.checked.iris
    mine = age_structure(member, iris=None if iris is None or not len(iris) else iris[iris["cpts_id"] == cid])
    areas = _area_ages(ctx)
    rows: list[tuple[Any, ...]] = []
    for u, label in _unit_labels(ctx, cid):
        if not label:
            continue
        k = "cpts" if u == cid else u
        rec = mine.table.loc[cid] if u == cid else areas.loc[u] if u in areas.index else None
        cells: list[str | Figure] = [label, _fig(figs, f"ages2021.{k}.population",
                                                 None if rec is None else rec["population"])]
        for band in AGE_BANDS:
            share = None if rec is None else rec[f"share_{band}"]
            cells.append(_fig(figs, f"ages2021.{k}.{band}", share, 1, kind="percent"))
        rows.append(tuple(cells))
    table = Table("Structure par âge de la population (recensement 2021)",
                  ("Territoire", "Population (recensement 2021)", *AGE_BANDS.values()), tuple(rows),
                  numeric=(1, 2, 3, 4), classes=("unit",) + ("",) * (len(rows) - 1))
    blocks: list[Block] = [("table", table)]
    notes = ["Part de chaque tranche d'âge dans la population recensée en 2021 (somme des IRIS de l'INSEE)."]
    if (member["share"] < 1).any():
        notes.append("Une commune partagée compte pour sa part dans la CPTS, ou pour ses IRIS quand le registre "
                     "la découpe par IRIS.")
    blocks.append(("note", " ".join(notes)))
    if len(mine.missing):
        codes = sorted(mine.missing["code"].astype(str))
        blocks.append(("notice", f"{len(codes)} code(s) de la CPTS sans IRIS au recensement 2021, hors de la "
                       "structure par âge : " + ", ".join(codes[:10]) + ("…" if len(codes) > 10 else "") + "."))
    srcs.append(f"Structure par âge : {AGE_SOURCE}.")
    return blocks



def _age_table(ctx: PortraitContext, cid: str, ages: pd.DataFrame, figs: dict[str, Figure]) -> Table:
    member = ctx.checked.membership[ctx.checked.membership["cpts_id"] == cid]
    a = ages.copy()
    a["code"] = a["code"].astype("string")
    a = a.merge(member[["code", "share"]], on="code")
    if not len(a):
        return Table("Population par âge : aucune commune de la CPTS dans la table des âges",
                     ("Âge", "Habitants", "Part"), ())
    age = pd.to_numeric(a["age"], errors="coerce")
    band = np.searchsorted(np.array(AGE_BANDS), age.to_numpy(dtype="float64"), side="right") - 1
    a["band"] = band
    a["w"] = pd.to_numeric(a["count"], errors="coerce") * a["share"]
    by = a.groupby("band")["w"].sum().reindex(range(len(AGE_BANDS)), fill_value=0.0)
    total = by.sum()
    rows: list[tuple[Any, ...]] = []
    for i, lo in enumerate(AGE_BANDS):
        label = f"{lo} à {AGE_BANDS[i + 1] - 1} ans" if i + 1 < len(AGE_BANDS) else f"{lo} ans et plus"
        rows.append((label, _fig(figs, f"age.{lo}", by.iloc[i]),
                     _fig(figs, f"age.{lo}.share", by.iloc[i] / total if total else np.nan, 1, kind="percent")))
    rows.append(("Total", _fig(figs, "age.total", total), _fig(figs, "age.total.share", 1.0 if total else np.nan,
                                                                  1, kind="percent")))
    n = a["code"].nunique()
    return Table(f"Population par âge ({n} commune(s) de la CPTS dans la table fournie)",
                 ("Âge", "Habitants", "Part"), tuple(rows), numeric=(1, 2),
                 classes=("",) * len(AGE_BANDS) + ("total",))



def _professionals(ctx: PortraitContext, cid: str, figs: dict[str, Figure], srcs: list[Any], supply: Any,
                   threshold: float) -> Section:
    from cpts_geo.indicators.density import density
    from cpts_geo.indicators.supply import supply_by_commune, supply_table

    title = "5. Professionnels de santé"
    supply = supply_table(supply)
    if supply is None:
        return Section("professionnels", title, (
            ("notice", "Aucun fichier de professionnels fourni : donnez la BPE de l'INSEE "
                       "(--professionnels bpe.csv) ou une table code commune / profession / effectif."),))
    member = ctx.checked.membership[ctx.checked.membership["cpts_id"] == cid]
    wide = supply if not {"code", "profession", "count"} <= set(getattr(supply, "columns", [])) \
        else supply_by_commune(supply)
    deps_supply = set(wide.index.astype(str).str[:2])
    deps_cpts = set(ctx.france["department"].reindex(member["code"]).dropna().str[:2])
    if not deps_supply & deps_cpts:
        return Section("professionnels", title, (
            ("notice", "Le fichier des professionnels ne contient aucune commune des départements de la "
                       f"CPTS (départements de la CPTS : {', '.join(sorted(deps_cpts))} ; du fichier : "
                       f"{', '.join(sorted(deps_supply)[:12])}{'…' if len(deps_supply) > 12 else ''}) : "
                       "pas de densité calculée."),))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = density(wide, ctx.france, membership=member, reference=ctx.france)
    one = d.table.xs(cid, level=0)
    hidden = pd.Series(protect_total(one["count"], small_counts(one["count"], threshold)), index=one.index)
    rows: list[tuple[Any, ...]] = []
    for prof, rec in one.iterrows():
        k = f"density.{prof}"
        count: str | Figure = "secret"
        dens: str | Figure = "secret"
        if not hidden[prof]:
            count = _fig(figs, f"{k}.count", rec["count"], None)
            dens = _fig(figs, f"{k}.cpts", rec["density"], 1)
        rows.append((str(prof), count, dens, _fig(figs, f"{k}.department", rec["department_density"], 1),
                     _fig(figs, f"{k}.region", rec["region_density"], 1),
                     _fig(figs, f"{k}.france", rec["france_density"], 1)))
    total = one["count"].sum()
    rows.append(("Ensemble des professions ci-dessus", _fig(figs, "density.total.count", total, None),
                 "", "", "", ""))
    dep, reg = one["department"].iloc[0], one["region"].iloc[0]
    table = Table("Professionnels et densité pour 10 000 habitants",
                  ("Profession", "Effectif", "CPTS", f"Département ({dep})", f"Région ({reg})", "France"),
                  tuple(rows), numeric=(1, 2, 3, 4, 5), classes=("",) * len(one) + ("total",))
    blocks: list[Block] = [("table", table),
              ("note", f"Secret statistique : effectifs de 1 à {number(threshold - 1, None, sep=SEP)} "
                       "masqués (« secret »), avec leur densité, et un effectif de plus quand un seul est "
                       "masqué (le total le révélerait). Densités du département, de la région et de la "
                       "France calculées sur le fichier fourni : elles ne valent que s'il couvre ces "
                       "territoires.")]
    if d.partial_reference:
        a, b = d.partial_reference
        blocks.append(("notice", f"Le fichier ne couvre que {a} des {b} départements : la densité France "
                       "est sous-estimée."))
    srcs.append(f"Professionnels : {_given(srcs, 'supply')}.")
    return Section("professionnels", title, tuple(blocks), page_break=True)



def _apl_year(ctx: PortraitContext, year: int) -> pd.DataFrame:
    if _APL_CACHE.get("ctx") is not ctx or _APL_CACHE.get("year") != year:
        t = ctx.apl[ctx.apl["year"] == year].copy()
        t["key"] = t["key"].astype(object)
        _APL_CACHE.update(ctx=ctx, year=year, value=t)
    return _APL_CACHE["value"]


_APL_CACHE: dict = {}



def _accessibility(ctx: PortraitContext, cid: str, figs: dict[str, Figure], srcs: list, reports: dict[str, pd.DataFrame],
                   *, supply: object = None, e2sfca: bool = False, costs: pd.DataFrame | None = None) -> Section:
    from cpts_geo.data.apl import APL_SOURCE, APL_YEARS, UNDERSERVED_THRESHOLD

    title = "6. Accessibilité aux médecins généralistes (APL)"
    units = [(u, lab) for u, lab in _unit_labels(ctx, cid) if lab]
    rows: list[tuple[Any, ...]] = []
    for u, label in units:
        k = "cpts" if u == cid else u
        cells: list[Any] = [label]
        for year in APL_YEARS:
            agg = ctx.units.loc[(u, year)] if (u, year) in ctx.units.index else None
            cells.append(_fig(figs, f"apl.{k}.{year}", None if agg is None else agg["accessibility"], 2))
        agg = ctx.units.loc[(u, 2023)] if (u, 2023) in ctx.units.index else None
        cells.append(_fig(figs, f"apl.{k}.share_below", None if agg is None else agg["share_below"], 1,
                          kind="percent"))
        cells.append(_fig(figs, f"apl.{k}.population_below", None if agg is None else agg["population_below"]))
        rows.append(tuple(cells))
    thr = number(UNDERSERVED_THRESHOLD, None, sep=SEP)
    table = Table("APL aux médecins généralistes (consultations par habitant et par an)",
                  ("Territoire", *[f"APL {y}" for y in APL_YEARS], f"Part de la population sous {thr} (2023)",
                   f"Habitants sous {thr} (2023)"), tuple(rows), numeric=(1, 2, 3, 4),
                  classes=("unit",) + ("",) * (len(rows) - 1))
    blocks: list[Block] = [("table", table)]
    apl = _apl_year(ctx, 2023)
    member = ctx.checked.membership[ctx.checked.membership["cpts_id"] == cid]
    mine = apl[apl["key"].isin(member["code"])]
    no_apl = sorted(set(member["code"]) - set(apl["key"].dropna()))
    if len(mine):
        low = mine.sort_values(["apl", "population"], ascending=[True, False]).head(10)
        lrows = tuple((str(c), str(r["name"]), _fig(figs, f"apl.commune.{c}", r["apl"], 2),
                       _fig(figs, f"apl.commune.{c}.population", r["population"]))
                      for c, r in low.iterrows())
        blocks.append(("table", Table("Les communes les moins bien dotées (APL 2023)",
                                      ("Code DREES", "Commune", "APL 2023", "Population 2021"), lrows,
                                      numeric=(2, 3))))
    else:
        blocks.append(("notice", "Aucune valeur d'APL publiée par la DREES pour les communes de cette "
                       "CPTS (la DREES ne publie pas l'APL de Mayotte) : accessibilité non disponible."))
    if no_apl and len(mine):
        blocks.append(("notice", f"{len(no_apl)} commune(s) de la CPTS sans APL publiée, hors de la moyenne : "
                       + ", ".join(no_apl[:10]) + ("…" if len(no_apl) > 10 else "")))
    reports["communes_sans_apl"] = pd.DataFrame({"code": no_apl})
    reports["apl_sans_commune"] = ctx.apl_unmatched
    blocks.append(("note", "APL telle que publiée par la DREES (codes du COG 2022 et 2023 rattachés aux "
                           "communes actuelles par la table de passage gescodgeo de l'INSEE ; une "
                           "commune nouvelle reçoit ses anciennes communes). "
                           "Agrégation recommandée par la DREES : moyenne des APL communales pondérée par "
                           "la population standardisée ; part de la population (totale) vivant dans une "
                           f"commune sous {thr} consultations par habitant et par an."))
    codes = _unmatched_here(ctx, cid)
    if codes:  # only the DREES codes that concern this CPTS's communes; the others: the batch summary
        blocks.append(("note", f"{len(codes)} code(s) DREES non rattaché(s) à une commune actuelle, laissé(s) "
                       "hors des agrégats (commune scindée depuis, ou code inconnu ; rien n'est deviné) : "
                       + ", ".join(codes[:8]) + ("…" if len(codes) > 8 else "") + "."))
    if e2sfca and supply is None:
        blocks.append(("notice", "E2SFCA demandé sans fichier de professionnels : donnez l'offre (BPE) "
                       "pour le calculer."))
    elif e2sfca:
        blocks += _e2sfca_blocks(ctx, cid, figs, srcs, supply, costs)
    srcs.append(f"Accessibilité : {APL_SOURCE}, APL 2022 et 2023.")
    return Section("accessibilite", title, tuple(blocks))


_E2SFCA_CACHE: dict = {}



def _e2sfca_values(ctx: PortraitContext, supply: object,
                   costs: pd.DataFrame | None = None) -> tuple[pd.Series, pd.DataFrame, bool, list[str]]:
    """The toolkit's E2SFCA to GPs on the whole regions of the context's communes, computed with
    every commune within reach of them (:func:`cpts_geo.indicators.accessibility.within_reach`: the values
    of all of France, no edge effect), and those regions' communes; cached. A user's own commune
    layer is computed on itself (what lies beyond it is unknown). With ``costs`` (the user's
    travel times), those times instead of the estimated ones; the communes absent from them are
    the fourth item."""
    from cpts_geo.domain.communes import embedded_rows, load_communes
    from cpts_geo.domain.metadata import layer_metadata
    from cpts_geo.indicators.accessibility import accessibility, within_reach
    from cpts_geo.indicators.supply import supply_in, supply_table

    supply = supply_table(supply)
    if (_E2SFCA_CACHE.get("ctx") is ctx and _E2SFCA_CACHE.get("supply") is supply
            and _E2SFCA_CACHE.get("costs") is costs):
        return _E2SFCA_CACHE["value"]
    france = load_communes()
    given = ctx.communes
    regions = set(given["region"].dropna()) if "region" in given else set()
    embedded = bool(regions) and layer_metadata(given).population_vintage == layer_metadata(france).population_vintage \
        and bool((embedded_rows(given.index, given.geometry.to_numpy(), given.crs) >= 0).all())
    # the embedded layer: whole regions, with every commune within reach; a user's layer: itself
    area = france[france["region"].isin(regions)] if embedded else given
    layer = within_reach(area, france if embedded else given)
    sup = supply_in(supply, layer.index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc = accessibility(sup, layer, professions="médecin généraliste", per=10_000, quiet=True, costs=costs)
    absent = [str(c) for c in acc.not_in_costs] if costs is not None else []
    value = (acc.table["médecin généraliste"], pd.DataFrame(area.drop(columns="geometry")), embedded, absent)
    _E2SFCA_CACHE.update(ctx=ctx, supply=supply, costs=costs, value=value)
    return value



def _e2sfca_blocks(ctx: PortraitContext, cid: str, figs: dict[str, Figure], srcs: list, supply: object,
                   costs: pd.DataFrame | None) -> list[Block]:
    """The E2SFCA table and its notes: which travel times were used, edge effects, the CPTS's
    communes absent from the user's times."""
    table = _e2sfca_block(ctx, cid, figs, supply, costs)
    _, _, embedded, absent = _e2sfca_values(ctx, supply, costs)
    if costs is None:
        times = ("temps estimés par la route à partir des distances (hypothèses de "
                 "cpts_geo.indicators.accessibility.TRAVEL_ASSUMPTIONS)")
    else:
        times = f"temps de trajet fournis : {_given(srcs, 'costs')}"
    blocks: list[Block] = [("table", table), (
        "note", "E2SFCA de cpts_geo : paliers de la DREES (1 sous 10 minutes, 2/3 de 10 à 15, 1/3 de 15 à 20), "
                f"{times} ; offre en effectifs du fichier fourni et non en consultations : un ordre de "
                "grandeur à comparer entre territoires, pas l'APL. "
                + ("Calculé avec toutes les communes à portée, au-delà de la région comprise : sans effet "
                   "de bord." if embedded else
                   "Calculé sur la couche communale fournie : l'offre au-delà est ignorée (effet de bord)."))]
    member = ctx.checked.membership
    mine = sorted(set(absent) & set(member.loc[member["cpts_id"] == cid, "code"].astype(str)))
    if mine:
        blocks.append(("notice", f"{len(mine)} commune(s) de la CPTS absente(s) de la table des temps fournie "
                       "(accessibilité inconnue, hors de la moyenne) : " + ", ".join(mine[:10])
                       + ("…" if len(mine) > 10 else "") + "."))
    if costs is not None:
        srcs.append(f"Temps de trajet (E2SFCA) : {_given(srcs, 'costs')}.")
    return blocks



def _e2sfca_block(ctx: PortraitContext, cid: str, figs: dict[str, Figure], supply: object,
                  costs: pd.DataFrame | None) -> Table:
    from cpts_geo.indicators.accessibility import territory_accessibility

    values, area, _, _ = _e2sfca_values(ctx, supply, costs)
    pop = pd.to_numeric(area["population"], errors="coerce")
    cm = ctx.checked.membership
    frames = [cm[cm["cpts_id"] == cid][["code", "cpts_id", "share"]]]
    units = [(u, lab) for u, lab in _unit_labels(ctx, cid) if lab and u != "France"]
    for u, _ in units[1:]:
        col = "department" if u.startswith("dep:") else "region"
        sel = area.index[area[col] == u[4:]]
        frames.append(pd.DataFrame({"code": sel, "cpts_id": u, "share": 1.0}))
    m = pd.concat(frames, ignore_index=True)
    m = m[is_in(m["code"], values.index)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agg = territory_accessibility(values, m, weights=pop, population=pop).table
    rows: list[tuple[Any, ...]] = []
    for u, label in units:
        k = "cpts" if u == cid else u
        v = agg["accessibility"].get(u, np.nan)
        rows.append((label, _fig(figs, f"e2sfca.{k}", v, 1)))
    times = "temps de trajet estimés" if costs is None else "temps de trajet fournis"
    return Table("Accessibilité calculée par cpts_geo (E2SFCA, médecins généralistes accessibles pour "
                 f"10 000 habitants, {times})", ("Territoire", "E2SFCA"), tuple(rows),
                 numeric=(1,), classes=("unit",) + ("",) * (len(rows) - 1))



def _flows(ctx: PortraitContext, cid: str, figs: dict[str, Figure], srcs: list[Any], flows: pd.DataFrame,
           threshold: float) -> Section:
    from cpts_geo.indicators.flows.indicators import cpts_flow_indicators, leakage_destinations
    from cpts_geo.indicators.flows.secrecy import mask_secrecy

    title = "7. Flux de patients"
    member = ctx.checked.membership
    ind = cpts_flow_indicators(flows, member)
    rec = ind.loc[cid]
    if not (rec["resident_volume"] or rec["delivered_volume"]):
        return Section("flux", title, (("notice", "La table de flux ne contient aucun flux partant des "
                                                  "communes de la CPTS ni y arrivant : pas d'indicateur."),))
    shown = mask_secrecy(ind.loc[[cid]], threshold=threshold).iloc[0]
    labels = [("resident_volume", "Soins des habitants (volume)", 0, "number"),
              ("inside_volume", "… dont dans la CPTS", 0, "number"),
              ("retention", "Taux de rétention", 1, "percent"),
              ("leakage", "Taux de fuite", 1, "percent"),
              ("delivered_volume", "Soins délivrés dans la CPTS (volume)", 0, "number"),
              ("attraction", "Taux d'attraction (part des soins délivrés à des non-résidents)", 1, "percent")]
    facts: list[tuple[str, Any]] = []
    for col, label, dec, kind in labels:
        v = shown[col]
        facts.append((label, "secret statistique" if pd.isna(v) else _fig(figs, f"flows.{col}", float(v), dec,
                                                                            kind=kind)))
    blocks: list[Block] = [("facts", facts)]
    leaks = leakage_destinations(flows, member, n=8, communes=ctx.france)
    leaks = leaks[leaks["cpts_id"] == cid]
    if len(leaks):
        masked = mask_secrecy(leaks, threshold=threshold)
        names = ctx.checked.cpts["name"].astype(str)
        rows: list[tuple[Any, ...]] = []
        for r in masked.itertuples(index=False):
            name = names.get(r.destination, r.destination) if r.kind == "CPTS" else (r.name or r.destination)
            vol = "secret" if pd.isna(r.volume) else _fig(figs, f"flows.leak.{r.rank}.volume", float(r.volume))
            share = "secret" if pd.isna(r.share) else _fig(figs, f"flows.leak.{r.rank}.share", float(r.share), 1,
                                                           kind="percent")
            rows.append((str(r.rank), str(name), str(r.kind), vol, share))
        blocks.append(("table", Table("Où vont les soins des habitants hors de la CPTS",
                                      ("Rang", "Destination", "Type", "Volume", "Part des soins des habitants"),
                                      tuple(rows), numeric=(3, 4))))
    blocks.append(("note", f"Volumes de 1 à {number(threshold - 1, None, sep=SEP)} masqués (secret "
                           "statistique), avec les taux et les volumes qui permettraient de les retrouver."))
    srcs.append(f"Flux de patients : {_given(srcs, 'flows')}.")
    return Section("flux", title, tuple(blocks))



def _parse_rules(rules: Mapping[str, str] | None, indicators: Iterable[str]) -> dict:
    rules = dict(rules or {})
    out, problems = {}, []
    known = set(indicators)
    for name in rules:
        if name not in known:
            problems.append({"problem": f"règle pour « {name} », indicateur absent de la table "
                                        f"(indicateurs : {', '.join(sorted(known))})"})
    for name in known:
        rule = rules.get(name, "somme")
        given, _, by = str(rule).partition(":")
        kind = _RULES.get(fold(given))
        if kind is None or (kind == "mean" and not by.strip()):
            problems.append({"problem": f"indicateur « {name} » : règle d'agrégation « {rule} » inconnue ; "
                                        "règles possibles : « somme », « moyenne:population » (moyenne "
                                        "pondérée par la population municipale) ou « moyenne:INDICATEUR » "
                                        "(pondérée par un autre indicateur de la table)"})
            continue
        out[name] = (kind, by.strip())
    for name, (kind, by) in out.items():
        if kind == "mean" and fold(by) != "population" and by not in known:
            problems.append({"problem": f"indicateur « {name} » : population de pondération « {by} » "
                                        "inconnue (ni « population » ni un indicateur de la table)"})
    if problems:
        raise ValidationError("Règles d'agrégation des indicateurs invalides", problems)
    return out



def aggregate_indicators(
    indicators: pd.DataFrame,
    membership: pd.DataFrame,
    *,
    rules: Mapping[str, str] | None = None,
    population: pd.Series,
) -> pd.DataFrame:
    """Aggregate the user's indicators over territories, one rule per indicator.

    Parameters
    ----------
    indicators : DataFrame
        From :func:`read_indicators` (``code``, ``indicator``, ``value``), codes of the layer.
    membership : DataFrame
        ``code``, unit (``cpts_id``), ``share``.
    rules : mapping, optional
        Indicator → ``"somme"`` (default) or ``"moyenne:population"`` / ``"moyenne:INDICATEUR"``
        (mean weighted by the population or by another indicator).
    population : Series
        Population per commune (weights of ``moyenne:population``).

    Returns
    -------
    pandas.DataFrame
        Indexed by unit, one column per indicator; ``n_communes`` per unit and indicator in
        ``.attrs`` is not used: the count of communes with a value is column ``n:<indicator>``.

    Examples
    --------
    >>> ind = pd.DataFrame({"code": ["a", "b", "a", "b"], "indicator": ["n", "n", "t", "t"],
    ...                     "value": [10.0, 30.0, 0.2, 0.4]})
    >>> m = pd.DataFrame({"code": ["a", "b"], "cpts_id": ["X", "X"], "share": 1.0})
    >>> out = aggregate_indicators(ind, m, rules={"t": "moyenne:population"},
    ...                            population=pd.Series({"a": 100.0, "b": 300.0}))
    >>> float(out.loc["X", "n"]), round(float(out.loc["X", "t"]), 3)
    (40.0, 0.35)
    """
    parsed = _parse_rules(rules, indicators["indicator"].unique())
    wide = indicators.pivot_table(index="code", columns="indicator", values="value", aggfunc="sum")
    m = membership[["code", "cpts_id", "share"]]
    m = m[is_in(m["code"], wide.index)]
    out = {}
    pop = population.copy()
    pop.index = pop.index.astype(str)
    for name, (kind, by) in parsed.items():
        v = wide[name].reindex(m["code"]).to_numpy()
        s = m["share"].to_numpy(dtype="float64")
        has = ~np.isnan(v)
        if kind == "sum":
            vals = np.where(has, v * s, 0.0)
            agg = pd.Series(vals).groupby(m["cpts_id"].to_numpy()).sum()
        else:
            w = (pop.reindex(m["code"]).to_numpy(dtype="float64") if fold(by) == "population"
                 else wide[by].reindex(m["code"]).to_numpy()) * s
            ok = has & ~np.isnan(w)
            num = pd.Series(np.where(ok, v * w, 0.0)).groupby(m["cpts_id"].to_numpy()).sum()
            den = pd.Series(np.where(ok, w, 0.0)).groupby(m["cpts_id"].to_numpy()).sum()
            agg = num / den.where(den > 0)
        out[name] = agg
        out[f"n:{name}"] = pd.Series(has.astype(int)).groupby(m["cpts_id"].to_numpy()).sum()
    return pd.DataFrame(out)



def _mean_decimals(value: Any) -> int:
    """Decimals shown for a mean of the user's indicator: three significant digits or so."""
    v = abs(float(value)) if value is not None and not pd.isna(value) else 0.0
    return 3 if v < 1 else 2 if v < 100 else 0



def _indicators(ctx: PortraitContext, cid: str, figs: dict[str, Figure], srcs: list[Any],
                reports: dict[str, pd.DataFrame], table: pd.DataFrame, rules: Mapping[str, str] | None) -> Section:
    from cpts_geo.domain.history import remap_codes

    title = "8. Indicateurs fournis"
    codes, report = remap_codes(table["code"], communes=ctx.france, plm="city")
    unknown = report[report["new_code"].isna()]
    if len(unknown):
        problems = [{"row": int(table["row"].iloc[r - 1]), "code": c, "problem": f"code commune inconnu ({why})"}
                    for r, c, why in zip(unknown["row"], unknown["code"], unknown["reason"])]
        raise ValidationError("Table d'indicateurs : codes commune inconnus (corrigez-les ou retirez les lignes)",
                              problems)
    reports["indicateurs_codes"] = report
    t = table.assign(code=codes.to_numpy())
    units = [(u, lab) for u, lab in _unit_labels(ctx, cid) if lab]
    f = ctx.france
    cm = ctx.checked.membership
    frames = [cm[cm["cpts_id"] == cid][["code", "cpts_id", "share"]]]
    for u, _ in units[1:]:
        sel = f.index if u == "France" else f.index[f["department"] == u[4:]] if u.startswith("dep:") \
            else f.index[f["region"] == u[4:]]
        frames.append(pd.DataFrame({"code": sel, "cpts_id": u, "share": 1.0}))
    m = pd.concat(frames, ignore_index=True)
    agg = aggregate_indicators(t, m, rules=rules, population=pd.to_numeric(f["population"], errors="coerce"))
    parsed = _parse_rules(rules, t["indicator"].unique())
    rows: list[tuple[Any, ...]] = []
    for i, name in enumerate(sorted(parsed)):
        cells: list[Any] = [name, "somme" if parsed[name][0] == "sum" else f"moyenne pondérée ({parsed[name][1]})"]
        for u, _ in units:
            k = "cpts" if u == cid else u
            v = agg[name].get(u, np.nan) if u in agg.index else np.nan
            n = agg[f"n:{name}"].get(u, 0) if u in agg.index else 0
            cells.append(_fig(figs, f"user.{i}.{k}", v if n else np.nan,
                              _mean_decimals(v) if parsed[name][0] == "mean" else 0))
        rows.append(tuple(cells))
    head = ("Indicateur", "Agrégation", *[lab for _, lab in units])
    n_cpts = t["code"].isin(frames[0]["code"]).groupby(t["indicator"]).sum()
    blocks: list[Block] = [("table", Table("Indicateurs de l'utilisateur", head, tuple(rows),
                              numeric=tuple(range(2, len(head)))))]
    if len(report):
        blocks.append(("note", f"{len(report)} code(s) de la table rattachés à la commune actuelle "
                               "(fusions, arrondissements)."))
    absent = [n for n in sorted(parsed) if not n_cpts.get(n, 0)]
    if absent:
        blocks.append(("notice", "Aucune commune de la CPTS dans la table pour : " + ", ".join(absent) + "."))
    blocks.append(("note", "Département, région et France agrégés sur les communes présentes dans la "
                           "table fournie : une table partielle donne des références partielles."))
    srcs.append(f"Indicateurs : {_given(srcs, 'indicators')}.")
    return Section("indicateurs", title, tuple(blocks))


# --------------------------------------------------------------------------- assembly
def build_portrait(
    cpts_id: str | None = None,
    *,
    context: PortraitContext | None = None,
    registry: Any = None,
    supply: pd.DataFrame | SupplyRead | None = None,
    flows: pd.DataFrame | None = None,
    indicators: pd.DataFrame | None = None,
    rules: Mapping[str, str] | None = None,
    ages: pd.DataFrame | None = None,
    secrecy: float = 10,
    map: bool = True,
    dpi: int = 170,
    sources: Mapping[str, str] | None = None,
    e2sfca: bool = False,
    costs: pd.DataFrame | None = None,
) -> Portrait:
    """Compute the portrait of one CPTS (sections, figures, reports), without writing it.

    Parameters
    ----------
    cpts_id : str
        Id (or exact name) of the CPTS in the registry; ``None`` for a draft perimeter.
    context : PortraitContext, optional
        From :func:`portrait_context` (computed from ``registry`` otherwise).
    registry : optional
        As for :func:`portrait_context`.
    supply : SupplyRead or DataFrame, optional
        Supply table (:func:`cpts_geo.io.supply.read_bpe`, ``read_professionals``).
    flows : DataFrame, optional
        Flow table (``origin``, ``destination``, ``volume``; :func:`cpts_geo.indicators.flows.prepare.prepare_flows`).
    indicators : DataFrame, optional
        From :func:`read_indicators`; ``rules`` per indicator (see :func:`aggregate_indicators`).
    ages : DataFrame, optional
        ``code``, ``age``, ``count``: the population-by-age table.
    secrecy : float, default 10
        Counts and volumes strictly between 0 and this are masked.
    map : bool, default True
        Draw the map (section 2).
    dpi : int, default 170
        Resolution of the map image (printed about 18 cm wide).
    e2sfca : bool, default False
        Add the toolkit's own E2SFCA to GPs (needs ``supply``) next to the published APL.
    costs : DataFrame, optional
        The user's travel times for the E2SFCA (``origin``, ``destination``, ``minutes``, read by
        :func:`cpts_geo.io.costs.read_costs`), the same as the ``costs=`` of
        :func:`cpts_geo.indicators.accessibility.accessibility`; default, times estimated from
        distances. The page says which were used (cite the file in ``sources["costs"]``).
    sources : mapping, optional
        What to cite for the tables given: ``{"supply": "BPE 2018 (INSEE), bpe.csv", "flows": …,
        "indicators": …, "ages": …}`` (default: « fichier fourni par l'utilisateur »).

    Returns
    -------
    Portrait
    """
    ctx = context if context is not None else portrait_context(registry)
    cid = _resolve(cpts_id, ctx)
    flows = getattr(flows, "flows", flows)  # a PreparedFlows gives its table
    figs: dict = {}
    srcs: list = [_Given(dict(sources or {}))]
    reports: dict = {"registre": ctx.checked.report}
    identity, annex = _identity(ctx, cid, figs, srcs)
    sections = [identity]
    if map:
        sections.append(_map_section(ctx, cid, dpi=dpi))
    sections.append(_funding(ctx, cid, figs, srcs))
    sections.append(_population(ctx, cid, figs, srcs, ages))
    if supply is not None:
        sections.append(_professionals(ctx, cid, figs, srcs, supply, secrecy))
    sections.append(_accessibility(ctx, cid, figs, srcs, reports, supply=supply, e2sfca=e2sfca, costs=costs))
    if flows is not None:
        sections.append(_flows(ctx, cid, figs, srcs, flows, secrecy))
    if indicators is not None:
        sections.append(_indicators(ctx, cid, figs, srcs, reports, indicators, rules))
    srcs = [x for x in srcs if not isinstance(x, _Given)]
    sections.append(_sources(ctx, srcs, cid))
    # numbered 1..n in the order printed, whatever sections the inputs gave
    sections = [dataclasses.replace(sec, title=f"{k}. {re.sub(r'^[0-9]+[.] ', '', sec.title)}")
                for k, sec in enumerate(sections, 1)]
    sections.append(Section("annexe", "Annexe : communes de la CPTS", (("table", annex),), page_break=True))
    return Portrait(str(cid), str(ctx.checked.cpts.at[cid, "name"]), ctx.illustrative, tuple(sections),
                    figs, reports, tuple(srcs))



class _Given(dict):
    """The user's names of the tables given, carried at the head of the sources list."""



def _given(srcs: list[Any], key: str) -> str:
    return str(srcs[0].get(key) or "fichier fourni par l'utilisateur")



def _unmatched_here(ctx: PortraitContext, cid: str) -> list[str]:
    """The DREES codes left out of the APL aggregates whose successors include a commune of the CPTS."""
    if not len(ctx.apl_unmatched):
        return []
    from cpts_geo.domain.history import code_history

    member = ctx.checked.membership
    mine = set(member.loc[member["cpts_id"] == cid, "code"].astype(str))
    codes = sorted(set(ctx.apl_unmatched["code"].astype(str)))
    history = code_history(codes)
    here = set(history.loc[history["new_code"].astype(str).isin(mine), "code"].astype(str))
    return [c for c in codes if c in here or c in mine]


def _sources(ctx: PortraitContext, srcs: list[Any], cid: str) -> Section:
    from cpts_geo import __version__

    items = list(dict.fromkeys(srcs))
    if ctx.illustrative:
        from cpts_geo.domain.territories import EXAMPLE_NOTE

        items.insert(0, EXAMPLE_NOTE)
    elif ctx.draft:
        items.insert(0, "Périmètre en projet donné comme une liste de communes : pas de registre.")
    member = ctx.checked.membership
    mine = set(member.loc[member["cpts_id"] == cid, "code"].astype(str))
    report = ctx.checked.report
    own = report[report["new_code"].astype("string").isin(mine).fillna(False).to_numpy()] if len(report) else report
    if len(own):  # only the corrections of this CPTS's communes: the others are in the registry's report
        items.append(f"Registre : {len(own)} correction(s) de codes de cette CPTS appliquée(s) (anciens "
                     "codes rattachés, doublons retirés).")
    items += ["Taille : règle des limites de cpts_geo (le texte officiel ne dit pas où tombe 80 000 ; "
              "ici 80 000 habitants relèvent de la taille 3).",
              "Comparaisons : département et région rassemblant le plus d'habitants de la CPTS.",
              f"Portrait produit par cpts_geo {__version__}, sans connexion réseau."]
    return Section("sources", "9. Sources, millésimes et précautions", (("list", items),))



def portrait_tables(p: Portrait) -> list[tuple[str, pd.DataFrame]]:
    """Every table of a portrait as ``(section — caption, DataFrame)``, as printed.

    Parameters
    ----------
    p : Portrait
        A portrait from :func:`build_portrait`.

    Returns
    -------
    list of (str, DataFrame)
        The tables in page order.

    Examples
    --------
    >>> p = build_portrait("HDF-01", context=portrait_context(), map=False)
    >>> [title for title, _ in portrait_tables(p)][:2]
    ['1. Identité du territoire', '2. Financement ACI — Montants annuels maximaux, CPTS de taille 2 (ACI, avenant 2)']
    """
    out = []
    for s in p.sections:
        for b in s.blocks:
            if b[0] == "table":
                out.append((f"{s.title} — {b[1].caption}", b[1].to_frame()))
            elif b[0] == "facts":
                out.append((s.title, pd.DataFrame({"": [_plain_text(v) for _, v in b[1]]},
                                                  index=[k for k, _ in b[1]])))
    return out


# --------------------------------------------------------------------------- HTML
class _Part(NamedTuple):
    """A piece of printed text: a figure (``key`` set, printed in a ``data-fig`` span) or text."""

    key: str | None
    text: str


def _parts(value: object) -> list[_Part]:
    """A cell as pieces of text and figures, for the template."""
    if isinstance(value, list):  # text with figures inside
        return [part for v in value for part in _parts(v)]
    if isinstance(value, Figure):
        return [_Part(value.key, value.text)]
    return [_Part(None, str(value))]


def _table_view(t: Table) -> dict[str, Any]:
    """A table as the template reads it: headers and cells marked numeric, row classes."""
    return {"caption": t.caption, "long": t.long,
            "headers": [{"text": str(h), "numeric": i in t.numeric} for i, h in enumerate(t.headers)],
            "rows": [{"cls": t.classes[r] if r < len(t.classes) else "",
                      "cells": [{"parts": _parts(v), "numeric": i in t.numeric} for i, v in enumerate(row)]}
                     for r, row in enumerate(t.rows)]}


def _block_view(block: Block) -> dict[str, Any]:
    """A block of a section as the template reads it (see :class:`Section`)."""
    kind = block[0]
    if kind == "p":
        return {"kind": kind, "parts": _parts(block[1])}
    if kind in ("note", "notice"):
        return {"kind": kind, "text": str(block[1])}
    if kind == "facts":
        return {"kind": kind, "facts": [(str(k), _parts(v)) for k, v in block[1]]}
    if kind == "table":
        return {"kind": kind, "table": _table_view(block[1])}
    if kind == "figure":
        return {"kind": kind, "uri": block[1], "caption": block[2]}
    if kind == "list":
        return {"kind": kind, "entries": [str(x) for x in block[1]]}
    raise ValueError(f"bloc inconnu : {kind!r}")



def _css() -> Markup:
    """The page's style sheet (``render/static/portrait.css``), ours: written as it is."""
    from markupsafe import Markup

    return Markup((resources.files("cpts_geo.render") / "static" / "portrait.css").read_text(encoding="utf-8"))



def _escape(value: object) -> Markup:
    """Every value written by the templates, as text: ``html.escape`` (quotes included), as the
    pages always were; a value already marked safe by the template itself is kept."""
    from markupsafe import Markup

    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value)))


@lru_cache(maxsize=1)
def _environment() -> Environment:
    """The one Jinja2 environment of the portrait pages (``render/templates``), autoescaped."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(loader=PackageLoader("cpts_geo.render", "templates"), undefined=StrictUndefined,
                       autoescape=select_autoescape(["html"]), finalize=_escape, keep_trailing_newline=True)



def render_html(p: Portrait, *, marked: bool = True) -> str:
    """The portrait as one self-contained HTML page (inline CSS and image, no script, no network).

    Built by the template ``render/templates/portrait.html`` (Jinja2, autoescaped): every text
    coming from the user (CPTS and commune names, indicator names) is escaped.

    Parameters
    ----------
    p : Portrait
        A portrait from :func:`build_portrait`.
    marked : bool, default True
        Each figure in a ``<span data-fig="key">`` (scripts and tests read the figures back
        from the page); ``False`` prints the same text without them, the simpler page the PDF
        is made from (fewer boxes to lay out).

    Returns
    -------
    str
        The HTML document.
    """
    keys = [s.key for s in p.sections]
    sources = keys.index("sources") + 1 if "sources" in keys else len(keys)
    sections = [{"key": s.key, "title": s.title, "page_break": s.page_break,
                 "blocks": [_block_view(b) for b in s.blocks]} for s in p.sections]
    return _environment().get_template("portrait.html").render(
        title=f"Portrait de territoire — {p.name}", name=p.name, cpts_id=p.cpts_id, illustrative=p.illustrative,
        sections=sections, css=_css(), sources_section=sources, marked=marked)



def write_pdf(html_text: str, path: str | Path) -> Path | None:
    """Write the PDF of a portrait with WeasyPrint (extra ``[pdf]``); ``None`` if it is missing.

    Parameters
    ----------
    html_text : str
        The page of :func:`render_html`.
    path : str or Path
        The PDF to write (atomically).

    Returns
    -------
    Path or None
        ``path``, or None when WeasyPrint (or its system libraries) is missing.
    """
    try:
        import weasyprint
    except (ImportError, OSError):
        return None
    path = Path(path)
    with atomic_path(path) as tmp:
        weasyprint.HTML(string=html_text, base_url=None).write_pdf(str(tmp))
    return path


PDF_HELP = ("PDF non écrit : WeasyPrint n'est pas installé. Installez-le avec "
            "« python -m pip install cpts_geo[pdf] » (sous Debian/Ubuntu, ajoutez « apt-get install "
            "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b ») ; ou ouvrez le fichier HTML dans un "
            "navigateur et choisissez Imprimer → Enregistrer au format PDF (A4).")



class PortraitResult(NamedTuple):
    """What :func:`portrait` wrote: the HTML, the PDF (or ``None``), and the portrait itself."""

    html: Path
    pdf: Path | None
    portrait: Portrait
    message: str



def portrait(
    cpts_id: str | None = None,
    path: str | Path | None = None,
    *,
    pdf: bool = False,
    context: PortraitContext | None = None,
    registry: Any = None,
    **options: Any,
) -> PortraitResult:
    """Write the portrait of one CPTS as HTML (and PDF with ``pdf=True``).

    Parameters
    ----------
    cpts_id : str, optional
        Id or name of the CPTS; ``None`` with a draft perimeter (``registry`` = list of codes).
    path : path, optional
        HTML file written (default ``portrait-<id>.html``).
    pdf : bool, default False
        Also write ``<path>.pdf`` (WeasyPrint); without WeasyPrint, ``message`` says how.
    context, registry, **options
        As for :func:`build_portrait`.

    Returns
    -------
    PortraitResult
    """
    ctx = context if context is not None else portrait_context(registry)
    p = build_portrait(cpts_id, context=ctx, **options)
    path = Path(path) if path is not None else Path(f"portrait-{_safe(p.cpts_id)}.html")
    text = render_html(p)
    atomic_write_text(path, text)
    written, message = None, ""
    if pdf:  # the same page without the figures' marks: fewer boxes for the PDF engine
        written = write_pdf(render_html(p, marked=False), path.with_suffix(".pdf"))
        message = "" if written else PDF_HELP
    return PortraitResult(path, written, p, message)



def _safe(text: str) -> str:
    from cpts_geo.render.batch import slug

    return slug(str(text)) or "cpts"



def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()



def _inputs_hash(ctx: PortraitContext, params: dict, extra: Iterable) -> str:
    """The hash of what every portrait of a batch is made from (computed once per batch)."""
    from cpts_geo import __version__

    h = hashlib.sha256()
    h.update(__version__.encode())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    m = ctx.checked.membership
    h.update(m[["code", "cpts_id", "share"]].to_csv(index=False).encode())
    h.update(ctx.checked.cpts[["name", "stage"]].astype(str).to_csv().encode())
    for frame in extra:
        if frame is not None:
            h.update(pd.util.hash_pandas_object(frame, index=True).values.tobytes())
    return h.hexdigest()


#: File names a portrait never takes: the batch's own index, and the device names Windows
#: reserves (whatever the extension).
_RESERVED_NAMES = frozenset({"index", "con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                             *(f"lpt{i}" for i in range(10))})


_LONGEST_NAME = 80


def portrait_file_names(ids: Iterable) -> dict[str, str]:
    """The file name (without extension) of each CPTS's portrait: one per CPTS, never shared.

    The name is the id in lower-case ASCII (:func:`cpts_geo.render.batch.slug`). Two ids that
    would give the same name (``A`` and ``a``, ``É-1`` and ``E 1``: on a disk that ignores case
    they are one file) each get the start of a hash of their exact id after it, as does an id
    that would give ``index`` or a name Windows reserves; the names depend on the ids of the
    registry only, not on the order nor on the region written.

    Parameters
    ----------
    ids : iterable
        The CPTS ids of the registry (every one, so that a name does not change with the
        region written).

    Returns
    -------
    dict
        File name by id (``str(id)``).

    Examples
    --------
    >>> names = portrait_file_names(["HDF-01", "A", "a"])
    >>> names["HDF-01"], names["A"] != names["a"], names["a"].startswith("a-")
    ('hdf-01', True, True)
    """
    ids = list(dict.fromkeys(str(i) for i in ids))
    base = {i: _safe(i)[:_LONGEST_NAME].strip("-") or "cpts" for i in ids}
    taken = pd.Series(list(base.values()), dtype=object).value_counts()

    def hashed(i: str, n: int) -> str:
        return f"{base[i]}-{hashlib.sha256(i.encode('utf-8')).hexdigest()[:n]}"

    names = {i: hashed(i, 8) if taken[b] > 1 or b in _RESERVED_NAMES else b for i, b in base.items()}
    n = 8
    while len(set(names.values())) < len(names):  # a plain name equal to a hashed one
        n += 8
        seen = pd.Series(list(names.values()), dtype=object).value_counts()
        names = {i: hashed(i, n) if seen[v] > 1 else v for i, v in names.items()}
    return names



def _reason(err: BaseException) -> str:
    """Why a portrait could not be made, in one French line."""
    from cpts_geo.io.formats import OutputError, os_reason

    if isinstance(err, OSError) and not isinstance(err, OutputError):
        where = getattr(err, "filename2", None) or err.filename  # a rename: the final name
        return f"écriture impossible ({os_reason(err)})" + (f" : {where}" if where else "")
    if isinstance(err, (ValueError, OSError)) and str(err):
        return " ".join(str(err).split())
    return f"erreur interne ({type(err).__name__} : {' '.join(str(err).split())})"



def _region_ids(ctx: PortraitContext, region: str) -> list:
    """The CPTS of the registry with a unit (commune or arrondissement) in the region, in order."""
    from cpts_geo.domain.codes import city_of
    from cpts_geo.domain.communes import region_code

    code = region_code(region)
    m = ctx.checked.membership
    # an arrondissement is in the region of its city (the layer holds the city)
    commune = city_of(pd.Series(m["code"].to_numpy(dtype=object), dtype=object))
    in_region = commune.map(ctx.france["region"].astype(object)).to_numpy(dtype=object) == code
    touching = set(m.loc[in_region, "cpts_id"])
    ids = [i for i in ctx.checked.cpts.index if i in touching]
    if not ids:
        raise ValueError(f"Aucune CPTS du registre n'a de commune dans la région {code}.")
    return ids



def portraits(
    out: str | Path,
    *,
    context: PortraitContext | None = None,
    registry: Any = None,
    region: str | None = None,
    pdf: bool = False,
    force: bool = False,
    progress: Callable[[str], None] | None = print,
    **options: Any,
) -> pd.DataFrame:
    """Write the portrait of every CPTS (of a region) into ``out``, with an ``index.html``.

    A portrait is skipped when its HTML file is there with the content hash recorded in
    ``out/manifest.json`` and the hash of its inputs (registry rows, parameters, files given,
    package version) is unchanged; every file is written atomically. Each CPTS has its own
    file (:func:`portrait_file_names`). A CPTS whose portrait fails does not stop the batch:
    its row says « échec » with the reason (in the index too), the others are written.

    Parameters
    ----------
    out : path
        Folder written.
    region : str, optional
        Region code or name: the CPTS with communes (or arrondissements) in it (default:
        every CPTS).
    pdf, force, progress, **options
        PDF too; redo every portrait; progress messages (``None``: silent); as for
        :func:`build_portrait`.

    Returns
    -------
    pandas.DataFrame
        One row per CPTS: ``Identifiant``, ``Nom``, ``Fichier``, ``État`` (« écrit »,
        « inchangé » or « échec »), ``Raison`` (why it failed, empty otherwise).
    """
    ctx = context if context is not None else portrait_context(registry)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ids = list(ctx.checked.cpts.index) if region is None else _region_ids(ctx, region)
    files = portrait_file_names(ctx.checked.cpts.index)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    params = {k: v for k, v in options.items() if k not in _TABLES}
    params["pdf"] = pdf
    from cpts_geo.indicators.supply import supply_table

    extra = [supply_table(options.get("supply"))] + [options.get(k) for k in _TABLES[1:]]
    digest = _inputs_hash(ctx, params, extra)  # the same inputs for every portrait of the batch
    names = ctx.checked.cpts["name"]
    rows: list[dict[str, str]] = []
    t0 = time.perf_counter()
    batch = _Batch(out / "manifest.json", manifest, digest, pdf=pdf, force=force)
    for i, cid in enumerate(ids, start=1):
        path = out / f"{files[str(cid)]}.html"
        status, reason = batch.write(cid, path, context=ctx, **options)
        rows.append({"Identifiant": str(cid), "Nom": str(names.at[cid]), "Fichier": path.name, "État": status,
                     "Raison": reason})
        if progress:
            bar = "#" * round(20 * i / len(ids))
            said = f"portrait {status}" if status != "échec" else f"ÉCHEC ({reason})"
            progress(f"[{bar:<20}] {i}/{len(ids)} {cid} : {said} "
                     f"({number(time.perf_counter() - t0, 1)} s)")
    table = pd.DataFrame(rows, columns=["Identifiant", "Nom", "Fichier", "État", "Raison"])
    _index(out, table, ctx.illustrative, pdf)
    return table



class _Batch:
    """The portraits of a batch and their manifest (the hash of each page, of its PDF and of the
    inputs it was made from): a portrait whose files and inputs are unchanged is not redone."""

    def __init__(self, path: Path, manifest: dict[str, Any], digest: str, *, pdf: bool, force: bool) -> None:
        self.path, self.manifest, self.digest, self.pdf, self.force = path, manifest, digest, pdf, force

    def unchanged(self, cid: str, path: Path) -> bool:
        """Whether the portrait of ``cid`` at ``path`` (and its PDF) is the one the manifest records."""
        entry = self.manifest.get(cid, {})
        pdf = path.with_suffix(".pdf")
        return (not self.force and entry.get("inputs") == self.digest and path.exists()
                and entry.get("html") == _file_hash(path)
                and (not self.pdf or (pdf.exists() and entry.get("pdf") == _file_hash(pdf))))

    def write(self, cid: str, path: Path, **options: Any) -> tuple[str, str]:
        """Write one portrait unless unchanged; its state (« écrit », « inchangé », « échec ») and
        the reason of a failure. One CPTS never stops the batch."""
        if self.unchanged(str(cid), path):
            return "inchangé", ""
        try:
            res = portrait(cid, path, pdf=self.pdf, **options)
        except Exception as err:  # said in the index and the summary
            if self.manifest.pop(str(cid), None) is not None:
                self._save()
            return "échec", _reason(err)
        self.manifest[str(cid)] = {"inputs": self.digest, "html": _file_hash(path),
                                   "pdf": _file_hash(res.pdf) if res.pdf else None}
        self._save()
        return "écrit", ""

    def _save(self) -> None:
        atomic_write_text(self.path, json.dumps(self.manifest, ensure_ascii=False, indent=1))



def _index(out: Path, table: pd.DataFrame, illustrative: bool, pdf: bool) -> None:
    """Write the batch's ``index.html`` (template ``render/templates/portrait_index.html``)."""
    rows: list[dict[str, Any]] = []
    for r in table.itertuples(index=False):
        pdf_file = Path(str(r.Fichier)).with_suffix(".pdf").name
        rows.append({"id": r.Identifiant, "name": r.Nom, "file": r.Fichier, "reason": r.Raison,
                     "failed": r.État == "échec", "pdf": pdf_file if pdf and (out / pdf_file).exists() else ""})
    failed = int((table["État"] == "échec").sum())
    count = f"{number(len(table) - failed, sep=SEP)} portrait(s)" + (
        f", {number(failed, sep=SEP)} en échec (liste ci-dessous, sans lien)" if failed else "")
    page = _environment().get_template("portrait_index.html").render(
        css=_css(), illustrative=illustrative, count=count, rows=rows)
    atomic_write_text(out / "index.html", page)
