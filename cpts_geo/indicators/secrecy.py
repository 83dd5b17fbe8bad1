"""Statistical secrecy: the one rule for what a published table may show.

- **Primary secrecy**: a count (professionals, patients, acts) strictly between 0 and the threshold
  (:data:`SECRECY_THRESHOLD`, 10 by default) is not shown (:func:`small_counts`); 0 is shown.
- **Secondary secrecy**: where a total is published beside its parts, a single masked part would be
  given back by the total; the next smallest non-zero part is masked with it (:func:`protect_total`).

:func:`cpts_geo.indicators.flows.secrecy.mask_secrecy` applies the rule to flow tables (a volume and
its complements in each row: resident, inside and outside volumes), and the portrait to the
professionals of a CPTS.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["SECRECY_THRESHOLD", "protect_total", "small_counts"]

#: Default statistical secrecy threshold.
SECRECY_THRESHOLD = 10


def small_counts(values: pd.Series | np.ndarray, threshold: float = SECRECY_THRESHOLD) -> np.ndarray:
    """Which counts primary secrecy masks: strictly between 0 and ``threshold``.

    Parameters
    ----------
    values : Series or array
        Counts (missing values are not masked).
    threshold : float, default :data:`SECRECY_THRESHOLD`

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> small_counts(pd.Series([0, 3, 10, 12]))
    array([False,  True, False, False])
    """
    v = pd.to_numeric(pd.Series(np.asarray(values)), errors="coerce").astype("Float64")
    return ((v > 0) & (v < threshold)).fillna(False).to_numpy(dtype=bool)


def protect_total(values: pd.Series, hidden: np.ndarray) -> np.ndarray:
    """Secondary secrecy for parts published with their total: never a single masked part.

    Parameters
    ----------
    values : Series
        The parts (counts).
    hidden : array of bool
        What primary secrecy masks (:func:`small_counts`).

    Returns
    -------
    ndarray of bool
        ``hidden``, plus the smallest other non-zero part when exactly one part is masked.

    Examples
    --------
    >>> counts = pd.Series([4, 25, 60])
    >>> protect_total(counts, small_counts(counts)).tolist()
    [True, True, False]
    """
    out = np.asarray(hidden, dtype=bool).copy()
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    if out.sum() == 1:
        others = np.flatnonzero(~out & (v > 0))
        if len(others):
            out[others[np.argmin(v[others])]] = True
    return out
