"""Colours and classification shared by the HTML maps (:mod:`cpts_geo.render.maps`) and the print
maps (:mod:`cpts_geo.render.plotting`).

One owner for what both renderers must agree on: the fill of uncovered communes, the tier
palette, how an indicator is cut into classes (mapclassify) and how a class is labelled (French
numbers). The stage palette lives with the stages (:data:`cpts_geo.domain.stages.STAGE_COLORS`). This
module imports neither folium nor matplotlib at import time.

Both renderers take the parameter names of geopandas ``plot``/``explore``: ``column``,
``cmap``, ``scheme``, ``k``, ``legend``, ``legend_kwds`` (``{"title": ...}`` is the legend
title, ``{"fmt": ...}`` the number format) and ``classification_kwds`` (passed to mapclassify).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from cpts_geo.domain.french import formatted

__all__ = [
    "MISSING_COLOR",
    "TIER_COLORS",
    "UNCOVERED_BORDER",
    "UNCOVERED_COLOR",
    "classify",
    "french_number",
    "legend_options",
]

#: Fill of uncovered communes (zones blanches): a neutral grey outside the stage palette.
UNCOVERED_COLOR = "#d9d9d9"


#: Border of uncovered communes (dashed on the maps).
UNCOVERED_BORDER = "#737373"


#: Fill of a territory whose indicator value is missing.
MISSING_COLOR = "#ffffff"


#: Tier colours (ColorBrewer "Purples", 4 classes: colour-blind safe, prints in grey levels).
TIER_COLORS = {1: "#f2f0f7", 2: "#cbc9e2", 3: "#9e9ac8", 4: "#6a51a3"}


_DEFAULT_FMT = "{:,.1f}"



def french_number(x, fmt: str = _DEFAULT_FMT) -> str:
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



def legend_options(legend_kwds: Mapping | None, *, title: str | None = None, fmt: str | None = None,
                   default_title: str | None = None) -> tuple[str | None, str]:
    """The legend title and number format from ``legend_kwds`` and the deprecated keywords.

    ``title`` and ``fmt`` are the old keyword names (``legend_title``/``title`` and ``fmt``),
    kept for one release with a :class:`DeprecationWarning`.

    Parameters
    ----------
    legend_kwds : mapping, optional
        The renderer's ``legend_kwds``: ``title`` and ``fmt`` are read.
    title, fmt : str, optional
        Deprecated keywords (see above).
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
    if title is not None:
        warnings.warn("Le paramètre de titre de légende est remplacé par legend_kwds={'title': ...}.",
                      DeprecationWarning, stacklevel=3)
        kw.setdefault("title", title)
    if fmt is not None:
        warnings.warn("fmt= est remplacé par legend_kwds={'fmt': ...}.", DeprecationWarning, stacklevel=3)
        kw.setdefault("fmt", fmt)
    return kw.get("title", default_title), kw.get("fmt", _DEFAULT_FMT)



def classify(values, *, scheme: str = "quantiles", k: int = 5, cmap: str = "YlOrRd",
             fmt: str = _DEFAULT_FMT,
             classification_kwds: Mapping | None = None) -> tuple[np.ndarray, list[str], list[str]]:
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
