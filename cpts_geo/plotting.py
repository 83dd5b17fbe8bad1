"""Print maps with matplotlib: stage map, tier map, indicator choropleth.

The parameters follow the HTML renderer (:mod:`cpts_geo.maps`) and geopandas' ``plot``:
``column``, ``cmap``, ``scheme``, ``k``, ``legend``, ``ax`` (``None`` makes a figure; the axes
are returned). Maps are drawn in the metric CRS of the communes (Lambert-93 for mainland
France), with a scale bar, a title and a source caption; :func:`save_figure` writes PNG, SVG
or PDF at print resolution.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from cpts_geo import load_communes, load_example_registry, validate_registry, build_territories
>>> hdf = load_communes(region="32")
>>> checked = validate_registry(load_example_registry(), hdf)
>>> ax = plot_stages(build_territories(checked, hdf, parts=False))
>>> [t.get_text() for t in ax.get_legend().get_texts()][:2]
['Dynamique identifiée', "Lettre d'intention validée"]
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from cpts_geo.communes import is_insee_code, metric_crs, require_crs
from cpts_geo.maps import UNCOVERED_BORDER, UNCOVERED_COLOR
from cpts_geo.stages import STAGE_COLORS, STAGES
from cpts_geo.tiers import TIER_LABELS

__all__ = ["plot_stages", "plot_tiers", "plot_indicator", "save_figure", "TIER_COLORS"]

#: Tier colours (ColorBrewer "Purples", 4 classes: colour-blind safe, prints in grey levels).
TIER_COLORS = {1: "#f2f0f7", 2: "#cbc9e2", 3: "#9e9ac8", 4: "#6a51a3"}


def _axes(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8.27, 8.27))  # A4 width
    ax.set_axis_off()
    ax.set_aspect("equal")
    return ax


def _metric(gdf: gpd.GeoDataFrame, crs) -> gpd.GeoDataFrame:
    require_crs(gdf, "La couche")
    return gdf.to_crs(crs)


def _crs_for(territories, communes):
    base = communes if communes is not None else territories
    if base.index.name == "cpts_id" or not is_insee_code(base.index.astype(str).to_series()).all():
        return "EPSG:2154" if not (base.crs and base.crs.is_projected) else base.crs
    return metric_crs(base)


def _scale_bar(ax, *, length_km: float | None = None) -> None:
    """A scale bar in the lower right corner (the axes are in metres)."""
    from matplotlib.patches import Rectangle

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    width = x1 - x0
    if length_km is None:  # the largest round length under a fifth of the map's width
        nice = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500]
        length_km = max([n for n in nice if n * 1000 <= width / 5] or [1])
    length = length_km * 1000
    xs = x1 - width * 0.05 - length
    ys = y0 + (y1 - y0) * 0.04
    h = (y1 - y0) * 0.008
    ax.add_patch(Rectangle((xs, ys), length / 2, h, facecolor="black", edgecolor="black", lw=0.6,
                           gid="scale-bar"))
    ax.add_patch(Rectangle((xs + length / 2, ys), length / 2, h, facecolor="white", edgecolor="black",
                           lw=0.6, gid="scale-bar"))
    ax.text(xs + length / 2, ys + 2.2 * h, f"{length_km:g} km", ha="center", va="bottom", fontsize=8,
            gid="scale-bar-label")


def _finish(ax, *, title, caption, scale_bar):
    if title:
        ax.set_title(title, fontsize=13, fontweight="bold", loc="left")
    if scale_bar:
        _scale_bar(ax)
    if caption:
        ax.annotate(caption, xy=(0, -0.02), xycoords="axes fraction", ha="left", va="top", fontsize=7,
                    color="#333333", wrap=True)
    return ax


def plot_stages(
    territories: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame | None = None,
    *,
    ax=None,
    column: str = "stage",
    cmap: dict | None = None,
    legend: bool = True,
    title: str | None = None,
    caption: str | None = None,
    scale_bar: bool = True,
):
    """Print map of CPTS coloured by project stage.

    Parameters
    ----------
    territories : GeoDataFrame
        From :func:`cpts_geo.territories.build_territories`.
    communes : GeoDataFrame, optional
        From :func:`cpts_geo.territories.communes_with_cpts`: draws commune borders (light)
        and uncovered communes (grey, "Zone blanche").
    column : str, default "stage"
        Column holding the stage.
    cmap : dict, optional
        Stage → colour (default :data:`cpts_geo.stages.STAGE_COLORS`).
    legend : bool, default True
        Legend in stage order, with the uncovered communes when ``communes`` is given.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.patches import Patch

    ax = _axes(ax)
    colors = dict(STAGE_COLORS if cmap is None else cmap)
    crs = _crs_for(territories, communes)
    terr = _metric(territories, crs)
    if communes is not None:
        com = _metric(communes, crs)
        unc = com[~com["covered"]] if "covered" in com.columns else com.iloc[:0]
        if len(unc):
            unc.plot(ax=ax, facecolor=UNCOVERED_COLOR, edgecolor=UNCOVERED_BORDER, linewidth=0.15,
                     gid="uncovered")
    fill = terr[column].astype("string").map(colors).fillna("#ffffff")
    terr.plot(ax=ax, color=fill.to_numpy(), edgecolor="none", gid="cpts")
    if communes is not None:
        com.boundary.plot(ax=ax, color="#7f7f7f", linewidth=0.12, gid="commune-borders")
        if "department" in com.columns:
            deps = com.dissolve("department")
            deps.boundary.plot(ax=ax, color="black", linewidth=1.3, linestyle=(0, (5, 2)),
                               gid="department-borders")
    terr.boundary.plot(ax=ax, color="#262626", linewidth=0.5, gid="cpts-borders")
    if legend:
        handles = [Patch(facecolor=colors[s], edgecolor="#555555", label=s) for s in STAGES if s in colors]
        if communes is not None:
            handles.append(Patch(facecolor=UNCOVERED_COLOR, edgecolor=UNCOVERED_BORDER,
                                 label="Zone blanche (non couverte)"))
        ax.legend(handles=handles, title="Étape du projet", loc="upper left",
                  bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8, title_fontsize=9)
    return _finish(ax, title=title, caption=caption, scale_bar=scale_bar)


