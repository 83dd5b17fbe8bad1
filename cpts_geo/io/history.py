"""Reading INSEE commune passage tables (the rules that use them are in :mod:`cpts_geo.domain.history`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cpts_geo.domain.history import passage_links
from cpts_geo.io._read import read_table

__all__ = [
    "read_passage_table",
]


def read_passage_table(passage: pd.DataFrame | str | Path | dict[str, set[str]]) -> dict[str, set[str]]:
    """Read an INSEE commune passage table into ``{old code: {successor codes}}``.

    The layouts recognised are those of :func:`cpts_geo.domain.history.passage_links`; a file
    is read by :func:`cpts_geo.io.read_table` (CSV, XLSX, Parquet; encoding and separator
    detected). The result is what every ``passage=`` argument of the library takes.

    Parameters
    ----------
    passage : DataFrame, str, Path or dict
        The table itself, or its file (links already read are returned as they are).

    Returns
    -------
    dict of str to set of str
        Each old commune code and the current codes it became (several for a split).

    Examples
    --------
    >>> table = pd.DataFrame({"COM_2018": ["05120", "05001"], "COM_2025": ["05001", "05001"]})
    >>> read_passage_table(table)["05120"]
    {'05001'}
    """
    if not isinstance(passage, pd.DataFrame | dict):
        passage = read_table(Path(passage)).table  # CSV, XLSX, Parquet: encoding, separator detected
    return passage_links(passage)
