"""Statistical secrecy and exports of flow tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cpts_geo.domain.vocabulary import FLOW_HEADERS
from cpts_geo.indicators.secrecy import SECRECY_THRESHOLD, small_counts

#: Volumes each rate is computed from, complements included: a rate is masked when any
#: of them is (``leakage`` = 1 − ``retention`` gives the outflow back from the residents).
_RATE_SOURCES = {
    "retention": ["inside_volume", "resident_volume", "outflow_volume"],
    "leakage": ["inside_volume", "resident_volume", "outflow_volume"],
    "attraction": ["inflow_volume", "delivered_volume", "inside_volume"],
    "supply_containment": ["inside_volume", "delivered_volume", "inflow_volume"],
    "self_containment": ["inside_volume", "resident_volume", "delivered_volume",
                         "outflow_volume", "inflow_volume"],
    "demand_sc": ["inside_volume", "resident_volume"],
    "supply_sc": ["inside_volume", "delivered_volume"],
    "validity": ["inside_volume", "resident_volume", "delivered_volume"],
    "own_share": ["own_volume", "resident_volume"],
    "main_share": ["main_volume", "resident_volume"],
    "suggested_share": ["suggested_volume", "resident_volume"],
    "share": ["volume"],
    "share_of_leakage": ["volume"],
}


#: Identities between volumes of one row (total = term + term): secondary secrecy.
_IDENTITIES = [
    ("resident_volume", "inside_volume", "outflow_volume"),
    ("delivered_volume", "inside_volume", "inflow_volume"),
]





def mask_secrecy(
    table: pd.DataFrame,
    *,
    threshold: float = SECRECY_THRESHOLD,
    volumes: Sequence[str] | None = None,
    rates: Mapping[str, Sequence[str]] | None = None,
    identities: Sequence[tuple[str, str, str]] | None = None,
) -> pd.DataFrame:
    """Mask small volumes, the volumes that would give them back, and the rates computed on them.

    **Primary secrecy**: a volume strictly between 0 and ``threshold`` becomes ``<NA>``.
    Zero is not masked (an absence of flow is not secret).

    **Secondary secrecy**: within a row, residents' volume = inside + outflow and delivered
    volume = inside + inflow. When exactly one of the three volumes of such an identity is
    masked, it could be recomputed from the two others, so one more is masked: the total
    (residents' or delivered volume). Its rates are masked already, so no other rate is
    lost: a small inflow hides the delivered volume and the supply-side rates, retention
    stays visible.

    **Rates**: a rate is masked when any volume it is computed from is masked, complements
    included (leakage = 1 − retention is masked with the outflow).

    Differences between rows (e.g. a department minus its CPTS) and between volumes that
    are not an identity of the table (a commune's residents' volume minus its main
    destination when it has only two destinations) are not checked: review tables before
    publishing them.

    Parameters
    ----------
    table : DataFrame
        An output of this module (or any table with volume columns).
    threshold : float, default 10
    volumes : sequence of str, optional
        Volume columns; default: ``volume`` and the columns ending in ``_volume``.
    rates : mapping, optional
        ``{rate column: [volume columns it is computed from]}``; default: the rates of this
        module's outputs (``retention``, ``leakage``, ``attraction``, ``share``…).
    identities : sequence of (total, term, term), optional
        Column triples with total = term + term; default: the residents' and delivered
        volumes of :func:`cpts_flow_indicators`. Triples absent from ``table`` are skipped.

    Returns
    -------
    pandas.DataFrame
        A copy with nullable Float64 columns and a boolean column ``masked`` (any value of
        the row masked).

    Examples
    --------
    >>> table = pd.DataFrame({"resident_volume": [100.0, 8.0], "inside_volume": [60.0, 4.0],
    ...                       "retention": [0.6, 0.5]})
    >>> masked = mask_secrecy(table)
    >>> masked["retention"].tolist(), masked["masked"].tolist()
    ([0.6, <NA>], [False, True])
    >>> ind = pd.DataFrame({"resident_volume": [250.0], "inside_volume": [245.0],
    ...                     "outflow_volume": [5.0], "leakage": [0.02]})
    >>> mask_secrecy(ind)[["resident_volume", "inside_volume", "outflow_volume"]].iloc[0].tolist()
    [<NA>, 245.0, <NA>]
    """
    out = table.copy()
    if volumes is None:
        volumes = [c for c in out.columns if c == "volume" or str(c).endswith("_volume")]
    rates = dict(_RATE_SOURCES if rates is None else rates)
    identities = _IDENTITIES if identities is None else identities
    hidden = {}
    values = {}
    for col in volumes:
        values[col] = pd.to_numeric(out[col]).astype("Float64")
        hidden[col] = small_counts(values[col], threshold)  # the one primary rule
    triples = [t for t in identities if all(c in hidden for c in t)]
    changed = bool(triples)
    while changed:  # secondary secrecy: no identity with a single masked volume
        changed = False
        for total, a, b in triples:
            alone = (hidden[total].astype(int) + hidden[a] + hidden[b]) == 1
            for masked_one, partner in ((a, total), (b, total), (total, a)):
                fix = alone & hidden[masked_one] & ~hidden[partner]
                if fix.any():
                    hidden[partner] = hidden[partner] | fix
                    alone &= ~fix
                    changed = True
    for col in volumes:
        out[col] = values[col].mask(hidden[col])
    for rate, sources in rates.items():
        if rate not in out.columns:
            continue
        mask = np.zeros(len(out), dtype=bool)
        for src in sources:
            if src in hidden:
                mask |= hidden[src]
        out[rate] = pd.to_numeric(out[rate]).astype("Float64").mask(mask)
    any_hidden = np.zeros(len(out), dtype=bool)
    for mask in hidden.values():
        any_hidden |= mask
    out["masked"] = any_hidden
    return out



def french_headers(table: pd.DataFrame) -> pd.DataFrame:
    """The same table with French column headers (index included), for exports.

    Parameters
    ----------
    table : DataFrame
        A table of flow indicators with the library's column names.

    Returns
    -------
    DataFrame
        A copy whose known headers (and index name) are French; unknown ones are kept.

    Examples
    --------
    >>> from cpts_geo.indicators.flows.secrecy import french_headers  # not cpts_geo.french_headers
    >>> french_headers(pd.DataFrame({"retention": [0.5]})).columns.tolist()
    ['Taux de rétention']
    """
    out = table.rename(columns=FLOW_HEADERS)
    if out.index.name in FLOW_HEADERS:
        out.index = out.index.rename(FLOW_HEADERS[out.index.name])
    return out