def plot_tiers(
    territories: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame | None = None,
    *,
    ax=None,
    column: str = "tier",
    cmap: dict | None = None,
    legend: bool = True,
    title: str | None = None,
    caption: str | None = None,
    scale_bar: bool = True,
):
    """Print map of CPTS by size tier (1–4); same parameters as :func:`plot_stages`."""
    from matplotlib.patches import Patch

    ax = _axes(ax)
    colors = dict(TIER_COLORS if cmap is None else cmap)
    crs = _crs_for(territories, communes)
    terr = _metric(territories, crs)
    if communes is not None:
        com = _metric(communes, crs)
        com.plot(ax=ax, facecolor=UNCOVERED_COLOR, edgecolor="none", gid="communes")
    fill = pd.Series(terr[column]).map(lambda t: colors.get(int(t)) if pd.notna(t) else "#ffffff")
    terr.plot(ax=ax, color=fill.to_numpy(), edgecolor="#1a1a1a", linewidth=0.6, gid="cpts")
    if legend:
        handles = [Patch(facecolor=colors[t], edgecolor="#555555", label=TIER_LABELS[t]) for t in (1, 2, 3, 4)]
        ax.legend(handles=handles, title="Taille (niveau ACI)", loc="upper left",
                  bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8, title_fontsize=9)
    return _finish(ax, title=title, caption=caption, scale_bar=scale_bar)


def plot_indicator(
    data: gpd.GeoDataFrame,
    column: str,
    *,
    ax=None,
    cmap: str = "YlOrRd",
    scheme: str | None = "quantiles",
    k: int = 5,
    legend: bool = True,
    fmt: str = "{:,.1f}",
    title: str | None = None,
    caption: str | None = None,
    scale_bar: bool = True,
    legend_title: str | None = None,
):
    """Choropleth of an indicator (density, accessibility, retention…), classes by mapclassify.

    The classes, colours and legend labels are those of the HTML layer
    (:func:`cpts_geo.maps.indicator_layer` with the same ``scheme``, ``k``, ``cmap`` and
    ``fmt``); numbers are written the French way (``12,5 – 30,0``). ``scheme=None`` draws a
    continuous colour bar instead. Missing values are drawn hatched white and listed in the
    legend as "non disponible".
    """
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    from cpts_geo.maps import _french_number, classify

    ax = _axes(ax)
    gdf = _metric(data, _crs_for(data, None))
    values = pd.to_numeric(gdf[column], errors="coerce")
    present = values.notna().to_numpy()
    known = gdf[present]
    missing = gdf[~present]
    style = {"edgecolor": "#555555", "linewidth": 0.2}
    if scheme:
        classes, colors, labels = classify(values, scheme=scheme, k=k, cmap=cmap, fmt=fmt)
        known.plot(ax=ax, color=[colors[c] for c in classes[present]], gid="indicator", **style)
        handles = [Patch(facecolor=c, edgecolor="#555555", label=lab) for c, lab in zip(colors, labels)]
    else:
        known.plot(ax=ax, column=column, cmap=cmap, legend=legend, gid="indicator",
                   legend_kwds={"label": legend_title or column, "shrink": 0.6,
                                "format": FuncFormatter(lambda x, _: _french_number(x, fmt))}, **style)
        handles = []
    if len(missing):
        missing.plot(ax=ax, facecolor="white", edgecolor="#999999", hatch="///", linewidth=0.2,
                     gid="missing")
        if scheme:
            handles.append(Patch(facecolor="white", edgecolor="#999999", hatch="///",
                                 label="non disponible"))
    if legend and handles:
        ax.legend(handles=handles, title=legend_title or column, loc="upper left", bbox_to_anchor=(1.0, 1.0),
                  frameon=False, fontsize=8, title_fontsize=9)
    return _finish(ax, title=title, caption=caption, scale_bar=scale_bar)


def save_figure(ax, path: str | Path, *, dpi: int = 300) -> Path:
    """Write the figure of ``ax`` (or a figure) as PNG, SVG or PDF (from the suffix)."""
    import matplotlib.pyplot as plt

    fig = ax.figure if hasattr(ax, "figure") and not hasattr(ax, "savefig") else ax
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path
