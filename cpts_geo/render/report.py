"""The regional report: one self-contained A4 page (HTML, and PDF through WeasyPrint) for a committee.

The figures come from :func:`cpts_geo.indicators.regional.regional_diagnosis`; this module only
lays them out, through the Jinja2 template ``templates/regional_report.html`` (autoescaped: every
user text — CPTS names, stages as published — is inserted as text). Every printed figure carries
its key (``data-fig``) and is kept with its library value in :attr:`RegionalReport.figures`, so a
test or a notebook can check each one.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

import numpy as np
import pandas as pd

from cpts_geo.domain.french import number, percent
from cpts_geo.domain.stages import NOT_GIVEN
from cpts_geo.domain.tiers import TIER_LABELS
from cpts_geo.indicators.regional import RegionalDiagnosis
from cpts_geo.io.files import atomic_write_text
from cpts_geo.render.portrait import SEP, Figure, write_pdf

if TYPE_CHECKING:
    import geopandas as gpd

    from cpts_geo.domain.registry import CheckedRegistry, RegistryRead
    from cpts_geo.indicators.supply import SupplyRead

#: A listing as :func:`regional_report` takes it: a file, a table, a read or a checked registry.
_Listing: TypeAlias = "str | Path | pd.DataFrame | RegistryRead | CheckedRegistry"

__all__ = ["EvolutionMaps", "RegionalReport", "evolution_chart", "evolution_maps", "regional_report",
           "regional_report_html", "write_regional_report"]

#: How many zones blanches and changes the page lists (the rest is counted).
MAX_ROWS = 25


class RegionalReport(NamedTuple):
    """A regional report as written."""

    #: The page (HTML).
    html: str
    #: Every printed figure by key: its library value and its text.
    figures: dict[str, Figure]
    #: The HTML file written, or ``None``.
    path: Path | None = None
    #: The PDF written, or ``None`` (not asked, or WeasyPrint missing: see ``message``).
    pdf: Path | None = None
    #: What to tell the user (e.g. how to get the PDF), or ``""``.
    message: str = ""


class _Page:
    """The figures of a page and their texts, as they are printed."""

    def __init__(self) -> None:
        self.figures: dict[str, Figure] = {}

    def fig(self, key: str, value: Any, decimals: int | None = 0, *, kind: str = "number", unit: str = "") -> dict:
        missing = value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))
        if missing:
            text = "non disponible"
        elif kind == "percent":
            text = percent(value, decimals, sep=SEP)
        elif kind == "signed":
            text = ("+" if value > 0 else "") + number(value, decimals, sep=SEP)
        else:
            text = number(value, decimals, sep=SEP)
        if unit and not missing:
            text = f"{text}{SEP}{unit}"
        self.figures[key] = Figure(key, None if missing else float(value), text)
        return {"key": key, "text": text}


def _text(value: Any) -> dict:
    return {"key": None, "text": "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)}


def _table(caption: str, headers: list[str], numeric: list[bool], rows: list[list[dict]],
           totals: Sequence[int] = ()) -> dict:
    return {"caption": caption, "headers": headers, "numeric": numeric,
            "rows": [{"cells": r, "total": k in totals} for k, r in enumerate(rows)]}


def _map_png(diag: RegionalDiagnosis, *, dpi: int = 150) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    from cpts_geo.render.plotting import plot_stages

    fig = MplFigure(figsize=(9.0, 6.4))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 0.0, 0.55, 1.0))  # the legend and the numbered list go on the right
    plot_stages(diag.territories, diag.communes, ax=ax, legend=True, labels=len(diag.territories) <= 80,
                membership=diag.membership, legend_kwds={"width": 52})  # the legend has the right 45 %
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _coverage_section(page: _Page, diag: RegionalDiagnosis) -> dict:
    cov = diag.coverage
    total = cov.loc["Total"]
    uncovered = cov.loc["Non couvert"] if "Non couvert" in cov.index else None
    covered_communes = float(total["n_communes"]) - (float(uncovered["n_communes"]) if uncovered is not None else 0)
    covered_pop = float(total["population"]) - (float(uncovered["population"]) if uncovered is not None else 0)
    para = [_text(""), page.fig("cpts.n", len(diag.cpts)), _text(" CPTS ont au moins une commune dans le territoire ; "),
            page.fig("coverage.covered.communes", covered_communes), _text(" communes sur "),
            page.fig("coverage.total.communes", total["n_communes"]), _text(" et "),
            page.fig("coverage.covered.population", covered_pop), _text(" habitants sur "),
            page.fig("coverage.total.population", total["population"]), _text(" ("),
            page.fig("coverage.covered.share", covered_pop / float(total["population"]) if total["population"] else None,
                     1, kind="percent"),
            _text(") sont couverts par une CPTS.")]
    rows = []
    for k, (stage, rec) in enumerate(cov.iterrows()):
        if stage != "Total" and rec["n_communes"] == 0 and rec["n_cpts"] == 0:
            continue  # no empty class
        key = "total" if stage == "Total" else f"stage{k}"
        rows.append([_text(stage), page.fig(f"coverage.{key}.cpts", rec["n_cpts"]),
                     page.fig(f"coverage.{key}.communes", rec["n_communes"]),
                     page.fig(f"coverage.{key}.population", rec["population"]),
                     page.fig(f"coverage.{key}.share", rec["share_population"], 1, kind="percent")])
    table = _table("Couverture par étape", ["Étape", "CPTS", "Communes", "Population", "Part de la population"],
                   [False, True, True, True, True], rows, totals=[len(rows) - 1])
    notes = ["Une commune partagée entre CPTS compte pour chacune avec sa part de population ; une CPTS qui "
             "traverse la limite du territoire n'y compte que ses communes situées dans le territoire."]
    return {"title": "Couverture par étape", "paragraphs": [para], "tables": [table], "notes": notes}


def _zones_section(page: _Page, diag: RegionalDiagnosis) -> dict:
    zones = diag.zones
    total_pop = float(diag.coverage.loc["Total", "population"]) or np.nan
    pop = float(zones["population"].sum()) if len(zones) else 0.0
    para = [page.fig("zones.n", len(zones)), _text(" zone(s) blanche(s) : "),
            page.fig("zones.communes", int(diag.uncovered.shape[0])), _text(" communes sans CPTS, "),
            page.fig("zones.population", pop), _text(" habitants ("),
            page.fig("zones.share", pop / total_pop, 1, kind="percent"), _text(" de la population du territoire).")]
    rows = []
    for z, rec in zones.head(MAX_ROWS).iterrows():
        near = rec["nearest_name"] if rec["distance_km"] == 0 or pd.isna(rec["distance_km"]) else \
            f"{rec['nearest_name']} (à {number(rec['distance_km'], 1, sep=SEP)}{SEP}km)"
        rows.append([_text(z), _text(f"{rec['main_name']} ({rec['main_commune']})"),
                     page.fig(f"zone.{z}.communes", rec["n_communes"]),
                     page.fig(f"zone.{z}.population", rec["population"]),
                     _text(rec["neighbours"] or near)])
    tables = [_table("Zones blanches (communes voisines sans CPTS), les plus peuplées d'abord",
                     ["Zone", "Commune principale", "Communes", "Population", "CPTS voisines ou la plus proche"],
                     [False, False, True, True, False], rows)] if rows else []
    notes = [f"{len(zones) - MAX_ROWS} autre(s) zone(s) non listée(s) (toutes dans les sorties « communes »)."] \
        if len(zones) > MAX_ROWS else []
    return {"title": "Zones blanches", "paragraphs": [para], "tables": tables, "notes": notes}


def _funding_section(page: _Page, diag: RegionalDiagnosis) -> dict:
    table = diag.cpts
    rows = []
    for tier in (1, 2, 3, 4):
        sub = table[table["tier"] == tier]
        rows.append([_text(TIER_LABELS[tier]), page.fig(f"tier.{tier}.n", len(sub)),
                     page.fig(f"tier.{tier}.funding", float(sub["funding"].sum()), unit="€")])
    unknown = table[table["tier"].isna()]
    if len(unknown):
        rows.append([_text("Taille inconnue (population manquante)"), page.fig("tier.unknown.n", len(unknown)),
                     _text("")])
    rows.append([_text("Total"), page.fig("tier.total.n", len(table)),
                 page.fig("funding.total", diag.funding_total, unit="€")])
    para = [_text("Financement ACI maximal annuel de ces CPTS, missions optionnelles et majoration comprises : "),
            page.fig("funding.total.text", diag.funding_total, unit="€"),
            _text(". Ce sont des montants maximaux : le versement dépend de l'atteinte des objectifs.")]
    return {"title": "Tailles et financement ACI", "paragraphs": [para],
            "tables": [_table("CPTS par taille", ["Taille", "CPTS", "Financement maximal annuel"],
                              [False, True, True], rows, totals=[len(rows) - 1])],
            "notes": ["Une CPTS qui traverse la limite du territoire est comptée entière."]}


def _accessibility_header(diag: RegionalDiagnosis) -> str:
    """The header of the E2SFCA column, saying which travel times were used."""
    given = diag.gp_supply is not None and "km" not in diag.gp_supply.accessibility.costs.columns
    return f"Accessibilité E2SFCA ({'temps de trajet fournis' if given else 'temps de trajet estimés'})"


def _gp_paragraph(page: _Page, diag: RegionalDiagnosis) -> list[dict]:
    """The area's and France's density of GPs, when a supply was given."""
    ref = diag.gp_reference
    if ref is None or not len(ref):
        return []
    return [_text(f"Médecins généralistes pour 10 000 habitants : {diag.area} "),
            page.fig("gp.area.density", ref.get("area"), 1), _text(" ; France "),
            page.fig("gp.france.density", ref.get("France"), 1), _text(".")]


def _cpts_section(page: _Page, diag: RegionalDiagnosis) -> dict:
    table = diag.cpts
    density = table["gp_density"].notna().any()
    access = "gp_accessibility" in table.columns and diag.gp_supply is not None
    headers = ["CPTS", "Étape", "Communes (dans le territoire)", "Population", "Taille", "Financement maximal",
               "APL 2023", "Évolution depuis 2022"] + (["Médecins généralistes pour 10 000 hab."] if density else []) \
        + ([_accessibility_header(diag)] if access else [])
    rows = []
    for cid, rec in table.iterrows():
        n_area, n_all = int(rec["n_communes_area"]), int(rec["n_communes"])
        communes = page.fig(f"cpts.{cid}.communes", n_area)
        if n_area != n_all:
            communes = {"key": communes["key"], "text": f"{communes['text']} (sur {number(n_all, sep=SEP)})"}
            page.figures[communes["key"]] = Figure(communes["key"], float(n_area), communes["text"])
        row = [_text(f"{cid} — {rec['name']}"), _text(rec["stage"]), communes,
               page.fig(f"cpts.{cid}.population", rec["population"]),
               page.fig(f"cpts.{cid}.tier", rec["tier"]),
               page.fig(f"cpts.{cid}.funding", rec["funding"], unit="€"),
               page.fig(f"cpts.{cid}.apl2023", rec["apl_2023"], 2),
               page.fig(f"cpts.{cid}.aplchange", rec["apl_change"], 2, kind="signed")]
        if density:
            row.append(page.fig(f"cpts.{cid}.density", rec["gp_density"], 1))
        if access:
            row.append(page.fig(f"cpts.{cid}.access", rec["gp_accessibility"], 1))
        rows.append(row)
    ref = diag.apl_reference
    paras = []
    if len(ref):
        acc = ref["accessibility"].xs(2023, level="year") if 2023 in ref.index.get_level_values("year") else None
        if acc is not None:
            parts: list[dict] = [_text("APL aux médecins généralistes en 2023 (DREES, consultations par habitant "
                                       "et par an) : ")]
            units = [u for u in acc.index if u != "France"] + (["France"] if "France" in acc.index else [])
            for k, unit in enumerate(units):
                label = ("France" if unit == "France" else diag.area if unit.startswith("reg:")
                         else f"département {unit[4:]}")
                parts += [_text(("" if k == 0 else " ; ") + f"{label} "), page.fig(f"apl.{unit}.2023", acc[unit], 2)]
            paras.append([*parts, _text(".")])
    gp = _gp_paragraph(page, diag)
    if gp:
        paras.append(gp)
    notes = ["APL : moyenne des APL communales pondérée par la population standardisée (règle de la "
             "DREES) ; « Évolution » : APL 2023 moins APL 2022."]
    if access:
        notes.append("Accessibilité E2SFCA : médecins généralistes accessibles pour 10 000 habitants, calcul de "
                     "cpts_geo sur l'offre fournie (effectifs, non des consultations), paliers de temps de la "
                     "DREES, moyenne des communes de la CPTS pondérée "
                     "par la population standardisée ; un ordre de grandeur à comparer entre CPTS, pas l'APL. "
                     "Les temps de trajet utilisés sont dits dans les sources.")
    notes += [f"À noter : {note}." for note in diag.gp_notes]
    return {"title": "Les CPTS du territoire", "paragraphs": paras, "page_break": True,
            "tables": [_table("Chaque CPTS", headers, [False, False] + [True] * (len(headers) - 2), rows)],
            "notes": notes}


def _crossing_section(page: _Page, diag: RegionalDiagnosis) -> dict | None:
    crossing = diag.cpts[diag.cpts["crosses"]]
    if not len(crossing):
        return None
    para = [page.fig("crossing.n", len(crossing)), _text(" CPTS traversent la limite du territoire.")]
    rows = [[_text(f"{cid} — {rec['name']}"), _text(rec["outside"]),
             page.fig(f"crossing.{cid}.communes", rec["n_communes"] - rec["n_communes_area"])]
            for cid, rec in crossing.iterrows()]
    return {"title": "CPTS qui traversent la limite du territoire", "paragraphs": [para],
            "tables": [_table("", ["CPTS", "Départements hors du territoire", "Communes hors du territoire"],
                              [False, False, True], rows)], "notes": []}


def _changes_section(page: _Page, diag: RegionalDiagnosis, previous_name: str) -> dict | None:
    if diag.changes is None:
        return None
    summary = diag.changes.summary
    rows = [[_text(kind), page.fig(f"changes.{k}", n)] for k, (kind, n) in enumerate(summary.items()) if n]
    para = [_text(f"Comparé au registre précédent ({previous_name}) : "),
            page.fig("changes.total", int(summary.sum())), _text(" changement(s).")]
    detail = diag.changes.changes
    shown = detail[~detail["change"].str.startswith("commune")].head(MAX_ROWS)
    lines = [[_text(rec.change), _text(rec.old_cpts if isinstance(rec.old_cpts, str) else rec.old_id),
              _text(rec.new_cpts if isinstance(rec.new_cpts, str) else rec.new_id),
              _text(" → ".join(str(v) for v in (rec.old_value, rec.new_value) if isinstance(v, str)))]
             for rec in shown.itertuples(index=False)]
    tables = [_table("Changements par nature", ["Nature", "Nombre"], [False, True], rows)] if rows else []
    if lines:
        tables.append(_table("Changements des CPTS (créations, dissolutions, étapes, noms)",
                             ["Changement", "Avant", "Après", "Valeurs"], [False] * 4, lines))
    return {"title": "Ce qui a changé depuis le registre précédent", "paragraphs": [para], "tables": tables,
            "notes": ["Les communes entrées dans la couverture ou sorties sont listées par comparer "
                      "(cpts-geo comparer)."]}


def regional_report_html(
    diag: RegionalDiagnosis,
    *,
    map: bool = True,
    illustrative: str = "",
    previous_name: str = "",
    history: pd.DataFrame | None = None,
    history_maps: bytes | None = None,
) -> RegionalReport:
    """The page of a regional diagnosis.

    Parameters
    ----------
    diag : RegionalDiagnosis
        The figures (:func:`cpts_geo.indicators.regional.regional_diagnosis`).
    map : bool, default True
        Draw the map by stage (by CPTS when no stage is given).
    illustrative : str, optional
        A banner for an illustrative registry.
    previous_name : str, optional
        The name of the previous listing, when ``diag.changes`` is given.
    history : DataFrame, optional
        Coverage over several listings (:func:`cpts_geo.indicators.regional.coverage_over_time`):
        the evolution chart and its table.
    history_maps : bytes, optional
        The small-multiple maps of those listings (PNG, :func:`evolution_maps`), shown beside the chart.

    Returns
    -------
    RegionalReport
        The page and its figures (not written).
    """
    from jinja2 import Environment, PackageLoader, select_autoescape

    page = _Page()
    sections = [_coverage_section(page, diag)]
    if map:
        stages_given = bool((diag.territories["stage"].astype(str) != NOT_GIVEN).any())
        sections.append({"title": "Carte", "paragraphs": [], "tables": [], "notes": [],
                         "images": [_image(_map_png(diag), f"Les CPTS du territoire{' par étape' if stages_given else ''}"
                                                          f" — {diag.area}")]})
    sections.append(_zones_section(page, diag))
    sections.append(_funding_section(page, diag))
    sections.append(_cpts_section(page, diag))
    for extra in (_crossing_section(page, diag), _changes_section(page, diag, previous_name)):
        if extra is not None:
            sections.append(extra)
    if history is not None and len(history):
        sections.append(_history_section(page, history, history_maps))
    sections.append({"title": "Sources et millésimes", "paragraphs": [], "tables": [], "notes": list(diag.sources)})
    env = Environment(loader=PackageLoader("cpts_geo.render", "templates"), autoescape=select_autoescape(["html"]),
                      keep_trailing_newline=True)
    css = (resources.files("cpts_geo.render") / "static" / "portrait.css").read_text(encoding="utf-8")
    from cpts_geo import __version__

    html = env.get_template("regional_report.html").render(
        area=diag.area, css=css, illustrative=illustrative, sections=sections,
        subtitle=f"{len(diag.cpts)} CPTS, {number(diag.coverage.loc['Total', 'n_communes'], sep=SEP)} communes, "
                 f"{number(diag.coverage.loc['Total', 'population'], sep=SEP)} habitants",
        footer=f"Produit par cpts_geo {__version__}.")
    return RegionalReport(html, page.figures)


def _image(png: bytes, alt: str) -> dict:
    """An image of the page (PNG, inlined) and its caption."""
    return {"data": base64.b64encode(png).decode("ascii"), "alt": alt}


def _history_section(page: _Page, history: pd.DataFrame, maps: bytes | None = None) -> dict:
    stages = [c for c in history.columns if c not in ("n_cpts", "share_covered")]
    rows = [[_text(date)] + [page.fig(f"history.{date}.{k}", rec[s]) for k, s in enumerate(stages)]
            + [page.fig(f"history.{date}.n_cpts", rec["n_cpts"]),
               page.fig(f"history.{date}.share", rec["share_covered"], 1, kind="percent")]
            for date, rec in history.iterrows()]
    images = [_image(evolution_chart(history), "Population couverte par étape, par registre daté")]
    if maps is not None:
        images.append(_image(maps, "Communes couvertes par étape, une carte par registre daté (même étendue, "
                                   "mêmes couleurs)"))
    return {"title": "Évolution de la couverture", "paragraphs": [], "tables": [
        _table("Population couverte par étape", ["Date", *stages, "CPTS", "Part couverte"],
               [False] + [True] * (len(stages) + 2), rows)],
        "images": images, "notes": []}


def evolution_chart(history: pd.DataFrame, *, path: str | Path | None = None, dpi: int = 150) -> bytes:
    """The coverage by stage over dated listings, as a stacked bar chart (French labels).

    Parameters
    ----------
    history : DataFrame
        :func:`cpts_geo.indicators.regional.coverage_over_time`.
    path : str or Path, optional
        Also write it there (``.png`` or ``.svg``, atomically).
    dpi : int, default 150

    Returns
    -------
    bytes
        The PNG (or SVG) image.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure
    from matplotlib.ticker import FuncFormatter

    from cpts_geo.domain.stages import STAGE_COLORS
    from cpts_geo.render.style import UNCOVERED_COLOR

    stages = [c for c in history.columns if c not in ("n_cpts", "share_covered")]
    fig = MplFigure(figsize=(7.0, 3.6))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.12, 0.14, 0.56, 0.78))
    bottom = np.zeros(len(history))
    for stage in stages:
        values = history[stage].to_numpy(dtype=float)
        color = STAGE_COLORS.get(stage, UNCOVERED_COLOR if stage == "Non couvert" else "#bdbdbd")
        ax.bar(history.index.astype(str), values, bottom=bottom, color=color, edgecolor="white", label=stage)
        bottom += values
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: number(v / 1e6, 1) + " M"))
    ax.set_ylabel("Population")
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _save_image(fig, path, dpi)


