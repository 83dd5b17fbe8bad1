"""Reading the tables a portrait takes: population by age, and the user's own health indicators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cpts_geo.domain.codes import normalize_codes
from cpts_geo.domain.french import fold
from cpts_geo.errors import ValidationError

__all__ = [
    "read_ages",
    "read_indicators",
]


def read_ages(data: str | Path | pd.DataFrame, *, sep: str | None = None) -> pd.DataFrame:
    """Read a population-by-age table: ``code``, ``age``, ``count`` (or INSEE's ``CODGEO``,
    ``Age``, ``Nb_H``, ``Nb_F``, summed).

    Parameters
    ----------
    data : str, Path or DataFrame
        The table, read by :func:`cpts_geo.io._read.read_table` (CSV, XLSX, Parquet).
    sep : str, optional
        The CSV separator, detected when omitted.

    Returns
    -------
    DataFrame
        Columns ``code`` (text), ``age`` and ``count`` (floats).

    Raises
    ------
    ValidationError
        Columns missing, or an age or count that is not a number (with its file row number).

    Examples
    --------
    >>> t = pd.DataFrame({"CODGEO": ["31555"], "Age": ["3"], "Nb_H": ["10"], "Nb_F": ["12"]})
    >>> read_ages(t).values.tolist()
    [['31555', 3.0, 22.0]]
    """
    from cpts_geo.io._read import read_table

    read = read_table(data, sep=sep)
    frame = read.table
    cols = {fold(c): c for c in frame.columns}
    code = cols.get("code") or cols.get("codgeo") or cols.get("code commune")
    age = cols.get("age")
    problems = []
    if code is None or age is None:
        problems.append({"problem": "colonnes « code » et « age » attendues ; colonnes reçues : "
                                    + ", ".join(map(str, frame.columns))})
    if "count" in cols or "effectif" in cols:
        count = pd.to_numeric(frame[cols.get("count") or cols["effectif"]], errors="coerce")
    elif "nb h" in cols and "nb f" in cols:
        count = pd.to_numeric(frame[cols["nb h"]], errors="coerce") + pd.to_numeric(frame[cols["nb f"]],
                                                                                   errors="coerce")
    else:
        problems.append({"problem": "colonne d'effectif attendue : « count », « effectif » ou « Nb_H » et « Nb_F »"})
        count = None
    if problems:
        raise ValidationError("Table des âges illisible", problems)
    a = pd.to_numeric(frame[age], errors="coerce")
    bad = np.flatnonzero((a.isna() | count.isna()).to_numpy())
    if len(bad):
        raise ValidationError("Table des âges invalide : âge ou effectif non numérique",
                              [{"row": int(read.rows[i]), "problem": "âge ou effectif non numérique"} for i in bad])
    return pd.DataFrame({"code": normalize_codes(frame[code])[0].to_numpy(),  # « 1001 », « 59350.0 »… cleaned once
                         "age": a.to_numpy(dtype="float64"), "count": count.to_numpy(dtype="float64")})


# --------------------------------------------------------------------------- user indicators
def read_indicators(data: str | Path | pd.DataFrame, *, sep: str | None = None, year: str | int | None = None) -> pd.DataFrame:
    """Read the user's own indicators per commune, long or wide.

    Long: columns ``code``, ``indicateur``, ``valeur`` (and optionally ``annee``/``millesime``);
    wide: ``code`` and one column per indicator. French decimal commas are accepted.

    Parameters
    ----------
    data : DataFrame or path (CSV, XLSX, Parquet)
    year : optional
        The vintage to keep when the table holds several (required then).

    Returns
    -------
    pandas.DataFrame
        ``row`` (file row), ``code``, ``indicator``, ``value``.

    Raises
    ------
    ValidationError
        Missing columns, non-numeric values, several vintages without ``year``.

    Examples
    --------
    >>> t = pd.DataFrame({"code": ["80021", "80001"], "Patients sans médecin traitant": ["1 200", "35"]})
    >>> read_indicators(t)[["code", "indicator", "value"]].values.tolist()
    [['80021', 'Patients sans médecin traitant', 1200.0], ['80001', 'Patients sans médecin traitant', 35.0]]
    """
    from cpts_geo.domain.headers import recognise_headers
    from cpts_geo.domain.numbers import parse_numbers
    from cpts_geo.io._read import read_table

    read = read_table(data, kind="indicators", sep=sep)
    frame = read.table.reset_index(drop=True)
    fields = recognise_headers(list(frame.columns), "indicators")
    cols = {fold(c): c for c in frame.columns}
    code = next((h for h, f in fields.items() if f == "code"), None)
    if code is None:
        raise ValidationError("Table d'indicateurs sans colonne de code commune : nommez-la « code »",
                              [{"problem": "colonnes reçues : " + ", ".join(map(str, frame.columns))}])
    frame["_row"] = read.rows
    ycol = next((cols[k] for k in ("annee", "millesime", "year") if k in cols), None)
    ind, val = cols.get("indicateur"), cols.get("valeur")
    names = [h for h, f in fields.items() if f == "name"]  # a commune name column is no indicator
    problems: list[dict] = []
    if ind and val:
        long = frame.rename(columns={code: "code", ind: "indicator", val: "value"})
    else:
        value_cols = [c for c in frame.columns if c not in (code, ycol, "_row", *names)]
        long = frame.melt(id_vars=[code, "_row"] + ([ycol] if ycol else []), value_vars=value_cols,
                          var_name="indicator", value_name="value").rename(columns={code: "code"})
    if ycol:
        years = long.groupby("indicator")[ycol].nunique()
        several = years[years > 1]
        if year is not None:
            long = long[long[ycol].astype(str) == str(year)]
        elif len(several):
            for name in several.index:
                got = ", ".join(sorted(long.loc[long["indicator"] == name, ycol].astype(str).unique()))
                problems.append({"problem": f"indicateur « {name} » : plusieurs millésimes ({got}) ; "
                                            "choisissez-en un (year=, --annee-indicateurs)"})
    num, bad = parse_numbers(long["value"].reset_index(drop=True))
    for pos in np.flatnonzero(bad):
        problems.append({"row": int(long["_row"].iloc[pos]), "code": long["code"].iloc[pos],
                         "problem": f"valeur non numérique « {long['value'].iloc[pos]} » pour "
                                    f"« {long['indicator'].iloc[pos]} »"})
    if problems:
        raise ValidationError("Table d'indicateurs invalide : corrigez les lignes citées", problems)
    out = pd.DataFrame({"row": long["_row"].to_numpy(), "code": normalize_codes(long["code"].reset_index(drop=True))[0]
                        .to_numpy(), "indicator": long["indicator"].astype(str).to_numpy(),
                        "value": num})
    return out[out["value"].notna()].reset_index(drop=True)
