"""Colours and classification shared by the HTML maps (:mod:`cpts_geo.render.maps`) and the print
maps (:mod:`cpts_geo.render.plotting`).

One owner for what both renderers must agree on: the fill of uncovered communes, the tier
palette, how an indicator is cut into classes (mapclassify) and how a class is labelled (French
numbers), and what colours the CPTS get (:func:`territory_fill`: by stage, in the registry's own
words when it has its own vocabulary; by tier; by an indicator; or one colour per CPTS, distinct
from its neighbours' by a colouring of the territories' adjacency, :func:`distinct_colors`).
Legends list only the classes present. The stage palette lives with the stages
(:data:`cpts_geo.domain.stages.STAGE_COLORS`). This module imports neither folium nor matplotlib
at import time.

Both renderers take the parameter names of geopandas ``plot``/``explore``: ``column``,
``cmap``, ``scheme``, ``k``, ``legend``, ``legend_kwds`` (``{"title": ...}`` is the legend
title, ``{"fmt": ...}`` the number format) and ``classification_kwds`` (passed to mapclassify).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import geopandas as gpd

from cpts_geo.domain.codes import is_in
from cpts_geo.domain.french import fold, formatted

__all__ = [
    "COLOR_CHOICES",
    "DISTINCT_COLORS",
    "MISSING_COLOR",
    "SHARED_BORDER",
    "SHARED_LABEL",
    "TIER_COLORS",
    "UNCOVERED_BORDER",
    "UNCOVERED_COLOR",
    "TerritoryFill",
    "check_color",
    "classify",
    "distinct_colors",
    "french_number",
    "legend_options",
    "map_membership",
    "resolve_column",
    "shared_text",
    "shared_units",
    "stage_ramp",
    "territory_fill",
    "vocabulary_caption",
]

#: Fill of uncovered communes (zones blanches): a neutral grey outside the stage palette.
UNCOVERED_COLOR = "#d9d9d9"


#: Border of uncovered communes (dashed on the maps).
UNCOVERED_BORDER = "#737373"


#: Border of a commune shared between CPTS (drawn once, striped with the colours of its CPTS).
SHARED_BORDER = "#262626"


#: The legend entry of communes shared between CPTS.
SHARED_LABEL = "Commune partagée entre CPTS (rayée de leurs couleurs)"


#: The part of a shared commune in no CPTS, as its tooltip and the print legend name it.
_NO_CPTS = "hors CPTS"


#: Fill of a territory whose indicator value is missing.
MISSING_COLOR = "#ffffff"


#: Tier colours (ColorBrewer "Purples", 4 classes: colour-blind safe, prints in grey levels).
TIER_COLORS = {1: "#f2f0f7", 2: "#cbc9e2", 3: "#9e9ac8", 4: "#6a51a3"}


_DEFAULT_FMT = "{:,.1f}"



def french_number(x: float, fmt: str = _DEFAULT_FMT) -> str:
    """A number on a map: French decimal comma, narrow no-break space for thousands.

    Parameters
    ----------
    x : float
        The number.
    fmt : str, default "{:,.1f}"
        A :meth:`str.format` pattern written with English separators.

    Returns
    -------
    str
        The formatted number.

    Examples
    --------
    >>> french_number(7371.26) == "7\\u202f371,3"
    True
    """
    return formatted(x, fmt, sep="\u202f")



def legend_options(legend_kwds: Mapping[str, Any] | None, *,
                   default_title: str | None = None) -> tuple[str | None, str]:
    """The legend title and number format from ``legend_kwds``.

    Parameters
    ----------
    legend_kwds : mapping, optional
        The renderer's ``legend_kwds``: ``title`` and ``fmt`` are read.
    default_title : str, optional
        The title when none is given.

    Returns
    -------
    tuple
        ``(legend title, number format)``.

    Examples
    --------
    >>> legend_options({"title": "Densité"})
    ('Densité', '{:,.1f}')
    """
    kw = dict(legend_kwds or {})
    return kw.get("title", default_title), kw.get("fmt", _DEFAULT_FMT)



def classify(values: Any, *, scheme: str = "quantiles", k: int = 5, cmap: str = "YlOrRd",
             fmt: str = _DEFAULT_FMT,
             classification_kwds: Mapping[str, Any] | None = None) -> tuple[np.ndarray, list[str], list[str]]:
    """Classes of an indicator, shared by the HTML and the print maps.

    Parameters
    ----------
    values : array-like
        The indicator; missing or non-numeric values get class ``-1``.
    scheme, k : str, int
        mapclassify scheme and number of classes (``k`` is reduced when there are fewer
        distinct values).
    cmap : str
        A matplotlib colormap name, resampled to the number of classes.
    fmt : str
        Python format of the numbers of the labels.
    classification_kwds : dict, optional
        Passed to :func:`mapclassify.classify` (e.g. ``{"bins": [1, 2, 3]}`` for
        ``scheme="user_defined"``).

    Returns
    -------
    tuple
        The class of each value (``-1`` where missing), the colour of each class and its French
        label (``"1,0 – 2,0"``).

    Examples
    --------
    >>> classes, colors, labels = classify([1.0, 2.0, None, 3.0], k=2)
    >>> classes.tolist(), labels
    ([0, 0, -1, 1], ['1,0 – 2,0', '2,0 – 3,0'])
    """
    import mapclassify
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    values = pd.to_numeric(pd.Series(values), errors="coerce").astype(float).to_numpy()
    present = ~np.isnan(values)
    classes = np.full(len(values), -1, dtype=int)
    if not present.any():
        return classes, [], []
    known = values[present]
    kwds = dict(classification_kwds or {})
    if "bins" not in kwds:
        kwds["k"] = max(1, min(k, len(np.unique(known))))
    classifier = mapclassify.classify(known, scheme=scheme, **kwds)
    bins = np.asarray(classifier.bins, dtype=float)
    classes[present] = np.asarray(classifier.yb, dtype=int)
    palette = colormaps[cmap].resampled(len(bins))
    colors = [to_hex(palette(i)) for i in range(len(bins))]
    lows = [float(known.min()), *bins[:-1].tolist()]
    labels = [f"{french_number(lo, fmt)} – {french_number(hi, fmt)}" for lo, hi in zip(lows, bins)]
    return classes, colors, labels



#: Colours of CPTS told apart one from another (``column="cpts"``): Paul Tol's "light" scheme
#: without its grey, a categorical palette designed to stay distinct for colour-blind readers and
#: to carry black labels; none is the zone-blanche grey. Neighbours never share one
#: (:func:`distinct_colors`).
DISTINCT_COLORS = ("#77AADD", "#EE8866", "#EEDD88", "#FFAABB", "#99DDFF", "#44BB99", "#BBCC33", "#AAAA00")


#: Used only if a map needs more colours than :data:`DISTINCT_COLORS` (never seen on real
#: territories: four always suffice in theory): Paul Tol's "muted" scheme.
_MORE_COLORS = ("#CC6677", "#88CCEE", "#DDCC77", "#117733", "#332288", "#AA4499", "#44AA99", "#999933",
                "#882255")


#: ColorBrewer "YlGnBu" by number of classes (3 to 9): the stage ramp for a registry with its own
#: vocabulary (5 classes are :data:`cpts_geo.domain.stages.STAGE_COLORS`).
_YLGNBU = {
    3: ("#edf8b1", "#7fcdbb", "#2c7fb8"),
    4: ("#ffffcc", "#a1dab4", "#41b6c4", "#225ea8"),
    5: ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"),
    6: ("#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#2c7fb8", "#253494"),
    7: ("#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#0c2c84"),
    8: ("#ffffd9", "#edf8b1", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#0c2c84"),
    9: ("#ffffd9", "#edf8b1", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#253494", "#081d58"),
}


#: What the CPTS can be coloured by (``--couleur``, ``column=``), besides an indicator column.
COLOR_CHOICES = {"etape": "stage", "stage": "stage", "taille": "tier", "tier": "tier", "cpts": "cpts"}


#: Indicator columns of the territories, by their French short name.
_INDICATOR_NAMES = {"population": "population", "superficie": "area_km2", "communes": "n_communes",
                    "parties": "n_parts"}


_TITLES = {"stage": "Étape du projet", "tier": "Taille (niveau ACI)", "cpts": "CPTS"}



def stage_ramp(n: int) -> list[str]:
    """``n`` ordered colours for the steps of a registry's own stage vocabulary.

    Parameters
    ----------
    n : int
        Number of steps.

    Returns
    -------
    list of str
        Light to dark, ColorBrewer "YlGnBu" (colour-blind safe, prints in grey levels).

    Examples
    --------
    >>> stage_ramp(3)
    ['#edf8b1', '#7fcdbb', '#2c7fb8']
    """
    if n <= 0:
        return []
    if n in _YLGNBU:
        return list(_YLGNBU[n])
    if n < 3:
        return [_YLGNBU[3][0], _YLGNBU[3][2]][-n:] if n == 2 else [_YLGNBU[3][2]]
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    ramp = colormaps["YlGnBu"].resampled(n)
    return [to_hex(ramp(i)) for i in range(n)]



def distinct_colors(territories: gpd.GeoDataFrame, *, palette: Sequence[str] = DISTINCT_COLORS) -> pd.Series:
    """One colour per territory, never that of a neighbour: a graph colouring of the adjacency
    (:func:`cpts_geo.domain.communes.adjacency`, territories less than a metre apart included).

    DSatur (the territory with the most differently coloured neighbours first), each time the
    least used colour allowed, so that the colours are balanced; deterministic (ties by
    identifier). Beyond ``palette`` (never needed on real maps) further colours are taken.

    Parameters
    ----------
    territories : GeoDataFrame
        With a CRS (geographic or projected), indexed by CPTS id.
    palette : sequence of str, default :data:`DISTINCT_COLORS`
        The colours.

    Returns
    -------
    pandas.Series
        The colour of each territory, indexed like ``territories``.

    Examples
    --------
    >>> import shapely
    >>> boxes = gpd.GeoDataFrame(geometry=[shapely.box(i, 0, i + 1, 1) for i in range(3)], crs=2154)
    >>> distinct_colors(boxes).tolist()
    ['#77AADD', '#EE8866', '#EEDD88']
    """
    from cpts_geo.domain.communes import adjacency

    colours = list(palette) + [c for c in _MORE_COLORS if c not in palette]
    geographic = bool(territories.crs is not None and territories.crs.is_geographic)
    ids = territories.index.astype(str).to_numpy()
    order = np.argsort(ids, kind="stable")
    n = len(ids)
    # neighbours: a shared border or point, or less than about a metre apart
    pairs = adjacency(territories[[territories.geometry.name]], tolerance=1e-5 if geographic else 1.0)
    position = {cid: i for i, cid in enumerate(ids[order])}
    neighbours: list[set[int]] = [set() for _ in range(n)]
    for a, b in zip(pairs["code"].map(position), pairs["neighbour"].map(position)):
        neighbours[a].add(b)
    colour = [-1] * n
    used = [0] * len(colours)
    seen: list[set[int]] = [set() for _ in range(n)]
    degree = [len(nb) for nb in neighbours]
    left = set(range(n))
    while left:
        v = max(left, key=lambda i: (len(seen[i]), degree[i], -i))
        allowed = [c for c in range(len(colours)) if c not in seen[v]]
        if not allowed:  # pragma: no cover - more than 17 colours around one territory
            raise ValueError("trop de territoires voisins pour les colorier distinctement")
        first = [c for c in allowed if c < len(palette)] or allowed
        c = min(first, key=lambda k: (used[k], k))
        colour[v] = c
        used[c] += 1
        left.discard(v)
        for w in neighbours[v]:
            seen[w].add(c)
    out = np.empty(n, dtype=object)
    out[order] = [colours[c] for c in colour]
    return pd.Series(out, index=territories.index, dtype=object, name="color")



class TerritoryFill(NamedTuple):
    """How the CPTS are filled (see :func:`territory_fill`)."""

    #: ``"stage"``, ``"tier"``, ``"cpts"`` or the indicator column.
    column: str
    #: Fill colour of each territory, indexed like the territories.
    colors: pd.Series
    #: The legend: ``(label, colours)`` per class present, in order; ``colours`` is one colour,
    #: or several for the CPTS told apart (``column="cpts"``).
    legend: list[tuple[str, tuple[str, ...]]]
    #: Title of the legend.
    title: str
    #: Name of the layer (HTML map) and of what the colours say.
    layer: str



def resolve_column(territories: pd.DataFrame, column: str | None) -> str:
    """What ``column`` colours the CPTS by: ``"stage"``, ``"tier"``, ``"cpts"`` or an indicator.

    By default the stage when any CPTS has one, one distinct colour per CPTS otherwise. French
    names are accepted (``etape``, ``taille``, ``population``, ``superficie``, ``communes``, or a
    French header of the territory table).

    Parameters
    ----------
    territories : DataFrame
        The territories (:func:`cpts_geo.domain.territories.build_territories`).
    column : str or None
        What to colour by.

    Returns
    -------
    str
        ``"stage"``, ``"tier"``, ``"cpts"`` or a numeric column of ``territories``.

    Raises
    ------
    ValueError
        ``column`` is none of these (French message listing the choices).

    Examples
    --------
    >>> t = pd.DataFrame({"stage": ["Étape non renseignée"], "population": [1]})
    >>> resolve_column(t, None), resolve_column(t, "Étape"), resolve_column(t, "population")
    ('cpts', 'stage', 'population')
    """
    from cpts_geo.domain.stages import NOT_GIVEN
    from cpts_geo.domain.vocabulary import TERRITORY_HEADERS

    if column is None:
        if "stage" in territories and (territories["stage"].astype("string").fillna(NOT_GIVEN) != NOT_GIVEN).any():
            return "stage"
        return "cpts"
    key = fold(column)
    if key in COLOR_CHOICES:
        return COLOR_CHOICES[key]
    numeric = [c for c in territories.columns if c != "tier" and pd.api.types.is_numeric_dtype(territories[c])
               and not pd.api.types.is_bool_dtype(territories[c])]
    names = {**{fold(c): c for c in numeric}, **{k: v for k, v in _INDICATOR_NAMES.items() if v in numeric},
             **{fold(TERRITORY_HEADERS[c]): c for c in numeric if c in TERRITORY_HEADERS}}
    if key in names:
        return names[key]
    raise ValueError(f"Couleur « {column} » inconnue : choisissez etape, taille, cpts (une couleur par CPTS, "
                     f"distincte de ses voisines) ou un indicateur des territoires ("
                     + ", ".join(sorted({k for k, v in _INDICATOR_NAMES.items() if v in numeric}
                                        | {c for c in numeric if c not in _INDICATOR_NAMES.values()})) + ").")



def check_color(column: str | None) -> str | None:
    """Check a colour choice before anything is computed (``--couleur``, ``column=``).

    Parameters
    ----------
    column : str or None
        ``etape``, ``taille``, ``cpts`` or an indicator of the territories built by
        :func:`cpts_geo.domain.territories.build_territories` (``population``, ``superficie``,
        ``communes``, ``parties``, or their column names and French headers).

    Returns
    -------
    str or None
        What :func:`resolve_column` makes of it (``None`` stays ``None``: the default).

    Raises
    ------
    ValueError
        An unknown choice, with the possible ones.

    Examples
    --------
    >>> check_color("taille"), check_color("Superficie (km²)")
    ('tier', 'area_km2')
    """
    if column is None:
        return None
    template = pd.DataFrame({"stage": pd.Series([], dtype=object), "tier": pd.Series([], dtype="Int64"),
                             "population": pd.Series([], dtype="int64"),
                             "n_communes": pd.Series([], dtype="int64"),
                             "area_km2": pd.Series([], dtype="float64"), "n_parts": pd.Series([], dtype="int64")})
    return resolve_column(template, column)



def territory_fill(
    territories: gpd.GeoDataFrame,
    column: str | None = None,
    *,
    cmap: Any = None,  # a class → colour mapping (stage, tier) or a colormap name (indicator)
    scheme: str = "quantiles",
    k: int = 5,
    legend_kwds: Mapping[str, Any] | None = None,
    classification_kwds: Mapping[str, Any] | None = None,
) -> TerritoryFill:
    """The fill of each CPTS and the legend, shared by the HTML and the print maps.

    - ``"stage"``: :data:`cpts_geo.domain.stages.STAGE_COLORS`; a registry with its own stage
      vocabulary (:func:`cpts_geo.domain.stages.own_words`) is coloured by its own wordings, in
      its order, on :func:`stage_ramp` of its number of steps, and the legend uses its words;
    - ``"tier"``: :data:`TIER_COLORS`;
    - ``"cpts"``: :func:`distinct_colors` (neighbours never share a colour);
    - an indicator: classes of :func:`classify` (``cmap``, ``scheme``, ``k``).

    The legend lists only the classes present.

    Parameters
    ----------
    territories : GeoDataFrame
        The territories (:func:`cpts_geo.domain.territories.build_territories`).
    column : str, optional
        What to colour by (:func:`resolve_column`; default: the stage when any is given, distinct
        colours otherwise).
    cmap : dict or str, optional
        Class → colour for the stage or tier, or a colormap name for an indicator.
    scheme, k, classification_kwds
        Classes of an indicator (mapclassify).
    legend_kwds : dict, optional
        ``title`` of the legend, ``fmt`` of an indicator's numbers.

    Returns
    -------
    TerritoryFill

    Examples
    --------
    >>> t = pd.DataFrame({"stage": pd.Categorical(["ACI signé", "ACI signé"]), "tier": [1, 1]},
    ...                  index=["A", "B"])
    >>> fill = territory_fill(t)
    >>> fill.column, fill.legend, fill.colors.tolist()
    ('stage', [('ACI signé', ('#253494',))], ['#253494', '#253494'])
    """
    from cpts_geo.domain.stages import NOT_GIVEN, STAGE_COLORS, legend_stages, own_words
    from cpts_geo.domain.tiers import TIER_LABELS

    col = resolve_column(territories, column)
    kw = dict(legend_kwds or {})
    index = territories.index
    legend: list[tuple[str, tuple[str, ...]]] = []
    title = _TITLES.get(col, col)
    if col == "stage":
        stage = territories["stage"].astype("string").fillna(NOT_GIVEN)
        published = territories.get("published_stage")
        if published is not None and own_words(published) and cmap is None:
            words = list(published.dtype.categories) if isinstance(published.dtype, pd.CategoricalDtype) \
                else list(dict.fromkeys(published.dropna().astype(str)))
            ramp = dict(zip(words, stage_ramp(len(words))))
            text = published.astype("string")
            label = text.fillna(stage)
            colors = label.map(lambda w: ramp.get(w) or STAGE_COLORS.get(w, MISSING_COLOR))
            unworded = legend_stages(stage[text.isna()])
            legend = [(s, (STAGE_COLORS[s],)) for s in unworded]
            legend += [(w, (ramp[w],)) for w in words if (text == w).any()]
            title = "Étape du projet (mots du registre)"
        else:
            palette = dict(STAGE_COLORS if cmap is None else cmap)
            colors = stage.map(lambda s: palette.get(s, MISSING_COLOR))
            legend = [(s, (palette[s],)) for s in legend_stages(stage) if s in palette]
        layer = "CPTS par étape"
    elif col == "tier":
        palette = dict(TIER_COLORS if cmap is None else cmap)
        tier = pd.to_numeric(territories["tier"], errors="coerce")
        colors = tier.map(lambda t: palette.get(int(t), MISSING_COLOR) if pd.notna(t) else MISSING_COLOR)
        legend = [(TIER_LABELS[t], (palette[t],)) for t in (1, 2, 3, 4) if (tier == t).any()]
        if tier.isna().any():
            legend.append(("Taille inconnue (population manquante)", (MISSING_COLOR,)))
        layer = "CPTS par taille"
    elif col == "cpts":
        colors = distinct_colors(territories)
        used = tuple(c for c in DISTINCT_COLORS + _MORE_COLORS if (colors == c).any())
        no_stage = "stage" in territories and (territories["stage"].astype("string").fillna(NOT_GIVEN)
                                               == NOT_GIVEN).all()
        legend = [((f"{len(territories)} CPTS" + (" (étape non renseignée)" if no_stage else "")
                    + " : une couleur par CPTS, différente de ses voisines"), used)] if len(territories) else []
        layer = "CPTS"
    else:
        fmt = kw.get("fmt") or ("{:,.0f}" if pd.api.types.is_integer_dtype(territories[col]) else _DEFAULT_FMT)
        values = pd.to_numeric(territories[col], errors="coerce")
        classes, palette_, labels = classify(values, scheme=scheme, k=k, cmap=cmap or "YlOrRd", fmt=fmt,
                                             classification_kwds=classification_kwds)
        colors = pd.Series([palette_[c] if c >= 0 else MISSING_COLOR for c in classes], index=index)
        legend = [(lab, (c,)) for i, (lab, c) in enumerate(zip(labels, palette_)) if (classes == i).any()]
        if (classes < 0).any():
            legend.append(("non disponible", (MISSING_COLOR,)))
        from cpts_geo.domain.vocabulary import TERRITORY_HEADERS

        title = TERRITORY_HEADERS.get(col, col)
        layer = f"CPTS : {title}"
    colors = pd.Series(np.asarray(colors, dtype=object), index=index, dtype=object, name="color")
    return TerritoryFill(col, colors, legend, str(kw.get("title") or title or col), layer)



def vocabulary_caption(territories: pd.DataFrame) -> str:
    """The caption line of a map whose registry words its stages its own way.

    Parameters
    ----------
    territories : DataFrame
        With ``stage`` and ``published_stage``
        (:func:`cpts_geo.domain.territories.build_territories`).

    Returns
    -------
    str
        How many steps the registry's vocabulary has (compared with the guide's five) and the
        stage each of its words present means; empty for the guide's own words.

    Examples
    --------
    >>> from cpts_geo.domain.stages import map_stages
    >>> m = map_stages(["ACI signé", "lettre d'intention et projet de santé validés"])
    >>> print(vocabulary_caption(pd.DataFrame({"stage": m.stage, "published_stage": m.published})))
    Étapes dans les mots du registre (3 étapes, moins que les 5 du guide) : lettre d'intention et projet de santé validés = Projet de santé validé ; ACI signé = ACI signé.
    """
    from cpts_geo.domain.stages import own_words

    if "published_stage" not in territories or not own_words(territories["published_stage"]):
        return ""
    pairs = (territories[["published_stage", "stage"]].dropna().drop_duplicates()
             .sort_values("published_stage").astype(str))
    n = len(territories["published_stage"].dtype.categories)
    return (f"Étapes dans les mots du registre ({n} étape{'s' if n > 1 else ''}"
            + ("" if n == 5 else f", {'moins' if n < 5 else 'plus'} que les 5 du guide") + ") : "
            + " ; ".join(f"{w} = {s}" for w, s in pairs.itertuples(index=False)) + ".")



def shared_units(communes: pd.DataFrame, membership: pd.DataFrame | None = None) -> pd.DataFrame:
    """The communes of a map shared between CPTS (or partly in none), with each CPTS and its share.

    A commune claimed by several CPTS (Nice shared by three, Toulon by two: a ``share`` each, or
    shares computed from IRIS) is drawn once on the HTML and print maps, striped with the colours
    of its CPTS, and listed with every CPTS and its share; a commune whose shares leave a part
    in no CPTS lists that part too (``cpts_id`` ``<NA>``).

    Parameters
    ----------
    communes : DataFrame
        The communes of the map (:func:`cpts_geo.domain.territories.communes_with_cpts`: indexed
        by code, with ``cpts_id`` and ``share``).
    membership : DataFrame, optional
        ``code``, ``cpts_id``, ``share`` pairs (``CheckedRegistry.membership``); default: the
        CPTS of each commune of ``communes`` (its main CPTS only).

    Returns
    -------
    DataFrame
        One row per (shared commune, CPTS): ``code``, ``cpts_id`` (``<NA>`` for the part in no
        CPTS), ``share``; the communes in the order of ``communes``, their CPTS by decreasing
        share. Empty when no commune is shared.

    Examples
    --------
    >>> communes = pd.DataFrame({"cpts_id": ["A", "B"], "share": [1.0, 1.0]}, index=["06088", "06123"])
    >>> m = pd.DataFrame({"code": ["06088", "06088", "06123"], "cpts_id": ["A", "B", "B"],
    ...                   "share": [0.6, 0.4, 1.0]})
    >>> shared_units(communes, m).to_dict("list")
    {'code': ['06088', '06088'], 'cpts_id': ['A', 'B'], 'share': [0.6, 0.4]}
    """
    if membership is None:
        covered = communes[communes["cpts_id"].notna()]
        membership = pd.DataFrame({"code": covered.index.astype(str), "cpts_id": covered["cpts_id"].astype(str),
                                   "share": covered.get("share", 1.0)})
    codes = membership["code"].astype(str)
    member = pd.DataFrame({"code": codes.to_numpy(dtype=object),
                           "cpts_id": membership["cpts_id"].astype(str).to_numpy(dtype=object),
                           "share": pd.to_numeric(membership["share"], errors="coerce").to_numpy(dtype=float)
                           if "share" in membership else 1.0})
    member = member[is_in(member["code"], communes.index.astype(str))]
    total = member.groupby("code")["share"].sum(min_count=1)  # NaN: a share not known
    claims = member.groupby("code").size()
    shared = total.index[(claims > 1).to_numpy() | (total < 0.995).to_numpy()]
    rows = member[is_in(member["code"], shared)]
    rest = (1.0 - total.reindex(shared)).clip(lower=0)
    rest = rest[rest >= 0.005]  # (a commune whose shares are not known has no part said to be in none)
    rows = pd.concat([rows, pd.DataFrame({"code": rest.index.to_numpy(dtype=object), "cpts_id": None,
                                          "share": rest.to_numpy(dtype=float)})], ignore_index=True)
    order = pd.Index(communes.index.astype(str)).get_indexer(rows["code"])
    rows = rows.assign(_order=order, _none=rows["cpts_id"].isna())
    rows = rows.sort_values(["_order", "_none", "share", "cpts_id"], ascending=[True, True, False, True],
                            kind="stable")
    out = rows[["code", "cpts_id", "share"]].reset_index(drop=True)
    out["cpts_id"] = out["cpts_id"].astype("string")
    return out



def shared_text(name: object, share: float) -> str:
    """One CPTS of a shared commune as the maps list it: its name and its share.

    Parameters
    ----------
    name : object
        The CPTS name (``None`` or ``<NA>``: the part in no CPTS).
    share : float
        Its share of the commune (0–1; NaN when the map was not told the shares).

    Returns
    -------
    str
        ``"CPTS Nice Ouest : 40,0 %"``.

    Examples
    --------
    >>> shared_text("CPTS Nice Nord", 1 / 3), shared_text(None, 0.25)
    ('CPTS Nice Nord : 33,3 %', 'hors CPTS : 25,0 %')
    >>> shared_text("CPTS Nice Nord", float("nan"))
    'CPTS Nice Nord : part non précisée'
    """
    from cpts_geo.domain.french import percent

    label = _NO_CPTS if name is None or pd.isna(name) else str(name)
    return f"{label} : {percent(share, 1) or 'part non précisée'}"



def map_membership(territories: gpd.GeoDataFrame, communes: gpd.GeoDataFrame,
                   membership: pd.DataFrame | None = None) -> pd.DataFrame:
    """The (commune, CPTS, share) pairs a map draws: ``membership`` when given, else read from the map.

    Without ``membership``, each commune of ``communes`` belongs to its ``cpts_id`` (with its
    ``share``), and a commune claimed by several CPTS (``n_cpts`` above 1, see
    :func:`cpts_geo.domain.territories.communes_with_cpts`) to every territory that holds it;
    their shares are then not known (NaN: the maps say « part non précisée »; give
    ``membership`` for the shares).

    Parameters
    ----------
    territories : GeoDataFrame
        The territories of the map, indexed by CPTS id.
    communes : GeoDataFrame
        The communes of the map (``cpts_id``; ``share`` and ``n_cpts`` when known).
    membership : DataFrame, optional
        ``code``, ``cpts_id``, ``share`` (``CheckedRegistry.membership``).

    Returns
    -------
    DataFrame
        ``code``, ``cpts_id`` (text), ``share``.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> terr = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 2, 1), shapely.box(1, 0, 3, 1)], index=["A", "B"])
    >>> com = gpd.GeoDataFrame({"cpts_id": ["A", "A"], "share": [1.0, 1.0], "n_cpts": [1, 2]},
    ...                        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], index=["01001", "01002"])
    >>> map_membership(terr, com).to_dict("list")
    {'code': ['01001', '01002', '01002'], 'cpts_id': ['A', 'A', 'B'], 'share': [1.0, nan, nan]}
    """
    if membership is not None:
        return pd.DataFrame({"code": membership["code"].astype(str).to_numpy(dtype=object),
                             "cpts_id": membership["cpts_id"].astype(str).to_numpy(dtype=object),
                             "share": pd.to_numeric(membership["share"], errors="coerce").to_numpy(dtype=float)
                             if "share" in membership else 1.0})
    covered = communes[communes["cpts_id"].notna()]
    out = pd.DataFrame({"code": covered.index.astype(str).to_numpy(dtype=object),
                        "cpts_id": covered["cpts_id"].astype(str).to_numpy(dtype=object),
                        "share": covered["share"].to_numpy(dtype=float) if "share" in covered else 1.0})
    if "n_cpts" not in communes or not (communes["n_cpts"] > 1).any() or not len(territories):
        return out
    import geopandas as gpd
    import shapely

    many = communes[communes["n_cpts"] > 1]
    points = gpd.GeoSeries(shapely.point_on_surface(many.geometry.to_numpy()), crs=communes.crs)
    if territories.crs is not None and communes.crs is not None:
        points = points.to_crs(territories.crs)
    hit, terr = shapely.STRtree(territories.geometry.to_numpy()).query(points.to_numpy(), predicate="within")
    order = np.lexsort((terr, hit))
    extra = pd.DataFrame({"code": many.index.astype(str).to_numpy(dtype=object)[hit[order]],
                          "cpts_id": territories.index.astype(str).to_numpy(dtype=object)[terr[order]],
                          "share": np.nan})
    return pd.concat([out[~is_in(out["code"], extra["code"])], extra], ignore_index=True)
