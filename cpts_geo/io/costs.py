"""Reading real travel times between communes: a user's distancier (INSEE Metric-OSRM, an OSRM table).

DREES computes its APL with travel times by road from INSEE's distancier « Metric-OSRM », which
ARS and INSEE statisticians can run; without such a table the package estimates times from
distances (:func:`cpts_geo.indicators.accessibility.estimate_costs`). :func:`read_costs` reads a
table of (origin, destination, time) through the one reader, with the usual column names of
Metric and of OSRM tables recognised; the codes are cleaned and mapped to today's communes when
the accessibility is computed (with a report).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cpts_geo.domain.headers import header_key
from cpts_geo.domain.numbers import parse_numbers
from cpts_geo.errors import ValidationError
from cpts_geo.io._read import read_table

__all__ = ["SECONDS_HEADERS", "read_costs"]

#: Time columns whose unit is the second (OSRM's ``duration``): divided by 60 when read.
SECONDS_HEADERS = frozenset({"duration", "durations", "duration_s", "secondes", "seconds", "duree_s",
                             "temps_s", "temps_secondes"})
_EXTRA = {  # Metric-OSRM (idSrc, idDst, duree) and OSRM table exports (src, dst, duration)
    "origin": {"idsrc", "id_src", "src", "source", "sources", "codgeo_origine", "code_insee_origine",
               "com_origine", "depcom_origine", "from_id"},
    "destination": {"iddst", "id_dst", "dst", "destinations", "target", "codgeo_destination",
                    "code_insee_destination", "com_destination", "depcom_destination", "to_id"},
    "minutes": {"duree", "duree_min", "temps_min", "travel_time", *SECONDS_HEADERS},
}


def read_costs(source: str | Path | pd.DataFrame, *, sep: str | None = None,
               sheet: str | int | None = None) -> pd.DataFrame:
    """Read a table of travel times between communes (origin, destination, minutes).

    Parameters
    ----------
    source : path or DataFrame
        CSV/XLSX/Parquet read by :func:`cpts_geo.io.read_table` (encoding and separator detected),
        or a table. Headers recognised: those of :data:`cpts_geo.domain.headers.SYNONYMS` (kind
        ``costs``), Metric-OSRM's ``idSrc``, ``idDst``, ``duree`` (minutes) and OSRM table exports'
        ``src``, ``dst``, ``duration`` (seconds, divided by 60).
    sep : str, optional
        Force the CSV separator.
    sheet : str or int, optional
        Sheet of a workbook.

    Returns
    -------
    DataFrame
        ``origin``, ``destination`` (codes as given, text), ``minutes`` (float), ``row`` (file row).

    Raises
    ------
    ValidationError
        A column that cannot be found, or times that are not numbers ≥ 0, with their rows.

    Examples
    --------
    >>> table = pd.DataFrame({"idSrc": ["59350", "59350"], "idDst": ["59009", "59350"], "duree": ["12,5", "0"]})
    >>> read_costs(table)[["origin", "destination", "minutes"]].values.tolist()
    [['59350', '59009', 12.5], ['59350', '59350', 0.0]]
    """
    read = read_table(source, kind="costs", sep=sep, sheet=sheet)
    frame, fields = read.table, dict(read.fields)
    for header in frame.columns:
        if header in fields:
            continue
        key = header_key(header)
        for field, names in _EXTRA.items():
            if key in names and field not in fields.values():
                fields[header] = field
    inverse = {field: header for header, field in fields.items()}
    missing = [f for f in ("origin", "destination", "minutes") if f not in inverse]
    if missing:
        labels = {"origin": "commune d'origine", "destination": "commune de destination", "minutes": "temps"}
        raise ValidationError(
            f"Table des temps de trajet : colonne(s) introuvable(s) : {', '.join(labels[m] for m in missing)}. "
            f"Colonnes présentes : {', '.join(map(str, frame.columns))} (attendu par exemple : origine ; "
            "destination ; minutes, ou idSrc ; idDst ; duree du distancier Metric).",
            [{"problem": f"colonne « {labels[m]} » absente"} for m in missing])
    minutes, bad = parse_numbers(frame[inverse["minutes"]])
    seconds = header_key(inverse["minutes"]) in SECONDS_HEADERS
    values = pd.Series(minutes, dtype="float64") / (60.0 if seconds else 1.0)
    wrong = bad | (values < 0).to_numpy()
    if wrong.any():
        raise ValidationError(
            "Table des temps de trajet : temps illisibles ou négatifs, corrigez les lignes citées.",
            [{"row": int(r), "problem": f"temps « {v} » : attendu un nombre ≥ 0"}
             for r, v in zip(read.rows[wrong], frame[inverse["minutes"]].to_numpy()[wrong])])
    return pd.DataFrame({"origin": frame[inverse["origin"]].astype("string").str.strip().to_numpy(),
                         "destination": frame[inverse["destination"]].astype("string").str.strip().to_numpy(),
                         "minutes": values.to_numpy(), "row": read.rows})
