"""The flow table: its columns, its typed result and the selection of one profession or year."""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np
import pandas as pd

from cpts_geo.domain.french import fold

#: Standard columns of a flow table (``profession`` and ``year`` are optional).
FLOW_COLUMNS = ["origin", "destination", "volume", "profession", "year"]



class FlowsRead(NamedTuple):
    """A flow table as read by :func:`read_flows` or :func:`read_mobpro`, with its reports.

    It can be given as is to :func:`select_flows` and :func:`cpts_geo.indicators.flows.prepare.prepare_flows`.
    """

    #: ``row`` (row of the user's file), ``origin``, ``destination`` (Categoricals whose
    #: categories are codes in :data:`cpts_geo.domain.codes.CODE_DTYPE`),
    #: ``volume`` and the optional keys (``profession``, ``year``, ``by`` columns, ``records``).
    flows: pd.DataFrame
    #: Code repairs at reading, one row per (end, code): ``end``, ``row`` (first row),
    #: ``n_rows``, ``code``, ``new_code``, ``reason``, ``volume``.
    code_report: pd.DataFrame
    #: The file name (``"table"`` for a DataFrame).
    source: str
    #: Data rows read from the source (MOBPRO: census records, summed into ``flows``).
    records: int
    #: Whether the source is INSEE MOBPRO detail records.
    mobpro: bool = False
    #: How the file was read, in French (sheet, encoding, separator…; empty for a DataFrame).
    reading: str = ""



class _WithFlows(Protocol):
    """A result holding a flow table (:class:`FlowsRead`, :class:`~cpts_geo.indicators.flows.prepare.PreparedFlows`)."""

    @property
    def flows(self) -> pd.DataFrame:
        """The flow table."""



def _table(flows: pd.DataFrame | _WithFlows) -> pd.DataFrame:
    """The flow table of a :class:`FlowsRead`, a :class:`~cpts_geo.indicators.flows.prepare.PreparedFlows` or a
    DataFrame."""
    return flows if isinstance(flows, pd.DataFrame) else flows.flows


END_LABELS = {"origin": "origine", "destination": "destination"}


CODE_REPORT = ["end", "row", "n_rows", "code", "new_code", "reason", "volume"]



def shown_value(value: object) -> str:
    """A cell as shown in an error message: text quoted, numbers plain.

    Parameters
    ----------
    value : object
        The cell.

    Returns
    -------
    str
        ``repr(value)`` for a string (quoted), ``str(value)`` otherwise.
    """
    return repr(value) if isinstance(value, str) else str(value)



def select_flows(
    flows: pd.DataFrame | FlowsRead,
    *,
    profession: str | None = None,
    year: str | int | None = None,
) -> pd.DataFrame | FlowsRead:
    """Keep the rows of one profession and/or one year.

    The indicators add up every row of a flow table: when a table holds several professions
    or years (a warning of :func:`prepare_flows` says so), choose one first. Professions
    are compared without regard to case and accents, years as text (``2023`` = ``"2023"``).
    Filtering the DataFrame yourself (``flux[flux["profession"] == "infirmier"]``) is just
    as good.

    Parameters
    ----------
    flows : DataFrame or FlowsRead
        A flow table with a ``profession`` and/or ``year`` column (:func:`read_flows`).
    profession, year : optional
        The value to keep; ``None`` keeps every value.

    Returns
    -------
    pandas.DataFrame or FlowsRead
        The rows kept (a copy), of the kind given: a :class:`FlowsRead` keeps its reports.
        A value absent from the table raises a ``ValueError`` listing the values present.

    Examples
    --------
    >>> table = pd.DataFrame({"origin": ["61001", "61001"], "destination": ["61001", "61001"],
    ...                       "volume": [3.0, 4.0], "profession": ["infirmier", "Médecin"]})
    >>> select_flows(table, profession="médecin")["volume"].tolist()
    [4.0]
    """
    if isinstance(flows, FlowsRead):
        return flows._replace(flows=select_flows(flows.flows, profession=profession, year=year))
    keep = np.ones(len(flows), dtype=bool)
    for col, label, value in (("profession", "profession", profession), ("year", "année", year)):
        if value is None:
            continue
        if col not in flows.columns:
            what = "la profession" if col == "profession" else "l'année"
            raise ValueError(f"La table de flux n'a pas de colonne {col} : impossible de choisir "
                             f"{what} « {value} ».")
        text = _key_text(flows[col])
        hit = (text == fold(value) if col == "profession" else text == _key_text(pd.Series([value]))[0])
        hit = hit.fillna(False).to_numpy(dtype=bool)
        if not hit.any():
            present = sorted(flows[col].dropna().astype(str).str.strip().unique())
            raise ValueError(
                f"{label} « {value} » absente de la table ; valeurs présentes : "
                + ", ".join(present[:50]) + (" …" if len(present) > 50 else ""))
        keep &= hit
    return flows[keep].copy()



def _key_text(values: pd.Series) -> pd.Series:
    """Values of a profession or year column as comparable text (2023, 2023.0 → "2023")."""
    text = values.astype("string").str.strip().str.replace(r"\.0+$", "", regex=True)
    return text.map(fold, na_action="ignore").astype("string")