class EvolutionMaps(NamedTuple):
    """Small-multiple maps of coverage by stage, one panel per dated listing (:func:`evolution_maps`)."""

    #: The image (PNG, or SVG when written to a ``.svg`` file).
    image: bytes
    #: The matplotlib figure drawn: one axes per listing, titled with its date.
    figure: Any
    #: By date, the codes of the communes (or arrondissements) drawn as covered.
    covered: dict[str, pd.Index]
    #: The file written, or ``None``.
    path: Path | None = None


def _panel_grid(n: int, width: float, height: float) -> tuple[int, int, float]:
    """Columns, rows and figure height of ``n`` panels of a map ``width`` × ``height`` (metres)."""
    cols = min(n, 3 if n != 4 else 2)
    rows = -(-n // cols)
    panel_w = 9.0 / cols
    panel_h = panel_w * (height / width if width else 1.0)
    return cols, rows, min(rows * (panel_h + 0.35) + 0.9, 11.0)


def evolution_maps(
    listings: Sequence[CheckedRegistry],
    dates: Sequence[str],
    communes: gpd.GeoDataFrame,
    *,
    path: str | Path | None = None,
    dpi: int = 150,
) -> EvolutionMaps:
    """Small-multiple maps of the coverage by stage over dated listings (French labels).

    One small map per listing, oldest first, each titled with its date, all with the same extent
    and the same colours (:data:`cpts_geo.domain.stages.STAGE_COLORS`, the zones blanches in grey
    as on every map of the package), and one legend of the stages present.

    Parameters
    ----------
    listings : sequence of CheckedRegistry
        The validated listings, oldest first.
    dates : sequence of str
        Their dates, one per listing (the panels' titles).
    communes : GeoDataFrame
        The area's communes.
    path : str or Path, optional
        Also write the image there (``.png`` or ``.svg``, atomically).
    dpi : int, default 150

    Returns
    -------
    EvolutionMaps
        The image, the figure and the communes drawn as covered in each panel.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure
    from matplotlib.patches import Patch

    from cpts_geo.domain.crs import to_metric
    from cpts_geo.domain.stages import STAGE_COLORS, STAGES
    from cpts_geo.indicators.regional import coverage_layers
    from cpts_geo.render.plotting import _add_lines, _add_polygons, _department_borders
    from cpts_geo.render.style import UNCOVERED_BORDER, UNCOVERED_COLOR

    layers = {date: to_metric(layer) for date, layer in coverage_layers(listings, dates, communes).items()}
    base = to_metric(communes)
    x0, y0, x1, y1 = base.total_bounds
    cols, rows, height = _panel_grid(len(layers), x1 - x0, y1 - y0)
    fig = MplFigure(figsize=(9.0, height))
    FigureCanvasAgg(fig)
    borders = _department_borders(base, False) if "department" in base.columns else None
    covered: dict[str, pd.Index] = {}
    present: set[str] = set()
    for k, (date, layer) in enumerate(layers.items()):
        ax = fig.add_subplot(rows, cols, k + 1)
        cov = layer[layer["covered"].to_numpy(dtype=bool)]
        stages = cov["stage"].astype(str)
        present.update(stages)
        _add_polygons(ax, layer.geometry[~layer["covered"].to_numpy(dtype=bool)].to_numpy(),
                      facecolor=UNCOVERED_COLOR, edgecolors="none", gid="uncovered")
        _add_polygons(ax, cov.geometry.to_numpy(), facecolor=[STAGE_COLORS.get(v, "#bdbdbd") for v in stages],
                      edgecolors="none", gid="covered")
        if borders is not None:
            _add_lines(ax, borders, colors="#404040", linewidths=0.4, gid="department-borders")
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.set_title(str(date), fontsize=10)
        covered[str(date)] = pd.Index(cov.index.astype(str))
    order = [s for s in (*STAGES, NOT_GIVEN) if s in present]
    handles = [Patch(facecolor=STAGE_COLORS[s], edgecolor="#555555", label=s) for s in order]
    handles.append(Patch(facecolor=UNCOVERED_COLOR, edgecolor=UNCOVERED_BORDER, label="Zone blanche (non couverte)"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 3), fontsize=7.5, frameon=False)
    fig.suptitle("Communes couvertes par étape, par registre daté", fontsize=11)
    fig.subplots_adjust(left=0.02, right=0.98, top=1 - 0.55 / height, bottom=0.75 / height, wspace=0.05,
                        hspace=0.15)
    image = _save_image(fig, path, dpi)
    return EvolutionMaps(image, fig, covered, Path(path) if path is not None else None)


def _save_image(fig: Any, path: str | Path | None, dpi: int) -> bytes:
    """The figure as PNG (or SVG for a ``.svg`` path), written atomically when a path is given."""
    fmt = "svg" if path is not None and str(path).lower().endswith(".svg") else "png"
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, metadata={"Software": None} if fmt == "png" else {"Date": None})
    data = buf.getvalue()
    if path is not None:
        from cpts_geo.io.files import atomic_write_bytes

        atomic_write_bytes(Path(path), data)
    return data


def write_regional_report(report: RegionalReport, path: str | Path, *, pdf: bool = False) -> RegionalReport:
    """Write a regional report (HTML, and its PDF next to it when asked), each atomically.

    Parameters
    ----------
    report : RegionalReport
        :func:`regional_report_html`.
    path : str or Path
        The HTML file.
    pdf : bool, default False
        Also write ``<path>.pdf`` through WeasyPrint (extra ``[pdf]``).

    Returns
    -------
    RegionalReport
        With ``path``, ``pdf`` and ``message`` filled.
    """
    from cpts_geo.render.portrait import PDF_HELP

    path = Path(path)
    pdf_path = None
    message = ""
    if pdf:  # the PDF first: if it fails, nothing is half-done
        pdf_path = write_pdf(report.html, path.with_suffix(".pdf"))
        if pdf_path is None:
            message = PDF_HELP
    atomic_write_text(path, report.html)
    return report._replace(path=path, pdf=pdf_path, message=message)



def _checked(reg: _Listing, france: gpd.GeoDataFrame) -> CheckedRegistry:
    """A listing validated on the commune layer (a file read first), quietly: its corrections are the
    registry's own report (``cpts-geo valider``)."""
    import warnings

    from cpts_geo.domain.registry import CheckedRegistry, validate_registry
    from cpts_geo.io.registry import read_registry_report

    if isinstance(reg, CheckedRegistry):
        return reg
    read = read_registry_report(reg) if isinstance(reg, (str, Path)) else reg
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return validate_registry(read, france)


def _supply_and_costs(supply: SupplyRead | pd.DataFrame | str | Path | None, costs: pd.DataFrame | str | Path | None,
                      france: gpd.GeoDataFrame) -> tuple[SupplyRead | pd.DataFrame | None, pd.DataFrame | None]:
    """The supply and the travel times, read when given as files."""
    from cpts_geo.indicators.regional import COSTS_NEED_SUPPLY

    if costs is not None and supply is None:
        raise ValueError(COSTS_NEED_SUPPLY)
    if isinstance(supply, (str, Path)):
        from cpts_geo.io.supply import read_supply

        supply = read_supply(supply, communes=france, unknown="report")
    if isinstance(costs, (str, Path)):
        from cpts_geo.io.costs import read_costs

        costs = read_costs(costs)
    return supply, costs


def _given_name(given: object, source: str | None) -> str:
    """What to cite for a table given: the caller's words, or the file's name."""
    if source:
        return source
    return f"fichier {Path(given).name}" if isinstance(given, (str, Path)) else ""


def _history_figures(history: Sequence[_Listing], dates: Sequence[str] | None, france: gpd.GeoDataFrame,
                     diag: RegionalDiagnosis, *, maps: bool) -> tuple[pd.DataFrame, bytes | None]:
    """Coverage over dated listings and their small-multiple maps (``None`` without maps)."""
    from cpts_geo.indicators.regional import coverage_over_time

    listings = [_checked(r, france) for r in history]
    labels = list(dates) if dates is not None else [Path(str(r)).stem if isinstance(r, (str, Path)) else str(k + 1)
                                                     for k, r in enumerate(history)]
    area_layer = france[france["department"].isin(diag.departments)]
    table = coverage_over_time(listings, labels, area_layer)
    return table, evolution_maps(listings, labels, area_layer).image if maps else None


def regional_report(
    registry: _Listing,
    out: str | Path | None = None,
    *,
    region: str | None = None,
    departments: Iterable[str] | str | None = None,
    previous: _Listing | None = None,
    history: Sequence[_Listing] | None = None,
    dates: Sequence[str] | None = None,
    communes: gpd.GeoDataFrame | None = None,
    pdf: bool = False,
    map: bool = True,
    supply: SupplyRead | pd.DataFrame | str | Path | None = None,
    costs: pd.DataFrame | str | Path | None = None,
    supply_source: str | None = None,
    costs_source: str | None = None,
    previous_name: str | None = None,
) -> RegionalReport:
    """Write the regional report of a registry for a region or a set of departments.

    Parameters
    ----------
    registry : path, DataFrame, RegistryRead or CheckedRegistry
        The listing (read by :func:`cpts_geo.io.registry.read_registry` when it is a file). The
        illustrative registry gets its banner in any of these forms.
    out : str or Path, optional
        The HTML file (default ``rapport-<region code or departments>.html`` in the current folder).
    region, departments : optional
        The area (one of the two).
    previous : path or registry, optional
        The previous listing: what changed is added.
    previous_name : str, optional
        How the page names the previous listing (default: its file name when ``previous`` is a
        path, « registre précédent » otherwise).
    history : sequence of registries, optional
        Dated listings (oldest first) for the evolution of coverage (chart, table and, with
        ``map``, one small map per listing); ``dates`` gives their dates.
    dates : sequence of str, optional
        One date per listing of ``history``.
    communes : GeoDataFrame, optional
        The commune layer of France (default: the embedded one).
    pdf : bool, default False
        Also write the PDF (WeasyPrint).
    map : bool, default True
        Draw the maps.
    supply : SupplyRead, DataFrame or path, optional
        The supply of professionals (:func:`cpts_geo.io.supply.read_supply`; a file is read with
        it): density of GPs and their E2SFCA accessibility per CPTS, the area's and France's density.
    costs : DataFrame or path, optional
        Real travel times between communes (:func:`cpts_geo.io.costs.read_costs`; a file is read
        with it) for the accessibility instead of times estimated from distances. Needs ``supply``.
    supply_source, costs_source : str, optional
        What the page cites for them (producer, vintage); default: the file's name.

    Returns
    -------
    RegionalReport
        The page, its figures, the files written.

    Raises
    ------
    ValueError
        ``costs`` without ``supply``.

    Examples
    --------
    >>> import tempfile, os
    >>> res = regional_report(load_example_registry(), os.path.join(tempfile.mkdtemp(), "r.html"),
    ...                       region="32", map=False)
    >>> res.figures["cpts.n"].text, res.path.exists()
    ('59', True)
    """
    from cpts_geo.domain.communes import load_communes
    from cpts_geo.indicators.regional import regional_diagnosis
    from cpts_geo.io.registry import is_example_registry, read_registry_report

    france = communes if communes is not None else load_communes(crs=None)
    supply_table, costs_table = _supply_and_costs(supply, costs, france)
    read = read_registry_report(registry) if isinstance(registry, (str, Path)) else registry
    example = is_example_registry(read)
    diag = regional_diagnosis(_checked(read, france), france, region=region, departments=departments,
                              previous=_checked(previous, france) if previous is not None else None,
                              supply=supply_table, costs=costs_table,
                              supply_source=_given_name(supply, supply_source),
                              costs_source=_given_name(costs, costs_source))
    hist, maps = _history_figures(history, dates, france, diag, maps=map) if history else (None, None)
    report = regional_report_html(
        diag, map=map, history=hist, history_maps=maps,
        illustrative="Registre illustratif : les compositions des CPTS ne sont pas publiées ; celles-ci sont "
                     "plausibles, pas réelles." if example else "",
        previous_name=previous_name or (Path(str(previous)).name if isinstance(previous, (str, Path))
                                        else "registre précédent"))
    path = Path(out) if out is not None else Path(f"rapport-{diag.region or '-'.join(diag.departments)}.html")
    return write_regional_report(report, path, pdf=pdf)
